//! Errors, each with a message an operator can act on.

use lin6::discovery::DiscoveryError;
use lin6::wire::UpdateCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config: {0}")]
    Parse(String),
    #[error("config: {0}")]
    Invalid(String),
}

/// A call into the kernel (or its stand-in) failed.
#[derive(Debug, Error)]
#[error("kernel: {0}")]
pub struct KernelError(pub String);

impl From<lin6::netlink::Error> for KernelError {
    fn from(e: lin6::netlink::Error) -> Self {
        KernelError(e.to_string())
    }
}

/// Talking to MAs failed.
#[derive(Debug, Error)]
pub enum MaError {
    #[error("no MA to ask")]
    NoMa,
    #[error("no MA answered ({tried} tried)")]
    NoAnswer { tried: usize },
    #[error("every MA refused the registration; last code: {code:?}")]
    Refused { code: UpdateCode },
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Asking the LS servers of a pool which MA to use failed.
#[derive(Debug, Error)]
pub enum LsError {
    #[error("the pool's TXT record lists no LS")]
    NoLs,
    #[error("no LS answered LSS_MA_REQUEST ({tried} tried)")]
    NoAnswer { tried: usize },
    #[error("every LS refused; last code: {code:?}")]
    Refused { code: lin6::ls::ReplyCode },
    #[error("LSS_MA_REQUEST: {0}")]
    Encode(#[from] lin6::ls::LsError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

impl LsError {
    /// Worth another round: nobody answered, or the pool is busy for now.
    /// An unknown node stays unknown.
    pub fn is_transient(&self) -> bool {
        use lin6::ls::ReplyCode;
        match self {
            LsError::NoAnswer { .. } | LsError::Io(_) => true,
            LsError::Refused { code } => matches!(
                code,
                ReplyCode::NoMaAvailable | ReplyCode::RateLimited | ReplyCode::Busy
            ),
            LsError::NoLs | LsError::Encode(_) => false,
        }
    }
}

/// Why resolving a peer (miss, refresh) or finding our own MAs failed.
#[derive(Debug, Error)]
pub enum ResolveError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Ma(#[from] MaError),
    #[error("load sharing: {0}")]
    Ls(#[from] LsError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("the MA has no mapping for {0}")]
    NoMapping(lin6::addr::NodeId),
    #[error("our name {name} has the address {found}, not our LIN6 address {ours}")]
    WrongAddress {
        name: String,
        found: std::net::Ipv6Addr,
        ours: std::net::Ipv6Addr,
    },
}

impl ResolveError {
    /// Worth another round after a backoff: DNS or MAs did not answer.
    pub fn is_transient(&self) -> bool {
        match self {
            ResolveError::Discovery(d) => d.is_transient(),
            ResolveError::Ma(MaError::NoAnswer { .. } | MaError::Io(_)) => true,
            ResolveError::Ls(e) => e.is_transient(),
            _ => false,
        }
    }
}

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("routes: {0}")]
    Routes(String),
}
