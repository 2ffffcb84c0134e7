//! MA Query and MA Reply (draft §8.3, §8.4), UDP port 7301.
//!
//! Same 32-byte layout as the Mapping Update Request, and the same type
//! values (0x01 / 0x02): the port is what tells them apart.

use super::{Codec, Layout32, WireError, expect_zero};
use crate::addr::{NodeId, Prefix64};

/// A node asks an MA for the current mapping of `node`.
///
/// Layout: type 0x01, code 0, flags 0, sequence, network prefix 0, node ID,
/// timestamp, lifetime 0. The fields the query does not use must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaQuery {
    /// Echoed in the reply. Queries are not authenticated, so pick it at
    /// random: it is what stops an off-path host from forging the answer.
    pub sequence: u32,
    pub node: NodeId,
    /// Sender's clock; informational.
    pub timestamp: u32,
}

impl MaQuery {
    pub const TYPE: u8 = 0x01;
}

impl Codec for MaQuery {
    const NAME: &'static str = "MA Query";
    const LEN: usize = 32;

    fn encode(&self, buf: &mut Vec<u8>) {
        Layout32 {
            msg_type: Self::TYPE,
            code: 0,
            flags: 0,
            sequence: self.sequence,
            prefix: 0,
            node: self.node.to_u64(),
            timestamp: self.timestamp,
            lifetime: 0,
        }
        .encode(buf);
    }

    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let l = Layout32::decode(Self::NAME, Self::TYPE, buf)?;
        expect_zero(Self::NAME, "code", l.code)?;
        expect_zero(Self::NAME, "flags", l.flags)?;
        expect_zero(Self::NAME, "network prefix", l.prefix)?;
        expect_zero(Self::NAME, "lifetime", l.lifetime)?;
        Ok(MaQuery {
            sequence: l.sequence,
            node: NodeId::from_u64(l.node),
            timestamp: l.timestamp,
        })
    }
}

/// The code field of an MA Reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum QueryCode {
    Ok = 0,
    NoMapping = 1,
}

/// What the MA knows about the queried node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryAnswer {
    /// Code 0: the node's current prefix.
    Mapping {
        prefix: Prefix64,
        /// Timestamp of the Mapping Update Request that installed the
        /// mapping, so a receiver can order answers from different sources.
        timestamp: u32,
        /// Seconds the mapping has left.
        lifetime: u32,
    },
    /// Code 1: no mapping exists. Prefix, timestamp and lifetime are zero.
    NoMapping,
}

/// The MA's answer: type 0x02, code, flags 0, the query's sequence number,
/// then prefix, node ID, timestamp and lifetime as in [`QueryAnswer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaReply {
    pub sequence: u32,
    pub node: NodeId,
    pub answer: QueryAnswer,
}

impl MaReply {
    pub const TYPE: u8 = 0x02;

    pub fn code(&self) -> QueryCode {
        match self.answer {
            QueryAnswer::Mapping { .. } => QueryCode::Ok,
            QueryAnswer::NoMapping => QueryCode::NoMapping,
        }
    }
}

impl Codec for MaReply {
    const NAME: &'static str = "MA Reply";
    const LEN: usize = 32;

    fn encode(&self, buf: &mut Vec<u8>) {
        let (prefix, timestamp, lifetime) = match self.answer {
            QueryAnswer::Mapping {
                prefix,
                timestamp,
                lifetime,
            } => (prefix.to_u64(), timestamp, lifetime),
            QueryAnswer::NoMapping => (0, 0, 0),
        };
        Layout32 {
            msg_type: Self::TYPE,
            code: self.code() as u8,
            flags: 0,
            sequence: self.sequence,
            prefix,
            node: self.node.to_u64(),
            timestamp,
            lifetime,
        }
        .encode(buf);
    }

    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let l = Layout32::decode(Self::NAME, Self::TYPE, buf)?;
        expect_zero(Self::NAME, "flags", l.flags)?;
        let answer = match l.code {
            0 => QueryAnswer::Mapping {
                prefix: Prefix64::from_u64(l.prefix),
                timestamp: l.timestamp,
                lifetime: l.lifetime,
            },
            1 => {
                expect_zero(Self::NAME, "network prefix", l.prefix)?;
                expect_zero(Self::NAME, "timestamp", l.timestamp)?;
                expect_zero(Self::NAME, "lifetime", l.lifetime)?;
                QueryAnswer::NoMapping
            }
            code => {
                return Err(WireError::UnknownCode {
                    message: Self::NAME,
                    code,
                });
            }
        };
        Ok(MaReply {
            sequence: l.sequence,
            node: NodeId::from_u64(l.node),
            answer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeId {
        "201:4a00::1".parse().unwrap()
    }

    #[test]
    fn ma_query_layout_has_zero_prefix_and_lifetime() {
        let q = MaQuery {
            sequence: 0x0102_0304,
            node: node(),
            timestamp: 9,
        };
        let b = q.to_vec();
        assert_eq!(b.len(), 32);
        assert_eq!(&b[..8], &[0x01, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(&b[8..16], &[0; 8]);
        assert_eq!(&b[16..24], &[0x02, 0x01, 0x4a, 0, 0, 0, 0, 1]);
        assert_eq!(&b[24..], &[0, 0, 0, 9, 0, 0, 0, 0]);
        assert_eq!(MaQuery::decode(&b).unwrap(), q);
    }

    #[test]
    fn ma_query_with_nonzero_unused_fields_is_refused() {
        let b = MaQuery {
            sequence: 1,
            node: node(),
            timestamp: 0,
        }
        .to_vec();
        for (at, field) in [
            (1, "code"),
            (2, "flags"),
            (15, "network prefix"),
            (31, "lifetime"),
        ] {
            let mut bad = b.clone();
            bad[at] = 1;
            assert_eq!(
                MaQuery::decode(&bad),
                Err(WireError::NonZeroReserved {
                    message: "MA Query",
                    field
                })
            );
        }
    }

    #[test]
    fn ma_reply_round_trips_both_answers() {
        let ok = MaReply {
            sequence: 5,
            node: node(),
            answer: QueryAnswer::Mapping {
                prefix: "2001:db8:a::/64".parse().unwrap(),
                timestamp: 77,
                lifetime: 600,
            },
        };
        let b = ok.to_vec();
        assert_eq!(b[0], 0x02);
        assert_eq!(b[1], 0);
        assert_eq!(MaReply::decode(&b).unwrap(), ok);
        let none = MaReply {
            sequence: 6,
            node: node(),
            answer: QueryAnswer::NoMapping,
        };
        let b = none.to_vec();
        assert_eq!(b[1], 1);
        assert_eq!(none.code(), QueryCode::NoMapping);
        assert_eq!(MaReply::decode(&b).unwrap(), none);
    }

    #[test]
    fn ma_reply_no_mapping_with_a_prefix_is_refused() {
        let mut b = MaReply {
            sequence: 6,
            node: node(),
            answer: QueryAnswer::NoMapping,
        }
        .to_vec();
        b[8] = 0x20;
        assert!(matches!(
            MaReply::decode(&b),
            Err(WireError::NonZeroReserved {
                field: "network prefix",
                ..
            })
        ));
    }

    #[test]
    fn ma_reply_unknown_code_and_query_type_are_refused() {
        let mut b = MaReply {
            sequence: 6,
            node: node(),
            answer: QueryAnswer::NoMapping,
        }
        .to_vec();
        b[1] = 2;
        assert!(matches!(
            MaReply::decode(&b),
            Err(WireError::UnknownCode { code: 2, .. })
        ));
        b[1] = 1;
        b[0] = 0x01;
        assert!(matches!(
            MaReply::decode(&b),
            Err(WireError::UnknownType { got: 1, .. })
        ));
    }
}
