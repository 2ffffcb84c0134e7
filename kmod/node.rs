// SPDX-License-Identifier: GPL-2.0

//! This namespace's own identity: its Node ID and the LIN6 prefix. Where it
//! is now (its locator) changes in atomic context and lives beside it, in
//! `state::Lin6Net::locator`.

use crate::addr::{In6, NodeId, Prefix, DEFAULT_LIN6_PREFIX, MOBILE_OUI};

/// A snapshot of the node's configuration, replaced whole on every change.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    /// Our Node ID; `None` until userspace sets it: nothing is translated.
    pub(crate) id: Option<NodeId>,
    /// The LIN6 prefix applications see.
    pub(crate) lin6_prefix: Prefix,
    /// The OUI that marks mobile Node IDs.
    pub(crate) mobile_oui: u32,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            id: None,
            lin6_prefix: DEFAULT_LIN6_PREFIX,
            mobile_oui: MOBILE_OUI,
        }
    }
}

impl Node {
    /// Whether `addr` is our own LIN6 address.
    pub(crate) fn is_own_lin6(&self, addr: &In6) -> bool {
        self.id == Some(NodeId::of(addr)) && Prefix::of(addr) == self.lin6_prefix
    }

    /// Whether `addr` is one of our locators: our Node ID under a prefix
    /// other than the LIN6 one (a node may briefly hold two while moving).
    pub(crate) fn is_own_locator(&self, addr: &In6) -> bool {
        self.id == Some(NodeId::of(addr)) && Prefix::of(addr) != self.lin6_prefix
    }

    /// Whether `addr` is the LIN6 address of a mobile node.
    pub(crate) fn is_mobile_lin6(&self, addr: &In6) -> bool {
        Prefix::of(addr) == self.lin6_prefix && NodeId::of(addr).is_mobile(self.mobile_oui)
    }

    /// Whether `addr` is a mobile node's locator (not a LIN6 address).
    pub(crate) fn is_mobile_locator(&self, addr: &In6) -> bool {
        Prefix::of(addr) != self.lin6_prefix && NodeId::of(addr).is_mobile(self.mobile_oui)
    }
}
