//! `--netns`: moving this process into another network namespace before it
//! opens any socket, as `ip -n` does. Scripts that drive many namespaces
//! save an exec per command this way (`ip netns exec NS lin6ctl` runs two
//! programs and remounts /sys).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::output::CtlError;

/// Enters the namespace `name`: a name under /run/netns (made by
/// `ip netns add`), or a path to a namespace file.
pub fn enter(name: &str) -> Result<(), CtlError> {
    let path = if name.contains('/') {
        PathBuf::from(name)
    } else {
        PathBuf::from("/run/netns").join(name)
    };
    let ns = File::open(&path).map_err(|e| {
        CtlError::Other(format!(
            "lin6ctl: network namespace {}: {e}",
            path.display()
        ))
    })?;
    // SAFETY: setns only reads the descriptor, which `ns` keeps open for
    // the call; it changes this (single-threaded) process's namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(CtlError::Other(format!(
            "lin6ctl: entering network namespace {}: {e}",
            path.display()
        )));
    }
    Ok(())
}
