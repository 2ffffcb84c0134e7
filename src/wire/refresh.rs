//! Mapping Refresh (draft §8.5), UDP port 7302.

use super::{Codec, WireError, be32, be64, exact, expect_type, expect_zero};
use crate::addr::NodeId;

/// A moving node tells a correspondent that its mapping changed.
///
/// Layout (16 bytes): type 0x03, 24 reserved bits (zero), node ID, timestamp.
/// The draft left the type open; 0x03 keeps it apart from the 0x01/0x02 of
/// the other messages should a datagram reach the wrong port.
///
/// Not authenticated: the receiver does not take the new locator from the
/// sender but re-queries the node's MA, so a forged refresh can at worst
/// cause one MA Query (receivers rate-limit these per node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MappingRefresh {
    pub node: NodeId,
    /// Sender's clock, seconds since the Unix epoch modulo 2^32.
    pub timestamp: u32,
}

impl MappingRefresh {
    pub const TYPE: u8 = 0x03;
}

impl Codec for MappingRefresh {
    const NAME: &'static str = "Mapping Refresh";
    const LEN: usize = 16;

    fn encode(&self, buf: &mut Vec<u8>) {
        buf.reserve(Self::LEN);
        buf.extend_from_slice(&[Self::TYPE, 0, 0, 0]);
        buf.extend_from_slice(&self.node.to_bytes());
        buf.extend_from_slice(&self.timestamp.to_be_bytes());
    }

    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let b = exact::<16>(Self::NAME, buf)?;
        expect_type(Self::NAME, b[0], Self::TYPE)?;
        expect_zero(Self::NAME, "reserved", [b[1], b[2], b[3]])?;
        Ok(MappingRefresh {
            node: NodeId::from_u64(be64(b, 4)),
            timestamp: be32(b, 12),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_layout_is_16_bytes() {
        let r = MappingRefresh {
            node: "02:01:4a:00:00:00:00:02".parse().unwrap(),
            timestamp: 0x0a0b_0c0d,
        };
        let b = r.to_vec();
        assert_eq!(
            b,
            [
                3, 0, 0, 0, 2, 1, 0x4a, 0, 0, 0, 0, 2, 0x0a, 0x0b, 0x0c, 0x0d
            ]
        );
        assert_eq!(MappingRefresh::decode(&b).unwrap(), r);
    }

    #[test]
    fn refresh_with_reserved_bit_set_is_refused() {
        let b = MappingRefresh {
            node: NodeId::from_u64(1),
            timestamp: 0,
        }
        .to_vec();
        for at in 1..4 {
            for bit in 0..8 {
                let mut bad = b.clone();
                bad[at] ^= 1 << bit;
                assert!(matches!(
                    MappingRefresh::decode(&bad),
                    Err(WireError::NonZeroReserved {
                        field: "reserved",
                        ..
                    })
                ));
            }
        }
    }

    #[test]
    fn refresh_wrong_size_or_type_is_refused() {
        let b = MappingRefresh {
            node: NodeId::from_u64(1),
            timestamp: 0,
        }
        .to_vec();
        assert!(matches!(
            MappingRefresh::decode(&b[..15]),
            Err(WireError::Truncated { .. })
        ));
        let mut long = b.clone();
        long.extend_from_slice(&[0; 36]);
        assert!(matches!(
            MappingRefresh::decode(&long),
            Err(WireError::Oversized { .. })
        ));
        let mut bad = b;
        bad[0] = 0x01;
        assert!(matches!(
            MappingRefresh::decode(&bad),
            Err(WireError::UnknownType { .. })
        ));
    }
}
