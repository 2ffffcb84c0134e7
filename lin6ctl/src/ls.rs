//! `lin6ctl ls`: the load-sharing server's state and operator drain, through
//! lsd's HTTP listener (`metrics_listen`): `GET /state`, `POST /drain?ma=`,
//! `POST /undrain?ma=`. No kernel module involved.

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::output::{CtlError, Out};

/// Where lsd's `metrics_listen` is when --lsd is not given (the example in
/// docs/lsd.md).
pub const DEFAULT_LSD: &str = "[::1]:9731";
const TIMEOUT: Duration = Duration::from_secs(3);
/// lsd's answer is a few hundred bytes per MA and answer; 64 MiB is far
/// beyond any real table and bounds what a wrong address can make us read.
const MAX_RESPONSE: u64 = 64 << 20;

#[derive(Debug, Subcommand)]
pub enum LsCmd {
    /// The MA table (load, timer, state, users per MA), the answer cache and
    /// the peers of one lsd.
    #[command(
        after_help = "Examples:\n  lin6ctl ls status\n  lin6ctl -j ls status --lsd '[2001:db8::10]:9731'"
    )]
    Status(LsdArg),
    /// Send no new users to an MA; users already there are untouched.
    /// Only accepted from the lsd's own host (loopback).
    #[command(after_help = "Example:\n  lin6ctl ls drain 2001:db8:a::1")]
    Drain(DrainArgs),
    /// Undo a drain.
    Undrain(DrainArgs),
}

#[derive(Debug, Args)]
pub struct LsdArg {
    /// lsd's metrics_listen address.
    #[arg(long, default_value = DEFAULT_LSD)]
    pub lsd: String,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// The MA's address, as in the MA table.
    pub ma: Ipv6Addr,
    #[command(flatten)]
    pub lsd: LsdArg,
}

fn err(msg: String) -> CtlError {
    CtlError::Other(format!("lin6ctl: {msg}"))
}

/// One HTTP/1.0 request to lsd; the body of a 200 answer.
fn http(lsd: &str, method: &str, path: &str) -> Result<String, CtlError> {
    let addrs: Vec<SocketAddr> = lsd
        .to_socket_addrs()
        .map_err(|e| err(format!("--lsd {lsd}: {e}")))?
        .collect();
    let addr = addrs
        .first()
        .ok_or_else(|| err(format!("--lsd {lsd}: no address")))?;
    let mut s = TcpStream::connect_timeout(addr, TIMEOUT).map_err(|e| {
        err(format!(
            "cannot reach lsd at {lsd}: {e} (is metrics_listen set in lsd's config?)"
        ))
    })?;
    s.set_read_timeout(Some(TIMEOUT)).ok();
    s.set_write_timeout(Some(TIMEOUT)).ok();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: lsd\r\nContent-Length: 0\r\n\r\n"
    )
    .map_err(|e| err(format!("lsd at {lsd}: {e}")))?;
    let mut raw = Vec::new();
    s.take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .map_err(|e| err(format!("lsd at {lsd}: {e}")))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| err(format!("lsd at {lsd}: not an HTTP answer")))?;
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(err(format!(
            "lsd at {lsd}: {} {}",
            status.split_once(' ').map_or(status, |x| x.1),
            body.trim()
        )));
    }
    Ok(body.to_string())
}

fn parse(lsd: &str, body: &str) -> Result<Value, CtlError> {
    serde_json::from_str(body).map_err(|e| err(format!("lsd at {lsd}: bad JSON: {e}")))
}

pub fn run(c: LsCmd, out: &Out) -> Result<(), CtlError> {
    match c {
        LsCmd::Status(a) => {
            let v = parse(&a.lsd, &http(&a.lsd, "GET", "/state")?)?;
            if out.json {
                return Ok(out.json(&v)?);
            }
            status_text(&v, out)
        }
        LsCmd::Drain(a) => drain(a, true, out),
        LsCmd::Undrain(a) => drain(a, false, out),
    }
}

fn drain(a: DrainArgs, on: bool, out: &Out) -> Result<(), CtlError> {
    let path = format!("/{}?ma={}", if on { "drain" } else { "undrain" }, a.ma);
    let v = parse(&a.lsd.lsd, &http(&a.lsd.lsd, "POST", &path)?)?;
    if out.json {
        return Ok(out.json(&v)?);
    }
    let known = v["known"].as_bool().unwrap_or(false);
    out.line(&format!(
        "{} {}{}",
        a.ma,
        if on { "drained" } else { "undrained" },
        if known {
            ""
        } else {
            " (not in the MA table yet)"
        }
    ))?;
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn state_of(m: &Value) -> &'static str {
    let t = |k: &str| m[k].as_bool().unwrap_or(false);
    match (t("active"), t("admin_drained"), t("ma_draining")) {
        (false, _, _) => "inactive",
        (true, true, _) => "drained",
        (true, false, true) => "draining",
        (true, false, false) => "active",
    }
}

/// Human form: one section per table, one line per row.
fn status_text(v: &Value, out: &Out) -> Result<(), CtlError> {
    let empty = Vec::new();
    let mas = v["mas"].as_array().unwrap_or(&empty);
    out.line(&format!("MA table ({} entries)", mas.len()))?;
    out.line(&format!(
        "  {:<40} {:<9} {:>8} {:>8} {:>7} {:>7} {:>10}",
        "MA", "state", "load%", "timer_s", "normal", "premium", "cap_kbps"
    ))?;
    for m in mas {
        let load = m["load_ppm"].as_u64().unwrap_or(0) as f64 / 10_000.0;
        let timer = m["timer_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
        out.line(&format!(
            "  {:<40} {:<9} {:>8.1} {:>8.1} {:>7} {:>7} {:>10}",
            s(&m["addr"]),
            state_of(m),
            load,
            timer,
            s(&m["normal"]),
            s(&m["premium"]),
            s(&m["capacity_kbps"])
        ))?;
    }
    let answers = v["answers"].as_array().unwrap_or(&empty);
    out.line(&format!("answer cache ({} entries)", answers.len()))?;
    for a in answers {
        out.line(&format!(
            "  {:<24} -> {:<40} {}s left",
            s(&a["prefix"]),
            s(&a["ma"]),
            s(&a["timer_s"])
        ))?;
    }
    let peers = v["peers"].as_array().unwrap_or(&empty);
    out.line(&format!("peers ({})", peers.len()))?;
    for p in peers {
        out.line(&format!("  {:<40} {}", s(&p["addr"]), s(&p["status"])))?;
    }
    out.line(&format!(
        "pending decisions: {}",
        s(&v["pending_decisions"])
    ))?;
    Ok(())
}
