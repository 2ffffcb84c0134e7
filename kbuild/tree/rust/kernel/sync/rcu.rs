// SPDX-License-Identifier: GPL-2.0

//! Read-copy-update.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)
//!
//! [`RcuBox`] is the one shape lin6 needs: a pointer to an immutable value
//! that readers follow without locks, and that a (serialised) writer replaces
//! wholesale; the old value is freed once every reader has left. [`RcuCell`]
//! pairs one with the mutex that serialises its writers, so that neither
//! side needs `unsafe`.

use crate::{
    alloc::{flags::GFP_KERNEL, AllocError, Flags, KBox},
    bindings,
    prelude::*,
    sync::Mutex,
};
use core::{
    marker::PhantomData,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// An RCU read-side critical section; it ends when the guard is dropped.
#[must_use]
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters a read-side critical section.
    #[inline]
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock` has no preconditions; the matching unlock is
        // in `Drop`, and the raw-pointer marker keeps the guard on this CPU's task.
        unsafe { bindings::rcu_read_lock() };
        Guard(PhantomData)
    }
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard was made by `Guard::new`, which took the lock.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Enters a read-side critical section.
#[inline]
pub fn read_lock() -> Guard {
    Guard::new()
}

/// Waits until every read-side critical section that began before the call
/// has ended. Sleeps: process context only.
pub fn synchronize_rcu() {
    // SAFETY: `synchronize_rcu` may be called from any sleepable context; the
    // `might_sleep` inside it reports misuse under DEBUG_ATOMIC_SLEEP.
    unsafe { bindings::synchronize_rcu() };
}

/// Waits until every callback queued with `call_rcu` has run. A module that
/// queued any must call this before its code goes away.
pub fn barrier() {
    // SAFETY: `rcu_barrier` may be called from any sleepable context.
    unsafe { bindings::rcu_barrier() };
}

#[repr(C)]
struct Node<T> {
    // First, so that the callback's `rcu_head` pointer is the node's.
    head: bindings::callback_head,
    value: T,
}

/// An RCU-protected owning pointer to a `T` that is never mutated in place.
///
/// Readers call [`RcuBox::get`] under a [`Guard`]; a writer calls
/// [`RcuBox::replace`], and the old value is dropped by an RCU callback
/// after a grace period, so writers never sleep on readers. Writers must be
/// serialised by the caller (a mutex). `T` is dropped in softirq context:
/// its `Drop` must not sleep. A module owning an `RcuBox` calls [`barrier`]
/// before unloading.
pub struct RcuBox<T: Send + Sync> {
    ptr: AtomicPtr<Node<T>>,
    _owns: PhantomData<KBox<Node<T>>>,
}

// SAFETY: readers on any CPU only get `&T`, so `T: Sync` is needed; the value
// is dropped on whichever CPU runs the callback, so `T: Send` too.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}

impl<T: Send + Sync> RcuBox<T> {
    fn node(value: T, flags: Flags) -> Result<*mut Node<T>, AllocError> {
        let node = KBox::new(
            Node {
                // SAFETY: an all-zero `rcu_head` is its unqueued state.
                head: unsafe { core::mem::zeroed() },
                value,
            },
            flags,
        )?;
        Ok(KBox::into_raw(node))
    }

    /// Makes a box holding `value`.
    pub fn new(value: T, flags: Flags) -> Result<Self, AllocError> {
        Ok(Self {
            ptr: AtomicPtr::new(Self::node(value, flags)?),
            _owns: PhantomData,
        })
    }

    /// The current value, valid for as long as the read-side section lasts.
    #[inline]
    pub fn get<'a>(&'a self, _guard: &'a Guard) -> &'a T {
        // `Acquire` orders the reads of the pointee after the load, which is
        // what `rcu_dereference` guarantees in C.
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: the pointer always comes from `KBox::into_raw` and is never
        // null while `self` lives; a replaced value is freed only after a
        // grace period, and the guard borrowed for `'a` keeps this reader
        // inside the current one.
        unsafe { &(*p).value }
    }

    /// The current value, for a caller that holds the writers' lock.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock that serialises calls to `replace`.
    #[inline]
    pub unsafe fn get_locked(&self) -> &T {
        // SAFETY: per the contract no writer can free the value while the
        // caller holds the writers' lock.
        unsafe { &(*self.ptr.load(Ordering::Acquire)).value }
    }

    /// Publishes `value`; the old one is dropped after a grace period.
    ///
    /// # Safety
    ///
    /// Calls must be serialised: the caller holds the writers' lock.
    pub unsafe fn replace(&self, value: T, flags: Flags) -> Result<(), AllocError> {
        let new = Self::node(value, flags)?;
        // `Release` publishes the new value's contents before its address,
        // the `rcu_assign_pointer` guarantee.
        let old = self.ptr.swap(new, Ordering::AcqRel);
        // SAFETY: `old` came from `KBox::into_raw` and is out of `self`; its
        // head is unqueued (each node is queued once, here).
        unsafe { bindings::call_rcu(ptr::addr_of_mut!((*old).head), Some(Self::free)) };
        Ok(())
    }

    /// # Safety
    ///
    /// Called by RCU, as the callback queued by `call_rcu`, with the
    /// `rcu_head` embedded in an allocation made by this type.
    unsafe extern "C" fn free(head: *mut bindings::callback_head) {
        // SAFETY: `head` is the first field of a `Node<T>` made by
        // `KBox::into_raw` (`repr(C)`), and a grace period has passed.
        drop(unsafe { KBox::from_raw(head.cast::<Node<T>>()) });
    }
}

impl<T: Send + Sync> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = self.ptr.swap(ptr::null_mut(), Ordering::AcqRel);
        // The owner drops the box only once no reader can reach it (its
        // readers were stopped a grace period ago), yet a reader that found
        // the pointer just before may still run: defer the free all the same.
        // SAFETY: `p` came from `KBox::into_raw` and is out of `self`.
        unsafe { bindings::call_rcu(ptr::addr_of_mut!((*p).head), Some(Self::free)) };
    }
}

/// An [`RcuBox`] with the mutex that serialises its writers: readers follow
/// it as they would the box, writers go through [`RcuCell::update`].
#[pin_data]
pub struct RcuCell<T: Send + Sync> {
    #[pin]
    writer: Mutex<()>,
    value: RcuBox<T>,
}

impl<T: Send + Sync> RcuCell<T> {
    /// Makes a cell holding `value`.
    pub fn new(value: T, flags: Flags) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            writer <- crate::new_mutex!(()),
            value: RcuBox::new(value, flags)?,
        }? Error)
    }

    /// The current value, valid for as long as the read-side section lasts.
    #[inline]
    pub fn get<'a>(&'a self, guard: &'a Guard) -> &'a T {
        self.value.get(guard)
    }

    /// Publishes what `f` makes of the current value, and returns what
    /// else `f` returned; an error from `f` leaves the value as it was.
    /// `f` runs under the writers' mutex, so it sees the latest value and
    /// may sleep; so does the caller.
    pub fn update<R, E: From<AllocError>>(
        &self,
        f: impl FnOnce(&T) -> Result<(T, R), E>,
    ) -> Result<R, E> {
        let _writer = self.writer.lock();
        // SAFETY: we hold the writers' lock.
        let (next, r) = f(unsafe { self.value.get_locked() })?;
        // SAFETY: as above.
        unsafe { self.value.replace(next, GFP_KERNEL) }?;
        Ok(r)
    }
}
