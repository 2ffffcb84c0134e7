//! Errors of the kernel API client.

use std::io;

use thiserror::Error;

use super::codec::MalformedError;

/// What went wrong talking to lin6.ko. The variants callers act on
/// (module missing, no permission, no such mapping, table full, bad input)
/// are separate; any other kernel error keeps its errno and message.
#[derive(Debug, Error)]
pub enum Error {
    /// The "lin6" generic netlink family is not registered.
    #[error("lin6: kernel module not loaded (insmod lin6.ko)")]
    ModuleNotLoaded,
    /// The command needs CAP_NET_ADMIN (modifying commands, the events group).
    #[error("permission denied{}", suffix(.0))]
    PermissionDenied(Option<String>),
    /// No mapping for that Node ID.
    #[error("no such entry{}", suffix(.0))]
    NoSuchEntry(Option<String>),
    /// The mapping table holds `capacity` mappings already.
    #[error("mapping table is full{}", suffix_unless(.0, "mapping table is full"))]
    TableFull(Option<String>),
    /// The kernel refused the request as invalid (EINVAL), with its reason.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Any other errno from the kernel, with its extended ACK message if any.
    #[error("kernel error: {}{}", io::Error::from_raw_os_error(*errno), suffix(msg))]
    Kernel { errno: i32, msg: Option<String> },
    /// The kernel's reply could not be decoded (a module of another version?).
    #[error("malformed reply from the kernel: {0}")]
    Protocol(String),
    /// The kernel did not answer in time.
    #[error("no reply from the kernel within {0:?}")]
    Timeout(std::time::Duration),
    /// The socket's receive buffer overflowed: events were lost. The stream
    /// is still usable; a daemon should re-read the state it mirrors.
    #[error("events lost: the socket receive buffer overflowed")]
    EventsLost,
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
}

/// The kernel's message, unless it only repeats what we already say.
fn suffix_unless(msg: &Option<String>, said: &str) -> String {
    match msg {
        Some(m) if m == said => String::new(),
        _ => suffix(msg),
    }
}

fn suffix(msg: &Option<String>) -> String {
    match msg {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

impl From<MalformedError> for Error {
    fn from(e: MalformedError) -> Self {
        Error::Protocol(e.0)
    }
}

impl Error {
    /// Maps a kernel errno (positive) and extended ACK message to an error.
    pub fn from_errno(errno: i32, msg: Option<String>) -> Error {
        match errno {
            libc::EPERM | libc::EACCES => Error::PermissionDenied(msg),
            libc::ENOENT => Error::NoSuchEntry(msg),
            libc::ENOSPC => Error::TableFull(msg),
            libc::EINVAL => Error::Invalid(msg.unwrap_or_else(|| "refused by the kernel".into())),
            _ => Error::Kernel { errno, msg },
        }
    }

    /// The errno behind this error, if it came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::PermissionDenied(_) => Some(libc::EPERM),
            Error::NoSuchEntry(_) => Some(libc::ENOENT),
            Error::TableFull(_) => Some(libc::ENOSPC),
            Error::Invalid(_) => Some(libc::EINVAL),
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_map_to_the_variants_callers_act_on() {
        assert!(matches!(
            Error::from_errno(libc::EPERM, None),
            Error::PermissionDenied(None)
        ));
        let full = Error::from_errno(libc::ENOSPC, Some("mapping table is full".into()));
        assert!(matches!(full, Error::TableFull(Some(_))));
        assert_eq!(full.to_string(), "mapping table is full");
        let e = Error::from_errno(libc::EINVAL, Some("prefix is required".into()));
        assert_eq!(e.to_string(), "invalid argument: prefix is required");
        let e = Error::from_errno(libc::ENODEV, Some("lin6: no state".into()));
        assert_eq!(e.errno(), Some(libc::ENODEV));
        assert!(e.to_string().ends_with(": lin6: no state"), "{e}");
        assert_eq!(
            Error::ModuleNotLoaded.to_string(),
            "lin6: kernel module not loaded (insmod lin6.ko)"
        );
    }
}
