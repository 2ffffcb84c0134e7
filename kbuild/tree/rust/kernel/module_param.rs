// SPDX-License-Identifier: GPL-2.0

//! Module parameters of the simple kinds (`uint`, `bool`), set at load time
//! (`insmod lin6.ko max_mappings=8192`) and read-only after (mode 0444), or
//! `writable` (mode 0644) through `/sys/module/NAME/parameters/` too.
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h)

use crate::bindings;
use core::cell::UnsafeCell;

/// A parameter's storage: the kernel writes the value given at load time
/// before the module's `init` runs; a `writable` one may change later, by
/// one aligned store of the C `param_set_*` (under `kernel_param_lock`),
/// which a reader sees whole: reads are volatile, as C's `READ_ONCE`.
#[repr(transparent)]
pub struct ParamValue<T: Copy>(UnsafeCell<T>);

// SAFETY: written by the module loader before `init`, and for a `writable`
// parameter by single aligned stores of a `u32` or `bool` from sysfs, which
// `get`'s volatile loads cannot see torn.
unsafe impl<T: Copy + Send> Sync for ParamValue<T> {}

impl<T: Copy> ParamValue<T> {
    /// Storage holding `default` until the loader writes the given value.
    pub const fn new(default: T) -> Self {
        Self(UnsafeCell::new(default))
    }

    /// The value.
    pub fn get(&self) -> T {
        // SAFETY: see the `Sync` impl: the storage is valid and aligned, and
        // any writer stores whole values.
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }

    /// The pointer the C `kernel_param` refers to.
    pub const fn as_arg(&self) -> *mut core::ffi::c_void {
        self.0.get().cast()
    }
}

/// A `struct kernel_param` in the `__param` section.
#[repr(transparent)]
pub struct KernelParam(pub bindings::kernel_param);

// SAFETY: read by the module loader only; points at statics.
unsafe impl Sync for KernelParam {}

/// Copies a string into a fixed array, for `.modinfo` entries.
pub const fn modinfo<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let mut i = 0;
    while i < s.len() && i < N {
        a[i] = s[i];
        i += 1;
    }
    a
}

/// Declares a module parameter and the static that holds it: read-only
/// once loaded, or `writable` by root through sysfs while the module runs.
///
/// ```ignore
/// kernel::module_param!(pub(crate) MAX_MAPPINGS: u32 = 4096, "max_mappings", uint,
///                       "Most mappings per namespace");
/// kernel::module_param!(pub(crate) VERBOSE: bool = false, "verbose", bool, writable,
///                       "Log every change");
/// ```
/// `$kind` is `uint` (for `u32`) or `bool` (for `bool`).
#[macro_export]
macro_rules! module_param {
    ($vis:vis $storage:ident : $ty:ty = $default:expr, $name:literal, $kind:ident, $desc:literal) => {
        $crate::module_param!(@perm 0o444, $vis $storage: $ty = $default, $name, $kind, $desc);
    };
    ($vis:vis $storage:ident : $ty:ty = $default:expr, $name:literal, $kind:ident, writable,
     $desc:literal) => {
        $crate::module_param!(@perm 0o644, $vis $storage: $ty = $default, $name, $kind, $desc);
    };
    (@perm $perm:literal, $vis:vis $storage:ident : $ty:ty = $default:expr, $name:literal,
     $kind:ident, $desc:literal) => {
        $vis static $storage: $crate::module_param::ParamValue<$ty> =
            $crate::module_param::ParamValue::new($default);

        const _: () = {
            extern "C" {
                static __this_module: $crate::types::Opaque<$crate::bindings::module>;
            }

            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: $crate::module_param::KernelParam =
                $crate::module_param::KernelParam($crate::bindings::kernel_param {
                    name: concat!($name, "\0").as_ptr().cast(),
                    // SAFETY: only the address of the module is taken.
                    mod_: unsafe { __this_module.get() },
                    // SAFETY: only the address of the C ops is taken.
                    ops: unsafe { ::core::ptr::addr_of!($crate::__param_ops!($kind)) },
                    perm: $perm,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: $crate::bindings::kernel_param__bindgen_ty_1 {
                        arg: $storage.as_arg(),
                    },
                });

            // `used(compiler)`, as the `module!` macro does: a linker-retained
            // section would stay apart from the others of its name, and
            // modpost and the loader read only one.
            const TYPE: &[u8] = concat!("parmtype=", $name, ":", stringify!($kind), "\0").as_bytes();
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; TYPE.len()] = $crate::module_param::modinfo(TYPE);

            const DESC: &[u8] = concat!("parm=", $name, ":", $desc, "\0").as_bytes();
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; DESC.len()] = $crate::module_param::modinfo(DESC);
        };
    };
}

/// The C `kernel_param_ops` of a parameter kind.
#[doc(hidden)]
#[macro_export]
macro_rules! __param_ops {
    (uint) => {
        $crate::bindings::param_ops_uint
    };
    (bool) => {
        $crate::bindings::param_ops_bool
    };
}
