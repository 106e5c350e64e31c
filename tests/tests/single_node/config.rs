//! The node's config.toml through the real binary: `kessai init` writes it commented, a bad value
//! stops `kessai node run` with the key named, and the environment overrides the file.

use kessai_tests::{kessai_bin, kessai_ok};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn init(home: &Path) {
    kessai_ok(&[
        "init",
        "--home",
        &home.display().to_string(),
        "--chain",
        "dev",
        "--dev-key",
        "validator-0",
        "--rpc-addr",
        "127.0.0.1:0",
    ]);
}

/// Each key line of a config.toml has a comment above it that gives its default.
fn assert_commented(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("# Kessai node configuration"), "{text}");
    assert!(text.contains("KESSAI_<SECTION>_<FIELD>"), "no word on the environment:\n{text}");
    for section in [
        "[rpc]",
        "[p2p]",
        "[metrics]",
        "[consensus]",
        "[mempool]",
        "[store]",
        "[log]",
        "[state_sync]",
    ] {
        assert!(text.lines().any(|l| l == section), "no {section}:\n{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let comment: Vec<&str> =
            lines[..i].iter().rev().take_while(|l| l.starts_with('#')).copied().collect();
        assert!(comment.iter().any(|l| l.contains("Default:")), "{line:?} has no comment:\n{text}");
    }
}

#[test]
fn init_and_testnet_init_write_a_commented_config_toml() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    init(&home);
    assert_commented(&home.join("config.toml"));
    assert!(!home.join("config.json").exists());
    let text = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(text.contains("\naddress = \"127.0.0.1:0\"\n"), "--rpc-addr not written:\n{text}");

    let net = dir.path().join("net");
    kessai_ok(&["testnet", "init", "--validators", "2", "--out", &net.display().to_string()]);
    for node in ["node0", "node1"] {
        assert_commented(&net.join(node).join("config.toml"));
        assert!(!net.join(node).join("config.json").exists());
    }
}

#[test]
fn a_bad_value_or_an_unknown_key_stops_the_node_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    init(&home);
    let path = home.join("config.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    for (from, to, expected) in [
        ("max_txs = 10000", "max_txs = \"lots\"", "`mempool.max_txs`: invalid type"),
        ("max_txs = 10000", "max_txs = 0", "`mempool.max_txs` must be at least 1"),
        ("max_txs = 10000", "max_tx = 10000", "`mempool.max_tx`: unknown field"),
        ("format = \"text\"", "format = \"xml\"", "`log.format`"),
    ] {
        let bad = good.replacen(&format!("\n{from}\n"), &format!("\n{to}\n"), 1);
        assert_ne!(bad, good, "{from} is not in config.toml");
        std::fs::write(&path, &bad).unwrap();
        let (code, err) = run_to_exit(&home);
        assert_eq!(code, Some(1), "{to}: {err}");
        assert!(err.contains(expected), "{to}: {err}");
        assert!(err.contains(&path.display().to_string()), "{to}: the file is not named: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{to}: not one sentence: {err}");
        // Nothing changed: the file is the operator's, and nothing started.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        assert!(!home.join("rpc_url").exists());
    }
}

/// `kessai node run --home HOME`, which must exit within 30 s: its exit code and stderr.
fn run_to_exit(home: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(kessai_bin())
        .args(["node", "run", "--home", &home.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("the node started anyway:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Kills the node when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kessai node run --home HOME ARGS` with `env`; returns the process and the RPC URL it
/// announces.
fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> (Running, String) {
    let url_file = home.join("rpc_url");
    let _ = std::fs::remove_file(&url_file);
    let log = std::fs::File::create(home.join("node.log")).unwrap();
    let child = Command::new(kessai_bin())
        .args(["node", "run", "--home", &home.display().to_string()])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let start = Instant::now();
    loop {
        if let Ok(url) = std::fs::read_to_string(&url_file) {
            return (running, url.trim().to_string());
        }
        let log = std::fs::read_to_string(home.join("node.log")).unwrap_or_default();
        assert!(running.0.try_wait().unwrap().is_none(), "the node exited:\n{log}");
        assert!(start.elapsed() < Duration::from_secs(60), "no RPC in 60 s:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_environment_overrides_the_file_and_a_flag_overrides_both() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    init(&home);
    let address = format!("127.0.0.1:{}", free_port());
    let env = [("KESSAI_RPC_ADDRESS", address.as_str())];
    {
        let (_node, url) = run(&home, &[], &env);
        assert_eq!(url, format!("http://{address}"), "KESSAI_RPC_ADDRESS was not used");
        let status = kessai_ok(&["status", "--rpc", &url]);
        assert!(status.contains("chain kessai-dev"), "{status}");
    }
    // The file still says 127.0.0.1:0; the flag wins over the environment.
    let flag = format!("127.0.0.1:{}", free_port());
    let (_node, url) = run(&home, &["--rpc-addr", &flag], &env);
    assert_eq!(url, format!("http://{flag}"));
}
