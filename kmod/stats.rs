// SPDX-License-Identifier: GPL-2.0

//! Translation counters of a namespace, per CPU: the packet path adds to its
//! own CPU's copy; readers sum them.

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
}

const N: usize = Counter::CyclesPackets as usize + 1;

/// The counters, in the order of the netlink `stats` attribute set.
pub(crate) const ALL: [Counter; N] = [
    Counter::TranslatedOut,
    Counter::TranslatedIn,
    Counter::Misses,
    Counter::Queued,
    Counter::SentFromQueue,
    Counter::DropNoMapping,
    Counter::DropQueueFull,
    Counter::DropQueueTimeout,
    Counter::DropNoLocator,
    Counter::DropUntranslated,
    Counter::DropMalformed,
    Counter::Cycles,
    Counter::CyclesPackets,
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
