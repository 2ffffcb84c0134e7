// SPDX-License-Identifier: GPL-2.0

//! A namespace's LIN6 state: its node, its Mapping Table, its counters and
//! its hooks. Readers (the hooks) take no lock; writers (netlink) are
//! serialised by each `RcuCell`'s mutex and publish whole new snapshots.

use crate::addr::{In6, NodeId, Prefix};
use crate::flows::{FlowTable, Packet, Pin};
use crate::hooks::{InHook, OutHook};
use crate::linsix::Linsix;
use crate::node::Node;
use crate::queue::{Queued, Queues};
use crate::stats::{Counter, Stats};
use crate::table::{Mapping, Snapshot, TableError};
use crate::{events::EventLimiter, PERNET};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::net::inet6addr::AddrEvent;
use kernel::net::netdevice::Registration as DeviceRegistration;
use kernel::net::netfilter::HookRegistration;
use kernel::net::netns::{Net, Pernet, PernetState};
use kernel::net::skbuff::OwnedSkb;
use kernel::prelude::*;
use kernel::sync::rcu::{self, RcuCell};
use kernel::sync::{new_spinlock_bh, SpinLockBh};
use kernel::time::Ktime;
use kernel::timer::Timer;

/// How often waiting packets are checked for their timeout.
const QUEUE_TICK_MS: u32 = 250;

#[pin_data]
pub(crate) struct Lin6Net {
    #[pin]
    pub(crate) node: RcuCell<Node>,
    #[pin]
    pub(crate) table: RcuCell<Snapshot>,
    pub(crate) stats: Stats,
    /// Our current locator prefix (0: none). Atomic, because the address
    /// notifier that moves it runs in atomic context.
    locator: AtomicU64,
    pub(crate) capacity: usize,
    pub(crate) events: EventLimiter,
    #[pin]
    queue: SpinLockBh<Queues>,
    /// Pinned flows to pool destinations; empty (and never locked by the
    /// packet path) until the first pool mapping.
    #[pin]
    flows: FlowTable,
    /// Ticks while packets wait, to drop those that waited too long.
    #[pin]
    queue_timer: Timer<Net>,
    /// linsix0, which holds our LIN6 address and the LIN6 prefix's route.
    linsix: DeviceRegistration<Linsix>,
    // Registered with the first Node ID (`update_node`), when the rest of
    // the state is long complete.
    #[pin]
    out_hook: HookRegistration,
    #[pin]
    in_hook: HookRegistration,
}

/// Monotonic time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    Ktime::ktime_get().to_ms()
}

/// Monotonic time in seconds, the unit of mapping lifetimes: the tick's,
/// which every packet may ask for without the clocksource read of `now_ms`.
pub(crate) fn now_secs() -> i64 {
    kernel::timer::monotonic_seconds()
}

impl PernetState for Lin6Net {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: &Net) -> impl PinInit<Self, Error> + '_ {
        try_pin_init!(Self {
            node <- RcuCell::new(Node::default(), GFP_KERNEL),
            table <- RcuCell::new(Snapshot::empty(), GFP_KERNEL),
            stats: Stats::new()?,
            locator: AtomicU64::new(0),
            capacity: crate::MAX_MAPPINGS.get() as usize,
            events: EventLimiter::new(),
            queue <- new_spinlock_bh!(Queues::new()),
            flows <- FlowTable::new(),
            queue_timer <- Timer::new(net, Lin6Net::expire_queue),
            linsix: DeviceRegistration::register(net)?,
            out_hook <- HookRegistration::new::<OutHook>(net),
            in_hook <- HookRegistration::new::<InHook>(net),
        }? Error)
    }

    fn pre_exit(&self, _net: &Net) {
        self.out_hook.unregister();
        self.in_hook.unregister();
        // A hook still running may queue until `close`; after it nothing is
        // queued and the timer is never armed again, so cancelling it here
        // leaves nothing behind for the state's drop.
        let dropped = self.queue.lock().close();
        self.stats.add(Counter::DropNoMapping, dropped as u64);
        self.queue_timer.cancel_sync();
        // Before the grace period that precedes the drop: on return no
        // transmit runs, so none can look this state up while it goes.
        self.linsix.unregister();
    }

    const OWNS_DEVICES: bool = true;
}

impl Lin6Net {
    /// The state of `net`.
    pub(crate) fn get(net: &Net) -> Option<&Lin6Net> {
        PERNET.get(net)
    }

    /// The node.
    pub(crate) fn node_now(&self) -> Node {
        *self.node.get(&rcu::read_lock())
    }

    /// Changes the node with `f`; `f` may refuse by returning an error.
    /// The hooks start with the first Node ID: packets in a namespace
    /// that never has one are not looked at.
    pub(crate) fn update_node(&self, f: impl FnOnce(&mut Node) -> Result) -> Result {
        self.node.update(|current| -> Result<(Node, ())> {
            let mut node = *current;
            f(&mut node)?;
            if node.id.is_some() {
                self.out_hook.register()?;
                self.in_hook.register()?;
            }
            Ok((node, ()))
        })
    }

    /// Our current locator prefix.
    pub(crate) fn locator(&self) -> Option<Prefix> {
        match self.locator.load(Ordering::Acquire) {
            0 => None,
            p => Some(Prefix(p)),
        }
    }

    /// Sets our locator prefix; returns the previous one.
    pub(crate) fn set_locator(&self, p: Option<Prefix>) -> Option<Prefix> {
        match self.locator.swap(p.map_or(0, |p| p.0), Ordering::AcqRel) {
            0 => None,
            old => Some(Prefix(old)),
        }
    }

    /// An address came or went: if it carries our Node ID, we moved. The
    /// source locator switches at once (fast handover), and userspace hears
    /// of it to re-register with the MA and tell correspondents.
    pub(crate) fn address_event(&self, net: &Net, event: AddrEvent, addr: &In6, ifindex: i32) {
        let node = {
            let guard = rcu::read_lock();
            *self.node.get(&guard)
        };
        let Some(me) = node.id else {
            return;
        };
        let prefix = Prefix::of(addr);
        let link_local = addr[0] == 0xfe && addr[1] & 0xc0 == 0x80;
        if NodeId::of(addr) != me || prefix == node.lin6_prefix || link_local || addr[0] == 0xff {
            return;
        }
        let (old, new) = match event {
            AddrEvent::Up => {
                let old = self.set_locator(Some(prefix));
                if old == Some(prefix) {
                    return;
                }
                (old, Some(prefix))
            }
            // Only the address we send from matters; another going is news
            // to nobody.
            AddrEvent::Down => match self.locator.compare_exchange(
                prefix.0,
                0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => (Some(prefix), None),
                Err(_) => return,
            },
        };
        crate::events::send_prefix(
            net,
            old.map(|p| p.join(me)),
            new.map(|p| p.join(me)),
            ifindex,
        );
    }

    /// Adds or replaces a mapping; `pool`: a load-sharing pool's, whose
    /// flows keep their first prefix.
    pub(crate) fn map_add(
        &self,
        net: &Net,
        node: NodeId,
        prefix: crate::addr::Prefix,
        lifetime: u32,
        pool: bool,
    ) -> Result<(), TableError> {
        let now = now_secs();
        let was_pool = self.table.update(|table| -> Result<_, TableError> {
            if pool {
                let capacity = crate::FLOW_CAPACITY.get() as usize;
                self.flows
                    .start(capacity)
                    .map_err(|_| TableError::NoMemory)?;
            }
            let was_pool = table.was_pool(node);
            let m = Mapping {
                node,
                prefix,
                expires: (lifetime > 0).then(|| now + i64::from(lifetime)),
                pool,
                route: table.route_for(node, prefix)?,
            };
            Ok((table.with(m, self.capacity, now)?, was_pool))
        })?;
        if was_pool && !pool {
            // No longer a pool: every flow follows the mapping again.
            self.flows.forget(Some(node));
        }
        self.release_queue(net, node);
        Ok(())
    }

    /// Deletes a mapping, and the flows pinned to its Node ID.
    pub(crate) fn map_del(&self, node: NodeId) -> Result<(), TableError> {
        self.table.update(|table| -> Result<_, TableError> {
            Ok((table.without(node, now_secs())?, ()))
        })?;
        self.flows.forget(Some(node));
        Ok(())
    }

    /// Deletes every mapping and every pinned flow.
    pub(crate) fn map_flush(&self) -> Result<(), TableError> {
        self.table
            .update(|_| Ok::<_, TableError>((Snapshot::empty(), ())))?;
        self.flows.forget(None);
        Ok(())
    }

    /// The prefix a packet to a pool goes to: its flow's pinned one, or
    /// `current` (the mapping's; `None` when there is none), to which a
    /// new flow is pinned. `None` when the namespace pins nothing.
    pub(crate) fn pinned_prefix(&self, packet: &Packet, current: Option<Prefix>) -> Option<Prefix> {
        let idle_ms = i64::from(crate::FLOW_IDLE_S.get()) * 1000;
        match self.flows.pin(packet, current, now_ms(), idle_ms) {
            Pin::Held(p) => Some(p),
            Pin::New { evicted } => {
                self.stats.inc(Counter::FlowsPinned);
                if evicted {
                    self.stats.inc(Counter::FlowEvictions);
                }
                current
            }
            Pin::None => current,
        }
    }

    /// Holds a packet for `peer` until its mapping arrives.
    pub(crate) fn queue_packet(&self, net: &Net, peer: NodeId, addr: &In6, skb: OwnedSkb) {
        let now = now_ms();
        let queued = {
            let mut q = self.queue.lock();
            let was_empty = q.is_empty();
            let r = q.push(peer, skb, now);
            // Armed under the lock, so `pre_exit`'s close-then-cancel cannot
            // miss it.
            if was_empty && matches!(r, Queued::Waiting { .. }) {
                self.queue_timer.arm_ms(QUEUE_TICK_MS);
            }
            r
        };
        match queued {
            Queued::Waiting { first, len } => {
                self.stats.inc(Counter::Queued);
                if first || self.events.allow(peer, now) {
                    crate::events::send_miss(
                        net,
                        peer,
                        addr,
                        crate::uapi::miss_reason::NO_MAPPING,
                        len as u32,
                    );
                }
            }
            Queued::Full => self.stats.inc(Counter::DropQueueFull),
            Queued::Closed => self.stats.inc(Counter::DropNoMapping),
        }
    }

    /// Sends the packets that waited for `node`'s mapping, now installed.
    fn release_queue(&self, net: &Net, node: NodeId) {
        let Some(skbs) = self.queue.lock().take(node) else {
            return;
        };
        // Outside the lock: the packets go through our own hook again. A
        // refusal there may be our hook's own drop, counted by its reason
        // too; this counter says what became of the queued packet.
        for skb in skbs {
            match skb.ipv6_local_out(net) {
                Ok(()) => self.stats.inc(Counter::SentFromQueue),
                Err(_) => self.stats.inc(Counter::DropQueueSend),
            }
        }
    }

    fn expire_queue(net: &Net) {
        let Some(ns) = Lin6Net::get(net) else {
            return;
        };
        let mut q = ns.queue.lock();
        let dropped = q.expire(now_ms(), i64::from(crate::MISS_TIMEOUT_MS.get()));
        ns.stats.add(Counter::DropQueueTimeout, dropped as u64);
        if !q.is_empty() {
            ns.queue_timer.arm_ms(QUEUE_TICK_MS);
        }
    }

    /// Asks userspace to check a source (rate-limited per Node ID).
    pub(crate) fn report_source(&self, net: &Net, peer: NodeId, addr: &In6, reason: u32) {
        if self.events.allow(peer, now_ms()) {
            crate::events::send_miss(net, peer, addr, reason, 0);
        }
    }
}
