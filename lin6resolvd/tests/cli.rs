//! The binary's command line: --help explains, --check validates a config
//! and names what is wrong.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lin6resolvd"))
        .args(args)
        .output()
        .expect("run lin6resolvd")
}

#[test]
fn help_explains_what_it_does() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "Mapping Agent",
        "TXT",
        "Mapping Refresh",
        "--config",
        "--check",
        "docs/operations.md",
    ] {
        assert!(text.contains(want), "--help lacks {want:?}:\n{text}");
    }
}

#[test]
fn check_accepts_a_good_config_and_names_the_bad_field() {
    let dir = std::env::temp_dir().join(format!("lin6resolvd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "node_id: 201:4a00::1\nkey: {id: 1, secret: 000102030405060708090a0b0c0d0e0f}\n",
    )
    .unwrap();
    let o = run(&["--config", good.to_str().unwrap(), "--check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("3ffe:501:1830:1999:201:4a00:0:1"), "{out}");

    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "node_id: 201:4a00::1\nkey: {id: 1, secret: 000102030405060708090a0b0c0d0e0f}\nregistration: {lifetme_s: 5}\n",
    )
    .unwrap();
    let o = run(&["--config", bad.to_str().unwrap(), "--check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("lifetme_s"), "{err}");
    let o = run(&["--config", "/nonexistent.yaml", "--check"]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}
