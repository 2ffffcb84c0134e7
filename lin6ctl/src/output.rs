//! Writing results and errors: human text or JSON on stdout, one-line
//! errors on stderr, and the exit status for each kind of failure.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use lin6::netlink;
use serde::Serialize;

/// How a command failed; each kind has its own exit status (docs/lin6ctl.md).
#[derive(Debug)]
pub enum CtlError {
    Netlink(netlink::Error),
    /// Bad input found after parsing the command line (a file's contents).
    Invalid(String),
    /// `monitor --count N --timeout S` saw fewer than N events.
    MonitorTimeout {
        seen: u32,
        wanted: u32,
    },
    /// Writing the output failed (other than a closed pipe).
    Output(io::Error),
    /// A daemon could not be reached or refused (the message says which).
    Other(String),
}

impl From<netlink::Error> for CtlError {
    fn from(e: netlink::Error) -> Self {
        CtlError::Netlink(e)
    }
}

impl From<io::Error> for CtlError {
    fn from(e: io::Error) -> Self {
        CtlError::Output(e)
    }
}

pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const MODULE_NOT_LOADED: u8 = 3;
    pub const PERMISSION_DENIED: u8 = 4;
    pub const NO_SUCH_ENTRY: u8 = 5;
    pub const TABLE_FULL: u8 = 6;
    pub const TIMEOUT: u8 = 7;
}

impl CtlError {
    pub fn exit_code(&self) -> u8 {
        use netlink::Error as E;
        match self {
            CtlError::Netlink(E::ModuleNotLoaded) => exit::MODULE_NOT_LOADED,
            CtlError::Netlink(E::PermissionDenied(_)) => exit::PERMISSION_DENIED,
            CtlError::Netlink(E::NoSuchEntry(_)) => exit::NO_SUCH_ENTRY,
            CtlError::Netlink(E::TableFull(_)) => exit::TABLE_FULL,
            CtlError::Netlink(E::Invalid(_)) => exit::INVALID,
            CtlError::MonitorTimeout { .. } => exit::TIMEOUT,
            CtlError::Invalid(_) => exit::INVALID,
            _ => exit::FAILURE,
        }
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use netlink::Error as E;
        match self {
            // Names the module itself; no "lin6ctl:" in front.
            CtlError::Netlink(E::ModuleNotLoaded) => write!(f, "{}", E::ModuleNotLoaded),
            CtlError::Netlink(E::PermissionDenied(None)) => {
                f.write_str("lin6ctl: permission denied (this needs CAP_NET_ADMIN)")
            }
            CtlError::Netlink(e) => write!(f, "lin6ctl: {e}"),
            CtlError::Invalid(m) => write!(f, "lin6ctl: {m}"),
            CtlError::MonitorTimeout { seen, wanted } => {
                write!(
                    f,
                    "lin6ctl: monitor: timed out after {seen} of {wanted} events"
                )
            }
            CtlError::Output(e) => write!(f, "lin6ctl: writing output: {e}"),
            CtlError::Other(m) => f.write_str(m),
        }
    }
}

/// Reports `r` and turns it into the process's exit status. A closed
/// stdout (`lin6ctl monitor | head -1`) is not an error.
pub fn finish(r: Result<(), CtlError>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::from(exit::OK),
        Err(CtlError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            // stderr may be closed too; nothing more to do then.
            let _ = writeln!(io::stderr(), "{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Where a command writes: stdout, in the chosen format.
pub struct Out {
    pub json: bool,
    pub pretty: bool,
    stdout: io::Stdout,
}

impl Out {
    pub fn new(json: bool, pretty: bool) -> Out {
        Out {
            json,
            pretty,
            stdout: io::stdout(),
        }
    }

    /// Writes `value` as one JSON document (one line unless --pretty).
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        let s = if self.pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .map_err(io::Error::other)?;
        self.line(&s)
    }

    /// Writes one line and flushes it, so a reader sees it at once.
    pub fn line(&self, s: &str) -> io::Result<()> {
        let mut w = self.stdout.lock();
        w.write_all(s.as_bytes())?;
        w.write_all(b"\n")?;
        w.flush()
    }
}
