//! The contract lifecycle on four validators (`kessai testnet init`: the `local` preset, whose
//! deployment policy wants 3 approvals of members holding the approver role: alice, bob, carol
//! and dave; netting is upgradeable by 3 approvals), through the CLI only and verified reads:
//! two approvals do not deploy and the third does; an approver's role is required to approve and
//! a non-member cannot even submit; netting is upgraded to version 2 by three approvals keeping
//! every balance, after a failing `migrate` that left version 1 in force.
//!
//! Like testnet.rs, the tests of this file take turns with the other networks.

use kessai_primitives::{Keypair, LifecycleAction, Payload, Transaction};
use kessai_tests::testnet::{one_network_at_a_time as one_at_a_time, Testnet};
use kessai_tests::{dev_address as addr, int, stderr, submit_raw};
use serde_json::{json, Value};
use std::process::Output;
use std::time::{Duration, Instant};

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const MEMBERS: [&str; 4] = ["bob", "carol", "dave", "erin"];

fn artifact(name: &str) -> String {
    format!("{}/../contracts/artifacts/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

/// `kessai contract ARGS --key KEY` through node `via`, with the testnet's member keys.
fn contract(net: &Testnet, via: usize, key: &str, args: &[&str]) -> Output {
    let keys = net.keys_dir();
    let mut all = vec!["contract"];
    all.extend(args);
    all.extend(["--key", key, "--keys-dir", &keys, "--json"]);
    net.node(via).cli(&all)
}

#[track_caller]
fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A lifecycle transaction refused: exit 1, and why — its receipt's reason when it failed in its
/// block, else the node's refusal at submission (the mempool checks what it can, e.g. roles).
#[track_caller]
fn refusal(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "not refused: {}", String::from_utf8_lossy(&out.stdout));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    match printed["receipt"]["status"]["reason"].as_str() {
        Some(reason) => reason.to_string(),
        None => stderr(out),
    }
}

/// A lifecycle transaction that was committed and failed: its receipt's reason.
#[track_caller]
fn failed_in_block(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no receipt printed: {}", stderr(out)));
    assert_eq!(printed["state"], "committed", "{printed}");
    printed["receipt"]["status"]["reason"].as_str().expect("a failure reason").to_string()
}

fn proposal(net: &Testnet, via: usize, id: &str) -> Value {
    let status = net.node(via).cli_json(&["contract", "status", id]);
    assert_eq!(status["proof_verified"], true, "{status}");
    status["proposals"][0].clone()
}

fn balances(net: &Testnet) -> Vec<i128> {
    let node = net.node(0);
    MEMBERS.iter().map(|who| int(&node.view("netting", "balance", &json!([addr(who)])))).collect()
}

fn total(net: &Testnet) -> i128 {
    int(&net.node(0).view("netting", "total_balance", &json!([])))
}

/// Waits until every validator has committed the block of a transaction the CLI printed (its
/// `height`): it returned when the node it went through committed it, and the next step reads or
/// submits through another node, which may still be a block behind (a proposal not yet there is
/// refused at submission; a view answers from the state before the transaction).
#[track_caller]
fn committed_everywhere(net: &Testnet, printed: &Value) {
    let height = printed["height"].as_u64().unwrap_or_else(|| panic!("not committed: {printed}"));
    net.wait_height(&VALIDATORS, height, Duration::from_secs(60)).unwrap();
}

fn versions(net: &Testnet, via: usize, contract: &str) -> Vec<Value> {
    let history = net.node(via).cli_json(&["query", "contract", contract, "--history"]);
    assert_eq!(history["proof_verified"], true, "{history}");
    history["versions"].as_array().expect("versions").clone()
}

#[test]
fn three_of_four_approvals_deploy_and_upgrade_netting_keeping_every_balance() {
    let _turn = one_at_a_time();
    let started = Instant::now();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 1, Duration::from_secs(60)).unwrap();
    let mut gas = Vec::new();

    // ── Governed deployment: a second netting instance, from the code genesis stored ──
    let netting_code = net.node(0).cli_json(&["query", "contract", "netting"])["code_hash"].clone();
    let netting_code = netting_code.as_str().expect("code hash").to_string();
    let init = json!([addr("alice")]).to_string();
    let proposed = ok_json(&contract(
        &net,
        0,
        "alice",
        &[
            "propose",
            "--name",
            "netting-b",
            "--code-hash",
            &netting_code,
            "--init-args",
            &init,
            "--upgrade-policy",
            "approvals:3",
        ],
    ));
    assert_eq!(proposed["activated"], false, "{proposed}");
    gas.push(("propose (instantiation, pending)", proposed["gas_used"].clone()));
    let id = proposed["proposal"].as_str().expect("proposal id").to_string();
    committed_everywhere(&net, &proposed);
    let not_callable = |net: &Testnet| {
        let out =
            net.node(0).call("alice", "netting-b", "fund", &json!([addr("bob"), 1]).to_string());
        assert_eq!(out.status.code(), Some(1), "netting-b answered before activation");
        let err = stderr(&out);
        assert!(err.contains("no contract named") && err.contains("netting-b"), "{err}");
    };
    not_callable(&net);

    // bob's approval is the second: still not deployed.
    let approved = ok_json(&contract(&net, 1, "bob", &["approve", &id]));
    assert_eq!(approved["activated"], false, "{approved}");
    gas.push(("approve (pending)", approved["gas_used"].clone()));
    committed_everywhere(&net, &approved);
    not_callable(&net);
    let pending = proposal(&net, 2, &id);
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(pending["required"], 3, "{pending}");
    assert_eq!(pending["counted"].as_array().unwrap().len(), 2, "{pending}");

    // erin is a member without the approver role: her approval is refused.
    let reason = refusal(&contract(&net, 2, "erin", &["approve", &id]));
    assert!(reason.to_lowercase().contains("approver"), "{reason}");
    // A stranger's key is no member: the CLI will not sign for it, and the node refuses the
    // transaction signed anyway at submission (nothing reaches a block).
    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger_dir_arg = stranger_dir.path().display().to_string();
    kessai_tests::kessai_ok(&["keys", "new", "stranger", "--dir", &stranger_dir_arg]);
    let stranger_file = stranger_dir.path().join("stranger.json").display().to_string();
    let out = contract(&net, 0, &stranger_file, &["approve", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a member of chain"), "{}", stderr(&out));
    let stranger = Keypair::generate();
    for action in [
        LifecycleAction::Approve { proposal: id.parse().unwrap() },
        LifecycleAction::Withdraw { proposal: id.parse().unwrap() },
    ] {
        let tx = Transaction {
            chain_id: net.status(0)["chain_id"].as_str().unwrap().to_string(),
            signer: stranger.public(),
            nonce: 0,
            gas_limit: 10_000_000,
            payload: Payload::Lifecycle(action),
        }
        .sign(&stranger);
        let refused = submit_raw(&net.node(3).rpc, &borsh::to_vec(&tx).unwrap());
        let reason = refused.expect_err("a non-member's lifecycle transaction was admitted");
        assert!(reason.contains("not a member"), "{reason}");
    }
    assert_eq!(proposal(&net, 0, &id)["counted"].as_array().unwrap().len(), 2);

    // carol's is the third: netting-b is instantiated in that block, and answers.
    let activated = ok_json(&contract(&net, 3, "carol", &["approve", &id]));
    assert_eq!(activated["activated"], true, "{activated}");
    assert_eq!(activated["activation"], "contract_instantiated", "{activated}");
    gas.push((
        "approve that activates an instantiation (runs init)",
        activated["gas_used"].clone(),
    ));
    committed_everywhere(&net, &activated);
    let funded =
        net.node(0).call_ok("alice", "netting-b", "fund", &json!([addr("bob"), 7]).to_string());
    committed_everywhere(&net, &funded);
    assert_eq!(int(&net.node(1).view("netting-b", "balance", &json!([addr("bob")]))), 7);
    let done = proposal(&net, 1, &id);
    assert_eq!(done["status"], "activated", "{done}");
    let history = versions(&net, 2, "netting-b");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["proposal"], id.as_str());
    assert_eq!(history[0]["activated_at_height"], activated["height"]);
    let approvers: Vec<String> =
        ["alice", "bob", "carol"].iter().map(|k| Keypair::dev(k).public().to_string()).collect();
    assert_eq!(history[0]["approvers"], json!(approvers));

    // ── Upgrade of netting to version 2: balances before ──
    for (who, amount) in MEMBERS.iter().zip([100, 250, 40, 1_000]) {
        net.node(0).call_result("alice", "netting", "fund", &json!([addr(who), amount]));
    }
    let before = balances(&net);
    let total_before = total(&net);
    assert_eq!(before.iter().sum::<i128>(), total_before);
    assert_eq!(before, [100, 250, 40, 1_000]);
    let v1 = artifact("netting");
    let v2 = artifact("netting-v2");

    // A migrate that fails (a debit cap of 0 is refused) leaves version 1 in force.
    let bad = ok_json(&contract(
        &net,
        0,
        "alice",
        &["propose-upgrade", "netting", "--wasm", &v2, "--migrate-args", "[0]"],
    ));
    gas.push(("propose (upgrade, pending; after storing the code)", bad["gas_used"].clone()));
    let bad_id = bad["proposal"].as_str().unwrap().to_string();
    committed_everywhere(&net, &bad);
    ok_json(&contract(&net, 1, "bob", &["approve", &bad_id]));
    let failing = contract(&net, 2, "carol", &["approve", &bad_id]);
    let reason = failed_in_block(&failing);
    eprintln!("the failing migrate: {reason}");
    let printed: Value = serde_json::from_slice(&failing.stdout).unwrap();
    committed_everywhere(&net, &printed);
    gas.push(("approve whose migrate fails (nothing changes)", printed["gas_used"].clone()));
    assert_eq!(proposal(&net, 0, &bad_id)["status"], "pending");
    assert_eq!(versions(&net, 0, "netting").len(), 1, "a failed migrate added a version");
    assert_eq!(
        net.node(0).cli_json(&["contract", "verify", "netting", "--wasm", &v1])["matches"],
        true
    );
    assert_eq!(balances(&net), before, "version 1 no longer answers as before");

    // The same code with good migrate args (no default cap), three approvals: version 2.
    let good = ok_json(&contract(
        &net,
        1,
        "bob",
        &["propose-upgrade", "netting", "--wasm", &v2, "--migrate-args", "[null]"],
    ));
    let good_id = good["proposal"].as_str().unwrap().to_string();
    committed_everywhere(&net, &good);
    ok_json(&contract(&net, 2, "carol", &["approve", &good_id]));
    let upgraded = ok_json(&contract(&net, 3, "dave", &["approve", &good_id]));
    assert_eq!(upgraded["activated"], true, "{upgraded}");
    assert_eq!(upgraded["activation"], "contract_upgraded", "{upgraded}");
    gas.push((
        "approve that activates an upgrade (runs migrate over 4 balances)",
        upgraded["gas_used"].clone(),
    ));
    committed_everywhere(&net, &upgraded);

    // Every balance kept, the sum too; version 2's own view answers.
    assert_eq!(balances(&net), before, "a balance changed in the upgrade");
    assert_eq!(total(&net), total_before);
    assert_eq!(net.node(2).view("netting", "version", &json!([])), json!(2));
    assert_eq!(net.node(2).view("netting", "debit_cap", &json!([addr("bob")])), Value::Null);
    let history = versions(&net, 3, "netting");
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["activated_at_height"], 0);
    assert_eq!(history[1]["version"], 2);
    assert_eq!(history[1]["proposal"], good_id.as_str());
    assert_eq!(history[1]["activated_at_height"], upgraded["height"]);
    let approvers: Vec<String> =
        ["bob", "carol", "dave"].iter().map(|k| Keypair::dev(k).public().to_string()).collect();
    assert_eq!(history[1]["approvers"], json!(approvers));
    assert_eq!(
        net.node(3).cli_json(&["contract", "verify", "netting", "--wasm", &v2])["matches"],
        true
    );
    let out = net.node(3).cli(&["contract", "verify", "netting", "--wasm", &v1]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it is the code of version 1, replaced since"),
        "{}",
        stderr(&out)
    );

    for (what, used) in &gas {
        eprintln!("gas: {what}: {used}");
    }
    eprintln!("wall time of the test: {:?}", started.elapsed());
}
