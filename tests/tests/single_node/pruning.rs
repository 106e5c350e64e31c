//! Pruning on a real `kessai dev` started with small retention (`--state-keep-recent`,
//! `--blocks-keep-recent`): `kessai status` shows the earliest heights kept advancing, a read
//! below them fails with one clear sentence, and the current state still reads, verified by the
//! light client from the chain spec; a restart keeps what was pruned pruned.

use kessai_tests::light::{create_asset, light_json};
use kessai_tests::{stderr, TestNode};
use serde_json::Value;
use std::time::{Duration, Instant};

const STATE_KEEP: u64 = 4;
const BLOCKS_KEEP: u64 = 6;

/// Waits until the node reports both earliest heights above `height`; returns its status.
fn wait_pruned_past(node: &TestNode, height: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = node.cli_json(&["status"]);
        let state = status["earliest_state_height"].as_u64().expect("earliest_state_height");
        let blocks = status["earliest_block_height"].as_u64().expect("earliest_block_height");
        if state > height && blocks > height {
            return status;
        }
        assert!(Instant::now() < deadline, "not pruned past {height} in 90 s: {status}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The command fails with exit status 1 and one line on stderr; returns it.
fn refused(node: &TestNode, args: &[&str]) -> String {
    let out = node.cli(args);
    let why = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "kessai {args:?} should have failed: {why}");
    assert_eq!(why.trim_end().lines().count(), 1, "one sentence: {why}");
    why
}

#[test]
fn a_pruning_node_keeps_recent_heights_and_says_pruned_below() {
    let keep = [
        "--state-keep-recent",
        &STATE_KEEP.to_string(),
        "--blocks-keep-recent",
        &BLOCKS_KEEP.to_string(),
    ]
    .map(String::from);
    let mut node = TestNode::dev_with_args(&keep.each_ref().map(String::as_str));
    let (id, tx, created_at) = create_asset(&node);
    let id = id.to_string();

    let first = wait_pruned_past(&node, created_at);
    let latest = first["height"].as_u64().unwrap();
    let (earliest_state, earliest_block) = (
        first["earliest_state_height"].as_u64().unwrap(),
        first["earliest_block_height"].as_u64().unwrap(),
    );
    assert!(earliest_state + STATE_KEEP > latest, "state kept: {first}");
    assert!(earliest_block + BLOCKS_KEEP > latest, "blocks kept: {first}");
    let text = node.cli_ok(&["status"]);
    assert!(text.contains("kept: state from height"), "{text}");

    // Below what is kept: the state, the block, its receipts' events.
    let why = refused(
        &node,
        &["query", "state", "asset-ownership", "records", &id, "--height", &created_at.to_string()],
    );
    assert!(why.contains("pruned: the earliest state kept is height"), "{why}");
    let why = refused(&node, &["query", "block", "--height", &created_at.to_string()]);
    assert!(why.contains("pruned: the earliest block kept is height"), "{why}");
    // Headers and commits stay at every height.
    node.cli_ok(&["query", "header", "--height", &created_at.to_string()]);
    node.cli_ok(&["query", "commit", "--height", &created_at.to_string()]);
    // The transaction's block is gone, and with it its index entry.
    let info = node.cli_json(&["query", "tx", &tx]);
    assert_eq!(info["state"], "unknown", "{info}");

    // The current state reads and proves, verified from the chain spec.
    let read = node.cli_json(&["query", "state", "asset-ownership", "records", &id]);
    assert_eq!(read["proof_verified"], true, "{read}");
    assert_eq!(read["value"]["amount"], 7, "{read}");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");
    let spec = node.chain_spec();
    light_json(&home, &node.rpc, &["init", "--from-genesis", &spec]);
    let synced = light_json(&home, &node.rpc, &["sync"]);
    assert!(synced["verified"]["height"].as_u64().unwrap() >= latest, "{synced}");

    // And the earliest heights keep moving with the chain, across a kill -9 and restart.
    let later = wait_pruned_past(&node, latest);
    assert!(later["earliest_state_height"].as_u64().unwrap() > earliest_state, "{later}");
    node.kill9();
    node.start().unwrap();
    let restarted = node.cli_json(&["status"]);
    assert!(
        restarted["earliest_state_height"].as_u64() >= later["earliest_state_height"].as_u64(),
        "{restarted}"
    );
    let again = node.cli_json(&["query", "state", "asset-ownership", "records", &id]);
    assert_eq!(again["value"]["amount"], 7, "{again}");
}

#[test]
fn a_state_retention_of_one_height_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev").display().to_string();
    let out = kessai_tests::kessai(&[
        "dev",
        "--home",
        &home,
        "--rpc-addr",
        "127.0.0.1:0",
        "--state-keep-recent",
        "1",
    ]);
    let why = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{why}");
    assert!(why.contains("state_keep_recent must be 0 (keep every height) or at least 2"), "{why}");
}
