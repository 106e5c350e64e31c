//! SC2, the value certificates, on their own.

use crate::chain::*;
use crate::value_certificate::{self as vc, LegStatus, Lock, Token, TransferCondition};
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

/// The administrator issues a token and registers a first-leg condition for the holder.
fn locked_token(chain: &mut Chain, lock: Lock, timeout_ms: u64) -> (u64, u64) {
    let token = issue(chain, content(1), None).unwrap();
    let id = register(chain, &admin(), token, lock, timeout_ms).unwrap();
    (token, id)
}

fn register(
    chain: &mut Chain,
    who: &Party,
    token: u64,
    lock: Lock,
    timeout_ms: u64,
) -> Result<u64, String> {
    chain.call(
        who,
        vc::register_transfer_condition,
        (token, lock, holder().address(), timeout_ms, None::<u64>),
    )
}

#[test]
fn only_the_admin_issues_unique_tokens() {
    let mut chain = Chain::value();
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
    let mut chain = Chain::value();
    let lock = blake3_lock(&secret(5));
    let now = chain.now();
    let (token, id) = locked_token(&mut chain, lock, 48 * HOUR_MS);
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
            timeout_ms: 48 * HOUR_MS,
            deadline_ms: now + 48 * HOUR_MS,
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
        register(&mut chain, &admin(), token, blake3_lock(&secret(6)), 48 * HOUR_MS),
        Err("the token is locked by an active transfer condition".into())
    );
}

#[test]
fn only_the_holder_registers_and_the_rules_hold() {
    let mut chain = Chain::value();
    let token = issue(&mut chain, content(1), None).unwrap();
    let lock = blake3_lock(&secret(5));
    assert_eq!(
        register(&mut chain, &holder(), token, lock, 48 * HOUR_MS),
        Err("only the token's holder may register a transfer condition".into())
    );
    assert_eq!(register(&mut chain, &admin(), 9, lock, 48 * HOUR_MS), Err("no such token".into()));
    assert_eq!(
        register(&mut chain, &admin(), token, lock, MIN_TIMEOUT_MS - 1),
        Err("timeout below the minimum".into())
    );
    let counter = chain.now() + 24 * HOUR_MS;
    let second = chain.call::<_, u64>(
        &admin(),
        vc::register_transfer_condition,
        (token, lock, holder().address(), 24 * HOUR_MS, Some(counter)),
    );
    assert!(second.unwrap_err().starts_with("unsafe timeout order"));
    let zero = chain.call::<_, u64>(
        &admin(),
        vc::register_transfer_condition,
        (token, lock, Address::SYSTEM, 48 * HOUR_MS, None::<u64>),
    );
    assert_eq!(zero, Err("the destination cannot be the zero address".into()));
    register(&mut chain, &admin(), token, lock, 48 * HOUR_MS).unwrap();
    let other = issue(&mut chain, content(2), None).unwrap();
    assert_eq!(
        register(&mut chain, &admin(), other, lock, 48 * HOUR_MS),
        Err("this lock hash was already used".into())
    );
}

#[test]
fn transfer_with_the_secret_moves_the_token_and_publishes_the_secret() {
    for lock_of in [blake3_lock, sha256_lock] {
        let mut chain = Chain::value();
        let r = secret(5);
        let (token, id) = locked_token(&mut chain, lock_of(&r), 48 * HOUR_MS);
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
    let mut chain = Chain::value();
    let r = secret(5);
    let (token, id) = locked_token(&mut chain, sha256_lock(&r), 48 * HOUR_MS);
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
    let mut chain = Chain::value();
    let r = secret(5);
    let (token, id) = locked_token(&mut chain, blake3_lock(&r), 48 * HOUR_MS);
    chain.advance(48 * HOUR_MS - 1);
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
        register(&mut chain, &admin(), token, blake3_lock(&r), 48 * HOUR_MS),
        Err("this lock hash was already used".into())
    );
    let again =
        register(&mut chain, &admin(), token, blake3_lock(&secret(6)), 48 * HOUR_MS).unwrap();
    chain.transfer(&holder(), again, secret(6)).unwrap();
    assert_eq!(chain.token(token).holder, holder().address());
}

#[test]
fn the_abi_matches_the_code_and_speaks_json() {
    let interface = abi::parse(vc::ABI_JSON).unwrap();
    test_env::check_methods(&interface, vc::METHODS).unwrap();
    let mut chain = Chain::value();
    chain.enter(|| {
        let call = |who: Address, name: &str, args: serde_json::Value| {
            test_env::set_sender(who);
            test_env::invoke_json(&interface, vc::METHODS, name, args)
        };
        let hash = "11".repeat(32);
        let token = call(admin().address(), "issue", json!([hash, null])).unwrap();
        assert_eq!(token, json!(1));
        let lock = json!({ "algorithm": "Blake3", "hash": "22".repeat(32) });
        let args = json!([1, lock, holder().address().to_string(), 48 * HOUR_MS, null]);
        assert_eq!(call(admin().address(), "register_transfer_condition", args).unwrap(), json!(1));
        let condition = call(admin().address(), "transfer_condition", json!([1])).unwrap();
        assert_eq!(condition["status"], json!("Active"));
        assert_eq!(condition["lock"], lock);
        let token = call(admin().address(), "token", json!([1])).unwrap();
        assert_eq!(token["locked_by"], json!(1));
        let topics: Vec<String> =
            test_env::events_json(&interface).into_iter().map(|(t, _)| t).collect();
        assert_eq!(topics, ["issued", "condition_registered"]);
    });
}
