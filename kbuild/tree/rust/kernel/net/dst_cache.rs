// SPDX-License-Identifier: GPL-2.0

//! A per-CPU cache of one route (`struct dst_cache`), as tunnels keep one
//! for their remote end: see [`HookSkb::reroute_cached`].
//!
//! C header: [`include/net/dst_cache.h`](srctree/include/net/dst_cache.h)
//!
//! [`HookSkb::reroute_cached`]: crate::net::netfilter::HookSkb::reroute_cached

use crate::{alloc::Flags, bindings, error::to_result, prelude::*, types::Opaque};

/// The route to one destination, cached per CPU with the source address it
/// was found for; the FIB's change counter invalidates it.
pub struct DstCache(Opaque<bindings::dst_cache>);

// SAFETY: the C side keeps one slot per CPU, each used with local softirqs
// disabled, and its reset is a timestamp written once; any thread may use
// or drop a cache it can reach.
unsafe impl Send for DstCache {}
// SAFETY: as above: shared use from several CPUs is what it is built for.
unsafe impl Sync for DstCache {}

impl DstCache {
    /// An empty cache; allocates one slot per possible CPU.
    pub fn new(flags: Flags) -> Result<Self> {
        let cache = Opaque::<bindings::dst_cache>::uninit();
        // SAFETY: `dst_cache_init` fills in every field of the struct it is
        // given (a percpu pointer and a timestamp), none of which points
        // into the struct itself, so the value may move once it returns.
        to_result(unsafe { bindings::dst_cache_init(cache.get(), flags.as_raw()) })?;
        Ok(DstCache(cache))
    }

    /// The C struct, for the functions that consult and fill it.
    pub fn as_ptr(&self) -> *mut bindings::dst_cache {
        self.0.get()
    }
}

impl Drop for DstCache {
    fn drop(&mut self) {
        // SAFETY: `new` initialised the cache and nothing uses it any more
        // (we are its owner); this releases the routes and frees the slots.
        // It may run in softirq context (an RCU callback): it neither
        // sleeps nor takes a lock softirqs could hold.
        unsafe { bindings::dst_cache_destroy(self.0.get()) }
    }
}
