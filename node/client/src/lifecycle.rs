//! Verified reads of the contract lifecycle (decision record 0019): proposals, the policies that
//! decide them, and each contract's code history, every value proven under a header the
//! [`Reader`] verified from its root of trust. Nothing here rests on the node's word, except which
//! proposals exist when they are listed (see [`Reader::proposal_ids`]).

use crate::verified::{Reader, VerifiedHeader};
use anyhow::{anyhow, Context, Result};
use borsh::BorshDeserialize;
use kessai_primitives::{
    Address, ContractChange, DeploymentPolicy, Hash, PublicKey, Role, UpgradePolicy,
};
use kessai_rpc_api::{rpc_error, KessaiApiClient};
use kessai_state::system;
/// The lifecycle's records as the state layout stores them, and the key of stored code.
pub use kessai_state::system::{
    code_key, ContractInfo, ContractVersion, ProposalRecord, ProposalStatus,
};
use serde::Serialize;

/// The topic of the system event a proposal's creation emits; its data starts with the id.
pub const PROPOSAL_CREATED: &str = "proposal_created";

/// A proposal as it stands at a verified height, with what its policy asks.
#[derive(Clone, Debug, Serialize)]
pub struct ProposalView {
    /// The proposal's id (`kessai_primitives::lifecycle::proposal_id`).
    pub id: Hash,
    /// The proven record.
    pub record: ProposalRecord,
    /// The height whose state was read.
    pub height: u64,
    /// How many approvals activate it; `None` when nobody may (an upgrade of an immutable
    /// contract).
    pub required: Option<u32>,
    /// Who counts under the policy, in words (`"members holding approver"`, an admin key, …).
    pub counted_by: String,
    /// The approvals that count under the policy now (the others' approvers lost the role).
    pub counted: Vec<PublicKey>,
    /// Pending and past its last height.
    pub expired: bool,
    /// `pending`, `expired` or `activated`.
    pub status: &'static str,
}

/// A contract's code history, proven.
#[derive(Clone, Debug, Serialize)]
pub struct ContractHistory {
    /// The contract's address.
    pub address: Address,
    /// What `contract/ ‖ address` holds: the code in force.
    pub info: ContractInfo,
    /// Who may replace its code.
    pub upgrade_policy: UpgradePolicy,
    /// Every version, oldest first (version 1 is its instantiation).
    pub versions: Vec<ContractVersion>,
    /// The header every value was proven under.
    pub header: VerifiedHeader,
}

impl Reader {
    /// A system value at `height`, decoded; `None` when proven absent.
    async fn system_value<T: BorshDeserialize>(
        &mut self,
        flat_key: &[u8],
        height: u64,
    ) -> Result<Option<T>> {
        let proven = self.value(flat_key, Some(height)).await?;
        match proven.value {
            None => Ok(None),
            Some(bytes) => borsh::from_slice(&bytes)
                .map(Some)
                .context("a proven system value does not decode as the state layout says"),
        }
    }

    /// The chain's deployment policy at `height` (absent: any deployer).
    pub async fn deployment_policy(&mut self, height: u64) -> Result<DeploymentPolicy> {
        let stored = self.system_value(&system::deployment_policy_key(), height).await?;
        Ok(stored.unwrap_or(DeploymentPolicy::AnyDeployer))
    }

    /// Who may replace the code of `address` at `height` (absent: nobody).
    pub async fn upgrade_policy(
        &mut self,
        address: &Address,
        height: u64,
    ) -> Result<UpgradePolicy> {
        let stored = self.system_value(&system::upgrade_policy_key(address), height).await?;
        Ok(stored.unwrap_or(UpgradePolicy::Immutable))
    }

    /// A member's roles at `height`; `None` for a key that is not a member.
    pub async fn member_roles(
        &mut self,
        key: &PublicKey,
        height: u64,
    ) -> Result<Option<Vec<Role>>> {
        self.system_value(&system::member_key(key), height).await
    }

    /// The proposal `id` at `height`; `None` when proven absent.
    pub async fn proposal_record(
        &mut self,
        id: &Hash,
        height: u64,
    ) -> Result<Option<ProposalRecord>> {
        self.system_value(&system::proposal_key(id), height).await
    }

    /// What `contract/ ‖ address` holds at `height`.
    pub async fn contract_info(&mut self, address: &Address, height: u64) -> Result<ContractInfo> {
        self.system_value(&system::contract_key(address), height).await?.ok_or_else(|| {
            anyhow!("there is no contract at {address} at height {height} (proven absent)")
        })
    }

    /// The proposal `id` at `height` (default: the node's latest), with its policy's threshold and
    /// the approvals that count under it, all proven under one header.
    pub async fn proposal(&mut self, id: &Hash, height: Option<u64>) -> Result<ProposalView> {
        let height = match height {
            Some(height) => height,
            None => self.latest_height().await?,
        };
        let record = self.proposal_record(id, height).await?.ok_or_else(|| {
            anyhow!(
                "there is no proposal {id} on chain {} at height {height} (proven absent)",
                self.chain_id()
            )
        })?;
        let (required, counted_by, holds) = match &record.proposal.change {
            ContractChange::Instantiate { .. } => match self.deployment_policy(height).await? {
                DeploymentPolicy::AnyDeployer => (
                    Some(1),
                    "any member holding deployer".to_string(),
                    Counts::Role(Role::Deployer),
                ),
                DeploymentPolicy::Approvals { required } => (
                    Some(required),
                    "members holding approver".to_string(),
                    Counts::Role(Role::Approver),
                ),
            },
            ContractChange::Upgrade { contract, .. } => {
                match self.upgrade_policy(contract, height).await? {
                    UpgradePolicy::Immutable => {
                        (None, "nobody: the contract is immutable".to_string(), Counts::Nobody)
                    }
                    UpgradePolicy::Admin { key } => {
                        (Some(1), format!("the contract's admin {key}"), Counts::Key(key))
                    }
                    UpgradePolicy::Approvals { required } => (
                        Some(required),
                        "members holding approver".to_string(),
                        Counts::Role(Role::Approver),
                    ),
                }
            }
        };
        let mut counted = Vec::new();
        for approver in &record.approvals {
            let counts = match &holds {
                Counts::Nobody => false,
                Counts::Key(key) => key == approver,
                Counts::Role(role) => self
                    .member_roles(approver, height)
                    .await?
                    .is_some_and(|roles| roles.contains(role)),
            };
            if counts {
                counted.push(*approver);
            }
        }
        let expired = record.is_expired(height);
        let status = match (&record.status, expired) {
            (ProposalStatus::Activated { .. }, _) => "activated",
            (ProposalStatus::Pending, true) => "expired",
            (ProposalStatus::Pending, false) => "pending",
        };
        Ok(ProposalView { id: *id, record, height, required, counted_by, counted, expired, status })
    }

    /// The ids of the proposals the node's history shows, oldest first: from the system events
    /// `proposal_created` of the blocks the node keeps. Which proposals exist is the node's word
    /// (a node could leave one out; each one listed is then proven by [`Reader::proposal`]).
    pub async fn proposal_ids(&mut self) -> Result<Vec<Hash>> {
        const PAGE: u32 = 1000;
        let system = Address::SYSTEM.to_string();
        let mut ids = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .rpc()
                .events(system.clone(), 1, None, Some(PAGE), after)
                .await
                .map_err(rpc_error)
                .context("listing the chain's proposals from its system events")?;
            for event in &page {
                if event.event.topic != PROPOSAL_CREATED {
                    continue;
                }
                let id: [u8; 32] =
                    event.event.data.get(..32).and_then(|b| b.try_into().ok()).ok_or_else(
                        || {
                            anyhow!(
                                "a {PROPOSAL_CREATED} event at height {} carries no proposal id",
                                event.height
                            )
                        },
                    )?;
                if !ids.contains(&Hash(id)) {
                    ids.push(Hash(id));
                }
            }
            match page.last().and_then(|e| e.cursor) {
                Some(cursor) if page.len() == PAGE as usize => after = Some(cursor),
                _ => return Ok(ids),
            }
        }
    }

    /// The code history of `contract` (a name or an address) at `height` (default: latest): its
    /// name, record, upgrade policy and every version proven under one header; versions are read
    /// from 1 up to the first proven absent.
    pub async fn contract_history(
        &mut self,
        contract: &str,
        height: Option<u64>,
    ) -> Result<ContractHistory> {
        let height = match height {
            Some(height) => height,
            None => self.latest_height().await?,
        };
        let address = self.contract_address(contract, height).await?;
        let info = self.contract_info(&address, height).await?;
        let upgrade_policy = self.upgrade_policy(&address, height).await?;
        let mut versions = Vec::new();
        for version in 1u32.. {
            let key = system::contract_version_key(&address, version);
            match self.system_value::<ContractVersion>(&key, height).await? {
                Some(recorded) => versions.push(recorded),
                None => break,
            }
        }
        let header = self.header(height).await?;
        Ok(ContractHistory { address, info, upgrade_policy, versions, header })
    }
}

/// Whose approvals count under a policy.
enum Counts {
    Nobody,
    Key(PublicKey),
    Role(Role),
}
