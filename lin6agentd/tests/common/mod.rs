//! Helpers shared by the agent's integration tests.
#![allow(dead_code)]

use lin6::addr::{NodeId, Prefix64};
use lin6::auth::Key;
use lin6::ls::ServiceLevel;
use lin6::wire::{
    Authenticated, Codec, MaQuery, MaReply, MaybeAuthenticated, UpdateCode, UpdateReply,
    UpdateRequest,
};
use lin6agentd::cache::Cache;
use lin6agentd::db::Store;
use lin6agentd::metrics::Metrics;
use lin6agentd::{Agent, Params};
use std::sync::Arc;
use std::time::Duration;

pub const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const OTHER_SECRET: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub fn node(i: u64) -> NodeId {
    NodeId::from_u64(0x0201_4a00_0000_0000 | i)
}

pub fn prefix(i: u64) -> Prefix64 {
    Prefix64::from_u64(0x2001_0db8_0000_0000 | i)
}

pub fn key(id: u32) -> Key {
    Key::from_hex(id, SECRET).unwrap()
}

pub fn params() -> Params {
    Params {
        replay_window_s: 30,
        max_lifetime_s: 3600,
        default_lifetime_s: 600,
    }
}

pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/agent.db", dir.path().display())
}

pub async fn open(url: &str) -> Store {
    Store::open(url, 4, Duration::from_secs(5)).await.unwrap()
}

pub async fn agent(url: &str) -> Agent {
    Agent::new(
        open(url).await,
        Arc::new(Cache::new(1024)),
        Arc::new(Metrics::default()),
        params(),
        16,
    )
}

pub async fn add(store: &Store, n: NodeId, key_id: u32) {
    store
        .add_subscriber(n, key_id, SECRET, ServiceLevel::Premium, 0)
        .await
        .unwrap();
}

pub fn request(
    n: NodeId,
    k: &Key,
    sequence: u32,
    p: Prefix64,
    timestamp: u32,
    lifetime: u32,
) -> Vec<u8> {
    Authenticated::sign(
        UpdateRequest {
            sequence,
            prefix: p,
            node: n,
            timestamp,
            lifetime,
        },
        k,
    )
    .to_vec()
}

/// The reply's code, and whether it is signed with `k` (and verifies).
pub fn reply_code(bytes: &[u8], k: &Key) -> (UpdateCode, bool) {
    let r = MaybeAuthenticated::<UpdateReply>::decode(bytes).unwrap();
    (r.msg().code, r.verify(k))
}

pub fn query(n: NodeId, sequence: u32) -> Vec<u8> {
    MaQuery {
        sequence,
        node: n,
        timestamp: 0,
    }
    .to_vec()
}

pub fn answer(bytes: &[u8]) -> MaReply {
    MaReply::decode(bytes).unwrap()
}

/// What [`Store::register`]'s one statement must accept and refuse, on
/// either backend: the sequence is compared in the database's own
/// arithmetic (RFC 1982, 32 bits), the subscriber must be enabled, and the
/// key must be the one given. `n` must be a fresh subscriber with `SECRET`.
pub async fn register_statement_checks_freshness_and_key(store: &Store, n: NodeId) {
    let m = |sequence: u32, p: u64| lin6agentd::cache::Mapping {
        prefix: prefix(p),
        timestamp: 1,
        expires_at: 4_000_000_000,
        sequence,
    };
    let reg = |s: u32, p: u64, secret: &'static str| async move {
        store.register(n, 1, secret, &m(s, p), 0).await.unwrap()
    };
    assert!(
        reg(u32::MAX, 1, SECRET).await,
        "first registration: any sequence"
    );
    assert!(!reg(u32::MAX, 2, SECRET).await, "same sequence again");
    assert!(reg(0, 3, SECRET).await, "0 follows 2^32-1");
    assert!(!reg(u32::MAX, 4, SECRET).await, "2^32-1 is older than 0");
    assert!(
        !reg(0x8000_0000, 5, SECRET).await,
        "2^31 ahead is undefined in RFC 1982, refused"
    );
    assert!(reg(0x7fff_ffff, 6, SECRET).await, "2^31-1 ahead is newer");
    assert!(
        !reg(0x8000_0000, 7, OTHER_SECRET).await,
        "not the stored key"
    );
    let stored = store.mapping(n).await.unwrap().unwrap();
    assert_eq!((stored.sequence, stored.prefix), (0x7fff_ffff, prefix(6)));
    let auth = store.subscriber_auth(n).await.unwrap().unwrap();
    assert_eq!(
        auth.last_sequence,
        Some(0x7fff_ffff),
        "replay state advanced"
    );
    // Expired and collected: the replay state outlives the mapping row.
    store.collect_expired(u64::from(u32::MAX)).await.unwrap();
    assert!(store.mapping(n).await.unwrap().is_none());
    assert!(
        !reg(0x7fff_ffff, 8, SECRET).await,
        "replay after collection"
    );
    assert!(reg(0x8000_0000, 9, SECRET).await);
    store.set_enabled(n, false).await.unwrap();
    assert!(!reg(0x8000_0001, 10, SECRET).await, "disabled");
    assert!(store.mapping(n).await.unwrap().is_none());
}
