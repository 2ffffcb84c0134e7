//! The kernel's "lin6" generic netlink API (spec: kmod/lin6.yaml).

#[allow(dead_code)]
pub mod uapi;
