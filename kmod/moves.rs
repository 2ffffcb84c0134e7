// SPDX-License-Identifier: GPL-2.0

//! Noticing that this node moved: an address with our Node ID appears on,
//! or leaves, an interface (SLAAC with `ip token`, or set by hand).

use crate::state::Lin6Net;
use crate::ADDRESSES;
use kernel::net::inet6addr::{AddrEvent, Inet6AddrHandler, Inet6AddrNotifier};
use kernel::net::netns::Net;
use kernel::net::skbuff::In6Addr;

pub(crate) struct AddressWatch;

impl Inet6AddrHandler for AddressWatch {
    fn notifier() -> &'static Inet6AddrNotifier<Self> {
        &ADDRESSES
    }

    fn event(event: AddrEvent, addr: &In6Addr, ifindex: i32, net: &Net) {
        if let Some(ns) = Lin6Net::get(net) {
            ns.address_event(net, event, addr, ifindex);
        }
    }
}
