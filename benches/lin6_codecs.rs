//! Encode/decode cost of each LIN6 message and of HMAC sign/verify.
//! Run: cargo bench -p lin6 --bench lin6_codecs

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lin6::auth::{Key, sign, verify};
use lin6::wire::{
    Authenticated, Codec, MaQuery, MaReply, MappingRefresh, MaybeAuthenticated, QueryAnswer,
    UpdateCode, UpdateReply, UpdateRequest,
};

fn key() -> Key {
    Key::new(1, *b"benchmark-secret-32-bytes-long!!").unwrap()
}

fn request() -> UpdateRequest {
    UpdateRequest {
        sequence: 1,
        prefix: "2001:db8:1:2::/64".parse().unwrap(),
        node: "201:4a00::1".parse().unwrap(),
        timestamp: 1_700_000_000,
        lifetime: 300,
    }
}

fn bench_codec<M: Codec>(c: &mut Criterion, name: &str, m: &M) {
    let mut buf = Vec::with_capacity(M::LEN);
    c.bench_function(&format!("{name}/encode"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(m).encode(&mut buf);
            black_box(&buf);
        })
    });
    let bytes = m.to_vec();
    c.bench_function(&format!("{name}/decode"), |b| {
        b.iter(|| M::decode(black_box(&bytes)).is_ok())
    });
}

fn codecs(c: &mut Criterion) {
    let k = key();
    bench_codec(c, "update_request", &request());
    bench_codec(
        c,
        "update_request_signed",
        &Authenticated::sign(request(), &k),
    );
    let reply = UpdateReply {
        code: UpdateCode::Ok,
        sequence: 1,
    };
    bench_codec(c, "update_reply", &reply);
    bench_codec(c, "update_reply_signed", &Authenticated::sign(reply, &k));
    bench_codec(
        c,
        "ma_query",
        &MaQuery {
            sequence: 1,
            node: request().node,
            timestamp: 1,
        },
    );
    bench_codec(
        c,
        "ma_reply",
        &MaReply {
            sequence: 1,
            node: request().node,
            answer: QueryAnswer::Mapping {
                prefix: request().prefix,
                timestamp: 1,
                lifetime: 300,
            },
        },
    );
    bench_codec(
        c,
        "mapping_refresh",
        &MappingRefresh {
            node: request().node,
            timestamp: 1,
        },
    );
}

fn auth(c: &mut Criterion) {
    let k = key();
    let body = request().to_vec();
    let tag = sign(&k, &[&body, &k.id.to_be_bytes()]);
    c.bench_function("hmac/sign_36_bytes", |b| {
        b.iter(|| sign(black_box(&k), &[black_box(&body), &k.id.to_be_bytes()]))
    });
    c.bench_function("hmac/verify_36_bytes", |b| {
        b.iter(|| {
            verify(
                black_box(&k),
                &[black_box(&body), &k.id.to_be_bytes()],
                &tag,
            )
        })
    });
    let signed = Authenticated::sign(request(), &k).to_vec();
    c.bench_function("update_request_signed/decode_and_verify", |b| {
        b.iter(|| {
            Authenticated::<UpdateRequest>::decode(black_box(&signed))
                .map(|a| a.verify(&k))
                .unwrap_or(false)
        })
    });
    let reply = Authenticated::sign(
        UpdateReply {
            code: UpdateCode::Ok,
            sequence: 1,
        },
        &k,
    )
    .to_vec();
    c.bench_function("update_reply_signed/decode_and_verify", |b| {
        b.iter(|| {
            MaybeAuthenticated::<UpdateReply>::decode(black_box(&reply))
                .map(|a| a.verify(&k))
                .unwrap_or(false)
        })
    });
}

criterion_group!(benches, codecs, auth);
criterion_main!(benches);
