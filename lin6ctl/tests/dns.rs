//! `lin6ctl dns records`, run as the operator runs it: a description file
//! in, zone text or JSON out, and one-line errors with status 2.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lin6ctl"))
        .args(args)
        .output()
        .expect("run lin6ctl")
}

fn write(dir: &std::path::Path, yaml: &str) -> String {
    let p = dir.join("deploy.yaml");
    std::fs::write(&p, yaml).unwrap();
    p.to_str().unwrap().to_string()
}

const DEPLOY: &str = "nameserver: ns1.example.net.\nma: ['2001:db8:100::1']\n\
nodes:\n  - {name: mn1.lin6.example., node_id: '02:01:4a:00:00:00:00:01'}\n";

/// A directory of the test's own (the tests run in parallel).
fn tempdir(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lin6ctl-dns-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn zone_files_and_json_from_a_description() {
    let d = tempdir("zones");
    let f = write(&d, DEPLOY);
    let fwd = run(&[
        "dns",
        "records",
        &f,
        "--origin",
        "lin6.example.",
        "--serial",
        "7",
    ]);
    assert_eq!(fwd.status.code(), Some(0));
    let fwd = String::from_utf8(fwd.stdout).unwrap();
    assert!(fwd.contains("$ORIGIN lin6.example.\n"), "{fwd}");
    assert!(
        fwd.contains("@ IN SOA ns1.example.net. hostmaster.ns1.example.net. 7 "),
        "{fwd}"
    );
    assert!(fwd.contains("mn1.lin6.example. 300 IN AAAA 3ffe:501:1830:1999:201:4a00:0:1\n"));
    assert!(!fwd.contains("TXT"), "the TXT lives in the reverse zone");

    let rev = String::from_utf8(run(&["dns", "records", &f, "--reverse"]).stdout).unwrap();
    assert!(
        rev.contains("$ORIGIN 9.9.9.1.0.3.8.1.1.0.5.0.e.f.f.3.ip6.arpa.\n"),
        "{rev}"
    );
    assert!(
        rev.contains("IN TXT \"lin6 v=1 ma=2001:db8:100::1\"\n"),
        "{rev}"
    );

    let j = run(&["-j", "dns", "records", &f]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["type"], "TXT");
    assert_eq!(v[1]["data"], "lin6 v=1 ma=2001:db8:100::1");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn bad_descriptions_are_one_line_and_status_2() {
    let d = tempdir("bad");
    for (yaml, want) in [
        (
            "nodes: [{name: a.test., node_id: '201:4a00::1'}]\n",
            "no MA",
        ),
        ("nodez: []\n", "unknown field"),
    ] {
        let f = write(&d, yaml);
        let o = run(&["dns", "records", &f]);
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8(o.stderr).unwrap();
        assert!(e.starts_with("lin6ctl: ") && e.contains(want), "{e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    }
    let o = run(&["dns", "records", "/nonexistent/deploy.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let f = write(
        &d,
        DEPLOY
            .replace("nameserver: ns1.example.net.\n", "")
            .as_str(),
    );
    let o = run(&["dns", "records", &f, "--reverse"]);
    assert_eq!(o.status.code(), Some(2), "a zone file needs nameserver:");
    let _ = std::fs::remove_dir_all(d);
}
