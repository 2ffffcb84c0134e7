//! Peers' MA lists as DNS gave them, kept for the record's TTL (capped by
//! config) so that a burst of misses for one peer costs one DNS lookup.
//! Bounded: when full, expired entries go first, then the one that expires
//! soonest.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use lin6::discovery::Server;
use lin6::ttl_map::TtlMap;

pub struct MaCache {
    max_ttl: Duration,
    entries: TtlMap<Ipv6Addr, Vec<Server>>,
}

impl MaCache {
    pub fn new(capacity: usize, max_ttl: Duration) -> MaCache {
        MaCache {
            max_ttl,
            entries: TtlMap::new(capacity.max(1)),
        }
    }

    /// The MAs of the LIN6 address `addr`, if known and not expired.
    pub fn get(&self, addr: Ipv6Addr, now: Instant) -> Option<Vec<Server>> {
        self.entries.get(now, &addr).cloned()
    }

    pub fn put(&mut self, addr: Ipv6Addr, mas: Vec<Server>, valid_until: Instant, now: Instant) {
        let until = valid_until.min(now + self.max_ttl);
        if until > now {
            self.entries.insert(now, addr, mas, until);
        }
    }

    /// Forgets `addr`: its MAs did not answer, so ask DNS again next time.
    pub fn forget(&mut self, addr: Ipv6Addr) {
        self.entries.remove(&addr);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(i: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x3ffe, 0, 0, 0, 0, 0, 0, i)
    }

    #[test]
    fn entries_expire_at_the_shorter_of_ttl_and_cap() {
        let now = Instant::now();
        let mut c = MaCache::new(4, Duration::from_secs(10));
        c.put(
            a(1),
            vec![Server::new(a(9))],
            now + Duration::from_secs(100),
            now,
        );
        assert!(c.get(a(1), now + Duration::from_secs(9)).is_some());
        assert!(c.get(a(1), now + Duration::from_secs(10)).is_none());
        c.put(a(2), vec![], now, now);
        assert!(c.get(a(2), now).is_none(), "a TTL of 0 is not cached");
    }

    #[test]
    fn capacity_is_never_exceeded() {
        let now = Instant::now();
        let mut c = MaCache::new(3, Duration::from_secs(60));
        for i in 0..10 {
            c.put(
                a(i),
                vec![],
                now + Duration::from_secs(u64::from(i) + 1),
                now,
            );
            assert!(c.len() <= 3);
        }
        assert!(c.get(a(9), now).is_some(), "the newest stays");
    }
}
