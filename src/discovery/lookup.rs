//! The DNS lookups of discovery, with hickory-resolver on tokio.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use thiserror::Error;

use super::{Lin6Txt, TxtError, reverse_name};

/// Why a lookup found nothing usable.
#[derive(Debug, Error)]
pub enum DiscoveryError {
    #[error("{name}: no such name or no {rtype} record")]
    NotFound { name: String, rtype: &'static str },
    #[error("{name}: no lin6 TXT record among the TXT records there")]
    NoLin6Record { name: String },
    #[error("{name}: {source}")]
    BadRecord {
        name: String,
        #[source]
        source: TxtError,
    },
    #[error("{name}: DNS lookup failed: {message}")]
    Dns { name: String, message: String },
    #[error("no DNS server configured")]
    NoServers,
    #[error("resolver: {0}")]
    Setup(String),
}

impl DiscoveryError {
    /// True if asking again later might help (timeouts, server failures);
    /// false for answers that say the data is absent or wrong.
    pub fn is_transient(&self) -> bool {
        matches!(self, DiscoveryError::Dns { .. })
    }
}

/// A record found, with how long it may be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<T> {
    pub value: T,
    /// From the records' TTLs; the caller may cut it shorter.
    pub valid_until: Instant,
}

/// Looks names and addresses up on the configured DNS servers.
#[derive(Clone)]
pub struct Discovery {
    resolver: TokioResolver,
}

impl Discovery {
    /// A resolver asking `servers` (UDP, falling back to TCP for truncated
    /// answers), each query bounded by `timeout` and tried `attempts` times.
    /// The system's resolv.conf is not read: a LIN6 node names its DNS
    /// servers in its own config, so tests and deployments see the same.
    pub fn new(
        servers: &[SocketAddr],
        timeout: Duration,
        attempts: usize,
    ) -> Result<Discovery, DiscoveryError> {
        if servers.is_empty() {
            return Err(DiscoveryError::NoServers);
        }
        let name_servers = servers
            .iter()
            .map(|s| {
                let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                for c in &mut ns.connections {
                    c.port = s.port();
                }
                ns
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = attempts.max(1);
        // Names in lin6 configs and zones are absolute; no search list.
        opts.ndots = 0;
        // Bounded; the resolver daemon keeps its own TTL-bounded MA cache.
        opts.cache_size = 256;
        let resolver = builder
            .build()
            .map_err(|e| DiscoveryError::Setup(e.to_string()))?;
        Ok(Discovery { resolver })
    }

    /// Drops every answer cached so far: the next lookups ask the DNS
    /// servers. For when the servers a record named stopped answering and
    /// the record may have changed within its TTL.
    pub fn forget_cached(&self) {
        self.resolver.clear_cache();
    }

    /// The AAAA records of `name`: a node's LIN6 address(es).
    pub async fn lin6_addresses(&self, name: &str) -> Result<Found<Vec<Ipv6Addr>>, DiscoveryError> {
        let lookup = self
            .resolver
            .lookup(name, RecordType::AAAA)
            .await
            .map_err(|e| map_err(name, "AAAA", e))?;
        let value: Vec<Ipv6Addr> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect();
        if value.is_empty() {
            return Err(DiscoveryError::NotFound {
                name: name.to_string(),
                rtype: "AAAA",
            });
        }
        Ok(Found {
            value,
            valid_until: lookup.valid_until(),
        })
    }

    /// The lin6 TXT record at the reverse name of `addr` (a LIN6 address or
    /// a pool address): the servers it lists.
    pub async fn servers_of(&self, addr: Ipv6Addr) -> Result<Found<Lin6Txt>, DiscoveryError> {
        let name = reverse_name(addr);
        let lookup = self
            .resolver
            .lookup(name.as_str(), RecordType::TXT)
            .await
            .map_err(|e| map_err(&name, "TXT", e))?;
        let records = lookup.answers().iter().filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.txt_data.iter().map(|s| &s[..])),
            _ => None,
        });
        match Lin6Txt::select(records) {
            Ok(Some(value)) => Ok(Found {
                value,
                valid_until: lookup.valid_until(),
            }),
            Ok(None) => Err(DiscoveryError::NoLin6Record { name }),
            Err(source) => Err(DiscoveryError::BadRecord { name, source }),
        }
    }

    /// AAAA of `name`, then the TXT at the reverse name of each address
    /// found, first success wins: what a node does to find its own MAs.
    pub async fn servers_of_name(
        &self,
        name: &str,
    ) -> Result<(Ipv6Addr, Found<Lin6Txt>), DiscoveryError> {
        let addrs = self.lin6_addresses(name).await?;
        let mut last = None;
        for a in addrs.value {
            match self.servers_of(a).await {
                Ok(f) => return Ok((a, f)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(DiscoveryError::NotFound {
            name: name.to_string(),
            rtype: "AAAA",
        }))
    }
}

fn map_err(name: &str, rtype: &'static str, e: NetError) -> DiscoveryError {
    if e.is_no_records_found() || e.is_nx_domain() {
        DiscoveryError::NotFound {
            name: name.to_string(),
            rtype,
        }
    } else {
        DiscoveryError::Dns {
            name: name.to_string(),
            message: e.to_string(),
        }
    }
}
