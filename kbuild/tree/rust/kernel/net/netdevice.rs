// SPDX-License-Identifier: GPL-2.0

//! Network devices: a software layer-3 device whose transmit a Rust type
//! handles, one per network namespace.
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h)
//!
//! The device has no link layer (no ARP or neighbour discovery), no queue,
//! lockless transmit and software GSO, like the fallback devices of the
//! tunnel drivers (`ip6tnl0`, `sit0`). It is pinned to the namespace it was
//! made in, so its owner can keep it in that namespace's state.

use crate::{
    bindings, error::to_result, net::netns::Net, net::skbuff::OwnedSkb, prelude::*, str::CStr,
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};

/// A network device, borrowed from the C side.
#[repr(transparent)]
pub struct Device(Opaque<bindings::net_device>);

impl Device {
    /// Borrows the device behind `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and the device stays registered for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Device {
        // SAFETY: `Device` is a transparent wrapper; the caller vouches for
        // validity and lifetime.
        unsafe { &*ptr.cast() }
    }

    fn as_ptr(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// The namespace the device lives in.
    pub fn net(&self) -> &Net {
        // SAFETY: a registered device always has a namespace, which outlives
        // it (devices are moved or unregistered before their namespace goes).
        unsafe { Net::from_raw(bindings::dev_net(self.as_ptr())) }
    }

    /// The interface index.
    pub fn ifindex(&self) -> i32 {
        // SAFETY: `ifindex` is set at registration and never changes after.
        unsafe { (*self.as_ptr()).ifindex }
    }

    /// Counts a packet the device dropped on transmit (`ip -s link`'s
    /// "TX dropped").
    pub fn count_tx_dropped(&self) {
        // SAFETY: the device is live; the counter is per-CPU and safe to bump
        // from any context.
        unsafe { bindings::dev_core_stats_tx_dropped_inc(self.as_ptr()) };
    }
}

/// What a software device does with the packets sent to it.
pub trait SoftDevice: 'static {
    /// The device's name, the same in every namespace (`linsix0`, say).
    const NAME: &'static CStr;

    /// The device's MTU when it is made.
    const MTU: u32 = 1500;

    /// Transmits `skb`, which the device now owns: it is freed when dropped.
    ///
    /// Runs in softirq context (or with bottom halves off) and must not
    /// sleep.
    fn start_xmit(dev: &Device, skb: OwnedSkb);
}

struct Adapter<T: SoftDevice>(PhantomData<T>);

impl<T: SoftDevice> Adapter<T> {
    const OPS: bindings::net_device_ops = bindings::net_device_ops {
        ndo_start_xmit: Some(Self::start_xmit),
        // SAFETY: every other operation is optional; null means "not
        // supported" (or the core's default) to the core.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the core, as `ndo_start_xmit`, with one reference to `skb`
    /// and a registered `dev`.
    unsafe extern "C" fn start_xmit(
        skb: *mut bindings::sk_buff,
        dev: *mut bindings::net_device,
    ) -> bindings::netdev_tx_t {
        // SAFETY: the core hands us one reference to `skb` and calls us only
        // while `dev` is registered (unregistering waits for transmitters).
        let (skb, dev) = unsafe { (OwnedSkb::from_raw(skb), Device::from_raw(dev)) };
        T::start_xmit(dev, skb);
        bindings::netdev_tx_NETDEV_TX_OK
    }

    /// # Safety
    ///
    /// Called by `alloc_netdev_mqs` on the device it just allocated.
    unsafe extern "C" fn setup(dev: *mut bindings::net_device) {
        // SAFETY: `alloc_netdev_mqs` calls us on the device it just made,
        // before anyone else can see it.
        unsafe {
            bindings::netdev_setup_soft_l3(dev);
            (*dev).netdev_ops = &Self::OPS;
            (*dev).mtu = T::MTU;
        }
    }
}

/// A registered [`SoftDevice`] in one namespace; keep it in that
/// namespace's state.
///
/// [`Registration::unregister`] stops transmits; dropping unregisters (if
/// not done yet) and frees the device.
pub struct Registration<T: SoftDevice> {
    dev: NonNull<bindings::net_device>,
    registered: AtomicBool,
    _t: PhantomData<T>,
}

// SAFETY: the device pointer may be used from any thread; `unregister` is
// made once by the flag and the core serialises it with the RTNL lock.
unsafe impl<T: SoftDevice> Send for Registration<T> {}
// SAFETY: as above; `&self` only reads the device or unregisters it once.
unsafe impl<T: SoftDevice> Sync for Registration<T> {}

impl<T: SoftDevice> Registration<T> {
    /// Makes the device in `net` and registers it (down, with no address).
    ///
    /// Takes the RTNL lock: call it from process context, never with RTNL
    /// held (a pernet `init` is such a place).
    pub fn register(net: &Net) -> Result<Self> {
        // SAFETY: the name is NUL-terminated and shorter than IFNAMSIZ (the
        // core refuses it otherwise); `setup` fits any device; one queue.
        let dev = unsafe {
            bindings::alloc_netdev_mqs(
                0,
                T::NAME.as_char_ptr(),
                bindings::NET_NAME_UNKNOWN as u8,
                Some(Adapter::<T>::setup),
                1,
                1,
            )
        };
        let dev = NonNull::new(dev).ok_or(ENOMEM)?;
        // SAFETY: the device is ours and not yet registered; `net` is live,
        // and the device is unregistered before the namespace goes (the
        // owner keeps the registration in the namespace's state).
        unsafe { bindings::dev_net_set(dev.as_ptr(), net.as_ptr()) };
        // SAFETY: a fully set up device, not registered yet.
        if let Err(e) = to_result(unsafe { bindings::register_netdev(dev.as_ptr()) }) {
            // SAFETY: registration failed, so the device is still only ours.
            unsafe { bindings::free_netdev(dev.as_ptr()) };
            return Err(e);
        }
        Ok(Self {
            dev,
            registered: AtomicBool::new(true),
            _t: PhantomData,
        })
    }

    /// The device's interface index.
    pub fn ifindex(&self) -> i32 {
        // SAFETY: the device stays allocated until `drop` (unregistering
        // does not free it), and `ifindex` never changes after registration.
        unsafe { Device::from_raw(self.dev.as_ptr()) }.ifindex()
    }

    /// Unregisters now (once). On return no transmit is running or will
    /// run. Takes the RTNL lock: process context, RTNL not held.
    pub fn unregister(&self) {
        if self.registered.swap(false, Ordering::AcqRel) {
            // SAFETY: registered in `register`; the flag makes this happen
            // once. `unregister_netdev` waits for transmitters to finish.
            unsafe { bindings::unregister_netdev(self.dev.as_ptr()) };
        }
    }
}

impl<T: SoftDevice> Drop for Registration<T> {
    fn drop(&mut self) {
        self.unregister();
        // SAFETY: unregistered, so nothing of the core's refers to the
        // device any more but its refcount, which `free_netdev` respects.
        unsafe { bindings::free_netdev(self.dev.as_ptr()) };
    }
}
