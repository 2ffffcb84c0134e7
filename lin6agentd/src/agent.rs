//! The Mapping Agent's core: a datagram and the time in, the reply out.
//!
//! Queries are answered synchronously from the cache when it holds the node
//! ([`Agent::answer_from_cache`]); the network layer sends the rest to
//! [`Agent::answer_from_db`]. Registrations always need the database (the
//! subscriber's key and replay state live there, shared by all replicas), so
//! [`Agent::register`] is async. Time is a parameter everywhere, so tests can
//! step over lifetimes and replay windows without sleeping.

use crate::cache::{Cache, Mapping};
use crate::config::Config;
use crate::db::Store;
use crate::error::DbError;
use crate::metrics::{Metrics, Reject};
use lin6::addr::NodeId;
use lin6::auth::{Key, ReplayError, ReplayWindow};
use lin6::wire::{
    Authenticated, Codec, MaQuery, MaReply, QueryAnswer, UpdateCode, UpdateReply, UpdateRequest,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, info, warn};

/// The knobs of the core, taken from the config.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub replay_window_s: u32,
    pub max_lifetime_s: u32,
    pub default_lifetime_s: u32,
}

impl Params {
    pub fn of(cfg: &Config) -> Params {
        Params {
            replay_window_s: cfg.replay.window_s,
            max_lifetime_s: cfg.mapping.max_lifetime_s,
            default_lifetime_s: cfg.mapping.default_lifetime_s,
        }
    }

    /// The lifetime the MA grants: capped, and never "infinite".
    pub fn grant(&self, requested: u32) -> u32 {
        match requested {
            0 => 0,
            u32::MAX => self.default_lifetime_s,
            r => r.min(self.max_lifetime_s),
        }
    }
}

/// What to do with a query datagram.
#[derive(Debug)]
pub enum QueryOutcome {
    Reply(MaReply),
    /// Not in the cache: ask the database.
    Lookup(MaQuery),
    /// A verified registration of this node, not known to be newer than
    /// the cached mapping, is being committed: wait for it
    /// ([`Pending::wait`]), then answer with [`Agent::answer_after_wait`].
    Wait(MaQuery, Pending),
    /// Malformed: drop without a reply.
    Drop,
}

/// The longest a query waits for a registration of its node to commit.
pub const PENDING_WAIT: Duration = Duration::from_secs(1);

/// A registration being committed, as a query sees it.
#[derive(Debug)]
pub struct Pending(watch::Receiver<()>);

impl Pending {
    /// Until the registration is committed or refused (its guard dropped),
    /// or [`PENDING_WAIT`].
    pub async fn wait(mut self) {
        let _ = tokio::time::timeout(PENDING_WAIT, self.0.changed()).await;
    }
}

/// A registration being committed, as the pending map holds it.
struct PendingEntry {
    committed: watch::Receiver<()>,
    /// The mapping being written, when the request was fresh against the
    /// cached mapping (see [`Agent::register_decoded`]): queries are
    /// answered with it at once.
    early: Option<Mapping>,
}

/// Held by a registration from the moment it verified until it is
/// committed (and cached) or failed: queries for the node meanwhile get
/// the mapping being written, or wait for it, instead of the locator the
/// node just left.
struct PendingGuard<'a> {
    agent: &'a Agent,
    node: NodeId,
    tx: Option<watch::Sender<()>>,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let mut p = self
            .agent
            .pending
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if p.get(&self.node)
            .is_some_and(|e| e.committed.same_channel(&tx.subscribe()))
        {
            p.remove(&self.node);
            self.agent.pending_count.fetch_sub(1, Ordering::Release);
        }
        drop(p);
        // Dropping the sender wakes every waiting query.
        drop(tx);
    }
}

/// How many registration refusals per second are logged at info level; the
/// rest only count. A flood of forged requests must not flood the log.
const LOG_PER_SECOND: u64 = 20;

pub struct Agent {
    store: Store,
    cache: Arc<Cache>,
    metrics: Arc<Metrics>,
    params: Params,
    lookups: Arc<Semaphore>,
    log_second: AtomicU64,
    log_count: AtomicU64,
    /// Nodes whose verified registration is being committed.
    pending: RwLock<HashMap<NodeId, PendingEntry>>,
    /// `pending.len()`, read without the lock on every query.
    pending_count: AtomicUsize,
    /// Subscribers' keys as their last registration read them, so that a
    /// registration goes to the database once, not twice.
    keys: RwLock<HashMap<NodeId, KnownKey>>,
    keys_capacity: usize,
}

/// A subscriber's key, and the stored text it came from (which the
/// registration statement compares, to know the key is still current).
#[derive(Clone)]
struct KnownKey {
    key: Key,
    secret_hex: String,
}

/// Applies the library's replay rules to the state stored in the database.
/// A throwaway `ReplayWindow` seeded with the last accepted sequence keeps
/// the rules (window edges, RFC 1982 comparison) in one place, `lin6::auth`.
fn replay_check(
    window: u32,
    last: Option<u32>,
    sequence: u32,
    timestamp: u32,
    now: u32,
) -> Result<(), ReplayError> {
    let mut w = ReplayWindow::<()>::new(window);
    if let Some(last) = last {
        // Seeded with our own clock as timestamp, which is always in window.
        let _ = w.accept((), last, now, now);
    }
    w.check(&(), sequence, timestamp, now)
}

impl Agent {
    pub fn new(
        store: Store,
        cache: Arc<Cache>,
        metrics: Arc<Metrics>,
        params: Params,
        max_db_lookups: usize,
    ) -> Agent {
        Agent {
            store,
            metrics,
            params,
            lookups: Arc::new(Semaphore::new(max_db_lookups)),
            log_second: AtomicU64::new(0),
            log_count: AtomicU64::new(0),
            pending: RwLock::new(HashMap::new()),
            pending_count: AtomicUsize::new(0),
            keys: RwLock::new(HashMap::new()),
            keys_capacity: cache.capacity(),
            cache,
        }
    }

    /// Marks a registration of `node` as being committed (see
    /// [`PendingGuard`]), with the mapping queries may have at once; a
    /// second one for the same node leaves the first one's mark.
    fn pending_guard(&self, node: NodeId, early: Option<Mapping>) -> PendingGuard<'_> {
        let mut p = self.pending.write().unwrap_or_else(|p| p.into_inner());
        if p.contains_key(&node) {
            return PendingGuard {
                agent: self,
                node,
                tx: None,
            };
        }
        let (tx, committed) = watch::channel(());
        p.insert(node, PendingEntry { committed, early });
        self.pending_count.fetch_add(1, Ordering::Release);
        PendingGuard {
            agent: self,
            node,
            tx: Some(tx),
        }
    }

    fn pending_of(&self, node: NodeId) -> Option<Result<Mapping, Pending>> {
        if self.pending_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let p = self.pending.read().unwrap_or_else(|p| p.into_inner());
        p.get(&node)
            .map(|e| e.early.ok_or_else(|| Pending(e.committed.clone())))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn reply_for(q: &MaQuery, m: Option<Mapping>, now: u64) -> MaReply {
        let answer = match m.and_then(|m| m.remaining(now).map(|left| (m, left))) {
            Some((m, lifetime)) => QueryAnswer::Mapping {
                prefix: m.prefix,
                timestamp: m.timestamp,
                lifetime,
            },
            None => QueryAnswer::NoMapping,
        };
        MaReply {
            sequence: q.sequence,
            node: q.node,
            answer,
        }
    }

    fn count_answer(&self, r: &MaReply) {
        match r.answer {
            QueryAnswer::Mapping { .. } => Metrics::inc(&self.metrics.queries_found),
            QueryAnswer::NoMapping => Metrics::inc(&self.metrics.queries_not_found),
        }
    }

    /// The fast path. A cached entry is authoritative, expired or not: the
    /// change feed replaces it when the database changes.
    pub fn answer_from_cache(&self, now: u64, datagram: &[u8]) -> QueryOutcome {
        let q = match MaQuery::decode(datagram) {
            Ok(q) => q,
            Err(e) => {
                Metrics::inc(&self.metrics.queries_malformed);
                debug!("MA Query dropped: {e}");
                return QueryOutcome::Drop;
            }
        };
        match self.pending_of(q.node) {
            Some(Ok(m)) => {
                Metrics::inc(&self.metrics.queries_early);
                debug!(node = %q.node, prefix = %m.prefix, "MA Query answered from the registration being committed");
                let r = Self::reply_for(&q, Some(m), now);
                self.count_answer(&r);
                return QueryOutcome::Reply(r);
            }
            Some(Err(p)) => return QueryOutcome::Wait(q, p),
            None => {}
        }
        match self.cache.get(q.node) {
            Some(m) => {
                Metrics::inc(&self.metrics.cache_hits);
                debug!(node = %q.node, prefix = %m.prefix, "MA Query answered from the cache");
                let r = Self::reply_for(&q, Some(m), now);
                self.count_answer(&r);
                QueryOutcome::Reply(r)
            }
            None => QueryOutcome::Lookup(q),
        }
    }

    /// A permit for one database lookup, or `None` (count it, drop the
    /// query) when `query.max_db_lookups` are already in flight.
    pub fn lookup_permit(&self) -> Option<OwnedSemaphorePermit> {
        match self.lookups.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                Metrics::inc(&self.metrics.queries_busy);
                None
            }
        }
    }

    /// The slow path: read the database, answer, and cache what was read.
    pub async fn answer_from_db(&self, now: u64, q: MaQuery) -> Option<MaReply> {
        Metrics::inc(&self.metrics.cache_misses);
        let epoch = self.cache.epoch();
        match self.store.mapping(q.node).await {
            Ok(m) => {
                debug!(node = %q.node, prefix = ?m.map(|m| m.prefix), "MA Query answered from the database");
                if let Some(m) = m {
                    self.cache.put(q.node, m, epoch);
                }
                let r = Self::reply_for(&q, m, now);
                self.count_answer(&r);
                Some(r)
            }
            Err(e) => {
                Metrics::inc(&self.metrics.queries_db_error);
                warn!(node = %q.node, "MA Query: database lookup failed: {e}");
                None
            }
        }
    }

    /// After [`Pending::wait`]: the cache, which the registration filled,
    /// or the database.
    pub async fn answer_after_wait(&self, now: u64, q: MaQuery) -> Option<MaReply> {
        match self.cache.get(q.node) {
            Some(m) => {
                Metrics::inc(&self.metrics.cache_hits);
                debug!(node = %q.node, prefix = %m.prefix, "MA Query answered after the registration");
                let r = Self::reply_for(&q, Some(m), now);
                self.count_answer(&r);
                Some(r)
            }
            None => self.answer_from_db(now, q).await,
        }
    }

    /// Both paths in one call, for callers that do not care which one
    /// answered (tests, the benchmark's warm-up).
    pub async fn query(&self, now: u64, datagram: &[u8]) -> Option<Vec<u8>> {
        let r = match self.answer_from_cache(now, datagram) {
            QueryOutcome::Reply(r) => r,
            QueryOutcome::Drop => return None,
            QueryOutcome::Lookup(q) => {
                let _permit = self.lookup_permit()?;
                self.answer_from_db(now, q).await?
            }
            QueryOutcome::Wait(q, p) => {
                let _permit = self.lookup_permit()?;
                p.wait().await;
                self.answer_after_wait(now, q).await?
            }
        };
        Some(r.to_vec())
    }

    fn log_refusal(&self, now: u64, node: NodeId, why: Reject, from_detail: &str) {
        if self.log_second.swap(now, Ordering::Relaxed) != now {
            self.log_count.store(0, Ordering::Relaxed);
        }
        if self.log_count.fetch_add(1, Ordering::Relaxed) < LOG_PER_SECOND {
            info!(%node, reason = why.label(), "{from_detail}");
        }
    }

    /// Handles one datagram from the registration port. `None`: drop it
    /// (malformed, or the database failed and the node should retry).
    pub async fn register(&self, now: u64, datagram: &[u8]) -> Option<Vec<u8>> {
        let req = match Authenticated::<UpdateRequest>::decode(datagram) {
            Ok(r) => r,
            Err(e) => {
                self.metrics.reject(Reject::Malformed);
                debug!("Mapping Update Request dropped: {e}");
                return None;
            }
        };
        debug!(node = %req.msg.node, sequence = req.msg.sequence, "Mapping Update Request received");
        match self.register_decoded(now, &req).await {
            Ok((code, key)) => {
                let reply = UpdateReply {
                    code,
                    sequence: req.msg.sequence,
                };
                match Reject::of_code(code) {
                    None => Metrics::inc(&self.metrics.registrations_accepted),
                    Some(why) => {
                        self.metrics.reject(why);
                        self.log_refusal(now, req.msg.node, why, "registration refused");
                    }
                }
                Some(match key {
                    Some(k) => Authenticated::sign(reply, &k).to_vec(),
                    None => reply.to_vec(),
                })
            }
            Err(e) => {
                self.metrics.reject(Reject::DbError);
                warn!(node = %req.msg.node, "registration dropped, database failed: {e}");
                None
            }
        }
    }

    /// The checks in the order docs/protocol.md gives. Returns the code and
    /// the key to sign the reply with, if the request verified.
    ///
    /// The database is visited once on the way to an acceptance: the key
    /// comes from memory ([`Agent::known_key`]) after the node's first
    /// registration, and [`Store::register`] checks freshness and writes
    /// the mapping in one statement. That statement re-checks in the
    /// database what the memory said (enabled, same key), so a key from
    /// memory can never accept a request the database would refuse; any
    /// refusal is worked out again from a fresh read, so it carries the
    /// right code.
    async fn register_decoded(
        &self,
        now: u64,
        req: &Authenticated<UpdateRequest>,
    ) -> Result<(UpdateCode, Option<Key>), DbError> {
        let msg = req.msg;
        let now32 = now as u32;
        // A refused write after a fresh read means another request for this
        // node (possibly at another replica) got in between: read again, and
        // the replay check will usually refuse ours. Bounded, so a storm of
        // concurrent requests cannot spin us.
        for attempt in 0..4 {
            let remembered = if attempt == 0 {
                self.known_key(msg.node)
            } else {
                None
            };
            let fresh = remembered.is_none();
            let (key, secret_hex, last_sequence) = match remembered {
                Some(k) => (k.key, k.secret_hex, None),
                None => {
                    let Some(sub) = self.store.subscriber_auth(msg.node).await? else {
                        self.forget_key(msg.node);
                        return Ok((UpdateCode::UnknownNode, None));
                    };
                    if !sub.enabled {
                        self.forget_key(msg.node);
                        return Ok((UpdateCode::SubscriberDisabled, None));
                    }
                    let key = match Key::from_hex(sub.key_id, &sub.secret_hex) {
                        Ok(k) => k,
                        Err(e) => {
                            warn!(node = %msg.node, "subscriber's key in the database is unusable: {e}");
                            return Ok((UpdateCode::AuthenticationFailed, None));
                        }
                    };
                    self.remember_key(msg.node, &key, &sub.secret_hex);
                    (key, sub.secret_hex, sub.last_sequence)
                }
            };
            if req.trailer.key_id != key.id || !req.verify(&key) {
                if fresh {
                    return Ok((UpdateCode::AuthenticationFailed, None));
                }
                // The key may have been replaced since it was remembered.
                continue;
            }
            // With a remembered key the sequence is checked by the
            // statement alone (the replay state is in the database, where
            // every replica advances it); after a fresh read, here first.
            if let Err(e) = replay_check(
                self.params.replay_window_s,
                last_sequence,
                msg.sequence,
                msg.timestamp,
                now32,
            ) {
                if fresh {
                    return Ok((UpdateCode::from(e), Some(key)));
                }
                continue;
            }
            let m = Mapping {
                prefix: msg.prefix,
                timestamp: msg.timestamp,
                expires_at: now + u64::from(self.params.grant(msg.lifetime)),
                sequence: msg.sequence,
            };
            let epoch = self.cache.epoch();
            // Verified: until the commit (or its failure), queries for the
            // node get this mapping at once if the request is fresh against
            // what this MA last knew of the node (the database's own check
            // after a fresh read, else the cached mapping's sequence, which
            // a replayed request cannot pass), and wait for the commit
            // otherwise. Answering before the commit saves a correspondent
            // the database's write on the handover's path; what it answers
            // is where the node, by its signed request, now is.
            let early = match (fresh, self.cache.get(msg.node)) {
                (true, _) => Some(m),
                (false, Some(c)) => replay_check(
                    self.params.replay_window_s,
                    Some(c.sequence),
                    msg.sequence,
                    msg.timestamp,
                    now32,
                )
                .is_ok()
                .then_some(m),
                (false, None) => None,
            };
            let _pending = self.pending_guard(msg.node, early);
            if self
                .store
                .register(msg.node, key.id, &secret_hex, &m, now)
                .await?
            {
                self.cache.put(msg.node, m, epoch);
                debug!(node = %msg.node, prefix = %m.prefix, lifetime = msg.lifetime, "registered");
                return Ok((UpdateCode::Ok, Some(key)));
            }
        }
        Err(DbError::Contended(format!(
            "registration of {} kept conflicting with concurrent ones",
            msg.node
        )))
    }

    /// The key a node's last registration verified with, if remembered.
    fn known_key(&self, node: NodeId) -> Option<KnownKey> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .cloned()
    }

    fn remember_key(&self, node: NodeId, key: &Key, secret_hex: &str) {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= self.keys_capacity
            && !keys.contains_key(&node)
            && let Some(victim) = keys.keys().next().copied()
        {
            // Bounded like the mapping cache; a forgotten key costs its node
            // one extra database read at its next registration.
            keys.remove(&victim);
        }
        keys.insert(
            node,
            KnownKey {
                key: key.clone(),
                secret_hex: secret_hex.to_string(),
            },
        );
    }

    fn forget_key(&self, node: NodeId) {
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&node);
    }

    /// Brings the cache in line with the database for one node after a
    /// change notification.
    pub async fn refresh(&self, node: NodeId) -> Result<(), DbError> {
        let epoch = self.cache.epoch();
        match self.store.mapping(node).await? {
            Some(m) => {
                self.cache.put(node, m, epoch);
            }
            None => self.cache.remove(node),
        }
        Metrics::inc(&self.metrics.changes_applied);
        Ok(())
    }

    /// Fills the cache with live mappings, newest first.
    pub async fn preload(&self, now: u64) -> Result<usize, DbError> {
        let epoch = self.cache.epoch();
        let rows = self.store.live_mappings(now, self.cache.capacity()).await?;
        let n = rows.len();
        for (node, m) in rows {
            self.cache.put(node, m, epoch);
        }
        Ok(n)
    }

    /// Deletes expired rows and refreshes the gauges.
    pub async fn housekeeping(&self, now: u64) -> Result<(), DbError> {
        self.store.collect_expired(now).await?;
        self.update_gauges(now).await
    }

    pub async fn update_gauges(&self, now: u64) -> Result<(), DbError> {
        let live = self.store.count_live(now).await?;
        self.metrics.gauge_mappings.store(live, Ordering::Relaxed);
        self.metrics
            .gauge_cache_entries
            .store(self.cache.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_lifetime_is_capped_and_never_infinite() {
        let p = Params {
            replay_window_s: 30,
            max_lifetime_s: 3600,
            default_lifetime_s: 600,
        };
        assert_eq!(p.grant(0), 0);
        assert_eq!(p.grant(300), 300);
        assert_eq!(p.grant(86_400), 3600);
        assert_eq!(p.grant(u32::MAX), 600);
    }

    #[test]
    fn replay_check_uses_stored_sequence_and_window() {
        assert!(replay_check(30, None, 5, 1000, 1000).is_ok());
        assert!(replay_check(30, Some(4), 5, 1000, 1000).is_ok());
        assert!(matches!(
            replay_check(30, Some(5), 5, 1000, 1000),
            Err(ReplayError::ReplayedSequence { .. })
        ));
        assert!(matches!(
            replay_check(30, Some(4), 5, 900, 1000),
            Err(ReplayError::StaleTimestamp { .. })
        ));
        // Serial arithmetic: 0 follows u32::MAX.
        assert!(replay_check(30, Some(u32::MAX), 0, 1000, 1000).is_ok());
    }
}
