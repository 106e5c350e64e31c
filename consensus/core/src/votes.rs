//! The votes of one height, counted by voting power.

use kessai_primitives::{BlockId, CommitSignature, PublicKey, SignedVote, VoteKind};
use std::collections::BTreeMap;

/// How many different votes of one validator for one (round, kind) are kept. Only a faulty
/// validator signs more than one; a bound keeps it from filling our memory.
pub(crate) const MAX_VERSIONS_PER_VOTER: usize = 4;

/// The votes of one kind in one round.
///
/// An honest validator casts one vote per (round, kind). A faulty one may sign several, sending
/// each to different peers; we keep the first few and count each *for its own value*, like the
/// paper counts messages from distinct processes per value. Counting only the first would let an
/// equivocator hide a real polka from us forever (we would never accept a value re-proposed with
/// its proof of lock, and the validators locked on it would never move). Quorum intersection still
/// holds: two quorums for different values overlap in more than a third of the power, so in an
/// honest validator, who never votes twice. Power counted "for anything" counts each validator once.
#[derive(Default, Debug)]
pub(crate) struct VoteSet {
    /// Each validator's votes, first received first.
    votes: BTreeMap<PublicKey, Vec<SignedVote>>,
    /// Power behind each value (`None` = nil), each validator counted once per value.
    power_by_block: BTreeMap<Option<BlockId>, u64>,
    /// Power of the distinct validators that voted at all.
    total_power: u64,
}

impl VoteSet {
    /// The first vote received from `validator`.
    pub(crate) fn first(&self, validator: &PublicKey) -> Option<&SignedVote> {
        self.votes.get(validator).and_then(|v| v.first())
    }

    /// Every vote received from `validator`, first first.
    pub(crate) fn versions(&self, validator: &PublicKey) -> &[SignedVote] {
        self.votes.get(validator).map_or(&[], Vec::as_slice)
    }

    /// Counts `vote` with `power`. The caller has checked that this validator has no vote for the
    /// same value yet and fewer than [`MAX_VERSIONS_PER_VOTER`] votes.
    fn insert(&mut self, vote: SignedVote, power: u64) {
        *self.power_by_block.entry(vote.vote.block).or_default() += power;
        let versions = self.votes.entry(vote.vote.validator).or_default();
        if versions.is_empty() {
            self.total_power += power;
        }
        versions.push(vote);
    }

    /// Power of the votes for `block` (`None` = nil).
    pub(crate) fn power_for(&self, block: Option<BlockId>) -> u64 {
        self.power_by_block.get(&block).copied().unwrap_or(0)
    }

    /// Power of all validators that voted, whatever their value.
    pub(crate) fn total_power(&self) -> u64 {
        self.total_power
    }

    /// Non-nil values with the power behind each.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = (BlockId, u64)> + '_ {
        self.power_by_block.iter().filter_map(|(block, power)| block.map(|b| (b, *power)))
    }

    /// The votes for `block` (`None` = nil), one per validator, ordered by validator: for a polka,
    /// its proof.
    pub(crate) fn votes_for(&self, block: Option<BlockId>) -> Vec<SignedVote> {
        self.votes
            .values()
            .filter_map(|versions| versions.iter().find(|v| v.vote.block == block))
            .cloned()
            .collect()
    }

    /// The signatures of the votes for `block`, ordered by validator: the body of a commit.
    pub(crate) fn signatures_for(&self, block: BlockId) -> Vec<CommitSignature> {
        self.votes
            .values()
            .filter_map(|versions| versions.iter().find(|v| v.vote.block == Some(block)))
            .map(|v| CommitSignature { validator: v.vote.validator, signature: v.signature })
            .collect()
    }
}

/// The prevotes and precommits of one round, and who sent anything at all in it (for the f+1
/// round-skip rule).
#[derive(Default, Debug)]
pub(crate) struct RoundVotes {
    pub prevotes: VoteSet,
    pub precommits: VoteSet,
    /// Validators with at least one vote in this round, and their summed power.
    voters: BTreeMap<PublicKey, u64>,
    voters_power: u64,
}

impl RoundVotes {
    pub(crate) fn of_kind(&self, kind: VoteKind) -> &VoteSet {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    /// Counts `vote` with `power` (see [`VoteSet::insert`] for what the caller checks).
    pub(crate) fn insert(&mut self, vote: SignedVote, power: u64) {
        let validator = vote.vote.validator;
        if self.voters.insert(validator, power).is_none() {
            self.voters_power += power;
        }
        match vote.vote.kind {
            VoteKind::Prevote => self.prevotes.insert(vote, power),
            VoteKind::Precommit => self.precommits.insert(vote, power),
        }
    }

    /// Summed power of the distinct validators that voted in this round.
    pub(crate) fn voters_power(&self) -> u64 {
        self.voters_power
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kessai_primitives::{Hash, Keypair, Vote};

    fn vote(name: &str, kind: VoteKind, block: Option<BlockId>) -> SignedVote {
        let key = Keypair::dev(name);
        Vote { chain_id: "c".into(), height: 1, round: 0, kind, block, validator: key.public() }
            .sign(&key)
    }

    #[test]
    fn tallies_by_value_and_voter() {
        let a = Hash::digest(b"a");
        let mut round = RoundVotes::default();
        round.insert(vote("x", VoteKind::Prevote, Some(a)), 3);
        round.insert(vote("y", VoteKind::Prevote, None), 2);
        round.insert(vote("x", VoteKind::Precommit, Some(a)), 3);
        assert_eq!(round.prevotes.power_for(Some(a)), 3);
        assert_eq!(round.prevotes.power_for(None), 2);
        assert_eq!(round.prevotes.total_power(), 5);
        assert_eq!(round.precommits.total_power(), 3);
        // x voted twice but is one voter.
        assert_eq!(round.voters_power(), 5);
        assert_eq!(round.precommits.signatures_for(a).len(), 1);
        assert_eq!(round.prevotes.blocks().collect::<Vec<_>>(), vec![(a, 3)]);
    }

    #[test]
    fn an_equivocator_counts_once_for_anything_and_once_per_value() {
        let (a, b) = (Hash::digest(b"a"), Hash::digest(b"b"));
        let mut round = RoundVotes::default();
        round.insert(vote("x", VoteKind::Precommit, Some(a)), 2);
        round.insert(vote("x", VoteKind::Precommit, Some(b)), 2);
        round.insert(vote("y", VoteKind::Precommit, Some(b)), 1);
        let precommits = &round.precommits;
        assert_eq!(precommits.total_power(), 3);
        assert_eq!((precommits.power_for(Some(a)), precommits.power_for(Some(b))), (2, 3));
        let x = Keypair::dev("x").public();
        assert_eq!(precommits.first(&x).unwrap().vote.block, Some(a));
        assert_eq!(precommits.versions(&x).len(), 2);
        // A commit for b carries x's vote for b, not its first one.
        let signatures = precommits.signatures_for(b);
        assert_eq!(signatures.len(), 2);
        let of_x = signatures.iter().find(|s| s.validator == x).unwrap();
        assert_eq!(of_x.signature, precommits.versions(&x)[1].signature);
        assert_eq!(round.voters_power(), 3);
    }
}
