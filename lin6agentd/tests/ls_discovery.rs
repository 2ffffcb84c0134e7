//! An MA that finds its LS servers through DNS (`ls.discovery`): a real
//! Knot DNS server (`knotd`, Debian's `knot`) serving the pool address's
//! reverse zone, real lsd instances and a real agent, all in this process
//! or on loopback UDP. The zone is written with the library's own record
//! format (`Lin6Txt`) at the reverse name of the pool address, as
//! `lin6ctl dns records` writes it. A missing knotd fails the test with
//! what to install; it never skips.

mod common;

use common::*;
use lin6::addr::{Lin6Params, NodeId};
use lin6::discovery::{Lin6Txt, Server, reverse_name, reverse_zone};
use lin6agentd::metrics::Metrics;
use lin6agentd::{Config, Running};
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::{Instant, sleep};

const CLUSTER: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const WAIT: Duration = Duration::from_secs(10);

fn ma_addr() -> Ipv6Addr {
    "2001:db8:a::1".parse().unwrap()
}

/// The pool: one LIN6 address that all content servers share.
fn pool() -> Ipv6Addr {
    Lin6Params::default().lin6_address(NodeId::from_u64(0x0201_4a00_0000_0100))
}

fn knotd() -> PathBuf {
    for p in ["/usr/sbin/knotd", "/usr/bin/knotd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("knotd not found: install Debian's `knot` package (scripts/setup installs it)");
}

/// Knot DNS serving the LIN6 prefix's reverse zone with one lin6 TXT
/// record at the pool's reverse name. [`Knot::serve`] replaces the record
/// (a new zone file, knotd started again on the same port).
struct Knot {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
    serial: u32,
}

impl Knot {
    async fn start(ls: &[SocketAddr], ttl: u32) -> Knot {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::UdpSocket::bind("[::1]:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut k = Knot {
            addr: (Ipv6Addr::LOCALHOST, port).into(),
            dir,
            child: None,
            serial: 0,
        };
        k.serve(ls, ttl).await;
        k
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Serves `lin6 v=1 ls=<ls>` at the pool's reverse name from now on.
    async fn serve(&mut self, ls: &[SocketAddr], ttl: u32) {
        self.stop();
        self.serial += 1;
        let d = self.dir.path();
        let origin = reverse_zone(Lin6Params::default().prefix);
        let rec = Lin6Txt {
            ma: vec![],
            ls: ls
                .iter()
                .map(|s| match s {
                    SocketAddr::V6(a) => Server {
                        addr: *a.ip(),
                        port: Some(a.port()),
                    },
                    SocketAddr::V4(_) => panic!("LS on IPv4"),
                })
                .collect(),
        };
        let zone = format!(
            "$ORIGIN {origin}\n$TTL {ttl}\n@ IN SOA localhost. hostmaster.localhost. {} 3600 600 864000 {ttl}\n\
             @ IN NS localhost.\n{} {ttl} IN TXT \"{}\"\n",
            self.serial,
            reverse_name(pool()),
            rec.to_text()
        );
        std::fs::write(d.join("reverse.zone"), zone).unwrap();
        let conf = format!(
            "server:\n  listen: ::1@{port}\n  rundir: {dir}\n\
             database:\n  storage: {dir}\n\
             log:\n  - target: stderr\n    any: warning\n\
             template:\n  - id: default\n    storage: {dir}\n    zonefile-sync: -1\n    journal-content: none\n\
             zone:\n  - domain: {origin}\n    file: {dir}/reverse.zone\n",
            port = self.addr.port(),
            dir = d.display()
        );
        std::fs::write(d.join("knot.conf"), conf).unwrap();
        let child = Command::new(knotd())
            .arg("-c")
            .arg(d.join("knot.conf"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start knotd");
        self.child = Some(child);
        // Up when it answers with this serial's record.
        let disc =
            lin6::discovery::Discovery::new(&[self.addr], Duration::from_millis(200), 1).unwrap();
        let want: Vec<Server> = rec.ls.clone();
        let t0 = Instant::now();
        loop {
            match disc.servers_of(pool()).await {
                Ok(f) if f.value.ls == want => break,
                r => {
                    assert!(t0.elapsed() < WAIT, "knotd does not serve the zone: {r:?}");
                    sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn start_lsd() -> lsd::Running {
    let cfg = lsd::Config::parse(&format!(
        "listen: \"[::1]:0\"\npeer_listen: \"[::1]:0\"\n\
         cluster_key: {{ id: 7, secret_hex: \"{CLUSTER}\" }}\n\
         ma_table: {{ heartbeat_timeout_ms: 500 }}\n"
    ))
    .unwrap();
    let subs = Box::new(lsd::subscribers::ConfigSubscribers(cfg.subscribers.clone()));
    lsd::spawn(cfg, subs).await.unwrap()
}

/// An agent with no LS address in its config, only the pool to look up.
async fn start_agent(dir: &tempfile::TempDir, dns: SocketAddr, refresh_s: u64) -> Running {
    let cfg = Config::parse(&format!(
        "registration_listen: \"[::1]:0\"\nquery_listen: \"[::1]:0\"\n\
         database: {{ url: \"{}\" }}\nquery: {{ workers: 1 }}\n\
         ls:\n  cluster_key: {{ id: 7, secret_hex: \"{CLUSTER}\" }}\n  \
         ma_addr: \"{}\"\n  listen: \"[::1]:0\"\n  capacity_kbps: 100000\n  \
         heartbeat_interval_ms: 100\n  failover_after_ms: 400\n  \
         discovery: {{ pool: \"{}\", dns_servers: [\"{dns}\"], timeout_ms: 300, attempts: 1, \
         refresh_s: {refresh_s}, retry_ms: 200 }}\n",
        sqlite_url(dir),
        ma_addr(),
        pool()
    ))
    .unwrap();
    lin6agentd::spawn(cfg).await.unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < WAIT, "timed out waiting for: {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the MA is an active entry in `ls`'s table.
fn active_at(ls: &lsd::Running) -> bool {
    ls.with(|l| {
        l.ma_table()
            .snapshot(Instant::now(), l.load_model())
            .into_iter()
            .any(|v| v.addr == ma_addr() && v.active)
    })
}

/// The LS the agent heartbeats now, if that LS acknowledged.
fn acked_ls(a: &Running) -> Option<SocketAddr> {
    let s = a.ls.as_ref().unwrap().status();
    s.acknowledged.then_some(s.current_ls).flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ma_finds_its_ls_through_dns_and_moves_to_the_second_listed_when_the_first_dies() {
    let (ls1, ls2) = (start_lsd().await, start_lsd().await);
    let dns = Knot::start(&[ls1.ls_addr, ls2.ls_addr], 300).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&dir, dns.addr, 3600).await;

    eventually("the MA heartbeats the first LS DNS lists", || {
        active_at(&ls1) && acked_ls(&agent) == Some(ls1.ls_addr)
    })
    .await;
    assert!(!active_at(&ls2), "only the current LS hears heartbeats");
    let m = agent.agent.metrics().clone();
    assert!(Metrics::get(&m.ls_discovery_lookups) >= 1);
    assert_eq!(Metrics::get(&m.ls_failovers), 0);

    ls1.shutdown().await;
    eventually("the MA moved to the second LS", || {
        active_at(&ls2) && acked_ls(&agent) == Some(ls2.ls_addr)
    })
    .await;
    assert!(Metrics::get(&m.ls_failovers) >= 1);
    agent.shutdown().await;
    ls2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ma_whose_only_ls_died_asks_dns_again_at_once_and_heartbeats_the_ls_listed_now() {
    let (ls1, ls2) = (start_lsd().await, start_lsd().await);
    // A long TTL and a long refresh: only the silent LS can make the MA
    // look again (and past its resolver's cache) within this test.
    let mut dns = Knot::start(&[ls1.ls_addr], 3600).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&dir, dns.addr, 3600).await;
    eventually("the MA heartbeats the only LS listed", || {
        acked_ls(&agent) == Some(ls1.ls_addr)
    })
    .await;
    let m = agent.agent.metrics().clone();
    let lookups = Metrics::get(&m.ls_discovery_lookups);
    // The operator replaces the LS in DNS, then the old one dies.
    dns.serve(&[ls2.ls_addr], 3600).await;
    sleep(Duration::from_millis(500)).await;
    assert_eq!(
        acked_ls(&agent),
        Some(ls1.ls_addr),
        "a live LS is kept: no lookup before it falls silent"
    );
    assert_eq!(Metrics::get(&m.ls_discovery_lookups), lookups);
    assert!(!active_at(&ls2));
    ls1.shutdown().await;
    eventually("the MA found the new LS through DNS", || {
        active_at(&ls2) && acked_ls(&agent) == Some(ls2.ls_addr)
    })
    .await;
    assert!(Metrics::get(&m.ls_discovery_lookups) > lookups);
    agent.shutdown().await;
    ls2.shutdown().await;
}
