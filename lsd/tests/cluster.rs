//! Two lsd instances and fake MAs and users on loopback (::1) sockets.
//! Real time, short configured timers, every wait bounded.

use lin6::addr::NodeId;
use lin6::auth::{Key, unix_now};
use lin6::ls::{
    Body, Frame, Heartbeat, MaAssign, MaReply, MaRequest, Message, ReplyCode, RttReply, RttStatus,
    ServiceLevel, decode,
};
use lin6::test_ports::udp_ports_on_loopback;
use lsd::metrics::DropReason;
use lsd::subscribers::ConfigSubscribers;
use lsd::{Config, Running};
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep, timeout};

const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const NORMAL: &str = "02:01:4a:00:00:00:00:01";
const PREMIUM: &str = "02:01:4a:00:00:00:00:02";
const WAIT: Duration = Duration::from_secs(5);

fn key() -> Key {
    Key::from_hex(1, SECRET).unwrap()
}

fn ma_addr(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n)
}

struct Ports {
    ls: u16,
    peer: u16,
}

fn ports() -> Ports {
    Ports {
        ls: udp_ports_on_loopback(1),
        peer: udp_ports_on_loopback(1),
    }
}

fn config(me: &Ports, peers: &[&Ports], extra: &str) -> Config {
    let peers: Vec<String> = peers
        .iter()
        .map(|p| format!("\"[::1]:{}\"", p.peer))
        .collect();
    let text = format!(
        "listen: \"[::1]:{}\"\npeer_listen: \"[::1]:{}\"\npeers: [{}]\n\
         cluster_key: {{ id: 1, secret_hex: \"{SECRET}\" }}\n\
         subscribers: {{ \"{NORMAL}\": normal, \"{PREMIUM}\": premium }}\n\
         load: {{ threshold: 0.8, normal_kbps: 500, premium_kbps: 2000 }}\n\
         decision: {{ rtt_deadline_ms: 400 }}\n\
         peering: {{ retry_interval_ms: 100, max_tries: 50 }}\n{extra}",
        me.ls,
        me.peer,
        peers.join(", ")
    );
    Config::parse(&text).unwrap()
}

async fn start(cfg: Config) -> Running {
    let subs = Box::new(ConfigSubscribers(cfg.subscribers.clone()));
    lsd::spawn(cfg, subs).await.unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < WAIT, "timed out waiting for: {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// An MA that heartbeats on request and answers RTT requests with a fixed RTT.
struct FakeMa {
    addr: Ipv6Addr,
    sock: Arc<UdpSocket>,
    seq: Arc<AtomicU32>,
    rtt_requests: Arc<AtomicU32>,
    assigns: Arc<Mutex<Vec<MaAssign>>>,
}

impl FakeMa {
    async fn new(n: u16, rtt_us: u32) -> FakeMa {
        let sock = Arc::new(UdpSocket::bind("[::1]:0").await.unwrap());
        let seq = Arc::new(AtomicU32::new(1));
        let rtt_requests = Arc::new(AtomicU32::new(0));
        let assigns = Arc::new(Mutex::new(Vec::new()));
        let (s, q, r, a) = (
            sock.clone(),
            seq.clone(),
            rtt_requests.clone(),
            assigns.clone(),
        );
        tokio::spawn(async move {
            let k = key();
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let Ok(m) = decode(&buf[..n], |_| Some(&k)) else {
                    continue;
                };
                match m.body {
                    Body::RttRequest(req) => {
                        r.fetch_add(1, Ordering::SeqCst);
                        let reply = RttReply {
                            request_id: req.request_id,
                            status: RttStatus::Reachable {
                                mean_us: rtt_us,
                                answered: 4,
                            },
                        };
                        let seq = q.fetch_add(1, Ordering::SeqCst);
                        let bytes = Message::new(seq, unix_now(), reply)
                            .encode(Some(&k))
                            .unwrap();
                        let _ = s.send_to(&bytes, from).await;
                    }
                    Body::MaAssign(asg) => a.lock().unwrap().push(asg),
                    _ => {}
                }
            }
        });
        FakeMa {
            addr: ma_addr(n),
            sock,
            seq,
            rtt_requests,
            assigns,
        }
    }

    fn heartbeat_bytes(&self, normal: u32, premium: u32, key: &Key) -> Vec<u8> {
        let hb = Heartbeat {
            ma_addr: self.addr,
            capacity_kbps: 10_000,
            normal,
            premium,
            load_ppm: 0,
            draining: false,
        };
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        Message::new(seq, unix_now(), hb).encode(Some(key)).unwrap()
    }

    async fn heartbeat(&self, ls: SocketAddr, normal: u32, premium: u32) {
        let b = self.heartbeat_bytes(normal, premium, &key());
        self.sock.send_to(&b, ls).await.unwrap();
    }
}

async fn ask(ls: SocketAddr, node: &str) -> MaReply {
    let user = UdpSocket::bind("[::1]:0").await.unwrap();
    let req = MaRequest {
        node_id: node.parse::<NodeId>().unwrap(),
        pool: Ipv6Addr::UNSPECIFIED,
    };
    let bytes = Message::new(77, unix_now(), req).encode(None).unwrap();
    user.send_to(&bytes, ls).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = timeout(WAIT, user.recv_from(&mut buf))
        .await
        .expect("no MA reply in time")
        .unwrap();
    let f = Frame::parse(&buf[..n]).unwrap();
    assert_eq!(
        f.header.sequence, 77,
        "reply must echo the request sequence"
    );
    match f.body().unwrap() {
        Body::MaReply(r) => r,
        b => panic!("expected an MA reply, got {b:?}"),
    }
}

fn has_active(ls: &Running, ma: Ipv6Addr) -> bool {
    ls.with(|s| s.ma_table().get(&ma).is_some_and(|e| e.active))
}

#[tokio::test]
async fn a_heartbeat_makes_an_ma_active_here_and_at_the_peer() {
    let (pa, pb) = (ports(), ports());
    let a = start(config(&pa, &[&pb], "")).await;
    let b = start(config(&pb, &[&pa], "")).await;
    let ma = FakeMa::new(1, 1000).await;
    assert!(!has_active(&a, ma.addr));
    ma.heartbeat(a.ls_addr, 0, 0).await;
    eventually("MA active on A", || has_active(&a, ma.addr)).await;
    eventually("MA relayed to B", || has_active(&b, ma.addr)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn timer_expiry_marks_the_ma_inactive_and_drops_its_answers() {
    let p = ports();
    let a = start(config(&p, &[], "ma_table: { heartbeat_timeout_ms: 300 }\n")).await;
    let ma = FakeMa::new(1, 1000).await;
    ma.heartbeat(a.ls_addr, 0, 0).await;
    eventually("MA active", || has_active(&a, ma.addr)).await;
    let r = ask(a.ls_addr, NORMAL).await;
    assert_eq!(
        r,
        MaReply::Ok {
            ma_addr: ma.addr,
            level: ServiceLevel::Normal
        }
    );
    assert_eq!(a.with(|s| s.answers().len()), 1);
    eventually("MA inactive", || {
        a.with(|s| s.ma_table().get(&ma.addr).is_some_and(|e| !e.active))
    })
    .await;
    // Inactive, not deleted; and its cached answer is gone at once.
    assert_eq!(a.with(|s| s.ma_table().len()), 1);
    assert_eq!(a.with(|s| s.answers().len()), 0);
    assert_eq!(
        ask(a.ls_addr, NORMAL).await,
        MaReply::Refused(ReplyCode::NoMaAvailable)
    );
    a.shutdown().await;
}

#[tokio::test]
async fn a_request_gets_the_lowest_rtt_ma_with_room_and_that_ma_is_told() {
    let p = ports();
    let a = start(config(&p, &[], "")).await;
    // Fastest, but full: 16 * 500 = 8000 = Th * capacity.
    let full = FakeMa::new(1, 200).await;
    let slow = FakeMa::new(2, 3000).await;
    let best = FakeMa::new(3, 900).await;
    full.heartbeat(a.ls_addr, 16, 0).await;
    slow.heartbeat(a.ls_addr, 0, 0).await;
    best.heartbeat(a.ls_addr, 0, 0).await;
    eventually("three MAs", || a.with(|s| s.ma_table().active_count() == 3)).await;
    let r = ask(a.ls_addr, NORMAL).await;
    assert_eq!(
        r,
        MaReply::Ok {
            ma_addr: best.addr,
            level: ServiceLevel::Normal
        }
    );
    assert_eq!(
        full.rtt_requests.load(Ordering::SeqCst),
        0,
        "no room, no probe"
    );
    assert_eq!(slow.rtt_requests.load(Ordering::SeqCst), 1);
    eventually("assignment reaches the chosen MA", || {
        best.assigns.lock().unwrap().len() == 1
    })
    .await;
    let asg = best.assigns.lock().unwrap()[0];
    assert_eq!(asg.node_id, NORMAL.parse().unwrap());
    assert_eq!(asg.level, ServiceLevel::Normal);
    assert!(slow.assigns.lock().unwrap().is_empty());
    let counts = a.with(|s| {
        let e = s.ma_table().get(&best.addr).unwrap();
        (e.normal, e.premium)
    });
    assert_eq!(counts, (1, 0), "the LS counts the user it sent");
    // The same user asks again: the same MA, no new probes, not counted
    // twice.
    assert_eq!(ask(a.ls_addr, NORMAL).await, r);
    assert_eq!(slow.rtt_requests.load(Ordering::SeqCst), 1);
    let repeated = a.with(|s| s.metrics().repeated_requests.load(Ordering::SeqCst));
    assert_eq!(repeated, 1);
    let counts = a.with(|s| {
        let e = s.ma_table().get(&best.addr).unwrap();
        (e.normal, e.premium)
    });
    assert_eq!(counts, (1, 0), "a repeated request is not a second user");
    // Another user of the same network: answered from the cache, no new
    // probes.
    let premium = ask(a.ls_addr, PREMIUM).await;
    assert_eq!(
        premium,
        MaReply::Ok {
            ma_addr: best.addr,
            level: ServiceLevel::Premium
        }
    );
    assert_eq!(slow.rtt_requests.load(Ordering::SeqCst), 1);
    assert_eq!(a.with(|s| s.metrics().cache_hits.load(Ordering::SeqCst)), 1);
    a.shutdown().await;
}

#[tokio::test]
async fn a_site_full_for_premium_is_skipped_for_premium_but_not_for_normal() {
    let p = ports();
    let a = start(config(&p, &[], "")).await;
    // 13 * 500 = 6500 used of Th 8000: room for 500 more, not for 2000.
    let near = FakeMa::new(1, 200).await;
    let far = FakeMa::new(2, 5000).await;
    near.heartbeat(a.ls_addr, 13, 0).await;
    far.heartbeat(a.ls_addr, 0, 0).await;
    eventually("two MAs", || a.with(|s| s.ma_table().active_count() == 2)).await;
    let normal = ask(a.ls_addr, NORMAL).await;
    assert_eq!(
        normal,
        MaReply::Ok {
            ma_addr: near.addr,
            level: ServiceLevel::Normal
        }
    );
    // The cached answer for this network has no room for premium: decide anew.
    let premium = ask(a.ls_addr, PREMIUM).await;
    assert_eq!(
        premium,
        MaReply::Ok {
            ma_addr: far.addr,
            level: ServiceLevel::Premium
        }
    );
    assert_eq!(
        ask(a.ls_addr, "02:01:4a:00:00:00:00:99").await,
        MaReply::Refused(ReplyCode::UnknownNode)
    );
    a.shutdown().await;
}

#[tokio::test]
async fn forged_and_replayed_messages_change_nothing() {
    let (pa, pb) = (ports(), ports());
    let a = start(config(&pa, &[&pb], "")).await;
    let ma = FakeMa::new(1, 1000).await;
    let wrong_key = Key::new(1, vec![0x55; 32]).unwrap();
    let other_id = Key::from_hex(2, SECRET).unwrap();
    let metrics = a.with(|s| s.metrics());

    ma.sock
        .send_to(&ma.heartbeat_bytes(0, 0, &wrong_key), a.ls_addr)
        .await
        .unwrap();
    ma.sock
        .send_to(&ma.heartbeat_bytes(0, 0, &other_id), a.ls_addr)
        .await
        .unwrap();
    let mut flipped = ma.heartbeat_bytes(0, 0, &key());
    flipped[20] ^= 1;
    ma.sock.send_to(&flipped, a.ls_addr).await.unwrap();
    ma.sock.send_to(&[1, 2, 3], a.ls_addr).await.unwrap();
    // A correctly signed table update, but from an address that is no peer.
    let stranger = UdpSocket::bind("[::1]:0").await.unwrap();
    let sync = Message::new(1, unix_now(), lin6::ls::MatblUpdate::default())
        .encode(Some(&key()))
        .unwrap();
    stranger.send_to(&sync, a.peer_addr).await.unwrap();
    // A heartbeat on the peer port.
    ma.sock
        .send_to(&ma.heartbeat_bytes(0, 0, &key()), a.peer_addr)
        .await
        .unwrap();
    eventually("all six counted", || {
        metrics.drops(DropReason::BadTag) == 2
            && metrics.drops(DropReason::UnknownKey) == 1
            && metrics.drops(DropReason::Malformed) == 1
            && metrics.drops(DropReason::UnknownPeer) == 1
            && metrics.drops(DropReason::WrongSocket) == 1
    })
    .await;
    assert!(a.with(|s| s.ma_table().is_empty()));

    // A genuine heartbeat, then the same bytes again later: the replay is
    // dropped and does not refresh the timer.
    let genuine = ma.heartbeat_bytes(0, 0, &key());
    ma.sock.send_to(&genuine, a.ls_addr).await.unwrap();
    eventually("genuine heartbeat", || has_active(&a, ma.addr)).await;
    let expires = a.with(|s| s.ma_table().get(&ma.addr).unwrap().expires);
    sleep(Duration::from_millis(20)).await;
    ma.sock.send_to(&genuine, a.ls_addr).await.unwrap();
    eventually("replay counted", || metrics.drops(DropReason::Replay) == 1).await;
    assert_eq!(
        a.with(|s| s.ma_table().get(&ma.addr).unwrap().expires),
        expires
    );
    a.shutdown().await;
}

#[tokio::test]
async fn a_restarted_ls_syncs_to_the_same_tables() {
    let (pa, pb) = (ports(), ports());
    let a = start(config(&pa, &[&pb], "")).await;
    let b = start(config(&pb, &[&pa], "")).await;
    let m1 = FakeMa::new(1, 800).await;
    let m2 = FakeMa::new(2, 400).await;
    m1.heartbeat(a.ls_addr, 2, 1).await;
    m2.heartbeat(a.ls_addr, 0, 0).await;
    eventually("both MAs on A", || {
        a.with(|s| s.ma_table().active_count() == 2)
    })
    .await;
    assert_eq!(
        ask(a.ls_addr, NORMAL).await,
        MaReply::Ok {
            ma_addr: m2.addr,
            level: ServiceLevel::Normal
        }
    );
    let tables = |r: &Running| {
        r.with(|s| {
            let mas: Vec<_> = s
                .ma_table()
                .iter()
                .map(|e| (e.addr, e.active, e.normal, e.premium, e.capacity_kbps))
                .collect();
            let answers: Vec<_> = s
                .answers()
                .to_entries(Instant::now())
                .iter()
                .map(|e| (e.prefix, e.ma_addr))
                .collect();
            (mas, answers)
        })
    };
    eventually("B follows A", || tables(&b) == tables(&a)).await;
    b.shutdown().await;

    let b2 = start(config(&pb, &[&pa], "")).await;
    assert!(b2.with(|s| s.ma_table().is_empty()));

    eventually("restarted B synced", || tables(&b2) == tables(&a)).await;
    let (mas, answers) = tables(&b2);
    assert_eq!(mas.len(), 2);
    assert_eq!(answers.len(), 1);
    // And it answers from the synced cache without probing anyone.
    let probes_before = m1.rtt_requests.load(Ordering::SeqCst);
    assert_eq!(
        ask(b2.ls_addr, NORMAL).await,
        MaReply::Ok {
            ma_addr: m2.addr,
            level: ServiceLevel::Normal
        }
    );
    assert_eq!(m1.rtt_requests.load(Ordering::SeqCst), probes_before);
    a.shutdown().await;
    b2.shutdown().await;
}

#[tokio::test]
async fn oversized_datagrams_on_the_user_socket_are_dropped_as_malformed_and_lsd_goes_on() {
    let p = ports();
    let a = start(config(&p, &[], "")).await;
    let metrics = a.with(|s| s.metrics());
    let s = UdpSocket::bind("[::1]:0").await.unwrap();
    // Larger than the batch's 128-byte slots: a valid header declaring the
    // whole length must not be read as a shorter valid message.
    let mut big = vec![0u8; 300];
    big[0] = 1;
    big[1] = 0x06;
    big[2..4].copy_from_slice(&((300 - 16 - 32) as u16).to_be_bytes());
    s.send_to(&big, a.ls_addr).await.unwrap();
    s.send_to(&[0u8; 1400], a.ls_addr).await.unwrap();
    eventually("both counted malformed", || {
        metrics.drops(DropReason::Malformed) == 2
    })
    .await;
    assert_eq!(
        ask(a.ls_addr, "02:01:4a:00:00:00:00:99").await,
        MaReply::Refused(ReplyCode::UnknownNode)
    );
    a.shutdown().await;
}

/// The tables two LSs in sync hold alike, from `/state` JSON: each MA's
/// address, state and counts, each answer's prefix and MA; not the timers.
fn synced_view(state: &serde_json::Value) -> String {
    let mut mas: Vec<String> = state["mas"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{} {} {} {} {} {}",
                m["addr"],
                m["active"],
                m["normal"],
                m["premium"],
                m["capacity_kbps"],
                m["load_ppm"]
            )
        })
        .collect();
    mas.sort();
    let mut answers: Vec<String> = state["answers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| format!("{} {}", a["prefix"], a["ma"]))
        .collect();
    answers.sort();
    format!("mas {mas:?} answers {answers:?}")
}

fn state_of(r: &Running) -> serde_json::Value {
    serde_json::to_value(r.with(|s| s.snapshot(Instant::now()))).unwrap()
}

/// `GET /state` from an lsd process; None until it answers.
async fn http_state(addr: SocketAddr) -> Option<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr).await.ok()?;
    c.write_all(b"GET /state HTTP/1.0\r\nHost: lsd\r\n\r\n")
        .await
        .ok()?;
    let mut text = String::new();
    timeout(WAIT, c.read_to_string(&mut text))
        .await
        .ok()?
        .ok()?;
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

/// lsd as its own process (the binary), so that it can be killed (-9).
struct LsdProcess {
    config: tempfile::NamedTempFile,
    metrics: SocketAddr,
    child: Option<std::process::Child>,
}

impl LsdProcess {
    async fn start(me: &Ports, peers: &[&Ports], extra: &str) -> LsdProcess {
        let metrics = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), {
            let l = std::net::TcpListener::bind("[::1]:0").unwrap();
            l.local_addr().unwrap().port()
        });
        let peers: Vec<String> = peers
            .iter()
            .map(|p| format!("\"[::1]:{}\"", p.peer))
            .collect();
        let text = format!(
            "listen: \"[::1]:{}\"\npeer_listen: \"[::1]:{}\"\npeers: [{}]\n\
             metrics_listen: \"{metrics}\"\n\
             cluster_key: {{ id: 1, secret_hex: \"{SECRET}\" }}\n\
             subscribers: {{ \"{NORMAL}\": normal, \"{PREMIUM}\": premium }}\n\
             load: {{ threshold: 0.8, normal_kbps: 500, premium_kbps: 2000 }}\n\
             peering: {{ retry_interval_ms: 100, max_tries: 50 }}\n{extra}",
            me.ls,
            me.peer,
            peers.join(", ")
        );
        let mut config = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut config, text.as_bytes()).unwrap();
        let mut p = LsdProcess {
            config,
            metrics,
            child: None,
        };
        p.spawn().await;
        p
    }

    async fn spawn(&mut self) {
        self.child = Some(
            std::process::Command::new(env!("CARGO_BIN_EXE_lsd"))
                .arg("--config")
                .arg(self.config.path())
                .env("RUST_LOG", "lsd=warn")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let t0 = Instant::now();
        while http_state(self.metrics).await.is_none() {
            assert!(t0.elapsed() < WAIT, "lsd process does not answer");
            sleep(Duration::from_millis(10)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL: no goodbye to anyone
            let _ = c.wait();
        }
    }

    async fn state(&self) -> serde_json::Value {
        http_state(self.metrics).await.unwrap_or_default()
    }
}

impl Drop for LsdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Issue 5 §7e's restart on real processes: LS B, killed (-9) after it
/// exchanged messages with A, comes back and must get A's MA table and
/// answer cache, while the MAs keep heartbeating A, whose relays reach the
/// new B from the moment its socket is bound.
#[tokio::test]
async fn a_killed_and_restarted_lsd_process_gets_its_peers_tables_while_relays_flow() {
    let (pa, pb) = (ports(), ports());
    let a = start(config(&pa, &[&pb], "")).await;
    let mut b = LsdProcess::start(&pb, &[&pa], "").await;
    let m1 = Arc::new(FakeMa::new(1, 800).await);
    let m2 = Arc::new(FakeMa::new(2, 400).await);
    let (h1, h2, to) = (m1.clone(), m2.clone(), a.ls_addr);
    // Heartbeats as fast as A takes them: its relays are waiting at B's
    // socket whenever B starts, as they were in the guest.
    let feeder = tokio::spawn(async move {
        loop {
            h1.heartbeat(to, 0, 0).await;
            h2.heartbeat(to, 0, 0).await;
            tokio::task::yield_now().await;
        }
    });
    eventually("both MAs on A", || {
        a.with(|s| s.ma_table().active_count() == 2)
    })
    .await;
    assert_eq!(
        ask(a.ls_addr, NORMAL).await,
        MaReply::Ok {
            ma_addr: m2.addr,
            level: ServiceLevel::Normal
        }
    );
    let t0 = Instant::now();
    while synced_view(&b.state().await) != synced_view(&state_of(&a)) {
        assert!(t0.elapsed() < WAIT, "B never followed A");
        sleep(Duration::from_millis(20)).await;
    }
    for round in 0..8 {
        b.kill();
        b.spawn().await;
        let t0 = Instant::now();
        loop {
            let (vb, va) = (synced_view(&b.state().await), synced_view(&state_of(&a)));
            if vb == va {
                break;
            }
            assert!(
                t0.elapsed() < WAIT,
                "restart {round}: B's tables never became A's:\n B: {vb}\n A: {va}"
            );
            sleep(Duration::from_millis(20)).await;
        }
    }
    feeder.abort();
    a.shutdown().await;
}
