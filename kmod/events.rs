// SPDX-License-Identifier: GPL-2.0

//! Events multicast to userspace: misses (a mapping is needed or a source
//! needs checking) and prefix changes (this node moved).

use crate::addr::{In6, NodeId};
use crate::uapi::{attr, cmd, mcgrp};
use crate::FAMILY;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use kernel::net::genetlink::PutAttrs;
use kernel::net::netns::Net;

const SLOTS: usize = 64;
/// At most one miss event per Node ID in this many milliseconds.
const MISS_INTERVAL_MS: i64 = 100;

/// Limits miss events: a flood of packets to one unknown Node ID raises one
/// event per interval, not one per packet. A small lossy table: two Node IDs
/// that share a slot may each be reported a little more often.
pub(crate) struct EventLimiter {
    node: [AtomicU64; SLOTS],
    last_ms: [AtomicI64; SLOTS],
}

impl EventLimiter {
    pub(crate) fn new() -> Self {
        EventLimiter {
            node: [const { AtomicU64::new(0) }; SLOTS],
            last_ms: [const { AtomicI64::new(i64::MIN) }; SLOTS],
        }
    }

    /// Whether an event for `peer` may go out now.
    pub(crate) fn allow(&self, peer: NodeId, now_ms: i64) -> bool {
        // Fibonacci hashing spreads sequential Node IDs over the slots.
        let i = (peer.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize % SLOTS;
        let same = self.node[i].swap(peer.0, Relaxed) == peer.0;
        let last = self.last_ms[i].load(Relaxed);
        if same && now_ms.saturating_sub(last) < MISS_INTERVAL_MS {
            return false;
        }
        self.last_ms[i].store(now_ms, Relaxed);
        true
    }
}

/// Sends a MISS event. Errors are dropped: an event source cannot block
/// the packet path, and userspace learns of losses from the counters.
pub(crate) fn send_miss(net: &Net, peer: NodeId, addr: &In6, reason: u32, queued: u32) {
    if !FAMILY.has_listeners(net, mcgrp::EVENTS) {
        return;
    }
    let Ok(mut msg) = FAMILY.event(cmd::MISS_NTF) else {
        return;
    };
    let filled = msg
        .put_u64(attr::NODE_ID, peer.0, attr::PAD)
        .and_then(|()| msg.put(attr::ADDRESS, addr))
        .and_then(|()| msg.put_u32(attr::QUEUE_LEN, queued))
        .and_then(|()| msg.put_u32(attr::MISS_REASON, reason));
    if filled.is_ok() {
        let _ = FAMILY.multicast(net, mcgrp::EVENTS, msg);
    }
}

/// Sends a PREFIX event: this node's locator changed.
pub(crate) fn send_prefix(net: &Net, old: Option<In6>, new: Option<In6>, ifindex: i32) {
    if !FAMILY.has_listeners(net, mcgrp::EVENTS) {
        return;
    }
    let Ok(mut msg) = FAMILY.event(cmd::PREFIX_NTF) else {
        return;
    };
    let mut filled = msg.put_u32(attr::IFINDEX, ifindex as u32);
    if let Some(old) = old {
        filled = filled.and_then(|()| msg.put(attr::OLD_LOCATOR, &old));
    }
    if let Some(new) = new {
        filled = filled.and_then(|()| msg.put(attr::NEW_LOCATOR, &new));
    }
    if filled.is_ok() {
        let _ = FAMILY.multicast(net, mcgrp::EVENTS, msg);
    }
}
