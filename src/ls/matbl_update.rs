//! LSS_MATBL_UPDATE (0x06), LS -> LS, authenticated: entries of the MA table.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     flags     |     count     |           reserved            |
//! +---------------+---------------+-------------------------------+
//! |                 count x 56-byte entries                       |
//! +---------------------------------------------------------------+
//! ```
//! Flags bit 0 (0x01) FULL: part of a full dump answering LSS_SYNC_REQUEST.
//!
//! Entry (56 bytes):
//! ```text
//! | MA address (16) | control address (16) | control port (2) |
//! | entry flags (1) | reserved (1) | capacity kbit/s (4) | normal (4) |
//! | premium (4) | reported load ppm (4) | heartbeat time left, ms (4) |
//! ```
//! Entry flags: 0x01 active, 0x02 drained by an operator, 0x04 the MA itself
//! is draining. The control address is where the MA's heartbeats come from and
//! where any LS sends it RTT requests and assignments; relaying it lets every
//! LS probe MAs that registered with another. "Time left" is relative, so
//! peers need no synchronised clocks.

use super::codec::{Reader, put_ipv6, put_u16, put_u32};
use super::{BodyCodec, HEADER_LEN, LsError, MAX_DATAGRAM, MsgType};
use crate::auth::TAG_LEN;
use std::net::{Ipv6Addr, SocketAddrV6};

const ENTRY_LEN: usize = 56;
const PREFIX_LEN: usize = 4;
/// Entries that fit one datagram of at most [`MAX_DATAGRAM`] bytes.
pub const MAX_MA_ENTRIES: usize = (MAX_DATAGRAM - HEADER_LEN - TAG_LEN - PREFIX_LEN) / ENTRY_LEN;
const FLAG_FULL: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaFlags {
    pub active: bool,
    pub admin_drained: bool,
    pub ma_draining: bool,
}

impl MaFlags {
    fn to_u8(self) -> u8 {
        (self.active as u8) | (self.admin_drained as u8) << 1 | (self.ma_draining as u8) << 2
    }
    fn from_u8(v: u8) -> MaFlags {
        MaFlags {
            active: v & 0x01 != 0,
            admin_drained: v & 0x02 != 0,
            ma_draining: v & 0x04 != 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaEntry {
    pub ma_addr: Ipv6Addr,
    pub control: SocketAddrV6,
    pub flags: MaFlags,
    pub capacity_kbps: u32,
    pub normal: u32,
    pub premium: u32,
    pub load_ppm: u32,
    pub remaining_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatblUpdate {
    pub full: bool,
    pub entries: Vec<MaEntry>,
}

impl MatblUpdate {
    /// Splits a table into as many datagrams as it needs. Always at least one,
    /// so that a full dump of an empty table still tells the peer "empty".
    pub fn split(full: bool, entries: &[MaEntry]) -> Vec<MatblUpdate> {
        if entries.is_empty() {
            return vec![MatblUpdate {
                full,
                entries: Vec::new(),
            }];
        }
        entries
            .chunks(MAX_MA_ENTRIES)
            .map(|c| MatblUpdate {
                full,
                entries: c.to_vec(),
            })
            .collect()
    }
}

impl BodyCodec for MatblUpdate {
    const TYPE: MsgType = MsgType::MatblUpdate;

    fn body_len(&self) -> usize {
        PREFIX_LEN + self.entries.len() * ENTRY_LEN
    }

    fn validate(&self) -> Result<(), LsError> {
        if self.entries.len() > MAX_MA_ENTRIES {
            return Err(LsError::TooManyEntries {
                what: "MA table update",
                got: self.entries.len(),
                max: MAX_MA_ENTRIES,
            });
        }
        Ok(())
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(if self.full { FLAG_FULL } else { 0 });
        out.push(self.entries.len() as u8);
        out.extend_from_slice(&[0; 2]);
        for e in &self.entries {
            put_ipv6(out, &e.ma_addr);
            put_ipv6(out, e.control.ip());
            put_u16(out, e.control.port());
            out.push(e.flags.to_u8());
            out.push(0);
            put_u32(out, e.capacity_kbps);
            put_u32(out, e.normal);
            put_u32(out, e.premium);
            put_u32(out, e.load_ppm);
            put_u32(out, e.remaining_ms);
        }
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let full = r.u8()? & FLAG_FULL != 0;
        let count = r.u8()? as usize;
        r.skip(2)?;
        if count > MAX_MA_ENTRIES {
            return Err(LsError::TooManyEntries {
                what: "MA table update",
                got: count,
                max: MAX_MA_ENTRIES,
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
            let ma_addr = r.ipv6()?;
            let ip = r.ipv6()?;
            let port = r.u16()?;
            let flags = MaFlags::from_u8(r.u8()?);
            r.skip(1)?;
            entries.push(MaEntry {
                ma_addr,
                control: SocketAddrV6::new(ip, port, 0, 0),
                flags,
                capacity_kbps: r.u32()?,
                normal: r.u32()?,
                premium: r.u32()?,
                load_ppm: r.u32()?,
                remaining_ms: r.u32()?,
            });
        }
        r.finish()?;
        Ok(MatblUpdate { full, entries })
    }
}
