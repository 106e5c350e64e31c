//! The asset-ownership contract's data as the node sees it: the same borsh layout as
//! `contracts/asset-ownership/src/types.rs` (and the same JSON as its `abi.json`, so the types
//! travel unchanged between the contract, the node's RPC and the intermediary protocol).

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::Address;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How the electricity of a record was produced.
#[derive(
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
)]
pub enum ProductionMethod {
    Solar,
    Wind,
    Hydro,
    Biomass,
    Geothermal,
    Oil,
    Gas,
    Coal,
    Nuclear,
    /// Anything else, by name. Not counted as renewable (as in the contract).
    Other {
        name: String,
    },
}

impl ProductionMethod {
    /// The contract's rule: these five count towards a consumer's renewable share.
    pub fn is_renewable(&self) -> bool {
        matches!(self, Self::Solar | Self::Wind | Self::Hydro | Self::Biomass | Self::Geothermal)
    }
}

impl fmt::Display for ProductionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other { name } => write!(f, "{name}"),
            named => write!(f, "{}", format!("{named:?}").to_lowercase()),
        }
    }
}

#[derive(
    BorshSerialize, BorshDeserialize, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq,
)]
pub enum Status {
    /// Still transferable (until its expiry).
    NotYet,
    /// Allocated to a user; never moves again.
    Completed,
}

#[derive(BorshSerialize, BorshDeserialize, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AssetRecord {
    pub id: u64,
    pub provider: Address,
    pub provided_at_ms: u64,
    /// Tradable amount (after a final transfer: the amount used), in Wh.
    pub amount: u64,
    pub method: ProductionMethod,
    pub owner: Address,
    /// The record cannot move from this block time on.
    pub expiry_ms: u64,
    pub status: Status,
    pub origin: Option<u64>,
}

#[derive(
    BorshSerialize, BorshDeserialize, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq,
)]
pub enum TransferKind {
    Intermediary,
    Final,
}

/// One change of owner, as the contract logs it under `t/ (to, time big-endian, asset id)`.
#[derive(BorshSerialize, BorshDeserialize, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub asset_id: u64,
    pub from: Address,
    pub to: Address,
    /// Block time of the transfer.
    pub time_ms: u64,
    pub kind: TransferKind,
    pub remainder_id: Option<u64>,
    /// The record right after the transfer.
    pub record: AssetRecord,
}

/// Storage-map prefixes of the contract (`abi.json` `maps`); an entry's storage key is
/// `prefix ‖ borsh(key)`.
pub mod storage {
    use super::Address;

    pub const TRANSFERS: &[u8] = b"t/";

    /// The storage key of a transfer log entry: `t/ ‖ borsh((to, time big-endian, asset id))`.
    pub fn transfer_key(to: &Address, time_ms: u64, asset_id: u64) -> Vec<u8> {
        let mut key = TRANSFERS.to_vec();
        key.extend(borsh::to_vec(&(to, time_ms.to_be_bytes(), asset_id)).expect("in memory"));
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_matches_the_contract_abi() {
        // The ABI encodes unit variants as strings and data variants as one-key objects.
        assert_eq!(serde_json::to_value(ProductionMethod::Solar).unwrap(), json!("Solar"));
        assert_eq!(
            serde_json::to_value(ProductionMethod::Other { name: "tidal".into() }).unwrap(),
            json!({"Other": {"name": "tidal"}})
        );
        assert_eq!(serde_json::to_value(Status::NotYet).unwrap(), json!("NotYet"));
    }

    #[test]
    fn borsh_layout_matches_the_contract() {
        // Variant index then fields, as the contract's derive writes them.
        assert_eq!(borsh::to_vec(&ProductionMethod::Oil).unwrap(), [5]);
        assert_eq!(
            borsh::to_vec(&ProductionMethod::Other { name: "x".into() }).unwrap(),
            [9, 1, 0, 0, 0, b'x']
        );
        let key = storage::transfer_key(&Address([7; 32]), 0x0102, 3);
        assert_eq!(&key[..2], b"t/");
        assert_eq!(&key[2..34], &[7; 32]);
        assert_eq!(&key[34..42], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&key[42..], &3u64.to_le_bytes());
    }

    #[test]
    fn renewable_methods_are_the_contracts() {
        assert!(ProductionMethod::Solar.is_renewable());
        assert!(ProductionMethod::Geothermal.is_renewable());
        assert!(!ProductionMethod::Oil.is_renewable());
        assert!(!ProductionMethod::Nuclear.is_renewable());
        assert!(!ProductionMethod::Other { name: "tidal".into() }.is_renewable());
        assert_eq!(ProductionMethod::Solar.to_string(), "solar");
    }
}
