//! The registration and query core against a real SQLite file: every reply
//! code, what each refusal leaves unchanged, lifetimes, and restart.

mod common;

use common::*;
use lin6::auth::Key;
use lin6::ls::ServiceLevel;
use lin6::wire::{QueryAnswer, UpdateCode};
use lin6agentd::metrics::{Metrics, Reject};
use lin6agentd::{Agent, QueryOutcome};
use std::sync::Arc;
use std::time::Duration;

const NOW: u64 = 1_800_000_000;
const TS: u32 = NOW as u32;

fn mapping_of(a: &lin6::wire::MaReply) -> Option<(lin6::addr::Prefix64, u32)> {
    match a.answer {
        QueryAnswer::Mapping {
            prefix, lifetime, ..
        } => Some((prefix, lifetime)),
        QueryAnswer::NoMapping => None,
    }
}

#[tokio::test]
async fn valid_registration_gets_signed_ok_and_query_returns_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&sqlite_url(&dir)).await;
    add(a.store(), node(1), 1).await;
    let r = a
        .register(NOW, &request(node(1), &key(1), 10, prefix(1), TS, 300))
        .await
        .unwrap();
    assert_eq!(r.len(), 44, "a verified request gets a signed reply");
    assert_eq!(reply_code(&r, &key(1)), (UpdateCode::Ok, true));
    let q = answer(&a.query(NOW + 1, &query(node(1), 77)).await.unwrap());
    assert_eq!(q.sequence, 77);
    assert_eq!(q.node, node(1));
    assert_eq!(mapping_of(&q), Some((prefix(1), 299)));
    assert_eq!(Metrics::get(&a.metrics().registrations_accepted), 1);
}

/// An agent on a fresh SQLite database in `dir` whose subscriber node(1)
/// (key 1) has registered prefix(1) with sequence 10.
async fn agent_with_node_1_registered(dir: &tempfile::TempDir) -> Agent {
    let a = agent(&sqlite_url(dir)).await;
    add(a.store(), node(1), 1).await;
    let ok = a
        .register(NOW, &request(node(1), &key(1), 10, prefix(1), TS, 300))
        .await
        .unwrap();
    assert_eq!(reply_code(&ok, &key(1)).0, UpdateCode::Ok);
    a
}

/// Registers prefix(1) for node(1), then checks that `bad` is refused with
/// `code` (signed or not as given) and the mapping is still prefix(1).
async fn refused_and_unchanged(bad: Vec<u8>, now: u64, code: UpdateCode, signed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let a = agent_with_node_1_registered(&dir).await;
    let r = a.register(now, &bad).await.unwrap();
    assert_eq!(reply_code(&r, &key(1)), (code, signed));
    assert_eq!(r.len(), if signed { 44 } else { 8 });
    let q = answer(&a.query(NOW, &query(node(1), 1)).await.unwrap());
    assert_eq!(
        mapping_of(&q).map(|m| m.0),
        Some(prefix(1)),
        "mapping unchanged"
    );
    let db = a.store().mapping(node(1)).await.unwrap().unwrap();
    assert_eq!(db.prefix, prefix(1));
    assert_eq!(db.sequence, 10);
    assert_eq!(a.metrics().rejected(Reject::of_code(code).unwrap()), 1);
}

#[tokio::test]
async fn wrong_key_gets_code_1_unsigned_and_mapping_unchanged() {
    let wrong = Key::from_hex(1, OTHER_SECRET).unwrap();
    let bad = request(node(1), &wrong, 11, prefix(2), TS, 300);
    refused_and_unchanged(bad, NOW, UpdateCode::AuthenticationFailed, false).await;
}

#[tokio::test]
async fn unknown_key_id_gets_code_1() {
    let bad = request(node(1), &key(2), 11, prefix(2), TS, 300);
    refused_and_unchanged(bad, NOW, UpdateCode::AuthenticationFailed, false).await;
}

#[tokio::test]
async fn replayed_sequence_gets_code_5_signed_and_mapping_unchanged() {
    // Same sequence as the accepted request, different prefix: a replay
    // with a twist, signed with the right key.
    let bad = request(node(1), &key(1), 10, prefix(2), TS, 300);
    refused_and_unchanged(bad.clone(), NOW, UpdateCode::ReplayedSequence, true).await;
    let older = request(node(1), &key(1), 9, prefix(2), TS, 300);
    refused_and_unchanged(older, NOW, UpdateCode::ReplayedSequence, true).await;
}

#[tokio::test]
async fn stale_timestamp_gets_code_4_signed_and_mapping_unchanged() {
    let bad = request(node(1), &key(1), 11, prefix(2), TS - 31, 300);
    refused_and_unchanged(bad, NOW, UpdateCode::StaleTimestamp, true).await;
    let future = request(node(1), &key(1), 11, prefix(2), TS + 31, 300);
    refused_and_unchanged(future, NOW, UpdateCode::StaleTimestamp, true).await;
}

#[tokio::test]
async fn unknown_node_gets_code_2_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&sqlite_url(&dir)).await;
    let r = a
        .register(NOW, &request(node(9), &key(1), 1, prefix(1), TS, 300))
        .await
        .unwrap();
    assert_eq!(reply_code(&r, &key(1)), (UpdateCode::UnknownNode, false));
    assert!(a.store().mapping(node(9)).await.unwrap().is_none());
    assert_eq!(a.metrics().rejected(Reject::UnknownNode), 1);
}

#[tokio::test]
async fn disabled_subscriber_gets_code_3_and_loses_its_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let a = agent(&url).await;
    add(a.store(), node(1), 1).await;
    a.register(NOW, &request(node(1), &key(1), 10, prefix(1), TS, 300))
        .await
        .unwrap();
    // The operator's command runs in another process: its own connection.
    let cli = open(&url).await;
    cli.set_enabled(node(1), false).await.unwrap();
    let r = a
        .register(NOW, &request(node(1), &key(1), 11, prefix(2), TS, 300))
        .await
        .unwrap();
    assert_eq!(
        reply_code(&r, &key(1)),
        (UpdateCode::SubscriberDisabled, false)
    );
    assert!(a.store().mapping(node(1)).await.unwrap().is_none());
    // The change log brings the withdrawal to the running agent's cache.
    lin6agentd::coherence::poll_once(&a, 0).await.unwrap();
    let q = answer(&a.query(NOW, &query(node(1), 1)).await.unwrap());
    assert_eq!(q.answer, QueryAnswer::NoMapping);
    // Enabled again, it registers again, and the replay state survived.
    cli.set_enabled(node(1), true).await.unwrap();
    let again = a
        .register(NOW, &request(node(1), &key(1), 11, prefix(2), TS, 300))
        .await
        .unwrap();
    assert_eq!(reply_code(&again, &key(1)).0, UpdateCode::Ok);
    let replay = a
        .register(NOW, &request(node(1), &key(1), 10, prefix(1), TS, 300))
        .await
        .unwrap();
    assert_eq!(reply_code(&replay, &key(1)).0, UpdateCode::ReplayedSequence);
}

#[tokio::test]
async fn malformed_datagrams_are_dropped_without_reply() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&sqlite_url(&dir)).await;
    add(a.store(), node(1), 1).await;
    let good = request(node(1), &key(1), 1, prefix(1), TS, 300);
    assert!(a.register(NOW, &good[..32]).await.is_none(), "unsigned");
    assert!(a.register(NOW, &good[..67]).await.is_none(), "truncated");
    let mut long = good.clone();
    long.push(0);
    assert!(a.register(NOW, &long).await.is_none(), "oversized");
    assert!(a.query(NOW, &[0x01; 31]).await.is_none());
    assert_eq!(a.metrics().rejected(Reject::Malformed), 3);
    assert_eq!(Metrics::get(&a.metrics().queries_malformed), 1);
    assert!(a.store().mapping(node(1)).await.unwrap().is_none());
}

#[tokio::test]
async fn mapping_expires_after_its_lifetime_and_lifetime_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&sqlite_url(&dir)).await;
    add(a.store(), node(1), 1).await;
    add(a.store(), node(2), 1).await;
    a.register(NOW, &request(node(1), &key(1), 1, prefix(1), TS, 10))
        .await
        .unwrap();
    let q1 = query(node(1), 5);
    let at = |t| a.query(t, &q1);
    assert_eq!(
        mapping_of(&answer(&at(NOW + 4).await.unwrap())),
        Some((prefix(1), 6))
    );
    assert_eq!(
        mapping_of(&answer(&at(NOW + 9).await.unwrap())),
        Some((prefix(1), 1))
    );
    assert_eq!(
        answer(&at(NOW + 10).await.unwrap()).answer,
        QueryAnswer::NoMapping
    );
    // Collected from the database too, and still no mapping afterwards.
    a.housekeeping(NOW + 10).await.unwrap();
    assert!(a.store().mapping(node(1)).await.unwrap().is_none());
    lin6agentd::coherence::poll_once(&a, 0).await.unwrap();
    assert_eq!(
        answer(&at(NOW + 11).await.unwrap()).answer,
        QueryAnswer::NoMapping
    );

    // A day asked, an hour granted (max_lifetime_s).
    a.register(NOW, &request(node(2), &key(1), 1, prefix(2), TS, 86_400))
        .await
        .unwrap();
    let q = answer(&a.query(NOW, &query(node(2), 1)).await.unwrap());
    assert_eq!(mapping_of(&q), Some((prefix(2), 3600)));
    // Lifetime 0 withdraws at once.
    let r = a
        .register(NOW, &request(node(2), &key(1), 2, prefix(2), TS, 0))
        .await
        .unwrap();
    assert_eq!(reply_code(&r, &key(1)).0, UpdateCode::Ok);
    let q = answer(&a.query(NOW, &query(node(2), 1)).await.unwrap());
    assert_eq!(q.answer, QueryAnswer::NoMapping);
}

#[tokio::test]
async fn restart_keeps_mappings_and_replay_state() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let first = request(node(1), &key(1), 500, prefix(1), TS, 600);
    {
        let a = agent(&url).await;
        add(a.store(), node(1), 1).await;
        let r = a.register(NOW, &first).await.unwrap();
        assert_eq!(reply_code(&r, &key(1)).0, UpdateCode::Ok);
        a.store().close().await;
    }
    // A new agent: empty cache, same file.
    let b = agent(&url).await;
    assert!(b.cache().is_empty());
    let q = answer(&b.query(NOW + 100, &query(node(1), 3)).await.unwrap());
    assert_eq!(mapping_of(&q), Some((prefix(1), 500)));
    // The captured request, replayed within the timestamp window, is
    // refused: the sequence it carries was recorded before the restart.
    let r = b.register(NOW + 5, &first).await.unwrap();
    assert_eq!(
        reply_code(&r, &key(1)),
        (UpdateCode::ReplayedSequence, true)
    );
    let r = b
        .register(
            NOW + 5,
            &request(node(1), &key(1), 501, prefix(3), TS + 5, 600),
        )
        .await
        .unwrap();
    assert_eq!(reply_code(&r, &key(1)).0, UpdateCode::Ok);
    let q = answer(&b.query(NOW + 5, &query(node(1), 3)).await.unwrap());
    assert_eq!(mapping_of(&q).map(|m| m.0), Some(prefix(3)));
}

#[tokio::test]
async fn query_miss_goes_to_database_once_then_hits_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let a = agent(&url).await;
    add(a.store(), node(1), 1).await;
    // Unknown node: no mapping, and absence is not cached.
    for _ in 0..2 {
        let q = answer(&a.query(NOW, &query(node(42), 9)).await.unwrap());
        assert_eq!(q.answer, QueryAnswer::NoMapping);
        assert_eq!(q.sequence, 9);
    }
    assert_eq!(Metrics::get(&a.metrics().cache_misses), 2);
    // Registered through another agent on the same file: this one has not
    // seen it, reads it from the database, and from then on from memory.
    let other = agent(&url).await;
    other
        .register(NOW, &request(node(1), &key(1), 1, prefix(1), TS, 300))
        .await
        .unwrap();
    let q = answer(&a.query(NOW, &query(node(1), 1)).await.unwrap());
    assert_eq!(mapping_of(&q).map(|m| m.0), Some(prefix(1)));
    assert_eq!(Metrics::get(&a.metrics().cache_misses), 3);
    let q = answer(&a.query(NOW, &query(node(1), 2)).await.unwrap());
    assert_eq!(mapping_of(&q).map(|m| m.0), Some(prefix(1)));
    assert_eq!(Metrics::get(&a.metrics().cache_misses), 3);
    assert!(Metrics::get(&a.metrics().cache_hits) >= 1);
    assert_eq!(Metrics::get(&a.metrics().queries_found), 2);
    assert_eq!(Metrics::get(&a.metrics().queries_not_found), 2);
}

#[tokio::test]
async fn subscriber_del_from_another_process_reaches_the_cache_via_change_log() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let a = agent(&url).await;
    add(a.store(), node(1), 1).await;
    let last = a.store().last_change_id().await.unwrap();
    a.register(NOW, &request(node(1), &key(1), 1, prefix(1), TS, 300))
        .await
        .unwrap();
    assert!(a.cache().get(node(1)).is_some(), "written through");
    open(&url).await.delete_subscriber(node(1)).await.unwrap();
    lin6agentd::coherence::poll_once(&a, last).await.unwrap();
    assert!(a.cache().get(node(1)).is_none());
    let q = answer(&a.query(NOW, &query(node(1), 1)).await.unwrap());
    assert_eq!(q.answer, QueryAnswer::NoMapping);
    let r = a
        .register(NOW, &request(node(1), &key(1), 2, prefix(1), TS, 300))
        .await
        .unwrap();
    assert_eq!(reply_code(&r, &key(1)).0, UpdateCode::UnknownNode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_request_at_two_agents_at_once_is_accepted_exactly_once() {
    // Two agents on one file stand for replicas: the replay state advances
    // by compare-and-set, so a request captured and sent to both at once
    // still gets through only once.
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let (a, b) = (agent(&url).await, agent(&url).await);
    add(a.store(), node(1), 1).await;
    for seq in 1..=20u32 {
        let req = request(node(1), &key(1), seq, prefix(u64::from(seq)), TS, 300);
        let (ra, rb) = tokio::join!(a.register(NOW, &req), b.register(NOW, &req));
        let mut codes = [
            reply_code(&ra.unwrap(), &key(1)).0,
            reply_code(&rb.unwrap(), &key(1)).0,
        ];
        codes.sort_by_key(|c| *c as u8);
        assert_eq!(
            codes,
            [UpdateCode::Ok, UpdateCode::ReplayedSequence],
            "sequence {seq}"
        );
    }
    let m = a.store().mapping(node(1)).await.unwrap().unwrap();
    assert_eq!((m.sequence, m.prefix), (20, prefix(20)));
}

/// An agent whose node(1) has registered prefix(1) (sequence 10), and a
/// second connection holding the database's write lock, so that the next
/// registration verifies and then cannot commit until the test says so.
async fn agent_with_the_database_locked(
    dir: &tempfile::TempDir,
) -> (Arc<Agent>, sqlx::SqliteConnection) {
    use sqlx::Connection;
    let url = sqlite_url(dir);
    let a = Arc::new(agent_with_node_1_registered(dir).await);
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    (a, other)
}

fn register_in_background(
    a: &Arc<Agent>,
    req: Vec<u8>,
) -> tokio::task::JoinHandle<Option<Vec<u8>>> {
    let a = a.clone();
    tokio::spawn(async move { a.register(NOW, &req).await })
}

/// A query for a node whose registration has verified, and is newer than
/// what the agent knew of the node, is answered with the new locator at
/// once, while the database is still writing it: the correspondent does
/// not wait for the commit on the handover's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_during_a_fresh_registration_gets_the_new_locator_before_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (a, mut other) = agent_with_the_database_locked(&dir).await;
    let reg = register_in_background(&a, request(node(1), &key(1), 11, prefix(2), TS, 300));
    let mut waited = 0;
    let early = loop {
        match a.answer_from_cache(NOW + 1, &query(node(1), 78)) {
            QueryOutcome::Reply(r) if mapping_of(&r).map(|m| m.0) == Some(prefix(2)) => break r,
            QueryOutcome::Reply(_) => {}
            other => panic!("expected an answer from memory, got {other:?}"),
        }
        assert!(waited < 200, "the registration never became pending");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    };
    assert_eq!(early.sequence, 78);
    assert!(!reg.is_finished(), "answered before the commit");
    assert_eq!(Metrics::get(&a.metrics().queries_early), 1);
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let r = reg.await.unwrap().unwrap();
    assert_eq!(reply_code(&r, &key(1)), (UpdateCode::Ok, true));
    let db = a.store().mapping(node(1)).await.unwrap().unwrap();
    assert_eq!((db.prefix, db.sequence), (prefix(2), 11));
}

/// A replayed registration (its sequence not newer than the cached
/// mapping's) verifies, since its signature is genuine, but gives queries
/// nothing early: they wait for the database's verdict, which refuses it,
/// and get the mapping the node really has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_registration_is_not_answered_early_and_queries_keep_the_true_locator() {
    let dir = tempfile::tempdir().unwrap();
    let (a, mut other) = agent_with_the_database_locked(&dir).await;
    let reg = register_in_background(&a, request(node(1), &key(1), 10, prefix(2), TS, 300));
    let mut waited = 0;
    while !matches!(
        a.answer_from_cache(NOW, &query(node(1), 1)),
        QueryOutcome::Wait(..)
    ) {
        assert!(waited < 200, "the replay never became pending");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    let q = {
        let a = a.clone();
        tokio::spawn(async move { a.query(NOW + 1, &query(node(1), 79)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!q.is_finished(), "the query must wait for the verdict");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let r = reg.await.unwrap().unwrap();
    assert_eq!(
        reply_code(&r, &key(1)),
        (UpdateCode::ReplayedSequence, true)
    );
    let q = answer(&q.await.unwrap().unwrap());
    assert_eq!(q.sequence, 79);
    assert_eq!(mapping_of(&q).map(|m| m.0), Some(prefix(1)));
    assert_eq!(Metrics::get(&a.metrics().queries_early), 0);
    // And with nothing pending, straight from the cache.
    assert!(matches!(
        a.answer_from_cache(NOW, &query(node(1), 2)),
        QueryOutcome::Reply(_)
    ));
}

#[tokio::test]
async fn sqlite_register_statement_checks_freshness_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&sqlite_url(&dir)).await;
    add(&store, node(1), 1).await;
    register_statement_checks_freshness_and_key(&store, node(1)).await;
}

/// The agent remembers a node's key after its first registration; a key
/// replaced since (`subscriber del`, then `add` with the same key ID) must
/// win over the remembered one, both ways.
#[tokio::test]
async fn replaced_key_is_refused_although_the_agent_remembered_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent_with_node_1_registered(&dir).await;
    a.store().delete_subscriber(node(1)).await.unwrap();
    a.store()
        .add_subscriber(node(1), 1, OTHER_SECRET, ServiceLevel::Normal, 0)
        .await
        .unwrap();
    let old = a
        .register(NOW, &request(node(1), &key(1), 11, prefix(2), TS, 300))
        .await
        .unwrap();
    assert_eq!(
        reply_code(&old, &key(1)),
        (UpdateCode::AuthenticationFailed, false)
    );
    assert!(a.store().mapping(node(1)).await.unwrap().is_none());
    let new_key = Key::from_hex(1, OTHER_SECRET).unwrap();
    let new = a
        .register(NOW, &request(node(1), &new_key, 12, prefix(3), TS, 300))
        .await
        .unwrap();
    assert_eq!(reply_code(&new, &new_key), (UpdateCode::Ok, true));
    assert_eq!(
        a.store().mapping(node(1)).await.unwrap().map(|m| m.prefix),
        Some(prefix(3))
    );
}
