//! The in-memory mapping cache that answers MA Queries without touching the
//! database.
//!
//! Coherence rules (why the cache cannot serve a locator the database no
//! longer holds, beyond the time a change notification takes to arrive):
//!
//! - Every entry carries the sequence number of the registration that wrote
//!   it. The database accepts a node's sequence numbers in strictly
//!   increasing (RFC 1982) order, whichever replica accepts them, so
//!   [`Cache::put`] keeps the newer of two copies and a late writer can never
//!   overwrite a fresher entry.
//! - A mapping that disappears from the database (subscriber deleted or
//!   disabled, expired row collected) is [`Cache::remove`]d, which bumps the
//!   epoch (so does an eviction when the cache is full). Whoever read the database before that removal and tries to cache
//!   what it read afterwards passes the epoch it saw and is refused, so a
//!   deleted mapping cannot come back through a slow reader.
//! - A node that is not in the cache is looked up in the database: absence
//!   is never cached, so a first registration at one replica is visible at
//!   every replica at once.
//!
//! Sharded `RwLock<HashMap>`: readers of different shards never meet, and a
//! query holds a read lock for one hash lookup.

use lin6::addr::NodeId;
use lin6::auth::serial_newer;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub use lin6db::Mapping;

const SHARDS: usize = 64;

pub struct Cache {
    shards: Box<[RwLock<HashMap<NodeId, Mapping>>]>,
    per_shard: usize,
    epoch: AtomicU64,
    len: AtomicUsize,
    /// False while the change feed is down: nothing is served from or
    /// stored in memory, every query goes to the database.
    live: AtomicBool,
}

impl Cache {
    /// A cache of at most `capacity` entries (rounded up to a multiple of the
    /// shard count).
    pub fn new(capacity: usize) -> Cache {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Cache {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            per_shard,
            epoch: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            live: AtomicBool::new(true),
        }
    }

    fn shard(&self, node: NodeId) -> &RwLock<HashMap<NodeId, Mapping>> {
        // Fibonacci hashing spreads sequential Node IDs over all shards.
        let h = node.to_u64().wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(h >> 58) as usize % SHARDS]
    }

    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Take this before reading the database; pass it to [`Cache::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, node: NodeId) -> Option<Mapping> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        self.shard(node)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .copied()
    }

    /// Caches `m` unless a removal happened since `epoch` was taken or the
    /// cache already holds a newer version. Returns whether it was stored.
    pub fn put(&self, node: NodeId, m: Mapping, epoch: u64) -> bool {
        let mut shard = self.shard(node).write().unwrap_or_else(|p| p.into_inner());
        // Checked under the shard lock: a removal of this node takes the same
        // lock, so it is either fully before (epoch differs) or after.
        if self.epoch.load(Ordering::Acquire) != epoch || !self.live.load(Ordering::Acquire) {
            return false;
        }
        match shard.get_mut(&node) {
            Some(old) => {
                if old.sequence == m.sequence || serial_newer(m.sequence, old.sequence) {
                    *old = m;
                    true
                } else {
                    false
                }
            }
            None => {
                if shard.len() >= self.per_shard {
                    // Bounded: evict an arbitrary entry of this shard (HashMap
                    // order is randomised per process). The victim may be a
                    // version newer than what a reader in flight is about to
                    // put back, so eviction counts as a removal.
                    if let Some(victim) = shard.keys().next().copied() {
                        shard.remove(&victim);
                        self.len.fetch_sub(1, Ordering::Relaxed);
                        self.epoch.fetch_add(1, Ordering::AcqRel);
                    }
                }
                shard.insert(node, m);
                self.len.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    /// Forgets `node` and invalidates every database read in flight.
    pub fn remove(&self, node: NodeId) {
        let mut shard = self.shard(node).write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if shard.remove(&node).is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The change feed is down: stop serving from memory until
    /// [`Cache::resume`], since changes made meanwhile would go unnoticed.
    pub fn suspend(&self) {
        self.live.store(false, Ordering::Release);
        self.clear();
    }

    /// The change feed is up again (and listening): start from empty.
    pub fn resume(&self) {
        self.clear();
        self.live.store(true, Ordering::Release);
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Forgets everything, e.g. when notifications may have been lost.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for s in self.shards.iter() {
            let mut s = s.write().unwrap_or_else(|p| p.into_inner());
            self.len.fetch_sub(s.len(), Ordering::Relaxed);
            s.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lin6::addr::Prefix64;

    fn n(i: u64) -> NodeId {
        NodeId::from_u64(0x0201_4a00_0000_0000 | i)
    }

    fn m(seq: u32) -> Mapping {
        Mapping {
            prefix: Prefix64::from_u64(0x2001_0db8_0000_0000 | u64::from(seq)),
            timestamp: 1,
            expires_at: 100,
            sequence: seq,
        }
    }

    #[test]
    fn older_sequence_never_overwrites_newer() {
        let c = Cache::new(16);
        assert!(c.put(n(1), m(10), c.epoch()));
        assert!(!c.put(n(1), m(9), c.epoch()));
        assert_eq!(c.get(n(1)), Some(m(10)));
        assert!(c.put(n(1), m(11), c.epoch()));
        // Wraparound: 0 is newer than u32::MAX.
        assert!(c.put(n(2), m(u32::MAX), c.epoch()));
        assert!(c.put(n(2), m(0), c.epoch()));
    }

    #[test]
    fn read_before_a_removal_cannot_be_cached_after_it() {
        let c = Cache::new(16);
        let e = c.epoch();
        c.remove(n(1));
        assert!(!c.put(n(1), m(5), e));
        assert_eq!(c.get(n(1)), None);
        assert!(c.put(n(1), m(5), c.epoch()));
    }

    #[test]
    fn suspended_cache_serves_and_stores_nothing() {
        let c = Cache::new(16);
        c.put(n(1), m(1), c.epoch());
        c.suspend();
        assert_eq!(c.get(n(1)), None);
        assert!(!c.put(n(1), m(2), c.epoch()));
        c.resume();
        assert_eq!(c.get(n(1)), None, "resume starts from empty");
        assert!(c.put(n(1), m(2), c.epoch()));
    }

    #[test]
    fn eviction_invalidates_reads_in_flight() {
        let c = Cache::new(1);
        assert_eq!(c.capacity(), 64);
        let stale_read = c.epoch();
        // Fill node 1's shard so that the next new node there evicts.
        let shard_mate = (2..)
            .map(n)
            .find(|x| std::ptr::eq(c.shard(*x), c.shard(n(1))))
            .unwrap();
        assert!(c.put(n(1), m(6), c.epoch()));
        assert!(c.put(shard_mate, m(1), c.epoch()), "evicts node 1");
        assert_eq!(c.get(n(1)), None);
        assert!(!c.put(n(1), m(5), stale_read), "older copy must not return");
    }

    #[test]
    fn capacity_is_a_bound() {
        let c = Cache::new(64);
        for i in 0..10_000 {
            c.put(n(i), m(1), c.epoch());
        }
        assert!(c.len() <= c.capacity(), "{} > {}", c.len(), c.capacity());
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn remaining_lifetime_counts_down_to_expiry() {
        let x = m(1);
        assert_eq!(x.remaining(40), Some(60));
        assert_eq!(x.remaining(99), Some(1));
        assert_eq!(x.remaining(100), None);
    }
}
