//! The contract natively, through the SDK's test environment: every method invoked with borsh
//! arguments as the node would; failures roll back.

use super::*;
use kessai_sdk::test_env::{self, abi, invoke, invoke_json, invoke_view};
use proptest::prelude::*;
use serde_json::json;
use std::vec;

const ADMIN: Address = Address([0xAD; 32]);
/// The patent's terminals 100, 200, 300, 400.
const T100: Address = Address([0x10; 32]);
const T200: Address = Address([0x20; 32]);
const T300: Address = Address([0x30; 32]);
const T400: Address = Address([0x40; 32]);
const STRANGER: Address = Address([0x55; 32]);
const ORDER: [Address; 4] = [T100, T200, T300, T400];
const POSITIONS: [i128; 4] = [40, -80, 60, -20];
/// Every participant starts with this settlement balance.
const FUNDS: u128 = 1_000;
const DEADLINE: Deadline = Deadline::Height { height: 100 };
const SALT: Hash = [7; 32];

/// The spec's eight instructions: (sender, receiver, amount).
const SPEC: [(Address, Address, i128); 8] = [
    (T100, T200, 50),
    (T200, T300, 30),
    (T300, T400, 20),
    (T200, T100, 60),
    (T300, T100, 10),
    (T400, T100, 20),
    (T200, T300, 40),
    (T400, T300, 20),
];

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

fn fails<A: borsh::BorshSerialize>(who: Address, method: test_env::Method, args: A) -> String {
    call::<_, ()>(who, method, args).unwrap_err()
}

fn view<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    method: test_env::Method,
    args: A,
) -> R {
    invoke_view(method, &args).unwrap()
}

fn get_cycle(id: u64) -> Cycle {
    view::<_, Option<Cycle>>(cycle, (id,)).unwrap()
}

fn balances() -> Vec<u128> {
    ORDER.iter().map(|p| view(balance, (*p,))).collect()
}

/// Initialised, every terminal funded with `FUNDS`, at height 10.
fn setup() {
    test_env::reset();
    test_env::set_block_height(10);
    ok(ADMIN, init, (ADMIN,));
    for p in ORDER {
        call::<_, u128>(ADMIN, fund, (p, FUNDS)).unwrap();
    }
    test_env::take_events();
}

fn open(relay_kind: RelayKind, mode: Mode) -> u64 {
    call(T100, open_cycle, (ORDER.to_vec(), relay_kind, mode, DEADLINE)).unwrap()
}

fn register_spec(id: u64) {
    for (k, (from, to, amount)) in SPEC.iter().enumerate() {
        let got: u64 = call(*from, register_instruction, (id, *to, *amount)).unwrap();
        assert_eq!(got, k as u64 + 1);
    }
}

fn all_ready(id: u64) {
    for (k, p) in ORDER.iter().enumerate() {
        let phase: Phase = call(*p, ready, (id,)).unwrap();
        assert_eq!(phase, if k == 3 { Phase::Relay } else { Phase::Open });
    }
}

fn relay_all(id: u64, amounts: &[i128]) {
    for (k, a) in amounts.iter().enumerate() {
        ok(ORDER[k], relay, (id, *a));
    }
}

fn mask_hash(r: i128) -> Hash {
    kessai_sdk::blake3(&mask_preimage(r, &SALT))
}

fn assert_settled_with_spec_positions(id: u64) {
    let c = get_cycle(id);
    assert_eq!(c.phase, Phase::Settled);
    assert_eq!(c.positions, POSITIONS.to_vec());
    let deltas: Vec<i128> = balances().iter().map(|b| *b as i128 - FUNDS as i128).collect();
    assert_eq!(deltas, POSITIONS.to_vec(), "the netting transactions reproduce the positions");
    assert_eq!(view::<_, u128>(total_balance, ()), 4 * FUNDS);
}

#[cfg(feature = "v2")]
mod v2;

#[cfg(feature = "v2")]
const V2_METHODS: &[(&str, test_env::Method)] = crate::v2::METHODS;
#[cfg(not(feature = "v2"))]
const V2_METHODS: &[(&str, test_env::Method)] = &[];

/// Every exported method: version 1's, and version 2's own with the `v2` feature.
fn all_methods() -> Vec<(&'static str, test_env::Method)> {
    [METHODS, V2_METHODS].concat()
}

#[test]
fn the_abi_lists_the_methods_and_parses() {
    let parsed = abi::parse(ABI_JSON).unwrap();
    abi::check_methods(&parsed, &all_methods()).unwrap();
}

#[test]
fn the_spec_instructions_give_the_spec_positions_from_each_own_instructions() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    let got: Vec<i128> = ORDER.iter().map(|p| view(position, (id, *p))).collect();
    assert_eq!(got, POSITIONS.to_vec());
    // Terminal 100 is party to ids 1, 4, 5, 6 only.
    let own: Vec<Instruction> = view(instructions_of, (id, T100));
    assert_eq!(own.iter().map(|i| i.id).collect::<Vec<_>>(), vec![1, 4, 5, 6]);
}

#[test]
fn embodiment_1_relays_the_spec_amounts_and_settles() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    all_ready(id);
    let expected = [-40, 40, -20];
    for (k, a) in expected.iter().enumerate() {
        assert_eq!(view::<_, Option<i128>>(expected_relay, (id,)), Some(*a));
        ok(ORDER[k], relay, (id, *a));
    }
    assert_eq!(balances(), vec![FUNDS; 4], "nothing moves before the relay closes");
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Settled));
    assert_settled_with_spec_positions(id);
    let relayed: Vec<NettingTransaction> =
        test_env::events().iter().filter(|e| e.topic == "relayed").map(|e| e.decode()).collect();
    assert_eq!(
        relayed.iter().map(|t| (t.from, t.to, t.amount)).collect::<Vec<_>>(),
        vec![(T100, T200, -40), (T200, T300, 40), (T300, T400, -20)]
    );
}

#[test]
fn embodiment_2_prose_convention_r_1000() {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Public);
    register_spec(id);
    ok(T100, commit_mask, (id, mask_hash(1000)));
    all_ready(id);
    assert_eq!(view::<_, Option<i128>>(expected_relay, (id,)), None, "a_1 hides r");
    relay_all(id, &[960, 1040, 980, 1000]);
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, 1000i128, SALT)), Ok(Phase::Settled));
    assert_eq!(get_cycle(id).mask, Some(1000));
    assert_settled_with_spec_positions(id);
}

#[test]
fn embodiment_2_figure_convention_is_the_ring_masked_with_minus_r() {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Public);
    register_spec(id);
    ok(T100, commit_mask, (id, mask_hash(-1000)));
    all_ready(id);
    relay_all(id, &[-1040, -960, -1020, -1000]);
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, -1000i128, SALT)), Ok(Phase::Settled));
    assert_settled_with_spec_positions(id);
}

/// Private ring: the contract cannot check steps, so the closing check decides.
fn private_ring_closing_on(r: i128, amounts: &[i128]) -> Phase {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Private);
    ok(T100, commit_mask, (id, mask_hash(r)));
    all_ready(id);
    relay_all(id, amounts);
    call(T100, reveal_mask, (id, r, SALT)).unwrap()
}

#[test]
fn the_ring_closes_on_plus_r_and_not_on_minus_r() {
    assert_eq!(private_ring_closing_on(1000, &[960, 1040, 980, 1000]), Phase::Settled);
    assert_eq!(private_ring_closing_on(1000, &[960, 1040, 980, -1000]), Phase::Rejected);
    assert_eq!(balances(), vec![FUNDS; 4], "a rejected ring settles nothing");
    let rejected: CycleRejected = test_env::events().last().unwrap().decode();
    assert_eq!((rejected.expected, rejected.got), (1000, -1000));
    // The other direction: masked with −1000, closing on +1000 is refused too.
    assert_eq!(private_ring_closing_on(-1000, &[-1040, -960, -1020, -1000]), Phase::Settled);
    assert_eq!(private_ring_closing_on(-1000, &[-1040, -960, -1020, 1000]), Phase::Rejected);
}

#[test]
fn in_public_mode_a_ring_closing_on_minus_r_is_refused_at_the_step() {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Public);
    register_spec(id);
    ok(T100, commit_mask, (id, mask_hash(1000)));
    all_ready(id);
    relay_all(id, &[960, 1040, 980]);
    let e = fails(T400, relay, (id, -1000i128));
    assert_eq!(
        e,
        "relay step 3 carries -1000: the received amount offset against the sender's own \
         position gives 1000"
    );
}

#[test]
fn a_wrong_first_amount_in_a_public_ring_is_caught_by_the_closing_check() {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Public);
    register_spec(id);
    ok(T100, commit_mask, (id, mask_hash(1000)));
    all_ready(id);
    // t_1 sends 961 (its position is 40, not 39); everyone after offsets correctly.
    relay_all(id, &[961, 1041, 981, 1001]);
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, 1000i128, SALT)), Ok(Phase::Rejected));
    assert_eq!(balances(), vec![FUNDS; 4]);
}

#[test]
fn the_mask_must_match_its_commitment() {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Public);
    register_spec(id);
    all_ready(id);
    assert_eq!(
        fails(T100, relay, (id, 960i128)),
        "commit the mask (commit_mask) before the first netting transaction"
    );
    assert_eq!(
        fails(T200, commit_mask, (id, mask_hash(1000))),
        format!("only the first participant {T100} commits the mask")
    );
    ok(T100, commit_mask, (id, mask_hash(1000)));
    assert_eq!(
        fails(T100, commit_mask, (id, mask_hash(5))),
        "the mask of cycle 1 is already committed"
    );
    relay_all(id, &[960, 1040, 980, 1000]);
    assert_eq!(
        call::<_, Phase>(T100, reveal_mask, (id, 999i128, SALT)),
        Err("r and salt do not match the mask commitment".into())
    );
    assert_eq!(
        call::<_, Phase>(T100, reveal_mask, (id, 1000i128, [8u8; 32])),
        Err("r and salt do not match the mask commitment".into())
    );
    assert_eq!(
        call::<_, Phase>(T200, reveal_mask, (id, 1000i128, SALT)),
        Err(format!("only the first participant {T100} reveals the mask"))
    );
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, 1000i128, SALT)), Ok(Phase::Settled));
}

#[test]
fn bilateral_50_and_40_settle_as_one_payment_of_10() {
    setup();
    let (a, b, c) = (T100, T200, T300);
    let id: u64 =
        call(a, open_cycle, (vec![a, b, c], RelayKind::Chained, Mode::Public, DEADLINE)).unwrap();
    call::<_, u64>(a, register_instruction, (id, b, 50i128)).unwrap();
    call::<_, u64>(b, register_instruction, (id, a, 40i128)).unwrap();
    for p in [a, b, c] {
        call::<_, Phase>(p, ready, (id,)).unwrap();
    }
    ok(a, relay, (id, 10i128)); // A pays B 10
    ok(b, relay, (id, 0i128)); // nothing left for C
    assert_eq!(call::<_, Phase>(c, close, (id, 0i128)), Ok(Phase::Settled));
    assert_eq!(balances()[..3], [FUNDS - 10, FUNDS + 10, FUNDS]);
}

#[test]
fn zero_relays_still_relay_and_settle_nothing() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    all_ready(id);
    relay_all(id, &[0, 0, 0]);
    assert_eq!(call::<_, Phase>(T400, close, (id, 0i128)), Ok(Phase::Settled));
    assert_eq!(balances(), vec![FUNDS; 4]);
}

#[test]
fn instruction_amounts_are_signed_zero_counts_and_both_signs_are_bounded() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    // Zero: an ordinary instruction that moves nothing.
    assert_eq!(call::<_, u64>(T100, register_instruction, (id, T200, 0i128)), Ok(1));
    let zero = Instruction { id: 1, sender: T100, receiver: T200, amount: 0 };
    assert_eq!(view::<_, Option<Instruction>>(instruction, (id, 1u64)), Some(zero));
    assert_eq!(view::<_, i128>(position, (id, T100)), 0);
    // Negative: T200 would pay T100, so it waits for T200 and counts in no position yet.
    assert_eq!(call::<_, u64>(T100, register_instruction, (id, T200, -5i128)), Ok(2));
    let negative = Instruction { id: 2, sender: T100, receiver: T200, amount: -5 };
    assert_eq!(view::<_, Option<Instruction>>(instruction, (id, 2u64)), None);
    assert_eq!(view::<_, Option<Instruction>>(pending_instruction, (id, 2u64)), Some(negative));
    assert_eq!(view::<_, i128>(position, (id, T100)), 0);
    assert_eq!(view::<_, i128>(position, (id, T200)), 0);
    for too_big in [MAX_INSTRUCTION_AMOUNT + 1, -MAX_INSTRUCTION_AMOUNT - 1, i128::MIN, i128::MAX] {
        assert_eq!(
            call::<_, u64>(T100, register_instruction, (id, T200, too_big)),
            Err(format!(
                "amount {too_big} is over the limit {MAX_INSTRUCTION_AMOUNT} in absolute value"
            ))
        );
    }
    assert_eq!(
        call::<_, u64>(T100, register_instruction, (id, T100, 5i128)),
        Err("an instruction needs two different participants".into())
    );
    assert_eq!(
        call::<_, u64>(T100, register_instruction, (id, STRANGER, -5i128)),
        Err(format!("{STRANGER} is not a participant of cycle 1"))
    );
    assert_eq!(
        call::<_, u64>(STRANGER, register_instruction, (id, T100, 5i128)),
        Err(format!("{STRANGER} is not a participant of cycle 1"))
    );
}

#[test]
fn a_negative_instruction_counts_only_once_its_payer_acknowledges_it() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    // The spec's instruction 4 (200 → 100, 60) as 100 sees it: (100 → 200, −60).
    let four: u64 = call(T100, register_instruction, (id, T200, -60i128)).unwrap();
    let waiting = |who: Address| {
        format!(
            "{who} is party to 1 unacknowledged negative instruction(s): the payer acknowledges \
             or refuses them in cycle 1"
        )
    };
    assert_eq!(call::<_, Phase>(T200, ready, (id,)), Err(waiting(T200)));
    assert_eq!(call::<_, Phase>(T100, ready, (id,)), Err(waiting(T100)));
    // Neither the payee nor a third participant can make T200 pay.
    for who in [T100, T300] {
        assert_eq!(
            fails(who, acknowledge_instruction, (id, four)),
            format!("only the payer {T200} may acknowledge instruction 1")
        );
    }
    assert_eq!(
        fails(T300, cancel_instruction, (id, four)),
        format!("{T300} is not a party to instruction 1")
    );
    assert_eq!(view::<_, i128>(position, (id, T200)), 0);
    ok(T200, acknowledge_instruction, (id, four));
    assert_eq!(
        fails(T200, acknowledge_instruction, (id, four)),
        "no pending instruction 1 in cycle 1".to_string()
    );
    assert_eq!(view::<_, i128>(position, (id, T100)), 60);
    assert_eq!(view::<_, i128>(position, (id, T200)), -60);
    assert_eq!(view::<_, Option<Instruction>>(pending_instruction, (id, four)), None);
    assert_eq!(view::<_, Vec<Instruction>>(instructions_of, (id, T200)).len(), 1);
    // Counted, it is the payer's (T200's) to cancel, not the payee's.
    assert_eq!(
        fails(T100, cancel_instruction, (id, four)),
        format!("only the payer {T200} may cancel instruction 1")
    );
    // The receiver refuses a negative instruction: it is gone and holds nobody's `ready`.
    let refused: u64 = call(T100, register_instruction, (id, T300, -10i128)).unwrap();
    ok(T300, cancel_instruction, (id, refused));
    assert_eq!(view::<_, Option<Instruction>>(pending_instruction, (id, refused)), None);
    assert_eq!(view::<_, i128>(position, (id, T300)), 0);
    // The registrant takes one back.
    let back: u64 = call(T300, register_instruction, (id, T400, -10i128)).unwrap();
    ok(T300, cancel_instruction, (id, back));
    assert_eq!(view::<_, i128>(position, (id, T400)), 0);
    let events: Vec<String> = test_env::events().iter().map(|e| e.topic.clone()).collect();
    assert_eq!(
        events,
        [
            "cycle_opened",
            "instruction_proposed",
            "instruction_registered",
            "instruction_proposed",
            "instruction_cancelled",
            "instruction_proposed",
            "instruction_cancelled"
        ]
    );
    all_ready(id);
    // The payer withdraws it (a fresh cycle: registration above is closed).
    let id = open(RelayKind::Chained, Mode::Public);
    let mine: u64 = call(T100, register_instruction, (id, T200, -60i128)).unwrap();
    ok(T200, acknowledge_instruction, (id, mine));
    ok(T200, cancel_instruction, (id, mine));
    assert_eq!(view::<_, i128>(position, (id, T200)), 0);
}

/// The spec's instructions with 4 and 8 registered by their payees as negative amounts (and
/// acknowledged by their payers), plus a zero instruction.
fn register_spec_signed(id: u64) {
    for (k, (from, to, amount)) in SPEC.iter().enumerate() {
        let got: u64 = if k == 3 || k == 7 {
            let got = call(*to, register_instruction, (id, *from, -*amount)).unwrap();
            ok(*from, acknowledge_instruction, (id, got));
            got
        } else {
            call(*from, register_instruction, (id, *to, *amount)).unwrap()
        };
        assert_eq!(got, k as u64 + 1);
    }
    call::<_, u64>(T400, register_instruction, (id, T100, 0i128)).unwrap();
}

#[test]
fn signed_and_zero_instructions_settle_the_spec_positions_in_both_embodiments() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec_signed(id);
    for (p, expected) in ORDER.iter().zip(POSITIONS) {
        assert_eq!(view::<_, i128>(position, (id, *p)), expected);
    }
    all_ready(id);
    for (k, a) in [-40i128, 40, -20].into_iter().enumerate() {
        assert_eq!(view::<_, Option<i128>>(expected_relay, (id,)), Some(a));
        ok(ORDER[k], relay, (id, a));
    }
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Settled));
    assert_settled_with_spec_positions(id);

    setup();
    let id = open(RelayKind::MaskedRing, Mode::Public);
    register_spec_signed(id);
    ok(T100, commit_mask, (id, mask_hash(1000)));
    all_ready(id);
    relay_all(id, &[960, 1040, 980, 1000]);
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, 1000i128, SALT)), Ok(Phase::Settled));
    assert_settled_with_spec_positions(id);
}

#[test]
fn the_largest_amounts_cannot_overflow_anything() {
    setup();
    for p in ORDER {
        call::<_, u128>(ADMIN, fund, (p, u128::MAX / 8)).unwrap();
    }
    let id = open(RelayKind::MaskedRing, Mode::Public);
    let max = MAX_INSTRUCTION_AMOUNT;
    for _ in 0..8 {
        call::<_, u64>(T100, register_instruction, (id, T200, max)).unwrap();
    }
    assert_eq!(view::<_, i128>(position, (id, T100)), -8 * max);
    let r = -MAX_MASK;
    ok(T100, commit_mask, (id, mask_hash(r)));
    all_ready(id);
    relay_all(id, &[r + 8 * max, r, r, r]);
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, r, SALT)), Ok(Phase::Settled));
    // Relay amounts and balances beyond the limits are refused, not wrapped.
    let id = open(RelayKind::Chained, Mode::Private);
    all_ready(id);
    let huge = MAX_RELAY_AMOUNT + 1;
    assert_eq!(
        fails(T100, relay, (id, huge)),
        format!("relay amount {huge} is over the limit {MAX_RELAY_AMOUNT}")
    );
    assert_eq!(
        fails(T100, relay, (id, i128::MIN)),
        format!("relay amount {} is over the limit {MAX_RELAY_AMOUNT}", i128::MIN)
    );
    assert_eq!(call::<_, u128>(ADMIN, fund, (T100, u128::MAX)), Err("balance overflow".into()));
}

#[test]
fn relays_go_in_the_agreed_order_only() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    assert_eq!(fails(T100, relay, (id, -40i128)), "cycle 1 is Open, not Relay");
    all_ready(id);
    assert_eq!(
        fails(T200, relay, (id, 40i128)),
        format!("not your turn: relay step 0 of cycle 1 is {T100}'s")
    );
    assert_eq!(
        fails(STRANGER, relay, (id, 40i128)),
        format!("{STRANGER} is not a participant of cycle 1")
    );
    ok(T100, relay, (id, -40i128));
    assert_eq!(
        fails(T100, relay, (id, 40i128)),
        format!("not your turn: relay step 1 of cycle 1 is {T200}'s")
    );
    assert_eq!(
        call::<_, Phase>(T400, close, (id, -20i128)),
        Err(format!("the relay of cycle 1 is not complete: step 1 is {T200}'s"))
    );
    ok(T200, relay, (id, 40i128));
    ok(T300, relay, (id, -20i128));
    assert_eq!(
        fails(T400, relay, (id, 0i128)),
        format!("the relay of cycle 1 is complete: {T400} closes it with close")
    );
    assert_eq!(
        call::<_, Phase>(T300, close, (id, -20i128)),
        Err(format!("only the last participant {T400} closes the relay"))
    );
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Settled));
    assert_eq!(fails(T100, relay, (id, 0i128)), "cycle 1 is Settled, not Relay");
}

#[test]
fn a_wrong_amount_is_refused_where_it_happens() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    all_ready(id);
    assert_eq!(
        fails(T100, relay, (id, 40i128)),
        "relay step 0 carries 40: the received amount offset against the sender's own position gives -40"
    );
    ok(T100, relay, (id, -40i128));
    assert!(fails(T200, relay, (id, 41i128)).starts_with("relay step 1 carries 41"));
    ok(T200, relay, (id, 40i128));
    ok(T300, relay, (id, -20i128));
    assert_eq!(
        call::<_, Phase>(T400, close, (id, -21i128)),
        Err("wrong position -21: your instructions give -20".into())
    );
    assert_eq!(get_cycle(id).amounts, vec![-40, 40, -20]);
}

#[test]
fn a_missed_deadline_lets_anyone_abort_cleanly() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    all_ready(id);
    relay_all(id, &[-40, 40, -20]);
    // Terminal 400 never closes.
    assert_eq!(
        fails(STRANGER, abort_cycle, (id,)),
        "cycle 1 is not past its deadline: until then only its participants may abort it, and \
         only before the relay starts"
    );
    assert!(fails(T100, abort_cycle, (id,)).starts_with("cycle 1 is not past its deadline"));
    test_env::set_block_height(101);
    assert_eq!(
        call::<_, Phase>(T400, close, (id, -20i128)),
        Err("cycle 1 is past its deadline: it can only be aborted".into())
    );
    ok(STRANGER, abort_cycle, (id,));
    let aborted: CycleAborted = test_env::events().last().unwrap().decode();
    assert_eq!(aborted, CycleAborted { cycle: id, by: STRANGER, waiting_for: Some(T400) });
    assert_eq!(get_cycle(id).phase, Phase::Aborted);
    assert_eq!(balances(), vec![FUNDS; 4]);
    assert_eq!(fails(STRANGER, abort_cycle, (id,)), "cycle 1 is already Aborted");
}

#[test]
fn a_time_deadline_works_like_a_height() {
    setup();
    let now = test_env::with(|env| env.block_time_ms);
    let deadline = Deadline::Time { ms: now + 60_000 };
    let id: u64 =
        call(T100, open_cycle, (ORDER.to_vec(), RelayKind::Chained, Mode::Public, deadline))
            .unwrap();
    call::<_, Phase>(T100, ready, (id,)).unwrap();
    test_env::set_block_time_ms(now + 60_001);
    assert_eq!(
        call::<_, Phase>(T200, ready, (id,)),
        Err("cycle 1 is past its deadline: it can only be aborted".into())
    );
    ok(STRANGER, abort_cycle, (id,));
    let aborted: CycleAborted = test_env::events().last().unwrap().decode();
    assert_eq!(aborted.waiting_for, Some(T200));
    let late = Deadline::Height { height: 9 };
    assert_eq!(
        call::<_, u64>(T100, open_cycle, (ORDER.to_vec(), RelayKind::Chained, Mode::Public, late)),
        Err("the deadline has already passed".into())
    );
}

#[test]
fn a_participant_may_refuse_an_open_cycle() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    ok(T300, abort_cycle, (id,));
    assert_eq!(get_cycle(id).phase, Phase::Aborted);
    assert_eq!(
        fails(T100, register_instruction, (id, T200, 5i128)),
        "cycle 1 is Aborted, not Open"
    );
}

#[test]
fn opening_needs_an_order_of_three_distinct_participants_including_the_caller() {
    setup();
    let open_with = |who: Address, order: Vec<Address>| {
        call::<_, u64>(who, open_cycle, (order, RelayKind::Chained, Mode::Public, DEADLINE))
    };
    assert_eq!(
        open_with(T100, vec![T100, T200]),
        Err("an order needs at least 3 participants, not 2".into())
    );
    assert_eq!(
        open_with(T100, vec![T100, T200, T100]),
        Err("participant 2 appears twice in the order".into())
    );
    assert_eq!(
        open_with(STRANGER, ORDER.to_vec()),
        Err(format!("{STRANGER} is not in the order: only a participant opens a cycle"))
    );
    let many: Vec<Address> = (0..33u8).map(|i| Address([i; 32])).collect();
    assert_eq!(
        open_with(Address([0; 32]), many),
        Err("an order has at most 32 participants".into())
    );
}

#[test]
fn registration_closes_when_a_party_is_ready() {
    setup();
    let id = open(RelayKind::Chained, Mode::Public);
    let first: u64 = call(T100, register_instruction, (id, T200, 50i128)).unwrap();
    call::<_, Phase>(T200, ready, (id,)).unwrap();
    assert_eq!(
        call::<_, u64>(T100, register_instruction, (id, T200, 5i128)),
        Err(format!("{T200} is ready: its registration in cycle 1 is closed"))
    );
    assert_eq!(
        fails(T100, cancel_instruction, (id, first)),
        format!("{T200} is ready: its registration in cycle 1 is closed")
    );
    assert_eq!(
        call::<_, Phase>(T200, ready, (id,)),
        Err(format!("{T200} is already ready in cycle 1"))
    );
    // Between parties still registering, the payer (and only it) may cancel.
    let second: u64 = call(T300, register_instruction, (id, T400, 7i128)).unwrap();
    assert_eq!(
        fails(T400, cancel_instruction, (id, second)),
        format!("only the payer {T300} may cancel instruction 2")
    );
    ok(T300, cancel_instruction, (id, second));
    assert_eq!(view::<_, Option<Instruction>>(instruction, (id, second)), None);
    assert_eq!(view::<_, i128>(position, (id, T400)), 0);
}

fn commitment_of(id: u64, k: usize) -> Hash {
    let (from, to, amount) = SPEC[k];
    view(instruction_commitment, (id, k as u64 + 1, from, to, amount, [k as u8; 32]))
}

/// Private cycle: each instruction committed by its payer and acknowledged by its payee.
fn commit_spec(id: u64) {
    for (k, (from, to, _)) in SPEC.iter().enumerate() {
        ok(*from, commit_instruction, (id, *to, commitment_of(id, k)));
    }
    for (k, (_, to, _)) in SPEC.iter().enumerate() {
        ok(*to, acknowledge, (id, commitment_of(id, k)));
    }
}

#[test]
fn privacy_mode_keeps_only_acknowledged_commitments_on_the_ledger() {
    setup();
    let id = open(RelayKind::Chained, Mode::Private);
    let (from, to, amount) = SPEC[0];
    let h = commitment_of(id, 0);
    assert_eq!(h, kessai_sdk::blake3(&instruction_preimage(id, 1, &from, &to, amount, &[0; 32])));
    assert_eq!(
        call::<_, u64>(T100, register_instruction, (id, T200, 50i128)),
        Err("cycle 1 is private: register a commitment with commit_instruction".into())
    );
    ok(from, commit_instruction, (id, to, h));
    assert_eq!(
        fails(from, commit_instruction, (id, to, h)),
        format!("commitment {} is already registered", hex(&h))
    );
    assert_eq!(
        call::<_, Phase>(to, ready, (id,)),
        Err(format!("{to} is party to 1 unacknowledged commitment(s) in cycle 1"))
    );
    assert_eq!(
        fails(from, acknowledge, (id, h)),
        format!("only the counterparty {to} may acknowledge commitment {}", hex(&h))
    );
    assert_eq!(
        fails(STRANGER, withdraw_commitment, (id, h)),
        format!("{STRANGER} is not a party to commitment {}", hex(&h))
    );
    // The counterparty refuses it; the payer commits again and it is acknowledged.
    ok(to, withdraw_commitment, (id, h));
    assert_eq!(view::<_, Option<Commitment>>(commitment, (id, h)), None);
    ok(from, commit_instruction, (id, to, h));
    ok(to, acknowledge, (id, h));
    assert_eq!(
        fails(to, acknowledge, (id, h)),
        format!("commitment {} is already acknowledged", hex(&h))
    );
    assert_eq!(
        fails(to, withdraw_commitment, (id, h)),
        format!("commitment {} is already acknowledged", hex(&h))
    );
    let stored: Commitment = view::<_, Option<Commitment>>(commitment, (id, h)).unwrap();
    assert_eq!(stored.status, CommitmentStatus::Acknowledged);
    assert_eq!((stored.registered_by, stored.counterparty), (from, to));
    assert_eq!(
        call::<_, i128>(T100, position, (id, T100)),
        Err("cycle 1 is private: only its participant knows its position".into())
    );
}

#[test]
fn privacy_mode_settles_the_spec_from_locally_computed_relays() {
    setup();
    let id = open(RelayKind::Chained, Mode::Private);
    commit_spec(id);
    all_ready(id);
    // Each participant computes its relay from its own instructions, off the ledger.
    let own = |p: Address| -> i128 {
        let mine: Vec<Transfer<Address>> = SPEC
            .iter()
            .filter(|(f, t, _)| *f == p || *t == p)
            .map(|(f, t, a)| Transfer::new(*f, *t, *a))
            .collect();
        netting_core::position_of(&p, &mine).unwrap()
    };
    let mut received = 0;
    for (k, p) in ORDER[..3].iter().enumerate() {
        let a = if k == 0 {
            netting_core::first_amount(own(*p), 0)
        } else {
            netting_core::next_amount(received, own(*p))
        };
        received = a.unwrap();
        ok(*p, relay, (id, received));
    }
    assert_eq!(call::<_, Phase>(T400, close, (id, own(T400))), Ok(Phase::Settled));
    assert_settled_with_spec_positions(id);
    // No instruction, amount or direction was stored: only the eight commitments.
    assert_eq!(view::<_, Vec<Instruction>>(instructions_of, (id, T100)), vec![]);
    let amounts_seen: Vec<Vec<u8>> = test_env::storage()
        .keys()
        .filter(|k| k.starts_with(b"i/") || k.starts_with(b"p/"))
        .cloned()
        .collect();
    assert!(amounts_seen.is_empty());
    assert_eq!(view::<_, i128>(position, (id, T300)), 60, "settled positions are public");
}

#[test]
fn privacy_mode_ring_with_commitments_settles() {
    setup();
    let id = open(RelayKind::MaskedRing, Mode::Private);
    commit_spec(id);
    ok(T100, commit_mask, (id, mask_hash(1000)));
    all_ready(id);
    relay_all(id, &[960, 1040, 980, 1000]);
    assert_eq!(call::<_, Phase>(T100, reveal_mask, (id, 1000i128, SALT)), Ok(Phase::Settled));
    assert_settled_with_spec_positions(id);
}

#[test]
fn disagreeing_views_do_not_close_and_nothing_settles() {
    setup();
    let id = open(RelayKind::Chained, Mode::Private);
    all_ready(id);
    // 300 forgot instruction 8 and believes its position is 40: it relays 0 instead of −20.
    relay_all(id, &[-40, 40, 0]);
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Rejected));
    let rejected: CycleRejected = test_env::events().last().unwrap().decode();
    assert_eq!(rejected, CycleRejected { cycle: id, expected: -20, got: 0 });
    assert_eq!(balances(), vec![FUNDS; 4]);
    assert_eq!(fails(T400, abort_cycle, (id,)), "cycle 1 is already Rejected");
    assert_eq!(
        call::<_, Phase>(T400, close, (id, 0i128)),
        Err("cycle 1 is Rejected, not Relay".into())
    );
}

#[test]
fn a_short_payer_blocks_settlement_until_funded() {
    setup();
    call::<_, u128>(ADMIN, withdraw, (T200, FUNDS - 79)).unwrap();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    all_ready(id);
    relay_all(id, &[-40, 40, -20]);
    assert_eq!(
        call::<_, Phase>(T400, close, (id, -20i128)),
        Err(format!(
            "{T200} has a settlement balance of 79 and must pay 80: fund it, then close again \
             before the deadline"
        ))
    );
    assert_eq!(get_cycle(id).phase, Phase::Relay);
    call::<_, u128>(ADMIN, fund, (T200, 1u128)).unwrap();
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Settled));
    assert_eq!(balances(), vec![FUNDS + 40, 0, FUNDS + 60, FUNDS - 20]);
}

#[test]
fn only_the_admin_moves_money_in_and_out() {
    setup();
    assert_eq!(
        call::<_, u128>(T100, fund, (T100, 5u128)),
        Err(format!("only the admin may fund settlement balances; {T100} is not the admin"))
    );
    assert_eq!(
        call::<_, u128>(T100, withdraw, (T100, 5u128)),
        Err(format!("only the admin may withdraw settlement balances; {T100} is not the admin"))
    );
    assert_eq!(
        call::<_, u128>(ADMIN, fund, (T100, 0u128)),
        Err("the amount must be positive".into())
    );
    assert_eq!(
        call::<_, u128>(ADMIN, withdraw, (T100, FUNDS + 1)),
        Err(format!("{T100} has a settlement balance of {FUNDS}, less than {}", FUNDS + 1))
    );
    assert_eq!(call::<_, u128>(ADMIN, withdraw, (T100, 400u128)), Ok(FUNDS - 400));
    assert_eq!(view::<_, u128>(total_balance, ()), 4 * FUNDS - 400);
    assert_eq!(
        fails(T100, set_admin, (T100,)),
        format!("only the admin may hand over the admin role; {T100} is not the admin")
    );
    ok(ADMIN, set_admin, (T100,));
    assert_eq!(view::<_, Address>(admin, ()), T100);
    assert_eq!(fails(ADMIN, init, (ADMIN,)), "already initialised");
}

#[test]
fn a_client_drives_the_cycle_in_json_through_the_abi() {
    setup();
    let parsed = abi::parse(ABI_JSON).unwrap();
    let hex_of = |a: Address| a.to_string();
    test_env::set_sender(T100);
    let id = invoke_json(
        &parsed,
        METHODS,
        "open_cycle",
        json!([ORDER.map(hex_of), "Chained", "Public", { "Height": { "height": 100 } }]),
    )
    .unwrap();
    assert_eq!(id, json!(1));
    for (from, to, amount) in SPEC {
        test_env::set_sender(from);
        invoke_json(&parsed, METHODS, "register_instruction", json!([1, hex_of(to), amount]))
            .unwrap();
    }
    for p in ORDER {
        test_env::set_sender(p);
        invoke_json(&parsed, METHODS, "ready", json!([1])).unwrap();
    }
    for (p, a) in ORDER.iter().zip(["-40", "40", "-20"]) {
        test_env::set_sender(*p);
        invoke_json(&parsed, METHODS, "relay", json!({ "cycle": 1, "amount": a })).unwrap();
    }
    test_env::set_sender(T400);
    assert_eq!(invoke_json(&parsed, METHODS, "close", json!([1, -20])), Ok(json!("Settled")));
    let c = invoke_json(&parsed, METHODS, "cycle", json!([1])).unwrap();
    assert_eq!(c["positions"], json!(["40", "-80", "60", "-20"]));
    assert_eq!(c["phase"], json!("Settled"));
    let events = abi::events_json(&parsed);
    let (topic, data) = events.last().unwrap();
    assert_eq!(topic, "cycle_settled");
    assert_eq!(data["positions"][1], json!({ "participant": hex_of(T200), "amount": "-80" }));
}

/// A random cycle: 3 to 6 participants, up to 30 instructions of 1 … 10^12.
fn random_cycles() -> impl Strategy<Value = (usize, Vec<(usize, usize, i128)>, bool, i64)> {
    (3usize..7).prop_flat_map(|n| {
        let instruction =
            (0..n, 0..n, 1i128..1_000_000_000_000).prop_filter("two parties", |(a, b, _)| a != b);
        (Just(n), proptest::collection::vec(instruction, 0..30), any::<bool>(), any::<i64>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_instruction_sets_net_to_zero_and_settlement_conserves_balances(
        (n, instructions, ring, r) in random_cycles()
    ) {
        test_env::reset();
        test_env::set_block_height(10);
        ok(ADMIN, init, (ADMIN,));
        let order: Vec<Address> = (0..n).map(|i| Address([i as u8 + 1; 32])).collect();
        let funds = 40_000_000_000_000u128;
        for p in &order {
            call::<_, u128>(ADMIN, fund, (*p, funds)).unwrap();
        }
        let kind = if ring { RelayKind::MaskedRing } else { RelayKind::Chained };
        let id: u64 = call(order[0], open_cycle, (order.clone(), kind, Mode::Public, DEADLINE)).unwrap();
        for (from, to, amount) in &instructions {
            call::<_, u64>(order[*from], register_instruction, (id, order[*to], *amount)).unwrap();
        }
        let positions: Vec<i128> = order.iter().map(|p| view(position, (id, *p))).collect();
        prop_assert_eq!(positions.iter().sum::<i128>(), 0);
        let r = i128::from(r);
        if ring {
            ok(order[0], commit_mask, (id, mask_hash(r)));
        }
        for p in &order {
            call::<_, Phase>(*p, ready, (id,)).unwrap();
        }
        let amounts = if ring {
            netting_core::masked_ring(&positions, r).unwrap()
        } else {
            netting_core::chained_relay(&positions).unwrap()
        };
        for (k, a) in amounts.iter().enumerate() {
            if !(ring && k == 0) {
                prop_assert_eq!(view::<_, Option<i128>>(expected_relay, (id,)), Some(*a));
            }
            ok(order[k], relay, (id, *a));
        }
        let phase: Phase = if ring {
            call(order[0], reveal_mask, (id, r, SALT)).unwrap()
        } else {
            call(order[n - 1], close, (id, positions[n - 1])).unwrap()
        };
        prop_assert_eq!(phase, Phase::Settled);
        let after: Vec<u128> = order.iter().map(|p| view(balance, (*p,))).collect();
        prop_assert_eq!(after.iter().sum::<u128>(), funds * n as u128);
        prop_assert_eq!(view::<_, u128>(total_balance, ()), funds * n as u128);
        for (b, p) in after.iter().zip(&positions) {
            prop_assert_eq!(*b as i128 - funds as i128, *p);
        }
    }
}

/// One registration-phase call by a participant acting in its own interest (index 4 is an
/// outsider): `id` picks among the ids handed out so far.
#[derive(Clone, Debug)]
enum RegistrationOp {
    Register { by: usize, receiver: usize, amount: i128 },
    Acknowledge { by: usize, id: u64 },
    Cancel { by: usize, id: u64 },
}

fn registration_op() -> impl Strategy<Value = RegistrationOp> {
    let who = 0usize..5;
    prop_oneof![
        (who.clone(), who.clone(), -50i128..50)
            .prop_map(|(by, receiver, amount)| RegistrationOp::Register { by, receiver, amount }),
        (who.clone(), 1u64..12).prop_map(|(by, id)| RegistrationOp::Acknowledge { by, id }),
        (who, 1u64..12).prop_map(|(by, id)| RegistrationOp::Cancel { by, id }),
    ]
}

/// The model of an instruction: (sender, receiver, amount, counted).
type ModelInstruction = (usize, usize, i128, bool);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the members register, acknowledge and cancel, in any order and with any sign, each
    /// call succeeds exactly when the rules say; and the cycle then settles exactly the instructions
    /// their payers agreed to: a positive one its sender registered, a negative one its receiver
    /// acknowledged. Nobody pays for anything else, and the total never changes.
    #[test]
    fn nobody_pays_for_an_instruction_it_did_not_agree_to(
        ops in proptest::collection::vec(registration_op(), 0..40)
    ) {
        setup();
        let people: Vec<Address> = ORDER.iter().copied().chain([STRANGER]).collect();
        let id = open(RelayKind::Chained, Mode::Public);
        let mut model: std::collections::BTreeMap<u64, ModelInstruction> = Default::default();
        let mut next_id = 1u64;
        for op in &ops {
            match *op {
                RegistrationOp::Register { by, receiver, amount } => {
                    let got = call::<_, u64>(people[by], register_instruction, (id, people[receiver], amount));
                    let allowed = by < 4 && receiver < 4 && by != receiver;
                    prop_assert_eq!(got.is_ok(), allowed, "{:?}: {:?}", op, got);
                    if allowed {
                        prop_assert_eq!(got.unwrap(), next_id);
                        model.insert(next_id, (by, receiver, amount, amount >= 0));
                        next_id += 1;
                    }
                }
                RegistrationOp::Acknowledge { by, id: k } => {
                    let got = call::<_, ()>(people[by], acknowledge_instruction, (id, k));
                    let allowed = matches!(model.get(&k), Some(&(_, r, _, false)) if r == by);
                    prop_assert_eq!(got.is_ok(), allowed, "{:?}: {:?}", op, got);
                    if allowed {
                        model.get_mut(&k).unwrap().3 = true;
                    }
                }
                RegistrationOp::Cancel { by, id: k } => {
                    let got = call::<_, ()>(people[by], cancel_instruction, (id, k));
                    let allowed = match model.get(&k) {
                        Some(&(s, r, _, false)) => by == s || by == r,
                        Some(&(s, r, a, true)) => by == if a < 0 { r } else { s },
                        None => false,
                    };
                    prop_assert_eq!(got.is_ok(), allowed, "{:?}: {:?}", op, got);
                    if allowed {
                        model.remove(&k);
                    }
                }
            }
        }
        // A party to a pending instruction cannot close its registration; dropping it frees it.
        for (k, (s, r, _, counted)) in model.clone() {
            if !counted {
                prop_assert!(call::<_, Phase>(ORDER[r], ready, (id,)).is_err());
                ok(ORDER[s], cancel_instruction, (id, k));
                model.remove(&k);
            }
        }
        let mut expected = [0i128; 4];
        for (s, r, a, _) in model.values() {
            expected[*s] -= a;
            expected[*r] += a;
        }
        for (p, e) in ORDER.iter().zip(expected) {
            prop_assert_eq!(view::<_, i128>(position, (id, *p)), e);
        }
        for p in ORDER {
            call::<_, Phase>(p, ready, (id,)).unwrap();
        }
        for p in &ORDER[..3] {
            let a = view::<_, Option<i128>>(expected_relay, (id,)).unwrap();
            ok(*p, relay, (id, a));
        }
        prop_assert_eq!(call::<_, Phase>(T400, close, (id, expected[3])), Ok(Phase::Settled));
        let deltas: Vec<i128> = balances().iter().map(|b| *b as i128 - FUNDS as i128).collect();
        prop_assert_eq!(deltas, expected.to_vec());
        prop_assert_eq!(view::<_, u128>(total_balance, ()), 4 * FUNDS);
    }
}
