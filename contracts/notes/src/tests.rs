//! The contract's logic natively, through the SDK's test environment: every method is invoked with
//! borsh arguments as the node would, and failures roll back.

use super::*;
use kessai_sdk::test_env::{self, abi, invoke, invoke_json, invoke_view};
use proptest::prelude::*;
use serde_json::json;
use std::string::ToString;
use std::vec;

const ISSUER_KEY: Address = Address([0x15; 32]);
/// The spec's user `d2af1apfa`.
const USER: Address = Address([0xD2; 32]);
const BOB: Address = Address([0xB0; 32]);
const CAROL: Address = Address([0xCA; 32]);
const EVE: Address = Address([0xEE; 32]);
/// The SDK test env's contract address.
const HERE: Address = Address([0xC0; 32]);
const TERMINAL_KEY: [u8; 32] = [0x7E; 32];
const MINUTE_MS: u64 = 60_000;

fn call<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    who: Address,
    method: test_env::Method,
    args: A,
) -> Result<R, String> {
    test_env::set_sender(who);
    invoke(method, &args)
}

fn view<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    method: test_env::Method,
    args: A,
) -> R {
    invoke_view(method, &args).unwrap()
}

fn now() -> u64 {
    test_env::with(|env| env.block_time_ms)
}

/// The next block, one second later.
fn next_block() {
    test_env::with(|env| {
        env.block_height += 1;
        env.block_time_ms += 1000;
    });
}

fn setup_with(rule: CreditRule) {
    test_env::reset();
    call::<_, ()>(ISSUER_KEY, init, (ISSUER_KEY, rule)).unwrap();
    test_env::take_events();
}

/// The spec's example: the user has 100,000 on deposit.
fn setup() {
    setup_with(CreditRule::LessThanBalance);
    call::<_, u64>(ISSUER_KEY, deposit, (USER, 100_000u64)).unwrap();
    test_env::take_events();
}

/// What the member's terminal does (see `kessai-notes`): the keyed blake3 MAC over the fields.
fn make_note(key: &[u8; 32], user: Address, amount: u64, serial: u64, expiry_ms: u64) -> Note {
    let mut data = vec![];
    data.extend_from_slice(HERE.as_bytes());
    data.extend_from_slice(&amount.to_le_bytes());
    data.extend_from_slice(user.as_bytes());
    data.extend_from_slice(&serial.to_le_bytes());
    data.extend_from_slice(&expiry_ms.to_le_bytes());
    let mac = *blake3::keyed_hash(key, &data).as_bytes();
    Note { contract: HERE, amount, user, serial, expiry_ms, mac }
}

fn commitment(note: &Note) -> [u8; 32] {
    *blake3::hash(&kessai_sdk::to_borsh(note)).as_bytes()
}

/// The member reads its next serial, its terminal makes the note, and it asks for issuance.
fn issue_note(member: Address, amount: u64, validity_ms: u64) -> Result<Note, String> {
    let serial: u64 = view(next_serial, (member,));
    let note = make_note(&TERMINAL_KEY, member, amount, serial, now() + validity_ms);
    let got: u64 = call(member, issue, (amount, serial, note.expiry_ms, commitment(&note)))?;
    assert_eq!(got, serial);
    Ok(note)
}

fn commit(who: Address, note: &Note, payee: Address) -> Result<(), String> {
    call(who, commit_redeem, (redeem_hash(note, &payee),))
}

fn reveal(who: Address, note: &Note, payee: Address) -> Result<u64, String> {
    call(who, reveal_redeem, (*note, payee))
}

/// Commit, next block, reveal.
fn redeem(who: Address, note: &Note, payee: Address) -> Result<u64, String> {
    commit(who, note, payee)?;
    next_block();
    reveal(who, note, payee)
}

fn bal(who: Address) -> u64 {
    view(balance, (who,))
}

fn totals_now() -> Totals {
    view(totals, ())
}

#[test]
fn the_spec_credit_example() {
    setup();
    let note = issue_note(USER, 25_000, 10 * MINUTE_MS).unwrap();
    assert_eq!(note.serial, 1);
    assert_eq!(bal(USER), 75_000);
    assert_eq!(totals_now(), Totals { supply: 100_000, collateral: 25_000 });
    let record: Option<NoteRecord> = view(types_note_view(), (USER, 1u64));
    assert_eq!(
        record,
        Some(NoteRecord {
            amount: 25_000,
            expiry_ms: note.expiry_ms,
            commitment: commitment(&note),
            issued_height: 1
        })
    );
    assert_eq!(view::<_, u64>(next_serial, (USER,)), 2);
    let events = test_env::take_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].topic, "issued");
    assert_eq!(
        events[0].decode::<Issued>(),
        Issued {
            member: USER,
            serial: 1,
            amount: 25_000,
            expiry_ms: note.expiry_ms,
            commitment: commitment(&note),
            balance: 75_000
        }
    );
    // The ledger holds the commitment only: the MAC appears nowhere in storage.
    let mac = note.mac;
    assert!(test_env::storage().values().all(|v| !v.windows(32).any(|w| w == mac)));
}

/// `note` the view, not the type.
fn types_note_view() -> test_env::Method {
    note
}

#[test]
fn refusals_consume_no_serial_and_move_no_money() {
    setup();
    let storage = test_env::storage();
    for amount in [100_000u64, 100_001, u64::MAX] {
        let err = issue_note(USER, amount, MINUTE_MS).unwrap_err();
        assert!(err.starts_with("credit refused: amount"), "{err}");
        assert!(err.contains("not less than the deposit balance 100000"), "{err}");
    }
    assert_eq!(issue_note(USER, 0, MINUTE_MS).unwrap_err(), "the amount must be positive");
    // A member with no deposit at all is refused too.
    assert!(issue_note(BOB, 1, MINUTE_MS).unwrap_err().starts_with("credit refused"));
    assert_eq!(test_env::storage(), storage);
    assert!(test_env::events().is_empty());
    // The next successful issuance still gets serial 1.
    assert_eq!(issue_note(USER, 99_999, MINUTE_MS).unwrap().serial, 1);
    assert_eq!(bal(USER), 1);
}

#[test]
fn a_stale_serial_or_a_past_expiry_is_refused() {
    setup();
    issue_note(USER, 10, MINUTE_MS).unwrap();
    // A note made with serial 1 again (another issuance took it): refused, nothing consumed.
    let stale = make_note(&TERMINAL_KEY, USER, 10, 1, now() + MINUTE_MS);
    let err = call::<_, u64>(USER, issue, (10u64, 1u64, stale.expiry_ms, commitment(&stale)))
        .unwrap_err();
    assert_eq!(
        err,
        "serial 1 is not the member's next serial 2: make the note again with serial 2"
    );
    let ahead = make_note(&TERMINAL_KEY, USER, 10, 3, now() + MINUTE_MS);
    assert!(
        call::<_, u64>(USER, issue, (10u64, 3u64, ahead.expiry_ms, commitment(&ahead))).is_err()
    );
    let err = call::<_, u64>(USER, issue, (10u64, 2u64, now(), [0u8; 32])).unwrap_err();
    assert!(err.starts_with("expiry 1577836800000 is not after the block time"), "{err}");
    assert_eq!(view::<_, u64>(next_serial, (USER,)), 2);
    assert_eq!(issue_note(USER, 10, MINUTE_MS).unwrap().serial, 2);
}

#[test]
fn the_credit_rules() {
    setup_with(CreditRule::LessOrEqualBalance);
    call::<_, u64>(ISSUER_KEY, deposit, (USER, 100_000u64)).unwrap();
    assert!(issue_note(USER, 100_001, MINUTE_MS)
        .unwrap_err()
        .contains("is more than the deposit balance 100000"));
    issue_note(USER, 100_000, MINUTE_MS).unwrap();
    assert_eq!(bal(USER), 0);

    setup_with(CreditRule::MaxRatioPercent { percent: 50 });
    call::<_, u64>(ISSUER_KEY, deposit, (USER, 100_000u64)).unwrap();
    let err = issue_note(USER, 50_001, MINUTE_MS).unwrap_err();
    assert_eq!(err, "credit refused: amount 50001 is more than 50% of the deposit balance 100000");
    issue_note(USER, 50_000, MINUTE_MS).unwrap();
    // Half of what is left.
    assert!(issue_note(USER, 25_001, MINUTE_MS).is_err());
    issue_note(USER, 25_000, MINUTE_MS).unwrap();

    // The issuer changes the rule; nobody else may.
    let err = call::<_, ()>(USER, set_credit_rule, (CreditRule::LessOrEqualBalance,)).unwrap_err();
    assert_eq!(err, "unauthorised: only the issuer may change the credit rule");
    call::<_, ()>(ISSUER_KEY, set_credit_rule, (CreditRule::LessOrEqualBalance,)).unwrap();
    assert_eq!(view::<_, CreditRule>(credit_rule, ()), CreditRule::LessOrEqualBalance);
    issue_note(USER, 25_000, MINUTE_MS).unwrap();
    assert_eq!(bal(USER), 0);
}

#[test]
fn malformed_rules_and_a_second_init_are_refused() {
    test_env::reset();
    for percent in [0u8, 101, 255] {
        let err =
            call::<_, ()>(ISSUER_KEY, init, (ISSUER_KEY, CreditRule::MaxRatioPercent { percent }));
        assert_eq!(err.unwrap_err(), "MaxRatioPercent needs a percent from 1 to 100");
    }
    call::<_, ()>(ISSUER_KEY, init, (ISSUER_KEY, CreditRule::MaxRatioPercent { percent: 100 }))
        .unwrap();
    let err = call::<_, ()>(BOB, init, (BOB, CreditRule::LessThanBalance)).unwrap_err();
    assert_eq!(err, "already initialised");
    let err =
        call::<_, ()>(ISSUER_KEY, set_credit_rule, (CreditRule::MaxRatioPercent { percent: 0 },));
    assert_eq!(err.unwrap_err(), "MaxRatioPercent needs a percent from 1 to 100");
}

#[test]
fn only_the_issuer_credits_deposits_and_hands_over_its_role() {
    setup();
    let err = call::<_, u64>(USER, deposit, (USER, 1u64)).unwrap_err();
    assert_eq!(err, "unauthorised: only the issuer may credit deposits");
    let err = call::<_, ()>(BOB, set_issuer, (BOB,)).unwrap_err();
    assert_eq!(err, "unauthorised: only the issuer may hand over the issuer role");
    assert_eq!(
        call::<_, u64>(ISSUER_KEY, deposit, (BOB, 0u64)).unwrap_err(),
        "the amount must be positive"
    );
    call::<_, ()>(ISSUER_KEY, set_issuer, (CAROL,)).unwrap();
    assert_eq!(view::<_, Address>(issuer, ()), CAROL);
    assert!(call::<_, u64>(ISSUER_KEY, deposit, (BOB, 1u64)).is_err());
    assert_eq!(call::<_, u64>(CAROL, deposit, (BOB, 5u64)), Ok(5));
    let events = test_env::take_events();
    assert_eq!(events[0].decode::<Address>(), CAROL);
    assert_eq!(
        events[1].decode::<BalanceChange>(),
        BalanceChange { member: BOB, amount: 5, balance: 5 }
    );
    // The supply cannot overflow.
    let err = call::<_, u64>(CAROL, deposit, (BOB, u64::MAX)).unwrap_err();
    assert_eq!(err, "the total supply would overflow u64");
}

#[test]
fn members_withdraw_their_own_deposit() {
    setup();
    assert_eq!(call::<_, u64>(USER, withdraw, (30_000u64,)), Ok(70_000));
    let err = call::<_, u64>(USER, withdraw, (70_001u64,)).unwrap_err();
    assert_eq!(err, "insufficient deposit: balance 70000, withdrawal 70001");
    assert!(call::<_, u64>(BOB, withdraw, (1u64,)).is_err());
    assert_eq!(call::<_, u64>(USER, withdraw, (70_000u64,)), Ok(0));
    assert_eq!(totals_now(), Totals { supply: 0, collateral: 0 });
    let events = test_env::take_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].topic, "withdrawn");
    assert_eq!(
        events[1].decode::<BalanceChange>(),
        BalanceChange { member: USER, amount: 70_000, balance: 0 }
    );
}

#[test]
fn a_note_is_redeemed_once_by_commit_and_reveal() {
    setup();
    let note = issue_note(USER, 25_000, 10 * MINUTE_MS).unwrap();
    test_env::take_events();
    commit(BOB, &note, BOB).unwrap();
    // Not in the block of the commitment.
    let err = reveal(BOB, &note, BOB).unwrap_err();
    assert_eq!(err, "the reveal must come in a block after its commitment (committed at height 1)");
    assert_eq!(
        commit(BOB, &note, BOB).unwrap_err(),
        "this redemption is already committed by the caller"
    );
    next_block();
    assert_eq!(reveal(BOB, &note, BOB), Ok(25_000));
    assert_eq!((bal(USER), bal(BOB)), (75_000, 25_000));
    assert_eq!(totals_now(), Totals { supply: 100_000, collateral: 0 });
    assert_eq!(view::<_, Option<NoteRecord>>(types_note_view(), (USER, 1u64)), None);
    assert_eq!(view::<_, Option<u64>>(redeem_commit, (BOB, redeem_hash(&note, &BOB))), None);
    let events = test_env::take_events();
    assert_eq!(
        events.iter().map(|e| e.topic.as_str()).collect::<Vec<_>>(),
        ["redeem_committed", "redeemed"]
    );
    assert_eq!(
        events[0].decode::<RedeemCommitted>(),
        RedeemCommitted { committer: BOB, hash: redeem_hash(&note, &BOB), height: 1 }
    );
    assert_eq!(
        events[1].decode::<Redeemed>(),
        Redeemed { member: USER, serial: 1, amount: 25_000, payee: BOB, redeemer: BOB }
    );

    // The second redemption fails, whoever tries it, and pays nobody.
    let err = redeem(BOB, &note, BOB).unwrap_err();
    assert_eq!(err, std::format!("serial 1 of {USER} is already settled (redeemed or reclaimed)"));
    assert!(redeem(CAROL, &note, CAROL).unwrap_err().contains("already settled"));
    assert_eq!((bal(USER), bal(BOB), bal(CAROL)), (75_000, 25_000, 0));
}

#[test]
fn the_payee_may_differ_from_the_redeemer() {
    setup();
    let note = issue_note(USER, 1_000, MINUTE_MS).unwrap();
    assert_eq!(redeem(BOB, &note, CAROL), Ok(1_000));
    assert_eq!((bal(BOB), bal(CAROL)), (0, 1_000));
}

#[test]
fn a_note_seen_in_the_mempool_cannot_be_stolen() {
    setup();
    let note = issue_note(USER, 25_000, 10 * MINUTE_MS).unwrap();
    commit(BOB, &note, BOB).unwrap();
    // Eve copies Bob's commitment: that does not block Bob's (commitments are per committer) …
    call::<_, ()>(EVE, commit_redeem, (redeem_hash(&note, &BOB),)).unwrap();
    next_block();
    // … Bob's reveal is in the mempool; Eve sees the note and races it with her own payee: no
    // earlier commitment of hers to (note, Eve).
    let err = reveal(EVE, &note, EVE).unwrap_err();
    assert_eq!(
        err,
        std::format!(
            "no redemption commitment from {EVE} to this note and payee: call commit_redeem first"
        )
    );
    // A commitment made now, in the reveal's block, is too late.
    commit(EVE, &note, EVE).unwrap();
    assert!(reveal(EVE, &note, EVE)
        .unwrap_err()
        .starts_with("the reveal must come in a block after"));
    // Bob's reveal using Eve's copied commitment would still pay Bob; Eve can only help him.
    assert_eq!(reveal(BOB, &note, BOB), Ok(25_000));
    next_block();
    assert!(reveal(EVE, &note, EVE).unwrap_err().contains("already settled"));
    assert_eq!((bal(BOB), bal(EVE)), (25_000, 0));

    // The copied commitment used by the copier pays the payee it names, never the copier.
    let note2 = issue_note(USER, 5_000, 10 * MINUTE_MS).unwrap();
    commit(BOB, &note2, BOB).unwrap();
    call::<_, ()>(EVE, commit_redeem, (redeem_hash(&note2, &BOB),)).unwrap();
    next_block();
    assert_eq!(reveal(EVE, &note2, BOB), Ok(5_000));
    assert_eq!((bal(BOB), bal(EVE)), (30_000, 0));
}

#[test]
fn forged_and_foreign_notes_are_refused() {
    setup();
    let note = issue_note(USER, 25_000, MINUTE_MS).unwrap();
    // Everything but the MAC is public on the ledger; a guessed MAC does not match.
    let forged = Note { mac: [0x42; 32], ..note };
    assert_eq!(
        redeem(BOB, &forged, BOB).unwrap_err(),
        "not a genuine note: it does not match the commitment of serial 1"
    );
    // Made with another terminal's key.
    let other_key = make_note(&[0x01; 32], USER, 25_000, 1, note.expiry_ms);
    assert!(redeem(BOB, &other_key, BOB).unwrap_err().starts_with("not a genuine note"));
    // A larger amount on an otherwise copied note changes the commitment too.
    let inflated = Note { amount: 50_000, ..note };
    assert!(redeem(BOB, &inflated, BOB).unwrap_err().starts_with("not a genuine note"));
    let unknown = Note { serial: 9, ..note };
    assert_eq!(
        redeem(BOB, &unknown, BOB).unwrap_err(),
        std::format!("{USER} has issued no note with serial 9")
    );
    let foreign = Note { contract: Address([0x99; 32]), ..note };
    assert!(redeem(BOB, &foreign, BOB)
        .unwrap_err()
        .starts_with("the note is drawn on contract 9999"));
    assert_eq!(totals_now().collateral, 25_000);
    assert_eq!(redeem(BOB, &note, BOB), Ok(25_000));
}

#[test]
fn a_commitment_with_the_wrong_amount_is_refused_at_redemption() {
    setup();
    // A member that commits to a note of another amount than it locks cannot have it paid.
    let lying = make_note(&TERMINAL_KEY, USER, 50_000, 1, now() + MINUTE_MS);
    call::<_, u64>(USER, issue, (10u64, 1u64, lying.expiry_ms, commitment(&lying))).unwrap();
    assert_eq!(
        redeem(BOB, &lying, BOB).unwrap_err(),
        "the note's amount or expiry differ from its issuance"
    );
}

#[test]
fn an_all_zero_commitment_is_refused_at_issuance_and_consumes_nothing() {
    setup();
    let storage = test_env::storage();
    let expiry = now() + MINUTE_MS;
    assert_eq!(
        call::<_, u64>(USER, issue, (10u64, 1u64, expiry, [0u8; 32])),
        Err("malformed commitment: all zero bytes is no blake3 of a note (the terminal commits \
             to blake3(borsh(note)) of the note it made)"
            .into())
    );
    assert_eq!(test_env::storage(), storage);
    assert!(test_env::events().is_empty());
    // The serial is still free for the real note.
    assert_eq!(issue_note(USER, 10, MINUTE_MS).unwrap().serial, 1);
}

#[test]
fn a_commitment_to_no_note_only_locks_the_members_own_collateral() {
    setup();
    // Any other 32 bytes look like a hash: the chain accepts them, nobody can ever present a
    // matching note, and after the expiry the member (only) gets its collateral back.
    let expiry = now() + MINUTE_MS;
    call::<_, u64>(USER, issue, (10u64, 1u64, expiry, [0xFFu8; 32])).unwrap();
    let guess = make_note(&TERMINAL_KEY, USER, 10, 1, expiry);
    assert!(redeem(BOB, &guess, BOB).unwrap_err().starts_with("not a genuine note"));
    test_env::set_block_time_ms(expiry);
    assert_eq!(call::<_, u64>(USER, reclaim, (USER, 1u64)), Ok(10));
    assert_eq!(bal(USER), 100_000);
    assert_eq!(totals_now(), Totals { supply: 100_000, collateral: 0 });
}

#[test]
fn expired_notes_are_not_redeemed_and_their_collateral_is_reclaimed() {
    setup();
    let note = issue_note(USER, 25_000, MINUTE_MS).unwrap();
    commit(BOB, &note, BOB).unwrap();
    test_env::set_block_height(2);
    // Not before the expiry.
    let err = call::<_, u64>(USER, reclaim, (USER, 1u64)).unwrap_err();
    assert!(err.starts_with("serial 1 has not expired: it can be redeemed until"), "{err}");
    test_env::set_block_time_ms(note.expiry_ms);
    let err = reveal(BOB, &note, BOB).unwrap_err();
    assert!(err.starts_with(&std::format!("the note expired at {}", note.expiry_ms)), "{err}");
    // Only the member or the issuer.
    let err = call::<_, u64>(BOB, reclaim, (USER, 1u64)).unwrap_err();
    assert_eq!(
        err,
        "unauthorised: only the issuing member or the issuer may reclaim a note's collateral"
    );
    assert_eq!(call::<_, u64>(USER, reclaim, (USER, 1u64)), Ok(25_000));
    assert_eq!(bal(USER), 100_000);
    assert_eq!(totals_now(), Totals { supply: 100_000, collateral: 0 });
    assert!(call::<_, u64>(USER, reclaim, (USER, 1u64)).unwrap_err().contains("already settled"));
    assert!(reveal(BOB, &note, BOB).unwrap_err().contains("already settled"));
    let events = test_env::take_events();
    let last = events.last().unwrap();
    assert_eq!(last.topic, "reclaimed");
    assert_eq!(
        last.decode::<Reclaimed>(),
        Reclaimed { member: USER, serial: 1, amount: 25_000, by: USER }
    );

    // The issuer reclaims on the member's behalf; the money still goes to the member.
    let note2 = issue_note(USER, 5_000, MINUTE_MS).unwrap();
    test_env::set_block_time_ms(note2.expiry_ms + 1);
    assert_eq!(call::<_, u64>(ISSUER_KEY, reclaim, (USER, 2u64)), Ok(5_000));
    assert_eq!((bal(USER), bal(ISSUER_KEY)), (100_000, 0));
    assert_eq!(
        call::<_, u64>(USER, reclaim, (USER, 3u64)).unwrap_err(),
        std::format!("{USER} has issued no note with serial 3")
    );
}

#[test]
fn the_abi_matches_the_code() {
    let abi = abi::parse(ABI_JSON).unwrap();
    test_env::check_methods(&abi, METHODS).unwrap();
    test_env::reset();
    let issuer_hex = ISSUER_KEY.to_string();
    test_env::set_sender(ISSUER_KEY);
    assert_eq!(
        invoke_json(
            &abi,
            METHODS,
            "init",
            json!([issuer_hex, {"MaxRatioPercent": {"percent": 90}}])
        ),
        Ok(json!(null))
    );
    assert_eq!(
        invoke_json(&abi, METHODS, "credit_rule", json!([])),
        Ok(json!({"MaxRatioPercent": {"percent": 90}}))
    );
    assert_eq!(
        invoke_json(&abi, METHODS, "set_credit_rule", json!(["LessThanBalance"])),
        Ok(json!(null))
    );
    assert_eq!(
        invoke_json(&abi, METHODS, "deposit", json!([USER.to_string(), 100_000])),
        Ok(json!(100_000))
    );
    let note = make_note(&TERMINAL_KEY, USER, 25_000, 1, now() + MINUTE_MS);
    test_env::set_sender(USER);
    let args = json!([25_000, 1, note.expiry_ms, hex(&commitment(&note))]);
    assert_eq!(invoke_json(&abi, METHODS, "issue", args), Ok(json!(1)));
    assert_eq!(
        invoke_json(&abi, METHODS, "note", json!([USER.to_string(), 1])),
        Ok(
            json!({"amount": 25_000, "expiry_ms": note.expiry_ms, "commitment": hex(&commitment(&note)), "issued_height": 1})
        )
    );
    test_env::set_sender(BOB);
    let hash = hex(&redeem_hash(&note, &BOB));
    assert_eq!(invoke_json(&abi, METHODS, "commit_redeem", json!([hash])), Ok(json!(null)));
    assert_eq!(
        invoke_json(&abi, METHODS, "redeem_commit", json!([BOB.to_string(), hash])),
        Ok(json!(1))
    );
    next_block();
    let note_json = json!({
        "contract": HERE.to_string(), "amount": 25_000, "user": USER.to_string(), "serial": 1,
        "expiry_ms": note.expiry_ms, "mac": hex(&note.mac)
    });
    assert_eq!(
        invoke_json(&abi, METHODS, "reveal_redeem", json!([note_json, BOB.to_string()])),
        Ok(json!(25_000))
    );
    assert_eq!(
        invoke_json(&abi, METHODS, "totals", json!([])),
        Ok(json!({"supply": 100_000, "collateral": 0}))
    );
    assert_eq!(invoke_json(&abi, METHODS, "balance", json!([BOB.to_string()])), Ok(json!(25_000)));
    assert_eq!(invoke_json(&abi, METHODS, "next_serial", json!([USER.to_string()])), Ok(json!(2)));
    assert_eq!(invoke_json(&abi, METHODS, "issuer", json!([])), Ok(json!(issuer_hex)));
    test_env::set_sender(BOB);
    assert_eq!(invoke_json(&abi, METHODS, "withdraw", json!([1])), Ok(json!(24_999)));
    let topics: Vec<String> = test_env::events_json(&abi).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        topics,
        [
            "issuer_changed",
            "credit_rule_changed",
            "credit_rule_changed",
            "deposited",
            "issued",
            "redeem_committed",
            "redeemed",
            "withdrawn"
        ]
    );
    // Map keys follow the abi: `prefix ‖ borsh(key)`.
    assert_eq!(
        abi.map_key("deposits", &json!(BOB.to_string())).unwrap(),
        DEPOSITS.storage_key(&BOB)
    );
    assert_eq!(
        abi.map_key("notes", &json!([USER.to_string(), 1])).unwrap(),
        NOTES.storage_key(&(USER, 1))
    );
    assert_eq!(
        abi.map_key("next_serial", &json!(USER.to_string())).unwrap(),
        NEXT_SERIAL.storage_key(&USER)
    );
    let key = abi.map_key("redeem_commits", &json!([BOB.to_string(), hash])).unwrap();
    assert_eq!(key, REDEEM_COMMITS.storage_key(&(BOB, redeem_hash(&note, &BOB))));
}

/// The same vector is asserted by `kessai-notes` (node/notes): the terminal and the contract
/// agree on the note's bytes, its commitment and the redeem hash.
#[test]
fn note_bytes_and_hashes_match_the_client_vector() {
    let note = make_note(&[0x7E; 32], Address([0xD2; 32]), 25_000, 1, 1_577_837_400_000);
    let bytes = kessai_sdk::to_borsh(&note);
    assert_eq!(bytes.len(), 120);
    assert_eq!(hex(&note.mac), MAC_VECTOR);
    assert_eq!(hex(&commitment(&note)), COMMITMENT_VECTOR);
    assert_eq!(hex(&redeem_hash(&note, &Address([0xB0; 32]))), REDEEM_VECTOR);
}

const MAC_VECTOR: &str = "469da7803d968d3076be6cf0e893915890196d411ba8b3a7e86c566f77f0c16c";
const COMMITMENT_VECTOR: &str = "7f0ee80257982dd9384b9f964f9f7cbb739f0403c61946a8f1e8575bb647fa53";
const REDEEM_VECTOR: &str = "16bacd36639242b1915aabc19a9b524d2e2f7e968057fcf7c2f2d418a7e194e1";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| std::format!("{b:02x}")).collect()
}

/// One step of a random history.
#[derive(Clone, Debug)]
enum Op {
    Deposit {
        member: usize,
        amount: u64,
    },
    Withdraw {
        member: usize,
        amount: u64,
    },
    Issue {
        member: usize,
        amount: u64,
        validity_ms: u64,
    },
    /// Redeem note number `note` (modulo the notes made so far), paid to `payee`.
    Redeem {
        redeemer: usize,
        note: usize,
        payee: usize,
        wait: bool,
    },
    /// Reveal someone else's committed note with another payee (a front-runner).
    Steal {
        thief: usize,
        note: usize,
    },
    Reclaim {
        by: usize,
        note: usize,
    },
    /// An issuance whose commitment is all zero bytes (a client that sent an unset field).
    IssueMalformed {
        member: usize,
        amount: u64,
    },
    Wait {
        ms: u64,
    },
}

const ACTORS: [Address; 4] = [USER, BOB, CAROL, EVE];

fn op() -> impl Strategy<Value = Op> {
    let who = 0..ACTORS.len();
    prop_oneof![
        (who.clone(), 1..200_000u64).prop_map(|(member, amount)| Op::Deposit { member, amount }),
        (who.clone(), 1..200_000u64).prop_map(|(member, amount)| Op::Withdraw { member, amount }),
        (who.clone(), 0..200_000u64, 1..5 * MINUTE_MS)
            .prop_map(|(member, amount, validity_ms)| Op::Issue { member, amount, validity_ms }),
        (who.clone(), any::<usize>(), who.clone(), any::<bool>())
            .prop_map(|(redeemer, note, payee, wait)| Op::Redeem { redeemer, note, payee, wait }),
        (who.clone(), any::<usize>()).prop_map(|(thief, note)| Op::Steal { thief, note }),
        (0..ACTORS.len() + 1, any::<usize>()).prop_map(|(by, note)| Op::Reclaim { by, note }),
        (who.clone(), 0..200_000u64)
            .prop_map(|(member, amount)| Op::IssueMalformed { member, amount }),
        (0..3 * MINUTE_MS).prop_map(|ms| Op::Wait { ms }),
    ]
}

/// Sum of every deposit and of every outstanding note, straight from storage.
fn storage_sums() -> (u128, u128) {
    let mut deposits = 0u128;
    let mut notes = 0u128;
    for (key, value) in test_env::storage() {
        if key.starts_with(DEPOSITS.prefix()) {
            deposits += borsh::from_slice::<u64>(&value).unwrap() as u128;
        } else if key.starts_with(NOTES.prefix()) {
            notes += borsh::from_slice::<NoteRecord>(&value).unwrap().amount as u128;
        }
    }
    (deposits, notes)
}

fn run_op(op: &Op, notes: &mut Vec<Note>, net_deposits: &mut u128) {
    let pick = |notes: &Vec<Note>, i: usize| (!notes.is_empty()).then(|| notes[i % notes.len()]);
    match *op {
        Op::Deposit { member, amount } => {
            call::<_, u64>(ISSUER_KEY, deposit, (ACTORS[member], amount)).unwrap();
            *net_deposits += amount as u128;
        }
        Op::Withdraw { member, amount } => {
            if call::<_, u64>(ACTORS[member], withdraw, (amount,)).is_ok() {
                *net_deposits -= amount as u128;
            }
        }
        Op::Issue { member, amount, validity_ms } => {
            let before: u64 = view(next_serial, (ACTORS[member],));
            match issue_note(ACTORS[member], amount, validity_ms) {
                Ok(note) => notes.push(note),
                Err(_) => assert_eq!(view::<_, u64>(next_serial, (ACTORS[member],)), before),
            }
        }
        Op::Redeem { redeemer, note, payee, wait } => {
            if let Some(n) = pick(notes, note) {
                if commit(ACTORS[redeemer], &n, ACTORS[payee]).is_ok() && wait {
                    next_block();
                }
                let paid_before = bal(ACTORS[payee]);
                let hash = redeem_hash(&n, &ACTORS[payee]);
                let committed = view::<_, Option<u64>>(redeem_commit, (ACTORS[redeemer], hash));
                if let Ok(amount) = reveal(ACTORS[redeemer], &n, ACTORS[payee]) {
                    let height = test_env::with(|env| env.block_height);
                    assert!(
                        committed.unwrap() < height,
                        "a reveal in the commitment's block succeeded"
                    );
                    assert_eq!(amount, n.amount);
                    let payee_is_user = ACTORS[payee] == n.user;
                    assert!(payee_is_user || bal(ACTORS[payee]) == paid_before + amount);
                }
            }
        }
        Op::Steal { thief, note } => {
            if let Some(n) = pick(notes, note) {
                // No commitment of the thief to (note, thief) was made in an earlier block.
                let thief = ACTORS[thief];
                let before = bal(thief);
                let committed =
                    view::<_, Option<u64>>(redeem_commit, (thief, redeem_hash(&n, &thief)));
                if committed.is_none() {
                    assert!(reveal(thief, &n, thief).is_err());
                    assert_eq!(bal(thief), before);
                }
            }
        }
        Op::Reclaim { by, note } => {
            if let Some(n) = pick(notes, note) {
                let by = if by == ACTORS.len() { ISSUER_KEY } else { ACTORS[by] };
                let outstanding =
                    view::<_, Option<NoteRecord>>(types_note_view(), (n.user, n.serial)).is_some();
                let result = call::<_, u64>(by, reclaim, (n.user, n.serial));
                let allowed =
                    outstanding && now() >= n.expiry_ms && (by == n.user || by == ISSUER_KEY);
                assert_eq!(result.is_ok(), allowed, "{result:?}");
            }
        }
        Op::IssueMalformed { member, amount } => {
            let member = ACTORS[member];
            let storage = test_env::storage();
            let serial: u64 = view(next_serial, (member,));
            let args = (amount, serial, now() + MINUTE_MS, [0u8; 32]);
            assert!(call::<_, u64>(member, issue, args).is_err());
            assert_eq!(test_env::storage(), storage);
        }
        Op::Wait { ms } => {
            test_env::with(|env| {
                env.block_height += 1;
                env.block_time_ms += ms;
            });
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Money is neither created nor destroyed: every deposit plus the collateral is the supply,
    /// which only deposits and withdrawals change; the collateral is exactly the outstanding notes;
    /// no note is paid twice.
    #[test]
    fn random_histories_conserve_money(ops in proptest::collection::vec(op(), 1..60)) {
        setup_with(CreditRule::LessThanBalance);
        let mut notes = vec![];
        let mut net_deposits = 0u128;
        let mut paid = 0usize;
        for op in &ops {
            run_op(op, &mut notes, &mut net_deposits);
            let totals = totals_now();
            let (deposits, outstanding) = storage_sums();
            prop_assert_eq!(totals.supply as u128, net_deposits);
            prop_assert_eq!(deposits + totals.collateral as u128, net_deposits);
            prop_assert_eq!(outstanding, totals.collateral as u128);
            let redeemed = test_env::events().iter().filter(|e| e.topic == "redeemed" || e.topic == "reclaimed").count();
            prop_assert!(redeemed >= paid);
            paid = redeemed;
        }
        // Each note settled at most once.
        let mut settled: Vec<(Address, u64)> = test_env::events()
            .iter()
            .filter_map(|e| match e.topic.as_str() {
                "redeemed" => { let r: Redeemed = e.decode(); Some((r.member, r.serial)) }
                "reclaimed" => { let r: Reclaimed = e.decode(); Some((r.member, r.serial)) }
                _ => None,
            })
            .collect();
        let count = settled.len();
        settled.sort();
        settled.dedup();
        prop_assert_eq!(settled.len(), count);
    }
}
