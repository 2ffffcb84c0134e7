// SPDX-License-Identifier: GPL-2.0

//! The miss queue (draft section 7.1): packets for a destination with no
//! mapping wait here instead of being dropped, until userspace installs the
//! mapping (they are sent) or they time out (they are dropped and counted).
//! Bounded three ways: destinations, packets per destination, and time.

use crate::addr::NodeId;
use kernel::net::skbuff::OwnedSkb;
use kernel::prelude::*;

/// Most destinations waiting at once.
pub(crate) const MAX_DESTS: usize = 64;
/// Most packets waiting for one destination.
pub(crate) const MAX_PER_DEST: usize = 16;

struct Waiting {
    node: NodeId,
    since_ms: i64,
    skbs: KVec<OwnedSkb>,
}

/// What became of a packet offered to the queue.
pub(crate) enum Queued {
    /// It waits; `first` if its destination was not waiting before (tell
    /// userspace), `len` packets wait for that destination now.
    Waiting { first: bool, len: usize },
    /// No room (too many destinations or packets, or no memory): dropped.
    Full,
    /// The namespace is going away: dropped.
    Closed,
}

/// The queues of one namespace; lives under a BH spinlock.
pub(crate) struct Queues {
    closing: bool,
    dests: [Option<Waiting>; MAX_DESTS],
}

impl Queues {
    pub(crate) fn new() -> Self {
        Queues {
            closing: false,
            dests: [const { None }; MAX_DESTS],
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.dests.iter().all(Option::is_none)
    }

    /// Queues `skb` for `node` (or drops it, as the result says).
    pub(crate) fn push(&mut self, node: NodeId, skb: OwnedSkb, now_ms: i64) -> Queued {
        if self.closing {
            return Queued::Closed;
        }
        if let Some(w) = self.dests.iter_mut().flatten().find(|w| w.node == node) {
            if w.skbs.len() >= MAX_PER_DEST || w.skbs.push(skb, GFP_ATOMIC).is_err() {
                return Queued::Full;
            }
            return Queued::Waiting {
                first: false,
                len: w.skbs.len(),
            };
        }
        let Some(slot) = self.dests.iter_mut().find(|d| d.is_none()) else {
            return Queued::Full;
        };
        let Ok(mut skbs) = KVec::with_capacity(MAX_PER_DEST, GFP_ATOMIC) else {
            return Queued::Full;
        };
        if skbs.push(skb, GFP_ATOMIC).is_err() {
            return Queued::Full;
        }
        *slot = Some(Waiting {
            node,
            since_ms: now_ms,
            skbs,
        });
        Queued::Waiting {
            first: true,
            len: 1,
        }
    }

    /// The packets waiting for `node`, which stops waiting.
    pub(crate) fn take(&mut self, node: NodeId) -> Option<KVec<OwnedSkb>> {
        let slot = self
            .dests
            .iter_mut()
            .find(|d| d.as_ref().is_some_and(|w| w.node == node))?;
        slot.take().map(|w| w.skbs)
    }

    /// Drops what has waited `timeout_ms` or more; returns how many
    /// packets went.
    pub(crate) fn expire(&mut self, now_ms: i64, timeout_ms: i64) -> usize {
        let mut dropped = 0;
        for slot in self.dests.iter_mut() {
            if slot
                .as_ref()
                .is_some_and(|w| now_ms - w.since_ms >= timeout_ms)
            {
                dropped += slot.take().map_or(0, |w| w.skbs.len());
            }
        }
        dropped
    }

    /// Drops everything and refuses packets from now on; returns how many
    /// packets went.
    pub(crate) fn close(&mut self) -> usize {
        self.closing = true;
        self.dests
            .iter_mut()
            .map(|slot| slot.take().map_or(0, |w| w.skbs.len()))
            .sum()
    }
}
