// SPDX-License-Identifier: GPL-2.0

//! What to do with a packet: the LIN6 translation rules, apart from how the
//! packet is rewritten (hooks.rs).
//!
//! Output: a packet from our LIN6 address leaves from our locator; if its
//! destination is a mobile node's LIN6 address, it goes to that node's
//! locator from the Mapping Table. A packet from any other source is left
//! alone, so plain IPv6 and stationary addresses are never touched.
//!
//! Input: a packet to one of our locators is for our LIN6 address; if it
//! comes from a mobile node's locator, its source becomes that node's LIN6
//! address. The source is translated even when the table has no mapping
//! for it, or maps it elsewhere (the peer moved and we have not heard), so
//! the transport is not cut off; a miss event then asks userspace to check
//! the source with the peer's MA (draft section 3.6, step 6). Replies go to
//! the locator the table holds, never to the one a packet claimed.

use crate::addr::{In6, NodeId, Prefix};
use crate::node::Node;
use crate::table::Snapshot;
use crate::uapi::miss_reason;

/// The verdict on an outgoing packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Out {
    /// Not LIN6 traffic.
    Pass,
    /// Rewrite the source (always) and the destination (if given).
    Translate { src: In6, dst: Option<In6> },
    /// A mobile destination with no mapping: wait for one.
    Miss(NodeId),
    /// Our LIN6 source, but we have no locator yet.
    NoLocator,
}

/// The verdict on an incoming packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum In {
    /// Not LIN6 traffic.
    Pass,
    /// Rewrite the destination, and the source if given; `check` asks
    /// userspace to verify the source's mapping.
    Translate {
        src: Option<In6>,
        dst: In6,
        check: Option<(NodeId, u32)>,
    },
}

pub(crate) fn output(
    node: &Node,
    here: Option<Prefix>,
    table: &Snapshot,
    now: i64,
    src: &In6,
    dst: &In6,
) -> Out {
    // Traffic to ourselves stays on the loopback, untranslated.
    if !node.is_own_lin6(src) || node.is_own_lin6(dst) {
        return Out::Pass;
    }
    let (Some(me), Some(here)) = (node.id, here) else {
        return Out::NoLocator;
    };
    let new_src = here.join(me);
    if !node.is_mobile_lin6(dst) {
        // A plain or stationary peer: only our source moves.
        return Out::Translate {
            src: new_src,
            dst: None,
        };
    }
    let peer = NodeId::of(dst);
    match table.lookup(peer, now) {
        Some(m) => Out::Translate {
            src: new_src,
            dst: Some(m.prefix.join(peer)),
        },
        None => Out::Miss(peer),
    }
}

pub(crate) fn input(node: &Node, table: &Snapshot, now: i64, src: &In6, dst: &In6) -> In {
    if !node.is_own_locator(dst) {
        return In::Pass;
    }
    let Some(me) = node.id else {
        return In::Pass;
    };
    let new_dst = node.lin6_prefix.join(me);
    if !node.is_mobile_locator(src) {
        return In::Translate {
            src: None,
            dst: new_dst,
            check: None,
        };
    }
    let peer = NodeId::of(src);
    let check = match table.lookup(peer, now) {
        Some(m) if m.prefix == Prefix::of(src) => None,
        Some(_) => Some((peer, miss_reason::SOURCE_MOVED)),
        None if peer == me => None,
        None => Some((peer, miss_reason::UNKNOWN_SOURCE)),
    };
    In::Translate {
        src: Some(node.lin6_prefix.join(peer)),
        dst: new_dst,
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
