//! `lin6ctl dns records`: the DNS records of a LIN6 deployment, from a YAML
//! description, in zone-file syntax (or JSON with -j). Record format:
//! docs/operations.md; TXT text: `lin6::discovery`.
//!
//! Pure text in, text out: no DNS server is contacted, so the output can be
//! reviewed, diffed and committed before a zone is reloaded.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use lin6::addr::{Lin6Params, NodeId, Prefix64};
use lin6::discovery::{Lin6Txt, MAX_SERVERS, Server, reverse_name, reverse_zone};
use serde::{Deserialize, Serialize};

use crate::output::{CtlError, Out};

#[derive(Debug, Subcommand)]
pub enum DnsCmd {
    /// Print the AAAA and TXT records of a deployment description.
    ///
    /// For every node: NAME AAAA <LIN6 address>, and at the reverse name of
    /// that address a TXT "lin6 v=1 ma=..." listing its Mapping Agents in
    /// order of preference. For every load-shared pool: NAME AAAA <pool
    /// address> and a TXT "lin6 v=1 ls=..." listing its LS servers.
    /// Without --origin every record is printed with an absolute name; with
    /// --origin (or --reverse) only the records inside that zone, as a
    /// complete zone file (SOA and NS from `nameserver:`).
    #[command(after_help = "Examples:\n  \
        lin6ctl dns records deploy.yaml\n  \
        lin6ctl dns records deploy.yaml --origin lin6.example. --serial 2026112501 > lin6.example.zone\n  \
        lin6ctl dns records deploy.yaml --reverse > lin6-reverse.zone\n  \
        lin6ctl -j dns records deploy.yaml\n\
        Format of deploy.yaml: docs/operations.md.")]
    Records(RecordsArgs),
}

#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// The deployment description (YAML).
    pub file: PathBuf,
    /// Print a zone file for this origin (absolute name, e.g. lin6.example.).
    #[arg(long, conflicts_with = "reverse")]
    pub origin: Option<String>,
    /// Print the zone file of the LIN6 prefix's reverse zone (16 nibbles .ip6.arpa.).
    #[arg(long)]
    pub reverse: bool,
    /// SOA serial of the zone file.
    #[arg(long, default_value_t = 1)]
    pub serial: u32,
}

/// The deployment description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deployment {
    /// TTL of every record, seconds.
    #[serde(default = "default_ttl")]
    ttl: u32,
    /// Absolute name of the zones' name server (SOA MNAME and NS).
    nameserver: Option<String>,
    /// SOA RNAME (the hostmaster's mailbox as a name).
    hostmaster: Option<String>,
    #[serde(default)]
    lin6_prefix: Prefix64Text,
    /// MAs of nodes that do not list their own.
    #[serde(default)]
    ma: Vec<String>,
    #[serde(default)]
    nodes: Vec<NodeEntry>,
    #[serde(default)]
    pools: Vec<PoolEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Prefix64Text(Prefix64);

impl Default for Prefix64Text {
    fn default() -> Self {
        Prefix64Text(Prefix64::DEFAULT_LIN6)
    }
}

fn default_ttl() -> u32 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    name: String,
    node_id: NodeId,
    #[serde(default)]
    ma: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolEntry {
    name: String,
    address: Ipv6Addr,
    ls: Vec<String>,
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    #[serde(rename = "type")]
    pub rtype: &'static str,
    /// AAAA: the address; TXT: the record's text (unquoted).
    pub data: String,
}

impl Record {
    fn zone_line(&self) -> String {
        let data = match self.rtype {
            "TXT" => quote_txt(&self.data),
            _ => self.data.clone(),
        };
        format!("{} {} IN {} {}", self.name, self.ttl, self.rtype, data)
    }
}

/// Zone-file character-strings: at most 255 bytes each (RFC 1035 §3.3),
/// quoted, with `"` and `\` escaped. The text is ASCII (addresses, keys).
fn quote_txt(text: &str) -> String {
    let bytes = text.as_bytes();
    let parts: Vec<String> = bytes
        .chunks(255)
        .map(|c| {
            let mut s = String::from("\"");
            for &b in c {
                if b == b'"' || b == b'\\' {
                    s.push('\\');
                }
                s.push(char::from(b));
            }
            s.push('"');
            s
        })
        .collect();
    parts.join(" ")
}

fn invalid(msg: impl Into<String>) -> CtlError {
    CtlError::Invalid(msg.into())
}

/// An absolute, syntactically valid domain name (lower case).
fn check_name(name: &str, what: &str) -> Result<String, CtlError> {
    let n = name.to_ascii_lowercase();
    let Some(body) = n.strip_suffix('.') else {
        return Err(invalid(format!(
            "{what} {name:?} must be absolute (end with a dot)"
        )));
    };
    let ok = !body.is_empty()
        && n.len() <= 254
        && body.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(n)
    } else {
        Err(invalid(format!(
            "{what} {name:?} is not a valid domain name"
        )))
    }
}

fn servers(list: &[String], what: &str) -> Result<Vec<Server>, CtlError> {
    if list.len() > MAX_SERVERS {
        return Err(invalid(format!(
            "{what}: {} servers, at most {MAX_SERVERS}",
            list.len()
        )));
    }
    let mut out = Vec::new();
    for s in list {
        let srv: Server = s.parse().map_err(|()| {
            invalid(format!(
                "{what}: {s:?} is not an IPv6 address or [address]:port"
            ))
        })?;
        if out.contains(&srv) {
            return Err(invalid(format!("{what}: {s} is listed twice")));
        }
        out.push(srv);
    }
    Ok(out)
}

/// Every record of the deployment, in description order.
fn records(d: &Deployment) -> Result<Vec<Record>, CtlError> {
    let params = Lin6Params {
        prefix: d.lin6_prefix.0,
        ..Lin6Params::default()
    };
    let default_ma = servers(&d.ma, "ma")?;
    let mut names = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for n in &d.nodes {
        let name = check_name(&n.name, "node name")?;
        if !names.insert(name.clone()) {
            return Err(invalid(format!("name {name} is used twice")));
        }
        if !ids.insert(n.node_id) {
            return Err(invalid(format!("node ID {} is used twice", n.node_id)));
        }
        let mut ma = servers(&n.ma, &format!("{name} ma"))?;
        if ma.is_empty() {
            ma = default_ma.clone();
        }
        if ma.is_empty() {
            return Err(invalid(format!(
                "{name}: no MA (give `ma:` for the node or for the deployment)"
            )));
        }
        let addr = params.lin6_address(n.node_id);
        out.push(Record {
            name,
            ttl: d.ttl,
            rtype: "AAAA",
            data: addr.to_string(),
        });
        out.push(Record {
            name: reverse_name(addr),
            ttl: d.ttl,
            rtype: "TXT",
            data: Lin6Txt { ma, ls: vec![] }.to_text(),
        });
    }
    for p in &d.pools {
        let name = check_name(&p.name, "pool name")?;
        if !names.insert(name.clone()) {
            return Err(invalid(format!("name {name} is used twice")));
        }
        let ls = servers(&p.ls, &format!("{name} ls"))?;
        if ls.is_empty() {
            return Err(invalid(format!("{name}: a pool needs at least one LS")));
        }
        out.push(Record {
            name,
            ttl: d.ttl,
            rtype: "AAAA",
            data: p.address.to_string(),
        });
        out.push(Record {
            name: reverse_name(p.address),
            ttl: d.ttl,
            rtype: "TXT",
            data: Lin6Txt { ma: vec![], ls }.to_text(),
        });
    }
    // A node and a pool on one address would give two lin6 TXT records at
    // one name, which resolvers refuse.
    let mut txt_names = BTreeSet::new();
    for r in out.iter().filter(|r| r.rtype == "TXT") {
        if !txt_names.insert(&r.name) {
            return Err(invalid(format!(
                "two nodes or pools share the address of {}",
                r.name
            )));
        }
    }
    Ok(out)
}

fn in_zone(name: &str, origin: &str) -> bool {
    name == origin || name.ends_with(&format!(".{origin}"))
}

pub fn run(cmd: DnsCmd, out: &Out) -> Result<(), CtlError> {
    let DnsCmd::Records(args) = cmd;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| invalid(format!("{}: {e}", args.file.display())))?;
    let d: Deployment = serde_norway::from_str(&text)
        .map_err(|e| invalid(format!("{}: {e}", args.file.display())))?;
    let all = records(&d)?;
    let origin = match (&args.origin, args.reverse) {
        (Some(o), _) => Some(check_name(o, "--origin")?),
        (None, true) => Some(reverse_zone(d.lin6_prefix.0)),
        (None, false) => None,
    };
    let selected: Vec<Record> = match &origin {
        Some(o) => all.into_iter().filter(|r| in_zone(&r.name, o)).collect(),
        None => all,
    };
    if out.json {
        return Ok(out.json(&selected)?);
    }
    if let Some(o) = &origin {
        let ns = d
            .nameserver
            .as_deref()
            .ok_or_else(|| invalid("a zone file needs `nameserver:` in the description"))
            .and_then(|n| check_name(n, "nameserver"))?;
        let hostmaster = match d.hostmaster.as_deref() {
            Some(h) => check_name(h, "hostmaster")?,
            None => format!("hostmaster.{ns}"),
        };
        out.line(&format!(
            "; generated by lin6ctl dns records from {}",
            args.file.display()
        ))?;
        out.line(&format!("$ORIGIN {o}"))?;
        out.line(&format!("$TTL {}", d.ttl))?;
        out.line(&format!(
            "@ IN SOA {ns} {hostmaster} {} 3600 600 864000 {}",
            args.serial, d.ttl
        ))?;
        out.line(&format!("@ IN NS {ns}"))?;
    }
    for r in &selected {
        out.line(&r.zone_line())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(yaml: &str) -> Result<Vec<Record>, String> {
        let d: Deployment = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
        records(&d).map_err(|e| e.to_string())
    }

    #[test]
    fn node_gets_aaaa_and_reverse_txt_pool_gets_ls() {
        let r = deployment(
            "ma: ['2001:db8::1']\n\
             nodes:\n\
             - {name: mn1.lin6.test., node_id: '02:01:4a:00:00:00:00:01'}\n\
             - {name: S1.lin6.test., node_id: '00:01:4a:00:00:00:00:02', ma: ['[2001:db8::2]:17300', '2001:db8::1']}\n\
             pools:\n\
             - {name: stream.lin6.test., address: '3ffe:501:1830:1999::100', ls: ['2001:db8:f::1']}\n",
        )
        .unwrap();
        let lines: Vec<String> = r.iter().map(Record::zone_line).collect();
        assert_eq!(
            lines,
            [
                "mn1.lin6.test. 300 IN AAAA 3ffe:501:1830:1999:201:4a00:0:1",
                "1.0.0.0.0.0.0.0.0.0.a.4.1.0.2.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa. 300 IN TXT \"lin6 v=1 ma=2001:db8::1\"",
                "s1.lin6.test. 300 IN AAAA 3ffe:501:1830:1999:1:4a00:0:2",
                "2.0.0.0.0.0.0.0.0.0.a.4.1.0.0.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa. 300 IN TXT \"lin6 v=1 ma=[2001:db8::2]:17300,2001:db8::1\"",
                "stream.lin6.test. 300 IN AAAA 3ffe:501:1830:1999::100",
                "0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa. 300 IN TXT \"lin6 v=1 ls=2001:db8:f::1\"",
            ]
        );
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        let cases = [
            (
                "nodes: [{name: a.test, node_id: '201:4a00::1', ma: ['::1']}]",
                "absolute",
            ),
            ("nodes: [{name: a.test., node_id: '201:4a00::1'}]", "no MA"),
            (
                "nodes: [{name: a.test., node_id: 'x', ma: ['::1']}]",
                "invalid node ID",
            ),
            (
                "nodes: [{name: a.test., node_id: '201:4a00::1', ma: ['1.2.3.4']}]",
                "IPv6",
            ),
            (
                "ma: ['::1']\nnodes: [{name: a.test., node_id: '201:4a00::1'}, {name: a.test., node_id: '201:4a00::2'}]",
                "twice",
            ),
            (
                "ma: ['::1']\nnodes: [{name: a.test., node_id: '201:4a00::1'}, {name: b.test., node_id: '201:4a00::1'}]",
                "twice",
            ),
            (
                "ma: ['::1']\nnodes: [{name: a..test., node_id: '201:4a00::1'}]",
                "valid domain",
            ),
            ("bogus: 1", "unknown field"),
            (
                "pools: [{name: p.test., address: '::5', ls: []}]",
                "at least one LS",
            ),
        ];
        for (yaml, want) in cases {
            let e = deployment(yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }

    #[test]
    fn long_txt_is_split_into_255_byte_strings() {
        let q = quote_txt(&"a".repeat(300));
        assert_eq!(q, format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45)));
        assert_eq!(quote_txt("x\"y\\"), "\"x\\\"y\\\\\"");
    }
}
