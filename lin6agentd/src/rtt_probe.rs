//! ICMPv6 echo round trips to a user, for LSS_RTT_REQUEST (paper §IV.B step
//! 4: "the MA will calculate the average of four RTT timings").
//!
//! An unprivileged ICMPv6 datagram ("ping") socket when the kernel allows it
//! (`net.ipv4.ping_group_range`, which governs IPv6 too), else a raw ICMPv6
//! socket (root or CAP_NET_RAW). Both are opened per request and connected
//! to the user, so the kernel hands us only that address's ICMPv6; on the
//! raw socket we match the echo identifier ourselves (the datagram socket's
//! kernel does it for us). The probes leave back to back and the replies are
//! awaited together for at most `timeout`; a probe not answered by then is
//! simply not counted. Blocking calls, run on tokio's blocking pool by the
//! caller, bounded there.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
/// Echo header (8) + a 16-byte payload (our token): small, and a reply to
/// somebody else's ping cannot match it by accident.
const PACKET: usize = 24;

/// What one round of probes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub sent: u8,
    pub answered: u8,
    /// Mean over the answered probes, microseconds; 0 if none answered.
    pub mean_us: u32,
}

/// Which kind of socket this process can probe with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// SOCK_DGRAM + IPPROTO_ICMPV6: no privilege needed where allowed.
    Ping,
    /// SOCK_RAW + IPPROTO_ICMPV6: root or CAP_NET_RAW.
    Raw,
}

fn open() -> io::Result<(Socket, SocketKind)> {
    match Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::ICMPV6)) {
        Ok(s) => Ok((s, SocketKind::Ping)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::ICMPV6),
        )
        .map(|s| (s, SocketKind::Raw))
        .map_err(|raw| {
            io::Error::new(
                raw.kind(),
                format!(
                    "no ICMPv6 socket: ping socket refused ({e}; see net.ipv4.ping_group_range), \
                             raw socket refused ({raw}; needs CAP_NET_RAW)"
                ),
            )
        }),
        Err(e) => Err(e),
    }
}

/// Whether this process can open an ICMPv6 socket at all, and which kind.
pub fn available() -> io::Result<SocketKind> {
    open().map(|(_, k)| k)
}

static NEXT_IDENT: AtomicU16 = AtomicU16::new(0);

/// Sends `count` echo requests to `to` back to back and waits up to
/// `timeout` for the replies; each reply's RTT is measured from its own
/// request. Sending them together keeps the whole measurement within one
/// `timeout` (not `count` of them), so the reply reaches the LS before its
/// decision deadline. The error case is a socket we could not open or use;
/// an unreachable user is `answered: 0`.
pub fn probe(to: Ipv6Addr, count: u8, timeout: Duration) -> io::Result<Measured> {
    probe_reading_after(to, count, timeout, Duration::ZERO)
}

/// [`probe`], its reader starting `late` after the requests left: what a
/// thread not scheduled in time does (tests).
fn probe_reading_after(
    to: Ipv6Addr,
    count: u8,
    timeout: Duration,
    late: Duration,
) -> io::Result<Measured> {
    let (sock, kind) = open()?;
    sock.connect(&SockAddr::from(SocketAddrV6::new(to, 0, 0, 0)))?;
    // A reply's time is the kernel's when it came in (SO_TIMESTAMPNS), not
    // ours when we read it: on a loaded box (a TCG guest, or any host
    // busier than its cores) this thread may not run again before the
    // timeout, and replies that came in time were read after the deadline
    // and dropped, or counted with the scheduler's delay in their RTT, so
    // the nearest site looked unreachable or farther than it is.
    let on: libc::c_int = 1;
    // SAFETY: a valid fd and a pointer to an int of the size given.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // The datagram socket's kernel rewrites the identifier to the socket's
    // own; on a raw socket it is ours to choose and to check.
    let ident = (std::process::id() as u16)
        .wrapping_mul(31)
        .wrapping_add(NEXT_IDENT.fetch_add(1, Ordering::Relaxed));
    let mut token = [0u8; 16];
    getrandom::fill(&mut token).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
    let t0 = Instant::now();
    let deadline_ns = realtime_ns() + timeout.as_nanos() as i128;
    let mut sent_at: Vec<Option<i128>> = vec![None; usize::from(count)];
    for seq in 0..count {
        let mut pkt = [0u8; PACKET];
        pkt[0] = ECHO_REQUEST;
        pkt[4..6].copy_from_slice(&ident.to_be_bytes());
        pkt[6..8].copy_from_slice(&u16::from(seq).to_be_bytes());
        pkt[8..].copy_from_slice(&token);
        // The kernel computes the ICMPv6 checksum on both socket kinds.
        let at = realtime_ns();
        match sock.send(&pkt) {
            Ok(_) => sent_at[usize::from(seq)] = Some(at),
            // No route, unreachable network: that probe is lost, not an error.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    if !late.is_zero() {
        std::thread::sleep(late);
    }
    let mut rtts: Vec<Option<i128>> = vec![None; usize::from(count)];
    let expected = sent_at.iter().flatten().count();
    let mut answered = 0usize;
    let deadline = t0 + timeout;
    let mut buf = [0u8; 1280];
    while answered < expected {
        // Past the deadline, what already came is still read (without
        // waiting): whether it came in time is the kernel's timestamp's say.
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = !left.is_zero();
        if wait {
            sock.set_read_timeout(Some(left))?;
        }
        let (n, at) = match recv_stamped(&sock, &mut buf, wait) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // An ICMPv6 error queued on the socket (the user unreachable):
            // the probe it concerns just goes unanswered.
            Err(e) if e.raw_os_error().is_some_and(|c| c != libc::EBADF) => continue,
            Err(e) => return Err(e),
        };
        let at = at.unwrap_or_else(realtime_ns);
        let got = &buf[..n];
        if got.len() < PACKET || got[0] != ECHO_REPLY || at > deadline_ns {
            continue;
        }
        let their_ident = u16::from_be_bytes([got[4], got[5]]);
        let seq = usize::from(u16::from_be_bytes([got[6], got[7]]));
        if (kind == SocketKind::Raw && their_ident != ident) || got[8..PACKET] != token[..] {
            continue;
        }
        if let (Some(Some(sent)), Some(slot @ None)) = (sent_at.get(seq), rtts.get_mut(seq)) {
            *slot = Some((at - sent).max(0));
            answered += 1;
        }
    }
    let total_ns: i128 = rtts.iter().flatten().sum();
    let answered = answered as u8;
    let mean_us = if answered == 0 {
        0
    } else {
        (total_ns / 1000 / i128::from(answered)).clamp(0, i128::from(u32::MAX)) as u32
    };
    Ok(Measured {
        sent: count,
        answered,
        mean_us,
    })
}

/// CLOCK_REALTIME in nanoseconds: the clock of SO_TIMESTAMPNS.
fn realtime_ns() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    timespec_ns(&ts)
}

fn timespec_ns(ts: &libc::timespec) -> i128 {
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// One datagram and the kernel's receive time (`None` if it gave none);
/// `wait`: block (up to the socket's read timeout), else return at once.
fn recv_stamped(sock: &Socket, buf: &mut [u8], wait: bool) -> io::Result<(usize, Option<i128>)> {
    // Room for one SCM_TIMESTAMPNS (a timespec) and then some, aligned for
    // cmsghdr.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed msghdr is a valid "no name, no buffers" header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
    // SAFETY: msg points to buffers that live across the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut at = None;
    // SAFETY: the CMSG macros walk the control buffer the kernel filled,
    // bounded by msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                at = Some(timespec_ns(&ts));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_every_probe_with_a_plausible_rtt() {
        let Ok(kind) = available() else {
            eprintln!("SKIPPED: no ICMPv6 socket (neither ping_group_range nor CAP_NET_RAW)");
            return;
        };
        let m = probe(Ipv6Addr::LOCALHOST, 4, Duration::from_secs(1)).unwrap();
        assert_eq!((m.sent, m.answered), (4, 4), "{kind:?}");
        assert!(m.mean_us < 1_000_000, "{m:?}");
    }

    #[test]
    fn replies_that_came_in_time_count_however_late_they_are_read() {
        if available().is_err() {
            eprintln!("SKIPPED: no ICMPv6 socket (neither ping_group_range nor CAP_NET_RAW)");
            return;
        }
        // The reader wakes twice the timeout after the requests left (a
        // thread not scheduled in time); the loopback answered at once.
        let timeout = Duration::from_millis(200);
        let m = probe_reading_after(Ipv6Addr::LOCALHOST, 4, timeout, 2 * timeout).unwrap();
        assert_eq!(m.answered, 4, "{m:?}");
        assert!(
            u128::from(m.mean_us) < timeout.as_micros() / 2,
            "the RTT is the kernel's, not the late reader's: {m:?}"
        );
    }

    #[test]
    fn an_address_nobody_answers_is_unreachable_after_one_timeout() {
        if available().is_err() {
            return;
        }
        // 100::/64 is the discard-only prefix (RFC 6666): nothing answers.
        let t0 = Instant::now();
        let m = probe("100::1".parse().unwrap(), 2, Duration::from_millis(100)).unwrap();
        assert_eq!(m.answered, 0, "{m:?}");
        assert_eq!(m.mean_us, 0);
        assert!(
            t0.elapsed() < Duration::from_millis(1000),
            "one timeout, not one per probe"
        );
    }
}
