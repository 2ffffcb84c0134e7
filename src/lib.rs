//! lin6: IPv6 mobility by identifier/locator split (LIN6).
//!
//! The library shared by `lin6ctl`, `lin6resolvd`, `lin6agentd` and `lsd`.

pub mod addr;
pub mod auth;
pub mod bench;
pub mod discovery;
#[cfg(feature = "http")]
pub mod http;
pub mod ls;
pub mod mmsg;
pub mod netlink;
pub mod qos;
#[cfg(any(test, feature = "test-support"))]
pub mod test_ports;
pub mod ttl_map;
pub mod wire;
