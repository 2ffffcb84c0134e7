//! YAML configuration (serde + serde_norway). Only the node's identity and
//! key are required; everything else has a default. Unknown fields are
//! errors. Reference: docs/operations.md ("lin6resolvd configuration").

use std::net::SocketAddr;
use std::time::Duration;

use lin6::addr::{Lin6Params, NodeId};
use lin6::auth::Key;
use lin6::discovery::Server;
use lin6::wire::{PORT_MA_REGISTRATION, PORT_RESOLVD};
use serde::Deserialize;

use crate::error::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node's Node ID (EUI-64 or interface-ID form).
    pub node_id: NodeId,
    /// The node's registration key, as its MA's subscriber database has it.
    pub key: KeyConfig,
    /// The node's DNS name. If given, its AAAA record must be the node's
    /// LIN6 address, and the TXT at that address's reverse name names the
    /// MAs. If absent the LIN6 address is computed (LIN6 prefix + Node ID).
    #[serde(default)]
    pub name: Option<String>,
    /// LIN6 prefix and OUI (defaults: 3ffe:501:1830:1999::/64, 00:01:4a).
    #[serde(default)]
    pub lin6: Lin6Params,
    /// Interfaces whose addresses may be the node's locator; empty: any.
    #[serde(default)]
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub dns: DnsConfig,
    /// MAs to use instead of DNS discovery (same syntax as in the TXT
    /// record: `2001:db8::1` or `[2001:db8::1]:7300`). Empty: use DNS.
    #[serde(default)]
    pub ma: Vec<String>,
    #[serde(default)]
    pub registration: RegistrationConfig,
    #[serde(default)]
    pub query: QueryConfig,
    /// Peers that are load-shared pools (their TXT record says `ls=`): how
    /// the LS is asked which MA to use.
    #[serde(default)]
    pub load_sharing: LoadSharingConfig,
    #[serde(default)]
    pub refresh: RefreshConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub correspondents: CorrespondentsConfig,
    #[serde(default)]
    pub routes: RoutesConfig,
    #[serde(default)]
    pub events: EventsConfig,
    /// Prometheus text on `GET /metrics`; off if absent.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub id: u32,
    /// Hex, at least 16 bytes (32 hex digits).
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// DNS servers to ask, in order (`[::1]:53`, `[2001:db8::53]:53`).
    pub servers: Vec<SocketAddr>,
    /// One query's timeout.
    pub timeout_ms: u64,
    /// Tries per query.
    pub attempts: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: vec!["[::1]:53".parse().expect("constant address")],
            timeout_ms: 2_000,
            attempts: 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// Lifetime asked for the mapping, seconds.
    pub lifetime_s: u32,
    /// Re-register when this fraction of the lifetime has passed (0.1-0.9).
    pub refresh_at: f64,
    /// Keep the MA that accepted the first registration until the daemon
    /// stops (a server's behaviour in the paper, §IV.A), instead of going
    /// back to DNS and to the first MA listed at every move. A sticky node
    /// still fails over when its MA stops answering.
    pub sticky_ma: bool,
    /// Our own MAs (where we register), instead of DNS, while peers are
    /// still found through DNS. A pool's server needs this: its address's
    /// TXT record names the pool's LSs, not its MA, and its users register
    /// with MAs of their own. The top-level `ma:` instead replaces DNS for
    /// peers too.
    pub ma: Vec<String>,
    /// First wait for a reply; doubles at each retry to the same MA.
    pub timeout_ms: u64,
    /// Requests to one MA before going on to the next listed.
    pub attempts: u32,
    /// After every MA failed: first wait before trying the list again;
    /// doubles up to `backoff_max_ms`.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            lifetime_s: 600,
            refresh_at: 0.5,
            sticky_ma: false,
            ma: Vec::new(),
            timeout_ms: 300,
            attempts: 3,
            backoff_ms: 500,
            backoff_max_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// First wait for an MA Reply; doubles at each retry.
    pub timeout_ms: u64,
    /// Queries to one MA before going on to the next listed.
    pub attempts: u32,
    /// Rounds over the whole MA list (and DNS) before a miss is given up
    /// (the kernel raises it again if packets keep waiting).
    pub rounds: u32,
    /// Wait between rounds; doubles each round.
    pub backoff_ms: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            timeout_ms: 200,
            attempts: 2,
            rounds: 3,
            backoff_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadSharingConfig {
    /// First wait for an LSS_MA_REPLY; doubles at each retry. A cold
    /// decision waits for the MAs' RTT probes; a retry joins it, and a
    /// reply to any request sent to that LS is taken.
    pub timeout_ms: u64,
    /// LSS_MA_REQUESTs to one LS before going on to the next listed.
    pub attempts: u32,
    /// Base port of the MAs an LS names (an LSS_MA_REPLY carries an address
    /// only): MA Queries go to this + 1.
    pub ma_port: u16,
    /// Longest the MA an LS chose for a pool is kept (also capped by
    /// `cache.ma_max_ttl_s`). The pool's server keeps its sessions, so the
    /// choice is kept while that MA answers, not re-asked at every miss.
    pub choice_ttl_s: u64,
    /// How long a pool's earlier site is still told of our moves after the
    /// pool's mapping moved to another site: flows that started there stay
    /// there (lin6.ko pins them) while they run.
    pub site_history_s: u64,
}

impl Default for LoadSharingConfig {
    fn default() -> Self {
        LoadSharingConfig {
            timeout_ms: 300,
            attempts: 3,
            ma_port: PORT_MA_REGISTRATION,
            choice_ttl_s: 3_600,
            site_history_s: 3_600,
        }
    }
}

impl LoadSharingConfig {
    /// How an MA named by an LS is reached.
    pub fn ma_server(&self, addr: std::net::Ipv6Addr) -> Server {
        Server {
            addr,
            port: (self.ma_port != PORT_MA_REGISTRATION).then_some(self.ma_port),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshConfig {
    /// Where Mapping Refresh is received.
    pub listen: SocketAddr,
    /// Port correspondents' resolvers listen on.
    pub peer_port: u16,
    /// Re-queries caused by Mapping Refresh, per node, at most one per this.
    pub min_interval_ms: u64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            listen: SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), PORT_RESOLVD),
            peer_port: PORT_RESOLVD,
            min_interval_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Peers whose MA list is kept.
    pub ma_capacity: usize,
    /// Longest an MA list is kept, whatever the DNS TTL says.
    pub ma_max_ttl_s: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ma_capacity: 4_096,
            ma_max_ttl_s: 3_600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrespondentsConfig {
    /// Peers remembered; the least recently seen goes first.
    pub capacity: usize,
    /// A peer seen within this is told of our moves.
    pub recent_s: u64,
}

impl Default for CorrespondentsConfig {
    fn default() -> Self {
        CorrespondentsConfig {
            capacity: 1_024,
            recent_s: 600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutesConfig {
    /// Put the LIN6 address on `lin6_address_dev` (what qemu-tests/lib.sh
    /// `lin6_address` does by hand): on lin6.ko's `linsix0` with the LIN6
    /// prefix length, whose prefix route then carries every LIN6
    /// destination; on any other device (`lo`, a kernel without linsix0) as
    /// a /128, with the LIN6 prefix routed through the default gateway with
    /// the LIN6 address as source, again after each move.
    pub manage: bool,
    pub lin6_address_dev: String,
}

impl RoutesConfig {
    /// Whether the LIN6 address lives on lin6.ko's own device.
    pub fn on_linsix0(&self) -> bool {
        self.lin6_address_dev == "linsix0"
    }

    /// The prefix length the LIN6 address is added with.
    pub fn prefix_len(&self) -> u8 {
        if self.on_linsix0() { 64 } else { 128 }
    }

    /// Whether the LIN6 prefix needs a route of ours through the gateway.
    pub fn gateway_route(&self) -> bool {
        !self.on_linsix0()
    }
}

impl Default for RoutesConfig {
    fn default() -> Self {
        RoutesConfig {
            manage: true,
            lin6_address_dev: "linsix0".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Kernel events waiting to be handled; more are dropped (the kernel
    /// raises a miss again while packets wait).
    pub queue: usize,
    /// Misses and refreshes resolved at once.
    pub max_resolving: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            queue: 1_024,
            max_resolving: 64,
        }
    }
}

impl Config {
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let c: Config =
            serde_norway::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    pub fn load(path: &str) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_string(),
            source: e,
        })?;
        Config::from_yaml(&text)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        self.key()?;
        self.static_mas()?;
        self.own_static_mas()?;
        let r = &self.registration;
        if r.lifetime_s < 2 {
            return bad("registration.lifetime_s must be at least 2".into());
        }
        if !(0.1..=0.9).contains(&r.refresh_at) {
            return bad("registration.refresh_at must be within 0.1..0.9".into());
        }
        let ls = &self.load_sharing;
        if ls.attempts == 0 || ls.timeout_ms == 0 || ls.choice_ttl_s == 0 {
            return bad(
                "load_sharing.attempts, timeout_ms and choice_ttl_s must be at least 1".into(),
            );
        }
        if ls.ma_port == 0 || ls.ma_port == u16::MAX {
            return bad(
                "load_sharing.ma_port must be in 1..65534 (queries go to ma_port + 1)".into(),
            );
        }
        if r.attempts == 0 || self.query.attempts == 0 || self.query.rounds == 0 {
            return bad("attempts and rounds must be at least 1".into());
        }
        if r.timeout_ms == 0 || self.query.timeout_ms == 0 || self.dns.timeout_ms == 0 {
            return bad("timeouts must be above 0".into());
        }
        if self.dns.servers.is_empty() && self.ma.is_empty() {
            return bad("dns.servers is empty and no static ma: is given".into());
        }
        if self.cache.ma_capacity == 0
            || self.correspondents.capacity == 0
            || self.events.queue == 0
            || self.events.max_resolving == 0
        {
            return bad("capacities and queue sizes must be at least 1".into());
        }
        if let Some(n) = &self.name
            && !n.ends_with('.')
        {
            return bad(format!("name {n:?} must be absolute (end with a dot)"));
        }
        Ok(())
    }

    pub fn key(&self) -> Result<Key, ConfigError> {
        Key::from_hex(self.key.id, &self.key.secret)
            .map_err(|e| ConfigError::Invalid(format!("key.secret: {e}")))
    }

    pub fn static_mas(&self) -> Result<Vec<Server>, ConfigError> {
        parse_servers("ma", &self.ma)
    }

    /// `registration.ma`, else `ma`: where we register without asking DNS
    /// (empty: DNS).
    pub fn own_static_mas(&self) -> Result<Vec<Server>, ConfigError> {
        match self.registration.ma.is_empty() {
            true => self.static_mas(),
            false => parse_servers("registration.ma", &self.registration.ma),
        }
    }

    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(u64::from(self.registration.lifetime_s))
    }

    /// When to re-register after a success.
    pub fn refresh_after(&self) -> Duration {
        self.lifetime().mul_f64(self.registration.refresh_at)
    }
}

fn parse_servers(field: &str, list: &[String]) -> Result<Vec<Server>, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse().map_err(|()| {
                ConfigError::Invalid(format!(
                    "{field}: {s:?} is not an IPv6 address or [address]:port"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "node_id: 02:01:4a:00:00:00:00:01\nkey: {id: 1, secret: 000102030405060708090a0b0c0d0e0f}\n";

    #[test]
    fn minimal_config_has_sane_defaults() {
        let c = Config::from_yaml(MIN).unwrap();
        assert_eq!(c.registration.lifetime_s, 600);
        assert_eq!(c.refresh_after(), Duration::from_secs(300));
        assert_eq!(c.refresh.listen.port(), 7302);
        assert!(!c.registration.sticky_ma);
        assert!(c.routes.manage);
        assert_eq!(c.load_sharing.ma_port, 7300);
        let ma = "2001:db8::7".parse().unwrap();
        assert_eq!(
            c.load_sharing.ma_server(ma).ma_query(),
            "[2001:db8::7]:7301".parse().unwrap()
        );
    }

    #[test]
    fn mistakes_are_errors_naming_the_field() {
        for (extra, want) in [
            ("bogus: 1\n", "unknown field"),
            ("registration: {refresh_at: 1.5}\n", "refresh_at"),
            ("ma: ['10.1.1.1']\n", "ma:"),
            ("name: mn1.example\n", "absolute"),
            ("events: {queue: 0}\n", "at least 1"),
            ("load_sharing: {attempts: 0}\n", "load_sharing"),
            ("load_sharing: {ma_port: 65535}\n", "ma_port"),
        ] {
            let e = Config::from_yaml(&format!("{MIN}{extra}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{extra}: {e}");
        }
        let e = Config::from_yaml("node_id: 02:01:4a:00:00:00:00:01\nkey: {id: 1, secret: 00}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key.secret"), "{e}");
        assert!(Config::from_yaml("key: {id: 1, secret: 00}\n").is_err());
    }
}
