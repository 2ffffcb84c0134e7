// SPDX-License-Identifier: GPL-2.0

//! LIN6: IPv6 mobility by identifier/locator split.
//!
//! Sockets see LIN6 addresses (the LIN6 prefix + a Node ID); the wire sees
//! locators (a routable prefix + the same Node ID). Netfilter hooks
//! translate between the two with the Mapping Table, per network namespace.

// `try_pin_init!` expands recursively once per field: the per-namespace
// state has more fields than the default limit (128) allows.
#![recursion_limit = "256"]

use kernel::net::genetlink::{Family, FamilyRegistration};
use kernel::net::inet6addr::{Inet6AddrNotifier, Inet6AddrRegistration};
use kernel::net::netns::{Pernet, PernetRegistration};
use kernel::prelude::*;
use kernel::sync::rcu;

mod addr;
mod events;
mod flows;
mod hooks;
mod linsix;
mod moves;
mod netlink;
mod node;
mod queue;
mod state;
mod stats;
mod table;
// One file, generated from kmod/lin6.yaml, for both sides of the API; not
// every constant is used here.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/netlink/uapi.rs"]
mod uapi;
mod xlat;

module! {
    type: Lin6,
    name: "lin6",
    author: "lin6 developers",
    description: "LIN6 identifier/locator translation",
    license: "GPL",
}

kernel::module_param!(pub(crate) MAX_MAPPINGS: u32 = 4096, "max_mappings", uint,
    "Most mappings in each namespace's Mapping Table (default 4096)");
kernel::module_param!(pub(crate) MISS_TIMEOUT_MS: u32 = 3000, "miss_timeout_ms", uint,
    "How long packets wait for a missing mapping, in ms (default 3000)");
kernel::module_param!(pub(crate) FLOW_CAPACITY: u32 = 4096, "flow_capacity", uint,
    "Most flows to pool destinations pinned at once in each namespace (default 4096)");
kernel::module_param!(pub(crate) FLOW_IDLE_S: u32 = 300, "flow_idle_s", uint,
    "Seconds a pinned flow lives without a packet (default 300)");
kernel::module_param!(pub(crate) MEASURE_CYCLES: bool = false, "measure_cycles", bool, writable,
    "Count the CPU cycles spent on each translated packet (default off; writable at run time)");

static PERNET: Pernet<state::Lin6Net> = Pernet::new();
static FAMILY: Family<netlink::Lin6Genl> = Family::new();
static ADDRESSES: Inet6AddrNotifier<moves::AddressWatch> = Inet6AddrNotifier::new();

/// Waits for the RCU callbacks that free old snapshots: they run module
/// code, so the module must not go before they have.
struct RcuBarrier;

impl Drop for RcuBarrier {
    fn drop(&mut self) {
        rcu::barrier();
        pr_info!("unloaded\n");
    }
}

struct Lin6 {
    // Dropped in this order: no address event and no netlink request can
    // reach a namespace's state once that state is gone, and no RCU
    // callback outlives the code.
    _addresses: Inet6AddrRegistration<moves::AddressWatch>,
    _genl: FamilyRegistration<netlink::Lin6Genl>,
    _pernet: PernetRegistration<state::Lin6Net>,
    _rcu: RcuBarrier,
}

impl kernel::Module for Lin6 {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if MAX_MAPPINGS.get() == 0
            || MISS_TIMEOUT_MS.get() == 0
            || FLOW_CAPACITY.get() == 0
            || FLOW_IDLE_S.get() == 0
        {
            pr_err!(
                "max_mappings, miss_timeout_ms, flow_capacity and flow_idle_s must be at least 1\n"
            );
            return Err(EINVAL);
        }
        let rcu = RcuBarrier;
        let pernet = PERNET.register()?;
        let genl = FAMILY.register(_module)?;
        let addresses = ADDRESSES.register()?;
        pr_info!("loaded\n");
        Ok(Lin6 {
            _addresses: addresses,
            _genl: genl,
            _pernet: pernet,
            _rcu: rcu,
        })
    }
}
