//! The contract natively, through the SDK's test environment: every method invoked with borsh
//! arguments as the node would; failures roll back.

use super::*;
use kessai_sdk::test_env::{self, abi, invoke, invoke_json, invoke_view};
use proptest::prelude::*;
use serde_json::json;
use std::string::ToString;
use std::vec;

/// The patent's addresses: clearing system 610, exchange A 620 (buyer), exchange B 630 (seller).
const C610: Address = Address([0x61; 32]);
const A620: Address = Address([0x62; 32]);
const B630: Address = Address([0x63; 32]);
const C640: Address = Address([0x64; 32]);
const STRANGER: Address = Address([0x55; 32]);
/// One bitcoin in satoshi.
const BTC: u128 = 100_000_000;
const TIMEOUT: u64 = 50;

fn s(text: &str) -> String {
    text.to_string()
}

fn call<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    who: Address,
    method: test_env::Method,
    args: A,
) -> Result<R, String> {
    test_env::set_sender(who);
    invoke(method, &args)
}

fn ok<A: borsh::BorshSerialize>(who: Address, method: test_env::Method, args: A) {
    call::<_, ()>(who, method, args).unwrap()
}

fn view<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    method: test_env::Method,
    args: A,
) -> R {
    invoke_view(method, &args).unwrap()
}

fn deposit_btc(who: Address, amount: u128) {
    call::<_, u128>(C610, deposit_asset, (who, s("BTC"), amount)).unwrap();
}

fn deposit_yen(who: Address, amount: u128) {
    call::<_, u128>(C610, deposit_fiat, (who, amount)).unwrap();
}

fn submit(who: Address, side: Side, quantity: u128, price: u128) -> u64 {
    call(who, submit_condition, (side, s("BTC"), quantity, price)).unwrap()
}

fn holding_of(who: Address, currency: &str) -> Holding {
    view(holding, (who, s(currency)))
}

/// (BTC available, ¥ available, ¥ locked).
fn balances_of(who: Address) -> (u128, u128, u128) {
    let (btc, yen) = (holding_of(who, "BTC"), holding_of(who, "JPY"));
    (btc.available, yen.available, yen.locked)
}

fn get_settlement(id: u64) -> Settlement {
    view::<_, Option<Settlement>>(settlement, (id,)).unwrap()
}

fn topics() -> Vec<String> {
    test_env::events().into_iter().map(|e| e.topic).collect()
}

/// Initialised with exchanges A, B and C registered, at height 10.
fn setup() {
    test_env::reset();
    test_env::set_block_height(10);
    ok(C610, init, (C610, s("JPY"), TIMEOUT));
    for (who, name) in [(A620, "A"), (B630, "B"), (C640, "C")] {
        ok(C610, register_exchange, (who, s(name)));
    }
}

/// The spec's pre-funding: A ¥200 + 2 BTC, B ¥200 + 2 BTC.
fn spec_funding() {
    for who in [A620, B630] {
        deposit_yen(who, 200);
        deposit_btc(who, 2 * BTC);
    }
}

/// A buys 1 BTC for ¥100 from B, matched by the batch; returns the settlement id.
fn spec_trade() -> u64 {
    submit(A620, Side::Buy, BTC, 100);
    submit(B630, Side::Sell, BTC, 100);
    test_env::take_events();
    let ids: Vec<u64> = call(C610, match_batch, (false, 10u32)).unwrap();
    assert_eq!(ids.len(), 1);
    ids[0]
}

#[test]
fn the_abi_lists_the_methods_and_parses() {
    let parsed = abi::parse(ABI_JSON).unwrap();
    abi::check_methods(&parsed, METHODS).unwrap();
}

#[test]
fn the_spec_example_settles_asset_first_then_fiat() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(balances_of(A620), (3 * BTC, 100, 0));
    assert_eq!(balances_of(B630), (BTC, 300, 0));
    assert_eq!(view::<_, u128>(custody_total, (s("BTC"),)), 4 * BTC);
    assert_eq!(view::<_, u128>(custody_total, (s("JPY"),)), 400);
    assert_eq!(topics(), vec!["trade_matched", "fiat_locked", "settled"]);
    let settled = get_settlement(id);
    assert_eq!(settled.status, SettlementStatus::Settled);
    assert_eq!(settled.locks, vec![Lock { exchange: A620, amount: 100 }]);
    // Table 2: before and after, the asset legs before the fiat legs.
    let legs: Vec<_> = settled
        .movements
        .iter()
        .map(|m| (m.exchange, m.currency.as_str(), m.delta, m.before, m.after))
        .collect();
    let btc = BTC as i128;
    assert_eq!(
        legs,
        vec![
            (A620, "BTC", btc, 2 * BTC, 3 * BTC),
            (B630, "BTC", -btc, 2 * BTC, BTC),
            (A620, "JPY", -100, 200, 100),
            (B630, "JPY", 100, 200, 300),
        ]
    );
    let trade: Trade = view::<_, Option<Trade>>(trade, (1u64,)).unwrap();
    assert_eq!((trade.buyer, trade.seller, trade.settlement), (A620, B630, id));
    let c: Condition = view::<_, Option<Condition>>(condition, (1u64,)).unwrap();
    assert_eq!((c.status, c.trade), (ConditionStatus::Matched, Some(1)));
}

#[test]
fn on_demand_matching_settles_the_same_way() {
    setup();
    spec_funding();
    let (buy, sell) = (submit(A620, Side::Buy, BTC, 100), submit(B630, Side::Sell, BTC, 100));
    assert_eq!(
        call::<_, u64>(STRANGER, match_pair, (buy, sell)),
        Err(format!("only the clearing system or the exchanges of conditions {buy} and {sell} may match them"))
    );
    assert_eq!(
        call::<_, u64>(B630, match_pair, (sell, buy)),
        Err(format!("condition {sell} must be a buy and {buy} a sell"))
    );
    let id: u64 = call(B630, match_pair, (buy, sell)).unwrap();
    assert_eq!(get_settlement(id).status, SettlementStatus::Settled);
    assert_eq!(balances_of(A620), (3 * BTC, 100, 0));
    assert_eq!(
        call::<_, u64>(A620, match_pair, (buy, sell)),
        Err(format!("condition {buy} is Matched, not open"))
    );
}

#[test]
fn one_approval_does_not_confirm_two_do() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(call::<_, SettlementStatus>(A620, approve, (id,)), Ok(SettlementStatus::Settled));
    assert_eq!(
        call::<_, SettlementStatus>(A620, approve, (id,)),
        Err(format!("{A620} has already approved settlement {id}"))
    );
    assert_eq!(
        call::<_, SettlementStatus>(STRANGER, approve, (id,)),
        Err(format!("only the clearing system or a party of settlement {id} may approve it; {STRANGER} is neither"))
    );
    // {620} alone: not registered, and B's ¥100 received in it cannot leave custody yet.
    assert_eq!(holding_of(B630, "JPY").unconfirmed, 100);
    assert_eq!(
        call::<_, u128>(C610, withdraw_fiat, (B630, 300u128)),
        Err(format!("{B630} can withdraw at most 200 JPY (300 available, 100 of it unconfirmed)"))
    );
    assert_eq!(call::<_, SettlementStatus>(C610, approve, (id,)), Ok(SettlementStatus::Confirmed));
    let confirmed = test_env::events().last().unwrap().clone();
    assert_eq!(confirmed.topic, "balances_confirmed");
    assert_eq!(confirmed.decode::<Settlement>().approvals, vec![A620, C610]);
    assert_eq!(holding_of(B630, "JPY").unconfirmed, 0);
    assert_eq!(holding_of(A620, "BTC").unconfirmed, 0);
    assert_eq!(call::<_, u128>(C610, withdraw_fiat, (B630, 300u128)), Ok(0));
    assert_eq!(
        call::<_, SettlementStatus>(B630, approve, (id,)),
        Err(format!("settlement {id} is Confirmed: only a settled one is approved"))
    );
}

#[test]
fn the_two_exchanges_alone_confirm_too() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(call::<_, SettlementStatus>(A620, approve, (id,)), Ok(SettlementStatus::Settled));
    assert_eq!(call::<_, SettlementStatus>(B630, approve, (id,)), Ok(SettlementStatus::Confirmed));
    let approved: Approved =
        test_env::events().iter().rfind(|e| e.topic == "approved").unwrap().decode();
    assert_eq!(approved, Approved { settlement: id, by: B630, approvals: 2, needed: 2 });
}

#[test]
fn unequal_conditions_do_not_match() {
    setup();
    spec_funding();
    let buy = submit(A620, Side::Buy, BTC, 100);
    let sell = submit(B630, Side::Sell, BTC, 101);
    assert_eq!(call::<_, Vec<u64>>(C610, match_batch, (false, 10u32)), Ok(vec![]));
    assert_eq!(
        call::<_, u64>(A620, match_pair, (buy, sell)),
        Err(format!(
            "conditions do not match: buy {BTC} BTC for 100 against sell {BTC} BTC for 101"
        ))
    );
    let other_quantity = submit(B630, Side::Sell, BTC / 2, 100);
    assert!(call::<_, u64>(A620, match_pair, (buy, other_quantity))
        .unwrap_err()
        .starts_with("conditions do not match"));
    let own = submit(A620, Side::Sell, BTC, 100);
    assert_eq!(
        call::<_, u64>(A620, match_pair, (buy, own)),
        Err("an exchange does not trade with itself".into())
    );
    assert_eq!(
        call::<_, Vec<u64>>(C610, match_batch, (false, 10u32)),
        Ok(vec![]),
        "A's own sell does not match A's buy"
    );
    for id in [buy, sell] {
        let c: Condition = view::<_, Option<Condition>>(condition, (id,)).unwrap();
        assert_eq!(c.status, ConditionStatus::Open);
    }
    assert_eq!(balances_of(A620), (2 * BTC, 200, 0));
}

#[test]
fn a_fiat_shortfall_requests_a_top_up_and_the_trade_waits() {
    setup();
    deposit_yen(A620, 50);
    deposit_btc(B630, 2 * BTC);
    let id = spec_trade();
    assert_eq!(topics(), vec!["trade_matched", "fiat_topup_requested"]);
    let request: TopUpRequested = test_env::events()[1].decode();
    assert_eq!(
        request,
        TopUpRequested {
            settlement: id,
            exchange: A620,
            currency: s("JPY"),
            needed: 100,
            available: 50,
            shortfall: 50
        }
    );
    assert_eq!(get_settlement(id).status, SettlementStatus::AwaitingFiat);
    assert_eq!(balances_of(A620), (0, 50, 0), "nothing locked, nothing moved");
    assert_eq!(balances_of(B630), (2 * BTC, 0, 0));
    assert_eq!(
        call::<_, SettlementStatus>(STRANGER, retry_settlement, (id,)),
        Err(format!("only the clearing system or a party of settlement {id} may retry it; {STRANGER} is neither"))
    );
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (id,)),
        Ok(SettlementStatus::AwaitingFiat)
    );
    deposit_yen(A620, 50);
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (id,)),
        Ok(SettlementStatus::Settled)
    );
    assert_eq!(balances_of(A620), (BTC, 0, 0));
    assert_eq!(balances_of(B630), (BTC, 100, 0));
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (id,)),
        Err(format!("settlement {id} is Settled: nothing to retry"))
    );
}

#[test]
fn an_asset_shortfall_locks_the_fiat_and_requests_the_missing_satoshi() {
    setup();
    deposit_yen(A620, 200);
    deposit_btc(B630, BTC / 2);
    let id = spec_trade();
    assert_eq!(topics(), vec!["trade_matched", "fiat_locked", "asset_topup_requested"]);
    let request: TopUpRequested = test_env::events()[2].decode();
    assert_eq!(
        request,
        TopUpRequested {
            settlement: id,
            exchange: B630,
            currency: s("BTC"),
            needed: BTC,
            available: BTC / 2,
            shortfall: 50_000_000,
        }
    );
    assert_eq!(get_settlement(id).status, SettlementStatus::AwaitingAsset);
    assert_eq!(balances_of(A620), (0, 100, 100), "the buyer's ¥100 is locked");
    assert_eq!(
        call::<_, u128>(C610, withdraw_fiat, (A620, 101u128)),
        Err(format!("{A620} can withdraw at most 100 JPY (100 available, 0 of it unconfirmed)"))
    );
    deposit_btc(B630, 50_000_000);
    assert_eq!(
        call::<_, SettlementStatus>(B630, retry_settlement, (id,)),
        Ok(SettlementStatus::Settled)
    );
    assert_eq!(balances_of(A620), (BTC, 100, 0));
    assert_eq!(balances_of(B630), (0, 100, 0));
}

#[test]
fn a_waiting_settlement_is_cancelled_by_the_clearing_system_or_after_the_lock_timeout() {
    setup();
    deposit_yen(A620, 200);
    let id = spec_trade();
    assert_eq!(balances_of(A620), (0, 100, 100));
    assert_eq!(
        call::<_, ()>(A620, cancel_settlement, (id,)),
        Err(format!(
            "a party may cancel settlement {id} only from height {} (lock timeout)",
            10 + TIMEOUT
        ))
    );
    assert!(call::<_, ()>(STRANGER, cancel_settlement, (id,))
        .unwrap_err()
        .starts_with("only the clearing system or a party"));
    test_env::set_block_height(10 + TIMEOUT);
    ok(A620, cancel_settlement, (id,));
    assert_eq!(balances_of(A620), (0, 200, 0), "the lock is released");
    assert_eq!(get_settlement(id).status, SettlementStatus::Cancelled);
    let c: Condition = view::<_, Option<Condition>>(condition, (1u64,)).unwrap();
    assert_eq!(c.status, ConditionStatus::Cancelled);
    assert_eq!(
        call::<_, ()>(C610, cancel_settlement, (id,)),
        Err(format!("settlement {id} is Cancelled: it can no longer be cancelled"))
    );
    // The clearing system may cancel at any time.
    let id = spec_trade();
    ok(C610, cancel_settlement, (id,));
    assert_eq!(balances_of(A620), (0, 200, 0));
}

#[test]
fn a_settled_trade_cannot_be_cancelled() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(
        call::<_, ()>(C610, cancel_settlement, (id,)),
        Err(format!("settlement {id} is Settled: it can no longer be cancelled"))
    );
}

#[test]
fn only_the_clearing_system_attests_custody_and_registers_exchanges() {
    setup();
    assert_eq!(
        call::<_, u128>(A620, deposit_fiat, (A620, 100u128)),
        Err(format!("only the clearing system may attest deposits; {A620} is not it"))
    );
    assert_eq!(
        call::<_, u128>(A620, deposit_asset, (A620, s("BTC"), 100u128)),
        Err(format!("only the clearing system may attest deposits; {A620} is not it"))
    );
    assert_eq!(
        call::<_, u128>(A620, withdraw_asset, (A620, s("BTC"), 1u128)),
        Err(format!("only the clearing system may withdraw from custody; {A620} is not it"))
    );
    assert_eq!(
        call::<_, ()>(A620, register_exchange, (STRANGER, s("X"))),
        Err(format!("only the clearing system may register exchanges; {A620} is not it"))
    );
    assert_eq!(
        call::<_, Vec<u64>>(A620, match_batch, (true, 10u32)),
        Err(format!("only the clearing system may run a matching batch; {A620} is not it"))
    );
    assert_eq!(
        call::<_, u128>(C610, deposit_fiat, (STRANGER, 100u128)),
        Err(format!("{STRANGER} is not a registered exchange"))
    );
    assert_eq!(
        call::<_, u64>(STRANGER, submit_condition, (Side::Buy, s("BTC"), BTC, 100u128)),
        Err(format!("{STRANGER} is not a registered exchange"))
    );
    assert_eq!(
        call::<_, ()>(C610, register_exchange, (A620, s("A"))),
        Err(format!("{A620} is already registered"))
    );
    assert_eq!(
        call::<_, ()>(C610, register_exchange, (C610, s("me"))),
        Err("the clearing system cannot be an exchange".into())
    );
    assert_eq!(
        call::<_, ()>(C610, init, (C610, s("JPY"), 1u64)),
        Err("already initialised".into())
    );
    let buy = submit(A620, Side::Buy, BTC, 100);
    assert_eq!(
        call::<_, ()>(B630, cancel_condition, (buy,)),
        Err(format!("only its exchange {A620} or the clearing system may cancel condition {buy}"))
    );
    ok(A620, cancel_condition, (buy,));
    assert_eq!(
        call::<_, ()>(A620, cancel_condition, (buy,)),
        Err(format!("condition {buy} is Cancelled, not open"))
    );
}

#[test]
fn amounts_are_positive_integers_and_symbols_are_checked() {
    setup();
    let submit_raw = |asset: &str, quantity: u128, price: u128| {
        call::<_, u64>(A620, submit_condition, (Side::Buy, s(asset), quantity, price))
    };
    assert_eq!(
        submit_raw("BTC", 0, 100),
        Err(format!("the quantity is an integer in the smallest unit, 1 to {MAX_AMOUNT}, not 0"))
    );
    assert_eq!(
        submit_raw("BTC", 1, 0),
        Err(format!("the price is an integer in the smallest unit, 1 to {MAX_AMOUNT}, not 0"))
    );
    assert!(submit_raw("BTC", MAX_AMOUNT + 1, 1)
        .unwrap_err()
        .starts_with("the quantity is an integer"));
    assert_eq!(
        submit_raw("JPY", 1, 1),
        Err("JPY is the fiat currency, not a virtual-currency asset".into())
    );
    assert_eq!(
        submit_raw("btc", 1, 1),
        Err("\"btc\" is not a currency symbol (1 to 16 of A-Z, 0-9)".into())
    );
    assert_eq!(
        call::<_, u128>(C610, deposit_fiat, (A620, 0u128)),
        Err("the amount must be positive".into())
    );
    assert_eq!(
        call::<_, u128>(C610, deposit_asset, (A620, s(""), 5u128)),
        Err("\"\" is not a currency symbol (1 to 16 of A-Z, 0-9)".into())
    );
    deposit_btc(A620, u128::MAX);
    assert_eq!(
        call::<_, u128>(C610, deposit_asset, (A620, s("BTC"), 1u128)),
        Err("balance overflow".into())
    );
    assert_eq!(
        call::<_, Vec<u64>>(C610, match_batch, (false, 0u32)),
        Err("max_pairs is 1 to 64".into())
    );
}

/// A buys 2 BTC from B for ¥200, B buys 1 BTC from C for ¥110, C buys 1 BTC from A for ¥90.
fn three_exchange_conditions() {
    submit(A620, Side::Buy, 2 * BTC, 200);
    submit(B630, Side::Sell, 2 * BTC, 200);
    submit(B630, Side::Buy, BTC, 110);
    submit(C640, Side::Sell, BTC, 110);
    submit(C640, Side::Buy, BTC, 90);
    submit(A620, Side::Sell, BTC, 90);
}

#[test]
fn a_three_exchange_batch_settles_one_net_amount_per_exchange_and_currency() {
    setup();
    // Net: A +1 BTC −¥110, B −1 BTC +¥90, C 0 BTC +¥20. Gross, B would need 2 BTC and A ¥200.
    deposit_yen(A620, 110);
    deposit_btc(B630, BTC);
    deposit_btc(A620, BTC);
    three_exchange_conditions();
    let ids: Vec<u64> = call(C610, match_batch, (true, 10u32)).unwrap();
    assert_eq!(ids, vec![1]);
    let settled = get_settlement(1);
    assert_eq!(settled.status, SettlementStatus::Settled);
    assert!(settled.netted);
    assert_eq!(settled.trades.len(), 3);
    assert_eq!(settled.parties, vec![A620, B630, C640]);
    assert_eq!(settled.locks, vec![Lock { exchange: A620, amount: 110 }]);
    let mut nets: Vec<_> =
        settled.movements.iter().map(|m| (m.exchange, m.currency.clone(), m.delta)).collect();
    nets.sort();
    assert_eq!(
        nets,
        vec![
            (A620, s("BTC"), BTC as i128),
            (A620, s("JPY"), -110),
            (B630, s("BTC"), -(BTC as i128)),
            (B630, s("JPY"), 90),
            (C640, s("JPY"), 20),
        ]
    );
    assert_eq!(balances_of(A620), (2 * BTC, 0, 0));
    assert_eq!(balances_of(B630), (0, 90, 0));
    assert_eq!(balances_of(C640), (0, 20, 0));
    assert_eq!(view::<_, u128>(custody_total, (s("BTC"),)), 2 * BTC);
    assert_eq!(view::<_, u128>(custody_total, (s("JPY"),)), 110);
    // Four approvers (610 and three exchanges): three are needed.
    assert_eq!(call::<_, SettlementStatus>(A620, approve, (1u64,)), Ok(SettlementStatus::Settled));
    assert_eq!(call::<_, SettlementStatus>(C610, approve, (1u64,)), Ok(SettlementStatus::Settled));
    assert_eq!(
        call::<_, SettlementStatus>(C640, approve, (1u64,)),
        Ok(SettlementStatus::Confirmed)
    );
}

#[test]
fn the_same_trades_settled_gross_need_the_gross_amounts() {
    setup();
    deposit_yen(A620, 110);
    deposit_btc(B630, BTC);
    deposit_btc(A620, BTC);
    three_exchange_conditions();
    test_env::take_events();
    let ids: Vec<u64> = call(C610, match_batch, (false, 10u32)).unwrap();
    assert_eq!(ids.len(), 3);
    let statuses: Vec<SettlementStatus> = ids.iter().map(|id| get_settlement(*id).status).collect();
    // A cannot pay ¥200; B (no fiat) cannot pay ¥110 to C; C (nothing) cannot pay ¥90.
    assert_eq!(statuses, vec![SettlementStatus::AwaitingFiat; 3]);
    assert_eq!(topics().iter().filter(|t| *t == "fiat_topup_requested").count(), 3);
}

#[test]
fn a_netted_batch_waits_for_the_net_shortfall_only() {
    setup();
    deposit_yen(A620, 100);
    deposit_btc(A620, BTC);
    three_exchange_conditions();
    test_env::take_events();
    let ids: Vec<u64> = call(C610, match_batch, (true, 10u32)).unwrap();
    let request: TopUpRequested =
        test_env::events().iter().find(|e| e.topic == "fiat_topup_requested").unwrap().decode();
    assert_eq!((request.exchange, request.needed, request.shortfall), (A620, 110, 10));
    deposit_yen(A620, 10);
    assert_eq!(
        call::<_, SettlementStatus>(C610, retry_settlement, (ids[0],)),
        Ok(SettlementStatus::AwaitingAsset)
    );
    let request: TopUpRequested = test_env::events().last().unwrap().decode();
    assert_eq!(
        (request.exchange, request.currency.as_str(), request.shortfall),
        (B630, "BTC", BTC)
    );
    deposit_btc(B630, BTC);
    assert_eq!(
        call::<_, SettlementStatus>(B630, retry_settlement, (ids[0],)),
        Ok(SettlementStatus::Settled)
    );
    assert_eq!(balances_of(A620), (2 * BTC, 0, 0));
}

#[test]
fn a_client_settles_the_spec_example_in_json_through_the_abi() {
    setup();
    let parsed = abi::parse(ABI_JSON).unwrap();
    let hex = |a: Address| a.to_string();
    test_env::set_sender(C610);
    for who in [A620, B630] {
        invoke_json(&parsed, METHODS, "deposit_fiat", json!([hex(who), 200])).unwrap();
        invoke_json(&parsed, METHODS, "deposit_asset", json!([hex(who), "BTC", "200000000"]))
            .unwrap();
    }
    test_env::set_sender(A620);
    invoke_json(&parsed, METHODS, "submit_condition", json!(["Buy", "BTC", 100_000_000, 100]))
        .unwrap();
    test_env::set_sender(B630);
    invoke_json(
        &parsed,
        METHODS,
        "submit_condition",
        json!({"side": "Sell", "asset": "BTC", "quantity": 100_000_000, "price": 100}),
    )
    .unwrap();
    test_env::set_sender(C610);
    assert_eq!(invoke_json(&parsed, METHODS, "match_batch", json!([false, 10])), Ok(json!([1])));
    let a = invoke_json(&parsed, METHODS, "holdings", json!([hex(A620)])).unwrap();
    assert_eq!(
        a,
        json!([
            { "currency": "BTC", "available": "300000000", "locked": "0", "unconfirmed": "100000000" },
            { "currency": "JPY", "available": "100", "locked": "0", "unconfirmed": "0" }
        ])
    );
    test_env::set_sender(A620);
    assert_eq!(invoke_json(&parsed, METHODS, "approve", json!([1])), Ok(json!("Settled")));
    test_env::set_sender(C610);
    assert_eq!(invoke_json(&parsed, METHODS, "approve", json!([1])), Ok(json!("Confirmed")));
    let events = abi::events_json(&parsed);
    assert_eq!(events.last().unwrap().0, "balances_confirmed");
    assert_eq!(events.last().unwrap().1["status"], json!("Confirmed"));
}

/// Operations for the conservation property: indices pick exchanges, settlements and approvers.
#[derive(Clone, Debug)]
enum Op {
    Deposit { ex: usize, fiat: bool, amount: u128 },
    Withdraw { ex: usize, fiat: bool, amount: u128 },
    Submit { ex: usize, buy: bool, lots: u128, price: u128 },
    Cancel { condition: u64 },
    Batch { netted: bool },
    Pair { buy: u64, sell: u64 },
    Retry { settlement: u64 },
    CancelSettlement { settlement: u64 },
    Approve { settlement: u64, who: usize },
    Advance,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (0..3usize, any::<bool>(), 1..500u128).prop_map(|(ex, fiat, amount)| Op::Deposit { ex, fiat, amount }),
        1 => (0..3usize, any::<bool>(), 1..300u128).prop_map(|(ex, fiat, amount)| Op::Withdraw { ex, fiat, amount }),
        6 => (0..3usize, any::<bool>(), 1..3u128, 1..3u128).prop_map(|(ex, buy, lots, price)| Op::Submit { ex, buy, lots, price: price * 50 }),
        1 => (1..30u64).prop_map(|condition| Op::Cancel { condition }),
        3 => any::<bool>().prop_map(|netted| Op::Batch { netted }),
        1 => (1..30u64, 1..30u64).prop_map(|(buy, sell)| Op::Pair { buy, sell }),
        2 => (1..8u64).prop_map(|settlement| Op::Retry { settlement }),
        1 => (1..8u64).prop_map(|settlement| Op::CancelSettlement { settlement }),
        6 => (1..4u64, 0..4usize).prop_map(|(settlement, who)| Op::Approve { settlement, who }),
        1 => Just(Op::Advance),
    ];
    proptest::collection::vec(op, 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn random_operations_never_create_or_destroy_money(ops in ops()) {
        setup();
        let exchanges = [A620, B630, C640];
        let approvers = [C610, A620, B630, C640];
        // Deposits less withdrawals, per currency, as the test sees them succeed.
        let (mut btc_in, mut yen_in) = (0u128, 0u128);
        for op in ops {
            match op {
                Op::Deposit { ex, fiat, amount } => {
                    if fiat {
                        deposit_yen(exchanges[ex], amount);
                        yen_in += amount;
                    } else {
                        deposit_btc(exchanges[ex], amount * BTC / 100);
                        btc_in += amount * BTC / 100;
                    }
                }
                Op::Withdraw { ex, fiat, amount } => {
                    let result = if fiat {
                        call::<_, u128>(C610, withdraw_fiat, (exchanges[ex], amount))
                    } else {
                        call::<_, u128>(C610, withdraw_asset, (exchanges[ex], s("BTC"), amount * BTC / 100))
                    };
                    if result.is_ok() {
                        if fiat { yen_in -= amount } else { btc_in -= amount * BTC / 100 }
                    }
                }
                Op::Submit { ex, buy, lots, price } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    call::<_, u64>(exchanges[ex], submit_condition, (side, s("BTC"), lots * BTC / 2, price)).unwrap();
                }
                Op::Cancel { condition } => { let _ = call::<_, ()>(C610, cancel_condition, (condition,)); }
                Op::Batch { netted } => { call::<_, Vec<u64>>(C610, match_batch, (netted, 8u32)).unwrap(); }
                Op::Pair { buy, sell } => { let _ = call::<_, u64>(C610, match_pair, (buy, sell)); }
                Op::Retry { settlement } => { let _ = call::<_, SettlementStatus>(C610, retry_settlement, (settlement,)); }
                Op::CancelSettlement { settlement } => { let _ = call::<_, ()>(C610, cancel_settlement, (settlement,)); }
                Op::Approve { settlement, who } => { let _ = call::<_, SettlementStatus>(approvers[who], approve, (settlement,)); }
                Op::Advance => test_env::set_block_height(test_env::with(|env| env.block_height) + TIMEOUT),
            }
            let held = |currency: &str| -> u128 {
                exchanges.iter().map(|ex| { let h = holding_of(*ex, currency); h.available + h.locked }).sum()
            };
            prop_assert_eq!(held("BTC"), btc_in);
            prop_assert_eq!(held("JPY"), yen_in);
            prop_assert_eq!(view::<_, u128>(custody_total, (s("BTC"),)), btc_in);
            prop_assert_eq!(view::<_, u128>(custody_total, (s("JPY"),)), yen_in);
            // Locked fiat is exactly what waiting settlements locked.
            for ex in exchanges {
                let mut locked_by_waiting = 0u128;
                let mut id = 1u64;
                while let Some(settled) = view::<_, Option<Settlement>>(settlement, (id,)) {
                    if settled.status == SettlementStatus::AwaitingAsset {
                        locked_by_waiting += settled.locks.iter().filter(|l| l.exchange == ex).map(|l| l.amount).sum::<u128>();
                    }
                    id += 1;
                }
                prop_assert_eq!(holding_of(ex, "JPY").locked, locked_by_waiting);
            }
        }
    }
}
