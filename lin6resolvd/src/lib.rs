//! lin6resolvd, the resolver every LIN6 node runs: it finds its Mapping
//! Agent through DNS, registers its locator and keeps it registered,
//! re-registers on every move and tells its correspondents, and resolves
//! the kernel's misses (DNS -> MA Query -> mapping table).
//!
//! One file per role: `config`, `error`, `kernel` (lin6.ko, or an in-memory
//! stand-in for tests), `routes` (rtnetlink), `ma_client` (UDP to MAs),
//! `ls_client` (UDP to a load-shared pool's LSs),
//! `ma_cache`, `correspondents`, `pools` (the sites of the pools in use), `events` (what each event does), `metrics`, `tasks`
//! (start-up and the loops). DNS discovery is in the library
//! (`lin6::discovery`), shared with lin6agentd and lsd. Design:
//! docs/lin6resolvd.md.

pub mod config;
pub mod correspondents;
pub mod error;
pub mod events;
pub mod kernel;
pub mod ls_client;
pub mod ma_cache;
pub mod ma_client;
pub mod metrics;
pub mod pools;
pub mod routes;
pub mod tasks;

pub use config::Config;
pub use tasks::{Running, start};
