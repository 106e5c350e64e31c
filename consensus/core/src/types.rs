//! What goes into the core ([`Input`]), what comes out ([`Action`]), and what the shell keeps in
//! its write-ahead log ([`WalEntry`]).

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::{
    BlockId, Commit, Evidence, Keypair, Proposal, PublicKey, SignatureError, SignedProposal,
    SignedVote, Vote, VoteKind,
};

/// Where the core is within a round. Ordered: `Propose < Prevote < Precommit < Commit`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Step {
    /// Waiting for the round's proposal (or, as proposer, for the shell's block).
    Propose,
    /// Prevoted; waiting for +2/3 prevotes.
    Prevote,
    /// Precommitted; waiting for +2/3 precommits.
    Precommit,
    /// The height is decided; waiting for the shell to call `start_height` for the next one.
    Commit,
}

/// A timer the shell runs for the core: after `after_ms` of [`Action::ScheduleTimeout`] it feeds
/// [`Input::Timeout`] back. Stale timeouts (another height, round or step) are ignored, so the shell
/// never needs to cancel one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Timeout {
    /// Height the timer was scheduled in.
    pub height: u64,
    /// Round the timer was scheduled in.
    pub round: u32,
    /// Step whose wait it ends.
    pub step: Step,
}

/// A consensus message as it travels between nodes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Message {
    /// A proposer's signed proposal of a block for a (height, round).
    Proposal(SignedProposal),
    /// A validator's signed prevote or precommit.
    Vote(SignedVote),
}

impl Message {
    /// The chain the message was signed for.
    pub fn chain_id(&self) -> &str {
        match self {
            Message::Proposal(p) => &p.proposal.chain_id,
            Message::Vote(v) => &v.vote.chain_id,
        }
    }

    /// The height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            Message::Proposal(p) => p.proposal.height,
            Message::Vote(v) => v.vote.height,
        }
    }

    /// The round of that height the message is about.
    pub fn round(&self) -> u32 {
        match self {
            Message::Proposal(p) => p.proposal.round,
            Message::Vote(v) => v.vote.round,
        }
    }

    /// The block the message proposes or votes for (`None` for a nil vote).
    pub fn block(&self) -> Option<BlockId> {
        match self {
            Message::Proposal(p) => Some(p.proposal.block),
            Message::Vote(v) => v.vote.block,
        }
    }

    /// The validator that signed the message.
    pub fn signer(&self) -> PublicKey {
        match self {
            Message::Proposal(p) => p.proposal.proposer,
            Message::Vote(v) => v.vote.validator,
        }
    }

    /// Checks the signer's signature over the message (ZIP-215, under the message's domain tag);
    /// says nothing of whether the signer is a validator.
    pub fn verify(&self) -> Result<(), SignatureError> {
        match self {
            Message::Proposal(p) => p.verify(),
            Message::Vote(v) => v.verify(),
        }
    }

    /// Which of a validator's (at most) three signatures of a round this is.
    pub(crate) fn slot(&self) -> SignedSlot {
        let kind = match self {
            Message::Proposal(_) => SignedKind::Proposal,
            Message::Vote(v) => SignedKind::from(v.vote.kind),
        };
        SignedSlot { height: self.height(), round: self.round(), kind }
    }
}

/// Everything the shell tells the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A proposal whose block body the shell has already received and validated (executed);
    /// `block_valid` is the result of valid(v), `timely` whether the block's time is acceptable to
    /// this validator's clock now. The shell must not pass a proposal before it has the body: the
    /// core treats the block as available from then on (it may prevote, lock and decide it).
    Proposal {
        /// The signed proposal.
        proposal: SignedProposal,
        /// Whether the proposed block executed and passed every validity check. Validity does not
        /// depend on the validator's clock: it is the same for every honest validator.
        block_valid: bool,
        /// Whether the block's time is not too far ahead of this validator's clock. Only a fresh
        /// proposal (no proof-of-lock round) needs it to be prevoted for (line 22); locking,
        /// re-proposals and deciding go by `block_valid` alone, as in CometBFT's proposer-based
        /// timestamps.
        timely: bool,
    },
    /// A vote from the network. Our own votes need not be fed back: the core counts them itself.
    Vote(SignedVote),
    /// A timer scheduled by [`Action::ScheduleTimeout`] expired.
    Timeout(Timeout),
    /// The shell's answer to [`Action::RequestValue`]: the id of a block it built for (height, round).
    /// Ignored when the core has moved on (another round, or it already prevoted).
    ProposeValue {
        /// Height of the [`Action::RequestValue`] answered.
        height: u64,
        /// Round of the [`Action::RequestValue`] answered.
        round: u32,
        /// Id of the block the shell built.
        block: BlockId,
    },
}

/// Everything the core asks the shell to do, in the order it must be done.
#[derive(Clone, Debug, PartialEq, Eq)]
// `Evidence` carries two signed votes; boxing it would only cost an allocation per rare event.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// We are the proposer and have no valid value: the shell must build a block and answer with
    /// [`Input::ProposeValue`]. If it takes longer than the propose timeout, the round moves on.
    RequestValue {
        /// Height to build a block for.
        height: u64,
        /// Round the block is proposed in.
        round: u32,
    },
    /// Durably record this before executing any later action (double-sign guard). Emitted
    /// immediately before the [`Action::Broadcast`] of every message the core newly signs.
    PersistWal(WalEntry),
    /// Send our own signed proposal or vote to every peer (for a proposal, with its block body).
    Broadcast(Message),
    /// Send these votes of other validators to every peer: the proof of lock (+2/3 prevotes in
    /// its `pol_round`) of the re-proposal just broadcast. A peer that never received them (a
    /// Byzantine validator may have shown its prevote to us alone, or they reached us before a
    /// crash and come from our WAL) could otherwise never accept the re-proposal. Nothing to
    /// persist: they are not ours.
    Relay(Vec<SignedVote>),
    /// Feed `Input::Timeout(timeout)` back after `after_ms` milliseconds.
    ScheduleTimeout {
        /// What to feed back.
        timeout: Timeout,
        /// Delay, milliseconds.
        after_ms: u64,
    },
    /// The block is final. `commit` has > 2/3 precommit signatures from the height's validator set
    /// and verifies with [`Commit::verify`]. The core then stays in [`Step::Commit`] until the shell
    /// calls `start_height` for the next height.
    Decide {
        /// The decided height.
        height: u64,
        /// The round in which it was decided.
        round: u32,
        /// Id of the decided block.
        block: BlockId,
        /// The precommits that decide it.
        commit: Commit,
    },
    /// After [`Action::Decide`], the last missing precommit for the decided block arrived: every
    /// validator of the height has precommitted it. No late vote is left to wait for, so the shell
    /// may start the next height without waiting out the rest of its commit pause (CometBFT's skip
    /// of `timeout_commit`). Emitted at most once per height; not at all when the decision's own
    /// commit already held every validator's precommit (the shell sees that from the commit).
    /// `commit` holds all the precommits.
    AllPrecommits {
        /// The decided height.
        height: u64,
        /// The decided block's precommits, from every validator.
        commit: Commit,
    },
    /// A validator signed two different votes for the same (height, round, kind). Reported once per
    /// (validator, round, kind), with the first vote received and the first conflicting one.
    Evidence(Evidence),
}

/// A value together with the round in which the core saw +2/3 prevotes for it: the paper's
/// lockedValue/lockedRound and validValue/validRound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct RoundValue {
    /// The block that got +2/3 prevotes.
    pub block: BlockId,
    /// The round in which it got them.
    pub round: u32,
}

/// One record of the consensus write-ahead log: a message the core signed, with the lock and
/// valid value at the moment it signed it. Enough to restore, after a crash at any point, a core
/// that never contradicts what it already said (see the crate docs, "The WAL contract"), and
/// that can still prove its valid value (`proof`).
///
/// Encoding: borsh of the fields in order. Entries written before `proof` existed end after
/// `valid`; they decode with an empty proof.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize)]
pub struct WalEntry {
    /// The message the core signed.
    pub message: Message,
    /// The locked value (lockedValue/lockedRound) when it signed, if any.
    pub locked: Option<RoundValue>,
    /// The valid value (validValue/validRound) when it signed, if any.
    pub valid: Option<RoundValue>,
    /// The +2/3 prevotes for `valid` in its round that the core held when it signed (empty
    /// without a valid value). Without them a validator locked on a value whose polka it alone
    /// saw (a Byzantine validator showed its prevote to it alone) would, after a crash, be locked
    /// on a value nobody can prove; when every honest vote is needed for a quorum the height
    /// stalls (`docs/decisions/0024-proof-of-lock-in-wal-and-re-proposals.md`).
    pub proof: Vec<SignedVote>,
}

impl BorshDeserialize for WalEntry {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let message = Message::deserialize_reader(reader)?;
        let locked = Option::<RoundValue>::deserialize_reader(reader)?;
        let valid = Option::<RoundValue>::deserialize_reader(reader)?;
        // An entry of the format before `proof` ends here.
        let mut first = [0u8; 1];
        if reader.read(&mut first)? == 0 {
            return Ok(WalEntry { message, locked, valid, proof: Vec::new() });
        }
        let mut rest = [0u8; 3];
        reader.read_exact(&mut rest)?;
        let len = u32::from_le_bytes([first[0], rest[0], rest[1], rest[2]]);
        // No allocation sized by the length read: a torn record must not cost memory.
        let mut proof = Vec::new();
        for _ in 0..len {
            proof.push(SignedVote::deserialize_reader(reader)?);
        }
        Ok(WalEntry { message, locked, valid, proof })
    }
}

impl WalEntry {
    /// The height of the recorded message.
    pub fn height(&self) -> u64 {
        self.message.height()
    }
}

/// The kinds of message a validator signs in a round, in the order it signs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignedKind {
    /// A proposal (signed first in a round, by its proposer).
    Proposal,
    /// A prevote.
    Prevote,
    /// A precommit.
    Precommit,
}

impl From<VoteKind> for SignedKind {
    fn from(kind: VoteKind) -> Self {
        match kind {
            VoteKind::Prevote => SignedKind::Prevote,
            VoteKind::Precommit => SignedKind::Precommit,
        }
    }
}

/// Position of a signed message in a validator's history. Ordered lexicographically by (height,
/// round, kind): the core only ever signs at a slot after the last one it signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SignedSlot {
    pub height: u64,
    pub round: u32,
    pub kind: SignedKind,
}

/// What signs the core's proposals and votes: its key in memory ([`Keypair`]), or the node's
/// signer, which records each signature in the key's signing state first (or asks a remote
/// signer that does) and refuses what would conflict with an earlier one. `None` is a refusal:
/// the core neither sends nor counts that message.
pub trait ConsensusSigner: Send {
    /// The validator key the signatures are made with.
    fn public_key(&self) -> PublicKey;
    /// Signs `proposal`, or refuses.
    fn sign_proposal(&mut self, proposal: Proposal) -> Option<SignedProposal>;
    /// Signs `vote`, or refuses.
    fn sign_vote(&mut self, vote: Vote) -> Option<SignedVote>;
}

impl ConsensusSigner for Keypair {
    fn public_key(&self) -> PublicKey {
        self.public()
    }
    fn sign_proposal(&mut self, proposal: Proposal) -> Option<SignedProposal> {
        Some(proposal.sign(self))
    }
    fn sign_vote(&mut self, vote: Vote) -> Option<SignedVote> {
        Some(vote.sign(self))
    }
}
