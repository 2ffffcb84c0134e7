// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause

//! The `lin6` generic netlink family's constants.
//!
//! Generated from kmod/lin6.yaml by scripts/genl-uapi: edit the spec, not this.

/// The family name.
pub const FAMILY_NAME: &str = "lin6";
/// The family name, NUL-terminated.
pub const FAMILY_NAME_NUL: &[u8] = b"lin6\0";
/// The family version.
pub const FAMILY_VERSION: u32 = 1;

/// Commands (replies and events share the numbering).
pub mod cmd {
    /// This namespace's node - Node ID, LIN6 prefix, locator, table size.
    pub const NODE_GET: u8 = 1;
    /// Sets the Node ID and/or LIN6 prefix and/or locator.
    pub const NODE_SET: u8 = 2;
    /// Adds or replaces a mapping Node ID -> prefix.
    pub const MAP_NEW: u8 = 3;
    /// Deletes a mapping.
    pub const MAP_DEL: u8 = 4;
    /// One mapping, or all of them.
    pub const MAP_GET: u8 = 5;
    /// Deletes every mapping.
    pub const MAP_FLUSH: u8 = 6;
    /// The namespace's translation counters.
    pub const STATS_GET: u8 = 7;
    /// A packet needs a mapping the table lacks, or a source to be checked.
    pub const MISS_NTF: u8 = 8;
    /// A locator with this node's Node ID appeared or went - the node moved.
    pub const PREFIX_NTF: u8 = 9;
}

/// Attributes of the `lin6` set.
pub mod attr {
    /// A Node ID (the low 64 bits of a LIN6 address), as a number.
    pub const NODE_ID: u16 = 1;
    /// The LIN6 prefix (/64) that applications and DNS see.
    pub const LIN6_PREFIX: u16 = 2;
    /// This node's current locator (the routable address on the wire).
    pub const LOCATOR: u16 = 3;
    /// The network prefix (/64) of a mapping.
    pub const PREFIX: u16 = 4;
    /// Seconds a mapping lives (0 = static); in replies, seconds left.
    pub const LIFETIME: u16 = 5;
    /// flags (u32)
    pub const FLAGS: u16 = 6;
    /// Most mappings the table holds (the module's max_mappings).
    pub const CAPACITY: u16 = 7;
    /// Mappings held now.
    pub const COUNT: u16 = 8;
    /// stats (nest)
    pub const STATS: u16 = 9;
    /// ifindex (u32)
    pub const IFINDEX: u16 = 10;
    /// old-locator (binary)
    pub const OLD_LOCATOR: u16 = 11;
    /// new-locator (binary)
    pub const NEW_LOCATOR: u16 = 12;
    /// In a miss event, the address that had no mapping.
    pub const ADDRESS: u16 = 13;
    /// pad (pad)
    pub const PAD: u16 = 14;
    /// Packets waiting for this mapping (miss events).
    pub const QUEUE_LEN: u16 = 15;
    /// miss-reason (u32)
    pub const MISS_REASON: u16 = 16;
    /// The highest attribute type.
    pub const MAX: u16 = 16;
}

/// Attributes of the `stats` set.
pub mod stats {
    /// translated-out (u64)
    pub const TRANSLATED_OUT: u16 = 1;
    /// translated-in (u64)
    pub const TRANSLATED_IN: u16 = 2;
    /// misses (u64)
    pub const MISSES: u16 = 3;
    /// queued (u64)
    pub const QUEUED: u16 = 4;
    /// sent-from-queue (u64)
    pub const SENT_FROM_QUEUE: u16 = 5;
    /// drop-no-mapping (u64)
    pub const DROP_NO_MAPPING: u16 = 6;
    /// drop-queue-full (u64)
    pub const DROP_QUEUE_FULL: u16 = 7;
    /// drop-queue-timeout (u64)
    pub const DROP_QUEUE_TIMEOUT: u16 = 8;
    /// drop-no-locator (u64)
    pub const DROP_NO_LOCATOR: u16 = 9;
    /// drop-untranslated (u64)
    pub const DROP_UNTRANSLATED: u16 = 10;
    /// drop-malformed (u64)
    pub const DROP_MALFORMED: u16 = 11;
    /// Cycles spent on translated packets, with measure_cycles=1.
    pub const CYCLES: u16 = 12;
    /// Packets the cycles were counted over.
    pub const CYCLES_PACKETS: u16 = 13;
    /// pad (pad)
    pub const PAD: u16 = 14;
    /// Flows to pool destinations pinned to a prefix (new flows).
    pub const FLOWS_PINNED: u16 = 15;
    /// Live pinned flows that gave way to a new one in a full window.
    pub const FLOW_EVICTIONS: u16 = 16;
    /// Translated packets with no route to their new destination.
    pub const DROP_NO_ROUTE: u16 = 17;
    /// Packets from the miss queue that the output path refused when sent (a netfilter drop, no route, no memory).
    pub const DROP_QUEUE_SEND: u16 = 18;
    /// The highest attribute type.
    pub const MAX: u16 = 18;
}

/// The `map-flags` flags.
pub mod map_flags {
    /// The mapping never expires (given to map-new instead of a lifetime).
    pub const STATIC: u32 = 1;
    /// The Node ID is a load-sharing pool's: each flow keeps the prefix in effect at its first packet; new flows take the current one.
    pub const POOL: u32 = 2;
}

/// The `miss-reason` enum.
pub mod miss_reason {
    /// No mapping for a destination; packets wait.
    pub const NO_MAPPING: u32 = 0;
    /// A packet came from a locator with no mapping.
    pub const UNKNOWN_SOURCE: u32 = 1;
    /// A packet came from a locator other than the mapped one.
    pub const SOURCE_MOVED: u32 = 2;
}

/// Multicast groups, by index.
pub mod mcgrp {
    /// Group `events`.
    pub const EVENTS: u32 = 0;
    /// Name of group `events`.
    pub const EVENTS_NAME: &str = "events";
}
