//! The peers this node talked to recently: whom to tell when it moves.
//! Bounded: when full, the peer seen longest ago is forgotten.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use lin6::addr::NodeId;

pub struct Correspondents {
    capacity: usize,
    peers: HashMap<NodeId, (Ipv6Addr, Instant)>,
}

impl Correspondents {
    pub fn new(capacity: usize) -> Correspondents {
        Correspondents {
            capacity: capacity.max(1),
            peers: HashMap::new(),
        }
    }

    /// Records that we exchanged with `node` (LIN6 address `addr`) at `now`.
    pub fn touch(&mut self, node: NodeId, addr: Ipv6Addr, now: Instant) {
        if !self.peers.contains_key(&node) && self.peers.len() >= self.capacity {
            // O(n) on a bounded map, only when a new peer arrives at a full
            // table; simpler than an intrusive LRU list and cheap at 1024.
            if let Some(oldest) = self
                .peers
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            {
                self.peers.remove(&oldest);
            }
        }
        self.peers.insert(node, (addr, now));
    }

    pub fn contains(&self, node: NodeId) -> bool {
        self.peers.contains_key(&node)
    }

    /// Peers seen within `within` of `now`, most recent first.
    pub fn recent(&self, now: Instant, within: Duration) -> Vec<(NodeId, Ipv6Addr)> {
        let mut v: Vec<_> = self
            .peers
            .iter()
            .filter(|(_, (_, t))| now.saturating_duration_since(*t) <= within)
            .map(|(n, (a, t))| (*n, *a, *t))
            .collect();
        v.sort_by_key(|x| std::cmp::Reverse(x.2));
        v.into_iter().map(|(n, a, _)| (n, a)).collect()
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u64) -> NodeId {
        NodeId::from_u64(0x0201_4a00_0000_0000 | i)
    }

    #[test]
    fn full_table_forgets_the_peer_seen_longest_ago() {
        let t0 = Instant::now();
        let mut c = Correspondents::new(2);
        c.touch(n(1), Ipv6Addr::LOCALHOST, t0);
        c.touch(n(2), Ipv6Addr::LOCALHOST, t0 + Duration::from_secs(1));
        c.touch(n(1), Ipv6Addr::LOCALHOST, t0 + Duration::from_secs(2));
        c.touch(n(3), Ipv6Addr::LOCALHOST, t0 + Duration::from_secs(3));
        assert_eq!(c.len(), 2);
        assert!(c.contains(n(1)) && c.contains(n(3)) && !c.contains(n(2)));
    }

    #[test]
    fn only_recent_peers_are_listed_newest_first() {
        let t0 = Instant::now();
        let mut c = Correspondents::new(8);
        c.touch(n(1), Ipv6Addr::LOCALHOST, t0);
        c.touch(n(2), Ipv6Addr::LOCALHOST, t0 + Duration::from_secs(100));
        c.touch(n(3), Ipv6Addr::LOCALHOST, t0 + Duration::from_secs(50));
        let r = c.recent(t0 + Duration::from_secs(120), Duration::from_secs(80));
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), [n(2), n(3)]);
    }
}
