//! Sockets: bind the two UDP ports and send what the state machine produced.

use crate::config::Config;
use crate::error::LsdError;
use crate::events::{Out, Sock};
use crate::metrics::Metrics;
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tracing::debug;

pub struct Sockets {
    pub ls: UdpSocket,
    pub peer: UdpSocket,
}

impl Sockets {
    pub async fn bind(cfg: &Config) -> Result<Sockets, LsdError> {
        let bind = |what: &'static str, addr: SocketAddr| async move {
            UdpSocket::bind(addr)
                .await
                .map_err(|source| LsdError::Bind { what, addr, source })
        };
        Ok(Sockets {
            ls: bind("MA/user socket (listen)", cfg.listen).await?,
            peer: bind("peer socket (peer_listen)", cfg.peer_listen).await?,
        })
    }

    pub fn local_addrs(&self) -> Result<(SocketAddr, SocketAddr), LsdError> {
        let io = |what| move |source| LsdError::Io { what, source };
        Ok((
            self.ls.local_addr().map_err(io("MA/user socket"))?,
            self.peer.local_addr().map_err(io("peer socket"))?,
        ))
    }

    /// Sends one datagram. UDP send errors (no route, a peer that is down)
    /// are counted and logged, never fatal: the protocol retries by itself.
    pub async fn send(&self, o: &Out, metrics: &Metrics) {
        let sock = match o.sock {
            Sock::Ls => &self.ls,
            Sock::Peer => &self.peer,
        };
        let to = fit(o.to, sock.local_addr().ok());
        if let Err(e) = sock.send_to(&o.bytes, to).await {
            Metrics::inc(&metrics.send_errors);
            debug!(%to, "send failed: {e}");
        }
    }
}

/// The state machine speaks IPv6 only (v4 peers as v4-mapped). An IPv4-bound
/// socket needs the plain IPv4 form back.
fn fit(to: SocketAddr, local: Option<SocketAddr>) -> SocketAddr {
    match (to, local) {
        (SocketAddr::V6(v6), Some(SocketAddr::V4(_))) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => to,
        },
        _ => to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_mapped_destinations_are_unmapped_only_for_v4_sockets() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:9".parse().unwrap();
        let v4 = "127.0.0.1:1".parse().ok();
        let v6 = "[::1]:1".parse().ok();
        assert_eq!(fit(mapped, v4), "127.0.0.1:9".parse().unwrap());
        assert_eq!(fit(mapped, v6), mapped);
    }
}
