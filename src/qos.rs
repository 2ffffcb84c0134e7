//! Marking the control plane's datagrams as network control.
//!
//! Registrations, MA Queries and Mapping Refreshes are what a handover
//! waits for, and they leave through the same queues as the node's bulk
//! traffic: behind a full FIFO a lost query costs a whole retry timeout.
//! Like routing daemons, we mark them so that a QoS-aware queue serves them
//! first: DSCP CS6 (network control, RFC 4594) in the Traffic Class / TOS
//! byte for the network, and socket priority 6 (`TC_PRIO_INTERACTIVE`, the
//! highest an unprivileged socket may set) for the host's own qdiscs,
//! whose default priomap puts it in the first band.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// DSCP CS6 in the upper six bits of the Traffic Class / TOS byte.
pub const TCLASS_CS6: u8 = 0xc0;
/// `TC_PRIO_INTERACTIVE`.
pub const PRIORITY_CONTROL: u32 = 6;

fn setsockopt_int(
    fd: &impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the descriptor is valid for the borrow; the option value is a
    // plain int whose size we pass.
    let r = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Marks a UDP socket's datagrams as network control (see the module
/// comment). `ipv6`: the socket's family.
pub fn mark_control(fd: &impl AsFd, ipv6: bool) -> io::Result<()> {
    let tclass = libc::c_int::from(TCLASS_CS6);
    // The class first: IP_TOS also sets the socket priority (from the old
    // TOS bits, best effort for CS6), which we then override.
    if ipv6 {
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, tclass)?;
    } else {
        setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_TOS, tclass)?;
    }
    setsockopt_int(
        fd,
        libc::SOL_SOCKET,
        libc::SO_PRIORITY,
        PRIORITY_CONTROL as libc::c_int,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn getsockopt_int(fd: &impl AsFd, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid descriptor, buffer and length of an int.
        let r = unsafe {
            libc::getsockopt(
                fd.as_fd().as_raw_fd(),
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        v
    }

    #[test]
    fn marks_priority_and_traffic_class() {
        let s = std::net::UdpSocket::bind("[::1]:0").unwrap();
        mark_control(&s, true).unwrap();
        assert_eq!(getsockopt_int(&s, libc::SOL_SOCKET, libc::SO_PRIORITY), 6);
        assert_eq!(
            getsockopt_int(&s, libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
            0xc0
        );
        let s4 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        mark_control(&s4, false).unwrap();
        assert_eq!(getsockopt_int(&s4, libc::IPPROTO_IP, libc::IP_TOS), 0xc0);
        assert_eq!(getsockopt_int(&s4, libc::SOL_SOCKET, libc::SO_PRIORITY), 6);
    }
}
