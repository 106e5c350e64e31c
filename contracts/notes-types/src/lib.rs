//! The data of the notes contract (`contracts/notes`, JP7005000B2) as it stores, takes, returns
//! and emits it: the credit rule, the note, the record of an outstanding note, the totals and the
//! events. The contract is built on this crate, and so is the terminal side (`node/notes`, crate
//! `kessai-notes`), so there is one declaration of each type; the same shapes are declared for
//! the JSON interface in the contract's `abi.json`.
//!
//! `no_std`, borsh only.
//!
//! # Addresses
//!
//! Types that name accounts take the address type as a parameter `A`: the contract uses
//! `kessai_sdk::Address`, the terminal side `[u8; 32]` (it hashes and MACs the raw bytes) or
//! `kessai_primitives::Address`. All of them are 32 bytes whose borsh is the bytes themselves, so
//! every instance has the same encoding, neither side converts, and the SDK does not depend on one
//! contract's types. Instantiate `A` only with such a 32-byte type.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use borsh::{BorshDeserialize, BorshSerialize};

/// The credit check of an issuance: may a member whose deposit balance is `balance` lock `amount`
/// as the collateral of a note? Chosen at instantiation, changeable by the issuer.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditRule {
    /// `amount < balance`: the patent's example rule (something always stays on deposit).
    LessThanBalance,
    /// `amount <= balance`.
    LessOrEqualBalance,
    /// `amount <= balance × percent / 100`, with `percent` in 1..=100.
    MaxRatioPercent { percent: u8 },
}

impl CreditRule {
    /// Why the rule is malformed, if it is.
    // `#[inline]` (here and on `check`): as when the rule was declared in the contract's own crate,
    // so that moving it here left the contract's module as it was.
    #[inline]
    pub fn invalid(&self) -> Option<&'static str> {
        match self {
            CreditRule::MaxRatioPercent { percent } if !(1..=100).contains(percent) => {
                Some("MaxRatioPercent needs a percent from 1 to 100")
            }
            _ => None,
        }
    }

    /// `Ok` when a member with `balance` on deposit may issue a note of `amount` (> 0), else the
    /// refusal's reason.
    #[inline]
    pub fn check(&self, amount: u64, balance: u64) -> Result<(), String> {
        let permitted = match *self {
            CreditRule::LessThanBalance => amount < balance,
            CreditRule::LessOrEqualBalance => amount <= balance,
            // In u128: neither product can overflow.
            CreditRule::MaxRatioPercent { percent } => {
                amount as u128 * 100 <= balance as u128 * percent as u128
            }
        };
        if permitted {
            return Ok(());
        }
        Err(match *self {
            CreditRule::LessThanBalance => {
                format!("credit refused: amount {amount} is not less than the deposit balance {balance}")
            }
            CreditRule::LessOrEqualBalance => {
                format!("credit refused: amount {amount} is more than the deposit balance {balance}")
            }
            CreditRule::MaxRatioPercent { percent } => format!(
                "credit refused: amount {amount} is more than {percent}% of the deposit balance {balance}"
            ),
        })
    }
}

/// A note, as its bearer presents it for redemption. The terminal makes it: `mac` is
/// `blake3::keyed_hash(terminal_key, contract ‖ amount ‖ user ‖ serial ‖ expiry_ms)` (integers
/// little-endian), so nobody without the terminal key can produce it from the public fields.
/// Its borsh is exactly 120 bytes, each field fixed-size, in this order.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note<A> {
    /// The notes contract the note is drawn on.
    pub contract: A,
    pub amount: u64,
    /// The issuing member.
    pub user: A,
    /// The member's serial number of the issuance.
    pub serial: u64,
    /// Block time (ms since the Unix epoch) from which the note can no longer be redeemed.
    pub expiry_ms: u64,
    pub mac: [u8; 32],
}

/// An outstanding note as the ledger knows it: never the note itself, only its commitment
/// `blake3(borsh(note))`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoteRecord {
    /// The collateral locked for the note: what its redemption pays.
    pub amount: u64,
    pub expiry_ms: u64,
    pub commitment: [u8; 32],
    pub issued_height: u64,
}

/// All the money in the contract: `supply` = every deposit + `collateral`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Totals {
    pub supply: u64,
    pub collateral: u64,
}

/// Events `deposited` and `withdrawn`: `balance` is the member's deposit afterwards.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct BalanceChange<A> {
    pub member: A,
    pub amount: u64,
    pub balance: u64,
}

/// Event `issued`: the credit check passed and `amount` moved from the deposit to collateral.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Issued<A> {
    pub member: A,
    pub serial: u64,
    pub amount: u64,
    pub expiry_ms: u64,
    pub commitment: [u8; 32],
    /// The member's deposit afterwards.
    pub balance: u64,
}

/// Event `redeem_committed`: `committer` may reveal the note and payee behind `hash` from the
/// next block on.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct RedeemCommitted<A> {
    pub committer: A,
    pub hash: [u8; 32],
    pub height: u64,
}

/// Event `redeemed`: the note is burned and `payee`'s deposit credited from collateral.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Redeemed<A> {
    pub member: A,
    pub serial: u64,
    pub amount: u64,
    pub payee: A,
    /// Who revealed it (the committer).
    pub redeemer: A,
}

/// Event `reclaimed`: an expired note's collateral went back to the issuing member's deposit.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Reclaimed<A> {
    pub member: A,
    pub serial: u64,
    pub amount: u64,
    /// The member, or the issuer on its behalf.
    pub by: A,
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn a_note_is_120_bytes_of_fixed_fields() {
        let note = Note {
            contract: [1u8; 32],
            amount: 2,
            user: [3u8; 32],
            serial: 4,
            expiry_ms: 5,
            mac: [6; 32],
        };
        let bytes = borsh::to_vec(&note).unwrap();
        assert_eq!(bytes.len(), 120);
        assert_eq!(&bytes[32..40], &2u64.to_le_bytes());
        assert_eq!(borsh::from_slice::<Note<[u8; 32]>>(&bytes).unwrap(), note);
    }

    #[test]
    fn credit_rules() {
        assert!(CreditRule::LessThanBalance.check(10, 10).is_err());
        assert!(CreditRule::LessOrEqualBalance.check(10, 10).is_ok());
        assert!(CreditRule::MaxRatioPercent { percent: 50 }.check(5, 10).is_ok());
        assert!(CreditRule::MaxRatioPercent { percent: 0 }.invalid().is_some());
    }
}
