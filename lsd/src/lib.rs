//! lsd, the LIN6 load-sharing server (paper §IV): keeps the MA table and the
//! answer cache, answers users with the nearest MA that has room for their
//! level, and replicates its tables among peer LSs. Design, load index and
//! config reference: docs/lsd.md.

pub mod answer_cache;
pub mod assignments;
pub mod bench;
pub mod config;
pub mod decision;
pub mod error;
pub mod events;
pub mod load;
pub mod ma_table;
pub mod metrics;
pub mod network;
pub mod peers;
pub mod ratelimit;
pub mod subscribers;
pub mod tasks;

pub use config::Config;
pub use events::{Lsd, Out, Sock};
pub use tasks::{Running, spawn};
