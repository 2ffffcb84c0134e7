// SPDX-License-Identifier: GPL-2.0

//! What to do with a packet: the LIN6 translation rules, apart from how the
//! packet is rewritten (hooks.rs).
//!
//! LIN6 traffic is traffic between LIN6 addresses of mobile nodes (Node ID
//! with the mobile OUI); everything else is plain IPv6 and passes untouched,
//! so a node's locator is also an ordinary address that plain and
//! stationary nodes talk to, and sockets bound to it work as anywhere.
//!
//! Output: a packet from our LIN6 address to a mobile node's LIN6 address
//! leaves from our locator to that node's locator from the Mapping Table
//! (no mapping: a miss). Source address selection never pairs our LIN6
//! address with a plain destination (the LIN6 prefix routes via linsix0);
//! a socket bound to it by hand that does so gets its packet dropped at
//! linsix0 if the destination is under the LIN6 prefix, and sent as it is
//! otherwise (the peer cannot answer a LIN6 address: that is the bind's
//! doing).
//!
//! Input: a packet from a mobile node's locator to one of ours is LIN6
//! traffic: its destination becomes our LIN6 address and its source the
//! peer's LIN6 address. The source is translated even when the table has
//! no mapping for it, or maps it elsewhere (the peer moved and we have not
//! heard), so the transport is not cut off; a miss event then asks
//! userspace to check the source with the peer's MA (draft section 3.6,
//! step 6). Replies go to the locator the table holds, never to the one a
//! packet claimed. A consequence of translating without state: two mobile
//! nodes cannot talk plain IPv6 between their locators.
//!
//! Pools: a mapping flagged `pool` names one site of a load-sharing pool
//! whose servers share the Node ID. Output sends each flow to the site it
//! started with (flows.rs keeps them); input takes any site's locator as
//! the pool's without asking userspace to check it.
//!
//! ICMPv6 errors quote the packet they are about; the quote is translated
//! with the same rules (see `quoted_input`, `quoted_output`), also when the
//! error itself is plain (a router's Packet Too Big).

use crate::addr::{In6, NodeId, Prefix};
use crate::node::Node;
use crate::table::{RouteCache, Snapshot};
use crate::uapi::miss_reason;

/// The verdict on an outgoing packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Out<'a> {
    /// Not LIN6 traffic.
    Pass,
    /// Rewrite the source's and the destination's prefix to `src` and
    /// `dst` (translation never changes a Node ID); `route`: the mapping's
    /// cached route to `dst`; `pool`: the destination is a load-sharing
    /// pool's, whose flows keep their first prefix (flows.rs), so `dst`
    /// holds only for a new flow.
    Translate {
        src: Prefix,
        dst: Prefix,
        route: &'a RouteCache,
        pool: bool,
    },
    /// A mobile destination with no mapping: wait for one (unless the
    /// packet's flow is pinned); `src` is our locator's prefix.
    Miss { src: Prefix, peer: NodeId },
    /// Our LIN6 source, but we have no locator yet.
    NoLocator,
}

/// The verdict on an incoming packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum In {
    /// Not LIN6 traffic.
    Pass,
    /// Rewrite the source's and the destination's prefix (to the LIN6
    /// prefix, both); `check` asks userspace to verify the source's
    /// mapping.
    Translate {
        src: Prefix,
        dst: Prefix,
        check: Option<(NodeId, u32)>,
    },
}

pub(crate) fn output<'a>(
    node: &Node,
    here: Option<Prefix>,
    table: &'a Snapshot,
    now: i64,
    src: &In6,
    dst: &In6,
) -> Out<'a> {
    // Traffic to ourselves stays on the loopback, untranslated; a plain or
    // stationary destination is not LIN6 traffic.
    if !node.is_own_lin6(src) || node.is_own_lin6(dst) || !node.is_mobile_lin6(dst) {
        return Out::Pass;
    }
    // The source, our LIN6 address, has our Node ID: under `here` it is
    // our locator.
    let Some(here) = here else {
        return Out::NoLocator;
    };
    let peer = NodeId::of(dst);
    match table.lookup(peer, now) {
        Some(m) => Out::Translate {
            src: here,
            dst: m.prefix,
            route: &m.route,
            pool: m.pool,
        },
        None => Out::Miss { src: here, peer },
    }
}

pub(crate) fn input(node: &Node, table: &Snapshot, now: i64, src: &In6, dst: &In6) -> In {
    if !node.is_own_locator(dst) {
        return In::Pass;
    }
    let Some(me) = node.id else {
        return In::Pass;
    };
    if !node.is_mobile_locator(src) {
        // A plain or stationary peer talking to our locator as the ordinary
        // address it also is.
        return In::Pass;
    }
    let peer = NodeId::of(src);
    let check = match table.lookup(peer, now) {
        // A pool's sites all answer for its Node ID: a flow pinned to an
        // earlier site is no sign that the pool moved.
        Some(m) if m.prefix == Prefix::of(src) || m.pool => None,
        Some(_) => Some((peer, miss_reason::SOURCE_MOVED)),
        None if peer == me => None,
        None => Some((peer, miss_reason::UNKNOWN_SOURCE)),
    };
    In::Translate {
        src: node.lin6_prefix,
        dst: node.lin6_prefix,
        check,
    }
}

/// New addresses for the packet an ICMPv6 error quotes: `(src, dst)`, each
/// `None` when it stays.
pub(crate) type Quoted = (Option<In6>, Option<In6>);

/// An error we send quotes a packet we received, which the input rules
/// turned into LIN6 addresses: the peer must see the packet as it sent it,
/// from its locator to ours, or its stack cannot match the error.
pub(crate) fn quoted_output(
    node: &Node,
    here: Option<Prefix>,
    table: &Snapshot,
    now: i64,
    src: &In6,
    dst: &In6,
) -> Quoted {
    let new_src = if node.is_mobile_lin6(src) && !node.is_own_lin6(src) {
        let peer = NodeId::of(src);
        table.lookup(peer, now).map(|m| m.prefix.join(peer))
    } else {
        None
    };
    let new_dst = match (node.id, here) {
        (Some(me), Some(here)) if node.is_own_lin6(dst) => Some(here.join(me)),
        _ => None,
    };
    (new_src, new_dst)
}

/// An error we receive quotes a packet we sent, with the locators the
/// output rules put on it: our socket knows it by the LIN6 addresses.
pub(crate) fn quoted_input(node: &Node, src: &In6, dst: &In6) -> Quoted {
    let new_src = match node.id {
        Some(me) if node.is_own_locator(src) => Some(node.lin6_prefix.join(me)),
        _ => None,
    };
    let new_dst = (node.is_mobile_locator(dst) && !node.is_own_locator(dst))
        .then(|| node.lin6_prefix.join(NodeId::of(dst)));
    (new_src, new_dst)
}
