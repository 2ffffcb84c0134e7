// SPDX-License-Identifier: GPL-2.0

//! A namespace's LIN6 state: its node, its Mapping Table, its counters and
//! its hooks. Readers (the hooks) take no lock; writers (netlink) are
//! serialised by `writer` and publish whole new snapshots.

use crate::addr::{In6, NodeId};
use crate::hooks::{InHook, OutHook};
use crate::node::Node;
use crate::stats::Stats;
use crate::table::{Mapping, Snapshot, TableError};
use crate::{events::EventLimiter, PERNET};
use kernel::net::netfilter::HookRegistration;
use kernel::net::netns::{Net, Pernet, PernetState};
use kernel::prelude::*;
use kernel::sync::rcu::RcuBox;
use kernel::sync::{new_mutex, Mutex};
use kernel::time::Ktime;

/// Default capacity of a namespace's Mapping Table.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;

#[pin_data]
pub(crate) struct Lin6Net {
    #[pin]
    writer: Mutex<()>,
    pub(crate) node: RcuBox<Node>,
    pub(crate) table: RcuBox<Snapshot>,
    pub(crate) stats: Stats,
    pub(crate) capacity: usize,
    pub(crate) events: EventLimiter,
    // Last, so that the hooks see a complete state from their first packet.
    #[pin]
    out_hook: HookRegistration,
    #[pin]
    in_hook: HookRegistration,
}

/// Monotonic time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    Ktime::ktime_get().to_ms()
}

/// Monotonic time in seconds, the unit of mapping lifetimes.
pub(crate) fn now_secs() -> i64 {
    now_ms() / 1000
}

impl PernetState for Lin6Net {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: &Net) -> impl PinInit<Self, Error> + '_ {
        try_pin_init!(Self {
            writer <- new_mutex!(()),
            node: RcuBox::new(Node::default(), GFP_KERNEL)?,
            table: RcuBox::new(Snapshot::empty(), GFP_KERNEL)?,
            stats: Stats::new(),
            capacity: DEFAULT_CAPACITY,
            events: EventLimiter::new(),
            out_hook <- HookRegistration::new::<OutHook>(net),
            in_hook <- HookRegistration::new::<InHook>(net),
        }? Error)
    }

    fn pre_exit(&self, _net: &Net) {
        self.out_hook.unregister();
        self.in_hook.unregister();
    }
}

impl Lin6Net {
    /// The state of `net`.
    pub(crate) fn get(net: &Net) -> Option<&Lin6Net> {
        PERNET.get(net)
    }

    /// The node, as writers see it.
    pub(crate) fn node_now(&self) -> Node {
        let _w = self.writer.lock();
        // SAFETY: we hold the writers' lock.
        *unsafe { self.node.get_locked() }
    }

    /// Changes the node with `f`; `f` may refuse by returning an error.
    pub(crate) fn update_node(&self, f: impl FnOnce(&mut Node) -> Result) -> Result {
        let _w = self.writer.lock();
        // SAFETY: we hold the writers' lock.
        let mut node = *unsafe { self.node.get_locked() };
        f(&mut node)?;
        // SAFETY: we hold the writers' lock.
        unsafe { self.node.replace(node, GFP_KERNEL) }?;
        Ok(())
    }

    /// Adds or replaces a mapping.
    pub(crate) fn map_add(&self, node: NodeId, prefix: crate::addr::Prefix, lifetime: u32) -> Result<(), TableError> {
        let now = now_secs();
        let m = Mapping {
            node,
            prefix,
            expires: (lifetime > 0).then(|| now + i64::from(lifetime)),
        };
        let _w = self.writer.lock();
        // SAFETY: we hold the writers' lock.
        let next = unsafe { self.table.get_locked() }.with(m, self.capacity, now)?;
        // SAFETY: we hold the writers' lock.
        unsafe { self.table.replace(next, GFP_KERNEL) }.map_err(|_| TableError::NoMemory)
    }

    /// Deletes a mapping.
    pub(crate) fn map_del(&self, node: NodeId) -> Result<(), TableError> {
        let _w = self.writer.lock();
        // SAFETY: we hold the writers' lock.
        let next = unsafe { self.table.get_locked() }.without(node, now_secs())?;
        // SAFETY: we hold the writers' lock.
        unsafe { self.table.replace(next, GFP_KERNEL) }.map_err(|_| TableError::NoMemory)
    }

    /// Deletes every mapping.
    pub(crate) fn map_flush(&self) -> Result<(), TableError> {
        let _w = self.writer.lock();
        // SAFETY: we hold the writers' lock.
        unsafe { self.table.replace(Snapshot::empty(), GFP_KERNEL) }.map_err(|_| TableError::NoMemory)
    }

    /// Tells userspace about a miss (rate-limited per Node ID).
    pub(crate) fn report_miss(&self, net: &Net, peer: NodeId, addr: &In6, reason: u32) {
        if self.events.allow(peer, now_ms()) {
            crate::events::send_miss(net, peer, addr, reason, 0);
        }
    }
}
