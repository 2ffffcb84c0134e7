//! LSS_MA_ASSIGN (0x09, our extension), LS -> MA, authenticated.
//!
//! The paper (§IV.B, step 4) has the LS "notify the MA about the Node ID and
//! the level of service" but Table 3 has no message for it. Reusing
//! LSS_MA_REPLY would mix an unauthenticated user-facing message with one the
//! MA must trust, so this is a separate, authenticated type.
//!
//! ```text
//! +---------------------------------------------------------------+
//! |                  node ID of the user (64 bits)                |
//! +---------------+-----------------------------------------------+
//! |     level     |                   reserved                    |
//! +---------------+-----------------------------------------------+
//! |                 user address (128 bits)                       |
//! +---------------------------------------------------------------+
//! |        MA address the user was sent to (128 bits)             |
//! +---------------------------------------------------------------+
//! ```
//! 44 bytes. The MA drops an assignment whose MA address is not its own, and
//! uses the rest to pre-provision shaping; it still checks the subscriber
//! database when the user registers.

use super::codec::{Reader, put_ipv6};
use super::{BodyCodec, LsError, MsgType, NodeId, ServiceLevel};
use std::net::Ipv6Addr;

const LEN: usize = 44;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaAssign {
    pub node_id: NodeId,
    pub level: ServiceLevel,
    pub user_addr: Ipv6Addr,
    pub ma_addr: Ipv6Addr,
}

impl BodyCodec for MaAssign {
    const TYPE: MsgType = MsgType::MaAssign;

    fn body_len(&self) -> usize {
        LEN
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.node_id.to_bytes());
        out.push(self.level as u8);
        out.extend_from_slice(&[0; 3]);
        put_ipv6(out, &self.user_addr);
        put_ipv6(out, &self.ma_addr);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let node_id = NodeId::from_bytes(r.bytes()?);
        let level = ServiceLevel::from_u8(r.u8()?).ok_or(LsError::BadField("service level"))?;
        r.skip(3)?;
        let m = MaAssign {
            node_id,
            level,
            user_addr: r.ipv6()?,
            ma_addr: r.ipv6()?,
        };
        r.finish()?;
        Ok(m)
    }
}
