//! LSS_ANSTBL_UPDATE (0x07), LS -> LS, authenticated: answer-cache entries.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     flags     |     count     |           reserved            |
//! +---------------+---------------+-------------------------------+
//! |                 count x 28-byte entries                       |
//! +---------------------------------------------------------------+
//! ```
//! Flags bit 0 (0x01) FULL: part of a full dump answering LSS_SYNC_REQUEST.
//!
//! Entry: client /64 prefix (8) | chosen MA address (16) | seconds left (4).
//! Seconds left 0 withdraws the answer.

use super::codec::{Reader, put_ipv6, put_u32};
use super::{BodyCodec, HEADER_LEN, LsError, MAX_DATAGRAM, MsgType};
use crate::addr::Prefix64;
use crate::auth::TAG_LEN;
use std::net::Ipv6Addr;

const ENTRY_LEN: usize = 28;
const PREFIX_LEN: usize = 4;
/// Entries that fit one datagram of at most [`MAX_DATAGRAM`] bytes.
pub const MAX_ANS_ENTRIES: usize = (MAX_DATAGRAM - HEADER_LEN - TAG_LEN - PREFIX_LEN) / ENTRY_LEN;
const FLAG_FULL: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnsEntry {
    /// The first 64 bits of the client's address.
    pub prefix: Prefix64,
    pub ma_addr: Ipv6Addr,
    pub remaining_s: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnstblUpdate {
    pub full: bool,
    pub entries: Vec<AnsEntry>,
}

impl AnstblUpdate {
    /// Splits a cache into as many datagrams as it needs; at least one.
    pub fn split(full: bool, entries: &[AnsEntry]) -> Vec<AnstblUpdate> {
        if entries.is_empty() {
            return vec![AnstblUpdate {
                full,
                entries: Vec::new(),
            }];
        }
        entries
            .chunks(MAX_ANS_ENTRIES)
            .map(|c| AnstblUpdate {
                full,
                entries: c.to_vec(),
            })
            .collect()
    }
}

impl BodyCodec for AnstblUpdate {
    const TYPE: MsgType = MsgType::AnstblUpdate;

    fn body_len(&self) -> usize {
        PREFIX_LEN + self.entries.len() * ENTRY_LEN
    }

    fn validate(&self) -> Result<(), LsError> {
        if self.entries.len() > MAX_ANS_ENTRIES {
            return Err(LsError::TooManyEntries {
                what: "answer table update",
                got: self.entries.len(),
                max: MAX_ANS_ENTRIES,
            });
        }
        Ok(())
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(if self.full { FLAG_FULL } else { 0 });
        out.push(self.entries.len() as u8);
        out.extend_from_slice(&[0; 2]);
        for e in &self.entries {
            out.extend_from_slice(&e.prefix.to_bytes());
            put_ipv6(out, &e.ma_addr);
            put_u32(out, e.remaining_s);
        }
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let full = r.u8()? & FLAG_FULL != 0;
        let count = r.u8()? as usize;
        r.skip(2)?;
        if count > MAX_ANS_ENTRIES {
            return Err(LsError::TooManyEntries {
                what: "answer table update",
                got: count,
                max: MAX_ANS_ENTRIES,
            });
        }
        if r.remaining() != count * ENTRY_LEN {
            return Err(LsError::LengthMismatch {
                declared: PREFIX_LEN + count * ENTRY_LEN,
                actual: buf.len(),
            });
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(AnsEntry {
                prefix: Prefix64::from_bytes(r.bytes()?),
                ma_addr: r.ipv6()?,
                remaining_s: r.u32()?,
            });
        }
        r.finish()?;
        Ok(AnstblUpdate { full, entries })
    }
}
