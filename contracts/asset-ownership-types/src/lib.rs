//! The data of the asset-ownership contract (`contracts/asset-ownership`, JP7803395B2) as it
//! stores, returns and emits it: records, statuses, production methods, transfers, the events
//! and the storage keys. The contract is built on this crate, and so is the intermediary
//! (`node/intermediary`), so the two cannot drift apart: there is one declaration of each type.
//! The same shapes are declared for the JSON interface in the contract's `abi.json`.
//!
//! `no_std`, borsh only. With the `serde` feature (the intermediary's, never the contract's) the
//! types also derive serde, with the JSON of `abi.json` (unit variants as strings, data variants
//! as one-key objects, fields by name).
//!
//! # Addresses
//!
//! Records and transfers name accounts, but this crate has no address type: [`AssetRecord`] and
//! [`Transfer`] take it as a parameter `A`. The contract uses `kessai_sdk::Address`, the node
//! `kessai_primitives::Address`; both are a newtype over `[u8; 32]` whose borsh is the 32 bytes
//! themselves, so every instance has the same encoding. That is the smallest design: neither side
//! converts addresses (a newtype of our own would need conversions in the contract and in the
//! node), and the SDK does not depend on one contract's types. Instantiate `A` only with such a
//! 32-byte address type.
#![no_std]

extern crate alloc;

pub mod storage;

use alloc::string::String;
use borsh::{BorshDeserialize, BorshSerialize};
use core::fmt;

/// How the electricity of a record was produced. Renewable-ness drives the intermediary's choice
/// of record for a consumer with a renewable target.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// The contract's rule: these five count towards a consumer's renewable share.
    pub fn is_renewable(&self) -> bool {
        matches!(self, Self::Solar | Self::Wind | Self::Hydro | Self::Biomass | Self::Geothermal)
    }
}

impl fmt::Display for ProductionMethod {
    /// Lower case (`solar`), or the name of an `Other`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Solar => "solar",
            Self::Wind => "wind",
            Self::Hydro => "hydro",
            Self::Biomass => "biomass",
            Self::Geothermal => "geothermal",
            Self::Oil => "oil",
            Self::Gas => "gas",
            Self::Coal => "coal",
            Self::Nuclear => "nuclear",
            Self::Other { name } => name,
        })
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Status {
    NotYet,
    Completed,
    Expired,
}

/// An asset record: a produced quantity of electricity and who owns it now. `A` is the address
/// type (see the crate docs).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AssetRecord<A> {
    pub id: u64,
    /// The registered provider (producer) that created it.
    pub provider: A,
    /// When the electricity was provided (ms since the Unix epoch, the meter's slot).
    pub provided_at_ms: u64,
    /// Tradable amount (after a final transfer: the amount used), in Wh.
    pub amount: u64,
    pub method: ProductionMethod,
    pub owner: A,
    /// The record cannot move from this block time on (its status is then `Expired`).
    pub expiry_ms: u64,
    pub status: Status,
    /// The record this one was split from (a split or the remainder of a final transfer).
    pub origin: Option<u64>,
}

/// A registered provider or intermediary.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Party {
    pub name: String,
    pub registered_at_ms: u64,
}

/// Whether a transfer went to another intermediary or, finally, to the user.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TransferKind {
    /// Between intermediaries (the patent's first/second change request): stays `NotYet`.
    Intermediary,
    /// To the user (third change request): `Completed`.
    Final,
}

/// One change of owner, as logged for `transfers_to` (under [`storage::transfer_key`]) and
/// emitted as the events `transferred` and `final_transferred`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Transfer<A> {
    pub asset_id: u64,
    pub from: A,
    pub to: A,
    /// Block time of the transfer.
    pub time_ms: u64,
    pub kind: TransferKind,
    /// The new record holding what the user did not use (final transfer of part of a record).
    pub remainder_id: Option<u64>,
    /// The record right after the transfer.
    pub record: AssetRecord<A>,
}

/// Event `split`: `amount` of record `asset_id` moved into the new record `new_id`, same owner.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Split {
    pub asset_id: u64,
    pub new_id: u64,
    pub amount: u64,
}

#[cfg(test)]
mod tests;
