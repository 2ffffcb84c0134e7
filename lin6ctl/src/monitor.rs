//! `lin6ctl monitor`: events as they happen, one line each.

use std::io::Write;
use std::time::Instant;

use lin6::netlink::{Error, EventStream};

use crate::cli::MonitorArgs;
use crate::output::{CtlError, Out};

pub fn run(a: MonitorArgs, out: &Out) -> Result<(), CtlError> {
    let mut events = EventStream::subscribe()?;
    let deadline = a.timeout.map(|t| Instant::now() + t);
    let wanted = a.count.map(|n| n.get());
    let mut seen = 0u32;
    while wanted.is_none_or(|w| seen < w) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match events.next_event(left) {
            Ok(Some(ev)) => {
                seen += 1;
                if out.json {
                    out.json(&ev)?;
                } else {
                    out.line(&ev.to_string())?;
                }
            }
            Ok(None) => {
                return match wanted {
                    Some(w) => Err(CtlError::MonitorTimeout { seen, wanted: w }),
                    None => Ok(()),
                };
            }
            // Lost events are worth knowing about but do not end the watch.
            Err(Error::EventsLost) => {
                let _ = writeln!(std::io::stderr(), "lin6ctl: warning: {}", Error::EventsLost);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
