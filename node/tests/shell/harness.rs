//! A harness for the consensus shell: validators as [`ConsensusTask`]s in one process, each with a
//! real RocksDB store, WAL and block journal in a temp dir, wired through in-memory networks that
//! the harness routes (deliver, drop or hold each message) on a current-thread runtime with paused
//! time, so that timeouts cost no real time.
//!
//! Every message a validator publishes is inspected twice:
//!
//! - **at publication**, by the observer of its [`NetworkHandle::observed`] (on the validator's
//!   thread, before `publish` returns): which of the blocks its signed messages name are in the
//!   block journal, which of those messages have a WAL record, and the store's durable height;
//! - **on receipt**, by the harness's monitor, which panics on the first message that breaks an
//!   invariant of the shell (docs/decisions/0003): a signed message is sent only after (I1) its WAL
//!   record and (I2) the body of the block it names are on disk, and (I3) only once the block below
//!   its height is on disk; and no validator, across restarts, signs two different blocks (or nil
//!   and a block) for one (height, round, kind).
//!
//! Scenarios then drive the network ([`Net::set_policy`], [`Net::release`], [`Net::crash`],
//! [`Net::restart`], [`Net::sync`]) and assert what was committed ([`Net::block_id`]) and signed
//! ([`Net::log`]).

use kessai_chainspec::ChainSpec;
use kessai_consensus::{Message, WalEntry};
use kessai_node::chain::Chain;
use kessai_node::mempool::{Mempool, MempoolLimits};
use kessai_node::metrics::Metrics;
use kessai_node::service::consensus::ConsensusTask;
use kessai_node::service::events::{Event, SyncVerdict, SyncedBlock};
use kessai_node::service::network::{NetworkHandle, NetworkMessage};
use kessai_node::wal::{BlockJournal, Wal};
use kessai_primitives::{BlockId, Commit, Keypair, PublicKey, VoteKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How much (paused) time a scenario step may take before the harness calls it stuck. Paused time
/// runs ahead whenever every task waits for a timer, so this costs little real time.
const STEP_LIMIT: Duration = Duration::from_secs(120);

/// A chain spec of the presets' validators (`validator-0` …, [`Keypair::dev`] keys, equal power)
/// and members, without genesis contracts: the shell never calls one, and compiling them would
/// make every node's genesis slow.
pub(crate) fn spec(validators: usize) -> ChainSpec {
    let mut spec = if validators == 1 { ChainSpec::dev() } else { ChainSpec::local() };
    assert!(validators <= spec.validators.len(), "the presets have at most four validators");
    spec.validators.truncate(validators);
    spec.contracts.clear();
    spec.validate().expect("a valid test spec");
    spec
}

/// Which of its (at most) three signatures of a round a validator's message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Proposal,
    Prevote,
    Precommit,
}

/// Where a signed message sits in its signer's history: (height, round, kind).
pub(crate) type Slot = (u64, u32, Kind);

pub(crate) fn slot(message: &Message) -> Slot {
    match message {
        Message::Proposal(p) => (p.proposal.height, p.proposal.round, Kind::Proposal),
        Message::Vote(v) => {
            let kind = match v.vote.kind {
                VoteKind::Prevote => Kind::Prevote,
                VoteKind::Precommit => Kind::Precommit,
            };
            (v.vote.height, v.vote.round, kind)
        }
    }
}

/// The signed consensus messages a network message carries: a proposal, a vote, resent votes.
pub(crate) fn signed_in(message: &NetworkMessage) -> Vec<Message> {
    match message {
        NetworkMessage::Proposal { proposal, .. } => vec![Message::Proposal(proposal.clone())],
        NetworkMessage::Vote(vote) => vec![Message::Vote(vote.clone())],
        NetworkMessage::Resend { votes, .. } => votes.iter().cloned().map(Message::Vote).collect(),
        NetworkMessage::Txs(_) | NetworkMessage::Evidence(_) => vec![],
    }
}

/// One published message, with what held on its publisher's disk when it was published.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    /// Index of the publishing validator (its position in the spec).
    pub from: usize,
    /// Which start of that validator published it (0, then 1 after the first restart, …).
    pub incarnation: u32,
    pub message: NetworkMessage,
    /// The signed messages it carries ([`signed_in`]).
    pub signed: Vec<Message>,
    /// The publisher's durable height (the store's latest written block) at publication.
    pub durable_height: u64,
    /// Signed messages whose block was not in the block journal at publication.
    pub unjournaled: Vec<Slot>,
    /// Signed messages with no WAL record at publication.
    pub unlogged: Vec<Slot>,
}

/// A message on its way from one validator to another.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub from: usize,
    pub to: usize,
    pub message: NetworkMessage,
}

/// What the network does with an [`Envelope`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    Deliver,
    Drop,
    /// Keep it until [`Net::release`].
    Hold,
}

type Policy = Box<dyn FnMut(&Envelope) -> Fate>;

struct Node {
    name: String,
    dir: tempfile::TempDir,
    incarnation: u32,
    running: Option<Running>,
}

struct Running {
    chain: Arc<Chain>,
    mempool: Arc<Mempool>,
    metrics: Arc<Metrics>,
    events: mpsc::Sender<Event>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Node {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn wal_path(&self) -> PathBuf {
        self.dir.path().join("consensus.wal")
    }
}

/// Options of [`Net::start_with`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    /// Hold every background block write back this long (real time; see
    /// `Chain::open_with_write_delay`).
    pub write_delay: Option<Duration>,
}

/// Validators of one chain in this process, and the network between them.
pub(crate) struct Net {
    spec: ChainSpec,
    options: Options,
    nodes: Vec<Node>,
    published_tx: mpsc::UnboundedSender<Published>,
    published: mpsc::UnboundedReceiver<Published>,
    /// A tick whenever some validator wrote a block (a condition may have become true).
    progress_tx: mpsc::UnboundedSender<()>,
    progress: mpsc::UnboundedReceiver<()>,
    policy: Policy,
    held: Vec<Envelope>,
    /// Every published message, in the order the harness received them.
    log: Vec<Published>,
    /// What each validator signed at each slot, across its incarnations.
    signed: HashMap<(usize, Slot), (Option<BlockId>, u32)>,
    /// Largest gap seen on receipt between a validator's tip and its durable height.
    max_write_lag: u64,
}

impl Net {
    /// Starts one validator per validator of `spec`, every message delivered.
    pub(crate) fn start(spec: ChainSpec) -> Net {
        Net::start_with(spec, Options::default())
    }

    pub(crate) fn start_with(spec: ChainSpec, options: Options) -> Net {
        let (published_tx, published) = mpsc::unbounded_channel();
        let (progress_tx, progress) = mpsc::unbounded_channel();
        let nodes = spec
            .validators
            .iter()
            .map(|v| Node {
                name: v.name.clone(),
                dir: tempfile::tempdir().expect("temp dir"),
                incarnation: 0,
                running: None,
            })
            .collect();
        let mut net = Net {
            spec,
            options,
            nodes,
            published_tx,
            published,
            progress_tx,
            progress,
            policy: Box::new(|_| Fate::Deliver),
            held: Vec::new(),
            log: Vec::new(),
            signed: HashMap::new(),
            max_write_lag: 0,
        };
        for i in 0..net.nodes.len() {
            net.launch(i);
        }
        net
    }

    /// Opens validator `i`'s chain, WAL and journal and spawns its shell.
    fn launch(&mut self, i: usize) {
        let node = &self.nodes[i];
        let chain = Chain::open_with_write_delay(
            self.spec.clone(),
            &node.data_dir(),
            self.options.write_delay,
        )
        .unwrap_or_else(|e| panic!("{}: cannot open the chain: {e:#}", node.name));
        let network =
            observed_network(i, node.incarnation, &chain, &node.wal_path(), &self.published_tx);
        let mempool = Arc::new(Mempool::new(MempoolLimits::default()));
        let metrics = Arc::new(Metrics::new());
        let (task, handles) = ConsensusTask::new(
            chain.clone(),
            mempool.clone(),
            network,
            Some(Keypair::dev(&node.name)),
            &node.wal_path(),
            metrics.clone(),
        )
        .unwrap_or_else(|e| panic!("{}: cannot create the shell: {e:#}", node.name));
        let mut committed = handles.committed.subscribe();
        let progress = self.progress_tx.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            while !matches!(committed.recv().await, Err(RecvError::Closed)) {
                let _ = progress.send(());
            }
        });
        let task = tokio::spawn(task.run());
        let running = Running { chain, mempool, metrics, events: handles.events, task };
        self.nodes[i].running = Some(running);
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn key(&self, i: usize) -> PublicKey {
        Keypair::dev(&self.nodes[i].name).public()
    }

    /// The index of the validator with `key`.
    pub(crate) fn index_of(&self, key: &PublicKey) -> usize {
        (0..self.len()).find(|&i| self.key(i) == *key).expect("a validator of the spec")
    }

    pub(crate) fn chain(&self, i: usize) -> &Arc<Chain> {
        &self.nodes[i].running.as_ref().unwrap_or_else(|| panic!("validator {i} is down")).chain
    }

    /// Validator `i`'s mempool (the harness routes no transactions between validators).
    pub(crate) fn mempool(&self, i: usize) -> &Arc<Mempool> {
        &self.nodes[i].running.as_ref().unwrap_or_else(|| panic!("validator {i} is down")).mempool
    }

    /// Validator `i`'s metrics.
    pub(crate) fn metrics(&self, i: usize) -> &Arc<Metrics> {
        &self.nodes[i].running.as_ref().unwrap_or_else(|| panic!("validator {i} is down")).metrics
    }

    /// Validator `i`'s durable height: its latest block on disk.
    pub(crate) fn height(&self, i: usize) -> u64 {
        self.chain(i).height()
    }

    pub(crate) fn heights(&self) -> Vec<Option<u64>> {
        self.nodes.iter().map(|n| n.running.as_ref().map(|r| r.chain.height())).collect()
    }

    /// The id of validator `i`'s block at `height`, if it is on disk.
    pub(crate) fn block_id(&self, i: usize, height: u64) -> Option<BlockId> {
        self.chain(i).store.block(height).expect("readable store").map(|b| b.id())
    }

    pub(crate) fn commit(&self, i: usize, height: u64) -> Option<Commit> {
        self.chain(i).store.commit(height).expect("readable store")
    }

    /// Every message published so far, in the order received.
    pub(crate) fn log(&self) -> &[Published] {
        &self.log
    }

    /// The signed messages validator `i` published (any incarnation), resent ones included.
    pub(crate) fn signed_by(&self, i: usize) -> impl Iterator<Item = (u32, &Message)> {
        self.log
            .iter()
            .filter(move |p| p.from == i)
            .flat_map(|p| p.signed.iter().map(move |m| (p.incarnation, m)))
    }

    /// Largest `tip − durable` height seen on any validator when a message was received: above
    /// zero once a decided block was still being written while the harness looked.
    pub(crate) fn max_write_lag(&self) -> u64 {
        self.max_write_lag
    }

    /// Decides the fate of every message routed from now on.
    pub(crate) fn set_policy(&mut self, policy: impl FnMut(&Envelope) -> Fate + 'static) {
        self.policy = Box::new(policy);
    }

    /// Delivers the held messages that `which` selects, in the order they were held.
    pub(crate) async fn release(&mut self, mut which: impl FnMut(&Envelope) -> bool) {
        let held = std::mem::take(&mut self.held);
        let (now, later): (Vec<_>, Vec<_>) = held.into_iter().partition(|e| which(e));
        self.held = later;
        for envelope in now {
            self.deliver(envelope).await;
        }
    }

    /// Routes messages until `done` holds; panics if it does not within [`STEP_LIMIT`] of paused
    /// time, or if a shell stops.
    pub(crate) async fn run_until(&mut self, what: &str, mut done: impl FnMut(&Net) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP_LIMIT;
        self.route_published().await;
        while !done(self) {
            self.check_running().await;
            if !self.step_until(deadline).await {
                panic!(
                    "not reached within {STEP_LIMIT:?}: {what} (durable heights {:?})",
                    self.heights()
                );
            }
        }
    }

    /// Routes messages for `duration` of paused time.
    pub(crate) async fn run_for(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while self.step_until(deadline).await {
            self.check_running().await;
        }
        self.route_published().await;
    }

    /// Routes every message published so far, so that the log is complete when a step ends.
    async fn route_published(&mut self) {
        while let Ok(published) = self.published.try_recv() {
            self.route(published).await;
        }
    }

    /// Routes what was published, or waits for a write; false at the deadline.
    async fn step_until(&mut self, deadline: tokio::time::Instant) -> bool {
        let progressed = tokio::select! {
            biased;
            published = self.published.recv() => {
                self.route(published.expect("the harness holds a sender")).await;
                true
            }
            _ = self.progress.recv() => true,
            _ = tokio::time::sleep_until(deadline) => false,
        };
        // A write may make a condition true while messages published before it wait here.
        self.route_published().await;
        progressed
    }

    /// Panics with a shell's error if one stopped.
    async fn check_running(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if node.running.as_ref().is_some_and(|r| r.task.is_finished()) {
                let running = node.running.take().expect("running");
                match running.task.await {
                    Ok(Ok(())) => panic!("validator {i}'s shell stopped"),
                    Ok(Err(e)) => panic!("validator {i}'s shell failed: {e:#}"),
                    Err(e) => panic!("validator {i}'s shell panicked: {e}"),
                }
            }
        }
    }

    /// Stops validator `i` between two events, as a crash would: its task and everything it holds
    /// are dropped (messages to it are lost from now on); its store, WAL and journal stay on disk.
    pub(crate) async fn crash(&mut self, i: usize) {
        let running = self.nodes[i].running.take().expect("a running validator");
        running.task.abort();
        assert!(running.task.await.is_err_and(|e| e.is_cancelled()), "validator {i} had stopped");
        let chain = Arc::downgrade(&running.chain);
        drop(running.chain);
        assert!(chain.upgrade().is_none(), "validator {i}'s chain is still held by someone");
    }

    /// Starts validator `i` again on the same data dir, WAL and journal.
    pub(crate) fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].running.is_none(), "validator {i} is running");
        self.nodes[i].incarnation += 1;
        self.launch(i);
    }

    /// Hands validator `i` blocks as the sync service would, and returns its verdict.
    pub(crate) async fn sync(&mut self, i: usize, blocks: Vec<SyncedBlock>) -> SyncVerdict {
        let (reply, verdict) = oneshot::channel();
        let events = self.nodes[i].running.as_ref().expect("running").events.clone();
        events.send(Event::Synced { blocks, reply }).await.expect("the shell is running");
        verdict.await.expect("the shell answers")
    }

    /// What the node's sync service does for a validator that fell behind: fetches the blocks it
    /// lacks, with their commits, from the running validator with the most blocks on disk, and
    /// hands them over. `Ok(0)` when it is not behind.
    pub(crate) async fn catch_up(&mut self, i: usize) -> SyncVerdict {
        let running = (0..self.len()).filter(|&j| j != i && self.nodes[j].running.is_some());
        let Some((best, top)) = running.map(|j| (j, self.height(j))).max_by_key(|&(_, h)| h) else {
            return Ok(0);
        };
        let from = self.height(i) + 1;
        if top < from {
            return Ok(0);
        }
        let blocks = self.synced_blocks(best, from, top);
        self.sync(i, blocks).await
    }

    /// Validator `i`'s blocks `from..=to` with their commits, from its store (what it serves to
    /// syncing peers).
    pub(crate) fn synced_blocks(&self, i: usize, from: u64, to: u64) -> Vec<SyncedBlock> {
        let store = &self.chain(i).store;
        (from..=to)
            .map(|h| SyncedBlock {
                block: store.block(h).unwrap().unwrap_or_else(|| panic!("no block {h}")),
                commit: store.commit(h).unwrap().unwrap_or_else(|| panic!("no commit {h}")),
            })
            .collect()
    }

    /// Asserts that every running validator that has written a height has the same block there,
    /// and that its commit verifies against the spec's validator set; returns the ids.
    pub(crate) fn assert_agree(&self, heights: std::ops::RangeInclusive<u64>) -> Vec<BlockId> {
        let set = self.spec.validator_set();
        let mut ids = Vec::new();
        for height in heights {
            let mut seen: Option<(usize, BlockId)> = None;
            for i in (0..self.len()).filter(|&i| self.nodes[i].running.is_some()) {
                let Some(id) = self.block_id(i, height) else { continue };
                let commit = self.commit(i, height).expect("a written block has its commit");
                commit
                    .verify(&self.spec.chain_id, height, &id, &set)
                    .unwrap_or_else(|e| panic!("validator {i}'s commit of {height}: {e}"));
                match seen {
                    None => seen = Some((i, id)),
                    Some((j, other)) => assert_eq!(
                        other, id,
                        "validators {j} and {i} committed different blocks at height {height}"
                    ),
                }
            }
            ids.push(seen.unwrap_or_else(|| panic!("no validator has height {height}")).1);
        }
        ids
    }

    async fn route(&mut self, published: Published) {
        self.monitor(&published);
        for node in self.nodes.iter().filter_map(|n| n.running.as_ref()) {
            let lag = node.chain.tip_height().saturating_sub(node.chain.height());
            self.max_write_lag = self.max_write_lag.max(lag);
        }
        // What a peer's inbound router passes on: resent votes one by one, no transactions.
        let messages = match &published.message {
            NetworkMessage::Txs(_) => vec![],
            NetworkMessage::Resend { votes, .. } => {
                votes.iter().cloned().map(NetworkMessage::Vote).collect()
            }
            other => vec![other.clone()],
        };
        let from = published.from;
        self.log.push(published);
        for to in (0..self.len()).filter(|&to| to != from) {
            for message in &messages {
                let envelope = Envelope { from, to, message: message.clone() };
                match (self.policy)(&envelope) {
                    Fate::Deliver => self.deliver(envelope).await,
                    Fate::Drop => {}
                    Fate::Hold => self.held.push(envelope),
                }
            }
        }
    }

    async fn deliver(&mut self, envelope: Envelope) {
        // A validator that is down misses the message.
        if let Some(running) = &self.nodes[envelope.to].running {
            let event = Event::FromPeer(Box::new(envelope.message));
            running.events.send(event).await.expect("the shell takes events");
        }
    }

    /// The invariants of the shell, on every published message (see the module docs).
    fn monitor(&mut self, p: &Published) {
        let who = format!("validator {} (incarnation {})", p.from, p.incarnation);
        if let Some(slot) = p.unlogged.first() {
            panic!("{who} published {slot:?} before its WAL record was written");
        }
        if let Some(slot) = p.unjournaled.first() {
            panic!("{who} published {slot:?} before the block it names was in the block journal");
        }
        for message in &p.signed {
            let slot @ (height, _, _) = slot(message);
            message.verify().unwrap_or_else(|e| panic!("{who} published {slot:?} with {e}"));
            assert_eq!(message.signer(), self.key(p.from), "{who} published another's {slot:?}");
            assert!(
                p.durable_height + 1 >= height,
                "{who} published {slot:?} while block {} was not on disk (durable height {})",
                height - 1,
                p.durable_height
            );
            let entry =
                self.signed.entry((p.from, slot)).or_insert((message.block(), p.incarnation));
            assert_eq!(
                entry.0,
                message.block(),
                "{who} signed {slot:?} for {:?}, having signed it for {:?} in incarnation {}",
                message.block(),
                entry.0,
                entry.1
            );
        }
    }
}

/// A network handle for validator `from` whose observer records, at the moment of publication,
/// what its disk holds, and passes the message to the harness.
fn observed_network(
    from: usize,
    incarnation: u32,
    chain: &Arc<Chain>,
    wal_path: &Path,
    harness: &mpsc::UnboundedSender<Published>,
) -> NetworkHandle {
    let (chain, wal_path, harness) = (chain.clone(), wal_path.to_path_buf(), harness.clone());
    let journal = BlockJournal::open(&wal_path.with_extension("blocks")).expect("journal dir");
    NetworkHandle::observed(move |message| {
        let signed = signed_in(&message);
        let durable_height = chain.height();
        let mut unjournaled = Vec::new();
        for m in &signed {
            let Some(block) = m.block() else { continue };
            let journaled = journal.load(m.height()).expect("readable journal");
            if !journaled.iter().any(|b| b.id() == block) {
                unjournaled.push(slot(m));
            }
        }
        let logged: Vec<Message> = Wal::open(&wal_path)
            .and_then(|wal| wal.records())
            .expect("readable WAL")
            .iter()
            .map(|r| borsh::from_slice::<WalEntry>(r).expect("a WAL entry").message)
            .collect();
        let unlogged = signed.iter().filter(|m| !logged.contains(m)).map(slot).collect();
        let _ = harness.send(Published {
            from,
            incarnation,
            message,
            signed,
            durable_height,
            unjournaled,
            unlogged,
        });
    })
}
