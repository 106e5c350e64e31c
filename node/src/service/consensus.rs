//! The async shell around the pure consensus core (`kessai-consensus`).
//!
//! The core decides; this task does everything with side effects: it builds blocks when the core
//! asks for a value, checks (re-executes) proposed blocks, writes the WAL before anything signed
//! leaves the process, sends messages to the network, runs timers, and commits decided blocks.
//!
//! A one-validator chain (`kessai dev`) runs the same code: the core proposes, votes and decides on
//! its own votes, and the network is simply empty.

use crate::chain::{Chain, ExecutedProposal};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::service::clock::ClockWatch;
use crate::service::events::{Event, SyncVerdict, SyncedBlock};
use crate::service::network::{NetworkHandle, NetworkMessage};
use crate::sign_state::SignStep;
use crate::signer::{DoubleSignCheck, ShellSigner, Signer, SignerStatus};
use crate::wal::{BlockJournal, Wal};
use anyhow::{Context, Result};
use kessai_consensus::{
    Action, Config, Consensus, Input, Message, SignedKind, TimeoutConfig, WalEntry,
};
use kessai_primitives::{
    Block, BlockId, Commit, Evidence, Hash, Keypair, PublicKey, SignedProposal, SignedTransaction,
    SignedVote,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Proposals (and block bodies) kept while waiting for their body or their height.
const MAX_WAITING_PROPOSALS: usize = 64;

/// Evidence kept for the next blocks; more is dropped (each piece already names its offender, and
/// one is enough to show misbehaviour).
const MAX_EVIDENCE_POOL: usize = 100;

/// Bytes of transactions a proposer puts in a block: the proposal carries the block in one gossip
/// message, so it must stay within the gossip bound with room for the header and commit.
const PROPOSAL_TX_BYTES: usize =
    kessai_network::MAX_MESSAGE_BYTES_LIMIT - kessai_primitives::MAX_TX_BYTES;

/// How a block is written: on the consensus task's thread, or in the background while the next
/// block executes (decided blocks).
enum Write {
    Now,
    InBackground,
}

/// Height and round as observed by RPC and metrics.
#[derive(Clone, Debug, Default)]
pub struct ConsensusStatus {
    /// The height the core is deciding.
    pub height: u64,
    /// The round within that height, from 0.
    pub round: u32,
    /// The core's step, as its `Debug` name (`Propose`, `Prevote`, `Precommit` or `Commit`).
    pub step: String,
    /// This node's clock minus the time of the last block it decided, in milliseconds, measured
    /// when it decided it; none before the first.
    pub clock_skew_ms: Option<i64>,
}

/// The consensus shell: owns the core, the WAL and the block journal, and is the only writer of the
/// chain. Created with [`ConsensusTask::new`], then run as a task.
pub struct ConsensusTask {
    chain: Arc<Chain>,
    mempool: Arc<Mempool>,
    network: NetworkHandle,
    core: Consensus,
    wal: Wal,
    /// The validator key the core signs with, if any.
    validator_key: Option<PublicKey>,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
    /// Blocks we built or received and executed, by id, for the current height.
    executed: HashMap<BlockId, ExecutedProposal>,
    /// Block bodies received before their proposal could be checked.
    bodies: HashMap<BlockId, Block>,
    /// Proposals waiting for their block body.
    waiting_proposals: Vec<SignedProposal>,
    /// Commit of the previous height, carried in the next block.
    last_commit: Option<Commit>,
    evidence_pool: Vec<Evidence>,
    status: watch::Sender<ConsensusStatus>,
    /// Notified after each committed block (RPC subscribers, the sync service).
    committed: tokio::sync::broadcast::Sender<u64>,
    /// Our own votes at the current height, for [`Event::ResendDue`].
    own_votes: Vec<SignedVote>,
    /// What the signer inside the core did (validators with a [`Signer`]): its refusals,
    /// a failed write of its signing state, whether it is reachable.
    signer_status: Option<Arc<Mutex<SignerStatus>>>,
    /// `double_sign_check_height` (0: none).
    double_sign: Option<DoubleSignCheck>,
    /// Height seen at the last [`Event::ResendDue`].
    last_resend_check: u64,
    resend_nonce: u64,
    height_started: Instant,
    /// The height whose signed messages the WAL holds. Before signing at a higher height, the
    /// blocks below must be on disk, and only then is the WAL emptied (see `before_signing`).
    wal_height: u64,
    /// Bodies of the blocks signed for at `wal_height`, and which of them are saved.
    journal: BlockJournal,
    journaled: HashSet<BlockId>,
    metrics: Arc<Metrics>,
    /// How this node's clock compares with the blocks it decides.
    clock: ClockWatch,
}

/// How the other services talk to a [`ConsensusTask`].
pub struct ConsensusHandles {
    /// Where peer messages, synced blocks and timers are sent to the task.
    pub events: mpsc::Sender<Event>,
    /// The task's height, round and step, updated as they change.
    pub status: watch::Receiver<ConsensusStatus>,
    /// Broadcasts the height of each block once it is committed (subscribe for a receiver).
    pub committed: tokio::sync::broadcast::Sender<u64>,
}

impl ConsensusTask {
    /// The task for `chain`, signing with `signer` if this node is a validator (none: it only
    /// follows). Opens the WAL at `wal_path` and the block journal beside it, and picks up the
    /// commit of the last block on disk.
    pub fn new(
        chain: Arc<Chain>,
        mempool: Arc<Mempool>,
        network: NetworkHandle,
        signer: Option<Keypair>,
        wal_path: &std::path::Path,
        metrics: Arc<Metrics>,
    ) -> Result<(ConsensusTask, ConsensusHandles)> {
        let params = &chain.spec.consensus;
        let config = Config {
            chain_id: chain.spec.chain_id.clone(),
            timeouts: TimeoutConfig {
                propose_ms: params.timeout_propose_ms,
                propose_delta_ms: params.timeout_propose_delta_ms,
                prevote_ms: params.timeout_prevote_ms,
                prevote_delta_ms: params.timeout_prevote_delta_ms,
                precommit_ms: params.timeout_precommit_ms,
                precommit_delta_ms: params.timeout_precommit_delta_ms,
            },
        };
        let core = Consensus::new(config, signer.clone());
        let wal = Wal::open(wal_path)?;
        let journal = BlockJournal::open(&wal_path.with_extension("blocks"))?;
        let (events_tx, events) = mpsc::channel(10_000);
        let (status, status_rx) = watch::channel(ConsensusStatus::default());
        let (committed, _) = tokio::sync::broadcast::channel(64);
        let last_commit = match chain.height() {
            0 => None,
            h => chain.store.commit(h)?,
        };
        let handles = ConsensusHandles {
            events: events_tx.clone(),
            status: status_rx,
            committed: committed.clone(),
        };
        let task = ConsensusTask {
            chain: chain.clone(),
            mempool,
            network,
            core,
            wal,
            validator_key: signer.as_ref().map(Keypair::public),
            events_tx,
            events,
            executed: HashMap::new(),
            bodies: HashMap::new(),
            waiting_proposals: Vec::new(),
            last_commit,
            evidence_pool: Vec::new(),
            status,
            committed,
            own_votes: Vec::new(),
            signer_status: None,
            double_sign: None,
            last_resend_check: 0,
            resend_nonce: 0,
            height_started: Instant::now(),
            wal_height: chain.height() + 1,
            journal,
            journaled: HashSet::new(),
            metrics,
            clock: ClockWatch::default(),
        };
        Ok((task, handles))
    }

    /// Makes the core sign through `signer`, whose signing state checks and records every
    /// signature before the core may persist or send it (a refused one the core neither sends
    /// nor counts: a core that counted a refused vote could decide alone and store a commit
    /// holding it), and tells the core where the key last signed. With
    /// `double_sign_check_height` N > 0 the latest N commits of the store are checked now, and
    /// every commit stored later ([`DoubleSignCheck`]).
    pub fn with_signer(
        mut self,
        signer: Box<dyn Signer>,
        double_sign_check_height: u64,
    ) -> Result<ConsensusTask> {
        let last_signed = signer.last_signed();
        let key = signer.public_key();
        let status = Arc::new(Mutex::new(SignerStatus::default()));
        self.validator_key = Some(key);
        self.core.set_signer(Some(Box::new(ShellSigner::new(signer, status.clone()))));
        self.signer_status = Some(status.clone());
        if double_sign_check_height > 0 {
            let check = DoubleSignCheck {
                window: double_sign_check_height,
                key,
                start_last: last_signed,
                status,
            };
            check.check_store(&self.chain)?;
            self.double_sign = Some(check);
        }
        if let Some(last) = last_signed {
            self.metrics.last_signed_height.set(last.height as i64);
            let kind = match last.step {
                SignStep::Propose => SignedKind::Proposal,
                SignStep::Prevote => SignedKind::Prevote,
                SignStep::Precommit => SignedKind::Precommit,
            };
            self.core.never_sign_at_or_before(last.height, last.round, kind);
            if last.height > self.chain.height() {
                tracing::warn!(
                    last_signed_height = last.height,
                    last_signed_round = last.round,
                    data_height = self.chain.height(),
                    "this key signed up to height {} round {} but data/ holds only height {} (wiped or restored?): it signs nothing at or before that position, and follows the chain until it is past it",
                    last.height,
                    last.round,
                    self.chain.height()
                );
            }
        }
        Ok(self)
    }

    /// Runs until the event channel closes.
    pub async fn run(mut self) -> Result<()> {
        self.start_next_height(true)?;
        self.schedule_resend_checks();
        // Events are CPU work (executing, hashing, writing blocks) with nothing to await: on a
        // multi-threaded runtime, run them where they do not hold up its other tasks (RPC,
        // network). A current-thread runtime (the shell's tests, with paused time) runs them inline.
        let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread;
        while let Some(event) = self.events.recv().await {
            if multi_thread {
                tokio::task::block_in_place(|| self.handle(event))?;
            } else {
                self.handle(event)?;
            }
        }
        Ok(())
    }

    fn start_next_height(&mut self, restoring: bool) -> Result<()> {
        let height = self.chain.tip_height() + 1;
        // A scheduled upgrade to a version this binary does not know: stop before signing anything
        // of its first height, so the block is never committed here (exit code 3).
        if let Err(e) = self.chain.check_protocol_for(height) {
            tracing::error!(height, error = %e, "stopping before an unsupported protocol version");
            return Err(e);
        }
        let validators = self.chain.validators_for(height)?;
        let wal_entries = if restoring { self.wal_entries_for(height)? } else { Vec::new() };
        if !wal_entries.is_empty() {
            tracing::info!(height, entries = wal_entries.len(), "restoring consensus from the WAL");
        }
        self.executed.clear();
        self.own_votes.clear();
        self.height_started = Instant::now();
        self.bodies.retain(|_, block| block.header.height == height);
        self.waiting_proposals.retain(|p| p.proposal.height == height);
        if !wal_entries.is_empty() {
            self.restore_journaled_blocks(height)?;
        }
        let actions = self.core.start_height(height, validators, &wal_entries);
        self.publish_status();
        self.apply(actions)?;
        self.check_waiting_proposals()
    }

    /// After a restart mid-height: the blocks this validator signed for, re-executed, so that a
    /// decision the WAL already holds (our own precommit may complete the quorum) can be committed.
    fn restore_journaled_blocks(&mut self, height: u64) -> Result<()> {
        for block in self.journal.load(height)? {
            let id = block.id();
            match self.chain.check_block(block, &|_| false) {
                Ok(executed) => {
                    self.executed.insert(id, executed);
                    self.journaled.insert(id);
                }
                Err(e) => {
                    tracing::warn!(height, block = %id, error = %e, "journaled block is invalid")
                }
            }
        }
        Ok(())
    }

    fn wal_entries_for(&self, height: u64) -> Result<Vec<WalEntry>> {
        let mut entries = Vec::new();
        for record in self.wal.records()? {
            let entry: WalEntry =
                borsh::from_slice(&record).context("unreadable consensus WAL record")?;
            if entry.height() == height {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    fn handle(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Timeout(timeout) => {
                let actions = self.core.handle(Input::Timeout(timeout));
                self.apply(actions)?;
            }
            Event::BuildDue { height, round } => self.build_and_propose(height, round)?,
            // A stale timer: the height was already started by synced blocks.
            // Or the height after it already started (the pause was cut short, see `decide`).
            Event::NextHeight { decided }
                if decided != self.chain.tip_height() || self.core.height() > decided => {}
            Event::NextHeight { .. } => self.start_next_height(false)?,
            Event::FromPeer(msg) => self.on_peer_message(*msg)?,
            Event::Synced { blocks, reply } => {
                let verdict = self.apply_synced(blocks)?;
                let _ = reply.send(verdict);
            }
            Event::ResendDue => self.resend_if_stalled(),
            // The writer's error (the thread has ended, so this does not wait) stops the task.
            Event::BlockWriteFailed { height } => self
                .chain
                .wait_durable()
                .with_context(|| format!("writing decided block {height}"))?,
        }
        self.publish_status();
        Ok(())
    }

    fn on_peer_message(&mut self, msg: NetworkMessage) -> Result<()> {
        match msg {
            NetworkMessage::Vote(vote) => {
                let actions = self.core.handle(Input::Vote(vote));
                self.apply(actions)?;
            }
            NetworkMessage::Proposal { proposal, block } => {
                let height = proposal.proposal.height;
                // Proposals for the next height arrive during `timeout_commit`: keep them (and
                // their blocks) until that height starts. Anything else is stale or too far ahead.
                if height != self.core.height() && height != self.core.height() + 1 {
                    return Ok(());
                }
                if self.waiting_proposals.len() >= MAX_WAITING_PROPOSALS {
                    return Ok(());
                }
                if let Some(block) = block {
                    if self.bodies.len() < MAX_WAITING_PROPOSALS {
                        self.bodies.insert(block.id(), *block);
                    }
                }
                self.waiting_proposals.push(proposal);
                self.check_waiting_proposals()?;
            }
            NetworkMessage::Evidence(evidence) => {
                let fresh = evidence.verify().is_ok() && !self.evidence_pool.contains(&evidence);
                if fresh && self.evidence_pool.len() < MAX_EVIDENCE_POOL {
                    self.evidence_pool.push(evidence);
                }
            }
            // Transactions go to the mempool and resent votes arrive unpacked: neither reaches
            // this task.
            NetworkMessage::Txs(_) | NetworkMessage::Resend { .. } => {}
        }
        Ok(())
    }

    /// Feeds the core every proposal whose block body we have, after checking the block: whether
    /// it is valid (the same for every validator) and whether its time is timely to our clock (a
    /// condition for prevoting for a fresh proposal only; `Chain::check_timely`).
    fn check_waiting_proposals(&mut self) -> Result<()> {
        let waiting = std::mem::take(&mut self.waiting_proposals);
        for proposal in waiting {
            if proposal.proposal.height != self.core.height() {
                if proposal.proposal.height > self.core.height() {
                    self.waiting_proposals.push(proposal);
                }
                continue;
            }
            let id = proposal.proposal.block;
            let valid = if self.executed.contains_key(&id) {
                true
            } else if let Some(block) = self.bodies.remove(&id) {
                let mempool = &self.mempool;
                match self.chain.check_block(block, &|id| mempool.contains(id)) {
                    Ok(executed) => {
                        self.executed.insert(id, executed);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(block = %id, error = %e, "proposed block is invalid");
                        false
                    }
                }
            } else {
                self.waiting_proposals.push(proposal);
                continue;
            };
            let timely =
                match self.executed.get(&id).map(|e| self.chain.check_timely(&e.block.header)) {
                    Some(Err(e)) => {
                        let p = &proposal.proposal;
                        self.clock.untimely_proposal(p.height, p.round, &e);
                        false
                    }
                    // An invalid block gets a nil prevote whatever its time.
                    Some(Ok(())) | None => true,
                };
            let actions =
                self.core.handle(Input::Proposal { proposal, block_valid: valid, timely });
            self.apply(actions)?;
        }
        Ok(())
    }

    fn apply(&mut self, actions: Vec<Action>) -> Result<()> {
        for action in actions {
            self.apply_one(action)?;
        }
        self.take_signer_status()
    }

    /// What the signer did while the core ran: metrics, and a failed write of the signing state,
    /// which is a storage fault like a failed WAL append: nothing is signed after it, and the
    /// node stops for its supervisor (a torn slot leaves the other, the last signature sent).
    fn take_signer_status(&mut self) -> Result<()> {
        let Some(status) = &self.signer_status else { return Ok(()) };
        let (signed, refused, failed) = {
            let mut status = status.lock().unwrap_or_else(|e| e.into_inner());
            let taken = (status.last_signed_height.take(), status.refused, status.failed.take());
            status.refused = 0;
            taken
        };
        if let Some(height) = signed {
            self.metrics.last_signed_height.set(height as i64);
        }
        self.metrics.signatures_refused.inc_by(refused);
        match failed {
            Some(failure) => self.storage_check("the signing state", Err(anyhow::anyhow!(failure))),
            None => Ok(()),
        }
    }

    fn apply_one(&mut self, action: Action) -> Result<()> {
        match action {
            Action::RequestValue { height, round } => self.schedule_build(height, round),
            Action::PersistWal(entry) => {
                // The key's signing state recorded the signature when the core signed it
                // (its `Signer`); now the blocks below must be durable (this waits out a full
                // disk), then the journal and the WAL.
                self.before_signing(entry.height())?;
                if let Some(block) = entry.message.block() {
                    let saved = self.journal_block(block);
                    self.storage_check("the block journal", saved)?;
                }
                // A failed append is never retried, and nothing is signed after it: the record
                // may be torn on disk, and after a failed fsync the kernel may have dropped the
                // pages while a later fsync succeeds, so this process cannot know what its WAL
                // holds. Sending the message regardless could sign, after a restart that does not
                // find it, a conflicting one: equivocation. So the task stops, the message unsent;
                // the restarted node reads what the disk really holds (`Wal::open`).
                let appended = self.wal.append(&borsh::to_vec(&entry)?);
                self.storage_check("the consensus WAL", appended)?
            }
            Action::Broadcast(message) => {
                self.before_signing(message.height())?;
                self.broadcast(message)
            }
            Action::Relay(votes) => {
                // A re-proposal's proof of lock: other validators' prevotes, in one gossip
                // message (the resend's, which peers unpack vote by vote).
                self.resend_nonce += 1;
                self.network.publish(NetworkMessage::Resend { votes, nonce: self.resend_nonce });
            }
            Action::ScheduleTimeout { timeout, after_ms } => {
                let events = self.events_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                    let _ = events.send(Event::Timeout(timeout)).await;
                });
            }
            Action::Decide { height, round, block, commit } => {
                self.decide(height, round, block, commit)?
            }
            Action::AllPrecommits { height, .. } => {
                if height == self.chain.tip_height() && self.core.height() == height {
                    let events = self.events_tx.clone();
                    tokio::spawn(async move {
                        let _ = events.send(Event::NextHeight { decided: height }).await;
                    });
                }
            }
            Action::Evidence(evidence) => {
                tracing::warn!(offender = %evidence.offender(), "equivocation detected");
                self.network.publish(NetworkMessage::Evidence(evidence.clone()));
                if !self.evidence_pool.contains(&evidence) {
                    self.evidence_pool.push(evidence);
                }
            }
        }
        Ok(())
    }

    /// The proposer builds at once when transactions are waiting, otherwise after
    /// `empty_block_interval_ms` or as soon as one arrives, whichever is first.
    fn schedule_build(&mut self, height: u64, round: u32) {
        let events = self.events_tx.clone();
        let mempool = self.mempool.clone();
        let wait = Duration::from_millis(self.chain.spec.consensus.empty_block_interval_ms);
        if !mempool.is_empty() {
            let _ = events.try_send(Event::BuildDue { height, round });
            return;
        }
        tokio::spawn(async move {
            let _ = tokio::time::timeout(wait, mempool.wait_for_tx()).await;
            let _ = events.send(Event::BuildDue { height, round }).await;
        });
    }

    fn build_and_propose(&mut self, height: u64, round: u32) -> Result<()> {
        if height != self.core.height() || round != self.core.round() {
            return Ok(()); // the round moved on while we waited
        }
        let proposer = self.validator_key.context("only a validator builds blocks")?;
        let limits = &self.chain.spec.consensus;
        let max_bytes = (limits.max_block_bytes as usize / 2).min(PROPOSAL_TX_BYTES);
        let txs = self.mempool.reap(limits.max_block_txs as usize, max_bytes);
        let txs = self.chain.runtime.block_compile_budget(txs);
        let started = Instant::now();
        let executed = self.chain.build_block(
            proposer,
            txs,
            self.last_commit.clone(),
            self.evidence_pool.clone(),
            &|id| self.mempool.contains(id),
        )?;
        let id = executed.block.id();
        tracing::debug!(
            height,
            round,
            txs = executed.block.txs.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "built block"
        );
        self.executed.insert(id, executed);
        let actions = self.core.handle(Input::ProposeValue { height, round, block: id });
        self.apply(actions)
    }

    fn broadcast(&mut self, message: Message) {
        match message {
            Message::Vote(vote) => {
                self.own_votes.push(vote.clone());
                self.network.publish(NetworkMessage::Vote(vote))
            }
            Message::Proposal(proposal) => {
                let block =
                    self.executed.get(&proposal.proposal.block).map(|e| Box::new(e.block.clone()));
                self.network.publish(NetworkMessage::Proposal { proposal, block });
            }
        }
    }

    /// What must hold before anything signed at `height` is persisted or sent: every block below
    /// it is on disk. Otherwise a crash could restart the node below a block it already built on,
    /// with the WAL of that block's height emptied — free to vote differently there. Once the
    /// blocks are durable the WAL of the lower heights is no longer needed.
    ///
    /// While the disk fails nothing is signed: `wait_durable` waits out the retries of the last
    /// block's write (and fails if they do), and a fault still recorded stops the task.
    fn before_signing(&mut self, height: u64) -> Result<()> {
        if height > self.wal_height {
            self.chain.wait_durable().context("writing the last decided block")?;
            let reset = self.wal.reset();
            self.storage_check("the consensus WAL", reset)?;
            let cleared = self.journal.clear();
            self.storage_check("the block journal", cleared)?;
            self.journaled.clear();
            self.wal_height = height;
        }
        match self.chain.storage.fault() {
            Some(fault) => Err(fault.stop_error()),
            None => Ok(()),
        }
    }

    /// A failed write of the WAL or journal is a storage fault (logged, shown, and the node stops
    /// with [`crate::storage::StorageFault::stop_error`]).
    fn storage_check(&self, what: &str, written: Result<()>) -> Result<()> {
        written.inspect_err(|e| self.chain.storage.failed(what, &format_args!("{e:#}")))
    }

    /// Saves the body of a block before the first signature that names it (see [`BlockJournal`]).
    fn journal_block(&mut self, id: BlockId) -> Result<()> {
        if self.journaled.contains(&id) {
            return Ok(());
        }
        // The core only signs for blocks the shell built or checked, which are all in `executed`.
        if let Some(executed) = self.executed.get(&id) {
            self.journal.save(&executed.block).context("saving a block to the journal")?;
            self.journaled.insert(id);
        }
        Ok(())
    }

    fn decide(&mut self, height: u64, round: u32, block: BlockId, commit: Commit) -> Result<()> {
        if height <= self.chain.tip_height() {
            return Ok(()); // already committed from synced blocks
        }
        let Some(executed) = self.executed.remove(&block) else {
            // Decided on a block we never received: the sync service will fetch it.
            tracing::warn!(height, %block, "decided a block whose body is missing");
            return Ok(());
        };
        self.metrics.commit_latency.observe(self.height_started.elapsed().as_secs_f64());
        self.clock.decided(height, executed.block.header.time_ms, &self.metrics);
        // Every validator's precommit is in (the core is still at `height`: its set is the height's).
        let full = self.core.validators().is_some_and(|set| {
            let signed: u64 = commit.signatures.iter().map(|s| set.power_of(&s.validator)).sum();
            signed >= set.total_power()
        });
        let txs = self.commit_block(executed, commit, Write::InBackground)?;
        tracing::debug!(height, round, %block, txs, "decided block");
        // Wait timeout_commit before the next height, so late votes land and transactions gather;
        // messages for the next height that arrive meanwhile are buffered by the core. With every
        // validator's precommit in there is no late vote to wait for: start at once (CometBFT's
        // skip of timeout_commit; transactions that arrive meanwhile go into the next block, and
        // an idle proposer still waits `empty_block_interval_ms` before an empty one). The core
        // reports the last late precommit (`Action::AllPrecommits`), which cuts the pause short.
        let pause = if full {
            Duration::ZERO
        } else {
            Duration::from_millis(self.chain.spec.consensus.timeout_commit_ms)
        };
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let _ = events.send(Event::NextHeight { decided: height }).await;
        });
        Ok(())
    }

    /// Commits a decided or synced block and does the bookkeeping every commit needs: at once what
    /// the next block depends on (mempool, evidence, last commit), once the block is on disk what
    /// observers see (the `committed` notification, height metrics). Returns how many
    /// transactions it held.
    fn commit_block(
        &mut self,
        executed: ExecutedProposal,
        commit: Commit,
        write: Write,
    ) -> Result<usize> {
        let block = &executed.block;
        let height = block.header.height;
        self.count_if_missed(height, &commit)?;
        if let Some(check) = &self.double_sign {
            check.check_commit(&commit);
        }
        let parent_time = self.chain.tip_header().map(|h| h.time_ms);
        let time_ms = block.header.time_ms;
        let ids: Vec<Hash> = block.txs.iter().map(SignedTransaction::id).collect();
        // What this node admitted of the block, read before the commit prunes the mempool, and
        // observed once the block is on disk: `kessai_tx_admission_to_durable_seconds`.
        let admissions = self.mempool.admissions(&block.txs, &ids);
        let tx_ids: HashSet<Hash> = ids.into_iter().collect();
        let evidence = block.evidence.clone();
        let (committed, metrics) = (self.committed.clone(), self.metrics.clone());
        let (events, runtime) = (self.events_tx.clone(), tokio::runtime::Handle::current());
        // From the writer thread, after its retries: wakes this task to stop. Sent from a task, so
        // that the thread ends (and `wait_durable`, which this task may be blocked in, returns)
        // even when the event queue is full.
        let on_failed = move |height: u64| {
            runtime.spawn(async move {
                let _ = events.send(Event::BlockWriteFailed { height }).await;
            });
        };
        let started = Instant::now();
        let txs = block.txs.len();
        let on_durable = move |height: u64| {
            let landed = Instant::now();
            let elapsed_ms = landed.duration_since(started).as_millis() as u64;
            tracing::info!(height, txs, elapsed_ms, "committed block");
            let _ = committed.send(height);
            metrics.height.set(height as i64);
            metrics.committed_txs.inc_by(txs as u64);
            if let Some(parent_time) = parent_time {
                metrics.block_interval.observe(time_ms.saturating_sub(parent_time) as f64 / 1e3);
            }
            metrics.observe_durable(landed, &admissions);
        };
        let context = || format!("committing block {height}");
        match write {
            Write::InBackground => self
                .chain
                .commit_in_background(executed, commit.clone(), on_durable, on_failed)
                .with_context(context)?,
            Write::Now => {
                self.chain.commit(executed, commit.clone()).with_context(context)?;
                on_durable(height);
            }
        }
        self.mempool.update(&self.chain, &tx_ids);
        self.evidence_pool.retain(|e| !evidence.contains(e));
        self.last_commit = Some(commit);
        Ok(txs)
    }

    /// `kessai_missed_blocks_total`: a validator whose key is in the set of `height` and has no
    /// precommit in the commit it stores for it missed the block.
    fn count_if_missed(&self, height: u64, commit: &Commit) -> Result<()> {
        let Some(key) = self.validator_key else { return Ok(()) };
        let in_set = self.chain.validators_for(height)?.get(&key).is_some();
        if in_set && !commit.signatures.iter().any(|s| s.validator == key) {
            self.metrics.missed_blocks.inc();
        }
        Ok(())
    }

    /// Verifies and commits blocks fetched by the sync service, then starts the height after them.
    /// An invalid block is the peer's fault (the verdict); a storage failure is ours (the error).
    fn apply_synced(&mut self, blocks: Vec<SyncedBlock>) -> Result<SyncVerdict> {
        let mut applied = 0;
        for SyncedBlock { block, commit } in blocks {
            let height = block.header.height;
            if height <= self.chain.tip_height() {
                continue;
            }
            if height != self.chain.tip_height() + 1 {
                return Ok(Err(format!(
                    "block {height} does not follow {}",
                    self.chain.tip_height()
                )));
            }
            if let Err(e) = self.chain.check_protocol_for(height) {
                tracing::error!(height, error = %e, "stopping before an unsupported protocol version");
                return Err(e);
            }
            let executed = match self.chain.check_synced(block, &commit)? {
                Ok(executed) => executed,
                Err(reason) => return Ok(Err(reason)),
            };
            self.commit_block(executed, commit, Write::Now)?;
            applied += 1;
        }
        if applied > 0 {
            tracing::info!(height = self.chain.height(), applied, "committed synced blocks");
            self.start_next_height(false)?;
        }
        Ok(Ok(applied))
    }

    /// Ticks every `timeout_propose_ms` (longer than a healthy height): see [`Event::ResendDue`].
    fn schedule_resend_checks(&self) {
        let events = self.events_tx.clone();
        let period = Duration::from_millis(self.chain.spec.consensus.timeout_propose_ms.max(100));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if events.send(Event::ResendDue).await.is_err() {
                    return;
                }
            }
        });
    }

    /// Gossip delivers each message once and does not retry: a peer that was disconnected or
    /// restarting when we voted never sees those votes. If the height is stuck, send them again
    /// (the latest two rounds' worth, which is what a lagging peer needs to catch up or skip rounds).
    fn resend_if_stalled(&mut self) {
        let height = self.core.height();
        let stalled = height == self.last_resend_check;
        self.last_resend_check = height;
        if !stalled || self.own_votes.is_empty() {
            return;
        }
        let latest_round = self.own_votes.iter().map(|v| v.vote.round).max().unwrap_or(0);
        let votes: Vec<SignedVote> =
            self.own_votes.iter().filter(|v| v.vote.round + 1 >= latest_round).cloned().collect();
        self.resend_nonce += 1;
        tracing::debug!(height, votes = votes.len(), "height stalled; resending our votes");
        self.network.publish(NetworkMessage::Resend { votes, nonce: self.resend_nonce });
    }

    fn publish_status(&self) {
        self.metrics.round.set(self.core.round() as i64);
        let _ = self.status.send(ConsensusStatus {
            height: self.core.height(),
            round: self.core.round(),
            step: format!("{:?}", self.core.step()),
            clock_skew_ms: self.clock.skew_ms(),
        });
    }
}
