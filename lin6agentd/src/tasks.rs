//! Starting the agent: database, change feed, cache warm-up, sockets, and
//! the tasks that serve them.

use crate::agent::{Agent, Params, QueryOutcome};
use crate::cache::Cache;
use crate::coherence;
use crate::config::Config;
use crate::db::{Backend, Store};
use crate::error::AgentError;
use crate::ls_client::{self, LsShared};
use crate::ls_discovery;
use crate::metrics::{Metrics, Reject};
use crate::mmsg::Batch;
use crate::network;
use crate::shaping::{Shaper, ShapingQueue};
use lin6::http::{Request, Response};
use lin6::wire::{Codec, MaReply};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::Interest;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::{debug, info, warn};

/// Unix seconds, the agent's notion of now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A running agent.
pub struct Running {
    pub registration_addr: SocketAddr,
    pub query_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub agent: Arc<Agent>,
    /// The LS side, if `ls` is configured.
    pub ls: Option<Arc<LsShared>>,
    /// Where the LS side's socket is bound (the MA's control address).
    pub ls_addr: Option<SocketAddr>,
    /// The LS list the LS side follows (`ls.discovery` publishes here too).
    pub ls_servers: Option<watch::Sender<Vec<SocketAddr>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    shaping_worker: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops the tasks and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        // The shaping worker clears its rules once the last queue handle
        // (held by the LS state) is gone; a clone kept elsewhere would keep
        // it waiting, hence the bound.
        self.ls = None;
        if let Some(w) = self.shaping_worker.take() {
            let _ = timeout(Duration::from_secs(10), w).await;
        }
        self.agent.store().close().await;
    }

    /// Kills the agent as a crash would: tasks aborted mid-work, no goodbye
    /// to the database. (What the replica tests do to one agent.)
    pub fn abort(self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(w) = &self.shaping_worker {
            w.abort();
        }
    }
}

/// Opens the database and starts serving. Errors here are configuration,
/// database or bind errors.
pub async fn spawn(cfg: Config) -> Result<Running, AgentError> {
    let shaper = crate::shaping::from_config(&cfg)?;
    spawn_with_shaper(cfg, shaper).await
}

/// [`spawn`] with the shaper given (tests record what it is asked to do).
pub async fn spawn_with_shaper(
    cfg: Config,
    shaper: Arc<dyn Shaper>,
) -> Result<Running, AgentError> {
    let url = cfg.database.url.clone();
    let store = Store::open(
        &url,
        cfg.database.max_connections,
        Duration::from_millis(cfg.database.connect_timeout_ms),
    )
    .await?;
    let backend = store.backend();
    let metrics = Arc::new(Metrics::default());
    let cache = Arc::new(Cache::new(cfg.cache.capacity));
    let agent = Arc::new(Agent::new(
        store,
        cache,
        metrics.clone(),
        Params::of(&cfg),
        cfg.query.max_db_lookups,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    // The change feed first, then the warm-up: a change committed between
    // the two is then both in what we read and in the feed, never in neither.
    match backend {
        Backend::Postgres => {
            let l =
                coherence::listen(&url)
                    .await
                    .map_err(|source| crate::error::DbError::Connect {
                        url: url.clone(),
                        source,
                    })?;
            tasks.push(tokio::spawn(coherence::run_pg_listener(
                l,
                url.clone(),
                agent.clone(),
                stop_rx.clone(),
            )));
        }
        Backend::Sqlite => {
            // What the log holds so far is already in the tables, and the
            // cache starts empty: start after it, and drop it.
            let last = agent.store().last_change_id().await?;
            agent.store().prune_changes(last).await?;
            tasks.push(tokio::spawn(coherence::run_sqlite_poller(
                last,
                agent.clone(),
                Duration::from_millis(cfg.cache.poll_ms),
                stop_rx.clone(),
            )));
        }
    }
    if cfg.cache.preload {
        let n = agent.preload(unix_now()).await?;
        info!(mappings = n, "cache warmed up");
    }

    let reg = Arc::new(network::bind_one(
        "registration socket (registration_listen)",
        cfg.registration_listen,
    )?);
    let registration_addr = reg.local_addr().map_err(|source| AgentError::Io {
        what: "registration socket",
        source,
    })?;
    let qsocks = network::bind_shared(
        "query socket (query_listen)",
        cfg.query_listen,
        cfg.query_workers(),
    )?;
    let query_addr = qsocks[0].local_addr().map_err(|source| AgentError::Io {
        what: "query socket",
        source,
    })?;

    tasks.push(tokio::spawn(registration_loop(
        reg,
        agent.clone(),
        cfg.registration.max_in_flight,
        stop_rx.clone(),
    )));
    for s in qsocks {
        tasks.push(tokio::spawn(query_worker(
            Arc::new(s),
            agent.clone(),
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(housekeeping(
        agent.clone(),
        Duration::from_secs(cfg.mapping.gc_interval_s),
        stop_rx.clone(),
    )));
    let (mut ls, mut ls_addr, mut ls_servers, mut shaping_worker) = (None, None, None, None);
    if let (Some(lcfg), Some(key)) = (cfg.ls.clone(), cfg.ls_key()?) {
        let (queue, worker) = ShapingQueue::start(shaper, metrics.clone());
        let (tx, rx) = watch::channel(lcfg.servers.clone());
        let lapsed = Arc::new(Notify::new());
        if let Some(d) = lcfg.discovery.clone() {
            tasks.push(ls_discovery::spawn(
                d,
                tx.clone(),
                lapsed.clone(),
                metrics.clone(),
                stop_rx.clone(),
            )?);
        }
        let r =
            ls_client::spawn(lcfg, key, agent.clone(), queue, rx, lapsed, stop_rx.clone()).await?;
        tasks.extend(r.tasks);
        ls = Some(r.shared);
        ls_addr = Some(r.local_addr);
        ls_servers = Some(tx);
        shaping_worker = Some(worker);
    }
    let mut metrics_addr = None;
    if let Some(addr) = cfg.metrics_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| AgentError::Bind {
                what: "metrics listener (metrics_listen)",
                addr,
                source,
            })?;
        metrics_addr = l.local_addr().ok();
        tasks.push(tokio::spawn(serve_metrics(l, metrics, ls.clone(), stop_rx)));
    }
    info!(%registration_addr, %query_addr, ?metrics_addr, ?backend, "lin6agentd running");
    Ok(Running {
        registration_addr,
        query_addr,
        metrics_addr,
        agent,
        ls,
        ls_addr,
        ls_servers,
        stop,
        tasks,
        shaping_worker,
    })
}

/// One datagram per task, at most `max_in_flight` at once: each waits on a
/// database transaction, and a slow one must not hold up the others.
async fn registration_loop(
    sock: Arc<UdpSocket>,
    agent: Arc<Agent>,
    max_in_flight: usize,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_in_flight));
    // One byte more than the largest valid datagram, so that an oversized
    // one is seen as oversized rather than cut to a valid length.
    let mut buf = [0u8; 128];
    loop {
        let (n, from) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => { warn!("receive on registration socket: {e}"); continue; }
            },
            _ = stop.changed() => return,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            agent.metrics().reject(Reject::Busy);
            continue;
        };
        let datagram = buf[..n].to_vec();
        let (agent, sock) = (agent.clone(), sock.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(reply) = agent.register(unix_now(), &datagram).await
                && let Err(e) = sock.send_to(&reply, from).await
            {
                Metrics::inc(&agent.metrics().send_errors);
                debug!(%from, "sending Mapping Update Reply failed: {e}");
            }
        });
    }
}

/// Serves one query socket: drains it in batches (recvmmsg), answers cache
/// hits in place and sends them back in one call (sendmmsg); only misses
/// become tasks.
async fn query_worker(sock: Arc<UdpSocket>, agent: Arc<Agent>, mut stop: watch::Receiver<bool>) {
    let fd = sock.as_raw_fd();
    let mut batch = Batch::new();
    let mut out = Vec::with_capacity(32);
    loop {
        tokio::select! {
            r = sock.readable() => if let Err(e) = r {
                warn!("query socket: {e}");
                continue;
            },
            _ = stop.changed() => return,
        }
        loop {
            // try_io clears tokio's readiness on WouldBlock, so the next
            // readable() really waits.
            let n = match sock.try_io(Interest::READABLE, || batch.recv(fd)) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!("receive on query socket: {e}");
                    break;
                }
            };
            let now = unix_now();
            for i in 0..n {
                match agent.answer_from_cache(now, batch.datagram(i)) {
                    QueryOutcome::Reply(r) => {
                        out.clear();
                        r.encode(&mut out);
                        batch.reply(i, &out);
                    }
                    QueryOutcome::Lookup(q) => {
                        answer_in_task(&agent, &sock, batch.source(i), move |agent| async move {
                            agent.answer_from_db(now, q).await
                        })
                    }
                    QueryOutcome::Wait(q, pending) => {
                        answer_in_task(&agent, &sock, batch.source(i), move |agent| async move {
                            pending.wait().await;
                            agent.answer_after_wait(unix_now(), q).await
                        })
                    }
                    QueryOutcome::Drop => {}
                }
            }
            let mut sent = 0;
            while sent < batch.queued() {
                match sock.try_io(Interest::WRITABLE, || batch.send(fd, sent)) {
                    Ok(k) => sent += k,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if sock.writable().await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        // One bad destination must not cost the others
                        // their answers: skip it and go on.
                        Metrics::inc(&agent.metrics().send_errors);
                        debug!("sending MA Replies failed: {e}");
                        sent += 1;
                    }
                }
            }
        }
    }
}

/// A query the cache could not answer at once: answered by `answer` in a
/// task of its own, which holds one of `query.max_db_lookups` permits (no
/// permit, or no source address to answer: dropped and counted), and the
/// reply sent to `from`.
fn answer_in_task<F>(
    agent: &Arc<Agent>,
    sock: &Arc<UdpSocket>,
    from: Option<SocketAddr>,
    answer: impl FnOnce(Arc<Agent>) -> F,
) where
    F: Future<Output = Option<MaReply>> + Send + 'static,
{
    let Some(from) = from else { return };
    let Some(permit) = agent.lookup_permit() else {
        return;
    };
    let reply = answer(agent.clone());
    let (agent, sock) = (agent.clone(), sock.clone());
    tokio::spawn(async move {
        let _permit = permit;
        if let Some(r) = reply.await {
            send(&sock, &r.to_vec(), from, &agent).await;
        }
    });
}

async fn send(sock: &UdpSocket, bytes: &[u8], to: SocketAddr, agent: &Agent) {
    let r = match sock.try_send_to(bytes, to) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => sock.send_to(bytes, to).await,
        r => r,
    };
    if let Err(e) = r {
        Metrics::inc(&agent.metrics().send_errors);
        debug!(%to, "sending MA Reply failed: {e}");
    }
}

/// Expired-row collection every `gc_every`, gauges every few seconds.
async fn housekeeping(agent: Arc<Agent>, gc_every: Duration, mut stop: watch::Receiver<bool>) {
    let gauges_every = Duration::from_secs(5).min(gc_every);
    let mut tick = tokio::time::interval(gauges_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_gc = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = unix_now();
        let r = if last_gc.elapsed() >= gc_every {
            last_gc = tokio::time::Instant::now();
            agent.housekeeping(now).await
        } else {
            agent.update_gauges(now).await
        };
        if let Err(e) = r {
            warn!("housekeeping: {e}");
        }
    }
}

/// `/metrics` and, with an LS configured, `/ls` (JSON), on the daemons'
/// shared responder.
async fn serve_metrics(
    l: TcpListener,
    metrics: Arc<Metrics>,
    ls: Option<Arc<LsShared>>,
    stop: watch::Receiver<bool>,
) {
    lin6::http::serve(l, Some(stop), |r: &Request| match r.path.as_str() {
        "/metrics" => Response::metrics(metrics.render()),
        "/ls" => match &ls {
            Some(ls) => {
                Response::json(serde_json::to_string_pretty(&ls.status()).unwrap_or_default())
            }
            None => Response::text("404 Not Found", "ls is not configured\n"),
        },
        _ => Response::not_found(),
    })
    .await;
}
