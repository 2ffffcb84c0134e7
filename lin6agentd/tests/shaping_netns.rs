//! The nftables + HTB shaper for real, as root, inside a fresh network
//! namespace: the test re-executes itself under `unshare -n`, so the host's
//! rules and qdiscs are never touched. Without root it prints SKIPPED
//! (LIN6_REQUIRE_ROOT=1 makes that a failure).

use lin6::addr::NodeId;
use lin6::ls::ServiceLevel;
use lin6agentd::shaping::Shaper;
use lin6agentd::shaping_nft_tc::{Classifier, NftTc, Params};
use std::io::Write;
use std::process::Command;

const INSIDE: &str = "LIN6_SHAPING_TEST_IN_NETNS";
const DEV: &str = "sh0";

/// Runs `test` in a new network namespace (re-exec under unshare); returns
/// false if the caller is that outer process and should stop.
fn in_fresh_netns(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    // Only root can unshare the network namespace and change its rules.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false);
    if !root {
        assert!(
            std::env::var("LIN6_REQUIRE_ROOT").as_deref() != Ok("1"),
            "LIN6_REQUIRE_ROOT=1 but not root"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n##  SKIPPED: {test} needs root (it installs nftables rules and HTB classes\n\
             ##  in a fresh network namespace); run cargo test as root.\n"
        );
        return false;
    }
    // Root without the right to make namespaces (a restricted container):
    // as good as not root here.
    let can_unshare = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !can_unshare {
        assert!(
            std::env::var("LIN6_REQUIRE_ROOT").as_deref() != Ok("1"),
            "LIN6_REQUIRE_ROOT=1 but `unshare -n` is not permitted"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n##  SKIPPED: {test}: `unshare -n` is not permitted here.\n"
        );
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("-n")
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare runs");
    let _ = std::io::stderr().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
    assert!(out.status.success(), "{test} failed inside the namespace");
    // The inner run must really have run the test, not filtered it out.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the inner run did not run {test}"
    );
    false
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn node(i: u64) -> NodeId {
    NodeId::from_u64(0x0201_4a00_0000_0000 | i)
}

/// A veth pair (dummy devices need a module this host may lack), with a /64
/// routed out of it and the users' neighbour entries made permanent (else
/// packets wait for neighbour discovery instead of reaching the qdisc), and the classifier this kernel has: fw where cls_fw
/// exists, else u32's `match mark`.
fn setup() -> Classifier {
    sh(&format!(
        "ip link set lo up && ip link add {DEV} type veth peer name {DEV}p && \
         ip link set {DEV} up && ip link set {DEV}p up && \
         ip -6 addr add 2001:db8:5::1/64 dev {DEV} nodad && \
         ip -6 neigh add 2001:db8:5::201:4a00:0:1 lladdr 02:00:00:00:00:01 dev {DEV} nud permanent && \
         ip -6 neigh add 2001:db8:5::201:4a00:0:2 lladdr 02:00:00:00:00:02 dev {DEV} nud permanent"
    ));
    let probe = format!(
        "tc qdisc add dev {DEV}p root handle 9: htb && \
         tc filter add dev {DEV}p parent 9: protocol ipv6 prio 1 handle 1 fw classid 9:1"
    );
    let c = if Command::new("sh")
        .args(["-c", &probe])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        Classifier::Fw
    } else {
        Classifier::Priority
    };
    let _ = Command::new("tc")
        .args(["qdisc", "del", "dev", &format!("{DEV}p"), "root"])
        .status();
    eprintln!("classifier used: {c:?}");
    c
}

fn shaper(c: Classifier) -> NftTc {
    NftTc::new(Params {
        device: DEV.into(),
        nft_table: "lin6_shaping".into(),
        tc: "tc".into(),
        classifier: c,
        capacity_kbps: 10_000,
        normal_kbps: 500,
        premium_kbps: 2_000,
    })
    .unwrap()
}

/// Our table's rules as (Node ID compared with, mark set), from `nft -j`.
fn nft_rules() -> Vec<(u64, u64)> {
    let v: serde_json::Value = serde_json::from_str(&sh("nft -j list ruleset")).unwrap();
    let mut rules = Vec::new();
    for item in v["nftables"].as_array().unwrap() {
        let Some(r) = item.get("rule") else { continue };
        if r["table"] != "lin6_shaping" || r["family"] != "ip6" || r["chain"] != "postrouting" {
            continue;
        }
        let mut id = None;
        let mut mark = None;
        for e in r["expr"].as_array().unwrap() {
            if let Some(m) = e.get("match") {
                let raw = &m["left"]["payload"];
                assert_eq!(raw["base"], "nh", "{e}");
                assert_eq!(
                    (raw["offset"].as_u64(), raw["len"].as_u64()),
                    (Some(256), Some(64))
                );
                assert_eq!(m["op"], "==", "{e}");
                id = m["right"].as_u64();
            }
            if let Some(m) = e.get("mangle")
                && m["key"]["meta"]["key"] == "mark"
            {
                mark = m["value"].as_u64();
            }
        }
        rules.push((id.expect("a match"), mark.expect("a mark")));
    }
    rules
}

/// `tc class show` lines of our device: (classid, parent, rate text).
/// Text, not -j: iproute2 6.1 prints HTB classes as text even with -j.
fn classes() -> Vec<(String, String, String)> {
    sh(&format!("tc class show dev {DEV}"))
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let id = w.get(2)?.to_string();
            let parent = match w.get(3) {
                Some(&"parent") => w.get(4)?.to_string(),
                _ => "root".into(),
            };
            let rate = w
                .iter()
                .position(|x| *x == "rate")
                .and_then(|i| w.get(i + 1))?;
            Some((id, parent, rate.to_string()))
        })
        .collect()
}

fn class_packets(classid: &str) -> u64 {
    let text = sh(&format!("tc -s class show dev {DEV} classid {classid}"));
    text.split_whitespace()
        .skip_while(|w| *w != "Sent")
        .nth(3)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

#[test]
fn installed_users_have_their_mark_rule_and_level_class_and_removal_leaves_nothing() {
    if !in_fresh_netns(
        "installed_users_have_their_mark_rule_and_level_class_and_removal_leaves_nothing",
    ) {
        return;
    }
    let c = setup();
    let s = shaper(c);
    s.install(node(1), ServiceLevel::Normal).unwrap();
    s.install(node(2), ServiceLevel::Premium).unwrap();

    let rules = nft_rules();
    assert_eq!(rules.len(), 2, "{rules:?}");
    let marks: Vec<u64> = rules.iter().map(|r| r.1).collect();
    assert!(
        marks.contains(&0x6c36_0100) && marks.contains(&0x6c36_0101),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(0x0201_4a00_0000_0001, 0x6c36_0100)),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(0x0201_4a00_0000_0002, 0x6c36_0101)),
        "{rules:?}"
    );
    let cls = classes();
    let find = |id: &str| cls.iter().find(|c| c.0 == id).cloned();
    assert_eq!(find("1:1").map(|c| c.2), Some("10Mbit".into()), "{cls:?}");
    assert_eq!(
        find("1:100"),
        Some(("1:100".into(), "1:10".into(), "500Kbit".into()))
    );
    assert_eq!(
        find("1:101"),
        Some(("1:101".into(), "1:20".into(), "2Mbit".into()))
    );
    if c == Classifier::Fw {
        let filters = sh(&format!("tc filter show dev {DEV}"));
        assert!(
            filters.contains("1:100") && filters.contains("1:101"),
            "{filters}"
        );
    }

    // Tagging works: datagrams to node 2 at an address of the routed /64
    // are marked and leave through node 2's class.
    let before = class_packets("1:101");
    let u = std::net::UdpSocket::bind("[::]:0").unwrap();
    for _ in 0..5 {
        u.send_to(b"x", "[2001:db8:5::201:4a00:0:2]:9").unwrap();
    }
    let after = class_packets("1:101");
    assert!(
        after >= before + 5,
        "class 1:101 sent {before} -> {after}\n{}\n{}",
        sh("nft list ruleset"),
        sh(&format!(
            "tc -s qdisc show dev {DEV}; tc -s filter show dev {DEV}; tc -s class show dev {DEV}"
        ))
    );
    assert_eq!(
        class_packets("1:100"),
        0,
        "node 1's class saw node 2's traffic"
    );

    // A level change moves the user; removal takes its rule, filter and class.
    s.install(node(1), ServiceLevel::Premium).unwrap();
    assert_eq!(find_parent("1:100"), Some("1:20".into()));
    s.remove(node(1)).unwrap();
    let rules = nft_rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].1, 0x6c36_0101);
    assert!(classes().iter().all(|c| c.0 != "1:100"));
    s.remove(node(2)).unwrap();
    assert!(nft_rules().is_empty());
    assert!(!sh(&format!("tc filter show dev {DEV}")).contains("1:10"));

    // Clearing takes the table and the qdisc.
    s.install(node(3), ServiceLevel::Normal).unwrap();
    s.clear().unwrap();
    assert!(!sh("nft list tables").contains("lin6_shaping"));
    assert!(!sh(&format!("tc qdisc show dev {DEV}")).contains("htb"));
}

fn find_parent(id: &str) -> Option<String> {
    classes().into_iter().find(|c| c.0 == id).map(|c| c.1)
}
