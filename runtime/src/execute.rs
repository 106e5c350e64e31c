//! Transactions and blocks: validity, gas, payloads, receipts, and the validator-set rotation at the
//! end of a block.
//!
//! Two kinds of bad transaction reach a block, and they end differently:
//! - **Invalid** — bad signature, wrong chain, gas limit above the maximum, signer not a member,
//!   nonce not the signer's next: the transaction is skipped. Its receipt is `failed` with reason
//!   `invalid: …`, it uses no gas and changes **nothing**, not even the nonce. A proposer should
//!   never include one (the mempool refuses them); if a faulty or replaying proposer does, bumping
//!   the nonce would let a replayed or forged transaction burn a member's nonce, and charging gas
//!   would let anyone spend a member's gas without its signature.
//! - **Failed** — a valid transaction whose execution fails (trap, abort, out of gas, missing role,
//!   no such method…): every write and event is dropped, but the nonce is used and the gas spent is
//!   charged to the block.

use crate::failure::{cap_reason, refusal, Failure, Stop};
use crate::host::{Env, Frame, World};
use crate::lifecycle::{self, Lifecycle};
use crate::module::{self, Contract};
use crate::state::{BaseState, Overlay};
use crate::system::{self, encode, ContractInfo, ContractVersion};
use crate::{
    gas, CallError, Lane, Runtime, RuntimeError, StateError, StateView, TxRejection, WriteSet,
};
use kessai_abi::MethodKind;
use kessai_primitives::protocol::{ScheduledUpgrade, MIN_UPGRADE_NOTICE_HEIGHTS};
use kessai_primitives::{
    Address, DeploymentPolicy, GovernanceAction, Hash, Payload, PublicKey, Receipt, Role,
    SignedTransaction, Transaction, TxStatus, Validator, ValidatorSet,
};
use std::collections::BTreeSet;

/// The block being executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockContext {
    /// The chain the block belongs to; every transaction must name it.
    pub chain_id: String,
    /// The block's height: what contracts see as `block_height`.
    pub height: u64,
    /// Block time, ms since the Unix epoch: what contracts see as `block_time_ms`.
    pub time_ms: u64,
    /// The most gas all of the block's transactions may use together.
    pub block_gas_limit: u64,
}

/// What executing a block produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutedBlock {
    /// One per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Every write of the block, for the store to commit atomically.
    pub writes: WriteSet,
    /// The sum of the receipts' gas.
    pub gas_used: u64,
}

/// Longest libp2p public key `AdmitPeer` and `RevokePeer` accept.
const MAX_PEER_KEY: usize = 1024;

impl Runtime {
    /// Executes a block's transactions in order over `state`; returns their receipts and the
    /// combined write set (see the module documentation for invalid vs failed transactions). After
    /// the transactions, the validator changes scheduled for the next height are applied: the set
    /// that signed this block becomes `validators/current`, and `validators/next` (which signs the
    /// next block) takes the changes of `validators/pending/<height + 1>`.
    ///
    /// An error means the state could not be read: the block's outcome is unknown.
    pub fn execute_block(
        &self,
        state: &dyn StateView,
        ctx: &BlockContext,
        txs: &[SignedTransaction],
    ) -> Result<ExecutedBlock, RuntimeError> {
        self.execute_block_with(state, ctx, txs, &|_| false)
    }

    /// [`Runtime::execute_block`], skipping the signature check of every transaction whose id
    /// `already_verified` accepts: the caller checked those very bytes (the id is the hash of the
    /// signed transaction, signature included) before, e.g. when its mempool admitted them. The
    /// signature is most of what a transaction costs, and a proposer's block is all such.
    pub fn execute_block_with(
        &self,
        state: &dyn StateView,
        ctx: &BlockContext,
        txs: &[SignedTransaction],
        already_verified: &(dyn Fn(&Hash) -> bool + Sync),
    ) -> Result<ExecutedBlock, RuntimeError> {
        self.on_execution_thread(Lane::Block, || {
            BaseState::scoped(state, |base| {
                BlockExecution::new(self, ctx, base).run(txs, already_verified)
            })
        })?
    }

    /// Read-only call of a view method against `state` (RPC `contract_view`). The method sees
    /// `caller` = [`Address::SYSTEM`] and `signer` = the all-zero key, the block of `ctx`, and
    /// [`crate::RuntimeConfig::max_view_gas`]; any write, event or call into a non-view method traps.
    pub fn view(
        &self,
        state: &dyn StateView,
        ctx: &BlockContext,
        contract: Address,
        method: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        self.on_execution_thread(Lane::View, || {
            BaseState::scoped(state, |base| self.view_on(base, ctx, contract, method, args))
        })
        .map_err(|e| CallError::Runtime(e.to_string()))?
    }

    fn view_on(
        &self,
        base: BaseState,
        ctx: &BlockContext,
        contract: Address,
        method: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        let env = Env { height: ctx.height, time_ms: ctx.time_ms, signer: PublicKey::default() };
        let mut world = World::new(base, env);
        let (code, kind) =
            self.resolve(&world.state, &contract, method).map_err(|stop| match stop {
                Stop::Fatal(e) => CallError::State(e),
                Stop::Failed(Failure::NoContract(address)) => CallError::NoContract(address),
                Stop::Failed(Failure::NoMethod(method)) => CallError::NoMethod(method),
                Stop::Failed(other) => CallError::Failed(other.reason()),
            })?;
        if kind != MethodKind::View {
            return Err(CallError::NotView(method.to_string()));
        }
        let frame = Frame { contract, caller: Address::SYSTEM, view: true, input: args.to_vec() };
        let outcome = world.run(self, &code, method, frame, self.config().max_view_gas);
        outcome.result.map_err(|stop| match stop {
            Stop::Fatal(e) => CallError::State(e),
            Stop::Failed(failure) => CallError::Failed(failure.reason()),
        })
    }

    /// Checks a transaction against `state` before it enters the mempool: the signer is a member,
    /// its nonce is `expected` (the signer's committed nonce plus the transactions the caller has
    /// already pooled — computed by the caller from one reading of the nonce, so that a block
    /// committed in between cannot make a valid nonce look used), its gas limit covers the
    /// intrinsic cost (for a deploy, with its compile gas) and is within the per-transaction
    /// maximum, a deployed module is within the structural limits, and the signer has the role the
    /// payload needs. The stateless checks (chain id, size, signature) are
    /// [`SignedTransaction::check_stateless`]'s.
    pub fn check_tx(
        &self,
        state: &dyn StateView,
        tx: &SignedTransaction,
        expected: u64,
    ) -> Result<(), TxRejection> {
        let signer = tx.tx.signer;
        let roles = system::member_roles(state, &signer)?.ok_or(TxRejection::NotMember(signer))?;
        let got = tx.tx.nonce;
        if got < expected {
            return Err(TxRejection::NonceUsed { expected, got });
        }
        if got > expected {
            return Err(TxRejection::NonceGap { expected, got });
        }
        let (limit, needed, max) = (tx.tx.gas_limit, gas::intrinsic(tx), self.config().max_tx_gas);
        if limit < needed {
            return Err(TxRejection::GasLimitTooLow { limit, needed });
        }
        if limit > max {
            return Err(TxRejection::GasLimitTooHigh { limit, max });
        }
        if let Some(role) = required_role(&tx.tx.payload) {
            if !roles.contains(&role) {
                return Err(TxRejection::MissingRole { signer, role });
            }
        }
        let refused = |stop: Stop| match stop {
            Stop::Fatal(e) => TxRejection::State(e),
            Stop::Failed(failure) => TxRejection::Lifecycle(failure.reason()),
        };
        match &tx.tx.payload {
            Payload::Instantiate { .. } => {
                lifecycle::plain_instantiation_allowed(state).map_err(refused)?
            }
            // A few state reads: the signer counts under the policy, the proposal can take it.
            Payload::Lifecycle(action) => {
                lifecycle::admissible(state, &signer, &roles, action).map_err(refused)?
            }
            _ => {}
        }
        if let Payload::Deploy { code } = &tx.tx.payload {
            // The structural limits and the compile gas: one linear pass, nothing compiled.
            let compiling = self.compile_gas(code).map_err(TxRejection::InvalidCode)?;
            let needed = needed.saturating_add(compiling);
            if limit < needed {
                return Err(TxRejection::GasLimitTooLow { limit, needed });
            }
        }
        Ok(())
    }
}

fn required_role(payload: &Payload) -> Option<Role> {
    match payload {
        Payload::Deploy { .. } | Payload::Instantiate { .. } => Some(Role::Deployer),
        Payload::Governance(_) => Some(Role::Admin),
        // Who may sign a lifecycle transaction depends on the policy: `lifecycle.rs` checks it.
        Payload::Call { .. } | Payload::Lifecycle(_) => None,
    }
}

/// Gas of one transaction: what it may use and what it used.
pub(crate) struct Meter {
    limit: u64,
    used: u64,
}

impl Meter {
    fn remaining(&self) -> u64 {
        self.limit - self.used
    }

    pub(crate) fn charge(&mut self, amount: u64) -> Result<(), Failure> {
        if amount > self.remaining() {
            self.used = self.limit;
            return Err(Failure::OutOfGas);
        }
        self.used += amount;
        Ok(())
    }
}

/// What a successful transaction leaves in its receipt.
#[derive(Default)]
pub(crate) struct Applied {
    pub(crate) return_data: Vec<u8>,
    pub(crate) created: Option<Address>,
}

struct BlockExecution<'a> {
    runtime: &'a Runtime,
    ctx: &'a BlockContext,
    world: World,
    gas_used: u64,
    /// Compile gas of the block's successful deploys so far, against
    /// `RuntimeConfig::max_block_compile_gas`.
    compile_gas_used: u64,
}

impl<'a> BlockExecution<'a> {
    fn new(runtime: &'a Runtime, ctx: &'a BlockContext, base: BaseState) -> Self {
        let env = Env { height: ctx.height, time_ms: ctx.time_ms, signer: PublicKey::default() };
        BlockExecution {
            runtime,
            ctx,
            world: World::new(base, env),
            gas_used: 0,
            compile_gas_used: 0,
        }
    }

    fn run(
        mut self,
        txs: &[SignedTransaction],
        already_verified: &(dyn Fn(&Hash) -> bool + Sync),
    ) -> Result<ExecutedBlock, RuntimeError> {
        let checks = stateless_checks(&self.ctx.chain_id, txs, already_verified);
        let receipts = txs
            .iter()
            .zip(checks)
            .map(|(tx, check)| self.execute(tx, check))
            .collect::<Result<Vec<_>, _>>()?;
        rotate_validators(&mut self.world.state, self.ctx.height)?;
        Ok(ExecutedBlock {
            receipts,
            writes: self.world.state.into_writes(),
            gas_used: self.gas_used,
        })
    }

    fn execute(
        &mut self,
        signed: &SignedTransaction,
        stateless: Result<(), String>,
    ) -> Result<Receipt, StateError> {
        let tx_id = signed.id();
        let tx = &signed.tx;
        let admitted = match stateless {
            Ok(()) => self.admit(signed)?,
            Err(reason) => Err(reason),
        };
        let (roles, nonce) = match admitted {
            Ok(admitted) => admitted,
            Err(reason) => return Ok(failed_receipt(tx_id, format!("invalid: {reason}"), 0)),
        };
        let block_gas_left = self.ctx.block_gas_limit.saturating_sub(self.gas_used);
        let mut meter = Meter { limit: tx.gas_limit.min(block_gas_left), used: 0 };
        self.world.env.signer = tx.signer;
        self.world.events.clear();
        self.world.stack.clear();

        let result = match self.apply(signed, &roles, &mut meter) {
            Ok(applied) => Ok(applied),
            Err(Stop::Fatal(error)) => return Err(error),
            Err(Stop::Failed(Failure::OutOfGas)) if meter.limit < tx.gas_limit => {
                Err(Failure::BlockGasLimit(block_gas_left))
            }
            Err(Stop::Failed(failure)) => Err(failure),
        };
        let receipt = match result {
            Ok(applied) => {
                self.world.state.commit_tx();
                Receipt {
                    tx_id,
                    status: TxStatus::Success,
                    gas_used: meter.used,
                    return_data: applied.return_data,
                    events: std::mem::take(&mut self.world.events),
                    created: applied.created,
                }
            }
            Err(failure) => {
                self.world.state.discard_tx();
                self.world.events.clear();
                failed_receipt(tx_id, failure.reason(), meter.used)
            }
        };
        // Valid transactions use their nonce whatever happened.
        self.world.state.set(system::nonce_key(&tx.signer), encode(&(nonce + 1)));
        self.world.state.commit_tx();
        self.gas_used += meter.used;
        Ok(receipt)
    }

    /// The signer's roles and nonce, or why the transaction is invalid (after the stateless
    /// checks).
    fn admit(
        &self,
        signed: &SignedTransaction,
    ) -> Result<Result<(Vec<Role>, u64), String>, StateError> {
        let tx = &signed.tx;
        let max = self.runtime.config().max_tx_gas;
        if tx.gas_limit > max {
            return Ok(Err(format!("gas limit {} is above the maximum {max}", tx.gas_limit)));
        }
        let state = &self.world.state;
        let Some(roles) = system::member_roles(state, &tx.signer)? else {
            return Ok(Err(format!("signer {} is not a member", tx.signer)));
        };
        let expected = system::nonce(state, &tx.signer)?;
        if tx.nonce != expected {
            return Ok(Err(format!(
                "nonce {} but the signer's next nonce is {expected}",
                tx.nonce
            )));
        }
        Ok(Ok((roles, expected)))
    }

    fn apply(
        &mut self,
        signed: &SignedTransaction,
        roles: &[Role],
        meter: &mut Meter,
    ) -> Result<Applied, Stop> {
        meter.charge(gas::intrinsic(signed))?;
        if let Some(role) = required_role(&signed.tx.payload) {
            if !roles.contains(&role) {
                return Err(Failure::MissingRole(role).into());
            }
        }
        let tx = &signed.tx;
        match &tx.payload {
            Payload::Deploy { code } => self.deploy(code, meter),
            Payload::Instantiate { code_hash, args } => {
                self.instantiate(tx, code_hash, args, meter)
            }
            Payload::Call { contract, method, args } => {
                let (code, kind) = self.runtime.resolve(&self.world.state, contract, method)?;
                let frame = Frame {
                    contract: *contract,
                    caller: tx.signer.to_address(),
                    view: kind == MethodKind::View,
                    input: args.clone(),
                };
                let return_data = self.run_frame(&code, method, frame, meter)?;
                Ok(Applied { return_data, created: None })
            }
            Payload::Governance(action) => {
                govern(&mut self.world.state, self.ctx.height, action)?;
                Ok(Applied::default())
            }
            Payload::Lifecycle(action) => {
                let (runtime, height) = (self.runtime, self.ctx.height);
                let world = &mut self.world;
                Lifecycle { runtime, world, meter, height }.apply(tx, roles, action)
            }
        }
    }

    /// Checks the module's structure, charges its compile gas, then compiles it — or takes it
    /// from the module cache: the proposer, every validator and every round of a height run this
    /// for the same code, and it is compiled once per node. The gas is charged either way, and
    /// before the compiler runs, so that the transaction's gas limit bounds the compile time.
    fn deploy(&mut self, code: &[u8], meter: &mut Meter) -> Result<Applied, Stop> {
        let config = self.runtime.config();
        let shape = module::inspect(code, config).map_err(Failure::InvalidCode)?;
        let compile_gas = gas::compile(&shape);
        let budget_left = config.max_block_compile_gas.saturating_sub(self.compile_gas_used);
        if compile_gas > budget_left {
            return Err(Failure::BlockCompileBudget(compile_gas, budget_left).into());
        }
        meter.charge(compile_gas)?;
        let code_hash = Hash::digest(code);
        self.runtime.compiled(code, &code_hash, shape.abi).map_err(Failure::InvalidCode)?;
        self.world.state.set(system::code_key(&code_hash), code.to_vec());
        // Counted once the deploy compiled: a deploy that fails later in its transaction still
        // cost the compile time.
        self.compile_gas_used += compile_gas;
        Ok(Applied { return_data: Vec::new(), created: Some(Address(code_hash.0)) })
    }

    fn instantiate(
        &mut self,
        tx: &Transaction,
        code_hash: &Hash,
        args: &[u8],
        meter: &mut Meter,
    ) -> Result<Applied, Stop> {
        // The module cache may know code this state does not have (deployed on another fork, or in
        // a proposal that was never committed): existence is always checked against the state.
        if system::code(&self.world.state, code_hash)?.is_none() {
            return Err(Failure::NoCode(*code_hash).into());
        }
        lifecycle::plain_instantiation_allowed(&self.world.state)?;
        let creator = tx.signer.to_address();
        let address = system::contract_address(&creator, tx.nonce);
        let code = self.runtime.load(&self.world.state, code_hash)?;
        // Immutable (no `contract-upgrade/` entry); its history starts with version 1.
        let version = ContractVersion {
            version: 1,
            code_hash: *code_hash,
            activated_at_height: self.ctx.height,
            proposal: None,
            approvers: vec![],
        };
        self.world.state.set(system::contract_version_key(&address, 1), encode(&version));
        let return_data = create_contract(
            self.runtime,
            &mut self.world,
            ContractInfo { code_hash: *code_hash, creator, created_at_height: self.ctx.height },
            address,
            &code,
            args,
            meter,
        )?;
        Ok(Applied { return_data, created: Some(address) })
    }

    fn run_frame(
        &mut self,
        contract: &Contract,
        method: &str,
        frame: Frame,
        meter: &mut Meter,
    ) -> Result<Vec<u8>, Stop> {
        run_metered(self.runtime, &mut self.world, contract, method, frame, meter)
    }
}

pub(crate) fn run_metered(
    runtime: &Runtime,
    world: &mut World,
    contract: &Contract,
    method: &str,
    frame: Frame,
    meter: &mut Meter,
) -> Result<Vec<u8>, Stop> {
    let fuel = meter.remaining();
    let outcome = world.run(runtime, contract, method, frame, fuel);
    meter.used += fuel.saturating_sub(outcome.fuel_left);
    outcome.result
}

/// Records a new contract at `address` and runs its `init` (if it exports one) with `args`,
/// called by the creator. Shared by `Instantiate` and genesis.
pub(crate) fn create_contract(
    runtime: &Runtime,
    world: &mut World,
    info: ContractInfo,
    address: Address,
    code: &Contract,
    args: &[u8],
    meter: &mut Meter,
) -> Result<Vec<u8>, Stop> {
    if system::contract_info(&world.state, &address)?.is_some() {
        return Err(Failure::ContractExists(address).into());
    }
    let creator = info.creator;
    world.state.set(system::contract_key(&address), encode(&info));
    if !code.has_init {
        if !args.is_empty() {
            return Err(Failure::NoInit.into());
        }
        return Ok(Vec::new());
    }
    let frame = Frame { contract: address, caller: creator, view: false, input: args.to_vec() };
    run_metered(runtime, world, code, "init", frame, meter)
}

/// Instantiates a chain-spec contract at genesis: creator [`Address::SYSTEM`], its own gas.
pub(crate) fn genesis_contract(
    runtime: &Runtime,
    world: &mut World,
    code_hash: Hash,
    address: Address,
    args: &[u8],
) -> Result<(), Stop> {
    let code = runtime.load(&world.state, &code_hash)?;
    let info = ContractInfo { code_hash, creator: Address::SYSTEM, created_at_height: 0 };
    let mut meter = Meter { limit: runtime.config().max_tx_gas, used: 0 };
    create_contract(runtime, world, info, address, &code, args, &mut meter).map(drop)
}

/// The chain id, size and signature checks of every transaction, on all cores: they depend on
/// nothing but the transaction, and the signatures are most of what a block costs.
fn stateless_checks(
    chain_id: &str,
    txs: &[SignedTransaction],
    already_verified: &(dyn Fn(&Hash) -> bool + Sync),
) -> Vec<Result<(), String>> {
    use rayon::prelude::*;
    txs.par_iter()
        .map(|tx| {
            let checked = if already_verified(&tx.id()) {
                tx.check_shape(chain_id)
            } else {
                tx.check_stateless(chain_id)
            };
            checked.map_err(|e| e.to_string())
        })
        .collect()
}

fn failed_receipt(tx_id: Hash, reason: String, gas_used: u64) -> Receipt {
    Receipt {
        tx_id,
        status: TxStatus::Failed { reason: cap_reason(reason) },
        gas_used,
        return_data: Vec::new(),
        events: Vec::new(),
        created: None,
    }
}

/// Sorted, without duplicates: one encoding per set of roles.
pub(crate) fn canonical_roles(roles: &[Role]) -> Vec<Role> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}

fn govern(state: &mut Overlay, height: u64, action: &GovernanceAction) -> Result<(), Stop> {
    let refuse = |message: String| Stop::Failed(Failure::Governance(message));
    match action {
        GovernanceAction::AddMember { key, roles } => {
            if system::member_roles(state, key)?.is_some() {
                return Err(refuse(format!("{key} is already a member")));
            }
            state.set(system::member_key(key), encode(&canonical_roles(roles)));
        }
        GovernanceAction::RemoveMember { key } => {
            let Some(roles) = system::member_roles(state, key)? else {
                return Err(refuse(format!("{key} is not a member")));
            };
            if roles.contains(&Role::Admin) && !another_admin(state, key)? {
                return Err(refuse(refusal::LAST_ADMIN_MEMBER.into()));
            }
            state.remove(system::member_key(key));
        }
        GovernanceAction::GrantRole { key, role } | GovernanceAction::RevokeRole { key, role } => {
            let roles = system::member_roles(state, key)?
                .ok_or_else(|| refuse(format!("{key} is not a member")))?;
            let revoking_admin = matches!(action, GovernanceAction::RevokeRole { .. })
                && *role == Role::Admin
                && roles.contains(&Role::Admin);
            if revoking_admin && !another_admin(state, key)? {
                return Err(refuse(refusal::LAST_ADMIN_ROLE.into()));
            }
            let mut roles: Vec<Role> = roles.into_iter().filter(|r| r != role).collect();
            if matches!(action, GovernanceAction::GrantRole { .. }) {
                roles.push(*role);
            }
            state.set(system::member_key(key), encode(&canonical_roles(&roles)));
        }
        GovernanceAction::SetValidator { validator } => {
            // Effective two heights on: the next block's signers are already fixed by this one.
            let at = height + 2;
            let pending = system::pending_validators(state, at)?.unwrap_or_default();
            let changes = with_changes(pending, std::slice::from_ref(validator));
            check_validators_after(state, height, &changes)?;
            state.set(system::pending_validators_key(at), encode(&changes));
        }
        GovernanceAction::AdmitPeer { peer_key } => {
            check_peer_key_length(peer_key).map_err(refuse)?;
            state.remove(system::revoked_peer_key(peer_key));
            state.set(system::peer_key(peer_key), encode(&()));
        }
        GovernanceAction::RevokePeer { peer_key } => {
            check_peer_key_length(peer_key).map_err(refuse)?;
            if let Some(key) = ed25519_of_peer_key(peer_key) {
                if is_or_becomes_validator(state, height, &key)? {
                    return Err(refuse(refusal::REVOKE_VALIDATOR.into()));
                }
            }
            if state.get(&system::revoked_peer_key(peer_key))?.is_some() {
                return Err(refuse(format!("peer key {} is already revoked", hex_of(peer_key))));
            }
            state.remove(system::peer_key(peer_key));
            state.set(system::revoked_peer_key(peer_key), encode(&()));
        }
        GovernanceAction::ScheduleUpgrade { protocol_version, height: at } => {
            let current = system::protocol_version_at(state, height)?;
            check_upgrade(current, height, *protocol_version, *at).map_err(refuse)?;
            let upgrade = ScheduledUpgrade { protocol_version: *protocol_version, height: *at };
            state.set(system::protocol_upgrade_key(), encode(&upgrade));
        }
        GovernanceAction::SetDeploymentPolicy { policy } => {
            check_deployment_policy(state, policy)?;
            state.set(system::deployment_policy_key(), encode(policy));
        }
        GovernanceAction::SetValidatorNodeKey { validator, node_key } => {
            let key = check_validator_node_key(state, height, validator, node_key)?;
            state.set(system::validator_node_key(validator), encode(&key));
        }
    }
    Ok(())
}

/// The ed25519 key of `node_key` if `validator`'s node may connect with it: `validator` signs
/// now or will (current, next or pending set), the key is an ed25519 libp2p key in its canonical
/// encoding (what `validator-node/` stores), not revoked, and neither the node key nor the
/// consensus key of another validator of those sets (two validators behind one identity would
/// leave one of them unreachable).
fn check_validator_node_key(
    state: &Overlay,
    height: u64,
    validator: &PublicKey,
    node_key: &[u8],
) -> Result<PublicKey, Stop> {
    let refuse = |message: String| Stop::Failed(Failure::Governance(message));
    check_peer_key_length(node_key).map_err(refuse)?;
    let key = ed25519_of_peer_key(node_key).ok_or_else(|| {
        refuse(format!(
            "a validator's node key must be an ed25519 libp2p key (08 01 12 20 and 32 bytes), got {}",
            hex_of(node_key)
        ))
    })?;
    let validators = signing_validators(state, height)?;
    if !validators.contains(validator) {
        return Err(refuse(format!(
            "{validator} is not a validator of the current, next or a pending set"
        )));
    }
    if state.get(&system::revoked_peer_key(node_key))?.is_some() {
        return Err(refuse(format!(
            "node key {key} is revoked: admit it first (tx gov admit-peer {key})"
        )));
    }
    for other in validators.iter().filter(|other| *other != validator) {
        if *other == key || system::network_key_of_validator(state, other)? == key {
            return Err(refuse(format!("node key {key} belongs to validator {other}")));
        }
    }
    Ok(key)
}

/// The consensus keys of the validators that sign now or will: in `validators/current`,
/// `validators/next`, or given power by a change pending for `height + 1` or `height + 2`.
fn signing_validators(state: &Overlay, height: u64) -> Result<BTreeSet<PublicKey>, Stop> {
    let mut keys = BTreeSet::new();
    for set in
        [system::current_validators(state)?, system::next_validators(state)?].into_iter().flatten()
    {
        keys.extend(set.validators().iter().map(|v| v.public_key));
    }
    for at in [height + 1, height + 2] {
        for v in system::pending_validators(state, at)?.unwrap_or_default() {
            if v.power > 0 {
                keys.insert(v.public_key);
            }
        }
    }
    Ok(keys)
}

/// A policy of `k` approvals needs at least `k` members holding the approver role, or no
/// contract could ever be deployed.
fn check_deployment_policy(state: &Overlay, policy: &DeploymentPolicy) -> Result<(), Stop> {
    let DeploymentPolicy::Approvals { required } = policy else { return Ok(()) };
    let approvers =
        system::members(state)?.iter().filter(|(_, roles)| roles.contains(&Role::Approver)).count();
    let refusal = if *required == 0 {
        "a deployment policy needs at least 1 approval".to_string()
    } else if *required as usize > approvers {
        format!(
            "a deployment policy of {required} approvals needs as many members holding the \
             approver role; {approvers} do"
        )
    } else {
        return Ok(());
    };
    Err(Stop::Failed(Failure::Governance(refusal)))
}

/// An upgrade must raise the version of the block that schedules it and leave operators
/// [`MIN_UPGRADE_NOTICE_HEIGHTS`] heights to swap binaries. Whether any binary supports the version
/// is not checked: a chain may schedule a version newer than every validator's build, which then
/// stops at its height until operators upgrade (decision record 0020).
fn check_upgrade(current: u32, height: u64, version: u32, at: u64) -> Result<(), String> {
    if version <= current {
        return Err(format!(
            "protocol version {version} is not above the chain's current version {current}"
        ));
    }
    let earliest = height.saturating_add(MIN_UPGRADE_NOTICE_HEIGHTS);
    if at < earliest {
        return Err(format!(
            "an upgrade scheduled at height {height} may take effect at {earliest} at the \
             earliest ({MIN_UPGRADE_NOTICE_HEIGHTS} heights of notice), not at {at}"
        ));
    }
    Ok(())
}

fn check_peer_key_length(peer_key: &[u8]) -> Result<(), String> {
    if peer_key.is_empty() || peer_key.len() > MAX_PEER_KEY {
        return Err(format!(
            "a peer key must be 1 to {MAX_PEER_KEY} bytes, got {}",
            peer_key.len()
        ));
    }
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ed25519 key of a libp2p public key in its protobuf encoding (`08 01 12 20 ‖ 32 bytes`:
/// key type Ed25519, then the key), the one encoding `kessai tx gov admit-peer` and
/// `revoke-peer` write.
fn ed25519_of_peer_key(peer_key: &[u8]) -> Option<PublicKey> {
    let key = peer_key.strip_prefix(&[0x08, 0x01, 0x12, 0x20])?;
    Some(PublicKey(key.try_into().ok()?))
}

/// Whether `key` is the node key of a validator that signs now or will (its registered node key,
/// `validator-node/`, or else its consensus key): in `validators/current`, `validators/next`, or
/// given power by a change pending for `height + 1` or `height + 2`. Revoking such a key's node
/// would cut a signer off the network; the node keeps validators allowed whatever the state says.
fn is_or_becomes_validator(state: &Overlay, height: u64, key: &PublicKey) -> Result<bool, Stop> {
    for validator in signing_validators(state, height)? {
        if system::network_key_of_validator(state, &validator)? == *key {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a member other than `key` holds the admin role: governance never leaves the chain
/// without one. Reads every member; a consortium has few, and this runs only when an admin
/// would lose its role or membership.
fn another_admin(state: &Overlay, key: &PublicKey) -> Result<bool, StateError> {
    Ok(system::members(state)?
        .iter()
        .any(|(member, roles)| member != key && roles.contains(&Role::Admin)))
}

/// `validators` with `changes` applied in order: a change replaces the validator of its key (power
/// 0 included; `ValidatorSet::new` drops those), so no key is listed twice.
fn with_changes(mut validators: Vec<Validator>, changes: &[Validator]) -> Vec<Validator> {
    for change in changes {
        validators.retain(|v| v.public_key != change.public_key);
        validators.push(change.clone());
    }
    validators
}

/// Refuses `SetValidator` changes after which the validators could not commit: the set that will
/// sign block `height + 2` — `validators/next` (the signers of `height`) with the changes pending
/// for `height + 1` as [`rotate_validators`] will apply them, then `changes` (those for
/// `height + 2`, the one being made included) — must have a positive total power that fits a
/// `u64`. Checked at every change, so `rotate_validators` never meets a set it cannot build. How
/// much power one change moves is not limited: the light client verifies a header whose set
/// changed too much for skipping through adjacent headers (bisection), each of which names the
/// next set (decision record 0008).
fn check_validators_after(state: &Overlay, height: u64, changes: &[Validator]) -> Result<(), Stop> {
    let mut validators =
        system::next_validators(state)?.map(|set| set.validators().to_vec()).unwrap_or_default();
    if let Some(pending) = system::pending_validators(state, height + 1)? {
        let updated = with_changes(validators.clone(), &pending);
        if voting_power(&updated).is_ok() {
            validators = updated;
        }
    }
    voting_power(&with_changes(validators, changes))
        .map(drop)
        .map_err(|reason| Stop::Failed(Failure::Governance(reason.into())))
}

/// The total power of `validators`, or why they could not commit: none has power, or the sum
/// overflows (what `ValidatorSet::new` refuses but for duplicates, which [`with_changes`] never
/// makes).
fn voting_power(validators: &[Validator]) -> Result<u64, &'static str> {
    match validators.iter().try_fold(0u64, |sum, v| sum.checked_add(v.power)) {
        None => Err(refusal::POWER_OVERFLOW),
        Some(0) => Err(refusal::NO_VOTING_POWER),
        Some(total) => Ok(total),
    }
}

/// End of block `height`: the set that signed it becomes `validators/current`; the changes
/// scheduled for `height + 1` are applied to `validators/next`. Governance refuses changes that
/// would leave no validator or overflow the total power ([`check_validators_after`]); were one
/// there anyway (a state written before that check), it is dropped whole: the chain cannot go on
/// without signers.
fn rotate_validators(state: &mut Overlay, height: u64) -> Result<(), StateError> {
    let Some(next) = system::next_validators(state)? else {
        return Ok(()); // a state without validators (no genesis): nothing to rotate
    };
    if system::current_validators(state)?.as_ref() != Some(&next) {
        state.set(system::current_validators_key(), encode(&next));
    }
    if let Some(changes) = system::pending_validators(state, height + 1)? {
        state.remove(system::pending_validators_key(height + 1));
        let validators = with_changes(next.validators().to_vec(), &changes);
        match ValidatorSet::new(validators) {
            Ok(updated) if updated != next => {
                state.set(system::next_validators_key(), encode(&updated))
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(height, "validator changes dropped: {e}"),
        }
    }
    state.commit_tx();
    Ok(())
}
