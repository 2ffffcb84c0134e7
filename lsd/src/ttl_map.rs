//! A bounded map whose entries each expire at their own instant: what the
//! answer cache and the users' assignments both are. An expired entry is
//! absent to readers at once and leaves the map on the next sweep; when
//! the map is full, a new key takes the place of the entry closest to
//! expiry.

use std::collections::HashMap;
use std::hash::Hash;
use tokio::time::Instant;

#[derive(Debug)]
pub struct TtlMap<K, V> {
    capacity: usize,
    map: HashMap<K, (V, Instant)>,
}

impl<K: Copy + Eq + Hash, V> TtlMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        TtlMap {
            capacity,
            map: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live value of `key`.
    pub fn get(&self, now: Instant, key: &K) -> Option<&V> {
        self.map
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(v, _)| v)
    }

    /// The value of `key` and when it expires, live or not.
    pub fn get_with_expiry(&self, key: &K) -> Option<(&V, Instant)> {
        self.map.get(key).map(|(v, e)| (v, *e))
    }

    pub fn insert(&mut self, now: Instant, key: K, value: V, expires: Instant) {
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            self.expire(now);
            if self.map.len() >= self.capacity
                && let Some(victim) = self
                    .map
                    .iter()
                    .min_by_key(|(_, (_, e))| *e)
                    .map(|(k, _)| *k)
            {
                self.map.remove(&victim);
            }
        }
        self.map.insert(key, (value, expires));
    }

    pub fn remove(&mut self, key: &K) -> bool {
        self.map.remove(key).is_some()
    }

    /// Keeps the entries `keep` accepts; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) -> usize {
        let before = self.map.len();
        self.map.retain(|k, (v, _)| keep(k, v));
        before - self.map.len()
    }

    /// Drops the expired entries; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.map.len();
        self.map.retain(|_, (_, expires)| *expires > now);
        before - self.map.len()
    }

    /// Every entry with its expiry, live or not, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V, Instant)> {
        self.map.iter().map(|(k, (v, e))| (k, v, *e))
    }
}
