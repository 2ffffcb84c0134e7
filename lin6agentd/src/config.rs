//! YAML configuration (serde + serde_norway). Every field has a default, so an
//! empty file (or none, for the subscriber commands) is a working SQLite agent.
//! Reference: docs/lin6agentd.md.

use crate::error::ConfigError;
use lin6::wire::{PORT_MA_QUERY, PORT_MA_REGISTRATION};
use serde::Deserialize;
use std::net::{Ipv6Addr, SocketAddr};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Mapping Update Request/Reply (authenticated registrations).
    #[serde(default = "default_registration_listen")]
    pub registration_listen: SocketAddr,
    /// MA Query/Reply.
    #[serde(default = "default_query_listen")]
    pub query_listen: SocketAddr,
    /// Prometheus text on `/metrics`. Off if absent.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub mapping: MappingConfig,
    #[serde(default)]
    pub replay: ReplayConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub query: QueryConfig,
    #[serde(default)]
    pub registration: RegistrationConfig,
    /// The MA side of the load-sharing protocol (heartbeats to an LS, RTT
    /// probes, assignments). Off if absent.
    #[serde(default)]
    pub ls: Option<LsConfig>,
    /// Bandwidth per service level on this MA's server S (nftables marks and
    /// HTB classes). Off if absent: assignments are then only counted.
    #[serde(default)]
    pub shaping: Option<ShapingConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsConfig {
    /// LS servers (their port 7310), tried in order; the next one takes over
    /// when the current one stops acknowledging heartbeats. May be empty
    /// when `discovery` is set; if both are set, these are used until DNS
    /// has answered.
    #[serde(default)]
    pub servers: Vec<SocketAddr>,
    /// Find the LS servers through DNS (the `ls=` list of the lin6 TXT
    /// record at the pool address's reverse name), as users do.
    #[serde(default)]
    pub discovery: Option<LsDiscoveryConfig>,
    /// The pool's cluster key, the one in every lsd's config.
    pub cluster_key: LsKeyConfig,
    /// The address users register with and query (sent in heartbeats, and
    /// checked against every LSS_MA_ASSIGN).
    pub ma_addr: Ipv6Addr,
    /// Local socket for LS traffic; the LS answers to wherever it comes from.
    #[serde(default = "default_ls_listen")]
    pub listen: SocketAddr,
    /// Outgoing bandwidth of the server S beside this MA.
    pub capacity_kbps: u32,
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_interval_ms: u64,
    /// No acknowledgement from the current LS for this long: fail over.
    #[serde(default = "default_failover_ms")]
    pub failover_after_ms: u64,
    #[serde(default = "default_ls_skew")]
    pub clock_skew_s: u32,
    /// Per-level bandwidth: the load reported to the LS and the HTB rates.
    /// Keep them equal to lsd's `load.normal_kbps` / `load.premium_kbps`.
    #[serde(default = "default_normal_kbps")]
    pub normal_kbps: u32,
    #[serde(default = "default_premium_kbps")]
    pub premium_kbps: u32,
    /// Users counted at once; assignments beyond it are refused and counted.
    #[serde(default = "default_max_users")]
    pub max_users: usize,
    /// An assigned user whose mapping never shows up in the database is
    /// dropped after this; one with a mapping stays until it expires.
    #[serde(default = "default_user_grace_s")]
    pub user_grace_s: u64,
    /// The MA tells its LS it wants no new users (heartbeat flag).
    #[serde(default)]
    pub draining: bool,
    #[serde(default)]
    pub rtt: RttConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsDiscoveryConfig {
    /// The pool's LIN6 address (the one all content servers share).
    #[serde(default)]
    pub pool: Option<Ipv6Addr>,
    /// Or the pool's DNS name (absolute): its AAAA record is the pool
    /// address. Exactly one of `pool` and `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// DNS servers asked, in order (the system's resolv.conf is not read).
    #[serde(default = "default_dns_servers")]
    pub dns_servers: Vec<SocketAddr>,
    /// One DNS query's timeout, and tries per query.
    #[serde(default = "default_dns_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_dns_attempts")]
    pub attempts: usize,
    /// Ask DNS again at least this often (sooner when the record's TTL is
    /// shorter), and at once when the current LS stops acknowledging.
    #[serde(default = "default_refresh_s")]
    pub refresh_s: u64,
    /// After a failed lookup, the first wait before the next; doubles up
    /// to `refresh_s`. Also the least time between two lookups.
    #[serde(default = "default_retry_ms")]
    pub retry_ms: u64,
}

fn default_dns_servers() -> Vec<SocketAddr> {
    vec![SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 53)]
}
fn default_dns_timeout_ms() -> u64 {
    2_000
}
fn default_dns_attempts() -> usize {
    2
}
fn default_refresh_s() -> u64 {
    300
}
fn default_retry_ms() -> u64 {
    1_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsKeyConfig {
    pub id: u32,
    pub secret_hex: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RttConfig {
    /// RTT requests measured at once; more are dropped and counted (the LS
    /// treats a missing reply as unreachable).
    pub max_concurrent: usize,
    /// How long the replies to one request's probes are awaited; a probe
    /// unanswered by then does not count.
    pub probe_timeout_ms: u64,
    /// Upper bound on the probes one request may ask for (the paper uses 4).
    pub max_probes: u8,
}

impl Default for RttConfig {
    fn default() -> Self {
        RttConfig {
            max_concurrent: 16,
            probe_timeout_ms: 250,
            max_probes: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapingConfig {
    /// Egress device of the server S (where the HTB qdisc goes).
    pub device: String,
    /// Rate of the device's root class; defaults to `ls.capacity_kbps`.
    #[serde(default)]
    pub capacity_kbps: Option<u32>,
    /// Per-user rate by level; default to `ls.normal_kbps` / `ls.premium_kbps`.
    #[serde(default)]
    pub normal_kbps: Option<u32>,
    #[serde(default)]
    pub premium_kbps: Option<u32>,
    /// The nftables table (family ip6) the agent owns and rewrites.
    #[serde(default = "default_nft_table")]
    pub nft_table: String,
    /// The `tc` program (tc -batch).
    #[serde(default = "default_tc")]
    pub tc: String,
    /// `fw` (default), or `u32` (`match mark`) where the kernel lacks cls_fw.
    #[serde(default = "default_classifier")]
    pub classifier: crate::shaping_nft_tc::Classifier,
}

fn default_classifier() -> crate::shaping_nft_tc::Classifier {
    crate::shaping_nft_tc::Classifier::Fw
}

fn default_ls_listen() -> SocketAddr {
    SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
}
fn default_heartbeat_ms() -> u64 {
    5_000
}
fn default_failover_ms() -> u64 {
    15_000
}
fn default_ls_skew() -> u32 {
    lin6::auth::DEFAULT_WINDOW_SECS
}
fn default_normal_kbps() -> u32 {
    500
}
fn default_premium_kbps() -> u32 {
    2_000
}
fn default_max_users() -> usize {
    100_000
}
fn default_user_grace_s() -> u64 {
    120
}
fn default_nft_table() -> String {
    "lin6_shaping".into()
}
fn default_tc() -> String {
    "tc".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            registration_listen: default_registration_listen(),
            query_listen: default_query_listen(),
            metrics_listen: None,
            database: DatabaseConfig::default(),
            mapping: MappingConfig::default(),
            replay: ReplayConfig::default(),
            cache: CacheConfig::default(),
            query: QueryConfig::default(),
            registration: RegistrationConfig::default(),
            ls: None,
            shaping: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite:///var/lib/lin6/agent.db` (created if missing) or
    /// `postgres://user@host/db` for MAs that share one database.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite:///var/lib/lin6/agent.db".into(),
            max_connections: 8,
            connect_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingConfig {
    /// Longest lifetime granted; longer requests are cut to it.
    pub max_lifetime_s: u32,
    /// Granted for a request whose lifetime is 0xffffffff ("infinite" in the
    /// IPv6 neighbour-discovery convention), which an MA never grants.
    pub default_lifetime_s: u32,
    /// How often rows of expired mappings are deleted from the database.
    pub gc_interval_s: u64,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            max_lifetime_s: 3_600,
            default_lifetime_s: 600,
            gc_interval_s: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplayConfig {
    /// Accepted difference between a request's timestamp and our clock.
    pub window_s: u32,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            window_s: lin6::auth::DEFAULT_WINDOW_SECS,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Mappings held in memory; beyond it, queries for the rest go to the
    /// database.
    pub capacity: usize,
    /// Load up to `capacity` live mappings at start, so the first queries
    /// after a restart do not all go to the database.
    pub preload: bool,
    /// SQLite only: how often the change log is read, so that changes made
    /// by `lin6agentd subscriber ...` reach a running agent's cache.
    pub poll_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: 1_000_000,
            preload: true,
            poll_ms: 500,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Sockets bound to `query_listen` with SO_REUSEPORT, one task each;
    /// 0 means one per CPU.
    pub workers: usize,
    /// Database lookups (cache misses) at once; queries beyond it are dropped
    /// and counted, and the querier retries. Bounds what a flood of queries
    /// for unknown nodes can cost the database.
    pub max_db_lookups: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            workers: 0,
            max_db_lookups: 64,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// Registrations being processed at once (each is a database
    /// transaction); beyond it requests are dropped and counted.
    pub max_in_flight: usize,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig { max_in_flight: 64 }
    }
}

fn default_registration_listen() -> SocketAddr {
    SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), PORT_MA_REGISTRATION)
}
fn default_query_listen() -> SocketAddr {
    SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), PORT_MA_QUERY)
}

impl Config {
    pub fn load(path: &str) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_string(),
                source,
            },
            e => e,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        // serde_norway reads an empty document as null, not as an empty map.
        let cfg: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_norway::from_str(text).map_err(|source| ConfigError::Parse {
                path: "<text>".into(),
                source,
            })?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        crate::db::Backend::of_url(&self.database.url)
            .map_err(|e| ConfigError::Invalid(format!("database.url: {e}")))?;
        if self.database.max_connections == 0 {
            return bad("database.max_connections must be positive");
        }
        if self.mapping.max_lifetime_s == 0 {
            return bad("mapping.max_lifetime_s must be positive");
        }
        if self.mapping.default_lifetime_s == 0
            || self.mapping.default_lifetime_s > self.mapping.max_lifetime_s
        {
            return bad("mapping.default_lifetime_s must be in 1..=mapping.max_lifetime_s");
        }
        if self.mapping.gc_interval_s == 0 || self.cache.poll_ms == 0 {
            return bad("mapping.gc_interval_s and cache.poll_ms must be positive");
        }
        if self.replay.window_s >= 1 << 31 {
            return bad("replay.window_s must be below 2^31");
        }
        if self.cache.capacity == 0 {
            return bad("cache.capacity must be positive");
        }
        if self.query.max_db_lookups == 0 || self.registration.max_in_flight == 0 {
            return bad("query.max_db_lookups and registration.max_in_flight must be positive");
        }
        if self.query.workers > 256 {
            return bad("query.workers must be at most 256");
        }
        if let Some(ls) = &self.ls {
            if ls.servers.is_empty() && ls.discovery.is_none() {
                return bad("ls.servers must name at least one LS, or ls.discovery be set");
            }
            if let Some(d) = &ls.discovery {
                match (&d.pool, &d.name) {
                    (Some(_), None) => {}
                    (None, Some(n)) if n.ends_with('.') => {}
                    (None, Some(_)) => {
                        return bad("ls.discovery.name must be absolute (end with a dot)");
                    }
                    _ => return bad("ls.discovery needs exactly one of pool and name"),
                }
                if d.dns_servers.is_empty() {
                    return bad("ls.discovery.dns_servers must name at least one DNS server");
                }
                if d.timeout_ms == 0 || d.attempts == 0 || d.refresh_s == 0 || d.retry_ms == 0 {
                    return bad(
                        "ls.discovery.timeout_ms, attempts, refresh_s and retry_ms must be positive",
                    );
                }
            }
            self.ls_key()?;
            if ls.cluster_key.id == 0 {
                return bad("ls.cluster_key.id 0 is reserved for unauthenticated messages");
            }
            if ls.heartbeat_interval_ms == 0 || ls.failover_after_ms < ls.heartbeat_interval_ms {
                return bad(
                    "ls.heartbeat_interval_ms must be positive and ls.failover_after_ms at least as long",
                );
            }
            if ls.capacity_kbps == 0 || ls.normal_kbps == 0 || ls.premium_kbps == 0 {
                return bad(
                    "ls.capacity_kbps, ls.normal_kbps and ls.premium_kbps must be positive",
                );
            }
            if ls.max_users == 0 || ls.user_grace_s == 0 {
                return bad("ls.max_users and ls.user_grace_s must be positive");
            }
            if ls.rtt.max_concurrent == 0 || ls.rtt.probe_timeout_ms == 0 || ls.rtt.max_probes == 0
            {
                return bad(
                    "ls.rtt.max_concurrent, probe_timeout_ms and max_probes must be positive",
                );
            }
        }
        if let Some(sh) = &self.shaping {
            if self.ls.is_none() {
                return bad("shaping needs ls: users to shape come from LSS_MA_ASSIGN");
            }
            if sh.device.is_empty() || sh.nft_table.is_empty() {
                return bad("shaping.device and shaping.nft_table must be set");
            }
            if [sh.capacity_kbps, sh.normal_kbps, sh.premium_kbps].contains(&Some(0)) {
                return bad("shaping rates must be positive");
            }
        }
        Ok(())
    }

    /// The LS cluster key, if the LS side is configured.
    pub fn ls_key(&self) -> Result<Option<lin6::auth::Key>, ConfigError> {
        let Some(ls) = &self.ls else { return Ok(None) };
        lin6::auth::Key::from_hex(ls.cluster_key.id, ls.cluster_key.secret_hex.trim())
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("ls.cluster_key: {e}")))
    }

    /// `query.workers`, with 0 resolved to the number of CPUs.
    pub fn query_workers(&self) -> usize {
        match self.query.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_documented_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.registration_listen.port(), 7300);
        assert_eq!(c.query_listen.port(), 7301);
        assert!(c.database.url.starts_with("sqlite:"));
        assert_eq!(c.mapping.max_lifetime_s, 3600);
        assert_eq!(c.replay.window_s, 30);
        assert!(c.metrics_listen.is_none());
    }

    #[test]
    fn typo_is_an_error_naming_the_field() {
        let e = Config::parse("mapping:\n  max_lifetime: 5\n").unwrap_err();
        assert!(e.to_string().contains("max_lifetime"), "{e}");
    }

    #[test]
    fn nonsense_values_are_refused() {
        for text in [
            "database:\n  url: mysql://x\n",
            "mapping:\n  max_lifetime_s: 0\n",
            "mapping:\n  max_lifetime_s: 10\n  default_lifetime_s: 11\n",
            "cache:\n  capacity: 0\n",
            "replay:\n  window_s: 4294967295\n",
        ] {
            assert!(Config::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn ls_section_gets_defaults_and_refuses_nonsense() {
        let base = "ls:\n  servers: [\"[::1]:7310\"]\n  ma_addr: \"2001:db8::1\"\n  capacity_kbps: 10000\n  \
                    cluster_key: { id: 1, secret_hex: \"000102030405060708090a0b0c0d0e0f\" }\n";
        let c = Config::parse(base).unwrap();
        let ls = c.ls.as_ref().unwrap();
        assert_eq!(
            (ls.heartbeat_interval_ms, ls.failover_after_ms),
            (5_000, 15_000)
        );
        assert_eq!(ls.rtt.max_concurrent, 16);
        for extra in ["  failover_after_ms: 10\n", "  normal_kbps: 0\n"] {
            assert!(Config::parse(&format!("{base}{extra}")).is_err(), "{extra}");
        }
        let disc = "ls:\n  ma_addr: \"2001:db8::1\"\n  capacity_kbps: 10000\n  \
                    cluster_key: { id: 1, secret_hex: \"000102030405060708090a0b0c0d0e0f\" }\n";
        let e = Config::parse(disc).unwrap_err();
        assert!(e.to_string().contains("ls.discovery"), "{e}");
        let c = Config::parse(&format!(
            "{disc}  discovery: {{ pool: \"3ffe:501:1830:1999::100\" }}\n"
        ))
        .unwrap();
        let d = c.ls.unwrap().discovery.unwrap();
        assert_eq!((d.refresh_s, d.dns_servers.len()), (300, 1));
        for bad in [
            "  discovery: { name: stream.example }\n",
            "  discovery: { pool: \"::1\", name: a. }\n",
            "  discovery: {}\n",
            "  discovery: { pool: \"::1\", dns_servers: [] }\n",
        ] {
            assert!(Config::parse(&format!("{disc}{bad}")).is_err(), "{bad}");
        }
        let e = Config::parse("shaping: { device: eth0 }\n").unwrap_err();
        assert!(e.to_string().contains("needs ls"), "{e}");
        let c = Config::parse(&format!("{base}shaping: {{ device: eth0 }}\n")).unwrap();
        assert_eq!(c.shaping.unwrap().nft_table, "lin6_shaping");
    }

    #[test]
    fn postgres_url_and_listeners_parse() {
        let c = Config::parse(
            "registration_listen: \"[::1]:9300\"\nquery_listen: \"127.0.0.1:9301\"\n\
             metrics_listen: \"[::1]:9390\"\ndatabase:\n  url: postgres://lin6@db/lin6\n",
        )
        .unwrap();
        assert_eq!(c.registration_listen.port(), 9300);
        assert!(c.metrics_listen.is_some());
    }
}
