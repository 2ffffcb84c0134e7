//! The synchronous netlink socket: family resolution, request/ACK, dumps,
//! extended ACK, and the events subscription.
//!
//! neli provides the socket (`NlSocket`: socket/bind/send/recv, extended ACK
//! and multicast membership socket options); the bytes are framed by
//! [`codec`](super::codec). Every wait on the kernel is bounded by a timeout
//! (poll(2)), so a wedged module cannot hang `lin6ctl`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::codec::{self, FamilyInfo, Message};
use super::error::{Error, Result};
use super::msg::{Event, MapNew, Mapping, Node, NodeSet, Stats, node_id_attrs};
use super::uapi::{FAMILY_NAME, FAMILY_VERSION, cmd, mcgrp};
use crate::addr::NodeId;

/// Enough for any datagram the kernel sends us: dump parts are at most
/// 32 KiB, and MSG_TRUNC tells us if that ever stops being true.
const RECV_BUF: usize = 64 * 1024;
/// How long a request waits for the kernel by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The controller's own family version.
const CTRL_VERSION: u8 = 2;
/// Events arrive in bursts (a miss per unknown peer); a larger receive
/// buffer makes overruns rarer. The kernel caps it at rmem_max.
const EVENTS_RCVBUF: usize = 1 << 20;

fn open() -> Result<NlSocket> {
    let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())?;
    // Kernels before 4.12 lack extended ACK; we then only lose the messages.
    let _ = sock.enable_ext_ack(true);
    Ok(sock)
}

/// Waits until `fd` is readable or `deadline` passes. `Ok(false)` on timeout.
fn wait_readable(fd: RawFd, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so a sub-millisecond remainder still waits.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        match n {
            n if n > 0 => return Ok(true),
            0 => return Ok(false),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Receives one datagram into `buf`, returning its length. A datagram
/// larger than `buf` is an error rather than silently cut.
fn recv_datagram(sock: &NlSocket, buf: &mut [u8], flags: Msg) -> io::Result<usize> {
    let (n, _) = sock.recv(&mut *buf, flags | Msg::TRUNC)?;
    if n > buf.len() {
        return Err(io::Error::other(format!(
            "netlink message of {n} bytes truncated to {}",
            buf.len()
        )));
    }
    Ok(n)
}

/// One request/response exchange on `sock`. `on_reply` sees every generic
/// netlink reply with our sequence number. Ends at the ACK (for `do`
/// requests, sent with NLM_F_ACK) or at NLMSG_DONE (for dumps).
fn transact(
    sock: &NlSocket,
    buf: &mut [u8],
    seq: u32,
    timeout: Option<Duration>,
    request: &[u8],
    mut on_reply: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<()> {
    sock.send(request, Msg::empty())?;
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if !wait_readable(sock.as_raw_fd(), deadline)? {
            return Err(Error::Timeout(timeout.unwrap_or_default()));
        }
        let n = match recv_datagram(sock, buf, Msg::DONTWAIT) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => r?,
        };
        for m in codec::messages(&buf[..n]) {
            let m = m?;
            // Replies to an earlier request that timed out are stale.
            if m.header().seq != seq {
                continue;
            }
            match m {
                Message::Genl { cmd, attrs, .. } => on_reply(cmd, attrs)?,
                Message::Ack { ack, .. } | Message::Done { ack, .. } => {
                    return match ack.errno {
                        0 => Ok(()),
                        e => Err(Error::from_errno(e, ack.msg)),
                    };
                }
                Message::Other { .. } => {}
            }
        }
    }
}

/// Asks `nlctrl` for a family. `Ok(None)` if it is not registered.
fn resolve(sock: &NlSocket, buf: &mut [u8], name: &str) -> Result<Option<FamilyInfo>> {
    let req = codec::genl_request(
        codec::GENL_ID_CTRL,
        codec::NLM_F_ACK,
        1,
        codec::CTRL_CMD_GETFAMILY,
        CTRL_VERSION,
        &codec::getfamily_attrs(name),
    );
    let mut info = None;
    let r = transact(sock, buf, 1, Some(DEFAULT_TIMEOUT), &req, |_, attrs| {
        info = Some(codec::parse_family(attrs)?);
        Ok(())
    });
    match r {
        Ok(()) => Ok(info),
        Err(Error::NoSuchEntry(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A connection to lin6.ko's generic netlink family in the caller's network
/// namespace. Requests are synchronous: each waits for the kernel's answer
/// (at most the timeout). Use one `Client` per thread; an async daemon calls
/// it from `spawn_blocking`, or keeps one on a dedicated thread.
pub struct Client {
    sock: NlSocket,
    family: FamilyInfo,
    seq: u32,
    timeout: Option<Duration>,
    buf: Vec<u8>,
}

impl Client {
    /// Opens a socket and resolves the "lin6" family.
    /// [`Error::ModuleNotLoaded`] if the family is not registered.
    pub fn connect() -> Result<Client> {
        let sock = open()?;
        let mut buf = vec![0; RECV_BUF];
        let family = resolve(&sock, &mut buf, FAMILY_NAME)?.ok_or(Error::ModuleNotLoaded)?;
        Ok(Client {
            sock,
            family,
            seq: 1,
            timeout: Some(DEFAULT_TIMEOUT),
            buf,
        })
    }

    /// The family's numeric id in this boot (what `nlmsg_type` carries).
    pub fn family_id(&self) -> u16 {
        self.family.id
    }

    /// The family version the module registered ([`FAMILY_VERSION`] for
    /// the module this library was built against).
    pub fn family_version(&self) -> u32 {
        self.family.version
    }

    /// How long each request waits for the kernel; `None` waits forever.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    fn request(
        &mut self,
        command: u8,
        dump: bool,
        attrs: &[u8],
        on_reply: impl FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<()> {
        // Sequence 1 was the family lookup; wrap past 0, which multicast uses.
        self.seq = self.seq.wrapping_add(1).max(2);
        let flags = if dump {
            codec::NLM_F_DUMP
        } else {
            codec::NLM_F_ACK
        };
        let req = codec::genl_request(
            self.family.id,
            flags,
            self.seq,
            command,
            FAMILY_VERSION as u8,
            attrs,
        );
        transact(
            &self.sock,
            &mut self.buf,
            self.seq,
            self.timeout,
            &req,
            on_reply,
        )
    }

    /// A `do` request whose reply is one message; returns its decoding.
    fn get<T>(
        &mut self,
        command: u8,
        attrs: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, codec::MalformedError>,
    ) -> Result<T> {
        let mut out = None;
        self.request(command, false, attrs, |c, a| {
            if c == command && out.is_none() {
                out = Some(parse(a)?);
            }
            Ok(())
        })?;
        out.ok_or_else(|| Error::Protocol(format!("no reply to command {command}")))
    }

    /// `node-get`: this namespace's Node ID, LIN6 prefix, locator, table size.
    pub fn node_get(&mut self) -> Result<Node> {
        self.get(cmd::NODE_GET, &[], Node::parse)
    }

    /// `node-set` (CAP_NET_ADMIN). An empty request is refused here, as the
    /// kernel would.
    pub fn node_set(&mut self, set: &NodeSet) -> Result<()> {
        if set.is_empty() {
            return Err(Error::Invalid(
                "nothing to set: give node-id, lin6-prefix or locator".into(),
            ));
        }
        self.request(cmd::NODE_SET, false, &set.to_attrs(), |_, _| Ok(()))
    }

    /// `map-new` (CAP_NET_ADMIN): adds or replaces a mapping.
    pub fn map_new(&mut self, m: &MapNew) -> Result<()> {
        self.request(cmd::MAP_NEW, false, &m.to_attrs(), |_, _| Ok(()))
    }

    /// `map-del` (CAP_NET_ADMIN). [`Error::NoSuchEntry`] if there is none.
    pub fn map_del(&mut self, node: NodeId) -> Result<()> {
        self.request(cmd::MAP_DEL, false, &node_id_attrs(node), |_, _| Ok(()))
    }

    /// `map-get`: one mapping. [`Error::NoSuchEntry`] if there is none.
    pub fn map_get(&mut self, node: NodeId) -> Result<Mapping> {
        self.get(cmd::MAP_GET, &node_id_attrs(node), Mapping::parse)
    }

    /// `map-get` dump: every live mapping.
    pub fn map_dump(&mut self) -> Result<Vec<Mapping>> {
        let mut out = Vec::new();
        self.request(cmd::MAP_GET, true, &[], |c, a| {
            if c == cmd::MAP_GET {
                out.push(Mapping::parse(a)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// `map-flush` (CAP_NET_ADMIN): deletes every mapping.
    pub fn map_flush(&mut self) -> Result<()> {
        self.request(cmd::MAP_FLUSH, false, &[], |_, _| Ok(()))
    }

    /// `stats-get`: the namespace's translation counters.
    pub fn stats(&mut self) -> Result<Stats> {
        self.get(cmd::STATS_GET, &[], Stats::parse)
    }

    /// Subscribes to the events group on a new socket (CAP_NET_ADMIN: the
    /// group is admin-only).
    pub fn events(&self) -> Result<EventStream> {
        EventStream::join(open()?, &self.family)
    }
}

/// A subscription to the "events" multicast group: miss and prefix events.
///
/// Blocking use: [`EventStream::next_event`] (with an optional timeout) or
/// the `Iterator` impl, as `lin6ctl monitor` does.
///
/// Async use: the library has no async runtime dependency. The stream is a
/// file descriptor ([`AsFd`]); put it in non-blocking mode and drive
/// [`EventStream::recv_batch`] from the runtime's readiness API. With tokio:
///
/// ```ignore
/// let events = lin6::netlink::EventStream::subscribe()?;
/// events.set_nonblocking(true)?;
/// let mut afd = tokio::io::unix::AsyncFd::new(events)?;
/// loop {
///     let mut ready = afd.readable_mut().await?;
///     match ready.try_io(|s| s.get_mut().recv_batch()) {
///         Ok(batch) => for ev in batch? { handle(ev) }, // ev: Result<Event>
///         Err(_would_block) => continue,
///     }
/// }
/// ```
pub struct EventStream {
    sock: NlSocket,
    family: u16,
    buf: Vec<u8>,
    pending: VecDeque<Result<Event>>,
}

impl EventStream {
    /// Resolves the family on a new socket and joins its "events" group.
    pub fn subscribe() -> Result<EventStream> {
        let sock = open()?;
        let mut buf = vec![0; RECV_BUF];
        let family = resolve(&sock, &mut buf, FAMILY_NAME)?.ok_or(Error::ModuleNotLoaded)?;
        EventStream::join(sock, &family)
    }

    fn join(sock: NlSocket, family: &FamilyInfo) -> Result<EventStream> {
        let group = family
            .groups
            .iter()
            .find(|(n, _)| n == mcgrp::EVENTS_NAME)
            .map(|&(_, id)| id)
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "the module has no {:?} multicast group",
                    mcgrp::EVENTS_NAME
                ))
            })?;
        sock.add_mcast_membership(Groups::new_groups(&[group]))
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied(Some(
                    "joining the events group needs CAP_NET_ADMIN".into(),
                )),
                _ => Error::Io(e),
            })?;
        let _ = sock.set_recv_buffer_size(EVENTS_RCVBUF);
        Ok(EventStream {
            sock,
            family: family.id,
            buf: vec![0; RECV_BUF],
            pending: VecDeque::new(),
        })
    }

    /// Switches the socket between blocking (the default) and non-blocking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        if nonblocking {
            self.sock.nonblock()?;
        } else {
            self.sock.block()?;
        }
        Ok(())
    }

    /// Reads one datagram and decodes the events in it. Blocks if the socket
    /// is blocking; in non-blocking mode returns `WouldBlock` when there is
    /// nothing to read (the contract `AsyncFd::try_io` expects). A receive
    /// buffer overrun is reported in the batch as [`Error::EventsLost`].
    /// Messages that are not events of this family are skipped.
    pub fn recv_batch(&mut self) -> io::Result<Vec<Result<Event>>> {
        let n = match recv_datagram(&self.sock, &mut self.buf, Msg::empty()) {
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                return Ok(vec![Err(Error::EventsLost)]);
            }
            r => r?,
        };
        Ok(decode_events(self.family, &self.buf[..n]))
    }

    /// The next event, waiting at most `timeout` (`None`: forever).
    /// `Ok(None)` when the timeout passes first.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(r) = self.pending.pop_front() {
                return r.map(Some);
            }
            if !wait_readable(self.sock.as_raw_fd(), deadline)? {
                return Ok(None);
            }
            let n = match recv_datagram(&self.sock, &mut self.buf, Msg::DONTWAIT) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::EventsLost);
                }
                r => r?,
            };
            self.pending
                .extend(decode_events(self.family, &self.buf[..n]));
        }
    }
}

/// Decodes the events of `family` in one received datagram. Pure: the
/// socket-free half of [`EventStream::recv_batch`].
pub fn decode_events(family: u16, datagram: &[u8]) -> Vec<Result<Event>> {
    let mut out = Vec::new();
    for m in codec::messages(datagram) {
        match m {
            Ok(Message::Genl {
                header, cmd, attrs, ..
            }) if header.ty == family => match Event::parse(cmd, attrs) {
                Ok(Some(ev)) => out.push(Ok(ev)),
                Ok(None) => {}
                Err(e) => out.push(Err(e.into())),
            },
            Ok(_) => {}
            Err(e) => out.push(Err(e.into())),
        }
    }
    out
}

impl Iterator for EventStream {
    type Item = Result<Event>;

    /// Blocks for the next event; never ends on its own.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event(None).transpose()
    }
}

impl AsRawFd for EventStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for EventStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the socket owns the descriptor and outlives the borrow.
        unsafe { BorrowedFd::borrow_raw(self.sock.as_raw_fd()) }
    }
}

impl AsRawFd for Client {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Resolves any generic netlink family by name on a fresh socket: its id,
/// version and multicast groups, or `None` if it is not registered.
pub fn resolve_family(name: &str) -> Result<Option<FamilyInfo>> {
    let sock = open()?;
    let mut buf = vec![0; RECV_BUF];
    resolve(&sock, &mut buf, name)
}

#[cfg(test)]
mod tests {
    //! The socket paths against the kernel's own nlctrl family, which every
    //! kernel has; skipped where AF_NETLINK is not allowed.

    use super::*;

    fn sock() -> Option<NlSocket> {
        open().ok()
    }

    #[test]
    fn dump_reads_every_part_until_done() {
        let Some(s) = sock() else { return };
        let mut buf = vec![0; RECV_BUF];
        let req = codec::genl_request(
            codec::GENL_ID_CTRL,
            codec::NLM_F_DUMP,
            7,
            codec::CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
            &[],
        );
        let mut names = Vec::new();
        transact(&s, &mut buf, 7, Some(DEFAULT_TIMEOUT), &req, |_, a| {
            let f = codec::parse_family(a)?;
            names.push(f.id);
            Ok(())
        })
        .unwrap();
        assert!(names.contains(&codec::GENL_ID_CTRL), "{names:?}");
    }

    #[test]
    fn kernel_errors_carry_the_extack_message() {
        let Some(s) = sock() else { return };
        let mut buf = vec![0; RECV_BUF];
        // Family names are at most 15 bytes: the policy refuses this one.
        let e = resolve(&s, &mut buf, "a-much-too-long-family-name").unwrap_err();
        let Error::Invalid(msg) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("policy"), "{msg}");
    }

    #[test]
    fn event_stream_joins_a_group_and_times_out_quietly() {
        let Some(s) = sock() else { return };
        let mut buf = vec![0; RECV_BUF];
        let ctrl = resolve(&s, &mut buf, "nlctrl").unwrap().unwrap();
        let notify = ctrl.groups.iter().find(|(n, _)| n == "notify").unwrap().1;
        // Stand nlctrl's "notify" group in for lin6's "events".
        let f = FamilyInfo {
            groups: vec![(mcgrp::EVENTS_NAME.into(), notify)],
            ..ctrl
        };
        let mut ev = EventStream::join(open().unwrap(), &f).unwrap();
        let t = Instant::now();
        assert!(
            ev.next_event(Some(Duration::from_millis(50)))
                .unwrap()
                .is_none()
        );
        assert!(t.elapsed() >= Duration::from_millis(50));
        ev.set_nonblocking(true).unwrap();
        let e = ev.recv_batch().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
