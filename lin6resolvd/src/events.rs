//! What the resolver does about each event:
//!
//! * **MISS** (the kernel has no mapping for a peer, or a peer's source
//!   locator is unknown or moved): DNS (TXT at the peer's reverse name,
//!   cached) -> MA Query -> install the mapping with the lifetime the MA
//!   gave; rounds with backoff when DNS or the MAs do not answer. When the
//!   TXT record says `ls=` the peer is a load-shared pool address: an LS is
//!   asked which MA to use first (LSS_MA_REQUEST, `ls_client`), and its
//!   choice is cached for the pool as an `ma=` list is. A mapping chosen
//!   through an LS is installed with the `pool` flag: lin6.ko keeps each
//!   running flow with the site it started at, and only new flows follow
//!   a new mapping (`pools`).
//! * **PREFIX** (we moved): the registration task re-registers at once and
//!   then sends a Mapping Refresh to every recent correspondent (to a pool,
//!   to each site that may still stream to us, at its locator), and asks
//!   the LS of every recent pool again: the LS decides per client /64, so
//!   new flows go to the site nearest the new network.
//! * **Mapping Refresh received**: re-query the sender's MA and install what
//!   the MA says. The datagram itself is believed in nothing, not even its
//!   source address; it only says "ask again".
//!
//! Each resolution runs in its own task, at most `events.max_resolving` at
//! once and at most one per peer; the loop that hands them out never waits
//! on the network.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lin6::addr::{Lin6Params, NodeId};
use lin6::discovery::{Discovery, Server};
use lin6::netlink::{Event, Lifetime, MapNew, MissReason};
use lin6::wire::{Codec, MappingRefresh, QueryAnswer};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, Semaphore, mpsc};
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::correspondents::Correspondents;
use crate::error::{LsError, MaError, ResolveError};
use crate::kernel::KernelHandle;
use crate::ls_client::{self, LsStats};
use crate::ma_cache::MaCache;
use crate::ma_client::{self, Retry};
use crate::pools::Pools;

/// Counters, for logs, tests and a later metrics endpoint.
#[derive(Debug, Default)]
pub struct Stats {
    pub registrations_ok: AtomicU64,
    pub registrations_failed: AtomicU64,
    pub resolved: AtomicU64,
    pub resolve_failed: AtomicU64,
    pub no_mapping: AtomicU64,
    pub dns_lookups: AtomicU64,
    pub refreshes_sent: AtomicU64,
    pub refreshes_received: AtomicU64,
    /// Refreshes dropped: malformed, for a node we do not talk to, or
    /// within the per-node interval.
    pub refreshes_ignored: AtomicU64,
    pub requeries: AtomicU64,
    pub dropped_busy: AtomicU64,
    /// Pools whose LS was asked again because we moved.
    pub pool_rechoices: AtomicU64,
    /// LSS_MA_REQUEST exchanges with pools' LSs.
    pub ls: LsStats,
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Why a peer is being resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// No mapping for a destination.
    Miss,
    /// A packet came from a locator we do not have for the peer: it may
    /// have moved, and its MA may know (or be about to know) it.
    Moved,
    /// The peer says it moved: its MA knows.
    Refresh,
}

/// A resolution in flight for one peer.
struct Inflight {
    /// An event that may have news came meanwhile: when this round ends,
    /// resolve again (the answer in hand may predate what the event says).
    again: bool,
    /// Tells the query in flight to ask again at once (a Mapping Refresh:
    /// the MA knows now; the query waiting may be lost or already old).
    kick: Arc<Notify>,
}

/// State shared by the resolver's tasks.
pub struct Ctx {
    pub cfg: Config,
    pub params: Lin6Params,
    pub node: NodeId,
    pub kernel: KernelHandle,
    pub discovery: Option<Discovery>,
    /// `ma:`: the MAs of every node, ours and peers', instead of DNS.
    pub static_mas: Vec<Server>,
    /// Where we register without DNS (`registration.ma`, else `ma:`).
    pub own_static_mas: Vec<Server>,
    /// Peers' MAs: `ma=` lists from DNS.
    pub ma_cache: Mutex<MaCache>,
    /// For pool addresses, the MA an LS chose.
    pub ls_choices: Mutex<MaCache>,
    /// The pools whose mappings we installed, and their sites.
    pub pools: Mutex<Pools>,
    /// Pool addresses' LS lists (`ls=`), for the record's TTL.
    pub ls_cache: Mutex<MaCache>,
    pub correspondents: Mutex<Correspondents>,
    pub stats: Stats,
    /// The MA our last registration went to.
    pub current_ma: Mutex<Option<Server>>,
    /// The locator of the newest PREFIX event, until the registration task
    /// takes it ([`Ctx::take_moved_to`]).
    moved_to: Mutex<Option<Ipv6Addr>>,
    inflight: Mutex<HashMap<NodeId, Inflight>>,
    permits: Arc<Semaphore>,
    /// Per peer: when its current refresh interval began, and how many
    /// of its Refreshes were honoured in it.
    last_refresh: Mutex<HashMap<NodeId, (Instant, u8)>>,
}

/// Mapping Refreshes honoured per peer in `refresh.min_interval_ms`: a
/// node that moves sends two, one with its registration and one when its
/// MA has accepted it; a flood of forged ones costs at most this many MA
/// queries per peer and interval.
pub const REFRESHES_PER_INTERVAL: u8 = 2;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a few map operations that cannot leave
    // the data inconsistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctx {
    pub fn new(
        cfg: Config,
        kernel: KernelHandle,
        discovery: Option<Discovery>,
        static_mas: Vec<Server>,
        own_static_mas: Vec<Server>,
    ) -> Ctx {
        Ctx {
            params: cfg.lin6,
            node: cfg.node_id,
            kernel,
            discovery,
            static_mas,
            own_static_mas,
            ma_cache: Mutex::new(MaCache::new(
                cfg.cache.ma_capacity,
                Duration::from_secs(cfg.cache.ma_max_ttl_s),
            )),
            ls_cache: Mutex::new(MaCache::new(
                cfg.cache.ma_capacity,
                Duration::from_secs(cfg.cache.ma_max_ttl_s),
            )),
            ls_choices: Mutex::new(MaCache::new(
                cfg.cache.ma_capacity,
                Duration::from_secs(cfg.cache.ma_max_ttl_s),
            )),
            pools: Mutex::new(Pools::new(
                cfg.correspondents.capacity,
                Duration::from_secs(cfg.load_sharing.site_history_s),
            )),
            correspondents: Mutex::new(Correspondents::new(cfg.correspondents.capacity)),
            stats: Stats::default(),
            current_ma: Mutex::new(None),
            moved_to: Mutex::new(None),
            inflight: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(cfg.events.max_resolving)),
            last_refresh: Mutex::new(HashMap::new()),
            cfg,
        }
    }

    pub fn lin6_address(&self) -> Ipv6Addr {
        self.params.lin6_address(self.node)
    }

    fn query_retry(&self) -> Retry {
        Retry {
            timeout: Duration::from_millis(self.cfg.query.timeout_ms),
            attempts: self.cfg.query.attempts,
        }
    }

    fn ls_retry(&self) -> Retry {
        Retry {
            timeout: Duration::from_millis(self.cfg.load_sharing.timeout_ms),
            attempts: self.cfg.load_sharing.attempts,
        }
    }

    /// The MAs of the node with LIN6 address `addr`: static config, the
    /// cache, or DNS. For a pool address (its TXT record lists LSs, `ls=`)
    /// the MA an LS chose for us, and `true`.
    pub async fn mas_of(&self, addr: Ipv6Addr) -> Result<(Vec<Server>, bool), ResolveError> {
        self.mas_of_via(addr, true).await
    }

    /// Our own MAs when no name is configured: the `ma=` list at our
    /// address's reverse name. A pool's LSs choose MAs for its users, not
    /// for the pool's own servers, which name their MA (`ma:`).
    pub async fn own_mas(&self, addr: Ipv6Addr) -> Result<Vec<Server>, ResolveError> {
        Ok(self.mas_of_via(addr, false).await?.0)
    }

    async fn mas_of_via(
        &self,
        addr: Ipv6Addr,
        via_ls: bool,
    ) -> Result<(Vec<Server>, bool), ResolveError> {
        if !self.static_mas.is_empty() {
            return Ok((self.static_mas.clone(), false));
        }
        if let Some(m) = lock(&self.ma_cache).get(addr, Instant::now()) {
            return Ok((m, false));
        }
        if via_ls && let Some(m) = lock(&self.ls_choices).get(addr, Instant::now()) {
            return Ok((m, true));
        }
        let cached_ls = match via_ls {
            true => lock(&self.ls_cache).get(addr, Instant::now()),
            false => None,
        };
        let lss = match cached_ls {
            Some(lss) => lss,
            None => {
                let Some(d) = &self.discovery else {
                    return Err(MaError::NoMa.into());
                };
                bump(&self.stats.dns_lookups);
                let found = d.servers_of(addr).await?;
                let now = Instant::now();
                let rec = found.value;
                // hickory's deadline is a std Instant, as ours.
                if rec.ls.is_empty() {
                    if rec.ma.is_empty() {
                        return Err(MaError::NoMa.into());
                    }
                    lock(&self.ma_cache).put(addr, rec.ma.clone(), found.valid_until, now);
                    return Ok((rec.ma, false));
                }
                if !via_ls {
                    warn!(%addr, "the TXT record lists LS servers (a pool address), no MA");
                    return Err(MaError::NoMa.into());
                }
                // A pool: its LSs say which MA, not the record.
                lock(&self.ls_cache).put(addr, rec.ls.clone(), found.valid_until, now);
                rec.ls
            }
        };
        Ok((self.ma_via_ls(addr, &lss).await?, true))
    }

    /// Asks the pool's LSs which MA to use, and caches the choice.
    async fn ma_via_ls(&self, pool: Ipv6Addr, lss: &[Server]) -> Result<Vec<Server>, ResolveError> {
        let r = ls_client::choose_ma(lss, self.node, pool, self.ls_retry(), &self.stats.ls).await;
        let choice = match r {
            Ok(c) => c,
            Err(e) => {
                if matches!(e, LsError::NoAnswer { .. }) {
                    // Ask DNS again next round: the LSs may have moved.
                    lock(&self.ls_cache).forget(pool);
                }
                return Err(e.into());
            }
        };
        let ma = self.cfg.load_sharing.ma_server(choice.ma);
        let now = Instant::now();
        let until = now + Duration::from_secs(self.cfg.load_sharing.choice_ttl_s);
        lock(&self.ls_choices).put(pool, vec![ma], until, now);
        Ok(vec![ma])
    }

    /// Queries the peer's MAs and installs the answer; rounds with backoff
    /// while DNS or the MAs do not answer. `kick`: see [`ma_client::query`].
    pub async fn resolve(&self, peer: NodeId, kick: Option<&Notify>) -> Result<(), ResolveError> {
        let addr = self.params.lin6_address(peer);
        let mut backoff = Duration::from_millis(self.cfg.query.backoff_ms);
        let mut round = 0;
        loop {
            round += 1;
            let r = self.resolve_once(peer, addr, kick).await;
            match r {
                Err(e) if e.is_transient() && round < self.cfg.query.rounds => {
                    debug!(%peer, "round {round}: {e}; again in {backoff:?}");
                    lock(&self.ma_cache).forget(addr);
                    lock(&self.ls_choices).forget(addr);
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                r => return r,
            }
        }
    }

    async fn resolve_once(
        &self,
        peer: NodeId,
        addr: Ipv6Addr,
        kick: Option<&Notify>,
    ) -> Result<(), ResolveError> {
        let (mas, pool) = self.mas_of(addr).await?;
        let (ma, answer) = ma_client::query(&mas, peer, self.query_retry(), kick).await?;
        match answer {
            QueryAnswer::Mapping {
                prefix, lifetime, ..
            } => {
                let Some(secs) = NonZeroU32::new(lifetime) else {
                    return Err(ResolveError::NoMapping(peer));
                };
                let m = MapNew {
                    node_id: peer,
                    prefix,
                    lifetime: Lifetime::Seconds(secs),
                    pool,
                };
                self.kernel.call_now(move |k| k.map_new(&m)).await?;
                let now = Instant::now();
                if pool {
                    lock(&self.pools).installed(peer, prefix, now);
                }
                lock(&self.correspondents).touch(peer, addr, now);
                info!(%peer, %prefix, lifetime, ma = %ma, pool, "mapping installed");
                Ok(())
            }
            QueryAnswer::NoMapping => Err(ResolveError::NoMapping(peer)),
        }
    }

    /// Starts resolving `peer` in its own task, unless too many resolutions
    /// run (then the event is dropped; a miss comes again while packets
    /// wait). If `peer` is already being resolved, a plain miss is left to
    /// that resolution; a moved source or a Mapping Refresh has it resolve
    /// once more when it ends, and a Refresh also has its query sent again
    /// at once, so that news is never lost to an answer read just before.
    pub fn spawn_resolve(self: &Arc<Self>, peer: NodeId, why: Why) {
        if peer == self.node {
            return;
        }
        let kick = {
            let mut inflight = lock(&self.inflight);
            if let Some(f) = inflight.get_mut(&peer) {
                match why {
                    Why::Miss => {}
                    Why::Moved => f.again = true,
                    Why::Refresh => {
                        f.again = true;
                        f.kick.notify_waiters();
                    }
                }
                debug!(%peer, ?why, again = f.again, "already being resolved");
                return;
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                bump(&self.stats.dropped_busy);
                return;
            };
            let kick = Arc::new(Notify::new());
            inflight.insert(
                peer,
                Inflight {
                    again: false,
                    kick: kick.clone(),
                },
            );
            (kick, permit)
        };
        let ctx = self.clone();
        tokio::spawn(async move {
            let (kick, permit) = kick;
            let r = loop {
                let r = ctx.resolve(peer, Some(&kick)).await;
                let mut inflight = lock(&ctx.inflight);
                match inflight.get_mut(&peer) {
                    Some(f) if f.again => {
                        f.again = false;
                        debug!(%peer, "resolving again: news came during the last round");
                    }
                    _ => {
                        inflight.remove(&peer);
                        break r;
                    }
                }
            };
            drop(permit);
            match r {
                Ok(()) => bump(&ctx.stats.resolved),
                Err(ResolveError::NoMapping(_)) => {
                    bump(&ctx.stats.no_mapping);
                    info!(%peer, ?why, "the MA has no mapping for it");
                }
                Err(e) => {
                    bump(&ctx.stats.resolve_failed);
                    warn!(%peer, ?why, "not resolved: {e}");
                }
            }
        });
    }

    /// One kernel event.
    pub fn handle_event(self: &Arc<Self>, ev: Event, moved: &mpsc::Sender<()>) {
        match ev {
            Event::Miss {
                node_id, reason, ..
            } => {
                debug!(%node_id, %reason, "miss");
                let why = match reason {
                    MissReason::SourceMoved | MissReason::UnknownSource => Why::Moved,
                    _ => Why::Miss,
                };
                self.spawn_resolve(node_id, why);
            }
            Event::Prefix {
                new_locator: Some(l),
                ..
            } => {
                info!(locator = %l, "we moved");
                // The event names the new locator, so the registration
                // need not ask the kernel for it (a netlink round trip on
                // the handover's path). Set before the wake-up, so the task
                // woken finds it; a newer move overwrites it.
                *lock(&self.moved_to) = Some(l);
                // Capacity 1: moves that arrive during a registration fold
                // into the next one.
                let _ = moved.try_send(());
            }
            Event::Prefix { old_locator, .. } => {
                info!(?old_locator, "locator gone; waiting for a new one");
                // A move not yet registered is void: its locator is gone.
                lock(&self.moved_to).take();
            }
        }
    }

    /// One datagram on the refresh port.
    pub async fn handle_refresh(self: &Arc<Self>, datagram: &[u8], from: std::net::SocketAddr) {
        let Ok(r) = MappingRefresh::decode(datagram) else {
            bump(&self.stats.refreshes_ignored);
            debug!(%from, "malformed Mapping Refresh");
            return;
        };
        bump(&self.stats.refreshes_received);
        let peer = r.node;
        // Only peers we talk to: a refresh for anyone else would make us a
        // DNS and MA query amplifier for whoever sends them.
        let known = lock(&self.correspondents).contains(peer)
            || matches!(
                self.kernel.call(move |k| k.map_get(peer)).await,
                Ok(Some(_))
            );
        if !known || peer == self.node {
            bump(&self.stats.refreshes_ignored);
            debug!(%peer, %from, "Mapping Refresh for a node we do not talk to");
            return;
        }
        let now = Instant::now();
        let min = Duration::from_millis(self.cfg.refresh.min_interval_ms);
        {
            let mut last = lock(&self.last_refresh);
            match last.get_mut(&peer) {
                Some((start, n)) if now.saturating_duration_since(*start) < min => {
                    if *n >= REFRESHES_PER_INTERVAL {
                        bump(&self.stats.refreshes_ignored);
                        return;
                    }
                    *n += 1;
                }
                Some(entry) => *entry = (now, 1),
                None => {
                    if last.len() >= self.cfg.correspondents.capacity {
                        last.retain(|_, (t, _)| now.saturating_duration_since(*t) < min);
                        if last.len() >= self.cfg.correspondents.capacity {
                            bump(&self.stats.refreshes_ignored);
                            return;
                        }
                    }
                    last.insert(peer, (now, 1));
                }
            }
        }
        info!(%peer, %from, "Mapping Refresh: asking the peer's MA");
        bump(&self.stats.requeries);
        self.spawn_resolve(peer, Why::Refresh);
    }

    /// The locator the newest PREFIX event named, once: after it is taken,
    /// the registration task asks the kernel (a wake-up for another reason,
    /// or a second one for the same move).
    pub fn take_moved_to(&self) -> Option<Ipv6Addr> {
        lock(&self.moved_to).take()
    }

    /// Tells every recent correspondent that we moved. A pool is told at
    /// each of its sites that may still stream to us, at the site's locator
    /// (which lin6.ko leaves as it is): the pool's LIN6 address would reach
    /// only one of them.
    pub async fn notify_correspondents(&self, sock: &UdpSocket) {
        let now = Instant::now();
        let peers = lock(&self.correspondents)
            .recent(now, Duration::from_secs(self.cfg.correspondents.recent_s));
        let msg = MappingRefresh {
            node: self.node,
            timestamp: lin6::auth::unix_now(),
        }
        .to_vec();
        for (peer, addr) in peers {
            let sites = lock(&self.pools).sites(peer, now);
            let targets: Vec<Ipv6Addr> = if sites.is_empty() {
                vec![addr]
            } else {
                sites.iter().map(|p| p.with_node(peer)).collect()
            };
            for target in targets {
                let to = self
                    .kernel
                    .datagram_target(target, self.cfg.refresh.peer_port);
                match sock.send_to(&msg, to).await {
                    Ok(_) => {
                        bump(&self.stats.refreshes_sent);
                        debug!(%peer, %to, "Mapping Refresh sent");
                    }
                    Err(e) => warn!(%peer, %to, "Mapping Refresh: {e}"),
                }
            }
        }
    }

    /// After a move, asks the LS of every recent pool again which MA (and
    /// site) serves us, and installs the answer: the LS decides per client
    /// /64, so new flows go to the site nearest the new network, while
    /// lin6.ko keeps running flows with their sites.
    pub fn rechoose_pools(self: &Arc<Self>) {
        let now = Instant::now();
        let peers = lock(&self.correspondents)
            .recent(now, Duration::from_secs(self.cfg.correspondents.recent_s));
        for (peer, addr) in peers {
            if !lock(&self.pools).is_pool(peer) {
                continue;
            }
            lock(&self.ls_choices).forget(addr);
            bump(&self.stats.pool_rechoices);
            info!(%peer, "we moved: asking the pool's LS again");
            self.spawn_resolve(peer, Why::Moved);
        }
    }
}
