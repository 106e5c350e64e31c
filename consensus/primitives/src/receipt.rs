//! What executing a transaction left behind.

use crate::crypto::Address;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Whether a transaction's effects were kept (`{"status": "success"}` or `{"status": "failed",
/// "reason": …}` in JSON).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// The transaction ran to completion and its state changes and events were kept.
    Success,
    /// The transaction was included and its nonce used, but all its state changes were rolled back.
    Failed {
        /// Why it failed (a trap, out of gas, a refused permission, …), for people.
        reason: String,
    },
}

/// A contract event: a topic and borsh-encoded data, emitted by `contract`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Event {
    /// Address of the contract that emitted it.
    pub contract: Address,
    /// The topic, as the contract's interface names its events.
    pub topic: String,
    /// The event's data, borsh of the topic's type (hex in JSON).
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

/// The outcome of one transaction of a block, committed to by the header's `receipts_root`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    /// Id of the transaction.
    pub tx_id: Hash,
    /// Whether its effects were kept.
    pub status: TxStatus,
    /// Gas it burned, within its `gas_limit`; counted against the block's gas limit.
    pub gas_used: u64,
    /// What the called method returned (borsh), empty on failure.
    #[serde(with = "hex_bytes")]
    pub return_data: Vec<u8>,
    /// Events of a successful transaction; a failed one keeps none.
    pub events: Vec<Event>,
    /// The address of the contract an `Instantiate` created, or the code hash a `Deploy` stored.
    pub created: Option<Address>,
}

impl Receipt {
    /// Whether the status is [`TxStatus::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self.status, TxStatus::Success)
    }
}

/// Serde helper: bytes as a hex string.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `bytes` as lowercase hex, without `0x`.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    /// Reads hex, with or without a `0x` prefix.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)
    }
}
