//! The contract's data: what goes in storage, arguments, results and events (all borsh; the same
//! shapes are declared in `abi.json`).

use borsh::{BorshDeserialize, BorshSerialize};
use hashlock_core::{LegStatus, Lock};
use kessai_sdk::Address;

/// A value certificate: value information Y (environmental value of some power), by the hash of
/// its content.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub id: u64,
    /// Hash of Y's content (the certificate document); a content is certified once.
    pub content_hash: [u8; 32],
    pub holder: Address,
    pub issued_at_ms: u64,
    /// The active transfer condition holding the token, if any: it cannot be locked twice.
    pub locked_by: Option<u64>,
}

/// A transfer condition: the patent's six values (token id, H_R, destination, timestamp, active
/// flag, registrant) and what the safe timeout order needs.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct TransferCondition {
    pub id: u64,
    pub token_id: u64,
    /// H_R.
    pub lock: Lock,
    /// Who receives the token on presenting R (the holder of the power, terminal 24).
    pub destination: Address,
    /// Block time of the registration.
    pub timestamp_ms: u64,
    /// The active flag is `status == Active`; a claimed condition keeps the secret, which is how
    /// the other side learns it.
    pub status: LegStatus,
    pub registrant: Address,
    pub timeout_ms: u64,
    /// `timestamp_ms + timeout_ms`: transfer before it, withdraw from it on.
    pub deadline_ms: u64,
    /// The counter leg's deadline this condition was checked against (second leg), if any.
    pub counter_deadline_ms: Option<u64>,
}
