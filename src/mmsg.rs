//! Batched UDP receive and send (recvmmsg(2) / sendmmsg(2)) for lin6agentd's
//! query service, lsd's MA/user socket, and their load generators.
//!
//! Why: an MA Query is 32 bytes and its answer a hash lookup, so per
//! datagram the cost is the system calls. Moving up to [`BATCH`] datagrams
//! per call cuts them by that factor under load, and costs nothing when idle
//! (a call returns what is queued, one datagram or more).
//!
//! Replies are written in place over the request they answer and sent back
//! to the address the request came from, so no address is ever converted or
//! copied on the fast path.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// Receive buffer per datagram: larger than any valid LIN6 message and any
/// LS message valid on lsd's MA/user socket (at most 84 bytes: a signed
/// heartbeat), so that an oversized datagram is seen as oversized, not cut
/// to a valid length.
pub const SLOT: usize = 128;

/// Fixed arrays of buffers, addresses and headers pointing at them. The
/// pointers point into this struct's own heap allocations, which are never
/// resized, so they stay valid wherever the struct moves.
pub struct Batch {
    bufs: Box<[[u8; SLOT]]>,
    addrs: Box<[libc::sockaddr_storage]>,
    iov: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
    out_iov: Box<[libc::iovec]>,
    out_hdrs: Box<[libc::mmsghdr]>,
    received: usize,
    queued: usize,
}

// SAFETY: the raw pointers inside only point into the boxes above, owned by
// the same value; nothing is shared with another thread.
unsafe impl Send for Batch {}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    pub fn new() -> Batch {
        // SAFETY: all-zero is a valid value of these plain C structs.
        let z_iov = || unsafe { zeroed::<libc::iovec>() };
        let z_hdr = || unsafe { zeroed::<libc::mmsghdr>() };
        let z_addr = || unsafe { zeroed::<libc::sockaddr_storage>() };
        let mut b = Batch {
            bufs: vec![[0u8; SLOT]; BATCH].into_boxed_slice(),
            addrs: (0..BATCH).map(|_| z_addr()).collect(),
            iov: (0..BATCH).map(|_| z_iov()).collect(),
            hdrs: (0..BATCH).map(|_| z_hdr()).collect(),
            out_iov: (0..BATCH).map(|_| z_iov()).collect(),
            out_hdrs: (0..BATCH).map(|_| z_hdr()).collect(),
            received: 0,
            queued: 0,
        };
        for i in 0..BATCH {
            b.iov[i].iov_base = b.bufs[i].as_mut_ptr().cast();
            b.iov[i].iov_len = SLOT;
            b.hdrs[i].msg_hdr.msg_iov = &mut b.iov[i];
            b.hdrs[i].msg_hdr.msg_iovlen = 1;
            b.hdrs[i].msg_hdr.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            b.out_hdrs[i].msg_hdr.msg_iov = &mut b.out_iov[i];
            b.out_hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        b
    }

    /// Receives up to [`BATCH`] datagrams without blocking. `WouldBlock`
    /// when none is queued. Forgets what was queued for sending.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.received = 0;
        self.queued = 0;
        for h in self.hdrs.iter_mut() {
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_len = 0;
        }
        // SAFETY: every header points at a buffer of SLOT bytes and an
        // address of sockaddr_storage size, all owned by self.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.received = n as usize;
        Ok(self.received)
    }

    /// The `i`-th datagram received.
    pub fn datagram(&self, i: usize) -> &[u8] {
        let len = (self.hdrs[i].msg_len as usize).min(SLOT);
        &self.bufs[i][..len]
    }

    /// Where the `i`-th datagram came from.
    pub fn source(&self, i: usize) -> Option<SocketAddr> {
        let len = self.hdrs[i].msg_hdr.msg_namelen as usize;
        let a = &self.addrs[i];
        match i32::from(a.ss_family) {
            libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the kernel wrote a sockaddr_in6 there (family and
                // length checked); sockaddr_storage is aligned for it.
                let s =
                    unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    std::net::Ipv6Addr::from(s.sin6_addr.s6_addr),
                    u16::from_be(s.sin6_port),
                    s.sin6_flowinfo,
                    s.sin6_scope_id,
                )))
            }
            libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: as above, for a sockaddr_in.
                let s =
                    unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                Some(SocketAddr::V4(std::net::SocketAddrV4::new(
                    std::net::Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr)),
                    u16::from_be(s.sin_port),
                )))
            }
            _ => None,
        }
    }

    /// Replaces the `i`-th datagram by `reply` and queues it for its source.
    pub fn reply(&mut self, i: usize, reply: &[u8]) {
        debug_assert!(i < self.received && reply.len() <= SLOT);
        let n = reply.len().min(SLOT);
        self.bufs[i][..n].copy_from_slice(&reply[..n]);
        let q = self.queued;
        self.out_iov[q].iov_base = self.bufs[i].as_mut_ptr().cast();
        self.out_iov[q].iov_len = n;
        self.out_hdrs[q].msg_hdr.msg_name =
            (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
        self.out_hdrs[q].msg_hdr.msg_namelen = self.hdrs[i].msg_hdr.msg_namelen;
        self.queued += 1;
    }

    /// Datagrams queued by [`Batch::reply`] and not yet sent.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Sends queued datagrams from the `from`-th on, without blocking;
    /// returns how many went (the caller continues from `from + that`).
    pub fn send(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        if from >= self.queued {
            return Ok(0);
        }
        // SAFETY: headers from..queued point at buffers and addresses owned
        // by self, set up by `reply`.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                self.out_hdrs[from..].as_mut_ptr(),
                (self.queued - from) as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Sends each `(bytes, destination)` with as few `sendmmsg` calls as
/// possible, without blocking. Returns how many went (in order); the caller
/// decides what to do with the rest (`WouldBlock`: wait and call again with
/// the remainder). For datagrams that are not replies in place, e.g. lsd's
/// assignments and RTT requests.
pub fn send_to_many(fd: RawFd, msgs: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    let n = msgs.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero is a valid value of these plain C structs.
    let mut addrs: Vec<libc::sockaddr_storage> = (0..n).map(|_| unsafe { zeroed() }).collect();
    let mut lens = vec![0 as libc::socklen_t; n];
    for (i, (_, to)) in msgs[..n].iter().enumerate() {
        lens[i] = write_sockaddr(&mut addrs[i], to);
    }
    let mut iov: Vec<libc::iovec> = msgs[..n]
        .iter()
        .map(|(b, _)| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: as above.
    let mut hdrs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { zeroed() }).collect();
    for i in 0..n {
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
        hdrs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
        hdrs[i].msg_hdr.msg_namelen = lens[i];
    }
    // SAFETY: every header points at an iovec over a live slice (the kernel
    // only reads it) and at an address of the given length, all alive until
    // the call returns.
    let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

fn write_sockaddr(out: &mut libc::sockaddr_storage, to: &SocketAddr) -> libc::socklen_t {
    match to {
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a
            // sockaddr_in6; we write only through that view.
            let s =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_port = v6.port().to_be();
            s.sin6_flowinfo = v6.flowinfo();
            s.sin6_addr.s6_addr = v6.ip().octets();
            s.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
        SocketAddr::V4(v4) => {
            // SAFETY: as above, for a sockaddr_in.
            let s =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_port = v4.port().to_be();
            s.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn batch_receives_several_and_replies_in_place_to_each_source() {
        let server = UdpSocket::bind("[::1]:0").unwrap();
        let to = server.local_addr().unwrap();
        let clients: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind("[::1]:0").unwrap())
            .collect();
        for (i, c) in clients.iter().enumerate() {
            c.send_to(&[i as u8; 5], to).unwrap();
        }
        let mut b = Batch::new();
        let mut got = 0;
        while got < 3 {
            match b.recv(server.as_raw_fd()) {
                Ok(n) => {
                    for i in 0..n {
                        let d = b.datagram(i).to_vec();
                        assert_eq!(d.len(), 5);
                        let src = b.source(i).unwrap();
                        assert_eq!(src, clients[d[0] as usize].local_addr().unwrap());
                        b.reply(i, &[d[0] + 100; 7]);
                    }
                    let mut sent = 0;
                    while sent < b.queued() {
                        sent += b.send(server.as_raw_fd(), sent).unwrap();
                    }
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        for (i, c) in clients.iter().enumerate() {
            let mut buf = [0u8; 16];
            let n = c.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i as u8 + 100; 7]);
        }
    }

    #[test]
    fn send_to_many_delivers_each_datagram_to_its_own_destination_and_counts_what_went() {
        let sender = UdpSocket::bind("[::1]:0").unwrap();
        let rx: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind("[::1]:0").unwrap())
            .collect();
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let payloads: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 10 + usize::from(i)]).collect();
        let mut msgs: Vec<(&[u8], SocketAddr)> = payloads
            .iter()
            .zip(&rx)
            .map(|(p, r)| (&p[..], r.local_addr().unwrap()))
            .collect();
        let mapped = match v4.local_addr().unwrap() {
            SocketAddr::V4(a) => SocketAddr::new(a.ip().to_ipv6_mapped().into(), a.port()),
            a => a,
        };
        msgs.push((b"four", mapped));
        // A sender bound to ::1 cannot reach an IPv4 address: the call sends
        // the three before it and says so; the rest, sent again, fails.
        let sent = send_to_many(sender.as_raw_fd(), &msgs).unwrap();
        assert_eq!(sent, 3);
        assert!(send_to_many(sender.as_raw_fd(), &msgs[sent..]).is_err());
        for (i, r) in rx.iter().enumerate() {
            let mut buf = [0u8; 32];
            let (n, from) = r.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &payloads[i][..]);
            assert_eq!(from, sender.local_addr().unwrap());
        }
        assert_eq!(send_to_many(sender.as_raw_fd(), &[]).unwrap(), 0);
    }

    #[test]
    fn oversized_datagram_is_seen_longer_than_any_message() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(&[0u8; 1000], server.local_addr().unwrap())
            .unwrap();
        let mut b = Batch::new();
        loop {
            match b.recv(server.as_raw_fd()) {
                Ok(1) => break,
                Ok(_) | Err(_) => std::thread::yield_now(),
            }
        }
        assert_eq!(b.datagram(0).len(), SLOT);
        assert_eq!(b.source(0), Some(c.local_addr().unwrap()));
    }
}
