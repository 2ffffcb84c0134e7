//! The load-sharing pools this node uses, and the sites each has served it
//! from.
//!
//! A pool's mapping names one site (server) at a time, but lin6.ko keeps
//! each flow with the site it started at (the `pool` mapping flag), so after
//! the pool's mapping changes (the node moved and the LS chose anew) older
//! sites may still be streaming to us. They must hear of our moves too: a
//! Mapping Refresh goes to every site that may still hold a flow, straight
//! to its locator. Which sites may is not known exactly (the kernel keeps no
//! account per site), so a site is kept for `history` after it stopped being
//! the current one, and at most `MAX_SITES` per pool. Bounded in pools as
//! well: when full, the pool whose mapping was installed longest ago goes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lin6::addr::{NodeId, Prefix64};

/// Most sites remembered per pool, the current one included.
pub const MAX_SITES: usize = 8;

struct Pool {
    current: Prefix64,
    installed: Instant,
    /// Earlier sites, newest first, with when each stopped being current.
    former: Vec<(Prefix64, Instant)>,
}

pub struct Pools {
    capacity: usize,
    history: Duration,
    pools: HashMap<NodeId, Pool>,
}

impl Pools {
    pub fn new(capacity: usize, history: Duration) -> Pools {
        Pools {
            capacity: capacity.max(1),
            history,
            pools: HashMap::new(),
        }
    }

    /// Records that the pool `peer`'s mapping now names the site `prefix`.
    pub fn installed(&mut self, peer: NodeId, prefix: Prefix64, now: Instant) {
        if !self.pools.contains_key(&peer)
            && self.pools.len() >= self.capacity
            && let Some(oldest) = self
                .pools
                .iter()
                .min_by_key(|(_, p)| p.installed)
                .map(|(k, _)| *k)
        {
            self.pools.remove(&oldest);
        }
        let history = self.history;
        let pool = self.pools.entry(peer).or_insert(Pool {
            current: prefix,
            installed: now,
            former: Vec::new(),
        });
        pool.installed = now;
        if pool.current != prefix {
            let left = pool.current;
            pool.former.retain(|(p, _)| *p != prefix && *p != left);
            pool.former.insert(0, (left, now));
            pool.current = prefix;
        }
        pool.former
            .retain(|(_, since)| now.saturating_duration_since(*since) <= history);
        pool.former.truncate(MAX_SITES - 1);
    }

    /// Whether `peer` is a pool whose mapping we installed.
    pub fn is_pool(&self, peer: NodeId) -> bool {
        self.pools.contains_key(&peer)
    }

    /// The sites of `peer` that may still serve us at `now`: the current one
    /// first, then the earlier ones, newest first. Empty for a non-pool.
    pub fn sites(&self, peer: NodeId, now: Instant) -> Vec<Prefix64> {
        let Some(pool) = self.pools.get(&peer) else {
            return Vec::new();
        };
        std::iter::once(pool.current)
            .chain(
                pool.former
                    .iter()
                    .filter(|(_, since)| now.saturating_duration_since(*since) <= self.history)
                    .map(|(p, _)| *p),
            )
            .collect()
    }

    pub fn len(&self) -> usize {
        self.pools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(i: u64) -> NodeId {
        NodeId::from_u64(0x0201_4a00_0000_0100 | i)
    }

    fn site(i: u16) -> Prefix64 {
        format!("2001:db8:{i:x}::/64").parse().unwrap()
    }

    #[test]
    fn earlier_sites_follow_the_current_one_newest_first() {
        let t0 = Instant::now();
        let mut p = Pools::new(4, Duration::from_secs(600));
        assert!(!p.is_pool(pool(1)));
        p.installed(pool(1), site(1), t0);
        p.installed(pool(1), site(1), t0 + Duration::from_secs(1));
        assert_eq!(p.sites(pool(1), t0), [site(1)], "the same site once");
        p.installed(pool(1), site(2), t0 + Duration::from_secs(2));
        p.installed(pool(1), site(3), t0 + Duration::from_secs(3));
        assert_eq!(
            p.sites(pool(1), t0 + Duration::from_secs(3)),
            [site(3), site(2), site(1)]
        );
        // Back to an earlier site: it is current, and listed once.
        p.installed(pool(1), site(1), t0 + Duration::from_secs(4));
        assert_eq!(
            p.sites(pool(1), t0 + Duration::from_secs(4)),
            [site(1), site(3), site(2)]
        );
        assert!(p.is_pool(pool(1)));
        assert!(p.sites(pool(2), t0).is_empty());
    }

    #[test]
    fn a_site_is_forgotten_history_after_it_stopped_being_current() {
        let t0 = Instant::now();
        let mut p = Pools::new(4, Duration::from_secs(60));
        p.installed(pool(1), site(1), t0);
        p.installed(pool(1), site(2), t0 + Duration::from_secs(100));
        // Site 1 served until the change at 100 s, however long before it
        // was installed.
        assert_eq!(
            p.sites(pool(1), t0 + Duration::from_secs(160)),
            [site(2), site(1)]
        );
        assert_eq!(p.sites(pool(1), t0 + Duration::from_secs(161)), [site(2)]);
        // The current site stays however old.
        assert_eq!(
            p.sites(pool(1), t0 + Duration::from_secs(10_000)),
            [site(2)]
        );
    }

    #[test]
    fn sites_and_pools_are_bounded() {
        let t0 = Instant::now();
        let mut p = Pools::new(2, Duration::from_secs(600));
        for i in 0..20 {
            p.installed(pool(1), site(i), t0 + Duration::from_secs(u64::from(i)));
        }
        let s = p.sites(pool(1), t0 + Duration::from_secs(20));
        assert_eq!(s.len(), MAX_SITES);
        assert_eq!(s[0], site(19));
        assert_eq!(s[MAX_SITES - 1], site(19 - MAX_SITES as u16 + 1));
        p.installed(pool(2), site(1), t0 + Duration::from_secs(30));
        p.installed(pool(3), site(1), t0 + Duration::from_secs(31));
        assert_eq!(p.len(), 2);
        assert!(!p.is_pool(pool(1)), "the pool installed longest ago went");
        assert!(p.is_pool(pool(2)) && p.is_pool(pool(3)));
    }
}
