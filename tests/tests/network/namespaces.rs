//! Four validators on four "machines": Linux network namespaces joined by a bridge, each with its
//! own address (10.77.0.1–4/24 on a veth pair), configured by `kessai testnet init --hostnames` as
//! an operator would for separate hosts, each node run inside its namespace
//! (`ip netns exec NS kessai node run`) and queried there (`ip netns exec NS kessai status`). They
//! must agree; one namespace whose link goes down must not stop the other three; it must catch
//! up once its link is back.
//!
//! Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) for `ip netns add`; where that is refused the
//! test prints why and passes without running. Namespaces, links and processes are removed even
//! when the test fails (`Hosts`' `Drop`).

use kessai_tests::kessai_bin;
use kessai_tests::testnet::one_network_at_a_time;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOSTS: usize = 4;
/// Every host uses the same ports, as separate machines would (`testnet init --hostnames`).
const BASE_PORT: u16 = 26600;
const MINUTE: Duration = Duration::from_secs(60);

fn ip_of(i: usize) -> String {
    format!("10.77.0.{}", i + 1)
}

/// Runs `ip ARGS`; an error carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

#[track_caller]
fn ip_ok(args: &[&str]) {
    ip(args).unwrap_or_else(|e| panic!("{e}"));
}

/// Four namespaces on one bridge, and the nodes running in them. Dropping it kills the nodes and
/// deletes the namespaces (which takes their veth pairs along) and the bridge.
struct Hosts {
    /// Unique per test process, so that two runs on one machine do not collide.
    tag: String,
    namespaces: Vec<String>,
    bridge: Option<String>,
    nodes: Vec<Option<Child>>,
}

impl Hosts {
    /// Creates the namespaces and the bridge, or says why it cannot (`None`: skip).
    fn create() -> Result<Option<Hosts>, String> {
        let tag = format!("{}", std::process::id() % 100_000);
        let probe = format!("kessai-{tag}-probe");
        if let Err(e) = ip(&["netns", "add", &probe]) {
            println!(
                "SKIPPED namespaces test: `ip netns add` is not permitted here ({e}); it needs root \
                 (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2"
            );
            return Ok(None);
        }
        ip(&["netns", "del", &probe])?;
        let mut hosts = Hosts { tag, namespaces: Vec::new(), bridge: None, nodes: Vec::new() };
        let bridge = format!("kbr{}", hosts.tag);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        hosts.bridge = Some(bridge.clone());
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..HOSTS {
            let ns = format!("kessai-{}-{i}", hosts.tag);
            ip(&["netns", "add", &ns])?;
            hosts.namespaces.push(ns.clone());
            let veth = hosts.veth(i);
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            ip(&["link", "set", &veth, "master", &bridge, "up"])?;
            let address = format!("{}/24", ip_of(i));
            ip(&["netns", "exec", &ns, "ip", "addr", "add", &address, "dev", "eth0"])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", "eth0", "up"])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(Some(hosts))
    }

    /// The bridge side of host `i`'s veth pair: setting it down unplugs the host's cable.
    fn veth(&self, i: usize) -> String {
        format!("kv{}-{i}", self.tag)
    }

    /// Starts `kessai node run --home HOME` inside host `i`'s namespace, logging to HOME/node.log.
    fn start(&mut self, i: usize, home: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join("node.log"))
            .expect("node log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespaces[i]])
            .arg(kessai_bin())
            .args(["node", "run", "--home"])
            .arg(home)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start a node in its namespace");
        while self.nodes.len() <= i {
            self.nodes.push(None);
        }
        self.nodes[i] = Some(child);
    }

    /// `kessai ARGS --rpc http://127.0.0.1:RPC --json` inside host `i`'s namespace.
    fn cli_json(&self, i: usize, args: &[&str]) -> Option<serde_json::Value> {
        let rpc = format!("http://127.0.0.1:{}", BASE_PORT + 1);
        let out = Command::new("ip")
            .args(["netns", "exec", &self.namespaces[i]])
            .arg(kessai_bin())
            .args(args)
            .args(["--rpc", &rpc, "--json"])
            .env_remove("KESSAI_RPC")
            .output()
            .expect("run kessai in a namespace");
        out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
    }

    /// Host `i`'s committed height, as `kessai status` reports it there (0 while it does not answer).
    fn height(&self, i: usize) -> u64 {
        self.cli_json(i, &["status"]).and_then(|s| s["height"].as_u64()).unwrap_or(0)
    }

    fn heights(&self, which: &[usize]) -> Vec<u64> {
        which.iter().map(|&i| self.height(i)).collect()
    }

    fn wait_height(&self, which: &[usize], height: u64, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let heights = self.heights(which);
            if heights.iter().all(|&h| h >= height) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "hosts {which:?} at heights {heights:?}, not all at {height} after {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn block_hash(&self, i: usize, height: u64) -> String {
        let block = self
            .cli_json(i, &["query", "block", "--height", &height.to_string()])
            .unwrap_or_else(|| panic!("host {i} has no block {height}"));
        block["hash"].as_str().expect("block hash").to_string()
    }

    fn assert_same_chain(&self, which: &[usize], up_to: u64) {
        for height in 1..=up_to {
            let hashes: Vec<String> = which.iter().map(|&i| self.block_hash(i, height)).collect();
            assert!(hashes.windows(2).all(|w| w[0] == w[1]), "fork at height {height}: {hashes:?}");
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.namespaces {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
        if let Some(bridge) = &self.bridge {
            if let Err(e) = ip(&["link", "del", bridge]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// The logs of every host, for a failure message.
fn logs(homes: &[PathBuf]) -> String {
    homes
        .iter()
        .enumerate()
        .map(|(i, home)| {
            let log = std::fs::read_to_string(home.join("node.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- host {i} ({}) ---\n{}", ip_of(i), tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn four_validators_on_four_hosts_agree_survive_an_unplugged_host_and_it_catches_up() {
    let _turn = one_network_at_a_time();
    let Some(mut hosts) = Hosts::create().unwrap_or_else(|e| panic!("{e}")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("consortium");
    let hostnames: Vec<String> = (0..HOSTS).map(ip_of).collect();
    let init = Command::new(kessai_bin())
        .args(["testnet", "init", "--hostnames", &hostnames.join(","), "--out"])
        .arg(&out)
        .args(["--base-port", &BASE_PORT.to_string()])
        .output()
        .expect("run kessai testnet init");
    assert!(init.status.success(), "testnet init: {}", String::from_utf8_lossy(&init.stderr));
    let homes: Vec<PathBuf> = (0..HOSTS).map(|i| out.join(format!("node{i}"))).collect();
    for (i, home) in homes.iter().enumerate() {
        hosts.start(i, home);
    }
    let all: Vec<usize> = (0..HOSTS).collect();

    // They agree: four validators need three of them to commit, so blocks mean they talk
    // across the bridge, each at its own address.
    hosts.wait_height(&all, 3, 2 * MINUTE).unwrap_or_else(|e| panic!("{e}\n{}", logs(&homes)));
    hosts.assert_same_chain(&all, 3);

    // Host 3 unplugged: the other three go on, host 3 does not.
    ip_ok(&["link", "set", &hosts.veth(3), "down"]);
    std::thread::sleep(Duration::from_secs(2));
    let cut_at = hosts.height(3);
    let others = [0, 1, 2];
    let target = hosts.heights(&others).into_iter().max().unwrap() + 3;
    hosts
        .wait_height(&others, target, 2 * MINUTE)
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&homes)));
    let isolated = hosts.height(3);
    assert!(
        isolated <= cut_at + 1,
        "the unplugged host went from {cut_at} to {isolated}: it was not cut off"
    );

    // Plugged back in: it catches up with the others, on the same chain.
    ip_ok(&["link", "set", &hosts.veth(3), "up"]);
    // Only the highest of the three is known to be at `tip`: wait for every host before comparing.
    let tip = hosts.heights(&others).into_iter().max().unwrap();
    hosts.wait_height(&all, tip, 2 * MINUTE).unwrap_or_else(|e| panic!("{e}\n{}", logs(&homes)));
    hosts.assert_same_chain(&all, tip);
    let later = tip + 2;
    hosts.wait_height(&all, later, 2 * MINUTE).unwrap_or_else(|e| panic!("{e}\n{}", logs(&homes)));
}
