// SPDX-License-Identifier: GPL-2.0

//! linsix0: the pseudo device that holds our LIN6 address and the route to
//! the LIN6 prefix, one per namespace.
//!
//! Sockets bind to and route towards LIN6 addresses through it; the
//! LOCAL_OUT hook rewrites such packets to locators and re-routes them out
//! of a real interface before they get here. So a packet that does reach
//! linsix0's transmit was not translated (a stationary or unknown LIN6
//! destination, or a node with no locator yet): it is dropped and counted,
//! never sent with a LIN6 address on the wire.

use crate::addr::Prefix;
use crate::state::Lin6Net;
use crate::stats::Counter;
use kernel::c_str;
use kernel::net::netdevice::{Device, SoftDevice};
use kernel::net::skbuff::OwnedSkb;
use kernel::str::CStr;
use kernel::sync::rcu;

pub(crate) struct Linsix;

impl SoftDevice for Linsix {
    const NAME: &'static CStr = c_str!("linsix0");

    fn start_xmit(dev: &Device, mut skb: OwnedSkb) {
        dev.count_tx_dropped();
        let Some(ns) = Lin6Net::get(dev.net()) else {
            return;
        };
        // Only packets for the LIN6 prefix count as untranslated: the
        // core's own traffic on the device (MLD reports for the address's
        // solicited-node group, say) is dropped without being LIN6's news.
        let Some(hdr) = skb.skb().ipv6_header() else {
            return;
        };
        let lin6_prefix = {
            let guard = rcu::read_lock();
            ns.node.get(&guard).lin6_prefix
        };
        if Prefix::of(&hdr.daddr) == lin6_prefix {
            ns.stats.inc(Counter::DropUntranslated);
        }
    }
}
