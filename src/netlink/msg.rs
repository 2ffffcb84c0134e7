//! The family's messages as Rust values: decoded from attribute bytes and
//! encoded back to them. Pure functions; the socket is in `client.rs`.
//!
//! Decoding is lenient in the way netlink expects of userspace: unknown
//! attribute types (including `pad`) are skipped, so a newer module may add
//! attributes, while a known attribute with the wrong length is an error.
//! Encoding produces what the kernel produces (replies and events) or
//! accepts (requests), so the pairs round-trip.

use std::fmt;
use std::net::Ipv6Addr;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize, Serializer};

use super::codec::{AttrWriter, Attrs, MalformedError};
use super::uapi::{attr, cmd, map_flags, miss_reason, stats};
use crate::addr::{NodeId, Prefix64};

fn missing(what: &str) -> MalformedError {
    MalformedError(format!("reply lacks the {what} attribute"))
}

fn addr16(a: &super::codec::Attr<'_>) -> Result<Ipv6Addr, MalformedError> {
    a.array::<16>().map(Ipv6Addr::from)
}

fn put_addr(w: &mut AttrWriter, ty: u16, a: Ipv6Addr) {
    w.put(ty, &a.octets());
}

fn put_node_id(w: &mut AttrWriter, n: NodeId) {
    w.put_u64(attr::NODE_ID, n.to_u64(), attr::PAD);
}

/// This namespace's node, as `node-get` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Unset until `node-set` gives one.
    pub node_id: Option<NodeId>,
    pub lin6_prefix: Option<Prefix64>,
    /// The full locator address (current /64 + Node ID), if known.
    pub locator: Option<Ipv6Addr>,
    /// Most mappings the table holds.
    pub capacity: u32,
    /// Mappings held now.
    pub count: u32,
}

impl Node {
    pub fn parse(attrs: &[u8]) -> Result<Node, MalformedError> {
        let mut n = Node {
            node_id: None,
            lin6_prefix: None,
            locator: None,
            capacity: 0,
            count: 0,
        };
        for a in Attrs::new(attrs) {
            let a = a?;
            match a.ty {
                attr::NODE_ID => n.node_id = Some(NodeId::from_u64(a.u64()?)),
                attr::LIN6_PREFIX => n.lin6_prefix = Some(Prefix64::of(addr16(&a)?)),
                attr::LOCATOR => n.locator = Some(addr16(&a)?),
                attr::CAPACITY => n.capacity = a.u32()?,
                attr::COUNT => n.count = a.u32()?,
                _ => {}
            }
        }
        Ok(n)
    }

    /// The attributes of a `node-get` reply (what the kernel sends).
    pub fn to_attrs(&self) -> Vec<u8> {
        let mut w = AttrWriter::genl();
        if let Some(id) = self.node_id {
            put_node_id(&mut w, id);
        }
        if let Some(l) = self.locator {
            put_addr(&mut w, attr::LOCATOR, l);
        }
        if let Some(p) = self.lin6_prefix {
            put_addr(&mut w, attr::LIN6_PREFIX, p.network());
        }
        w.put_u32(attr::CAPACITY, self.capacity);
        w.put_u32(attr::COUNT, self.count);
        w.into_bytes()
    }

    /// The LIN6 address (LIN6 prefix + Node ID), when both are known.
    pub fn lin6_address(&self) -> Option<Ipv6Addr> {
        Some(self.lin6_prefix?.with_node(self.node_id?))
    }
}

/// A `node-set` request: each field that is `Some` is changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSet {
    pub node_id: Option<NodeId>,
    pub lin6_prefix: Option<Prefix64>,
    /// The node's locator: a full address (its interface identifier must
    /// be the Node ID) or the /64 alone with a zero interface identifier.
    pub locator: Option<Ipv6Addr>,
}

impl NodeSet {
    pub fn is_empty(&self) -> bool {
        self.node_id.is_none() && self.lin6_prefix.is_none() && self.locator.is_none()
    }

    pub fn to_attrs(&self) -> Vec<u8> {
        let mut w = AttrWriter::genl();
        // node-id first: its payload then falls on an 8-byte boundary and
        // needs no pad attribute (which the module's policy refuses).
        if let Some(id) = self.node_id {
            put_node_id(&mut w, id);
        }
        if let Some(p) = self.lin6_prefix {
            put_addr(&mut w, attr::LIN6_PREFIX, p.network());
        }
        if let Some(l) = self.locator {
            put_addr(&mut w, attr::LOCATOR, l);
        }
        w.into_bytes()
    }

    pub fn parse(attrs: &[u8]) -> Result<NodeSet, MalformedError> {
        let mut s = NodeSet::default();
        for a in Attrs::new(attrs) {
            let a = a?;
            match a.ty {
                attr::NODE_ID => s.node_id = Some(NodeId::from_u64(a.u64()?)),
                attr::LIN6_PREFIX => s.lin6_prefix = Some(Prefix64::of(addr16(&a)?)),
                attr::LOCATOR => s.locator = Some(addr16(&a)?),
                _ => {}
            }
        }
        Ok(s)
    }
}

/// How long a new mapping lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Until deleted or flushed.
    Static,
    /// This many seconds, then it expires.
    Seconds(NonZeroU32),
}

/// A `map-new` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapNew {
    pub node_id: NodeId,
    pub prefix: Prefix64,
    pub lifetime: Lifetime,
    /// The Node ID is a load-sharing pool's: each flow keeps the prefix in
    /// effect at its first packet, and only new flows take this one.
    pub pool: bool,
}

impl MapNew {
    pub fn to_attrs(&self) -> Vec<u8> {
        let mut w = AttrWriter::genl();
        put_node_id(&mut w, self.node_id);
        put_addr(&mut w, attr::PREFIX, self.prefix.network());
        let mut flags = if self.pool { map_flags::POOL } else { 0 };
        match self.lifetime {
            Lifetime::Static => flags |= map_flags::STATIC,
            Lifetime::Seconds(s) => {
                w.put_u32(attr::LIFETIME, s.get());
            }
        };
        if flags != 0 {
            w.put_u32(attr::FLAGS, flags);
        }
        w.into_bytes()
    }

    pub fn parse(attrs: &[u8]) -> Result<MapNew, MalformedError> {
        let m = Mapping::parse(attrs)?;
        Ok(MapNew {
            node_id: m.node_id,
            prefix: m.prefix,
            lifetime: match NonZeroU32::new(m.lifetime) {
                Some(s) if !m.is_static => Lifetime::Seconds(s),
                _ => Lifetime::Static,
            },
            pool: m.pool,
        })
    }
}

/// The attributes that name one mapping (`map-del`, `map-get`).
pub fn node_id_attrs(node: NodeId) -> Vec<u8> {
    let mut w = AttrWriter::genl();
    put_node_id(&mut w, node);
    w.into_bytes()
}

/// One mapping of the table, as `map-get` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub node_id: NodeId,
    pub prefix: Prefix64,
    /// Seconds left; 0 for a static mapping.
    pub lifetime: u32,
    #[serde(rename = "static")]
    pub is_static: bool,
    /// A load-sharing pool's mapping: flows keep their first prefix.
    pub pool: bool,
}

impl Mapping {
    /// Where packets to this node go: the prefix followed by the Node ID.
    pub fn locator(&self) -> Ipv6Addr {
        self.prefix.with_node(self.node_id)
    }

    pub fn parse(attrs: &[u8]) -> Result<Mapping, MalformedError> {
        let (mut id, mut prefix, mut lifetime, mut flags) = (None, None, 0, 0);
        for a in Attrs::new(attrs) {
            let a = a?;
            match a.ty {
                attr::NODE_ID => id = Some(NodeId::from_u64(a.u64()?)),
                attr::PREFIX => prefix = Some(Prefix64::of(addr16(&a)?)),
                attr::LIFETIME => lifetime = a.u32()?,
                attr::FLAGS => flags = a.u32()?,
                _ => {}
            }
        }
        Ok(Mapping {
            node_id: id.ok_or_else(|| missing("node-id"))?,
            prefix: prefix.ok_or_else(|| missing("prefix"))?,
            lifetime,
            is_static: flags & map_flags::STATIC != 0,
            pool: flags & map_flags::POOL != 0,
        })
    }

    /// The attributes of a `map-get` reply or dump entry.
    pub fn to_attrs(&self) -> Vec<u8> {
        let mut w = AttrWriter::genl();
        put_node_id(&mut w, self.node_id);
        put_addr(&mut w, attr::PREFIX, self.prefix.network());
        w.put_u32(attr::LIFETIME, self.lifetime);
        let mut flags = 0;
        if self.is_static {
            flags |= map_flags::STATIC;
        }
        if self.pool {
            flags |= map_flags::POOL;
        }
        w.put_u32(attr::FLAGS, flags);
        w.into_bytes()
    }
}

macro_rules! stats_struct {
    ($($field:ident = $ty:ident, $name:literal;)*) => {
        /// The namespace's translation counters (`stats-get`).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Stats {
            $(pub $field: u64,)*
        }

        impl Stats {
            /// Every counter with its name in the spec, in the spec's order.
            pub fn counters(&self) -> Vec<(&'static str, u64)> {
                vec![$(($name, self.$field),)*]
            }

            fn set(&mut self, ty: u16, v: u64) {
                match ty {
                    $(stats::$ty => self.$field = v,)*
                    _ => {}
                }
            }

            fn put(&self, w: &mut AttrWriter) {
                $(w.put_u64(stats::$ty, self.$field, stats::PAD);)*
            }
        }
    };
}

stats_struct! {
    translated_out = TRANSLATED_OUT, "translated-out";
    translated_in = TRANSLATED_IN, "translated-in";
    misses = MISSES, "misses";
    queued = QUEUED, "queued";
    sent_from_queue = SENT_FROM_QUEUE, "sent-from-queue";
    drop_no_mapping = DROP_NO_MAPPING, "drop-no-mapping";
    drop_queue_full = DROP_QUEUE_FULL, "drop-queue-full";
    drop_queue_timeout = DROP_QUEUE_TIMEOUT, "drop-queue-timeout";
    drop_no_locator = DROP_NO_LOCATOR, "drop-no-locator";
    drop_untranslated = DROP_UNTRANSLATED, "drop-untranslated";
    drop_malformed = DROP_MALFORMED, "drop-malformed";
    cycles = CYCLES, "cycles";
    cycles_packets = CYCLES_PACKETS, "cycles-packets";
    flows_pinned = FLOWS_PINNED, "flows-pinned";
    flow_evictions = FLOW_EVICTIONS, "flow-evictions";
    drop_no_route = DROP_NO_ROUTE, "drop-no-route";
    drop_queue_send = DROP_QUEUE_SEND, "drop-queue-send";
}

impl Stats {
    /// Decodes a `stats-get` reply (the `stats` nest at the top level).
    pub fn parse(attrs: &[u8]) -> Result<Stats, MalformedError> {
        let mut s = Stats::default();
        let mut seen = false;
        for a in Attrs::new(attrs) {
            let a = a?;
            if a.ty != attr::STATS {
                continue;
            }
            seen = true;
            for c in a.nested() {
                let c = c?;
                if c.ty == stats::PAD {
                    continue;
                }
                // A counter from a newer module that we do not know is
                // skipped, but a known one must be a u64.
                if c.ty <= stats::MAX {
                    s.set(c.ty, c.u64()?);
                }
            }
        }
        if !seen {
            return Err(missing("stats"));
        }
        Ok(s)
    }

    pub fn to_attrs(&self) -> Vec<u8> {
        let mut w = AttrWriter::genl();
        w.nest(attr::STATS, |n| self.put(n));
        w.into_bytes()
    }

    /// Mean cycles per translated packet, when the module counted them
    /// (`measure_cycles=1`).
    pub fn cycles_per_packet(&self) -> Option<u64> {
        self.cycles.checked_div(self.cycles_packets)
    }
}

/// Why the kernel raised a miss event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissReason {
    /// No mapping for a destination; packets wait in the queue.
    NoMapping,
    /// A packet came from a locator with no mapping.
    UnknownSource,
    /// A packet came from a locator other than the mapped one.
    SourceMoved,
    /// A reason this library does not know (a newer module).
    Other(u32),
}

impl MissReason {
    pub fn from_u32(v: u32) -> MissReason {
        match v {
            miss_reason::NO_MAPPING => MissReason::NoMapping,
            miss_reason::UNKNOWN_SOURCE => MissReason::UnknownSource,
            miss_reason::SOURCE_MOVED => MissReason::SourceMoved,
            v => MissReason::Other(v),
        }
    }

    pub fn to_u32(self) -> u32 {
        match self {
            MissReason::NoMapping => miss_reason::NO_MAPPING,
            MissReason::UnknownSource => miss_reason::UNKNOWN_SOURCE,
            MissReason::SourceMoved => miss_reason::SOURCE_MOVED,
            MissReason::Other(v) => v,
        }
    }
}

impl fmt::Display for MissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissReason::NoMapping => f.write_str("no-mapping"),
            MissReason::UnknownSource => f.write_str("unknown-source"),
            MissReason::SourceMoved => f.write_str("source-moved"),
            MissReason::Other(v) => write!(f, "reason-{v}"),
        }
    }
}

impl Serialize for MissReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An event from the `events` multicast group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// A packet needs a mapping the table lacks, or a source to be checked.
    Miss {
        node_id: NodeId,
        /// The address that had no mapping.
        address: Ipv6Addr,
        /// Packets waiting for this mapping.
        queue_len: u32,
        reason: MissReason,
    },
    /// A locator with this node's Node ID appeared or went: the node moved.
    Prefix {
        old_locator: Option<Ipv6Addr>,
        new_locator: Option<Ipv6Addr>,
        ifindex: Option<u32>,
    },
}

impl Event {
    /// Decodes an event; `Ok(None)` for a command that is not an event this
    /// library knows (a newer module may add some).
    pub fn parse(command: u8, attrs: &[u8]) -> Result<Option<Event>, MalformedError> {
        match command {
            cmd::MISS_NTF => {
                let (mut id, mut address, mut queue_len, mut reason) = (None, None, 0, 0);
                for a in Attrs::new(attrs) {
                    let a = a?;
                    match a.ty {
                        attr::NODE_ID => id = Some(NodeId::from_u64(a.u64()?)),
                        attr::ADDRESS => address = Some(addr16(&a)?),
                        attr::QUEUE_LEN => queue_len = a.u32()?,
                        attr::MISS_REASON => reason = a.u32()?,
                        _ => {}
                    }
                }
                Ok(Some(Event::Miss {
                    node_id: id.ok_or_else(|| missing("node-id"))?,
                    address: address.ok_or_else(|| missing("address"))?,
                    queue_len,
                    reason: MissReason::from_u32(reason),
                }))
            }
            cmd::PREFIX_NTF => {
                let (mut old, mut new, mut ifindex) = (None, None, None);
                for a in Attrs::new(attrs) {
                    let a = a?;
                    match a.ty {
                        attr::OLD_LOCATOR => old = Some(addr16(&a)?),
                        attr::NEW_LOCATOR => new = Some(addr16(&a)?),
                        attr::IFINDEX => ifindex = Some(a.u32()?),
                        _ => {}
                    }
                }
                Ok(Some(Event::Prefix {
                    old_locator: old,
                    new_locator: new,
                    ifindex,
                }))
            }
            _ => Ok(None),
        }
    }

    /// The command and attributes the kernel sends for this event.
    pub fn to_message(&self) -> (u8, Vec<u8>) {
        let mut w = AttrWriter::genl();
        match *self {
            Event::Miss {
                node_id,
                address,
                queue_len,
                reason,
            } => {
                put_node_id(&mut w, node_id);
                put_addr(&mut w, attr::ADDRESS, address);
                w.put_u32(attr::QUEUE_LEN, queue_len);
                w.put_u32(attr::MISS_REASON, reason.to_u32());
                (cmd::MISS_NTF, w.into_bytes())
            }
            Event::Prefix {
                old_locator,
                new_locator,
                ifindex,
            } => {
                if let Some(a) = old_locator {
                    put_addr(&mut w, attr::OLD_LOCATOR, a);
                }
                if let Some(a) = new_locator {
                    put_addr(&mut w, attr::NEW_LOCATOR, a);
                }
                if let Some(i) = ifindex {
                    w.put_u32(attr::IFINDEX, i);
                }
                (cmd::PREFIX_NTF, w.into_bytes())
            }
        }
    }
}

impl fmt::Display for Event {
    /// One line, `ip monitor` style; the format is documented in
    /// docs/lin6ctl.md and relied on by the QEMU tests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map_or_else(|| "none".into(), T::to_string)
        }
        match self {
            Event::Miss {
                node_id,
                address,
                queue_len,
                reason,
            } => write!(
                f,
                "miss node-id {node_id} address {address} reason {reason} queued {queue_len}"
            ),
            Event::Prefix {
                old_locator,
                new_locator,
                ifindex,
            } => write!(
                f,
                "prefix old-locator {} new-locator {} ifindex {}",
                opt(old_locator),
                opt(new_locator),
                opt(ifindex)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nid(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[test]
    fn node_id_is_the_u64_of_the_eui64_bytes() {
        let b = node_id_attrs(nid("02:01:4a:00:00:00:00:01"));
        // nla_len 12, nla_type 1, then the number in host order.
        assert_eq!(&b[..4], &[12, 0, 1, 0][..]);
        assert_eq!(b[4..12], 0x0201_4a00_0000_0001u64.to_ne_bytes());
    }

    #[test]
    fn addresses_are_16_bytes_in_network_order() {
        let m = MapNew {
            node_id: nid("02:01:4a:00:00:00:00:01"),
            prefix: "2001:db8:a::/64".parse().unwrap(),
            lifetime: Lifetime::Static,
            pool: false,
        };
        let b = m.to_attrs();
        // node-id (12) then prefix: header, then 20 01 0d b8 00 0a 00 00 and zeros.
        assert_eq!(&b[12..16], &[20, 0, 4, 0][..]);
        assert_eq!(
            &b[16..32],
            &[
                0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ][..]
        );
        assert_eq!(&b[32..36], &[8, 0, 6, 0][..]);
        assert_eq!(b[36..40], map_flags::STATIC.to_ne_bytes());
        assert_eq!(b.len(), 40);
        assert_eq!(MapNew::parse(&b).unwrap(), m);
    }

    /// The same request encoded by the kernel's ynl library
    /// (`_add_attr` with kmod/lin6.yaml) on a little-endian host.
    #[cfg(target_endian = "little")]
    #[test]
    fn map_new_bytes_match_what_ynl_encodes() {
        let m = MapNew {
            node_id: nid("02:01:4a:00:00:00:00:01"),
            prefix: "2001:db8:a::/64".parse().unwrap(),
            lifetime: Lifetime::Static,
            pool: false,
        };
        let hex: String = m.to_attrs().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "0c00010001000000004a01021400040020010db8000a000000000000000000000800060001000000"
        );
    }

    #[test]
    fn pool_is_a_flag_beside_static_or_a_lifetime() {
        let pool_for = |lifetime| MapNew {
            node_id: nid("02:01:4a:00:00:00:00:01"),
            prefix: "2001:db8:a::/64".parse().unwrap(),
            lifetime,
            pool: true,
        };
        let flags = |m: &MapNew| {
            let b = m.to_attrs();
            Attrs::new(&b)
                .map(|a| a.unwrap())
                .find(|a| a.ty == attr::FLAGS)
                .map(|a| a.u32().unwrap())
        };
        let m = pool_for(Lifetime::Static);
        assert_eq!(flags(&m), Some(map_flags::STATIC | map_flags::POOL));
        assert_eq!(MapNew::parse(&m.to_attrs()).unwrap(), m);
        let m = pool_for(Lifetime::Seconds(NonZeroU32::new(30).unwrap()));
        assert_eq!(flags(&m), Some(map_flags::POOL));
        assert_eq!(MapNew::parse(&m.to_attrs()).unwrap(), m);
        // Without the pool flag a mapping with a lifetime sends no flags,
        // as before the flag existed.
        let m = MapNew { pool: false, ..m };
        assert_eq!(flags(&m), None);
        assert_eq!(MapNew::parse(&m.to_attrs()).unwrap(), m);
    }

    #[test]
    fn pad_and_unknown_attributes_are_skipped() {
        let mut w = AttrWriter::at(0); // forces a pad before the u64
        w.put_u64(attr::NODE_ID, 7, attr::PAD)
            .put(999, &[1, 2, 3])
            .put(
                attr::PREFIX,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            );
        let b = w.into_bytes();
        let tys: Vec<u16> = Attrs::new(&b).map(|a| a.unwrap().ty).collect();
        assert_eq!(tys[0], attr::PAD);
        let m = Mapping::parse(&b).unwrap();
        assert_eq!(m.node_id, NodeId::from_u64(7));
        assert_eq!(m.prefix.to_string(), "2001:db8::/64");
        assert!(!m.is_static);
    }

    #[test]
    fn wrong_length_of_a_known_attribute_is_an_error() {
        let mut w = AttrWriter::genl();
        w.put(attr::NODE_ID, &[1, 2, 3, 4]);
        assert!(Mapping::parse(&w.into_bytes()).is_err());
        let mut w = AttrWriter::genl();
        w.put(attr::LOCATOR, &[0; 15]);
        assert!(Node::parse(&w.into_bytes()).is_err());
    }

    #[test]
    fn stats_round_trip_with_pads_in_the_nest() {
        let s = Stats {
            translated_out: 1,
            translated_in: 2,
            misses: 3,
            drop_malformed: 11,
            cycles: 1200,
            cycles_packets: 100,
            ..Stats::default()
        };
        let b = s.to_attrs();
        let nest = Attrs::new(&b).next().unwrap().unwrap();
        assert!(nest.nested().any(|a| a.unwrap().ty == stats::PAD));
        assert_eq!(Stats::parse(&b).unwrap(), s);
        assert_eq!(s.cycles_per_packet(), Some(12));
        assert_eq!(Stats::default().cycles_per_packet(), None);
        assert_eq!(s.counters()[0], ("translated-out", 1));
        assert_eq!(s.counters().len(), usize::from(stats::MAX) - 1);
        assert!(Stats::parse(&[]).is_err());
    }

    #[test]
    fn events_round_trip_and_print_one_line() {
        let miss = Event::Miss {
            node_id: nid("02:01:4a:00:00:00:00:02"),
            address: "3ffe:501:1830:1999:201:4a00:0:2".parse().unwrap(),
            queue_len: 3,
            reason: MissReason::NoMapping,
        };
        let (c, b) = miss.to_message();
        assert_eq!(Event::parse(c, &b).unwrap(), Some(miss));
        assert_eq!(
            miss.to_string(),
            "miss node-id 02:01:4a:00:00:00:00:02 address 3ffe:501:1830:1999:201:4a00:0:2 reason no-mapping queued 3"
        );
        let moved = Event::Prefix {
            old_locator: None,
            new_locator: Some("2001:db8:b::201:4a00:0:1".parse().unwrap()),
            ifindex: Some(2),
        };
        let (c, b) = moved.to_message();
        assert_eq!(Event::parse(c, &b).unwrap(), Some(moved));
        assert_eq!(
            moved.to_string(),
            "prefix old-locator none new-locator 2001:db8:b:0:201:4a00:0:1 ifindex 2"
        );
        assert_eq!(Event::parse(cmd::NODE_GET, &b).unwrap(), None);
    }

    #[test]
    fn json_forms() {
        let m = Mapping {
            node_id: nid("02:01:4a:00:00:00:00:01"),
            prefix: "2001:db8:a::/64".parse().unwrap(),
            lifetime: 25,
            is_static: false,
            pool: true,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"node_id":"02:01:4a:00:00:00:00:01","prefix":"2001:db8:a::/64","lifetime":25,"static":false,"pool":true}"#
        );
        let e = Event::Miss {
            node_id: m.node_id,
            address: "3ffe:501:1830:1999:201:4a00:0:1".parse().unwrap(),
            queue_len: 1,
            reason: MissReason::Other(7),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"miss","node_id":"02:01:4a:00:00:00:00:01","address":"3ffe:501:1830:1999:201:4a00:0:1","queue_len":1,"reason":"reason-7"}"#
        );
    }
}
