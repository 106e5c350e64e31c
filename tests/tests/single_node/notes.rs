//! The notes patent's example (JP7005000B2, `shared/specs/notes.md`) against a real `kessai dev`,
//! through `kessai notes` and `kessai tx call`: a note is issued after the credit check, settled
//! once, and a second settlement is refused.
//!
//! alice is the issuer (the management device); bob is the spec's user d2af1apfa; carol is paid.

use kessai_tests::{dev_address as addr, kessai, stderr, TestNode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

const NOTES: &str = "notes";

fn balance(node: &TestNode, who: &str) -> u64 {
    node.view(NOTES, "balance", &json!([addr(who)])).as_u64().expect("a deposit balance")
}

fn totals(node: &TestNode) -> (u64, u64) {
    let totals = node.view(NOTES, "totals", &json!([]));
    (totals["collateral"].as_u64().unwrap(), totals["supply"].as_u64().unwrap())
}

fn next_serial(node: &TestNode, who: &str) -> u64 {
    node.view(NOTES, "next_serial", &json!([addr(who)])).as_u64().unwrap()
}

/// `kessai notes ARGS` against the node, signing as `key`, with terminals kept in `terminals`.
fn notes_cli(node: &TestNode, terminals: &Path, key: &str, args: &[&str]) -> Output {
    let (keys, dir) = (node.keys_dir(), terminals.display().to_string());
    let mut all = vec!["notes"];
    all.extend_from_slice(args);
    all.extend(["--key", key, "--keys-dir", &keys, "--rpc", &node.rpc, "--json"]);
    let mut command = std::process::Command::new(kessai_tests::kessai_bin());
    command.args(&all).env("KESSAI_TERMINALS", &dir).env_remove("KESSAI_RPC");
    command.output().expect("run kessai notes")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "kessai notes failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[test]
fn a_note_is_issued_after_the_credit_check_and_settles_only_once() {
    let node = TestNode::dev();
    let terminals = tempfile::tempdir().unwrap();
    let dir = terminals.path().display().to_string();

    // bob's deposit: 100,000 yen, attested by the issuer.
    node.call_result("alice", NOTES, "deposit", &json!([addr("bob"), 100_000]));
    assert_eq!(balance(&node, "bob"), 100_000);
    let out = kessai(&["notes", "new-terminal", "bob-phone", "--terminals-dir", &dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let serial = next_serial(&node, "bob");
    let (collateral, supply) = totals(&node);

    // The whole balance is refused (the amount must be less than the deposit), and a refused
    // issuance neither uses a serial nor moves money.
    let out = notes_cli(
        &node,
        terminals.path(),
        "bob",
        &["issue", "--amount", "100000", "--terminal", "bob-phone"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("credit refused"), "{}", stderr(&out));
    assert_eq!((next_serial(&node, "bob"), balance(&node, "bob")), (serial, 100_000));

    // 25,000: permitted; bob's deposit 75,000, the collateral grows by 25,000.
    let note_file = terminals.path().join("note.txt");
    let note_path = note_file.display().to_string();
    let issued = json_of(&notes_cli(
        &node,
        terminals.path(),
        "bob",
        &["issue", "--amount", "25000", "--terminal", "bob-phone", "--out", &note_path],
    ));
    assert_eq!(issued["serial"].as_u64(), Some(serial));
    assert_eq!(balance(&node, "bob"), 75_000);
    assert_eq!(totals(&node), (collateral + 25_000, supply), "deposit moved to collateral");
    let record = node.view(NOTES, "note", &json!([addr("bob"), serial]));
    assert_eq!(record["commitment"], issued["commitment"], "only the commitment is on the ledger");
    let shown = node.cli_json(&["notes", "show", &note_path]);
    assert_eq!(shown["status"], "outstanding");

    // Someone who saw the note cannot reveal it without an earlier commitment (front-running).
    let note_json = node.cli_json(&["notes", "show", &note_path, "--offline"])["note"].clone();
    assert!(node
        .refused("erin", NOTES, "reveal_redeem", &json!([note_json, addr("erin")]))
        .contains("call commit_redeem first"));

    // carol redeems it: commit, then reveal in a later block; she is paid from the collateral.
    let carol_before = balance(&node, "carol");
    let redeemed = json_of(&notes_cli(&node, terminals.path(), "carol", &["redeem", &note_path]));
    assert_eq!(redeemed["amount"].as_u64(), Some(25_000));
    assert!(
        redeemed["reveal"]["height"].as_u64() > redeemed["commit"]["height"].as_u64(),
        "{redeemed}"
    );
    assert_eq!(balance(&node, "carol"), carol_before + 25_000);
    assert_eq!(totals(&node), (collateral, supply));
    assert!(
        node.view(NOTES, "note", &json!([addr("bob"), serial])).is_null(),
        "the note is burned"
    );

    // A second settlement is refused: by the contract when forced, by the CLI's ledger check
    // otherwise. Nobody is paid twice.
    let out = notes_cli(&node, terminals.path(), "dave", &["redeem", &note_path, "--force"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already settled"), "{}", stderr(&out));
    let out = notes_cli(&node, terminals.path(), "carol", &["redeem", &note_path]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not redeeming: the note is already settled"),
        "{}",
        stderr(&out)
    );
    assert_eq!(balance(&node, "carol"), carol_before + 25_000);
    assert_eq!(balance(&node, "dave"), 0);
    assert_eq!(node.cli_json(&["notes", "show", &note_path])["status"], "settled");
}
