// SPDX-License-Identifier: GPL-2.0

//! One-shot kernel timers, and the clock of the timekeeping tick.
//!
//! C header: [`include/linux/timer.h`](srctree/include/linux/timer.h)
//!
//! The callback runs in softirq context: it must not sleep.

use crate::{bindings, prelude::*, time::msecs_to_jiffies, types::Opaque};
use core::marker::PhantomData;

/// A timer that calls `func(ctx)` when it fires.
#[repr(C)]
pub struct Timer<T: Sync> {
    // First, so the callback's `timer_list` pointer is the `Timer`'s.
    raw: Opaque<bindings::timer_list>,
    ctx: *const T,
    func: fn(&T),
    _t: PhantomData<T>,
}

// SAFETY: the context is only ever used as `&T` with `T: Sync`, and the C
// timer API may be called from any CPU.
unsafe impl<T: Sync> Send for Timer<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Timer<T> {}

impl<T: Sync> Timer<T> {
    /// A timer, not armed, that will call `func(ctx)`.
    ///
    /// `ctx` must outlive the timer: keep the timer inside what `ctx` points
    /// into (or inside its owner), and stop it before `ctx` goes.
    pub fn new(ctx: &T, func: fn(&T)) -> impl PinInit<Self> + '_ {
        let init = move |this: *mut Self| {
            // SAFETY: `this` is pinned, uninitialised storage; we fill every
            // field, and `timer_setup` initialises the C timer in place.
            unsafe {
                core::ptr::addr_of_mut!((*this).ctx).write(ctx);
                core::ptr::addr_of_mut!((*this).func).write(func);
                bindings::timer_setup(
                    Opaque::raw_get(core::ptr::addr_of!((*this).raw)),
                    Some(Self::fire),
                    0,
                );
            }
            Ok(())
        };
        // SAFETY: the closure initialises all of `Self` and never fails.
        unsafe { crate::init::pin_init_from_closure::<Self, core::convert::Infallible>(init) }
    }

    /// Arms (or re-arms) the timer to fire in `ms` milliseconds.
    pub fn arm_ms(&self, ms: u32) {
        // SAFETY: the timer was set up in `new`; `jiffies` is read by the
        // helper, and re-arming a pending timer is allowed.
        unsafe {
            bindings::mod_timer(
                self.raw.get(),
                bindings::jiffies_now() + msecs_to_jiffies(ms),
            )
        };
    }

    /// Stops the timer and waits for a running callback to finish.
    /// Process context only; the callback must not re-arm it unconditionally.
    pub fn cancel_sync(&self) {
        // SAFETY: the timer was set up in `new`.
        unsafe { bindings::timer_delete_sync(self.raw.get()) };
    }

    /// # Safety
    ///
    /// Called by the timer core, as the `timer_list` function, with the
    /// timer embedded in a live `Timer`.
    unsafe extern "C" fn fire(t: *mut bindings::timer_list) {
        // SAFETY: `raw` is the first field of the `repr(C)` `Timer`, so the
        // pointer is the timer's; it lives (pinned) while it can fire.
        let this = unsafe { &*t.cast::<Self>() };
        // SAFETY: the owner keeps `ctx` alive while the timer can fire.
        (this.func)(unsafe { &*this.ctx });
    }
}

impl<T: Sync> Drop for Timer<T> {
    fn drop(&mut self) {
        self.cancel_sync();
    }
}

/// Seconds of the monotonic clock (`CLOCK_MONOTONIC`), as of the last
/// timekeeping update: no clocksource read, so cheap enough for every
/// packet where a second is the unit (lifetimes).
#[inline]
pub fn monotonic_seconds() -> i64 {
    // SAFETY: `ktime_get_seconds` reads one word of the timekeeper and may
    // be called from any context.
    unsafe { bindings::ktime_get_seconds() }
}
