//! Deterministic simulation of a network of Kessai validators, each a real [`Consensus`] core.
//!
//! Every run is derived from one seed: the validator set (4–7 validators, equal or weighted power),
//! up to f Byzantine validators — either random (equivocate with different signed votes and
//! proposals to different peers, send to some peers only, stay silent, vote in future rounds,
//! propose out of turn) or coordinated splitters (back every proposal to part of the network and
//! nil to the rest, precommit to fewer peers than they prevote to, propose fresh values) — message
//! loss, delays (and so reordering), partitions that heal, deciders cut off for a while, a full
//! node that follows, invalid blocks, and an honest validator that crashes — possibly between
//! persisting a WAL entry and broadcasting it — and restarts from its WAL. Time is virtual.
//!
//! Up to the global stabilisation time (GST) the network is hostile; after it, every message
//! arrives within `POST_GST_MAX_DELAY_MS`. The shell here is minimal but complete: it gossips
//! (retransmits what a peer has not received, relays others' messages), syncs lagging peers with
//! decided blocks and their commits, builds blocks on request and keeps a WAL.
//!
//! Checked on every run:
//! * agreement: no two honest nodes decide (or sync to) different blocks at one height;
//! * validity: a decided block was built by someone for a proposal and is valid;
//! * every `Decide` commit verifies with `Commit::verify`;
//! * no honest validator ever signs two different messages for one (height, round, kind), its WAL
//!   entries are in strictly increasing (height, round, kind) order across restarts, and it never
//!   broadcasts a message of its own that is not in its WAL;
//! * evidence verifies and names only Byzantine validators;
//! * liveness: after GST, every honest node decides the next heights within `LIVENESS_BOUND_MS`.
//!
//! Random search reliably catches broken thresholds, a missing WAL write, double signing after a
//! restart and liveness bugs; it does not reliably reach the narrow split that a missing lock
//! check needs (see `locks_keep_a_split_network_from_deciding_twice` in the unit tests for that).
//!
//! `KESSAI_SIM_SEEDS=N` runs N seeds (default 2000); `KESSAI_SIM_SEED=N` runs only seed N, and
//! `KESSAI_SIM_TRACE=1` with it prints every event and action (with `-- --nocapture`).

use kessai_consensus::{
    Action, Config, Consensus, Input, Message, Timeout, TimeoutConfig, WalEntry,
};
use kessai_primitives::{
    BlockId, Commit, Hash, Keypair, Proposal, PublicKey, SignedVote, Validator, ValidatorSet, Vote,
    VoteKind,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

const CHAIN: &str = "kessai-sim";
const DEFAULT_SEEDS: u64 = 2000;
/// Every honest node decides at least this many heights in a run.
const MIN_HEIGHTS: u64 = 3;
/// After GST every honest node decides the two heights after the leader's within this time.
const LIVENESS_BOUND_MS: u64 = 30_000;
const POST_GST_MAX_DELAY_MS: u64 = 50;
/// The shell's pause between deciding a height and starting the next (the node's timeout_commit);
/// messages for the next height arriving meanwhile are buffered by the core.
const COMMIT_PAUSE_MS: u64 = 1_000;
/// How often a node retransmits what its peers have not received.
const GOSSIP_INTERVAL_MS: u64 = 300;
/// A run that needs more events than this is reported as stuck.
const MAX_EVENTS: u64 = 2_000_000;

fn timeouts() -> TimeoutConfig {
    TimeoutConfig {
        propose_ms: 300,
        propose_delta_ms: 100,
        prevote_ms: 150,
        prevote_delta_ms: 50,
        precommit_ms: 150,
        precommit_delta_ms: 50,
    }
}

fn sim_keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..7).map(|i| Keypair::dev(&format!("sim-validator-{i}"))).collect())
}

// ---- scenario ---------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Partition {
    from_ms: u64,
    until_ms: u64,
    /// Which side of the cut each node is on.
    side: Vec<bool>,
}

#[derive(Clone, Debug)]
struct CrashPlan {
    node: usize,
    at_ms: u64,
    down_ms: u64,
}

/// Everything random about a run, drawn from the seed before it starts.
#[derive(Clone, Debug)]
struct Scenario {
    seed: u64,
    powers: Vec<u64>,
    byzantine: Vec<bool>,
    /// A full node (no key) follows the validators.
    observer: bool,
    loss: f64,
    max_delay_ms: u64,
    partitions: Vec<Partition>,
    crash: Option<CrashPlan>,
    gst_ms: u64,
    /// Chance that an honest proposer's block is invalid (a buggy block builder).
    honest_invalid_rate: f64,
    /// Byzantine validators coordinate to split views instead of misbehaving at random.
    splitters: bool,
    /// Before GST, an honest validator that decides is sometimes cut off for a while, so the
    /// precommits that convinced it reach the others late (if at all before they move on).
    isolate_deciders: bool,
    /// Test hook: audit Byzantine validators like honest ones (their double-signing must be caught).
    audit_byzantine: bool,
}

impl Scenario {
    fn from_seed(seed: u64) -> Scenario {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5ce7_a210);
        let n = rng.gen_range(4..=7);
        let weighted = rng.gen_bool(0.5);
        let powers: Vec<u64> =
            (0..n).map(|_| if weighted { rng.gen_range(1..=3) } else { 1 }).collect();
        let total: u64 = powers.iter().sum();
        // Byzantine validators, keeping their power under a third.
        let wanted = if rng.gen_bool(0.3) { 0 } else { rng.gen_range(1..=(n - 1) / 3) };
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let mut byzantine = vec![false; n];
        let mut byzantine_power = 0;
        for i in order {
            if byzantine.iter().filter(|b| **b).count() == wanted {
                break;
            }
            if (byzantine_power + powers[i]) * 3 < total {
                byzantine[i] = true;
                byzantine_power += powers[i];
            }
        }
        let observer = rng.gen_bool(0.25);
        let nodes = n + usize::from(observer);
        let mut gst_ms = rng.gen_range(0..=6_000);
        let loss = if rng.gen_bool(0.5) { rng.gen_range(0.0..0.3) } else { 0.0 };
        let max_delay_ms = rng.gen_range(5..=400);
        let partitions = (0..rng.gen_range(0..=2))
            .map(|_| {
                let from_ms = rng.gen_range(0..=gst_ms);
                let until_ms = rng.gen_range(from_ms..=gst_ms);
                Partition {
                    from_ms,
                    until_ms,
                    side: (0..nodes).map(|_| rng.gen_bool(0.5)).collect(),
                }
            })
            .collect();
        let crash = rng.gen_bool(0.5).then(|| {
            let honest: Vec<usize> = (0..n).filter(|&i| !byzantine[i]).collect();
            CrashPlan {
                node: *honest.choose(&mut rng).expect("some validator is honest"),
                at_ms: rng.gen_range(0..=gst_ms.max(1_000)),
                down_ms: rng.gen_range(50..=3_000),
            }
        });
        if let Some(c) = &crash {
            gst_ms = gst_ms.max(c.at_ms + c.down_ms + 500);
        }
        let honest_invalid_rate = if rng.gen_bool(0.1) { 0.2 } else { 0.0 };
        let splitters = rng.gen_bool(0.5);
        let isolate_deciders = rng.gen_bool(0.3);
        Scenario {
            seed,
            powers,
            byzantine,
            observer,
            loss,
            max_delay_ms,
            partitions,
            crash,
            gst_ms,
            honest_invalid_rate,
            splitters,
            isolate_deciders,
            audit_byzantine: false,
        }
    }
}

// ---- the simulated world ----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Packet {
    Consensus(Message),
    /// Block sync: a decided block and its commit, for a peer that is behind.
    Sync {
        height: u64,
        block: BlockId,
        commit: Commit,
    },
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        packet: Packet,
    },
    Timeout {
        node: usize,
        life: u32,
        timeout: Timeout,
    },
    Value {
        node: usize,
        life: u32,
        height: u64,
        round: u32,
        block: BlockId,
    },
    Gossip {
        node: usize,
    },
    /// The commit pause is over: start the height after the last committed one.
    NextHeight {
        node: usize,
        life: u32,
    },
    Crash {
        node: usize,
    },
    CrashNow {
        node: usize,
        life: u32,
    },
    Restart {
        node: usize,
    },
}

struct Node {
    key: Option<Keypair>,
    byzantine: bool,
    /// `None` while crashed.
    core: Option<Consensus>,
    /// Incarnation: timers and block builds of a previous life are dropped.
    life: u32,
    // Durable: survives a crash.
    wal: Vec<WalEntry>,
    chain: BTreeMap<u64, (BlockId, Commit)>,
    // Volatile.
    /// Messages received or sent, for dedup.
    seen: BTreeSet<Hash>,
    /// Messages of the current and next height, to relay.
    pool: BTreeMap<u64, Vec<(Hash, Message)>>,
    /// Crash at the next batch of actions, part way through it.
    crash_armed: bool,
    /// The first proposal seen for each (height, round): what a splitter votes for.
    proposals_seen: BTreeMap<(u64, u32), BlockId>,
    /// A splitter's audiences per (height, round): who sees its prevote for the proposal, and
    /// (a subset of them) who sees its precommit for it. Everyone else gets nil.
    audiences: BTreeMap<(u64, u32), (Vec<usize>, Vec<usize>)>,
    // Audit, not node state.
    last_persisted: Option<(u64, u32, u8)>,
    persisted: BTreeSet<Hash>,
}

impl Node {
    /// The height this node is deciding.
    fn height(&self) -> u64 {
        self.chain.len() as u64 + 1
    }

    fn honest(&self) -> bool {
        !self.byzantine
    }
}

#[derive(Clone, Copy, Debug)]
struct BlockInfo {
    valid: bool,
    /// A signed proposal for it was sent: only such a block may be decided.
    proposed: bool,
}

#[derive(Default, Debug, Clone)]
struct Stats {
    heights: u64,
    max_round: u32,
    evidence: u64,
    crashes: u64,
    restores_with_wal: u64,
    crashes_between_persist_and_broadcast: u64,
    syncs: u64,
    equivocations: u64,
    invalid_blocks_built: u64,
    events: u64,
    recovery_ms: u64,
    /// Decisions whose commit held every validator's precommit (no commit pause).
    full_commits: u64,
    /// Commit pauses cut short by [`Action::AllPrecommits`] (the last precommit came after the
    /// decision).
    commit_pauses_skipped: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.heights += o.heights;
        self.max_round = self.max_round.max(o.max_round);
        self.evidence += o.evidence;
        self.crashes += o.crashes;
        self.restores_with_wal += o.restores_with_wal;
        self.crashes_between_persist_and_broadcast += o.crashes_between_persist_and_broadcast;
        self.syncs += o.syncs;
        self.equivocations += o.equivocations;
        self.invalid_blocks_built += o.invalid_blocks_built;
        self.events += o.events;
        self.recovery_ms = self.recovery_ms.max(o.recovery_ms);
        self.commit_pauses_skipped += o.commit_pauses_skipped;
        self.full_commits += o.full_commits;
    }
}

struct Sim {
    sc: Scenario,
    rng: StdRng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    set: ValidatorSet,
    config: Config,
    blocks: BTreeMap<BlockId, BlockInfo>,
    /// Who has received which message: the gossip layer's view of its peers.
    delivered: Vec<BTreeSet<Hash>>,
    decisions: BTreeMap<u64, BlockId>,
    /// Every message signed by an audited validator, by (signer, height, round, kind).
    signed: BTreeMap<(PublicKey, u64, u32, u8), Hash>,
    stats: Stats,
    trace: bool,
}

type Outcome = Result<Stats, String>;

impl Sim {
    fn new(sc: Scenario, trace: bool) -> Sim {
        let keys = sim_keys();
        let n = sc.powers.len();
        let set = ValidatorSet::new(
            (0..n)
                .map(|i| Validator { public_key: keys[i].public(), power: sc.powers[i] })
                .collect(),
        )
        .expect("valid set");
        let config = Config { chain_id: CHAIN.into(), timeouts: timeouts() };
        let mut nodes: Vec<Node> =
            (0..n).map(|i| Sim::node(Some(keys[i].clone()), sc.byzantine[i], &config)).collect();
        if sc.observer {
            nodes.push(Sim::node(None, false, &config));
        }
        let delivered = vec![BTreeSet::new(); nodes.len()];
        let rng = StdRng::seed_from_u64(sc.seed);
        let mut sim = Sim {
            sc,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            set,
            config,
            blocks: BTreeMap::new(),
            delivered,
            decisions: BTreeMap::new(),
            signed: BTreeMap::new(),
            stats: Stats::default(),
            trace,
        };
        for i in 0..sim.nodes.len() {
            let offset = sim.rng.gen_range(0..GOSSIP_INTERVAL_MS);
            sim.push(offset, Event::Gossip { node: i });
        }
        if let Some(crash) = sim.sc.crash.clone() {
            sim.push(crash.at_ms, Event::Crash { node: crash.node });
        }
        sim
    }

    fn node(key: Option<Keypair>, byzantine: bool, config: &Config) -> Node {
        Node {
            core: Some(Consensus::new(config.clone(), key.clone())),
            key,
            byzantine,
            life: 0,
            wal: Vec::new(),
            chain: BTreeMap::new(),
            seen: BTreeSet::new(),
            pool: BTreeMap::new(),
            crash_armed: false,
            proposals_seen: BTreeMap::new(),
            audiences: BTreeMap::new(),
            last_persisted: None,
            persisted: BTreeSet::new(),
        }
    }

    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn audited(&self, i: usize) -> bool {
        self.nodes[i].honest() || self.sc.audit_byzantine
    }

    fn run(mut self) -> Outcome {
        for i in 0..self.nodes.len() {
            let set = self.set.clone();
            let core = self.nodes[i].core.as_mut().expect("running");
            let actions = core.start_height(1, set, &[]);
            self.apply(i, actions)?;
        }
        let mut goal: Option<u64> = None;
        while let Some(((at, _), event)) = self.queue.pop_first() {
            self.now = at;
            self.stats.events += 1;
            if self.stats.events > MAX_EVENTS {
                return Err(format!("more than {MAX_EVENTS} events at {at} ms"));
            }
            if goal.is_none() && self.now >= self.sc.gst_ms {
                let leader = self.honest_nodes().map(|i| self.nodes[i].height()).max().unwrap_or(1);
                goal = Some((MIN_HEIGHTS + 1).max(leader + 2));
            }
            if let Some(goal) = goal {
                if self.honest_nodes().all(|i| self.nodes[i].height() >= goal) {
                    self.stats.recovery_ms = self.now - self.sc.gst_ms;
                    self.stats.heights = goal - 1;
                    return Ok(self.stats);
                }
                if self.now > self.sc.gst_ms + LIVENESS_BOUND_MS {
                    let heights: Vec<_> = self
                        .nodes
                        .iter()
                        .map(|n| (n.height(), n.core.as_ref().map(|c| (c.round(), c.step()))))
                        .collect();
                    return Err(format!(
                        "liveness: {LIVENESS_BOUND_MS} ms after GST ({} ms) not every honest \
                         node reached height {goal}: (height, (round, step)) = {heights:?}",
                        self.sc.gst_ms
                    ));
                }
            }
            if self.trace {
                self.trace_event(at, &event);
            }
            self.handle(event)?;
        }
        Err("event queue ran dry".into())
    }

    /// `KESSAI_SIM_TRACE=1`: one line per event (gossip ticks left out), messages named by
    /// validator index, with the receiving core's (height, round, step).
    fn trace_event(&self, at: u64, event: &Event) {
        match event {
            Event::Deliver { to, packet: Packet::Consensus(m) } => {
                let core = self.nodes[*to].core.as_ref();
                let state = core.map(|c| (c.height(), c.round(), c.step()));
                eprintln!("{at:>7} ms  -> {to}: {}   [core {state:?}]", short(m));
            }
            Event::Gossip { .. } => {}
            e => eprintln!("{at:>7} ms  {e:?}"),
        }
    }

    fn honest_nodes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].honest())
    }

    fn handle(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Deliver { to, packet } => self.deliver(to, packet),
            Event::Timeout { node, life, timeout } => {
                self.feed(node, life, Input::Timeout(timeout))
            }
            Event::Value { node, life, height, round, block } => {
                self.feed(node, life, Input::ProposeValue { height, round, block })
            }
            Event::Gossip { node } => {
                self.gossip(node);
                let next = self.now + GOSSIP_INTERVAL_MS;
                self.push(next, Event::Gossip { node });
                Ok(())
            }
            Event::Crash { node } => {
                self.nodes[node].crash_armed = true;
                let life = self.nodes[node].life;
                self.push(self.now + 200, Event::CrashNow { node, life });
                Ok(())
            }
            Event::CrashNow { node, life } => {
                if self.nodes[node].life == life && self.nodes[node].core.is_some() {
                    self.crash(node);
                }
                Ok(())
            }
            Event::Restart { node } => self.restart(node),
            Event::NextHeight { node, life } => self.start_next_height(node, life),
        }
    }

    fn feed(&mut self, i: usize, life: u32, input: Input) -> Result<(), String> {
        if self.nodes[i].life != life {
            return Ok(());
        }
        let Some(core) = self.nodes[i].core.as_mut() else { return Ok(()) };
        let actions = core.handle(input);
        self.apply(i, actions)
    }

    // ---- network ------------------------------------------------------------------------------

    fn connected(&self, a: usize, b: usize) -> bool {
        self.sc
            .partitions
            .iter()
            .all(|p| !(p.from_ms <= self.now && self.now < p.until_ms) || p.side[a] == p.side[b])
    }

    fn send(&mut self, from: usize, to: usize, packet: Packet) {
        if from == to || !self.connected(from, to) {
            return;
        }
        let before_gst = self.now < self.sc.gst_ms;
        if before_gst && self.rng.gen_bool(self.sc.loss) {
            return;
        }
        let max_delay = if before_gst { self.sc.max_delay_ms } else { POST_GST_MAX_DELAY_MS };
        let delay = self.rng.gen_range(1..=max_delay);
        self.push(self.now + delay, Event::Deliver { to, packet });
    }

    fn deliver(&mut self, to: usize, packet: Packet) -> Result<(), String> {
        if self.nodes[to].core.is_none() {
            return Ok(());
        }
        match packet {
            Packet::Consensus(message) => {
                let id = Hash::of(&message);
                self.delivered[to].insert(id);
                if !self.nodes[to].seen.insert(id) {
                    return Ok(());
                }
                self.remember(to, id, &message);
                if let Message::Proposal(p) = &message {
                    let p = &p.proposal;
                    self.nodes[to].proposals_seen.entry((p.height, p.round)).or_insert(p.block);
                }
                let input = match message {
                    Message::Vote(vote) => Input::Vote(vote),
                    Message::Proposal(proposal) => {
                        // The block body travels with the proposal; the shell checks it.
                        let Some(info) = self.blocks.get(&proposal.proposal.block) else {
                            return Err("a proposal for a block nobody built".into());
                        };
                        Input::Proposal { proposal, block_valid: info.valid, timely: true }
                    }
                };
                let actions = self.nodes[to].core.as_mut().expect("running").handle(input);
                self.apply(to, actions)
            }
            Packet::Sync { height, block, commit } => {
                if height != self.nodes[to].height() {
                    return Ok(());
                }
                commit
                    .verify(CHAIN, height, &block, &self.set)
                    .map_err(|e| format!("a synced commit does not verify: {e}"))?;
                self.stats.syncs += 1;
                self.commit(to, height, block, commit, 0)
            }
        }
    }

    /// Keeps a message of the current or next height for relaying.
    fn remember(&mut self, i: usize, id: Hash, message: &Message) {
        let node = &mut self.nodes[i];
        if message.height() >= node.height() && message.height() <= node.height() + 1 {
            node.pool.entry(message.height()).or_default().push((id, message.clone()));
        }
    }

    /// Retransmits to each peer what it has not received at its height, or the block it misses.
    fn gossip(&mut self, i: usize) {
        if self.nodes[i].core.is_none() || self.nodes[i].byzantine {
            return;
        }
        let height = self.nodes[i].height();
        for j in 0..self.nodes.len() {
            let peer_height = self.nodes[j].height();
            if j == i || peer_height > height {
                continue;
            }
            if peer_height < height {
                let (block, commit) = self.nodes[i].chain[&peer_height].clone();
                self.send(i, j, Packet::Sync { height: peer_height, block, commit });
                continue;
            }
            let missing: Vec<Message> = self.nodes[i]
                .pool
                .get(&height)
                .into_iter()
                .flatten()
                .filter(|(id, _)| !self.delivered[j].contains(id))
                .map(|(_, m)| m.clone())
                .collect();
            for message in missing {
                self.send(i, j, Packet::Consensus(message));
            }
        }
    }

    /// Sends a message signed by `from` (audited) to the nodes `to`.
    fn broadcast(&mut self, from: usize, message: &Message, to: &[usize]) -> Result<(), String> {
        self.audit_signed(from, message)?;
        if let Message::Proposal(p) = message {
            let info = self.blocks.get_mut(&p.proposal.block).ok_or("proposed an unbuilt block")?;
            info.proposed = true;
        }
        for &j in to {
            self.send(from, j, Packet::Consensus(message.clone()));
        }
        Ok(())
    }

    fn peers(&self, i: usize) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&j| j != i).collect()
    }

    // ---- the shell: performing actions ---------------------------------------------------------

    fn apply(&mut self, i: usize, actions: Vec<Action>) -> Result<(), String> {
        let mut queue: VecDeque<Action> = actions.into();
        let cut = if self.nodes[i].crash_armed && !queue.is_empty() {
            // Crash part way through this batch; half the time right after a WAL write.
            let after_persist = queue.iter().position(|a| matches!(a, Action::PersistWal(_)));
            Some(match after_persist {
                Some(p) if self.rng.gen_bool(0.5) => p + 1,
                _ => self.rng.gen_range(0..queue.len()),
            })
        } else {
            None
        };
        let life = self.nodes[i].life;
        let mut done = 0;
        let mut last_was_persist = false;
        while let Some(action) = queue.pop_front() {
            if cut == Some(done) {
                if matches!(action, Action::Broadcast(_)) && last_was_persist {
                    self.stats.crashes_between_persist_and_broadcast += 1;
                }
                self.crash(i);
                return Ok(());
            }
            done += 1;
            last_was_persist = matches!(action, Action::PersistWal(_));
            self.apply_one(i, action)?;
            if self.nodes[i].life != life {
                return Ok(()); // crashed while starting the next height
            }
        }
        Ok(())
    }

    /// Performs one action; a decision commits the block and starts the next height.
    fn apply_one(&mut self, i: usize, action: Action) -> Result<(), String> {
        if self.trace {
            match &action {
                Action::Broadcast(m) => {
                    eprintln!("{:>7} ms  node {i}: sends {}", self.now, short(m))
                }
                Action::PersistWal(_) => {}
                a => eprintln!("{:>7} ms  node {i}: {a:?}", self.now),
            }
        }
        match action {
            Action::RequestValue { height, round } => {
                let block = self.build(i, height, round);
                let (life, delay) = (self.nodes[i].life, self.rng.gen_range(0..=30));
                self.push(self.now + delay, Event::Value { node: i, life, height, round, block });
            }
            Action::PersistWal(entry) => self.persist(i, entry)?,
            Action::Broadcast(message) => {
                if self.audited(i) {
                    let id = Hash::of(&message);
                    if !self.nodes[i].persisted.contains(&id) {
                        return Err(format!("node {i} broadcast a message it never persisted"));
                    }
                }
                let id = Hash::of(&message);
                self.nodes[i].seen.insert(id);
                self.delivered[i].insert(id);
                self.remember(i, id, &message);
                if self.nodes[i].byzantine {
                    self.misbehave(i, message)?;
                } else {
                    let peers = self.peers(i);
                    self.broadcast(i, &message, &peers)?;
                }
            }
            Action::Relay(votes) => {
                // Others' votes (a re-proposal's proof of lock): like any received message, kept
                // for gossip. A Byzantine validator withholds them.
                if self.nodes[i].byzantine {
                    return Ok(());
                }
                let peers = self.peers(i);
                for vote in votes {
                    let message = Message::Vote(vote);
                    let id = Hash::of(&message);
                    self.nodes[i].seen.insert(id);
                    self.delivered[i].insert(id);
                    self.remember(i, id, &message);
                    for &j in &peers {
                        self.send(i, j, Packet::Consensus(message.clone()));
                    }
                }
            }
            Action::ScheduleTimeout { timeout, after_ms } => {
                let life = self.nodes[i].life;
                self.stats.max_round = self.stats.max_round.max(timeout.round);
                self.push(self.now + after_ms, Event::Timeout { node: i, life, timeout });
            }
            Action::Decide { height, round, block, commit } => {
                self.stats.max_round = self.stats.max_round.max(round);
                commit
                    .verify(CHAIN, height, &block, &self.set)
                    .map_err(|e| format!("node {i}'s commit for height {height} fails: {e}"))?;
                let current = self.nodes[i].height();
                if height < current {
                    // Synced from a peer before its own core got there: it must agree.
                    if self.nodes[i].chain[&height].0 != block {
                        return Err(format!("node {i} decided a block other than it synced"));
                    }
                    return Ok(());
                }
                if height > current {
                    return Err(format!("node {i} decided height {height} at {current}"));
                }
                self.maybe_isolate(i);
                // A commit with every validator's precommit leaves no late vote to wait for.
                let pause = if commit.signatures.len() == self.set.len() {
                    self.stats.full_commits += 1;
                    0
                } else {
                    COMMIT_PAUSE_MS
                };
                self.commit(i, height, block, commit, pause)?;
            }
            Action::AllPrecommits { height, commit } => {
                // Every validator's precommit is in: skip the rest of the commit pause (CometBFT's
                // skip of timeout_commit). The commit must name the decided block, with every
                // validator's signature.
                let block = commit.block;
                commit
                    .verify(CHAIN, height, &block, &self.set)
                    .map_err(|e| format!("node {i}'s full commit for {height} fails: {e}"))?;
                if commit.signatures.len() != self.set.len() {
                    return Err(format!("node {i} reported all precommits without all of them"));
                }
                let node = &self.nodes[i];
                if node.chain.get(&height).is_none_or(|(decided, _)| *decided != block) {
                    return Err(format!("node {i} reported all precommits for an undecided block"));
                }
                if node.height() == height + 1 {
                    self.stats.commit_pauses_skipped += 1;
                    let life = node.life;
                    self.push(self.now, Event::NextHeight { node: i, life });
                }
            }
            Action::Evidence(evidence) => {
                evidence.verify().map_err(|e| format!("node {i} reported bad evidence: {e}"))?;
                let offender = evidence.offender();
                let index = sim_keys().iter().position(|k| k.public() == offender);
                if !index.is_some_and(|x| self.nodes[x].byzantine) {
                    return Err(format!("node {i} accused honest validator {index:?}"));
                }
                self.stats.evidence += 1;
            }
        }
        Ok(())
    }

    fn persist(&mut self, i: usize, entry: WalEntry) -> Result<(), String> {
        self.audit_signed(i, &entry.message)?;
        let node = &mut self.nodes[i];
        let slot = slot_of(&entry.message);
        if node.last_persisted.is_some_and(|last| slot <= last) {
            return Err(format!(
                "node {i} signed at {slot:?}, not after its previous signature at {:?}",
                node.last_persisted
            ));
        }
        node.last_persisted = Some(slot);
        node.persisted.insert(Hash::of(&entry.message));
        node.wal.push(entry);
        Ok(())
    }

    /// Records a message signed by validator `i`; two different ones at one slot are a double sign.
    fn audit_signed(&mut self, i: usize, message: &Message) -> Result<(), String> {
        if !self.audited(i)
            || Some(message.signer()) != self.nodes[i].key.as_ref().map(|k| k.public())
        {
            return Ok(());
        }
        let (height, round, kind) = slot_of(message);
        let id = Hash::of(message);
        let first = *self.signed.entry((message.signer(), height, round, kind)).or_insert(id);
        if first != id {
            return Err(format!(
                "validator {i} double-signed at height {height}, round {round}, kind {kind}"
            ));
        }
        Ok(())
    }

    /// Commits a decided or synced block; the next height starts after `pause_ms`.
    fn commit(
        &mut self,
        i: usize,
        height: u64,
        block: BlockId,
        commit: Commit,
        pause_ms: u64,
    ) -> Result<(), String> {
        if self.nodes[i].honest() {
            let info = self.blocks.get(&block).ok_or("decided a block nobody built")?;
            if !info.valid || !info.proposed {
                return Err(format!("node {i} decided an invalid or unproposed block at {height}"));
            }
            let agreed = *self.decisions.entry(height).or_insert(block);
            if agreed != block {
                return Err(format!("agreement: two blocks decided at height {height}"));
            }
        }
        let node = &mut self.nodes[i];
        node.chain.insert(height, (block, commit));
        // The WAL is only needed until the height is committed.
        node.wal.retain(|e| e.height() > height);
        node.pool.retain(|&h, _| h > height);
        let life = node.life;
        self.push(self.now + pause_ms, Event::NextHeight { node: i, life });
        Ok(())
    }

    fn maybe_isolate(&mut self, i: usize) {
        if !self.sc.isolate_deciders || self.now >= self.sc.gst_ms || !self.rng.gen_bool(0.5) {
            return;
        }
        let until_ms = (self.now + self.rng.gen_range(200..=3_000)).min(self.sc.gst_ms);
        let side = (0..self.nodes.len()).map(|j| j == i).collect();
        self.sc.partitions.push(Partition { from_ms: self.now, until_ms, side });
    }

    fn start_next_height(&mut self, i: usize, life: u32) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let next = node.height();
        if node.life != life || node.core.as_ref().is_none_or(|c| c.height() >= next) {
            return Ok(()); // crashed meanwhile, or already started by an earlier event
        }
        let wal: Vec<WalEntry> = node.wal.iter().filter(|e| e.height() == next).cloned().collect();
        let actions =
            node.core.as_mut().expect("running").start_height(next, self.set.clone(), &wal);
        self.apply(i, actions)
    }

    fn build(&mut self, i: usize, height: u64, round: u32) -> BlockId {
        self.seq += 1;
        let block = Hash::of(&(self.sc.seed, height, round, i as u64, self.seq));
        let invalid_rate = if self.nodes[i].byzantine { 0.5 } else { self.sc.honest_invalid_rate };
        let valid = !self.rng.gen_bool(invalid_rate);
        if !valid {
            self.stats.invalid_blocks_built += 1;
        }
        self.blocks.insert(block, BlockInfo { valid, proposed: false });
        block
    }

    fn crash(&mut self, i: usize) {
        self.stats.crashes += 1;
        let down_ms = self.sc.crash.as_ref().map_or(1_000, |c| c.down_ms);
        let node = &mut self.nodes[i];
        node.core = None;
        node.life += 1;
        node.crash_armed = false;
        node.seen.clear();
        node.pool.clear();
        self.delivered[i].clear();
        self.push(self.now + down_ms, Event::Restart { node: i });
    }

    fn restart(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let height = node.height();
        let wal: Vec<WalEntry> =
            node.wal.iter().filter(|e| e.height() == height).cloned().collect();
        if !wal.is_empty() {
            self.stats.restores_with_wal += 1;
        }
        let mut core = Consensus::new(self.config.clone(), node.key.clone());
        let actions = core.start_height(height, self.set.clone(), &wal);
        node.core = Some(core);
        self.apply(i, actions)
    }

    // ---- Byzantine behaviour -------------------------------------------------------------------

    /// A Byzantine validator runs an honest core but mangles what it sends: it equivocates (one
    /// version to some peers, another to the rest), sends to only some peers, or stays silent; and
    /// now and then it votes in a future round.
    fn misbehave(&mut self, i: usize, message: Message) -> Result<(), String> {
        let mut peers = self.peers(i);
        peers.shuffle(&mut self.rng);
        if self.sc.splitters {
            return self.split(i, message, &peers);
        }
        match self.rng.gen_range(0..100) {
            0..=39 => self.broadcast(i, &message, &peers)?,
            40..=74 => {
                let other = self.conflicting(i, &message);
                self.stats.equivocations += 1;
                let half = self.rng.gen_range(0..=peers.len());
                self.broadcast(i, &message, &peers[..half])?;
                self.broadcast(i, &other, &peers[half..])?;
            }
            75..=89 => {
                let some = self.rng.gen_range(0..=peers.len());
                self.broadcast(i, &message, &peers[..some])?;
            }
            _ => {}
        }
        let key = self.nodes[i].key.clone().expect("validators have keys");
        if self.rng.gen_bool(0.05) {
            // A proposal for this round whether or not it is our turn.
            let (height, round) = (message.height(), message.round());
            let block = self.build(i, height, round);
            let proposer = key.public();
            let p = Proposal {
                chain_id: CHAIN.into(),
                height,
                round,
                pol_round: None,
                block,
                proposer,
            };
            self.broadcast(i, &Message::Proposal(p.sign(&key)), &peers)?;
        }
        if self.rng.gen_bool(0.1) {
            let vote = Vote {
                chain_id: CHAIN.into(),
                height: message.height(),
                round: message.round() + self.rng.gen_range(1..=3),
                kind: VoteKind::Prevote,
                block: None,
                validator: key.public(),
            }
            .sign(&key);
            self.broadcast(i, &Message::Vote(vote), &peers)?;
        }
        Ok(())
    }

    /// The coordinated attack locks exist for: vote for the round's proposal whatever our lock
    /// says, but only to some peers (nil to the others), with the precommit shown to fewer peers
    /// than the prevote, so that some honest validators decide a value, some only lock on it and
    /// the rest see nothing; and as proposer, offer a fresh value instead of the valid one.
    fn split(&mut self, i: usize, message: Message, peers: &[usize]) -> Result<(), String> {
        let key = self.nodes[i].key.clone().expect("validators have keys");
        let signed = match message {
            Message::Vote(signed) => signed,
            Message::Proposal(signed) => {
                let mut p = signed.proposal;
                if p.pol_round.is_some() && self.rng.gen_bool(0.5) {
                    p = Proposal { block: self.build(i, p.height, p.round), pol_round: None, ..p };
                }
                self.nodes[i].proposals_seen.entry((p.height, p.round)).or_insert(p.block);
                return self.broadcast(i, &Message::Proposal(p.sign(&key)), peers);
            }
        };
        let vote = &signed.vote;
        if !self.nodes[i].audiences.contains_key(&(vote.height, vote.round)) {
            let prevoters = self.rng.gen_range(1..=peers.len());
            let precommitters = self.rng.gen_range(1..=prevoters);
            let audience = (peers[..prevoters].to_vec(), peers[..precommitters].to_vec());
            self.nodes[i].audiences.insert((vote.height, vote.round), audience);
        }
        let (prevoters, precommitters) = &self.nodes[i].audiences[&(vote.height, vote.round)];
        let audience = match vote.kind {
            VoteKind::Prevote => prevoters.clone(),
            VoteKind::Precommit => precommitters.clone(),
        };
        let rest: Vec<usize> = peers.iter().copied().filter(|p| !audience.contains(p)).collect();
        let backed = self.nodes[i].proposals_seen.get(&(vote.height, vote.round)).copied();
        let yes = Vote { block: backed.or(vote.block), ..vote.clone() }.sign(&key);
        let nil = Vote { block: None, ..vote.clone() }.sign(&key);
        self.broadcast(i, &Message::Vote(yes), &audience)?;
        self.broadcast(i, &Message::Vote(nil), &rest)
    }

    fn conflicting(&mut self, i: usize, message: &Message) -> Message {
        let key = self.nodes[i].key.clone().expect("validators have keys");
        match message {
            Message::Vote(signed) => {
                // A vote for nil, or for a block id that no proposal ever carried.
                self.seq += 1;
                let block = match signed.vote.block {
                    Some(_) if self.rng.gen_bool(0.5) => None,
                    _ => Some(Hash::of(&("junk", self.sc.seed, self.seq))),
                };
                let vote = Vote { block, ..signed.vote.clone() }.sign(&key);
                Message::Vote(vote)
            }
            Message::Proposal(signed) => {
                let p = &signed.proposal;
                let block = self.build(i, p.height, p.round);
                Message::Proposal(Proposal { block, pol_round: None, ..p.clone() }.sign(&key))
            }
        }
    }
}

/// A message in one line, its signer by validator index.
fn short(m: &Message) -> String {
    let who = |k: &PublicKey| sim_keys().iter().position(|x| x.public() == *k).unwrap_or(99);
    match m {
        Message::Proposal(p) => format!(
            "PROPOSAL h{} r{} pol{:?} {:?} by {}",
            p.proposal.height,
            p.proposal.round,
            p.proposal.pol_round,
            p.proposal.block,
            who(&p.proposal.proposer)
        ),
        Message::Vote(v) => format!(
            "{:?} h{} r{} {:?} by {}",
            v.vote.kind,
            v.vote.height,
            v.vote.round,
            v.vote.block,
            who(&v.vote.validator)
        ),
    }
}

fn slot_of(message: &Message) -> (u64, u32, u8) {
    let kind = match message {
        Message::Proposal(_) => 0,
        Message::Vote(SignedVote { vote, .. }) => match vote.kind {
            VoteKind::Prevote => 1,
            VoteKind::Precommit => 2,
        },
    };
    (message.height(), message.round(), kind)
}

// ---- running seeds -----------------------------------------------------------------------------

fn run_seed(scenario: Scenario, trace: bool) -> Outcome {
    let seed = scenario.seed;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Sim::new(scenario, trace).run()))
        .unwrap_or_else(|panic| {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("seed {seed} panicked: {text}"))
        })
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("{name} must be a number, got {value:?}")))
}

/// Runs `seeds` in parallel on the available cores; returns the summed stats and the failures.
fn run_seeds(seeds: Vec<u64>, audit_byzantine: bool) -> (Stats, Vec<(u64, String)>) {
    let next = AtomicU64::new(0);
    let results = Mutex::new((Stats::default(), Vec::new()));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = seeds.get(index) else { break };
                let scenario = Scenario { audit_byzantine, ..Scenario::from_seed(seed) };
                let outcome = run_seed(scenario, false);
                let mut results = results.lock().unwrap();
                match outcome {
                    Ok(stats) => results.0.add(&stats),
                    Err(e) => results.1.push((seed, e)),
                }
            });
        }
    });
    let (stats, mut failures) = results.into_inner().unwrap();
    failures.sort();
    (stats, failures)
}

#[test]
fn simulated_networks_agree_and_make_progress() {
    if let Some(seed) = env_u64("KESSAI_SIM_SEED") {
        let trace = std::env::var("KESSAI_SIM_TRACE").is_ok_and(|v| v == "1");
        let scenario = Scenario::from_seed(seed);
        eprintln!("{scenario:#?}");
        match run_seed(scenario, trace) {
            Ok(stats) => eprintln!("seed {seed} passed: {stats:?}"),
            Err(e) => panic!("seed {seed} failed: {e}"),
        }
        return;
    }
    let count = env_u64("KESSAI_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let started = std::time::Instant::now();
    let (stats, failures) = run_seeds((0..count).collect(), false);
    eprintln!("{count} seeds in {:.1?}: {stats:?}", started.elapsed());
    for (seed, error) in failures.iter().take(20) {
        eprintln!("seed {seed} FAILED: {error}");
    }
    if let Some((seed, error)) = failures.first() {
        panic!(
            "{} of {count} seeds failed; first: seed {seed}: {error}\n\
             reproduce with: KESSAI_SIM_SEED={seed} cargo test -p kessai-consensus --test simulation",
            failures.len()
        );
    }
    // The runs must actually exercise what they claim to.
    if count >= 200 {
        assert!(stats.evidence > 0, "no equivocation was ever detected: {stats:?}");
        assert!(stats.restores_with_wal > 0, "no validator ever restarted from its WAL: {stats:?}");
        assert!(stats.crashes_between_persist_and_broadcast > 0, "{stats:?}");
        assert!(stats.syncs > 0, "no node ever fell behind: {stats:?}");
        assert!(stats.max_round >= 3, "no run needed several rounds: {stats:?}");
        assert!(stats.invalid_blocks_built > 0, "{stats:?}");
        assert!(
            stats.commit_pauses_skipped > 0,
            "no late precommit ever completed a set: {stats:?}"
        );
        assert!(stats.full_commits > 0, "no decision ever held every precommit: {stats:?}");
    }
}

/// The audit is not vacuous: counted as honest, the Byzantine validators are caught double-signing.
#[test]
fn the_audit_catches_double_signing() {
    let seeds: Vec<u64> =
        (0..200).filter(|&s| Scenario::from_seed(s).byzantine.contains(&true)).take(20).collect();
    let (_, failures) = run_seeds(seeds, true);
    assert!(
        failures.iter().any(|(_, e)| e.contains("double-signed")),
        "equivocating validators audited as honest went unnoticed: {failures:?}"
    );
}

/// Seed 1151 (six validators, one Byzantine, a crash), the one that stalled when the next height
/// started at once on all precommits: at height 2 the Byzantine validator showed its round-0
/// prevote to validator 2 alone, completing its polka; validator 2 locked, crashed, and came back
/// locked on a value nobody could prove (its WAL did not hold the prevotes); as round 4's proposer
/// it then waited for ever for its own proof of lock, with no propose timer, while the others'
/// four nil prevotes never made the quorum that starts a prevote timer. Kept as its own test
/// because the skip changes every later seed's timing.
#[test]
fn a_lock_only_a_crashed_validator_saw_does_not_stall_the_height() {
    let scenario = Scenario::from_seed(1151);
    assert_eq!(scenario.byzantine.iter().filter(|b| **b).count(), 1, "{scenario:?}");
    assert!(scenario.crash.is_some(), "{scenario:?}");
    let outcome = run_seed(scenario, false);
    assert!(outcome.as_ref().is_ok_and(|s| s.restores_with_wal > 0), "{outcome:?}");
}

/// Scenarios are a pure function of the seed, so a failing seed can be replayed.
#[test]
fn a_seed_replays_identically() {
    for seed in [3, 17] {
        let a = run_seed(Scenario::from_seed(seed), false);
        let b = run_seed(Scenario::from_seed(seed), false);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}
