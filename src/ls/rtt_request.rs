//! LSS_RTT_REQUEST (0x02), LS -> MA, authenticated.
//!
//! ```text
//! +---------------------------------------------------------------+
//! |                        request ID                             |
//! +---------------------------------------------------------------+
//! |              user address (128 bits, 4 words)                 |
//! +---------------+---------------+-------------------------------+
//! |    probes     |  prefix len   |           reserved            |
//! +---------------+---------------+-------------------------------+
//! ```
//! 24 bytes. The MA probes `user address` `probes` times (the paper uses 4)
//! and answers with the mean. `prefix len` (normally 64) tells the MA which
//! part of the address the answer will be cached for, for its logs.

use super::codec::{Reader, put_ipv6, put_u32};
use super::{BodyCodec, LsError, MsgType};
use std::net::Ipv6Addr;

const LEN: usize = 24;
/// Number of probes the paper averages over.
pub const DEFAULT_PROBES: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttRequest {
    /// Chosen by the LS; echoed in the reply so that replies to an earlier,
    /// abandoned decision cannot be mistaken for this one's.
    pub request_id: u32,
    pub user_addr: Ipv6Addr,
    pub probes: u8,
    pub prefix_len: u8,
}

impl BodyCodec for RttRequest {
    const TYPE: MsgType = MsgType::RttRequest;

    fn body_len(&self) -> usize {
        LEN
    }

    fn validate(&self) -> Result<(), LsError> {
        if self.probes == 0 {
            return Err(LsError::BadField("probes must be at least 1"));
        }
        if self.prefix_len > 128 {
            return Err(LsError::BadField("prefix length over 128"));
        }
        Ok(())
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.request_id);
        put_ipv6(out, &self.user_addr);
        out.push(self.probes);
        out.push(self.prefix_len);
        out.extend_from_slice(&[0; 2]);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let m = RttRequest {
            request_id: r.u32()?,
            user_addr: r.ipv6()?,
            probes: r.u8()?,
            prefix_len: r.u8()?,
        };
        r.skip(2)?;
        r.finish()?;
        m.validate()?;
        Ok(m)
    }
}
