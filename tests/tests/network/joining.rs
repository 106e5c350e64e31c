//! Joining a network whose members changed since the chain spec: a newcomer whose only bootnode is
//! a full node that governance admitted after genesis reaches the chain through it, by block sync
//! and by state sync (decision 0027: a node that is catching up allows its own bootnodes).

use kessai_client::keyfile::KeyFile;
use kessai_tests::testnet::{home_outside, one_network_at_a_time, Testnet};
use kessai_tests::{edit_config, TestNode};
use std::path::Path;
use std::time::Duration;

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const MINUTE: Duration = Duration::from_secs(60);
const INTERVAL: u64 = 5;

/// A new home on `net`'s chain spec whose node listens on a port of its own. Its bootnodes are
/// the four validators, or only `bootnode` when given. Returns its node key (64 hex, as
/// `admit-peer` takes it) and its address as a bootnode (`…/p2p/PEER_ID`).
fn outsider(net: &Testnet, home: &Path, bootnode: Option<&str>) -> (String, String) {
    home_outside(net, home);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("/ip4/127.0.0.1/tcp/{port}");
    edit_config(
        home,
        "listen_address = \"/ip4/127.0.0.1/tcp/0\"",
        &format!("listen_address = \"{listen}\""),
    );
    if let Some(bootnode) = bootnode {
        let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
        let line = config.lines().find(|l| l.starts_with("bootnodes = ")).unwrap().to_string();
        edit_config(home, &line, &format!("bootnodes = [\"{bootnode}\"]"));
    }
    let key = KeyFile::read(&home.join("node_key.json")).unwrap().keypair().unwrap().public();
    let address = format!("{listen}/p2p/{}", kessai_network::peer_id_of(&key));
    (hex::encode(key.0), address)
}

/// The newcomers' only bootnode is a full node outside the chain spec, admitted by governance:
/// each allows it because its configuration names it, reaches it, and follows the chain — one
/// replaying the blocks from genesis, one from a snapshot the admitted node serves. Without the
/// bootnode in their allow lists they know only the spec's validators, whom they cannot dial,
/// and stay where they started.
#[test]
fn a_newcomer_joins_through_a_peer_admitted_after_genesis() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 1, MINUTE).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The admitted full node: it keeps every block and serves a snapshot every INTERVAL heights.
    let relay_home = dir.path().join("relay");
    let (relay_key, relay_address) = outsider(&net, &relay_home, None);
    net.gov(&["admit-peer", &relay_key]);
    let interval = INTERVAL.to_string();
    let _relay =
        TestNode::run_home_with(&relay_home, &[], &["--snapshot-interval", &interval]).unwrap();

    let block_sync_home = dir.path().join("by-blocks");
    let state_sync_home = dir.path().join("by-snapshot");
    let (key, _) = outsider(&net, &block_sync_home, Some(&relay_address));
    net.gov(&["admit-peer", &key]);
    let (key, _) = outsider(&net, &state_sync_home, Some(&relay_address));
    net.gov(&["admit-peer", &key]);
    let admitted = net.node(0).height();

    // By block sync, from genesis.
    let by_blocks = TestNode::run_home(&block_sync_home).unwrap();
    let tip = net.node(0).height() + 2;
    net.wait_height(&VALIDATORS, tip, MINUTE).unwrap();
    by_blocks.wait_height(tip, 2 * MINUTE).unwrap();
    let ours = by_blocks.cli_json(&["query", "header", "--height", &tip.to_string()]);
    let theirs = net.node(0).cli_json(&["query", "header", "--height", &tip.to_string()]);
    assert_eq!(ours, theirs, "height {tip}");

    // By state sync, from a snapshot above the admissions, trusted from validator 0.
    net.wait_height(&VALIDATORS, admitted + 2 * INTERVAL, MINUTE).unwrap();
    let trusted = net.node(0).height() / INTERVAL * INTERVAL;
    let (trust_height, trust_hash) = (trusted.to_string(), net.block_hash(0, trusted));
    let join = ["--state-sync", "--trust-height", &trust_height, "--trust-hash", &trust_hash];
    let by_snapshot = TestNode::run_home_with(&state_sync_home, &[], &join).unwrap();
    let status = by_snapshot.cli_json(&["status"]);
    let snapshot = status["earliest_state_height"].as_u64().expect("earliest state height");
    assert!(snapshot >= trusted, "{status}");
    let tip = net.node(0).height() + 2;
    net.wait_height(&VALIDATORS, tip, MINUTE).unwrap();
    by_snapshot.wait_height(tip, MINUTE).unwrap();
    let ours = by_snapshot.cli_json(&["query", "header", "--height", &tip.to_string()]);
    let theirs = net.node(0).cli_json(&["query", "header", "--height", &tip.to_string()]);
    assert_eq!(ours, theirs, "height {tip}");
}
