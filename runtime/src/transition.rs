//! The state transition of one block, in one place: what a block does to the state and what its
//! header must say about it. The proposer builds with it, every validator and a syncing node check
//! with it, and anything else that re-executes the chain (the consensus simulation, an auditor)
//! calls the same functions without a node.
//!
//! A block at `height` over the state its parent left:
//! 1. **Transactions**, in order, with their governance payloads and, after the last one, the
//!    validator-set rotation — [`Runtime::execute_block_with`] (`execute.rs`): the set that signed
//!    the block becomes `validators/current`, and the changes scheduled for `height + 1` are
//!    applied to `validators/next`. A `SetValidator` at `height` is scheduled for `height + 2`, so
//!    the set that signs a block is always fixed by the block before it.
//! 2. **Evidence** the block carries is recorded (`evidence/ ‖ hash` → evidence), so that it is
//!    provable like any other value and never accepted twice.
//! 3. **Header facts**: `validators_hash` is the hash of the set that signs this block (the
//!    parent's `validators/next`), `next_validators_hash` that of `validators/next` after the
//!    block's writes, `receipts_root` the root of the receipts; `txs_root`, `last_commit_hash` and
//!    `evidence_hash` follow from the body.
//!
//! **The state root is not computed here.** It is the root of the authenticated tree over the
//! state plus [`Transition::writes`], which the store owns (a Jellyfish Merkle tree in
//! `kessai-store`, `Store::prepare_state`). The caller computes it from the writes and hands it
//! to [`header_for`] (building) or [`check_state_root`] (checking). Everything else a header holds
//! is decided here.
//!
//! Checking a proposed block is [`check_block`] (everything that needs no state root: the header's
//! link to its parent, its time, its shape, its evidence, the signing set, then re-execution and
//! the receipts root), then the store's root, then [`check_state_root`]. The order is deliberate:
//! a block whose receipts already disagree costs no tree update. No validity check reads a clock:
//! a block's time must only be after its parent's. Whether a fresh proposal's time is close enough
//! to a validator's clock to prevote for it is [`check_timely`], apart from validity, so that a
//! committed block is never refused for its time (`docs/decisions/0010-block-time-is-a-prevote-rule.md`).

use crate::{system, BlockContext};
use crate::{Runtime, RuntimeError, StateError, StateView, WriteSet};
use kessai_primitives::block::BlockShapeError;
use kessai_primitives::protocol;
use kessai_primitives::vote::EvidenceError;
use kessai_primitives::{
    Block, BlockId, Commit, Evidence, Hash, Header, PublicKey, Receipt, SignedTransaction,
    ValidatorSet,
};

/// What a chain requires of every block, from its chain spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRules {
    /// The chain every block and transaction names.
    pub chain_id: String,
    /// The most gas a block's transactions may use together.
    pub block_gas_limit: u64,
    /// The most transactions a block may carry.
    pub max_block_txs: u32,
}

/// The block a new block builds on, as far as the transition needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    /// The parent's height (0: genesis).
    pub height: u64,
    /// The parent's id ([`Hash::ZERO`] for genesis, which has no header).
    pub id: BlockId,
    /// The parent's block time (genesis: the chain spec's genesis time).
    pub time_ms: u64,
}

impl Parent {
    /// Genesis as a parent: height 0, no header.
    pub fn genesis(genesis_time_ms: u64) -> Parent {
        Parent { height: 0, id: Hash::ZERO, time_ms: genesis_time_ms }
    }

    /// A block's header as a parent.
    pub fn of(header: &Header) -> Parent {
        Parent { height: header.height, id: header.id(), time_ms: header.time_ms }
    }
}

/// What a block is made of before it is executed: what its proposer chose.
#[derive(Clone, Copy, Debug)]
pub struct BlockInput<'a> {
    /// The chain the block belongs to.
    pub chain_id: &'a str,
    /// The block's height: its parent's plus one.
    pub height: u64,
    /// Block time, ms since the Unix epoch: what contracts see as `block_time_ms`.
    pub time_ms: u64,
    /// Id of the parent block ([`Hash::ZERO`] at height 1).
    pub parent: BlockId,
    /// The validator that proposed the block.
    pub proposer: PublicKey,
    /// The transactions, in execution order.
    pub txs: &'a [SignedTransaction],
    /// The commit that finalised the parent (none at height 1).
    pub last_commit: &'a Option<Commit>,
    /// Evidence of misbehaviour the block records; none already on chain ([`fresh_evidence`]).
    pub evidence: &'a [Evidence],
    /// The most gas the block's transactions may use together.
    pub block_gas_limit: u64,
}

impl<'a> BlockInput<'a> {
    /// The input a proposed block claims: its header's own fields and its body.
    pub fn of(block: &'a Block, block_gas_limit: u64) -> BlockInput<'a> {
        let header = &block.header;
        BlockInput {
            chain_id: &header.chain_id,
            height: header.height,
            time_ms: header.time_ms,
            parent: header.parent,
            proposer: header.proposer,
            txs: &block.txs,
            last_commit: &block.last_commit,
            evidence: &block.evidence,
            block_gas_limit,
        }
    }
}

/// What applying a block produced: everything its header needs except the state root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// One per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Every write of the block (transactions, validator rotation, evidence), for the store to
    /// commit atomically and to compute the state root from.
    pub writes: WriteSet,
    /// The sum of the receipts' gas.
    pub gas_used: u64,
    /// Root of the receipts ([`Block::receipts_root`]).
    pub receipts_root: Hash,
    /// The set that signs this block: `validators/next` of the parent's state.
    pub validators: ValidatorSet,
    /// The set that signs the next block: `validators/next` after this block's writes.
    pub next_validators: ValidatorSet,
    /// The protocol version of the block ([`system::protocol_version_at`] of the parent's state).
    pub protocol_version: u32,
}

/// Why a block is invalid: every honest validator refuses it, whatever its own state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlock {
    /// The header names another chain (the one given).
    #[error("block is for chain {0}")]
    Chain(String),
    /// The height is not the parent's plus one.
    #[error("block height {got} but the next height is {expected}")]
    Height {
        /// The parent's height plus one.
        expected: u64,
        /// The header's.
        got: u64,
    },
    /// The header's `parent` is not the parent's id.
    #[error("block does not extend the latest block")]
    Parent,
    /// Block times strictly increase.
    #[error("block time {time_ms} is not after its parent's {parent_time_ms}")]
    TimeNotAfterParent {
        /// The header's.
        time_ms: u64,
        /// The parent's.
        parent_time_ms: u64,
    },
    /// Later than the checker's clock allows ([`check_timely`]): a reason to prevote nil on a
    /// fresh proposal, never to refuse a committed block.
    #[error("block time {0} is too far in the future")]
    TimeInFuture(u64),
    /// The header's `txs_root`, `last_commit_hash` or `evidence_hash` does not match the body.
    #[error(transparent)]
    Shape(#[from] BlockShapeError),
    /// More transactions than [`BlockRules::max_block_txs`].
    #[error("block has {count} transactions; the limit is {limit}")]
    TooManyTxs {
        /// The block's.
        count: usize,
        /// [`BlockRules::max_block_txs`].
        limit: u32,
    },
    /// A piece of evidence does not prove misbehaviour.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// Evidence (by hash) that an earlier block recorded: it counts once.
    #[error("block carries evidence {0} that is already on chain")]
    EvidenceCommitted(Hash),
    /// `validators_hash` is not the hash of the parent state's `validators/next`.
    #[error("validators_hash does not match the validator set")]
    ValidatorsHash,
    /// Re-execution gave other receipts.
    #[error("receipts_root does not match re-execution")]
    ReceiptsRoot,
    /// Re-execution gave another state.
    #[error("state_root does not match re-execution")]
    StateRoot,
    /// Re-execution left another `validators/next`.
    #[error("next_validators_hash does not match re-execution")]
    NextValidatorsHash,
    /// The header's protocol version is not the one the chain's state sets for its height.
    #[error("block carries protocol version {got} but the chain is at version {expected}")]
    ProtocolVersion {
        /// [`system::protocol_version_at`] the block's height.
        expected: u32,
        /// The header's.
        got: u32,
    },
    /// From protocol version 2 the header's proposer must hold power in the signing set.
    #[error("block's proposer {0} is not a validator of the set that signs it")]
    ProposerNotValidator(kessai_primitives::PublicKey),
}

/// Why a block could not be applied or checked.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The block breaks a rule of the chain.
    #[error(transparent)]
    Invalid(#[from] InvalidBlock),
    /// The state has no `validators/next` (it was not made by genesis).
    #[error("no validator set in state")]
    NoValidatorSet,
    /// The block's height follows a protocol version this build does not know: its outcome is
    /// unknown here, which says nothing about the block (the node stops: an operator must upgrade).
    #[error(transparent)]
    UnsupportedProtocol(#[from] kessai_primitives::protocol::UnsupportedVersion),
    /// The state could not be read or the runtime could not run: the block's outcome is unknown,
    /// which says nothing about the block.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl From<StateError> for TransitionError {
    fn from(error: StateError) -> Self {
        TransitionError::Runtime(RuntimeError::State(error))
    }
}

/// Applies a block to `state` (the state its parent left): executes its transactions (with their
/// governance payloads and the validator rotation), records its evidence, and works out the
/// validator sets its header names. Checks nothing about the input: see [`check_block`].
///
/// `already_verified` is [`Runtime::execute_block_with`]'s: transactions (by id) whose signature
/// the caller checked already; `&|_| false` checks every one.
pub fn apply_block(
    runtime: &Runtime,
    state: &dyn StateView,
    input: &BlockInput<'_>,
    already_verified: &(dyn Fn(&Hash) -> bool + Sync),
) -> Result<Transition, TransitionError> {
    let validators = signing_set(state)?;
    let protocol_version = supported_version_at(state, input.height)?;
    let context = BlockContext {
        chain_id: input.chain_id.to_string(),
        height: input.height,
        time_ms: input.time_ms,
        block_gas_limit: input.block_gas_limit,
    };
    let executed = runtime.execute_block_with(state, &context, input.txs, already_verified)?;
    let mut writes = executed.writes;
    record_evidence(&mut writes, input.evidence);
    record_upgrade(state, &mut writes, input.height)?;
    let next_validators = match writes.get(&system::next_validators_key()) {
        Some(Some(bytes)) => borsh::from_slice(bytes).map_err(|e| {
            StateError(format!("the block wrote an unreadable validators/next: {e}"))
        })?,
        _ => validators.clone(),
    };
    Ok(Transition {
        receipts_root: Block::receipts_root(&executed.receipts),
        receipts: executed.receipts,
        writes,
        gas_used: executed.gas_used,
        validators,
        next_validators,
        protocol_version,
    })
}

/// The header of the block `input` describes, once the store has computed `state_root`, the root
/// of the state after [`Transition::writes`] (see the module documentation: the root is the
/// store's, everything else is the transition's).
pub fn header_for(input: &BlockInput<'_>, transition: &Transition, state_root: Hash) -> Header {
    Header {
        protocol_version: transition.protocol_version,
        chain_id: input.chain_id.to_string(),
        height: input.height,
        time_ms: input.time_ms,
        parent: input.parent,
        proposer: input.proposer,
        tx_count: input.txs.len() as u64,
        txs_root: Block::txs_root(input.txs),
        receipts_root: transition.receipts_root,
        state_root,
        validators_hash: transition.validators.hash(),
        next_validators_hash: transition.next_validators.hash(),
        last_commit_hash: Block::last_commit_hash(input.last_commit),
        evidence_hash: Block::evidence_hash(input.evidence),
    }
}

/// Checks a proposed `block` on top of `parent` and `state` (the state `parent` left) and applies
/// it: the header's chain, height, parent and time (after the parent's), the body against the
/// header's roots, the number of transactions, the evidence (valid, not on chain yet), the signing
/// set; then [`apply_block`] and the receipts root. What is left is the state root: the caller
/// computes it from the returned writes and calls [`check_state_root`].
///
/// Nothing here reads a clock: whether a block is valid is the same for every validator at any
/// time. How far a fresh proposal's time may be ahead of a validator's clock is [`check_timely`],
/// a rule for prevoting, not for validity (a committed block is never refused for its time).
pub fn check_block(
    runtime: &Runtime,
    state: &dyn StateView,
    rules: &BlockRules,
    parent: &Parent,
    block: &Block,
    already_verified: &(dyn Fn(&Hash) -> bool + Sync),
) -> Result<Transition, TransitionError> {
    check_header_and_body(state, rules, parent, block)?;
    let transition = apply_block(
        runtime,
        state,
        &BlockInput::of(block, rules.block_gas_limit),
        already_verified,
    )?;
    if transition.receipts_root != block.header.receipts_root {
        return Err(InvalidBlock::ReceiptsRoot.into());
    }
    Ok(transition)
}

/// Whether a freshly proposed block is timely for a validator whose clock allows block times up to
/// `latest_time_ms` (its clock plus [`kessai_primitives::time::MAX_CLOCK_DRIFT_MS`]). A validator
/// prevotes for a fresh proposal only if it is timely; validity ([`check_block`]) does not depend
/// on it, so a block that more than two thirds committed is accepted whatever its time.
pub fn check_timely(header: &Header, latest_time_ms: u64) -> Result<(), InvalidBlock> {
    if header.time_ms > latest_time_ms {
        return Err(InvalidBlock::TimeInFuture(header.time_ms));
    }
    Ok(())
}

/// The last check of a proposed block, after [`check_block`]: `state_root` (the store's root of the
/// state after `transition.writes`) and the next validator set are what the header claims.
pub fn check_state_root(
    header: &Header,
    transition: &Transition,
    state_root: Hash,
) -> Result<(), InvalidBlock> {
    if state_root != header.state_root {
        return Err(InvalidBlock::StateRoot);
    }
    if transition.next_validators.hash() != header.next_validators_hash {
        return Err(InvalidBlock::NextValidatorsHash);
    }
    Ok(())
}

fn check_header_and_body(
    state: &dyn StateView,
    rules: &BlockRules,
    parent: &Parent,
    block: &Block,
) -> Result<(), TransitionError> {
    let header = &block.header;
    let invalid = |reason: InvalidBlock| Err(TransitionError::Invalid(reason));
    if header.chain_id != rules.chain_id {
        return invalid(InvalidBlock::Chain(header.chain_id.clone()));
    }
    let expected = parent.height + 1;
    if header.height != expected {
        return invalid(InvalidBlock::Height { expected, got: header.height });
    }
    if header.parent != parent.id {
        return invalid(InvalidBlock::Parent);
    }
    if header.time_ms <= parent.time_ms {
        return invalid(InvalidBlock::TimeNotAfterParent {
            time_ms: header.time_ms,
            parent_time_ms: parent.time_ms,
        });
    }
    block.check_shape().map_err(InvalidBlock::from)?;
    if block.txs.len() > rules.max_block_txs as usize {
        return invalid(InvalidBlock::TooManyTxs {
            count: block.txs.len(),
            limit: rules.max_block_txs,
        });
    }
    for evidence in &block.evidence {
        evidence.verify().map_err(InvalidBlock::from)?;
        if is_evidence_committed(state, evidence)? {
            return invalid(InvalidBlock::EvidenceCommitted(Hash::of(evidence)));
        }
    }
    let signers = signing_set(state)?;
    if header.validators_hash != signers.hash() {
        return invalid(InvalidBlock::ValidatorsHash);
    }
    let version = supported_version_at(state, header.height)?;
    if header.protocol_version != version {
        return invalid(InvalidBlock::ProtocolVersion {
            expected: version,
            got: header.protocol_version,
        });
    }
    if protocol::proposer_must_be_validator(version) && signers.power_of(&header.proposer) == 0 {
        return invalid(InvalidBlock::ProposerNotValidator(header.proposer));
    }
    Ok(())
}

/// The protocol version of the block at `height` built on `state`, if this build knows its rules.
pub fn supported_version_at(state: &dyn StateView, height: u64) -> Result<u32, TransitionError> {
    let version = system::protocol_version_at(state, height)?;
    if !protocol::is_supported(version) {
        return Err(TransitionError::UnsupportedProtocol(protocol::UnsupportedVersion {
            height,
            version,
            supported: protocol::SUPPORTED_PROTOCOL_VERSIONS,
        }));
    }
    Ok(version)
}

/// The block at an upgrade's height records the new version and clears the schedule (unless one
/// of its transactions scheduled the next upgrade).
fn record_upgrade(
    state: &dyn StateView,
    writes: &mut WriteSet,
    height: u64,
) -> Result<(), TransitionError> {
    let Some(upgrade) = system::scheduled_upgrade(state)? else {
        return Ok(());
    };
    if height < upgrade.height {
        return Ok(());
    }
    writes.insert(system::protocol_version_key(), Some(system::encode(&upgrade.protocol_version)));
    writes.entry(system::protocol_upgrade_key()).or_insert(None);
    Ok(())
}

/// The set that signs the block built on `state`: its `validators/next`.
pub fn signing_set(state: &dyn StateView) -> Result<ValidatorSet, TransitionError> {
    system::next_validators(state)?.ok_or(TransitionError::NoValidatorSet)
}

/// The evidence of `pool` a proposer may put in the block built on `state`: each piece once, and
/// none already on chain. (The pool's evidence was verified when it was pooled.)
pub fn fresh_evidence(
    state: &dyn StateView,
    pool: Vec<Evidence>,
) -> Result<Vec<Evidence>, StateError> {
    let mut fresh = Vec::new();
    for evidence in pool {
        if !fresh.contains(&evidence) && !is_evidence_committed(state, &evidence)? {
            fresh.push(evidence);
        }
    }
    Ok(fresh)
}

/// Whether `evidence` is recorded in `state`.
pub fn is_evidence_committed(
    state: &dyn StateView,
    evidence: &Evidence,
) -> Result<bool, StateError> {
    Ok(state.get(&system::evidence_key(&Hash::of(evidence)))?.is_some())
}

/// Evidence in a block is recorded in the state (`evidence/ ‖ hash` → evidence).
fn record_evidence(writes: &mut WriteSet, evidence: &[Evidence]) {
    for evidence in evidence {
        writes.insert(system::evidence_key(&Hash::of(evidence)), Some(system::encode(evidence)));
    }
}
