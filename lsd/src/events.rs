//! The daemon's state and what each datagram and each timer does to it.
//!
//! Sans-I/O: [`Lsd::handle`] and [`Lsd::tick`] take the time and a datagram
//! and return the datagrams to send. The event loop in `tasks.rs` owns the
//! sockets; tests drive this directly with made-up clocks.

use crate::answer_cache::{AnswerCache, AnswerView};
use crate::assignments::Assignments;
use crate::config::Config;
use crate::decision::{Decisions, Pending, Waiter};
use crate::error::ConfigError;
use crate::load::LoadModel;
use crate::ma_table::{Change, MaTable, MaView};
use crate::metrics::{DropReason, Metrics};
use crate::peers::{PeerStatus, Peers, canonical};
use crate::ratelimit::{KeyedLimiter, TokenBucket};
use crate::subscribers::SubscriberLevels;
use lin6::addr::Prefix64;
use lin6::auth::{Key, ReplayWindow};
use lin6::ls::{
    AnstblUpdate, Body, ClockSequence, Frame, Heartbeat, MaAssign, MaReply, MaRequest, MatblUpdate,
    Message, MsgType, ReplyCode, RttReply, RttRequest, ServiceLevel,
};
use serde::Serialize;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Which of the two sockets a datagram came in on or goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sock {
    /// MA <-> LS and user <-> LS (port 7310).
    Ls,
    /// LS <-> LS (port 7311).
    Peer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub sock: Sock,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// How often expired answers are swept out even if nobody asks for them.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct Lsd {
    key: Key,
    pool: Option<Ipv6Addr>,
    ma: MaTable,
    answers: AnswerCache,
    assignments: Assignments,
    load: LoadModel,
    subscribers: Box<dyn SubscriberLevels>,
    decisions: Decisions,
    request_limit: KeyedLimiter<Prefix64>,
    decision_limit: KeyedLimiter<Prefix64>,
    probe_limit: TokenBucket,
    peers: Peers,
    replay: ReplayWindow<(u32, SocketAddr)>,
    sequence: ClockSequence,
    probes: u8,
    rtt_deadline: Duration,
    next_sweep: Instant,
    metrics: Arc<Metrics>,
}

fn subsec_ms() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0)
}

fn v6(a: SocketAddr) -> SocketAddrV6 {
    match canonical(a) {
        SocketAddr::V6(v) => v,
        SocketAddr::V4(_) => unreachable!("canonical() returns IPv6"),
    }
}

impl Lsd {
    /// The outgoing sequence starts at the wall clock in milliseconds (mod
    /// 2^32) and never falls behind it (see [`Lsd::signed`]), so that after a
    /// restart our sequence numbers are newer than the ones peers and MAs
    /// remember from before.
    pub fn new(
        cfg: &Config,
        subscribers: Box<dyn SubscriberLevels>,
        now: Instant,
        unix: u32,
    ) -> Result<Lsd, ConfigError> {
        cfg.validate()?;
        let rl = &cfg.rate_limits;
        Ok(Lsd {
            key: cfg.key()?,
            pool: cfg.pool,
            ma: MaTable::new(
                cfg.ma_table.capacity,
                cfg.heartbeat_timeout(),
                cfg.ma_table.drained.iter().copied(),
            ),
            answers: AnswerCache::new(cfg.answers.capacity, cfg.answer_ttl()),
            assignments: Assignments::new(cfg.answers.capacity, cfg.answer_ttl()),
            load: LoadModel::from_config(&cfg.load),
            subscribers,
            decisions: Decisions::new(cfg.decision.max_pending, unix.wrapping_mul(7919)),
            request_limit: KeyedLimiter::new(rl.requests_per_prefix, rl.tracked_prefixes),
            decision_limit: KeyedLimiter::new(rl.decisions_per_prefix, rl.tracked_prefixes),
            probe_limit: TokenBucket::new(rl.probes_total, now),
            peers: Peers::new(
                cfg.peers.iter().copied(),
                cfg.retry_interval(),
                cfg.peering.max_tries,
                now,
            ),
            replay: ReplayWindow::new(cfg.clock_skew_s),
            sequence: ClockSequence::starting_at(unix, subsec_ms()),
            probes: cfg.decision.probes,
            rtt_deadline: cfg.rtt_deadline(),
            next_sweep: now + SWEEP_EVERY,
            metrics: Arc::new(Metrics::default()),
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn ma_table(&self) -> &MaTable {
        &self.ma
    }

    pub fn answers(&self) -> &AnswerCache {
        &self.answers
    }

    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    pub fn load_model(&self) -> &LoadModel {
        &self.load
    }

    /// Operator drain of one MA; see [`MaTable::set_drained`].
    pub fn set_drained(&mut self, ma: Ipv6Addr, drained: bool) -> bool {
        self.ma.set_drained(ma, drained)
    }

    /// When [`Lsd::tick`] next has something to do.
    pub fn next_wake(&self) -> Instant {
        [
            self.decisions.next_deadline(),
            self.ma.next_expiry(),
            self.peers.next_try(),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_sweep, Instant::min)
    }

    /// Signs `body` with the next sequence number, which follows the clock
    /// (`lin6::ls::ClockSequence`: a restarted LS must not be taken for a
    /// replay of its old self by peers and MAs).
    fn signed(&mut self, unix: u32, body: impl Into<Body>) -> Option<Vec<u8>> {
        let m = Message::new(self.sequence.next(unix), unix, body);
        match m.encode(Some(&self.key)) {
            Ok(b) => Some(b),
            Err(e) => {
                warn!("cannot encode {:?}: {e}", m.body.msg_type());
                None
            }
        }
    }

    fn send_to_peers(&mut self, unix: u32, bodies: Vec<Body>, out: &mut Vec<Out>) {
        if self.peers.list().is_empty() {
            return;
        }
        let addrs: Vec<SocketAddr> = self.peers.addrs().collect();
        for b in bodies {
            if let Some(bytes) = self.signed(unix, b) {
                for to in &addrs {
                    Metrics::inc(&self.metrics.peer_updates_sent);
                    out.push(Out {
                        sock: Sock::Peer,
                        to: *to,
                        bytes: bytes.clone(),
                    });
                }
            }
        }
    }

    fn relay_ma(&mut self, now: Instant, unix: u32, ma: &Ipv6Addr, out: &mut Vec<Out>) {
        if let Some(e) = self.ma.to_entry(now, ma) {
            let b = MatblUpdate {
                full: false,
                entries: vec![e],
            };
            self.send_to_peers(unix, vec![b.into()], out);
        }
    }

    fn reply_user(&mut self, to: SocketAddrV6, sequence: u32, r: MaReply, out: &mut Vec<Out>) {
        // Unauthenticated, so the timestamp is informative only.
        let m = Message::new(sequence, lin6::auth::unix_now(), r);
        match m.encode(None) {
            Ok(bytes) => out.push(Out {
                sock: Sock::Ls,
                to: to.into(),
                bytes,
            }),
            Err(e) => warn!("cannot encode MA reply: {e}"),
        }
    }

    /// One datagram in, the datagrams it causes out.
    pub fn handle(
        &mut self,
        now: Instant,
        unix: u32,
        sock: Sock,
        from: SocketAddr,
        buf: &[u8],
    ) -> Vec<Out> {
        let mut out = Vec::new();
        let from6 = v6(from);
        let frame = match Frame::parse(buf) {
            Ok(f) => f,
            Err(e) => {
                debug!(%from, "malformed datagram: {e}");
                self.metrics.count_drop(DropReason::Malformed);
                return out;
            }
        };
        let h = frame.header;
        if h.msg_type.authenticated() {
            if h.key_id != self.key.id {
                self.metrics.count_drop(DropReason::UnknownKey);
                return out;
            }
            if !frame.verify(&self.key) {
                debug!(%from, "bad HMAC on {:?}", h.msg_type);
                self.metrics.count_drop(DropReason::BadTag);
                return out;
            }
        }
        let expected = match h.msg_type {
            MsgType::Heartbeat | MsgType::RttReply | MsgType::MaRequest => Sock::Ls,
            MsgType::MatblUpdate | MsgType::AnstblUpdate | MsgType::SyncRequest => Sock::Peer,
            // Messages the LS sends but never receives.
            MsgType::RttRequest | MsgType::MaReply | MsgType::MaAssign => {
                self.metrics.count_drop(DropReason::WrongSocket);
                return out;
            }
        };
        if expected != sock {
            self.metrics.count_drop(DropReason::WrongSocket);
            return out;
        }
        if sock == Sock::Peer && !self.peers.is_peer(from) {
            warn!(%from, "verified {:?} from an address not in peers", h.msg_type);
            self.metrics.count_drop(DropReason::UnknownPeer);
            return out;
        }
        if h.msg_type.authenticated()
            && let Err(e) =
                self.replay
                    .accept((h.key_id, canonical(from)), h.sequence, h.timestamp, unix)
        {
            debug!(%from, "replay check: {e}");
            self.metrics.count_drop(DropReason::Replay);
            return out;
        }
        let body = match frame.body() {
            Ok(b) => b,
            Err(e) => {
                debug!(%from, "bad {:?} body: {e}", h.msg_type);
                self.metrics.count_drop(DropReason::Malformed);
                return out;
            }
        };
        match body {
            Body::Heartbeat(hb) => self.on_heartbeat(now, unix, from6, hb, &mut out),
            Body::RttReply(r) => self.on_rtt_reply(now, unix, from6, r, &mut out),
            Body::MaRequest(r) => self.on_ma_request(now, unix, from6, h.sequence, r, &mut out),
            Body::MatblUpdate(u) => self.on_matbl(now, from, u, &mut out),
            Body::AnstblUpdate(u) => self.on_anstbl(now, from, u),
            Body::SyncRequest(_) => self.on_sync(now, unix, from, &mut out),
            Body::RttRequest(_) | Body::MaReply(_) | Body::MaAssign(_) => {}
        }
        self.update_gauges();
        out
    }

    fn on_heartbeat(
        &mut self,
        now: Instant,
        unix: u32,
        from: SocketAddrV6,
        hb: Heartbeat,
        out: &mut Vec<Out>,
    ) {
        match self.ma.heartbeat(now, from, &hb) {
            Err(e) => {
                warn!(ma = %hb.ma_addr, "heartbeat refused: {e}");
                self.metrics.count_drop(DropReason::MaTableFull);
            }
            Ok(change) => {
                Metrics::inc(&self.metrics.heartbeats);
                match change {
                    Change::New => info!(ma = %hb.ma_addr, control = %from, "new MA"),
                    Change::Revived => info!(ma = %hb.ma_addr, "MA active again"),
                    _ => {}
                }
                self.relay_ma(now, unix, &hb.ma_addr, out);
                self.ack_heartbeat(now, unix, from, &hb.ma_addr, out);
            }
        }
    }

    /// Answers an accepted heartbeat with the MA's entry as this LS now holds
    /// it (an LSS_MATBL_UPDATE, not full, one entry), to the MA's control
    /// address. The MA learns that this LS is alive (it fails over to the
    /// next LS when these stop) and how the LS sees it (e.g. drained).
    fn ack_heartbeat(
        &mut self,
        now: Instant,
        unix: u32,
        to: SocketAddrV6,
        ma: &Ipv6Addr,
        out: &mut Vec<Out>,
    ) {
        let Some(e) = self.ma.to_entry(now, ma) else {
            return;
        };
        let b = MatblUpdate {
            full: false,
            entries: vec![e],
        };
        if let Some(bytes) = self.signed(unix, b) {
            out.push(Out {
                sock: Sock::Ls,
                to: SocketAddr::V6(to),
                bytes,
            });
        }
    }

    fn on_rtt_reply(
        &mut self,
        now: Instant,
        unix: u32,
        from: SocketAddrV6,
        r: RttReply,
        out: &mut Vec<Out>,
    ) {
        match self.decisions.reply(from, r.request_id, r.status) {
            Err(why) => {
                debug!(%from, id = r.request_id, "RTT reply not taken: {why:?}");
                self.metrics.count_drop(DropReason::UnsolicitedRtt);
            }
            Ok(done) => {
                Metrics::inc(&self.metrics.rtt_replies);
                if let Some(p) = done {
                    self.finish(now, unix, p, out);
                }
            }
        }
    }

    fn on_ma_request(
        &mut self,
        now: Instant,
        unix: u32,
        from: SocketAddrV6,
        sequence: u32,
        req: MaRequest,
        out: &mut Vec<Out>,
    ) {
        Metrics::inc(&self.metrics.ma_requests);
        let prefix = Prefix64::of(*from.ip());
        let refuse = |me: &mut Lsd, code: ReplyCode, why: DropReason, out: &mut Vec<Out>| {
            me.metrics.count_drop(why);
            me.reply_user(from, sequence, MaReply::Refused(code), out);
        };
        if self.pool.is_some_and(|p| p != req.pool) {
            return refuse(self, ReplyCode::NoMaAvailable, DropReason::WrongPool, out);
        }
        if !self.request_limit.take(now, prefix, 1) {
            return refuse(self, ReplyCode::RateLimited, DropReason::RateLimited, out);
        }
        let Some(level) = self.subscribers.level(req.node_id) else {
            return refuse(self, ReplyCode::UnknownNode, DropReason::UnknownNode, out);
        };
        let w = Waiter {
            user: from,
            sequence,
            node: req.node_id,
        };
        // Asked again from the same network: the same MA, while it takes
        // users, even if this user's own load now keeps others of its level
        // away. A draining MA's users are decided afresh.
        if let Some(ma) = self.assignments.get(now, req.node_id, prefix, level)
            && self.ma.get(&ma).is_some_and(|e| e.open())
        {
            Metrics::inc(&self.metrics.repeated_requests);
            self.send_to_ma(now, unix, ma, level, &[w], out);
            return;
        }
        if let Some(ma) = self.answers.get(now, prefix)
            && self
                .ma
                .get(&ma)
                .is_some_and(|e| e.eligible(level, &self.load))
        {
            Metrics::inc(&self.metrics.cache_hits);
            self.send_to_ma(now, unix, ma, level, &[w], out);
            self.relay_ma(now, unix, &ma, out);
            return;
        }
        match self.decisions.join(prefix, level, w) {
            Some(true) => return,
            Some(false) => return refuse(self, ReplyCode::Busy, DropReason::Busy, out),
            None => {}
        }
        let asked: std::collections::BTreeMap<SocketAddrV6, Ipv6Addr> = self
            .ma
            .eligible(level, &self.load)
            .iter()
            .map(|e| (e.control, e.addr))
            .collect();
        if asked.is_empty() {
            Metrics::inc(&self.metrics.decisions_failed);
            self.reply_user(
                from,
                sequence,
                MaReply::Refused(ReplyCode::NoMaAvailable),
                out,
            );
            return;
        }
        if self.decisions.is_full() {
            return refuse(self, ReplyCode::Busy, DropReason::Busy, out);
        }
        if !self.decision_limit.take(now, prefix, 1)
            || !self.probe_limit.take(now, asked.len() as u32)
        {
            return refuse(self, ReplyCode::RateLimited, DropReason::RateLimited, out);
        }
        let targets: Vec<SocketAddrV6> = asked.keys().copied().collect();
        let Some(id) = self
            .decisions
            .start(prefix, level, w, asked, now + self.rtt_deadline)
        else {
            return refuse(self, ReplyCode::Busy, DropReason::Busy, out);
        };
        let req = RttRequest {
            request_id: id,
            user_addr: *from.ip(),
            probes: self.probes,
            prefix_len: 64,
        };
        for to in targets {
            if let Some(bytes) = self.signed(unix, req) {
                Metrics::inc(&self.metrics.rtt_requests_sent);
                out.push(Out {
                    sock: Sock::Ls,
                    to: to.into(),
                    bytes,
                });
            }
        }
    }

    /// Replies to the users, counts them on the MA and tells the MA who is
    /// coming (paper §IV.B step 4). A user already sent to this MA from its
    /// network is not counted again (the MA takes the repeated assignment
    /// as a renewal).
    fn send_to_ma(
        &mut self,
        now: Instant,
        unix: u32,
        ma: Ipv6Addr,
        level: ServiceLevel,
        waiters: &[Waiter],
        out: &mut Vec<Out>,
    ) {
        let Some(control) = self.ma.get(&ma).map(|e| e.control) else {
            return;
        };
        for w in waiters {
            let prefix = Prefix64::of(*w.user.ip());
            if self.assignments.get(now, w.node, prefix, level) != Some(ma) {
                self.ma.assign(&ma, level);
            }
            self.assignments.insert(now, w.node, prefix, level, ma);
            self.reply_user(w.user, w.sequence, MaReply::Ok { ma_addr: ma, level }, out);
            let assign = MaAssign {
                node_id: w.node,
                level,
                user_addr: *w.user.ip(),
                ma_addr: ma,
            };
            if let Some(bytes) = self.signed(unix, assign) {
                Metrics::inc(&self.metrics.assigns_sent);
                out.push(Out {
                    sock: Sock::Ls,
                    to: control.into(),
                    bytes,
                });
            }
        }
    }

    fn finish(&mut self, now: Instant, unix: u32, p: Pending, out: &mut Vec<Out>) {
        let (ma, load, level) = (&self.ma, &self.load, p.level);
        let best = p.best(|a| ma.get(a).is_some_and(|e| e.eligible(level, load)));
        let Some(best) = best else {
            Metrics::inc(&self.metrics.decisions_failed);
            for w in &p.waiters {
                self.reply_user(
                    w.user,
                    w.sequence,
                    MaReply::Refused(ReplyCode::NoMaAvailable),
                    out,
                );
            }
            return;
        };
        Metrics::inc(&self.metrics.decisions);
        debug!(prefix = %p.prefix, ma = %best, "decided");
        self.answers.insert(now, p.prefix, best);
        self.send_to_ma(now, unix, best, p.level, &p.waiters, out);
        let mut bodies: Vec<Body> = Vec::new();
        if let Some(a) = self.answers.to_entry(now, p.prefix) {
            bodies.push(
                AnstblUpdate {
                    full: false,
                    entries: vec![a],
                }
                .into(),
            );
        }
        if let Some(e) = self.ma.to_entry(now, &best) {
            bodies.push(
                MatblUpdate {
                    full: false,
                    entries: vec![e],
                }
                .into(),
            );
        }
        self.send_to_peers(unix, bodies, out);
    }

    /// Logs what a peer's update means for our sync with it: the first
    /// relay while our request is unanswered (what a restarted LS hears
    /// first), and the answer.
    fn peer_update(&mut self, now: Instant, from: SocketAddr, full: bool) {
        match (self.peers.heard_from(now, from, full), full) {
            (Some(PeerStatus::Trying { tries }), false) => {
                debug!(peer = %from, tries, "relay before the answer to our sync request; still asking")
            }
            (Some(PeerStatus::Trying { tries }), true) => {
                info!(peer = %from, tries, "sync request answered: the peer's tables follow")
            }
            _ => {}
        }
    }

    fn on_matbl(&mut self, now: Instant, from: SocketAddr, u: MatblUpdate, _out: &mut Vec<Out>) {
        self.peer_update(now, from, u.full);
        Metrics::inc(&self.metrics.peer_updates_received);
        for e in &u.entries {
            match self.ma.apply_relayed(now, e) {
                Err(err) => {
                    warn!(ma = %e.ma_addr, %from, "relayed MA refused: {err}");
                    self.metrics.count_drop(DropReason::MaTableFull);
                }
                Ok(Change::Deactivated) => {
                    self.answers.drop_ma(&e.ma_addr);
                    self.assignments.drop_ma(&e.ma_addr);
                }
                Ok(_) => {}
            }
        }
    }

    fn on_anstbl(&mut self, now: Instant, from: SocketAddr, u: AnstblUpdate) {
        self.peer_update(now, from, u.full);
        Metrics::inc(&self.metrics.peer_updates_received);
        for e in &u.entries {
            self.answers.apply_relayed(now, e);
        }
    }

    fn on_sync(&mut self, now: Instant, unix: u32, from: SocketAddr, out: &mut Vec<Out>) {
        Metrics::inc(&self.metrics.sync_requests_received);
        self.peers.heard_from(now, from, true);
        info!(peer = %from, "sync requested; sending full tables");
        let mut bodies: Vec<Body> = MatblUpdate::split(true, &self.ma.to_entries(now))
            .into_iter()
            .map(Body::from)
            .collect();
        bodies.extend(
            AnstblUpdate::split(true, &self.answers.to_entries(now))
                .into_iter()
                .map(Body::from),
        );
        for b in bodies {
            if let Some(bytes) = self.signed(unix, b) {
                Metrics::inc(&self.metrics.peer_updates_sent);
                out.push(Out {
                    sock: Sock::Peer,
                    to: from,
                    bytes,
                });
            }
        }
    }

    /// Timers: heartbeat expiry, decision deadlines, peer sync retries and the
    /// answer sweep.
    pub fn tick(&mut self, now: Instant, unix: u32) -> Vec<Out> {
        let mut out = Vec::new();
        for ma in self.ma.expire(now) {
            let dropped = self.answers.drop_ma(&ma);
            self.assignments.drop_ma(&ma);
            info!(%ma, dropped_answers = dropped, "MA inactive: no heartbeat in time");
            Metrics::inc(&self.metrics.ma_inactivated);
            self.relay_ma(now, unix, &ma, &mut out);
        }
        for p in self.decisions.due(now) {
            self.finish(now, unix, p, &mut out);
        }
        let due = self.peers.due(now);
        for to in due {
            if let Some(bytes) = self.signed(unix, lin6::ls::SyncRequest) {
                out.push(Out {
                    sock: Sock::Peer,
                    to,
                    bytes,
                });
            }
        }
        if now >= self.next_sweep {
            self.answers.expire(now);
            self.assignments.expire(now);
            self.next_sweep = now + SWEEP_EVERY;
            // Once a second rather than per datagram: these walk the table.
            let (normal, premium) = self.ma.users_by_level();
            let m = &self.metrics;
            m.gauge_users_normal
                .store(normal, std::sync::atomic::Ordering::Relaxed);
            m.gauge_users_premium
                .store(premium, std::sync::atomic::Ordering::Relaxed);
            Metrics::set(&m.gauge_ma_drained, self.ma.drained_count());
        }
        self.update_gauges();
        out
    }

    fn update_gauges(&self) {
        let m = &self.metrics;
        Metrics::set(&m.gauge_ma_active, self.ma.active_count());
        Metrics::set(&m.gauge_ma_total, self.ma.len());
        Metrics::set(&m.gauge_answers, self.answers.len());
        Metrics::set(&m.gauge_pending, self.decisions.len());
        Metrics::set(&m.gauge_peers_up, self.peers.up_count());
    }

    /// The tables as operators see them (`/state`, `lin6ctl -j`).
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        Snapshot {
            mas: self.ma.snapshot(now, &self.load),
            answers: self.answers.snapshot(now),
            peers: self
                .peers
                .list()
                .iter()
                .map(|p| PeerView {
                    addr: p.addr,
                    status: p.status,
                })
                .collect(),
            pending_decisions: self.decisions.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PeerView {
    pub addr: SocketAddr,
    pub status: PeerStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub mas: Vec<MaView>,
    pub answers: Vec<AnswerView>,
    pub peers: Vec<PeerView>,
    pub pending_decisions: usize,
}
