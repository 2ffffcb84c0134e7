//! Start-up order and the daemon's tasks:
//!
//! 1. tell the kernel who we are (node set: Node ID, LIN6 prefix) and find
//!    our locator (the kernel's, or an address with our Node ID);
//! 2. routes (LIN6 address, LIN6 prefix route), if managed;
//! 3. bind the Mapping Refresh socket;
//! 4. spawn the registration task (find our MAs through DNS, register,
//!    refresh before the lifetime runs out, re-register on every move, then
//!    tell correspondents), the event loop and the refresh receiver.
//!
//! Nothing here waits on DNS or an MA before the tasks run: a node whose
//! MA is down at boot keeps retrying with backoff while it resolves peers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lin6::addr::Prefix64;
use lin6::discovery::{Discovery, Server};
use lin6::netlink::{Event, NodeSet};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::error::{ResolveError, StartError};
use crate::events::{Ctx, bump};
use crate::kernel::KernelHandle;
use crate::ma_client::{Registrar, Retry};
use crate::routes::Routes;

/// A running resolver. Dropping it stops its tasks.
pub struct Running {
    pub ctx: Arc<Ctx>,
    /// Feed kernel events here (the netlink reader does; tests do too).
    pub events: mpsc::Sender<Event>,
    /// Where Mapping Refresh is received.
    pub refresh_addr: SocketAddr,
    /// Where `/metrics` is served, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// Notified when the kernel's event group must be joined again (a
    /// reloaded lin6.ko); the netlink event reader listens to it.
    pub resubscribe: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Running {
    /// Waits until one of the tasks ends (none should).
    pub async fn join(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        let (done, _, _) = futures_util::future::select_all(tasks).await;
        if let Err(e) = done {
            error!("a resolver task ended: {e}");
        }
    }
}

pub async fn start(cfg: Config, kernel: KernelHandle) -> Result<Running, StartError> {
    let key = cfg.key()?;
    let static_mas = cfg.static_mas()?;
    let own_static_mas = cfg.own_static_mas()?;
    let discovery = if cfg.dns.servers.is_empty() {
        None
    } else {
        Some(Discovery::new(
            &cfg.dns.servers,
            Duration::from_millis(cfg.dns.timeout_ms),
            cfg.dns.attempts,
        )?)
    };
    let node = cfg.node_id;
    let lin6_prefix = cfg.lin6.prefix;
    let set = NodeSet {
        node_id: Some(node),
        lin6_prefix: Some(lin6_prefix),
        locator: None,
    };
    kernel.call(move |k| k.node_set(&set)).await?;

    let routes = if cfg.routes.manage {
        let r = Arc::new(Routes::connect().map_err(StartError::Routes)?);
        setup_node(&cfg, &kernel, Some(&r))
            .await
            .map_err(StartError::Routes)?;
        Some(r)
    } else {
        None
    };

    let refresh_sock = UdpSocket::bind(cfg.refresh.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: cfg.refresh.listen,
            source,
        })?;
    let refresh_addr = refresh_sock
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: cfg.refresh.listen,
            source,
        })?;
    // Mapping Refreshes go out from this socket: network control.
    if let Err(e) = lin6::qos::mark_control(&refresh_sock, refresh_addr.is_ipv6()) {
        warn!("marking the refresh socket as network control: {e}");
    }
    let refresh_sock = Arc::new(refresh_sock);
    let metrics = match cfg.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?,
        ),
        None => None,
    };
    let metrics_addr = metrics.as_ref().and_then(|l| l.local_addr().ok());

    let (events_tx, mut events_rx) = mpsc::channel::<Event>(cfg.events.queue);
    let (moved_tx, moved_rx) = mpsc::channel::<()>(1);
    let reg_retry = Retry {
        timeout: Duration::from_millis(cfg.registration.timeout_ms),
        attempts: cfg.registration.attempts,
    };
    let ctx = Arc::new(Ctx::new(cfg, kernel, discovery, static_mas, own_static_mas));
    info!(%node, lin6_address = %ctx.lin6_address(), refresh = %refresh_addr, "lin6resolvd started");

    let mut tasks = Vec::new();
    let resubscribe = Arc::new(Notify::new());
    {
        let ctx = ctx.clone();
        let routes = routes.clone();
        let resubscribe = resubscribe.clone();
        let moved = moved_tx.clone();
        tasks.push(tokio::spawn(async move {
            kernel_watch(ctx, routes, resubscribe, moved).await;
        }));
    }
    {
        let ctx = ctx.clone();
        let sock = refresh_sock.clone();
        let registrar = Registrar::new(node, key, reg_retry);
        tasks.push(tokio::spawn(async move {
            registration_loop(ctx, registrar, moved_rx, sock, routes).await;
        }));
    }
    {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = events_rx.recv().await {
                ctx.handle_event(ev, &moved_tx);
            }
        }));
    }
    {
        let ctx = ctx.clone();
        let sock = refresh_sock;
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                match sock.recv_from(&mut buf).await {
                    Ok((n, from)) => ctx.handle_refresh(&buf[..n], from).await,
                    Err(e) => {
                        warn!("refresh socket: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    if let Some(l) = metrics {
        tasks.push(tokio::spawn(crate::metrics::serve(l, ctx.clone())));
    }
    Ok(Running {
        ctx,
        events: events_tx,
        refresh_addr,
        metrics_addr,
        resubscribe,
        tasks,
    })
}

/// Sets the node up in the kernel and the network: the LIN6 address on its
/// device (and, on `lo`, the LIN6 prefix route), and our locator if the
/// kernel does not know it yet (an address with our Node ID that was there
/// before the kernel knew our Node ID). Run at start and again whenever the
/// kernel's state was lost (a reloaded lin6.ko).
async fn setup_node(
    cfg: &Config,
    kernel: &KernelHandle,
    routes: Option<&Arc<Routes>>,
) -> Result<(), String> {
    let node = cfg.node_id;
    let lin6_prefix = cfg.lin6.prefix;
    let Some(r) = routes else {
        return Ok(());
    };
    let lin6_addr = cfg.lin6.lin6_address(node);
    r.ensure_address(
        &cfg.routes.lin6_address_dev,
        lin6_addr,
        cfg.routes.prefix_len(),
    )
    .await?;
    let known = kernel
        .call(|k| k.node_get())
        .await
        .map_err(|e| e.to_string())?
        .locator;
    if known.is_none() {
        match r.find_locator(node, lin6_prefix, &cfg.interfaces).await {
            Ok(Some(l)) => {
                let set = NodeSet {
                    locator: Some(l),
                    ..NodeSet::default()
                };
                kernel
                    .call(move |k| k.node_set(&set))
                    .await
                    .map_err(|e| e.to_string())?;
                info!(locator = %l, "locator found on an interface");
            }
            Ok(None) => warn!("no address with our Node ID yet; waiting for one"),
            Err(e) => warn!("looking for our locator: {e}"),
        }
    }
    if cfg.routes.gateway_route()
        && let Err(e) = r.ensure_lin6_route(lin6_prefix, lin6_addr).await
    {
        warn!("{e}");
    }
    Ok(())
}

/// How often [`kernel_watch`] looks.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Watches for a lin6.ko that lost our state: unloaded and loaded again
/// (its generic netlink family is new, our Node ID is gone, its linsix0 is
/// a fresh device without our address), or our LIN6 address removed. Then
/// sets everything up again, has the event reader subscribe anew and the
/// registration task register at once.
async fn kernel_watch(
    ctx: Arc<Ctx>,
    routes: Option<Arc<Routes>>,
    resubscribe: Arc<Notify>,
    moved: mpsc::Sender<()>,
) {
    let cfg = &ctx.cfg;
    let want = (Some(cfg.node_id), Some(cfg.lin6.prefix));
    let mut gone_logged = false;
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let lost = match ctx.kernel.call(|k| k.node_get()).await {
            Ok(n) => (n.node_id, n.lin6_prefix) != want,
            Err(e) => {
                // The family may be a new one: ask for it by name again.
                match ctx.kernel.call(|k| k.reconnect()).await {
                    Ok(()) => true,
                    Err(_) => {
                        if !gone_logged {
                            warn!("lin6.ko does not answer ({e}); waiting for it");
                            gone_logged = true;
                        }
                        continue;
                    }
                }
            }
        };
        if lost {
            gone_logged = false;
            warn!("lin6.ko lost our node (module reloaded?): setting it up again");
            let set = NodeSet {
                node_id: Some(cfg.node_id),
                lin6_prefix: Some(cfg.lin6.prefix),
                locator: None,
            };
            if let Err(e) = ctx.kernel.call(move |k| k.node_set(&set)).await {
                warn!("setting our node again: {e}");
                continue;
            }
            resubscribe.notify_one();
            if let Err(e) = setup_node(cfg, &ctx.kernel, routes.as_ref()).await {
                warn!("setting our node up again: {e}");
            }
            let _ = moved.try_send(());
            continue;
        }
        if let Some(r) = &routes {
            let addr = ctx.lin6_address();
            match r.has_address(&cfg.routes.lin6_address_dev, addr).await {
                Ok(true) => {}
                Ok(false) => {
                    warn!(%addr, dev = %cfg.routes.lin6_address_dev, "our LIN6 address is gone: adding it again");
                    if let Err(e) = setup_node(cfg, &ctx.kernel, routes.as_ref()).await {
                        warn!("{e}");
                    }
                }
                Err(e) => warn!("checking our LIN6 address: {e}"),
            }
        }
    }
}

/// Our own MAs: static config (`registration.ma`, else `ma`), or DNS (our
/// name's AAAA, which must be our LIN6 address, then the TXT at its reverse
/// name; or the reverse name of the computed LIN6 address when no name is
/// configured).
async fn discover_own(ctx: &Ctx) -> Result<Vec<Server>, ResolveError> {
    if !ctx.own_static_mas.is_empty() {
        return Ok(ctx.own_static_mas.clone());
    }
    let ours = ctx.lin6_address();
    match (&ctx.cfg.name, &ctx.discovery) {
        (Some(name), Some(d)) => {
            let (found, rec) = d.servers_of_name(name).await?;
            if found != ours {
                return Err(ResolveError::WrongAddress {
                    name: name.clone(),
                    found,
                    ours,
                });
            }
            Ok(rec.value.ma)
        }
        _ => ctx.own_mas(ours).await,
    }
}

async fn registration_loop(
    ctx: Arc<Ctx>,
    mut registrar: Registrar,
    mut moved: mpsc::Receiver<()>,
    sock: Arc<UdpSocket>,
    routes: Option<Arc<Routes>>,
) {
    let cfg = &ctx.cfg;
    let sticky = cfg.registration.sticky_ma;
    let initial_backoff = Duration::from_millis(cfg.registration.backoff_ms);
    let max_backoff = Duration::from_millis(cfg.registration.backoff_max_ms);
    let mut backoff = initial_backoff;
    let mut mas: Vec<Server> = Vec::new();
    let mut current = 0usize;
    let mut registered: Option<Prefix64> = None;
    let mut next = Instant::now();
    let mut rediscover = true;
    loop {
        let mut was_move = false;
        tokio::select! {
            _ = sleep_until(next) => {}
            m = moved.recv() => {
                if m.is_none() { return; }
                was_move = true;
            }
        }
        if was_move
            && cfg.routes.gateway_route()
            && let Some(r) = &routes
            && let Err(e) = r
                .ensure_lin6_route(cfg.lin6.prefix, ctx.lin6_address())
                .await
        {
            warn!("after the move: {e}");
        }
        let from_event = if was_move { ctx.take_moved_to() } else { None };
        let locator = match from_event {
            Some(l) => Some(l),
            None => match ctx.kernel.call(|k| k.node_get()).await {
                Ok(n) => n.locator,
                Err(e) => {
                    warn!("reading our locator: {e}");
                    None
                }
            },
        };
        let Some(locator) = locator else {
            // Nothing to register until an address with our Node ID
            // appears; the PREFIX event wakes us then.
            next = Instant::now() + max_backoff;
            continue;
        };
        let prefix = Prefix64::of(locator);
        // A mobile node asks DNS again after every move (the listed MAs may
        // have changed, and it starts over at the first); a sticky server
        // keeps the MAs it found until it stops. The registration right
        // after a move goes to the MAs already known, with no DNS lookup on
        // the handover's path; the lookup is made at the next round.
        if mas.is_empty() || (!sticky && rediscover && !was_move) {
            match discover_own(&ctx).await {
                Ok(found) if !found.is_empty() => {
                    mas = found;
                    current = 0;
                    rediscover = false;
                }
                Ok(_) => warn!("our TXT record lists no MA"),
                Err(e) => warn!("finding our MAs: {e}"),
            }
        }
        if mas.is_empty() {
            bump(&ctx.stats.registrations_failed);
            next = Instant::now() + backoff;
            backoff = (backoff * 2).min(max_backoff);
            continue;
        }
        let start = if sticky { current } else { 0 };
        let moving = registered.is_some_and(|p| p != prefix);
        let (sent_tx, sent_rx) = oneshot::channel();
        // A move: the correspondents are told as soon as the request is on
        // the wire, a round trip before the MA's reply. The MA answers
        // their queries with the new locator once it has verified the
        // request (lin6agentd's pending registrations); a query that still
        // got the old one is put right by the second Refresh, sent when the
        // MA has accepted.
        let early_refresh = async {
            if moving && sent_rx.await.is_ok() {
                ctx.notify_correspondents(&sock).await;
            }
        };
        let (registered_now, ()) = tokio::join!(
            registrar.register(
                &mas,
                start,
                prefix,
                cfg.registration.lifetime_s,
                Some(sent_tx)
            ),
            early_refresh
        );
        match registered_now {
            Ok(acc) => {
                if sticky && acc.index != current && registered.is_some() {
                    warn!(ma = %acc.ma, "our MA changed: the previous one stopped answering");
                }
                current = acc.index;
                // Before the counter, so whoever sees the count sees the MA.
                *ctx.current_ma.lock().unwrap_or_else(|p| p.into_inner()) = Some(acc.ma);
                bump(&ctx.stats.registrations_ok);
                backoff = initial_backoff;
                next = Instant::now() + cfg.refresh_after();
                if moving {
                    ctx.notify_correspondents(&sock).await;
                    ctx.rechoose_pools();
                }
                if was_move && !sticky {
                    rediscover = true;
                }
                registered = Some(prefix);
            }
            Err(e) => {
                bump(&ctx.stats.registrations_failed);
                error!(%prefix, "registration failed: {e}; again in {backoff:?}");
                next = Instant::now() + backoff;
                backoff = (backoff * 2).min(max_backoff);
                if !sticky {
                    // Ask DNS itself next time, not the cached answer: the
                    // MA list may have changed because these MAs went away.
                    rediscover = true;
                    ctx.ma_cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .forget(ctx.lin6_address());
                }
            }
        }
    }
}
