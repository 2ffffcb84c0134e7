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
use std::io::{self, Read};
use std::net::{Ipv6Addr, SocketAddrV6};
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
    let (sock, kind) = open()?;
    sock.connect(&SockAddr::from(SocketAddrV6::new(to, 0, 0, 0)))?;
    // The datagram socket's kernel rewrites the identifier to the socket's
    // own; on a raw socket it is ours to choose and to check.
    let ident = (std::process::id() as u16)
        .wrapping_mul(31)
        .wrapping_add(NEXT_IDENT.fetch_add(1, Ordering::Relaxed));
    let mut token = [0u8; 16];
    getrandom::fill(&mut token).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
    let t0 = Instant::now();
    let mut sent_at: Vec<Option<Instant>> = vec![None; usize::from(count)];
    for seq in 0..count {
        let mut pkt = [0u8; PACKET];
        pkt[0] = ECHO_REQUEST;
        pkt[4..6].copy_from_slice(&ident.to_be_bytes());
        pkt[6..8].copy_from_slice(&u16::from(seq).to_be_bytes());
        pkt[8..].copy_from_slice(&token);
        // The kernel computes the ICMPv6 checksum on both socket kinds.
        let at = Instant::now();
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
    let mut rtts: Vec<Option<Duration>> = vec![None; usize::from(count)];
    let expected = sent_at.iter().flatten().count();
    let mut answered = 0usize;
    let deadline = t0 + timeout;
    let mut buf = [0u8; 1280];
    while answered < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left))?;
        let n = match (&sock).read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // An ICMPv6 error queued for this socket (e.g. the user's
            // network said unreachable): those probes stay unanswered.
            Err(e) if e.raw_os_error().is_some_and(|c| c != libc::EBADF) => continue,
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let got = &buf[..n];
        if got.len() < PACKET || got[0] != ECHO_REPLY {
            continue;
        }
        let their_ident = u16::from_be_bytes([got[4], got[5]]);
        let seq = usize::from(u16::from_be_bytes([got[6], got[7]]));
        if (kind == SocketKind::Raw && their_ident != ident) || got[8..PACKET] != token[..] {
            continue;
        }
        if let (Some(Some(at)), Some(slot @ None)) = (sent_at.get(seq), rtts.get_mut(seq)) {
            *slot = Some(now.duration_since(*at));
            answered += 1;
        }
    }
    let total: Duration = rtts.iter().flatten().sum();
    let answered = answered as u8;
    let mean_us = if answered == 0 {
        0
    } else {
        (total.as_micros() / u128::from(answered)).min(u128::from(u32::MAX)) as u32
    };
    Ok(Measured {
        sent: count,
        answered,
        mean_us,
    })
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
