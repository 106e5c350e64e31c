//! The Tendermint state machine of one node: [`Consensus`].
//!
//! Line numbers in comments ("line 22") refer to Algorithm 1 of "The latest gossip on BFT
//! consensus" (Buchman, Kwon, Milosevic, 2018).

use crate::config::Config;
use crate::types::{
    Action, ConsensusSigner, Input, Message, RoundValue, SignedKind, SignedSlot, Step, Timeout,
    WalEntry,
};
use crate::votes::{RoundVotes, MAX_VERSIONS_PER_VOTER};
use kessai_primitives::{
    BlockId, Commit, Evidence, Hash, Keypair, Proposal, PublicKey, SignedProposal, SignedVote,
    ValidatorSet, Vote, VoteKind,
};
use std::collections::{BTreeMap, BTreeSet};
use tracing::debug;

/// Votes and proposals for rounds more than this far ahead of ours are ignored. Every validator
/// can sign messages for any round; without a bound a faulty one could fill our memory. Honest
/// validators are never this far ahead: timeouts grow with the round, so 1024 rounds take days.
pub const MAX_ROUNDS_AHEAD: u32 = 1024;

/// How many inputs for the next height are kept until it starts; later ones are dropped.
pub const MAX_BUFFERED_INPUTS: usize = 4096;

/// How many distinct blocks' validity a height remembers. An equivocating proposer can propose many
/// blocks for one round; beyond this, its extra proposals are ignored.
const MAX_KNOWN_BLOCKS: usize = 1024;

/// The consensus state machine of one node. See the crate docs for the protocol between it and
/// the shell that drives it.
pub struct Consensus {
    config: Config,
    signer: Option<Box<dyn ConsensusSigner>>,
    /// The latest (height, round, kind) we signed in this process or found in a WAL: nothing at or
    /// before it is ever signed again.
    last_signed: Option<SignedSlot>,
    /// `None` until the first `start_height`.
    current: Option<HeightState>,
    next_height: BufferedInputs,
}

impl Consensus {
    /// `signer` None = a full node that follows but never signs. A signer that is not in a
    /// height's validator set also just follows that height.
    pub fn new(config: Config, signer: Option<Keypair>) -> Self {
        Consensus::with_signer(config, signer.map(|key| Box::new(key) as Box<dyn ConsensusSigner>))
    }

    /// [`Consensus::new`] with any [`ConsensusSigner`]: the node's signs through the key's
    /// signing state, or asks a remote signer. A signer that refuses leaves the core as if it
    /// were below its signing floor: it does not send or count that message, and moves on by
    /// timeouts.
    pub fn with_signer(config: Config, signer: Option<Box<dyn ConsensusSigner>>) -> Self {
        Consensus {
            config,
            signer,
            last_signed: None,
            current: None,
            next_height: BufferedInputs::default(),
        }
    }

    /// Replaces the signer (before the first `start_height`): the node's shell gives the core its
    /// signer through the key's signing state.
    pub fn set_signer(&mut self, signer: Option<Box<dyn ConsensusSigner>>) {
        self.signer = signer;
    }

    /// Never sign at or before (`height`, `round`, `kind`): the key's signing state, kept by the
    /// shell outside the WAL, says it signed there (in an earlier life of this node, whose WAL may
    /// be gone). The core then neither sends nor counts a vote of its own at those slots.
    pub fn never_sign_at_or_before(&mut self, height: u64, round: u32, kind: SignedKind) {
        let slot = SignedSlot { height, round, kind };
        if self.last_signed.is_none_or(|last| slot > last) {
            self.last_signed = Some(slot);
        }
    }

    /// Start (or jump to) a height with its validator set; restores from WAL entries written at
    /// this height if any. Entries of other heights and of other signers are not restored, but no
    /// message is ever signed at or before the latest slot found in any of our entries.
    /// Inputs for this height received while the previous one ran are replayed.
    pub fn start_height(
        &mut self,
        height: u64,
        validators: ValidatorSet,
        wal: &[WalEntry],
    ) -> Vec<Action> {
        let key = self.signer.as_ref().map(|s| s.public_key());
        let me = key.filter(|k| validators.get(k).is_some());
        // Restarting the current height without a process restart: what we signed is in memory.
        let mut entries = match self.current.take() {
            Some(old) if old.height == height => old.journal,
            _ => Vec::new(),
        };
        entries.extend(wal.iter().cloned());
        let mut seen = BTreeSet::new();
        entries.retain(|e| {
            Some(e.message.signer()) == key
                && e.message.chain_id() == self.config.chain_id
                && seen.insert(Hash::of(&e.message))
        });
        for entry in &entries {
            let slot = entry.message.slot();
            if self.last_signed.is_none_or(|last| slot > last) {
                self.last_signed = Some(slot);
            }
        }
        entries.retain(|e| e.height() == height);

        let buffered = self.next_height.take(height);
        let mut state = HeightState::new(height, validators, me);
        let mut ctx = Ctx {
            config: &self.config,
            key: self.signer.as_deref_mut(),
            last_signed: &mut self.last_signed,
            actions: Vec::new(),
        };
        if me.is_some() && !entries.is_empty() {
            state.restore(&mut ctx, entries);
        } else {
            state.start_round(&mut ctx, 0);
        }
        for input in buffered {
            state.dispatch(&mut ctx, input);
        }
        state.run_rules(&mut ctx);
        let actions = ctx.actions;
        self.current = Some(state);
        actions
    }

    /// Feeds one input and returns what the shell must do, in order. Before the first
    /// `start_height` every input is ignored.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let Some(state) = self.current.as_mut() else {
            return Vec::new();
        };
        if let Some((chain_id, height)) = message_origin(&input) {
            if chain_id != self.config.chain_id {
                debug!(chain_id, "ignoring a message of another chain");
                return Vec::new();
            }
            if height == state.height + 1 {
                self.next_height.push(height, input);
                return Vec::new();
            }
            if height != state.height {
                return Vec::new();
            }
        }
        if state.step == Step::Commit {
            // Decided: only the late precommits for the decided block still count, to tell the
            // shell when every validator's is in ([`Action::AllPrecommits`]).
            let mut ctx = Ctx {
                config: &self.config,
                key: self.signer.as_deref_mut(),
                last_signed: &mut self.last_signed,
                actions: Vec::new(),
            };
            state.on_late_precommit(&mut ctx, input);
            return ctx.actions;
        }
        let mut ctx = Ctx {
            config: &self.config,
            key: self.signer.as_deref_mut(),
            last_signed: &mut self.last_signed,
            actions: Vec::new(),
        };
        state.dispatch(&mut ctx, input);
        state.run_rules(&mut ctx);
        ctx.actions
    }

    /// The current height; 0 before the first `start_height`.
    pub fn height(&self) -> u64 {
        self.current.as_ref().map_or(0, |s| s.height)
    }

    /// The current round of the current height; 0 before the first `start_height`.
    pub fn round(&self) -> u32 {
        self.current.as_ref().map_or(0, |s| s.round)
    }

    /// The current step; `Propose` before the first `start_height`.
    pub fn step(&self) -> Step {
        self.current.as_ref().map_or(Step::Propose, |s| s.step)
    }

    /// The value we are locked on at this height, and the round of its polka.
    pub fn locked(&self) -> Option<RoundValue> {
        self.current.as_ref().and_then(|s| s.locked)
    }

    /// The latest value we saw a polka for at this height: what we re-propose as proposer.
    pub fn valid(&self) -> Option<RoundValue> {
        self.current.as_ref().and_then(|s| s.valid)
    }

    /// The validator set of the current height.
    pub fn validators(&self) -> Option<&ValidatorSet> {
        self.current.as_ref().map(|s| &s.validators)
    }
}

/// The chain id and height of a message input; `None` for timeouts and values.
fn message_origin(input: &Input) -> Option<(&str, u64)> {
    match input {
        Input::Proposal { proposal, .. } => {
            Some((&proposal.proposal.chain_id, proposal.proposal.height))
        }
        Input::Vote(vote) => Some((&vote.vote.chain_id, vote.vote.height)),
        Input::Timeout(_) | Input::ProposeValue { .. } => None,
    }
}

/// Messages for the next height that arrived before it started (other nodes decided first).
#[derive(Default)]
struct BufferedInputs {
    height: u64,
    inputs: Vec<Input>,
    seen: BTreeSet<Hash>,
}

impl BufferedInputs {
    fn push(&mut self, height: u64, input: Input) {
        if height != self.height {
            *self = BufferedInputs { height, ..BufferedInputs::default() };
        }
        if self.inputs.len() >= MAX_BUFFERED_INPUTS {
            debug!(height, "next-height buffer full; dropping a message");
            return;
        }
        let id = match &input {
            Input::Proposal { proposal, block_valid, timely } => {
                Hash::of(&(proposal, block_valid, timely))
            }
            Input::Vote(vote) => Hash::of(vote),
            Input::Timeout(_) | Input::ProposeValue { .. } => return,
        };
        if self.seen.insert(id) {
            self.inputs.push(input);
        }
    }

    /// The inputs buffered for `height`; the buffer is emptied either way.
    fn take(&mut self, height: u64) -> Vec<Input> {
        let buffered = std::mem::take(self);
        if buffered.height == height {
            buffered.inputs
        } else {
            Vec::new()
        }
    }
}

/// The shell's verdict on a proposal's block ([`Input::Proposal`]).
#[derive(Clone, Copy)]
struct Verdict {
    /// valid(v): the same for every honest validator.
    valid: bool,
    /// The block's time was acceptable to this validator's clock when the proposal arrived.
    timely: bool,
}

/// What the rules of one height need besides the height's own state.
struct Ctx<'a> {
    config: &'a Config,
    key: Option<&'a mut (dyn ConsensusSigner + 'static)>,
    last_signed: &'a mut Option<SignedSlot>,
    actions: Vec<Action>,
}

impl Ctx<'_> {
    fn may_sign(&self, slot: SignedSlot) -> bool {
        self.last_signed.is_none_or(|last| slot > last)
    }
}

/// The "for the first time" guards of the current round, reset by `start_round`.
#[derive(Default)]
struct RoundFlags {
    /// We asked the shell for a block and have not proposed yet.
    awaiting_value: bool,
    /// Line 36 ran in this round.
    polka_handled: bool,
    /// The propose timer of this round is set.
    propose_timeout_scheduled: bool,
    /// Line 34 ran in this round.
    prevote_timeout_scheduled: bool,
    /// Line 47 ran in this round.
    precommit_timeout_scheduled: bool,
}

/// Everything the core knows about the height it is deciding.
struct HeightState {
    height: u64,
    validators: ValidatorSet,
    /// Our key, when we have one and it is in this height's set: only then do we sign.
    me: Option<PublicKey>,
    round: u32,
    step: Step,
    locked: Option<RoundValue>,
    valid: Option<RoundValue>,
    /// The first proposal of each round from that round's proposer, and whether its block is valid
    /// and was timely when it arrived.
    proposals: BTreeMap<u32, (SignedProposal, Verdict)>,
    /// Validity (as judged by the shell) of every block proposed at this height by a legitimate
    /// proposer. A block is "known valid" when it is here with `true`.
    blocks: BTreeMap<BlockId, bool>,
    votes: BTreeMap<u32, RoundVotes>,
    /// What we signed at this height, by (round, kind): sent again instead of signing anew.
    signed: BTreeMap<(u32, SignedKind), Message>,
    /// The WAL entries of this height (restored and new), kept to survive a `start_height` of the
    /// same height.
    journal: Vec<WalEntry>,
    evidence_reported: BTreeSet<(PublicKey, u32, SignedKind)>,
    flags: RoundFlags,
    /// The decision (round, block), and whether [`Action::AllPrecommits`] was emitted for it.
    decided: Option<(u32, BlockId, bool)>,
}

impl HeightState {
    fn new(height: u64, validators: ValidatorSet, me: Option<PublicKey>) -> Self {
        HeightState {
            height,
            validators,
            me,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            proposals: BTreeMap::new(),
            blocks: BTreeMap::new(),
            votes: BTreeMap::new(),
            signed: BTreeMap::new(),
            journal: Vec::new(),
            evidence_reported: BTreeSet::new(),
            flags: RoundFlags::default(),
            decided: None,
        }
    }

    /// Rebuilds the state after a crash from what we signed at this height: our messages count
    /// again, the lock and valid value come back, and we resume in the round and step of our last
    /// signature, saying again what we said in that round.
    fn restore(&mut self, ctx: &mut Ctx, entries: Vec<WalEntry>) {
        for entry in &entries {
            let slot = entry.message.slot();
            self.signed.entry((slot.round, slot.kind)).or_insert_with(|| entry.message.clone());
            // Lock and valid value only move to later rounds within a height.
            self.locked = later(self.locked, entry.locked);
            self.valid = later(self.valid, entry.valid);
        }
        for message in self.signed.values() {
            match message {
                Message::Proposal(p) => {
                    // We only ever propose blocks the shell built or validated.
                    self.blocks.entry(p.proposal.block).or_insert(true);
                    let ours = Verdict { valid: true, timely: true };
                    self.proposals.entry(p.proposal.round).or_insert_with(|| (p.clone(), ours));
                }
                Message::Vote(v) => {
                    let round = self.votes.entry(v.vote.round).or_default();
                    if round.of_kind(v.vote.kind).first(&v.vote.validator).is_none() {
                        round.insert(v.clone(), self.validators.power_of(&v.vote.validator));
                    }
                }
            }
        }
        // The polkas behind our lock and valid value: we may be the only honest node that saw
        // them, and without them nobody (we included) could accept our re-proposal.
        for vote in entries.iter().flat_map(|e| e.proof.iter()) {
            self.on_vote(ctx, vote.clone());
        }
        self.journal = entries;
        let Some((&(round, kind), _)) = self.signed.last_key_value() else {
            return self.start_round(ctx, 0);
        };
        self.round = round;
        self.flags = RoundFlags::default();
        self.step = match kind {
            SignedKind::Proposal => Step::Propose,
            SignedKind::Prevote => Step::Prevote,
            SignedKind::Precommit => Step::Precommit,
        };
        // Peers may never have received these if we crashed right after persisting them.
        for message in self.signed.range((round, SignedKind::Proposal)..).map(|(_, m)| m) {
            ctx.actions.push(Action::Broadcast(message.clone()));
        }
        // In the propose step only if we proposed. Our own proposal usually moves us on, but a
        // re-proposal's proof of lock is not in the WAL (see `start_round`): keep a timer.
        if self.step == Step::Propose {
            self.schedule_propose_timeout(ctx);
        }
    }

    fn dispatch(&mut self, ctx: &mut Ctx, input: Input) {
        match input {
            Input::Proposal { proposal, block_valid, timely } => {
                self.on_proposal(proposal, Verdict { valid: block_valid, timely })
            }
            Input::Vote(vote) => self.on_vote(ctx, vote),
            Input::Timeout(timeout) => self.on_timeout(ctx, timeout),
            Input::ProposeValue { height, round, block } => {
                self.on_propose_value(ctx, height, round, block)
            }
        }
    }

    // ---- inputs -------------------------------------------------------------------------------

    fn on_proposal(&mut self, signed: SignedProposal, verdict: Verdict) {
        let p = &signed.proposal;
        if p.round > self.round.saturating_add(MAX_ROUNDS_AHEAD) {
            debug!(round = p.round, "ignoring a proposal too far ahead");
            return;
        }
        if self.validators.proposer(self.height, p.round).public_key != p.proposer {
            debug!(round = p.round, proposer = %p.proposer, "ignoring a proposal from a non-proposer");
            return;
        }
        if p.pol_round.is_some_and(|vr| vr >= p.round) {
            debug!(round = p.round, "ignoring a proposal whose proof-of-lock round is not earlier");
            return;
        }
        match self.proposals.get(&p.round) {
            Some((first, _)) if first.proposal == *p => {}
            Some(_) => {
                // The proposer equivocates. Its first proposal stays the round's proposal, but the
                // rest of the network may lock on or decide this block, so remember its validity.
                if self.blocks.len() < MAX_KNOWN_BLOCKS && signed.verify().is_ok() {
                    self.blocks.entry(p.block).or_insert(verdict.valid);
                }
            }
            None => {
                if signed.verify().is_err() {
                    debug!(round = p.round, "ignoring a proposal with a bad signature");
                    return;
                }
                self.blocks.entry(p.block).or_insert(verdict.valid);
                self.proposals.insert(p.round, (signed, verdict));
            }
        }
    }

    fn on_vote(&mut self, ctx: &mut Ctx, signed: SignedVote) {
        let vote = &signed.vote;
        let power = self.validators.power_of(&vote.validator);
        if power == 0 {
            debug!(validator = %vote.validator, "ignoring a vote from a non-validator");
            return;
        }
        if vote.round > self.round.saturating_add(MAX_ROUNDS_AHEAD) {
            debug!(round = vote.round, "ignoring a vote too far ahead");
            return;
        }
        let versions = self
            .votes
            .get(&vote.round)
            .map_or(&[][..], |r| r.of_kind(vote.kind).versions(&vote.validator));
        if versions.iter().any(|v| v.vote == *vote) {
            return; // a duplicate: already counted
        }
        if versions.len() >= MAX_VERSIONS_PER_VOTER {
            debug!(validator = %vote.validator, "ignoring yet another conflicting vote");
            return;
        }
        if signed.verify().is_err() {
            debug!(validator = %vote.validator, "ignoring a vote with a bad signature");
            return;
        }
        // A second, different vote: evidence (once), and it counts for its own value (see VoteSet).
        if let Some(first) = versions.first() {
            let offence = (vote.validator, vote.round, SignedKind::from(vote.kind));
            if self.evidence_reported.insert(offence) {
                let evidence =
                    Evidence::DuplicateVote { first: first.clone(), second: signed.clone() };
                ctx.actions.push(Action::Evidence(evidence));
            }
        }
        self.votes.entry(vote.round).or_default().insert(signed, power);
    }

    /// Lines 57, 61 and 65.
    fn on_timeout(&mut self, ctx: &mut Ctx, timeout: Timeout) {
        if timeout.height != self.height || timeout.round != self.round {
            return;
        }
        match timeout.step {
            Step::Propose if self.step == Step::Propose => {
                self.sign_vote(ctx, VoteKind::Prevote, None);
                self.step = Step::Prevote;
            }
            Step::Prevote if self.step == Step::Prevote => {
                self.sign_vote(ctx, VoteKind::Precommit, None);
                self.step = Step::Precommit;
            }
            Step::Precommit => {
                if let Some(next) = self.round.checked_add(1) {
                    self.start_round(ctx, next);
                }
            }
            _ => {}
        }
    }

    fn on_propose_value(&mut self, ctx: &mut Ctx, height: u64, round: u32, block: BlockId) {
        let expected = height == self.height && round == self.round && self.step == Step::Propose;
        if !expected || !self.flags.awaiting_value {
            debug!(height, round, "ignoring a value for a round we are not proposing in");
            return;
        }
        // A polka seen while the shell was building wins over the fresh block (line 16).
        match self.valid {
            Some(valid) => self.propose(ctx, valid.block, Some(valid.round)),
            None => self.propose(ctx, block, None),
        }
    }

    // ---- rules --------------------------------------------------------------------------------

    /// Applies the "upon" rules until none fires. Each firing changes the state so that it cannot
    /// fire again (a step moves on, a round starts, a first-time flag is set), so this ends.
    fn run_rules(&mut self, ctx: &mut Ctx) {
        while self.step != Step::Commit && self.apply_one_rule(ctx) {}
    }

    fn apply_one_rule(&mut self, ctx: &mut Ctx) -> bool {
        self.decide_on_precommit_quorum(ctx)
            || self.skip_to_future_round(ctx)
            || self.prevote_on_proposal(ctx)
            || self.precommit_on_polka(ctx)
            || self.precommit_nil_on_nil_polka(ctx)
            || self.schedule_prevote_timeout(ctx)
            || self.schedule_precommit_timeout(ctx)
    }

    /// Line 49: +2/3 precommits for a block in any round, and the block is known valid. (The paper
    /// asks for the round's proposal; what matters is that we have the block and it is valid, and
    /// we accept it from any proposal at this height. Agreement rests on the precommit quorum.)
    fn decide_on_precommit_quorum(&mut self, ctx: &mut Ctx) -> bool {
        let decided = self.votes.iter().find_map(|(&round, votes)| {
            votes
                .precommits
                .blocks()
                .find(|&(block, power)| self.validators.is_quorum(power) && self.is_valid(block))
                .map(|(block, _)| (round, block))
        });
        let Some((round, block)) = decided else {
            return false;
        };
        let signatures = self.votes[&round].precommits.signatures_for(block);
        let commit = Commit { height: self.height, round, block, signatures };
        self.step = Step::Commit;
        // A commit that already holds every validator's precommit says so itself.
        let complete = self.is_complete(round, block);
        self.decided = Some((round, block, complete));
        ctx.actions.push(Action::Decide { height: self.height, round, block, commit });
        true
    }

    /// Precommits of the whole set's power are in for `block` in `round`.
    fn is_complete(&self, round: u32, block: BlockId) -> bool {
        let power = self.votes.get(&round).map_or(0, |v| v.precommits.power_for(Some(block)));
        power >= self.validators.total_power()
    }

    /// After the decision: a precommit for the decided block in the decided round is still
    /// counted (checked like any vote); everything else is ignored.
    fn on_late_precommit(&mut self, ctx: &mut Ctx, input: Input) {
        let (Some((round, block, false)), Input::Vote(vote)) = (self.decided, &input) else {
            return;
        };
        let v = &vote.vote;
        if v.kind == VoteKind::Precommit && v.round == round && v.block == Some(block) {
            self.dispatch(ctx, input);
            self.report_all_precommits(ctx);
        }
    }

    /// [`Action::AllPrecommits`], once, when precommits of the whole set's power are in for the
    /// decided block: no late vote is left to wait for.
    fn report_all_precommits(&mut self, ctx: &mut Ctx) {
        let Some((round, block, false)) = self.decided else {
            return;
        };
        if self.is_complete(round, block) {
            self.decided = Some((round, block, true));
            let signatures = self.votes[&round].precommits.signatures_for(block);
            let commit = Commit { height: self.height, round, block, signatures };
            ctx.actions.push(Action::AllPrecommits { height: self.height, commit });
        }
    }

    /// Line 55: messages from more than a third of the power in a later round mean at least one
    /// honest validator is there: join it (the highest such round).
    fn skip_to_future_round(&mut self, ctx: &mut Ctx) -> bool {
        let Some(next) = self.round.checked_add(1) else {
            return false;
        };
        let target = self
            .votes
            .range(next..)
            .rev()
            .find(|(_, votes)| self.validators.is_one_third(votes.voters_power()))
            .map(|(&round, _)| round);
        match target {
            Some(round) => {
                self.start_round(ctx, round);
                true
            }
            None => false,
        }
    }

    /// Lines 22 and 28: prevote on the round's proposal.
    fn prevote_on_proposal(&mut self, ctx: &mut Ctx) -> bool {
        if self.step != Step::Propose {
            return false;
        }
        let Some((signed, verdict)) = self.proposals.get(&self.round) else {
            return false;
        };
        let (block, block_valid) = (signed.proposal.block, verdict.valid);
        let acceptable = match signed.proposal.pol_round {
            // Line 22: a fresh value; acceptable if timely and we are not locked on another.
            // (Proposer-based timestamps: a re-proposed value keeps its first round's time, so
            // only a fresh one is held to our clock.)
            None => verdict.timely && self.locked.is_none_or(|lock| lock.block == block),
            // Line 28: a re-proposed value; wait for its proof of lock (or the propose timeout).
            // Acceptable if we locked no later than that polka, or on this very value.
            Some(pol_round) => {
                if !self.has_polka(pol_round, block) {
                    return false;
                }
                self.locked.is_none_or(|lock| lock.round <= pol_round || lock.block == block)
            }
        };
        let choice = (block_valid && acceptable).then_some(block);
        self.sign_vote(ctx, VoteKind::Prevote, choice);
        self.step = Step::Prevote;
        true
    }

    /// Line 36: a polka for a valid block in this round. In the prevote step we lock on it and
    /// precommit it; in any later step we only remember it as the valid value.
    fn precommit_on_polka(&mut self, ctx: &mut Ctx) -> bool {
        if self.flags.polka_handled || !matches!(self.step, Step::Prevote | Step::Precommit) {
            return false;
        }
        let Some(votes) = self.votes.get(&self.round) else {
            return false;
        };
        let polka = votes
            .prevotes
            .blocks()
            .find(|&(block, power)| self.validators.is_quorum(power) && self.is_valid(block));
        let Some((block, _)) = polka else {
            return false;
        };
        self.flags.polka_handled = true;
        let value = RoundValue { block, round: self.round };
        self.valid = Some(value);
        if self.step == Step::Prevote {
            self.locked = Some(value);
            self.sign_vote(ctx, VoteKind::Precommit, Some(block));
            self.step = Step::Precommit;
        }
        true
    }

    /// Line 44: +2/3 prevotes for nil.
    fn precommit_nil_on_nil_polka(&mut self, ctx: &mut Ctx) -> bool {
        if self.step != Step::Prevote {
            return false;
        }
        let nil_power = self.votes.get(&self.round).map_or(0, |v| v.prevotes.power_for(None));
        if !self.validators.is_quorum(nil_power) {
            return false;
        }
        self.sign_vote(ctx, VoteKind::Precommit, None);
        self.step = Step::Precommit;
        true
    }

    /// Line 34: +2/3 prevotes for anything; give the round a little longer to agree.
    fn schedule_prevote_timeout(&mut self, ctx: &mut Ctx) -> bool {
        if self.step != Step::Prevote || self.flags.prevote_timeout_scheduled {
            return false;
        }
        let power = self.votes.get(&self.round).map_or(0, |v| v.prevotes.total_power());
        if !self.validators.is_quorum(power) {
            return false;
        }
        self.flags.prevote_timeout_scheduled = true;
        self.schedule(ctx, Step::Prevote);
        true
    }

    /// Line 47: +2/3 precommits for anything; if they do not converge, the next round follows.
    fn schedule_precommit_timeout(&mut self, ctx: &mut Ctx) -> bool {
        if self.flags.precommit_timeout_scheduled {
            return false;
        }
        let power = self.votes.get(&self.round).map_or(0, |v| v.precommits.total_power());
        if !self.validators.is_quorum(power) {
            return false;
        }
        self.flags.precommit_timeout_scheduled = true;
        self.schedule(ctx, Step::Precommit);
        true
    }

    // ---- actions ------------------------------------------------------------------------------

    /// Line 11: StartRound. The proposer re-proposes its valid value or asks the shell for a block;
    /// everyone else waits for the proposal, at most the propose timeout.
    fn start_round(&mut self, ctx: &mut Ctx, round: u32) {
        self.round = round;
        self.step = Step::Propose;
        self.flags = RoundFlags::default();
        let our_turn =
            self.me.is_some_and(|me| self.validators.proposer(self.height, round).public_key == me);
        if our_turn {
            match self.valid {
                Some(valid) => self.propose(ctx, valid.block, Some(valid.round)),
                None => {
                    self.flags.awaiting_value = true;
                    ctx.actions.push(Action::RequestValue { height: self.height, round });
                }
            }
        }
        // Only a proposer that is building sets no propose timer, so that the shell's build time
        // is not cut short. Unlike the paper, a proposer that proposed sets one too: its own
        // proposal normally moves it on at once (the timer is then stale), but not a re-proposal
        // whose proof of lock it no longer holds. After a crash the WAL restores our lock and
        // valid value, not the prevotes that made them; if a Byzantine validator showed its
        // prevote to us alone, nobody can show them to us again. Without a timer we would wait
        // for ever in the propose step, and the others, missing our prevote, might never see +2/3
        // prevotes to time out on (the simulation's seed 1151 with the skip of timeout_commit).
        if !self.flags.awaiting_value {
            self.schedule_propose_timeout(ctx);
        }
    }

    /// Sets the propose timer of this round, once.
    fn schedule_propose_timeout(&mut self, ctx: &mut Ctx) {
        if !self.flags.propose_timeout_scheduled {
            self.flags.propose_timeout_scheduled = true;
            self.schedule(ctx, Step::Propose);
        }
    }

    fn propose(&mut self, ctx: &mut Ctx, block: BlockId, pol_round: Option<u32>) {
        self.flags.awaiting_value = false;
        let Some(me) = self.me.filter(|_| ctx.key.is_some()) else {
            return;
        };
        if let Some(earlier) = self.signed.get(&(self.round, SignedKind::Proposal)) {
            ctx.actions.push(Action::Broadcast(earlier.clone()));
            if let Message::Proposal(p) = earlier {
                self.relay_proof_of_lock(ctx, p.proposal.block, p.proposal.pol_round);
            }
            return;
        }
        let slot =
            SignedSlot { height: self.height, round: self.round, kind: SignedKind::Proposal };
        if !ctx.may_sign(slot) {
            debug!(?slot, "not proposing: we already signed a later message");
            // A proposer that was building set no propose timer (`start_round`); without its
            // proposal nothing would end the round for it, and a validator alone (or one whose
            // peers are all waiting for it) would wait there for ever.
            self.schedule_propose_timeout(ctx);
            return;
        }
        let proposal = Proposal {
            chain_id: ctx.config.chain_id.clone(),
            height: self.height,
            round: self.round,
            pol_round,
            block,
            proposer: me,
        };
        let Some(proposal) = ctx.key.as_deref_mut().and_then(|s| s.sign_proposal(proposal)) else {
            debug!(?slot, "not proposing: the signer refused");
            self.schedule_propose_timeout(ctx);
            return;
        };
        self.record_signed(ctx, Message::Proposal(proposal.clone()));
        self.relay_proof_of_lock(ctx, block, pol_round);
        self.blocks.entry(block).or_insert(true);
        // Our own block is timely to us: we gave it its time.
        self.proposals
            .entry(self.round)
            .or_insert((proposal, Verdict { valid: true, timely: true }));
    }

    /// After a re-proposal: the prevotes of its `pol_round` go with it ([`Action::Relay`]), so
    /// that every honest validator can check its proof of lock (line 28), not only those the
    /// polka's voters happened to reach.
    fn relay_proof_of_lock(&self, ctx: &mut Ctx, block: BlockId, pol_round: Option<u32>) {
        // Without the whole polka (a WAL written before entries held it) we have nothing to prove.
        match pol_round {
            Some(round) if self.has_polka(round, block) => {
                ctx.actions.push(Action::Relay(self.polka_votes(RoundValue { block, round })));
            }
            _ => {}
        }
    }

    /// Signs (or, if we already did at this slot, re-sends) our vote and counts it.
    fn sign_vote(&mut self, ctx: &mut Ctx, kind: VoteKind, block: Option<BlockId>) {
        let Some(me) = self.me.filter(|_| ctx.key.is_some()) else {
            return;
        };
        let round = self.round;
        if let Some(earlier) = self.signed.get(&(round, SignedKind::from(kind))) {
            ctx.actions.push(Action::Broadcast(earlier.clone()));
            return;
        }
        // A vote of ours we did not sign in this process nor find in the WAL (a lost WAL, or our
        // key in use elsewhere): repeating it is the only thing that does not make it worse.
        if let Some(earlier) = self.votes.get(&round).and_then(|v| v.of_kind(kind).first(&me)) {
            ctx.actions.push(Action::Broadcast(Message::Vote(earlier.clone())));
            return;
        }
        let slot = SignedSlot { height: self.height, round, kind: SignedKind::from(kind) };
        if !ctx.may_sign(slot) {
            debug!(?slot, "not voting: we already signed a later message");
            self.run_out_without_our_vote(ctx, kind);
            return;
        }
        let vote = Vote {
            chain_id: ctx.config.chain_id.clone(),
            height: self.height,
            round,
            kind,
            block,
            validator: me,
        };
        let Some(vote) = ctx.key.as_deref_mut().and_then(|s| s.sign_vote(vote)) else {
            debug!(?slot, "not voting: the signer refused");
            self.run_out_without_our_vote(ctx, kind);
            return;
        };
        self.record_signed(ctx, Message::Vote(vote.clone()));
        let power = self.validators.power_of(&me);
        self.votes.entry(round).or_default().insert(vote, power);
    }

    /// Our vote of `kind` may not be signed (below the signing floor): the step ends on its
    /// timer alone, as if the quorum that normally starts it had been seen. Without our vote
    /// that quorum may never come — always so for a validator alone — and the round would never
    /// end. Moving on by timeouts changes when we leave a round, never what we sign: safe.
    fn run_out_without_our_vote(&mut self, ctx: &mut Ctx, kind: VoteKind) {
        match kind {
            VoteKind::Prevote if !self.flags.prevote_timeout_scheduled => {
                self.flags.prevote_timeout_scheduled = true;
                self.schedule(ctx, Step::Prevote);
            }
            VoteKind::Precommit if !self.flags.precommit_timeout_scheduled => {
                self.flags.precommit_timeout_scheduled = true;
                self.schedule(ctx, Step::Precommit);
            }
            _ => {}
        }
    }

    /// The WAL contract: persist, then broadcast.
    fn record_signed(&mut self, ctx: &mut Ctx, message: Message) {
        let slot = message.slot();
        let proof = self.valid.map_or_else(Vec::new, |v| self.polka_votes(v));
        let entry =
            WalEntry { message: message.clone(), locked: self.locked, valid: self.valid, proof };
        self.journal.push(entry.clone());
        ctx.actions.push(Action::PersistWal(entry));
        ctx.actions.push(Action::Broadcast(message.clone()));
        self.signed.insert((slot.round, slot.kind), message);
        *ctx.last_signed = Some(slot);
    }

    fn schedule(&self, ctx: &mut Ctx, step: Step) {
        let timeout = Timeout { height: self.height, round: self.round, step };
        let after_ms = ctx.config.timeouts.duration_ms(step, self.round);
        ctx.actions.push(Action::ScheduleTimeout { timeout, after_ms });
    }

    // ---- queries ------------------------------------------------------------------------------

    fn is_valid(&self, block: BlockId) -> bool {
        self.blocks.get(&block) == Some(&true)
    }

    /// The prevotes for `value` in its round that we hold: its proof of lock.
    fn polka_votes(&self, value: RoundValue) -> Vec<SignedVote> {
        self.votes
            .get(&value.round)
            .map_or_else(Vec::new, |v| v.prevotes.votes_for(Some(value.block)))
    }

    fn has_polka(&self, round: u32, block: BlockId) -> bool {
        self.votes
            .get(&round)
            .is_some_and(|v| self.validators.is_quorum(v.prevotes.power_for(Some(block))))
    }
}

/// The value of the later round of two.
fn later(a: Option<RoundValue>, b: Option<RoundValue>) -> Option<RoundValue> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.round > x.round { y } else { x }),
        (x, y) => x.or(y),
    }
}
