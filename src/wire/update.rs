//! Mapping Update Request and Reply (draft §8.1, §8.2), UDP port 7300.

use super::{Codec, Layout32, WireError, be32, exact, expect_type, expect_zero};
use crate::addr::{NodeId, Prefix64};

/// A node tells its MA (or a correspondent) its current locator prefix.
///
/// Layout (32 bytes): type 0x01, code 0, flags 0, sequence, network prefix,
/// node ID, timestamp, lifetime. On the wire to an MA it is always followed by
/// an authentication trailer: send and receive it as
/// [`super::Authenticated<UpdateRequest>`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpdateRequest {
    /// Newer than any earlier request from the same key (RFC 1982 order);
    /// echoed in the reply.
    pub sequence: u32,
    /// The node's current routable /64.
    pub prefix: Prefix64,
    pub node: NodeId,
    /// Sender's clock, seconds since the Unix epoch modulo 2^32.
    pub timestamp: u32,
    /// Seconds the mapping stays valid; 0 withdraws it.
    pub lifetime: u32,
}

impl UpdateRequest {
    pub const TYPE: u8 = 0x01;
}

impl Codec for UpdateRequest {
    const NAME: &'static str = "Mapping Update Request";
    const LEN: usize = 32;

    fn encode(&self, buf: &mut Vec<u8>) {
        Layout32 {
            msg_type: Self::TYPE,
            code: 0,
            flags: 0,
            sequence: self.sequence,
            prefix: self.prefix.to_u64(),
            node: self.node.to_u64(),
            timestamp: self.timestamp,
            lifetime: self.lifetime,
        }
        .encode(buf);
    }

    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let l = Layout32::decode(Self::NAME, Self::TYPE, buf)?;
        expect_zero(Self::NAME, "code", l.code)?;
        expect_zero(Self::NAME, "flags", l.flags)?;
        Ok(UpdateRequest {
            sequence: l.sequence,
            prefix: Prefix64::from_u64(l.prefix),
            node: NodeId::from_u64(l.node),
            timestamp: l.timestamp,
            lifetime: l.lifetime,
        })
    }
}

/// Result of a Mapping Update Request. The draft defines 0 and 1; the rest are
/// ours, so that a node can tell an operator why it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UpdateCode {
    /// The mapping was stored (or withdrawn, for lifetime 0).
    Ok = 0,
    /// No key with that ID for this node, or the HMAC did not verify.
    AuthenticationFailed = 1,
    /// The node ID is not in the subscriber database.
    UnknownNode = 2,
    /// The subscriber exists but is disabled.
    SubscriberDisabled = 3,
    /// The timestamp is outside the MA's replay window: check the node's clock.
    StaleTimestamp = 4,
    /// The sequence number is not newer than the last accepted one.
    ReplayedSequence = 5,
}

impl UpdateCode {
    pub fn from_u8(v: u8) -> Option<UpdateCode> {
        Some(match v {
            0 => UpdateCode::Ok,
            1 => UpdateCode::AuthenticationFailed,
            2 => UpdateCode::UnknownNode,
            3 => UpdateCode::SubscriberDisabled,
            4 => UpdateCode::StaleTimestamp,
            5 => UpdateCode::ReplayedSequence,
            _ => return None,
        })
    }
}

impl From<crate::auth::ReplayError> for UpdateCode {
    fn from(e: crate::auth::ReplayError) -> Self {
        match e {
            crate::auth::ReplayError::StaleTimestamp { .. } => UpdateCode::StaleTimestamp,
            crate::auth::ReplayError::ReplayedSequence { .. } => UpdateCode::ReplayedSequence,
        }
    }
}

/// The MA's answer to a Mapping Update Request (8 bytes): type 0x02, code,
/// flags 0, the request's sequence number. The MA signs it (44 bytes) when it
/// knows the node's key; decode with [`super::MaybeAuthenticated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpdateReply {
    pub code: UpdateCode,
    pub sequence: u32,
}

impl UpdateReply {
    pub const TYPE: u8 = 0x02;
}

impl Codec for UpdateReply {
    const NAME: &'static str = "Mapping Update Reply";
    const LEN: usize = 8;

    fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(Self::TYPE);
        buf.push(self.code as u8);
        buf.extend_from_slice(&0u16.to_be_bytes());
        buf.extend_from_slice(&self.sequence.to_be_bytes());
    }

    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let b = exact::<8>(Self::NAME, buf)?;
        expect_type(Self::NAME, b[0], Self::TYPE)?;
        let code = UpdateCode::from_u8(b[1]).ok_or(WireError::UnknownCode {
            message: Self::NAME,
            code: b[1],
        })?;
        expect_zero(Self::NAME, "flags", [b[2], b[3]])?;
        Ok(UpdateReply {
            code,
            sequence: be32(b, 4),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ_BYTES: [u8; 32] = [
        0x01, 0x00, 0x00, 0x00, // type, code, flags
        0x00, 0x00, 0x01, 0x02, // sequence 258
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02, // 2001:db8:1:2::/64
        0x02, 0x01, 0x4a, 0x00, 0x00, 0x00, 0x00, 0x01, // 02:01:4a:00:00:00:00:01
        0x65, 0x53, 0xf1, 0x00, // timestamp 1700000000
        0x00, 0x00, 0x01, 0x2c, // lifetime 300
    ];

    fn req() -> UpdateRequest {
        UpdateRequest {
            sequence: 258,
            prefix: "2001:db8:1:2::/64".parse().unwrap(),
            node: "02:01:4a:00:00:00:00:01".parse().unwrap(),
            timestamp: 1_700_000_000,
            lifetime: 300,
        }
    }

    #[test]
    fn update_request_matches_draft_layout_byte_for_byte() {
        assert_eq!(req().to_vec(), REQ_BYTES);
        assert_eq!(UpdateRequest::decode(&REQ_BYTES).unwrap(), req());
    }

    #[test]
    fn update_request_refuses_every_truncation_and_extra_byte() {
        for n in 0..32 {
            assert!(matches!(
                UpdateRequest::decode(&REQ_BYTES[..n]),
                Err(WireError::Truncated { got, expected: 32, .. }) if got == n
            ));
        }
        let mut long = REQ_BYTES.to_vec();
        long.push(0);
        assert!(matches!(
            UpdateRequest::decode(&long),
            Err(WireError::Oversized { got: 33, .. })
        ));
    }

    #[test]
    fn update_request_refuses_wrong_type_nonzero_code_and_flags() {
        let mut b = REQ_BYTES;
        b[0] = 0x02;
        assert!(matches!(
            UpdateRequest::decode(&b),
            Err(WireError::UnknownType { got: 0x02, .. })
        ));
        let mut b = REQ_BYTES;
        b[1] = 1;
        assert!(matches!(
            UpdateRequest::decode(&b),
            Err(WireError::NonZeroReserved { field: "code", .. })
        ));
        let mut b = REQ_BYTES;
        b[3] = 0x80;
        assert!(matches!(
            UpdateRequest::decode(&b),
            Err(WireError::NonZeroReserved { field: "flags", .. })
        ));
    }

    #[test]
    fn update_reply_layout_and_codes() {
        let r = UpdateReply {
            code: UpdateCode::AuthenticationFailed,
            sequence: 0xdead_beef,
        };
        let b = r.to_vec();
        assert_eq!(b, [0x02, 0x01, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(UpdateReply::decode(&b).unwrap(), r);
        for c in 0..=5u8 {
            assert_eq!(UpdateCode::from_u8(c).unwrap() as u8, c);
        }
        let mut bad = b.clone();
        bad[1] = 6;
        assert_eq!(
            UpdateReply::decode(&bad),
            Err(WireError::UnknownCode {
                message: "Mapping Update Reply",
                code: 6
            })
        );
        let mut bad = b.clone();
        bad[2] = 1;
        assert!(matches!(
            UpdateReply::decode(&bad),
            Err(WireError::NonZeroReserved { .. })
        ));
        let mut bad = b;
        bad[0] = 1;
        assert!(matches!(
            UpdateReply::decode(&bad),
            Err(WireError::UnknownType { .. })
        ));
    }

    #[test]
    fn replay_refusals_map_to_reply_codes() {
        use crate::auth::ReplayWindow;
        let mut w = ReplayWindow::default();
        w.accept(1u32, 5, 100, 100).unwrap();
        assert_eq!(
            UpdateCode::from(w.accept(1, 5, 100, 100).unwrap_err()),
            UpdateCode::ReplayedSequence
        );
        assert_eq!(
            UpdateCode::from(w.accept(1, 6, 0, 100).unwrap_err()),
            UpdateCode::StaleTimestamp
        );
    }
}
