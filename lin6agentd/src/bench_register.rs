//! `lin6agentd bench-register`: the latency of Mapping Update Requests as a
//! moving node sees it, from the request leaving to the signed reply coming
//! back, one at a time (a node registers once per move, so what matters is
//! the latency of one, not the throughput of many).
//!
//! Each request is fresh (its node's sequence number one higher than the
//! last), authenticated, and switches its node to another prefix, so every
//! one goes through the whole registration path: key, HMAC, replay check
//! and the database write.

use lin6::addr::{NodeId, Prefix64};
use lin6::auth::Key;
use lin6::bench::Latency;
use lin6::wire::{Authenticated, Codec, UpdateCode, UpdateReply, UpdateRequest};
use serde::Serialize;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct RegisterParams {
    pub target: SocketAddr,
    /// Registered round-robin; each must be a subscriber with `key`.
    pub nodes: Vec<NodeId>,
    pub key: Key,
    /// The sequence number each node's first request carries; later ones
    /// count up from it.
    pub first_sequence: u32,
    pub registrations: u64,
    /// Requests sent (and not timed) before the measured ones.
    pub warmup: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegisterReport {
    pub registrations: u64,
    /// Replies with a code other than 0 (there should be none).
    pub refused: u64,
    /// Requests with no reply within `REPLY_TIMEOUT`.
    pub lost: u64,
    pub seconds: f64,
    #[serde(flatten)]
    pub latency: Latency,
}

impl std::fmt::Display for RegisterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} registrations in {:.2} s, refused {}, lost {}",
            self.registrations, self.seconds, self.refused, self.lost
        )?;
        write!(f, "latency us: {}", self.latency)
    }
}

const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

fn unix_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Sends the registrations one after another and times each reply.
/// Blocking: call it from a plain thread, not from an async task.
pub fn run(p: &RegisterParams) -> std::io::Result<RegisterReport> {
    if p.nodes.is_empty() {
        return Err(std::io::Error::other(
            "bench-register needs at least one node",
        ));
    }
    let bind: SocketAddr = if p.target.is_ipv6() {
        "[::]:0".parse().expect("literal")
    } else {
        "0.0.0.0:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(p.target)?;
    sock.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut buf = [0u8; 128];
    let (mut refused, mut lost) = (0, 0);
    let mut latencies = Vec::with_capacity(p.registrations as usize);
    let total = p.warmup + p.registrations;
    let mut start = Instant::now();
    for i in 0..total {
        if i == p.warmup {
            start = Instant::now();
        }
        let n = p.nodes.len() as u64;
        let node = p.nodes[(i % n) as usize];
        let round = (i / n) as u32;
        let sequence = p.first_sequence.wrapping_add(round);
        let req = Authenticated::sign(
            UpdateRequest {
                sequence,
                // A different prefix each round: every request moves its node.
                prefix: Prefix64::from_u64(0x2001_0db8_0000_0000 | u64::from(round % 3 + 1) << 16),
                node,
                timestamp: unix_secs(),
                lifetime: 600,
            },
            &p.key,
        )
        .to_vec();
        let sent = Instant::now();
        sock.send(&req)?;
        let reply = loop {
            match sock.recv(&mut buf) {
                Ok(len) => match Authenticated::<UpdateReply>::decode(&buf[..len]) {
                    Ok(r) if r.msg.sequence == sequence => break Some(r.msg),
                    // A late reply to an earlier request: not ours.
                    _ => continue,
                },
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break None;
                }
                Err(e) => return Err(e),
            }
        };
        if i < p.warmup {
            continue;
        }
        match reply {
            Some(r) if r.code == UpdateCode::Ok => {
                let us = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                latencies.push(us);
            }
            Some(_) => refused += 1,
            None => lost += 1,
        }
    }
    Ok(RegisterReport {
        registrations: latencies.len() as u64,
        refused,
        lost,
        seconds: start.elapsed().as_secs_f64(),
        latency: Latency::of(latencies),
    })
}
