//! The contract natively, through the SDK's test environment: every method invoked with borsh
//! arguments as the node would; failures roll back.

use super::*;
use kessai_sdk::test_env::{self, abi, invoke, invoke_json, invoke_view};
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::string::ToString;
use std::vec;

/// The patent's addresses: clearing system 610, exchange A 620 (buyer), exchange B 630 (seller).
const C610: Address = Address([0x61; 32]);
const A620: Address = Address([0x62; 32]);
const B630: Address = Address([0x63; 32]);
const C640: Address = Address([0x64; 32]);
const D650: Address = Address([0x65; 32]);
const STRANGER: Address = Address([0x55; 32]);
/// One bitcoin in satoshi.
const BTC: u128 = 100_000_000;
const TIMEOUT: u64 = 50;
/// The approval timeout, in block time: one hour.
const APPROVAL_MS: u64 = 3_600_000;
/// The block time of `setup`.
const T0: u64 = 1_577_836_800_000;

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

/// (available, locked, provisional) of one currency.
fn parts(who: Address, currency: &str) -> (u128, u128, u128) {
    let h = holding_of(who, currency);
    (h.available, h.locked, h.provisional)
}

/// What an exchange owns, as the patent counts it: (BTC, ¥), each available + locked (provisional
/// receipts are not its own yet).
fn owned(who: Address) -> (u128, u128) {
    let total = |c: &str| {
        let h = holding_of(who, c);
        h.available + h.locked
    };
    (total("BTC"), total("JPY"))
}

fn approve_by(who: Address, id: u64) -> Result<SettlementStatus, String> {
    call(who, approve, (id,))
}

fn reject_by(who: Address, id: u64) -> Result<SettlementStatus, String> {
    call(who, reject, (id,))
}

fn get_settlement(id: u64) -> Settlement {
    view::<_, Option<Settlement>>(settlement, (id,)).unwrap()
}

fn topics() -> Vec<String> {
    test_env::events().into_iter().map(|e| e.topic).collect()
}

/// Initialised with exchanges A, B, C and D registered, at height 10 and block time T0.
fn setup() {
    test_env::reset();
    test_env::set_block_height(10);
    test_env::set_block_time_ms(T0);
    ok(C610, init, (C610, s("JPY"), TIMEOUT, APPROVAL_MS));
    for (who, name) in [(A620, "A"), (B630, "B"), (C640, "C"), (D650, "D")] {
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
fn the_spec_example_settles_provisionally_asset_first_then_fiat() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(topics(), vec!["trade_matched", "fiat_locked", "settled"]);
    let settled = get_settlement(id);
    assert_eq!(settled.status, SettlementStatus::Provisional);
    // Nothing is registered yet: each payer's amount is locked, each receiver's provisional.
    assert_eq!(parts(A620, "BTC"), (2 * BTC, 0, BTC));
    assert_eq!(parts(A620, "JPY"), (100, 100, 0));
    assert_eq!(parts(B630, "BTC"), (BTC, BTC, 0));
    assert_eq!(parts(B630, "JPY"), (200, 0, 100));
    assert_eq!(owned(A620), (2 * BTC, 200));
    assert_eq!(owned(B630), (2 * BTC, 200));
    assert_eq!(
        settled.locks,
        vec![
            Lock { exchange: A620, currency: s("JPY"), amount: 100 },
            Lock { exchange: B630, currency: s("BTC"), amount: BTC },
        ]
    );
    assert_eq!(settled.approval_deadline_ms, T0 + APPROVAL_MS);
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
    // Confirmed by {610, 620}: the spec's figures, totals unchanged.
    assert_eq!(approve_by(A620, id), Ok(SettlementStatus::Provisional));
    assert_eq!(approve_by(C610, id), Ok(SettlementStatus::Confirmed));
    assert_eq!(parts(A620, "BTC"), (3 * BTC, 0, 0));
    assert_eq!(parts(A620, "JPY"), (100, 0, 0));
    assert_eq!(parts(B630, "BTC"), (BTC, 0, 0));
    assert_eq!(parts(B630, "JPY"), (300, 0, 0));
    assert_eq!(view::<_, u128>(custody_total, (s("BTC"),)), 4 * BTC);
    assert_eq!(view::<_, u128>(custody_total, (s("JPY"),)), 400);
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
    assert_eq!(get_settlement(id).status, SettlementStatus::Provisional);
    assert_eq!(parts(A620, "BTC"), (2 * BTC, 0, BTC));
    assert_eq!(
        call::<_, u64>(A620, match_pair, (buy, sell)),
        Err(format!("condition {buy} is Matched, not open"))
    );
}

/// The spec's vectors: {620} alone → not confirmed; {610, 620} or {620, 630} → confirmed (and
/// {610, 630}, the other two of three).
#[test]
fn two_of_the_three_confirm_one_does_not() {
    for (first, second) in [(A620, C610), (A620, B630), (B630, C610), (C610, A620)] {
        setup();
        spec_funding();
        let id = spec_trade();
        assert_eq!(approve_by(first, id), Ok(SettlementStatus::Provisional));
        assert_eq!(get_settlement(id).status, SettlementStatus::Provisional);
        assert_eq!(parts(A620, "BTC"), (2 * BTC, 0, BTC), "one approval registers nothing");
        assert_eq!(
            approve_by(first, id),
            Err(format!("{first} has already approved settlement {id}"))
        );
        assert_eq!(
            approve_by(STRANGER, id),
            Err(format!("only the clearing system or a party of settlement {id} may approve it; {STRANGER} is neither"))
        );
        assert_eq!(
            approve_by(C640, id),
            Err(format!("only the clearing system or a party of settlement {id} may approve it; {C640} is neither"))
        );
        assert_eq!(approve_by(second, id), Ok(SettlementStatus::Confirmed));
        let approved: Approved =
            test_env::events().iter().rfind(|e| e.topic == "approved").unwrap().decode();
        assert_eq!(
            approved,
            Approved { settlement: id, by: second, approvals: 2, trades_approved: 1, trades: 1 }
        );
        let confirmed = test_env::events().last().unwrap().clone();
        assert_eq!(confirmed.topic, "balances_confirmed");
        assert_eq!(confirmed.decode::<Settlement>().approvals, vec![first, second]);
        assert_eq!(parts(A620, "BTC"), (3 * BTC, 0, 0));
        assert_eq!(parts(B630, "JPY"), (300, 0, 0));
        let third = [C610, A620, B630].into_iter().find(|w| *w != first && *w != second).unwrap();
        assert_eq!(
            approve_by(third, id),
            Err(format!("settlement {id} is Confirmed: only a provisional one is approved"))
        );
        assert_eq!(
            reject_by(third, id),
            Err(format!("settlement {id} is Confirmed: only a provisional one is rejected"))
        );
    }
}

#[test]
fn provisional_amounts_cannot_be_withdrawn() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(approve_by(A620, id), Ok(SettlementStatus::Provisional));
    // B's ¥100 and A's 1 BTC received in it, and B's 1 BTC and A's ¥100 paid in it: none leaves.
    assert_eq!(
        call::<_, u128>(C610, withdraw_fiat, (B630, 201u128)),
        Err(format!(
            "{B630} can withdraw at most 200 JPY (0 more locked and 100 provisional, not withdrawable)"
        ))
    );
    assert_eq!(
        call::<_, u128>(C610, withdraw_asset, (A620, s("BTC"), 2 * BTC + 1)),
        Err(format!(
            "{A620} can withdraw at most {} BTC (0 more locked and {BTC} provisional, not withdrawable)",
            2 * BTC
        ))
    );
    assert!(call::<_, u128>(C610, withdraw_asset, (B630, s("BTC"), BTC + 1))
        .unwrap_err()
        .starts_with(&format!("{B630} can withdraw at most {BTC} BTC ({BTC} more locked")));
    assert!(call::<_, u128>(C610, withdraw_fiat, (A620, 101u128)).is_err());
    // What was confirmed before still leaves.
    assert_eq!(call::<_, u128>(C610, withdraw_fiat, (B630, 200u128)), Ok(0));
    assert_eq!(approve_by(B630, id), Ok(SettlementStatus::Confirmed));
    assert_eq!(call::<_, u128>(C610, withdraw_fiat, (B630, 100u128)), Ok(0));
    assert_eq!(call::<_, u128>(C610, withdraw_asset, (A620, s("BTC"), 3 * BTC)), Ok(0));
}

#[test]
fn a_provisional_asset_cannot_be_sold_on_until_confirmed() {
    setup();
    spec_funding();
    let first = spec_trade();
    // A sells on the 1 BTC it just bought, with its 2 confirmed: it has 2, not 3, to deliver.
    deposit_yen(C640, 300);
    submit(C640, Side::Buy, 3 * BTC, 300);
    submit(A620, Side::Sell, 3 * BTC, 300);
    test_env::take_events();
    let [second] = call::<_, Vec<u64>>(C610, match_batch, (false, 10u32)).unwrap()[..] else {
        panic!("one settlement")
    };
    assert_eq!(get_settlement(second).status, SettlementStatus::AwaitingAsset);
    let request: TopUpRequested =
        test_env::events().iter().find(|e| e.topic == "asset_topup_requested").unwrap().decode();
    assert_eq!((request.exchange, request.available, request.shortfall), (A620, 2 * BTC, BTC));
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (second,)),
        Ok(SettlementStatus::AwaitingAsset)
    );
    // Once the first trade is confirmed, the same retry settles the second.
    approve_by(B630, first).unwrap();
    approve_by(C610, first).unwrap();
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (second,)),
        Ok(SettlementStatus::Provisional)
    );
    assert_eq!(parts(A620, "BTC"), (0, 3 * BTC, 0));
    assert_eq!(parts(C640, "BTC"), (0, 0, 3 * BTC));
}

#[test]
fn provisional_fiat_cannot_cover_another_trade() {
    setup();
    deposit_yen(A620, 100);
    deposit_btc(B630, BTC);
    let first = spec_trade();
    // B pays ¥100 for C's bitcoin with the ¥100 it has only provisionally.
    deposit_btc(C640, BTC);
    submit(B630, Side::Buy, BTC, 100);
    submit(C640, Side::Sell, BTC, 100);
    test_env::take_events();
    let [second] = call::<_, Vec<u64>>(C610, match_batch, (false, 10u32)).unwrap()[..] else {
        panic!("one settlement")
    };
    assert_eq!(get_settlement(second).status, SettlementStatus::AwaitingFiat);
    let request: TopUpRequested = test_env::events().last().unwrap().decode();
    assert_eq!((request.exchange, request.available, request.shortfall), (B630, 0, 100));
    // Once the first trade is confirmed, the ¥100 is B's and covers it.
    approve_by(A620, first).unwrap();
    approve_by(B630, first).unwrap();
    assert_eq!(
        call::<_, SettlementStatus>(B630, retry_settlement, (second,)),
        Ok(SettlementStatus::Provisional)
    );
    assert_eq!(parts(B630, "JPY"), (0, 100, 0));
}

#[test]
fn two_of_three_reject_and_the_settlement_is_undone() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(reject_by(B630, id), Ok(SettlementStatus::Provisional), "one rejection alone");
    assert_eq!(reject_by(B630, id), Err(format!("{B630} has already rejected settlement {id}")));
    assert_eq!(approve_by(B630, id), Err(format!("{B630} has already rejected settlement {id}")));
    assert_eq!(approve_by(A620, id), Ok(SettlementStatus::Provisional));
    assert_eq!(reject_by(A620, id), Err(format!("{A620} has already approved settlement {id}")));
    assert_eq!(
        reject_by(STRANGER, id),
        Err(format!("only the clearing system or a party of settlement {id} may reject it; {STRANGER} is neither"))
    );
    test_env::take_events();
    assert_eq!(reject_by(C610, id), Ok(SettlementStatus::Rejected));
    assert_eq!(topics(), vec!["rejected", "settlement_rejected"]);
    // Atomically undone: the locks back to their payers, the provisional amounts gone.
    for who in [A620, B630] {
        assert_eq!(parts(who, "BTC"), (2 * BTC, 0, 0));
        assert_eq!(parts(who, "JPY"), (200, 0, 0));
    }
    let rejected = get_settlement(id);
    assert_eq!((rejected.approvals, rejected.rejections), (vec![A620], vec![B630, C610]));
    for condition_id in [1u64, 2] {
        let c: Condition = view::<_, Option<Condition>>(condition, (condition_id,)).unwrap();
        assert_eq!(c.status, ConditionStatus::Cancelled, "negotiation restarts");
    }
    assert_eq!(
        approve_by(B630, id),
        Err(format!("settlement {id} is Rejected: only a provisional one is approved"))
    );
    assert_eq!(
        call::<_, ()>(C610, cancel_settlement, (id,)),
        Err(format!("settlement {id} is Rejected: it can no longer be cancelled"))
    );
    assert_eq!(call::<_, u128>(C610, withdraw_fiat, (A620, 200u128)), Ok(0));
}

#[test]
fn after_the_approval_timeout_it_cannot_be_approved_and_one_rejection_undoes_it() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(approve_by(A620, id), Ok(SettlementStatus::Provisional));
    test_env::set_block_time_ms(T0 + APPROVAL_MS - 1);
    assert_eq!(reject_by(B630, id), Ok(SettlementStatus::Provisional), "not yet expired");
    test_env::set_block_time_ms(T0 + APPROVAL_MS);
    assert_eq!(
        approve_by(C610, id),
        Err(format!(
            "settlement {id} can no longer be approved: its approval deadline {} has passed \
             (block time {}); it can only be rejected",
            T0 + APPROVAL_MS,
            T0 + APPROVAL_MS
        ))
    );
    assert_eq!(reject_by(STRANGER, id).unwrap_err(), format!("only the clearing system or a party of settlement {id} may reject it; {STRANGER} is neither"));
    // Any one of the three — here the buyer, who had approved — undoes it.
    assert_eq!(reject_by(A620, id), Ok(SettlementStatus::Rejected));
    let rejected: Rejected =
        test_env::events().iter().rfind(|e| e.topic == "rejected").unwrap().decode();
    assert_eq!(rejected, Rejected { settlement: id, by: A620, rejections: 1, expired: true });
    assert_eq!(owned(A620), (2 * BTC, 200));
    assert_eq!(parts(B630, "BTC"), (2 * BTC, 0, 0));
    assert_eq!(parts(B630, "JPY"), (200, 0, 0));
}

#[test]
fn a_provisional_settlement_is_rejected_not_cancelled() {
    setup();
    spec_funding();
    let id = spec_trade();
    assert_eq!(
        call::<_, ()>(C610, cancel_settlement, (id,)),
        Err(format!("settlement {id} is Provisional: it can no longer be cancelled"))
    );
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
    assert_eq!(
        approve_by(A620, id),
        Err(format!("settlement {id} is AwaitingFiat: only a provisional one is approved"))
    );
    deposit_yen(A620, 50);
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (id,)),
        Ok(SettlementStatus::Provisional)
    );
    assert_eq!(parts(A620, "JPY"), (0, 100, 0));
    assert_eq!(parts(B630, "BTC"), (BTC, BTC, 0));
    assert_eq!(
        call::<_, SettlementStatus>(A620, retry_settlement, (id,)),
        Err(format!("settlement {id} is Provisional: nothing to retry"))
    );
    approve_by(A620, id).unwrap();
    approve_by(B630, id).unwrap();
    assert_eq!(balances_of(A620), (BTC, 0, 0));
    assert_eq!(balances_of(B630), (BTC, 100, 0));
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
        Err(format!(
            "{A620} can withdraw at most 100 JPY (100 more locked and 0 provisional, not withdrawable)"
        ))
    );
    deposit_btc(B630, 50_000_000);
    assert_eq!(
        call::<_, SettlementStatus>(B630, retry_settlement, (id,)),
        Ok(SettlementStatus::Provisional)
    );
    approve_by(C610, id).unwrap();
    approve_by(B630, id).unwrap();
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

/// Claim 10: per exchange and asset, the customers' deposits apart from the own inventory.
#[test]
fn customer_deposits_are_a_record_apart_that_trades_never_touch() {
    setup();
    deposit_yen(A620, 200);
    call::<_, u128>(C610, deposit_customer_asset, (B630, s("BTC"), 2 * BTC)).unwrap();
    deposit_btc(B630, BTC / 2);
    assert_eq!(
        holding_of(B630, "BTC"),
        Holding {
            currency: s("BTC"),
            available: BTC / 2,
            locked: 0,
            provisional: 0,
            customer: 2 * BTC
        }
    );
    assert_eq!(view::<_, u128>(custody_total, (s("BTC"),)), 2 * BTC + BTC / 2);
    // B sells 1 BTC: its customers' 2 BTC do not cover its own 0.5 BTC shortfall.
    let id = spec_trade();
    let request: TopUpRequested = test_env::events().last().unwrap().decode();
    assert_eq!((request.exchange, request.available, request.shortfall), (B630, BTC / 2, BTC / 2));
    assert_eq!(get_settlement(id).status, SettlementStatus::AwaitingAsset);
    // Each record is withdrawn from on its own.
    assert!(call::<_, u128>(C610, withdraw_asset, (B630, s("BTC"), BTC)).is_err());
    assert_eq!(
        call::<_, u128>(C610, withdraw_customer_asset, (B630, s("BTC"), 2 * BTC + 1)),
        Err(format!("{B630} holds {} BTC of customers' deposits", 2 * BTC))
    );
    // A customer of B sells 0.5 BTC to B: the clearing system rebooks it into B's inventory.
    assert_eq!(
        call::<_, (u128, u128)>(B630, rebook, (B630, s("BTC"), BTC / 2, Book::Own)),
        Err(format!("only the clearing system may rebook custody records; {B630} is not it"))
    );
    assert_eq!(
        call::<_, (u128, u128)>(C610, rebook, (B630, s("BTC"), BTC / 2, Book::Own)),
        Ok((BTC, BTC + BTC / 2))
    );
    assert_eq!(
        call::<_, SettlementStatus>(B630, retry_settlement, (id,)),
        Ok(SettlementStatus::Provisional)
    );
    assert_eq!(
        holding_of(B630, "BTC"),
        Holding {
            currency: s("BTC"),
            available: 0,
            locked: BTC,
            provisional: 0,
            customer: BTC + BTC / 2
        }
    );
    // Nothing locked or provisional is rebooked.
    assert!(call::<_, (u128, u128)>(C610, rebook, (B630, s("BTC"), 1u128, Book::Customer))
        .unwrap_err()
        .ends_with("1 cannot move into Customer"));
    assert!(call::<_, (u128, u128)>(C610, rebook, (A620, s("BTC"), 1u128, Book::Customer)).is_err());
    approve_by(A620, id).unwrap();
    approve_by(B630, id).unwrap();
    assert_eq!(holding_of(B630, "BTC").customer, BTC + BTC / 2, "the trade left it untouched");
    assert_eq!(
        holding_of(A620, "BTC").customer,
        0,
        "the buyer's inventory got it, not its customers"
    );
    assert_eq!(parts(A620, "BTC"), (BTC, 0, 0));
    assert_eq!(
        call::<_, u128>(C610, withdraw_customer_asset, (B630, s("BTC"), BTC + BTC / 2)),
        Ok(0)
    );
    let holdings_of_b: Vec<Holding> = view(holdings, (B630,));
    assert_eq!(holdings_of_b.iter().map(|h| h.currency.as_str()).collect::<Vec<_>>(), vec!["JPY"]);
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
        call::<_, u128>(A620, deposit_customer_asset, (A620, s("BTC"), 100u128)),
        Err(format!("only the clearing system may attest deposits; {A620} is not it"))
    );
    assert_eq!(
        call::<_, u128>(A620, withdraw_asset, (A620, s("BTC"), 1u128)),
        Err(format!("only the clearing system may withdraw from custody; {A620} is not it"))
    );
    assert_eq!(
        call::<_, u128>(A620, withdraw_customer_asset, (A620, s("BTC"), 1u128)),
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
        call::<_, ()>(C610, init, (C610, s("JPY"), 1u64, 1u64)),
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
    test_env::reset();
    assert_eq!(
        call::<_, ()>(C610, init, (C610, s("JPY"), 1u64, 0u64)),
        Err("the approval timeout must be positive".into())
    );
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
    assert_eq!(
        call::<_, (u128, u128)>(C610, rebook, (A620, s("BTC"), 0u128, Book::Own)),
        Err("the amount must be positive".into())
    );
    deposit_btc(A620, u128::MAX);
    assert_eq!(
        call::<_, u128>(C610, deposit_asset, (A620, s("BTC"), 1u128)),
        Err("balance overflow".into())
    );
    assert_eq!(
        call::<_, u128>(C610, deposit_customer_asset, (B630, s("BTC"), 1u128)),
        Err("total overflow".into())
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
    assert_eq!(settled.status, SettlementStatus::Provisional);
    assert!(settled.netted);
    assert_eq!(settled.trades.len(), 3);
    assert_eq!(settled.parties, vec![A620, B630, C640]);
    assert_eq!(
        settled.locks,
        vec![
            Lock { exchange: A620, currency: s("JPY"), amount: 110 },
            Lock { exchange: B630, currency: s("BTC"), amount: BTC },
        ]
    );
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
    assert_eq!(parts(C640, "JPY"), (0, 0, 20));
    // Each trade needs two of its own three: after 620 and 610, the B–C trade has only 610.
    assert_eq!(approve_by(A620, 1), Ok(SettlementStatus::Provisional));
    assert_eq!(approve_by(C610, 1), Ok(SettlementStatus::Provisional));
    let approved: Approved = test_env::events().last().unwrap().decode();
    assert_eq!((approved.trades_approved, approved.trades), (2, 3));
    assert_eq!(approve_by(C640, 1), Ok(SettlementStatus::Confirmed));
    assert_eq!(balances_of(A620), (2 * BTC, 0, 0));
    assert_eq!(balances_of(B630), (0, 90, 0));
    assert_eq!(balances_of(C640), (0, 20, 0));
    assert_eq!(view::<_, u128>(custody_total, (s("BTC"),)), 2 * BTC);
    assert_eq!(view::<_, u128>(custody_total, (s("JPY"),)), 110);
}

/// A majority of all approvers is not enough: in a batch of A–B and C–D, {A, B, C} are three of
/// five, but C–D has only C's approval.
#[test]
fn a_netted_batch_needs_two_of_three_of_every_trade() {
    setup();
    deposit_yen(A620, 100);
    deposit_btc(B630, BTC);
    deposit_yen(C640, 50);
    deposit_btc(D650, BTC);
    submit(A620, Side::Buy, BTC, 100);
    submit(B630, Side::Sell, BTC, 100);
    submit(C640, Side::Buy, BTC, 50);
    submit(D650, Side::Sell, BTC, 50);
    let [id] = call::<_, Vec<u64>>(C610, match_batch, (true, 10u32)).unwrap()[..] else {
        panic!("one netted settlement")
    };
    for who in [A620, B630, C640] {
        assert_eq!(approve_by(who, id), Ok(SettlementStatus::Provisional));
    }
    assert_eq!(parts(C640, "BTC"), (0, 0, BTC), "C–D is not confirmed by C alone");
    assert_eq!(approve_by(D650, id), Ok(SettlementStatus::Confirmed));
    assert_eq!(parts(C640, "BTC"), (BTC, 0, 0));
    assert_eq!(parts(D650, "JPY"), (50, 0, 0));

    // And two of one trade's three reject the whole batch, atomically.
    submit(A620, Side::Buy, BTC, 100);
    submit(B630, Side::Sell, BTC, 100);
    submit(C640, Side::Buy, BTC, 50);
    deposit_yen(C640, 50);
    submit(D650, Side::Sell, BTC, 50);
    deposit_yen(A620, 100);
    deposit_btc(B630, BTC);
    deposit_btc(D650, BTC);
    let [id] = call::<_, Vec<u64>>(C610, match_batch, (true, 10u32)).unwrap()[..] else {
        panic!("one netted settlement")
    };
    assert_eq!(get_settlement(id).status, SettlementStatus::Provisional);
    for who in [A620, B630, C610] {
        assert_eq!(approve_by(who, id), Ok(SettlementStatus::Provisional));
    }
    assert_eq!(reject_by(C640, id), Ok(SettlementStatus::Provisional));
    assert_eq!(reject_by(D650, id), Ok(SettlementStatus::Rejected));
    assert_eq!(owned(A620), (BTC, 100));
    assert_eq!(owned(B630), (BTC, 100));
    assert_eq!(parts(A620, "BTC"), (BTC, 0, 0), "A–B, approved, is undone with the batch");
    assert_eq!(owned(C640), (BTC, 50));
    assert_eq!(owned(D650), (BTC, 50));
}

/// Claim 15: each trade's increase and decrease, also when the batch settles by net amounts.
#[test]
fn a_netted_batch_records_each_trades_increase_and_decrease() {
    setup();
    deposit_yen(A620, 100);
    deposit_btc(B630, BTC);
    // A buys 1 BTC from B for ¥100 and sells it back for ¥100: the net movement is nothing.
    submit(A620, Side::Buy, BTC, 100);
    submit(B630, Side::Sell, BTC, 100);
    submit(B630, Side::Buy, BTC, 100);
    submit(A620, Side::Sell, BTC, 100);
    let [id] = call::<_, Vec<u64>>(C610, match_batch, (true, 10u32)).unwrap()[..] else {
        panic!("one netted settlement")
    };
    let settled = get_settlement(id);
    assert_eq!(settled.status, SettlementStatus::Provisional);
    assert!(settled.movements.is_empty(), "no net movement");
    let btc = BTC as i128;
    let legs: Vec<_> = settled
        .trade_legs
        .iter()
        .map(|l| (l.trade, l.exchange, l.currency.as_str(), l.delta))
        .collect();
    assert_eq!(
        legs,
        vec![
            (1, B630, "BTC", -btc),
            (1, A620, "BTC", btc),
            (1, A620, "JPY", -100),
            (1, B630, "JPY", 100),
            (2, A620, "BTC", -btc),
            (2, B630, "BTC", btc),
            (2, B630, "JPY", -100),
            (2, A620, "JPY", 100),
        ]
    );
    assert_eq!(approve_by(B630, id), Ok(SettlementStatus::Provisional));
    assert_eq!(approve_by(A620, id), Ok(SettlementStatus::Confirmed));
    assert_eq!(get_settlement(id).trade_legs.len(), 8, "kept once confirmed");
    assert_eq!(owned(A620), (0, 100));
}

#[test]
fn the_trade_legs_of_a_batch_add_up_to_its_net_movements() {
    setup();
    deposit_yen(A620, 110);
    deposit_btc(B630, BTC);
    deposit_btc(A620, BTC);
    three_exchange_conditions();
    let [id] = call::<_, Vec<u64>>(C610, match_batch, (true, 10u32)).unwrap()[..] else {
        panic!("one netted settlement")
    };
    let settled = get_settlement(id);
    assert_eq!(settled.trade_legs.len(), 12);
    let mut sums: std::collections::BTreeMap<(Address, String), i128> = Default::default();
    for leg in &settled.trade_legs {
        *sums.entry((leg.exchange, leg.currency.clone())).or_default() += leg.delta;
    }
    sums.retain(|_, v| *v != 0);
    let nets: std::collections::BTreeMap<_, _> =
        settled.movements.iter().map(|m| ((m.exchange, m.currency.clone()), m.delta)).collect();
    assert_eq!(sums, nets);
    // A single trade's legs are its four movements.
    setup();
    spec_funding();
    let id = spec_trade();
    let single = get_settlement(id);
    let legs: Vec<_> = single.trade_legs.iter().map(|l| (l.exchange, l.delta)).collect();
    let moves: Vec<_> = single.movements.iter().map(|m| (m.exchange, m.delta)).collect();
    assert_eq!(legs.len(), 4);
    assert!(legs.iter().all(|l| moves.contains(l)));
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
        Ok(SettlementStatus::Provisional)
    );
    assert_eq!(parts(A620, "BTC"), (BTC, 0, BTC));
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
    invoke_json(&parsed, METHODS, "deposit_customer_asset", json!([hex(A620), "BTC", 5])).unwrap();
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
            { "currency": "BTC", "available": "200000000", "locked": "0", "provisional": "100000000", "customer": "5" },
            { "currency": "JPY", "available": "100", "locked": "100", "provisional": "0", "customer": "0" }
        ])
    );
    test_env::set_sender(A620);
    assert_eq!(invoke_json(&parsed, METHODS, "approve", json!([1])), Ok(json!("Provisional")));
    test_env::set_sender(C610);
    assert_eq!(invoke_json(&parsed, METHODS, "approve", json!([1])), Ok(json!("Confirmed")));
    let events = abi::events_json(&parsed);
    assert_eq!(events.last().unwrap().0, "balances_confirmed");
    assert_eq!(events.last().unwrap().1["status"], json!("Confirmed"));
    assert_eq!(events.last().unwrap().1["trade_legs"].as_array().unwrap().len(), 4);
    test_env::set_sender(C610);
    assert_eq!(
        invoke_json(&parsed, METHODS, "rebook", json!([hex(A620), "BTC", 5, "Own"])),
        Ok(json!(["300000005", "0"]))
    );
}

/// Operations of the adversarial property test: `who` indexes `ACTORS` (the clearing system, the
/// four exchanges, a stranger), so any member may try anything; the others index exchanges,
/// conditions and settlements.
#[derive(Clone, Debug)]
enum Op {
    Deposit { who: usize, ex: usize, currency: usize, amount: u128 },
    Withdraw { who: usize, ex: usize, currency: usize, amount: u128 },
    Rebook { who: usize, ex: usize, amount: u128, to_customer: bool },
    Submit { who: usize, buy: bool, lots: u128, price: u128 },
    Cancel { who: usize, condition: u64 },
    Batch { who: usize, netted: bool },
    Pair { who: usize, buy: u64, sell: u64 },
    Retry { who: usize, settlement: u64 },
    CancelSettlement { who: usize, settlement: u64 },
    Approve { who: usize, settlement: u64 },
    Reject { who: usize, settlement: u64 },
    Advance { blocks: u64, ms: u64 },
}

const ACTORS: [Address; 6] = [C610, A620, B630, C640, D650, STRANGER];
const EXCHANGES_4: [Address; 4] = [A620, B630, C640, D650];
/// The records a deposit or withdrawal names: (currency, book).
const RECORDS: [(&str, Book); 3] =
    [("JPY", Book::Own), ("BTC", Book::Own), ("BTC", Book::Customer)];

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let who = || prop_oneof![3 => Just(0usize), 6 => 1..5usize, 1 => Just(5usize)];
    let clearing_mostly = || prop_oneof![4 => Just(0usize), 1 => 1..6usize];
    let op = prop_oneof![
        3 => (clearing_mostly(), 0..4usize, 0..3usize, 1..400u128).prop_map(|(who, ex, currency, amount)| Op::Deposit { who, ex, currency, amount }),
        2 => (who(), 0..4usize, 0..3usize, 1..300u128).prop_map(|(who, ex, currency, amount)| Op::Withdraw { who, ex, currency, amount }),
        1 => (who(), 0..4usize, 1..200u128, any::<bool>()).prop_map(|(who, ex, amount, to_customer)| Op::Rebook { who, ex, amount, to_customer }),
        10 => (who(), any::<bool>(), prop_oneof![3 => Just(1u128), 1 => Just(2u128)], 1..3u128).prop_map(|(who, buy, lots, price)| Op::Submit { who, buy, lots, price: price * 50 }),
        1 => (who(), 1..20u64).prop_map(|(who, condition)| Op::Cancel { who, condition }),
        4 => (clearing_mostly(), any::<bool>()).prop_map(|(who, netted)| Op::Batch { who, netted }),
        2 => (who(), 1..20u64, 1..20u64).prop_map(|(who, buy, sell)| Op::Pair { who, buy, sell }),
        2 => (who(), 1..5u64).prop_map(|(who, settlement)| Op::Retry { who, settlement }),
        1 => (who(), 1..5u64).prop_map(|(who, settlement)| Op::CancelSettlement { who, settlement }),
        10 => (0..5usize, 1..5u64).prop_map(|(who, settlement)| Op::Approve { who, settlement }),
        3 => (who(), 1..5u64).prop_map(|(who, settlement)| Op::Reject { who, settlement }),
        1 => (0..2 * TIMEOUT, 0..2 * APPROVAL_MS).prop_map(|(blocks, ms)| Op::Advance { blocks, ms }),
    ];
    proptest::collection::vec(op, 1..120)
}

fn all_settlements() -> Vec<Settlement> {
    (1u64..).map_while(|id| view::<_, Option<Settlement>>(settlement, (id,))).collect()
}

fn two_of_three(trade_id: u64, votes: &[Address]) -> bool {
    let t: Trade = view::<_, Option<Trade>>(trade, (trade_id,)).unwrap();
    [C610, t.buyer, t.seller].iter().filter(|a| votes.contains(a)).count() >= 2
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Whatever any member does, in any order: custody changes only by the clearing system's
    /// deposits and withdrawals; an exchange's own value (available + locked + customer) only by
    /// those and by settlements confirmed by two of the three of each of their trades; customer
    /// deposits never by a trade; a provisional amount is never withdrawn, locked or rebooked, and
    /// vanishes or becomes available only with its settlement.
    #[test]
    fn adversarial_members_never_move_value_except_as_the_spec_allows(ops in ops()) {
        setup();
        // What the test saw succeed, per (exchange, record): deposits less withdrawals (± rebooks).
        let mut own_in: BTreeMap<(Address, &str), i128> = BTreeMap::new();
        let mut customer_in: BTreeMap<Address, i128> = BTreeMap::new();
        let (mut btc_in, mut yen_in) = (0i128, 0i128);
        // Everyone starts funded, so that trades settle and the votes are what matters.
        for ex in EXCHANGES_4 {
            deposit_yen(ex, 300);
            deposit_btc(ex, 3 * BTC);
            call::<_, u128>(C610, deposit_customer_asset, (ex, s("BTC"), BTC)).unwrap();
            own_in.insert((ex, "JPY"), 300);
            own_in.insert((ex, "BTC"), 3 * BTC as i128);
            customer_in.insert(ex, BTC as i128);
            (btc_in, yen_in) = (btc_in + 4 * BTC as i128, yen_in + 300);
        }
        for op in ops {
            match op {
                Op::Deposit { who, ex, currency, amount } => {
                    let (ex, (cur, book)) = (EXCHANGES_4[ex], RECORDS[currency]);
                    let amount = if cur == "BTC" { amount * BTC / 100 } else { amount };
                    let result = match (cur, book) {
                        ("JPY", _) => call::<_, u128>(ACTORS[who], deposit_fiat, (ex, amount)),
                        (_, Book::Own) => call::<_, u128>(ACTORS[who], deposit_asset, (ex, s(cur), amount)),
                        _ => call::<_, u128>(ACTORS[who], deposit_customer_asset, (ex, s(cur), amount)),
                    };
                    prop_assert_eq!(result.is_ok(), who == 0);
                    if result.is_ok() {
                        if cur == "BTC" { btc_in += amount as i128 } else { yen_in += amount as i128 }
                        match book {
                            Book::Own => *own_in.entry((ex, cur)).or_default() += amount as i128,
                            Book::Customer => *customer_in.entry(ex).or_default() += amount as i128,
                        }
                    }
                }
                Op::Withdraw { who, ex, currency, amount } => {
                    let (ex, (cur, book)) = (EXCHANGES_4[ex], RECORDS[currency]);
                    let amount = if cur == "BTC" { amount * BTC / 100 } else { amount };
                    let before = holding_of(ex, cur);
                    let result = match (cur, book) {
                        ("JPY", _) => call::<_, u128>(ACTORS[who], withdraw_fiat, (ex, amount)),
                        (_, Book::Own) => call::<_, u128>(ACTORS[who], withdraw_asset, (ex, s(cur), amount)),
                        _ => call::<_, u128>(ACTORS[who], withdraw_customer_asset, (ex, s(cur), amount)),
                    };
                    if result.is_ok() {
                        prop_assert_eq!(who, 0);
                        // Only from the named record's free balance: never locked or provisional.
                        let after = holding_of(ex, cur);
                        prop_assert_eq!((after.locked, after.provisional), (before.locked, before.provisional));
                        match book {
                            Book::Own => prop_assert!(amount <= before.available),
                            Book::Customer => prop_assert!(amount <= before.customer),
                        }
                        if cur == "BTC" { btc_in -= amount as i128 } else { yen_in -= amount as i128 }
                        match book {
                            Book::Own => *own_in.entry((ex, cur)).or_default() -= amount as i128,
                            Book::Customer => *customer_in.entry(ex).or_default() -= amount as i128,
                        }
                    }
                }
                Op::Rebook { who, ex, amount, to_customer } => {
                    let ex = EXCHANGES_4[ex];
                    let amount = amount * BTC / 100;
                    let to = if to_customer { Book::Customer } else { Book::Own };
                    let result = call::<_, (u128, u128)>(ACTORS[who], rebook, (ex, s("BTC"), amount, to));
                    if result.is_ok() {
                        prop_assert_eq!(who, 0);
                        let delta = if to_customer { amount as i128 } else { -(amount as i128) };
                        *customer_in.entry(ex).or_default() += delta;
                        *own_in.entry((ex, "BTC")).or_default() -= delta;
                    }
                }
                Op::Submit { who, buy, lots, price } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let result = call::<_, u64>(ACTORS[who], submit_condition, (side, s("BTC"), lots * BTC / 2, price));
                    prop_assert_eq!(result.is_ok(), (1..5).contains(&who));
                }
                Op::Cancel { who, condition } => { let _ = call::<_, ()>(ACTORS[who], cancel_condition, (condition,)); }
                Op::Batch { who, netted } => {
                    let result = call::<_, Vec<u64>>(ACTORS[who], match_batch, (netted, 8u32));
                    prop_assert_eq!(result.is_ok(), who == 0);
                }
                Op::Pair { who, buy, sell } => { let _ = call::<_, u64>(ACTORS[who], match_pair, (buy, sell)); }
                Op::Retry { who, settlement } => { let _ = call::<_, SettlementStatus>(ACTORS[who], retry_settlement, (settlement,)); }
                Op::CancelSettlement { who, settlement } => { let _ = call::<_, ()>(ACTORS[who], cancel_settlement, (settlement,)); }
                Op::Approve { who, settlement } => { let _ = approve_by(ACTORS[who], settlement); }
                Op::Reject { who, settlement } => { let _ = reject_by(ACTORS[who], settlement); }
                Op::Advance { blocks, ms } => {
                    test_env::set_block_height(test_env::with(|env| env.block_height) + blocks);
                    test_env::set_block_time_ms(test_env::with(|env| env.block_time_ms) + ms);
                }
            }

            let settlements = all_settlements();
            let now = test_env::with(|env| env.block_time_ms);
            // Confirmed only by two of the three of every trade; rejected only by two of the
            // three of a trade, or after the deadline.
            for st in &settlements {
                for votes in [&st.approvals, &st.rejections] {
                    for v in votes.iter() {
                        prop_assert!(*v == C610 || st.parties.contains(v));
                    }
                    prop_assert!(votes.iter().collect::<BTreeSet<_>>().len() == votes.len());
                }
                match st.status {
                    SettlementStatus::Confirmed => {
                        for t in &st.trades { prop_assert!(two_of_three(*t, &st.approvals), "{:?}", st); }
                    }
                    SettlementStatus::Rejected => prop_assert!(
                        now >= st.approval_deadline_ms || st.trades.iter().any(|t| two_of_three(*t, &st.rejections)),
                        "{:?}", st
                    ),
                    _ => {}
                }
            }
            for (cur, total_in) in [("BTC", btc_in), ("JPY", yen_in)] {
                prop_assert_eq!(view::<_, u128>(custody_total, (s(cur),)) as i128, total_in);
                let mut held = 0i128;
                for ex in EXCHANGES_4 {
                    let h = holding_of(ex, cur);
                    held += (h.available + h.locked + h.customer) as i128;
                    // Own value: deposits less withdrawals, plus confirmed movements only.
                    let confirmed: i128 = settlements.iter()
                        .filter(|st| st.status == SettlementStatus::Confirmed)
                        .flat_map(|st| st.movements.iter())
                        .filter(|m| m.exchange == ex && m.currency == cur)
                        .map(|m| m.delta)
                        .sum();
                    let own = own_in.get(&(ex, cur)).copied().unwrap_or(0);
                    prop_assert_eq!((h.available + h.locked) as i128, own + confirmed, "{} {}", ex, cur);
                    let customer = if cur == "BTC" { customer_in.get(&ex).copied().unwrap_or(0) } else { 0 };
                    prop_assert_eq!(h.customer as i128, customer);
                    // Provisional: exactly what provisional settlements credit it.
                    let provisional: i128 = settlements.iter()
                        .filter(|st| st.status == SettlementStatus::Provisional)
                        .flat_map(|st| st.movements.iter())
                        .filter(|m| m.exchange == ex && m.currency == cur && m.delta > 0)
                        .map(|m| m.delta)
                        .sum();
                    prop_assert_eq!(h.provisional as i128, provisional);
                    // Locked: exactly the locks of unfinished settlements.
                    let locked: u128 = settlements.iter()
                        .filter(|st| matches!(st.status, SettlementStatus::AwaitingAsset | SettlementStatus::Provisional))
                        .flat_map(|st| st.locks.iter())
                        .filter(|l| l.exchange == ex && l.currency == cur)
                        .map(|l| l.amount)
                        .sum();
                    prop_assert_eq!(h.locked, locked);
                }
                prop_assert_eq!(held, total_in);
            }
        }
    }
}
