//! Contract lifecycle transactions (decision record 0019): proposals to instantiate a contract
//! under a name or to replace a contract's code, their approvals, and the activation that applies
//! a proposal in the transaction whose approval meets its policy.
//!
//! Who counts towards a proposal is decided when the approvals are counted, by the policy then in
//! force: the deployment policy for an instantiation, the contract's upgrade policy for an upgrade.
//! A proposal is recorded under `proposal/ ‖ id` (see `kessai_state::system`); an activation that
//! fails (`init` or `migrate` traps, the name was taken meanwhile…) fails its transaction, so the
//! proposal stays as it was, pending, and a later approval may try again.

use crate::execute::{create_contract, run_metered, Applied, Meter};
use crate::failure::{Failure, Stop};
use crate::host::{Frame, World};
use crate::module::MIGRATE;
use crate::system::{self, encode, ContractInfo, ContractVersion, ProposalRecord, ProposalStatus};
use crate::{gas, Runtime, StateView};
use kessai_primitives::lifecycle::proposal_id;
use kessai_primitives::{
    Address, ContractChange, ContractProposal, DeploymentPolicy, Event, Hash, LifecycleAction,
    PublicKey, Role, Transaction, UpgradePolicy,
};

/// Longest contract name a proposal may register, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 64;

/// Topics of the events the lifecycle emits, with contract [`Address::SYSTEM`]; the data is borsh
/// of the tuple each names (`docs/contract-abi.md`, "System events").
pub(crate) mod topic {
    /// `(proposal id, proposer, expires_at_height)`.
    pub(crate) const PROPOSAL_CREATED: &str = "proposal_created";
    /// `(proposal id, approver, approvals counted, approvals required)`.
    pub(crate) const PROPOSAL_APPROVED: &str = "proposal_approved";
    /// `(proposal id, approver)`.
    pub(crate) const APPROVAL_WITHDRAWN: &str = "approval_withdrawn";
    /// `(proposal id, contract address, name, code hash)`.
    pub(crate) const CONTRACT_INSTANTIATED: &str = "contract_instantiated";
    /// `(proposal id, contract address, version, code hash)`.
    pub(crate) const CONTRACT_UPGRADED: &str = "contract_upgraded";
}

/// Whose approvals count towards a proposal, and how many it needs.
#[derive(Debug, PartialEq, Eq)]
enum Counting {
    /// [`DeploymentPolicy::AnyDeployer`]: one member holding [`Role::Deployer`].
    AnyDeployer,
    /// `required` members holding [`Role::Approver`].
    Approvers { required: u32 },
    /// The contract's admin key alone.
    Admin { key: PublicKey, contract: Address },
    /// Nobody: the contract's code is fixed.
    Immutable { contract: Address },
}

impl Counting {
    fn required(&self) -> u32 {
        match self {
            Counting::Approvers { required } => *required,
            _ => 1,
        }
    }
}

fn refuse(message: String) -> Stop {
    Stop::Failed(Failure::Lifecycle(message))
}

/// The counting of a change, by the policies in `state`.
fn counting(state: &(impl StateView + ?Sized), change: &ContractChange) -> Result<Counting, Stop> {
    Ok(match change {
        ContractChange::Instantiate { .. } => match system::deployment_policy(state)? {
            DeploymentPolicy::AnyDeployer => Counting::AnyDeployer,
            DeploymentPolicy::Approvals { required } => Counting::Approvers { required },
        },
        ContractChange::Upgrade { contract, .. } => {
            let contract = *contract;
            match system::upgrade_policy(state, &contract)? {
                UpgradePolicy::Immutable => Counting::Immutable { contract },
                UpgradePolicy::Admin { key } => Counting::Admin { key, contract },
                UpgradePolicy::Approvals { required } => Counting::Approvers { required },
            }
        }
    })
}

/// Whether a member with `roles` counts, or why not.
fn may_approve(counting: &Counting, key: &PublicKey, roles: &[Role]) -> Result<(), Stop> {
    match counting {
        Counting::AnyDeployer if roles.contains(&Role::Deployer) => Ok(()),
        Counting::AnyDeployer => Err(Failure::MissingRole(Role::Deployer).into()),
        Counting::Approvers { .. } if roles.contains(&Role::Approver) => Ok(()),
        Counting::Approvers { .. } => Err(Failure::MissingRole(Role::Approver).into()),
        Counting::Admin { key: admin, .. } if admin == key => Ok(()),
        Counting::Admin { key: admin, contract } => {
            Err(refuse(format!("only the admin key {admin} may upgrade contract {contract}")))
        }
        Counting::Immutable { contract } => {
            Err(refuse(format!("contract {contract} is immutable: its code cannot be replaced")))
        }
    }
}

/// The approvals that count now: of members who still count under `counting`.
fn counted(
    state: &(impl StateView + ?Sized),
    counting: &Counting,
    approvals: &[PublicKey],
) -> Result<Vec<PublicKey>, Stop> {
    let mut out = Vec::new();
    for key in approvals {
        // A member who left no longer counts, even as an admin key.
        if let Some(roles) = system::member_roles(state, key)? {
            if may_approve(counting, key, &roles).is_ok() {
                out.push(*key);
            }
        }
    }
    Ok(out)
}

/// A pending proposal `id`, or why it cannot take approvals at `height`.
fn pending(
    state: &(impl StateView + ?Sized),
    id: &Hash,
    height: Option<u64>,
) -> Result<ProposalRecord, Stop> {
    let record = system::proposal(state, id)?.ok_or_else(|| refuse(format!("no proposal {id}")))?;
    if let ProposalStatus::Activated { height: at, .. } = record.status {
        return Err(refuse(format!("proposal {id} was activated at height {at}")));
    }
    if let Some(height) = height {
        if record.is_expired(height) {
            let expiry = record.proposal.expires_at_height;
            return Err(refuse(format!("proposal {id} expired at height {expiry}")));
        }
    }
    Ok(record)
}

/// The checks of a lifecycle transaction that need no block: who may sign it, and whether the
/// proposal it names can take it. [`crate::Runtime::check_tx`] runs them before the mempool admits
/// it; execution runs them again, with the block's height.
pub(crate) fn admissible(
    state: &(impl StateView + ?Sized),
    signer: &PublicKey,
    roles: &[Role],
    action: &LifecycleAction,
) -> Result<(), Stop> {
    match action {
        LifecycleAction::Propose(proposal) => {
            may_approve(&counting(state, &proposal.change)?, signer, roles)
        }
        LifecycleAction::Approve { proposal: id } => {
            let record = pending(state, id, None)?;
            if record.approvals.contains(signer) {
                return Err(refuse(format!("{signer} already approved proposal {id}")));
            }
            may_approve(&counting(state, &record.proposal.change)?, signer, roles)
        }
        LifecycleAction::Withdraw { proposal: id } => {
            let record = pending(state, id, None)?;
            if !record.approvals.contains(signer) {
                return Err(refuse(format!(
                    "{signer} has no approval of proposal {id} to withdraw"
                )));
            }
            Ok(())
        }
    }
}

/// Refuses a plain `Instantiate` where the deployment policy asks for approvals.
pub(crate) fn plain_instantiation_allowed(state: &(impl StateView + ?Sized)) -> Result<(), Stop> {
    match system::deployment_policy(state)? {
        DeploymentPolicy::AnyDeployer => Ok(()),
        DeploymentPolicy::Approvals { required } => Err(refuse(format!(
            "the deployment policy needs {required} approvals: propose the contract instead of instantiating it"
        ))),
    }
}

/// One lifecycle transaction being applied.
pub(crate) struct Lifecycle<'a> {
    pub(crate) runtime: &'a Runtime,
    pub(crate) world: &'a mut World,
    pub(crate) meter: &'a mut Meter,
    /// The block's height.
    pub(crate) height: u64,
}

impl Lifecycle<'_> {
    /// Applies `action` signed by the transaction's signer, whose roles are `roles`.
    pub(crate) fn apply(
        &mut self,
        tx: &Transaction,
        roles: &[Role],
        action: &LifecycleAction,
    ) -> Result<Applied, Stop> {
        admissible(&self.world.state, &tx.signer, roles, action)?;
        match action {
            LifecycleAction::Propose(proposal) => self.propose(tx, proposal),
            LifecycleAction::Approve { proposal } => self.approve(&tx.signer, proposal),
            LifecycleAction::Withdraw { proposal } => self.withdraw(&tx.signer, proposal),
        }
    }

    fn propose(&mut self, tx: &Transaction, proposal: &ContractProposal) -> Result<Applied, Stop> {
        let height = self.height;
        if proposal.expires_at_height < height {
            return Err(refuse(format!(
                "the proposal expires at height {}, before this block ({height})",
                proposal.expires_at_height
            )));
        }
        self.check_change(&proposal.change)?;
        let id = proposal_id(&tx.signer, tx.nonce);
        let record = ProposalRecord {
            proposer: tx.signer,
            nonce: tx.nonce,
            proposal: proposal.clone(),
            proposed_at_height: height,
            approvals: vec![tx.signer],
            status: ProposalStatus::Pending,
        };
        let created = (id, tx.signer, proposal.expires_at_height);
        self.emit(topic::PROPOSAL_CREATED, encode(&created))?;
        self.approved(id, record, tx.signer)
    }

    fn approve(&mut self, signer: &PublicKey, id: &Hash) -> Result<Applied, Stop> {
        let mut record = pending(&self.world.state, id, Some(self.height))?;
        record.approvals.push(*signer);
        self.approved(*id, record, *signer)
    }

    /// Counts `record`'s approvals after `approver`'s; activates it if they meet its policy, and
    /// stores it.
    fn approved(
        &mut self,
        id: Hash,
        mut record: ProposalRecord,
        approver: PublicKey,
    ) -> Result<Applied, Stop> {
        let counting = counting(&self.world.state, &record.proposal.change)?;
        let counted = counted(&self.world.state, &counting, &record.approvals)?;
        let required = counting.required();
        let approved = (id, approver, counted.len() as u32, required);
        self.emit(topic::PROPOSAL_APPROVED, encode(&approved))?;
        let mut applied = Applied { return_data: id.0.to_vec(), created: None };
        if counted.len() as u64 >= u64::from(required) {
            let contract = self.activate(id, &record, counted)?;
            if matches!(record.proposal.change, ContractChange::Instantiate { .. }) {
                applied.created = Some(contract);
            }
            record.status = ProposalStatus::Activated { height: self.height, contract };
        }
        self.put(system::proposal_key(&id), encode(&record))?;
        Ok(applied)
    }

    fn withdraw(&mut self, signer: &PublicKey, id: &Hash) -> Result<Applied, Stop> {
        let mut record = pending(&self.world.state, id, None)?;
        record.approvals.retain(|key| key != signer);
        self.emit(topic::APPROVAL_WITHDRAWN, encode(&(*id, *signer)))?;
        self.put(system::proposal_key(id), encode(&record))?;
        Ok(Applied { return_data: id.0.to_vec(), created: None })
    }

    /// What can be checked of a change when it is proposed (activation checks again what may
    /// have changed since).
    fn check_change(&self, change: &ContractChange) -> Result<(), Stop> {
        let state = &self.world.state;
        match change {
            ContractChange::Instantiate { name, code_hash, upgrade_policy, .. } => {
                check_name(state, name)?;
                stored_code(state, code_hash)?;
                match upgrade_policy {
                    UpgradePolicy::Approvals { required: 0 } => Err(refuse(
                        "an approvals upgrade policy must require at least 1 approval".into(),
                    )),
                    UpgradePolicy::Admin { key } if system::member_roles(state, key)?.is_none() => {
                        Err(refuse(format!("the upgrade policy's admin key {key} is not a member")))
                    }
                    _ => Ok(()),
                }
            }
            ContractChange::Upgrade { contract, code_hash, migrate_args } => {
                let info = system::contract_info(state, contract)?
                    .ok_or(Failure::NoContract(*contract))?;
                if info.code_hash == *code_hash {
                    return Err(refuse(format!(
                        "contract {contract} already runs code {code_hash}"
                    )));
                }
                stored_code(state, code_hash)?;
                let code = self.runtime.load(state, code_hash)?;
                check_migrate_args(code.has_migrate, migrate_args)
            }
        }
    }

    /// Applies an approved proposal: returns the contract instantiated or upgraded.
    fn activate(
        &mut self,
        id: Hash,
        record: &ProposalRecord,
        approvers: Vec<PublicKey>,
    ) -> Result<Address, Stop> {
        let height = self.height;
        match &record.proposal.change {
            ContractChange::Instantiate { name, code_hash, args, upgrade_policy } => {
                check_name(&self.world.state, name)?;
                stored_code(&self.world.state, code_hash)?;
                let creator = record.proposer.to_address();
                let address = system::contract_address(&creator, record.nonce);
                let code = self.runtime.load(&self.world.state, code_hash)?;
                let version = ContractVersion {
                    version: 1,
                    code_hash: *code_hash,
                    activated_at_height: height,
                    proposal: Some(id),
                    approvers,
                };
                let info =
                    ContractInfo { code_hash: *code_hash, creator, created_at_height: height };
                self.charge_write(&system::contract_key(&address), &encode(&info))?;
                self.put(system::name_key(name), encode(&address))?;
                self.put(system::upgrade_policy_key(&address), encode(upgrade_policy))?;
                self.put(system::contract_version_key(&address, 1), encode(&version))?;
                create_contract(self.runtime, self.world, info, address, &code, args, self.meter)?;
                let data = (id, address, name.clone(), *code_hash);
                self.emit(topic::CONTRACT_INSTANTIATED, encode(&data))?;
                Ok(address)
            }
            ContractChange::Upgrade { contract, code_hash, migrate_args } => {
                let state = &self.world.state;
                let mut info = system::contract_info(state, contract)?
                    .ok_or(Failure::NoContract(*contract))?;
                stored_code(state, code_hash)?;
                let code = self.runtime.load(state, code_hash)?;
                check_migrate_args(code.has_migrate, migrate_args)?;
                let versions = system::contract_versions(state, contract)?;
                let number = versions.last().map_or(1, |v| v.version) + 1;
                info.code_hash = *code_hash;
                self.put(system::contract_key(contract), encode(&info))?;
                let version = ContractVersion {
                    version: number,
                    code_hash: *code_hash,
                    activated_at_height: height,
                    proposal: Some(id),
                    approvers,
                };
                self.put(system::contract_version_key(contract, number), encode(&version))?;
                if code.has_migrate {
                    let frame = Frame {
                        contract: *contract,
                        caller: Address::SYSTEM,
                        view: false,
                        input: migrate_args.clone(),
                    };
                    run_metered(self.runtime, self.world, &code, MIGRATE, frame, self.meter)?;
                }
                let data = (id, *contract, number, *code_hash);
                self.emit(topic::CONTRACT_UPGRADED, encode(&data))?;
                Ok(*contract)
            }
        }
    }

    /// Charges a system write as `storage_set` would be charged, and makes it.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), Stop> {
        self.charge_write(&key, &value)?;
        self.world.state.set(key, value);
        Ok(())
    }

    fn charge_write(&mut self, key: &[u8], value: &[u8]) -> Result<(), Stop> {
        let bytes = key.len() + value.len();
        self.meter.charge(gas::cost(gas::STORAGE_SET_BASE, gas::STORAGE_SET_PER_BYTE, bytes))?;
        Ok(())
    }

    /// Charges a system event as `emit_event` would be charged, and emits it.
    fn emit(&mut self, topic: &str, data: Vec<u8>) -> Result<(), Stop> {
        let bytes = topic.len() + data.len();
        self.meter.charge(gas::cost(gas::EVENT_BASE, gas::EVENT_PER_BYTE, bytes))?;
        self.world.events.push(Event { contract: Address::SYSTEM, topic: topic.into(), data });
        Ok(())
    }
}

/// A name a proposal may register: 1 to [`MAX_NAME_BYTES`] of `a-z A-Z 0-9 - _ .`, not taken.
fn check_name(state: &(impl StateView + ?Sized), name: &str) -> Result<(), Stop> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_NAME_BYTES || !name.chars().all(allowed) {
        return Err(refuse(format!(
            "a contract name is 1 to {MAX_NAME_BYTES} characters of a-z, A-Z, 0-9, '-', '_' and '.'"
        )));
    }
    if let Some(address) = system::contract_by_name(state, name)? {
        return Err(refuse(format!("the name {name:?} is taken by contract {address}")));
    }
    Ok(())
}

fn stored_code(state: &(impl StateView + ?Sized), code_hash: &Hash) -> Result<(), Stop> {
    // The module cache may know code this state does not have: existence is checked here.
    match system::code(state, code_hash)? {
        Some(_) => Ok(()),
        None => Err(Failure::NoCode(*code_hash).into()),
    }
}

fn check_migrate_args(has_migrate: bool, migrate_args: &[u8]) -> Result<(), Stop> {
    if !has_migrate && !migrate_args.is_empty() {
        return Err(refuse(
            "the new code has no migrate method, so the upgrade takes no migrate arguments".into(),
        ));
    }
    Ok(())
}
