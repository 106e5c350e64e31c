//! The binary's own command-line contract: help everywhere, clear errors and exit codes for wrong
//! arguments. (Being an integration test of this package, it also makes cargo build the `kessai`
//! binary that the end-to-end tests in `tests/` run.)

use std::process::Command;

fn kessai(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kessai")).args(args).output().expect("run kessai")
}

#[test]
fn help_is_available_for_every_command() {
    for args in [
        vec!["--help"],
        vec!["dev", "--help"],
        vec!["init", "--help"],
        vec!["node", "run", "--help"],
        vec!["keys", "new", "--help"],
        vec!["tx", "call", "--help"],
        vec!["tx", "deploy", "--help"],
        vec!["tx", "gov", "add-member", "--help"],
        vec!["query", "state", "--help"],
        vec!["status", "--help"],
    ] {
        let out = kessai(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
}

#[test]
fn wrong_arguments_exit_with_usage_error() {
    let out = kessai(&["tx", "call"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("required"));
    let out = kessai(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn user_mistakes_are_one_sentence_without_backtrace() {
    // Nobody listens on this port.
    let out = kessai(&["status", "--rpc", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: cannot reach the node"), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");

    let out = kessai(&["init", "--home", "/tmp/kessai-never", "--chain", "staging"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown chain spec preset"));

    let out = kessai(&["query", "tx", "not-hex", "--rpc", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex"));
}

#[test]
fn init_refuses_to_overwrite_a_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let home = home.to_str().unwrap();
    let out = kessai(&["init", "--home", home, "--chain", "local", "--dev-key", "validator-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key_before = std::fs::read(dir.path().join("node/node_key.json")).unwrap();
    let out = kessai(&["init", "--home", home, "--chain", "local"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already initialised"));
    assert_eq!(std::fs::read(dir.path().join("node/node_key.json")).unwrap(), key_before);
}
