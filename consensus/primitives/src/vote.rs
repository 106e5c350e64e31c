//! Consensus messages: proposals, votes, commits and evidence of equivocation.
//!
//! Every vote signs `domain::VOTE || borsh(Vote)`, and the vote carries the chain id, height, round,
//! kind and block id, so a signature is valid for exactly one decision on one chain.

use crate::block::BlockId;
use crate::crypto::{Keypair, PublicKey, Signature, SignatureError};
use crate::hash::Hash;
use crate::validator::ValidatorSet;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
/// The two votes a validator casts in a round.
pub enum VoteKind {
    /// First vote of a round: the validator's view of the proposal.
    Prevote,
    /// Second vote of a round: +2/3 precommits for a block decide it.
    Precommit,
}

/// A validator's prevote or precommit for a block (or nil) at a height and round.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Vote {
    /// The chain the vote is for, so that it cannot be replayed on another.
    pub chain_id: String,
    /// Height of the block voted on.
    pub height: u64,
    /// Round of that height the vote is cast in.
    pub round: u32,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block voted for, or `None` for nil.
    pub block: Option<BlockId>,
    /// The validator casting it, whose key signs it.
    pub validator: PublicKey,
}

impl Vote {
    /// Signs the vote (borsh of it, under [`domain::VOTE`](crate::domain::VOTE)) with `key`, which
    /// should be the vote's `validator`.
    pub fn sign(self, key: &Keypair) -> SignedVote {
        let signature = key.sign(crate::domain::VOTE, &borsh::to_vec(&self).expect("encodes"));
        SignedVote { vote: self, signature }
    }
}

/// A vote with its validator's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedVote {
    /// The vote signed.
    pub vote: Vote,
    /// The validator's signature over borsh of `vote`, under [`domain::VOTE`](crate::domain::VOTE).
    pub signature: Signature,
}

impl SignedVote {
    /// Checks the signature against the vote's `validator` key (not whether it is a validator).
    pub fn verify(&self) -> Result<(), SignatureError> {
        let message = borsh::to_vec(&self.vote).expect("encodes");
        self.vote.validator.verify(crate::domain::VOTE, &message, &self.signature)
    }
}

/// A proposer's claim that `block` is its value for `(height, round)`. `pol_round` is the round of
/// the proof of lock (a +2/3 prevote for the same block) when it re-proposes a valid value.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    /// The chain the proposal is for.
    pub chain_id: String,
    /// Height of the proposed block.
    pub height: u64,
    /// Round of that height it is proposed in.
    pub round: u32,
    /// Round of the proof of lock, when re-proposing a valid value; `None` for a fresh block.
    pub pol_round: Option<u32>,
    /// Id of the proposed block.
    pub block: BlockId,
    /// The validator proposing, whose key signs it.
    pub proposer: PublicKey,
}

impl Proposal {
    /// Signs the proposal (borsh of it, under [`domain::PROPOSAL`](crate::domain::PROPOSAL)) with
    /// `key`, which should be the `proposer`'s.
    pub fn sign(self, key: &Keypair) -> SignedProposal {
        let signature = key.sign(crate::domain::PROPOSAL, &borsh::to_vec(&self).expect("encodes"));
        SignedProposal { proposal: self, signature }
    }
}

/// A proposal with its proposer's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedProposal {
    /// The proposal signed.
    pub proposal: Proposal,
    /// The proposer's signature over borsh of `proposal`, under
    /// [`domain::PROPOSAL`](crate::domain::PROPOSAL).
    pub signature: Signature,
}

impl SignedProposal {
    /// Checks the signature against the proposal's `proposer` key (not whether it may propose).
    pub fn verify(&self) -> Result<(), SignatureError> {
        let message = borsh::to_vec(&self.proposal).expect("encodes");
        self.proposal.proposer.verify(crate::domain::PROPOSAL, &message, &self.signature)
    }
}

/// One validator's precommit signature inside a [`Commit`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitSignature {
    /// The validator that precommitted.
    pub validator: PublicKey,
    /// Its signature of the precommit the commit implies ([`Commit::precommit_of`]).
    pub signature: Signature,
}

/// The proof that a block is final: precommits for it from more than two thirds of the voting power
/// of the validator set at its height, all from one round.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Commit {
    /// Height of the decided block.
    pub height: u64,
    /// Round in which it was decided (every signature is a precommit of this round).
    pub round: u32,
    /// Id of the decided block.
    pub block: BlockId,
    /// The precommit signatures, one per validator.
    pub signatures: Vec<CommitSignature>,
}

/// Why a [`Commit`] does not prove what it was checked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The commit is for another height.
    #[error("commit is for height {got}, expected {expected}")]
    WrongHeight {
        /// The height it was checked for.
        expected: u64,
        /// The commit's height.
        got: u64,
    },
    /// The commit is for another block.
    #[error("commit is for block {got}, expected {expected}")]
    WrongBlock {
        /// The block it was checked for.
        expected: BlockId,
        /// The commit's block.
        got: BlockId,
    },
    /// One validator appears twice among the signatures.
    #[error("validator {0} signed the commit twice")]
    DuplicateSigner(PublicKey),
    /// A signer is not in the validator set the commit is checked against.
    #[error("{0} is not in the validator set")]
    UnknownSigner(PublicKey),
    /// A signature does not verify.
    #[error(transparent)]
    BadSignature(#[from] SignatureError),
    /// The valid signatures carry two thirds of the set's power or less.
    #[error("commit carries {signed} of {total} voting power; more than two thirds is needed")]
    NotEnoughPower {
        /// Power of the valid signers.
        signed: u64,
        /// Total power of the set.
        total: u64,
    },
    /// Checked against an older trusted set (skipping verification), the signers of that set carry
    /// no more than the required fraction of its power.
    #[error("commit carries {signed} of the trusted set's {total} voting power; more than {numerator}/{denominator} is needed")]
    NotEnoughTrust {
        /// Power, in the trusted set, of the valid signers that are in it.
        signed: u64,
        /// Total power of the trusted set.
        total: u64,
        /// Numerator of the required fraction (the trust level).
        numerator: u64,
        /// Denominator of the required fraction.
        denominator: u64,
    },
}

impl Commit {
    /// The precommit a signer of this commit signed.
    pub fn precommit_of(&self, chain_id: &str, validator: PublicKey) -> Vote {
        Vote {
            chain_id: chain_id.to_string(),
            height: self.height,
            round: self.round,
            kind: VoteKind::Precommit,
            block: Some(self.block),
            validator,
        }
    }

    /// Checks every signature of a signer that is in `set` and returns the power they carry.
    /// Signers outside `set` are an error when `unknown_is_error`, else skipped (used when checking a
    /// commit against an older, trusted set).
    pub fn signed_power(
        &self,
        chain_id: &str,
        set: &ValidatorSet,
        unknown_is_error: bool,
    ) -> Result<u64, CommitError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut power = 0u64;
        for sig in &self.signatures {
            if !seen.insert(sig.validator) {
                return Err(CommitError::DuplicateSigner(sig.validator));
            }
            let Some(validator) = set.get(&sig.validator) else {
                if unknown_is_error {
                    return Err(CommitError::UnknownSigner(sig.validator));
                }
                continue;
            };
            let vote = self.precommit_of(chain_id, sig.validator);
            let message = borsh::to_vec(&vote).expect("encodes");
            sig.validator.verify(crate::domain::VOTE, &message, &sig.signature)?;
            power = power.saturating_add(validator.power);
        }
        Ok(power)
    }

    /// Full verification of a commit for block `block` at `height` by its own validator set.
    pub fn verify(
        &self,
        chain_id: &str,
        height: u64,
        block: &BlockId,
        set: &ValidatorSet,
    ) -> Result<u64, CommitError> {
        if self.height != height {
            return Err(CommitError::WrongHeight { expected: height, got: self.height });
        }
        if self.block != *block {
            return Err(CommitError::WrongBlock { expected: *block, got: self.block });
        }
        let signed = self.signed_power(chain_id, set, true)?;
        if !set.is_quorum(signed) {
            return Err(CommitError::NotEnoughPower { signed, total: set.total_power() });
        }
        Ok(signed)
    }

    /// blake3 of borsh of the commit. (A header's `last_commit_hash` is
    /// [`Block::last_commit_hash`](crate::Block::last_commit_hash), the hash of the `Option`.)
    pub fn hash(&self) -> Hash {
        Hash::of(self)
    }
}

/// Proof that a validator misbehaved. Committed on chain once verified.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum Evidence {
    /// Two signed votes of one validator for different blocks at the same height, round and kind.
    DuplicateVote {
        /// One of the votes.
        first: SignedVote,
        /// The other, conflicting one.
        second: SignedVote,
    },
}

/// Why [`Evidence`] does not prove misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The two votes do not conflict: another validator, chain, height, round or kind, or the same
    /// block.
    #[error(
        "the two votes are not a conflict (different validator, height, round, kind or same block)"
    )]
    NotConflicting,
    /// A vote's signature does not verify.
    #[error(transparent)]
    BadSignature(#[from] SignatureError),
}

impl Evidence {
    /// Checks that the votes conflict and that both signatures verify.
    pub fn verify(&self) -> Result<(), EvidenceError> {
        match self {
            Evidence::DuplicateVote { first, second } => {
                let (a, b) = (&first.vote, &second.vote);
                let conflicting = a.validator == b.validator
                    && a.chain_id == b.chain_id
                    && a.height == b.height
                    && a.round == b.round
                    && a.kind == b.kind
                    && a.block != b.block;
                if !conflicting {
                    return Err(EvidenceError::NotConflicting);
                }
                first.verify()?;
                second.verify()?;
                Ok(())
            }
        }
    }

    /// The validator that misbehaved.
    pub fn offender(&self) -> PublicKey {
        match self {
            Evidence::DuplicateVote { first, .. } => first.vote.validator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::Validator;

    fn keys(n: usize) -> Vec<Keypair> {
        (0..n).map(|i| Keypair::dev(&format!("val{i}"))).collect()
    }

    fn set_of(keys: &[Keypair]) -> ValidatorSet {
        ValidatorSet::new(
            keys.iter().map(|k| Validator { public_key: k.public(), power: 10 }).collect(),
        )
        .unwrap()
    }

    fn commit_by(keys: &[Keypair], block: BlockId) -> Commit {
        let mut commit = Commit { height: 5, round: 1, block, signatures: vec![] };
        for k in keys {
            let vote = commit.precommit_of("c", k.public()).sign(k);
            commit
                .signatures
                .push(CommitSignature { validator: k.public(), signature: vote.signature });
        }
        commit
    }

    #[test]
    fn commit_needs_more_than_two_thirds() {
        let keys = keys(4);
        let set = set_of(&keys);
        let block = Hash::digest(b"block");
        assert_eq!(commit_by(&keys[..3], block).verify("c", 5, &block, &set), Ok(30));
        assert_eq!(
            commit_by(&keys[..2], block).verify("c", 5, &block, &set),
            Err(CommitError::NotEnoughPower { signed: 20, total: 40 })
        );
    }

    #[test]
    fn commit_rejects_forgeries() {
        let keys = keys(4);
        let set = set_of(&keys);
        let block = Hash::digest(b"block");
        let good = commit_by(&keys[..3], block);
        // Signed on another chain.
        assert!(matches!(good.verify("other", 5, &block, &set), Err(CommitError::BadSignature(_))));
        // Claimed for another block.
        let mut moved = good.clone();
        moved.block = Hash::digest(b"other");
        assert!(moved.verify("c", 5, &moved.block.clone(), &set).is_err());
        // A signer counted twice.
        let mut doubled = commit_by(&keys[..2], block);
        doubled.signatures.push(doubled.signatures[0].clone());
        assert!(matches!(
            doubled.verify("c", 5, &block, &set),
            Err(CommitError::DuplicateSigner(_))
        ));
        // An outsider.
        let outsider = commit_by(&[Keypair::dev("mallory")], block);
        assert!(matches!(
            outsider.verify("c", 5, &block, &set),
            Err(CommitError::UnknownSigner(_))
        ));
    }

    #[test]
    fn duplicate_vote_evidence() {
        let k = Keypair::dev("val0");
        let vote = |block: &[u8]| {
            Vote {
                chain_id: "c".into(),
                height: 3,
                round: 0,
                kind: VoteKind::Prevote,
                block: Some(Hash::digest(block)),
                validator: k.public(),
            }
            .sign(&k)
        };
        let ev = Evidence::DuplicateVote { first: vote(b"a"), second: vote(b"b") };
        assert!(ev.verify().is_ok());
        let same = Evidence::DuplicateVote { first: vote(b"a"), second: vote(b"a") };
        assert_eq!(same.verify(), Err(EvidenceError::NotConflicting));
    }
}
