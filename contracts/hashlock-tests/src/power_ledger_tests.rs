//! SC1, the power ledger, on its own.

use crate::chain::*;
use crate::power_ledger::{
    self as pl, BurnRequest, Issued, LegOrder, LegStatus, Lock, TimeoutRules,
};
use hashlock_core::{ClaimAction, CLAIM_DOMAIN};
use kessai_sdk::test_env::{self, abi};
use kessai_sdk::Address;
use serde_json::json;
use std::string::{String, ToString};
use std::vec::Vec;

const A: u8 = 0xA0;
const B: u8 = 0xB0;

/// Issues `amount` to `who` as the administrator.
fn issue(chain: &mut Chain, amount: u64, who: &Party) {
    chain.call::<_, ()>(&admin(), pl::issue, (amount, who.address())).unwrap();
}

/// Embodiment 3's ledger: burn requests are first legs (TIMEOUT_N = 48 h, no counter deadline).
fn first_leg_ledger() -> Chain {
    Chain::power(LegOrder::First)
}

/// `who` registers a first-leg burn request of `amount` for terminal 14.
fn register(chain: &mut Chain, who: &Party, amount: u64, lock: Lock) -> Result<u64, String> {
    chain.register_burn(who, amount, lock, admin().address(), None)
}

#[test]
fn issuance_example_a_100_b_50_issue_20_to_a() {
    let mut chain = first_leg_ledger();
    let (a, b) = (Party::new(A), Party::new(B));
    issue(&mut chain, 100, &a);
    issue(&mut chain, 50, &b);
    issue(&mut chain, 20, &a);
    assert_eq!((chain.balance(&a), chain.balance(&b)), (120, 50));
    assert_eq!(chain.supply(), 170);
    let last = chain.events().pop().unwrap();
    assert_eq!(last.topic, "issued");
    assert_eq!(last.decode::<Issued>(), Issued { to: a.address(), amount: 20, total_supply: 170 });
}

#[test]
fn only_the_admin_issues_and_init_runs_once() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    assert_eq!(
        chain.call::<_, ()>(&a, pl::issue, (10u64, a.address())),
        Err("only the admin".into())
    );
    assert_eq!(
        chain.call::<_, ()>(&admin(), pl::issue, (0u64, a.address())),
        Err("amount must be positive".into())
    );
    assert_eq!(
        chain.call::<_, ()>(&admin(), pl::issue, (1u64, Address::SYSTEM)),
        Err("cannot issue to the zero address".into())
    );
    issue(&mut chain, u64::MAX, &a);
    assert_eq!(
        chain.call::<_, ()>(&admin(), pl::issue, (1u64, a.address())),
        Err("total supply overflow".into())
    );
    assert_eq!(
        chain.call::<_, ()>(&a, pl::init, (a.address(), LegOrder::Second, 2u64, 1u64)),
        Err("already initialised".into())
    );
    assert_eq!(chain.view::<_, Address>(pl::admin, ()), admin().address());
}

/// `init` refuses rules no swap could be safe with: a zero timeout or margin, or a margin that is
/// not shorter than the timeout (a second leg could never be registered, and a first leg would
/// leave its counter leg no time). A refused init leaves the contract uninitialised.
#[test]
fn init_refuses_bad_timeout_rules() {
    let mut chain = Chain::uninitialised(POWER_LEDGER, T0);
    let init = |chain: &mut Chain, rules: TimeoutRules| {
        let args = (admin().address(), rules.order, rules.timeout_ms, rules.margin_ms);
        chain.call::<_, ()>(&admin(), pl::init, args)
    };
    for order in [LegOrder::First, LegOrder::Second] {
        let good = rules(order);
        for (timeout_ms, margin_ms) in [(0, 0), (0, MARGIN_MS), (good.timeout_ms, 0)] {
            let bad = TimeoutRules { timeout_ms, margin_ms, ..good };
            assert_eq!(
                init(&mut chain, bad),
                Err("the timeout and the margin must be positive".into())
            );
        }
        for margin_ms in [good.timeout_ms, good.timeout_ms + 1, u64::MAX] {
            let bad = TimeoutRules { margin_ms, ..good };
            assert_eq!(
                init(&mut chain, bad),
                Err("the margin must be shorter than the timeout".into())
            );
        }
    }
    assert_eq!(
        chain.call::<_, TimeoutRules>(&admin(), pl::rules, ()),
        Err("not initialised".into())
    );
    assert_eq!(
        chain.call::<_, ()>(&admin(), pl::issue, (1u64, admin().address())),
        Err("not initialised".into())
    );
    // The shortest rules that pass: a 2 ms timeout with a 1 ms margin.
    let shortest = TimeoutRules { order: LegOrder::Second, timeout_ms: 2, margin_ms: 1 };
    init(&mut chain, shortest).unwrap();
    assert_eq!(chain.view::<_, TimeoutRules>(pl::rules, ()), shortest);
}

#[test]
fn holders_transfer_power() {
    let mut chain = first_leg_ledger();
    let (a, b) = (Party::new(A), Party::new(B));
    issue(&mut chain, 100, &a);
    chain.call::<_, ()>(&a, pl::transfer, (b.address(), 30u64)).unwrap();
    assert_eq!((chain.balance(&a), chain.balance(&b), chain.supply()), (70, 30, 100));
    assert_eq!(
        chain.call::<_, ()>(&b, pl::transfer, (a.address(), 31u64)),
        Err("insufficient balance".into())
    );
    assert_eq!(
        chain.call::<_, ()>(&b, pl::transfer, (a.address(), 0u64)),
        Err("amount must be positive".into())
    );
    chain.call::<_, ()>(&b, pl::transfer, (a.address(), 30u64)).unwrap();
    assert_eq!((chain.balance(&a), chain.balance(&b)), (100, 0));
}

#[test]
fn a_burn_request_records_six_values_and_escrows_the_amount() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let lock = blake3_lock(&secret(1));
    let id = register(&mut chain, &a, 40, lock).unwrap();
    assert_eq!(id, 1);
    let request = chain.burn_request(id);
    assert_eq!(
        request,
        BurnRequest {
            id,
            amount: 40,
            lock,
            permitted: admin().address(),
            timestamp_ms: T0,
            status: LegStatus::Active,
            creator: a.address(),
            timeout_ms: FIRST_TIMEOUT_MS,
            deadline_ms: T0 + FIRST_TIMEOUT_MS,
            counter_deadline_ms: None,
        }
    );
    // Escrowed: gone from the balance, still in the supply.
    assert_eq!((chain.balance(&a), chain.escrowed(), chain.supply()), (60, 40, 100));
    // Addressable by its lock hash as well as its id.
    let by_lock: Option<BurnRequest> = chain.view(pl::burn_request_by_lock, (lock.hash,));
    assert_eq!(by_lock, Some(request.clone()));
    assert_eq!(chain.view::<_, Option<BurnRequest>>(pl::burn_request_by_lock, ([0u8; 32],)), None);
    let event = chain.events().pop().unwrap();
    assert_eq!((event.topic.as_str(), event.decode::<BurnRequest>()), ("burn_requested", request));
}

#[test]
fn a_burn_request_over_the_balance_fails() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    assert_eq!(
        register(&mut chain, &a, 101, blake3_lock(&secret(1))),
        Err("amount exceeds the creator's balance".into())
    );
    // The escrow counts: 60 + 41 > 100.
    register(&mut chain, &a, 60, blake3_lock(&secret(1))).unwrap();
    assert_eq!(
        register(&mut chain, &a, 41, blake3_lock(&secret(2))),
        Err("amount exceeds the creator's balance".into())
    );
    assert_eq!(
        register(&mut chain, &Party::new(B), 1, blake3_lock(&secret(3))).unwrap_err(),
        "amount exceeds the creator's balance"
    );
    assert_eq!(
        register(&mut chain, &a, 0, blake3_lock(&secret(3))).unwrap_err(),
        "amount must be positive"
    );
}

/// Embodiment 3's ledger (first legs): every request gets TIMEOUT_N, and a counter deadline is
/// refused — a first leg answers nothing on the other chain.
#[test]
fn a_first_leg_ledger_refuses_a_counter_deadline() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let lock = blake3_lock(&secret(1));
    for counter in [0, T0 + 24 * HOUR_MS, T0 + 72 * HOUR_MS, u64::MAX] {
        let refused = chain.register_burn(&a, 1, lock, admin().address(), Some(counter));
        assert!(refused.unwrap_err().contains("holds first legs"));
    }
    assert_eq!((chain.balance(&a), chain.escrowed()), (100, 0));
    chain.advance(5 * HOUR_MS);
    let id = register(&mut chain, &a, 1, lock).unwrap();
    let request = chain.burn_request(id);
    assert_eq!(
        (request.timeout_ms, request.deadline_ms, request.counter_deadline_ms),
        (FIRST_TIMEOUT_MS, T0 + 5 * HOUR_MS + FIRST_TIMEOUT_MS, None)
    );
    // The permitted address must be able to sign.
    let zero = chain.register_burn(&a, 1, blake3_lock(&secret(2)), Address::SYSTEM, None);
    assert_eq!(zero, Err("the permitted address cannot be the zero address".into()));
}

/// Embodiment 4's ledger (second legs): a request needs the transfer condition's deadline and
/// must expire at least the margin before it; leaving the deadline out is refused, not taken for a
/// first leg (issue 14).
#[test]
fn a_second_leg_ledger_requires_a_counter_deadline_a_margin_later() {
    let mut chain = Chain::power(LegOrder::Second);
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let lock = blake3_lock(&secret(1));
    let second = |chain: &mut Chain, counter: Option<u64>| {
        chain.register_burn(&a, 10, lock, admin().address(), counter)
    };
    assert_eq!(
        second(&mut chain, None),
        Err("this contract holds second legs: the counter leg's deadline is required".into())
    );
    // Own deadline T0 + 24 h: the counter leg must run until T0 + 25 h at least.
    let earliest_counter = T0 + SECOND_TIMEOUT_MS + MARGIN_MS;
    for too_early in [0, T0, T0 + SECOND_TIMEOUT_MS, earliest_counter - 1] {
        let refused = second(&mut chain, Some(too_early));
        assert!(refused.unwrap_err().starts_with("unsafe timeout order"));
    }
    assert_eq!((chain.balance(&a), chain.escrowed()), (100, 0));
    let id = second(&mut chain, Some(earliest_counter)).unwrap();
    let request = chain.burn_request(id);
    assert_eq!(
        (request.timeout_ms, request.deadline_ms, request.counter_deadline_ms),
        (SECOND_TIMEOUT_MS, T0 + SECOND_TIMEOUT_MS, Some(earliest_counter))
    );
    assert_eq!((chain.balance(&a), chain.escrowed()), (90, 10));
}

#[test]
fn a_lock_hash_is_used_once() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let lock = sha256_lock(&secret(1));
    register(&mut chain, &a, 10, lock).unwrap();
    assert_eq!(register(&mut chain, &a, 10, lock), Err("this lock hash was already used".into()));
}

#[test]
fn burn_with_a_blake3_lock_destroys_the_amount() {
    burn_destroys_the_amount(blake3_lock(&secret(7)), secret(7));
}

#[test]
fn burn_with_a_sha256_lock_destroys_the_amount() {
    // The BIP-199-style vector: sha256 of 32 zero bytes.
    let lock = sha256_lock(&[0; 32]);
    let expected = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925";
    assert_eq!(lock.hash.iter().map(|b| std::format!("{b:02x}")).collect::<String>(), expected);
    burn_destroys_the_amount(lock, [0; 32]);
}

fn burn_destroys_the_amount(lock: Lock, preimage: [u8; 32]) {
    let mut chain = first_leg_ledger();
    let (a, b) = (Party::new(A), Party::new(B));
    issue(&mut chain, 100, &a);
    issue(&mut chain, 50, &b);
    let id = register(&mut chain, &a, 40, lock).unwrap();
    chain.advance(HOUR_MS);
    chain.burn(&admin(), id, preimage).unwrap();
    assert_eq!((chain.balance(&a), chain.balance(&b)), (60, 50));
    assert_eq!((chain.escrowed(), chain.supply()), (0, 110));
    let request = chain.burn_request(id);
    assert_eq!(request.status, LegStatus::Claimed { preimage, at_ms: T0 + HOUR_MS });
    let event = chain.events().pop().unwrap();
    assert_eq!((event.topic.as_str(), event.decode::<BurnRequest>()), ("burned", request));
}

#[test]
fn burn_refuses_a_wrong_secret() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let id = register(&mut chain, &a, 40, blake3_lock(&secret(7))).unwrap();
    assert!(chain.burn(&admin(), id, secret(8)).unwrap_err().starts_with("wrong secret"));
    // A SHA-256 lock is not opened by a secret whose blake3 matches, nor the reverse.
    let sha = sha256_lock(&secret(9));
    let id2 =
        register(&mut chain, &a, 10, Lock { algorithm: pl::HashAlgorithm::Blake3, ..sha }).unwrap();
    assert!(chain.burn(&admin(), id2, secret(9)).unwrap_err().starts_with("wrong secret"));
    assert_eq!((chain.escrowed(), chain.supply()), (50, 100));
}

#[test]
fn burn_refuses_a_wrong_signer() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let id = register(&mut chain, &a, 40, blake3_lock(&secret(7))).unwrap();
    let claim = chain.burn_claim(id, secret(7));
    // The creator, or anyone but the permitted address, cannot burn, even with its signature.
    let sig = admin().sign_claim(&claim);
    for who in [&a, &stranger()] {
        assert_eq!(
            chain.call::<_, ()>(who, pl::burn, (id, secret(7), sig)),
            Err("only the permitted address may claim".into())
        );
    }
    // The permitted address with a signature by another key.
    let forged = stranger().sign_claim(&claim);
    assert!(chain
        .call::<_, ()>(&admin(), pl::burn, (id, secret(7), forged))
        .unwrap_err()
        .starts_with("the signature"));
    assert_eq!(chain.burn(&a, id, secret(7)), Err("only the permitted address may claim".into()));
    assert!(chain.burn_request(id).status.is_active());
}

#[test]
fn a_claim_signature_does_not_replay() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let (r1, r2) = (secret(1), secret(2));
    let id1 = register(&mut chain, &a, 10, blake3_lock(&r1)).unwrap();
    let id2 = register(&mut chain, &a, 10, blake3_lock(&r2)).unwrap();
    let sig1 = admin().sign_claim(&chain.burn_claim(id1, r1));
    chain.call::<_, ()>(&admin(), pl::burn, (id1, r1, sig1)).unwrap();
    // Once executed, never again.
    assert_eq!(
        chain.call::<_, ()>(&admin(), pl::burn, (id1, r1, sig1)),
        Err("already completed".into())
    );
    // Request 1's signature is not good for request 2, even with request 2's secret.
    assert!(chain
        .call::<_, ()>(&admin(), pl::burn, (id2, r2, sig1))
        .unwrap_err()
        .starts_with("the signature"));

    // Another chain with the same contract address, request id, lock and permitted address (two
    // chains from one preset): the registration time differs, so the signature does not verify.
    let mut other = Chain::power_at(chain.contract(), T0 + 5_000, LegOrder::First);
    issue(&mut other, 100, &a);
    let id = register(&mut other, &a, 10, blake3_lock(&r1)).unwrap();
    assert_eq!(id, id1);
    assert!(other
        .call::<_, ()>(&admin(), pl::burn, (id, r1, sig1))
        .unwrap_err()
        .starts_with("the signature"));
    assert_eq!((chain.supply(), other.supply()), (90, 100));
}

#[test]
fn withdraw_only_by_the_creator_after_the_timeout() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let id = register(&mut chain, &a, 40, blake3_lock(&secret(7))).unwrap();
    chain.advance(48 * HOUR_MS - 1);
    assert_eq!(
        chain.call::<_, ()>(&a, pl::withdraw_burn_request, (id,)),
        Err("the timeout has not passed yet".into())
    );
    chain.advance(1);
    assert_eq!(
        chain.call::<_, ()>(&admin(), pl::withdraw_burn_request, (id,)),
        Err("only the creator may withdraw the burn request".into())
    );
    // From the deadline on the lock is expired: no burn any more.
    assert!(chain.burn(&admin(), id, secret(7)).unwrap_err().contains("expired"));
    chain.call::<_, ()>(&a, pl::withdraw_burn_request, (id,)).unwrap();
    assert_eq!((chain.balance(&a), chain.escrowed(), chain.supply()), (100, 0, 100));
    assert_eq!(chain.burn_request(id).status, LegStatus::Withdrawn { at_ms: T0 + 48 * HOUR_MS });
    assert_eq!(chain.events().pop().unwrap().topic, "burn_withdrawn");
    assert_eq!(
        chain.call::<_, ()>(&a, pl::withdraw_burn_request, (id,)),
        Err("already withdrawn".into())
    );
    assert_eq!(chain.burn(&admin(), id, secret(7)), Err("already withdrawn".into()));
    assert_eq!(
        chain.call::<_, ()>(&a, pl::withdraw_burn_request, (9u64,)),
        Err("no such burn request".into())
    );
}

#[test]
fn a_burned_request_cannot_be_withdrawn() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let id = register(&mut chain, &a, 40, blake3_lock(&secret(7))).unwrap();
    chain.burn(&admin(), id, secret(7)).unwrap();
    chain.advance(48 * HOUR_MS);
    assert_eq!(
        chain.call::<_, ()>(&a, pl::withdraw_burn_request, (id,)),
        Err("already completed".into())
    );
    assert_eq!((chain.balance(&a), chain.supply()), (60, 60));
}

/// The bytes a claimant signs, spelled out field by field: the `kessai swap` command builds the
/// same bytes on its own.
#[test]
fn the_claim_message_layout() {
    let mut chain = first_leg_ledger();
    let a = Party::new(A);
    issue(&mut chain, 100, &a);
    let lock = sha256_lock(&secret(3));
    let id = register(&mut chain, &a, 40, lock).unwrap();
    let mut expected = Vec::from(CLAIM_DOMAIN);
    expected.push(ClaimAction::Burn as u8);
    expected.extend_from_slice(&POWER_LEDGER.0);
    expected.extend_from_slice(&id.to_le_bytes());
    expected.extend_from_slice(&T0.to_le_bytes());
    expected.push(1); // Sha256
    expected.extend_from_slice(&lock.hash);
    expected.extend_from_slice(&secret(3));
    expected.extend_from_slice(&admin().address().0);
    assert_eq!(expected.len(), 24 + 1 + 32 + 8 + 8 + 1 + 32 + 32 + 32);
    let message: Vec<u8> = chain.view(pl::claim_message, (id, secret(3)));
    assert_eq!(message, expected);
    assert_eq!(
        chain.call::<_, Vec<u8>>(&a, pl::claim_message, (5u64, secret(3))),
        Err("no such burn request".into())
    );
}

#[test]
fn the_abi_matches_the_code_and_speaks_json() {
    let interface = abi::parse(pl::ABI_JSON).unwrap();
    test_env::check_methods(&interface, pl::METHODS).unwrap();
    let mut chain = Chain::uninitialised(POWER_LEDGER, T0);
    let a = Party::new(A);
    let lock_hash = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925";
    chain.enter(|| {
        let call = |who: Address, name: &str, args: serde_json::Value| {
            test_env::set_sender(who);
            test_env::invoke_json(&interface, pl::METHODS, name, args)
        };
        // Init as the node would run it from a chain spec, with the order by name.
        let init = json!([admin().address().to_string(), "First", FIRST_TIMEOUT_MS, MARGIN_MS]);
        call(admin().address(), "init", init).unwrap();
        call(admin().address(), "issue", json!([100, a.address().to_string()])).unwrap();
        let id = call(
            a.address(),
            "register_burn_request",
            json!([40, { "algorithm": "Sha256", "hash": lock_hash }, admin().address().to_string(), null]),
        )
        .unwrap();
        assert_eq!(id, json!(1));
        let request = call(a.address(), "burn_request_by_lock", json!([lock_hash])).unwrap();
        assert_eq!(request["status"], json!("Active"));
        assert_eq!(request["amount"], json!(40));
        let rules = json!({"order": "First", "timeout_ms": FIRST_TIMEOUT_MS, "margin_ms": MARGIN_MS});
        assert_eq!(call(a.address(), "rules", json!([])).unwrap(), rules);
        assert_eq!(request["deadline_ms"], json!(T0 + FIRST_TIMEOUT_MS));
        let events = test_env::events_json(&interface);
        let topics: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["issued", "burn_requested"]);
    });
}
