//! Where the LS learns a user's service level (paper §IV.B step 2).
//!
//! The paper's LS reads the same subscriber database as the MAs:
//! [`DbSubscribers`] does, through `lin6db` (the agents' own schema and
//! queries, SQLite or PostgreSQL). The decision code is sans-I/O and must not
//! wait on a database in the middle of a datagram, so the enabled
//! subscribers' levels are held in memory as one immutable snapshot, re-read
//! every `database.refresh_s` and swapped in whole: a lookup is one hash probe
//! under a read lock that is only ever held for a pointer copy.
//!
//! [`ConfigSubscribers`] is the static `subscribers:` map of the config file,
//! for an LS without a database (tests, a one-box demo).

use crate::config::DatabaseConfig;
use lin6::addr::NodeId;
use lin6::ls::ServiceLevel;
use lin6db::{DbError, Store};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tracing::{info, warn};

pub trait SubscriberLevels: Send {
    /// The level `node` subscribed to, or `None` if it is not a subscriber.
    fn level(&self, node: NodeId) -> Option<ServiceLevel>;
}

/// Subscribers listed in lsd's own config (`subscribers:`).
#[derive(Debug, Clone, Default)]
pub struct ConfigSubscribers(pub BTreeMap<NodeId, ServiceLevel>);

impl SubscriberLevels for ConfigSubscribers {
    fn level(&self, node: NodeId) -> Option<ServiceLevel> {
        self.0.get(&node).copied()
    }
}

type Snapshot = Arc<HashMap<NodeId, ServiceLevel>>;

/// The enabled subscribers of the shared database. Clones share one
/// snapshot: hand one to [`crate::spawn`] and keep one to refresh it.
#[derive(Clone)]
pub struct DbSubscribers {
    store: Store,
    snapshot: Arc<RwLock<Snapshot>>,
    max: usize,
    refresh: Duration,
}

impl DbSubscribers {
    /// Connects (without creating or migrating anything: the agents own the
    /// schema) and loads the first snapshot, so that lsd never answers
    /// "unknown node" merely because it has not read the database yet.
    pub async fn open(cfg: &DatabaseConfig) -> Result<DbSubscribers, DbError> {
        let store =
            Store::open_existing(&cfg.url, 2, Duration::from_millis(cfg.connect_timeout_ms))
                .await?;
        let s = DbSubscribers {
            store,
            snapshot: Arc::new(RwLock::new(Arc::new(HashMap::new()))),
            max: cfg.max_subscribers,
            refresh: Duration::from_secs(cfg.refresh_s),
        };
        let n = s.reload().await?;
        info!(
            subscribers = n,
            "service levels loaded from the subscriber database"
        );
        Ok(s)
    }

    /// Re-reads every enabled subscriber's level and swaps the snapshot in.
    /// On error the previous snapshot stays: a database hiccup must not turn
    /// every user into an unknown node.
    pub async fn reload(&self) -> Result<usize, DbError> {
        let rows = self.store.enabled_levels(self.max).await?;
        let map: HashMap<NodeId, ServiceLevel> = rows.into_iter().collect();
        let n = map.len();
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
        Ok(n)
    }

    /// Opens the database and keeps the snapshot fresh on a thread of its
    /// own (with its own runtime), so that reading and hashing a large
    /// subscriber table never holds up lsd's event loop. Returns once the
    /// first snapshot is loaded; the thread lives as long as the process.
    pub fn start(cfg: &DatabaseConfig) -> Result<DbSubscribers, DbError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let cfg = cfg.clone();
        let spawned = std::thread::Builder::new()
            .name("lsd-subscribers".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(DbError::Unreachable(format!("no runtime: {e}"))));
                        return;
                    }
                };
                rt.block_on(async move {
                    match DbSubscribers::open(&cfg).await {
                        Ok(s) => {
                            let _ = tx.send(Ok(s.clone()));
                            s.refresh_forever().await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            });
        if let Err(e) = spawned {
            return Err(DbError::Unreachable(format!(
                "no thread for the subscriber database: {e}"
            )));
        }
        rx.recv()
            .unwrap_or_else(|_| Err(DbError::Unreachable("subscriber thread ended".into())))
    }

    /// Reloads every `refresh_s`, forever.
    pub async fn refresh_forever(self) {
        let mut every = tokio::time::interval(self.refresh);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = self.reload().await {
                warn!("subscriber database: {e}; keeping the levels read before");
            }
        }
    }

    pub fn len(&self) -> usize {
        self.current().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn current(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl SubscriberLevels for DbSubscribers {
    fn level(&self, node: NodeId) -> Option<ServiceLevel> {
        let g = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        g.get(&node).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_nodes_get_their_level_and_others_none() {
        let n: NodeId = "02:01:4a:00:00:00:00:01".parse().unwrap();
        let s = ConfigSubscribers([(n, ServiceLevel::Premium)].into());
        assert_eq!(s.level(n), Some(ServiceLevel::Premium));
        assert_eq!(s.level(NodeId::from_u64(5)), None);
    }
}
