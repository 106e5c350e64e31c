//! Governance through the `kessai tx gov` commands of a real dev chain: it never leaves the chain
//! without an admin or without validator power (decision record 0008).

use kessai_primitives::Keypair;
use kessai_tests::{stderr, TestNode};
use std::process::Output;

fn public(name: &str) -> String {
    Keypair::dev(name).public().to_string()
}

/// `kessai tx gov ARGS` signed by the dev key `key`.
fn gov(node: &TestNode, key: &str, args: &[&str]) -> Output {
    let keys = node.keys_dir();
    let mut all = vec!["tx", "gov"];
    all.extend(args);
    all.extend(["--key", key, "--keys-dir", &keys]);
    node.cli(&all)
}

#[track_caller]
fn assert_refused(out: &Output, reason: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(stderr(out).contains(&format!("failed: {reason}")), "{}", stderr(out));
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

#[test]
fn the_only_admin_revoking_its_own_admin_role_is_refused() {
    let node = TestNode::dev();
    let alice = public("alice");

    // alice is the dev chain's only admin: dropping her admin role or leaving would end governance.
    let out = gov(&node, "alice", &["revoke-role", &alice, "admin"]);
    assert_refused(
        &out,
        "governance: the last admin cannot lose the admin role: no one could govern",
    );
    let out = gov(&node, "alice", &["remove-member", &alice]);
    assert_refused(&out, "governance: the last admin cannot be removed: no one could govern");
    // validator-0 is the only validator: power 0 would leave no one to sign blocks.
    let out = gov(&node, "alice", &["set-validator", &public("validator-0"), "0"]);
    assert_refused(
        &out,
        "governance: no validator would have voting power: no one could sign blocks",
    );
    let account = node.cli_json(&["query", "account", &alice]);
    assert_eq!(account["roles"], serde_json::json!(["admin", "deployer"]), "{account}");

    // She still governs: she makes carol an admin, and then she may step down.
    assert_ok(&gov(&node, "alice", &["grant-role", &public("carol"), "admin"]));
    assert_ok(&gov(&node, "alice", &["revoke-role", &alice, "admin"]));
    let out = gov(&node, "alice", &["grant-role", &public("dave"), "deployer"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Admin role"), "{}", stderr(&out));
    // carol, now the only admin, is held to the same rule.
    let carol = public("carol");
    let out = gov(&node, "carol", &["revoke-role", &carol, "admin"]);
    assert_refused(
        &out,
        "governance: the last admin cannot lose the admin role: no one could govern",
    );
    assert_ok(&gov(&node, "carol", &["grant-role", &alice, "admin"]));

    // A role that is not one is refused before anything is signed.
    let out = gov(&node, "carol", &["grant-role", &alice, "root"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("\"root\" is not a role"), "{}", stderr(&out));
}
