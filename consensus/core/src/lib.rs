//! Pure Tendermint consensus state machine: messages and timeouts in, actions out; no I/O, no clock.
//!
//! This crate implements Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
//! Milosevic, 2018) for one node: propose / prevote / precommit rounds with locking
//! (lockedValue/lockedRound), valid values (validValue/validRound) re-proposed with a proof-of-lock
//! round, the f+1 round skip, timeouts that grow with the round, and commit certificates. Voting
//! power is weighted: "2f+1" means more than two thirds of the set's power
//! ([`ValidatorSet::is_quorum`](kessai_primitives::ValidatorSet::is_quorum)), "f+1" more than one
//! third ([`is_one_third`](kessai_primitives::ValidatorSet::is_one_third)).
//!
//! [`Consensus`] does no I/O, reads no clock, starts no thread and draws no random number. A
//! *shell* (the node's consensus task, or the simulation in `tests/simulation.rs`) owns the network,
//! the timers, the block store and the WAL, and drives the core:
//!
//! ```text
//!   shell ──Input──▶ Consensus::handle ──Vec<Action>──▶ shell performs each action, in order
//! ```
//!
//! # Driving the core
//!
//! 1. `Consensus::new(config, Some(key))` for a validator, `None` for a full node (it follows and
//!    decides, but never signs).
//! 2. `start_height(h, validators_of_h, &wal_entries_of_h)`: with an empty WAL this starts round 0;
//!    otherwise it restores what we signed before a crash (see below). Messages of height `h` that
//!    arrived while `h - 1` was still running are replayed here.
//! 3. Feed every [`Input`] to [`Consensus::handle`] and perform the returned actions in order.
//! 4. On [`Action::Decide`], commit the block, then call `start_height(h + 1, ..)` (after a pause
//!    if you like: messages for `h + 1` are buffered meanwhile). Until then the core ignores inputs
//!    for `h` except late precommits for the decided block: when they complete the set it emits
//!    [`Action::AllPrecommits`], and the shell may cut the pause short (as it may when the
//!    decision's commit already holds every validator's precommit).
//!
//! The shell may also jump: when block sync shows that heights up to `h'` are committed, call
//! `start_height(h' + 1, ..)`. Messages for older heights are ignored; messages for the height after
//! the current one are buffered (at most [`MAX_BUFFERED_INPUTS`]); messages further ahead are
//! ignored, so it is the shell's job to notice it is behind and sync.
//!
//! ## Inputs
//!
//! * [`Input::Proposal`] – a proposal *and* the verdict on its block: pass it only once the block
//!   body has arrived and been checked (executed), with `block_valid` = valid(v) and `timely` =
//!   whether the block's time is acceptable to this validator's clock. The core checks the
//!   signature, the chain id and that the signer is the round's proposer
//!   ([`ValidatorSet::proposer`](kessai_primitives::ValidatorSet::proposer)).
//! * [`Input::Vote`] – a prevote or precommit from the network. The core checks the signature, the
//!   chain id and membership, and drops duplicates. A second, different vote of one validator for one
//!   (round, kind) yields [`Action::Evidence`] (once); see "Where this differs" for how it counts.
//! * [`Input::Timeout`] – a timer set by [`Action::ScheduleTimeout`] fired. Stale timers are ignored,
//!   so they never need cancelling.
//! * [`Input::ProposeValue`] – the block the shell built after [`Action::RequestValue`].
//!
//! ## Actions
//!
//! * [`Action::RequestValue`] – we propose in this round and have no valid value to re-propose:
//!   build a block and answer with [`Input::ProposeValue`]. While the shell builds, we set no
//!   propose timer (as in the paper), so the build time is the shell's to choose; the other
//!   validators' timers still move the round on if it takes too long.
//! * [`Action::PersistWal`] – write the entry durably (fsync) *before* performing any later action.
//! * [`Action::Broadcast`] – send our signed proposal (with its block body) or vote to all peers.
//!   Our own votes are already counted; do not feed them back (it is harmless if you do).
//! * [`Action::Relay`] – send these votes of other validators to all peers: the proof of lock
//!   (+2/3 prevotes of its `pol_round`) of the re-proposal just broadcast. Not persisted.
//! * [`Action::ScheduleTimeout`] – feed `Input::Timeout` back after `after_ms`.
//! * [`Action::Decide`] – the block is final; `commit` verifies with
//!   [`Commit::verify`](kessai_primitives::Commit::verify) against the height's validator set. The
//!   decided block may be one we saw in another round's proposal than the commit's round.
//! * [`Action::AllPrecommits`] – after the decision, every validator's precommit for the decided
//!   block is in: nothing is left to wait for before the next height.
//! * [`Action::Evidence`] – a validator signed two different votes for one (height, round, kind).
//!
//! # The WAL contract
//!
//! A validator that signs two different messages for one (height, round, kind) is Byzantine, even
//! if it only crashed in between. To prevent that:
//!
//! * The core emits `PersistWal(entry)` immediately before the `Broadcast` of every message it newly
//!   signs. The entry holds the signed message, our lock and valid value at that moment, and the
//!   +2/3 prevotes that make the valid value (its proof of lock) ([`WalEntry`], borsh-encoded).
//! * The shell writes the entry durably before performing any later action. A crash after the write
//!   but before the broadcast is fine; a broadcast without the write is not.
//! * On restart, the shell passes the entries of the height it restarts at to `start_height`. The
//!   core then counts its own earlier messages and the proofs again, restores the lock and valid
//!   value, resumes in the round and step of its latest signature and re-broadcasts what it signed
//!   in that round (not persisted again: it is already in the WAL). If it ever has to vote again at
//!   a (round, kind) it already signed, it re-sends the exact earlier message instead of signing a
//!   new one. It keeps a propose timer even in a round it proposed in: its re-proposal's proof may
//!   be missing (an entry written before entries held it).
//! * Independently, the core never signs at a (height, round, kind) lexicographically before (or
//!   equal to) the latest one it signed in this process or found in any entry passed to it.
//! * Entries of committed heights are no longer needed: the shell may truncate the WAL after a
//!   decision is committed.
//!
//! # What the core expects of the network
//!
//! Like the paper, the core assumes gossip: every message of the current height that an honest node
//! has sent or received eventually reaches every other honest node. The core sends each message
//! once; the shell's gossip layer must retransmit lost messages and relay other validators' messages
//! (including earlier rounds' prevotes, which prove a re-proposed value's lock; the proposer of a
//! re-proposal sends them itself, [`Action::Relay`], since it may be the only honest node that
//! holds them, e.g. restored from its WAL). A node that
//! falls behind by a height or more must catch up by block sync and `start_height`. The simulation
//! in `tests/simulation.rs` contains a minimal such shell.
//!
//! # Where this differs from the paper
//!
//! * Values are block ids; "v is valid" means the shell passed a proposal for `v` at this height
//!   with `block_valid = true` (or we proposed `v` ourselves). For locking (line 36) and deciding
//!   (line 49) the block may come from any proposal of the height, not only the round's: safety
//!   rests on the prevote and precommit quorums, and the block is the same whichever round carried it.
//! * An equivocating validator's power counts once in "+2/3 of anything" (lines 34, 47) and in the
//!   f+1 round skip (line 55), but each of its (at most 4) different votes counts for its own value,
//!   as the paper counts messages per value. Counting only its first vote would be simpler but lets
//!   it hide a real polka from part of the network: those nodes could never accept the value
//!   re-proposed with that proof of lock, the validators locked on it never unlock, and the height
//!   stalls (the simulation found this). Safety is unaffected: two +2/3 quorums for different
//!   values still share an honest validator, who never votes twice. The bound of 4 leaves a gap:
//!   a validator that sends a node more than 4 versions before the one that completes a polka can
//!   still hide it from that node (Tendermint-Go closes this with peers' +2/3 claims,
//!   `VoteSetMaj23`, which Kessai's gossip does not have yet).
//! * Timeliness, as in CometBFT's proposer-based timestamps: line 22 prevotes a fresh value only if
//!   it is also `timely` (its block time not too far ahead of our clock); lines 28 (a re-proposed
//!   value with its proof of lock), 36 (lock on a polka) and 49 (decide) need only valid(v). So a
//!   validator whose clock is behind still locks on and decides the others' blocks, and one whose
//!   clock is ahead loses only the rounds it proposes in
//!   (`docs/decisions/0010-block-time-is-a-prevote-rule.md`).
//! * The f+1 round skip (line 55) counts validators that voted in the round, by power.
//! * A proposer sets the propose timer too, unless the shell is still building its block: the
//!   paper's proposer never needs it, since it holds the proof of lock of what it re-proposes, but
//!   one restored from a WAL without proofs does not, and it would otherwise wait in the propose
//!   step for ever. The proof of lock is persisted with every WAL entry and sent with each
//!   re-proposal ([`Action::Relay`]), restoring the paper's assumption that a message an honest
//!   node received reaches every honest node, across crashes and Byzantine validators that show
//!   a prevote to one node alone (`docs/decisions/0024-proof-of-lock-in-wal-and-re-proposals.md`).
//! * Memory is bounded: messages more than [`MAX_ROUNDS_AHEAD`] rounds ahead are ignored.
//!
//! # Example: a one-validator chain
//!
//! ```
//! use kessai_consensus::{Action, Config, Consensus, Input, TimeoutConfig};
//! use kessai_primitives::{Hash, Keypair, Validator, ValidatorSet};
//!
//! let key = Keypair::dev("alice");
//! let set = ValidatorSet::new(vec![Validator { public_key: key.public(), power: 1 }]).unwrap();
//! let config = Config { chain_id: "dev".into(), timeouts: TimeoutConfig::default() };
//! let mut core = Consensus::new(config, Some(key));
//!
//! let actions = core.start_height(1, set.clone(), &[]);
//! assert!(actions.contains(&Action::RequestValue { height: 1, round: 0 }));
//!
//! let block = Hash::digest(b"block 1");
//! let actions = core.handle(Input::ProposeValue { height: 1, round: 0, block });
//! let Some(Action::Decide { commit, .. }) = actions.last() else { panic!("no decision") };
//! assert!(commit.verify("dev", 1, &block, &set).is_ok());
//! ```

mod config;
mod consensus;
mod types;
mod votes;

pub use config::{Config, TimeoutConfig};
pub use consensus::{Consensus, MAX_BUFFERED_INPUTS, MAX_ROUNDS_AHEAD};
pub use types::{
    Action, ConsensusSigner, Input, Message, RoundValue, SignedKind, Step, Timeout, WalEntry,
};

#[cfg(test)]
mod tests;
