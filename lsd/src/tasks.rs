//! The event loop and the metrics listener. One task owns the sockets and
//! feeds the state machine; it never waits on anything but the sockets and
//! the next timer, so a slow MA or user cannot stall it.

use crate::config::Config;
use crate::error::LsdError;
use crate::events::{Lsd, Out, Sock};
use crate::metrics::Metrics;
use crate::network::Sockets;
use crate::peers::canonical;
use crate::subscribers::SubscriberLevels;
use lin6::auth::unix_now;
use lin6::http::{Request, Response};
use lin6::ls::MAX_DATAGRAM;
use lin6::ls::MsgType;
use lin6::mmsg::{self, Batch};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use tokio::io::Interest;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

/// A running daemon. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub ls_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    state: Arc<Mutex<Lsd>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Runs `f` on the state. The lock is held only for `f`; keep it short.
    pub fn with<R>(&self, f: impl FnOnce(&mut Lsd) -> R) -> R {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds the sockets and starts the event loop (and the metrics listener if
/// configured). Errors here are configuration or bind errors.
pub async fn spawn(
    cfg: Config,
    subscribers: Box<dyn SubscriberLevels>,
) -> Result<Running, LsdError> {
    let lsd = Lsd::new(&cfg, subscribers, Instant::now(), unix_now())?;
    let metrics = lsd.metrics();
    let socks = Sockets::bind(&cfg).await?;
    let (ls_addr, peer_addr) = socks.local_addrs()?;
    let state = Arc::new(Mutex::new(lsd));
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(event_loop(
        socks,
        state.clone(),
        metrics.clone(),
        stop_rx.clone(),
    ))];
    let mut metrics_addr = None;
    if let Some(addr) = cfg.metrics_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| LsdError::Bind {
                what: "metrics listener (metrics_listen)",
                addr,
                source,
            })?;
        metrics_addr = l.local_addr().ok();
        tasks.push(tokio::spawn(serve_metrics(
            l,
            state.clone(),
            metrics,
            stop_rx,
        )));
    }
    info!(%ls_addr, %peer_addr, ?metrics_addr, "lsd running");
    Ok(Running {
        ls_addr,
        peer_addr,
        metrics_addr,
        state,
        stop,
        tasks,
    })
}

async fn event_loop(
    socks: Sockets,
    state: Arc<Mutex<Lsd>>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    // One byte more than the largest valid datagram, so that an oversized one
    // shows up as oversized rather than silently truncated to a valid length.
    let mut b2 = vec![0u8; MAX_DATAGRAM + 1];
    // The MA/user socket carries the load (every user request), so it is read
    // and answered in batches: one recvmmsg for up to 64 datagrams, handled
    // under one lock and clock reading, the replies to their senders written
    // in place and sent with one sendmmsg. Its datagrams are small (at most
    // 84 bytes valid), which the batch's 128-byte slots exceed.
    let mut batch = Batch::new();
    let fd = socks.ls.as_raw_fd();
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let wake = lock().next_wake();
        let outs = tokio::select! {
            r = socks.ls.readable() => match r {
                Ok(()) => match socks.ls.try_io(Interest::READABLE, || batch.recv(fd)) {
                    Ok(n) => {
                        let now = Instant::now();
                        let unix = unix_now();
                        let others = {
                            let mut g = lock();
                            let mut others = Vec::new();
                            for i in 0..n {
                                let Some(from) = batch.source(i) else { continue };
                                let outs = g.handle(now, unix, Sock::Ls, from, batch.datagram(i));
                                let mut replied = false;
                                for o in outs {
                                    // Only the unauthenticated answer to a user goes in
                                    // place: signed messages must leave in the order
                                    // they were signed, or the receiver's replay check
                                    // drops the earlier ones.
                                    if !replied
                                        && o.sock == Sock::Ls
                                        && o.bytes.get(1) == Some(&(MsgType::MaReply as u8))
                                        && canonical(o.to) == canonical(from)
                                        && o.bytes.len() <= mmsg::SLOT
                                    {
                                        batch.reply(i, &o.bytes);
                                        replied = true;
                                    } else {
                                        others.push(o);
                                    }
                                }
                            }
                            others
                        };
                        send_batch(&socks, &mut batch, &metrics).await;
                        // The rest (assignments, acknowledgements, RTT
                        // requests) in order, with as few sendmmsg calls as
                        // possible; peer traffic below, one by one.
                        let (ls_outs, peer_outs): (Vec<Out>, Vec<Out>) =
                            others.into_iter().partition(|o| o.sock == Sock::Ls);
                        send_many(&socks, &ls_outs, &metrics).await;
                        peer_outs
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Vec::new(),
                    Err(e) => { warn!("receive on MA/user socket: {e}"); Vec::new() }
                },
                Err(e) => { warn!("MA/user socket: {e}"); Vec::new() }
            },
            r = socks.peer.recv_from(&mut b2) => match r {
                Ok((n, from)) => lock().handle(Instant::now(), unix_now(), Sock::Peer, from, &b2[..n]),
                Err(e) => { warn!("receive on peer socket: {e}"); Vec::new() }
            },
            _ = sleep_until(wake) => lock().tick(Instant::now(), unix_now()),
            _ = stop.changed() => break,
        };
        for o in &outs {
            socks.send(o, &metrics).await;
        }
    }
}

/// Sends `outs` (all for the MA/user socket) in order, in batches.
async fn send_many(socks: &Sockets, outs: &[Out], metrics: &Metrics) {
    let fd = socks.ls.as_raw_fd();
    let msgs: Vec<(&[u8], SocketAddr)> =
        outs.iter().map(|o| (&o.bytes[..], socks.dest(o))).collect();
    let mut sent = 0;
    while sent < msgs.len() {
        match socks
            .ls
            .try_io(Interest::WRITABLE, || mmsg::send_to_many(fd, &msgs[sent..]))
        {
            Ok(n) => sent += n.max(1),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if socks.ls.writable().await.is_err() {
                    break;
                }
            }
            Err(e) => {
                Metrics::inc(&metrics.send_errors);
                debug!(to = %msgs[sent].1, "send failed: {e}");
                // Skip the datagram the kernel refused and go on.
                sent += 1;
            }
        }
    }
}

/// Sends what [`Batch::reply`] queued, waiting for room if the socket
/// buffer is full; a send error drops the rest of the batch (counted), as
/// a single failed send would.
async fn send_batch(socks: &Sockets, batch: &mut Batch, metrics: &Metrics) {
    let fd = socks.ls.as_raw_fd();
    let mut sent = 0;
    while sent < batch.queued() {
        match socks.ls.try_io(Interest::WRITABLE, || batch.send(fd, sent)) {
            Ok(n) => sent += n.max(1),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if socks.ls.writable().await.is_err() {
                    break;
                }
            }
            Err(e) => {
                Metrics::inc(&metrics.send_errors);
                debug!("batched send: {e}");
                // Skip the datagram the kernel refused and go on.
                sent += 1;
            }
        }
    }
}

#[derive(serde::Serialize)]
struct DrainResult {
    ma: std::net::Ipv6Addr,
    drained: bool,
    /// Whether the MA is in the table now; a drain of an unknown MA still
    /// holds for when it first heartbeats.
    known: bool,
}

/// Operator drain over HTTP: `POST /drain?ma=ADDR`, `POST /undrain?ma=ADDR`.
/// Only from a loopback peer: whoever reaches `metrics_listen` from elsewhere
/// may read the tables but not change them.
fn drain_request(state: &Arc<Mutex<Lsd>>, path: &str, local_peer: bool) -> Response {
    if !local_peer {
        return Response::text("403 Forbidden", "drain is accepted from loopback only\n");
    }
    let (drained, arg) = match path.split_once("?ma=") {
        Some(("/drain", a)) => (true, a),
        Some(("/undrain", a)) => (false, a),
        _ => return Response::not_found(),
    };
    let Ok(ma) = arg.parse::<std::net::Ipv6Addr>() else {
        return Response::text(
            "400 Bad Request",
            format!("{arg:?} is not an IPv6 address\n"),
        );
    };
    let known = state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .set_drained(ma, drained);
    info!(%ma, drained, known, "operator drain");
    Response::json(serde_json::to_string(&DrainResult { ma, drained, known }).unwrap_or_default())
}

/// `/metrics` (Prometheus text), `/state` (JSON tables) and the operator's
/// drain, on the daemons' shared responder (`lin6::http`).
async fn serve_metrics(
    l: TcpListener,
    state: Arc<Mutex<Lsd>>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    lin6::http::serve(l, Some(stop), |r: &Request| {
        let drain = r.path.starts_with("/drain") || r.path.starts_with("/undrain");
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", p) if p.starts_with("/drain?ma=") || p.starts_with("/undrain?ma=") => {
                drain_request(&state, p, r.local)
            }
            _ if drain => Response::text(
                "405 Method Not Allowed",
                "use POST /drain?ma=ADDR or POST /undrain?ma=ADDR\n",
            ),
            (_, "/metrics") => Response::metrics(metrics.render()),
            (_, "/state") => {
                let snap = state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .snapshot(Instant::now());
                Response::json(serde_json::to_string_pretty(&snap).unwrap_or_default())
            }
            _ => Response::not_found(),
        }
    })
    .await;
}
