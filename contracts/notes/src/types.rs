//! The contract's data: what goes in storage, arguments, results and events (all borsh; the same
//! shapes are declared in `abi.json`). Declared once, in `notes-types`, which the terminal side
//! (`kessai-notes`) shares; here with the SDK's [`Address`].

use kessai_sdk::Address;

pub use notes_types::{CreditRule, NoteRecord, Totals};

/// A note, as its bearer presents it for redemption (see [`notes_types::Note`]).
pub type Note = notes_types::Note<Address>;
/// Events `deposited` and `withdrawn`.
pub type BalanceChange = notes_types::BalanceChange<Address>;
/// Event `issued`.
pub type Issued = notes_types::Issued<Address>;
/// Event `redeem_committed`.
pub type RedeemCommitted = notes_types::RedeemCommitted<Address>;
/// Event `redeemed`.
pub type Redeemed = notes_types::Redeemed<Address>;
/// Event `reclaimed`.
pub type Reclaimed = notes_types::Reclaimed<Address>;
