//! A real `kessai dev` process, driven only through the CLI and JSON-RPC: the asset-ownership worked
//! example, proofs, kill -9 and restart.

use kessai_primitives::Keypair;
use kessai_tests::{now_ms, stderr, TestNode};
use serde_json::{json, Value};
use std::time::Duration;

fn addr(name: &str) -> String {
    Keypair::dev(name).address().to_string()
}

/// alice (admin) registers bob as a solar producer and carol and dave as intermediaries.
fn register_parties(node: &TestNode) {
    node.call_ok(
        "alice",
        "asset-ownership",
        "register_provider",
        &json!([addr("bob"), "Aa solar"]).to_string(),
    );
    node.call_ok(
        "alice",
        "asset-ownership",
        "register_intermediary",
        &json!([addr("carol"), "Da"]).to_string(),
    );
    node.call_ok(
        "alice",
        "asset-ownership",
        "register_intermediary",
        &json!([addr("dave"), "Db"]).to_string(),
    );
}

#[test]
fn status_and_blocks_have_the_shapes_scripts_rely_on() {
    let node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(30)).unwrap();
    let status = node.cli_json(&["status"]);
    assert!(status["height"].as_u64().unwrap() >= 2);
    assert_eq!(status["state_root"].as_str().unwrap().len(), 64);
    assert_eq!(status["chain_id"], "kessai-dev");
    let block = node.cli_json(&["query", "block", "--height", "1"]);
    assert_eq!(block["hash"].as_str().unwrap().len(), 64);
    let commit = node.cli_json(&["query", "commit", "--height", "1"]);
    assert_eq!(commit["signatures"].as_array().unwrap().len(), 1);
    // The dev keys were written for members to use.
    assert!(node.home.join("keys/alice.json").exists());
}

#[test]
fn asset_ownership_worked_example_through_the_cli() {
    let node = TestNode::dev();
    register_parties(&node);

    // Aa (bob) produces 10 kWh of solar power at 9:00; the record is created with Db (dave) as owner.
    let t = now_ms() - 60_000;
    let created = node.call_ok(
        "bob",
        "asset-ownership",
        "create",
        &json!([addr("bob"), t, 10, "Solar", addr("dave"), null]).to_string(),
    );
    let id = created["result"].as_u64().expect("create returns the asset id");

    // Db → Da: NotYet → NotYet, owner Db → Da.
    node.call_ok("dave", "asset-ownership", "transfer", &json!([id, addr("carol")]).to_string());
    let record =
        node.cli_json(&["query", "view", "asset-ownership", "get", &json!([id]).to_string()]);
    assert_eq!(record["decoded"]["owner"], json!(addr("carol")));
    assert_eq!(record["decoded"]["status"], json!("NotYet"));

    // Only the current owner moves a record: dave no longer owns it.
    let out =
        node.call("dave", "asset-ownership", "transfer", &json!([id, addr("dave")]).to_string());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("failed"), "{}", stderr(&out));

    // Da → Ca (erin, the consumer): NotYet → Completed, owner Da → Ca.
    node.call_ok(
        "carol",
        "asset-ownership",
        "final_transfer",
        &json!([id, addr("erin"), 10]).to_string(),
    );
    let status =
        node.cli_json(&["query", "view", "asset-ownership", "status", &json!([id]).to_string()]);
    assert_eq!(status["decoded"], json!("Completed"));

    // A completed record never moves again.
    let out =
        node.call("erin", "asset-ownership", "transfer", &json!([id, addr("carol")]).to_string());
    assert!(!out.status.success());

    // The consumer's transfers within the period (for a production-method certificate).
    let transfers = node.cli_json(&[
        "query",
        "view",
        "asset-ownership",
        "transfers_to",
        &json!([addr("erin"), t - 1, now_ms() + 60_000]).to_string(),
    ]);
    assert_eq!(transfers["decoded"].as_array().unwrap().len(), 1, "{transfers}");

    // Events are indexed by contract.
    let events = node.cli_json(&["query", "events", "asset-ownership"]);
    let topics: Vec<&str> =
        events.as_array().unwrap().iter().map(|e| e["event"]["topic"].as_str().unwrap()).collect();
    assert!(topics.contains(&"created") && topics.contains(&"final_transferred"), "{topics:?}");
}

#[test]
fn state_reads_come_with_proofs_of_inclusion_and_absence() {
    let node = TestNode::dev();
    register_parties(&node);
    let contract = node.cli_json(&["query", "contract", "asset-ownership"]);
    let map = contract["abi"]["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "u64")
        .expect("a map keyed by asset id")["name"]
        .as_str()
        .unwrap()
        .to_string();
    let t = now_ms() - 60_000;
    let created = node.call_ok(
        "bob",
        "asset-ownership",
        "create",
        &json!([addr("bob"), t, 7, "Wind", addr("carol"), null]).to_string(),
    );
    let id = created["result"].as_u64().unwrap();

    let present = node.cli_json(&["query", "state", "asset-ownership", &map, &id.to_string()]);
    assert_eq!(present["proof_verified"], true);
    assert_eq!(present["value"]["amount"], 7);
    let absent = node.cli_json(&["query", "state", "asset-ownership", &map, "999999"]);
    assert_eq!(absent["proof_verified"], true);
    assert!(absent["value"].is_null());
}

#[test]
fn kill_9_and_restart_keeps_every_committed_block_and_receipt() {
    let mut node = TestNode::dev();
    register_parties(&node);
    let t = now_ms() - 60_000;
    let mut tx_ids = Vec::new();
    for i in 0..3u64 {
        let r = node.call_ok(
            "bob",
            "asset-ownership",
            "create",
            &json!([addr("bob"), t + i, 5, "Solar", addr("carol"), null]).to_string(),
        );
        tx_ids.push(r["tx_id"].as_str().unwrap().to_string());
    }
    let before = node.cli_json(&["status"]);
    let height = before["height"].as_u64().unwrap();
    let root = node.cli_json(&["query", "block", "--height", &height.to_string()])["header"]
        ["state_root"]
        .clone();

    node.kill9();
    node.start().expect("restarts");

    let after = node.cli_json(&["status"]);
    assert!(after["height"].as_u64().unwrap() >= height, "went back: {before} → {after}");
    let same_block = node.cli_json(&["query", "block", "--height", &height.to_string()]);
    assert_eq!(same_block["header"]["state_root"], root);
    for id in &tx_ids {
        let info = node.cli_json(&["query", "tx", id]);
        assert_eq!(info["state"], "committed");
        assert_eq!(info["receipt"]["status"]["status"], "success", "{info}");
    }
    // And the chain goes on from there.
    node.wait_height(height + 2, Duration::from_secs(30)).unwrap();
    let r = node.call_ok(
        "bob",
        "asset-ownership",
        "create",
        &json!([addr("bob"), t + 10, 5, "Solar", addr("carol"), null]).to_string(),
    );
    assert!(r["result"].as_u64().is_some());
}

#[test]
fn member_mistakes_get_clear_errors() {
    let node = TestNode::dev();
    // A missing method.
    let out = node.call("alice", "asset-ownership", "no_such_method", "[]");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no_such_method"), "{}", stderr(&out));
    // JSON arguments that do not match the interface.
    let out =
        node.call("alice", "asset-ownership", "register_provider", r#"["not-an-address", 5]"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("args"), "{}", stderr(&out));
    // Not JSON at all.
    let out = node.call("alice", "asset-ownership", "register_provider", "{oops");
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
    // An unknown key cannot transact.
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().to_str().unwrap();
    kessai_tests::kessai_ok(&["keys", "new", "mallory", "--dir", keys]);
    let mallory_args = json!([addr("mallory"), "m"]).to_string();
    let out = node.cli(&[
        "tx",
        "call",
        "asset-ownership",
        "register_provider",
        &mallory_args,
        "--key",
        "mallory",
        "--keys-dir",
        keys,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a member"), "{}", stderr(&out));
    // A non-admin cannot govern.
    let out = node.cli(&[
        "tx",
        "gov",
        "add-member",
        &Keypair::dev("x").public().to_string(),
        "--key",
        "bob",
        "--keys-dir",
        &node.keys_dir(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).to_lowercase().contains("admin"), "{}", stderr(&out));
    let _: Value = node.cli_json(&["status"]);
}

/// `kill -9` after a block is decided but before it is on disk (the write is held back by fault
/// injection): the lone validator restarts below the block with its precommit in the WAL and the
/// block's body in its journal, commits that very block, and goes on. Without the journal it
/// would hold a decision for a block it no longer has, and no peer to fetch it from.
#[test]
fn a_block_decided_but_not_yet_written_survives_kill9() {
    let mut node = TestNode::dev_with_env(&[("KESSAI_FAULT_WRITE_DELAY_MS", "4000")]);
    let alice = Keypair::dev("alice");
    let nonce = kessai_tests::next_nonce(&node.rpc, &alice);
    let tx = kessai_primitives::Transaction {
        chain_id: "kessai-dev".into(),
        signer: alice.public(),
        nonce,
        gas_limit: 10_000_000,
        payload: kessai_primitives::Payload::Governance(
            kessai_primitives::GovernanceAction::GrantRole {
                key: Keypair::dev("dave").public(),
                role: kessai_primitives::Role::Deployer,
            },
        ),
    }
    .sign(&alice);
    let id = kessai_tests::submit_raw(&node.rpc, &borsh::to_vec(&tx).unwrap()).unwrap();

    // Decided = gone from the mempool; not yet written = still pending.
    let started = std::time::Instant::now();
    loop {
        let status = node.cli_json(&["status"]);
        let info = node.cli_json(&["query", "tx", &id.to_string()]);
        if status["mempool_size"] == 0 && info["state"] == "pending" {
            break;
        }
        assert_ne!(info["state"], "committed", "written before the kill: the delay did not hold");
        assert!(started.elapsed() < Duration::from_secs(60), "never decided: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let height = node.cli_json(&["status"])["height"].as_u64().unwrap();
    node.kill9();

    node.env.clear();
    node.start().expect("restarts");
    let receipt = kessai_tests::wait_receipt(&node.rpc, id);
    assert_eq!(receipt.status, kessai_primitives::TxStatus::Success);
    let info = node.cli_json(&["query", "tx", &id.to_string()]);
    assert_eq!(info["height"].as_u64(), Some(height + 1), "committed at the height it was decided");
    assert!(node.log_text().contains("restoring consensus from the WAL"));
    node.wait_height(height + 3, Duration::from_secs(30)).unwrap();
}
