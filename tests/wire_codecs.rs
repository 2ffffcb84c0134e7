//! Property tests for the LIN6 message codecs: every codec round-trips, every
//! decoder survives arbitrary bytes, and whatever decodes re-encodes to the
//! same bytes (the canonical-decoding property the HMAC check relies on).

use lin6::addr::{NodeId, Prefix64};
use lin6::auth::Key;
use lin6::wire::{
    Authenticated, Codec, MaQuery, MaReply, MappingRefresh, MaybeAuthenticated, QueryAnswer,
    UpdateCode, UpdateReply, UpdateRequest, WireError,
};
use proptest::prelude::*;

fn node() -> impl Strategy<Value = NodeId> {
    any::<u64>().prop_map(NodeId::from_u64)
}

fn prefix() -> impl Strategy<Value = Prefix64> {
    any::<u64>().prop_map(Prefix64::from_u64)
}

fn update_request() -> impl Strategy<Value = UpdateRequest> {
    (any::<u32>(), prefix(), node(), any::<u32>(), any::<u32>()).prop_map(
        |(sequence, prefix, node, timestamp, lifetime)| UpdateRequest {
            sequence,
            prefix,
            node,
            timestamp,
            lifetime,
        },
    )
}

fn update_code() -> impl Strategy<Value = UpdateCode> {
    (0u8..=5).prop_map(|c| UpdateCode::from_u8(c).unwrap())
}

fn update_reply() -> impl Strategy<Value = UpdateReply> {
    (update_code(), any::<u32>()).prop_map(|(code, sequence)| UpdateReply { code, sequence })
}

fn ma_query() -> impl Strategy<Value = MaQuery> {
    (any::<u32>(), node(), any::<u32>()).prop_map(|(sequence, node, timestamp)| MaQuery {
        sequence,
        node,
        timestamp,
    })
}

fn ma_reply() -> impl Strategy<Value = MaReply> {
    let answer = prop_oneof![
        Just(QueryAnswer::NoMapping),
        (prefix(), any::<u32>(), any::<u32>()).prop_map(|(prefix, timestamp, lifetime)| {
            QueryAnswer::Mapping {
                prefix,
                timestamp,
                lifetime,
            }
        }),
    ];
    (any::<u32>(), node(), answer).prop_map(|(sequence, node, answer)| MaReply {
        sequence,
        node,
        answer,
    })
}

fn refresh() -> impl Strategy<Value = MappingRefresh> {
    (node(), any::<u32>()).prop_map(|(node, timestamp)| MappingRefresh { node, timestamp })
}

fn key() -> impl Strategy<Value = Key> {
    (any::<u32>(), proptest::collection::vec(any::<u8>(), 16..64))
        .prop_map(|(id, secret)| Key::new(id, secret).unwrap())
}

/// Encodes, checks the size, decodes, and checks identity.
fn round_trip<M: Codec + PartialEq + std::fmt::Debug>(m: &M) -> Result<(), TestCaseError> {
    let bytes = m.to_vec();
    prop_assert_eq!(bytes.len(), M::LEN);
    let back = M::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, m);
    Ok(())
}

/// Decoding arbitrary bytes must not panic, and anything accepted must
/// re-encode to exactly the input.
fn canonical<M: Codec>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = M::decode(bytes) {
        prop_assert_eq!(m.to_vec(), bytes);
    }
    Ok(())
}

/// Arbitrary bytes of a given length, often close to a valid message: the
/// first byte is usually one of the real types so decoders get past the type
/// check and the reserved-field checks are exercised.
fn near_valid(len: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(1u8), Just(2u8), Just(3u8), any::<u8>()],
        proptest::collection::vec(prop_oneof![3 => Just(0u8), 1 => any::<u8>()], len),
    )
        .prop_map(|(t, mut v)| {
            if let Some(first) = v.first_mut() {
                *first = t;
            }
            v
        })
}

proptest! {
    #[test]
    fn update_request_round_trips(m in update_request()) {
        round_trip(&m)?;
    }

    #[test]
    fn update_reply_round_trips(m in update_reply()) {
        round_trip(&m)?;
    }

    #[test]
    fn ma_query_round_trips(m in ma_query()) {
        round_trip(&m)?;
    }

    #[test]
    fn ma_reply_round_trips(m in ma_reply()) {
        round_trip(&m)?;
    }

    #[test]
    fn mapping_refresh_round_trips(m in refresh()) {
        round_trip(&m)?;
    }

    #[test]
    fn signed_update_request_round_trips_and_verifies(m in update_request(), k in key()) {
        let a = Authenticated::sign(m, &k);
        round_trip(&a)?;
        let back = Authenticated::<UpdateRequest>::decode(&a.to_vec()).unwrap();
        prop_assert!(back.verify(&k));
        prop_assert_eq!(back.into_verified(&k).unwrap(), m);
    }

    #[test]
    fn signed_update_request_with_any_single_bit_flipped_is_refused(
        m in update_request(),
        k in key(),
        bit in 0usize..68 * 8,
    ) {
        let mut bytes = Authenticated::sign(m, &k).to_vec();
        bytes[bit / 8] ^= 1 << (bit % 8);
        if let Ok(d) = Authenticated::<UpdateRequest>::decode(&bytes) {
            prop_assert!(!d.verify(&k));
            let refused = matches!(d.into_verified(&k), Err(WireError::BadAuth { .. }));
            prop_assert!(refused);
        }
    }

    #[test]
    fn signed_update_reply_round_trips_through_maybe_authenticated(
        m in update_reply(),
        k in key(),
        signed in any::<bool>(),
    ) {
        let bytes = if signed { Authenticated::sign(m, &k).to_vec() } else { m.to_vec() };
        let d = MaybeAuthenticated::<UpdateReply>::decode(&bytes).unwrap();
        prop_assert_eq!(d.msg(), m);
        prop_assert_eq!(d.verify(&k), signed);
        let mut again = Vec::new();
        d.encode(&mut again);
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        canonical::<UpdateRequest>(&bytes)?;
        canonical::<Authenticated<UpdateRequest>>(&bytes)?;
        canonical::<UpdateReply>(&bytes)?;
        canonical::<Authenticated<UpdateReply>>(&bytes)?;
        canonical::<MaQuery>(&bytes)?;
        canonical::<MaReply>(&bytes)?;
        canonical::<MappingRefresh>(&bytes)?;
        if let Ok(m) = MaybeAuthenticated::<UpdateReply>::decode(&bytes) {
            let mut v = Vec::new();
            m.encode(&mut v);
            prop_assert_eq!(v, bytes);
        }
    }

    #[test]
    fn near_valid_32_byte_datagrams_decode_canonically(bytes in near_valid(32)) {
        canonical::<UpdateRequest>(&bytes)?;
        canonical::<MaQuery>(&bytes)?;
        canonical::<MaReply>(&bytes)?;
    }

    #[test]
    fn near_valid_short_datagrams_decode_canonically(
        bytes16 in near_valid(16),
        bytes8 in near_valid(8),
        bytes68 in near_valid(68),
        bytes44 in near_valid(44),
    ) {
        canonical::<MappingRefresh>(&bytes16)?;
        canonical::<UpdateReply>(&bytes8)?;
        canonical::<Authenticated<UpdateRequest>>(&bytes68)?;
        canonical::<Authenticated<UpdateReply>>(&bytes44)?;
    }

    #[test]
    fn wrong_sized_datagrams_are_refused_with_size_errors(
        m in update_request(),
        cut in 0usize..32,
        extra in 1usize..64,
    ) {
        let bytes = m.to_vec();
        let truncated = matches!(
            UpdateRequest::decode(&bytes[..cut]),
            Err(WireError::Truncated { .. })
        );
        prop_assert!(truncated);
        let mut long = bytes.clone();
        long.resize(32 + extra, 0);
        let oversized = matches!(UpdateRequest::decode(&long), Err(WireError::Oversized { .. }));
        prop_assert!(oversized);
    }
}

#[test]
fn update_request_and_ma_query_share_type_1_and_differ_only_by_port() {
    // The draft gives both type 0x01; a query is a well-formed update body,
    // which is why the two services must not share a port.
    let q = MaQuery {
        sequence: 1,
        node: NodeId::from_u64(2),
        timestamp: 3,
    };
    let as_update = UpdateRequest::decode(&q.to_vec()).unwrap();
    assert_eq!(as_update.prefix, Prefix64::from_u64(0));
    assert_eq!(as_update.lifetime, 0);
    assert_ne!(lin6::wire::PORT_MA_REGISTRATION, lin6::wire::PORT_MA_QUERY);
    assert_ne!(lin6::wire::PORT_MA_QUERY, lin6::wire::PORT_RESOLVD);
}
