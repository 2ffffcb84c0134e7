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
        Ok(())
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
