//! Finding a node's servers through DNS, as the paper does (§IV.A): the AAAA
//! record of a node's name gives its LIN6 address, and a TXT record at the
//! reverse (`ip6.arpa.`) name of that address lists the node's Mapping
//! Agents, or, for a load-shared pool address, the pool's LS servers.
//!
//! The draft's "MA" resource record was never allocated, hence TXT. The text
//! format ([`Lin6Txt`], docs/operations.md):
//!
//! ```text
//! lin6 v=1 ma=2001:db8::1,2001:db8::2
//! lin6 v=1 ls=2001:db8:f::1,[2001:db8:f::2]:17310
//! ```
//!
//! * the first token is `lin6`: a TXT record that does not start with it is
//!   someone else's and is ignored, so lin6 can share a name with SPF & co.;
//! * the second is `v=1`. A record of another version is refused as a whole
//!   (a newer format may change what the rest means);
//! * then `key=value` tokens separated by spaces: `ma=` and `ls=` take a
//!   comma-separated list of servers, in order of preference. Each server is
//!   an IPv6 address, or `[address]:port` for a server on a non-standard
//!   base port (an MA's registration port; its query port is base + 1, as
//!   7300/7301 are). Keys this version does not know are ignored, so that a
//!   later `v=1` record may add optional keys without breaking old nodes;
//! * a record longer than 255 bytes is split into several character-strings
//!   by the zone file; they are joined without a separator (as SPF does).
//!
//! The parser is pure and bounded ([`MAX_TXT_LEN`], [`MAX_SERVERS`]), and
//! fuzzed (`fuzz_lin6_discovery_txt`). The lookups themselves ([`Discovery`])
//! need a tokio runtime and hickory-resolver, behind the `dns` feature:
//! lin6ctl and the fuzz targets use the format alone.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::str::FromStr;

use thiserror::Error;

use crate::wire::{PORT_MA_QUERY, PORT_MA_REGISTRATION};

/// The first token of every lin6 TXT record.
pub const TXT_TAG: &str = "lin6";
/// The version this parser reads and the generator writes.
pub const TXT_VERSION: u32 = 1;
/// Longest record text accepted (after joining its character-strings).
/// A record listing [`MAX_SERVERS`] of each role with ports fits easily.
pub const MAX_TXT_LEN: usize = 2048;
/// Most servers of one role in one record; more is refused, not truncated,
/// so that an operator learns of it instead of losing the tail silently.
pub const MAX_SERVERS: usize = 16;
/// Default base port of an LS (docs/protocol.md, LS ports).
pub const PORT_LS: u16 = 7310;

/// Why a TXT record was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxtError {
    #[error("not a lin6 record (it does not start with \"lin6 \")")]
    NotLin6,
    #[error("lin6 record of {len} bytes is longer than {MAX_TXT_LEN}")]
    TooLong { len: usize },
    #[error("lin6 record has no version (expected \"v={TXT_VERSION}\" after \"lin6\")")]
    MissingVersion,
    #[error("lin6 record version {0:?} is not supported (this node reads v={TXT_VERSION})")]
    UnsupportedVersion(String),
    #[error("lin6 record: token {0:?} is not key=value")]
    BadToken(String),
    #[error("lin6 record: key {0:?} appears twice")]
    DuplicateKey(String),
    #[error("lin6 record: {key}= lists more than {MAX_SERVERS} servers")]
    TooManyServers { key: &'static str },
    #[error("lin6 record: {key}= has an empty list")]
    EmptyList { key: &'static str },
    #[error("lin6 record: {key}= has a bad server {value:?} (an IPv6 address or [address]:port)")]
    BadServer { key: &'static str, value: String },
    #[error("lin6 record lists neither ma= nor ls=")]
    NoServers,
}

/// One server named in a record: an address and, if not the standard one,
/// the base port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Server {
    pub addr: Ipv6Addr,
    /// `None`: the role's standard port(s).
    pub port: Option<u16>,
}

impl Server {
    pub const fn new(addr: Ipv6Addr) -> Server {
        Server { addr, port: None }
    }

    /// An MA's registration service (Mapping Update Request).
    pub fn ma_registration(&self) -> SocketAddr {
        SocketAddrV6::new(self.addr, self.port.unwrap_or(PORT_MA_REGISTRATION), 0, 0).into()
    }

    /// An MA's query service: base port + 1 (7301 by default).
    pub fn ma_query(&self) -> SocketAddr {
        let port = match self.port {
            Some(p) => p.wrapping_add(1),
            None => PORT_MA_QUERY,
        };
        SocketAddrV6::new(self.addr, port, 0, 0).into()
    }

    /// An LS's user-facing service (7310 by default).
    pub fn ls(&self) -> SocketAddr {
        SocketAddrV6::new(self.addr, self.port.unwrap_or(PORT_LS), 0, 0).into()
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            None => write!(f, "{}", self.addr),
            Some(p) => write!(f, "[{}]:{p}", self.addr),
        }
    }
}

impl FromStr for Server {
    type Err = ();

    fn from_str(s: &str) -> Result<Server, ()> {
        if s.starts_with('[') {
            let a: SocketAddrV6 = s.parse().map_err(|_| ())?;
            // A zone index means nothing to another host.
            if a.scope_id() != 0 || a.port() == 0 {
                return Err(());
            }
            Ok(Server {
                addr: *a.ip(),
                port: Some(a.port()),
            })
        } else {
            Ok(Server::new(s.parse().map_err(|_| ())?))
        }
    }
}

/// A parsed lin6 TXT record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lin6Txt {
    /// Mapping Agents, in order of preference.
    pub ma: Vec<Server>,
    /// Load Sharing servers of a pool address, in order of preference.
    pub ls: Vec<Server>,
}

impl Lin6Txt {
    /// Parses the text of one TXT record (its character-strings joined).
    /// Never panics; bounded by [`MAX_TXT_LEN`].
    pub fn parse(text: &str) -> Result<Lin6Txt, TxtError> {
        if text.len() > MAX_TXT_LEN {
            return Err(TxtError::TooLong { len: text.len() });
        }
        let mut tokens = text.split_ascii_whitespace();
        if tokens.next() != Some(TXT_TAG) {
            return Err(TxtError::NotLin6);
        }
        match tokens.next().and_then(|t| t.strip_prefix("v=")) {
            None => return Err(TxtError::MissingVersion),
            Some(v) if v == TXT_VERSION.to_string() => {}
            Some(v) => return Err(TxtError::UnsupportedVersion(v.to_string())),
        }
        let mut rec = Lin6Txt::default();
        let (mut seen_ma, mut seen_ls) = (false, false);
        for token in tokens {
            let (key, value) = token
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| TxtError::BadToken(truncated(token)))?;
            let (name, seen, list): (&'static str, _, _) = match key {
                "ma" => ("ma", &mut seen_ma, &mut rec.ma),
                "ls" => ("ls", &mut seen_ls, &mut rec.ls),
                // Optional keys of a later revision of v=1.
                _ => continue,
            };
            if std::mem::replace(seen, true) {
                return Err(TxtError::DuplicateKey(name.to_string()));
            }
            *list = parse_list(name, value)?;
        }
        if rec.ma.is_empty() && rec.ls.is_empty() {
            return Err(TxtError::NoServers);
        }
        Ok(rec)
    }

    /// The record's text, as the zone generator writes it.
    pub fn to_text(&self) -> String {
        let mut s = format!("{TXT_TAG} v={TXT_VERSION}");
        for (key, list) in [("ma", &self.ma), ("ls", &self.ls)] {
            if !list.is_empty() {
                let items: Vec<String> = list.iter().map(Server::to_string).collect();
                s.push_str(&format!(" {key}={}", items.join(",")));
            }
        }
        s
    }

    /// Picks the one lin6 record among the TXT records at a name (each given
    /// as its character-strings). Other TXT records are ignored; `Ok(None)`
    /// if there is no lin6 record; an error if a lin6 record is malformed or
    /// there are several (DNS does not order records, so two records could
    /// not say which MA comes first).
    pub fn select<'a, I, S>(records: I) -> Result<Option<Lin6Txt>, TxtError>
    where
        I: IntoIterator<Item = S>,
        S: IntoIterator<Item = &'a [u8]>,
    {
        let mut found = None;
        for strings in records {
            let mut text = Vec::new();
            for s in strings {
                if text.len() + s.len() > MAX_TXT_LEN {
                    return Err(TxtError::TooLong {
                        len: text.len() + s.len(),
                    });
                }
                text.extend_from_slice(s);
            }
            // Non-UTF-8 text cannot be ours; it is someone else's record.
            let Ok(text) = std::str::from_utf8(&text) else {
                continue;
            };
            match Lin6Txt::parse(text) {
                Err(TxtError::NotLin6) => continue,
                Err(e) => return Err(e),
                Ok(rec) => {
                    if found.is_some() {
                        return Err(TxtError::DuplicateKey("lin6 record".to_string()));
                    }
                    found = Some(rec);
                }
            }
        }
        Ok(found)
    }
}

impl fmt::Display for Lin6Txt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

fn parse_list(key: &'static str, value: &str) -> Result<Vec<Server>, TxtError> {
    if value.is_empty() {
        return Err(TxtError::EmptyList { key });
    }
    let mut out: Vec<Server> = Vec::new();
    for (i, item) in value.split(',').enumerate() {
        if i >= MAX_SERVERS {
            return Err(TxtError::TooManyServers { key });
        }
        let s: Server = item.parse().map_err(|()| TxtError::BadServer {
            key,
            value: truncated(item),
        })?;
        // A repeated server adds nothing but a second wait on failover.
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Error messages quote at most this much of a hostile record.
fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The reverse name of an address: 32 nibbles, lowest first, then
/// `ip6.arpa.` (RFC 3596 §2.5).
pub fn reverse_name(addr: Ipv6Addr) -> String {
    nibbles_reversed(&addr.octets()) + "ip6.arpa."
}

/// The reverse zone of a /64 (e.g. the LIN6 prefix): its 16 nibbles.
pub fn reverse_zone(prefix: crate::addr::Prefix64) -> String {
    nibbles_reversed(&prefix.to_bytes()) + "ip6.arpa."
}

fn nibbles_reversed(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 4 + 9);
    for b in bytes.iter().rev() {
        for n in [b & 0x0f, b >> 4] {
            s.push(char::from_digit(u32::from(n), 16).unwrap_or('0'));
            s.push('.');
        }
    }
    s
}

#[cfg(feature = "dns")]
mod lookup;
#[cfg(feature = "dns")]
pub use lookup::{Discovery, DiscoveryError, Found};

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn ma_list_in_order() {
        let r = Lin6Txt::parse("lin6 v=1 ma=2001:db8::1,2001:db8::2").unwrap();
        assert_eq!(
            r.ma,
            vec![Server::new(a("2001:db8::1")), Server::new(a("2001:db8::2"))]
        );
        assert!(r.ls.is_empty());
        assert_eq!(r.to_text(), "lin6 v=1 ma=2001:db8::1,2001:db8::2");
    }

    #[test]
    fn ports_ls_and_unknown_keys() {
        let r = Lin6Txt::parse("lin6  v=1 ls=[2001:db8::9]:17310 future=x ma=::1").unwrap();
        assert_eq!(r.ls[0].port, Some(17310));
        assert_eq!(r.ls[0].ls(), "[2001:db8::9]:17310".parse().unwrap());
        assert_eq!(r.ma[0].ma_registration(), "[::1]:7300".parse().unwrap());
        assert_eq!(r.ma[0].ma_query(), "[::1]:7301".parse().unwrap());
        let p = Server {
            addr: a("::1"),
            port: Some(17300),
        };
        assert_eq!(p.ma_query(), "[::1]:17301".parse().unwrap());
        assert_eq!(
            r.to_text(),
            "lin6 v=1 ma=::1 ls=[2001:db8::9]:17310",
            "unknown keys are not kept"
        );
    }

    #[test]
    fn refusals_say_why() {
        use TxtError::*;
        let cases: &[(&str, TxtError)] = &[
            ("v=spf1 -all", NotLin6),
            ("lin6", MissingVersion),
            ("lin6 ma=::1", MissingVersion),
            ("lin6 v=2 ma=::1", UnsupportedVersion("2".into())),
            ("lin6 v=1", NoServers),
            ("lin6 v=1 ma", BadToken("ma".into())),
            ("lin6 v=1 =x", BadToken("=x".into())),
            ("lin6 v=1 ma=", EmptyList { key: "ma" }),
            ("lin6 v=1 ma=::1 ma=::2", DuplicateKey("ma".into())),
            (
                "lin6 v=1 ma=10.0.0.1",
                BadServer {
                    key: "ma",
                    value: "10.0.0.1".into(),
                },
            ),
            (
                "lin6 v=1 ma=::1,",
                BadServer {
                    key: "ma",
                    value: "".into(),
                },
            ),
            (
                "lin6 v=1 ma=[::1]:0",
                BadServer {
                    key: "ma",
                    value: "[::1]:0".into(),
                },
            ),
            (
                "lin6 v=1 ma=[fe80::1%2]:7300",
                BadServer {
                    key: "ma",
                    value: "[fe80::1%2]:7300".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Lin6Txt::parse(text).as_ref(), Err(want), "{text}");
        }
        let many: Vec<String> = (1..=17).map(|i| format!("::{i:x}")).collect();
        assert_eq!(
            Lin6Txt::parse(&format!("lin6 v=1 ma={}", many.join(","))),
            Err(TooManyServers { key: "ma" })
        );
        let long = format!("lin6 v=1 ma=::1 x={}", "a".repeat(MAX_TXT_LEN));
        assert!(matches!(Lin6Txt::parse(&long), Err(TooLong { .. })));
    }

    #[test]
    fn duplicates_are_dropped() {
        let r = Lin6Txt::parse("lin6 v=1 ma=::1,::2,::1").unwrap();
        assert_eq!(r.ma.len(), 2);
    }

    #[test]
    fn select_skips_other_records_joins_strings_and_refuses_two() {
        let spf: Vec<&[u8]> = vec![b"v=spf1 -all"];
        let ours: Vec<&[u8]> = vec![b"lin6 v=1 ma=2001:db8::1,", b"2001:db8::2"];
        let r = Lin6Txt::select([spf.clone(), ours.clone()])
            .unwrap()
            .unwrap();
        assert_eq!(r.ma.len(), 2);
        assert_eq!(Lin6Txt::select([spf.clone()]).unwrap(), None);
        assert!(Lin6Txt::select([ours.clone(), ours]).is_err());
        let bin: Vec<&[u8]> = vec![&[0xff, 0xfe]];
        assert_eq!(Lin6Txt::select([bin]).unwrap(), None);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name(a("2001:db8::567:89ab")),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
        assert_eq!(
            reverse_zone(crate::addr::Prefix64::DEFAULT_LIN6),
            "9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa."
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn server() -> impl Strategy<Value = Server> {
        (any::<u128>(), proptest::option::of(1u16..)).prop_map(|(a, port)| Server {
            addr: Ipv6Addr::from(a),
            port,
        })
    }

    proptest! {
        #[test]
        fn generated_records_parse_back(
            ma in proptest::collection::btree_set(server(), 0..=MAX_SERVERS),
            ls in proptest::collection::btree_set(server(), 0..=MAX_SERVERS),
        ) {
            prop_assume!(!ma.is_empty() || !ls.is_empty());
            let rec = Lin6Txt { ma: ma.into_iter().collect(), ls: ls.into_iter().collect() };
            prop_assert_eq!(Lin6Txt::parse(&rec.to_text()), Ok(rec));
        }

        #[test]
        fn any_text_is_refused_or_reencodes_stably(s in "(lin6 v=1 )?[ -~]{0,200}") {
            if let Ok(r) = Lin6Txt::parse(&s) {
                prop_assert_eq!(Lin6Txt::parse(&r.to_text()), Ok(r));
            }
        }
    }
}
