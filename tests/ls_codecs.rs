//! Round-trip and rejection properties of the load-sharing codecs.

use lin6::addr::{NodeId, Prefix64};
use lin6::auth::{Key, TAG_LEN};
use lin6::ls::*;
use proptest::prelude::*;
use std::net::{Ipv6Addr, SocketAddrV6};

fn key() -> Key {
    Key::new(7, vec![0x42; 32]).unwrap()
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn level() -> impl Strategy<Value = ServiceLevel> {
    prop_oneof![Just(ServiceLevel::Normal), Just(ServiceLevel::Premium)]
}

fn ma_entry() -> impl Strategy<Value = MaEntry> {
    (
        ipv6(),
        ipv6(),
        any::<u16>(),
        any::<(bool, bool, bool)>(),
        any::<[u32; 5]>(),
    )
        .prop_map(|(a, c, port, (x, y, z), n)| MaEntry {
            ma_addr: a,
            control: SocketAddrV6::new(c, port, 0, 0),
            flags: MaFlags {
                active: x,
                admin_drained: y,
                ma_draining: z,
            },
            capacity_kbps: n[0],
            normal: n[1],
            premium: n[2],
            load_ppm: n[3],
            remaining_ms: n[4],
        })
}

fn ans_entry() -> impl Strategy<Value = AnsEntry> {
    (any::<u64>(), ipv6(), any::<u32>()).prop_map(|(p, a, s)| AnsEntry {
        prefix: Prefix64::from_u64(p),
        ma_addr: a,
        remaining_s: s,
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (ipv6(), any::<[u32; 4]>(), any::<bool>()).prop_map(|(a, n, d)| Body::from(Heartbeat {
            ma_addr: a,
            capacity_kbps: n[0],
            normal: n[1],
            premium: n[2],
            load_ppm: n[3],
            draining: d,
        })),
        (any::<u32>(), ipv6(), 1u8.., 0u8..=128).prop_map(|(id, a, p, l)| Body::from(RttRequest {
            request_id: id,
            user_addr: a,
            probes: p,
            prefix_len: l,
        })),
        (any::<u32>(), any::<u32>(), 1u8.., any::<bool>()).prop_map(|(id, us, n, up)| {
            Body::from(RttReply {
                request_id: id,
                status: if up {
                    RttStatus::Reachable {
                        mean_us: us,
                        answered: n,
                    }
                } else {
                    RttStatus::Unreachable
                },
            })
        }),
        (any::<u64>(), ipv6()).prop_map(|(n, p)| Body::from(MaRequest {
            node_id: NodeId::from_u64(n),
            pool: p,
        })),
        (1u128.., level()).prop_map(|(a, l)| Body::from(MaReply::Ok {
            ma_addr: Ipv6Addr::from(a),
            level: l,
        })),
        prop_oneof![
            Just(ReplyCode::UnknownNode),
            Just(ReplyCode::NoMaAvailable),
            Just(ReplyCode::RateLimited),
            Just(ReplyCode::Busy)
        ]
        .prop_map(|c| Body::from(MaReply::Refused(c))),
        (
            any::<bool>(),
            proptest::collection::vec(ma_entry(), 0..=MAX_MA_ENTRIES)
        )
            .prop_map(|(full, entries)| Body::from(MatblUpdate { full, entries })),
        (
            any::<bool>(),
            proptest::collection::vec(ans_entry(), 0..=MAX_ANS_ENTRIES)
        )
            .prop_map(|(full, entries)| Body::from(AnstblUpdate { full, entries })),
        Just(Body::from(SyncRequest)),
        (any::<u64>(), level(), ipv6(), ipv6()).prop_map(|(n, l, u, m)| Body::from(MaAssign {
            node_id: NodeId::from_u64(n),
            level: l,
            user_addr: u,
            ma_addr: m,
        })),
    ]
}

fn encode(m: &Message) -> Vec<u8> {
    let k = key();
    m.encode(m.body.msg_type().authenticated().then_some(&k))
        .unwrap()
}

proptest! {
    #[test]
    fn every_message_round_trips(seq: u32, ts: u32, b in body()) {
        let m = Message::new(seq, ts, b);
        let wire = encode(&m);
        prop_assert!(wire.len() <= MAX_DATAGRAM);
        let k = key();
        let back = decode(&wire, |id| (id == k.id).then_some(&k)).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn every_truncation_is_an_error(seq: u32, ts: u32, b in body(), cut in any::<prop::sample::Index>()) {
        let wire = encode(&Message::new(seq, ts, b));
        let n = cut.index(wire.len());
        prop_assert!(Frame::parse(&wire[..n]).is_err());
    }

    #[test]
    fn a_trailing_byte_is_an_error(seq: u32, ts: u32, b in body(), extra: u8) {
        let mut wire = encode(&Message::new(seq, ts, b));
        wire.push(extra);
        prop_assert!(Frame::parse(&wire).is_err());
    }

    #[test]
    fn any_flipped_bit_in_an_authenticated_message_fails(seq: u32, ts: u32, b in body(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        prop_assume!(b.msg_type().authenticated());
        let mut wire = encode(&Message::new(seq, ts, b));
        let i = pos.index(wire.len());
        wire[i] ^= 1 << bit;
        let k = key();
        prop_assert!(decode(&wire, |id| (id == k.id).then_some(&k)).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let k = key();
        let _ = decode(&data, |_| Some(&k));
        if let Ok(f) = Frame::parse(&data) {
            let _ = f.body();
        }
    }

    #[test]
    fn split_tables_fit_and_keep_every_entry(full: bool, entries in proptest::collection::vec(ma_entry(), 0..100), ans in proptest::collection::vec(ans_entry(), 0..200)) {
        let parts = MatblUpdate::split(full, &entries);
        prop_assert!(!parts.is_empty());
        let mut joined = Vec::new();
        for p in parts {
            prop_assert_eq!(p.full, full);
            prop_assert!(p.entries.len() <= MAX_MA_ENTRIES);
            joined.extend(p.entries);
        }
        prop_assert_eq!(joined, entries);
        let parts = AnstblUpdate::split(full, &ans);
        let mut joined = Vec::new();
        for p in parts {
            prop_assert!(p.entries.len() <= MAX_ANS_ENTRIES);
            joined.extend(p.entries);
        }
        prop_assert_eq!(joined, ans);
    }
}

fn hb() -> Message {
    Message::new(
        1,
        2,
        Heartbeat {
            ma_addr: "2001:db8::1".parse().unwrap(),
            capacity_kbps: 100_000,
            normal: 3,
            premium: 1,
            load_ppm: 50_000,
            draining: false,
        },
    )
}

#[test]
fn header_layout_matches_the_documented_offsets() {
    let wire = encode(&hb());
    assert_eq!(wire[0], VERSION);
    assert_eq!(wire[1], 0x01);
    assert_eq!(u16::from_be_bytes([wire[2], wire[3]]), 36);
    assert_eq!(&wire[4..8], &1u32.to_be_bytes());
    assert_eq!(&wire[8..12], &2u32.to_be_bytes());
    assert_eq!(&wire[12..16], &7u32.to_be_bytes());
    assert_eq!(wire.len(), HEADER_LEN + 36 + TAG_LEN);
}

#[test]
fn paper_type_values_are_kept() {
    let values: Vec<u8> = [
        MsgType::Heartbeat,
        MsgType::RttRequest,
        MsgType::RttReply,
        MsgType::MaRequest,
        MsgType::MaReply,
        MsgType::MatblUpdate,
        MsgType::AnstblUpdate,
        MsgType::SyncRequest,
    ]
    .iter()
    .map(|t| *t as u8)
    .collect();
    assert_eq!(values, (1..=8).collect::<Vec<u8>>());
}

#[test]
fn wrong_key_unknown_key_and_missing_key_are_refused() {
    let wire = encode(&hb());
    let other = Key::new(7, vec![0x43; 32]).unwrap();
    assert_eq!(decode(&wire, |_| Some(&other)), Err(LsError::BadTag));
    assert_eq!(decode(&wire, |_| None), Err(LsError::UnknownKey(7)));
    assert_eq!(
        hb().encode(None),
        Err(LsError::KeyRequired(MsgType::Heartbeat))
    );
}

#[test]
fn a_key_with_another_id_does_not_verify_even_with_the_same_secret() {
    let wire = encode(&hb());
    let renamed = Key::new(8, vec![0x42; 32]).unwrap();
    assert!(!Frame::parse(&wire).unwrap().verify(&renamed));
}

#[test]
fn unauthenticated_types_refuse_keys_both_ways() {
    let m = Message::new(
        1,
        1,
        MaRequest {
            node_id: NodeId::from_u64(1),
            pool: Ipv6Addr::LOCALHOST,
        },
    );
    let k = key();
    assert!(matches!(
        m.encode(Some(&k)),
        Err(LsError::UnexpectedKey(..))
    ));
    let mut wire = m.encode(None).unwrap();
    wire[15] = 1;
    assert!(matches!(
        Frame::parse(&wire),
        Err(LsError::UnexpectedKey(..))
    ));
}

#[test]
fn unknown_type_version_and_oversize_are_errors() {
    let mut wire = encode(&hb());
    wire[1] = 0x0a;
    assert_eq!(Frame::parse(&wire).unwrap_err(), LsError::UnknownType(0x0a));
    wire[1] = 0x01;
    wire[0] = 2;
    assert_eq!(Frame::parse(&wire).unwrap_err(), LsError::BadVersion(2));
    let big = vec![0u8; MAX_DATAGRAM + 1];
    assert_eq!(
        Frame::parse(&big).unwrap_err(),
        LsError::Oversized(MAX_DATAGRAM + 1)
    );
}

#[test]
fn a_table_update_with_one_entry_too_many_is_refused_on_both_sides() {
    let e = MaEntry {
        ma_addr: Ipv6Addr::LOCALHOST,
        control: SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 0, 0),
        flags: MaFlags::default(),
        capacity_kbps: 0,
        normal: 0,
        premium: 0,
        load_ppm: 0,
        remaining_ms: 0,
    };
    let m = Message::new(
        1,
        1,
        MatblUpdate {
            full: false,
            entries: vec![e; MAX_MA_ENTRIES + 1],
        },
    );
    assert!(matches!(
        m.encode(Some(&key())),
        Err(LsError::TooManyEntries { .. })
    ));
    // A count byte that claims more than the limit is refused before any entry is read.
    let mut body = vec![0u8, (MAX_MA_ENTRIES + 1) as u8, 0, 0];
    body.resize(4 + 56 * (MAX_MA_ENTRIES + 1), 0);
    assert!(matches!(
        Body::decode(MsgType::MatblUpdate, &body),
        Err(LsError::TooManyEntries { .. })
    ));
}

#[test]
fn ok_reply_with_unspecified_address_is_refused() {
    let mut body = vec![0u8; 20];
    assert!(Body::decode(MsgType::MaReply, &body).is_err());
    body[0] = 2;
    assert_eq!(
        Body::decode(MsgType::MaReply, &body).unwrap(),
        Body::MaReply(MaReply::Refused(ReplyCode::NoMaAvailable))
    );
}
