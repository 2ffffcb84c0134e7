//! lin6resolvd's behaviour against a real Knot DNS server (zones generated
//! by `lin6ctl dns records`) and real lin6agentd processes on loopback. The
//! kernel is the in-memory stand-in; everything else is real.

mod common;

use std::net::UdpSocket as StdUdp;
use std::time::{Duration, Instant};

use common::*;
use lin6::addr::NodeId;
use lin6::discovery::Server;
use lin6::netlink::{Event, MissReason};
use lin6::wire::{Codec, MappingRefresh, UpdateCode};
use lin6resolvd::events::get;

fn miss(n: lin6::addr::NodeId) -> Event {
    Event::Miss {
        node_id: n,
        address: lin6::addr::Lin6Params::default().lin6_address(n),
        queue_len: 1,
        reason: MissReason::NoMapping,
    }
}

fn lin6_of(n: lin6::addr::NodeId) -> std::net::Ipv6Addr {
    lin6::addr::Lin6Params::default().lin6_address(n)
}

fn current_ma(r: &lin6resolvd::Running) -> Option<Server> {
    *r.ctx.current_ma.lock().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_by_name_registers_locator_with_ma_found_in_dns() {
    let mn1 = node(1);
    let ma = Agent::start(&[mn1]).await;
    let dns = Knot::start(&deployment(&[("mn1", mn1, vec![ma.server()])])).await;
    let (_k, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let cfg = resolver_config(mn1, dns.addr, "name: mn1.lin6.test.\n");
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();

    wait_until(10, "the MA holds mn1's locator", async || {
        prefix_of(ma.mapping(mn1).await) == Some(prefix("2001:db8:a::/64"))
    })
    .await;
    // The MA stores the mapping before the resolver has its reply.
    wait_until(10, "the resolver saw the Ok", async || {
        get(&r.ctx.stats.registrations_ok) >= 1
    })
    .await;
    assert_eq!(current_ma(&r).map(|s| s.port), Some(Some(ma.port)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_refuses_a_name_whose_aaaa_is_not_our_lin6_address() {
    let (mn1, mn2) = (node(1), node(2));
    let ma = Agent::start(&[mn1]).await;
    // The name "mn2" belongs to another node: mn1 must not register under it.
    let dns = Knot::start(&deployment(&[("mn2", mn2, vec![ma.server()])])).await;
    let (_k, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let cfg = resolver_config(mn1, dns.addr, "name: mn2.lin6.test.\n");
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    wait_until(10, "a failed registration round", async || {
        get(&r.ctx.stats.registrations_failed) >= 1
    })
    .await;
    assert_eq!(get(&r.ctx.stats.registrations_ok), 0);
    assert_eq!(
        ma.mapping(mn1).await,
        Some(lin6::wire::QueryAnswer::NoMapping)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_fails_over_to_second_ma_when_first_is_down() {
    let mn1 = node(1);
    // The first MA listed: a socket that takes datagrams and never answers.
    let dead_port = free_port_pair();
    let dead = StdUdp::bind(("::1", dead_port)).unwrap();
    dead.set_nonblocking(true).unwrap();
    let ma2 = Agent::start(&[mn1]).await;
    let dns = Knot::start(&deployment(&[(
        "mn1",
        mn1,
        vec![format!("[::1]:{dead_port}"), ma2.server()],
    )]))
    .await;
    let (_k, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let t0 = Instant::now();
    let r = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel)
        .await
        .unwrap();

    wait_until(10, "the second MA holds mn1's locator", async || {
        prefix_of(ma2.mapping(mn1).await) == Some(prefix("2001:db8:a::/64"))
    })
    .await;
    let took = t0.elapsed();
    // The MA stores the mapping before the resolver has its reply.
    wait_until(10, "the resolver saw the Ok", async || {
        get(&r.ctx.stats.registrations_ok) >= 1
    })
    .await;
    assert_eq!(current_ma(&r).map(|s| s.port), Some(Some(ma2.port)));
    // It did try the first one: both attempts (100 ms, then 200 ms).
    let mut buf = [0u8; 128];
    let mut tries = 0;
    while let Ok((n, _)) = dead.recv_from(&mut buf) {
        assert_eq!(n, 68, "a signed Mapping Update Request");
        tries += 1;
    }
    assert_eq!(tries, 2, "registration attempts at the silent MA");
    assert!(took < Duration::from_secs(3), "failover took {took:?}");
    println!("failover to the second MA: registered after {took:?}");
}

fn cfg_plain(n: lin6::addr::NodeId, dns: std::net::SocketAddr) -> lin6resolvd::Config {
    resolver_config(n, dns, "")
}

/// Two LIN6 nodes, mn1 and mn2, each with an MA of its own (ma1, ma2), all
/// in Knot DNS; `more` are further nodes served by ma2. No resolver runs.
struct Pair {
    mn1: NodeId,
    mn2: NodeId,
    ma1: Agent,
    ma2: Agent,
    dns: Knot,
}

impl Pair {
    async fn start(more: &[(&str, NodeId)]) -> Pair {
        let (mn1, mn2) = (node(1), node(2));
        let ma1 = Agent::start(&[mn1]).await;
        let ma2 = Agent::start(&[mn2]).await;
        let mut nodes = vec![
            ("mn1", mn1, vec![ma1.server()]),
            ("mn2", mn2, vec![ma2.server()]),
        ];
        nodes.extend(more.iter().map(|&(name, n)| (name, n, vec![ma2.server()])));
        let dns = Knot::start(&deployment(&nodes)).await;
        Pair {
            mn1,
            mn2,
            ma1,
            ma2,
            dns,
        }
    }

    /// The pair, with mn2 registered at ma2 on 2001:db8:b::/64.
    async fn with_mn2_registered(more: &[(&str, NodeId)]) -> Pair {
        let p = Pair::start(more).await;
        assert_eq!(
            p.ma2.register(p.mn2, prefix("2001:db8:b::/64"), 1).await,
            UpdateCode::Ok
        );
        p
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_event_installs_mapping_from_peers_ma() {
    let Pair {
        mn1,
        mn2,
        ma1: _ma1,
        ma2: _ma2,
        dns,
    } = Pair::start(&[]).await;
    // mn2 runs its own resolver and registers with its MA.
    let (_kb, kernel_b) = kernel_at(mn2, prefix("2001:db8:b::/64"));
    let rb = lin6resolvd::start(cfg_plain(mn2, dns.addr), kernel_b)
        .await
        .unwrap();
    wait_until(10, "mn2 registered", async || {
        get(&rb.ctx.stats.registrations_ok) >= 1
    })
    .await;

    let (ka, kernel_a) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let ra = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel_a)
        .await
        .unwrap();
    wait_until(10, "mn1 registered", async || {
        get(&ra.ctx.stats.registrations_ok) >= 1
    })
    .await;
    assert_eq!(ka.mapping(mn2), None);
    let t0 = Instant::now();
    ra.events.send(miss(mn2)).await.unwrap();
    wait_until(10, "mn2's mapping in mn1's kernel", async || {
        ka.mapping(mn2).is_some()
    })
    .await;
    let took = t0.elapsed();
    let (p, left) = ka.mapping(mn2).unwrap();
    assert_eq!(p, prefix("2001:db8:b::/64"));
    // The lifetime is the one the MA gave (mn2 asked for 600 s).
    let left = left.expect("installed with a lifetime, not static");
    assert!((590..=600).contains(&left), "lifetime {left}");
    assert_eq!(get(&ra.ctx.stats.dns_lookups), 2, "own TXT + mn2's TXT");
    println!("miss -> DNS -> MA Query -> installed in {took:?}");

    // A second miss for the same peer uses the cached MA list.
    let t1 = Instant::now();
    ra.events.send(miss(mn2)).await.unwrap();
    wait_until(10, "second resolution", async || {
        get(&ra.ctx.stats.resolved) >= 2
    })
    .await;
    println!(
        "miss -> cached MA list -> MA Query -> installed in {:?}",
        t1.elapsed()
    );
    assert_eq!(
        get(&ra.ctx.stats.dns_lookups),
        2,
        "MA list came from the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_for_node_without_mapping_installs_nothing_and_is_counted() {
    let (mn1, mn3) = (node(1), node(3));
    let ma = Agent::start(&[mn1, mn3]).await;
    let dns = Knot::start(&deployment(&[
        ("mn1", mn1, vec![ma.server()]),
        ("mn3", mn3, vec![ma.server()]),
    ]))
    .await;
    let (ka, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let mut cfg = cfg_plain(mn1, dns.addr);
    cfg.metrics_listen = Some("[::1]:0".parse().unwrap());
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    wait_until(10, "registered", async || {
        get(&r.ctx.stats.registrations_ok) >= 1
    })
    .await;
    r.events.send(miss(mn3)).await.unwrap();
    wait_until(10, "the MA's 'no mapping'", async || {
        get(&r.ctx.stats.no_mapping) >= 1
    })
    .await;
    assert_eq!(ka.mapping(mn3), None);
    assert_eq!(ka.map_news(), 0);

    let text = http_get(r.metrics_addr.expect("metrics listener"), "/metrics").await;
    for line in [
        "lin6resolvd_registrations_ok_total 1\n",
        "lin6resolvd_no_mapping_total 1\n",
        "lin6resolvd_dns_lookups_total 2\n",
        "lin6resolvd_resolved_total 0\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    assert!(
        http_get(r.metrics_addr.unwrap(), "/nope")
            .await
            .starts_with("HTTP/1.0 404")
    );
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_refresh_keeps_true_mapping() {
    let mn9 = node(9);
    let Pair {
        mn1,
        mn2,
        ma1: _ma1,
        ma2,
        dns,
    } = Pair::with_mn2_registered(&[("mn9", mn9)]).await;
    let (ka, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let r = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel)
        .await
        .unwrap();
    r.events.send(miss(mn2)).await.unwrap();
    wait_until(10, "mn2 resolved", async || ka.mapping(mn2).is_some()).await;
    assert_eq!(ka.map_news(), 1);

    // A forged refresh "from mn2", sent from an address that is not mn2's
    // locator: it makes mn1 ask mn2's MA, which still says 2001:db8:b::.
    let forger = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    let refresh = |n| {
        MappingRefresh {
            node: n,
            timestamp: lin6::auth::unix_now(),
        }
        .to_vec()
    };
    forger.send_to(&refresh(mn2), r.refresh_addr).await.unwrap();
    wait_until(10, "the re-query's answer installed", async || {
        ka.map_news() >= 2
    })
    .await;
    assert_eq!(get(&r.ctx.stats.requeries), 1);
    assert_eq!(
        ka.mapping(mn2).unwrap().0,
        prefix("2001:db8:b::/64"),
        "true mapping kept"
    );

    // A refresh for a node mn1 does not talk to costs nothing: no DNS, no query.
    let lookups = get(&r.ctx.stats.dns_lookups);
    forger.send_to(&refresh(mn9), r.refresh_addr).await.unwrap();
    // Garbage is dropped too.
    forger
        .send_to(b"not a refresh", r.refresh_addr)
        .await
        .unwrap();
    wait_until(10, "two refreshes ignored", async || {
        get(&r.ctx.stats.refreshes_ignored) >= 2
    })
    .await;
    assert_eq!(get(&r.ctx.stats.dns_lookups), lookups);
    assert_eq!(ka.mapping(mn9), None);

    // When mn2 really moves, a refresh makes mn1 follow what the MA says.
    assert_eq!(
        ma2.register(mn2, prefix("2001:db8:c::/64"), 2).await,
        UpdateCode::Ok
    );
    forger.send_to(&refresh(mn2), r.refresh_addr).await.unwrap();
    wait_until(10, "mn2's new locator", async || {
        ka.mapping(mn2).map(|m| m.0) == Some(prefix("2001:db8:c::/64"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_for_one_node_are_rate_limited() {
    let Pair {
        mn1,
        mn2,
        ma1: _ma1,
        ma2: _ma2,
        dns,
    } = Pair::with_mn2_registered(&[]).await;
    let (ka, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let mut cfg = cfg_plain(mn1, dns.addr);
    cfg.refresh.min_interval_ms = 60_000;
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    r.events.send(miss(mn2)).await.unwrap();
    wait_until(10, "mn2 resolved", async || ka.mapping(mn2).is_some()).await;
    let s = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    let msg = MappingRefresh {
        node: mn2,
        timestamp: 0,
    }
    .to_vec();
    for _ in 0..20 {
        s.send_to(&msg, r.refresh_addr).await.unwrap();
    }
    wait_until(10, "20 refreshes received", async || {
        get(&r.ctx.stats.refreshes_received) >= 20
    })
    .await;
    assert_eq!(
        get(&r.ctx.stats.requeries),
        u64::from(lin6resolvd::events::REFRESHES_PER_INTERVAL),
        "two MA queries per node per interval (a move's early and confirming Refresh)"
    );
    wait_until(10, "18 refreshes ignored", async || {
        get(&r.ctx.stats.refreshes_ignored) >= 18
    })
    .await;
    assert_eq!(get(&r.ctx.stats.refreshes_ignored), 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_event_reregisters_and_refreshes_correspondents() {
    let Pair {
        mn1,
        mn2,
        ma1,
        ma2: _ma2,
        dns,
    } = Pair::with_mn2_registered(&[]).await;
    // mn2's resolver, as far as mn1 can tell: a socket where datagrams to
    // mn2's LIN6 address arrive (lin6.ko would translate to its locator).
    let cn = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    let (ka, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    ka.route_datagrams(lin6_of(mn2), cn.local_addr().unwrap());
    let r = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel)
        .await
        .unwrap();
    wait_until(10, "mn1 registered", async || {
        prefix_of(ma1.mapping(mn1).await) == Some(prefix("2001:db8:a::/64"))
    })
    .await;
    r.events.send(miss(mn2)).await.unwrap();
    wait_until(10, "mn2 is a correspondent", async || {
        ka.mapping(mn2).is_some()
    })
    .await;

    // mn1 moves: lin6.ko switches the locator and raises PREFIX.
    let old = prefix("2001:db8:a::/64").with_node(mn1);
    let new = prefix("2001:db8:c::/64").with_node(mn1);
    ka.set_locator(new);
    let t0 = Instant::now();
    r.events
        .send(Event::Prefix {
            old_locator: Some(old),
            new_locator: Some(new),
            ifindex: Some(2),
        })
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let mut refresh_at_correspondent = async || {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), cn.recv_from(&mut buf))
            .await
            .expect("a Mapping Refresh reaches the correspondent")
            .unwrap();
        let refresh = MappingRefresh::decode(&buf[..n]).unwrap();
        assert_eq!(refresh.node, mn1);
        t0.elapsed()
    };
    // The first goes out with the registration request, before the MA's
    // reply (the MA answers queries from the verified request already).
    let early = refresh_at_correspondent().await;
    // The second once the MA has accepted: a correspondent that asks the
    // MA on receipt of it gets the new locator, whatever the first got.
    let took = refresh_at_correspondent().await;
    assert_eq!(
        prefix_of(ma1.mapping(mn1).await),
        Some(prefix("2001:db8:c::/64"))
    );
    wait_until(10, "the sends counted", async || {
        get(&r.ctx.stats.refreshes_sent) >= 2
    })
    .await;
    assert_eq!(get(&r.ctx.stats.refreshes_sent), 2);
    println!(
        "PREFIX -> Mapping Refresh at the correspondent in {early:?} (with the request), \
         {took:?} (re-registered)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_registers_the_locator_its_prefix_event_names_without_asking_the_kernel() {
    let mn1 = node(1);
    let ma = Agent::start(&[mn1]).await;
    let dns = Knot::start(&deployment(&[("mn1", mn1, vec![ma.server()])])).await;
    let (_k, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let r = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel)
        .await
        .unwrap();
    wait_until(10, "registered", async || {
        prefix_of(ma.mapping(mn1).await) == Some(prefix("2001:db8:a::/64"))
    })
    .await;
    // The kernel stand-in still reports the old locator: only the event
    // names the new one, and that is what must reach the MA.
    r.events
        .send(Event::Prefix {
            old_locator: Some(prefix("2001:db8:a::/64").with_node(mn1)),
            new_locator: Some(prefix("2001:db8:c::/64").with_node(mn1)),
            ifindex: Some(2),
        })
        .await
        .unwrap();
    wait_until(10, "the MA has the event's locator", async || {
        prefix_of(ma.mapping(mn1).await) == Some(prefix("2001:db8:c::/64"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_refreshed_before_its_lifetime_runs_out() {
    let mn1 = node(1);
    let ma = Agent::start(&[mn1]).await;
    let dns = Knot::start(&deployment(&[("mn1", mn1, vec![ma.server()])])).await;
    let (_k, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let mut cfg = cfg_plain(mn1, dns.addr);
    // Short, but with three seconds of slack per refresh (one a second): a
    // loaded CI host must not turn scheduling delay into a lapse.
    cfg.registration.lifetime_s = 4;
    cfg.registration.refresh_at = 0.25;
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    wait_until(10, "registered", async || {
        get(&r.ctx.stats.registrations_ok) >= 1
    })
    .await;
    // A lifetime and a half later the mapping is still live at the MA.
    let end = Instant::now() + Duration::from_secs(6);
    while Instant::now() < end {
        assert_eq!(
            prefix_of(ma.mapping(mn1).await),
            Some(prefix("2001:db8:a::/64")),
            "the mapping lapsed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let n = get(&r.ctx.stats.registrations_ok);
    assert!(
        (5..=9).contains(&n),
        "{n} registrations in ~6 s, refreshed every second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_is_retried_until_the_peers_ma_is_back() {
    let Pair {
        mn1,
        mn2,
        ma1: _ma1,
        mut ma2,
        dns,
    } = Pair::with_mn2_registered(&[]).await;
    ma2.stop();
    let (ka, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let mut cfg = cfg_plain(mn1, dns.addr);
    cfg.query.attempts = 1;
    cfg.query.rounds = 10;
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    r.events.send(miss(mn2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ka.mapping(mn2), None);
    assert_eq!(get(&r.ctx.stats.resolve_failed), 0, "still retrying");
    ma2.restart().await;
    wait_until(20, "mn2 resolved once its MA is back", async || {
        ka.mapping(mn2).is_some()
    })
    .await;
    assert_eq!(ka.mapping(mn2).unwrap().0, prefix("2001:db8:b::/64"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_server_keeps_its_ma_across_moves_mobile_node_goes_back_to_the_first() {
    let (s1, mn1) = (node(0x51), node(1));
    let mut ma_a = Agent::start(&[s1, mn1]).await;
    let ma_b = Agent::start(&[s1, mn1]).await;
    let dns = Knot::start(&deployment(&[
        ("s1", s1, vec![ma_a.server(), ma_b.server()]),
        ("mn1", mn1, vec![ma_a.server(), ma_b.server()]),
    ]))
    .await;
    // MA A is down at boot: both end up at MA B.
    ma_a.stop();
    let (ks, kernel_s) = kernel_at(s1, prefix("2001:db8:5::/64"));
    let mut cfg_s = cfg_plain(s1, dns.addr);
    cfg_s.registration.sticky_ma = true;
    let rs = lin6resolvd::start(cfg_s, kernel_s).await.unwrap();
    let (km, kernel_m) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let rm = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel_m)
        .await
        .unwrap();
    wait_until(10, "both registered at B", async || {
        get(&rs.ctx.stats.registrations_ok) >= 1 && get(&rm.ctx.stats.registrations_ok) >= 1
    })
    .await;
    assert_eq!(current_ma(&rs).and_then(|s| s.port), Some(ma_b.port));
    assert_eq!(current_ma(&rm).and_then(|s| s.port), Some(ma_b.port));

    // A is back; both move.
    ma_a.restart().await;
    for (k, r, n, p) in [
        (&ks, &rs, s1, "2001:db8:6::/64"),
        (&km, &rm, mn1, "2001:db8:b::/64"),
    ] {
        let new = prefix(p).with_node(n);
        k.set_locator(new);
        r.events
            .send(Event::Prefix {
                old_locator: None,
                new_locator: Some(new),
                ifindex: None,
            })
            .await
            .unwrap();
    }
    wait_until(10, "both re-registered", async || {
        get(&rs.ctx.stats.registrations_ok) >= 2 && get(&rm.ctx.stats.registrations_ok) >= 2
    })
    .await;
    assert_eq!(
        current_ma(&rs).and_then(|s| s.port),
        Some(ma_b.port),
        "the server stayed"
    );
    assert_eq!(
        prefix_of(ma_b.mapping(s1).await),
        Some(prefix("2001:db8:6::/64"))
    );
    assert_eq!(
        current_ma(&rm).and_then(|s| s.port),
        Some(ma_a.port),
        "the mobile node went back"
    );
    assert_eq!(
        prefix_of(ma_a.mapping(mn1).await),
        Some(prefix("2001:db8:b::/64"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_resolver_registers_again_and_is_not_refused_as_a_replay() {
    let mn1 = node(1);
    let ma = Agent::start(&[mn1]).await;
    let dns = Knot::start(&deployment(&[("mn1", mn1, vec![ma.server()])])).await;
    for (round, p) in [(1, "2001:db8:a::/64"), (2, "2001:db8:d::/64")] {
        // Each round is a fresh daemon (a restart): the MA remembers the
        // last sequence, so the new one must start ahead of it.
        let (_k, kernel) = kernel_at(mn1, prefix(p));
        let r = lin6resolvd::start(cfg_plain(mn1, dns.addr), kernel)
            .await
            .unwrap();
        wait_until(10, "registered", async || {
            prefix_of(ma.mapping(mn1).await) == Some(prefix(p))
        })
        .await;
        assert_eq!(get(&r.ctx.stats.registrations_failed), 0, "round {round}");
        drop(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_beyond_the_resolution_bound_are_dropped_not_queued() {
    let mn1 = node(1);
    // Static MA that never answers: every resolution hangs in its rounds.
    let silent_port = free_port_pair();
    let _silent = StdUdp::bind(("::1", silent_port + 1)).unwrap();
    let (ka, kernel) = kernel_at(mn1, prefix("2001:db8:a::/64"));
    let mut cfg = resolver_config(
        mn1,
        "[::1]:53".parse().unwrap(),
        &format!("ma: ['[::1]:{silent_port}']\n"),
    );
    cfg.events.max_resolving = 2;
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    let t0 = Instant::now();
    for i in 10..20 {
        r.events.send(miss(node(i))).await.unwrap();
    }
    // A repeated miss for a peer being resolved is left to that resolution:
    // never queued, and not a "busy" drop either.
    r.events.send(miss(node(10))).await.unwrap();
    wait_until(5, "8 misses dropped", async || {
        get(&r.ctx.stats.dropped_busy) >= 8
    })
    .await;
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "the event loop did not wait"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get(&r.ctx.stats.dropped_busy), 8);
    assert_eq!(ka.map_news(), 0);
}
