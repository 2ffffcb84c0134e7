//! The built binary's argument handling, output and exit status, for
//! everything that needs no kernel module: the address helpers, invalid
//! input, and (on a machine without lin6.ko) the module-not-loaded error.

use std::process::{Command, Output};

fn lin6ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lin6ctl"))
        .args(args)
        .output()
        .expect("run lin6ctl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = lin6ctl(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Exit status and the single stderr line.
#[track_caller]
fn fails(args: &[&str]) -> (i32, String) {
    let o = lin6ctl(args);
    assert!(o.stdout.is_empty(), "{args:?} wrote {:?}", stdout(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{args:?}: not one line: {e:?}");
    assert!(!e.contains("panicked"), "{e}");
    (o.status.code().unwrap(), e.trim_end().to_string())
}

#[test]
fn addr_lin6_prints_the_lin6_address() {
    assert_eq!(
        ok(&["addr", "lin6", "02:01:4a:00:00:00:00:01"]),
        "3ffe:501:1830:1999:201:4a00:0:1\n"
    );
    assert_eq!(
        ok(&[
            "addr",
            "lin6",
            "201:4a00::1",
            "--lin6-prefix",
            "fd00:6:6:6::/64"
        ]),
        "fd00:6:6:6:201:4a00:0:1\n"
    );
    assert_eq!(
        ok(&["-j", "addr", "lin6", "02-01-4A-00-00-00-00-01"]),
        "{\"node_id\":\"02:01:4a:00:00:00:00:01\",\"lin6_prefix\":\"3ffe:501:1830:1999::/64\",\
         \"lin6_address\":\"3ffe:501:1830:1999:201:4a00:0:1\"}\n"
    );
}

#[test]
fn addr_locator_joins_prefix_and_node_id() {
    assert_eq!(
        ok(&[
            "addr",
            "locator",
            "02:01:4a:00:00:00:00:01",
            "2001:db8:a::/64"
        ]),
        "2001:db8:a:0:201:4a00:0:1\n"
    );
    assert_eq!(
        ok(&["addr", "locator", "201:4a00::1", "2001:db8:a:b::"]),
        "2001:db8:a:b:201:4a00:0:1\n"
    );
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "--json",
        "addr",
        "locator",
        "201:4a00::1",
        "2001:db8:a::",
    ]))
    .unwrap();
    assert_eq!(j["locator"], "2001:db8:a:0:201:4a00:0:1");
    assert_eq!(j["prefix"], "2001:db8:a::/64");
}

#[test]
fn addr_kind_of_node_ids_and_addresses() {
    assert_eq!(ok(&["addr", "kind", "02:01:4a:00:00:00:00:01"]), "mobile\n");
    assert_eq!(ok(&["addr", "kind", "1:4a00::9"]), "stationary\n");
    assert_eq!(
        ok(&["addr", "kind", "3ffe:501:1830:1999:201:4a00:0:1"]),
        "mobile\n"
    );
    assert_eq!(ok(&["addr", "kind", "2001:db8:0:0:1:2:3:4"]), "other\n");
    assert_eq!(
        ok(&[
            "addr",
            "kind",
            "ae:de:48:00:00:00:00:09",
            "--oui",
            "ac:de:48"
        ]),
        "mobile\n"
    );
    assert_eq!(
        ok(&["-j", "addr", "kind", "00:01:4a:00:00:00:00:01"]),
        "{\"node_id\":\"00:01:4a:00:00:00:00:01\",\"oui\":\"00:01:4a\",\"kind\":\"stationary\"}\n"
    );
}

#[test]
fn pretty_json_is_indented() {
    let s = ok(&["-j", "-p", "addr", "kind", "201:4a00::1"]);
    assert!(s.starts_with("{\n  \"node_id\""), "{s}");
}

#[test]
fn invalid_input_is_one_line_and_status_2() {
    let (code, e) = fails(&["addr", "lin6", "zz"]);
    assert_eq!(code, 2);
    assert!(
        e.starts_with("lin6ctl: invalid value 'zz' for '<NODE_ID>'"),
        "{e}"
    );
    assert!(e.contains("invalid node ID"), "{e}");

    let (code, e) = fails(&["map", "add", "02:01:4a:00:00:00:00:01", "2001:db8:a::1/64"]);
    assert_eq!(code, 2);
    assert!(e.contains("bits after the first 64 must be zero"), "{e}");

    let (code, e) = fails(&["map", "del", "02:01:4a:00:00:00:00"]);
    assert_eq!(code, 2);
    assert!(e.contains("invalid node ID"), "{e}");

    let (code, e) = fails(&["map", "add", "201:4a00::1", "2001:db8::", "--lifetime", "0"]);
    assert_eq!(code, 2);
    assert!(e.contains("use --static"), "{e}");

    let (code, e) = fails(&["node", "set", "--locator", "10.0.0.1"]);
    assert_eq!(code, 2);
    assert!(e.contains("not an IPv6 address"), "{e}");

    let (code, _) = fails(&["addr", "kind", "2001:db8::/64"]);
    assert_eq!(code, 2);
    let (code, _) = fails(&["addr", "kind", "201:4a00::1", "--oui", "01:00:5e"]);
    assert_eq!(code, 2);
    let (code, _) = fails(&["monitor", "--timeout", "soon"]);
    assert_eq!(code, 2);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["bogus"][..],
        &["map", "del"],
        &["node", "set"],
        &[
            "map",
            "add",
            "201:4a00::1",
            "2001:db8::",
            "--lifetime",
            "5",
            "--static",
        ],
    ] {
        let o = lin6ctl(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn help_explains_each_command_with_an_example() {
    let top = ok(&["--help"]);
    for c in ["node", "map", "stats", "monitor", "addr"] {
        assert!(top.contains(&format!("  {c} ")), "{c} missing from --help");
    }
    assert!(top.contains("Exit status"));
    for path in [
        &["node", "show"][..],
        &["node", "set"],
        &["map", "add"],
        &["map", "del"],
        &["map", "show"],
        &["map", "flush"],
        &["stats"],
        &["monitor"],
        &["addr", "lin6"],
        &["addr", "locator"],
        &["addr", "kind"],
    ] {
        let mut args = path.to_vec();
        args.push("--help");
        let h = ok(&args);
        assert!(h.contains("Example"), "{path:?} --help has no example");
        assert!(h.contains("lin6ctl "), "{path:?}");
    }
}

#[test]
fn kernel_commands_without_the_module() {
    // Only meaningful where lin6.ko is not loaded (not in the QEMU guest).
    if std::fs::read_to_string("/proc/modules")
        .is_ok_and(|m| m.lines().any(|l| l.starts_with("lin6 ")))
    {
        return;
    }
    for args in [
        &["node", "show"][..],
        &["-j", "map", "show"],
        &["stats"],
        &["map", "flush"],
        &["monitor", "--count", "1"],
    ] {
        let o = lin6ctl(args);
        let e = stderr(&o);
        if e.contains("netlink socket") {
            return; // no AF_NETLINK in this sandbox
        }
        assert_eq!(o.status.code(), Some(3), "{args:?}: {e}");
        assert_eq!(e, "lin6: kernel module not loaded (insmod lin6.ko)\n");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn netns_that_does_not_exist_is_named_in_the_error_and_nothing_runs() {
    let (code, err) = fails(&["-n", "lin6-no-such-namespace", "stats"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("network namespace /run/netns/lin6-no-such-namespace"),
        "{err}"
    );
    let (_, err) = fails(&["--netns", "/nonexistent/ns", "addr", "kind", "02:01:4a::1"]);
    assert!(err.contains("network namespace /nonexistent/ns"), "{err}");
}

#[test]
fn netns_of_our_own_process_is_entered() {
    // Our own namespace by path: entering it works wherever the test runs
    // (setns to the current namespace needs CAP_SYS_ADMIN, so only the
    // error for an unprivileged run is accepted instead).
    let o = lin6ctl(&[
        "-n",
        "/proc/self/ns/net",
        "addr",
        "kind",
        "02:01:4a:00:00:00:00:01",
    ]);
    if o.status.code() == Some(0) {
        assert!(stdout(&o).contains("mobile"), "{}", stdout(&o));
    } else {
        assert!(
            stderr(&o).contains("Operation not permitted"),
            "{}",
            stderr(&o)
        );
    }
}
