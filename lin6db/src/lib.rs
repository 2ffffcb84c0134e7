//! The subscriber database: subscribers (Node ID, key, level, enabled, replay
//! state) and mappings, in SQLite or PostgreSQL.
//!
//! Its own crate because two daemons read it: lin6agentd (the MA, which owns
//! the schema and writes registrations) and lsd (the LS, which only reads
//! service levels, paper §IV.B step 2). One schema, one set of queries, one
//! place to change them; the `lin6` library stays free of sqlx and async.
//!
//! One code path for both, through sqlx's `Any` driver: every query below is
//! plain SQL that both dialects accept (`$n` placeholders, `ON CONFLICT ..
//! DO UPDATE`, integers and text only), so there is no second implementation
//! to drift out of sync. What cannot be shared lives outside the queries: the
//! schema (two migration directories, because PostgreSQL gets a NOTIFY
//! trigger and SQLite a change-log trigger) and the change feed (`coherence`).
//!
//! Registrations must be atomic across replicas: two agents sharing one
//! PostgreSQL database may receive the same (replayed) request at once. A
//! registration is therefore one conditional upsert ([`Store::register`]):
//! the freshness check and the write in a single statement, which both
//! dialects execute atomically without dialect-specific locking (`SELECT ..
//! FOR UPDATE` does not exist in SQLite), and which costs one round trip.

use lin6::addr::{NodeId, Prefix64};
use lin6::ls::ServiceLevel;
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Error)]
pub enum DbError {
    #[error(
        "database URL {0:?} is neither sqlite: nor postgres:// (postgresql://); see docs/lin6agentd.md"
    )]
    UnsupportedUrl(String),
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot migrate database {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("subscriber {0} already exists (use `subscriber del` first to replace its key)")]
    Exists(String),
    #[error("no subscriber {0}")]
    NotFound(String),
    #[error("database holds a row the agent cannot read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Contended(String),
    #[error("{0}")]
    Unreachable(String),
    #[error(
        "database {url} has no subscriber table yet: start lin6agentd on it once (it creates the schema)"
    )]
    NoSchema { url: String },
    #[error("the database holds more than {limit} enabled subscribers; raise the reader's limit")]
    TooMany { limit: usize },
}

/// A mapping as stored: what an MA Reply needs plus the sequence that orders
/// versions of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub prefix: Prefix64,
    /// Timestamp of the Mapping Update Request that installed it.
    pub timestamp: u32,
    /// Unix seconds; the mapping is live while `now < expires_at`.
    pub expires_at: u64,
    /// Sequence number of that request.
    pub sequence: u32,
}

impl Mapping {
    /// Seconds left at `now`, or `None` if expired (or withdrawn).
    pub fn remaining(&self, now: u64) -> Option<u32> {
        if now < self.expires_at {
            Some((self.expires_at - now).min(u64::from(u32::MAX)) as u32)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl(url.to_string()))
        }
    }
}

/// What a registration needs to know about its node.
#[derive(Debug, Clone)]
pub struct SubscriberAuth {
    pub key_id: u32,
    pub secret_hex: String,
    pub enabled: bool,
    pub last_sequence: Option<u32>,
}

/// A subscriber as `subscriber list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriberInfo {
    pub node_id: NodeId,
    pub key_id: u32,
    pub level: String,
    pub enabled: bool,
    pub last_sequence: Option<u32>,
    pub created_at: i64,
    /// Current prefix, if the node has a live mapping.
    pub prefix: Option<Prefix64>,
    pub lifetime_left_s: Option<u64>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// sqlx opens SQLite files read-write but does not create them unless asked.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn node_text(n: NodeId) -> String {
    n.to_string()
}

fn corrupt(what: &str, v: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what} {v}"))
}

fn u32_col(row: &AnyRow, col: &str) -> Result<u32, DbError> {
    let v: i64 = row.try_get(col)?;
    u32::try_from(v).map_err(|_| corrupt(col, v))
}

fn mapping_of(row: &AnyRow) -> Result<Mapping, DbError> {
    let prefix: String = row.try_get("prefix")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    Ok(Mapping {
        prefix: Prefix64::from_str(&prefix).map_err(|_| corrupt("prefix", &prefix))?,
        timestamp: u32_col(row, "req_timestamp")?,
        expires_at: expires_at.max(0) as u64,
        sequence: u32_col(row, "sequence")?,
    })
}

fn level_of(row: &AnyRow) -> Result<ServiceLevel, DbError> {
    let s: String = row.try_get("level")?;
    ServiceLevel::from_str(&s).map_err(|_| corrupt("level", &s))
}

fn node_of(row: &AnyRow) -> Result<NodeId, DbError> {
    let s: String = row.try_get("node_id")?;
    NodeId::from_str(&s).map_err(|_| corrupt("node_id", &s))
}

/// What `--check` can verify without changing anything: that a PostgreSQL
/// server accepts us, or that a SQLite file's directory exists. (Opening
/// a [`Store`] would create the file and migrate the schema.)
pub async fn check_reachable(url: &str) -> Result<(), DbError> {
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let path = url
                .trim_start_matches("sqlite:")
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or("");
            if path.is_empty() || path.contains(":memory:") {
                return Ok(());
            }
            let dir = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if dir.is_dir() {
                Ok(())
            } else {
                Err(DbError::Unreachable(format!(
                    "directory {} for the SQLite database does not exist",
                    dir.display()
                )))
            }
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::postgres::PgConnection::connect(url)
                .await
                .map_err(|source| DbError::Connect {
                    url: url.to_string(),
                    source,
                })?;
            sqlx::query("SELECT 1").execute(&mut c).await?;
            c.close().await?;
            Ok(())
        }
    }
}

impl Store {
    /// Connects, and creates or upgrades the schema.
    pub async fn open(
        url: &str,
        max_connections: u32,
        connect_timeout: Duration,
    ) -> Result<Store, DbError> {
        let backend = Backend::of_url(url)?;
        sqlx::any::install_default_drivers();
        let conn_url = match backend {
            Backend::Sqlite => with_create_mode(url),
            Backend::Postgres => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // One connection kept open, so that a query miss after a quiet
            // spell does not pay for a connection set-up.
            .min_connections(1)
            // No ping before each use: it is one more round trip (or
            // SQLite worker hand-off) in front of every registration. sqlx
            // pings a connection when it is given back instead, and drops
            // it if broken; one that broke while idle fails its next
            // statement, which the node's retry covers.
            .test_before_acquire(false)
            .acquire_timeout(connect_timeout)
            .connect(&conn_url)
            .await
            .map_err(|source| DbError::Connect {
                url: url.to_string(),
                source,
            })?;
        let migrate = |source| DbError::Migrate {
            url: url.to_string(),
            source,
        };
        match backend {
            Backend::Sqlite => {
                // WAL lets queries read while a registration writes; it is a
                // property of the file, so setting it once is enough.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .fetch_optional(&pool)
                    .await?;
                SQLITE_MIGRATIONS.run(&pool).await.map_err(migrate)?;
            }
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await.map_err(migrate)?,
        }
        Ok(Store { pool, backend })
    }

    /// Connects to a database some lin6agentd has created, without creating
    /// or migrating anything: for readers such as lsd, which must not race
    /// the agents' migrations or conjure an empty SQLite file out of a typo.
    pub async fn open_existing(
        url: &str,
        max_connections: u32,
        connect_timeout: Duration,
    ) -> Result<Store, DbError> {
        let backend = Backend::of_url(url)?;
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(connect_timeout)
            .connect(url)
            .await
            .map_err(|source| DbError::Connect {
                url: url.to_string(),
                source,
            })?;
        if sqlx::query("SELECT 1 FROM subscribers LIMIT 1")
            .fetch_optional(&pool)
            .await
            .is_err()
        {
            pool.close().await;
            return Err(DbError::NoSchema {
                url: url.to_string(),
            });
        }
        Ok(Store { pool, backend })
    }

    /// Every enabled subscriber's level, for readers that keep them in memory.
    /// Refuses (rather than truncates) a table larger than `limit`, so a
    /// reader never silently treats the subscribers past the limit as unknown.
    pub async fn enabled_levels(
        &self,
        limit: usize,
    ) -> Result<Vec<(NodeId, ServiceLevel)>, DbError> {
        let rows = sqlx::query(
            "SELECT node_id, level FROM subscribers WHERE enabled = 1 ORDER BY node_id LIMIT $1",
        )
        .bind(limit.saturating_add(1).min(i64::MAX as usize) as i64)
        .fetch_all(&self.pool)
        .await?;
        if rows.len() > limit {
            return Err(DbError::TooMany { limit });
        }
        rows.iter()
            .map(|r| Ok((node_of(r)?, level_of(r)?)))
            .collect()
    }

    /// One subscriber's level; `None` if unknown or disabled.
    pub async fn level(&self, node: NodeId) -> Result<Option<ServiceLevel>, DbError> {
        let row = sqlx::query("SELECT level FROM subscribers WHERE node_id = $1 AND enabled = 1")
            .bind(node_text(node))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(level_of).transpose()
    }

    /// Changes a subscriber's service level.
    pub async fn set_level(&self, node: NodeId, level: ServiceLevel) -> Result<(), DbError> {
        let r = sqlx::query("UPDATE subscribers SET level = $1 WHERE node_id = $2")
            .bind(level.to_string())
            .bind(node_text(node))
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(DbError::NotFound(node.to_string()));
        }
        Ok(())
    }

    /// A transaction that will write. SQLite: BEGIN IMMEDIATE takes the
    /// write lock up front, so a concurrent writer waits (busy timeout)
    /// instead of failing with SQLITE_BUSY when its read snapshot turns out
    /// stale at its first write. PostgreSQL: a plain BEGIN; its row locks
    /// and READ COMMITTED re-check do the same for the compare-and-set.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn add_subscriber(
        &self,
        node: NodeId,
        key_id: u32,
        secret_hex: &str,
        level: ServiceLevel,
        now: u64,
    ) -> Result<(), DbError> {
        let r = sqlx::query(
            "INSERT INTO subscribers (node_id, key_id, secret, level, enabled, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (node_id) DO NOTHING",
        )
        .bind(node_text(node))
        .bind(i64::from(key_id))
        .bind(secret_hex.to_ascii_lowercase())
        .bind(level.to_string())
        .bind(now as i64)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(DbError::Exists(node.to_string()));
        }
        Ok(())
    }

    /// Removes a subscriber; its mapping goes with it (ON DELETE CASCADE).
    pub async fn delete_subscriber(&self, node: NodeId) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        // Explicit rather than relying on the cascade alone, so the change
        // triggers fire for the mapping row on every backend.
        sqlx::query("DELETE FROM mappings WHERE node_id = $1")
            .bind(node_text(node))
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM subscribers WHERE node_id = $1")
            .bind(node_text(node))
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(DbError::NotFound(node.to_string()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Enables or disables a subscriber. Disabling also withdraws its
    /// mapping: a disabled subscriber is out of service at once, not when its
    /// last registration expires.
    pub async fn set_enabled(&self, node: NodeId, enabled: bool) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("UPDATE subscribers SET enabled = $1 WHERE node_id = $2")
            .bind(i64::from(enabled))
            .bind(node_text(node))
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(DbError::NotFound(node.to_string()));
        }
        if !enabled {
            sqlx::query("DELETE FROM mappings WHERE node_id = $1")
                .bind(node_text(node))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_subscribers(&self, now: u64) -> Result<Vec<SubscriberInfo>, DbError> {
        let rows = sqlx::query(
            "SELECT s.node_id, s.key_id, s.level, s.enabled, s.last_sequence, s.created_at, \
                    m.prefix, m.expires_at \
             FROM subscribers s LEFT JOIN mappings m ON m.node_id = s.node_id \
             ORDER BY s.node_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let prefix: Option<String> = row.try_get("prefix")?;
                let expires_at: Option<i64> = row.try_get("expires_at")?;
                let left = expires_at
                    .map(|e| e.max(0) as u64)
                    .filter(|e| *e > now)
                    .map(|e| e - now);
                let last: Option<i64> = row.try_get("last_sequence")?;
                let enabled: i64 = row.try_get("enabled")?;
                Ok(SubscriberInfo {
                    node_id: node_of(row)?,
                    key_id: u32_col(row, "key_id")?,
                    level: row.try_get("level")?,
                    enabled: enabled != 0,
                    last_sequence: last.map(|v| v as u32),
                    created_at: row.try_get("created_at")?,
                    prefix: match (&prefix, left) {
                        (Some(p), Some(_)) => {
                            Some(Prefix64::from_str(p).map_err(|_| corrupt("prefix", p))?)
                        }
                        _ => None,
                    },
                    lifetime_left_s: left,
                })
            })
            .collect()
    }

    pub async fn subscriber_auth(&self, node: NodeId) -> Result<Option<SubscriberAuth>, DbError> {
        let row = sqlx::query(
            "SELECT key_id, secret, enabled, last_sequence FROM subscribers WHERE node_id = $1",
        )
        .bind(node_text(node))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let enabled: i64 = row.try_get("enabled")?;
        let last: Option<i64> = row.try_get("last_sequence")?;
        Ok(Some(SubscriberAuth {
            key_id: u32_col(&row, "key_id")?,
            secret_hex: row.try_get("secret")?,
            enabled: enabled != 0,
            last_sequence: match last {
                Some(v) => Some(u32::try_from(v).map_err(|_| corrupt("last_sequence", v))?),
                None => None,
            },
        }))
    }

    /// Records `m` as the node's mapping, in one statement, if and only if
    /// the node is an enabled subscriber whose key is still (`key_id`,
    /// `secret_hex`) (the key the caller verified the request with) and
    /// `m.sequence` is newer (RFC 1982) than its last accepted sequence.
    /// The subscriber's replay state advances with it (a trigger of the
    /// same statement). `false`: one of those did not hold; the caller reads
    /// the subscriber back to say which.
    ///
    /// One statement rather than read-check-write in a transaction: it is
    /// the whole database cost of a registration (one round trip to the
    /// server, or one hand-off to SQLite's worker thread, where a
    /// transaction took five), and it is atomic on both backends without
    /// locking: SQLite runs it under its one write lock; PostgreSQL
    /// re-checks the conflict arm's condition on the newest row version, so
    /// of two replicas committing the same sequence at once, one wins.
    pub async fn register(
        &self,
        node: NodeId,
        key_id: u32,
        secret_hex: &str,
        m: &Mapping,
        now: u64,
    ) -> Result<bool, DbError> {
        // (new - old) mod 2^32 in 1..2^31-1, as lin6::auth::serial_newer; %
        // keeps the dividend's sign in both dialects, hence the second turn.
        let row = sqlx::query(
            "INSERT INTO mappings (node_id, prefix, req_timestamp, expires_at, sequence, updated_at) \
             SELECT node_id, $2, $3, $4, $5, $6 FROM subscribers \
             WHERE node_id = $1 AND enabled = 1 AND key_id = $7 AND secret = $8 \
               AND (last_sequence IS NULL OR \
                    ((($5 - last_sequence) % 4294967296) + 4294967296) % 4294967296 \
                      BETWEEN 1 AND 2147483647) \
             ON CONFLICT (node_id) DO UPDATE SET prefix = excluded.prefix, \
               req_timestamp = excluded.req_timestamp, expires_at = excluded.expires_at, \
               sequence = excluded.sequence, updated_at = excluded.updated_at \
             WHERE (((excluded.sequence - mappings.sequence) % 4294967296) + 4294967296) \
                     % 4294967296 BETWEEN 1 AND 2147483647 \
             RETURNING sequence",
        )
        .bind(node_text(node))
        .bind(m.prefix.to_string())
        .bind(i64::from(m.timestamp))
        .bind(m.expires_at as i64)
        .bind(i64::from(m.sequence))
        .bind(now as i64)
        .bind(i64::from(key_id))
        .bind(secret_hex.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// The node's mapping row, live or expired.
    pub async fn mapping(&self, node: NodeId) -> Result<Option<Mapping>, DbError> {
        let row = sqlx::query(
            "SELECT prefix, req_timestamp, expires_at, sequence FROM mappings WHERE node_id = $1",
        )
        .bind(node_text(node))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(mapping_of).transpose()
    }

    /// Up to `limit` live mappings, for warming the cache.
    pub async fn live_mappings(
        &self,
        now: u64,
        limit: usize,
    ) -> Result<Vec<(NodeId, Mapping)>, DbError> {
        let rows = sqlx::query(
            "SELECT node_id, prefix, req_timestamp, expires_at, sequence FROM mappings \
             WHERE expires_at > $1 ORDER BY expires_at DESC LIMIT $2",
        )
        .bind(now as i64)
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((node_of(r)?, mapping_of(r)?)))
            .collect()
    }

    pub async fn count_live(&self, now: u64) -> Result<u64, DbError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM mappings WHERE expires_at > $1")
            .bind(now as i64)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(n.max(0) as u64)
    }

    /// Deletes mapping rows that expired before `now`. The replay state
    /// stays with the subscriber.
    pub async fn collect_expired(&self, now: u64) -> Result<u64, DbError> {
        let r = sqlx::query("DELETE FROM mappings WHERE expires_at <= $1")
            .bind(now as i64)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// SQLite change log: the newest entry's ID (0 if empty).
    pub async fn last_change_id(&self) -> Result<i64, DbError> {
        let id: Option<i64> = sqlx::query("SELECT MAX(id) AS id FROM mapping_changes")
            .fetch_one(&self.pool)
            .await?
            .try_get("id")?;
        Ok(id.unwrap_or(0))
    }

    /// SQLite change log: entries after `after`, oldest first.
    pub async fn changes_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, NodeId)>, DbError> {
        let rows = sqlx::query(
            "SELECT id, node_id FROM mapping_changes WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("id")?, node_of(r)?)))
            .collect()
    }

    /// SQLite change log: drops entries up to `upto`, which the single agent
    /// that owns the file has applied.
    pub async fn prune_changes(&self, upto: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM mapping_changes WHERE id <= $1")
            .bind(upto)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds many subscribers with live mappings in one transaction (the
    /// benchmark's fixture; far faster than one registration each).
    pub async fn seed(
        &self,
        entries: &[(NodeId, String, Mapping)],
        now: u64,
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        for (node, secret_hex, m) in entries {
            sqlx::query(
                "INSERT INTO subscribers (node_id, key_id, secret, level, enabled, last_sequence, created_at) \
                 VALUES ($1, 1, $2, 'normal', 1, $3, $4)",
            )
            .bind(node_text(*node))
            .bind(secret_hex.as_str())
            .bind(i64::from(m.sequence))
            .bind(now as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO mappings (node_id, prefix, req_timestamp, expires_at, sequence, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(node_text(*node))
            .bind(m.prefix.to_string())
            .bind(i64::from(m.timestamp))
            .bind(m.expires_at as i64)
            .bind(i64::from(m.sequence))
            .bind(now as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode_once() {
        assert_eq!(
            with_create_mode("sqlite:///a.db"),
            "sqlite:///a.db?mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite:///a.db?x=1"),
            "sqlite:///a.db?x=1&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite:///a.db?mode=ro"),
            "sqlite:///a.db?mode=ro"
        );
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgresql://u@h/d").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of_url("mysql://h/d").is_err());
    }
}
