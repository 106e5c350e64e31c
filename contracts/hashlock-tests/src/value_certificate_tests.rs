//! SC2, the value certificates, on their own.

use crate::chain::*;
use crate::value_certificate::{
    self as vc, LegOrder, LegStatus, Lock, TimeoutRules, Token, TransferCondition,
};
use kessai_sdk::test_env::{self, abi};
use kessai_sdk::Address;
use serde_json::json;
use std::string::{String, ToString};
use std::vec::Vec;

fn content(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn issue(
    chain: &mut Chain,
    content_hash: [u8; 32],
    holder: Option<Address>,
) -> Result<u64, String> {
    chain.call(&admin(), vc::issue, (content_hash, holder))
}

/// Embodiment 4's certificates: transfer conditions are first legs (48 h, no counter deadline).
fn first_leg_certificates() -> Chain {
    Chain::value(LegOrder::First)
}

/// The administrator issues a token and registers a first-leg condition for the holder.
fn locked_token(chain: &mut Chain, lock: Lock) -> (u64, u64) {
    let token = issue(chain, content(1), None).unwrap();
    let id = register(chain, &admin(), token, lock).unwrap();
    (token, id)
}

/// `who` registers a first-leg condition on `token` for the holder (terminal 24).
fn register(chain: &mut Chain, who: &Party, token: u64, lock: Lock) -> Result<u64, String> {
    chain.register_condition(who, token, lock, holder().address(), None)
}

#[test]
fn only_the_admin_issues_unique_tokens() {
    let mut chain = first_leg_certificates();
    let now = chain.now();
    assert_eq!(issue(&mut chain, content(1), None), Ok(1));
    assert_eq!(issue(&mut chain, content(2), Some(holder().address())), Ok(2));
    assert_eq!(
        chain.token(1),
        Token {
            id: 1,
            content_hash: content(1),
            holder: admin().address(),
            issued_at_ms: now,
            locked_by: None
        }
    );
    assert_eq!(chain.token(2).holder, holder().address());
    assert_eq!(
        issue(&mut chain, content(1), None),
        Err("this content is already certified".into())
    );
    assert_eq!(
        chain.call::<_, u64>(&holder(), vc::issue, (content(3), None::<Address>)),
        Err("only the admin".into())
    );
    assert_eq!(
        issue(&mut chain, content(3), Some(Address::SYSTEM)),
        Err("cannot issue to the zero address".into())
    );
    let by_content: Option<Token> = chain.view(vc::token_by_content, (content(2),));
    assert_eq!(by_content.map(|t| t.id), Some(2));
    let admins: Vec<Token> = chain.view(vc::tokens_of, (admin().address(),));
    assert_eq!(admins.iter().map(|t| t.id).collect::<Vec<_>>(), [1]);
    assert_eq!(chain.events().iter().filter(|e| e.topic == "issued").count(), 2);
    assert_eq!(chain.view::<_, Option<Token>>(vc::token, (3u64,)), None);
}

#[test]
fn a_transfer_condition_records_six_values_and_locks_the_token() {
    let mut chain = first_leg_certificates();
    let lock = blake3_lock(&secret(5));
    let now = chain.now();
    let (token, id) = locked_token(&mut chain, lock);
    let condition = chain.condition(id);
    assert_eq!(
        condition,
        TransferCondition {
            id,
            token_id: token,
            lock,
            destination: holder().address(),
            timestamp_ms: now,
            status: LegStatus::Active,
            registrant: admin().address(),
            timeout_ms: FIRST_TIMEOUT_MS,
            deadline_ms: now + FIRST_TIMEOUT_MS,
            counter_deadline_ms: None,
        }
    );
    assert_eq!(chain.token(token).locked_by, Some(id));
    let by_lock: Option<TransferCondition> =
        chain.view(vc::transfer_condition_by_lock, (lock.hash,));
    assert_eq!(by_lock, Some(condition.clone()));
    let event = chain.events().pop().unwrap();
    assert_eq!(
        (event.topic.as_str(), event.decode::<TransferCondition>()),
        ("condition_registered", condition)
    );
    // Locked: not a second time, even with another lock.
    assert_eq!(
        register(&mut chain, &admin(), token, blake3_lock(&secret(6))),
        Err("the token is locked by an active transfer condition".into())
    );
}

#[test]
fn only_the_holder_registers_and_the_rules_hold() {
    let mut chain = first_leg_certificates();
    let token = issue(&mut chain, content(1), None).unwrap();
    let lock = blake3_lock(&secret(5));
    assert_eq!(
        register(&mut chain, &holder(), token, lock),
        Err("only the token's holder may register a transfer condition".into())
    );
    assert_eq!(register(&mut chain, &admin(), 9, lock), Err("no such token".into()));
    // First legs answer nothing on the other chain: a counter deadline is refused, however late.
    for counter in [chain.now() + 24 * HOUR_MS, u64::MAX] {
        let refused =
            chain.register_condition(&admin(), token, lock, holder().address(), Some(counter));
        assert!(refused.unwrap_err().contains("holds first legs"));
    }
    let zero = chain.register_condition(&admin(), token, lock, Address::SYSTEM, None);
    assert_eq!(zero, Err("the destination cannot be the zero address".into()));
    assert_eq!(chain.token(token).locked_by, None);
    register(&mut chain, &admin(), token, lock).unwrap();
    let other = issue(&mut chain, content(2), None).unwrap();
    assert_eq!(
        register(&mut chain, &admin(), other, lock),
        Err("this lock hash was already used".into())
    );
}

/// Embodiment 3's certificates (second legs): a condition needs the burn request's deadline and
/// must expire at least the margin before it.
#[test]
fn a_second_leg_condition_requires_a_counter_deadline_a_margin_later() {
    let mut chain = Chain::value(LegOrder::Second);
    let token = issue(&mut chain, content(1), None).unwrap();
    let lock = blake3_lock(&secret(5));
    let second = |chain: &mut Chain, counter: Option<u64>| {
        chain.register_condition(&admin(), token, lock, holder().address(), counter)
    };
    assert_eq!(
        second(&mut chain, None),
        Err("this contract holds second legs: the counter leg's deadline is required".into())
    );
    let earliest_counter = chain.now() + SECOND_TIMEOUT_MS + MARGIN_MS;
    for too_early in [0, chain.now() + SECOND_TIMEOUT_MS, earliest_counter - 1] {
        assert!(second(&mut chain, Some(too_early))
            .unwrap_err()
            .starts_with("unsafe timeout order"));
    }
    assert_eq!(chain.token(token).locked_by, None);
    let now = chain.now();
    let id = second(&mut chain, Some(earliest_counter)).unwrap();
    let condition = chain.condition(id);
    assert_eq!(
        (condition.timeout_ms, condition.deadline_ms, condition.counter_deadline_ms),
        (SECOND_TIMEOUT_MS, now + SECOND_TIMEOUT_MS, Some(earliest_counter))
    );
    assert_eq!(chain.token(token).locked_by, Some(id));
}

/// `init` refuses rules no swap could be safe with (zero timeout or margin, margin not shorter
/// than the timeout) and runs once.
#[test]
fn init_refuses_bad_timeout_rules_and_runs_once() {
    let mut chain = Chain::uninitialised(VALUE_CERTIFICATE, T0);
    let init = |chain: &mut Chain, rules: TimeoutRules| {
        let args = (admin().address(), rules.order, rules.timeout_ms, rules.margin_ms);
        chain.call::<_, ()>(&admin(), vc::init, args)
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
    assert_eq!(issue(&mut chain, content(1), None), Err("not initialised".into()));
    init(&mut chain, rules(LegOrder::First)).unwrap();
    assert_eq!(chain.view::<_, TimeoutRules>(vc::rules, ()), rules(LegOrder::First));
    assert_eq!(init(&mut chain, rules(LegOrder::Second)), Err("already initialised".into()));
    assert_eq!(chain.view::<_, TimeoutRules>(vc::rules, ()), rules(LegOrder::First));
}

#[test]
fn transfer_with_the_secret_moves_the_token_and_publishes_the_secret() {
    for lock_of in [blake3_lock, sha256_lock] {
        let mut chain = first_leg_certificates();
        let r = secret(5);
        let (token, id) = locked_token(&mut chain, lock_of(&r));
        chain.advance(HOUR_MS);
        let at_ms = chain.now();
        chain.transfer(&holder(), id, r).unwrap();
        assert_eq!(chain.token(token).holder, holder().address());
        assert_eq!(chain.token(token).locked_by, None);
        assert_eq!(chain.condition(id).status, LegStatus::Claimed { preimage: r, at_ms });
        let event = chain.events().pop().unwrap();
        assert_eq!(event.topic, "transferred");
        assert_eq!(event.decode::<TransferCondition>().status.preimage(), Some(r));
        let holders: Vec<Token> = chain.view(vc::tokens_of, (holder().address(),));
        assert_eq!(holders.iter().map(|t| t.id).collect::<Vec<_>>(), [token]);
        assert!(chain.view::<_, Vec<Token>>(vc::tokens_of, (admin().address(),)).is_empty());
        // Never twice.
        assert_eq!(chain.transfer(&holder(), id, r), Err("already completed".into()));
    }
}

#[test]
fn transfer_refuses_a_wrong_secret_a_wrong_signer_and_a_replay() {
    let mut chain = first_leg_certificates();
    let r = secret(5);
    let (token, id) = locked_token(&mut chain, sha256_lock(&r));
    assert!(chain.transfer(&holder(), id, secret(6)).unwrap_err().starts_with("wrong secret"));
    assert_eq!(
        chain.transfer(&stranger(), id, r),
        Err("only the permitted address may claim".into())
    );
    assert_eq!(chain.transfer(&admin(), id, r), Err("only the permitted address may claim".into()));
    let claim = chain.transfer_claim(id, r);
    let forged = stranger().sign_claim(&claim);
    assert!(chain
        .call::<_, ()>(&holder(), vc::transfer, (id, r, forged))
        .unwrap_err()
        .starts_with("the signature"));
    // A signature of the matching burn claim (same lock, same id) is not a transfer claim.
    let burn_like =
        hashlock_core::ClaimMessage { action: hashlock_core::ClaimAction::Burn, ..claim };
    let sig = holder().sign_claim(&burn_like);
    assert!(chain
        .call::<_, ()>(&holder(), vc::transfer, (id, r, sig))
        .unwrap_err()
        .starts_with("the signature"));
    assert_eq!(chain.token(token).holder, admin().address());
    assert_eq!(
        chain.call::<_, ()>(&holder(), vc::transfer, (7u64, r, [0u8; 64])),
        Err("no such transfer condition".into())
    );
}

#[test]
fn withdraw_only_by_the_registrant_after_the_timeout_unlocks_the_token() {
    let mut chain = first_leg_certificates();
    let r = secret(5);
    let (token, id) = locked_token(&mut chain, blake3_lock(&r));
    chain.advance(FIRST_TIMEOUT_MS - 1);
    assert_eq!(
        chain.call::<_, ()>(&admin(), vc::withdraw_transfer_condition, (id,)),
        Err("the timeout has not passed yet".into())
    );
    chain.advance(1);
    assert_eq!(
        chain.call::<_, ()>(&holder(), vc::withdraw_transfer_condition, (id,)),
        Err("only the registrant may withdraw the transfer condition".into())
    );
    assert!(chain.transfer(&holder(), id, r).unwrap_err().contains("expired"));
    chain.call::<_, ()>(&admin(), vc::withdraw_transfer_condition, (id,)).unwrap();
    let token_after = chain.token(token);
    assert_eq!((token_after.holder, token_after.locked_by), (admin().address(), None));
    assert!(matches!(chain.condition(id).status, LegStatus::Withdrawn { .. }));
    assert_eq!(chain.events().pop().unwrap().topic, "condition_withdrawn");
    assert_eq!(chain.transfer(&holder(), id, r), Err("already withdrawn".into()));
    assert_eq!(
        chain.call::<_, ()>(&admin(), vc::withdraw_transfer_condition, (id,)),
        Err("already withdrawn".into())
    );
    // Unlocked: the token can be offered again, under a new lock.
    assert_eq!(
        register(&mut chain, &admin(), token, blake3_lock(&r)),
        Err("this lock hash was already used".into())
    );
    let again = register(&mut chain, &admin(), token, blake3_lock(&secret(6))).unwrap();
    chain.transfer(&holder(), again, secret(6)).unwrap();
    assert_eq!(chain.token(token).holder, holder().address());
}

#[test]
fn the_abi_matches_the_code_and_speaks_json() {
    let interface = abi::parse(vc::ABI_JSON).unwrap();
    test_env::check_methods(&interface, vc::METHODS).unwrap();
    let mut chain = Chain::uninitialised(VALUE_CERTIFICATE, T0);
    chain.enter(|| {
        let call = |who: Address, name: &str, args: serde_json::Value| {
            test_env::set_sender(who);
            test_env::invoke_json(&interface, vc::METHODS, name, args)
        };
        // Embodiment 3's certificates, initialised as from a chain spec: the order by name.
        let init = json!([admin().address().to_string(), "Second", SECOND_TIMEOUT_MS, MARGIN_MS]);
        call(admin().address(), "init", init).unwrap();
        let rules =
            json!({"order": "Second", "timeout_ms": SECOND_TIMEOUT_MS, "margin_ms": MARGIN_MS});
        assert_eq!(call(admin().address(), "rules", json!([])).unwrap(), rules);
        let hash = "11".repeat(32);
        let token = call(admin().address(), "issue", json!([hash, null])).unwrap();
        assert_eq!(token, json!(1));
        let lock = json!({ "algorithm": "Blake3", "hash": "22".repeat(32) });
        let destination = holder().address().to_string();
        let without_counter = json!([1, lock, destination, null]);
        let refused = call(admin().address(), "register_transfer_condition", without_counter);
        assert!(refused.unwrap_err().contains("the counter leg's deadline is required"));
        // The burn request's deadline, as a plain number (`option<u64>`: null or the value).
        let counter = T0 + SECOND_TIMEOUT_MS + MARGIN_MS;
        let args = json!([1, lock, destination, counter]);
        assert_eq!(call(admin().address(), "register_transfer_condition", args).unwrap(), json!(1));
        let condition = call(admin().address(), "transfer_condition", json!([1])).unwrap();
        assert_eq!(condition["status"], json!("Active"));
        assert_eq!(condition["lock"], lock);
        assert_eq!(condition["counter_deadline_ms"], json!(counter));
        let token = call(admin().address(), "token", json!([1])).unwrap();
        assert_eq!(token["locked_by"], json!(1));
        let topics: Vec<String> =
            test_env::events_json(&interface).into_iter().map(|(t, _)| t).collect();
        assert_eq!(topics, ["issued", "condition_registered"]);
    });
}
