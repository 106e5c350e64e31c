//! `kessai light` as a member runs it: a light home on a temporary directory, any node's RPC. Shared
//! by the tests against `kessai dev` (`light_client.rs`) and against a testnet (`light_network.rs`).

use crate::{dev_address as addr, kessai, now_ms, stderr, TestNode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

/// `kessai light ARGS --home HOME --rpc RPC`.
pub fn light(home: &Path, rpc: &str, args: &[&str]) -> Output {
    let home = home.display().to_string();
    let mut all = vec!["light"];
    all.extend_from_slice(args);
    all.extend(["--home", &home, "--rpc", rpc]);
    kessai(&all)
}

/// The command's JSON output; it must succeed.
pub fn light_json(home: &Path, rpc: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = light(home, rpc, &all);
    assert!(out.status.success(), "kessai light {args:?} failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// More than two thirds of the voting power signed what was verified (a `verified` report).
pub fn assert_quorum(verified: &Value) {
    let (signed, total) = (verified["signed_power"].as_u64(), verified["total_power"].as_u64());
    assert!(signed.unwrap() * 3 > total.unwrap() * 2, "{verified}");
}

/// bob registers an asset record of 7 kWh held by carol (alice registers bob as a provider and
/// carol as an intermediary first); returns (asset id, tx id, height of its block).
pub fn create_asset(node: &TestNode) -> (u64, String, u64) {
    node.call_result("alice", "asset-ownership", "register_provider", &json!([addr("bob"), "Aa"]));
    let intermediary = json!([addr("carol"), "Da"]);
    node.call_result("alice", "asset-ownership", "register_intermediary", &intermediary);
    let args = json!([addr("bob"), now_ms() - 60_000, 7, "Wind", addr("carol"), null]);
    let created = node.call_ok("bob", "asset-ownership", "create", &args.to_string());
    let id = created["result"].as_u64().expect("the asset id");
    let tx = created["tx_id"].as_str().unwrap().to_string();
    (id, tx, created["height"].as_u64().unwrap())
}
