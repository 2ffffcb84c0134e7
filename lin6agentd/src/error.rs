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

pub use lin6db::DbError;
