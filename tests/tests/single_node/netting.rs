//! The netting patent's worked example (JP6971127B2, `shared/specs/netting.md`) against a real
//! `kessai dev`, through the CLI only: the spec's 8 instructions net to positions 40, −80, 60, −20
//! in both embodiments, and a relay that does not close is rejected with nothing settled.
//!
//! Terminals 100, 200, 300, 400 are bob, carol, dave and erin; alice is the settlement agent (the
//! contract's admin in the dev preset). Every test runs on a fresh chain, so balances are absolute.

use borsh::BorshSerialize;
use kessai_primitives::Hash;
use kessai_tests::{dev_address as addr, int, TestNode};
use serde_json::{json, Value};

const NETTING: &str = "netting";
const TERMINALS: [&str; 4] = ["bob", "carol", "dave", "erin"];
const FUNDING: i128 = 1000;
/// The positions the patent's example ends with, in the order 100, 200, 300, 400.
const POSITIONS: [i128; 4] = [40, -80, 60, -20];

/// The spec's instructions: (id, sender, receiver, amount).
const INSTRUCTIONS: [(u64, &str, &str, i128); 8] = [
    (1, "bob", "carol", 50),
    (2, "carol", "dave", 30),
    (3, "dave", "erin", 20),
    (4, "carol", "bob", 60),
    (5, "dave", "bob", 10),
    (6, "erin", "bob", 20),
    (7, "carol", "dave", 40),
    (8, "erin", "dave", 20),
];

/// A dev chain where alice has funded every terminal's settlement balance with 1000.
fn funded_chain() -> TestNode {
    let node = TestNode::dev();
    for who in TERMINALS {
        node.call_result("alice", NETTING, "fund", &json!([addr(who), FUNDING]));
    }
    assert_eq!(balances(&node), [FUNDING; 4]);
    node
}

fn balances(node: &TestNode) -> [i128; 4] {
    TERMINALS.map(|who| int(&node.view(NETTING, "balance", &json!([addr(who)]))))
}

/// Funding plus each position: what a settled cycle must leave.
fn settled_balances() -> [i128; 4] {
    POSITIONS.map(|p| FUNDING + p)
}

/// bob opens a cycle over the four terminals in the agreed order; returns its id.
fn open_cycle(node: &TestNode, relay: &str, mode: &str) -> u64 {
    let order: Vec<String> = TERMINALS.iter().map(|who| addr(who)).collect();
    let deadline = json!({"Height": {"height": node.height() + 1000}});
    let id = node.call_result("bob", NETTING, "open_cycle", &json!([order, relay, mode, deadline]));
    id.as_u64().expect("open_cycle returns the cycle id")
}

fn all_ready(node: &TestNode, cycle: u64) {
    for who in TERMINALS {
        node.call_result(who, NETTING, "ready", &json!([cycle]));
    }
}

fn cycle(node: &TestNode, id: u64) -> Value {
    node.view(NETTING, "cycle", &json!([id]))
}

fn relay(node: &TestNode, who: &str, cycle: u64, amount: i128) {
    node.call_result(who, NETTING, "relay", &json!([cycle, amount.to_string()]));
}

/// A private instruction's commitment, computed here from the layout the contract documents:
/// blake3(borsh((cycle, id, sender, receiver, amount)) ‖ salt).
fn instruction_commitment(
    cycle: u64,
    (id, from, to, amount): (u64, &str, &str, i128),
    salt: [u8; 32],
) -> String {
    let key = |name: &str| kessai_primitives::Keypair::dev(name).address().0;
    let mut bytes = Vec::new();
    (cycle, id, key(from), key(to), amount).serialize(&mut bytes).expect("borsh");
    bytes.extend_from_slice(&salt);
    Hash::digest(&bytes).to_hex()
}

fn mask_commitment(node: &TestNode, r: i128, salt: &str) -> Value {
    node.view(NETTING, "mask_commitment", &json!([r.to_string(), salt]))
}

#[test]
fn embodiment_1_public_chained_relay_settles_the_patents_positions() {
    let node = funded_chain();
    assert!(node
        .refused("bob", NETTING, "fund", &json!([addr("bob"), 1000]))
        .contains("only the admin"));

    let id = open_cycle(&node, "Chained", "Public");
    for (_, from, to, amount) in INSTRUCTIONS {
        node.call_result(from, NETTING, "register_instruction", &json!([id, addr(to), amount]));
    }
    // Each terminal's position, from its own instructions only.
    for (who, expected) in TERMINALS.iter().zip(POSITIONS) {
        assert_eq!(int(&node.view(NETTING, "position", &json!([id, addr(who)]))), expected);
    }
    all_ready(&node, id);

    // Out of turn, and a wrong amount, are refused; the chain checks every public step.
    assert!(node.refused("carol", NETTING, "relay", &json!([id, 40])).contains("not your turn"));
    relay(&node, "bob", id, -40);
    assert!(node.refused("carol", NETTING, "relay", &json!([id, 41])).contains(
        "carries 41: the received amount offset against the sender's own position gives 40"
    ));
    // The spec's netting transactions: (100→200, −40), (200→300, 40), (300→400, −20).
    assert_eq!(int(&node.view(NETTING, "expected_relay", &json!([id]))), 40);
    relay(&node, "carol", id, 40);
    assert_eq!(int(&node.view(NETTING, "expected_relay", &json!([id]))), -20);
    relay(&node, "dave", id, -20);
    assert_eq!(balances(&node), [FUNDING; 4], "nothing moves before the relay closes");

    // 400 receives −20 and closes with its own position −20: the remainder is zero.
    assert!(node.refused("erin", NETTING, "close", &json!([id, -21])).contains("wrong position"));
    let phase = node.call_result("erin", NETTING, "close", &json!([id, -20]));
    assert_eq!(phase, "Settled");
    assert_eq!(balances(&node), settled_balances());
    let settled: Vec<i128> =
        cycle(&node, id)["positions"].as_array().unwrap().iter().map(int).collect();
    assert_eq!(settled, POSITIONS);
    assert_eq!(int(&node.view(NETTING, "total_balance", &json!([]))), 4 * FUNDING);
}

#[test]
fn embodiment_2_private_masked_ring_settles_the_same_positions() {
    let node = funded_chain();
    let id = open_cycle(&node, "MaskedRing", "Private");

    // Only commitments go on the ledger; each one is acknowledged by its receiver.
    for (i, instruction) in INSTRUCTIONS.into_iter().enumerate() {
        let (number, from, to, amount) = instruction;
        let salt = [i as u8 + 1; 32];
        let hash = instruction_commitment(id, instruction, salt);
        if i == 0 {
            let on_node = node.view(
                NETTING,
                "instruction_commitment",
                &json!([id, number, addr(from), addr(to), amount, hex::encode(salt)]),
            );
            assert_eq!(on_node, json!(hash), "the contract hashes the documented layout");
        }
        node.call_result(from, NETTING, "commit_instruction", &json!([id, addr(to), hash]));
        node.call_result(to, NETTING, "acknowledge", &json!([id, hash]));
    }
    // A private position is nobody's business but its participant's.
    assert!(node
        .cli(&["query", "view", NETTING, "position", &json!([id, addr("bob")]).to_string()])
        .status
        .code()
        .is_some_and(|c| c != 0));

    // bob masks with r = 1000 (prose convention: a_1 = r − p_1, a_i = a_(i−1) − p_i, a_n = r).
    let r = 1000;
    let mask_salt = "6d".repeat(32);
    let mask = mask_commitment(&node, r, &mask_salt);
    node.call_result("bob", NETTING, "commit_mask", &json!([id, mask]));
    all_ready(&node, id);
    for (who, amount) in TERMINALS.into_iter().zip([960, 1040, 980, 1000]) {
        relay(&node, who, id, amount);
    }
    assert!(node
        .refused("bob", NETTING, "reveal_mask", &json!([id, "999", mask_salt]))
        .contains("do not match"));
    assert_eq!(balances(&node), [FUNDING; 4], "nothing moves before the ring closes");

    let phase =
        node.call_result("bob", NETTING, "reveal_mask", &json!([id, r.to_string(), mask_salt]));
    assert_eq!(phase, "Settled");
    assert_eq!(balances(&node), settled_balances());
    let settled: Vec<i128> =
        cycle(&node, id)["positions"].as_array().unwrap().iter().map(int).collect();
    assert_eq!(settled, POSITIONS);
}

#[test]
fn a_relay_that_does_not_close_is_rejected_and_nothing_settles() {
    let node = funded_chain();

    // Masked ring: 300 forgot instruction 8 (400 → 300, 20), believes its position is 40 and
    // relays 1000; the ring then closes on 1020, not on r = 1000.
    let ring = open_cycle(&node, "MaskedRing", "Private");
    let salt = "5a".repeat(32);
    let mask = mask_commitment(&node, 1000, &salt);
    node.call_result("bob", NETTING, "commit_mask", &json!([ring, mask]));
    all_ready(&node, ring);
    for (who, amount) in TERMINALS.into_iter().zip([960, 1040, 1000, 1020]) {
        relay(&node, who, ring, amount);
    }
    let phase = node.call_result("bob", NETTING, "reveal_mask", &json!([ring, "1000", salt]));
    assert_eq!(phase, "Rejected");
    assert_eq!(cycle(&node, ring)["phase"], "Rejected");
    assert_eq!(balances(&node), [FUNDING; 4]);
    // Rejected for good: it cannot be closed again.
    assert!(node
        .refused("bob", NETTING, "reveal_mask", &json!([ring, "1000", salt]))
        .contains("Rejected"));

    // Chained relay, private: 400 states a position the relay does not end on.
    let chain = open_cycle(&node, "Chained", "Private");
    all_ready(&node, chain);
    for (who, amount) in TERMINALS.into_iter().zip([-40, 40, -20]) {
        relay(&node, who, chain, amount);
    }
    let phase = node.call_result("erin", NETTING, "close", &json!([chain, -40]));
    assert_eq!(phase, "Rejected");
    assert_eq!(balances(&node), [FUNDING; 4]);
    assert!(cycle(&node, chain)["positions"].as_array().unwrap().is_empty());
}

#[test]
fn signed_and_zero_instructions_net_like_the_spec_and_nobody_pays_unasked() {
    let node = funded_chain();
    let id = open_cycle(&node, "Chained", "Public");
    // Instructions 4 (200 → 100, 60) and 8 (400 → 300, 20) registered by their payees as
    // negative amounts; each counts only once its payer acknowledges it. Plus a zero instruction.
    for (number, from, to, amount) in INSTRUCTIONS {
        if number == 4 || number == 8 {
            let got = node.call_result(
                to,
                NETTING,
                "register_instruction",
                &json!([id, addr(from), -amount]),
            );
            assert_eq!(got, json!(number));
            assert!(node
                .refused(to, NETTING, "acknowledge_instruction", &json!([id, number]))
                .contains("only the payer"));
            assert!(node
                .refused(from, NETTING, "ready", &json!([id]))
                .contains("unacknowledged negative instruction"));
            node.call_result(from, NETTING, "acknowledge_instruction", &json!([id, number]));
        } else {
            node.call_result(from, NETTING, "register_instruction", &json!([id, addr(to), amount]));
        }
    }
    node.call_result("erin", NETTING, "register_instruction", &json!([id, addr("bob"), 0]));
    // A negative instruction its payer refuses counts for nothing.
    let refused =
        node.call_result("dave", NETTING, "register_instruction", &json!([id, addr("bob"), -500]));
    node.call_result("bob", NETTING, "cancel_instruction", &json!([id, refused]));
    for (who, expected) in TERMINALS.iter().zip(POSITIONS) {
        assert_eq!(int(&node.view(NETTING, "position", &json!([id, addr(who)]))), expected);
    }
    all_ready(&node, id);
    for (who, amount) in TERMINALS.into_iter().zip([-40, 40, -20]) {
        relay(&node, who, id, amount);
    }
    assert_eq!(node.call_result("erin", NETTING, "close", &json!([id, -20])), "Settled");
    assert_eq!(balances(&node), settled_balances());
}
