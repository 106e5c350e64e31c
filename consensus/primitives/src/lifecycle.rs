//! The contract lifecycle: what members sign to bring a contract into force or replace its code,
//! and the policies that decide when such a change takes effect (decision record 0019).
//!
//! Every change is a [`ContractProposal`]. A member proposes it, the members the policy names
//! approve it, and the change is applied by the transaction whose approval meets the policy — the
//! proposing transaction itself when one approval is enough. Until then the proposal only sits in
//! state, where anyone can read and prove it.

use crate::crypto::{Address, PublicKey};
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Who must approve a new contract before it is instantiated: the chain spec's
/// `contract_policy.deployment`, stored in state at genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentPolicy {
    /// One member holding [`Role::Deployer`](crate::Role::Deployer) instantiates alone (the `dev`
    /// preset): a plain `Instantiate` or a proposal, which its own approval activates.
    AnyDeployer,
    /// `required` distinct members holding [`Role::Approver`](crate::Role::Approver) must approve a
    /// proposal; a plain `Instantiate` is refused.
    Approvals {
        /// How many approvals activate a proposal (at least 1).
        required: u32,
    },
}

/// Who may replace a contract's code: fixed when the contract is instantiated (by its proposal or
/// the chain spec), recorded in state beside the contract.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradePolicy {
    /// Nobody: the code in force at instantiation stays for ever.
    Immutable,
    /// This key alone: its proposal activates at once; nobody else may propose or approve.
    Admin {
        /// The member key allowed to upgrade.
        key: PublicKey,
    },
    /// `required` distinct members holding [`Role::Approver`](crate::Role::Approver).
    Approvals {
        /// How many approvals activate an upgrade (at least 1).
        required: u32,
    },
}

/// What a proposal changes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractChange {
    /// Creates a contract from stored code under a new, unique name and runs its `init` with
    /// `args`. The address is that of a plain `Instantiate` by the proposer with the proposing
    /// transaction's nonce.
    Instantiate {
        /// The name the CLI and RPC accept in place of the address (unique on the chain).
        name: String,
        /// Hash of code stored by a deploy.
        code_hash: Hash,
        /// Borsh of the tuple of `init`'s arguments (empty without `init`).
        args: Vec<u8>,
        /// Who may later replace its code.
        upgrade_policy: UpgradePolicy,
    },
    /// Replaces the code of the contract at `contract` with stored code `code_hash`, keeping its
    /// address and storage. If the new code exports `migrate`, it runs once with `migrate_args`
    /// (called by [`Address::SYSTEM`]) in the activating transaction; if it fails, nothing
    /// changes. Without `migrate`, `migrate_args` must be empty.
    Upgrade {
        /// The contract upgraded.
        contract: Address,
        /// Hash of the new code, stored by a deploy.
        code_hash: Hash,
        /// Borsh of the tuple of `migrate`'s arguments.
        migrate_args: Vec<u8>,
    },
}

/// A change put to the members, with the last height at which it may still be approved.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ContractProposal {
    /// What the proposal does once approved.
    pub change: ContractChange,
    /// The last block height at which an approval counts; after it the proposal is expired and
    /// can no longer be activated.
    pub expires_at_height: u64,
}

/// A lifecycle transaction's payload.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    /// Puts a proposal to the members; the proposer's approval is counted if the policy lets it
    /// approve. Its id is [`proposal_id`] of the signer and the transaction's nonce.
    Propose(ContractProposal),
    /// Approves a pending, unexpired proposal; activates it if this approval meets the policy.
    Approve {
        /// The proposal's id.
        proposal: Hash,
    },
    /// Takes back the signer's approval of a proposal that is not yet activated.
    Withdraw {
        /// The proposal's id.
        proposal: Hash,
    },
}

/// The id of the proposal made by `proposer`'s transaction with `nonce`:
/// `blake3(borsh(("kessai/proposal", proposer, nonce)))`.
pub fn proposal_id(proposer: &PublicKey, nonce: u64) -> Hash {
    Hash::of(&("kessai/proposal", proposer, nonce))
}
