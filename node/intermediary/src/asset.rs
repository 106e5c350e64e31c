//! The asset-ownership contract's data as the intermediary uses it: the types of
//! `contracts/asset-ownership-types`, which the contract itself is built on (one declaration, so
//! the two cannot drift apart), with the node's [`Address`]. Its borsh is the 32 bytes, as the
//! SDK's is, and the types' JSON (their `serde` feature) is the contract's `abi.json`, so they
//! travel unchanged between the contract, the node's RPC and the intermediary protocol.

use kessai_primitives::Address;

pub use asset_ownership_types::{Party, ProductionMethod, Split, Status, TransferKind};

/// An asset record: a produced quantity of electricity and who owns it now.
pub type AssetRecord = asset_ownership_types::AssetRecord<Address>;

/// One change of owner, as the contract logs it under `t/ (to, time big-endian, asset id)`.
pub type Transfer = asset_ownership_types::Transfer<Address>;

/// Storage-map prefixes of the contract (`abi.json` `maps`) and the transfer log's key; an
/// entry's storage key is `prefix ‖ borsh(key)`.
pub mod storage {
    pub use asset_ownership_types::storage::*;
}

#[cfg(test)]
mod tests {
    use super::*;
    use kessai_abi::Abi;
    use serde_json::json;

    const ABI_JSON: &str = include_str!("../../../contracts/asset-ownership/abi.json");

    fn transfer() -> Transfer {
        Transfer {
            asset_id: 3,
            from: Address([1; 32]),
            to: Address([2; 32]),
            time_ms: 1_577_836_800_000,
            kind: TransferKind::Final,
            remainder_id: Some(4),
            record: AssetRecord {
                id: 3,
                provider: Address([5; 32]),
                provided_at_ms: 1_577_836_000_000,
                amount: 1500,
                method: ProductionMethod::Other { name: "tidal".into() },
                owner: Address([2; 32]),
                expiry_ms: u64::MAX,
                status: Status::Completed,
                origin: None,
            },
        }
    }

    #[test]
    fn json_is_the_contract_abis() {
        // The ABI encodes unit variants as strings and data variants as one-key objects.
        assert_eq!(serde_json::to_value(ProductionMethod::Solar).unwrap(), json!("Solar"));
        assert_eq!(
            serde_json::to_value(ProductionMethod::Other { name: "tidal".into() }).unwrap(),
            json!({"Other": {"name": "tidal"}})
        );
        assert_eq!(serde_json::to_value(Status::Expired).unwrap(), json!("Expired"));
        // Our JSON of a transfer is what the node's codec reads by the contract's abi.json.
        let abi = Abi::from_json(ABI_JSON).unwrap();
        let transfer = transfer();
        let value = serde_json::to_value(&transfer).unwrap();
        assert_eq!(abi.encode("Transfer", &value).unwrap(), borsh::to_vec(&transfer).unwrap());
        assert_eq!(serde_json::from_value::<Transfer>(value).unwrap(), transfer);
    }

    #[test]
    fn the_nodes_address_encodes_as_the_contracts() {
        let transfer = transfer();
        let bytes = borsh::to_vec(&transfer).unwrap();
        assert_eq!(&bytes[8..40], &[1; 32]);
        let key = storage::transfer_key(&transfer.to, 0x0102, 3);
        assert_eq!(&key[..2], b"t/");
        assert_eq!(&key[2..34], &[2; 32]);
        assert_eq!(&key[34..42], &[0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
