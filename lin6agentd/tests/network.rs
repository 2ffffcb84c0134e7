//! The whole agent on loopback: UDP registration and query ports, and the
//! metrics endpoint.

mod common;

use common::*;
use lin6::wire::{QueryAnswer, UpdateCode};
use lin6agentd::{Config, unix_now};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

async fn roundtrip(to: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("[::1]:0").await.unwrap();
    s.send_to(bytes, to).await.unwrap();
    let mut buf = [0u8; 128];
    let (n, from) = timeout(Duration::from_secs(5), s.recv_from(&mut buf))
        .await
        .expect("agent answers within 5 s")
        .unwrap();
    assert_eq!(from, to, "replies come from the port the request went to");
    buf[..n].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_on_loopback_registers_answers_and_exports_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.database.url = sqlite_url(&dir);
    cfg.registration_listen = "[::1]:0".parse().unwrap();
    cfg.query_listen = "[::1]:0".parse().unwrap();
    cfg.metrics_listen = Some("[::1]:0".parse().unwrap());
    cfg.query.workers = 2;
    let running = lin6agentd::spawn(cfg).await.unwrap();
    add(running.agent.store(), node(1), 1).await;

    let now = unix_now() as u32;
    let r = roundtrip(
        running.registration_addr,
        &request(node(1), &key(1), 7, prefix(1), now, 300),
    )
    .await;
    assert_eq!(reply_code(&r, &key(1)), (UpdateCode::Ok, true));
    let a = answer(&roundtrip(running.query_addr, &query(node(1), 0xabcd)).await);
    assert_eq!(a.sequence, 0xabcd);
    assert!(matches!(a.answer, QueryAnswer::Mapping { prefix: p, .. } if p == prefix(1)));
    let a = answer(&roundtrip(running.query_addr, &query(node(2), 1)).await);
    assert_eq!(a.answer, QueryAnswer::NoMapping);
    let r = roundtrip(
        running.registration_addr,
        &request(node(1), &key(1), 7, prefix(2), now, 300),
    )
    .await;
    assert_eq!(reply_code(&r, &key(1)).0, UpdateCode::ReplayedSequence);

    let mut c = TcpStream::connect(running.metrics_addr.unwrap())
        .await
        .unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");
    assert!(
        text.contains("lin6agentd_registrations_accepted_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("lin6agentd_registrations_rejected_total{reason=\"replayed_sequence\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("lin6agentd_queries_total{result=\"found\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("lin6agentd_queries_total{result=\"no_mapping\"} 1\n"),
        "{text}"
    );
    running.shutdown().await;
}

#[test]
fn reference_config_in_the_docs_parses() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/lin6agentd.md"
    ))
    .unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + 8;
    let len = doc[start..].find("```").unwrap();
    let cfg = Config::parse(&doc[start..start + len]).unwrap();
    assert_eq!(cfg.query_listen.port(), 7301);
    assert!(cfg.metrics_listen.is_some());
}
