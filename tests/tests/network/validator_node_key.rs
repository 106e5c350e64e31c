//! A validator added by governance connects with a node key of its own, registered by
//! `GovernanceAction::SetValidatorNodeKey` (decision record 0021): four validators from
//! `kessai testnet init`, and a fifth node the chain spec does not list.

use kessai_tests::testnet::{
    entry_field, home_outside, one_network_at_a_time as one_at_a_time, Testnet,
};
use kessai_tests::{kessai_ok, stderr, TestNode};
use serde_json::json;
use std::time::{Duration, Instant};

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const MINUTE: Duration = Duration::from_secs(60);

/// Waits until `condition` holds (checked every 250 ms), or panics with `what`.
fn eventually(what: &str, timeout: Duration, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "{what} did not happen within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `kessai tx gov ARGS` signed by alice through node 0: whether it succeeded, and what it printed.
fn gov(net: &Testnet, args: &[&str]) -> (bool, String) {
    let keys = net.keys_dir();
    let mut all = vec!["tx", "gov"];
    all.extend(args);
    all.extend(["--key", "alice", "--keys-dir", &keys]);
    let out = net.node(0).cli(&all);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out)))
}

/// A node home for `net`'s chain spec, not listed in it, with every validator of `net` as a
/// bootnode: it signs (`validator = true`, the default) once governance makes its consensus key a
/// validator.
fn newcomer_home(net: &Testnet, dir: &std::path::Path) -> std::path::PathBuf {
    let home = dir.join("newcomer");
    home_outside(net, &home);
    home
}

/// Governance adds a fifth validator (`SetValidator`) whose node has its own node key: the
/// validators refuse that key until `SetValidatorNodeKey` registers it (the consensus key they
/// then allow is not what the node connects with); once registered, the node connects, syncs
/// and proposes blocks the others commit; its node key cannot be revoked. `kessai status` shows
/// its consensus key and its node key apart.
#[test]
fn a_validator_added_by_governance_connects_with_its_registered_node_key() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 1, MINUTE).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let newcomer = TestNode::run_home(&newcomer_home(&net, dir.path())).unwrap();
    let status = newcomer.cli_json(&["status"]);
    let consensus_key = status["consensus_key"].as_str().expect("consensus_key").to_string();
    let node_key = status["network_key"].as_str().expect("network_key").to_string();
    let peer_id = status["peer_id"].as_str().expect("peer_id").to_string();
    assert_ne!(consensus_key, node_key, "{status}");
    assert_eq!(status["node_key"], consensus_key.as_str(), "the old field changed: {status}");
    assert_eq!(status["validator"], false, "{status}");
    let text = newcomer.cli_ok(&["status"]);
    assert!(text.contains(&format!("consensus key {consensus_key}")), "{text}");
    assert!(text.contains(&format!("node key {node_key}  peer id {peer_id}")), "{text}");

    let keys = net.keys_dir();

    // Not a validator yet: its node key cannot be registered.
    let (ok, text) = gov(&net, &["set-validator-node-key", &consensus_key, &node_key]);
    assert!(!ok, "registered the node key of a non-validator: {text}");
    assert!(text.contains("is not a validator of the current, next or a pending set"), "{text}");

    // A validator from two heights after the transaction, but its node still cannot connect:
    // the validators allow its consensus key, which the node does not connect with.
    let receipt = net.node(0).cli_json(&[
        "tx",
        "gov",
        "set-validator",
        &consensus_key,
        "10",
        "--key",
        "alice",
        "--keys-dir",
        &keys,
    ]);
    assert_eq!(receipt["receipt"]["status"]["status"], "success", "{receipt}");
    let announced = receipt["height"].as_u64().expect("height");
    let validators = |height: u64| {
        net.node(0).cli_json(&["query", "validators", "--height", &height.to_string()]).to_string()
    };
    net.wait_height(&[0], announced + 2, MINUTE).unwrap();
    assert!(validators(announced + 2).contains(&consensus_key));
    let status = newcomer.cli_json(&["status"]);
    assert_eq!(status["peers"], json!([]), "connected before its node key was registered");
    assert_eq!(status["height"], 0, "{status}");

    // Registered: every validator lets it in, it catches up and takes part.
    let (ok, text) = gov(&net, &["set-validator-node-key", &consensus_key, &node_key]);
    assert!(ok, "set-validator-node-key: {text}");
    let registered = net.node(0).height();
    eventually("the newcomer connecting to the four validators", Duration::from_secs(30), || {
        newcomer.cli_json(&["status"])["peers"].as_array().unwrap().len() == 4
    });
    for i in VALIDATORS {
        let peers = net.status(i)["peers"].to_string();
        assert!(peers.contains(&peer_id), "validator {i} is not connected to it: {peers}");
    }
    // Five validators of equal power: the weighted rotation reaches it within five heights.
    let proposed = (registered + 1..=registered + 12).any(|height| {
        net.wait_height(&[0], height, MINUTE).unwrap();
        let header = net.node(0).cli_json(&["query", "header", "--height", &height.to_string()]);
        header["proposer"] == consensus_key.as_str()
    });
    assert!(proposed, "the new validator never proposed a committed block");
    let tip = net.node(0).height() + 2;
    net.wait_height(&VALIDATORS, tip, MINUTE).unwrap();
    newcomer.wait_height(tip, MINUTE).unwrap();
    net.assert_same_chain(&VALIDATORS, tip);
    assert_eq!(newcomer.cli_json(&["status"])["validator"], true);

    // Its registered node key is a validator's: RevokePeer refuses it, and it stays connected.
    let (ok, text) = gov(&net, &["revoke-peer", &node_key]);
    assert!(!ok, "revoked a validator's registered node key: {text}");
    assert!(text.contains("a validator's node cannot be revoked"), "{text}");
    let after = net.node(0).height() + 2;
    net.wait_height(&VALIDATORS, after, MINUTE).unwrap();
    newcomer.wait_height(after, MINUTE).unwrap();
}

/// Whether node `i` of `net` is connected to the node with libp2p peer id `peer_id`.
fn connected(net: &Testnet, i: usize, peer_id: &str) -> bool {
    net.status(i)["peers"].to_string().contains(peer_id)
}

/// A genesis validator's node key is rotated by governance: the others drop the key the chain
/// spec lists for it at the committed height (it is not otherwise admitted), the chain goes on
/// with three of four, and the validator's node, restarted with its new key, is let back in and
/// signs again. The key rotated away is then an ordinary key that governance may revoke.
#[test]
fn a_validators_node_key_rotated_by_governance_replaces_the_chain_specs() {
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 1, MINUTE).unwrap();
    let consensus_key = entry_field(&net.entries[3], "consensus_key").to_string();
    let old_key = entry_field(&net.entries[3], "node_key").to_string();
    let old_peer = entry_field(&net.entries[3], "peer_id").to_string();
    for i in [0, 1, 2] {
        eventually(&format!("validator {i} connecting to validator 3"), MINUTE, || {
            connected(&net, i, &old_peer)
        });
    }

    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().display().to_string();
    kessai_ok(&["keys", "new", "node3-rotated", "--dir", &key_dir]);
    let new_key_file = dir.path().join("node3-rotated.json");
    let shown = kessai_tests::kessai_json(&[
        "keys",
        "show",
        "--key-file",
        &new_key_file.display().to_string(),
        "--peer-id",
        "--json",
    ]);
    let new_key = shown["public_key"].as_str().expect("public_key").to_string();
    let new_peer = shown["peer_id"].as_str().expect("peer_id").to_string();

    let (ok, text) = gov(&net, &["set-validator-node-key", &consensus_key, &new_key]);
    assert!(ok, "set-validator-node-key: {text}");
    for i in [0, 1, 2] {
        eventually(
            &format!("validator {i} dropping validator 3's old node key"),
            Duration::from_secs(30),
            || !connected(&net, i, &old_peer),
        );
    }
    let cut = net.node(0).height();
    net.wait_height(&[0, 1, 2], cut + 2, MINUTE).unwrap();
    assert!(!connected(&net, 0, &old_peer), "the old node key got back in");

    // Restarted with the new key: it dials the others, is let in, catches up and signs.
    net.kill9(3);
    std::fs::copy(&new_key_file, net.home(3).join("node_key.json")).unwrap();
    net.start(3);
    for i in [0, 1, 2] {
        eventually(&format!("validator {i} connecting to the new node key"), MINUTE, || {
            connected(&net, i, &new_peer)
        });
    }
    let back = net.node(0).height();
    let proposed = (back + 1..=back + 12).any(|height| {
        net.wait_height(&[0], height, MINUTE).unwrap();
        let header = net.node(0).cli_json(&["query", "header", "--height", &height.to_string()]);
        header["proposer"] == consensus_key.as_str()
    });
    assert!(proposed, "validator 3 never proposed a committed block with its new node key");
    let tip = net.node(0).height() + 1;
    net.wait_height(&VALIDATORS, tip, MINUTE).unwrap();
    net.assert_same_chain(&VALIDATORS, tip);

    // The new key is protected; the old one is anybody's to revoke.
    let (ok, text) = gov(&net, &["revoke-peer", &new_key]);
    assert!(!ok && text.contains("a validator's node cannot be revoked"), "{text}");
    let (ok, text) = gov(&net, &["revoke-peer", &old_key]);
    assert!(ok, "revoke-peer of the rotated-away key: {text}");
}
