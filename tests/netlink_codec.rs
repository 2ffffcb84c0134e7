//! Properties of the netlink client's pure half: every typed message
//! round-trips through its attribute bytes, whole datagrams frame and
//! deframe, and no decoder panics on arbitrary or corrupted bytes.

use std::net::Ipv6Addr;
use std::num::NonZeroU32;

use lin6::addr::{NodeId, Prefix64};
use lin6::netlink::codec::{self, AttrWriter, Attrs, Message};
use lin6::netlink::{
    Event, Lifetime, MapNew, Mapping, MissReason, Node, NodeSet, Stats, decode_events, uapi,
};
use proptest::prelude::*;

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<u64>().prop_map(NodeId::from_u64)
}

fn prefix() -> impl Strategy<Value = Prefix64> {
    any::<u64>().prop_map(Prefix64::from_u64)
}

fn addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from_bits)
}

fn mapping() -> impl Strategy<Value = Mapping> {
    (
        node_id(),
        prefix(),
        any::<u32>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(n, p, l, s, pool)| Mapping {
            node_id: n,
            prefix: p,
            lifetime: l,
            is_static: s,
            pool,
        })
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (node_id(), addr(), any::<u32>(), any::<u32>()).prop_map(|(n, a, q, r)| Event::Miss {
            node_id: n,
            address: a,
            queue_len: q,
            reason: MissReason::from_u32(r),
        }),
        (
            proptest::option::of(addr()),
            proptest::option::of(addr()),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(o, n, i)| Event::Prefix {
                old_locator: o,
                new_locator: n,
                ifindex: i,
            }),
    ]
}

/// A kernel-to-user generic netlink message as the kernel frames it.
fn kernel_msg(family: u16, seq: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut m = codec::genl_request(family, 0, seq, cmd, uapi::FAMILY_VERSION as u8, attrs);
    // The kernel does not set NLM_F_REQUEST on what it sends.
    m[6] &= !1;
    m.resize(codec::align4(m.len()), 0);
    m
}

proptest! {
    #[test]
    fn mapping_round_trips(m in mapping()) {
        prop_assert_eq!(Mapping::parse(&m.to_attrs()).unwrap(), m);
    }

    #[test]
    fn map_new_round_trips(n in node_id(), p in prefix(), l in any::<u32>(), pool in any::<bool>()) {
        let lifetime = NonZeroU32::new(l).map_or(Lifetime::Static, Lifetime::Seconds);
        let m = MapNew { node_id: n, prefix: p, lifetime, pool };
        prop_assert_eq!(MapNew::parse(&m.to_attrs()).unwrap(), m);
    }

    #[test]
    fn node_round_trips(
        id in proptest::option::of(node_id()),
        lp in proptest::option::of(prefix()),
        loc in proptest::option::of(addr()),
        capacity in any::<u32>(),
        count in any::<u32>(),
    ) {
        let n = Node { node_id: id, lin6_prefix: lp, locator: loc, capacity, count };
        prop_assert_eq!(Node::parse(&n.to_attrs()).unwrap(), n);
    }

    #[test]
    fn node_set_round_trips_and_needs_no_pad(
        id in proptest::option::of(node_id()),
        lp in proptest::option::of(prefix()),
        loc in proptest::option::of(addr()),
    ) {
        let s = NodeSet { node_id: id, lin6_prefix: lp, locator: loc };
        let b = s.to_attrs();
        // The module's policy refuses pad attributes in requests.
        prop_assert!(Attrs::new(&b).all(|a| a.unwrap().ty != uapi::attr::PAD));
        prop_assert_eq!(NodeSet::parse(&b).unwrap(), s);
    }

    #[test]
    fn stats_round_trip(v in proptest::array::uniform17(any::<u64>())) {
        let s = Stats {
            translated_out: v[0], translated_in: v[1], misses: v[2], queued: v[3],
            sent_from_queue: v[4], drop_no_mapping: v[5], drop_queue_full: v[6],
            drop_queue_timeout: v[7], drop_no_locator: v[8], drop_untranslated: v[9],
            drop_malformed: v[10], cycles: v[11], cycles_packets: v[12],
            flows_pinned: v[13], flow_evictions: v[14], drop_no_route: v[15],
            drop_queue_send: v[16],
        };
        prop_assert_eq!(Stats::parse(&s.to_attrs()).unwrap(), s);
    }

    #[test]
    fn events_round_trip_through_a_datagram(evs in proptest::collection::vec(event(), 0..8)) {
        let family = 0x2a;
        let mut dgram = Vec::new();
        for e in &evs {
            let (c, a) = e.to_message();
            dgram.extend(kernel_msg(family, 0, c, &a));
        }
        // Another family's message in the same datagram is skipped.
        dgram.extend(kernel_msg(family + 1, 0, uapi::cmd::MISS_NTF, &[]));
        let got: Vec<Event> = decode_events(family, &dgram)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(got, evs);
    }

    #[test]
    fn request_framing_round_trips(cmd in any::<u8>(), seq in any::<u32>(), m in mapping()) {
        let attrs = m.to_attrs();
        let req = codec::genl_request(0x30, codec::NLM_F_ACK, seq, cmd, 1, &attrs);
        let msgs: Vec<_> = codec::messages(&req).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(msgs.len(), 1);
        let Message::Genl { header, cmd: c, attrs: a, .. } = &msgs[0] else {
            return Err(TestCaseError::fail("not a genl message"));
        };
        prop_assert_eq!(header.seq, seq);
        prop_assert_eq!(header.ty, 0x30);
        prop_assert_eq!(header.flags, codec::NLM_F_ACK | codec::NLM_F_REQUEST);
        prop_assert_eq!(*c, cmd);
        prop_assert_eq!(*a, &attrs[..]);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(
        b in proptest::collection::vec(any::<u8>(), 0..512),
        cmd in any::<u8>(),
        family in any::<u16>(),
    ) {
        let _ = Node::parse(&b);
        let _ = NodeSet::parse(&b);
        let _ = Mapping::parse(&b);
        let _ = MapNew::parse(&b);
        let _ = Stats::parse(&b);
        let _ = Event::parse(cmd, &b);
        let _ = codec::parse_family(&b);
        let _ = decode_events(family, &b);
        for a in Attrs::new(&b).flatten() {
            let _ = a.str();
            for n in a.nested().flatten() {
                let _ = n.u64();
            }
        }
        for m in codec::messages(&b).flatten() {
            if let Message::Genl { cmd, attrs, .. } = m {
                let _ = Event::parse(cmd, attrs);
                let _ = Mapping::parse(attrs);
            }
        }
    }

    #[test]
    fn corrupted_messages_never_panic(
        e in event(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (c, a) = e.to_message();
        let mut m = kernel_msg(0x2a, 0, c, &a);
        for (i, v) in flips {
            let i = i.index(m.len());
            m[i] ^= v;
        }
        let keep = cut.index(m.len() + 1);
        let _ = decode_events(0x2a, &m[..keep]);
        let _ = decode_events(0x2a, &m);
    }

    #[test]
    fn error_messages_with_any_body_never_panic(
        flags in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let len = (codec::NLMSG_HDRLEN + body.len()) as u32;
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&codec::NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&body);
        let _ = codec::messages(&m).count();
        m[4..6].copy_from_slice(&codec::NLMSG_DONE.to_ne_bytes());
        let _ = codec::messages(&m).count();
    }
}

#[test]
fn an_error_after_a_reply_in_one_datagram_is_seen() {
    // A dump part followed by DONE carrying an errno and an extack message.
    let m = Mapping {
        node_id: NodeId::from_u64(0x0201_4a00_0000_0001),
        prefix: "2001:db8:a::/64".parse().unwrap(),
        lifetime: 0,
        is_static: true,
        pool: false,
    };
    let mut d = kernel_msg(0x2a, 9, uapi::cmd::MAP_GET, &m.to_attrs());
    let mut tlv = AttrWriter::at(0);
    tlv.put_strz(
        codec::NLMSGERR_ATTR_MSG,
        "lin6: no state for this namespace",
    );
    let tlv = tlv.into_bytes();
    let len = (codec::NLMSG_HDRLEN + 4 + tlv.len()) as u32;
    d.extend_from_slice(&len.to_ne_bytes());
    d.extend_from_slice(&codec::NLMSG_DONE.to_ne_bytes());
    d.extend_from_slice(&(codec::NLM_F_MULTI | codec::NLM_F_ACK_TLVS).to_ne_bytes());
    d.extend_from_slice(&9u32.to_ne_bytes());
    d.extend_from_slice(&0u32.to_ne_bytes());
    d.extend_from_slice(&(-19i32).to_ne_bytes());
    d.extend_from_slice(&tlv);
    let msgs: Vec<_> = codec::messages(&d).collect::<Result<_, _>>().unwrap();
    assert!(matches!(msgs[0], Message::Genl { .. }));
    let Message::Done { ack, .. } = &msgs[1] else {
        panic!("{msgs:?}")
    };
    assert_eq!(ack.errno, 19);
    assert_eq!(
        ack.msg.as_deref(),
        Some("lin6: no state for this namespace")
    );
}
