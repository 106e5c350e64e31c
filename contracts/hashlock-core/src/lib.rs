//! Hash-time locks of JP6980288B2 (`shared/specs/hashlock.md`), shared by the `power-ledger` (SC1)
//! and `value-certificate` (SC2) contracts: one secret R locks two legs on two chains, and whoever
//! presents R before a leg's deadline completes it; after the deadline only its registrant can
//! take it back.
//!
//! # Locks
//!
//! A [`Lock`] is `H(R)` with `H` blake3 or SHA-256 and R exactly 32 bytes ([`Secret`]), so a leg
//! can face a BIP-199-style HTLC on another chain (SHA-256 of a 32-byte preimage). A lock hash is
//! used once per contract, ever: once R is public, a second lock on the same hash would be open to
//! anyone.
//!
//! # Legs and the safe timeout order
//!
//! A swap has two legs with the same lock, each registered on its own chain:
//!
//! - **L1**, registered first by the party that drew R, locked to the counterparty;
//! - **L2**, registered second by the counterparty (after it has checked L1), locked to the party
//!   holding R.
//!
//! A leg registered at block time `t` with timeout `T` has the deadline `D = t + T`. It can be
//! claimed (with R, by its permitted address) only while `now < D`, and withdrawn (by its
//! registrant) only when `now ≥ D`: the two windows never overlap ([`LegStatus::check_claimable`],
//! [`LegStatus::check_withdrawable`]).
//!
//! The holder of R claims L2 first, which publishes R; the counterparty reads it and claims L1. The
//! swap is safe for the counterparty only if L1 outlives L2 by a margin:
//!
//! ```text
//!     D1 ≥ D2 + margin
//! ```
//!
//! R is revealed at the latest just before D2, and the counterparty then has at least `margin`
//! (relay latency, block inclusion, and the difference between the two chains' block clocks)
//! before the holder of R could withdraw L1 and keep both sides. The holder of R needs no such
//! guarantee: nobody can claim its leg before it reveals R.
//!
//! # What the contract enforces, and what the client checks
//!
//! The safe order must not rest on a value a caller may leave out or falsify (decision record
//! `docs/decisions/0009-hashlock-leg-order.md`). Nothing about a leg tells which party drew R —
//! in both embodiments the burn request is the holder's and the transfer condition the
//! administrator's — so the **order is a property of the deployment**, fixed at `init` by the
//! embodiment ([`TimeoutRules`]):
//!
//! - a contract whose legs are **first** legs ([`LegOrder::First`]) takes no counter deadline;
//! - a contract whose legs are **second** legs ([`LegOrder::Second`]) refuses a registration
//!   without the counter leg's deadline, and refuses it unless `D2 + margin ≤ D1`;
//! - every leg's timeout is the deployment's fixed one (TIMEOUT_N or TIMEOUT_M), never the
//!   caller's choice, so a first leg cannot be made short nor a second leg long.
//!
//! What a contract cannot know is the other chain: whether the counter leg exists, with this
//! lock, for this party, and its true deadline. `kessai swap register` reads the counter leg with
//! a light-client proof of the other chain before it signs a second leg and passes the proven
//! deadline; it refuses otherwise. A raw call that declares a later counter deadline than the true
//! one can only hurt its own caller: the registrant of L2 is the one party the rule protects.
//!
//! In the patent's embodiments:
//!
//! - embodiment 3 (the holder, terminal 24, draws R): L1 = SC1 burn request (TIMEOUT_N = 48 h,
//!   SC1 deployed with `First`), L2 = SC2 transfer condition (TIMEOUT_M = 24 h, `Second`); N > M;
//! - embodiment 4 (the administrator, terminal 14, draws R): L1 = SC2 transfer condition
//!   (TIMEOUT_M = 48 h, `First`), L2 = SC1 burn request (TIMEOUT_N = 24 h, `Second`), as the spec
//!   lists them. The patent's embodiment-4 prose (and claim 8) lets Y be withdrawn after 24 h and
//!   X after 48 h — the unsafe way round; a burn request on an embodiment-4 ledger always expires
//!   before the transfer condition it answers.
//!
//! # Claims
//!
//! The claimant is the leg's permitted address and must be the transaction's caller. It also
//! presents an ed25519 signature over [`claim_message`]: [`CLAIM_DOMAIN`] ‖ borsh of
//! [`ClaimMessage`] (action, contract, request id, registration time, lock, secret, claimant), so
//! a signature is good for one request of one contract only. Contracts cannot see the chain id (no
//! host function gives it) and two chains built from the same preset give their genesis contracts
//! the same addresses, so what binds a claim to its chain is the transaction signature, which
//! covers the chain id and the account nonce — hence the caller check. A completed leg never
//! executes again ([`LegStatus`]).
#![no_std]

extern crate alloc;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_sdk::{to_borsh, Address};

/// The secret R: exactly 32 bytes, as BIP-199 HTLCs use.
pub type Secret = [u8; 32];

/// Domain tag in front of every claim message (see [`claim_message`]).
pub const CLAIM_DOMAIN: &[u8] = b"kessai/hashlock/claim/v1";

#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Blake3,
    /// SHA-256: interoperates with Bitcoin (BIP-199), Lightning and other HTLCs.
    Sha256,
}

impl HashAlgorithm {
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            HashAlgorithm::Blake3 => kessai_sdk::blake3(data),
            HashAlgorithm::Sha256 => kessai_sdk::sha256(data),
        }
    }
}

/// H_R: the hash of the secret under `algorithm`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lock {
    pub algorithm: HashAlgorithm,
    pub hash: [u8; 32],
}

impl Lock {
    /// The lock that `secret` opens.
    pub fn of(algorithm: HashAlgorithm, secret: &Secret) -> Lock {
        Lock { algorithm, hash: algorithm.digest(secret) }
    }

    /// True when `H(secret) == hash`.
    pub fn opens(&self, secret: &Secret) -> bool {
        self.algorithm.digest(secret) == self.hash
    }
}

/// Which leg of a swap every leg of a deployment is (see the crate docs), fixed at init.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegOrder {
    /// Registered first, by the party that drew R: no counter deadline.
    First,
    /// Registered second, by the counterparty, answering a first leg on the other chain: it must
    /// expire at least the margin before that leg.
    Second,
}

/// The timeout rules a contract gets at init (see the crate docs).
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutRules {
    /// Whether this deployment's legs are first or second legs.
    pub order: LegOrder,
    /// Every leg's timeout: the embodiment's TIMEOUT_N (burn requests) or TIMEOUT_M (transfer
    /// conditions).
    pub timeout_ms: u64,
    /// How much earlier than its counter leg a second leg must expire; also the least time a
    /// claimant's client leaves before a deadline when it reveals R (`kessai swap claim`).
    pub margin_ms: u64,
}

impl TimeoutRules {
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.timeout_ms == 0 || self.margin_ms == 0 {
            return Err("the timeout and the margin must be positive");
        }
        if self.margin_ms >= self.timeout_ms {
            return Err("the margin must be shorter than the timeout");
        }
        Ok(())
    }

    /// The deadline of a leg registered at `now_ms`, if it is allowed: a first leg takes no
    /// counter deadline; a second leg needs its counter leg's deadline and must expire at least
    /// `margin_ms` before it.
    pub fn deadline(
        &self,
        now_ms: u64,
        counter_deadline_ms: Option<u64>,
    ) -> Result<u64, &'static str> {
        let deadline = now_ms.checked_add(self.timeout_ms).ok_or("timeout too large")?;
        match (self.order, counter_deadline_ms) {
            (LegOrder::First, None) => Ok(deadline),
            (LegOrder::First, Some(_)) => {
                Err("this contract holds first legs, registered by the party that drew the secret: no counter deadline")
            }
            (LegOrder::Second, None) => {
                Err("this contract holds second legs: the counter leg's deadline is required")
            }
            (LegOrder::Second, Some(counter)) if deadline.saturating_add(self.margin_ms) > counter => {
                Err("unsafe timeout order: this leg must expire at least the margin before the counter leg")
            }
            (LegOrder::Second, Some(_)) => Ok(deadline),
        }
    }
}

/// Where a leg is. `Active` is the patent's active flag.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegStatus {
    Active,
    /// Completed with the secret (burned, or transferred): R is public from here on.
    Claimed {
        preimage: Secret,
        at_ms: u64,
    },
    /// Taken back by its registrant after the deadline.
    Withdrawn {
        at_ms: u64,
    },
}

impl LegStatus {
    fn check_active(&self) -> Result<(), &'static str> {
        match self {
            LegStatus::Active => Ok(()),
            LegStatus::Claimed { .. } => Err("already completed"),
            LegStatus::Withdrawn { .. } => Err("already withdrawn"),
        }
    }

    /// A claim is allowed while the leg is active and before its deadline.
    pub fn check_claimable(&self, deadline_ms: u64, now_ms: u64) -> Result<(), &'static str> {
        self.check_active()?;
        if now_ms >= deadline_ms {
            return Err("the lock has expired: only the registrant's withdrawal remains");
        }
        Ok(())
    }

    /// A withdrawal is allowed while the leg is active and from its deadline on.
    pub fn check_withdrawable(&self, deadline_ms: u64, now_ms: u64) -> Result<(), &'static str> {
        self.check_active()?;
        if now_ms < deadline_ms {
            return Err("the timeout has not passed yet");
        }
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        matches!(self, LegStatus::Active)
    }

    /// The secret, once the leg was claimed.
    pub fn preimage(&self) -> Option<Secret> {
        match self {
            LegStatus::Claimed { preimage, .. } => Some(*preimage),
            _ => None,
        }
    }
}

/// What a claim completes.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimAction {
    /// SC1 `burn`.
    Burn,
    /// SC2 `transfer`.
    Transfer,
}

/// What a claimant signs (after [`CLAIM_DOMAIN`]), borsh-encoded in this field order.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimMessage {
    pub action: ClaimAction,
    pub contract: Address,
    pub request_id: u64,
    /// The leg's registration block time: differs between two chains even where contract
    /// address and request id coincide.
    pub registered_at_ms: u64,
    pub lock: Lock,
    pub preimage: Secret,
    pub claimant: Address,
}

/// The bytes the claimant signs: `CLAIM_DOMAIN ‖ borsh(message)`.
pub fn claim_message(message: &ClaimMessage) -> Vec<u8> {
    let mut bytes = Vec::from(CLAIM_DOMAIN);
    bytes.extend_from_slice(&to_borsh(message));
    bytes
}

/// The checks of a claim that do not depend on the contract: `H(preimage)` matches the lock, the
/// caller is the claimant, and `sig` is the claimant's signature of the claim message.
pub fn check_claim(
    message: &ClaimMessage,
    caller: Address,
    sig: &[u8; 64],
) -> Result<(), &'static str> {
    if !message.lock.opens(&message.preimage) {
        return Err("wrong secret: its hash is not the lock");
    }
    if caller != message.claimant {
        return Err("only the permitted address may claim");
    }
    if !kessai_sdk::ed25519_verify(&message.claimant.0, sig, &claim_message(message)) {
        return Err("the signature is not the permitted address's over this claim");
    }
    Ok(())
}
