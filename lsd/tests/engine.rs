//! The state machine driven directly with a made-up clock: no sockets, no
//! sleeping. Covers what is awkward to provoke over real sockets: deadlines,
//! rate limits, relayed state from peers.

use lin6::addr::NodeId;
use lin6::auth::Key;
use lin6::ls::{
    Body, Frame, Heartbeat, MaReply, MaRequest, MatblUpdate, Message, ReplyCode, RttReply,
    RttStatus, ServiceLevel, decode,
};
use lsd::metrics::DropReason;
use lsd::subscribers::ConfigSubscribers;
use lsd::{Config, Lsd, Out, Sock};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::time::Instant;

const SECRET: &str = "00112233445566778899aabbccddeeff";
const NODE: &str = "02:01:4a:00:00:00:00:01";
const UNIX: u32 = 1_800_000_000;

fn key() -> Key {
    Key::from_hex(1, SECRET).unwrap()
}

fn lsd(extra: &str) -> (Lsd, Instant) {
    let cfg = Config::parse(&format!(
        "cluster_key: {{ id: 1, secret_hex: \"{SECRET}\" }}\npeers: [\"[::1]:9311\"]\n\
         subscribers: {{ \"{NODE}\": normal }}\ndecision: {{ rtt_deadline_ms: 500 }}\n{extra}"
    ))
    .unwrap();
    let t0 = Instant::now();
    let subs = Box::new(ConfigSubscribers(cfg.subscribers.clone()));
    (Lsd::new(&cfg, subs, t0, UNIX).unwrap(), t0)
}

fn ma_ctl(n: u16) -> SocketAddr {
    SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 9000 + n)
}

fn ma(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n)
}

fn user(net: u16) -> SocketAddr {
    SocketAddr::new(
        Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, 1).into(),
        5000,
    )
}

fn signed(seq: u32, body: impl Into<Body>) -> Vec<u8> {
    Message::new(seq, UNIX, body).encode(Some(&key())).unwrap()
}

fn heartbeat(s: &mut Lsd, now: Instant, n: u16, seq: u32) {
    let hb = Heartbeat {
        ma_addr: ma(n),
        capacity_kbps: 100_000,
        normal: 0,
        premium: 0,
        load_ppm: 0,
        draining: false,
    };
    s.handle(now, UNIX, Sock::Ls, ma_ctl(n), &signed(seq, hb));
}

fn request(s: &mut Lsd, now: Instant, from: SocketAddr) -> Vec<Out> {
    let req = MaRequest {
        node_id: NODE.parse::<NodeId>().unwrap(),
        pool: Ipv6Addr::UNSPECIFIED,
    };
    let bytes = Message::new(1, UNIX, req).encode(None).unwrap();
    s.handle(now, UNIX, Sock::Ls, from, &bytes)
}

fn replies_to(outs: &[Out], to: SocketAddr) -> Vec<MaReply> {
    outs.iter()
        .filter(|o| o.to == to)
        .filter_map(|o| match Frame::parse(&o.bytes).ok()?.body().ok()? {
            Body::MaReply(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn rtt_request_ids(outs: &[Out]) -> Vec<(SocketAddr, u32)> {
    let k = key();
    outs.iter()
        .filter_map(|o| match decode(&o.bytes, |_| Some(&k)).ok()?.body {
            Body::RttRequest(r) => Some((o.to, r.request_id)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_decision_without_replies_ends_at_its_deadline_with_no_ma_available() {
    let (mut s, t0) = lsd("");
    // The first tick sends the peer its sync request; after that the
    // decision's deadline is the earliest thing to wake for.
    assert!(s.tick(t0, UNIX).iter().any(|o| o.sock == Sock::Peer));
    heartbeat(&mut s, t0, 1, 1);
    let outs = request(&mut s, t0, user(1));
    assert_eq!(rtt_request_ids(&outs).len(), 1);
    assert!(
        replies_to(&outs, user(1)).is_empty(),
        "waits for RTT replies"
    );
    assert_eq!(s.next_wake(), t0 + Duration::from_millis(500));
    assert!(replies_to(&s.tick(t0 + Duration::from_millis(499), UNIX), user(1)).is_empty());
    let outs = s.tick(t0 + Duration::from_millis(500), UNIX);
    assert_eq!(
        replies_to(&outs, user(1)),
        vec![MaReply::Refused(ReplyCode::NoMaAvailable)]
    );
}

#[test]
fn a_late_reply_after_the_deadline_is_counted_as_unsolicited_and_ignored() {
    let (mut s, t0) = lsd("");
    heartbeat(&mut s, t0, 1, 1);
    heartbeat(&mut s, t0, 2, 1);
    let ids = rtt_request_ids(&request(&mut s, t0, user(1)));
    assert_eq!(ids.len(), 2);
    let reply = |id| RttReply {
        request_id: id,
        status: RttStatus::Reachable {
            mean_us: 10,
            answered: 4,
        },
    };
    // MA 2 answers in time; MA 1 only after the deadline.
    let (to2, id2) = ids
        .iter()
        .copied()
        .find(|(to, _)| *to == ma_ctl(2))
        .unwrap();
    s.handle(t0, UNIX, Sock::Ls, to2, &signed(2, reply(id2)));
    let outs = s.tick(t0 + Duration::from_millis(500), UNIX);
    assert_eq!(
        replies_to(&outs, user(1)),
        vec![MaReply::Ok {
            ma_addr: ma(2),
            level: ServiceLevel::Normal
        }]
    );
    let late = Duration::from_millis(600);
    s.handle(
        t0 + late,
        UNIX,
        Sock::Ls,
        ma_ctl(1),
        &signed(2, reply(ids[0].1)),
    );
    assert_eq!(s.metrics().drops(DropReason::UnsolicitedRtt), 1);
    assert_eq!(
        s.answers().get(
            t0 + late,
            lin6::addr::Prefix64::of(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1))
        ),
        Some(ma(2))
    );
}

#[test]
fn requests_over_the_per_prefix_rate_are_refused_and_other_networks_are_not() {
    let (mut s, t0) = lsd("rate_limits: { requests_per_prefix: { rate_per_s: 1, burst: 2 } }\n");
    heartbeat(&mut s, t0, 1, 1);
    request(&mut s, t0, user(1));
    request(&mut s, t0, user(1));
    let third = request(&mut s, t0, user(1));
    assert_eq!(
        replies_to(&third, user(1)),
        vec![MaReply::Refused(ReplyCode::RateLimited)]
    );
    assert_eq!(s.metrics().drops(DropReason::RateLimited), 1);
    // Another /64 has its own allowance.
    assert_eq!(rtt_request_ids(&request(&mut s, t0, user(2))).len(), 1);
}

#[test]
fn the_global_probe_budget_bounds_rtt_requests_across_all_networks() {
    let (mut s, t0) = lsd("rate_limits: { probes_total: { rate_per_s: 1, burst: 4 } }\n");
    for n in 1..=3 {
        heartbeat(&mut s, t0, n, 1);
    }
    // Each decision costs three probes: the first fits, the second does not.
    assert_eq!(rtt_request_ids(&request(&mut s, t0, user(1))).len(), 3);
    let outs = request(&mut s, t0, user(2));
    assert!(rtt_request_ids(&outs).is_empty());
    assert_eq!(
        replies_to(&outs, user(2)),
        vec![MaReply::Refused(ReplyCode::RateLimited)]
    );
}

#[test]
fn a_peer_saying_an_ma_is_inactive_drops_its_answers_here() {
    let (mut s, t0) = lsd("");
    heartbeat(&mut s, t0, 1, 1);
    let ids = rtt_request_ids(&request(&mut s, t0, user(1)));
    let reply = RttReply {
        request_id: ids[0].1,
        status: RttStatus::Reachable {
            mean_us: 10,
            answered: 4,
        },
    };
    let outs = s.handle(t0, UNIX, Sock::Ls, ma_ctl(1), &signed(2, reply));
    assert_eq!(replies_to(&outs, user(1)).len(), 1);
    assert_eq!(s.answers().len(), 1);
    // The decision was relayed to the peer.
    assert!(outs.iter().any(|o| o.sock == Sock::Peer));
    let mut entry = s.ma_table().to_entry(t0, &ma(1)).unwrap();
    entry.flags.active = false;
    let peer: SocketAddr = "[::1]:9311".parse().unwrap();
    let upd = MatblUpdate {
        full: false,
        entries: vec![entry],
    };
    s.handle(t0, UNIX, Sock::Peer, peer, &signed(1, upd));
    assert!(!s.ma_table().get(&ma(1)).unwrap().active);
    assert_eq!(s.answers().len(), 0);
}

#[test]
fn a_stale_timestamp_is_dropped_as_a_replay() {
    let (mut s, t0) = lsd("");
    let hb = Heartbeat {
        ma_addr: ma(1),
        capacity_kbps: 1,
        normal: 0,
        premium: 0,
        load_ppm: 0,
        draining: false,
    };
    let old = Message::new(1, UNIX - 3600, hb)
        .encode(Some(&key()))
        .unwrap();
    s.handle(t0, UNIX, Sock::Ls, ma_ctl(1), &old);
    assert!(s.ma_table().is_empty());
    assert_eq!(s.metrics().drops(DropReason::Replay), 1);
}

#[test]
fn an_accepted_heartbeat_is_acknowledged_to_the_ma_with_its_entry_and_a_forged_one_is_not() {
    let (mut s, t0) = lsd("");
    let hb = Heartbeat {
        ma_addr: ma(1),
        capacity_kbps: 100_000,
        normal: 3,
        premium: 1,
        load_ppm: 0,
        draining: false,
    };
    let outs = s.handle(t0, UNIX, Sock::Ls, ma_ctl(1), &signed(10, hb));
    let k = key();
    let acks: Vec<MatblUpdate> = outs
        .iter()
        .filter(|o| o.to == ma_ctl(1) && o.sock == Sock::Ls)
        .filter_map(|o| match decode(&o.bytes, |_| Some(&k)).ok()?.body {
            Body::MatblUpdate(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1, "{outs:?}");
    let e = acks[0].entries[0];
    assert_eq!((e.ma_addr, e.flags.active), (ma(1), true));
    let wrong = Key::from_hex(1, "ffeeddccbbaa99887766554433221100").unwrap();
    let forged = Message::new(11, UNIX, hb).encode(Some(&wrong)).unwrap();
    assert!(s.handle(t0, UNIX, Sock::Ls, ma_ctl(1), &forged).is_empty());
}

#[test]
fn metrics_show_users_per_level_on_active_mas_and_drained_mas() {
    let (mut s, t0) = lsd("");
    let hb = Heartbeat {
        ma_addr: ma(1),
        capacity_kbps: 100_000,
        normal: 3,
        premium: 1,
        load_ppm: 0,
        draining: false,
    };
    s.handle(t0, UNIX, Sock::Ls, ma_ctl(1), &signed(10, hb));
    s.set_drained(ma(1), true);
    s.tick(t0 + Duration::from_millis(1100), UNIX);
    let text = s.metrics().render();
    assert!(text.contains("lsd_users{level=\"normal\"} 3\n"), "{text}");
    assert!(text.contains("lsd_users{level=\"premium\"} 1\n"), "{text}");
    assert!(text.contains("lsd_ma_drained 1\n"), "{text}");
}

#[test]
fn a_repeated_request_gets_the_same_ma_and_is_counted_once_though_its_own_count_filled_it() {
    let (mut s, t0) = lsd("");
    // MA 1 has room for one normal user (500 of 0.9 x 1000 kbit/s), MA 2
    // for many; MA 1 is the nearer.
    for (n, capacity_kbps) in [(1, 1000), (2, 100_000)] {
        let hb = Heartbeat {
            ma_addr: ma(n),
            capacity_kbps,
            normal: 0,
            premium: 0,
            load_ppm: 0,
            draining: false,
        };
        s.handle(t0, UNIX, Sock::Ls, ma_ctl(n), &signed(1, hb));
    }
    // The decision ends when the last MA answers.
    let mut outs = Vec::new();
    for (to, id) in rtt_request_ids(&request(&mut s, t0, user(1))) {
        let mean_us = if to == ma_ctl(1) { 10 } else { 20 };
        let status = RttStatus::Reachable {
            mean_us,
            answered: 4,
        };
        let reply = RttReply {
            request_id: id,
            status,
        };
        outs.extend(s.handle(t0, UNIX, Sock::Ls, to, &signed(2, reply)));
    }
    let sent_to_ma1 = MaReply::Ok {
        ma_addr: ma(1),
        level: ServiceLevel::Normal,
    };
    assert_eq!(replies_to(&outs, user(1)), vec![sent_to_ma1]);

    // The user's resolver asks again (its reply was late, or lost): MA 1
    // now looks full for normal users, by this user's own count.
    let outs = request(&mut s, t0 + Duration::from_millis(600), user(1));
    assert!(rtt_request_ids(&outs).is_empty(), "no second decision");
    assert_eq!(replies_to(&outs, user(1)), vec![sent_to_ma1]);
    assert!(
        outs.iter().any(|o| o.to == ma_ctl(1)),
        "MA 1 hears of the user again (a renewal there)"
    );
    s.tick(t0 + Duration::from_millis(1100), UNIX);
    let text = s.metrics().render();
    assert!(text.contains("lsd_users{level=\"normal\"} 1\n"), "{text}");
    assert!(text.contains("lsd_repeated_requests_total 1\n"), "{text}");

    // From another network it is a user that moved: decided afresh, and
    // MA 1 has no room left for it.
    let outs = request(&mut s, t0 + Duration::from_millis(1200), user(2));
    assert_eq!(rtt_request_ids(&outs).len(), 1, "only MA 2 is asked");
}

fn sync_requests(outs: &[Out]) -> usize {
    outs.iter()
        .filter(|o| {
            o.sock == Sock::Peer
                && matches!(
                    Frame::parse(&o.bytes).map(|f| f.body()),
                    Ok(Ok(Body::SyncRequest(_)))
                )
        })
        .count()
}

/// A restarted LS hears its peer's relays as soon as its socket is bound
/// (the MAs heartbeat the peer twice a second each). Such a relay, handled
/// before or after the first sync request, is not the peer's answer: the
/// requests go on until the peer's FULL dump arrives.
#[test]
fn a_relay_from_the_peer_does_not_stand_for_the_answer_to_the_sync_request() {
    let (mut s, t0) = lsd("peering: { retry_interval_ms: 100, max_tries: 5 }");
    let peer: SocketAddr = "[::1]:9311".parse().unwrap();
    let relay = |seq: u32| {
        let mut other = lsd("").0;
        heartbeat(&mut other, t0, 7, 1);
        let upd = MatblUpdate {
            full: false,
            entries: vec![other.ma_table().to_entry(t0, &ma(7)).unwrap()],
        };
        signed(seq, upd)
    };
    // The relay is handled before the first tick.
    s.handle(t0, UNIX, Sock::Peer, peer, &relay(1));
    assert_eq!(sync_requests(&s.tick(t0, UNIX)), 1);
    s.handle(t0, UNIX, Sock::Peer, peer, &relay(2));
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(sync_requests(&s.tick(t1, UNIX)), 1, "retried after a relay");
    // The peer's answer: its whole tables, FULL.
    let full = MatblUpdate {
        full: true,
        entries: vec![],
    };
    s.handle(t1, UNIX, Sock::Peer, peer, &signed(3, full));
    let t2 = t0 + Duration::from_millis(200);
    assert_eq!(
        sync_requests(&s.tick(t2, UNIX)),
        0,
        "answered: no more requests"
    );
    assert_eq!(s.peers().up_count(), 1);
}

/// A restarted LS starts its sequence from the clock; for receivers to take
/// it, the old one must not have run ahead of the clock. It does not: a
/// quiet second brings it back to the clock's value.
#[test]
fn the_sequence_never_falls_behind_the_clock() {
    let (mut s, t0) = lsd("");
    let seq_of = |outs: &[Out]| Frame::parse(&outs[0].bytes).unwrap().header.sequence;
    let first = seq_of(&s.tick(t0, UNIX));
    // Many messages in one second (each heartbeat is acknowledged).
    for i in 0..3000 {
        heartbeat(&mut s, t0, 1, i + 1);
    }
    let later = seq_of(&s.tick(t0 + Duration::from_secs(10), UNIX + 10));
    assert_eq!(later, (UNIX + 10).wrapping_mul(1000));
    assert!(lin6::auth::serial_newer(later, first.wrapping_add(3000)));
}
