// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters.
//!
//! C header: [`include/linux/percpu.h`](srctree/include/linux/percpu.h)
//!
//! Each CPU adds to its own copy, with no shared cache line and no atomic
//! read-modify-write; readers sum the copies (a snapshot, not a barrier).

use crate::{alloc::AllocError, bindings};
use core::ffi::c_void;

/// `N` per-CPU `u64` counters.
pub struct PerCpuCounters<const N: usize> {
    ptr: *mut c_void,
}

// SAFETY: each CPU writes only its own copy, with preemption disabled by the
// helper; reads sum all copies.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}
// SAFETY: the allocation may be freed from any CPU.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// Zeroed counters.
    pub fn new() -> Result<Self, AllocError> {
        let n = u32::try_from(N).map_err(|_| AllocError)?;
        // SAFETY: allocating per-CPU memory has no preconditions; the area
        // is zeroed by the allocator.
        let ptr: *mut c_void = unsafe { bindings::percpu_u64_alloc(n) }.cast();
        if ptr.is_null() {
            return Err(AllocError);
        }
        Ok(Self { ptr })
    }

    /// Adds `n` to counter `i` on this CPU. Any context.
    #[inline]
    pub fn add(&self, i: usize, n: u64) {
        if i < N {
            // SAFETY: `ptr` is a live per-CPU area of `N` u64s; `i < N`.
            unsafe { bindings::percpu_u64_add(self.ptr.cast(), i as u32, n) };
        }
    }

    /// The sum of counter `i` over all CPUs.
    pub fn sum(&self, i: usize) -> u64 {
        if i >= N {
            return 0;
        }
        // SAFETY: as in `add`.
        unsafe { bindings::percpu_u64_sum(self.ptr.cast(), i as u32) }
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`; nobody can add once we are dropped.
        unsafe { bindings::free_percpu(self.ptr) };
    }
}

/// The CPU's cycle counter (the TSC on x86): for measuring short spans on
/// one CPU, not for telling time.
#[inline]
pub fn cycles() -> u64 {
    // SAFETY: reading the cycle counter has no preconditions.
    unsafe { bindings::cycles_now() }
}
