//! Errors of the daemon, as the operator should read them.

use std::net::SocketAddr;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path} is not valid YAML for lsd: {source}")]
    Parse {
        path: String,
        source: serde_norway::Error,
    },
    #[error("config: {0}")]
    Invalid(String),
    #[error("config: cluster key: {0}")]
    Key(#[from] lin6::auth::AuthError),
}

#[derive(Debug, Error)]
pub enum LsdError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("subscriber database: {0}")]
    Db(#[from] lin6db::DbError),
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

/// Why the MA table refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableError {
    #[error(
        "MA table is full ({capacity} entries, inactive ones included); raise ma_table.capacity \
         or remove MAs that are gone for good"
    )]
    Full { capacity: usize },
}
