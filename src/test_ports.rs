//! UDP ports for tests that need to know a port before binding it (peers
//! configured with each other's addresses, a daemon restarted on its old
//! port).
//!
//! Asking the kernel for port 0 and closing the socket again is racy: the
//! port goes back into the ephemeral range, and any other test in the same
//! process binding port 0 may be handed it before the daemon binds it. These
//! ports come from below the ephemeral range (`ip_local_port_range` starts at
//! 32768 by default), so no `bind(0)` can take them, and a per-process counter
//! keeps the tests of one binary apart; the pid spreads test binaries that run
//! at the same time.

use std::net::{Ipv6Addr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};

const FIRST: u16 = 20000;
const SPAN: u16 = 12000;

/// A UDP port on `[::1]` that is free now and that no ephemeral bind will be
/// given; `width` consecutive ports are free (an MA's registration and query
/// ports are adjacent). Panics when none is found: a test setup failure.
pub fn udp_ports_on_loopback(width: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = (std::process::id() % u32::from(SPAN / 4)) as u16 * 4;
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(width, Ordering::Relaxed);
        let first = FIRST + (base.wrapping_add(offset)) % (SPAN - width);
        let all_free =
            (first..first + width).all(|p| UdpSocket::bind((Ipv6Addr::LOCALHOST, p)).is_ok());
        if all_free {
            return first;
        }
    }
    panic!(
        "no {width} free UDP ports on [::1] in {FIRST}..{}",
        FIRST + SPAN
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_handed_out_are_distinct_and_below_the_ephemeral_range() {
        let a = udp_ports_on_loopback(2);
        let b = udp_ports_on_loopback(2);
        assert!(b >= a + 2 || a >= b + 2, "{a} and {b} overlap");
        assert!(a < 32768 && b < 32768);
    }
}
