// SPDX-License-Identifier: GPL-2.0

//! Translation counters of a namespace, per CPU: the packet path adds to its
//! own CPU's copy; readers sum them.

use crate::uapi::stats;
use kernel::alloc::AllocError;
use kernel::percpu::PerCpuCounters;

/// A counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    TranslatedOut,
    TranslatedIn,
    Misses,
    Queued,
    SentFromQueue,
    DropNoMapping,
    DropQueueFull,
    DropQueueTimeout,
    DropNoLocator,
    DropUntranslated,
    DropMalformed,
    Cycles,
    CyclesPackets,
    FlowsPinned,
    FlowEvictions,
    DropNoRoute,
    DropQueueSend,
}

const N: usize = Counter::DropQueueSend as usize + 1;

/// Each counter with its attribute in the netlink `stats` set (which
/// numbers them past its `pad`, so the numbers are not the positions).
pub(crate) const ALL: [(Counter, u16); N] = [
    (Counter::TranslatedOut, stats::TRANSLATED_OUT),
    (Counter::TranslatedIn, stats::TRANSLATED_IN),
    (Counter::Misses, stats::MISSES),
    (Counter::Queued, stats::QUEUED),
    (Counter::SentFromQueue, stats::SENT_FROM_QUEUE),
    (Counter::DropNoMapping, stats::DROP_NO_MAPPING),
    (Counter::DropQueueFull, stats::DROP_QUEUE_FULL),
    (Counter::DropQueueTimeout, stats::DROP_QUEUE_TIMEOUT),
    (Counter::DropNoLocator, stats::DROP_NO_LOCATOR),
    (Counter::DropUntranslated, stats::DROP_UNTRANSLATED),
    (Counter::DropMalformed, stats::DROP_MALFORMED),
    (Counter::Cycles, stats::CYCLES),
    (Counter::CyclesPackets, stats::CYCLES_PACKETS),
    (Counter::FlowsPinned, stats::FLOWS_PINNED),
    (Counter::FlowEvictions, stats::FLOW_EVICTIONS),
    (Counter::DropNoRoute, stats::DROP_NO_ROUTE),
    (Counter::DropQueueSend, stats::DROP_QUEUE_SEND),
];

/// The counters of one namespace.
pub(crate) struct Stats(PerCpuCounters<N>);

impl Stats {
    pub(crate) fn new() -> Result<Self, AllocError> {
        Ok(Stats(PerCpuCounters::new()?))
    }

    pub(crate) fn add(&self, c: Counter, n: u64) {
        self.0.add(c as usize, n);
    }

    pub(crate) fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    pub(crate) fn get(&self, c: Counter) -> u64 {
        self.0.sum(c as usize)
    }
}
