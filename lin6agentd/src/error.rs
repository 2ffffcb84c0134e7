//! Errors of the agent, as the operator should read them.

use std::net::SocketAddr;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path} is not valid YAML for lin6agentd: {source}")]
    Parse {
        path: String,
        source: serde_norway::Error,
    },
    #[error("config: {0}")]
    Invalid(String),
}

#[derive(Debug, Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("I/O error on {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

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
}
