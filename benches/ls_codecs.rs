//! Encode and decode cost of the load-sharing messages, including the HMAC
//! that dominates the authenticated ones, and the largest table update.

use criterion::{Criterion, criterion_group, criterion_main};
use lin6::addr::{NodeId, Prefix64};
use lin6::auth::Key;
use lin6::ls::*;
use std::hint::black_box;
use std::net::{Ipv6Addr, SocketAddrV6};

fn key() -> Key {
    Key::new(1, vec![0x42; 32]).unwrap()
}

fn heartbeat() -> Message {
    Message::new(
        1,
        2,
        Heartbeat {
            ma_addr: "2001:db8::1".parse().unwrap(),
            capacity_kbps: 100_000,
            normal: 12,
            premium: 3,
            load_ppm: 120_000,
            draining: false,
        },
    )
}

fn ma_request() -> Message {
    Message::new(
        1,
        2,
        MaRequest {
            node_id: NodeId::from_u64(0x0201_4a00_0000_0001),
            pool: "3ffe:501:1830:1999::1".parse().unwrap(),
        },
    )
}

fn full_matbl() -> Message {
    let e = MaEntry {
        ma_addr: "2001:db8::1".parse().unwrap(),
        control: SocketAddrV6::new(Ipv6Addr::LOCALHOST, 7310, 0, 0),
        flags: MaFlags {
            active: true,
            ..MaFlags::default()
        },
        capacity_kbps: 100_000,
        normal: 1,
        premium: 2,
        load_ppm: 3,
        remaining_ms: 4,
    };
    Message::new(
        1,
        2,
        MatblUpdate {
            full: true,
            entries: vec![e; MAX_MA_ENTRIES],
        },
    )
}

fn full_anstbl() -> Message {
    let e = AnsEntry {
        prefix: Prefix64::from_u64(0x2001_0db8_0000_0001),
        ma_addr: "2001:db8::1".parse().unwrap(),
        remaining_s: 100,
    };
    Message::new(
        1,
        2,
        AnstblUpdate {
            full: true,
            entries: vec![e; MAX_ANS_ENTRIES],
        },
    )
}

fn bench(c: &mut Criterion) {
    let k = key();
    let cases = [
        ("heartbeat", heartbeat(), Some(&k)),
        ("ma_request", ma_request(), None),
        ("matbl_update_full", full_matbl(), Some(&k)),
        ("anstbl_update_full", full_anstbl(), Some(&k)),
    ];
    for (name, msg, key) in cases {
        let wire = msg.encode(key).unwrap();
        c.bench_function(&format!("ls/encode/{name}"), |b| {
            b.iter(|| black_box(&msg).encode(key).unwrap())
        });
        c.bench_function(&format!("ls/decode/{name}"), |b| {
            b.iter(|| decode(black_box(&wire), |_| Some(&k)).unwrap())
        });
    }
    let wire = heartbeat().encode(Some(&k)).unwrap();
    c.bench_function("ls/parse_only/heartbeat", |b| {
        b.iter(|| Frame::parse(black_box(&wire)).unwrap().header)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
