//! Finding the pool's LS servers through DNS (paper §IV.A), as users do:
//! the lin6 TXT record at the reverse name of the pool address lists them
//! (`lin6 v=1 ls=...`); the pool is named in the config by its address or
//! by a DNS name whose AAAA record is that address.
//!
//! One task publishes what it finds into the LS client's [`watch`] channel
//! (`ls_client`), which keeps heartbeating the current LS if it is still
//! listed and otherwise starts at the first. It asks again every
//! `refresh_s` (sooner when the record's TTL is shorter), after a failed
//! lookup with a doubling wait, and at once when the LS client reports that
//! its current LS stopped acknowledging (the `wake` notification), so an MA
//! whose LSs all died finds the ones DNS names now. Lookups are at least
//! `retry_ms` apart whatever wakes them. A failed lookup or a record
//! without `ls=` keeps the last list: no answer is no reason to stop
//! heartbeating an LS that may still be there.

use crate::config::LsDiscoveryConfig;
use crate::error::{AgentError, ConfigError};
use crate::metrics::Metrics;
use lin6::discovery::{Discovery, DiscoveryError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

/// Starts the discovery task.
pub fn spawn(
    cfg: LsDiscoveryConfig,
    servers: watch::Sender<Vec<SocketAddr>>,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, AgentError> {
    let d = Discovery::new(
        &cfg.dns_servers,
        Duration::from_millis(cfg.timeout_ms),
        cfg.attempts,
    )
    .map_err(|e| ConfigError::Invalid(format!("ls.discovery: {e}")))?;
    Ok(tokio::spawn(run(cfg, d, servers, wake, metrics, stop)))
}

/// The LS list DNS gives now, and until when it may be kept.
async fn lookup(
    cfg: &LsDiscoveryConfig,
    d: &Discovery,
) -> Result<(Vec<SocketAddr>, std::time::Instant), DiscoveryError> {
    let found = match (&cfg.pool, &cfg.name) {
        (Some(pool), _) => d.servers_of(*pool).await?,
        (None, Some(name)) => d.servers_of_name(name).await?.1,
        (None, None) => return Err(DiscoveryError::NoServers),
    };
    let list = found.value.ls.iter().map(|s| s.ls()).collect();
    Ok((list, found.valid_until))
}

async fn run(
    cfg: LsDiscoveryConfig,
    d: Discovery,
    servers: watch::Sender<Vec<SocketAddr>>,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let refresh = Duration::from_secs(cfg.refresh_s);
    let min_gap = Duration::from_millis(cfg.retry_ms);
    let mut backoff = min_gap;
    let pool = match (&cfg.pool, &cfg.name) {
        (Some(p), _) => p.to_string(),
        (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    let mut next = Instant::now();
    let mut last: Option<Instant> = None;
    // A silent LS asked for a lookup that bypasses the resolver's cache.
    let mut uncached = false;
    loop {
        tokio::select! {
            _ = sleep_until(next) => {}
            _ = wake.notified() => {
                uncached = true;
                // Not more often than min_gap, however often the LS client
                // reports a silent LS.
                if let Some(t) = last
                    && t.elapsed() < min_gap
                {
                    next = next.min(t + min_gap);
                    continue;
                }
            }
            _ = stop.changed() => return,
        }
        if std::mem::take(&mut uncached) {
            info!(%pool, "the current LS stopped acknowledging: asking DNS for the pool's LSs");
            // The record may have changed within its TTL.
            d.forget_cached();
        }
        last = Some(Instant::now());
        Metrics::inc(&metrics.ls_discovery_lookups);
        match lookup(&cfg, &d).await {
            Ok((list, valid_until)) if !list.is_empty() => {
                backoff = min_gap;
                let changed = servers.send_if_modified(|cur| {
                    if *cur == list {
                        false
                    } else {
                        *cur = list.clone();
                        true
                    }
                });
                if changed {
                    info!(%pool, ?list, "LS servers found through DNS");
                } else {
                    debug!(%pool, "LS list unchanged");
                }
                let ttl = valid_until.saturating_duration_since(std::time::Instant::now());
                next = Instant::now() + ttl.min(refresh).max(min_gap);
            }
            r => {
                Metrics::inc(&metrics.ls_discovery_failures);
                match r {
                    Ok(_) => warn!(%pool, "the pool's lin6 TXT record lists no LS (ls=)"),
                    Err(e) => warn!(%pool, "finding the LS servers: {e}"),
                }
                next = Instant::now() + backoff;
                backoff = (backoff * 2).min(refresh);
            }
        }
    }
}
