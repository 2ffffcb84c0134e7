//! Load sharing from the user's side (issue 5, paper §IV): a peer whose
//! reverse TXT record says `ls=` is a pool address; the resolver asks an LS
//! (LSS_MA_REQUEST) which MA to use, queries that MA, and installs what it
//! says. Everything is real: Knot DNS serving zones `lin6ctl dns records`
//! generated, lsd and lin6agentd (in this process, their own tasks and
//! sockets) on loopback UDP, the agents measuring real RTTs to the user.
//! Only the kernel is the in-memory stand-in.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket as StdUdp};
use std::time::Duration;

use common::*;
use lin6::addr::{Lin6Params, NodeId, Prefix64};
use lin6::discovery::Server;
use lin6::ls::ServiceLevel;
use lin6::netlink::{Event, MissReason};
use lin6::wire::{
    Authenticated, Codec, MappingRefresh, MaybeAuthenticated, UpdateCode, UpdateReply,
    UpdateRequest,
};
use lin6resolvd::events::get;

const CLUSTER: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// The pool: every content server S_i answers on this one LIN6 address.
fn pool_node() -> NodeId {
    node(0x100)
}

fn pool() -> Ipv6Addr {
    Lin6Params::default().lin6_address(pool_node())
}

fn miss(n: NodeId) -> Event {
    Event::Miss {
        node_id: n,
        address: Lin6Params::default().lin6_address(n),
        queue_len: 1,
        reason: MissReason::NoMapping,
    }
}

/// A port pair free on both [::1] and 127.0.0.1: two MAs on one port pair,
/// told apart by address as an LS reply tells them (it carries no port).
fn dual_port_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port_pair();
        if StdUdp::bind(("127.0.0.1", p)).is_ok() && StdUdp::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no UDP port pair free on both ::1 and 127.0.0.1");
}

async fn start_lsd() -> lsd::Running {
    let cfg = lsd::Config::parse(&format!(
        "listen: \"[::1]:0\"\npeer_listen: \"[::1]:0\"\n\
         cluster_key: {{ id: 7, secret_hex: \"{CLUSTER}\" }}\n\
         pool: \"{}\"\n\
         subscribers: {{ \"{}\": premium }}\n\
         ma_table: {{ heartbeat_timeout_ms: 1000 }}\n\
         decision: {{ rtt_deadline_ms: 1000 }}\n",
        pool(),
        node(1)
    ))
    .unwrap();
    let subs = Box::new(lsd::subscribers::ConfigSubscribers(cfg.subscribers.clone()));
    lsd::spawn(cfg, subs).await.unwrap()
}

/// A pool member's MA (lin6agentd with `ls:`), on `listen` (registration)
/// and the next port (queries), speaking for `ma_addr`. `ls` is the YAML
/// that says where its LSs are (`servers:` or `discovery:`). Its database
/// holds the pool's Node ID and `users`.
async fn start_pool_ma(
    dir: &tempfile::TempDir,
    listen: SocketAddr,
    ma_addr: Ipv6Addr,
    ls: &str,
    users: &[NodeId],
) -> lin6agentd::Running {
    let url = format!("sqlite://{}/agent.db", dir.path().display());
    let store = lin6agentd::db::Store::open(&url, 2, Duration::from_secs(5))
        .await
        .unwrap();
    for n in std::iter::once(&pool_node()).chain(users) {
        store
            .add_subscriber(*n, 1, SECRET, ServiceLevel::Normal, 0)
            .await
            .unwrap();
    }
    store.close().await;
    let query = SocketAddr::new(listen.ip(), listen.port() + 1);
    let cfg = lin6agentd::Config::parse(&format!(
        "registration_listen: \"{listen}\"\nquery_listen: \"{query}\"\n\
         database: {{ url: \"{url}\" }}\nquery: {{ workers: 1 }}\ncache: {{ poll_ms: 50 }}\n\
         ls:\n  cluster_key: {{ id: 7, secret_hex: \"{CLUSTER}\" }}\n  \
         ma_addr: \"{ma_addr}\"\n  listen: \"[::1]:0\"\n  capacity_kbps: 100000\n  \
         heartbeat_interval_ms: 100\n  failover_after_ms: 400\n  {ls}\n"
    ))
    .unwrap();
    lin6agentd::spawn(cfg).await.unwrap()
}

/// Registers the pool's Node ID at `prefix` with the MA at `to`, as that
/// MA's content server S_i does.
async fn register_server(to: SocketAddr, prefix: Prefix64) {
    let req = UpdateRequest {
        sequence: 1,
        prefix,
        node: pool_node(),
        timestamp: lin6::auth::unix_now(),
        lifetime: 300,
    };
    let sock = tokio::net::UdpSocket::bind("[::]:0").await.unwrap();
    let bytes = Authenticated::sign(req, &key()).to_vec();
    for _ in 0..20 {
        sock.send_to(&bytes, to).await.unwrap();
        let mut buf = [0u8; 64];
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await
        {
            let r = MaybeAuthenticated::<UpdateReply>::decode(&buf[..n]).unwrap();
            assert_eq!(r.msg().code, UpdateCode::Ok);
            return;
        }
    }
    panic!("the pool MA at {to} does not answer registrations");
}

/// Whether the MA `ma` is an active entry in `ls`'s table.
fn active_at(ls: &lsd::Running, ma: Ipv6Addr) -> bool {
    ls.with(|l| {
        l.ma_table()
            .snapshot(tokio::time::Instant::now(), l.load_model())
            .into_iter()
            .any(|v| v.addr == ma && v.active)
    })
}

/// Whether the LS told this MA that `user` is coming (LSS_MA_ASSIGN).
fn counts_user(a: &lin6agentd::Running, user: NodeId) -> bool {
    a.ls.as_ref().unwrap().user(user).is_some()
}

/// A deployment: the user mn1 (its own MA listed as usual) and the pool,
/// whose record lists LS servers and no MA.
fn pool_deployment(user_ma: &str, ls: &[SocketAddr]) -> String {
    let list: Vec<String> = ls.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "ttl: 60\nnameserver: localhost.\n\
         nodes:\n  - {{name: mn1.lin6.test., node_id: '{}', ma: ['{user_ma}']}}\n\
         pools:\n  - {{name: stream.lin6.test., address: '{}', ls: [{}]}}\n",
        node(1),
        pool(),
        list.join(", ")
    )
}

fn user_config(dns: SocketAddr, ma_port: u16) -> lin6resolvd::Config {
    resolver_config(
        node(1),
        dns,
        &format!("load_sharing: {{timeout_ms: 200, attempts: 2, ma_port: {ma_port}}}\n"),
    )
}

/// An LS and two pool members, sites A and B: each an MA answering for the
/// pool with its own server's prefix (s_a, s_b), on one port at two
/// loopback addresses (A [::1], B ::ffff:127.0.0.1); the servers registered
/// and both MAs active at the LS. `user` is a subscriber of A's database.
struct TwoSites {
    ls: lsd::Running,
    port: u16,
    addr_a: Ipv6Addr,
    addr_b: Ipv6Addr,
    ma_a: lin6agentd::Running,
    ma_b: lin6agentd::Running,
    s_a: Prefix64,
    s_b: Prefix64,
    _databases: [tempfile::TempDir; 2],
}

impl TwoSites {
    async fn start(user: NodeId) -> TwoSites {
        let ls = start_lsd().await;
        let port = dual_port_pair();
        let servers = format!("servers: [\"{}\"]", ls.ls_addr);
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let addr_a = Ipv6Addr::LOCALHOST;
        let addr_b = Ipv4Addr::LOCALHOST.to_ipv6_mapped();
        let ma_a = start_pool_ma(&da, (addr_a, port).into(), addr_a, &servers, &[user]).await;
        let ma_b = start_pool_ma(&db, (addr_b, port).into(), addr_b, &servers, &[]).await;
        let (s_a, s_b) = (prefix("2001:db8:5a::/64"), prefix("2001:db8:5b::/64"));
        register_server((addr_a, port).into(), s_a).await;
        register_server((addr_b, port).into(), s_b).await;
        wait_until(10, "both MAs active at the LS", async || {
            active_at(&ls, addr_a) && active_at(&ls, addr_b)
        })
        .await;
        TwoSites {
            ls,
            port,
            addr_a,
            addr_b,
            ma_a,
            ma_b,
            s_a,
            s_b,
            _databases: [da, db],
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_miss_asks_the_ls_which_ma_and_installs_the_locator_of_the_server_it_chose() {
    let mn1 = node(1);
    let sites = TwoSites::start(mn1).await;
    let TwoSites {
        ref ls,
        port,
        addr_a,
        addr_b,
        ref ma_a,
        ref ma_b,
        s_b,
        ..
    } = sites;

    // The operator drains MA A (it keeps its users, gets no new ones): the
    // LS must send the user to B. A resolver that did not follow the LS
    // (say, tried the MA port on [::1]) would get A's server.
    assert!(ls.with(|l| l.set_drained(addr_a, true)));

    let dns = Knot::start(&pool_deployment(&format!("[::1]:{port}"), &[ls.ls_addr])).await;
    let (k, kernel) = kernel_at(mn1, prefix("2001:db8:1::/64"));
    let r = lin6resolvd::start(user_config(dns.addr, port), kernel)
        .await
        .unwrap();
    r.events.send(miss(pool_node())).await.unwrap();
    wait_until(15, "the pool's mapping in the user's kernel", async || {
        k.mapping(pool_node()).is_some()
    })
    .await;

    // The chosen MA was told the user is coming, the other was not; the
    // mapping is the chosen MA's server's.
    assert!(counts_user(ma_b, mn1), "the LS assigned the user to B");
    assert!(!counts_user(ma_a, mn1));
    let (want, chosen) = (s_b, addr_b);
    assert_eq!(k.mapping(pool_node()).unwrap().0, want);
    let s = &r.ctx.stats;
    assert_eq!(get(&s.ls.chosen), 1);
    assert_eq!(get(&s.ls.failovers), 0);
    assert_eq!(
        ls.with(|l| get(&l.metrics().ma_requests)),
        get(&s.ls.requests)
    );
    assert_eq!(
        r.ctx
            .ls_choices
            .lock()
            .unwrap()
            .get(pool(), std::time::Instant::now()),
        Some(vec![Server {
            addr: chosen,
            port: Some(port)
        }]),
        "the LS's choice is cached for the pool"
    );

    // The next miss for the pool goes straight to the chosen MA. (Once the
    // first resolution has ended: a plain miss during one is left to it.)
    wait_until(10, "first resolution ended", async || get(&s.resolved) >= 1).await;
    let requests = get(&s.ls.requests);
    r.events.send(miss(pool_node())).await.unwrap();
    wait_until(10, "second resolution", async || get(&s.resolved) >= 2).await;
    assert_eq!(get(&s.ls.requests), requests, "no second LSS_MA_REQUEST");
    assert_eq!(k.mapping(pool_node()).unwrap().0, want);
    sites.ls.shutdown().await;
}

/// Receives a Mapping Refresh from `from` within 5 s.
async fn refresh_at(sock: &tokio::net::UdpSocket, from: NodeId) {
    let mut buf = [0u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("a Mapping Refresh reaches the site")
        .unwrap();
    assert_eq!(MappingRefresh::decode(&buf[..n]).unwrap().node, from);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_asks_the_ls_again_and_refreshes_every_site_that_may_still_stream() {
    let mn1 = node(1);
    let sites = TwoSites::start(mn1).await;
    let TwoSites {
        ref ls,
        port,
        addr_a,
        addr_b,
        s_a,
        s_b,
        ..
    } = sites;
    // Each site's resolver, as far as the user can tell: a socket where
    // datagrams to the site's locator arrive.
    let site_a = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    let site_b = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    let dns = Knot::start(&pool_deployment(&format!("[::1]:{port}"), &[ls.ls_addr])).await;
    let (k, kernel) = kernel_at(mn1, prefix("2001:db8:1::/64"));
    k.route_datagrams(s_a.with_node(pool_node()), site_a.local_addr().unwrap());
    k.route_datagrams(s_b.with_node(pool_node()), site_b.local_addr().unwrap());
    // The pool's LIN6 address must not be used for refreshes: it would
    // reach one site only.
    let by_lin6 = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    k.route_datagrams(pool(), by_lin6.local_addr().unwrap());
    let r = lin6resolvd::start(user_config(dns.addr, port), kernel)
        .await
        .unwrap();
    let s = &r.ctx.stats;
    wait_until(10, "the user registered", async || {
        get(&s.registrations_ok) >= 1
    })
    .await;

    // On network 1 the LS sends the user to B (A is drained); the mapping
    // carries the pool flag.
    assert!(ls.with(|l| l.set_drained(addr_a, true)));
    r.events.send(miss(pool_node())).await.unwrap();
    wait_until(15, "the pool's mapping in the user's kernel", async || {
        k.mapping(pool_node()).is_some()
    })
    .await;
    assert_eq!(k.mapping(pool_node()).unwrap().0, s_b);
    assert!(k.is_pool(pool_node()), "installed with the pool flag");

    // Now A is the better choice. The user moves to network 2: B (whose
    // stream goes on, pinned by the kernel) hears of it at its locator, and
    // the LS, asked again, sends new flows to A.
    assert!(ls.with(|l| l.set_drained(addr_a, false)));
    assert!(ls.with(|l| l.set_drained(addr_b, true)));
    let move_to = |n: u16| {
        let old = k.node().unwrap().locator;
        let new = prefix(&format!("2001:db8:{n}::/64")).with_node(mn1);
        k.set_locator(new);
        Event::Prefix {
            old_locator: old,
            new_locator: Some(new),
            ifindex: Some(2),
        }
    };
    let requests = get(&s.ls.requests);
    r.events.send(move_to(2)).await.unwrap();
    refresh_at(&site_b, mn1).await;
    wait_until(15, "the pool's mapping moved to A", async || {
        k.mapping(pool_node()).is_some_and(|m| m.0 == s_a)
    })
    .await;
    assert!(k.is_pool(pool_node()));
    assert!(get(&s.ls.requests) > requests, "the LS was asked again");
    assert_eq!(get(&s.pool_rechoices), 1);

    // Moving again, both sites are told: A (current) and B (whose flows
    // may still run).
    r.events.send(move_to(3)).await.unwrap();
    refresh_at(&site_a, mn1).await;
    refresh_at(&site_b, mn1).await;
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), by_lin6.recv_from(&mut buf))
            .await
            .is_err(),
        "no refresh to the pool's LIN6 address"
    );
    wait_until(10, "the second re-ask", async || {
        get(&s.pool_rechoices) == 2
    })
    .await;
    sites.ls.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_miss_goes_to_the_second_ls_when_the_first_does_not_answer() {
    let mn1 = node(1);
    // The first LS listed: a socket that takes datagrams and never answers.
    let dead = StdUdp::bind("[::1]:0").unwrap();
    dead.set_nonblocking(true).unwrap();
    let dead_addr = dead.local_addr().unwrap();
    let ls = start_lsd().await;
    let port = free_port_pair();
    let da = tempfile::tempdir().unwrap();
    let servers = format!("servers: [\"{}\"]", ls.ls_addr);
    let ma = start_pool_ma(
        &da,
        (Ipv6Addr::LOCALHOST, port).into(),
        Ipv6Addr::LOCALHOST,
        &servers,
        &[mn1],
    )
    .await;
    register_server(
        (Ipv6Addr::LOCALHOST, port).into(),
        prefix("2001:db8:5a::/64"),
    )
    .await;
    wait_until(10, "MA active at the LS", async || {
        active_at(&ls, Ipv6Addr::LOCALHOST)
    })
    .await;
    let dns = Knot::start(&pool_deployment(
        &format!("[::1]:{port}"),
        &[dead_addr, ls.ls_addr],
    ))
    .await;
    let (k, kernel) = kernel_at(mn1, prefix("2001:db8:1::/64"));
    let r = lin6resolvd::start(user_config(dns.addr, port), kernel)
        .await
        .unwrap();
    r.events.send(miss(pool_node())).await.unwrap();
    wait_until(15, "the pool's mapping in the user's kernel", async || {
        k.mapping(pool_node()).is_some()
    })
    .await;
    assert_eq!(
        k.mapping(pool_node()).unwrap().0,
        prefix("2001:db8:5a::/64")
    );
    assert!(counts_user(&ma, mn1));

    // The dead LS was asked first, with a well-formed request for the pool.
    let mut asked = 0;
    let mut buf = [0u8; 256];
    while let Ok((n, _)) = dead.recv_from(&mut buf) {
        let m = lin6::ls::decode(&buf[..n], |_| None).unwrap();
        match m.body {
            lin6::ls::Body::MaRequest(q) => {
                assert_eq!((q.node_id, q.pool), (mn1, pool()));
                asked += 1;
            }
            b => panic!("not an LSS_MA_REQUEST: {b:?}"),
        }
    }
    assert_eq!(asked, 2, "load_sharing.attempts requests to the first LS");
    let s = &r.ctx.stats;
    assert_eq!(get(&s.ls.failovers), 1);
    assert_eq!(get(&s.ls.chosen), 1);
    ls.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ma_and_user_both_find_the_ls_in_dns_and_both_use_the_second_when_the_first_dies() {
    let mn1 = node(1);
    let (ls1, ls2) = (start_lsd().await, start_lsd().await);
    let port = free_port_pair();
    let dns = Knot::start(&pool_deployment(
        &format!("[::1]:{port}"),
        &[ls1.ls_addr, ls2.ls_addr],
    ))
    .await;
    // The MA has no LS address in its config: the pool's record names them.
    let discovery = format!(
        "discovery: {{pool: \"{}\", dns_servers: [\"{}\"], timeout_ms: 300, attempts: 1, retry_ms: 200}}",
        pool(),
        dns.addr
    );
    let da = tempfile::tempdir().unwrap();
    let me = Ipv6Addr::LOCALHOST;
    let ma = start_pool_ma(&da, (me, port).into(), me, &discovery, &[mn1]).await;
    register_server((me, port).into(), prefix("2001:db8:5a::/64")).await;
    wait_until(10, "the MA heartbeats the first LS", async || {
        active_at(&ls1, me)
    })
    .await;
    assert!(!active_at(&ls2, me));

    ls1.shutdown().await;
    wait_until(10, "the MA moved to the second LS", async || {
        active_at(&ls2, me)
    })
    .await;

    let (k, kernel) = kernel_at(mn1, prefix("2001:db8:1::/64"));
    let r = lin6resolvd::start(user_config(dns.addr, port), kernel)
        .await
        .unwrap();
    r.events.send(miss(pool_node())).await.unwrap();
    wait_until(15, "the pool's mapping in the user's kernel", async || {
        k.mapping(pool_node()).is_some()
    })
    .await;
    assert_eq!(
        k.mapping(pool_node()).unwrap().0,
        prefix("2001:db8:5a::/64")
    );
    assert!(counts_user(&ma, mn1), "the second LS assigned the user");
    assert_eq!(get(&r.ctx.stats.ls.failovers), 1);
    ls2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_member_without_ma_config_does_not_ask_an_ls_for_its_own_ma() {
    let ls = start_lsd().await;
    let port = free_port_pair();
    let dns = Knot::start(&pool_deployment(&format!("[::1]:{port}"), &[ls.ls_addr])).await;
    // The resolver of a server whose Node ID is the pool's: its reverse
    // TXT names LSs, which choose MAs for users, not for the pool itself.
    let (_k, kernel) = kernel_at(pool_node(), prefix("2001:db8:5a::/64"));
    let r = lin6resolvd::start(
        resolver_config(pool_node(), dns.addr, "load_sharing: {timeout_ms: 50}\n"),
        kernel,
    )
    .await
    .unwrap();
    wait_until(10, "a failed registration round", async || {
        get(&r.ctx.stats.registrations_failed) >= 1
    })
    .await;
    assert_eq!(get(&r.ctx.stats.ls.requests), 0);
    assert_eq!(ls.with(|l| get(&l.metrics().ma_requests)), 0);
    ls.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_server_registers_with_its_own_ma_and_finds_its_users_ma_through_dns() {
    let mn1 = node(1);
    let ls = start_lsd().await;
    // The user's MA holds the user's mapping; the pool's MA holds only the
    // pool's, as when users register with MAs of their own.
    let users_ma = Agent::start(&[mn1]).await;
    assert_eq!(
        users_ma.register(mn1, prefix("2001:db8:1::/64"), 1).await,
        UpdateCode::Ok
    );
    let pool_ma = Agent::start(&[pool_node()]).await;
    let dns = Knot::start(&pool_deployment(&users_ma.server(), &[ls.ls_addr])).await;
    let (k, kernel) = kernel_at(pool_node(), prefix("2001:db8:5a::/64"));
    // resolver_config's settings, with our own MA named for registration.
    let cfg = lin6resolvd::Config::from_yaml(&format!(
        "node_id: \"{}\"\nkey: {{id: 1, secret: {SECRET}}}\n\
         dns: {{servers: [\"{}\"], timeout_ms: 500, attempts: 2}}\n\
         routes: {{manage: false}}\n\
         registration: {{ma: [\"{}\"], timeout_ms: 100, attempts: 2, backoff_ms: 100}}\n\
         query: {{timeout_ms: 100, attempts: 2, rounds: 3, backoff_ms: 100}}\n\
         refresh: {{listen: \"[::1]:0\", min_interval_ms: 0}}\n",
        pool_node(),
        dns.addr,
        pool_ma.server()
    ))
    .unwrap();
    let r = lin6resolvd::start(cfg, kernel).await.unwrap();
    wait_until(10, "the server registered with its own MA", async || {
        prefix_of(pool_ma.mapping(pool_node()).await) == Some(prefix("2001:db8:5a::/64"))
    })
    .await;
    // A user's packet reaches the server: its miss is resolved through the
    // user's reverse TXT and the user's MA, not the server's own MA.
    r.events.send(miss(mn1)).await.unwrap();
    wait_until(
        10,
        "the user's mapping in the server's kernel",
        async || k.mapping(mn1).is_some(),
    )
    .await;
    assert_eq!(k.mapping(mn1).unwrap().0, prefix("2001:db8:1::/64"));
    assert_eq!(get(&r.ctx.stats.ls.requests), 0, "no LS asked");
    ls.shutdown().await;
}
