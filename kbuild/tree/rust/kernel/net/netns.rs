// SPDX-License-Identifier: GPL-2.0

//! Network namespaces and per-namespace state.
//!
//! C headers: [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h),
//! [`include/net/netns/generic.h`](srctree/include/net/netns/generic.h)

use crate::{bindings, error::to_result, prelude::*, types::Opaque};
use core::{cell::UnsafeCell, marker::PhantomData, mem, ptr};

/// A network namespace, borrowed from the C side.
#[repr(transparent)]
pub struct Net(Opaque<bindings::net>);

// SAFETY: `struct net` is designed to be referenced from any CPU; the
// wrappers only read it or call C functions that do their own locking.
unsafe impl Sync for Net {}
// SAFETY: as above.
unsafe impl Send for Net {}

impl Net {
    /// Borrows the namespace behind `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and the namespace stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::net) -> &'a Net {
        // SAFETY: `Net` is a transparent wrapper and the caller vouches for
        // validity and lifetime.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer, for the C calls of the other `net` abstractions.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }

    /// The namespace's inode number, a stable name for it in logs.
    pub fn inum(&self) -> u32 {
        // SAFETY: `self` is a live namespace; `ns.inum` is set at creation
        // and never changes.
        unsafe { (*self.as_ptr()).ns.inum }
    }

    /// The first namespace, where the machine's own interfaces live.
    pub fn init() -> &'static Net {
        // SAFETY: `init_net` is a static that lives as long as the kernel.
        unsafe { Net::from_raw(ptr::addr_of!(bindings::init_net)) }
    }
}

/// State that a module keeps for every network namespace.
///
/// It is made when a namespace appears (or for every existing one when the
/// module registers), and dropped when the namespace goes (or the module
/// unregisters). Between [`PernetState::pre_exit`] and the drop there is an
/// RCU grace period, so a `pre_exit` that stops the readers (netfilter hooks,
/// say) guarantees that no reader sees the state being dropped.
pub trait PernetState: Sized + Send + Sync + 'static {
    /// The registration this state belongs to (a `static`).
    fn pernet() -> &'static Pernet<Self>;

    /// Builds the state for `net` (in place: it may hold locks and hooks).
    fn init(net: &Net) -> impl PinInit<Self, Error> + '_;

    /// Stops whatever reads the state before it is dropped.
    fn pre_exit(&self, _net: &Net) {}

    /// Whether the state owns network devices. Such a registration goes
    /// with the devices' (`register_pernet_device`): when a namespace dies,
    /// its `pre_exit` and drop run before the core unregisters the devices
    /// that are left, so the state can unregister its own first.
    const OWNS_DEVICES: bool = false;
}

/// The `pernet_operations` of one [`PernetState`]; declare it as a `static`.
pub struct Pernet<T: PernetState> {
    ops: Opaque<bindings::pernet_operations>,
    id: UnsafeCell<u32>,
    _t: PhantomData<T>,
}

// SAFETY: the core reads `ops` and writes `id` once, while registering; after
// that both are read-only, and `T` itself is `Send + Sync`.
unsafe impl<T: PernetState> Sync for Pernet<T> {}

// The core allocates the per-namespace area with kzalloc, whose alignment is
// at least that of a pointer: `T` lives behind a pointer to stay within it.
type Slot<T> = *mut T;

impl<T: PernetState> Pernet<T> {
    /// A registration, not yet made.
    pub const fn new() -> Self {
        Self {
            ops: Opaque::uninit(),
            id: UnsafeCell::new(0),
            _t: PhantomData,
        }
    }

    /// Registers: `T::init` runs for every namespace, now and later.
    ///
    /// The returned guard unregisters when dropped, dropping every `T`.
    pub fn register(&'static self) -> Result<PernetRegistration<T>> {
        // SAFETY: registration is made once per module load, before any
        // callback can run, so nothing reads `ops` concurrently; an all-zero
        // `pernet_operations` is valid (null callbacks, empty list head).
        unsafe {
            let ops = self.ops.get();
            ops.write(mem::zeroed());
            (*ops).init = Some(Self::init_callback);
            (*ops).pre_exit = Some(Self::pre_exit_callback);
            (*ops).exit = Some(Self::exit_callback);
            (*ops).id = self.id.get();
            (*ops).size = mem::size_of::<Slot<T>>();
        }
        // SAFETY: `ops` is initialised and lives in a `'static`.
        to_result(unsafe {
            if T::OWNS_DEVICES {
                bindings::register_pernet_device(self.ops.get())
            } else {
                bindings::register_pernet_subsys(self.ops.get())
            }
        })?;
        Ok(PernetRegistration { pernet: self })
    }

    /// The state of `net`.
    ///
    /// Callable from anything that runs only while the registration stands
    /// and `net` is alive: netfilter hooks registered by `T::init`, netlink
    /// handlers of a family unregistered before the state, notifiers.
    pub fn get<'a>(&'static self, net: &'a Net) -> Option<&'a T> {
        // SAFETY: `id` was written by the core during registration; the slot
        // is the area the core allocated for this namespace, holding null or
        // a pointer made by `init_callback` that stays valid until
        // `exit_callback`, which runs only after `pre_exit` and a grace
        // period.
        unsafe {
            let slot = bindings::net_generic(net.as_ptr(), *self.id.get()) as *const Slot<T>;
            if slot.is_null() {
                return None;
            }
            (*slot).as_ref()
        }
    }

    /// # Safety
    ///
    /// Called by the core, as `pernet_operations::init`, with a live
    /// namespace whose slot for our id is allocated and zeroed.
    unsafe extern "C" fn init_callback(net: *mut bindings::net) -> crate::ffi::c_int {
        // SAFETY: the core calls us with a live namespace.
        let n = unsafe { Net::from_raw(net) };
        let state = match KBox::pin_init(T::init(n), GFP_KERNEL) {
            Ok(s) => s,
            Err(e) => return e.to_errno(),
        };
        // SAFETY: the state stays where it is until `exit_callback` turns
        // the pointer back into the pinned box it came from.
        let state = unsafe { Pin::into_inner_unchecked(state) };
        // SAFETY: the core allocated `size` zeroed bytes for our id before
        // calling init; we own that slot.
        unsafe {
            let slot = bindings::net_generic(net, *T::pernet().id.get()) as *mut Slot<T>;
            slot.write(KBox::into_raw(state));
        }
        0
    }

    /// # Safety
    ///
    /// Called by the core, as `pernet_operations::pre_exit`, with a live
    /// namespace.
    unsafe extern "C" fn pre_exit_callback(net: *mut bindings::net) {
        // SAFETY: the core calls us with a live namespace.
        let n = unsafe { Net::from_raw(net) };
        if let Some(state) = T::pernet().get(n) {
            state.pre_exit(n);
        }
    }

    /// # Safety
    ///
    /// Called by the core, as `pernet_operations::exit`, a grace period
    /// after `pre_exit` for the same namespace.
    unsafe extern "C" fn exit_callback(net: *mut bindings::net) {
        // SAFETY: a grace period has passed since `pre_exit`; we take the
        // pointer out of the slot so nothing can reach it again, then drop.
        unsafe {
            let slot = bindings::net_generic(net, *T::pernet().id.get()) as *mut Slot<T>;
            let p = slot.replace(ptr::null_mut());
            if !p.is_null() {
                drop(KBox::from_raw(p));
            }
        }
    }
}

impl<T: PernetState> Default for Pernet<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Unregisters a [`Pernet`] when dropped.
pub struct PernetRegistration<T: PernetState> {
    pernet: &'static Pernet<T>,
}

impl<T: PernetState> Drop for PernetRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `Pernet::register`, the same way; this runs
        // pre_exit, waits a grace period and runs exit for every namespace.
        unsafe {
            if T::OWNS_DEVICES {
                bindings::unregister_pernet_device(self.pernet.ops.get())
            } else {
                bindings::unregister_pernet_subsys(self.pernet.ops.get())
            }
        }
    }
}
