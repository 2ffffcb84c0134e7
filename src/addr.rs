//! The LIN6 address model: Node IDs, /64 prefixes, LIN6 addresses and locators.
//!
//! A 128-bit IPv6 address is split in two halves. The low 64 bits are the
//! **Node ID** (the draft's LIN6 ID), an EUI-64 that never changes. The high 64
//! bits are either the **LIN6 prefix** (a fixed, configurable /64; the result is
//! the *LIN6 address* that applications and DNS see and that never appears on
//! the wire) or the node's current routable /64 (the result is the *locator*,
//! which is what travels on the wire).
//!
//! # Accepted text forms
//!
//! [`NodeId`] parses (and can format) two forms:
//!
//! * **EUI-64 bytes**: eight groups of exactly two hex digits separated by `:`
//!   or `-` (one separator throughout), e.g. `02:01:4a:00:00:00:00:01` or
//!   `02-01-4a-00-00-00-00-01`. This is what `Display` prints.
//! * **Interface ID**: the low 64 bits written as in an IPv6 address, four
//!   groups of one to four hex digits separated by `:`, with at most one `::`
//!   standing for one or more zero groups, e.g. `0201:4a00:0000:0001` or
//!   `201:4a00::1`. [`NodeId::iid`] prints this form as RFC 5952 prints
//!   addresses (`201:4a00:0:1`: a single zero group is not compressed).
//!
//! Hex digits may be upper or lower case. Nothing else is accepted: no
//! surrounding whitespace, no `0x`, no bare 16-digit strings.
//!
//! [`Prefix64`] parses `3ffe:501:1830:1999::/64` (an IPv6 address whose low 64
//! bits are zero, optionally followed by `/64`). [`Oui`] parses `00:01:4a` or
//! `00-01-4a`.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a piece of address text or a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddrError {
    #[error("invalid node ID {input:?}: {reason}")]
    NodeId { input: String, reason: &'static str },
    #[error("invalid /64 prefix {input:?}: {reason}")]
    Prefix { input: String, reason: &'static str },
    #[error("invalid OUI {input:?}: {reason}")]
    Oui { input: String, reason: &'static str },
    #[error("EUI-64 extension {0:#x} does not fit in 40 bits")]
    ExtensionTooLarge(u64),
}

/// Echoing unbounded input back in an error would let a hostile config or
/// request blow up logs; 64 characters is enough to recognise the mistake.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses `n` groups of exactly two hex digits joined by one separator, either
/// `:` or `-` throughout. Returns `None` on any deviation.
fn parse_byte_groups<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 3 - 1 {
        return None;
    }
    let sep = *b.get(2)?;
    if sep != b':' && sep != b'-' {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        let at = i * 3;
        if i > 0 && b[at - 1] != sep {
            return None;
        }
        *byte = hex_val(b[at])? << 4 | hex_val(b[at + 1])?;
    }
    Some(out)
}

/// Parses the low 64 bits of an IPv6 address: four 16-bit hex groups with at
/// most one `::`.
fn parse_iid(s: &str) -> Result<u64, &'static str> {
    fn groups(part: &str) -> Result<Vec<u16>, &'static str> {
        if part.is_empty() {
            return Ok(Vec::new());
        }
        part.split(':')
            .map(|g| {
                if g.is_empty() || g.len() > 4 {
                    return Err("each group needs one to four hex digits");
                }
                g.bytes().try_fold(0u16, |acc, c| {
                    hex_val(c)
                        .map(|v| acc << 4 | u16::from(v))
                        .ok_or("character outside 0-9a-fA-F")
                })
            })
            .collect()
    }
    let (head, tail, compressed) = match s.split_once("::") {
        Some((h, t)) => {
            if t.contains("::") {
                return Err("more than one '::'");
            }
            (groups(h)?, groups(t)?, true)
        }
        None => (groups(s)?, Vec::new(), false),
    };
    let n = head.len() + tail.len();
    if compressed && n > 3 {
        return Err("'::' must stand for at least one zero group");
    }
    if !compressed && n != 4 {
        return Err("expected four 16-bit groups");
    }
    let mut all = [0u16; 4];
    all[..head.len()].copy_from_slice(&head);
    all[4 - tail.len()..].copy_from_slice(&tail);
    Ok(all.iter().fold(0u64, |acc, &g| acc << 16 | u64::from(g)))
}

/// A 24-bit IEEE OUI that marks LIN6 Node IDs. Stationary nodes carry it as is;
/// mobile nodes carry it with the universal/local bit inverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Oui([u8; 3]);

impl Oui {
    /// `00:01:4a`, the OUI the LIN6 draft uses.
    pub const LIN6: Oui = Oui([0x00, 0x01, 0x4a]);

    /// The universal/local bit of the first octet (IEEE 802).
    pub const UL_BIT: u8 = 0x02;
    /// The individual/group bit of the first octet (IEEE 802).
    pub const IG_BIT: u8 = 0x01;

    /// Builds an OUI; refuses one with the group bit set, which is a multicast
    /// prefix and can never start a node's identifier.
    pub fn new(bytes: [u8; 3]) -> Result<Oui, AddrError> {
        if bytes[0] & Self::IG_BIT != 0 {
            return Err(AddrError::Oui {
                input: format!("{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2]),
                reason: "group (multicast) bit is set",
            });
        }
        Ok(Oui(bytes))
    }

    pub fn octets(&self) -> [u8; 3] {
        self.0
    }

    /// The first three octets of a stationary Node ID: the OUI itself.
    pub fn stationary(&self) -> [u8; 3] {
        self.0
    }

    /// The first three octets of a mobile Node ID: the OUI with the U/L bit
    /// inverted (`02:01:4a` for the default).
    pub fn mobile(&self) -> [u8; 3] {
        [self.0[0] ^ Self::UL_BIT, self.0[1], self.0[2]]
    }
}

impl Default for Oui {
    fn default() -> Self {
        Oui::LIN6
    }
}

impl fmt::Display for Oui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}:{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

impl FromStr for Oui {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = parse_byte_groups::<3>(s).ok_or_else(|| AddrError::Oui {
            input: clip(s),
            reason: "expected three two-digit hex groups like 00:01:4a",
        })?;
        Oui::new(bytes)
    }
}

impl TryFrom<String> for Oui {
    type Error = AddrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Oui> for String {
    fn from(o: Oui) -> String {
        o.to_string()
    }
}

/// What a Node ID says about its node, relative to a configured OUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// Starts with the OUI with the U/L bit inverted: its locator changes and
    /// it needs a mapping.
    Mobile,
    /// Starts with the OUI itself: a LIN6 node that does not move and whose
    /// addresses are never translated.
    Stationary,
    /// Any other identifier: not a LIN6 node under this configuration.
    Other,
}

/// A 64-bit LIN6 Node ID (the draft's LIN6 ID), in EUI-64 form.
///
/// Ordered and hashed as the big-endian integer, i.e. as the bytes read on the
/// wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(u64);

impl NodeId {
    pub const fn from_u64(v: u64) -> NodeId {
        NodeId(v)
    }

    pub const fn to_u64(self) -> u64 {
        self.0
    }

    pub const fn from_bytes(b: [u8; 8]) -> NodeId {
        NodeId(u64::from_be_bytes(b))
    }

    /// Network byte order, as on the wire and in the low half of an address.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Builds a Node ID from its first three octets and a 40-bit extension.
    pub fn from_parts(prefix: [u8; 3], extension: u64) -> Result<NodeId, AddrError> {
        if extension >> 40 != 0 {
            return Err(AddrError::ExtensionTooLarge(extension));
        }
        let top =
            u64::from(prefix[0]) << 56 | u64::from(prefix[1]) << 48 | u64::from(prefix[2]) << 40;
        Ok(NodeId(top | extension))
    }

    /// A mobile Node ID under `oui` (U/L bit inverted) with the given 40-bit extension.
    pub fn mobile(oui: Oui, extension: u64) -> Result<NodeId, AddrError> {
        Self::from_parts(oui.mobile(), extension)
    }

    /// A stationary Node ID under `oui` with the given 40-bit extension.
    pub fn stationary(oui: Oui, extension: u64) -> Result<NodeId, AddrError> {
        Self::from_parts(oui.stationary(), extension)
    }

    /// The first three octets, as carried (not corrected for the U/L bit).
    pub fn prefix_octets(self) -> [u8; 3] {
        let b = self.to_bytes();
        [b[0], b[1], b[2]]
    }

    /// The low 40 bits, after the OUI.
    pub fn extension(self) -> u64 {
        self.0 & ((1 << 40) - 1)
    }

    /// Mobile, stationary or other, relative to `oui`.
    pub fn kind(self, oui: Oui) -> NodeKind {
        let p = self.prefix_octets();
        if p == oui.mobile() {
            NodeKind::Mobile
        } else if p == oui.stationary() {
            NodeKind::Stationary
        } else {
            NodeKind::Other
        }
    }

    /// Formats as an interface ID (`201:4a00:0:1`); see the module docs.
    pub fn iid(self) -> impl fmt::Display {
        Iid(self.0)
    }
}

struct Iid(u64);

impl fmt::Display for Iid {
    // RFC 5952 §4.2 applied to four groups: the longest run of two or more zero
    // groups (the first one on a tie) becomes "::".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g: [u16; 4] = std::array::from_fn(|i| (self.0 >> (48 - 16 * i)) as u16);
        let (mut best_at, mut best_len) = (0, 0);
        let mut i = 0;
        while i < 4 {
            if g[i] == 0 {
                let start = i;
                while i < 4 && g[i] == 0 {
                    i += 1;
                }
                if i - start > best_len {
                    (best_at, best_len) = (start, i - start);
                }
            } else {
                i += 1;
            }
        }
        let join = |f: &mut fmt::Formatter<'_>, gs: &[u16]| -> fmt::Result {
            for (k, x) in gs.iter().enumerate() {
                if k > 0 {
                    f.write_str(":")?;
                }
                write!(f, "{x:x}")?;
            }
            Ok(())
        };
        if best_len >= 2 {
            join(f, &g[..best_at])?;
            f.write_str("::")?;
            join(f, &g[best_at + best_len..])
        } else {
            join(f, &g)
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(b) = parse_byte_groups::<8>(s) {
            return Ok(NodeId::from_bytes(b));
        }
        parse_iid(s)
            .map(NodeId)
            .map_err(|reason| AddrError::NodeId {
                input: clip(s),
                reason,
            })
    }
}

impl TryFrom<String> for NodeId {
    type Error = AddrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<NodeId> for String {
    fn from(n: NodeId) -> String {
        n.to_string()
    }
}

impl From<u64> for NodeId {
    fn from(v: u64) -> Self {
        NodeId(v)
    }
}

impl From<NodeId> for u64 {
    fn from(n: NodeId) -> u64 {
        n.0
    }
}

/// A /64 network prefix: the LIN6 prefix, or the routable half of a locator
/// (the "network prefix" field of the wire messages).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefix64(u64);

/// The LIN6 prefix is an ordinary /64; the alias names its role.
pub type Lin6Prefix = Prefix64;

impl Prefix64 {
    /// `3ffe:501:1830:1999::/64`, the draft's LIN6 prefix. It lies in the
    /// retired 6bone range, so operators are expected to configure their own.
    pub const DEFAULT_LIN6: Prefix64 = Prefix64(0x3ffe_0501_1830_1999);

    pub const fn from_u64(v: u64) -> Prefix64 {
        Prefix64(v)
    }

    pub const fn to_u64(self) -> u64 {
        self.0
    }

    pub const fn from_bytes(b: [u8; 8]) -> Prefix64 {
        Prefix64(u64::from_be_bytes(b))
    }

    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// The prefix of `addr` (its high 64 bits).
    pub fn of(addr: Ipv6Addr) -> Prefix64 {
        Prefix64((addr.to_bits() >> 64) as u64)
    }

    pub fn contains(self, addr: Ipv6Addr) -> bool {
        Prefix64::of(addr) == self
    }

    /// This prefix followed by `node`.
    pub fn with_node(self, node: NodeId) -> Ipv6Addr {
        join(self, node)
    }

    /// The prefix as an address with a zero interface ID.
    pub fn network(self) -> Ipv6Addr {
        Ipv6Addr::from_bits(u128::from(self.0) << 64)
    }
}

impl fmt::Display for Prefix64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/64", self.network())
    }
}

impl fmt::Debug for Prefix64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix64({self})")
    }
}

impl FromStr for Prefix64 {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| AddrError::Prefix {
            input: clip(s),
            reason,
        };
        let addr_part = match s.split_once('/') {
            Some((a, "64")) => a,
            Some(_) => return Err(err("only /64 prefixes are supported")),
            None => s,
        };
        let addr: Ipv6Addr = addr_part.parse().map_err(|_| err("not an IPv6 address"))?;
        if addr.to_bits() as u64 != 0 {
            return Err(err("bits after the first 64 must be zero"));
        }
        Ok(Prefix64::of(addr))
    }
}

impl TryFrom<String> for Prefix64 {
    type Error = AddrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Prefix64> for String {
    fn from(p: Prefix64) -> String {
        p.to_string()
    }
}

/// The operator's LIN6 parameters. The draft fixed both; we make them
/// configurable because the 6bone prefix is retired and an operator may use
/// its own OUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lin6Params {
    /// The /64 that, followed by a Node ID, forms a LIN6 address.
    pub prefix: Lin6Prefix,
    /// The OUI that marks stationary Node IDs (mobile ones invert its U/L bit).
    pub oui: Oui,
}

impl Default for Lin6Params {
    fn default() -> Self {
        Lin6Params {
            prefix: Prefix64::DEFAULT_LIN6,
            oui: Oui::LIN6,
        }
    }
}

impl Lin6Params {
    /// The LIN6 address of `node`: LIN6 prefix + Node ID.
    pub fn lin6_address(&self, node: NodeId) -> Ipv6Addr {
        lin6_address(node, self)
    }

    /// The Node ID of `addr` if it is a LIN6 address under these parameters.
    pub fn node_of(&self, addr: Ipv6Addr) -> Option<NodeId> {
        let (p, n) = split(addr);
        (p == self.prefix).then_some(n)
    }

    pub fn kind(&self, node: NodeId) -> NodeKind {
        node.kind(self.oui)
    }
}

/// Joins a /64 and a Node ID into an address.
pub fn join(prefix: Prefix64, node: NodeId) -> Ipv6Addr {
    Ipv6Addr::from_bits(u128::from(prefix.0) << 64 | u128::from(node.0))
}

/// Splits an address into its /64 prefix and its interface ID (read as a Node ID).
pub fn split(addr: Ipv6Addr) -> (Prefix64, NodeId) {
    let bits = addr.to_bits();
    (Prefix64((bits >> 64) as u64), NodeId(bits as u64))
}

/// The LIN6 address of `node` under `params`.
pub fn lin6_address(node: NodeId, params: &Lin6Params) -> Ipv6Addr {
    join(params.prefix, node)
}

/// True if `addr` lies in the configured LIN6 prefix. The Node ID half is not
/// inspected: whether a node is mobile is a separate question ([`NodeId::kind`]).
pub fn is_lin6_address(addr: Ipv6Addr, params: &Lin6Params) -> bool {
    params.prefix.contains(addr)
}

/// A LIN6 locator (the draft's "LIN6 address"): a routable /64 followed by a
/// Node ID. What travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locator {
    pub prefix: Prefix64,
    pub node: NodeId,
}

impl Locator {
    pub fn new(prefix: Prefix64, node: NodeId) -> Locator {
        Locator { prefix, node }
    }

    pub fn addr(self) -> Ipv6Addr {
        join(self.prefix, self.node)
    }
}

impl From<Ipv6Addr> for Locator {
    fn from(a: Ipv6Addr) -> Self {
        let (prefix, node) = split(a);
        Locator { prefix, node }
    }
}

impl From<Locator> for Ipv6Addr {
    fn from(l: Locator) -> Self {
        l.addr()
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr().fmt(f)
    }
}

impl FromStr for Locator {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Ipv6Addr>().map(Locator::from)
    }
}

impl TryFrom<String> for Locator {
    type Error = std::net::AddrParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Locator> for String {
    fn from(l: Locator) -> String {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nid(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[test]
    fn eui64_and_iid_forms_parse_to_the_same_node_id() {
        let want = NodeId::from_u64(0x0201_4a00_0000_0001);
        assert_eq!(nid("02:01:4a:00:00:00:00:01"), want);
        assert_eq!(nid("02-01-4A-00-00-00-00-01"), want);
        assert_eq!(nid("0201:4a00:0000:0001"), want);
        assert_eq!(nid("201:4a00:0:1"), want);
        assert_eq!(nid("201:4a00::1"), want);
    }

    #[test]
    fn iid_compression_variants_parse() {
        assert_eq!(nid("::"), NodeId::from_u64(0));
        assert_eq!(nid("::1"), NodeId::from_u64(1));
        assert_eq!(nid("1::"), NodeId::from_u64(1 << 48));
        assert_eq!(nid("1::2"), NodeId::from_u64(1 << 48 | 2));
        assert_eq!(nid("1:2::3"), NodeId::from_u64(1 << 48 | 2 << 32 | 3));
        assert_eq!(nid("1::2:3"), NodeId::from_u64(1 << 48 | 2 << 16 | 3));
        assert_eq!(nid("ffff:ffff:ffff:ffff"), NodeId::from_u64(u64::MAX));
    }

    #[test]
    fn malformed_node_ids_are_refused_with_reason() {
        for bad in [
            "",
            ":",
            ":::",
            "1:2:3",
            "1:2:3:4:5",
            "1::2::3",
            "1:2::3:4",
            "12345::",
            "g::",
            " 1::",
            "1::/64",
            "02:01:4a:00:00:00:00",
            "02:01:4a:00:00:00:00:01:02",
            "02:01-4a:00:00:00:00:01",
            "2:1:4a:0:0:0:0:1",
            "0x0201:4a00:0:1",
            "02014a0000000001",
            "é::",
        ] {
            let e = bad.parse::<NodeId>();
            assert!(
                matches!(e, Err(AddrError::NodeId { .. })),
                "{bad:?} gave {e:?}"
            );
        }
    }

    #[test]
    fn error_echo_of_huge_input_is_clipped() {
        let long = "z".repeat(10_000);
        let Err(AddrError::NodeId { input, .. }) = long.parse::<NodeId>() else {
            panic!("accepted")
        };
        assert_eq!(input.len(), 64);
    }

    #[test]
    fn display_is_eui64_and_iid_is_rfc5952_compressed() {
        let n = NodeId::from_u64(0x0201_4a00_0000_0001);
        assert_eq!(n.to_string(), "02:01:4a:00:00:00:00:01");
        assert_eq!(n.iid().to_string(), "201:4a00:0:1");
        assert_eq!(NodeId::from_u64(0).iid().to_string(), "::");
        assert_eq!(NodeId::from_u64(1).iid().to_string(), "::1");
        // A single zero group is not compressed (RFC 5952 §4.2.2).
        assert_eq!(
            NodeId::from_u64(0x0001_0000_0002_0003).iid().to_string(),
            "1:0:2:3"
        );
        // Longest run wins; first one on a tie.
        assert_eq!(
            NodeId::from_u64(0x0000_0001_0000_0000).iid().to_string(),
            "0:1::"
        );
        assert_eq!(
            NodeId::from_u64(0x0001_0000_0000_0002).iid().to_string(),
            "1::2"
        );
    }

    #[test]
    fn kinds_follow_the_oui_and_its_inverted_ul_bit() {
        let oui = Oui::default();
        assert_eq!(oui.mobile(), [0x02, 0x01, 0x4a]);
        assert_eq!(nid("02:01:4a:00:00:00:00:01").kind(oui), NodeKind::Mobile);
        assert_eq!(
            nid("00:01:4a:00:00:00:00:01").kind(oui),
            NodeKind::Stationary
        );
        assert_eq!(nid("02:01:4b:00:00:00:00:01").kind(oui), NodeKind::Other);
        let own: Oui = "ac:de:48".parse().unwrap();
        assert_eq!(nid("ae:de:48:00:00:00:00:09").kind(own), NodeKind::Mobile);
        assert_eq!(nid("02:01:4a:00:00:00:00:01").kind(own), NodeKind::Other);
    }

    #[test]
    fn mobile_constructor_checks_extension_width() {
        let n = NodeId::mobile(Oui::LIN6, 1).unwrap();
        assert_eq!(n.to_string(), "02:01:4a:00:00:00:00:01");
        assert_eq!(n.extension(), 1);
        assert_eq!(
            NodeId::stationary(Oui::LIN6, 0xff_ffff_ffff)
                .unwrap()
                .to_string(),
            "00:01:4a:ff:ff:ff:ff:ff"
        );
        assert_eq!(
            NodeId::mobile(Oui::LIN6, 1 << 40),
            Err(AddrError::ExtensionTooLarge(1 << 40))
        );
    }

    #[test]
    fn oui_with_group_bit_is_refused() {
        assert!(matches!(
            "01:00:5e".parse::<Oui>(),
            Err(AddrError::Oui { .. })
        ));
        assert!(matches!("00:01".parse::<Oui>(), Err(AddrError::Oui { .. })));
        assert_eq!("00-01-4A".parse::<Oui>().unwrap(), Oui::LIN6);
    }

    #[test]
    fn prefix_parses_with_or_without_slash64_and_refuses_host_bits() {
        let want = Prefix64::DEFAULT_LIN6;
        assert_eq!("3ffe:501:1830:1999::/64".parse::<Prefix64>().unwrap(), want);
        assert_eq!("3ffe:501:1830:1999::".parse::<Prefix64>().unwrap(), want);
        assert_eq!(want.to_string(), "3ffe:501:1830:1999::/64");
        for bad in [
            "3ffe:501:1830:1999::1/64",
            "3ffe::/48",
            "3ffe::/",
            "nope/64",
            "10.0.0.0/64",
        ] {
            assert!(
                matches!(bad.parse::<Prefix64>(), Err(AddrError::Prefix { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn lin6_address_and_locator_join_and_split() {
        let p = Lin6Params::default();
        let n = nid("201:4a00::1");
        let a = p.lin6_address(n);
        assert_eq!(
            a,
            "3ffe:501:1830:1999:201:4a00:0:1"
                .parse::<Ipv6Addr>()
                .unwrap()
        );
        assert!(is_lin6_address(a, &p));
        assert_eq!(p.node_of(a), Some(n));
        let loc: Locator = "2001:db8:1:2:201:4a00:0:1".parse().unwrap();
        assert_eq!(loc.node, n);
        assert_eq!(loc.prefix, "2001:db8:1:2::/64".parse().unwrap());
        assert!(!is_lin6_address(loc.addr(), &p));
        assert_eq!(p.node_of(loc.addr()), None);
        assert_eq!(split(loc.addr()), (loc.prefix, loc.node));
    }

    #[test]
    fn configured_prefix_changes_what_is_a_lin6_address() {
        let p = Lin6Params {
            prefix: "fd00:6:6:6::/64".parse().unwrap(),
            oui: Oui::LIN6,
        };
        let n = nid("201:4a00::7");
        assert!(is_lin6_address(
            "fd00:6:6:6:201:4a00:0:7".parse().unwrap(),
            &p
        ));
        assert!(!is_lin6_address(Lin6Params::default().lin6_address(n), &p));
    }

    #[test]
    fn serde_uses_strings_and_params_have_defaults() {
        let n = nid("201:4a00::1");
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            "\"02:01:4a:00:00:00:00:01\""
        );
        assert_eq!(
            serde_json::from_str::<NodeId>("\"201:4a00::1\"").unwrap(),
            n
        );
        assert!(serde_json::from_str::<NodeId>("\"bogus\"").is_err());
        assert!(serde_json::from_str::<NodeId>("42").is_err());
        let p: Lin6Params = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Lin6Params::default());
        let p: Lin6Params =
            serde_json::from_str(r#"{"prefix":"fd00::/64","oui":"ac:de:48"}"#).unwrap();
        assert_eq!(p.prefix.to_string(), "fd00::/64");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"prefix":"fd00::/64","oui":"ac:de:48"}"#
        );
        assert!(serde_json::from_str::<Lin6Params>(r#"{"prefx":"fd00::/64"}"#).is_err());
        let loc: Locator = serde_json::from_str("\"2001:db8::201:4a00:0:1\"").unwrap();
        assert_eq!(
            serde_json::to_string(&loc).unwrap(),
            "\"2001:db8::201:4a00:0:1\""
        );
    }
}
