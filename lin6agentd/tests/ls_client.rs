//! The MA side of the LS protocol against the real lsd, both in this
//! process, on loopback UDP. Real time with short timers; every wait bounded.

mod common;

use common::*;
use lin6::addr::NodeId;
use lin6::auth::{Key, unix_now};
use lin6::ls::{
    Body, MaAssign, MaReply, MaRequest, Message, ReplyCode, RttRequest, RttStatus, ServiceLevel,
    decode,
};
use lin6agentd::metrics::{LsDrop, Metrics};
use lin6agentd::shaping::{Shaper, ShapingError};
use lin6agentd::{Config, Running};
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep, timeout};

const CLUSTER: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const WAIT: Duration = Duration::from_secs(8);

fn cluster_key() -> Key {
    Key::from_hex(7, CLUSTER).unwrap()
}

fn ma_addr() -> Ipv6Addr {
    "2001:db8:a::1".parse().unwrap()
}

fn normal_node() -> NodeId {
    node(1)
}

fn premium_node() -> NodeId {
    node(2)
}

async fn start_lsd(heartbeat_timeout_ms: u64) -> lsd::Running {
    let cfg = lsd::Config::parse(&format!(
        "listen: \"[::1]:0\"\npeer_listen: \"[::1]:0\"\n\
         cluster_key: {{ id: 7, secret_hex: \"{CLUSTER}\" }}\n\
         subscribers: {{ \"{}\": normal, \"{}\": premium }}\n\
         ma_table: {{ heartbeat_timeout_ms: {heartbeat_timeout_ms} }}\n\
         decision: {{ rtt_deadline_ms: 3000 }}\n",
        normal_node(),
        premium_node()
    ))
    .unwrap();
    let subs = Box::new(lsd::subscribers::ConfigSubscribers(cfg.subscribers.clone()));
    lsd::spawn(cfg, subs).await.unwrap()
}

/// What the agent asked its shaper to do, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn log(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl Shaper for Recorder {
    fn install(&self, node: NodeId, level: ServiceLevel) -> Result<(), ShapingError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("install {node} {level}"));
        Ok(())
    }
    fn remove(&self, node: NodeId) -> Result<(), ShapingError> {
        self.0.lock().unwrap().push(format!("remove {node}"));
        Ok(())
    }
    fn clear(&self) -> Result<(), ShapingError> {
        Ok(())
    }
}

async fn start_agent(
    dir: &tempfile::TempDir,
    servers: &[SocketAddr],
    extra: &str,
) -> (Running, Arc<Recorder>) {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    let cfg = Config::parse(&format!(
        "registration_listen: \"[::1]:0\"\nquery_listen: \"[::1]:0\"\n\
         database: {{ url: \"{}\" }}\nquery: {{ workers: 1 }}\n\
         ls:\n  servers: [{}]\n  cluster_key: {{ id: 7, secret_hex: \"{CLUSTER}\" }}\n  \
         ma_addr: \"{}\"\n  listen: \"[::1]:0\"\n  capacity_kbps: 100000\n  \
         heartbeat_interval_ms: 100\n  failover_after_ms: 400\n{extra}",
        sqlite_url(dir),
        list.join(", "),
        ma_addr()
    ))
    .unwrap();
    let rec = Arc::new(Recorder::default());
    let r = lin6agentd::spawn_with_shaper(cfg, rec.clone())
        .await
        .unwrap();
    (r, rec)
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < WAIT, "timed out waiting for: {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// The MA's entry at `ls`: (active, normal, premium).
fn ma_at(ls: &lsd::Running) -> Option<(bool, u32, u32)> {
    ls.with(|l| {
        l.ma_table()
            .snapshot(Instant::now(), l.load_model())
            .into_iter()
            .find(|v| v.addr == ma_addr())
            .map(|v| (v.active, v.normal, v.premium))
    })
}

fn agent_metrics(a: &Running) -> Arc<Metrics> {
    a.agent.metrics().clone()
}

#[tokio::test]
async fn heartbeats_keep_the_ma_active_at_a_real_lsd_and_stopping_them_marks_it_inactive() {
    let ls = start_lsd(500).await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, _) = start_agent(&dir, &[ls.ls_addr], "").await;
    eventually("MA active at the LS", || {
        ma_at(&ls).is_some_and(|(active, ..)| active)
    })
    .await;
    // Three heartbeat timeouts later it is still active: heartbeats, not
    // the first one alone, keep it so.
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(ma_at(&ls).map(|m| m.0), Some(true));
    let status = agent.ls.as_ref().unwrap().status();
    assert!(status.acknowledged, "{status:?}");
    assert_eq!(status.current_ls, Some(ls.ls_addr));
    assert!(Metrics::get(&agent_metrics(&agent).ls_heartbeat_acks) >= 5);

    agent.shutdown().await;
    eventually("MA inactive after its heartbeats stopped", || {
        ma_at(&ls).is_some_and(|(active, ..)| !active)
    })
    .await;
    ls.shutdown().await;
}

#[tokio::test]
async fn a_user_request_is_decided_by_a_real_rtt_measurement_and_the_assignment_is_counted_and_shaped()
 {
    if lin6agentd::rtt_probe::available().is_err() {
        eprintln!("SKIPPED: no ICMPv6 socket here (neither ping_group_range nor CAP_NET_RAW)");
        return;
    }
    let ls = start_lsd(2000).await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec) = start_agent(&dir, &[ls.ls_addr], "").await;
    eventually("MA active", || ma_at(&ls).is_some_and(|m| m.0)).await;

    // The user, on ::1: lsd asks the MA for the RTT to ::1, the MA pings it.
    let user = UdpSocket::bind("[::1]:0").await.unwrap();
    let req = MaRequest {
        node_id: premium_node(),
        pool: Ipv6Addr::UNSPECIFIED,
    };
    let asked = Instant::now();
    user.send_to(
        &Message::new(42, unix_now(), req).encode(None).unwrap(),
        ls.ls_addr,
    )
    .await
    .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = timeout(WAIT, user.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // The cold decision end to end (docs/benchmarks.md quotes this line).
    eprintln!("cold decision with a real RTT probe: {:?}", asked.elapsed());
    let reply: MaReply = match decode(&buf[..n], |_| None).unwrap().body {
        Body::MaReply(r) => r,
        b => panic!("not an MA reply: {b:?}"),
    };
    assert_eq!(reply.code(), ReplyCode::Ok, "{reply:?}");
    assert_eq!(
        reply,
        MaReply::Ok {
            ma_addr: ma_addr(),
            level: ServiceLevel::Premium
        }
    );
    let m = agent_metrics(&agent);
    assert_eq!(Metrics::get(&m.ls_rtt_requests), 1);
    assert_eq!(Metrics::get(&m.ls_rtt_replies), 1);

    // The assignment: counted at its level, handed to shaping, and reported
    // in the next heartbeats (the LS's counts follow the MA's).
    let ls_side = agent.ls.clone().unwrap();
    eventually("user counted", || ls_side.user(premium_node()).is_some()).await;
    assert_eq!(
        ls_side.user(premium_node()).unwrap().level,
        ServiceLevel::Premium
    );
    eventually("shaping installed", || {
        rec.log() == vec![format!("install {} premium", premium_node())]
    })
    .await;
    eventually("LS sees the MA's premium user", || {
        ma_at(&ls).is_some_and(|(_, n, p)| (n, p) == (0, 1))
    })
    .await;
    drop(ls_side);
    agent.shutdown().await;
    ls.shutdown().await;
}

/// A socket that speaks to the MA as an LS would.
struct FakeLs {
    sock: UdpSocket,
    seq: u32,
}

impl FakeLs {
    async fn new() -> FakeLs {
        FakeLs {
            sock: UdpSocket::bind("[::1]:0").await.unwrap(),
            seq: 1,
        }
    }

    async fn send(&mut self, to: SocketAddr, body: impl Into<Body>, key: Option<&Key>) -> Vec<u8> {
        self.seq += 1;
        let b = Message::new(self.seq, unix_now(), body)
            .encode(key)
            .unwrap();
        self.sock.send_to(&b, to).await.unwrap();
        b
    }

    async fn recv(&self, wait: Duration) -> Option<Body> {
        let mut buf = [0u8; 1500];
        let k = cluster_key();
        loop {
            let (n, _) = timeout(wait, self.sock.recv_from(&mut buf))
                .await
                .ok()?
                .ok()?;
            if let Ok(m) = decode(&buf[..n], |_| Some(&k)) {
                return Some(m.body);
            }
        }
    }
}

#[tokio::test]
async fn an_rtt_request_gets_the_mean_of_four_real_echo_round_trips_to_loopback() {
    if lin6agentd::rtt_probe::available().is_err() {
        eprintln!("SKIPPED: no ICMPv6 socket here");
        return;
    }
    let mut fake = FakeLs::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, _) = start_agent(&dir, &[fake.sock.local_addr().unwrap()], "").await;
    let to = agent.ls_addr.unwrap();
    let req = RttRequest {
        request_id: 77,
        user_addr: Ipv6Addr::LOCALHOST,
        probes: 4,
        prefix_len: 64,
    };
    fake.send(to, req, Some(&cluster_key())).await;
    let t0 = Instant::now();
    let reply = loop {
        match fake.recv(WAIT).await.expect("an RTT reply") {
            Body::RttReply(r) => break r,
            _ => assert!(t0.elapsed() < WAIT, "no RTT reply"), // heartbeats
        }
    };
    assert_eq!(reply.request_id, 77);
    match reply.status {
        RttStatus::Reachable { answered, mean_us } => {
            assert_eq!(answered, 4);
            assert!(mean_us < 100_000, "loopback RTT of {mean_us} µs");
        }
        RttStatus::Unreachable => panic!("::1 unreachable"),
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn forged_misdirected_and_replayed_ls_messages_change_nothing_at_the_ma() {
    let mut fake = FakeLs::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec) = start_agent(&dir, &[fake.sock.local_addr().unwrap()], "").await;
    let to = agent.ls_addr.unwrap();
    let m = agent_metrics(&agent);
    let assign = |n: NodeId, ma: Ipv6Addr| MaAssign {
        node_id: n,
        level: ServiceLevel::Premium,
        user_addr: Ipv6Addr::LOCALHOST,
        ma_addr: ma,
    };
    let wrong = Key::from_hex(7, &CLUSTER.replace('0', "f")).unwrap();
    let other_id = Key::from_hex(8, CLUSTER).unwrap();
    fake.send(to, assign(node(10), ma_addr()), Some(&wrong))
        .await;
    fake.send(to, assign(node(11), ma_addr()), Some(&other_id))
        .await;
    // An RTT request under a wrong key must not make the MA probe anyone.
    let rtt = RttRequest {
        request_id: 1,
        user_addr: Ipv6Addr::LOCALHOST,
        probes: 4,
        prefix_len: 64,
    };
    fake.send(to, rtt, Some(&wrong)).await;
    fake.sock.send_to(b"\x01\x09garbage", to).await.unwrap();
    // Authentic, but for another MA.
    fake.send(
        to,
        assign(node(12), "2001:db8:b::1".parse().unwrap()),
        Some(&cluster_key()),
    )
    .await;
    // Authentic and ours, then the same bytes again.
    let good = fake
        .send(to, assign(node(13), ma_addr()), Some(&cluster_key()))
        .await;
    fake.sock.send_to(&good, to).await.unwrap();

    eventually("every datagram accounted for", || {
        m.ls_dropped(LsDrop::Unauthenticated) == 3
            && m.ls_dropped(LsDrop::Malformed) == 1
            && m.ls_dropped(LsDrop::NotOurs) == 1
            && m.ls_dropped(LsDrop::Replay) == 1
            && Metrics::get(&m.ls_assigns) == 1
    })
    .await;
    let ls_side = agent.ls.clone().unwrap();
    let status = ls_side.status();
    assert_eq!(status.users.len(), 1, "{status:?}");
    assert_eq!(status.users[0].node_id, node(13));
    assert_eq!(Metrics::get(&m.ls_rtt_requests), 0);
    eventually("only the authentic assignment shaped", || {
        rec.log() == vec![format!("install {} premium", node(13))]
    })
    .await;
    drop(ls_side);
    agent.shutdown().await;
}

#[tokio::test]
async fn the_ma_fails_over_to_the_next_ls_when_the_first_stops_answering() {
    // A socket that takes heartbeats and never answers: a dead LS.
    let silent = UdpSocket::bind("[::1]:0").await.unwrap();
    let ls = start_lsd(2000).await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, _) = start_agent(&dir, &[silent.local_addr().unwrap(), ls.ls_addr], "").await;
    eventually("MA active at the second LS", || {
        ma_at(&ls).is_some_and(|m| m.0)
    })
    .await;
    let m = agent_metrics(&agent);
    assert_eq!(Metrics::get(&m.ls_failovers), 1);
    let status = agent.ls.as_ref().unwrap().status();
    assert_eq!(status.current_ls, Some(ls.ls_addr));
    // It stays there while the second LS answers.
    sleep(Duration::from_millis(1000)).await;
    assert_eq!(Metrics::get(&m.ls_failovers), 1);
    agent.shutdown().await;
    ls.shutdown().await;
}

#[tokio::test]
async fn a_user_whose_mapping_never_appears_is_dropped_after_the_grace_time_with_its_shaping() {
    let mut fake = FakeLs::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec) = start_agent(
        &dir,
        &[fake.sock.local_addr().unwrap()],
        "  user_grace_s: 1\n",
    )
    .await;
    let to = agent.ls_addr.unwrap();
    let a = MaAssign {
        node_id: node(20),
        level: ServiceLevel::Normal,
        user_addr: Ipv6Addr::LOCALHOST,
        ma_addr: ma_addr(),
    };
    fake.send(to, a, Some(&cluster_key())).await;
    let ls_side = agent.ls.clone().unwrap();
    eventually("user counted", || ls_side.user(node(20)).is_some()).await;
    eventually("user dropped", || ls_side.user(node(20)).is_none()).await;
    eventually("shaping removed", || {
        rec.log()
            == vec![
                format!("install {} normal", node(20)),
                format!("remove {}", node(20)),
            ]
    })
    .await;
    drop(ls_side);
    agent.shutdown().await;
}
