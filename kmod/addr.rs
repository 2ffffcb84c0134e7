// SPDX-License-Identifier: GPL-2.0

//! The LIN6 address model: an IPv6 address is a /64 prefix and a 64-bit
//! Node ID; what the prefix is says whether it is a LIN6 address (the
//! LIN6 prefix) or a locator (a routable prefix).

/// An IPv6 address in network byte order.
pub(crate) type In6 = [u8; 16];

/// A Node ID (EUI-64 interface identifier), as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NodeId(pub(crate) u64);

/// A /64 prefix: the high 64 bits of an address, as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Prefix(pub(crate) u64);

/// The OUI of mobile Node IDs: 00:01:4a with the U/L bit inverted.
pub(crate) const MOBILE_OUI: u32 = 0x02_01_4a;
/// The LIN6 prefix of the draft, 3ffe:501:1830:1999::/64 (configurable).
pub(crate) const DEFAULT_LIN6_PREFIX: Prefix = Prefix(0x3ffe_0501_1830_1999);

impl NodeId {
    /// The Node ID of `addr` (its low 64 bits).
    pub(crate) fn of(addr: &In6) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&addr[8..]);
        NodeId(u64::from_be_bytes(b))
    }

    /// Whether the Node ID belongs to a mobile node (its OUI is `oui`).
    pub(crate) fn is_mobile(self, oui: u32) -> bool {
        (self.0 >> 40) as u32 == oui
    }
}

impl Prefix {
    /// The /64 prefix of `addr`.
    pub(crate) fn of(addr: &In6) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&addr[..8]);
        Prefix(u64::from_be_bytes(b))
    }

    /// The address made of this prefix and `node`.
    pub(crate) fn join(self, node: NodeId) -> In6 {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&self.0.to_be_bytes());
        a[8..].copy_from_slice(&node.0.to_be_bytes());
        a
    }

    /// The prefix as an address with a zero interface identifier.
    pub(crate) fn to_in6(self) -> In6 {
        self.join(NodeId(0))
    }
}
