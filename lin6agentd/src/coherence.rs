//! Keeps each agent's cache in line with the database when something else
//! changes it: another replica (PostgreSQL), or the `subscriber` commands
//! and expiry collection (both backends).
//!
//! - PostgreSQL: a trigger on `mappings` sends a notification on
//!   `lin6_mappings` at commit, carrying the new row or the deletion; every
//!   agent LISTENs and applies it to its cache. Notifications arrive in
//!   commit order on one connection, so applying them in order replays the
//!   database's history; no read-back, so a replica follows a change within
//!   the notification's delivery time.
//!   While the listening connection is down, changes would go unnoticed, so
//!   the cache is suspended (every query reads the database) until it is
//!   listening again.
//! - SQLite (one agent per file): triggers append to `mapping_changes`; the
//!   agent reads the log every `cache.poll_ms`. Its own registrations are
//!   written through to the cache at once; the log only carries what other
//!   processes did, within one poll interval.

use crate::agent::Agent;
use crate::cache::Mapping;
use crate::metrics::Metrics;
use lin6::addr::{NodeId, Prefix64};
use sqlx::postgres::PgListener;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

pub const CHANNEL: &str = "lin6_mappings";

/// Connects and LISTENs. Done before the agent serves anything, so that no
/// change between its first database read and the LISTEN can be missed.
pub async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

pub async fn run_pg_listener(
    mut listener: PgListener,
    url: String,
    agent: Arc<Agent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let r = tokio::select! {
            r = listener.try_recv() => r,
            _ = stop.changed() => return,
        };
        match r {
            Ok(Some(n)) => {
                backoff = Duration::from_millis(100);
                match parse_notification(n.payload()) {
                    Some(Change::Upsert(node, m)) => {
                        // In commit order, so the current epoch is the right
                        // one; the sequence check still keeps a newer copy
                        // this agent wrote through itself.
                        agent.cache().put(node, m, agent.cache().epoch());
                        Metrics::inc(&agent.metrics().changes_applied);
                    }
                    Some(Change::Delete(node)) => {
                        agent.cache().remove(node);
                        Metrics::inc(&agent.metrics().changes_applied);
                    }
                    None => {
                        // Not ours to read (another schema version?): the
                        // cache can no longer be trusted to be complete.
                        warn!(
                            payload = n.payload(),
                            "unreadable mapping notification; cache cleared"
                        );
                        agent.cache().clear();
                        Metrics::inc(&agent.metrics().cache_resets);
                    }
                }
            }
            Ok(None) => {
                // sqlx has reconnected and re-LISTENed already; what was
                // sent in between is lost, so start over from empty.
                warn!("PostgreSQL LISTEN connection was lost and restored; cache cleared");
                agent.cache().clear();
                Metrics::inc(&agent.metrics().cache_resets);
            }
            Err(e) => {
                warn!(
                    "PostgreSQL LISTEN connection failed: {e}; serving from the database until it is back"
                );
                agent.cache().suspend();
                Metrics::inc(&agent.metrics().cache_resets);
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    match listen(&url).await {
                        Ok(l) => {
                            listener = l;
                            agent.cache().resume();
                            info!("PostgreSQL LISTEN connection restored; cache back in use");
                            break;
                        }
                        Err(e) => warn!("PostgreSQL LISTEN reconnect failed: {e}"),
                    }
                }
            }
        }
    }
}

/// A mapping change as the PostgreSQL trigger describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Upsert(NodeId, Mapping),
    Delete(NodeId),
}

/// Reads "u node prefix req_timestamp expires_at sequence" or "d node".
pub fn parse_notification(payload: &str) -> Option<Change> {
    let mut f = payload.split(' ');
    let kind = f.next()?;
    let node = NodeId::from_str(f.next()?).ok()?;
    let change = match kind {
        "d" => Change::Delete(node),
        "u" => Change::Upsert(
            node,
            Mapping {
                prefix: Prefix64::from_str(f.next()?).ok()?,
                timestamp: f.next()?.parse().ok()?,
                expires_at: f.next()?.parse::<i64>().ok()?.max(0) as u64,
                sequence: f.next()?.parse().ok()?,
            },
        ),
        _ => return None,
    };
    f.next().is_none().then_some(change)
}

/// Entries read per poll; a longer backlog is worked off over several polls.
const POLL_BATCH: usize = 4096;

pub async fn run_sqlite_poller(
    mut last: i64,
    agent: Arc<Agent>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match poll_once(&agent, last).await {
            Ok(Some(upto)) => last = upto,
            Ok(None) => {}
            Err(e) => warn!("reading the mapping change log failed: {e}"),
        }
    }
}

/// Applies the log entries after `last`; returns the new high-water mark.
pub async fn poll_once(agent: &Agent, last: i64) -> Result<Option<i64>, crate::error::DbError> {
    let changes = agent.store().changes_after(last, POLL_BATCH).await?;
    let Some(&(upto, _)) = changes.last() else {
        return Ok(None);
    };
    let mut nodes: Vec<NodeId> = changes.into_iter().map(|(_, n)| n).collect();
    nodes.sort_unstable();
    nodes.dedup();
    for node in nodes {
        if let Err(e) = agent.refresh(node).await {
            warn!(%node, "cannot refresh cached mapping: {e}");
            agent.cache().remove(node);
        }
    }
    agent.store().prune_changes(upto).await?;
    Ok(Some(upto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_payloads_parse_strictly() {
        let n = NodeId::from_u64(0x0201_4a00_0000_0001);
        assert_eq!(
            parse_notification("u 02:01:4a:00:00:00:00:01 2001:db8:1::/64 77 1800000300 42"),
            Some(Change::Upsert(
                n,
                Mapping {
                    prefix: "2001:db8:1::/64".parse().unwrap(),
                    timestamp: 77,
                    expires_at: 1_800_000_300,
                    sequence: 42,
                }
            ))
        );
        assert_eq!(
            parse_notification("d 02:01:4a:00:00:00:00:01"),
            Some(Change::Delete(n))
        );
        for bad in [
            "",
            "d",
            "x 02:01:4a:00:00:00:00:01",
            "d 02:01:4a:00:00:00:00:01 extra",
            "u 02:01:4a:00:00:00:00:01 2001:db8:1::/64 77 1800000300",
            "u 02:01:4a:00:00:00:00:01 2001:db8:1::/64 77 1800000300 4294967296",
            "u 02:01:4a:00:00:00:00:01 nonsense 77 1800000300 42",
        ] {
            assert_eq!(parse_notification(bad), None, "{bad}");
        }
    }
}
