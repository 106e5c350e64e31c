//! Netting arithmetic of JP6971127B2 (`shared/specs/netting.md`), shared by the `netting` and
//! `clearing` contracts: pure functions over `i128`, no host calls, no allocation beyond the
//! results, every sum checked (an overflow is an error, never a wrap).
//!
//! # Terms
//!
//! - A [`Transfer`] `(from, to, amount)` is an instruction or a netting transaction: `from` pays `to`
//!   `amount`. A negative amount moves money the other way: `(100→200, −40)` means 200 pays 100
//!   forty.
//! - A participant's **net position** is Σ received − Σ sent over the transfers it is party to
//!   ([`position_of`]): positive for a net receiver, negative for a net payer. Over a closed set of
//!   transfers the positions sum to zero.
//! - The **order** t_1 … t_n (n ≥ 3, distinct) is agreed in advance.
//!
//! # Embodiment 1: chained relay
//!
//! t_i sends t_{i+1} the amount a_i, with a_1 = −p_1 and a_i = a_{i−1} − p_i ([`next_amount`]):
//! each participant offsets what it received against its own position and passes the rest on.
//! There are n − 1 netting transactions; the last participant receives a_{n−1}, which must equal
//! its own position p_n (remainder zero, [`check_chain_closing`]).
//!
//! # Embodiment 2: masked ring — sign convention
//!
//! The start participant draws an integer r. **This crate uses the convention of the patent's
//! prose: r is added.** a_1 = r − p_1 ([`first_amount`]), a_i = a_{i−1} − p_i for i = 2 … n, and
//! the ring closes with t_n sending t_1 the amount a_n, which must equal **+r**
//! ([`check_ring_closing`]). For the spec's vector and r = 1000 that is 960, 1040, 980, 1000.
//!
//! The patent's figure subtracts r instead (−40−r, 40−r, −20−r, −r). That is the same ring with the
//! mask −r: a ring masked with r = −1000 under this convention gives exactly the figure's
//! −1040, −960, −1020, −1000, and closes on −1000. A closing amount of −r under a mask r ≠ 0 is
//! refused ([`NettingError::NotClosed`]).
//!
//! # Settling
//!
//! Applying the relay's transfers to zero balances gives back every position
//! ([`positions_from_relay`]): the mask cancels out (t_1 receives a_n = r and sends a_1 = r − p_1).
//! [`apply_positions`] applies positions that sum to zero to non-negative balances, all or
//! nothing, so the total of the balances never changes. [`net_positions`] nets any batch of
//! obligations multilaterally into one amount per party (the clearing contract nets a day's trades
//! with it, per exchange and currency).
#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

#[cfg(test)]
mod tests;

/// The fewest participants a relay needs (with two, each learns the other's position anyway).
pub const MIN_PARTICIPANTS: usize = 3;

/// `from` pays `to` `amount` (negative: `to` pays `from`). An instruction or a netting transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer<P> {
    pub from: P,
    pub to: P,
    pub amount: i128,
}

impl<P> Transfer<P> {
    pub fn new(from: P, to: P, amount: i128) -> Self {
        Transfer { from, to, amount }
    }
}

/// Why a netting computation or check failed. Steps are 0-based: step `k` is the netting
/// transaction t_{k+1} sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NettingError {
    /// A sum, difference or negation does not fit in `i128` (or a balance in `u128`).
    Overflow,
    /// An order of fewer than [`MIN_PARTICIPANTS`].
    TooFewParticipants { count: usize },
    /// The participant at `index` already appears earlier in the order.
    DuplicateParticipant { index: usize },
    /// A transfer names a party that is not in the order.
    NotAParticipant,
    /// A transfer from a party to itself.
    SelfTransfer,
    /// Relay amounts for `got` steps where the embodiment has `expected`.
    WrongStepCount { expected: usize, got: usize },
    /// Step `step` carries `got`; offsetting the received amount against the sender's own position
    /// gives `expected`.
    StepMismatch { step: usize, expected: i128, got: i128 },
    /// The relay does not close: the closing amount is `got`, it must be `expected` (the last
    /// participant's own position in a chain, the mask r in a ring). The positions do not sum to
    /// zero: some participants disagree about an instruction.
    NotClosed { expected: i128, got: i128 },
    /// Positions to settle that do not sum to zero (`sum`): settling them would create or destroy
    /// money.
    Unbalanced { sum: i128 },
    /// The participant at `index` has `balance` and must pay `needed`.
    InsufficientBalance { index: usize, balance: u128, needed: u128 },
    /// `balances` balances for `positions` positions.
    LengthMismatch { balances: usize, positions: usize },
}

impl fmt::Display for NettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Overflow => write!(f, "amount overflow"),
            Self::TooFewParticipants { count } => {
                write!(f, "an order needs at least {MIN_PARTICIPANTS} participants, not {count}")
            }
            Self::DuplicateParticipant { index } => {
                write!(f, "participant {index} appears twice in the order")
            }
            Self::NotAParticipant => write!(f, "a transfer names a party outside the order"),
            Self::SelfTransfer => write!(f, "a transfer from a party to itself"),
            Self::WrongStepCount { expected, got } => {
                write!(f, "the relay has {expected} steps, not {got}")
            }
            Self::StepMismatch { step, expected, got } => write!(
                f,
                "relay step {step} carries {got}: the received amount offset against the \
                 sender's own position gives {expected}"
            ),
            Self::NotClosed { expected, got } => write!(
                f,
                "the relay does not close: closing amount {got}, expected {expected} \
                 (the participants disagree about an instruction)"
            ),
            Self::Unbalanced { sum } => write!(f, "positions sum to {sum}, not 0"),
            Self::InsufficientBalance { index, balance, needed } => {
                write!(f, "participant {index} has {balance} and must pay {needed}")
            }
            Self::LengthMismatch { balances, positions } => {
                write!(f, "{balances} balances for {positions} positions")
            }
        }
    }
}

pub type Result<T> = core::result::Result<T, NettingError>;

fn add(a: i128, b: i128) -> Result<i128> {
    a.checked_add(b).ok_or(NettingError::Overflow)
}

fn sub(a: i128, b: i128) -> Result<i128> {
    a.checked_sub(b).ok_or(NettingError::Overflow)
}

/// How `transfer` changes `me`'s position: `+amount` if `me` receives, `−amount` if it sends, 0 if
/// it is not a party.
pub fn effect<P: PartialEq>(transfer: &Transfer<P>, me: &P) -> Result<i128> {
    if transfer.from == transfer.to {
        return Err(NettingError::SelfTransfer);
    }
    if transfer.to == *me {
        Ok(transfer.amount)
    } else if transfer.from == *me {
        transfer.amount.checked_neg().ok_or(NettingError::Overflow)
    } else {
        Ok(0)
    }
}

/// `me`'s net position (Σ received − Σ sent) from the transfers it is party to; the others count
/// for nothing, so a participant computes it from its own instructions only.
pub fn position_of<'a, P: PartialEq + 'a>(
    me: &P,
    transfers: impl IntoIterator<Item = &'a Transfer<P>>,
) -> Result<i128> {
    transfers.into_iter().try_fold(0i128, |acc, t| add(acc, effect(t, me)?))
}

/// Multilateral netting: one net position per party of a batch of obligations (every party that
/// appears, net zero included). The positions sum to zero.
pub fn net_positions<P: Ord + Clone>(transfers: &[Transfer<P>]) -> Result<BTreeMap<P, i128>> {
    let mut net = BTreeMap::new();
    for t in transfers {
        if t.from == t.to {
            return Err(NettingError::SelfTransfer);
        }
        let payer = net.entry(t.from.clone()).or_insert(0i128);
        *payer = sub(*payer, t.amount)?;
        let payee = net.entry(t.to.clone()).or_insert(0i128);
        *payee = add(*payee, t.amount)?;
    }
    Ok(net)
}

/// An order is at least [`MIN_PARTICIPANTS`] distinct participants.
pub fn check_order<P: Ord>(order: &[P]) -> Result<()> {
    if order.len() < MIN_PARTICIPANTS {
        return Err(NettingError::TooFewParticipants { count: order.len() });
    }
    let mut seen = BTreeMap::new();
    for (index, p) in order.iter().enumerate() {
        if seen.insert(p, index).is_some() {
            return Err(NettingError::DuplicateParticipant { index });
        }
    }
    Ok(())
}

/// Every participant's position, in the order, each from its own transfers only. Transfers must be
/// between participants of the order.
pub fn positions_in_order<P: Ord>(order: &[P], transfers: &[Transfer<P>]) -> Result<Vec<i128>> {
    check_order(order)?;
    let index: BTreeMap<&P, usize> = order.iter().enumerate().map(|(i, p)| (p, i)).collect();
    let mut own: Vec<Vec<&Transfer<P>>> = order.iter().map(|_| Vec::new()).collect();
    for t in transfers {
        let (Some(&from), Some(&to)) = (index.get(&t.from), index.get(&t.to)) else {
            return Err(NettingError::NotAParticipant);
        };
        own[from].push(t);
        own[to].push(t);
    }
    order.iter().zip(&own).map(|(p, mine)| position_of(p, mine.iter().copied())).collect()
}

/// Σ positions, checked.
pub fn sum(positions: &[i128]) -> Result<i128> {
    positions.iter().try_fold(0i128, |acc, p| add(acc, *p))
}

/// The start participant's amount a_1 = mask − p_1: embodiment 1 with `mask` 0, embodiment 2 with
/// the random r (prose convention, see the crate docs).
pub fn first_amount(own_position: i128, mask: i128) -> Result<i128> {
    sub(mask, own_position)
}

/// What a participant sends on after receiving `received`: a_i = a_{i−1} − p_i, the received
/// amount offset against its own position.
pub fn next_amount(received: i128, own_position: i128) -> Result<i128> {
    sub(received, own_position)
}

/// Step `step` (sent by a participant other than the first) is `received` offset against the
/// sender's `own_position`.
pub fn check_step(step: usize, received: i128, own_position: i128, sent: i128) -> Result<()> {
    let expected = next_amount(received, own_position)?;
    if sent != expected {
        return Err(NettingError::StepMismatch { step, expected, got: sent });
    }
    Ok(())
}

/// Embodiment 1's closing check: the last participant receives exactly its own position.
pub fn check_chain_closing(received: i128, last_position: i128) -> Result<()> {
    if received != last_position {
        return Err(NettingError::NotClosed { expected: last_position, got: received });
    }
    Ok(())
}

/// Embodiment 2's closing check: the amount t_n sends back to t_1 is the mask r (prose
/// convention: +r).
pub fn check_ring_closing(closing: i128, r: i128) -> Result<()> {
    if closing != r {
        return Err(NettingError::NotClosed { expected: r, got: closing });
    }
    Ok(())
}

/// Embodiment 1: the n − 1 relay amounts for these positions (in the order), closing-checked.
pub fn chained_relay(positions: &[i128]) -> Result<Vec<i128>> {
    let (last, relaying) = split_last_checked(positions)?;
    let mut amounts = Vec::with_capacity(relaying.len());
    let mut carried = first_amount(relaying[0], 0)?;
    amounts.push(carried);
    for p in &relaying[1..] {
        carried = next_amount(carried, *p)?;
        amounts.push(carried);
    }
    check_chain_closing(carried, last)?;
    Ok(amounts)
}

/// Embodiment 2: the n ring amounts for these positions masked with `r` (prose convention), the
/// last one (t_n → t_1) closing-checked against r.
pub fn masked_ring(positions: &[i128], r: i128) -> Result<Vec<i128>> {
    split_last_checked(positions)?;
    let mut amounts = Vec::with_capacity(positions.len());
    let mut carried = first_amount(positions[0], r)?;
    amounts.push(carried);
    for p in &positions[1..] {
        carried = next_amount(carried, *p)?;
        amounts.push(carried);
    }
    check_ring_closing(carried, r)?;
    Ok(amounts)
}

fn split_last_checked(positions: &[i128]) -> Result<(i128, &[i128])> {
    match positions.split_last() {
        Some((last, rest)) if positions.len() >= MIN_PARTICIPANTS => Ok((*last, rest)),
        _ => Err(NettingError::TooFewParticipants { count: positions.len() }),
    }
}

/// Checks a complete relay step by step against the participants' positions: a chain
/// (`mask` = `None`, n − 1 amounts) or a ring masked with r (`Some(r)`, n amounts).
pub fn verify_relay(positions: &[i128], amounts: &[i128], mask: Option<i128>) -> Result<()> {
    let n = positions.len();
    if n < MIN_PARTICIPANTS {
        return Err(NettingError::TooFewParticipants { count: n });
    }
    let steps = if mask.is_some() { n } else { n - 1 };
    if amounts.len() != steps {
        return Err(NettingError::WrongStepCount { expected: steps, got: amounts.len() });
    }
    let first = first_amount(positions[0], mask.unwrap_or(0))?;
    if amounts[0] != first {
        return Err(NettingError::StepMismatch { step: 0, expected: first, got: amounts[0] });
    }
    for step in 1..steps {
        check_step(step, amounts[step - 1], positions[step], amounts[step])?;
    }
    match mask {
        Some(r) => check_ring_closing(amounts[n - 1], r),
        None => check_chain_closing(amounts[n - 2], positions[n - 1]),
    }
}

/// The positions a relay settles: what applying its netting transactions to zero balances gives
/// each participant (received − sent). A chain of n − 1 amounts (`ring` false) or a ring of n.
/// They always sum to zero; they equal the participants' own positions when every step was
/// offset correctly and the relay closed.
pub fn positions_from_relay(amounts: &[i128], ring: bool) -> Result<Vec<i128>> {
    let n = if ring { amounts.len() } else { amounts.len() + 1 };
    if n < MIN_PARTICIPANTS {
        return Err(NettingError::TooFewParticipants { count: n });
    }
    let sent = |i: usize| if i < amounts.len() { amounts[i] } else { 0 };
    let received = |i: usize| match i {
        0 if ring => amounts[n - 1],
        0 => 0,
        _ => amounts[i - 1],
    };
    (0..n).map(|i| sub(received(i), sent(i))).collect()
}

/// The relay as transfers: t_i → t_{i+1} carrying a_i, and in a ring t_n → t_1 carrying a_n.
pub fn relay_transfers<P: Clone>(order: &[P], amounts: &[i128]) -> Vec<Transfer<P>> {
    let n = order.len();
    amounts
        .iter()
        .enumerate()
        .map(|(i, a)| Transfer::new(order[i].clone(), order[(i + 1) % n].clone(), *a))
        .collect()
}

/// Applies transfers to signed balances (from pays, to receives), all or nothing.
pub fn apply<P: Ord + Clone>(
    balances: &mut BTreeMap<P, i128>,
    transfers: &[Transfer<P>],
) -> Result<()> {
    let mut next = balances.clone();
    for (party, delta) in net_positions(transfers)? {
        let balance = next.entry(party).or_insert(0);
        *balance = add(*balance, delta)?;
    }
    *balances = next;
    Ok(())
}

/// Settles positions (summing to zero) against non-negative balances, index by index: the new
/// balances, or why none can change. The total of the balances is unchanged.
pub fn apply_positions(balances: &[u128], positions: &[i128]) -> Result<Vec<u128>> {
    if balances.len() != positions.len() {
        let (balances, positions) = (balances.len(), positions.len());
        return Err(NettingError::LengthMismatch { balances, positions });
    }
    let total = sum(positions)?;
    if total != 0 {
        return Err(NettingError::Unbalanced { sum: total });
    }
    balances
        .iter()
        .zip(positions)
        .enumerate()
        .map(|(index, (&balance, &p))| {
            if p >= 0 {
                balance.checked_add(p.unsigned_abs()).ok_or(NettingError::Overflow)
            } else {
                let needed = p.unsigned_abs();
                balance.checked_sub(needed).ok_or(NettingError::InsufficientBalance {
                    index,
                    balance,
                    needed,
                })
            }
        })
        .collect()
}
