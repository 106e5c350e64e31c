extern crate std;

use super::*;
use alloc::vec;
use proptest::prelude::*;
use std::string::ToString;

/// The spec's eight instructions between participants 100, 200, 300, 400.
fn spec_instructions() -> Vec<Transfer<u32>> {
    [
        (100, 200, 50),
        (200, 300, 30),
        (300, 400, 20),
        (200, 100, 60),
        (300, 100, 10),
        (400, 100, 20),
        (200, 300, 40),
        (400, 300, 20),
    ]
    .into_iter()
    .map(|(from, to, amount)| Transfer::new(from, to, amount))
    .collect()
}

const ORDER: [u32; 4] = [100, 200, 300, 400];
const POSITIONS: [i128; 4] = [40, -80, 60, -20];

#[test]
fn the_spec_instructions_give_the_spec_positions() {
    let instructions = spec_instructions();
    assert_eq!(positions_in_order(&ORDER, &instructions), Ok(POSITIONS.to_vec()));
    // Participant 100 knows only ids 1, 4, 5, 6 and gets its position from them alone.
    let own: Vec<_> = [0, 3, 4, 5].iter().map(|&i| instructions[i].clone()).collect();
    assert_eq!(position_of(&100, &own), Ok(40));
    assert_eq!(sum(&POSITIONS), Ok(0));
    let net = net_positions(&instructions).unwrap();
    assert_eq!(
        net.into_iter().collect::<Vec<_>>(),
        vec![(100, 40), (200, -80), (300, 60), (400, -20)]
    );
}

#[test]
fn embodiment_1_relays_the_spec_amounts_and_closes() {
    assert_eq!(chained_relay(&POSITIONS), Ok(vec![-40, 40, -20]));
    assert_eq!(verify_relay(&POSITIONS, &[-40, 40, -20], None), Ok(()));
    // The last participant receives its own position.
    assert_eq!(check_chain_closing(-20, -20), Ok(()));
}

#[test]
fn embodiment_2_prose_convention_with_r_1000() {
    let amounts = masked_ring(&POSITIONS, 1000).unwrap();
    assert_eq!(amounts, vec![960, 1040, 980, 1000]);
    assert_eq!(verify_relay(&POSITIONS, &amounts, Some(1000)), Ok(()));
}

#[test]
fn embodiment_2_figure_convention_is_the_mask_minus_r() {
    // The figure's (−40−r, 40−r, −20−r, −r) with r = 1000 is this crate's ring masked with −1000.
    let amounts = masked_ring(&POSITIONS, -1000).unwrap();
    assert_eq!(amounts, vec![-1040, -960, -1020, -1000]);
    assert_eq!(verify_relay(&POSITIONS, &amounts, Some(-1000)), Ok(()));
}

#[test]
fn the_ring_closing_check_is_signed_both_ways() {
    // Prose convention: the closing amount is +r; −r is refused, and the other way round.
    assert_eq!(check_ring_closing(1000, 1000), Ok(()));
    assert_eq!(
        check_ring_closing(-1000, 1000),
        Err(NettingError::NotClosed { expected: 1000, got: -1000 })
    );
    assert_eq!(check_ring_closing(-1000, -1000), Ok(()));
    assert_eq!(
        check_ring_closing(1000, -1000),
        Err(NettingError::NotClosed { expected: -1000, got: 1000 })
    );
    // A whole ring that closes on −r is refused too.
    assert_eq!(
        verify_relay(&POSITIONS, &[960, 1040, 980, -1000], Some(1000)),
        Err(NettingError::StepMismatch { step: 3, expected: 1000, got: -1000 })
    );
}

#[test]
fn applying_the_netting_transactions_to_zero_balances_gives_the_positions() {
    for (amounts, ring) in [
        (vec![-40, 40, -20], false),
        (vec![960, 1040, 980, 1000], true),
        (vec![-1040, -960, -1020, -1000], true),
    ] {
        let mut balances = BTreeMap::new();
        apply(&mut balances, &relay_transfers(&ORDER, &amounts)).unwrap();
        let got: Vec<i128> = ORDER.iter().map(|p| balances[p]).collect();
        assert_eq!(got, POSITIONS.to_vec(), "{amounts:?}");
        assert_eq!(positions_from_relay(&amounts, ring), Ok(POSITIONS.to_vec()));
    }
}

#[test]
fn the_first_netting_transaction_reads_as_the_patent_says() {
    // (100→200, −40): 200 pays 100 forty.
    let t = Transfer::new(100, 200, -40);
    assert_eq!(effect(&t, &100), Ok(40));
    assert_eq!(effect(&t, &200), Ok(-40));
    assert_eq!(effect(&t, &300), Ok(0));
}

#[test]
fn bilateral_50_and_40_net_to_one_payment_of_10() {
    let net = net_positions(&[Transfer::new('A', 'B', 50), Transfer::new('B', 'A', 40)]).unwrap();
    assert_eq!(net[&'A'], -10);
    assert_eq!(net[&'B'], 10);
}

#[test]
fn zero_amounts_relay_and_negative_amounts_reverse() {
    // Nobody owes anything: every relay amount is zero, and still relays.
    assert_eq!(chained_relay(&[0, 0, 0]), Ok(vec![0, 0]));
    assert_eq!(masked_ring(&[0, 0, 0], 7), Ok(vec![7, 7, 7]));
    // A negative instruction is the reverse payment.
    let reversed = [Transfer::new(1, 2, -5)];
    assert_eq!(positions_in_order(&[1, 2, 3], &reversed), Ok(vec![5, -5, 0]));
}

#[test]
fn overflow_is_an_error_never_a_wrap() {
    let big = [Transfer::new(1, 2, i128::MAX), Transfer::new(3, 2, 1)];
    assert_eq!(positions_in_order(&[1, 2, 3], &big), Err(NettingError::Overflow));
    assert_eq!(net_positions(&big), Err(NettingError::Overflow));
    assert_eq!(effect(&Transfer::new(1, 2, i128::MIN), &1), Err(NettingError::Overflow));
    assert_eq!(first_amount(i128::MIN, 0), Err(NettingError::Overflow));
    assert_eq!(masked_ring(&[1, -1, 0], i128::MIN), Err(NettingError::Overflow));
    assert_eq!(next_amount(i128::MAX, -1), Err(NettingError::Overflow));
    assert_eq!(sum(&[i128::MAX, 1, -1]), Err(NettingError::Overflow));
    assert_eq!(apply_positions(&[u128::MAX, 1], &[1, -1]), Err(NettingError::Overflow));
}

#[test]
fn orders_need_three_distinct_participants() {
    assert_eq!(check_order(&[1, 2]), Err(NettingError::TooFewParticipants { count: 2 }));
    assert_eq!(check_order(&[1, 2, 1]), Err(NettingError::DuplicateParticipant { index: 2 }));
    assert_eq!(chained_relay(&[1, -1]), Err(NettingError::TooFewParticipants { count: 2 }));
    assert_eq!(
        positions_from_relay(&[1], false),
        Err(NettingError::TooFewParticipants { count: 2 })
    );
    assert_eq!(
        positions_in_order(&[1, 2, 3], &[Transfer::new(1, 9, 1)]),
        Err(NettingError::NotAParticipant)
    );
    assert_eq!(net_positions(&[Transfer::new(1, 1, 1)]), Err(NettingError::SelfTransfer));
}

#[test]
fn a_wrong_step_is_caught_where_it_happens() {
    assert_eq!(
        verify_relay(&POSITIONS, &[-40, 41, -21], None),
        Err(NettingError::StepMismatch { step: 1, expected: 40, got: 41 })
    );
    assert_eq!(
        verify_relay(&POSITIONS, &[-41, 39, -21], None),
        Err(NettingError::StepMismatch { step: 0, expected: -40, got: -41 })
    );
    assert_eq!(
        verify_relay(&POSITIONS, &[-40, 40], None),
        Err(NettingError::WrongStepCount { expected: 3, got: 2 })
    );
    assert_eq!(check_step(2, 40, 60, -20), Ok(()));
    assert_eq!(
        check_step(2, 40, 60, 20),
        Err(NettingError::StepMismatch { step: 2, expected: -20, got: 20 })
    );
}

#[test]
fn disagreeing_views_do_not_close() {
    // Participant 300 forgot instruction 8 (400→300, 20): its position is 40 instead of 60.
    let views = [40, -80, 40, -20];
    assert_eq!(chained_relay(&views), Err(NettingError::NotClosed { expected: -20, got: 0 }));
    assert_eq!(
        masked_ring(&views, 1000),
        Err(NettingError::NotClosed { expected: 1000, got: 1020 })
    );
}

#[test]
fn settling_positions_is_all_or_nothing_and_balanced() {
    assert_eq!(apply_positions(&[0, 100, 0, 50], &POSITIONS), Ok(vec![40, 20, 60, 30]));
    assert_eq!(
        apply_positions(&[0, 79, 0, 50], &POSITIONS),
        Err(NettingError::InsufficientBalance { index: 1, balance: 79, needed: 80 })
    );
    assert_eq!(apply_positions(&[0, 0, 0], &[1, 0, 0]), Err(NettingError::Unbalanced { sum: 1 }));
    assert_eq!(
        apply_positions(&[0, 0], &[0, 0, 0]),
        Err(NettingError::LengthMismatch { balances: 2, positions: 3 })
    );
}

#[test]
fn errors_read_well() {
    let e = NettingError::NotClosed { expected: 1000, got: -1000 };
    assert!(e
        .to_string()
        .starts_with("the relay does not close: closing amount -1000, expected 1000"));
}

fn instruction_sets() -> impl Strategy<Value = (usize, Vec<Transfer<usize>>)> {
    (3usize..8).prop_flat_map(|n| {
        let transfer = (0..n, 0..n, -1_000_000_000i128..1_000_000_000)
            .prop_filter("no self transfer", |(a, b, _)| a != b)
            .prop_map(|(a, b, x)| Transfer::new(a, b, x));
        (Just(n), proptest::collection::vec(transfer, 0..40))
    })
}

proptest! {
    #[test]
    fn random_instructions_net_to_zero_and_both_relays_settle_them(
        (n, transfers) in instruction_sets(),
        r in any::<i64>(),
    ) {
        let order: Vec<usize> = (0..n).collect();
        let positions = positions_in_order(&order, &transfers).unwrap();
        prop_assert_eq!(sum(&positions), Ok(0));
        let net = net_positions(&transfers).unwrap();
        for (i, p) in positions.iter().enumerate() {
            prop_assert_eq!(*net.get(&i).unwrap_or(&0), *p);
        }
        let chain = chained_relay(&positions).unwrap();
        prop_assert_eq!(positions_from_relay(&chain, false).unwrap(), positions.clone());
        let ring = masked_ring(&positions, r.into()).unwrap();
        prop_assert_eq!(ring[n - 1], i128::from(r));
        prop_assert_eq!(positions_from_relay(&ring, true).unwrap(), positions.clone());
        // Settling conserves the total of the balances.
        let balances: Vec<u128> = positions.iter().map(|p| p.unsigned_abs() + 5).collect();
        let after = apply_positions(&balances, &positions).unwrap();
        prop_assert_eq!(after.iter().sum::<u128>(), balances.iter().sum::<u128>());
    }

    #[test]
    fn any_tampered_step_is_refused(
        (n, transfers) in instruction_sets(),
        step in 0usize..8,
        delta in prop_oneof![-1000i128..0, 1i128..1000],
    ) {
        let order: Vec<usize> = (0..n).collect();
        let positions = positions_in_order(&order, &transfers).unwrap();
        let mut chain = chained_relay(&positions).unwrap();
        let step = step % chain.len();
        chain[step] += delta;
        prop_assert!(verify_relay(&positions, &chain, None).is_err());
    }
}
