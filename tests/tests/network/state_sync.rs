//! State sync on a real network: a full node joins a four-validator chain from a snapshot of its
//! peers' state instead of replaying the chain, verified from a trusted header, and starts over
//! when killed in the middle; a validator that serves corrupted chunks is penalised and the chunks
//! are fetched from the others; a validator that joins late by state sync signs, and so does a
//! fifth validator added by governance to a chain that prunes.

use kessai_tests::testnet::{home_outside, one_network_at_a_time, Testnet};
use kessai_tests::TestNode;
use serde_json::json;
use std::time::Duration;

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const FULL_NODE: usize = 4;
const MINUTE: Duration = Duration::from_secs(60);
const INTERVAL: u64 = 5;

/// alice registers `provider` through node 0 (a transaction that writes state).
fn register_provider(net: &Testnet, provider: &str) {
    let keys = net.keys_dir();
    let receipt = net.node(0).cli_json(&[
        "tx",
        "call",
        "asset-ownership",
        "register_provider",
        &json!([kessai_tests::dev_address(provider), format!("{provider} solar")]).to_string(),
        "--key",
        "alice",
        "--keys-dir",
        &keys,
    ]);
    assert_eq!(receipt["receipt"]["status"]["status"], "success", "{receipt}");
}

/// Starts `kessai node run` on node `i`'s home with `args`, and kills it with SIGKILL once it has
/// written part of a state (a second after it starts fetching chunks from slow peers).
fn kill9_while_fetching(net: &Testnet, i: usize, args: &[&str]) {
    let home = net.home(i);
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(home.join("node.log")).unwrap();
    let mut child = std::process::Command::new(kessai_tests::kessai_bin())
        .args(["node", "run", "--home", &home.display().to_string()])
        .args(["--rpc-addr", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !net.log(i).contains("fetching the state snapshot") {
        assert!(start.elapsed() < MINUTE, "no state sync started:\n{}", net.log(i));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(!net.log(i).contains("state snapshot restored"), "state sync too fast to interrupt");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The flags of a validator that serves snapshots every `interval` heights with pruning on: it
/// keeps 20 heights of state and 3 of blocks, beside the snapshots (the latest two, and the
/// blocks above them).
fn serving_snapshots(interval: &str) -> [&str; 6] {
    ["--snapshot-interval", interval, "--state-keep-recent", "20", "--blocks-keep-recent", "3"]
}

fn header(net: &Testnet, i: usize, height: u64) -> serde_json::Value {
    net.node(i).cli_json(&["query", "header", "--height", &height.to_string()])
}

#[test]
fn a_full_node_joins_by_state_sync_starting_over_after_kill9_and_a_liar_is_penalised() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 1);
    let interval = INTERVAL.to_string();
    let serve = serving_snapshots(&interval);
    // Small chunks, so that every validator serves some; validator 3 corrupts each of its.
    let small = ("KESSAI_SNAPSHOT_CHUNK_BYTES", "1024");
    let slow = ("KESSAI_FAULT_SNAPSHOT_CHUNK_DELAY_MS", "150");
    for i in [0, 1, 2] {
        net.start_with(i, &[small, slow], &serve);
    }
    net.start_with(3, &[small, slow, ("KESSAI_FAULT_CORRUPT_SNAPSHOT_CHUNKS", "1")], &serve);
    net.wait_height(&VALIDATORS, 2, MINUTE).unwrap();
    for provider in ["bob", "carol", "dave", "erin"] {
        register_provider(&net, provider);
    }
    let start = net.node(0).height() + 2 * INTERVAL;
    net.wait_height(&VALIDATORS, start, 2 * MINUTE).unwrap();
    // The operator trusts a recent header (its hash from another operator, here node 0): the
    // peers still keep its state.
    let trusted = net.node(0).height() / INTERVAL * INTERVAL;
    let trust_hash = net.block_hash(0, trusted);
    let trust_height = trusted.to_string();
    let join = ["--state-sync", "--trust-height", &trust_height, "--trust-hash", &trust_hash];

    // Killed (-9) in the middle of fetching the state, it starts over when started again.
    kill9_while_fetching(&net, FULL_NODE, &join);
    net.start_with(FULL_NODE, &[], &join);
    let log = net.log(FULL_NODE);
    assert!(log.contains("interrupted state sync left part of a state: starting over"), "{log}");
    assert!(log.contains("state snapshot restored and verified"), "{log}");
    let status = net.status(FULL_NODE);
    let snapshot = status["earliest_state_height"].as_u64().expect("earliest state height");
    assert!(snapshot >= trusted && snapshot.is_multiple_of(INTERVAL), "{status}");
    assert_eq!(status["earliest_block_height"].as_u64(), Some(snapshot + 1), "{status}");
    // Blocks below the snapshot were never fetched: the node has none of them.
    let below = net.node(FULL_NODE).cli(&["query", "block", "--height", "1"]);
    assert!(!below.status.success(), "block 1 on the state-synced node");

    // It follows the chain by block sync, re-executing each block from the restored state: the
    // same headers (state roots included) as the validators.
    let tip = net.node(0).height() + 3;
    net.wait_height(&[0, FULL_NODE], tip, MINUTE).unwrap();
    for height in [snapshot, snapshot + 1, tip] {
        let (ours, theirs) = (header(&net, FULL_NODE, height), header(&net, 0, height));
        assert_eq!(ours["state_root"], theirs["state_root"], "height {height}");
        assert_eq!(ours, theirs, "height {height}");
    }
    register_provider(&net, "frank");
    let tip = net.node(0).height();
    net.wait_height(&[FULL_NODE], tip, MINUTE).unwrap();
    assert_eq!(header(&net, FULL_NODE, tip)["state_root"], header(&net, 0, tip)["state_root"]);

    // The validators pruned meanwhile: they no longer have the first blocks.
    let pruned = net.status(0)["earliest_block_height"].as_u64().unwrap();
    assert!(pruned > 1, "validator 0 kept every block");

    // Validator 3's chunks did not verify: it was penalised and its chunks fetched elsewhere.
    let log = net.log(FULL_NODE);
    assert!(log.contains("snapshot chunk"), "no lying peer detected:\n{log}");
    assert!(log.contains("penalising peer"), "{log}");
}

/// A validator that joins late by state sync (set in its config.toml) signs once it has caught
/// up: its key's last signed height passes the snapshot's, and it has no block below the
/// snapshot.
#[test]
fn a_validator_joins_by_state_sync_and_signs() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    let interval = INTERVAL.to_string();
    for i in [0, 1, 2] {
        net.start_with(i, &[], &["--snapshot-interval", interval.as_str()]);
    }
    net.wait_height(&[0, 1, 2], 2 * INTERVAL + 1, 2 * MINUTE).unwrap();
    let trust_hash = net.block_hash(0, 1);
    // This one from its config.toml's [state_sync] section rather than flags.
    let config = net.home(3).join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let (head, tail) = text.split_once("[state_sync]").expect("a [state_sync] section");
    let tail = tail
        .replace("enabled = false", "enabled = true")
        .replace("trust_height = 0", "trust_height = 1")
        .replace("trust_hash = \"\"", &format!("trust_hash = \"{trust_hash}\""));
    std::fs::write(&config, format!("{head}[state_sync]{tail}")).unwrap();
    net.start(3);
    let status = net.status(3);
    let snapshot = status["earliest_state_height"].as_u64().expect("earliest state height");
    assert!(snapshot >= 2 * INTERVAL, "{status}");
    assert_eq!(status["earliest_block_height"].as_u64(), Some(snapshot + 1), "{status}");

    let metrics = kessai_tests::testnet::metrics_url(&net.home(3)).expect("metrics");
    let joined_from = kessai_tests::testnet::metric(&metrics, "kessai_state_sync_height");
    assert_eq!(joined_from, Some(snapshot as f64));
    assert!(kessai_tests::testnet::metric(&metrics, "kessai_state_sync_keys").unwrap() > 10.0);
    let start = std::time::Instant::now();
    loop {
        let signed = kessai_tests::testnet::metric(&metrics, "kessai_last_signed_height");
        if signed.is_some_and(|h| h > snapshot as f64 + 1.0) {
            break;
        }
        assert!(start.elapsed() < MINUTE, "validator 3 never signed above {snapshot}: {signed:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let tip = net.node(0).height();
    net.wait_height(&VALIDATORS, tip, MINUTE).unwrap();
    assert_eq!(header(&net, 3, tip), header(&net, 0, tip));
}

/// A fifth validator, added by governance (`set-validator`, then its node key registered by
/// `set-validator-node-key`), joins a four-validator chain that prunes (it keeps 3 heights of
/// blocks, so no peer could replay it the chain from genesis) by state sync, and signs: it
/// proposes blocks the others commit, and every header agrees.
#[test]
fn a_validator_added_by_governance_joins_a_pruning_chain_by_state_sync_and_signs() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    let interval = INTERVAL.to_string();
    let serve = serving_snapshots(&interval);
    for i in VALIDATORS {
        net.start_with(i, &[], &serve);
    }
    net.wait_height(&VALIDATORS, 1, MINUTE).unwrap();

    // The newcomer's keys, from a first start (not admitted, it connects to no one); then its
    // data is wiped, so that it joins from nothing.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("newcomer");
    home_outside(&net, &home);
    let mut newcomer = TestNode::run_home(&home).unwrap();
    let status = newcomer.cli_json(&["status"]);
    let consensus_key = status["consensus_key"].as_str().expect("consensus_key").to_string();
    let node_key = status["network_key"].as_str().expect("network_key").to_string();
    assert_eq!(status["height"], 0, "{status}");
    newcomer.kill9();
    std::fs::remove_dir_all(home.join("data")).unwrap();

    net.gov(&["set-validator", &consensus_key, "10"]);
    let registered = net.gov(&["set-validator-node-key", &consensus_key, &node_key]);
    // Past a snapshot that holds the new set, and far enough that the first blocks are pruned.
    net.wait_height(&VALIDATORS, registered + 3 * INTERVAL, 2 * MINUTE).unwrap();
    let pruned = net.status(0)["earliest_block_height"].as_u64().unwrap();
    assert!(pruned > 1, "validator 0 still keeps every block");
    let trusted = net.node(0).height() / INTERVAL * INTERVAL;
    let trust_hash = net.block_hash(0, trusted);
    let trust_height = trusted.to_string();
    let join = ["--state-sync", "--trust-height", &trust_height, "--trust-hash", &trust_hash];
    let newcomer = TestNode::run_home_with(&home, &[], &join).unwrap();
    let status = newcomer.cli_json(&["status"]);
    let snapshot = status["earliest_state_height"].as_u64().expect("earliest state height");
    assert!(snapshot >= trusted, "{status}");
    assert_eq!(status["validator"], true, "{status}");

    // Five validators of equal power: the rotation reaches it within a few heights.
    let from = net.node(0).height() + 1;
    let proposed = (from..=from + 15).any(|height| {
        net.wait_height(&[0], height, MINUTE).unwrap();
        header(&net, 0, height)["proposer"] == consensus_key.as_str()
    });
    assert!(proposed, "the validator that joined by state sync never proposed a committed block");
    let tip = net.node(0).height() + 1;
    net.wait_height(&VALIDATORS, tip, MINUTE).unwrap();
    newcomer.wait_height(tip, MINUTE).unwrap();
    let theirs = header(&net, 0, tip);
    let ours = newcomer.cli_json(&["query", "header", "--height", &tip.to_string()]);
    assert_eq!(ours, theirs, "height {tip}");
}

/// Bad state-sync flags are refused with one sentence before anything starts (no network needed).
#[test]
fn bad_trust_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let home = home.display().to_string();
    for (args, says) in [
        (["--trust-height", "2", "--trust-hash", "zz"], "is not a 32-byte hex hash"),
        (["--trust-height", "0", "--trust-hash", &"ab".repeat(32)], "must be at least 1"),
    ] {
        let out = kessai_tests::kessai(
            &[&["node", "run", "--home", &home, "--state-sync"][..], &args[..]].concat(),
        );
        assert!(!out.status.success());
        let stderr = kessai_tests::stderr(&out);
        assert!(stderr.contains(says), "{stderr}");
    }
}
