//! `lin6agentd bench-query`: a load generator for the MA Query service.
//!
//! Client threads each keep `window` queries in flight, batching their
//! system calls as the agent does (`mmsg`): every answer is timed and immediately replaced by a new query, so
//! the figure is answers per second at that concurrency, with the latency
//! each answer saw. Sequence numbers carry (slot, generation), so a late
//! answer to a query that was already given up on is not timed twice.

use crate::mmsg::Batch;
use lin6::addr::NodeId;
use lin6::bench::{Latency, Rate, process_cpu_seconds};
use lin6::wire::{Codec, MaQuery, MaReply, QueryAnswer};
use serde::Serialize;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchParams {
    pub target: SocketAddr,
    pub nodes: Vec<NodeId>,
    pub threads: usize,
    pub window: usize,
    pub duration: Duration,
    pub warmup: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub found: u64,
    pub not_found: u64,
    /// Queries given up on after `LOST_AFTER` (resent).
    pub lost: u64,
    /// Answers per second of the whole process (agent, when in-process,
    /// and load generator together).
    #[serde(flatten)]
    pub rate: Rate,
    #[serde(flatten)]
    pub latency: Latency,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.rate)?;
        writeln!(
            f,
            "found {}, no mapping {}, lost {}",
            self.found, self.not_found, self.lost
        )?;
        write!(f, "latency us: {}", self.latency)
    }
}

/// A query unanswered for this long is counted lost and sent again.
const LOST_AFTER: Duration = Duration::from_millis(200);

#[derive(Default)]
struct ThreadResult {
    found: u64,
    not_found: u64,
    lost: u64,
    latencies_us: Vec<u32>,
}

/// Waits until `fd` is ready for `events` or `ms` milliseconds pass.
fn wait_fd(fd: std::os::fd::RawFd, events: libc::c_short, ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut p, 1, ms) };
}

fn client(p: &BenchParams, idx: usize, start: Instant) -> std::io::Result<ThreadResult> {
    let bind: SocketAddr = if p.target.is_ipv6() {
        "[::]:0".parse().expect("literal")
    } else {
        "0.0.0.0:0".parse().expect("literal")
    };
    let s = UdpSocket::bind(bind)?;
    s.connect(p.target)?;
    s.set_nonblocking(true)?;
    let fd = s.as_raw_fd();
    let window = p.window.clamp(1, 0xffff);
    let mut sent_at = vec![start; window];
    let mut generation = vec![0u16; window];
    let mut next_node = idx.wrapping_mul(7919) % p.nodes.len();
    let measure_from = start + p.warmup;
    let end = measure_from + p.duration;
    let mut r = ThreadResult::default();
    let mut out = Vec::with_capacity(32);
    // The next query for `slot`, encoded into `out`.
    let mut next_query = |slot: usize, generation: &mut [u16], sent_at: &mut [Instant]| {
        generation[slot] = generation[slot].wrapping_add(1);
        let q = MaQuery {
            sequence: (u32::from(generation[slot]) << 16) | slot as u32,
            node: p.nodes[next_node],
            timestamp: 0,
        };
        next_node = (next_node + 1) % p.nodes.len();
        out.clear();
        q.encode(&mut out);
        sent_at[slot] = Instant::now();
        let mut bytes = [0u8; MaQuery::LEN];
        bytes.copy_from_slice(&out);
        bytes
    };
    let send_one = |bytes: &[u8]| loop {
        match s.send(bytes) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait_fd(fd, libc::POLLOUT, 10),
            // Port closed (ICMP unreachable): the lost-query timer resends.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(()),
            Err(e) => return Err(e),
        }
    };
    for slot in 0..window {
        send_one(&next_query(slot, &mut generation, &mut sent_at))?;
    }
    let mut batch = Batch::new();
    loop {
        let n = match batch.recv(fd) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                for slot in 0..window {
                    if now.duration_since(sent_at[slot]) >= LOST_AFTER {
                        if now >= measure_from {
                            r.lost += 1;
                        }
                        send_one(&next_query(slot, &mut generation, &mut sent_at))?;
                    }
                }
                wait_fd(fd, libc::POLLIN, 20);
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        for i in 0..n {
            let Ok(reply) = MaReply::decode(batch.datagram(i)) else {
                continue;
            };
            let slot = (reply.sequence & 0xffff) as usize;
            if slot >= window || (reply.sequence >> 16) as u16 != generation[slot] {
                continue;
            }
            if now >= measure_from && now < end {
                let us = now.duration_since(sent_at[slot]).as_micros();
                r.latencies_us.push(us.min(u128::from(u32::MAX)) as u32);
                match reply.answer {
                    QueryAnswer::Mapping { .. } => r.found += 1,
                    QueryAnswer::NoMapping => r.not_found += 1,
                }
            }
            // The reply came from the target: the next query goes back the
            // same way, in the same sendmmsg.
            let q = next_query(slot, &mut generation, &mut sent_at);
            batch.reply(i, &q);
        }
        if now >= end {
            break;
        }
        let mut sent = 0;
        while sent < batch.queued() {
            match batch.send(fd, sent) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    wait_fd(fd, libc::POLLOUT, 10)
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(r)
}

/// Runs the load and returns the figures. Blocking: call it from a plain
/// thread (or `spawn_blocking`), not from an async task.
pub fn run(p: &BenchParams) -> std::io::Result<BenchReport> {
    assert!(!p.nodes.is_empty(), "bench needs at least one node");
    let start = Instant::now();
    let mut cpu = 0.0;
    let results: Vec<std::io::Result<ThreadResult>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..p.threads.max(1))
            .map(|i| scope.spawn(move || client(p, i, start)))
            .collect();
        // CPU time of the whole process over the measured window: agent
        // (when in-process) and load generator together.
        std::thread::sleep((start + p.warmup).saturating_duration_since(Instant::now()));
        let c0 = process_cpu_seconds();
        std::thread::sleep(
            (start + p.warmup + p.duration).saturating_duration_since(Instant::now()),
        );
        cpu = process_cpu_seconds() - c0;
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("client thread panicked")))
            })
            .collect()
    });
    let mut all = ThreadResult::default();
    for r in results {
        let r = r?;
        all.found += r.found;
        all.not_found += r.not_found;
        all.lost += r.lost;
        all.latencies_us.extend(r.latencies_us);
    }
    let answers = all.found + all.not_found;
    Ok(BenchReport {
        found: all.found,
        not_found: all.not_found,
        lost: all.lost,
        rate: Rate::new(
            answers,
            p.duration.as_secs_f64(),
            cpu,
            p.threads.max(1),
            p.window.clamp(1, 0xffff),
        ),
        latency: Latency::of(all.latencies_us),
    })
}
