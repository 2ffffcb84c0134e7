//! The command line, as clap derive types. Values are parsed and checked
//! here (Node IDs, prefixes, addresses), so a command only runs with valid
//! input and a typo never reaches the kernel.

use std::net::Ipv6Addr;
use std::num::NonZeroU32;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lin6::addr::{NodeId, Oui, Prefix64};

/// Control LIN6: the kernel's mapping table and node, statistics, events,
/// and address arithmetic.
///
/// Talks to lin6.ko over generic netlink in the current network namespace,
/// or in the one --netns names.
/// Changing anything needs CAP_NET_ADMIN. Node IDs are written as EUI-64
/// bytes (02:01:4a:00:00:00:00:01) or as an interface ID (201:4a00::1);
/// prefixes as 2001:db8:a::/64 or 2001:db8:a::.
#[derive(Debug, Parser)]
#[command(
    name = "lin6ctl",
    version,
    after_help = "Exit status: 0 ok, 1 other error, 2 invalid input, 3 module not loaded,\n\
                  4 permission denied, 5 no such entry, 6 table full, 7 monitor timed out.\n\
                  Output formats: docs/lin6ctl.md."
)]
pub struct Cli {
    /// JSON output (one document per command; one object per line for monitor).
    #[arg(short, long, global = true)]
    pub json: bool,
    /// Indent JSON output.
    #[arg(short, long, global = true)]
    pub pretty: bool,
    /// Run in the named network namespace (as `ip -n`): a name from
    /// /run/netns, or a path such as /proc/PID/ns/net.
    #[arg(short = 'n', long, global = true, value_name = "NETNS")]
    pub netns: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// This node's identity: Node ID, LIN6 prefix, locator.
    #[command(subcommand)]
    Node(NodeCmd),
    /// The kernel's Mapping Table: Node ID -> network prefix.
    #[command(subcommand)]
    Map(MapCmd),
    /// Translation counters of this namespace.
    #[command(after_help = "Example:\n  lin6ctl stats\n  lin6ctl -j stats")]
    Stats,
    /// Print kernel events (misses, prefix changes) as they happen, one per line.
    ///
    /// Needs CAP_NET_ADMIN (the events group is admin-only). Runs until
    /// interrupted, until --count events were printed, or until --timeout.
    #[command(after_help = "Examples:\n  lin6ctl monitor\n  \
                            lin6ctl -j monitor --count 1 --timeout 10   # wait for one event")]
    Monitor(MonitorArgs),
    /// DNS records of a deployment (AAAA + lin6 TXT); needs no kernel module.
    #[command(subcommand)]
    Dns(crate::dns::DnsCmd),
    /// Address arithmetic; needs no kernel module.
    #[command(subcommand)]
    Addr(AddrCmd),
    /// The load-sharing server (lsd): status and operator drain.
    #[command(subcommand)]
    Ls(crate::ls::LsCmd),
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Show the Node ID, LIN6 prefix and address, locator, and table usage.
    #[command(after_help = "Example:\n  lin6ctl node show")]
    Show,
    /// Set the Node ID, the LIN6 prefix and/or the locator (CAP_NET_ADMIN).
    ///
    /// Give at least one option. The locator needs a Node ID set before or
    /// in the same command; its interface identifier must be the Node ID
    /// (or zero: then only its /64 is taken).
    #[command(after_help = "Examples:\n  \
        lin6ctl node set --node-id 02:01:4a:00:00:00:00:01 --locator 2001:db8:a::/64\n  \
        lin6ctl node set --lin6-prefix fd00:6:6:6::/64\n  \
        lin6ctl node set --locator 2001:db8:b:0:201:4a00:0:1")]
    Set(NodeSetArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct NodeSetArgs {
    /// This node's Node ID.
    #[arg(long, value_name = "NODE_ID", value_parser = parse_node_id)]
    pub node_id: Option<NodeId>,
    /// The /64 that, followed by a Node ID, forms LIN6 addresses.
    #[arg(long, value_name = "PREFIX", value_parser = parse_prefix)]
    pub lin6_prefix: Option<Prefix64>,
    /// The current locator: an address, or a /64.
    #[arg(long, value_name = "ADDR", value_parser = parse_locator)]
    pub locator: Option<Ipv6Addr>,
}

#[derive(Debug, Subcommand)]
pub enum MapCmd {
    /// Add or replace a mapping (CAP_NET_ADMIN). Static unless --lifetime.
    ///
    /// The Node ID must be a mobile one (OUI with the U/L bit inverted,
    /// 02:01:4a by default); the prefix may not be the LIN6 prefix. With
    /// --pool, flows already running keep the prefix they started with.
    #[command(after_help = "Examples:\n  \
        lin6ctl map add 02:01:4a:00:00:00:00:01 2001:db8:a::/64\n  \
        lin6ctl map add 201:4a00::2 2001:db8:b:: --lifetime 300\n  \
        lin6ctl map add 201:4a00::99 2001:db8:c:: --pool")]
    Add(MapAddArgs),
    /// Delete a mapping (CAP_NET_ADMIN).
    #[command(after_help = "Example:\n  lin6ctl map del 02:01:4a:00:00:00:00:01")]
    Del {
        /// The Node ID whose mapping goes.
        #[arg(value_parser = parse_node_id)]
        node_id: NodeId,
    },
    /// Show all mappings, or one.
    #[command(after_help = "Examples:\n  lin6ctl map show\n  \
                            lin6ctl -j map show 02:01:4a:00:00:00:00:01")]
    Show {
        /// Only this Node ID's mapping.
        #[arg(value_parser = parse_node_id)]
        node_id: Option<NodeId>,
    },
    /// Delete every mapping (CAP_NET_ADMIN).
    #[command(after_help = "Example:\n  lin6ctl map flush")]
    Flush,
}

#[derive(Debug, Args)]
pub struct MapAddArgs {
    /// The mobile node's Node ID.
    #[arg(value_parser = parse_node_id)]
    pub node_id: NodeId,
    /// Its current network prefix (/64).
    #[arg(value_parser = parse_prefix)]
    pub prefix: Prefix64,
    /// Seconds until the mapping expires (at least 1).
    #[arg(long, value_name = "SECS", conflicts_with = "static_", value_parser = parse_lifetime)]
    pub lifetime: Option<NonZeroU32>,
    /// Never expires (the default).
    #[arg(long = "static", id = "static_")]
    pub static_: bool,
    /// The Node ID is a load-sharing pool's (servers at several sites share
    /// it): each flow stays with the prefix in effect at its first packet;
    /// only new flows take this one.
    #[arg(long)]
    pub pool: bool,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Exit after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<NonZeroU32>,
    /// Exit after this many seconds (status 7 if --count was not reached).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum AddrCmd {
    /// The LIN6 address of a Node ID: LIN6 prefix + Node ID.
    #[command(after_help = "Examples:\n  \
        lin6ctl addr lin6 02:01:4a:00:00:00:00:01\n    \
        -> 3ffe:501:1830:1999:201:4a00:0:1\n  \
        lin6ctl addr lin6 201:4a00::1 --lin6-prefix fd00:6:6:6::/64")]
    Lin6 {
        /// The Node ID.
        #[arg(value_parser = parse_node_id)]
        node_id: NodeId,
        /// The LIN6 prefix [default: 3ffe:501:1830:1999::/64].
        #[arg(long, value_name = "PREFIX", value_parser = parse_prefix)]
        lin6_prefix: Option<Prefix64>,
    },
    /// The locator of a Node ID under a network prefix: prefix + Node ID.
    #[command(after_help = "Example:\n  \
        lin6ctl addr locator 02:01:4a:00:00:00:00:01 2001:db8:a::/64\n    \
        -> 2001:db8:a:0:201:4a00:0:1")]
    Locator {
        /// The Node ID.
        #[arg(value_parser = parse_node_id)]
        node_id: NodeId,
        /// The network prefix (/64) the node is on.
        #[arg(value_parser = parse_prefix)]
        prefix: Prefix64,
    },
    /// Whether a Node ID (or an address's interface ID) is mobile, stationary or other.
    ///
    /// The argument is read as a Node ID if it is one (eight two-digit
    /// groups, or at most four 16-bit groups); otherwise as an IPv6 address,
    /// whose low 64 bits are taken. Write an address with all eight groups
    /// if it could be read as a Node ID (2001:db8:0:0:201:4a00:0:1, not
    /// 2001:db8::1).
    #[command(after_help = "Examples:\n  \
        lin6ctl addr kind 02:01:4a:00:00:00:00:01        -> mobile\n  \
        lin6ctl addr kind 3ffe:501:1830:1999:1:4a00:0:1 -> stationary")]
    Kind {
        /// A Node ID, or an address whose interface ID is read as one.
        #[arg(value_name = "NODE_ID|ADDRESS", value_parser = parse_node_or_addr)]
        id: NodeId,
        /// The operator's OUI [default: 00:01:4a].
        #[arg(long, value_parser = parse_oui)]
        oui: Option<Oui>,
    },
}

fn parse_node_id(s: &str) -> Result<NodeId, String> {
    s.parse().map_err(|e: lin6::addr::AddrError| e.to_string())
}

fn parse_prefix(s: &str) -> Result<Prefix64, String> {
    s.parse().map_err(|e: lin6::addr::AddrError| e.to_string())
}

fn parse_lifetime(s: &str) -> Result<NonZeroU32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    NonZeroU32::new(n).ok_or_else(|| "must be at least 1 (use --static for no expiry)".into())
}

/// Seconds, possibly fractional (`0.5`).
fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|f| Duration::try_from_secs_f64(f).ok())
        .ok_or_else(|| format!("{s:?} is not a number of seconds"))
}

fn parse_oui(s: &str) -> Result<Oui, String> {
    s.parse().map_err(|e: lin6::addr::AddrError| e.to_string())
}

/// A full address, or a /64 written as a prefix (its interface ID is zero).
fn parse_locator(s: &str) -> Result<Ipv6Addr, String> {
    if s.contains('/') {
        return parse_prefix(s).map(Prefix64::network);
    }
    s.parse()
        .map_err(|_| format!("invalid address {s:?}: not an IPv6 address or /64 prefix"))
}

pub fn parse_node_or_addr(s: &str) -> Result<NodeId, String> {
    if let Ok(n) = s.parse::<NodeId>() {
        return Ok(n);
    }
    s.parse::<Ipv6Addr>()
        .map(|a| lin6::addr::split(a).1)
        .map_err(|_| format!("invalid node ID or address {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn node_or_address_prefers_the_node_id_reading() {
        let mobile = NodeId::from_u64(0x0201_4a00_0000_0001);
        assert_eq!(parse_node_or_addr("02:01:4a:00:00:00:00:01"), Ok(mobile));
        assert_eq!(parse_node_or_addr("2001:db8:0:0:201:4a00:0:1"), Ok(mobile));
        // Three groups and "::" are an interface ID, not an address.
        assert_eq!(
            parse_node_or_addr("2001:db8::1"),
            Ok(NodeId::from_u64(0x2001_0db8_0000_0001))
        );
        assert!(parse_node_or_addr("2001:db8::/64").is_err());
    }

    #[test]
    fn locator_accepts_an_address_or_a_slash_64() {
        assert_eq!(
            parse_locator("2001:db8:a::/64"),
            Ok("2001:db8:a::".parse().unwrap())
        );
        assert_eq!(
            parse_locator("2001:db8:a::201:4a00:0:1"),
            Ok("2001:db8:a:0:201:4a00:0:1".parse().unwrap())
        );
        assert!(parse_locator("2001:db8:a::1/64").is_err());
        assert!(parse_locator("10.0.0.1").is_err());
    }

    #[test]
    fn map_add_lifetime_and_static_conflict() {
        let r = Cli::try_parse_from([
            "lin6ctl",
            "map",
            "add",
            "201:4a00::1",
            "2001:db8::",
            "--lifetime",
            "5",
            "--static",
        ]);
        assert!(r.is_err());
        let r = Cli::try_parse_from([
            "lin6ctl",
            "map",
            "add",
            "201:4a00::1",
            "2001:db8::",
            "--lifetime",
            "0",
        ]);
        assert!(r.is_err(), "lifetime 0 would mean static");
    }

    #[test]
    fn map_add_pool_goes_with_a_lifetime_or_static() {
        for extra in [
            &["--pool"][..],
            &["--pool", "--lifetime", "30"],
            &["--static", "--pool"],
        ] {
            let mut argv = vec!["lin6ctl", "map", "add", "201:4a00::1", "2001:db8::"];
            argv.extend_from_slice(extra);
            let Ok(Cli {
                command: Command::Map(MapCmd::Add(a)),
                ..
            }) = Cli::try_parse_from(&argv)
            else {
                panic!("{argv:?} did not parse as map add");
            };
            assert!(a.pool, "{argv:?}");
        }
        let Ok(Cli {
            command: Command::Map(MapCmd::Add(a)),
            ..
        }) = Cli::try_parse_from(["lin6ctl", "map", "add", "201:4a00::1", "2001:db8::"])
        else {
            panic!("map add did not parse");
        };
        assert!(!a.pool);
    }
}
