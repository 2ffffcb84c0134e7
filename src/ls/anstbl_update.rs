//! LSS_ANSTBL_UPDATE (0x07), LS -> LS, authenticated: answer-cache entries,
//! in the table-update body (`table.rs`: flags with FULL, count, reserved).
//!
//! Entry (28 bytes): client /64 prefix (8) | chosen MA address (16) | seconds
//! left (4). Seconds left 0 withdraws the answer.

use super::codec::{Reader, put_ipv6, put_u32};
use super::table::{self, TableEntry};
use super::{BodyCodec, LsError, MsgType};
use crate::addr::Prefix64;
use std::net::Ipv6Addr;

/// Entries that fit one datagram.
pub const MAX_ANS_ENTRIES: usize = <AnsEntry as TableEntry>::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnsEntry {
    /// The first 64 bits of the client's address.
    pub prefix: Prefix64,
    pub ma_addr: Ipv6Addr,
    pub remaining_s: u32,
}

impl TableEntry for AnsEntry {
    const LEN: usize = 28;
    const WHAT: &'static str = "answer table update";

    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix.to_bytes());
        put_ipv6(out, &self.ma_addr);
        put_u32(out, self.remaining_s);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, LsError> {
        Ok(AnsEntry {
            prefix: Prefix64::from_bytes(r.bytes()?),
            ma_addr: r.ipv6()?,
            remaining_s: r.u32()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnstblUpdate {
    pub full: bool,
    pub entries: Vec<AnsEntry>,
}

impl AnstblUpdate {
    /// Splits a cache into as many datagrams as it needs; at least one.
    pub fn split(full: bool, entries: &[AnsEntry]) -> Vec<AnstblUpdate> {
        table::split(entries)
            .into_iter()
            .map(|entries| AnstblUpdate { full, entries })
            .collect()
    }
}

impl BodyCodec for AnstblUpdate {
    const TYPE: MsgType = MsgType::AnstblUpdate;

    fn body_len(&self) -> usize {
        table::body_len(&self.entries)
    }

    fn validate(&self) -> Result<(), LsError> {
        table::validate(&self.entries)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        table::encode(self.full, &self.entries, out);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let (full, entries) = table::decode(buf)?;
        Ok(AnstblUpdate { full, entries })
    }
}
