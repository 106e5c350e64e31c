//! Four validators as real processes on 127.0.0.1 (`kessai testnet init` + `kessai node run`):
//! agreement, crash tolerance, halting without a fork, catch-up, a syncing full node, the
//! permissioned network and validator-set changes.
//!
//! The tests of this file share the machine's two cores with four or five debug-build nodes each,
//! so they take turns (a process-wide lock) rather than run side by side.

use kessai_tests::testnet::{
    entry_field, home_outside, metric, metrics_url, one_network_at_a_time as one_at_a_time, Testnet,
};
use kessai_tests::{edit_config, TestNode};
use serde_json::json;
use std::time::Duration;

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const MINUTE: Duration = Duration::from_secs(60);

/// alice (admin) registers a provider through node `via`; returns the transaction id and the
/// height of its block.
fn register_provider_via(net: &Testnet, via: usize, provider: &str) -> (String, u64) {
    let keys = net.keys_dir();
    let receipt = net.node(via).cli_json(&[
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
    let id = receipt["receipt"]["tx_id"].as_str().expect("tx id").to_string();
    (id, receipt["height"].as_u64().expect("committed"))
}

/// Whether a block proposed by `key` is committed at a height in `after + 1 ..= after + count`,
/// waiting for those heights as needed.
fn proposes_within(net: &Testnet, key: &str, after: u64, count: u64) -> bool {
    (after + 1..=after + count).any(|height| {
        net.wait_height(&[0], height, MINUTE).unwrap();
        let header = net.node(0).cli_json(&["query", "header", "--height", &height.to_string()]);
        header["proposer"] == key
    })
}

#[test]
fn four_validators_agree_survive_a_crash_halt_without_fork_and_a_full_node_syncs() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 1);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 2, MINUTE).unwrap();

    // Transactions sent to different nodes are committed on all of them.
    let mut tx_ids = Vec::new();
    for (via, provider) in [(0, "bob"), (1, "carol"), (2, "dave"), (3, "erin")] {
        let (id, committed) = register_provider_via(&net, via, provider);
        tx_ids.push(id);
        // Only `via` is known to have committed it: the next node may be a block behind, and may
        // then give alice's nonce (and node 0 its height, below) from before this block.
        net.wait_height(&VALIDATORS, committed, MINUTE).unwrap();
    }
    let height = net.node(0).height();
    net.wait_height(&VALIDATORS, height, MINUTE).unwrap();
    for i in VALIDATORS {
        for id in &tx_ids {
            let info = net.node(i).cli_json(&["query", "tx", id]);
            assert_eq!(info["state"], "committed", "node {i}, tx {id}: {info}");
        }
    }
    net.assert_same_chain(&VALIDATORS, height);
    let roots: Vec<serde_json::Value> = VALIDATORS
        .iter()
        .map(|&i| net.node(i).cli_json(&["query", "header", "--height", &height.to_string()]))
        .map(|header| header["state_root"].clone())
        .collect();
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "state roots differ: {roots:?}");

    // One validator down: the other three go on. Back up: it catches up and signs again.
    net.kill9(3);
    let before = net.node(0).height();
    net.wait_height(&[0, 1, 2], before + 3, MINUTE).unwrap();
    net.start(3);
    let target = net.node(0).height() + 2;
    net.wait_height(&VALIDATORS, target, MINUTE).unwrap();
    // Signing again shows in its own proposals being committed (its precommits may arrive after
    // the quorum that decided a block, so commits need not list it).
    let key = entry_field(&net.entries[3], "consensus_key").to_string();
    let back = net.node(3).height();
    assert!(
        proposes_within(&net, &key, back, 12),
        "the restarted validator never proposed a committed block"
    );

    // Two of four down: no quorum, no progress, and no fork; back up: progress resumes.
    net.kill9(2);
    net.kill9(3);
    std::thread::sleep(Duration::from_secs(3));
    // One of the two may have missed the last block's precommits when the others died, and takes
    // that block from the other by sync: that is not progress.
    let settled = *net.heights(&[0, 1]).iter().max().unwrap();
    net.wait_height(&[0, 1], settled, MINUTE).unwrap();
    let halted = net.heights(&[0, 1]);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(net.heights(&[0, 1]), halted, "the chain progressed without a quorum");
    net.start(2);
    net.start(3);
    let resumed = halted.iter().max().unwrap() + 2;
    net.wait_height(&VALIDATORS, resumed, 2 * MINUTE).unwrap();
    net.assert_same_chain(&VALIDATORS, resumed);

    // A full node listed in the chain spec joins late and syncs from genesis.
    net.start(4);
    let tip = net.node(0).height();
    net.wait_height(&[4], tip, 2 * MINUTE).unwrap();
    net.assert_same_chain(&[0, 4], tip);
    let status = net.status(4);
    assert_eq!(status["validator"], false, "{status}");
}

#[test]
fn a_node_whose_key_is_not_in_the_chain_spec_cannot_connect() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 1, MINUTE).unwrap();

    // An outsider with the same chain spec and every validator as a bootnode, but a key nobody
    // admitted.
    let outsider_dir = tempfile::tempdir().unwrap();
    let home = outsider_dir.path().join("outsider");
    home_outside(&net, &home);
    let outsider = TestNode::run_home(&home).unwrap();

    std::thread::sleep(Duration::from_secs(5));
    let status = outsider.cli_json(&["status"]);
    assert_eq!(status["peers"], json!([]), "the outsider got connected: {status}");
    assert_eq!(status["height"], 0, "the outsider received blocks: {status}");
    for i in VALIDATORS {
        let peers = net.status(i)["peers"].as_array().unwrap().len();
        assert_eq!(peers, 3, "validator {i} has {peers} peers");
    }
    let progressed = net.node(0).height();
    net.wait_height(&VALIDATORS, progressed + 1, MINUTE).unwrap();

    // The metrics endpoint tells the same story.
    let url = metrics_url(&net.home(0)).expect("node0 serves metrics");
    assert_eq!(metric(&url, "kessai_peers"), Some(3.0));
    assert!(metric(&url, "kessai_height").unwrap_or(0.0) >= (progressed + 1) as f64);
}

#[test]
fn a_validator_added_by_governance_signs_from_the_announced_height() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 1);
    // The full node may sign once governance makes it a validator.
    edit_config(&net.home(4), "validator = false", "validator = true");
    net.start_all(5);
    net.wait_height(&VALIDATORS, 1, MINUTE).unwrap();

    let newcomer = entry_field(&net.entries[4], "consensus_key").to_string();
    let keys = net.keys_dir();
    let receipt = net.node(1).cli_json(&[
        "tx",
        "gov",
        "set-validator",
        &newcomer,
        "10",
        "--key",
        "alice",
        "--keys-dir",
        &keys,
    ]);
    assert_eq!(receipt["receipt"]["status"]["status"], "success", "{receipt}");
    let announced = receipt["height"].as_u64().expect("height");

    // Announced in the block after the transaction, effective in the one after that.
    let set_at = |height: u64| {
        net.node(0).cli_json(&["query", "validators", "--height", &height.to_string()])
            ["validators"]
            .as_array()
            .expect("validators")
            .iter()
            .map(|v| v["public_key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    net.wait_height(&[0], announced + 1, MINUTE).unwrap();
    assert!(!set_at(announced + 1).contains(&newcomer));
    assert!(set_at(announced + 2).contains(&newcomer));

    // The newcomer takes part: blocks it proposes are committed (weighted rotation over five
    // equal validators reaches it within five heights).
    assert!(
        !proposes_within(&net, &newcomer, 0, announced + 1),
        "the newcomer proposed before it was a validator"
    );
    assert!(
        proposes_within(&net, &newcomer, announced + 1, 12),
        "the new validator never proposed a committed block"
    );
    assert_eq!(net.status(4)["validator"], true);
}

/// A validator's `data/` is wiped while the chain is halted mid-height, where it has signed votes
/// in several rounds; it comes back with its key and its signing state only. It must not sign
/// again at a position it signed (the others would record the equivocation), and it must rejoin:
/// sync, then sign at later rounds and heights.
#[test]
fn a_validator_whose_data_is_wiped_mid_height_rejoins_without_equivocating() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 3, MINUTE).unwrap();

    // Halt: two of four down. Validators 0 and 1 keep voting, round after round, at the next
    // height.
    net.kill9(2);
    net.kill9(3);
    std::thread::sleep(Duration::from_secs(8));
    let halted = *net.heights(&[0, 1]).iter().max().unwrap();
    net.kill9(1);
    std::fs::remove_dir_all(net.home(1).join("data")).unwrap();
    assert!(net.home(1).join("sign_state.json").exists());

    net.start(1);
    net.start(2);
    net.start(3);
    net.wait_height(&VALIDATORS, halted + 3, 2 * MINUTE).unwrap();
    net.assert_same_chain(&VALIDATORS, halted + 3);
    for i in VALIDATORS {
        let log = net.log(i);
        assert!(!log.contains("equivocation detected"), "node {i} saw an equivocation:\n{log}");
    }
    let key = entry_field(&net.entries[1], "consensus_key").to_string();
    let back = net.node(1).height();
    assert!(proposes_within(&net, &key, back, 12), "the wiped validator never proposed again");
}

/// Whether node `i`'s peers include the node of `entry` (`nodes.json`).
fn connected_to(net: &Testnet, i: usize, entry: &serde_json::Value) -> bool {
    let peer_id = entry_field(entry, "peer_id");
    net.status(i)["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .any(|p| p.to_string().contains(peer_id))
}

/// Waits until `condition` holds (checked every 500 ms), or panics with `what`.
fn eventually(what: &str, timeout: Duration, condition: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "{what} did not happen within {timeout:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Governance revokes a full node the chain spec lists: every validator drops its connection at
/// the committed height and it falls behind; a validator's node cannot be revoked; admitting the
/// node again lets it back in and it catches up.
#[test]
fn a_node_revoked_by_governance_is_disconnected_until_admitted_again() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 1);
    net.start_all(5);
    net.wait_height(&[0, 1, 2, 3, 4], 2, MINUTE).unwrap();
    let full_node = net.entries[4].clone();
    for i in VALIDATORS {
        eventually(&format!("validator {i} connecting to the full node"), MINUTE, || {
            connected_to(&net, i, &full_node)
        });
    }
    let keys = net.keys_dir();
    let gov = |action: &str, key: &str| {
        net.node(0).cli(&["tx", "gov", action, key, "--key", "alice", "--keys-dir", &keys])
    };

    // A validator's node: refused, and it stays connected.
    let validator = entry_field(&net.entries[3], "node_key").to_string();
    let refused = gov("revoke-peer", &validator);
    let text =
        format!("{}{}", String::from_utf8_lossy(&refused.stdout), kessai_tests::stderr(&refused));
    assert!(!refused.status.success(), "revoking a validator's node succeeded: {text}");
    assert!(text.contains("a validator's node cannot be revoked"), "{text}");

    // The full node: every validator disconnects it, and it stops following the chain.
    let out = gov("revoke-peer", entry_field(&full_node, "node_key"));
    assert!(out.status.success(), "revoke-peer: {}", kessai_tests::stderr(&out));
    for i in VALIDATORS {
        eventually(
            &format!("validator {i} disconnecting the revoked node"),
            Duration::from_secs(30),
            || !connected_to(&net, i, &full_node),
        );
    }
    let cut = net.node(4).height();
    let progressed = net.node(0).height() + 4;
    net.wait_height(&VALIDATORS, progressed, MINUTE).unwrap();
    for i in VALIDATORS {
        assert!(!connected_to(&net, i, &full_node), "validator {i} let the revoked node back in");
        assert!(connected_to(&net, i, &net.entries[(i + 1) % 4]), "validator {i} lost a validator");
    }
    assert!(net.node(4).height() <= cut + 1, "the revoked node kept receiving blocks");

    // Admitted again: it reconnects (its redials are now accepted) and catches up.
    let out = gov("admit-peer", entry_field(&full_node, "node_key"));
    assert!(out.status.success(), "admit-peer: {}", kessai_tests::stderr(&out));
    let tip = net.node(0).height();
    net.wait_height(&[4], tip, 2 * MINUTE).unwrap();
    net.assert_same_chain(&[0, 4], tip);
}
