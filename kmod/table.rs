// SPDX-License-Identifier: GPL-2.0

//! The Mapping Table: Node ID -> network prefix, with lifetimes.
//!
//! The packet path reads a sorted, immutable snapshot under RCU with no
//! lock; writers (netlink, serialised by the table's `RcuCell`) build a new
//! snapshot and publish it. Expired entries are invisible to lookups at
//! once, and are left out of the next snapshot a writer builds.

use crate::addr::{NodeId, Prefix};
use crate::uapi::map_flags;
use core::fmt;
use kernel::alloc::AllocError;
use kernel::net::dst_cache::DstCache;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The route to one mapping's locator, kept per CPU for the re-route after
/// the output rewrite (hooks.rs), so that a packet to a mapped peer costs
/// no FIB lookup. Shared by every snapshot holding the mapping; a new
/// prefix gets a new one.
#[derive(Clone)]
pub(crate) struct RouteCache(Arc<DstCache>);

impl RouteCache {
    fn new() -> Result<Self, TableError> {
        let cache = DstCache::new(GFP_KERNEL).map_err(|_| TableError::NoMemory)?;
        Arc::new(cache, GFP_KERNEL)
            .map(RouteCache)
            .map_err(|_| TableError::NoMemory)
    }

    pub(crate) fn dst_cache(&self) -> &DstCache {
        &self.0
    }
}

impl fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RouteCache")
    }
}

impl PartialEq for RouteCache {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RouteCache {}

/// One mapping.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    pub(crate) node: NodeId,
    pub(crate) prefix: Prefix,
    /// Monotonic second at which it expires; `None`: static.
    pub(crate) expires: Option<i64>,
    /// A load-sharing pool's Node ID: flows keep their first prefix
    /// (flows.rs).
    pub(crate) pool: bool,
    pub(crate) route: RouteCache,
}

impl Mapping {
    pub(crate) fn live(&self, now: i64) -> bool {
        self.expires.map_or(true, |e| now < e)
    }

    /// The `map-flags` the netlink API reports for it.
    pub(crate) fn flags(&self) -> u32 {
        let mut f = 0;
        if self.expires.is_none() {
            f |= map_flags::STATIC;
        }
        if self.pool {
            f |= map_flags::POOL;
        }
        f
    }

    /// Seconds left (0 for a static mapping, as the netlink API reports it).
    pub(crate) fn seconds_left(&self, now: i64) -> u32 {
        self.expires
            .map_or(0, |e| u32::try_from((e - now).max(1)).unwrap_or(u32::MAX))
    }
}

/// Why a table change was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TableError {
    Full,
    NoSuchEntry,
    NoMemory,
}

impl From<AllocError> for TableError {
    fn from(_: AllocError) -> Self {
        TableError::NoMemory
    }
}

/// An immutable table, sorted by Node ID.
pub(crate) struct Snapshot {
    entries: KVec<Mapping>,
}

impl Snapshot {
    pub(crate) fn empty() -> Self {
        Snapshot {
            entries: KVec::new(),
        }
    }

    /// The live mapping of `node`.
    pub(crate) fn lookup(&self, node: NodeId, now: i64) -> Option<&Mapping> {
        let i = self.entries.binary_search_by(|m| m.node.cmp(&node)).ok()?;
        self.entries.get(i).filter(|m| m.live(now))
    }

    /// The route cache for a mapping of `node` to `prefix`: the current
    /// one's if it maps there already (a refresh keeps its routes), a new
    /// one otherwise.
    pub(crate) fn route_for(&self, node: NodeId, prefix: Prefix) -> Result<RouteCache, TableError> {
        match self.entries.binary_search_by(|m| m.node.cmp(&node)) {
            Ok(i) if self.entries[i].prefix == prefix => Ok(self.entries[i].route.clone()),
            _ => RouteCache::new(),
        }
    }

    /// Whether `node`'s mapping, live or expired, is a pool's.
    pub(crate) fn was_pool(&self, node: NodeId) -> bool {
        self.entries
            .binary_search_by(|m| m.node.cmp(&node))
            .is_ok_and(|i| self.entries[i].pool)
    }

    /// Live mappings, in Node ID order, from index `from`.
    pub(crate) fn live_from(
        &self,
        from: usize,
        now: i64,
    ) -> impl Iterator<Item = (usize, &Mapping)> {
        self.entries
            .iter()
            .enumerate()
            .skip(from)
            .filter(move |(_, m)| m.live(now))
    }

    pub(crate) fn live_count(&self, now: i64) -> usize {
        self.entries.iter().filter(|m| m.live(now)).count()
    }

    /// A copy with `m` added or replaced, without the expired entries.
    pub(crate) fn with(
        &self,
        m: Mapping,
        capacity: usize,
        now: i64,
    ) -> Result<Snapshot, TableError> {
        let mut entries = self.live_copy(now, 1)?;
        match entries.binary_search_by(|e| e.node.cmp(&m.node)) {
            Ok(i) => entries[i] = m,
            Err(i) => {
                if entries.len() >= capacity {
                    return Err(TableError::Full);
                }
                insert(&mut entries, i, m)?;
            }
        }
        Ok(Snapshot { entries })
    }

    /// A copy without `node`'s mapping (and without the expired entries).
    pub(crate) fn without(&self, node: NodeId, now: i64) -> Result<Snapshot, TableError> {
        if self.lookup(node, now).is_none() {
            return Err(TableError::NoSuchEntry);
        }
        let mut entries = KVec::with_capacity(self.entries.len(), GFP_KERNEL)
            .map_err(|_| TableError::NoMemory)?;
        for e in self
            .entries
            .iter()
            .filter(|e| e.node != node && e.live(now))
        {
            entries
                .push(e.clone(), GFP_KERNEL)
                .map_err(|_| TableError::NoMemory)?;
        }
        Ok(Snapshot { entries })
    }

    fn live_copy(&self, now: i64, extra: usize) -> Result<KVec<Mapping>, TableError> {
        let mut v = KVec::with_capacity(self.entries.len() + extra, GFP_KERNEL)
            .map_err(|_| TableError::NoMemory)?;
        for e in self.entries.iter().filter(|e| e.live(now)) {
            v.push(e.clone(), GFP_KERNEL)
                .map_err(|_| TableError::NoMemory)?;
        }
        Ok(v)
    }
}

fn insert(v: &mut KVec<Mapping>, at: usize, m: Mapping) -> Result<(), TableError> {
    // KVec has no `insert`: push, then rotate the tail into place.
    v.push(m, GFP_KERNEL).map_err(|_| TableError::NoMemory)?;
    v[at..].rotate_right(1);
    Ok(())
}
