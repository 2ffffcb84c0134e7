//! The MA side of the load-sharing protocol (paper §IV.B and §IV.D): register
//! with an LS and heartbeat the load, fail over to the next LS when the
//! current one stops answering, measure RTTs to users on the LS's request,
//! and count (and shape) the users the LS sends here.
//!
//! Every datagram on the LS socket must be authenticated with the cluster
//! key (src/ls), pass the replay check per (key, sender), and be a type the
//! MA receives; anything else is dropped before it touches any state and
//! counted in `lin6agentd_ls_dropped_total{reason}`.
//!
//! Where the LS list comes from: a [`watch`] channel of addresses, filled
//! from `ls.servers` and, with `ls.discovery`, by DNS (`ls_discovery`: the
//! reverse TXT record naming the pool's LSs). When the current LS stops
//! acknowledging, the client moves to the next one listed and wakes the
//! discovery task (the `lapsed` notification) to ask DNS again.

use crate::agent::Agent;
use crate::config::LsConfig;
use crate::error::AgentError;
use crate::metrics::{LsDrop, Metrics};
use crate::rtt_probe;
use crate::shaping::{ShapeCmd, ShapingQueue};
use crate::users::{Assigned, User, Users, load_ppm};
use lin6::addr::NodeId;
use lin6::auth::{Key, ReplayWindow, unix_now};
use lin6::ls::{
    Body, ClockSequence, Frame, Heartbeat, MAX_DATAGRAM, Message, RttReply, RttRequest, RttStatus,
    ServiceLevel,
};
use serde::Serialize;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Which LS we heartbeat, and when to give up on it. Sans-I/O.
#[derive(Debug, Clone)]
pub struct Link {
    servers: Vec<SocketAddr>,
    current: usize,
    /// Last acknowledgement from the current LS, or when we switched to it.
    since: Instant,
    failover_after: Duration,
    acked: bool,
}

impl Link {
    pub fn new(servers: Vec<SocketAddr>, failover_after: Duration, now: Instant) -> Link {
        Link {
            servers,
            current: 0,
            since: now,
            failover_after,
            acked: false,
        }
    }

    /// The LS to heartbeat now. Moves to the next one when the current one
    /// has not acknowledged for `failover_after`; `true` in the second field
    /// when that happened.
    pub fn target(&mut self, now: Instant) -> Option<(SocketAddr, bool)> {
        self.target_lapsed(now).map(|(to, moved, _)| (to, moved))
    }

    /// [`Link::target`], and in the third field whether the current LS has
    /// just gone `failover_after` without acknowledging (also when it is
    /// the only one listed and there is nowhere to move).
    pub fn target_lapsed(&mut self, now: Instant) -> Option<(SocketAddr, bool, bool)> {
        if self.servers.is_empty() {
            return None;
        }
        let (mut moved, mut lapsed) = (false, false);
        if now.duration_since(self.since) >= self.failover_after {
            lapsed = true;
            if self.servers.len() > 1 {
                self.current = (self.current + 1) % self.servers.len();
                moved = true;
            }
            self.since = now;
            self.acked = false;
        }
        Some((self.servers[self.current], moved, lapsed))
    }

    pub fn ack(&mut self, now: Instant) {
        self.since = now;
        self.acked = true;
    }

    /// A new LS list (config today, DNS later): stay with the current LS if
    /// it is still listed, else start from the first.
    pub fn set_servers(&mut self, servers: Vec<SocketAddr>, now: Instant) {
        let cur = self.servers.get(self.current).copied();
        self.current = cur
            .and_then(|c| servers.iter().position(|s| *s == c))
            .unwrap_or(0);
        if cur != servers.get(self.current).copied() {
            self.since = now;
            self.acked = false;
        }
        self.servers = servers;
    }

    pub fn current(&self) -> Option<SocketAddr> {
        self.servers.get(self.current).copied()
    }

    pub fn acked(&self) -> bool {
        self.acked
    }
}

/// What the LS side shows in status and tests.
#[derive(Debug, Clone, Serialize)]
pub struct LsStatus {
    pub ma_addr: Ipv6Addr,
    pub current_ls: Option<SocketAddr>,
    pub acknowledged: bool,
    pub normal: u32,
    pub premium: u32,
    pub load_ppm: u32,
    pub users: Vec<UserView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub node_id: NodeId,
    #[serde(flatten)]
    pub user: User,
}

/// State shared by the LS tasks.
pub struct LsShared {
    cfg: LsConfig,
    key: Key,
    users: Mutex<Users>,
    link: Mutex<Link>,
    /// The last sequence number used. Held while a message is signed *and*
    /// sent, so that messages leave in the order of their sequence numbers:
    /// the LS drops anything not newer than what it last accepted from us.
    sequence: Mutex<ClockSequence>,
    metrics: Arc<Metrics>,
    shaping: ShapingQueue,
}

impl LsShared {
    fn users(&self) -> std::sync::MutexGuard<'_, Users> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> LsStatus {
        let (current_ls, acknowledged) = {
            let l = self.link();
            (l.current(), l.acked())
        };
        let u = self.users();
        let (normal, premium) = (
            u.count(ServiceLevel::Normal),
            u.count(ServiceLevel::Premium),
        );
        let mut users: Vec<UserView> = u
            .iter()
            .map(|(node_id, user)| UserView { node_id, user })
            .collect();
        users.sort_by_key(|v| v.node_id);
        LsStatus {
            ma_addr: self.cfg.ma_addr,
            current_ls,
            acknowledged,
            normal,
            premium,
            load_ppm: self.load(normal, premium),
            users,
        }
    }

    pub fn user(&self, node: NodeId) -> Option<User> {
        self.users().get(node)
    }

    fn load(&self, normal: u32, premium: u32) -> u32 {
        load_ppm(
            normal,
            premium,
            self.cfg.normal_kbps,
            self.cfg.premium_kbps,
            self.cfg.capacity_kbps,
        )
    }

    /// Signs `body` with the next sequence number and sends it at once
    /// (without waiting: a full socket buffer drops it, as the network
    /// might, and counts it).
    fn send_signed(&self, sock: &UdpSocket, body: impl Into<Body>, to: SocketAddr) -> bool {
        let mut seq = self.sequence.lock().unwrap_or_else(|p| p.into_inner());
        let unix = unix_now();
        let bytes = match Message::new(seq.next(unix), unix, body).encode(Some(&self.key)) {
            Ok(b) => b,
            Err(e) => {
                warn!("cannot encode an LS message: {e}");
                return false;
            }
        };
        match sock.try_send_to(&bytes, to) {
            Ok(_) => true,
            Err(e) => {
                Metrics::inc(&self.metrics.ls_send_errors);
                debug!(%to, "LS send: {e}");
                false
            }
        }
    }

    fn send_heartbeat(&self, sock: &UdpSocket, to: SocketAddr) -> bool {
        let (normal, premium) = {
            let u = self.users();
            (
                u.count(ServiceLevel::Normal),
                u.count(ServiceLevel::Premium),
            )
        };
        self.metrics
            .gauge_ls_users_normal
            .store(normal.into(), Ordering::Relaxed);
        self.metrics
            .gauge_ls_users_premium
            .store(premium.into(), Ordering::Relaxed);
        let hb = Heartbeat {
            ma_addr: self.cfg.ma_addr,
            capacity_kbps: self.cfg.capacity_kbps,
            normal,
            premium,
            load_ppm: self.load(normal, premium),
            draining: self.cfg.draining,
        };
        self.send_signed(sock, hb, to)
    }
}

/// The running LS side.
pub struct LsRunning {
    pub shared: Arc<LsShared>,
    pub local_addr: SocketAddr,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Binds the LS socket and starts the heartbeat/receive loop and the user
/// sweeper. `servers` carries the LS list (see the module comment).
pub async fn spawn(
    cfg: LsConfig,
    key: Key,
    agent: Arc<Agent>,
    shaping: ShapingQueue,
    servers: watch::Receiver<Vec<SocketAddr>>,
    lapsed: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> Result<LsRunning, AgentError> {
    let sock = UdpSocket::bind(cfg.listen)
        .await
        .map_err(|source| AgentError::Bind {
            what: "LS socket (ls.listen)",
            addr: cfg.listen,
            source,
        })?;
    let local_addr = sock.local_addr().map_err(|source| AgentError::Io {
        what: "LS socket",
        source,
    })?;
    if let Err(e) = rtt_probe::available() {
        warn!("RTT requests will be answered unreachable: {e}");
    }
    let now = Instant::now();
    let first = servers.borrow().clone();
    let shared = Arc::new(LsShared {
        users: Mutex::new(Users::new(cfg.max_users, cfg.user_grace_s)),
        link: Mutex::new(Link::new(
            first,
            Duration::from_millis(cfg.failover_after_ms),
            now,
        )),
        // Follows the wall clock, as lsd's does: after a restart our
        // sequence numbers are still newer than the ones the LSs remember.
        sequence: Mutex::new(ClockSequence::now()),
        metrics: agent.metrics().clone(),
        shaping,
        key,
        cfg,
    });
    let sock = Arc::new(sock);
    let tasks = vec![
        tokio::spawn(main_loop(
            sock,
            shared.clone(),
            servers,
            lapsed,
            stop.clone(),
        )),
        tokio::spawn(sweeper(shared.clone(), agent, stop)),
    ];
    info!(%local_addr, ma = %shared.cfg.ma_addr, "LS client running");
    Ok(LsRunning {
        shared,
        local_addr,
        tasks,
    })
}

async fn main_loop(
    sock: Arc<UdpSocket>,
    shared: Arc<LsShared>,
    mut servers: watch::Receiver<Vec<SocketAddr>>,
    lapsed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(shared.cfg.heartbeat_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let probes = Arc::new(Semaphore::new(shared.cfg.rtt.max_concurrent));
    let mut replay: ReplayWindow<(u32, SocketAddr)> = ReplayWindow::new(shared.cfg.clock_skew_s);
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut servers_open = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let target = shared.link().target_lapsed(Instant::now());
                let Some((to, moved, gone_quiet)) = target else { continue };
                if gone_quiet {
                    // DNS may name other LSs by now (ls.discovery); without
                    // discovery nobody listens.
                    lapsed.notify_one();
                }
                if moved {
                    Metrics::inc(&shared.metrics.ls_failovers);
                    warn!(ls = %to, "current LS stopped acknowledging heartbeats; failing over");
                }
                if shared.send_heartbeat(&sock, to) {
                    Metrics::inc(&shared.metrics.ls_heartbeats_sent);
                }
            }
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, from)) => on_datagram(&sock, &shared, &probes, &mut replay, from, &buf[..n]).await,
                Err(e) => debug!("receive on LS socket: {e}"),
            },
            r = servers.changed(), if servers_open => {
                if r.is_err() {
                    // The publisher is gone; keep the last list.
                    servers_open = false;
                    continue;
                }
                let list = servers.borrow_and_update().clone();
                info!(?list, "LS list changed");
                shared.link().set_servers(list, Instant::now());
            }
            _ = stop.changed() => return,
        }
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        v6 => v6,
    }
}

async fn on_datagram(
    sock: &Arc<UdpSocket>,
    shared: &Arc<LsShared>,
    probes: &Arc<Semaphore>,
    replay: &mut ReplayWindow<(u32, SocketAddr)>,
    from: SocketAddr,
    bytes: &[u8],
) {
    let m = &shared.metrics;
    let frame = match Frame::parse(bytes) {
        Ok(f) => f,
        Err(e) => {
            debug!(%from, "malformed LS datagram: {e}");
            m.ls_drop(LsDrop::Malformed);
            return;
        }
    };
    let h = frame.header;
    if !h.msg_type.authenticated() || h.key_id != shared.key.id || !frame.verify(&shared.key) {
        debug!(%from, "unauthenticated {:?}", h.msg_type);
        m.ls_drop(LsDrop::Unauthenticated);
        return;
    }
    if let Err(e) = replay.accept(
        (h.key_id, canonical(from)),
        h.sequence,
        h.timestamp,
        unix_now(),
    ) {
        debug!(%from, "LS replay check: {e}");
        m.ls_drop(LsDrop::Replay);
        return;
    }
    let body = match frame.body() {
        Ok(b) => b,
        Err(e) => {
            debug!(%from, "bad {:?} body: {e}", h.msg_type);
            m.ls_drop(LsDrop::Malformed);
            return;
        }
    };
    let me = shared.cfg.ma_addr;
    match body {
        Body::MatblUpdate(u) if u.entries.iter().any(|e| e.ma_addr == me) => {
            Metrics::inc(&m.ls_heartbeat_acks);
            shared.link().ack(Instant::now());
        }
        Body::MatblUpdate(_) => m.ls_drop(LsDrop::NotOurs),
        Body::RttRequest(req) => {
            Metrics::inc(&m.ls_rtt_requests);
            let Ok(permit) = probes.clone().try_acquire_owned() else {
                Metrics::inc(&m.ls_rtt_busy);
                return;
            };
            let (sock, shared) = (sock.clone(), shared.clone());
            tokio::spawn(async move {
                let reply = measure(&shared, req).await;
                drop(permit);
                if shared.send_signed(&sock, reply, from) {
                    Metrics::inc(&shared.metrics.ls_rtt_replies);
                }
            });
        }
        Body::MaAssign(a) if a.ma_addr != me => {
            debug!(ma = %a.ma_addr, "assignment for another MA");
            m.ls_drop(LsDrop::NotOurs);
        }
        Body::MaAssign(a) => {
            let r = shared.users().assign(a.node_id, a.level, unix_now().into());
            match r {
                Assigned::Full => {
                    Metrics::inc(&m.ls_assigns_refused);
                    warn!(node = %a.node_id, "assignment refused: ls.max_users users counted");
                }
                Assigned::New | Assigned::LevelChanged => {
                    Metrics::inc(&m.ls_assigns);
                    info!(node = %a.node_id, level = %a.level, user = %a.user_addr, "user assigned");
                    shared.shaping.send(ShapeCmd::Install(a.node_id, a.level));
                }
                Assigned::Renewed => Metrics::inc(&m.ls_assigns),
            }
        }
        _ => m.ls_drop(LsDrop::WrongType),
    }
}

async fn measure(shared: &LsShared, req: RttRequest) -> RttReply {
    let count = req.probes.min(shared.cfg.rtt.max_probes);
    let timeout = Duration::from_millis(shared.cfg.rtt.probe_timeout_ms);
    let user = req.user_addr;
    let r = tokio::task::spawn_blocking(move || rtt_probe::probe(user, count, timeout)).await;
    let status = match r {
        Ok(Ok(m)) if m.answered > 0 => RttStatus::Reachable {
            mean_us: m.mean_us,
            answered: m.answered,
        },
        Ok(Ok(_)) => RttStatus::Unreachable,
        Ok(Err(e)) => {
            Metrics::inc(&shared.metrics.ls_rtt_errors);
            warn!(%user, "RTT probe: {e}");
            RttStatus::Unreachable
        }
        Err(e) => {
            Metrics::inc(&shared.metrics.ls_rtt_errors);
            warn!(%user, "RTT probe task: {e}");
            RttStatus::Unreachable
        }
    };
    debug!(%user, ?status, "RTT measured");
    RttReply {
        request_id: req.request_id,
        status,
    }
}

/// How often users whose timer ran out are checked against their mappings.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Ends sessions: a user whose timer ran out stays while its mapping is
/// live (cache first, then the database) and goes, with its shaping, when
/// the mapping has expired or was never made.
async fn sweeper(shared: Arc<LsShared>, agent: Arc<Agent>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = u64::from(unix_now());
        let due = shared.users().due(now);
        for node in due {
            let mapping = match agent.cache().get(node) {
                Some(m) => Some(m),
                None => match agent.store().mapping(node).await {
                    Ok(m) => m,
                    Err(e) => {
                        // Not knowing is no reason to cut a user off.
                        warn!(%node, "session check: {e}");
                        continue;
                    }
                },
            };
            match mapping.filter(|m| m.expires_at > now) {
                Some(m) => shared.users().extend(node, m.expires_at),
                None => {
                    if shared.users().remove(node).is_some() {
                        info!(%node, "session ended (no live mapping); shaping removed");
                        shared.shaping.send(ShapeCmd::Remove(node));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(p: u16) -> SocketAddr {
        SocketAddr::new(Ipv6Addr::LOCALHOST.into(), p)
    }

    #[test]
    fn an_ls_that_stops_acknowledging_is_replaced_by_the_next_and_the_list_wraps() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut l = Link::new(vec![a(1), a(2)], ms(300), t0);
        assert_eq!(l.target(t0), Some((a(1), false)));
        l.ack(t0 + ms(200));
        assert_eq!(
            l.target(t0 + ms(400)),
            Some((a(1), false)),
            "acked 200 ms ago"
        );
        assert_eq!(l.target(t0 + ms(500)), Some((a(2), true)));
        assert_eq!(l.target(t0 + ms(700)), Some((a(2), false)));
        assert_eq!(l.target(t0 + ms(800)), Some((a(1), true)), "wraps around");
    }

    #[test]
    fn a_silent_only_ls_lapses_without_a_move_so_dns_can_be_asked_again() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut l = Link::new(vec![a(1)], ms(300), t0);
        assert_eq!(l.target_lapsed(t0 + ms(100)), Some((a(1), false, false)));
        assert_eq!(l.target_lapsed(t0 + ms(300)), Some((a(1), false, true)));
        assert_eq!(
            l.target_lapsed(t0 + ms(400)),
            Some((a(1), false, false)),
            "once per failover_after, not at every tick"
        );
        l.ack(t0 + ms(500));
        assert_eq!(l.target_lapsed(t0 + ms(700)), Some((a(1), false, false)));
    }

    #[test]
    fn a_new_list_keeps_the_current_ls_if_still_listed() {
        let t0 = Instant::now();
        let mut l = Link::new(vec![a(1), a(2)], Duration::from_secs(1), t0);
        l.target(t0 + Duration::from_secs(1));
        assert_eq!(l.current(), Some(a(2)));
        l.set_servers(vec![a(3), a(2)], t0);
        assert_eq!(l.current(), Some(a(2)));
        l.set_servers(vec![a(4)], t0);
        assert_eq!(l.current(), Some(a(4)));
        l.set_servers(vec![], t0);
        assert_eq!(l.target(t0), None);
    }
}
