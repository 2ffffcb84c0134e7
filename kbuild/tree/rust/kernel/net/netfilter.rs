// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks.
//!
//! C header: [`include/linux/netfilter.h`](srctree/include/linux/netfilter.h)

use crate::{
    bindings,
    error::to_result,
    net::{
        dst_cache::DstCache,
        netns::Net,
        skbuff::{OwnedSkb, SkBuff},
    },
    prelude::*,
    sync::Mutex,
    types::Opaque,
};

/// What a hook decides for a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Continue traversal.
    Accept,
    /// Free the packet.
    Drop,
    /// The hook took the packet: only [`HookSkb::steal`] makes this.
    Stolen(Stolen),
}

/// Proof that a hook took its packet with [`HookSkb::steal`].
#[derive(Debug, PartialEq, Eq)]
pub struct Stolen(());

impl Verdict {
    fn into_raw(self) -> u32 {
        match self {
            Verdict::Accept => bindings::NF_ACCEPT,
            Verdict::Drop => bindings::NF_DROP,
            Verdict::Stolen(_) => bindings::NF_STOLEN,
        }
    }
}

/// The IPv6 hook points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Hook {
    /// Every packet that arrives, before routing.
    PreRouting,
    /// Packets for this host, after routing.
    LocalIn,
    /// Forwarded packets.
    Forward,
    /// Packets this host sends, before routing is final.
    LocalOut,
    /// Every packet that leaves.
    PostRouting,
}

impl Ipv6Hook {
    fn to_raw(self) -> u32 {
        match self {
            Ipv6Hook::PreRouting => bindings::nf_inet_hooks_NF_INET_PRE_ROUTING,
            Ipv6Hook::LocalIn => bindings::nf_inet_hooks_NF_INET_LOCAL_IN,
            Ipv6Hook::Forward => bindings::nf_inet_hooks_NF_INET_FORWARD,
            Ipv6Hook::LocalOut => bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
            Ipv6Hook::PostRouting => bindings::nf_inet_hooks_NF_INET_POST_ROUTING,
        }
    }
}

/// Hook priorities (`enum nf_ip6_hook_priorities`): lower runs first.
pub mod priority {
    use crate::bindings;
    /// Before everything.
    pub const FIRST: i32 = bindings::nf_ip6_hook_priorities_NF_IP6_PRI_FIRST;
    /// Where fragments are reassembled for conntrack.
    pub const CONNTRACK_DEFRAG: i32 = bindings::nf_ip6_hook_priorities_NF_IP6_PRI_CONNTRACK_DEFRAG;
    /// Connection tracking.
    pub const CONNTRACK: i32 = bindings::nf_ip6_hook_priorities_NF_IP6_PRI_CONNTRACK;
    /// After everything.
    pub const LAST: i32 = bindings::nf_ip6_hook_priorities_NF_IP6_PRI_LAST;
}

/// The context a hook runs in.
pub struct HookState<'a>(&'a bindings::nf_hook_state);

impl<'a> HookState<'a> {
    /// The namespace the packet is in.
    #[inline]
    pub fn net(&self) -> &'a Net {
        // SAFETY: the core fills `net` with the live namespace whose hook
        // runs, which outlives the hook call.
        unsafe { Net::from_raw(self.0.net) }
    }
}

/// The packet a hook is looking at.
pub struct HookSkb<'a>(&'a mut SkBuff);

impl HookSkb<'_> {
    /// Routes a locally made packet again after its destination changed
    /// (at LOCAL_OUT), on behalf of its socket, if any.
    pub fn reroute(&mut self, state: &HookState<'_>) -> Result {
        // SAFETY: a LOCAL_OUT hook may re-route its packet; the state's
        // namespace is live and its socket (possibly null) is valid for the
        // hook call.
        to_result(unsafe {
            bindings::ip6_route_me_harder(state.0.net, state.0.sk, self.0.as_ptr())
        })
    }

    /// [`reroute`](Self::reroute) for a packet whose new destination always
    /// goes with `cache` (one cache per destination address): the route
    /// found for its source address is reused until the FIB changes. A
    /// packet whose route could depend on more than its addresses (a mark,
    /// a bound socket, policy rules, IPsec) gets the full lookup.
    pub fn reroute_cached(&mut self, state: &HookState<'_>, cache: &DstCache) -> Result {
        // SAFETY: as in `reroute`; `cache` is initialised and lives across
        // the call, and the C side uses its per-CPU slot with softirqs off.
        to_result(unsafe {
            bindings::ip6_route_me_harder_cached(
                state.0.net,
                state.0.sk,
                self.0.as_ptr(),
                cache.as_ptr(),
            )
        })
    }

    /// Takes the packet out of the stack's hands, to send or free later
    /// (outside this hook's RCU section); the hook must return the verdict
    /// that comes with it. The packet's route is made refcounted first, as
    /// `nf_queue` does: the stack may have attached it without a reference,
    /// valid only under RCU. If that route is already going away the packet
    /// cannot be kept: `Err` carries the drop verdict and the stack frees it.
    pub fn steal(self) -> Result<(OwnedSkb, Verdict), Verdict> {
        // SAFETY: we are in the hook, holding the packet; forcing takes a
        // reference on its route, or drops a route that is being freed.
        if !unsafe { bindings::skb_dst_force(self.0.as_ptr()) } {
            return Err(Verdict::Drop);
        }
        // SAFETY: a hook owns its packet until it returns; returning
        // NF_STOLEN (the verdict paired here, the only way to make one)
        // tells the core the reference is now ours.
        Ok((
            unsafe { OwnedSkb::from_raw(self.0.as_ptr()) },
            Verdict::Stolen(Stolen(())),
        ))
    }
}

impl core::ops::Deref for HookSkb<'_> {
    type Target = SkBuff;
    #[inline]
    fn deref(&self) -> &SkBuff {
        self.0
    }
}

impl core::ops::DerefMut for HookSkb<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut SkBuff {
        self.0
    }
}

/// An IPv6 netfilter hook function.
pub trait Ipv6HookFn: 'static {
    /// Where it hooks.
    const HOOK: Ipv6Hook;
    /// Its priority (lower runs first; see `enum nf_ip6_hook_priorities`).
    const PRIORITY: i32;
    /// Looks at, and may rewrite, one packet.
    fn hook(skb: HookSkb<'_>, state: &HookState<'_>) -> Verdict;
}

/// A hook for one namespace, registered on demand (as ILA registers its
/// hook on the first mapping: a namespace that never needs it never runs
/// it) and unregistered when dropped.
#[pin_data(PinnedDrop)]
pub struct HookRegistration {
    #[pin]
    ops: Opaque<bindings::nf_hook_ops>,
    net: *mut bindings::net,
    /// Whether `ops` is registered; held across the C calls (which sleep),
    /// so that the hook is registered at most once and never outlives
    /// [`HookRegistration::unregister`].
    #[pin]
    registered: Mutex<bool>,
}

// SAFETY: the registration is only a handle to (un)register with; the core
// synchronises use of `ops`, the mutex our own use.
unsafe impl Send for HookRegistration {}
// SAFETY: as above.
unsafe impl Sync for HookRegistration {}

impl HookRegistration {
    /// `H` for `net`, not registered yet.
    ///
    /// The namespace must outlive the registration: keep it in the
    /// namespace's own state and drop it in `PernetState::pre_exit` or exit.
    pub fn new<H: Ipv6HookFn>(net: &Net) -> impl PinInit<Self> + '_ {
        pin_init!(Self {
            ops <- Opaque::ffi_init(|ops: *mut bindings::nf_hook_ops| {
                // SAFETY: `ops` is pinned storage for the C struct, which
                // is valid zeroed before its user part is set.
                unsafe {
                    ops.write(core::mem::zeroed());
                    (*ops).hook = Some(Self::trampoline::<H>);
                    (*ops).pf = bindings::NFPROTO_IPV6 as u8;
                    (*ops).hooknum = H::HOOK.to_raw();
                    (*ops).priority = H::PRIORITY;
                }
            }),
            net: net.as_ptr(),
            registered <- crate::new_mutex!(false),
        })
    }

    /// Registers the hook, unless it is registered already. Sleeps.
    pub fn register(&self) -> Result {
        let mut registered = self.registered.lock();
        if !*registered {
            // SAFETY: `new` filled `ops`, which is pinned; the owner keeps
            // `net` alive; the lock makes this happen once per unregister.
            to_result(unsafe { bindings::nf_register_net_hook(self.net, self.ops.get()) })?;
            *registered = true;
        }
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the core, as `nf_hook_ops::hook`, with a packet and a state
    /// valid for the call.
    unsafe extern "C" fn trampoline<H: Ipv6HookFn>(
        _priv: *mut core::ffi::c_void,
        skb: *mut bindings::sk_buff,
        state: *const bindings::nf_hook_state,
    ) -> u32 {
        // SAFETY: the core passes a packet the hook may modify and a valid
        // state, both for the duration of the call.
        let (skb, state) = unsafe { (SkBuff::from_raw(skb), HookState(&*state)) };
        H::hook(HookSkb(skb), &state).into_raw()
    }
}

impl HookRegistration {
    /// Unregisters now, if registered. A hook call already running may
    /// still be running on return: wait a grace period before freeing what
    /// it uses. Sleeps.
    pub fn unregister(&self) {
        let mut registered = self.registered.lock();
        if core::mem::replace(&mut *registered, false) {
            // SAFETY: registered by `register` on `net`, which the owner
            // keeps alive; the lock makes this happen once per register.
            unsafe { bindings::nf_unregister_net_hook(self.net, self.ops.get()) };
        }
    }
}

#[pinned_drop]
impl PinnedDrop for HookRegistration {
    fn drop(self: Pin<&mut Self>) {
        self.unregister();
    }
}
