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
//! Each contract sees only its own leg, so the check runs at the registration of L2: its registrant
//! passes L1's deadline as `counter_deadline_ms` (read from the other chain, `kessai swap` reads it
//! from a verified state proof), and [`TimeoutRules::deadline`] refuses the registration unless
//! `D2 + min_margin_ms ≤ D1`. L1 is registered with no counter deadline and must leave room for a
//! counter leg: its timeout is at least `min_timeout_ms + min_margin_ms`. Every leg's timeout is at
//! least `min_timeout_ms`. The rule protects the registrant of L2, the one party at risk, against its
//! own mistake; a registrant that passes a wrong counter deadline harms only itself.
//!
//! In the patent's embodiments:
//!
//! - embodiment 3 (the holder, terminal 24, draws R): L1 = SC1 burn request (TIMEOUT_N = 48 h),
//!   L2 = SC2 transfer condition (TIMEOUT_M = 24 h); safe, N > M;
//! - embodiment 4 (the administrator, terminal 14, draws R): L1 = SC2 transfer condition,
//!   L2 = SC1 burn request, so the transfer condition must outlive the burn request:
//!   TIMEOUT_M = 48 h, TIMEOUT_N = 24 h as the spec lists them. The patent's embodiment-4 prose (and
//!   claim 8) lets Y be withdrawn after 24 h and X after 48 h — the unsafe way round; a burn
//!   request registered with that order is refused.
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

/// The timeout rules a contract gets at init (see the crate docs).
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutRules {
    /// The shortest timeout of any leg.
    pub min_timeout_ms: u64,
    /// How much earlier than its counter leg a second leg must expire.
    pub min_margin_ms: u64,
}

impl TimeoutRules {
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.min_timeout_ms == 0 || self.min_margin_ms == 0 {
            return Err("the minimum timeout and the minimum margin must be positive");
        }
        self.min_timeout_ms.checked_add(self.min_margin_ms).ok_or("timeout rules overflow")?;
        Ok(())
    }

    /// The deadline of a leg registered at `now_ms` with `timeout_ms`, if it is allowed: a first
    /// leg (`counter_deadline_ms` None) has at least `min_timeout_ms + min_margin_ms`; a second
    /// leg at least `min_timeout_ms` and a deadline at least `min_margin_ms` before its counter
    /// leg's.
    pub fn deadline(
        &self,
        now_ms: u64,
        timeout_ms: u64,
        counter_deadline_ms: Option<u64>,
    ) -> Result<u64, &'static str> {
        if timeout_ms < self.min_timeout_ms {
            return Err("timeout below the minimum");
        }
        let deadline = now_ms.checked_add(timeout_ms).ok_or("timeout too large")?;
        match counter_deadline_ms {
            None if timeout_ms < self.min_timeout_ms + self.min_margin_ms => {
                Err("a first leg's timeout must leave room for the counter leg: at least the minimum timeout plus the margin")
            }
            None => Ok(deadline),
            Some(counter) if deadline.saturating_add(self.min_margin_ms) > counter => Err(
                "unsafe timeout order: this leg must expire at least the margin before the counter leg",
            ),
            Some(_) => Ok(deadline),
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
