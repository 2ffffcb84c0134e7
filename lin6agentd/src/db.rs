//! The subscriber database lives in the shared `lin6db` crate (lsd reads it
//! too); re-exported here so the agent's modules keep their paths.

pub use lin6db::*;
