//! The clearing patent's worked example (JP6745835B2, `shared/specs/clearing.md`) against a real
//! `kessai dev`, through the CLI only.
//!
//! alice is the clearing system (the patent's 610, set at genesis); exchange A (620) is bob, B (630)
//! is carol, C is dave. Amounts are integers in the smallest unit: satoshi and yen. Every test
//! runs on a fresh chain, so holdings are absolute.
//!
//! A settlement's results are provisional until two of {clearing system, buyer, seller} of each of
//! its trades approve: until then each payer's amount is locked (still its own) and each
//! receiver's is `provisional` (not yet its own, not withdrawable).

use kessai_tests::{dev_address as addr, int, TestNode};
use serde_json::{json, Value};

const CLEARING: &str = "clearing";
const BTC: i128 = 100_000_000;

/// A dev chain where alice has registered bob (A), carol (B) and dave (C) as exchanges.
fn chain_with_exchanges() -> TestNode {
    let node = TestNode::dev();
    for (who, name) in [("bob", "A"), ("carol", "B"), ("dave", "C")] {
        node.call_result("alice", CLEARING, "register_exchange", &json!([addr(who), name]));
    }
    assert!(node
        .refused("bob", CLEARING, "register_exchange", &json!([addr("erin"), "X"]))
        .contains("only the clearing system"));
    node
}

/// The clearing system attests deposits of yen and BTC (satoshi) into custody.
fn deposit(node: &TestNode, who: &str, yen: i128, btc: i128) {
    if yen > 0 {
        node.call_result("alice", CLEARING, "deposit_fiat", &json!([addr(who), yen.to_string()]));
    }
    if btc > 0 {
        let args = json!([addr(who), "BTC", btc.to_string()]);
        node.call_result("alice", CLEARING, "deposit_asset", &args);
    }
}

fn holding(node: &TestNode, who: &str, currency: &str) -> Value {
    node.view(CLEARING, "holding", &json!([addr(who), currency]))
}

/// (BTC in satoshi, yen): available + locked, what an exchange owns (confirmed); provisional
/// receipts are not counted until their settlement is confirmed.
fn holdings(node: &TestNode, who: &str) -> (i128, i128) {
    let total = |h: Value| int(&h["available"]) + int(&h["locked"]);
    (total(holding(node, who, "BTC")), total(holding(node, who, "JPY")))
}

/// (BTC in satoshi, yen) received in settlements not confirmed yet.
fn provisional(node: &TestNode, who: &str) -> (i128, i128) {
    let part = |c: &str| int(&holding(node, who, c)["provisional"]);
    (part("BTC"), part("JPY"))
}

fn custody(node: &TestNode) -> (i128, i128) {
    let total = |c: &str| int(&node.view(CLEARING, "custody_total", &json!([c])));
    (total("BTC"), total("JPY"))
}

fn submit(node: &TestNode, who: &str, side: &str, quantity: i128, price: i128) -> u64 {
    let args = json!([side, "BTC", quantity.to_string(), price.to_string()]);
    node.call_result(who, CLEARING, "submit_condition", &args).as_u64().expect("condition id")
}

/// alice's matching batch; returns the settlements it opened.
fn match_batch(node: &TestNode, netted: bool) -> Vec<u64> {
    let ids = node.call_result("alice", CLEARING, "match_batch", &json!([netted, 10]));
    ids.as_array()
        .expect("a list of settlement ids")
        .iter()
        .map(|id| id.as_u64().unwrap())
        .collect()
}

fn settlement(node: &TestNode, id: u64) -> Value {
    node.view(CLEARING, "settlement", &json!([id]))
}

fn approve(node: &TestNode, who: &str, id: u64) -> Value {
    node.call_result(who, CLEARING, "approve", &json!([id]))
}

/// The decoded events of `topic` that the transaction of `receipt` (a `tx call --json` output)
/// emitted.
fn events_of(node: &TestNode, receipt: &Value, topic: &str) -> Vec<Value> {
    let height = receipt["height"].as_u64().expect("committed").to_string();
    let events = node.cli_json(&["query", "events", CLEARING, "--from", &height, "--to", &height]);
    events
        .as_array()
        .expect("a list of events")
        .iter()
        .filter(|e| e["tx_id"] == receipt["tx_id"] && e["event"]["topic"] == topic)
        .map(|e| e["decoded"].clone())
        .collect()
}

#[test]
fn a_trade_settles_on_the_custody_records_and_is_confirmed_by_two_of_three() {
    let node = chain_with_exchanges();
    // Pre-funding: A ¥200 + 2 BTC, B ¥200 + 2 BTC; only the clearing system attests deposits.
    deposit(&node, "bob", 200, 2 * BTC);
    deposit(&node, "carol", 200, 2 * BTC);
    assert!(node
        .refused("bob", CLEARING, "deposit_fiat", &json!([addr("bob"), 1_000_000]))
        .contains("only the clearing system"));

    // A buys 1 BTC for ¥100 from B.
    submit(&node, "bob", "Buy", BTC, 100);
    submit(&node, "carol", "Sell", BTC, 100);
    let [id] = match_batch(&node, false)[..] else { panic!("one trade, one settlement") };
    let s = settlement(&node, id);
    assert_eq!(s["status"], "Provisional");
    assert_eq!(s["trade_legs"].as_array().unwrap().len(), 4, "the trade's increases and decreases");
    // Provisional: nothing is registered yet. The payers' amounts are locked, the receivers' are
    // provisional.
    assert_eq!(holdings(&node, "bob"), (2 * BTC, 200));
    assert_eq!(holdings(&node, "carol"), (2 * BTC, 200));
    assert_eq!(provisional(&node, "bob"), (BTC, 0));
    assert_eq!(provisional(&node, "carol"), (0, 100));
    assert_eq!(int(&holding(&node, "bob", "JPY")["locked"]), 100);
    assert_eq!(int(&holding(&node, "carol", "BTC")["locked"]), BTC);
    // Totals unchanged: the custody address still holds 4 BTC, no public-chain transfer happened.
    assert_eq!(custody(&node), (4 * BTC, 400));

    // Until confirmed, what B received cannot leave custody.
    assert!(node
        .refused("alice", CLEARING, "withdraw_fiat", &json!([addr("carol"), 300]))
        .contains("100 provisional, not withdrawable"));

    // Approvals {620} alone: not confirmed. Someone outside the trade cannot approve.
    assert_eq!(approve(&node, "bob", id), "Provisional");
    assert!(node.refused("bob", CLEARING, "approve", &json!([id])).contains("already approved"));
    assert!(node
        .refused("dave", CLEARING, "approve", &json!([id]))
        .contains("only the clearing system or a party"));
    assert_eq!(settlement(&node, id)["status"], "Provisional");
    assert_eq!(holdings(&node, "bob"), (2 * BTC, 200), "one approval registers nothing");
    assert_eq!(provisional(&node, "carol"), (0, 100));
    // {610, 620}: confirmed — the spec's figures — and the received amounts are B's to withdraw.
    assert_eq!(approve(&node, "alice", id), "Confirmed");
    assert_eq!(holdings(&node, "bob"), (3 * BTC, 100));
    assert_eq!(holdings(&node, "carol"), (BTC, 300));
    assert_eq!(provisional(&node, "carol"), (0, 0));
    assert_eq!(custody(&node), (4 * BTC, 400));
    node.call_result("alice", CLEARING, "withdraw_fiat", &json!([addr("carol"), 300]));
    assert_eq!(holdings(&node, "carol"), (BTC, 0));

    // A bids ¥100, B asks ¥101: no match, nothing moves.
    let buy = submit(&node, "bob", "Buy", BTC, 100);
    let sell = submit(&node, "carol", "Sell", BTC, 101);
    assert!(match_batch(&node, false).is_empty());
    assert!(node
        .refused("bob", CLEARING, "match_pair", &json!([buy, sell]))
        .contains("conditions do not match"));
    assert_eq!(holdings(&node, "bob"), (3 * BTC, 100));

    // B sells its last BTC back at ¥100: {620, 630} confirm without the clearing system.
    node.call_result("bob", CLEARING, "cancel_condition", &json!([buy]));
    node.call_result("carol", CLEARING, "cancel_condition", &json!([sell]));
    submit(&node, "carol", "Buy", BTC, 100);
    deposit(&node, "carol", 100, 0);
    submit(&node, "bob", "Sell", BTC, 100);
    let [back] = match_batch(&node, false)[..] else { panic!("one settlement") };
    assert_eq!(approve(&node, "carol", back), "Provisional");
    assert_eq!(holdings(&node, "carol"), (BTC, 100));
    assert_eq!(approve(&node, "bob", back), "Confirmed");
    assert_eq!(holdings(&node, "bob"), (2 * BTC, 200));
    assert_eq!(holdings(&node, "carol"), (2 * BTC, 0));
}

#[test]
fn shortfalls_wait_for_top_ups_with_the_buyers_fiat_locked() {
    let node = chain_with_exchanges();

    // A has ¥50 for a ¥100 trade: fiat top-up request for the ¥50 missing; nothing moves.
    deposit(&node, "bob", 50, 0);
    deposit(&node, "carol", 0, BTC / 2);
    submit(&node, "bob", "Buy", BTC, 100);
    submit(&node, "carol", "Sell", BTC, 100);
    let batch = node.call_ok("alice", CLEARING, "match_batch", &json!([false, 10]).to_string());
    let id = batch["result"][0].as_u64().expect("a settlement");
    assert_eq!(settlement(&node, id)["status"], "AwaitingFiat");
    let [request] = &events_of(&node, &batch, "fiat_topup_requested")[..] else {
        panic!("one fiat top-up request")
    };
    assert_eq!((&request["exchange"], int(&request["shortfall"])), (&json!(addr("bob")), 50));

    // After A's top-up the fiat is locked; B has 0.5 BTC for a 1 BTC trade: VC top-up request.
    deposit(&node, "bob", 50, 0);
    let retry = node.call_ok("bob", CLEARING, "retry_settlement", &json!([id]).to_string());
    assert_eq!(retry["result"], "AwaitingAsset");
    assert_eq!(int(&holding(&node, "bob", "JPY")["locked"]), 100);
    let [request] = &events_of(&node, &retry, "asset_topup_requested")[..] else {
        panic!("one asset top-up request")
    };
    assert_eq!(
        (&request["exchange"], int(&request["shortfall"])),
        (&json!(addr("carol")), BTC / 2)
    );
    assert_eq!(holdings(&node, "carol"), (BTC / 2, 0));

    // B brings the other 0.5 BTC into custody: the trade settles provisionally, asset first, then
    // the locked fiat; B's bitcoin is locked too now.
    deposit(&node, "carol", 0, BTC / 2);
    let status = node.call_result("carol", CLEARING, "retry_settlement", &json!([id]));
    assert_eq!(status, "Provisional");
    assert_eq!(provisional(&node, "bob"), (BTC, 0));
    assert_eq!(provisional(&node, "carol"), (0, 100));
    assert_eq!(int(&holding(&node, "carol", "BTC")["locked"]), BTC);

    // B and the clearing system reject it (two of three): undone at once, the locks released.
    assert_eq!(node.call_result("carol", CLEARING, "reject", &json!([id])), "Provisional");
    assert!(node.refused("carol", CLEARING, "approve", &json!([id])).contains("already rejected"));
    assert_eq!(node.call_result("alice", CLEARING, "reject", &json!([id])), "Rejected");
    assert_eq!(holdings(&node, "bob"), (0, 100));
    assert_eq!(holdings(&node, "carol"), (BTC, 0));
    assert_eq!(provisional(&node, "bob"), (0, 0));
    assert_eq!(provisional(&node, "carol"), (0, 0));
    assert_eq!(int(&holding(&node, "bob", "JPY")["locked"]), 0);
    assert_eq!(int(&holding(&node, "carol", "BTC")["locked"]), 0);
    assert!(node.refused("bob", CLEARING, "approve", &json!([id])).contains("is Rejected"));
    node.call_result("alice", CLEARING, "withdraw_fiat", &json!([addr("bob"), 100]));
}

#[test]
fn three_exchanges_net_a_batch_into_one_amount_each() {
    let node = chain_with_exchanges();
    // A buys 2 BTC from B for ¥200, B buys 1 BTC from C for ¥110, C buys 1 BTC from A for ¥90.
    // Net: A +1 BTC −¥110, B −1 BTC +¥90, C +¥20. Gross, A would need ¥200 and 1 BTC and C ¥90
    // and 1 BTC; netted, A needs only ¥110, B 1 BTC, and C nothing at all.
    deposit(&node, "bob", 110, 0);
    deposit(&node, "carol", 0, BTC);
    submit(&node, "bob", "Buy", 2 * BTC, 200);
    submit(&node, "carol", "Sell", 2 * BTC, 200);
    submit(&node, "carol", "Buy", BTC, 110);
    submit(&node, "dave", "Sell", BTC, 110);
    submit(&node, "dave", "Buy", BTC, 90);
    submit(&node, "bob", "Sell", BTC, 90);

    let [id] = match_batch(&node, true)[..] else { panic!("one netted settlement") };
    let s = settlement(&node, id);
    assert_eq!((s["netted"].as_bool(), s["status"].as_str()), (Some(true), Some("Provisional")));
    assert_eq!(s["trades"].as_array().unwrap().len(), 3);
    assert_eq!(provisional(&node, "bob"), (BTC, 0));
    assert_eq!(provisional(&node, "carol"), (0, 90));
    assert_eq!(provisional(&node, "dave"), (0, 20));
    assert_eq!(holdings(&node, "bob"), (0, 110), "its ¥110 locked, still its own");
    assert_eq!(holdings(&node, "carol"), (BTC, 0));
    assert_eq!(custody(&node), (BTC, 110));
    // Each trade's own increases and decreases are recorded too (4 per trade), not only the net.
    let legs = s["trade_legs"].as_array().unwrap();
    assert_eq!(legs.len(), 12);
    assert_eq!(legs.iter().map(|l| int(&l["delta"])).sum::<i128>(), 0);
    // One movement per exchange and currency that changed.
    let mut movements: Vec<(String, String, i128)> = s["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let exchange = m["exchange"].as_str().unwrap().to_string();
            (exchange, m["currency"].as_str().unwrap().to_string(), int(&m["delta"]))
        })
        .collect();
    movements.sort();
    let mut expected = vec![
        (addr("bob"), "BTC".to_string(), BTC),
        (addr("bob"), "JPY".to_string(), -110),
        (addr("carol"), "BTC".to_string(), -BTC),
        (addr("carol"), "JPY".to_string(), 90),
        (addr("dave"), "JPY".to_string(), 20),
    ];
    expected.sort();
    assert_eq!(movements, expected);

    // Every trade needs two of its own three: after 610 and A, the B–C trade has only 610.
    assert_eq!(approve(&node, "alice", id), "Provisional");
    assert_eq!(approve(&node, "bob", id), "Provisional");
    assert_eq!(holdings(&node, "dave"), (0, 0));
    assert_eq!(approve(&node, "dave", id), "Confirmed");
    assert_eq!(holdings(&node, "bob"), (BTC, 0));
    assert_eq!(holdings(&node, "carol"), (0, 90));
    assert_eq!(holdings(&node, "dave"), (0, 20));
    assert_eq!(provisional(&node, "dave"), (0, 0));
    assert_eq!(custody(&node), (BTC, 110));
}
