//! A local multi-validator network of real `kessai node run` processes, written by
//! `kessai testnet init` on a temporary directory with free ports on 127.0.0.1.

use crate::{kessai_json, kessai_ok, TestNode};
use anyhow::{bail, Result};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Ports each node uses: p2p, RPC, metrics (see `kessai testnet init --base-port`).
const PORTS_PER_NODE: u16 = 10;

pub struct Testnet {
    pub dir: PathBuf,
    /// Node i, when it is running.
    nodes: Vec<Option<TestNode>>,
    /// Node i's entry of `nodes.json` (home, keys, addresses).
    pub entries: Vec<serde_json::Value>,
    _tmp: tempfile::TempDir,
}

impl Testnet {
    /// Writes a testnet of `validators` validators and `full_nodes` full nodes; starts none.
    pub fn init(validators: u32, full_nodes: u32) -> Testnet {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("testnet");
        let count = (validators + full_nodes) as u16;
        let base = free_base_port(count);
        kessai_ok(&[
            "testnet",
            "init",
            "--validators",
            &validators.to_string(),
            "--full-nodes",
            &full_nodes.to_string(),
            "--out",
            &dir.display().to_string(),
            "--base-port",
            &base.to_string(),
        ]);
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("nodes.json")).unwrap())
                .expect("nodes.json");
        let nodes = entries.iter().map(|_| None).collect();
        Testnet { dir, nodes, entries, _tmp: tmp }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn home(&self, i: usize) -> PathBuf {
        PathBuf::from(self.entries[i]["home"].as_str().expect("home"))
    }

    pub fn keys_dir(&self) -> String {
        self.dir.join("keys").display().to_string()
    }

    /// `kessai tx gov ARGS` signed by alice through node 0; panics unless it succeeds. Returns the
    /// height of its block.
    pub fn gov(&self, args: &[&str]) -> u64 {
        let keys = self.keys_dir();
        let mut all = vec!["tx", "gov"];
        all.extend(args);
        all.extend(["--key", "alice", "--keys-dir", &keys, "--json"]);
        let out = self.node(0).cli(&all);
        assert!(out.status.success(), "tx gov {args:?}: {}", crate::stderr(&out));
        let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON receipt");
        assert_eq!(receipt["receipt"]["status"]["status"], "success", "{receipt}");
        receipt["height"].as_u64().expect("height")
    }

    /// Starts (or restarts) node `i` and waits for its RPC.
    pub fn start(&mut self, i: usize) {
        self.start_with_env(i, &[]);
    }

    /// Starts node `i` for the first time with extra environment variables (e.g. `LD_PRELOAD` of
    /// libfaketime), which its restarts keep; on a node already started, `env` is ignored.
    pub fn start_with_env(&mut self, i: usize, env: &[(&str, &str)]) {
        self.start_with(i, env, &[]);
    }

    /// [`Testnet::start_with_env`] with extra arguments of `kessai node run` too (kept for its
    /// restarts).
    pub fn start_with(&mut self, i: usize, env: &[(&str, &str)], args: &[&str]) {
        match &mut self.nodes[i] {
            Some(node) => node.start().expect("node restarts"),
            None => {
                let node = TestNode::run_home_with(&self.home(i), env, args).expect("node starts");
                self.nodes[i] = Some(node.with_keys_dir(self.dir.join("keys")));
            }
        }
    }

    pub fn start_all(&mut self, count: usize) {
        for i in 0..count {
            self.start(i);
        }
    }

    /// `kill -9` of node `i`; [`Testnet::start`] brings it back on the same home.
    pub fn kill9(&mut self, i: usize) {
        if let Some(node) = &mut self.nodes[i] {
            node.kill9();
        }
    }

    /// Waits up to `timeout` for node `i` to end by itself: its exit status, none if it runs on.
    pub fn wait_exit(&mut self, i: usize, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.nodes[i].as_mut().and_then(|node| node.wait_exit(timeout))
    }

    /// Node `i` (started at least once).
    pub fn node(&self, i: usize) -> &TestNode {
        self.nodes[i].as_ref().expect("node was started")
    }

    /// Heights of the nodes in `which`.
    pub fn heights(&self, which: &[usize]) -> Vec<u64> {
        which.iter().map(|&i| self.node(i).height()).collect()
    }

    /// Waits until every node in `which` has committed `height`.
    pub fn wait_height(&self, which: &[usize], height: u64, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let heights = self.heights(which);
            if heights.iter().all(|&h| h >= height) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("nodes {which:?} at {heights:?}, not all at {height} after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The block hash node `i` committed at `height`.
    pub fn block_hash(&self, i: usize, height: u64) -> String {
        let block = self.node(i).cli_json(&["query", "block", "--height", &height.to_string()]);
        block["hash"].as_str().expect("hash").to_string()
    }

    /// Asserts that the nodes in `which` committed the same block at every height from 1 to
    /// `up_to`: no fork.
    pub fn assert_same_chain(&self, which: &[usize], up_to: u64) {
        for height in 1..=up_to {
            let hashes: Vec<String> = which.iter().map(|&i| self.block_hash(i, height)).collect();
            assert!(hashes.windows(2).all(|w| w[0] == w[1]), "fork at height {height}: {hashes:?}");
        }
    }

    /// `kessai status --json` of node `i`.
    pub fn status(&self, i: usize) -> serde_json::Value {
        kessai_json(&["status", "--rpc", &self.node(i).rpc, "--json"])
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.home(i).join("node.log")).unwrap_or_default()
    }
}

/// A base port with `count` nodes' worth of free ports above it (checked by binding them; another
/// process may still take one before the nodes start, which the tests would report as a bind error).
/// Bases stay in 20,000–31,999, below Linux's ephemeral range (32,768–60,999): the outgoing
/// connections of tests running alongside take ports from that range at any moment, and once took
/// a port between this check and the node's start.
pub fn free_base_port(count: u16) -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64;
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed.wrapping_mul(6364136223846793005) + attempt * 7919) % 12_000);
        let base = (base - base % 10) as u16;
        if (0..count * PORTS_PER_NODE).all(|offset| port_is_free(base + offset)) {
            return base;
        }
    }
    panic!("no free port range found");
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Reads a `kessai testnet init` node entry's field.
pub fn entry_field<'a>(entry: &'a serde_json::Value, field: &str) -> &'a str {
    entry[field].as_str().unwrap_or_else(|| panic!("nodes.json entry has no {field}"))
}

/// Where a node home keeps its metrics URL once running.
pub fn metrics_url(home: &Path) -> Option<String> {
    std::fs::read_to_string(home.join("metrics_url")).ok().map(|s| s.trim().to_string())
}

/// The value of the Prometheus sample `name` (no labels) served at `url`.
pub fn metric(url: &str, name: &str) -> Option<f64> {
    let text = http_get(url).ok()?;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A plain HTTP/1.0 GET of `http://HOST:PORT/PATH`; returns the body.
pub fn http_get(url: &str) -> Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("not http: {url}"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {authority}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {url}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_string())
}

/// Multi-node tests take turns: two networks of four or more debug-build nodes on two cores starve
/// each other's timeouts. Every test that starts a network holds this guard while it runs (a test
/// that panicked leaves it poisoned, which the next one ignores).
pub fn one_network_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE_NETWORK_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_NETWORK_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A node home at `home` for `net`'s chain spec, not listed in it, with every node of `net` as a
/// bootnode: an outsider until governance admits its key (or makes it a validator).
pub fn home_outside(net: &Testnet, home: &std::path::Path) {
    let spec = net.dir.join("chainspec.json");
    kessai_ok(&[
        "init",
        "--home",
        &home.display().to_string(),
        "--chain",
        &spec.display().to_string(),
        "--rpc-addr",
        "127.0.0.1:0",
    ]);
    let bootnodes: Vec<String> = net
        .entries
        .iter()
        .map(|e| format!("{}/p2p/{}", entry_field(e, "p2p_addr"), entry_field(e, "peer_id")))
        .collect();
    // A JSON list of strings is a TOML array too.
    let bootnodes = format!("bootnodes = {}", serde_json::to_string(&bootnodes).unwrap());
    crate::edit_config(home, "bootnodes = []", &bootnodes);
}
