//! The contract's data: what goes in storage, arguments, results and events (all borsh; the same
//! shapes are declared in `abi.json`).

use borsh::{BorshDeserialize, BorshSerialize};
use hashlock_core::{LegStatus, Lock};
use kessai_sdk::Address;

/// A burn request: the patent's six values (X, H_R, permitted address, timestamp, active flag,
/// creator) and what the safe timeout order needs.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct BurnRequest {
    pub id: u64,
    /// X: the escrowed power information.
    pub amount: u64,
    /// H_R.
    pub lock: Lock,
    /// Who may burn it with R (the administrator, terminal 14).
    pub permitted: Address,
    /// Block time of the registration.
    pub timestamp_ms: u64,
    /// The active flag is `status == Active`; a claimed request keeps the secret.
    pub status: LegStatus,
    pub creator: Address,
    pub timeout_ms: u64,
    /// `timestamp_ms + timeout_ms`: burn before it, withdraw from it on.
    pub deadline_ms: u64,
    /// The counter leg's deadline this request was checked against (second leg), if any.
    pub counter_deadline_ms: Option<u64>,
}

/// Event `issued`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub to: Address,
    pub amount: u64,
    pub total_supply: u64,
}

/// Event `transferred`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Transferred {
    pub from: Address,
    pub to: Address,
    pub amount: u64,
}
