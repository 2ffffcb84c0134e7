//! `lin6ctl stats`.

use lin6::netlink::{Client, Stats};

use crate::output::{CtlError, Out};

pub fn show(s: &Stats, out: &Out) -> std::io::Result<()> {
    if out.json {
        return out.json(s);
    }
    for (name, v) in s.counters() {
        out.line(&format!("{name} {v}"))?;
    }
    Ok(())
}

pub fn run(out: &Out) -> Result<(), CtlError> {
    let mut c = Client::connect()?;
    show(&c.stats()?, out)?;
    Ok(())
}
