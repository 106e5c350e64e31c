//! Supply conservation of the power ledger under random operations: only `issue` (up) and `burn`
//! (down) change the total supply, and it always equals the balances plus the escrow.

use crate::chain::*;
use crate::power_ledger::{self as pl, BurnRequest, LegOrder, LegStatus};
use proptest::prelude::*;
use std::vec::Vec;

const HOLDERS: [u8; 3] = [0xA0, 0xB0, 0xC0];

#[derive(Clone, Debug)]
enum Op {
    Issue {
        to: usize,
        amount: u64,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
    },
    /// With a counter deadline `counter_hours` from now, or none (a first-leg ledger takes none,
    /// a second-leg ledger needs one at least 25 h away).
    Register {
        who: usize,
        amount: u64,
        secret: u8,
        counter_hours: Option<u64>,
    },
    /// The creator (or, `by_creator` false, terminal 14) withdraws the `pick`-th request.
    Withdraw {
        pick: u64,
        by_creator: bool,
    },
    /// Terminal 14 (or, `by_admin` false, a holder) burns the `pick`-th request with the right
    /// secret or a wrong one.
    Burn {
        pick: u64,
        right_secret: bool,
        by_admin: bool,
    },
    Advance {
        hours: u64,
    },
}

/// Weighted so that many requests get registered and burned before they expire.
fn op() -> impl Strategy<Value = Op> {
    let mostly = || proptest::bool::weighted(0.8);
    prop_oneof![
        3 => (0..3usize, 0..200u64).prop_map(|(to, amount)| Op::Issue { to, amount }),
        1 => (0..3usize, 0..3usize, 0..150u64).prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        4 => (0..3usize, 0..60u64, 0..8u8, proptest::option::of(20..60u64))
            .prop_map(|(who, amount, secret, counter_hours)| Op::Register { who, amount, secret, counter_hours }),
        2 => (any::<u64>(), mostly()).prop_map(|(pick, by_creator)| Op::Withdraw { pick, by_creator }),
        3 => (any::<u64>(), mostly(), mostly())
            .prop_map(|(pick, right_secret, by_admin)| Op::Burn { pick, right_secret, by_admin }),
        2 => (0..24u64).prop_map(|hours| Op::Advance { hours }),
    ]
}

/// The id of one of the requests registered so far (1 when there is none yet: no such request).
fn picked(chain: &Chain, pick: u64) -> u64 {
    let registered = chain.storage().keys().filter(|k| k.starts_with(b"r/")).count() as u64;
    1 + pick % registered.max(1)
}

/// Σ balances and Σ active escrow, read straight from storage.
pub(crate) fn ledger_totals(chain: &Chain) -> (u64, u64) {
    let decode_entries = |prefix: &[u8]| {
        chain
            .storage()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let balances: u64 =
        decode_entries(b"b/").iter().map(|v| borsh::from_slice::<u64>(v).unwrap()).sum();
    let escrow: u64 = decode_entries(b"r/")
        .iter()
        .map(|v| borsh::from_slice::<BurnRequest>(v).unwrap())
        .filter(|r| r.status == LegStatus::Active)
        .map(|r| r.amount)
        .sum();
    (balances, escrow)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn only_issue_and_burn_change_the_supply(
        second_legs in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut chain = Chain::power(if second_legs { LegOrder::Second } else { LegOrder::First });
        let holders: Vec<Party> = HOLDERS.iter().map(|&s| Party::new(s)).collect();
        let (mut issued, mut burned) = (0u64, 0u64);
        for op in ops {
            let before = chain.supply();
            let change: i128 = match op {
                Op::Issue { to, amount } => {
                    let ok = chain.call::<_, ()>(&admin(), pl::issue, (amount, holders[to].address())).is_ok();
                    if ok { issued += amount; }
                    if ok { amount as i128 } else { 0 }
                }
                Op::Transfer { from, to, amount } => {
                    let _ = chain.call::<_, ()>(&holders[from], pl::transfer, (holders[to].address(), amount));
                    0
                }
                Op::Register { who, amount, secret: s, counter_hours } => {
                    let counter = counter_hours.map(|hours| chain.now() + hours * HOUR_MS);
                    let lock = blake3_lock(&secret(s));
                    let _ = chain.register_burn(&holders[who], amount, lock, admin().address(), counter);
                    0
                }
                Op::Withdraw { pick, by_creator } => {
                    let id = picked(&chain, pick);
                    let request: Option<BurnRequest> = chain.view(pl::burn_request, (id,));
                    let who = match request {
                        Some(request) if by_creator => request.creator,
                        _ => admin().address(),
                    };
                    let _ = chain.call_as::<_, ()>(who, pl::withdraw_burn_request, (id,));
                    0
                }
                Op::Burn { pick, right_secret, by_admin } => {
                    let id = picked(&chain, pick);
                    let request: Option<BurnRequest> = chain.view(pl::burn_request, (id,));
                    let result = match &request {
                        None => Err("no request".into()),
                        Some(request) => {
                            // The secret of a lock is the byte it was drawn from (0..8).
                            let s = (0..8u8).find(|&s| blake3_lock(&secret(s)) == request.lock).unwrap();
                            let r = if right_secret { secret(s) } else { secret(s + 100) };
                            let who = if by_admin { admin() } else { Party::new(HOLDERS[0]) };
                            chain.burn(&who, id, r)
                        }
                    };
                    match (result, request) {
                        (Ok(()), Some(request)) => { burned += request.amount; -(request.amount as i128) }
                        _ => 0,
                    }
                }
                Op::Advance { hours } => { chain.advance(hours * HOUR_MS); 0 }
            };
            let after = chain.supply();
            prop_assert_eq!(after as i128, before as i128 + change);
            prop_assert_eq!(after, issued - burned);
            let (balances, escrow) = ledger_totals(&chain);
            prop_assert_eq!(chain.escrowed(), escrow);
            prop_assert_eq!(after, balances + escrow);
        }
    }
}
