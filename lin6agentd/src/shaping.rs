//! Bandwidth per service level on the server S beside this MA (paper §IV.A,
//! step 4: "MA will ... ask Server S to tag the packets and set up the
//! necessary bandwidth").
//!
//! [`Shaper`] is what the LS client drives: install a user at its level,
//! remove it when its session ends, clear everything at shutdown. The calls
//! block (netlink, a `tc` process), so they run one at a time on a worker
//! fed by a bounded queue ([`ShapingQueue`]): the LS socket never waits on
//! them, and a flood of assignments cannot grow memory.

use crate::metrics::Metrics;
use lin6::addr::NodeId;
use lin6::ls::ServiceLevel;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

#[derive(Debug, Error)]
pub enum ShapingError {
    #[error("nftables: {0}")]
    Nft(String),
    #[error("tc: {0}")]
    Tc(String),
    #[error("shaping: {0}")]
    Other(String),
}

pub trait Shaper: Send + Sync + 'static {
    /// Tags and shapes `node`'s traffic at `level`; replaces an earlier
    /// installation of the same node (a level change).
    fn install(&self, node: NodeId, level: ServiceLevel) -> Result<(), ShapingError>;
    /// Removes `node`'s rules and class; a node not installed is no error.
    fn remove(&self, node: NodeId) -> Result<(), ShapingError>;
    /// Removes everything this shaper installed.
    fn clear(&self) -> Result<(), ShapingError>;
}

/// No shaping configured: users are only counted.
#[derive(Debug, Default)]
pub struct NoShaping;

impl Shaper for NoShaping {
    fn install(&self, node: NodeId, level: ServiceLevel) -> Result<(), ShapingError> {
        debug!(%node, %level, "no shaping configured");
        Ok(())
    }
    fn remove(&self, _node: NodeId) -> Result<(), ShapingError> {
        Ok(())
    }
    fn clear(&self) -> Result<(), ShapingError> {
        Ok(())
    }
}

/// The shaper the config asks for: none without `shaping:`.
pub fn from_config(
    cfg: &crate::config::Config,
) -> Result<Arc<dyn Shaper>, crate::error::AgentError> {
    let (Some(sh), Some(ls)) = (&cfg.shaping, &cfg.ls) else {
        return Ok(Arc::new(NoShaping));
    };
    let p = crate::shaping_nft_tc::Params {
        device: sh.device.clone(),
        nft_table: sh.nft_table.clone(),
        tc: sh.tc.clone(),
        classifier: sh.classifier,
        capacity_kbps: sh.capacity_kbps.unwrap_or(ls.capacity_kbps),
        normal_kbps: sh.normal_kbps.unwrap_or(ls.normal_kbps),
        premium_kbps: sh.premium_kbps.unwrap_or(ls.premium_kbps),
    };
    let s = crate::shaping_nft_tc::NftTc::new(p)
        .map_err(|e| crate::error::ConfigError::Invalid(e.to_string()))?;
    // Whatever a previous run left behind (a crash skips the clean-up) goes
    // before the first user is installed.
    if let Err(e) = s.clear() {
        tracing::debug!("clearing earlier shaping state: {e}");
    }
    Ok(Arc::new(s))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeCmd {
    Install(NodeId, ServiceLevel),
    Remove(NodeId),
}

/// Commands waiting for the worker at most; beyond it they are dropped,
/// counted and logged (the next assignment or sweep corrects the state).
pub const QUEUE: usize = 1024;

#[derive(Clone)]
pub struct ShapingQueue {
    tx: mpsc::Sender<ShapeCmd>,
    metrics: Arc<Metrics>,
}

impl ShapingQueue {
    /// Starts the worker. It ends when every queue handle is dropped, after
    /// clearing what it installed.
    pub fn start(shaper: Arc<dyn Shaper>, metrics: Arc<Metrics>) -> (ShapingQueue, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<ShapeCmd>(QUEUE);
        let m = metrics.clone();
        let worker = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                let s = shaper.clone();
                let r = tokio::task::spawn_blocking(move || match cmd {
                    ShapeCmd::Install(n, l) => s.install(n, l),
                    ShapeCmd::Remove(n) => s.remove(n),
                })
                .await;
                match r {
                    Ok(Ok(())) => Metrics::inc(match cmd {
                        ShapeCmd::Install(..) => &m.shaping_installs,
                        ShapeCmd::Remove(_) => &m.shaping_removals,
                    }),
                    Ok(Err(e)) => {
                        Metrics::inc(&m.shaping_errors);
                        warn!(?cmd, "{e}");
                    }
                    Err(e) => {
                        Metrics::inc(&m.shaping_errors);
                        warn!(?cmd, "shaping worker: {e}");
                    }
                }
            }
            let s = shaper.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.clear()).await {
                warn!("clearing shaping at shutdown: {e}");
            }
        });
        (ShapingQueue { tx, metrics }, worker)
    }

    pub fn send(&self, cmd: ShapeCmd) {
        if self.tx.try_send(cmd).is_err() {
            Metrics::inc(&self.metrics.shaping_errors);
            warn!(?cmd, "shaping queue full ({QUEUE}); command dropped");
        }
    }
}
