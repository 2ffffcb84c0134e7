// SPDX-License-Identifier: GPL-2.0

//! Per-flow pinning for pool destinations.
//!
//! Every content server of a load-sharing pool answers on one LIN6 address,
//! so the Mapping Table holds one prefix for the pool's Node ID: the site
//! chosen for this node now. When the node moves, userspace asks again and
//! the mapping may name another site; a TCP connection already running
//! must still reach the server it started with. A mapping flagged `pool`
//! therefore sends each flow to the prefix that was in effect when the
//! flow's first packet went out: the prefix is pinned here, per flow, and
//! a new flow takes the mapping of the moment.
//!
//! A flow is (our Node ID, the pool's Node ID, L4 protocol, ports): TCP,
//! UDP, UDP-Lite, SCTP and DCCP by their ports, ICMPv6 echo by its
//! identifier, anything else by the addresses alone. The table is an array
//! of `flow_capacity` slots, allocated (process context) when the
//! namespace's first pool mapping is installed, so a namespace without one
//! holds nothing and its packets never take the lock. A flow hashes to a
//! window of `WINDOW` slots; a flow idle for `flow_idle_s` is gone (its slot
//! is free again); when every slot of the window holds a live flow, the one
//! idle longest gives way (counted), so a new flow never fails.

use crate::addr::{NodeId, Prefix};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::alloc::AllocError;
use kernel::net::skbuff::{icmp6, proto, SkBuff, ICMP6_HDR_LEN, IPV6_HDR_LEN};
use kernel::prelude::*;
use kernel::sync::{new_spinlock_bh, SpinLockBh};

/// Slots a flow may occupy, from the one its hash names.
const WINDOW: usize = 8;

/// What identifies a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    me: NodeId,
    peer: NodeId,
    proto: u8,
    /// Our port (or the echo identifier); 0 when the protocol has none.
    sport: u16,
    /// The peer's port; 0 when the protocol has none.
    dport: u16,
}

impl FlowKey {
    fn hash(&self) -> u64 {
        // splitmix64's finaliser over the fields folded into one word: the
        // ports of one pool's flows differ in few bits, which it spreads.
        let mut h = self.peer.0
            ^ self.me.0.rotate_left(32)
            ^ (u64::from(self.proto) << 32 | u64::from(self.sport) << 16 | u64::from(self.dport));
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

/// What a packet is, as far as pinning goes.
pub(crate) enum Packet {
    /// A packet of a flow: it may start one.
    Flow(FlowKey),
    /// An ICMPv6 error about a packet the pool sent us: it follows that
    /// packet's flow, reversed, but starts none.
    ErrorAbout(FlowKey),
}

/// The flow of a packet from `me` to `peer` with next header `nexthdr`;
/// `icmp_error_at` is where an ICMPv6 error message starts, if it is one.
pub(crate) fn classify(
    skb: &SkBuff,
    me: NodeId,
    peer: NodeId,
    icmp_error_at: Option<usize>,
) -> Packet {
    let key = |proto, sport, dport| FlowKey {
        me,
        peer,
        proto,
        sport,
        dport,
    };
    if let Some(at) = icmp_error_at {
        // The quote was sent by the peer: its ports are the flow's, swapped.
        let quote = at + ICMP6_HDR_LEN;
        let mut nexthdr = [0u8; 1];
        let proto = match skb.copy_bits(quote + 6, &mut nexthdr) {
            Ok(()) => nexthdr[0],
            Err(_) => proto::ICMPV6,
        };
        let (sport, dport) = ports(skb, proto, quote + IPV6_HDR_LEN).unwrap_or((0, 0));
        return Packet::ErrorAbout(key(proto, dport, sport));
    }
    let Some(t) = skb.ipv6_transport() else {
        return Packet::Flow(key(0, 0, 0));
    };
    if t.later_fragment {
        // No transport header: the addresses are all there is.
        return Packet::Flow(key(t.proto, 0, 0));
    }
    if t.proto == proto::ICMPV6 {
        let mut h = [0u8; 6];
        let id = match skb.copy_bits(t.offset, &mut h) {
            Ok(()) if matches!(h[0], icmp6::ECHO_REQUEST | icmp6::ECHO_REPLY) => {
                u16::from_be_bytes([h[4], h[5]])
            }
            _ => 0,
        };
        return Packet::Flow(key(t.proto, id, 0));
    }
    let (sport, dport) = ports(skb, t.proto, t.offset).unwrap_or((0, 0));
    Packet::Flow(key(t.proto, sport, dport))
}

/// The (source, destination) ports of a transport header at `at`, for the
/// protocols that start with them.
fn ports(skb: &SkBuff, proto: u8, at: usize) -> Option<(u16, u16)> {
    if !matches!(
        proto,
        proto::TCP | proto::UDP | proto::DCCP | proto::SCTP | proto::UDPLITE
    ) {
        return None;
    }
    let mut p = [0u8; 4];
    skb.copy_bits(at, &mut p).ok()?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

#[derive(Clone, Copy)]
struct Slot {
    key: FlowKey,
    prefix: Prefix,
    /// Monotonic ms of the flow's last packet; `i64::MIN`: free.
    last_ms: i64,
}

const FREE: Slot = Slot {
    key: FlowKey {
        me: NodeId(0),
        peer: NodeId(0),
        proto: 0,
        sport: 0,
        dport: 0,
    },
    prefix: Prefix(0),
    last_ms: i64::MIN,
};

impl Slot {
    fn live(&self, now_ms: i64, idle_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_ms) < idle_ms
    }
}

/// Where a packet goes, and what the table did for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pin {
    /// A flow already pinned: to its prefix.
    Held(Prefix),
    /// A new flow, pinned to the current prefix; `evicted`: a live flow
    /// gave way for it.
    New { evicted: bool },
    /// Not pinned (no table, or an error about no flow we know).
    None,
}

/// A namespace's pinned flows.
#[pin_data]
pub(crate) struct FlowTable {
    #[pin]
    flows: SpinLockBh<Flows>,
    /// Whether `flows` has its slots: until then the packet path never
    /// takes the lock.
    ready: AtomicBool,
}

impl FlowTable {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            flows <- new_spinlock_bh!(Flows::new()),
            ready: AtomicBool::new(false),
        })
    }

    /// Gives the table its `capacity` slots, once. Process context (it may
    /// sleep); the caller serialises calls.
    pub(crate) fn start(&self, capacity: usize) -> Result<(), AllocError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let slots = KVVec::from_elem(FREE, capacity, GFP_KERNEL)?;
        let spare = self.flows.lock().install(slots);
        // Freed outside the lock: vfree may sleep.
        drop(spare);
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Where the packet `p` goes when the mapping says `current` (`None`:
    /// no mapping), pinning a new flow to `current`.
    pub(crate) fn pin(
        &self,
        p: &Packet,
        current: Option<Prefix>,
        now_ms: i64,
        idle_ms: i64,
    ) -> Pin {
        if !self.ready.load(Ordering::Acquire) {
            return Pin::None;
        }
        self.flows.lock().pin(p, current, now_ms, idle_ms)
    }

    /// Forgets the flows to `peer`; `None`: every flow.
    pub(crate) fn forget(&self, peer: Option<NodeId>) {
        if self.ready.load(Ordering::Acquire) {
            self.flows.lock().forget(peer);
        }
    }
}

/// The slots, under the table's lock.
struct Flows {
    slots: KVVec<Slot>,
}

impl Flows {
    const fn new() -> Self {
        Flows {
            slots: KVVec::new(),
        }
    }

    /// Takes `slots` if the table has none yet; returns what the caller
    /// must drop outside the lock.
    fn install(&mut self, slots: KVVec<Slot>) -> KVVec<Slot> {
        if !self.slots.is_empty() {
            return slots;
        }
        core::mem::replace(&mut self.slots, slots)
    }

    fn pin(&mut self, p: &Packet, current: Option<Prefix>, now_ms: i64, idle_ms: i64) -> Pin {
        let (key, may_start) = match p {
            Packet::Flow(k) => (k, current.is_some()),
            Packet::ErrorAbout(k) => (k, false),
        };
        let n = self.slots.len();
        if n == 0 {
            return Pin::None;
        }
        let start = (key.hash() % n as u64) as usize;
        let (mut found, mut free, mut stalest) = (None, None, None::<usize>);
        for i in 0..WINDOW.min(n) {
            let j = (start + i) % n;
            let s = &self.slots[j];
            let live = s.live(now_ms, idle_ms);
            if s.key == *key && s.last_ms != i64::MIN {
                found = Some((j, live));
                break;
            }
            if !live {
                free.get_or_insert(j);
            } else if stalest.map_or(true, |k| s.last_ms < self.slots[k].last_ms) {
                stalest = Some(j);
            }
        }
        if let Some((j, true)) = found {
            self.slots[j].last_ms = now_ms;
            return Pin::Held(self.slots[j].prefix);
        }
        let Some(prefix) = current.filter(|_| may_start) else {
            return Pin::None;
        };
        // An expired entry of the same flow, a free slot, or the stalest.
        let (j, evicted) = match (found, free, stalest) {
            (Some((j, _)), _, _) | (None, Some(j), _) => (j, false),
            (None, None, Some(j)) => (j, true),
            (None, None, None) => return Pin::None,
        };
        self.slots[j] = Slot {
            key: *key,
            prefix,
            last_ms: now_ms,
        };
        Pin::New { evicted }
    }

    fn forget(&mut self, peer: Option<NodeId>) {
        for s in self.slots.iter_mut() {
            if peer.map_or(true, |p| s.key.peer == p) {
                *s = FREE;
            }
        }
    }
}
