// SPDX-License-Identifier: GPL-2.0

//! Notifications of IPv6 addresses coming and going.
//!
//! C header: [`include/net/addrconf.h`](srctree/include/net/addrconf.h)
//!
//! The callback runs in atomic context (an atomic notifier chain, under
//! RCU): it must not sleep.

use crate::{
    bindings, error::to_result, net::netns::Net, net::skbuff::In6Addr, prelude::*, types::Opaque,
};
use core::{ffi::c_void, marker::PhantomData};

/// What happened to an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrEvent {
    /// The address is usable (after duplicate address detection).
    Up,
    /// The address went away.
    Down,
}

/// Receives address events for every namespace.
pub trait Inet6AddrHandler: Sized + 'static {
    /// The registration this handler belongs to (a `static`).
    fn notifier() -> &'static Inet6AddrNotifier<Self>;
    /// `addr` on interface `ifindex` in `net` came up or went down.
    fn event(event: AddrEvent, addr: &In6Addr, ifindex: i32, net: &Net);
}

/// The notifier block of one handler; declare it as a `static`.
pub struct Inet6AddrNotifier<T: Inet6AddrHandler> {
    nb: Opaque<bindings::notifier_block>,
    _t: PhantomData<T>,
}

// SAFETY: the core links `nb` into its chain while registering and reads it
// under its own locking; we never touch it otherwise.
unsafe impl<T: Inet6AddrHandler> Sync for Inet6AddrNotifier<T> {}

impl<T: Inet6AddrHandler> Inet6AddrNotifier<T> {
    /// A notifier, not yet registered.
    pub const fn new() -> Self {
        Self {
            nb: Opaque::uninit(),
            _t: PhantomData,
        }
    }

    /// Registers; the guard unregisters when dropped.
    pub fn register(&'static self) -> Result<Inet6AddrRegistration<T>> {
        // SAFETY: registered once per module load before anything can call
        // it; an all-zero block is a valid unlinked one.
        unsafe {
            let nb = self.nb.get();
            nb.write(core::mem::zeroed());
            (*nb).notifier_call = Some(Self::call);
            to_result(bindings::register_inet6addr_notifier(nb))?;
        }
        Ok(Inet6AddrRegistration { notifier: self })
    }

    /// # Safety
    ///
    /// Called by the inet6addr notifier chain with an event and the
    /// `inet6_ifaddr` it is about, valid for the call.
    unsafe extern "C" fn call(
        _nb: *mut bindings::notifier_block,
        event: crate::ffi::c_ulong,
        ptr: *mut c_void,
    ) -> i32 {
        let event = match event as u32 {
            bindings::netdev_cmd_NETDEV_UP => AddrEvent::Up,
            bindings::netdev_cmd_NETDEV_DOWN => AddrEvent::Down,
            _ => return bindings::NOTIFY_DONE as i32,
        };
        let mut addr: In6Addr = [0; 16];
        let mut ifindex = 0;
        // SAFETY: the chain passes a live `inet6_ifaddr`; the helper copies
        // out the address and interface index and returns the device's
        // namespace, alive while its address is being notified.
        let net =
            unsafe { bindings::inet6_ifaddr_info(ptr.cast(), addr.as_mut_ptr(), &mut ifindex) };
        if !net.is_null() {
            // SAFETY: non-null, and alive for the call (above).
            T::event(event, &addr, ifindex, unsafe { Net::from_raw(net) });
        }
        bindings::NOTIFY_DONE as i32
    }
}

impl<T: Inet6AddrHandler> Default for Inet6AddrNotifier<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Unregisters an [`Inet6AddrNotifier`] when dropped.
pub struct Inet6AddrRegistration<T: Inet6AddrHandler> {
    notifier: &'static Inet6AddrNotifier<T>,
}

impl<T: Inet6AddrHandler> Drop for Inet6AddrRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; on return no call is running.
        unsafe { bindings::unregister_inet6addr_notifier(self.notifier.nb.get()) };
    }
}
