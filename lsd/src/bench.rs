//! `lsd bench`: cached LSS_MA_REQUEST answers per second and their latency
//! on loopback, and the LS's own cost of a cold decision.
//!
//! Cached answers: an lsd runs in this process on its own thread and
//! current-thread runtime (as the daemon does), one fake MA heartbeats to it
//! and answers its RTT requests at once; the first request decides and fills
//! the answer cache, every later one (all from `::1`, so one /64) is a cache
//! hit. Client threads each keep `window` requests in flight; the request's
//! sequence number carries (slot, generation), which the reply echoes.
//!
//! Cold decisions: the sans-I/O state machine alone, no sockets: a request
//! from a new /64, the RTT requests it makes, the signed RTT replies of four
//! MAs, the answer. What it measures is the LS's CPU per decision; a real
//! decision also waits for the MAs' probes (one RTT to the user).

use crate::config::Config;
use crate::events::{Lsd, Sock};
use crate::subscribers::ConfigSubscribers;
use lin6::addr::NodeId;
use lin6::auth::{Key, unix_now};
use lin6::bench::{Latency, Rate, process_cpu_seconds};
use lin6::ls::{Body, Frame, Heartbeat, MaReply, MaRequest, Message, RttReply, RttStatus, decode};
use lin6::mmsg::Batch;
use serde::Serialize;
use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const SECRET: &str = "62656e6368206b65792062656e6368206b6579";
const NODE: u64 = 0x0201_4a00_0000_0001;
/// A request unanswered for this long is counted lost and sent again.
const LOST_AFTER: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct BenchParams {
    pub threads: usize,
    pub window: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub cold_decisions: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub lost: u64,
    pub not_ok: u64,
    /// Cached answers per second; the CPU is the whole process's (lsd, fake
    /// MA, clients).
    #[serde(flatten)]
    pub rate: Rate,
    #[serde(flatten)]
    pub latency: Latency,
    pub cold_decisions: u32,
    /// LS CPU per cold decision (request, 4 RTT replies, answer), µs.
    pub cold_decision_us: f64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cached: {}", self.rate)?;
        writeln!(f, "lost {}, not ok {}", self.lost, self.not_ok)?;
        writeln!(f, "cached latency us: {}", self.latency)?;
        write!(
            f,
            "cold decision (LS CPU only, 4 MAs): {:.1} us each over {}",
            self.cold_decision_us, self.cold_decisions
        )
    }
}

fn config(extra: &str) -> Config {
    // Limits far above the load, so the figure is the LS's, not a limiter's.
    Config::parse(&format!(
        "listen: \"[::1]:0\"\npeer_listen: \"[::1]:0\"\n\
         cluster_key: {{ id: 1, secret_hex: \"{SECRET}\" }}\n\
         subscribers: {{ \"{}\": premium }}\n\
         answers: {{ ttl_s: 3600, capacity: 1000000 }}\n\
         decision: {{ max_pending: 100000 }}\n\
         rate_limits:\n  requests_per_prefix: {{ rate_per_s: 1.0e9, burst: 4000000000 }}\n  \
         decisions_per_prefix: {{ rate_per_s: 1.0e9, burst: 4000000000 }}\n  \
         probes_total: {{ rate_per_s: 1.0e9, burst: 4000000000 }}\n  tracked_prefixes: 2000000\n{extra}",
        NodeId::from_u64(NODE)
    ))
    .expect("bench config")
}

fn key() -> Key {
    Key::from_hex(1, SECRET).expect("bench key")
}

fn request_bytes(seq: u32) -> Vec<u8> {
    let req = MaRequest {
        node_id: NodeId::from_u64(NODE),
        pool: Ipv6Addr::UNSPECIFIED,
    };
    Message::new(seq, unix_now(), req)
        .encode(None)
        .expect("encodable request")
}

fn heartbeat(addr: Ipv6Addr) -> Heartbeat {
    Heartbeat {
        ma_addr: addr,
        capacity_kbps: u32::MAX,
        normal: 0,
        premium: 0,
        load_ppm: 0,
        draining: false,
    }
}

/// An MA that heartbeats every second and answers RTT requests at once.
fn fake_ma(ls: SocketAddr, stop: &std::sync::atomic::AtomicBool) -> std::io::Result<()> {
    let s = UdpSocket::bind("[::1]:0")?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let k = key();
    let mut seq = 1u32;
    let mut next_hb = Instant::now();
    let fd = s.as_raw_fd();
    let mut batch = Batch::new();
    let mut peek = [0u8; 1];
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if Instant::now() >= next_hb {
            seq += 1;
            let hb = heartbeat("2001:db8:be::1".parse().expect("address"));
            if let Ok(b) = Message::new(seq, unix_now(), hb).encode(Some(&k)) {
                s.send_to(&b, ls)?;
            }
            next_hb = Instant::now() + Duration::from_secs(1);
        }
        let n = match batch.recv(fd) {
            Ok(n) => n,
            Err(_) => {
                // Nothing queued: wait (up to the read timeout) for more.
                let _ = s.peek(&mut peek);
                continue;
            }
        };
        for i in 0..n {
            // Every cached answer also sends us an LSS_MA_ASSIGN: those are
            // skipped unverified, so that the figure is the LS's work.
            let is_rtt = matches!(Frame::parse(batch.datagram(i)),
                Ok(f) if f.header.msg_type == lin6::ls::MsgType::RttRequest);
            if !is_rtt {
                continue;
            }
            let Ok(Message {
                body: Body::RttRequest(r),
                ..
            }) = decode(batch.datagram(i), |_| Some(&k))
            else {
                continue;
            };
            seq += 1;
            let reply = RttReply {
                request_id: r.request_id,
                status: RttStatus::Reachable {
                    mean_us: 1_000,
                    answered: 4,
                },
            };
            if let Ok(b) = Message::new(seq, unix_now(), reply).encode(Some(&k)) {
                batch.reply(i, &b);
            }
        }
        let mut done = 0;
        while done < batch.queued() {
            match batch.send(fd, done) {
                Ok(m) => done += m,
                Err(_) => break,
            }
        }
    }
    Ok(())
}

struct ThreadResult {
    latencies: Vec<u32>,
    lost: u64,
    not_ok: u64,
}

fn client(
    ls: SocketAddr,
    window: usize,
    warmup: Instant,
    end: Instant,
) -> std::io::Result<ThreadResult> {
    let s = UdpSocket::bind("[::1]:0")?;
    s.connect(ls)?;
    s.set_read_timeout(Some(Duration::from_millis(20)))?;
    let window = window.clamp(1, 1 << 15);
    // Slot i's request carries sequence (generation << 16) | i.
    let mut generation = vec![0u16; window];
    let mut sent = vec![Instant::now(); window];
    for (i, t) in sent.iter_mut().enumerate() {
        s.send(&request_bytes(i as u32))?;
        *t = Instant::now();
    }
    let mut r = ThreadResult {
        latencies: Vec::with_capacity(1 << 20),
        lost: 0,
        not_ok: 0,
    };
    // Replies are read in batches and each is answered in place by the
    // slot's next request (to its source, lsd), sent in one sendmmsg: the
    // load generator's own system calls would otherwise be most of the
    // process's CPU.
    let fd = s.as_raw_fd();
    let mut batch = Batch::new();
    let mut peek = [0u8; 1];
    while Instant::now() < end {
        let n = match batch.recv(fd) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Nothing queued: block (up to the read timeout) until
                // something is, without consuming it.
                match s.peek(&mut peek) {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(e),
                }
                0
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        for k in 0..n {
            let Ok(frame) = Frame::parse(batch.datagram(k)) else {
                continue;
            };
            let seq = frame.header.sequence;
            let (i, g) = ((seq & 0xffff) as usize, (seq >> 16) as u16);
            if i >= window || generation[i] != g {
                continue; // an answer to a request already resent
            }
            if now >= warmup {
                match frame.body() {
                    Ok(Body::MaReply(MaReply::Ok { .. })) => r.latencies.push(
                        now.duration_since(sent[i])
                            .as_micros()
                            .min(u128::from(u32::MAX)) as u32,
                    ),
                    _ => r.not_ok += 1,
                }
            }
            generation[i] = generation[i].wrapping_add(1);
            batch.reply(k, &request_bytes(u32::from(generation[i]) << 16 | i as u32));
            sent[i] = Instant::now();
        }
        let mut done = 0;
        while done < batch.queued() {
            match batch.send(fd, done) {
                Ok(m) => done += m,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => return Err(e),
            }
        }
        let now = Instant::now();
        for i in 0..window {
            if now.duration_since(sent[i]) > LOST_AFTER {
                if now >= warmup {
                    r.lost += 1;
                }
                generation[i] = generation[i].wrapping_add(1);
                s.send(&request_bytes(u32::from(generation[i]) << 16 | i as u32))?;
                sent[i] = Instant::now();
            }
        }
    }
    Ok(r)
}

/// LS CPU per cold decision, sans-I/O: `n` users from `n` different /64s,
/// four MAs each answering its RTT request.
pub fn cold_decisions(n: u32) -> f64 {
    let cfg = config("");
    let t0 = tokio::time::Instant::now();
    let unix = unix_now();
    let mut ls = match Lsd::new(
        &cfg,
        Box::new(ConfigSubscribers(cfg.subscribers.clone())),
        t0,
        unix,
    ) {
        Ok(l) => l,
        Err(_) => return f64::NAN,
    };
    let k = key();
    let mas: Vec<SocketAddr> = (1..=4u16)
        .map(|i| SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 9000 + i))
        .collect();
    let mut seq = 10u32;
    for (i, ctl) in mas.iter().enumerate() {
        let hb = heartbeat(Ipv6Addr::new(0x2001, 0xdb8, 0xbe, 0, 0, 0, 0, i as u16 + 1));
        if let Ok(b) = Message::new(seq, unix, hb).encode(Some(&k)) {
            ls.handle(t0, unix, Sock::Ls, *ctl, &b);
        }
    }
    let start = Instant::now();
    for u in 0..n {
        let user = SocketAddr::new(
            Ipv6Addr::new(0x2001, 0xdb8, (u >> 16) as u16, u as u16, 0, 0, 0, 1).into(),
            5000,
        );
        let outs = ls.handle(t0, unix, Sock::Ls, user, &request_bytes(u));
        for o in outs {
            let Ok(Message {
                body: Body::RttRequest(r),
                ..
            }) = decode(&o.bytes, |_| Some(&k))
            else {
                continue;
            };
            seq += 1;
            let reply = RttReply {
                request_id: r.request_id,
                status: RttStatus::Reachable {
                    mean_us: 1_000 + (u % 7),
                    answered: 4,
                },
            };
            if let Ok(b) = Message::new(seq, unix, reply).encode(Some(&k)) {
                ls.handle(t0, unix, Sock::Ls, o.to, &b);
            }
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1))
}

/// Runs both measurements. Blocking: call it from a plain thread.
pub fn run(p: &BenchParams) -> std::io::Result<BenchReport> {
    let cfg = config("");
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let subs = Box::new(ConfigSubscribers(cfg.subscribers.clone()));
            match crate::spawn(cfg, subs).await {
                Ok(r) => {
                    let _ = tx.send(Ok(r.ls_addr));
                    let _ = stop_rx.await;
                    r.shutdown().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string())));
                }
            }
        });
    });
    let ls = rx
        .recv()
        .map_err(|_| std::io::Error::other("lsd did not start"))??;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (results, seconds, cpu) = std::thread::scope(|scope| {
        let ma = scope.spawn(|| fake_ma(ls, &stop));
        // Let the MA register before the first user asks.
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        let warmup = start + p.warmup;
        let end = warmup + p.duration;
        let clients: Vec<_> = (0..p.threads.max(1))
            .map(|_| scope.spawn(move || client(ls, p.window, warmup, end)))
            .collect();
        std::thread::sleep(warmup.saturating_duration_since(Instant::now()));
        let cpu0 = process_cpu_seconds();
        let results: Vec<_> = clients
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("client panicked")))
            })
            .collect();
        let cpu = process_cpu_seconds() - cpu0;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = ma.join();
        (results, p.duration.as_secs_f64(), cpu)
    });
    let _ = stop_tx.send(());
    let _ = server.join();
    let mut lat = Vec::new();
    let (mut lost, mut not_ok) = (0, 0);
    for r in results {
        let r = r?;
        lat.extend(r.latencies);
        lost += r.lost;
        not_ok += r.not_ok;
    }
    let cold_us = cold_decisions(p.cold_decisions);
    Ok(BenchReport {
        lost,
        not_ok,
        rate: Rate::new(lat.len() as u64, seconds, cpu, p.threads, p.window),
        latency: Latency::of(lat),
        cold_decisions: p.cold_decisions,
        cold_decision_us: cold_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lin6::ls::ServiceLevel;

    #[test]
    fn a_short_run_answers_from_the_cache_and_decides_cold_requests() {
        let r = run(&BenchParams {
            threads: 1,
            window: 4,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(200),
            cold_decisions: 100,
        })
        .unwrap();
        assert!(r.rate.answers > 0, "{r}");
        assert_eq!(r.not_ok, 0, "{r}");
        assert!(
            r.cold_decision_us.is_finite() && r.cold_decision_us > 0.0,
            "{r}"
        );
    }

    #[test]
    fn the_bench_level_is_a_subscriber() {
        let c = config("");
        assert_eq!(
            c.subscribers.get(&NodeId::from_u64(NODE)),
            Some(&ServiceLevel::Premium)
        );
    }
}
