//! LSS_MATBL_UPDATE (0x06), LS -> LS, authenticated: entries of the MA table,
//! in the table-update body (`table.rs`: flags with FULL, count, reserved).
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
use super::table::{self, TableEntry};
use super::{BodyCodec, LsError, MsgType};
use std::net::{Ipv6Addr, SocketAddrV6};

/// Entries that fit one datagram.
pub const MAX_MA_ENTRIES: usize = <MaEntry as TableEntry>::MAX;

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

impl TableEntry for MaEntry {
    const LEN: usize = 56;
    const WHAT: &'static str = "MA table update";

    fn put(&self, out: &mut Vec<u8>) {
        put_ipv6(out, &self.ma_addr);
        put_ipv6(out, self.control.ip());
        put_u16(out, self.control.port());
        out.push(self.flags.to_u8());
        out.push(0);
        put_u32(out, self.capacity_kbps);
        put_u32(out, self.normal);
        put_u32(out, self.premium);
        put_u32(out, self.load_ppm);
        put_u32(out, self.remaining_ms);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, LsError> {
        let ma_addr = r.ipv6()?;
        let ip = r.ipv6()?;
        let port = r.u16()?;
        let flags = MaFlags::from_u8(r.u8()?);
        r.skip(1)?;
        Ok(MaEntry {
            ma_addr,
            control: SocketAddrV6::new(ip, port, 0, 0),
            flags,
            capacity_kbps: r.u32()?,
            normal: r.u32()?,
            premium: r.u32()?,
            load_ppm: r.u32()?,
            remaining_ms: r.u32()?,
        })
    }
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
        table::split(entries)
            .into_iter()
            .map(|entries| MatblUpdate { full, entries })
            .collect()
    }
}

impl BodyCodec for MatblUpdate {
    const TYPE: MsgType = MsgType::MatblUpdate;

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
        Ok(MatblUpdate { full, entries })
    }
}
