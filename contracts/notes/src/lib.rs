//! Notes (JP7005000B2, `shared/specs/notes.md`): a member asks to issue a note of some amount; the
//! issuer's credit check (the rule chosen at instantiation) decides, and on success the amount
//! moves from the member's deposit into collateral and the ledger records a *commitment* to the
//! note — never the note, never a terminal key, so validators cannot read bearer secrets. The
//! member's terminal makes the note with its own key (the patent's third embodiment: the contract
//! compares against what it stored at issuance). Whoever holds the note can have it settled once:
//! the payee is credited from collateral and the commitment deleted.
//!
//! **Deposits.** A deposit is a member's money held by the issuer. The issuer credits it
//! (`deposit`, when funds reach it off-chain); a member debits its own (`withdraw`, whose
//! `withdrawn` event is the issuer's instruction to pay out off-chain). Redemptions credit the
//! payee's deposit. Any address may hold a deposit. The contract's `supply` is every deposit plus
//! the collateral; only `deposit` and `withdraw` change it.
//!
//! **Serials.** Serials are per member, from 1, consecutive, and consumed only by a successful
//! issuance. The client reads `next_serial(member)`, the terminal makes the note with that serial
//! and the call `issue(amount, serial, expiry_ms, commitment)` names it: the contract refuses a
//! serial that is not the member's next one (another issuance won the race: make the note again).
//! A refused issuance (credit check, serial, expiry, malformed commitment) aborts, so it changes nothing — no serial is
//! used, and the same serial serves the next attempt.
//!
//! **Genuineness (the patent's third embodiment, on a chain).** In the patent the issuer
//! precomputes the ciphertext itself at issuance and settles a note by finding it among them. Here
//! the issuer never sees a terminal key, so the member's terminal makes the note and the issue call
//! carries its commitment `blake3(borsh(note))`; "genuine" means exactly: *the presented note hashes
//! to the commitment recorded for (its user, its serial), and its amount and expiry are those of
//! that issuance*. What the chain checks: the credit check, the serial, that the expiry is in the
//! future, that the commitment is not the all-zero bytes (the one value that is certainly no hash of
//! a note — a client that sent an unset field; any other 32 bytes are indistinguishable from a hash),
//! and at redemption the match above, once. What the terminal key guarantees: nobody without it can
//! compute the note's MAC from the public fields (they are in the issue transaction), so nobody else
//! can produce the note of an outstanding commitment, and the commitment reveals nothing of it. What
//! it does not guarantee: that the commitment was made by a terminal, or from a note at all — the
//! chain cannot tell (no key is registered on it), and a member who commits to anything else only
//! locks its own collateral until expiry, then reclaims it; that a note is paid to the one holding
//! it — it is bearer data: the member (or anyone it was shown to) can redeem it first, and a payee
//! should compare `blake3(note)` with `note(member, serial).commitment` and redeem promptly; and it
//! protects nothing once the key leaks — whoever has it can make and redeem every outstanding note
//! of that terminal.
//!
//! **Redemption, by commit–reveal.** A note seen in the mempool must not be redeemable by the one
//! who saw it, so the redeemer first calls `commit_redeem(blake3(borsh(note) ‖ payee))`, and in a
//! later block `reveal_redeem(note, payee)`. The reveal needs the caller's *own* earlier commitment
//! to exactly this note and payee: a thief who sees the reveal has no earlier commitment to the
//! note with his own payee, and a copied commitment still names the honest payee. Commitments are
//! kept per committer, so a copy does not block the original.
//!
//! **Expiry.** A note can be redeemed while the block time is before its `expiry_ms`. From then
//! on, the issuing member — or the issuer on its behalf — reclaims the collateral into the member's
//! deposit with `reclaim(member, serial)`.
//!
//! Storage (maps declared in `abi.json`): `d/` deposits, `s/` next serial per member, `n/`
//! outstanding notes by (member, serial), `c/` redemption commitments by (committer, hash) → the
//! height committed; items `issuer`, `rule`, `totals`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod types;

#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use kessai_sdk::{
    block_height, block_time_ms, caller, emit, self_address, to_borsh, Address, Item, Map,
};
pub use types::*;

kessai_sdk::abi!("../abi.json");

const ISSUER: Item<Address> = Item::new(b"issuer");
const RULE: Item<CreditRule> = Item::new(b"rule");
const TOTALS: Item<Totals> = Item::new(b"totals");
const DEPOSITS: Map<Address, u64> = Map::new(b"d/");
/// A member's next serial; absent means 1.
const NEXT_SERIAL: Map<Address, u64> = Map::new(b"s/");
const NOTES: Map<(Address, u64), NoteRecord> = Map::new(b"n/");
/// (committer, blake3(borsh(note) ‖ payee)) → the height of the commitment.
const REDEEM_COMMITS: Map<(Address, [u8; 32]), u64> = Map::new(b"c/");

type Res<T> = Result<T, String>;

kessai_sdk::methods! {
    /// Run once at instantiation.
    pub fn init(issuer: Address, rule: CreditRule) -> Res<()> {
        if ISSUER.exists() {
            return Err("already initialised".into());
        }
        if let Some(why) = rule.invalid() {
            return Err(why.into());
        }
        ISSUER.set(&issuer);
        RULE.set(&rule);
        TOTALS.set(&Totals::default());
        emit("issuer_changed", &issuer);
        emit("credit_rule_changed", &rule);
        Ok(())
    }

    /// Hands the issuer role to `new_issuer`.
    pub fn set_issuer(new_issuer: Address) -> Res<()> {
        only_issuer("hand over the issuer role")?;
        ISSUER.set(&new_issuer);
        emit("issuer_changed", &new_issuer);
        Ok(())
    }

    /// Changes the credit check of future issuances.
    pub fn set_credit_rule(rule: CreditRule) -> Res<()> {
        only_issuer("change the credit rule")?;
        if let Some(why) = rule.invalid() {
            return Err(why.into());
        }
        RULE.set(&rule);
        emit("credit_rule_changed", &rule);
        Ok(())
    }

    /// The issuer credits `amount` it received off-chain to `member`'s deposit; returns the
    /// new balance.
    pub fn deposit(member: Address, amount: u64) -> Res<u64> {
        only_issuer("credit deposits")?;
        positive(amount)?;
        let mut totals = totals_now();
        totals.supply = totals.supply.checked_add(amount).ok_or("the total supply would overflow u64")?;
        TOTALS.set(&totals);
        // Every balance is at most the supply, so this cannot overflow.
        let balance = balance_of(&member) + amount;
        DEPOSITS.insert(&member, &balance);
        emit("deposited", &BalanceChange { member, amount, balance });
        Ok(balance)
    }

    /// The caller takes `amount` out of its deposit; the issuer pays it out off-chain on the
    /// `withdrawn` event. Returns the new balance.
    pub fn withdraw(amount: u64) -> Res<u64> {
        positive(amount)?;
        let member = caller();
        let before = balance_of(&member);
        let balance = before.checked_sub(amount).ok_or_else(|| {
            format!("insufficient deposit: balance {before}, withdrawal {amount}")
        })?;
        set_balance(&member, balance);
        let mut totals = totals_now();
        totals.supply -= amount;
        TOTALS.set(&totals);
        emit("withdrawn", &BalanceChange { member, amount, balance });
        Ok(balance)
    }

    /// The caller's issue request: if the credit check passes, `amount` moves from its deposit to
    /// collateral and the ledger records `commitment` = blake3(borsh(note)) for serial `serial`,
    /// which must be the caller's `next_serial`. An all-zero commitment is refused (no note hashes
    /// to it). Returns the serial.
    pub fn issue(amount: u64, serial: u64, expiry_ms: u64, commitment: [u8; 32]) -> Res<u64> {
        positive(amount)?;
        let member = caller();
        let balance = balance_of(&member);
        RULE.get().ok_or("not initialised")?.check(amount, balance)?;
        let next = next_serial_of(&member);
        if serial != next {
            return Err(format!(
                "serial {serial} is not the member's next serial {next}: make the note again with serial {next}"
            ));
        }
        let now = block_time_ms();
        if expiry_ms <= now {
            return Err(format!("expiry {expiry_ms} is not after the block time {now}"));
        }
        if commitment == [0; 32] {
            return Err("malformed commitment: all zero bytes is no blake3 of a note (the terminal \
                        commits to blake3(borsh(note)) of the note it made)"
                .into());
        }
        let balance = balance - amount;
        set_balance(&member, balance);
        let mut totals = totals_now();
        totals.collateral += amount;
        TOTALS.set(&totals);
        NEXT_SERIAL.insert(&member, &(serial + 1));
        let record = NoteRecord { amount, expiry_ms, commitment, issued_height: block_height() };
        NOTES.insert(&(member, serial), &record);
        emit("issued", &Issued { member, serial, amount, expiry_ms, commitment, balance });
        Ok(serial)
    }

    /// First half of a redemption: the caller commits to `hash` = blake3(borsh(note) ‖ payee)
    /// without showing the note. It may reveal from the next block on.
    pub fn commit_redeem(hash: [u8; 32]) -> Res<()> {
        let committer = caller();
        if REDEEM_COMMITS.contains(&(committer, hash)) {
            return Err("this redemption is already committed by the caller".into());
        }
        let height = block_height();
        REDEEM_COMMITS.insert(&(committer, hash), &height);
        emit("redeem_committed", &RedeemCommitted { committer, hash, height });
        Ok(())
    }

    /// Second half: settles `note` once, paying its amount from collateral into `payee`'s deposit.
    /// Needs the caller's commitment to exactly (note, payee) from an earlier block. Returns the
    /// amount paid.
    pub fn reveal_redeem(note: Note, payee: Address) -> Res<u64> {
        let here = self_address();
        if note.contract != here {
            return Err(format!("the note is drawn on contract {}, not this one ({here})", note.contract));
        }
        let redeemer = caller();
        let commit_key = (redeemer, redeem_hash(&note, &payee));
        let committed_at = REDEEM_COMMITS.get(&commit_key).ok_or_else(|| {
            format!("no redemption commitment from {redeemer} to this note and payee: call commit_redeem first")
        })?;
        let height = block_height();
        if committed_at >= height {
            return Err(format!(
                "the reveal must come in a block after its commitment (committed at height {committed_at})"
            ));
        }
        let record = outstanding(&note.user, note.serial)?;
        if kessai_sdk::blake3(&to_borsh(&note)) != record.commitment {
            return Err(format!("not a genuine note: it does not match the commitment of serial {}", note.serial));
        }
        if note.amount != record.amount || note.expiry_ms != record.expiry_ms {
            return Err("the note's amount or expiry differ from its issuance".into());
        }
        let now = block_time_ms();
        if now >= record.expiry_ms {
            return Err(format!(
                "the note expired at {} (block time {now}): its collateral goes back to the issuing member",
                record.expiry_ms
            ));
        }
        REDEEM_COMMITS.remove(&commit_key);
        settle(&note.user, note.serial, &record, &payee);
        let serial = note.serial;
        emit("redeemed", &Redeemed { member: note.user, serial, amount: record.amount, payee, redeemer });
        Ok(record.amount)
    }

    /// After its expiry, an unredeemed note's collateral goes back to the issuing member's
    /// deposit. Callable by that member or by the issuer. Returns the amount.
    pub fn reclaim(member: Address, serial: u64) -> Res<u64> {
        let by = caller();
        if by != member && Some(by) != ISSUER.get() {
            return Err("unauthorised: only the issuing member or the issuer may reclaim a note's collateral".into());
        }
        let record = outstanding(&member, serial)?;
        let now = block_time_ms();
        if now < record.expiry_ms {
            return Err(format!(
                "serial {serial} has not expired: it can be redeemed until {} (block time {now})",
                record.expiry_ms
            ));
        }
        settle(&member, serial, &record, &member);
        emit("reclaimed", &Reclaimed { member, serial, amount: record.amount, by });
        Ok(record.amount)
    }

    pub fn issuer() -> Res<Address> {
        ISSUER.get().ok_or_else(|| "not initialised".into())
    }

    pub fn credit_rule() -> Res<CreditRule> {
        RULE.get().ok_or_else(|| "not initialised".into())
    }

    /// `member`'s deposit balance (0 when it has none).
    pub fn balance(member: Address) -> Res<u64> {
        Ok(balance_of(&member))
    }

    /// The serial `member`'s next note must carry.
    pub fn next_serial(member: Address) -> Res<u64> {
        Ok(next_serial_of(&member))
    }

    /// The outstanding note `serial` of `member`; `None` once settled or if never issued.
    pub fn note(member: Address, serial: u64) -> Res<Option<NoteRecord>> {
        Ok(NOTES.get(&(member, serial)))
    }

    pub fn totals() -> Res<Totals> {
        Ok(totals_now())
    }

    /// The height of `committer`'s redemption commitment `hash`, if it is pending.
    pub fn redeem_commit(committer: Address, hash: [u8; 32]) -> Res<Option<u64>> {
        Ok(REDEEM_COMMITS.get(&(committer, hash)))
    }
}

/// The hash a redeemer commits to: blake3(borsh(note) ‖ payee).
pub fn redeem_hash(note: &Note, payee: &Address) -> [u8; 32] {
    let mut bytes: Vec<u8> = to_borsh(note);
    bytes.extend_from_slice(payee.as_bytes());
    kessai_sdk::blake3(&bytes)
}

fn only_issuer(to: &str) -> Res<()> {
    match ISSUER.get() {
        None => Err("not initialised".into()),
        Some(issuer) if issuer == caller() => Ok(()),
        Some(_) => Err(format!("unauthorised: only the issuer may {to}")),
    }
}

fn positive(amount: u64) -> Res<()> {
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    Ok(())
}

fn balance_of(member: &Address) -> u64 {
    DEPOSITS.get(member).unwrap_or(0)
}

/// Stores a balance; an emptied deposit leaves no entry behind.
fn set_balance(member: &Address, balance: u64) {
    if balance == 0 {
        DEPOSITS.remove(member);
    } else {
        DEPOSITS.insert(member, &balance);
    }
}

fn next_serial_of(member: &Address) -> u64 {
    NEXT_SERIAL.get(member).unwrap_or(1)
}

fn totals_now() -> Totals {
    TOTALS.get().unwrap_or_default()
}

/// The outstanding note, or why there is none: settled already, or never issued.
fn outstanding(member: &Address, serial: u64) -> Res<NoteRecord> {
    NOTES.get(&(*member, serial)).ok_or_else(|| {
        if serial >= 1 && serial < next_serial_of(member) {
            format!("serial {serial} of {member} is already settled (redeemed or reclaimed)")
        } else {
            format!("{member} has issued no note with serial {serial}")
        }
    })
}

/// Burns the note and credits its collateral to `to`'s deposit.
fn settle(member: &Address, serial: u64, record: &NoteRecord, to: &Address) {
    NOTES.remove(&(*member, serial));
    let mut totals = totals_now();
    totals.collateral -= record.amount;
    TOTALS.set(&totals);
    // Every balance is at most the supply, so this cannot overflow.
    DEPOSITS.insert(to, &(balance_of(to) + record.amount));
}
