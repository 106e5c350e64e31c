//! A disk that fills up under a real `kessai dev`, whose home is on a small tmpfs of its own: the
//! node must say so (an ERROR in its log, `storage_fault` in `kessai status`), refuse transactions
//! with one sentence, sign nothing, and then either carry on once space is back or stop with a
//! clear message and a non-zero status — and lose nothing it committed either way
//! (`docs/architecture.md`, "When the disk fails").
//!
//! Mounting needs root (or CAP_SYS_ADMIN); without it the tests print why and pass without running.

use kessai_primitives::Keypair;
use kessai_tests::{kessai_bin, kessai_with_env, stderr};
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const REFUSAL: &str = "the node cannot write to its disk; not accepting transactions";
const STOP_MESSAGE: &str = "error: the node cannot write to its disk and stops";

/// The node recovers by itself: the write of the block that hit the full disk is retried, and
/// succeeds once the disk has room again (RocksDB resumes once it sees its free-space reserve).
#[test]
fn a_full_disk_stops_admission_and_signing_until_space_returns() {
    // Room for RocksDB's reserve once the filler is gone (it resumes with 64 MiB free).
    let Some(disk) = Tmpfs::mount(200) else { return };
    // RocksDB preallocates its log file (about 70 MiB) where it can, and a node writes into that
    // space even on a full disk until the log outgrows it. A ballast during the start makes the
    // preallocation fail, so that this node, like one whose log is past its preallocation, meets
    // the full disk at its next block rather than after 70 MiB of blocks.
    let ballast = disk.path().join("ballast");
    fill(&ballast, Some(150 << 20));
    let mut node = DevNode::start(disk.path().join("dev"), &[]);
    std::fs::remove_file(&ballast).unwrap();

    let committed = commit_some_transactions(&node, &["bob", "carol"]);
    let hashes = block_hashes(&node, node.status()["height"].as_u64().unwrap());

    let filler = disk.path().join("filler");
    fill(&filler, None);
    let fault = node.wait_for("a storage fault in status", |s| !s["storage_fault"].is_null());
    assert!(
        fault["storage_fault"].as_str().unwrap().contains("No space left on device"),
        "{fault}"
    );
    let log = node.log_text();
    assert!(
        log.lines().any(|l| l.contains("ERROR") && l.contains("cannot write to its disk")),
        "no ERROR in the log:\n{log}"
    );
    let text_status = node.cli_ok(&["status"]);
    assert!(text_status.starts_with("storage: FAILED, cannot write block"), "{text_status}");

    // Transactions are refused at the door, with the reason.
    let refused = node.register_provider("dave");
    assert!(!refused.status.success(), "a transaction was admitted on a full disk");
    assert!(stderr(&refused).contains(REFUSAL), "{}", stderr(&refused));

    // Nothing commits, and the consensus stops within a height of what is on disk: nothing signed
    // builds on the block that could not be written.
    let stuck = node.status();
    std::thread::sleep(Duration::from_secs(3));
    let later = node.status();
    assert_eq!(later["height"], stuck["height"], "{later}");
    assert!(
        later["consensus_height"].as_u64().unwrap() <= later["height"].as_u64().unwrap() + 2,
        "{later}"
    );
    assert!(node.exit_status().is_none(), "the node stopped:\n{}", node.log_text());

    // Space comes back: the node carries on by itself, and takes transactions again.
    std::fs::remove_file(&filler).unwrap();
    let stuck_height = stuck["height"].as_u64().unwrap();
    node.wait_for("recovery", |s| {
        s["storage_fault"].is_null() && s["height"].as_u64().unwrap() > stuck_height
    });
    let after = commit_some_transactions(&node, &["dave"]);
    assert!(after[0].1 > stuck_height);
    assert!(node.log_text().contains("the disk is writable again"));

    assert_eq!(block_hashes(&node, hashes.len() as u64), hashes, "committed blocks changed");
    assert_still_committed(&node, &committed);
}

/// The node cannot recover by itself (the disk stays full past the retries, or RocksDB's
/// free-space reserve does not fit on this small disk): it stops with a clear message and a
/// non-zero status, and once there is space a restart finds everything it committed.
#[test]
fn a_disk_that_stays_full_stops_the_node_and_a_restart_loses_nothing() {
    let Some(disk) = Tmpfs::mount(48) else { return };
    let home = disk.path().join("dev");
    let retry = [("KESSAI_STORAGE_RETRY_SECS", "3")];
    let mut node = DevNode::start(home.clone(), &retry);
    let committed = commit_some_transactions(&node, &["bob", "carol"]);
    let hashes = block_hashes(&node, node.status()["height"].as_u64().unwrap());

    let filler = disk.path().join("filler");
    fill(&filler, None);
    let status = node.wait_for_exit(Duration::from_secs(60));
    assert!(!status.success(), "the node exited successfully on a full disk");
    let log = node.log_text();
    assert!(log.contains(STOP_MESSAGE), "no clear message:\n{log}");
    assert!(
        log.lines().any(|l| l.contains("ERROR") && l.contains("cannot write to its disk")),
        "no ERROR in the log:\n{log}"
    );

    std::fs::remove_file(&filler).unwrap();
    let mut node = DevNode::start(home, &retry);
    let restarted_at = hashes.len() as u64;
    node.wait_for("the chain to go on", |s| s["height"].as_u64().unwrap() > restarted_at + 1);
    assert_eq!(block_hashes(&node, restarted_at), hashes, "committed blocks changed");
    assert_still_committed(&node, &committed);
    commit_some_transactions(&node, &["dave"]);
}

/// Registers each of `providers` as a provider (alice signs), waiting for each to commit; returns
/// the transaction ids with their heights.
fn commit_some_transactions(node: &DevNode, providers: &[&str]) -> Vec<(String, u64)> {
    providers
        .iter()
        .map(|name| {
            let out = node.register_provider(name);
            assert!(out.status.success(), "register {name}: {}", stderr(&out));
            let receipt: Value = serde_json::from_slice(&out.stdout).expect("JSON receipt");
            assert_eq!(receipt["state"], "committed", "{receipt}");
            let id = receipt["tx_id"].as_str().unwrap().to_string();
            (id, receipt["height"].as_u64().unwrap())
        })
        .collect()
}

fn block_hashes(node: &DevNode, up_to: u64) -> Vec<String> {
    (1..=up_to)
        .map(|h| {
            let block = node.cli_json(&["query", "block", "--height", &h.to_string()]);
            block["hash"].as_str().unwrap().to_string()
        })
        .collect()
}

fn assert_still_committed(node: &DevNode, committed: &[(String, u64)]) {
    for (id, height) in committed {
        let info = node.cli_json(&["query", "tx", id]);
        assert_eq!(info["state"], "committed", "{info}");
        assert_eq!(info["height"].as_u64(), Some(*height), "{info}");
    }
}

/// Writes zeros to `path` until the disk is full (or `limit` bytes are written).
fn fill(path: &Path, limit: Option<u64>) {
    let mut file = File::create(path).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while limit.is_none_or(|limit| written < limit) {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // Whatever a last partial write took.
    let _ = file.sync_all();
}

/// A tmpfs of `size_mb` MiB on a fresh temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mb: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { dir }),
            Ok(out) => {
                eprintln!("SKIPPED: cannot mount a tmpfs (needs root): {}", stderr(&out).trim());
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// `kessai dev --home HOME`, with its log outside the disk under test (it must not fill it, nor
/// fail with it).
struct DevNode {
    home: PathBuf,
    rpc: String,
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl DevNode {
    fn start(home: PathBuf, env: &[(&str, &str)]) -> DevNode {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("node.log");
        let url_file = home.join("rpc_url");
        let _ = std::fs::remove_file(&url_file);
        let child = Command::new(kessai_bin())
            .args(["dev", "--home"])
            .arg(&home)
            .args(["--rpc-addr", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("spawn kessai dev");
        let mut node = DevNode { home, rpc: String::new(), child, log, _log_dir: log_dir };
        let started = Instant::now();
        loop {
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                node.rpc = url.trim().to_string();
                return node;
            }
            if let Some(status) = node.exit_status() {
                panic!("kessai dev exited with {status}:\n{}", node.log_text());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "RPC did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(["--rpc", &self.rpc]);
        kessai_with_env(&all, &[("KESSAI_DEV_HOME", &self.home)])
    }

    fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(out.status.success(), "kessai {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.cli_ok(&all)).unwrap()
    }

    fn status(&self) -> Value {
        self.cli_json(&["status"])
    }

    /// alice registers dev member `name` as a provider, and waits for the block.
    fn register_provider(&self, name: &str) -> std::process::Output {
        let provider = Keypair::dev(name).address().to_string();
        let args = json!([provider, format!("{name}'s plant")]).to_string();
        self.cli(&[
            "tx",
            "call",
            "asset-ownership",
            "register_provider",
            &args,
            "--key",
            "alice",
            "--json",
        ])
    }

    /// Polls `kessai status` until `done` holds (30 s at most); returns that status.
    fn wait_for(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let status = self.status();
            if done(&status) {
                return status;
            }
            if let Some(exit) = self.exit_status() {
                panic!("waiting for {what}, the node exited ({exit}):\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {what} in 30 s: {status}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "the node still runs {timeout:?} after its disk filled:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
