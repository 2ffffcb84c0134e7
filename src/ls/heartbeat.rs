//! LSS_HEARTBEAT (0x01), MA -> LS, authenticated.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 MA address (128 bits, 4 words)                |
//! +---------------------------------------------------------------+
//! |                     capacity (kbit/s)                         |
//! |                 normal connections (count)                    |
//! |                 premium connections (count)                   |
//! |              load index reported by the MA (ppm)              |
//! +---------------+-----------------------------------------------+
//! |     flags     |                   reserved                    |
//! +---------------+-----------------------------------------------+
//! ```
//! 36 bytes. Flag bit 0 (0x01): the MA is draining and wants no new users.

use super::codec::{Reader, put_ipv6, put_u32};
use super::{BodyCodec, LsError, MsgType};
use std::net::Ipv6Addr;

const LEN: usize = 36;
const FLAG_DRAINING: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The address users should register with. Not necessarily the source of
    /// the datagram: the MA may heartbeat from a management address.
    pub ma_addr: Ipv6Addr,
    /// Outgoing bandwidth of the site (server S beside this MA).
    pub capacity_kbps: u32,
    pub normal: u32,
    pub premium: u32,
    /// The MA's own view of its load, parts per million of capacity. The LS
    /// recomputes the index from the counts with its own bandwidth settings;
    /// this value is kept for monitoring, where a mismatch reveals MA and LS
    /// disagreeing on per-level bandwidth.
    pub load_ppm: u32,
    pub draining: bool,
}

impl BodyCodec for Heartbeat {
    const TYPE: MsgType = MsgType::Heartbeat;

    fn body_len(&self) -> usize {
        LEN
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_ipv6(out, &self.ma_addr);
        put_u32(out, self.capacity_kbps);
        put_u32(out, self.normal);
        put_u32(out, self.premium);
        put_u32(out, self.load_ppm);
        out.push(if self.draining { FLAG_DRAINING } else { 0 });
        out.extend_from_slice(&[0; 3]);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let hb = Heartbeat {
            ma_addr: r.ipv6()?,
            capacity_kbps: r.u32()?,
            normal: r.u32()?,
            premium: r.u32()?,
            load_ppm: r.u32()?,
            draining: r.u8()? & FLAG_DRAINING != 0,
        };
        r.skip(3)?;
        r.finish()?;
        Ok(hb)
    }
}
