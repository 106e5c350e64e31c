//! `kessai light` against a real network of four validators (`kessai testnet init` + `kessai node
//! run`): a light home that trusts block 1 of the chain spec follows the chain across governance
//! changes of the validator set (a full node added, a validator removed), proves the transactions
//! that made them, and proves a clearing balance, an asset record and an absence through nodes
//! other than the one it synced with.
//!
//! Like testnet.rs, the tests of this file take turns: each runs four or five debug-build nodes on
//! the machine's two cores.

use kessai_tests::light::{assert_quorum, create_asset, light_json};
use kessai_tests::testnet::{entry_field, one_network_at_a_time as one_at_a_time, Testnet};
use kessai_tests::{dev_address as addr, edit_config, TestNode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
/// Heights the chain runs on after a new validator set signs its first block before the light
/// client is asked to cross the change.
const PAST_THE_CHANGE: u64 = 4;

fn chain_spec(net: &Testnet) -> String {
    net.dir.join("chainspec.json").display().to_string()
}

/// Lets node `i` (a full node) sign once governance makes it a validator.
fn may_validate(net: &Testnet, i: usize) {
    edit_config(&net.home(i), "validator = false", "validator = true");
}

/// alice sets node `who`'s voting power (0 removes it) through node `via`; returns the
/// transaction id and the height of its block.
fn set_validator(net: &Testnet, via: usize, who: usize, power: u64) -> (String, u64) {
    let key = entry_field(&net.entries[who], "consensus_key");
    let keys = net.keys_dir();
    let receipt = net.node(via).cli_json(&[
        "tx",
        "gov",
        "set-validator",
        key,
        &power.to_string(),
        "--key",
        "alice",
        "--keys-dir",
        &keys,
    ]);
    assert_eq!(receipt["receipt"]["status"]["status"], "success", "{receipt}");
    let id = receipt["tx_id"].as_str().expect("a tx id").to_string();
    (id, receipt["height"].as_u64().expect("committed"))
}

/// The set that signs block `height`, as `kessai query validators --json` prints it: its hash,
/// total power and validators.
fn set_at(node: &TestNode, height: u64) -> Value {
    node.cli_json(&["query", "validators", "--height", &height.to_string()])
}

/// The hash of the set that signs block `height`, as `kessai query validators --json` gives it.
fn set_hash(node: &TestNode, height: u64) -> String {
    let set = set_at(node, height);
    let hash = set["hash"].as_str().unwrap_or_else(|| panic!("no set hash in {set}"));
    hash.to_string()
}

/// The node keys of a set, sorted.
fn keys_of(set: &Value) -> Vec<String> {
    let mut keys: Vec<String> = set["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .map(|v| v["public_key"].as_str().expect("a key").to_string())
        .collect();
    keys.sort();
    keys
}

/// The trusted state the light home keeps on disk.
fn trusted(home: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(home.join("trusted.json")).unwrap()).unwrap()
}

/// (validators, total power) of a `verified` report.
fn size(verified: &Value) -> (u64, u64) {
    (verified["validators"].as_u64().unwrap(), verified["total_power"].as_u64().unwrap())
}

#[test]
fn light_sync_follows_the_chain_across_validator_set_changes_and_proves_them() {
    let _turn = one_at_a_time();
    let (newcomer, leaver) = (4, 3);
    let mut net = Testnet::init(4, 1);
    may_validate(&net, newcomer);
    net.start_all(5);
    let all = [0, 1, 2, 3, 4];
    net.wait_height(&all, 2, MINUTE).unwrap();
    let node_key = |i: usize| entry_field(&net.entries[i], "consensus_key").to_string();
    let rpc = |i: usize| net.node(i).rpc.clone();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");

    // Block 1 signed by the chain spec's four validators, then the latest block through another
    // node: still the genesis set.
    let init = light_json(&home, &rpc(0), &["init", "--from-genesis", &chain_spec(&net)]);
    let genesis_set = set_hash(net.node(0), 1);
    assert_eq!(init["trusted"]["validators_hash"], json!(genesis_set), "{init}");
    let before = light_json(&home, &rpc(1), &["sync"])["verified"].clone();
    let h1 = before["height"].as_u64().unwrap();
    assert!(h1 >= 2, "{before}");
    assert_eq!(before["validators_hash"], json!(genesis_set));
    assert_eq!(size(&before), (4, 40));

    // Governance makes the full node a fifth validator: the set that signs `added + 2` on.
    let (add_tx, added) = set_validator(&net, 1, newcomer, 10);
    assert!(added > h1, "the change must come after the trusted height ({added} ≤ {h1})");
    let five_from = added + 2;
    let t2 = five_from + PAST_THE_CHANGE;
    net.wait_height(&all, t2, MINUTE).unwrap();
    let five = set_at(net.node(0), t2);
    assert_eq!(keys_of(&five).len(), 5);
    assert_eq!(five["total_power"], 50, "{five}");
    assert!(keys_of(&five).contains(&node_key(newcomer)));

    // From the genesis set's header to one signed by five validators, through node 2, checked
    // with the newcomer as witness. One skip suffices: a quorum of five equal validators holds at
    // least three of the four the light client trusts, more than the 1/3 of their power it needs.
    let crossed = light_json(
        &home,
        &rpc(2),
        &["sync", "--height", &t2.to_string(), "--witness", &rpc(newcomer)],
    );
    assert_eq!(
        (crossed["from_height"].as_u64(), &crossed["steps"]),
        (Some(h1), &json!([t2])),
        "{crossed}"
    );
    let witnesses = &crossed["witnesses"];
    assert_eq!(witnesses["confirmed_by"], json!([rpc(newcomer)]), "{crossed}");
    assert_eq!((&witnesses["unavailable"], &witnesses["faulty"]), (&json!([]), &json!([])));
    let verified = &crossed["verified"];
    assert_eq!(verified["hash"], json!(net.block_hash(newcomer, t2)), "the witness's block");
    assert_eq!(size(verified), (5, 50), "{crossed}");
    assert_quorum(verified);
    let five_set = set_hash(net.node(0), t2);
    assert_eq!(verified["validators_hash"], json!(five_set));
    assert_ne!(five_set, genesis_set);
    assert_eq!(
        trusted(&home)["validators"]["validators"],
        five["validators"],
        "the light home keeps the new set"
    );

    // Governance removes a validator of the genesis set; the newcomer is now the primary and the
    // validator that left (still following the chain) the witness.
    let (remove_tx, removed) = set_validator(&net, newcomer, leaver, 0);
    assert!(removed > t2, "{removed} ≤ {t2}");
    let t3 = removed + 2 + PAST_THE_CHANGE;
    net.wait_height(&all, t3, MINUTE).unwrap();
    let four = set_at(net.node(0), t3);
    let expected: Vec<String> = {
        let mut keys: Vec<String> = [0, 1, 2, newcomer].map(node_key).to_vec();
        keys.sort();
        keys
    };
    assert_eq!(keys_of(&four), expected);
    assert_eq!(four["total_power"], 40, "{four}");

    let after = light_json(
        &home,
        &rpc(newcomer),
        &["sync", "--height", &t3.to_string(), "--witness", &rpc(leaver)],
    );
    assert_eq!(
        (after["from_height"].as_u64(), &after["steps"]),
        (Some(t2), &json!([t3])),
        "{after}"
    );
    let witnesses = &after["witnesses"];
    assert_eq!(witnesses["confirmed_by"], json!([rpc(leaver)]), "{after}");
    assert_eq!((&witnesses["unavailable"], &witnesses["faulty"]), (&json!([]), &json!([])));
    let verified = &after["verified"];
    assert_eq!(verified["hash"], json!(net.block_hash(leaver, t3)), "the witness's block");
    assert_eq!(size(verified), (4, 40), "{after}");
    assert_quorum(verified);
    let four_set = set_hash(net.node(0), t3);
    assert_eq!(verified["validators_hash"], json!(four_set));
    assert!(four_set != genesis_set && four_set != five_set, "{four_set}");
    assert_eq!(trusted(&home)["validators"]["validators"], four["validators"]);

    // Both governance transactions, proven in their blocks (below the trusted height now: those
    // headers are verified back through parent hashes) — the addition through the validator that
    // left, the removal through node 0. The transaction id is the hash of the signed transaction,
    // so a proven id is the very set-validator call sent above.
    let alice = addr("alice");
    for (tx, height, via) in [(add_tx.as_str(), added, leaver), (remove_tx.as_str(), removed, 0)] {
        let proven = light_json(&home, &rpc(via), &["verify-tx", tx, "--witness", &rpc(2)]);
        assert_eq!(
            (proven["tx_id"].as_str(), proven["height"].as_u64(), proven["success"].as_bool()),
            (Some(tx), Some(height), Some(true)),
            "{proven}"
        );
        assert_eq!(proven["signer"], json!(alice));
        assert_eq!(proven["verified"]["hash"], json!(net.block_hash(0, height)));
        assert_eq!(proven["verified"]["validators_hash"], json!(set_hash(net.node(0), height)));
        assert_quorum(&proven["verified"]);
    }
    assert_eq!(trusted(&home)["header"]["height"], t3, "reading old blocks keeps the newest root");
}

#[test]
fn light_get_proves_a_clearing_balance_an_asset_record_and_an_absence_through_other_nodes() {
    let _turn = one_at_a_time();
    let validators = [0, 1, 2, 3];
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&validators, 1, MINUTE).unwrap();
    let rpc = |i: usize| net.node(i).rpc.clone();

    // Written through node 0: bob's clearing balance of ¥200, an asset record held by carol.
    let writer = net.node(0);
    writer.call_result("alice", "clearing", "register_exchange", &json!([addr("bob"), "A"]));
    writer.call_result("alice", "clearing", "deposit_fiat", &json!([addr("bob"), 200]));
    let (asset, _, created) = create_asset(writer);
    // Node 0's receipts; the light client reads through the others, which may be a block behind.
    net.wait_height(&validators, created, MINUTE).unwrap();

    // The light home trusts block 1 and syncs through node 1 only.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");
    light_json(&home, &rpc(1), &["init", "--from-genesis", &chain_spec(&net)]);
    let synced = light_json(&home, &rpc(1), &["sync"])["verified"]["height"].as_u64().unwrap();
    assert!(synced >= created, "{synced} < {created}");

    // Each read goes to a node the light client did not sync with, which answers at its own
    // latest height; the value is what that node's own (unverified) `kessai query state` says at
    // the height the light client verified.
    let read = |via: usize, contract: &str, map: &str, key: &str| {
        // The light home trusts node 1's height `synced` now: a node below it has no header there.
        net.wait_height(&[via], synced, MINUTE).unwrap();
        let got = light_json(&home, &rpc(via), &["get", contract, map, key, "--witness", &rpc(1)]);
        let height = got["verified"]["height"].as_u64().unwrap();
        assert!(height >= synced, "{got}");
        assert_eq!(got["verified"]["hash"], json!(net.block_hash(via, height)));
        assert_quorum(&got["verified"]);
        let node_says = net.node(via).cli_json(&[
            "query",
            "state",
            contract,
            map,
            key,
            "--height",
            &height.to_string(),
        ]);
        assert_eq!(got["value"], node_says["value"], "{got}\n{node_says}");
        got
    };

    let key = json!([addr("bob"), "JPY"]).to_string();
    let balance = read(2, "clearing", "balances", &key);
    assert_eq!((balance["present"].as_bool(), &balance["value"]), (Some(true), &json!("200")));

    let record = read(3, "asset-ownership", "records", &asset.to_string());
    assert_eq!(record["present"], true, "{record}");
    assert_eq!(
        (record["value"]["amount"].as_u64(), record["value"]["owner"].as_str()),
        (Some(7), Some(addr("carol").as_str()))
    );

    // carol never had a clearing balance: proven absent, and the node agrees there is none.
    let nothing = json!([addr("carol"), "JPY"]).to_string();
    let absent = read(3, "clearing", "balances", &nothing);
    assert_eq!((absent["present"].as_bool(), &absent["value"]), (Some(false), &Value::Null));
}
