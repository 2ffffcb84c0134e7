//! A bounded map whose entries each expire at their own instant: lsd's
//! answer cache and users' assignments, lin6resolvd's cache of peers' MA
//! lists. An expired entry is absent to readers at once and leaves the map
//! on the next sweep; when the map is full, a new key takes the place of
//! the entry closest to expiry (after the expired ones). `T` is the clock's
//! instant (std's, or tokio's where tests pause time).

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct TtlMap<K, V, T = std::time::Instant> {
    capacity: usize,
    map: HashMap<K, (V, T)>,
}

impl<K: Copy + Eq + Hash, V, T: Copy + Ord> TtlMap<K, V, T> {
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
    pub fn get(&self, now: T, key: &K) -> Option<&V> {
        self.map
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(v, _)| v)
    }

    /// The value of `key` and when it expires, live or not.
    pub fn get_with_expiry(&self, key: &K) -> Option<(&V, T)> {
        self.map.get(key).map(|(v, e)| (v, *e))
    }

    pub fn insert(&mut self, now: T, key: K, value: V, expires: T) {
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
    pub fn expire(&mut self, now: T) -> usize {
        let before = self.map.len();
        self.map.retain(|_, (_, expires)| *expires > now);
        before - self.map.len()
    }

    /// Every entry with its expiry, live or not, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V, T)> {
        self.map.iter().map(|(k, (v, e))| (k, v, *e))
    }
}
