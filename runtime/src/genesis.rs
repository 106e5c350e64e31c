//! The genesis state: members, validators, the deployment policy and the chain spec's contracts,
//! instantiated with their upgrade policies and version 1 records.

use crate::execute::{canonical_roles, genesis_contract};
use crate::failure::Stop;
use crate::host::{Env, World};
use crate::state::{BaseState, EmptyState};
use crate::system::{self, encode, ContractVersion};
use crate::{Runtime, RuntimeError, WriteSet};
use kessai_primitives::{
    Address, DeploymentPolicy, Hash, PublicKey, Role, UpgradePolicy, ValidatorSet,
};
use std::collections::BTreeSet;

/// What genesis is built from (the node derives it from the chain spec).
#[derive(Clone, Debug)]
pub struct GenesisSpec {
    /// The chain's id, from the chain spec.
    pub chain_id: String,
    /// Genesis time, ms since the Unix epoch: the block time the contracts' `init` see.
    pub time_ms: u64,
    /// The consortium's members and their roles (each key at most once; roles are sorted and
    /// deduplicated before they are stored).
    pub members: Vec<(PublicKey, Vec<Role>)>,
    /// The validators of height 1, stored as both the current and the next set.
    pub validators: ValidatorSet,
    /// Who approves new contracts (`policy/deployment`).
    pub deployment_policy: DeploymentPolicy,
    /// The contracts to instantiate, in order: the i-th gets the address of creator
    /// [`Address::SYSTEM`] with nonce i.
    pub contracts: Vec<GenesisContract>,
}

/// A contract that exists from genesis, reachable by `name`.
#[derive(Clone, Debug)]
pub struct GenesisContract {
    /// The name it is registered under (`name/` key); non-empty and unique in the spec.
    pub name: String,
    /// The wasm module, checked like a deployed one.
    pub code: Vec<u8>,
    /// borsh arguments of its `init` (empty if it has none).
    pub init_args: Vec<u8>,
    /// Who may replace its code (`contract-upgrade/` key).
    pub upgrade_policy: UpgradePolicy,
}

/// Builds the genesis write set: `member/` for each member, `validators/current` and
/// `validators/next`, `policy/deployment`, and for each contract (in order, the i-th with creator
/// [`Address::SYSTEM`] and nonce i) its `code/`, `contract/`, `name/`, `contract-upgrade/` and
/// `contract-version/ ‖ address ‖ 1` entries and the writes of its `init`, run at height 0 and
/// `time_ms`. Returns the writes and each contract's address.
pub fn genesis_writes(
    runtime: &Runtime,
    spec: &GenesisSpec,
) -> Result<(WriteSet, Vec<(String, Address)>), RuntimeError> {
    runtime.on_execution_thread(crate::Lane::Block, || {
        BaseState::scoped(&EmptyState, |base| build(runtime, spec, base))
    })?
}

fn build(
    runtime: &Runtime,
    spec: &GenesisSpec,
    base: BaseState,
) -> Result<(WriteSet, Vec<(String, Address)>), RuntimeError> {
    let fail = |message: String| RuntimeError::Genesis(message);
    let env = Env { height: 0, time_ms: spec.time_ms, signer: PublicKey::default() };
    let mut world = World::new(base, env);

    let mut seen = BTreeSet::new();
    for (key, roles) in &spec.members {
        if !seen.insert(*key) {
            return Err(fail(format!("member {key} is listed twice")));
        }
        world.state.set(system::member_key(key), encode(&canonical_roles(roles)));
    }
    world.state.set(system::current_validators_key(), encode(&spec.validators));
    world.state.set(system::next_validators_key(), encode(&spec.validators));
    world.state.set(system::deployment_policy_key(), encode(&spec.deployment_policy));

    let mut names = Vec::new();
    for (index, contract) in spec.contracts.iter().enumerate() {
        let name = &contract.name;
        let in_contract = |message: String| fail(format!("contract {name:?}: {message}"));
        if name.is_empty() || names.iter().any(|(other, _)| other == name) {
            return Err(in_contract("names must be non-empty and distinct".into()));
        }
        runtime.validate_code(&contract.code).map_err(|e| in_contract(e.to_string()))?;
        let code_hash = Hash::digest(&contract.code);
        world.state.set(system::code_key(&code_hash), contract.code.clone());
        let address = system::contract_address(&Address::SYSTEM, index as u64);
        world.state.set(system::name_key(name), encode(&address));
        world.state.set(system::upgrade_policy_key(&address), encode(&contract.upgrade_policy));
        let version = ContractVersion {
            version: 1,
            code_hash,
            activated_at_height: 0,
            proposal: None,
            approvers: vec![],
        };
        world.state.set(system::contract_version_key(&address, 1), encode(&version));
        match genesis_contract(runtime, &mut world, code_hash, address, &contract.init_args) {
            Ok(()) => {}
            Err(Stop::Fatal(e)) => return Err(e.into()),
            Err(Stop::Failed(failure)) => {
                return Err(in_contract(format!("init failed: {failure}")))
            }
        }
        world.events.clear();
        names.push((name.clone(), address));
    }
    world.state.commit_tx();
    Ok((world.state.into_writes(), names))
}
