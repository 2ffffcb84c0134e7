//! Sockets. The query port is served by several sockets bound to the same
//! address with SO_REUSEPORT, one per worker task: the kernel spreads
//! querying nodes over them, and no two workers contend for one socket's
//! receive queue.

use crate::error::AgentError;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use tokio::net::UdpSocket;

fn udp_socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // [::] also takes IPv4 (v4-mapped), whatever the sysctl default says.
        s.set_only_v6(false)?;
    }
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    // Replies are what a moving node and its correspondents wait for:
    // network control (lin6::qos), so a QoS-aware queue serves them first.
    if let Err(e) = lin6::qos::mark_control(&s, addr.is_ipv6()) {
        tracing::debug!("marking the socket as network control: {e}");
    }
    // Room for a burst of queries while a worker is busy sending.
    let _ = s.set_recv_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Binds one plain socket (the registration port).
pub fn bind_one(what: &'static str, addr: SocketAddr) -> Result<UdpSocket, AgentError> {
    let map = |source| AgentError::Bind { what, addr, source };
    let s = udp_socket(addr, false).map_err(map)?;
    UdpSocket::from_std(s).map_err(map)
}

/// Binds `n` sockets sharing `addr`. With port 0 the first socket picks the
/// port and the others join it.
pub fn bind_shared(
    what: &'static str,
    addr: SocketAddr,
    n: usize,
) -> Result<Vec<UdpSocket>, AgentError> {
    let map = |source| AgentError::Bind { what, addr, source };
    let first = udp_socket(addr, true).map_err(map)?;
    let actual = first.local_addr().map_err(map)?;
    let mut out = vec![UdpSocket::from_std(first).map_err(map)?];
    for _ in 1..n.max(1) {
        let s = udp_socket(actual, true).map_err(map)?;
        out.push(UdpSocket::from_std(s).map_err(map)?);
    }
    Ok(out)
}
