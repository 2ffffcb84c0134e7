//! Contact with the other LSs (paper §IV.D). On start an LS sends each peer
//! LSS_SYNC_REQUEST and repeats it every retry interval until the peer
//! answers it or the number of tries runs out. Only the answer (a FULL
//! update, the peer's whole tables) or the peer's own sync request (it
//! started after us, so it has nothing we lack) ends the retries: the
//! peer's ordinary relays, which reach a restarted LS as soon as its socket
//! is bound, carry one entry each and say nothing of the rest of its
//! tables. A peer given up on that is heard from again is asked again.

use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerStatus {
    /// Sync requested, no answer yet.
    Trying {
        tries: u32,
    },
    Up,
    /// Out of tries; waiting for the peer to come to us.
    GaveUp,
}

#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub status: PeerStatus,
    next_try: Option<Instant>,
    pub last_heard: Option<Instant>,
}

#[derive(Debug)]
pub struct Peers {
    list: Vec<Peer>,
    retry: Duration,
    max_tries: u32,
}

impl Peers {
    /// The first sync request to every peer is due at `now`.
    pub fn new(
        addrs: impl IntoIterator<Item = SocketAddr>,
        retry: Duration,
        max_tries: u32,
        now: Instant,
    ) -> Self {
        let mut list: Vec<Peer> = addrs
            .into_iter()
            .map(|addr| Peer {
                addr: canonical(addr),
                status: PeerStatus::Trying { tries: 0 },
                next_try: Some(now),
                last_heard: None,
            })
            .collect();
        list.dedup_by_key(|p| p.addr);
        Peers {
            list,
            retry,
            max_tries,
        }
    }

    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.list.iter().map(|p| p.addr)
    }

    pub fn list(&self) -> &[Peer] {
        &self.list
    }

    pub fn is_peer(&self, addr: SocketAddr) -> bool {
        let a = canonical(addr);
        self.list.iter().any(|p| p.addr == a)
    }

    pub fn up_count(&self) -> usize {
        self.list
            .iter()
            .filter(|p| p.status == PeerStatus::Up)
            .count()
    }

    /// Peers due a sync request now (first try included); schedules the next.
    pub fn due(&mut self, now: Instant) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for p in &mut self.list {
            if let PeerStatus::Trying { tries } = p.status
                && p.next_try.is_some_and(|t| t <= now)
            {
                if tries >= self.max_tries {
                    p.status = PeerStatus::GaveUp;
                    p.next_try = None;
                    continue;
                }
                p.status = PeerStatus::Trying { tries: tries + 1 };
                p.next_try = Some(now + self.retry);
                out.push(p.addr);
            }
        }
        out
    }

    /// Records an authenticated message from `addr`. `synced`: it was the
    /// peer's answer to a sync request (a FULL update) or its own sync
    /// request; either ends our retries. Anything else from a peer given up
    /// on makes its sync request due again at once.
    /// Returns the peer's status before this message.
    pub fn heard_from(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        synced: bool,
    ) -> Option<PeerStatus> {
        let a = canonical(addr);
        let p = self.list.iter_mut().find(|p| p.addr == a)?;
        let before = p.status;
        p.last_heard = Some(now);
        if synced {
            p.status = PeerStatus::Up;
            p.next_try = None;
        } else if p.status == PeerStatus::GaveUp {
            p.status = PeerStatus::Trying { tries: 0 };
            p.next_try = Some(now);
        }
        Some(before)
    }

    pub fn next_try(&self) -> Option<Instant> {
        self.list.iter().filter_map(|p| p.next_try).min()
    }
}

/// Peers are compared as IPv6 socket addresses, so `127.0.0.1:7311` in the
/// config matches `[::ffff:127.0.0.1]:7311` seen on a dual-stack socket.
pub fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        SocketAddr::V6(v6) => SocketAddr::new((*v6.ip()).into(), v6.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(now: Instant) -> Peers {
        Peers::new(
            ["[::1]:1".parse().unwrap(), "[::1]:2".parse().unwrap()],
            Duration::from_secs(2),
            3,
            now,
        )
    }

    #[test]
    fn sync_is_retried_at_the_interval_up_to_the_maximum_then_given_up() {
        let t0 = Instant::now();
        let mut p = peers(t0);
        assert_eq!(p.next_try(), Some(t0));
        assert_eq!(p.due(t0).len(), 2);
        assert!(p.due(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(p.due(t0 + Duration::from_secs(2)).len(), 2);
        assert_eq!(p.due(t0 + Duration::from_secs(4)).len(), 2);
        // Three tries made: the next due time gives up instead of sending.
        assert!(p.due(t0 + Duration::from_secs(6)).is_empty());
        assert!(p.list().iter().all(|x| x.status == PeerStatus::GaveUp));
        assert_eq!(p.next_try(), None);
    }

    #[test]
    fn only_a_sync_answer_stops_retries() {
        let t0 = Instant::now();
        let mut p = peers(t0);
        p.due(t0);
        // A relay is not the answer: the retries go on.
        p.heard_from(t0, "[::1]:1".parse().unwrap(), false);
        assert_eq!(p.due(t0 + Duration::from_secs(2)).len(), 2);
        p.heard_from(t0, "[::1]:1".parse().unwrap(), true);
        assert_eq!(
            p.due(t0 + Duration::from_secs(4)),
            vec!["[::1]:2".parse().unwrap()]
        );
        assert_eq!(p.list()[0].status, PeerStatus::Up);
    }

    #[test]
    fn a_given_up_peer_heard_from_is_asked_again_at_once() {
        let t0 = Instant::now();
        let mut p = peers(t0);
        for i in 0..4 {
            p.due(t0 + Duration::from_secs(2 * i));
        }
        assert!(p.list().iter().all(|x| x.status == PeerStatus::GaveUp));
        let t1 = t0 + Duration::from_secs(60);
        p.heard_from(t1, "[::1]:2".parse().unwrap(), false);
        assert_eq!(p.next_try(), Some(t1));
        assert_eq!(p.due(t1), vec!["[::1]:2".parse().unwrap()]);
        p.heard_from(t1, "[::1]:1".parse().unwrap(), true);
        assert_eq!(p.up_count(), 1);
    }

    #[test]
    fn v4_and_v4_mapped_forms_name_the_same_peer() {
        let p = Peers::new(
            ["127.0.0.1:7311".parse().unwrap()],
            Duration::from_secs(1),
            1,
            Instant::now(),
        );
        assert!(p.is_peer("[::ffff:127.0.0.1]:7311".parse().unwrap()));
        assert!(!p.is_peer("[::ffff:127.0.0.1]:7312".parse().unwrap()));
    }
}
