//! The contract's data: what goes in storage, arguments, results and events (all borsh; the same
//! shapes are declared in `abi.json`).

use alloc::string::String;
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_sdk::Address;

/// How the electricity of a record was produced. Renewable-ness drives the intermediary's choice
/// of record for a consumer with a renewable target.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
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
    /// Anything else, by name (1 to 64 bytes). Not counted as renewable.
    Other {
        name: String,
    },
}

impl ProductionMethod {
    pub fn is_renewable(&self) -> bool {
        matches!(self, Self::Solar | Self::Wind | Self::Hydro | Self::Biomass | Self::Geothermal)
    }
}

/// `NotYet`: still transferable. `Completed`: allocated to a user; never moves again. `Expired`:
/// a `NotYet` record whose `expiry_ms` the block time has reached; it never moves again either.
///
/// `Expired` is never stored: a block time passing writes nothing, so storage (and a state proof
/// of `r/` or `o/`) keeps `NotYet` with the `expiry_ms`, and the views (`get`, `status`,
/// `owned_by`, `owned_by_page`, `transferable`) report `Expired` from the block time of the state
/// they read. `transfers_to` shows each record as it was at its transfer.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    NotYet,
    Completed,
    Expired,
}

/// An asset record: a produced quantity of electricity and who owns it now.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct AssetRecord {
    pub id: u64,
    /// The registered provider (producer) that created it.
    pub provider: Address,
    /// When the electricity was provided (ms since the Unix epoch, the meter's slot).
    pub provided_at_ms: u64,
    /// Tradable amount, in Wh.
    pub amount: u64,
    pub method: ProductionMethod,
    pub owner: Address,
    /// The record cannot move from this block time on (its status is then `Expired`).
    pub expiry_ms: u64,
    pub status: Status,
    /// The record this one was split from (a split or the remainder of a final transfer).
    pub origin: Option<u64>,
}

/// A registered provider or intermediary.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub registered_at_ms: u64,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferKind {
    /// Between intermediaries (the patent's first/second change request): stays `NotYet`.
    Intermediary,
    /// To the user (third change request): `Completed`.
    Final,
}

/// One change of owner, as logged for `transfers_to` and emitted as an event.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub asset_id: u64,
    pub from: Address,
    pub to: Address,
    /// Block time of the transfer.
    pub time_ms: u64,
    pub kind: TransferKind,
    /// The new record holding what the user did not use (final transfer of part of a record).
    pub remainder_id: Option<u64>,
    /// The record right after the transfer.
    pub record: AssetRecord,
}

/// `amount` of record `asset_id` moved into the new record `new_id`, same owner.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub asset_id: u64,
    pub new_id: u64,
    pub amount: u64,
}
