//! LSS_MA_REQUEST (0x04), user -> LS, unauthenticated (see
//! [`super::MsgType::authenticated`] for why).
//!
//! ```text
//! +---------------------------------------------------------------+
//! |                  node ID of the user (64 bits)                |
//! +---------------------------------------------------------------+
//! |        LIN6 address of the server pool (128 bits)             |
//! +---------------------------------------------------------------+
//! ```
//! 24 bytes. The user's network prefix is not in the message: the LS takes it
//! from the datagram's source address (the paper's `getpeername`), so a user
//! cannot ask on behalf of another network. The header sequence is echoed in
//! the reply so the user can match them.

use super::codec::{Reader, put_ipv6};
use super::{BodyCodec, LsError, MsgType, NodeId};
use std::net::Ipv6Addr;

const LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaRequest {
    pub node_id: NodeId,
    /// The single LIN6 address the pool of servers answers on, as the user
    /// found it in DNS; lets one LS serve several pools.
    pub pool: Ipv6Addr,
}

impl BodyCodec for MaRequest {
    const TYPE: MsgType = MsgType::MaRequest;

    fn body_len(&self) -> usize {
        LEN
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.node_id.to_bytes());
        put_ipv6(out, &self.pool);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let m = MaRequest {
            node_id: NodeId::from_bytes(r.bytes()?),
            pool: r.ipv6()?,
        };
        r.finish()?;
        Ok(m)
    }
}
