//! `lin6ctl ls` against the real lsd, run in this process on loopback.

use lin6::auth::{Key, unix_now};
use lin6::ls::{Body, Heartbeat, MaReply, MaRequest, Message, ReplyCode, decode};
use std::net::Ipv6Addr;
use std::process::{Command, Output};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const SECRET: &str = "00112233445566778899aabbccddeeff";
const NODE: &str = "02:01:4a:00:00:00:00:01";

fn ma() -> Ipv6Addr {
    "2001:db8:a::1".parse().unwrap()
}

async fn lin6ctl(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_lin6ctl"))
            .args(&args)
            .output()
            .expect("run lin6ctl")
    })
    .await
    .unwrap()
}

async fn ok(args: &[&str]) -> String {
    let o = lin6ctl(args.iter().map(|s| s.to_string()).collect()).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The answer lsd gives a user now.
async fn ask(ls: std::net::SocketAddr) -> MaReply {
    let u = UdpSocket::bind("[::1]:0").await.unwrap();
    let req = MaRequest {
        node_id: NODE.parse().unwrap(),
        pool: Ipv6Addr::UNSPECIFIED,
    };
    u.send_to(&Message::new(1, unix_now(), req).encode(None).unwrap(), ls)
        .await
        .unwrap();
    let mut b = [0u8; 1500];
    let (n, _) = timeout(Duration::from_secs(5), u.recv_from(&mut b))
        .await
        .unwrap()
        .unwrap();
    match decode(&b[..n], |_| None).unwrap().body {
        Body::MaReply(r) => r,
        b => panic!("{b:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_status_shows_the_ma_table_and_a_drained_ma_gets_no_new_users_until_undrained() {
    let cfg = lsd::Config::parse(&format!(
        "listen: \"[::1]:0\"\npeer_listen: \"[::1]:0\"\nmetrics_listen: \"[::1]:0\"\n\
         cluster_key: {{ id: 1, secret_hex: \"{SECRET}\" }}\nsubscribers: {{ \"{NODE}\": normal }}\n\
         decision: {{ rtt_deadline_ms: 200 }}\n"
    ))
    .unwrap();
    let subs = Box::new(lsd::subscribers::ConfigSubscribers(cfg.subscribers.clone()));
    let ls = lsd::spawn(cfg, subs).await.unwrap();
    let http = ls.metrics_addr.unwrap().to_string();

    // An MA heartbeats: 3 normal and 1 premium user.
    let m = UdpSocket::bind("[::1]:0").await.unwrap();
    let hb = Heartbeat {
        ma_addr: ma(),
        capacity_kbps: 100_000,
        normal: 3,
        premium: 1,
        load_ppm: 0,
        draining: false,
    };
    let key = Key::from_hex(1, SECRET).unwrap();
    let bytes = Message::new(5, unix_now(), hb).encode(Some(&key)).unwrap();
    m.send_to(&bytes, ls.ls_addr).await.unwrap();
    let mut ack = [0u8; 1500];
    timeout(Duration::from_secs(5), m.recv_from(&mut ack))
        .await
        .expect("heartbeat acknowledged")
        .unwrap();

    let j: serde_json::Value =
        serde_json::from_str(&ok(&["-j", "ls", "status", "--lsd", &http]).await).unwrap();
    let e = &j["mas"][0];
    assert_eq!(e["addr"], "2001:db8:a::1", "{j}");
    assert_eq!(
        (e["active"].as_bool(), e["admin_drained"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        (e["normal"].as_u64(), e["premium"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(e["timer_ms"].as_u64().unwrap() > 0);
    let text = ok(&["ls", "status", "--lsd", &http]).await;
    assert!(text.contains("MA table (1 entries)"), "{text}");
    let row = text.lines().find(|l| l.contains("2001:db8:a::1")).unwrap();
    assert!(row.contains(" active "), "{row}");

    // Drained: visible, and no new user is sent there (it is the only MA).
    let d = ok(&["ls", "drain", "2001:db8:a::1", "--lsd", &http]).await;
    assert_eq!(d, "2001:db8:a::1 drained\n");
    let text = ok(&["ls", "status", "--lsd", &http]).await;
    assert!(
        text.lines()
            .any(|l| l.contains("2001:db8:a::1") && l.contains(" drained ")),
        "{text}"
    );
    assert_eq!(ask(ls.ls_addr).await.code(), ReplyCode::NoMaAvailable);

    ok(&["ls", "undrain", "2001:db8:a::1", "--lsd", &http]).await;
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["-j", "ls", "status", "--lsd", &http]).await).unwrap();
    assert_eq!(j["mas"][0]["admin_drained"].as_bool(), Some(false));
    ls.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_status_without_an_lsd_is_one_clear_line_and_status_1() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = lin6ctl(vec![
        "ls".into(),
        "status".into(),
        "--lsd".into(),
        format!("[::1]:{port}"),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8(o.stderr).unwrap();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("lin6ctl: cannot reach lsd at"), "{e}");
    assert!(o.stdout.is_empty());
}
