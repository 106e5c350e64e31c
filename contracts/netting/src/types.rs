//! The contract's data: storage values, arguments, results and events (borsh; the same shapes are
//! declared in `abi.json`).

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_sdk::Address;

pub type Hash = [u8; 32];

/// Until when a cycle may proceed: through block `height`, or while the block time is at most `ms`.
/// Past it, anyone may abort the cycle.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    Height { height: u64 },
    Time { ms: u64 },
}

/// Embodiment 1 (`Chained`: n − 1 netting transactions, the last participant closes) or
/// embodiment 2 (`MaskedRing`: the first participant masks with a committed r, n netting
/// transactions back to it, it closes by revealing r).
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayKind {
    Chained,
    MaskedRing,
}

/// `Public`: instructions are on the ledger and the contract checks every relay step against the
/// positions it derives from them. `Private`: only commitments (blake3 hashes acknowledged by both
/// counterparties) are on the ledger; each participant relays the amount it computed locally, and
/// the closing check catches any disagreement.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Public,
    Private,
}

/// `Open`: registering instructions until every participant is ready. `Relay`: netting
/// transactions in the agreed order. Then `Settled` (positions applied), `Rejected` (the relay did
/// not close; nothing settled) or `Aborted` (stalled past the deadline, or refused while open).
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Open,
    Relay,
    Settled,
    Rejected,
    Aborted,
}

/// A netting cycle.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub id: u64,
    pub opened_by: Address,
    /// The agreed order t_1 … t_n.
    pub order: Vec<Address>,
    pub relay: RelayKind,
    pub mode: Mode,
    pub deadline: Deadline,
    pub phase: Phase,
    /// Per participant (in the order): agreed to the cycle and closed its registration.
    pub ready: Vec<bool>,
    /// Per participant: private-mode commitments it is party to that are not acknowledged yet.
    pub pending: Vec<u32>,
    /// Instructions (public) or commitments (private) registered.
    pub instructions: u32,
    /// Masked ring: blake3(borsh(r) ‖ salt), committed by t_1 before its first netting transaction.
    pub mask_commitment: Option<Hash>,
    /// The relay so far: a_1, a_2, … (a_k is sent by t_k to t_{k+1}; in a ring a_n goes to t_1).
    pub amounts: Vec<i128>,
    /// The revealed r of a masked ring.
    pub mask: Option<i128>,
    /// The settled positions, in the order (empty until settled).
    pub positions: Vec<i128>,
}

/// A payment instruction (public mode): `sender` pays `receiver` `amount`; a negative amount
/// means `receiver` pays `sender` |amount| (then it counts only once `receiver` acknowledged it),
/// 0 moves nothing. `sender` is who registered it.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub id: u64,
    pub sender: Address,
    pub receiver: Address,
    pub amount: i128,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitmentStatus {
    Pending,
    Acknowledged,
}

/// A private-mode instruction: only its hash and the two parties (not the direction or amount).
/// The hash is blake3(borsh((cycle, id, sender, receiver, amount)) ‖ salt), see
/// `instruction_commitment`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    pub hash: Hash,
    pub registered_by: Address,
    pub counterparty: Address,
    pub status: CommitmentStatus,
}

/// One participant's settled net position.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub participant: Address,
    pub amount: i128,
}

// Events.

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct InstructionEvent {
    pub cycle: u64,
    pub instruction: Instruction,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct InstructionCancelled {
    pub cycle: u64,
    pub id: u64,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CommitmentEvent {
    pub cycle: u64,
    pub commitment: Commitment,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct ParticipantEvent {
    pub cycle: u64,
    pub participant: Address,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct MaskCommitted {
    pub cycle: u64,
    pub commitment: Hash,
}

/// A netting transaction: `from` pays `to` `amount` (negative: `to` pays `from`).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct NettingTransaction {
    pub cycle: u64,
    pub step: u32,
    pub from: Address,
    pub to: Address,
    pub amount: i128,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CycleSettled {
    pub cycle: u64,
    pub positions: Vec<Position>,
}

/// The closing amount was `got`; a closed relay needs `expected`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CycleRejected {
    pub cycle: u64,
    pub expected: i128,
    pub got: i128,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CycleAborted {
    pub cycle: u64,
    pub by: Address,
    /// Whom the cycle was waiting for: the first participant not ready, or the one whose turn it was.
    pub waiting_for: Option<Address>,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct BalanceChanged {
    pub account: Address,
    pub amount: u128,
    pub balance: u128,
}
