//! The kernel's "lin6" generic netlink API (spec: kmod/lin6.yaml; user
//! documentation: docs/genetlink.md).
//!
//! * [`Client`]: requests (node, mapping table, statistics), synchronous,
//!   each bounded by a timeout.
//! * [`EventStream`]: the "events" multicast group (miss and prefix events),
//!   blocking or non-blocking through its file descriptor, so an async
//!   daemon can wrap it in its runtime's readiness type (see its docs).
//! * [`msg`]: the messages as Rust values, with pure encode/parse functions;
//!   [`codec`]: netlink framing on byte slices. Neither touches a socket, so
//!   both are tested without the module.
//!
//! ```no_run
//! use lin6::netlink::{Client, Lifetime, MapNew};
//! let mut c = Client::connect()?; // Error::ModuleNotLoaded without lin6.ko
//! c.map_new(&MapNew {
//!     node_id: "02:01:4a:00:00:00:00:01".parse()?,
//!     prefix: "2001:db8:a::/64".parse()?,
//!     lifetime: Lifetime::Static,
//!     pool: false,
//! })?;
//! for m in c.map_dump()? {
//!     println!("{} -> {}", m.node_id, m.locator());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
pub mod codec;
mod error;
pub mod msg;
#[allow(dead_code)]
pub mod uapi;

pub use client::{Client, DEFAULT_TIMEOUT, EventStream, decode_events, resolve_family};
pub use codec::FamilyInfo;
pub use error::{Error, Result};
pub use msg::{Event, Lifetime, MapNew, Mapping, MissReason, Node, NodeSet, Stats};
