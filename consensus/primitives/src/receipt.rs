//! What executing a transaction left behind.

use crate::crypto::Address;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    Success,
    /// The transaction was included and its nonce used, but all its state changes were rolled back.
    Failed {
        reason: String,
    },
}

/// A contract event: a topic and borsh-encoded data, emitted by `contract`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Event {
    pub contract: Address,
    pub topic: String,
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_id: Hash,
    pub status: TxStatus,
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
    pub fn is_success(&self) -> bool {
        matches!(self.status, TxStatus::Success)
    }
}

/// Serde helper: bytes as a hex string.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)
    }
}
