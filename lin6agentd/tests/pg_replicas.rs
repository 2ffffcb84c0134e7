//! lin6agentd on a real PostgreSQL server, with replicas sharing it.
//!
//! Needs DATABASE_URL pointing at a server where it may CREATE DATABASE
//! (each test makes its own). `tests/pg/run-pg-tests.sh` starts a throwaway
//! server from Debian's packages and runs these with
//! LIN6AGENTD_REQUIRE_PG=1, which turns a missing server into a failure
//! instead of a skip.

mod common;

use common::*;
use lin6::addr::{NodeId, Prefix64};
use lin6::wire::{QueryAnswer, UpdateCode};
use lin6agentd::db::Store;
use lin6agentd::metrics::Metrics;
use lin6agentd::{Config, Running, unix_now};
use sqlx::Connection;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::time::timeout;

fn pg_admin_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => Some(u),
        _ => {
            if std::env::var("LIN6AGENTD_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("LIN6AGENTD_REQUIRE_PG=1 but DATABASE_URL is not a postgres:// URL");
            }
            // Straight to stderr, not eprintln!: the test harness captures
            // eprintln! output of passing tests, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n\
                 ##########################################################################\n\
                 ##  SKIPPED: lin6agentd PostgreSQL test - DATABASE_URL is not set.       ##\n\
                 ##  Run lin6agentd/tests/pg/run-pg-tests.sh to run it against a real     ##\n\
                 ##  PostgreSQL server (it installs and starts one).                      ##\n\
                 ##########################################################################\n"
            );
            None
        }
    }
}

/// `admin` with its database name replaced by `db`.
fn with_database(admin: &str, db: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut url = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// A fresh database for one test, so tests can run in parallel.
async fn fresh_database(admin: &str, tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "lin6_{tag}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        unix_now()
    );
    let mut c = sqlx::postgres::PgConnection::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    with_database(admin, &name)
}

async fn start_agent(url: &str) -> Running {
    let mut cfg = Config::default();
    cfg.database.url = url.to_string();
    cfg.registration_listen = "[::1]:0".parse().unwrap();
    cfg.query_listen = "[::1]:0".parse().unwrap();
    cfg.query.workers = 1;
    lin6agentd::spawn(cfg).await.unwrap()
}

/// One request, one reply, or `None` after `wait`.
async fn ask(to: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("[::1]:0").await.unwrap();
    s.send_to(bytes, to).await.unwrap();
    let mut buf = [0u8; 128];
    match timeout(wait, s.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

async fn prefix_at(to: SocketAddr, n: NodeId) -> Option<Prefix64> {
    let r = ask(to, &query(n, 1), Duration::from_secs(2))
        .await
        .expect("query answered");
    match answer(&r).answer {
        QueryAnswer::Mapping { prefix, .. } => Some(prefix),
        QueryAnswer::NoMapping => None,
    }
}

async fn wait_for(to: SocketAddr, n: NodeId, want: Option<Prefix64>) -> Duration {
    let t0 = Instant::now();
    while prefix_at(to, n).await != want {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{n} still not {want:?} after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    t0.elapsed()
}

#[test]
fn database_name_is_replaced_in_tcp_and_socket_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:54329/postgres", "x"),
        "postgres://postgres@127.0.0.1:54329/x"
    );
    assert_eq!(
        with_database("postgres:///postgres?host=/tmp/pg&user=postgres", "x"),
        "postgres:///x?host=/tmp/pg&user=postgres"
    );
    assert_eq!(with_database("postgresql://u@h", "x"), "postgresql://u@h/x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_replica_answers_registration_made_at_the_other_at_once_and_follows_changes() {
    let Some(admin) = pg_admin_url() else { return };
    let url = fresh_database(&admin, "coherent").await;
    let a = start_agent(&url).await;
    let b = start_agent(&url).await;
    add(a.agent.store(), node(1), 1).await;
    let wait = Duration::from_secs(2);
    let now = unix_now() as u32;

    // Registered at A, asked at B straight after A's reply.
    let first = request(node(1), &key(1), 100, prefix(1), now, 600);
    let r = ask(a.registration_addr, &first, wait).await.unwrap();
    assert_eq!(reply_code(&r, &key(1)), (UpdateCode::Ok, true));
    assert_eq!(prefix_at(b.query_addr, node(1)).await, Some(prefix(1)));
    assert!(b.agent.cache().get(node(1)).is_some(), "B cached it");

    // The node moves, registering at A again: B's cached copy is replaced
    // by the NOTIFY, not by expiry.
    let applied = Metrics::get(&b.agent.metrics().changes_applied);
    let r = ask(
        a.registration_addr,
        &request(node(1), &key(1), 101, prefix(2), now, 600),
        wait,
    )
    .await
    .unwrap();
    assert_eq!(reply_code(&r, &key(1)).0, UpdateCode::Ok);
    let t0 = Instant::now();
    while b.agent.cache().get(node(1)).map(|m| m.prefix) != Some(prefix(2)) {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "no NOTIFY within 2 s"
        );
        tokio::task::yield_now().await;
    }
    eprintln!(
        "B's cache followed A's update {:?} after A's reply",
        t0.elapsed()
    );
    wait_for(b.query_addr, node(1), Some(prefix(2))).await;
    assert_eq!(
        b.agent.cache().get(node(1)).map(|m| m.prefix),
        Some(prefix(2))
    );
    assert!(Metrics::get(&b.agent.metrics().changes_applied) > applied);

    // Replay state is shared: A's first request replayed to B is refused.
    let r = ask(b.registration_addr, &first, wait).await.unwrap();
    assert_eq!(
        reply_code(&r, &key(1)),
        (UpdateCode::ReplayedSequence, true)
    );
    assert_eq!(prefix_at(a.query_addr, node(1)).await, Some(prefix(2)));

    // A request sent to both replicas at once is accepted by exactly one.
    for seq in 200..210u32 {
        let req = request(node(1), &key(1), seq, prefix(u64::from(seq)), now, 600);
        let (ra, rb) = tokio::join!(
            ask(a.registration_addr, &req, wait),
            ask(b.registration_addr, &req, wait)
        );
        let mut codes = [
            reply_code(&ra.unwrap(), &key(1)).0 as u8,
            reply_code(&rb.unwrap(), &key(1)).0 as u8,
        ];
        codes.sort();
        assert_eq!(
            codes,
            [UpdateCode::Ok as u8, UpdateCode::ReplayedSequence as u8],
            "sequence {seq}"
        );
    }
    wait_for(b.query_addr, node(1), Some(prefix(209))).await;

    // An operator deletes the subscriber from a third process: both
    // replicas drop the cached mapping.
    let cli = Store::open(&url, 1, Duration::from_secs(5)).await.unwrap();
    cli.delete_subscriber(node(1)).await.unwrap();
    wait_for(a.query_addr, node(1), None).await;
    wait_for(b.query_addr, node(1), None).await;
    assert!(b.agent.cache().get(node(1)).is_none());
    cli.close().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn pg_register_statement_checks_freshness_and_key() {
    let Some(admin) = pg_admin_url() else { return };
    let url = fresh_database(&admin, "statement").await;
    let store = open(&url).await;
    add(&store, node(1), 1).await;
    register_statement_checks_freshness_and_key(&store, node(1)).await;
    store.close().await;
}

/// How long the test's nodes wait for an MA before going on at the next.
/// Generous, so that a slow CI machine does not fail over while both MAs
/// are alive (a query could then reach a replica a few milliseconds before
/// the notification of the registration it is checking).
const FAILOVER_AFTER: Duration = Duration::from_secs(1);

/// What a node does (lin6resolvd): register at the first MA it lists, and
/// when that one does not answer, go on at the next.
struct Node {
    id: NodeId,
    sequence: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_replica_killed_mid_run_every_registration_and_query_goes_on_at_the_other() {
    let Some(admin) = pg_admin_url() else { return };
    let url = fresh_database(&admin, "failover").await;
    let a = start_agent(&url).await;
    let b = start_agent(&url).await;
    const NODES: u64 = 40;
    const ROUNDS: u32 = 6;
    for i in 1..=NODES {
        add(a.agent.store(), node(i), 1).await;
    }
    let reg_mas = [a.registration_addr, b.registration_addr];
    let query_mas = [a.query_addr, b.query_addr];
    let b_query = b.query_addr;
    let accepted = Arc::new(AtomicUsize::new(0));

    let acc = accepted.clone();
    let client = tokio::spawn(async move {
        let mut nodes: Vec<Node> = (1..=NODES)
            .map(|i| Node {
                id: node(i),
                sequence: 1000 * i as u32,
            })
            .collect();
        let (mut reg_at, mut query_at) = (0usize, 0usize);
        let mut failovers = 0;
        // What each node last had accepted: the mapping that must survive.
        let mut expected = vec![None; NODES as usize];
        for round in 0..ROUNDS {
            for (i, n) in nodes.iter_mut().enumerate() {
                let p = prefix((i as u64) << 8 | u64::from(round));
                loop {
                    n.sequence += 1;
                    let req = request(n.id, &key(1), n.sequence, p, unix_now() as u32, 600);
                    match ask(reg_mas[reg_at], &req, FAILOVER_AFTER).await {
                        Some(r) => {
                            assert_eq!(reply_code(&r, &key(1)), (UpdateCode::Ok, true));
                            break;
                        }
                        None => {
                            // A fresh sequence for the retry, as a real node
                            // does: the dead MA may have committed the last.
                            reg_at = (reg_at + 1) % reg_mas.len();
                            failovers += 1;
                        }
                    }
                }
                expected[i] = Some(p);
                acc.fetch_add(1, Ordering::SeqCst);
                // Whoever answers queries must know it at once.
                loop {
                    match ask(query_mas[query_at], &query(n.id, round), FAILOVER_AFTER).await {
                        Some(r) => {
                            match answer(&r).answer {
                                QueryAnswer::Mapping { prefix, .. } => {
                                    assert_eq!(prefix, p, "{} round {round}: stale answer", n.id)
                                }
                                QueryAnswer::NoMapping => {
                                    panic!("{} round {round}: mapping lost", n.id)
                                }
                            }
                            break;
                        }
                        None => {
                            query_at = (query_at + 1) % query_mas.len();
                            failovers += 1;
                        }
                    }
                }
            }
        }
        (expected, failovers)
    });

    // Kill A mid-run: after two rounds' worth of registrations.
    while accepted.load(Ordering::SeqCst) < 2 * NODES as usize + NODES as usize / 2 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let b_accepted_before = Metrics::get(&b.agent.metrics().registrations_accepted);
    a.abort();
    eprintln!(
        "agent A killed after {} registrations",
        accepted.load(Ordering::SeqCst)
    );

    let (expected, failovers) = timeout(Duration::from_secs(120), client)
        .await
        .expect("client finishes")
        .unwrap();
    assert!(failovers >= 1, "the client noticed A was gone");
    assert!(
        Metrics::get(&b.agent.metrics().registrations_accepted) > b_accepted_before,
        "B took over the registrations"
    );
    // No mapping lost: B answers every node with its last accepted prefix.
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(
            prefix_at(b_query, node(i as u64 + 1)).await,
            *want,
            "node {}",
            i + 1
        );
    }
    b.shutdown().await;
}
