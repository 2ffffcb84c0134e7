//! YAML configuration (serde + serde_norway). Every field has a default except
//! the cluster key, so a minimal file is just the key and the peer list.

use crate::error::ConfigError;
use lin6::addr::NodeId;
use lin6::auth::Key;
use lin6::ls::{PORT_LS, PORT_PEER, ServiceLevel};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// MA <-> LS and user <-> LS socket.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// LS <-> LS socket.
    #[serde(default = "default_peer_listen")]
    pub peer_listen: SocketAddr,
    /// The other LSs' peer sockets. Messages from any other address on the
    /// peer socket are dropped even if they verify.
    #[serde(default)]
    pub peers: Vec<SocketAddr>,
    pub cluster_key: KeyConfig,
    /// Prometheus text on `/metrics`, JSON tables on `/state`. Off if absent.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// If set, requests naming another pool address are refused.
    #[serde(default)]
    pub pool: Option<Ipv6Addr>,
    #[serde(default)]
    pub ma_table: MaTableConfig,
    #[serde(default)]
    pub answers: AnswerConfig,
    #[serde(default)]
    pub load: LoadConfig,
    #[serde(default)]
    pub decision: DecisionConfig,
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    #[serde(default)]
    pub peering: PeeringConfig,
    /// Accepted difference between a message's timestamp and our clock.
    #[serde(default = "default_skew")]
    pub clock_skew_s: u32,
    /// The subscriber database the MAs use (lin6agentd's `database.url`):
    /// where service levels come from. Off if absent.
    #[serde(default)]
    pub database: Option<DatabaseConfig>,
    /// Node ID -> level, for an LS without a database (tests, a one-box
    /// demo). Refused together with `database`: one source of truth.
    #[serde(default)]
    pub subscribers: BTreeMap<NodeId, ServiceLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:///var/lib/lin6/agent.db` or `postgres://user@host/db`.
    pub url: String,
    /// How often the levels are re-read; a level change reaches lsd within it.
    #[serde(default = "default_refresh_s")]
    pub refresh_s: u64,
    /// Upper bound on the subscribers held in memory; a database with more
    /// enabled subscribers is refused, not truncated.
    #[serde(default = "default_max_subscribers")]
    pub max_subscribers: usize,
    #[serde(default = "default_db_timeout_ms")]
    pub connect_timeout_ms: u64,
}

fn default_refresh_s() -> u64 {
    10
}
fn default_max_subscribers() -> usize {
    1_000_000
}
fn default_db_timeout_ms() -> u64 {
    5_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub id: u32,
    pub secret_hex: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaTableConfig {
    pub capacity: usize,
    /// An MA not heard from for this long is marked inactive.
    pub heartbeat_timeout_ms: u64,
    /// MAs an operator has drained: kept in the table, sent no new users.
    pub drained: Vec<Ipv6Addr>,
}

impl Default for MaTableConfig {
    fn default() -> Self {
        MaTableConfig {
            capacity: 64,
            heartbeat_timeout_ms: 30_000,
            drained: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerConfig {
    pub capacity: usize,
    pub ttl_s: u32,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            capacity: 4096,
            ttl_s: 120,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    /// Th_load: the fraction of a site's capacity that may be committed.
    pub threshold: f64,
    pub normal_kbps: u32,
    pub premium_kbps: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            threshold: 0.9,
            normal_kbps: 500,
            premium_kbps: 2_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// How long to wait for RTT replies before deciding with what came back.
    pub rtt_deadline_ms: u64,
    pub probes: u8,
    /// Decisions waiting for RTT replies at once; beyond it users get Busy.
    pub max_pending: usize,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            rtt_deadline_ms: 1_000,
            probes: 4,
            max_pending: 256,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub rate_per_s: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// LSS_MA_REQUESTs per client /64, cache hits included.
    pub requests_per_prefix: Bucket,
    /// Decisions (rounds of RTT probing) per client /64.
    pub decisions_per_prefix: Bucket,
    /// LSS_RTT_REQUESTs sent in total, all prefixes together: bounds how much
    /// probing traffic the MAs can be made to send at anyone.
    pub probes_total: Bucket,
    /// Prefixes with rate-limit state at once.
    pub tracked_prefixes: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_prefix: Bucket {
                rate_per_s: 5.0,
                burst: 20,
            },
            decisions_per_prefix: Bucket {
                rate_per_s: 0.5,
                burst: 3,
            },
            probes_total: Bucket {
                rate_per_s: 500.0,
                burst: 1_000,
            },
            tracked_prefixes: 8_192,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeeringConfig {
    pub retry_interval_ms: u64,
    pub max_tries: u32,
}

impl Default for PeeringConfig {
    fn default() -> Self {
        PeeringConfig {
            retry_interval_ms: 2_000,
            max_tries: 10,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), PORT_LS)
}
fn default_peer_listen() -> SocketAddr {
    SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), PORT_PEER)
}
fn default_skew() -> u32 {
    lin6::auth::DEFAULT_WINDOW_SECS
}

impl Config {
    pub fn load(path: &str) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_string(),
            source,
        })?;
        let cfg = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_string(),
                source,
            },
            e => e,
        })?;
        Ok(cfg)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = serde_norway::from_str(text).map_err(|source| ConfigError::Parse {
            path: "<text>".into(),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn key(&self) -> Result<Key, ConfigError> {
        Ok(Key::from_hex(
            self.cluster_key.id,
            self.cluster_key.secret_hex.trim(),
        )?)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        self.key()?;
        if self.cluster_key.id == 0 {
            return bad("cluster_key.id 0 is reserved for unauthenticated messages");
        }
        if !(self.load.threshold > 0.0 && self.load.threshold <= 1.0) {
            return bad("load.threshold must be in (0, 1]");
        }
        if self.load.normal_kbps == 0 || self.load.premium_kbps == 0 {
            return bad("load.normal_kbps and load.premium_kbps must be positive");
        }
        if self.ma_table.capacity == 0 || self.answers.capacity == 0 {
            return bad("ma_table.capacity and answers.capacity must be positive");
        }
        if self.ma_table.heartbeat_timeout_ms == 0 || self.answers.ttl_s == 0 {
            return bad("ma_table.heartbeat_timeout_ms and answers.ttl_s must be positive");
        }
        if self.decision.probes == 0 || self.decision.max_pending == 0 {
            return bad("decision.probes and decision.max_pending must be positive");
        }
        if self.decision.rtt_deadline_ms == 0 || self.peering.retry_interval_ms == 0 {
            return bad("decision.rtt_deadline_ms and peering.retry_interval_ms must be positive");
        }
        let r = &self.rate_limits;
        for (name, b) in [
            ("requests_per_prefix", r.requests_per_prefix),
            ("decisions_per_prefix", r.decisions_per_prefix),
            ("probes_total", r.probes_total),
        ] {
            if !(b.rate_per_s > 0.0 && b.rate_per_s.is_finite()) || b.burst == 0 {
                return Err(ConfigError::Invalid(format!(
                    "rate_limits.{name}: rate_per_s and burst must be positive"
                )));
            }
        }
        if r.tracked_prefixes == 0 {
            return bad("rate_limits.tracked_prefixes must be positive");
        }
        if let Some(db) = &self.database {
            if !self.subscribers.is_empty() {
                return bad(
                    "set either database (the subscriber database) or subscribers (a static map), not both",
                );
            }
            if db.refresh_s == 0 || db.max_subscribers == 0 || db.connect_timeout_ms == 0 {
                return bad(
                    "database.refresh_s, database.max_subscribers and database.connect_timeout_ms must be positive",
                );
            }
        }
        if self.peers.contains(&self.peer_listen) {
            return bad("peers must not contain our own peer_listen address");
        }
        Ok(())
    }

    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.ma_table.heartbeat_timeout_ms)
    }
    pub fn answer_ttl(&self) -> Duration {
        Duration::from_secs(self.answers.ttl_s.into())
    }
    pub fn rtt_deadline(&self) -> Duration {
        Duration::from_millis(self.decision.rtt_deadline_ms)
    }
    pub fn retry_interval(&self) -> Duration {
        Duration::from_millis(self.peering.retry_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "cluster_key: { id: 1, secret_hex: \"000102030405060708090a0b0c0d0e0f\" }\n";

    #[test]
    fn a_minimal_file_gets_documented_defaults() {
        let c = Config::parse(KEY).unwrap();
        assert_eq!(c.listen.port(), 7310);
        assert_eq!(c.peer_listen.port(), 7311);
        assert_eq!(c.ma_table.capacity, 64);
        assert_eq!(c.decision.probes, 4);
        assert!(c.peers.is_empty());
    }

    #[test]
    fn a_full_file_parses_subscribers_and_levels() {
        let text = format!(
            "{KEY}peers: [\"[::1]:17311\"]\nload: {{ threshold: 0.5, normal_kbps: 100, premium_kbps: 400 }}\n\
             subscribers:\n  \"02:01:4a:00:00:00:00:01\": premium\n  \"02:01:4a:00:00:00:00:02\": normal\n"
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.subscribers.len(), 2);
        assert!(c.subscribers.values().any(|l| *l == ServiceLevel::Premium));
        assert_eq!(c.load.threshold, 0.5);
    }

    #[test]
    fn database_and_a_static_subscriber_map_are_refused_together() {
        let c = Config::parse(&format!(
            "{KEY}database: {{ url: \"sqlite:///tmp/x.db\" }}\n"
        ))
        .unwrap();
        let db = c.database.unwrap();
        assert_eq!((db.refresh_s, db.max_subscribers), (10, 1_000_000));
        let e = Config::parse(&format!(
            "{KEY}database: {{ url: \"sqlite:///tmp/x.db\" }}\nsubscribers: {{ \"02:01:4a:00:00:00:00:01\": normal }}\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused_with_the_field_name() {
        let e = Config::parse(&format!("{KEY}colour: blue\n")).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = Config::parse(&format!("{KEY}load: {{ threshold: 1.5 }}\n")).unwrap_err();
        assert!(e.to_string().contains("threshold"), "{e}");
        let e = Config::parse("cluster_key: { id: 1, secret_hex: \"0102\" }\n").unwrap_err();
        assert!(e.to_string().contains("cluster key"), "{e}");
    }
}
