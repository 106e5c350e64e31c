//! The contract's data: what goes in storage, arguments, results and events (all borsh; the same
//! shapes are declared in `abi.json`). Declared once, in `asset-ownership-types`, which the
//! intermediary shares; here with the SDK's [`Address`].

use kessai_sdk::Address;

pub use asset_ownership_types::{storage, Party, ProductionMethod, Split, Status, TransferKind};

/// An asset record: a produced quantity of electricity and who owns it now.
pub type AssetRecord = asset_ownership_types::AssetRecord<Address>;

/// One change of owner, as logged for `transfers_to` and emitted as an event.
pub type Transfer = asset_ownership_types::Transfer<Address>;
