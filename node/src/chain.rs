//! The chain as the node sees it: the store, the runtime and the spec, and the three things done
//! with blocks — build one (proposer), check one (every validator), commit one.
//!
//! Execution is immediate: a block's header carries the state root after its own transactions, so
//! building and checking both execute the transactions; the result is kept as a [`ExecutedProposal`]
//! and committed as is once consensus decides.
//!
//! What a block does and what its header must say is [`kessai_runtime::transition`]'s, the same
//! code for the proposer, every validator and anything that re-executes the chain without a node.
//! This module adds what is the node's: which state is the tip, the store's state root
//! (`Store::prepare_state`, which the transition leaves to the store), the wall clock, and writing
//! decided blocks.

use crate::metrics::{Stage, StageCpu};
use crate::storage::{StorageHealth, RETRY_INTERVAL};
use anyhow::{anyhow, bail, Context, Result};
use kessai_abi::Abi;
use kessai_chainspec::ChainSpec;
use kessai_primitives::protocol::{self, ScheduledUpgrade, UnsupportedVersion};
use kessai_primitives::time::{now_ms, MAX_CLOCK_DRIFT_MS};
use kessai_primitives::{
    Address, Block, BlockId, Commit, Evidence, Hash, Header, PublicKey, Receipt, SignedTransaction,
    ValidatorSet,
};
use kessai_runtime::transition::{self, BlockInput, BlockRules, Parent};
use kessai_runtime::{system, GenesisContract, GenesisSpec, Runtime, RuntimeConfig, StateView};
use kessai_store::{BlockWrite, PreparedState, PruningConfig, Store, StoreConfig, StoreError};
use std::sync::Arc;

/// The latest committed state of a store, as the runtime reads it.
pub struct LatestState<'a>(pub &'a Store);

impl StateView for LatestState<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, kessai_runtime::StateError> {
        self.0.get(key).map_err(|e| kessai_runtime::StateError(e.to_string()))
    }

    fn next_from(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, kessai_runtime::StateError> {
        self.0.next_from(prefix, from).map_err(|e| kessai_runtime::StateError(e.to_string()))
    }
}

/// The state at the store's tip: the latest committed state plus the block being written, if any
/// (see [`Store::begin_commit`]). Blocks are built and checked, and transactions
/// admitted, against this state.
pub struct TipState<'a>(pub &'a Store);

impl StateView for TipState<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, kessai_runtime::StateError> {
        self.0.tip_get(key).map_err(|e| kessai_runtime::StateError(e.to_string()))
    }

    fn next_from(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, kessai_runtime::StateError> {
        self.0.tip_next_from(prefix, from).map_err(|e| kessai_runtime::StateError(e.to_string()))
    }
}

/// Which transactions (by id) had their signature checked already, so executing a block need not
/// check it again: the mempool's, for a proposer and for validators that were gossiped the same
/// transactions. `&|_| false` checks everything.
pub type AlreadyVerified<'a> = &'a (dyn Fn(&Hash) -> bool + Sync);

/// A block with the outcome of executing it, ready to commit.
pub struct ExecutedProposal {
    /// The block, whose header commits to the results below.
    pub block: Block,
    /// One receipt per transaction of the block, in order.
    pub receipts: Vec<Receipt>,
    /// The new state root and tree update, computed but not yet written.
    pub prepared: PreparedState,
}

/// The node's chain: its store, the runtime that executes blocks and the chain spec they follow.
/// Builds, checks and commits blocks; the consensus task is its only writer.
pub struct Chain {
    /// Blocks, commits, receipts and state on disk.
    pub store: Store,
    /// Executes transactions and blocks.
    pub runtime: Runtime,
    /// The chain spec the store was created from (checked at open).
    pub spec: ChainSpec,
    /// [`ChainSpec::hash`] of `spec`, computed once: it hashes every genesis contract's code,
    /// and `kessai_status` reports it on each call.
    spec_hash: Hash,
    /// Whether the node can write to its disk: set by a failed write (of a block here, of the
    /// WAL or journal by the consensus task), read by the mempool, RPC and metrics.
    pub storage: Arc<StorageHealth>,
    /// How long a failed block write is retried before it is an error
    /// ([`crate::storage::retry_window`]).
    retry_window: std::time::Duration,
    /// The thread writing the last decided block, if it may still run.
    writer: parking_lot::Mutex<Option<std::thread::JoinHandle<Result<()>>>>,
    /// CPU time spent in the stages the node counts for `kessai_cpu_seconds_total`.
    pub cpu: Arc<StageCpu>,
    /// Fault injection for crash tests: `KESSAI_FAULT_WRITE_DELAY_MS` holds every background block
    /// write back this long, so that a test can kill the node between deciding and writing a block.
    fault_write_delay: Option<std::time::Duration>,
}

/// Marker in the store's genesis metadata: the hash of the chain spec it was created from.
#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
struct GenesisMeta {
    chain_spec_hash: Hash,
}

impl Chain {
    /// Opens the store under `data_dir`, writing genesis if it is new, and checks that an existing
    /// store belongs to this chain spec.
    pub fn open(spec: ChainSpec, data_dir: &std::path::Path) -> Result<Arc<Chain>> {
        Chain::open_pruned(spec, data_dir, PruningConfig::default())
    }

    /// [`Chain::open`] keeping only what `pruning` says (the store records what each block makes
    /// stale; [`crate::service::pruning`] deletes it).
    pub fn open_pruned(
        spec: ChainSpec,
        data_dir: &std::path::Path,
        pruning: PruningConfig,
    ) -> Result<Arc<Chain>> {
        Chain::open_configured(spec, data_dir, StoreConfig { pruning, ..StoreConfig::default() })
    }

    /// [`Chain::open`] with the store's settings of the node's config (`[store]`: sync, cache,
    /// pruning).
    pub fn open_configured(
        spec: ChainSpec,
        data_dir: &std::path::Path,
        store: StoreConfig,
    ) -> Result<Arc<Chain>> {
        let fault_write_delay = std::env::var("KESSAI_FAULT_WRITE_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(std::time::Duration::from_millis);
        store.pruning.check().map_err(|e| anyhow!("pruning: {e}"))?;
        Chain::open_with(spec, data_dir, fault_write_delay, store)
    }

    /// [`Chain::open`] with every background block write held back by `fault_write_delay`, given
    /// here rather than by `KESSAI_FAULT_WRITE_DELAY_MS`: in-process tests (the consensus shell's)
    /// hold one chain's writes back without touching the others of the process.
    pub fn open_with_write_delay(
        spec: ChainSpec,
        data_dir: &std::path::Path,
        fault_write_delay: Option<std::time::Duration>,
    ) -> Result<Arc<Chain>> {
        Chain::open_with(spec, data_dir, fault_write_delay, StoreConfig::default())
    }

    fn open_with(
        spec: ChainSpec,
        data_dir: &std::path::Path,
        fault_write_delay: Option<std::time::Duration>,
        config: StoreConfig,
    ) -> Result<Arc<Chain>> {
        let store = Store::open_with(data_dir, &config)
            .with_context(|| format!("cannot open the database in {}", data_dir.display()))?;
        let runtime = Runtime::new(RuntimeConfig::default())?;
        let chain = Chain {
            store,
            runtime,
            spec_hash: spec.hash(),
            spec,
            storage: Default::default(),
            retry_window: crate::storage::retry_window(),
            writer: Default::default(),
            cpu: Default::default(),
            fault_write_delay,
        };
        if let Some((height, _)) = chain.store.unfinished_restore()? {
            bail!(
                "{} holds part of the state of height {height} from an interrupted state sync: \
                 start the node with --state-sync again (it starts over), or remove that directory",
                data_dir.display()
            );
        }
        match chain.store.latest_height() {
            None => chain.write_genesis()?,
            Some(_) => chain.check_genesis()?,
        }
        Ok(Arc::new(chain))
    }

    fn write_genesis(&self) -> Result<()> {
        let spec = &self.spec;
        let mut contracts = Vec::new();
        for c in &spec.contracts {
            let code = spec.contract_code(c)?;
            let abi =
                Abi::from_wasm(&code).with_context(|| format!("genesis contract {}", c.name))?;
            let init_args = match abi.method("init") {
                Some(_) => abi
                    .encode_args("init", &c.init)
                    .with_context(|| format!("genesis contract {}: init", c.name))?,
                None if c.init.is_null() => vec![],
                None => bail!(
                    "genesis contract {} has no init method but the spec gives init arguments",
                    c.name
                ),
            };
            contracts.push(GenesisContract {
                name: c.name.clone(),
                code,
                init_args,
                upgrade_policy: c.upgrade_policy.clone(),
            });
        }
        let genesis = GenesisSpec {
            chain_id: spec.chain_id.clone(),
            time_ms: spec.genesis_time_ms,
            members: spec.members.iter().map(|m| (m.public_key, m.roles.clone())).collect(),
            validators: spec.validator_set(),
            deployment_policy: spec.contract_policy.deployment.clone(),
            contracts,
        };
        let (mut writes, _names) = kessai_runtime::genesis_writes(&self.runtime, &genesis)?;
        // Validators' node keys, where the spec separates them from the consensus keys: the
        // runtime refuses to revoke a validator's node by them (`system::VALIDATOR_NODE`).
        for validator in &spec.validators {
            if let Some(node_key) = validator.node_key {
                let key = kessai_state::system::validator_node_key(&validator.public_key);
                writes.insert(key, Some(borsh::to_vec(&node_key)?));
            }
        }
        let prepared = self.store.prepare_state(0, &writes)?;
        self.store.commit_genesis(prepared, &genesis_record(spec)?)?;
        tracing::info!(chain_id = %spec.chain_id, state_root = %self.store.state_root(0)?.unwrap_or_default(), "genesis written");
        Ok(())
    }

    /// The chain spec's identity, `genesis_hash` ([`ChainSpec::hash`]).
    pub fn spec_hash(&self) -> Hash {
        self.spec_hash
    }

    fn check_genesis(&self) -> Result<()> {
        let recorded = recorded_spec_hash(&self.store)?;
        let hash = self.spec_hash;
        if recorded != hash {
            let cause = if recorded == self.spec.text_hash_before_0022() {
                "it is this chain spec, hashed by its JSON text as kessai did before decision record \
                 0022 (now by its content, each contract's code by the hash of its wasm): this \
                 database cannot be used by this kessai, start from a new data directory"
            } else {
                "the chain spec, or the code of a contract it names (a .wasm file, or a builtin: \
                 contract of this binary), is not the one the database was created from"
            };
            bail!(
                "the database was created from another chain spec (hash {recorded}, this one is \
                 {hash}): {cause}; refusing to start"
            );
        }
        Ok(())
    }

    /// The chain's id, from its spec.
    pub fn chain_id(&self) -> &str {
        &self.spec.chain_id
    }

    /// Height of the last committed block (0 = genesis only): on disk, what RPC reports.
    pub fn height(&self) -> u64 {
        self.store.latest_height().unwrap_or(0)
    }

    /// Header of the last committed block on disk; none at genesis.
    pub fn latest_header(&self) -> Option<Header> {
        let h = self.height();
        if h == 0 {
            return None;
        }
        self.store.header(h).ok().flatten()
    }

    /// The state as of the last block on disk: what RPC reads are answered from.
    pub fn state(&self) -> LatestState<'_> {
        LatestState(&self.store)
    }

    /// Height of the tip: the last decided block, which may still be being written
    /// ([`Chain::commit_in_background`]). Consensus and the mempool work on the tip.
    pub fn tip_height(&self) -> u64 {
        self.store.tip_height().unwrap_or(0)
    }

    /// Header of the tip (the last decided block, possibly still being written); none at genesis.
    pub fn tip_header(&self) -> Option<Header> {
        self.store.tip_header().ok().flatten()
    }

    /// The state at the tip, including the block still being written: what blocks are built and
    /// checked, and transactions admitted, against.
    pub fn tip_state(&self) -> TipState<'_> {
        TipState(&self.store)
    }

    /// The validator set that signs the block at `height` (the "next" set recorded by the block
    /// below): the height after the tip, or after the last block on disk.
    pub fn validators_for(&self, height: u64) -> Result<ValidatorSet> {
        let (tip, latest) = (self.tip_height(), self.height());
        let set = if height == tip + 1 {
            system::next_validators(&self.tip_state())?
        } else if height == latest + 1 {
            system::next_validators(&self.state())?
        } else {
            bail!("validator set requested for height {height}, the node is at {tip}");
        };
        set.ok_or_else(|| anyhow!("no validator set in state"))
    }

    /// The protocol version the block at `height` (the tip's next, or any height before a scheduled
    /// upgrade's) follows, as the latest state on disk says.
    pub fn protocol_version_at(&self, height: u64) -> Result<u32> {
        Ok(system::protocol_version_at(&self.tip_state(), height)?)
    }

    /// The upgrade scheduled and not reached yet.
    pub fn scheduled_upgrade(&self) -> Result<Option<ScheduledUpgrade>> {
        Ok(system::scheduled_upgrade(&self.tip_state())?)
    }

    /// Refuses to go on to `height` (the tip's next) when it follows a protocol version this binary
    /// does not support, or when the tip itself was written under one (a newer binary ran this
    /// data directory): the error is [`UnsupportedVersion`] ("upgrade to a binary supporting
    /// protocol V"), which `kessai` exits with code 3 on. Where the shell decides to sign or commit
    /// the next height: before starting it, and before committing a synced block.
    pub fn check_protocol_for(&self, height: u64) -> Result<()> {
        if let Some(tip) = self.tip_header() {
            protocol::check_supported(&tip)?;
        }
        let version = self.protocol_version_at(height)?;
        if !protocol::is_supported(version) {
            return Err(UnsupportedVersion {
                height,
                version,
                supported: protocol::SUPPORTED_PROTOCOL_VERSIONS,
            }
            .into());
        }
        Ok(())
    }

    /// What the chain spec requires of every block.
    fn block_rules(&self) -> BlockRules {
        BlockRules {
            chain_id: self.spec.chain_id.clone(),
            block_gas_limit: self.spec.consensus.block_gas_limit,
            max_block_txs: self.spec.consensus.max_block_txs,
        }
    }

    /// The tip as the parent of the next block (genesis: no header, the spec's genesis time).
    fn tip_as_parent(&self) -> Parent {
        let tip = self.tip_header();
        Parent {
            height: self.tip_height(),
            id: tip.as_ref().map_or(Hash::ZERO, |h| h.id()),
            time_ms: tip.map_or(self.spec.genesis_time_ms, |h| h.time_ms),
        }
    }

    /// A block time strictly after the parent's, and otherwise the wall clock.
    pub fn next_block_time(&self) -> u64 {
        let parent_time = self.tip_header().map_or(self.spec.genesis_time_ms, |h| h.time_ms);
        now_ms().max(parent_time + 1)
    }

    /// Proposer side: applies a block of `txs` to the tip's state ([`transition::apply_block`]),
    /// has the store compute its state root, and assembles the block.
    pub fn build_block(
        &self,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
        last_commit: Option<Commit>,
        evidence: Vec<Evidence>,
        already_verified: AlreadyVerified<'_>,
    ) -> Result<ExecutedProposal> {
        let parent = self.tip_as_parent();
        let tip = self.tip_state();
        let evidence = transition::fresh_evidence(&tip, evidence)?;
        let input = BlockInput {
            chain_id: &self.spec.chain_id,
            height: parent.height + 1,
            time_ms: self.next_block_time(),
            parent: parent.id,
            proposer,
            txs: &txs,
            last_commit: &last_commit,
            evidence: &evidence,
            block_gas_limit: self.spec.consensus.block_gas_limit,
        };
        let started = std::time::Instant::now();
        let applied = transition::apply_block(&self.runtime, &tip, &input, already_verified)?;
        let execute_ms = started.elapsed().as_millis() as u64;
        let started = std::time::Instant::now();
        let prepared = self
            .cpu
            .measure(Stage::Tree, || self.store.prepare_state(input.height, &applied.writes))?;
        tracing::debug!(
            height = input.height,
            txs = txs.len(),
            writes = applied.writes.len(),
            execute_ms,
            prepare_ms = started.elapsed().as_millis() as u64,
            "executed block"
        );
        let header = transition::header_for(&input, &applied, prepared.root);
        let block = Block { header, txs, last_commit, evidence };
        Ok(ExecutedProposal { block, receipts: applied.receipts, prepared })
    }

    /// Whether `evidence` is in the tip's state.
    pub fn is_evidence_committed(&self, evidence: &Evidence) -> Result<bool> {
        Ok(transition::is_evidence_committed(&self.tip_state(), evidence)?)
    }

    /// Checks a proposed, synced or journaled block on the tip and re-executes it
    /// ([`transition::check_block`]), then checks the state root the store computes. The block's
    /// time is not held to the clock here: see [`Chain::check_timely`].
    pub fn check_block(
        &self,
        block: Block,
        already_verified: AlreadyVerified<'_>,
    ) -> Result<ExecutedProposal> {
        let applied = transition::check_block(
            &self.runtime,
            &self.tip_state(),
            &self.block_rules(),
            &self.tip_as_parent(),
            &block,
            already_verified,
        )?;
        let prepared = self.cpu.measure(Stage::Tree, || {
            self.store.prepare_state(block.header.height, &applied.writes)
        })?;
        transition::check_state_root(&block.header, &applied, prepared.root)?;
        Ok(ExecutedProposal { block, receipts: applied.receipts, prepared })
    }

    /// Verifies a block that comes with its commit from outside consensus — a peer's sync
    /// response, a file of exported blocks (`kessai db import-blocks`) — as the block after the
    /// tip: the commit against the validator set of its height, then the block itself by
    /// re-executing it ([`Chain::check_block`]). `Ok(Err(reason))` is the block's fault; `Err` is
    /// this node's (its state unreadable).
    pub fn check_synced(
        &self,
        block: Block,
        commit: &Commit,
    ) -> Result<Result<ExecutedProposal, String>> {
        let height = block.header.height;
        let validators = self.validators_for(height)?;
        if let Err(e) = commit.verify(self.chain_id(), height, &block.id(), &validators) {
            return Ok(Err(format!("commit of block {height}: {e}")));
        }
        Ok(self.check_block(block, &|_| false).map_err(|e| format!("block {height}: {e}")))
    }

    /// Whether a freshly proposed block's time is at most [`MAX_CLOCK_DRIFT_MS`] ahead of this
    /// node's clock ([`transition::check_timely`]): the condition for prevoting for it, not for
    /// accepting it once committed (`docs/decisions/0010-block-time-is-a-prevote-rule.md`).
    pub fn check_timely(&self, header: &Header) -> Result<(), transition::InvalidBlock> {
        transition::check_timely(header, now_ms().saturating_add(MAX_CLOCK_DRIFT_MS))
    }

    /// Commits a decided block with its commit certificate, atomically, and returns once it is on
    /// disk.
    pub fn commit(&self, proposal: ExecutedProposal, commit: Commit) -> Result<()> {
        self.wait_durable()?;
        let ExecutedProposal { block, receipts, prepared } = proposal;
        let write = self.store.begin_commit(block, commit, receipts, prepared)?;
        self.cpu.measure(Stage::Write, || write_retrying(&write, &self.storage, self.retry_window))
    }

    /// Makes a decided block the tip and writes it on a thread of its own, so that the next block
    /// executes while it is written; `on_durable(height)` runs once it is on disk. A failed write
    /// is retried (see [`write_retrying`]); if it never succeeds, `on_failed(height)` runs and
    /// [`Chain::wait_durable`] returns the error. Nothing that builds on the block may be signed
    /// before [`Chain::wait_durable`] returns.
    pub fn commit_in_background(
        &self,
        proposal: ExecutedProposal,
        commit: Commit,
        on_durable: impl FnOnce(u64) + Send + 'static,
        on_failed: impl FnOnce(u64) + Send + 'static,
    ) -> Result<()> {
        self.wait_durable()?;
        let ExecutedProposal { block, receipts, prepared } = proposal;
        let write = self.store.begin_commit(block, commit, receipts, prepared)?;
        let delay = self.fault_write_delay;
        let (storage, retry_window, cpu) =
            (self.storage.clone(), self.retry_window, self.cpu.clone());
        let writer = std::thread::Builder::new()
            .name("block-writer".into())
            .spawn(move || {
                let height = write.height();
                if let Some(delay) = delay {
                    std::thread::sleep(delay);
                }
                match cpu.measure(Stage::Write, || write_retrying(&write, &storage, retry_window)) {
                    Ok(()) => {
                        drop(write);
                        on_durable(height);
                        Ok(())
                    }
                    Err(e) => {
                        on_failed(height);
                        Err(e)
                    }
                }
            })
            .context("cannot start the block writer thread")?;
        *self.writer.lock() = Some(writer);
        Ok(())
    }

    /// Waits until the block being written in the background (if any) is on disk. An error means
    /// the write failed: the decided block is not on disk, and the node must stop.
    pub fn wait_durable(&self) -> Result<()> {
        let Some(writer) = self.writer.lock().take() else { return Ok(()) };
        writer.join().map_err(|_| anyhow!("the block writer thread panicked"))?
    }

    /// The address of a contract given by name (from the chain spec) or hex address.
    pub fn resolve_contract(&self, name_or_address: &str) -> Result<Address> {
        if let Ok(address) = name_or_address.parse::<Address>() {
            return Ok(address);
        }
        system::contract_by_name(&self.state(), name_or_address)?
            .ok_or_else(|| anyhow!("no contract named {name_or_address:?} (give a name from the chain spec or a 64-hex address)"))
    }

    /// A contract's interface, read from its stored code.
    pub fn contract_abi(&self, contract: &Address) -> Result<Abi> {
        let info = system::contract_info(&self.state(), contract)?
            .ok_or_else(|| anyhow!("no contract at {contract}"))?;
        let code = system::code(&self.state(), &info.code_hash)?
            .ok_or_else(|| anyhow!("code {} of contract {contract} is missing", info.code_hash))?;
        Ok(Abi::from_wasm(&code)?)
    }
}

/// The genesis record a store created from `spec` holds (genesis, or a state sync).
pub fn genesis_record(spec: &ChainSpec) -> Result<Vec<u8>> {
    Ok(borsh::to_vec(&GenesisMeta { chain_spec_hash: spec.hash() })?)
}

/// The hash of the chain spec that `store`'s genesis was written from (its genesis record).
pub fn recorded_spec_hash(store: &Store) -> Result<Hash> {
    let meta = store.genesis_meta()?.context("the database has no genesis record")?;
    let meta: GenesisMeta = borsh::from_slice(&meta).context("unreadable genesis record")?;
    Ok(meta.chain_spec_hash)
}

/// A proposal is named by the id of the block it proposes.
pub type ProposalId = BlockId;

/// Writes a decided block, retrying a failed write every [`RETRY_INTERVAL`] for `window`: a full
/// disk that gets space back (RocksDB resumes by itself once it sees free space) costs a pause, not
/// a restart. While it fails, `storage` holds the fault, so the node admits no transactions and
/// signs nothing above the block (`before_signing` waits for this write). A store error that is
/// not the database's (a block that does not follow) is not retried.
fn write_retrying(
    write: &BlockWrite,
    storage: &StorageHealth,
    window: std::time::Duration,
) -> Result<()> {
    let what = format!("block {}", write.height());
    let started = std::time::Instant::now();
    loop {
        match write.write() {
            Ok(()) => {
                storage.succeeded(&what);
                return Ok(());
            }
            Err(e @ StoreError::Db(_)) => {
                storage.failed(&what, &e);
                if started.elapsed() >= window {
                    let secs = started.elapsed().as_secs();
                    // The text alone: `StoreError`'s display already includes its source.
                    bail!("writing {what} failed for {secs} s: {e}");
                }
                std::thread::sleep(RETRY_INTERVAL);
            }
            Err(e) => return Err(e).with_context(|| format!("writing {what}")),
        }
    }
}
