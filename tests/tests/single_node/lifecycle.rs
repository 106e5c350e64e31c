//! The contract lifecycle on a `kessai dev` chain (deployment policy "any deployer"), through
//! `kessai contract …` and `kessai query contract --history` only: a proposal by a deployer
//! activates at once, the history and `contract verify` are proven reads, and bad input is one
//! sentence with a non-zero exit.

use kessai_primitives::Keypair;
use kessai_tests::{dev_address, int, stderr, TestNode};
use serde_json::{json, Value};
use std::process::Output;

/// A committed contract artifact of `contracts/artifacts/`.
fn artifact(name: &str) -> String {
    format!("{}/../contracts/artifacts/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

/// `kessai contract ARGS --key KEY --keys-dir … --json`.
fn contract(node: &TestNode, key: &str, args: &[&str]) -> Output {
    let keys = node.keys_dir();
    let mut all = vec!["contract"];
    all.extend(args);
    all.extend(["--key", key, "--keys-dir", &keys, "--json"]);
    node.cli(&all)
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

/// A refusal: exit 1 and one line on stderr that contains `reason`.
#[track_caller]
fn assert_refused(out: &Output, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(reason), "{reason:?} not in {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "more than one sentence: {err}");
}

#[test]
fn a_deployers_proposal_activates_at_once_and_verify_checks_the_code_in_force() {
    let node = TestNode::dev();
    let code_hash = node.cli_json(&["query", "contract", "netting"])["code_hash"].clone();
    let code_hash = code_hash.as_str().expect("code hash").to_string();

    // A second netting instance from the stored code, under a new name, admin alice.
    let init = json!([dev_address("alice")]).to_string();
    let proposed = ok_json(&contract(
        &node,
        "alice",
        &["propose", "--name", "netting-b", "--code-hash", &code_hash, "--init-args", &init],
    ));
    assert_eq!(proposed["activated"], true, "{proposed}");
    assert_eq!(proposed["activation"], "contract_instantiated", "{proposed}");
    let id = proposed["proposal"].as_str().expect("proposal id").to_string();
    eprintln!("gas: propose that activates an instantiation {}", proposed["gas_used"]);

    // It is callable under its name at once.
    node.call_result("alice", "netting-b", "fund", &json!([dev_address("bob"), 5]));
    assert_eq!(int(&node.view("netting-b", "balance", &json!([dev_address("bob")]))), 5);

    // The proposal, proven: activated, alice's approval, one required.
    let status = node.cli_json(&["contract", "status", &id]);
    let proposal = &status["proposals"][0];
    assert_eq!(status["proof_verified"], true, "{status}");
    assert_eq!(proposal["status"], "activated", "{status}");
    assert_eq!(proposal["required"], 1, "{status}");
    let alice = Keypair::dev("alice").public().to_string();
    assert_eq!(proposal["counted"], json!([alice]), "{status}");
    // Listed among every proposal too.
    let all = node.cli_json(&["contract", "status"]);
    assert!(all["proposals"].as_array().unwrap().iter().any(|p| p["id"] == id.as_str()), "{all}");

    // Its history: version 1, from this proposal, approved by alice, at the proposal's height.
    let history = node.cli_json(&["query", "contract", "netting-b", "--history"]);
    assert_eq!(history["proof_verified"], true, "{history}");
    let versions = history["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1, "{history}");
    assert_eq!(versions[0]["version"], 1, "{history}");
    assert_eq!(versions[0]["code_hash"], code_hash.as_str(), "{history}");
    assert_eq!(versions[0]["proposal"], id.as_str(), "{history}");
    assert_eq!(versions[0]["approvers"], json!([alice]), "{history}");
    assert_eq!(versions[0]["activated_at_height"], proposed["height"], "{history}");
    let text = node.cli_ok(&["query", "contract", "netting-b", "--history"]);
    assert!(text.contains(&format!("version 1: code {code_hash}")), "{text}");

    // The committed artifact is the code in force; another one is not, with one sentence.
    let netting = artifact("netting");
    let verified = node.cli_json(&["contract", "verify", "netting-b", "--wasm", &netting]);
    assert_eq!(verified["matches"], true, "{verified}");
    let out = node.cli(&["contract", "verify", "netting-b", "--wasm", &artifact("clearing")]);
    assert_refused(&out, "is not the code in force for netting-b");
    // A genesis contract has its version 1 from the chain spec, at height 0.
    let history = node.cli_json(&["query", "contract", "netting", "--history"]);
    assert_eq!(history["versions"][0]["activated_at_height"], 0, "{history}");
    assert_eq!(history["versions"][0]["proposal"], Value::Null, "{history}");

    // The name is taken now.
    let again = contract(
        &node,
        "alice",
        &["propose", "--name", "netting-b", "--code-hash", &code_hash, "--init-args", &init],
    );
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
}

#[test]
fn bad_lifecycle_input_is_one_sentence_and_a_non_zero_exit() {
    let node = TestNode::dev();
    let netting = artifact("netting");
    let unknown_code = "ab".repeat(32);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["approve", "not-a-hash"], "is not a proposal id (64 hex characters)"),
        (vec!["withdraw", "12"], "is not a proposal id"),
        (
            vec!["propose", "--name", "x", "--wasm", &netting, "--upgrade-policy", "admin"],
            "is not an upgrade policy",
        ),
        (
            vec!["propose", "--name", "x", "--wasm", &netting, "--upgrade-policy", "approvals:0"],
            "at least 1",
        ),
        (
            vec!["propose", "--name", "x", "--wasm", &netting, "--init-args", "[oops"],
            "--init-args is not valid JSON",
        ),
        (vec!["propose", "--name", "x", "--code-hash", &unknown_code], "is stored on the chain"),
        (
            vec!["propose", "--name", "x", "--wasm", "/nonexistent.wasm"],
            "cannot read /nonexistent.wasm",
        ),
        (vec!["propose", "--name", "x", "--wasm", &netting, "--expires-in", "0"], "at least 1"),
        (vec!["propose-upgrade", "netting", "--wasm", &netting], "already runs code"),
    ];
    for (args, reason) in cases {
        assert_refused(&contract(&node, "alice", &args), reason);
    }
    // Approving a proposal nobody made is refused (at submission or in its block).
    let out = contract(&node, "alice", &["approve", &"cd".repeat(32)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(printed.contains("no proposal"), "{printed}");
    // Verified reads need a first block to trust.
    node.wait_height(1, std::time::Duration::from_secs(30)).unwrap();
    let out = node.cli(&["contract", "status", &"cd".repeat(32)]);
    assert_refused(&out, "proven absent");
    let out = node.cli(&["contract", "verify", "no-such-contract", "--wasm", &netting]);
    assert_refused(&out, "there is no contract named \"no-such-contract\"");
}
