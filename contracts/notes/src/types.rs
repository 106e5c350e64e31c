//! The contract's data: what goes in storage, arguments, results and events (all borsh; the same
//! shapes are declared in `abi.json`).

use alloc::format;
use alloc::string::String;
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_sdk::Address;

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
pub struct Note {
    /// The notes contract the note is drawn on.
    pub contract: Address,
    pub amount: u64,
    /// The issuing member.
    pub user: Address,
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
pub struct BalanceChange {
    pub member: Address,
    pub amount: u64,
    pub balance: u64,
}

/// Event `issued`: the credit check passed and `amount` moved from the deposit to collateral.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub member: Address,
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
pub struct RedeemCommitted {
    pub committer: Address,
    pub hash: [u8; 32],
    pub height: u64,
}

/// Event `redeemed`: the note is burned and `payee`'s deposit credited from collateral.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Redeemed {
    pub member: Address,
    pub serial: u64,
    pub amount: u64,
    pub payee: Address,
    /// Who revealed it (the committer).
    pub redeemer: Address,
}

/// Event `reclaimed`: an expired note's collateral went back to the issuing member's deposit.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Reclaimed {
    pub member: Address,
    pub serial: u64,
    pub amount: u64,
    /// The member, or the issuer on its behalf.
    pub by: Address,
}
