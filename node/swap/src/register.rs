//! Registering a leg (`kessai swap register`): the client's half of the safe leg order.
//!
//! The contracts fix which of their legs come first and every leg's timeout (`hashlock-core`,
//! decision 0009). What they cannot know is the other chain, so before it signs a **second** leg
//! the client proves the counter leg on the other chain with the light client and checks:
//!
//! - the counter contract is the other hash-lock contract, and its deployment holds first legs;
//! - the counter leg is active and pays the signer (its claimant is the signer's address), and,
//!   when the signer states it, locks the expected amount or token;
//! - the new leg takes the counter leg's lock and pays the counter leg's registrant — nothing the
//!   user types can make them differ;
//! - the new leg will expire at least the margin before the counter leg, and the contract gets
//!   the counter leg's *proven* deadline to check it again at registration.
//!
//! A **first** leg is registered only by the party that drew R: the client takes R and computes
//! the lock itself, so a first leg is never built on someone else's lock.

use crate::{Chain, Completed, Leg, LegKind, LegOrder, Lock, ProofReport, Secret};
use anyhow::{bail, ensure, Context, Result};
use hashlock_core::{HashAlgorithm, LegStatus};
use kessai_client::{submit, Signer};
use kessai_primitives::time::now_ms;
use kessai_primitives::{Address, Payload, TxStatus};

/// Which leg of the swap is being registered.
pub enum Registration {
    /// A first leg: the signer drew R; it is locked to `claimant` under `H(secret)`.
    First {
        /// R, which only its drawer knows: the client computes the lock from it.
        secret: Secret,
        /// The lock's hash function.
        algorithm: HashAlgorithm,
        /// Who may claim the leg with R: the counterparty.
        claimant: Address,
    },
    /// A second leg, answering the first leg `request` on `chain` (the other chain).
    Second(Box<Counter>),
}

/// The counter leg a second leg answers, on the other chain.
pub struct Counter {
    /// The other chain's hash-lock contract, read through verified reads.
    pub chain: Chain,
    /// The first leg's id there.
    pub request: u64,
    /// What the first leg must lock (its amount of power, or its token id), when the signer
    /// states it: the client refuses to answer a leg that locks something else.
    pub subject: Option<u64>,
}

/// A registered leg, with how its counter leg (if any) was proven.
#[derive(Debug)]
pub struct Registered {
    /// The registration transaction.
    pub completed: Completed,
    /// The new leg's id.
    pub id: u64,
    /// The lock it was registered under.
    pub lock: Lock,
    /// Who may claim it.
    pub claimant: Address,
    /// The counter leg's proven deadline it was checked against (second legs).
    pub counter_deadline_ms: Option<u64>,
    /// The proof of the counter leg (second legs).
    pub counter_proof: Option<ProofReport>,
}

impl Chain {
    /// Registers a leg of `subject` (the amount of power for a burn request, the token id for a
    /// transfer condition) as `signer`, after the checks in the module docs.
    pub async fn register(
        &mut self,
        subject: u64,
        registration: Registration,
        signer: &Signer,
    ) -> Result<Registered> {
        let (rules, _) = self.rules().await?;
        let me = signer.key.address();
        let (lock, claimant, counter_deadline_ms, counter_proof) = match registration {
            Registration::First { secret, algorithm, claimant } => {
                ensure!(
                    rules.order == LegOrder::First,
                    "{} on {} holds second legs (this deployment's embodiment): register the answer to the counterparty's first leg with --counter-rpc, --counter-contract and --counter-request",
                    self.kind.name(),
                    self.chain_id
                );
                ensure!(claimant != me, "a leg locked to its own registrant swaps nothing");
                (Lock::of(algorithm, &secret), claimant, None, None)
            }
            Registration::Second(counter) => {
                let mut counter = *counter;
                ensure!(
                    rules.order == LegOrder::Second,
                    "{} on {} holds first legs, registered by the party that drew the secret: register with --secret",
                    self.kind.name(),
                    self.chain_id
                );
                let (leg, proof) = self.check_counter(&mut counter, me).await?;
                // Expire at least the margin before the counter leg, with this chain's block time
                // (or this machine's clock, if later) as the registration time.
                let (_, header) = self.rules().await?;
                let now = header.header.time_ms.max(now_ms());
                let deadline = now.saturating_add(rules.timeout_ms);
                ensure!(
                    deadline.saturating_add(rules.margin_ms) <= leg.deadline_ms,
                    "too late to answer {} {} on {}: it expires at {} ms, and a {} registered now would expire at {deadline} ms, less than the margin of {} ms before it. The counterparty could keep both legs; do not register",
                    counter.chain.kind.leg_name(),
                    counter.request,
                    counter.chain.chain_id,
                    leg.deadline_ms,
                    self.kind.leg_name(),
                    rules.margin_ms
                );
                (leg.lock, leg.registrant, Some(leg.deadline_ms), Some(proof))
            }
        };
        let args = borsh::to_vec(&(subject, lock, claimant.0, counter_deadline_ms))?;
        let method = match self.kind {
            LegKind::Burn => "register_burn_request",
            LegKind::Transfer => "register_transfer_condition",
        };
        let payload = Payload::Call { contract: self.address, method: method.into(), args };
        let info = submit(self.reader.rpc(), signer, payload).await?;
        let receipt = info.receipt.clone().context("no receipt (submitted with --no-wait?)")?;
        if let TxStatus::Failed { reason } = &receipt.status {
            bail!("{method} on {} failed: {reason}", self.chain_id);
        }
        let id: u64 = borsh::from_slice(&receipt.return_data)
            .context("the registration did not return a leg id")?;
        Ok(Registered {
            completed: Completed {
                chain_id: self.chain_id.clone(),
                method,
                request: id,
                tx_id: info.tx_id,
                height: info.height,
                gas_used: receipt.gas_used,
            },
            id,
            lock,
            claimant,
            counter_deadline_ms,
            counter_proof,
        })
    }

    /// Proves the counter leg on the other chain and checks it can be answered by `me`.
    async fn check_counter(
        &self,
        counter: &mut Counter,
        me: Address,
    ) -> Result<(Leg, ProofReport)> {
        let other = &mut counter.chain;
        ensure!(
            other.kind != self.kind,
            "a {} answers a {}, not another {}",
            self.kind.leg_name(),
            match self.kind {
                LegKind::Burn => LegKind::Transfer.leg_name(),
                LegKind::Transfer => LegKind::Burn.leg_name(),
            },
            other.kind.leg_name()
        );
        let (other_rules, _) = other.rules().await?;
        ensure!(
            other_rules.order == LegOrder::First,
            "{} on {} holds second legs: it cannot be the first leg this one answers",
            other.kind.name(),
            other.chain_id
        );
        let (leg, proof) = other.leg(counter.request, None).await?;
        let name = other.kind.leg_name();
        ensure!(
            leg.status == LegStatus::Active,
            "{name} {} on {} is not active",
            counter.request,
            other.chain_id
        );
        ensure!(
            leg.claimant == me,
            "{name} {} on {} pays {}, not you ({me}): answering it would give your asset for nothing",
            counter.request,
            other.chain_id,
            leg.claimant
        );
        if let Some(expected) = counter.subject {
            ensure!(
                leg.subject == expected,
                "{name} {} on {} locks {} (amount or token), not the {expected} expected",
                counter.request,
                other.chain_id,
                leg.subject
            );
        }
        Ok((leg, proof))
    }
}
