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
    /// Bound addresses, read once: asking the kernel on every send would be
    /// one more system call per datagram.
    ls_local: Option<SocketAddr>,
    peer_local: Option<SocketAddr>,
}

impl Sockets {
    pub async fn bind(cfg: &Config) -> Result<Sockets, LsdError> {
        let bind = |what: &'static str, addr: SocketAddr| async move {
            UdpSocket::bind(addr)
                .await
                .map_err(|source| LsdError::Bind { what, addr, source })
        };
        let ls = bind("MA/user socket (listen)", cfg.listen).await?;
        let peer = bind("peer socket (peer_listen)", cfg.peer_listen).await?;
        Ok(Sockets {
            ls_local: ls.local_addr().ok(),
            peer_local: peer.local_addr().ok(),
            ls,
            peer,
        })
    }

    pub fn local_addrs(&self) -> Result<(SocketAddr, SocketAddr), LsdError> {
        let io = |what| move |source| LsdError::Io { what, source };
        Ok((
            self.ls.local_addr().map_err(io("MA/user socket"))?,
            self.peer.local_addr().map_err(io("peer socket"))?,
        ))
    }

    /// Where `o` goes, in the form its socket can send to.
    pub fn dest(&self, o: &Out) -> SocketAddr {
        match o.sock {
            Sock::Ls => fit(o.to, self.ls_local),
            Sock::Peer => fit(o.to, self.peer_local),
        }
    }

    /// Sends one datagram. UDP send errors (no route, a peer that is down)
    /// are counted and logged, never fatal: the protocol retries by itself.
    pub async fn send(&self, o: &Out, metrics: &Metrics) {
        let (sock, local) = match o.sock {
            Sock::Ls => (&self.ls, self.ls_local),
            Sock::Peer => (&self.peer, self.peer_local),
        };
        let to = fit(o.to, local);
        // Most sends complete at once; only a full socket buffer waits.
        let r = match sock.try_send_to(&o.bytes, to) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                sock.send_to(&o.bytes, to).await
            }
            r => r,
        };
        if let Err(e) = r {
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
