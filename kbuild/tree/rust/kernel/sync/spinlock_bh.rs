// SPDX-License-Identifier: GPL-2.0

//! A spinlock that also disables softirqs (`spin_lock_bh`).
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)
//!
//! For data touched both from process context and from softirqs (netfilter
//! hooks on the receive path, timers): a plain spinlock taken in process
//! context could be interrupted by a softirq that takes it again.

/// Creates a [`SpinLockBh`] initialiser with the given name and a new lock
/// class.
#[macro_export]
macro_rules! new_spinlock_bh {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::SpinLockBh::new(
            $inner, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
pub use new_spinlock_bh;

/// A spinlock taken with softirqs disabled.
pub type SpinLockBh<T> = super::lock::Lock<T, SpinLockBhBackend>;

/// The backend of [`SpinLockBh`].
pub struct SpinLockBhBackend;

// SAFETY: `spinlock_t` ensures mutual exclusion; `spin_lock_bh` also keeps
// softirqs on this CPU from running while it is held.
unsafe impl super::lock::Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const crate::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: per the trait's contract, `ptr` is valid for writes and
        // `name` and `key` live forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: per the trait's contract the lock is initialised.
        unsafe { bindings::spin_lock_bh(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: per the trait's contract the caller owns the lock.
        unsafe { bindings::spin_unlock_bh(ptr) }
    }
}
