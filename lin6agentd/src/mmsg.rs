//! Batched UDP receive and send live in the library (`lin6::mmsg`), shared
//! with lsd; re-exported here so the agent's modules keep their paths.

pub use lin6::mmsg::*;
