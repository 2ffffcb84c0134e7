//! lin6agentd, the LIN6 Mapping Agent (MA): accepts authenticated Mapping
//! Update Requests from the nodes in its subscriber database, and answers MA
//! Queries from an in-memory cache that the database keeps coherent. Design
//! and config reference: docs/lin6agentd.md.

pub mod agent;
pub mod bench;
pub mod bench_register;
pub mod cache;
pub mod coherence;
pub mod config;
pub mod db;
pub mod error;
pub mod ls_client;
pub mod ls_discovery;
pub mod metrics;
pub mod mmsg;
pub mod network;
pub mod rtt_probe;
pub mod shaping;
pub mod shaping_nft_tc;
pub mod tasks;
pub mod users;

pub use agent::{Agent, Params, QueryOutcome};
pub use config::Config;
pub use tasks::{Running, spawn, spawn_with_shaper, unix_now};
