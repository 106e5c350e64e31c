//! The votes of one height, counted by voting power.

use kessai_primitives::{BlockId, CommitSignature, PublicKey, SignedVote, VoteKind};
use std::collections::BTreeMap;

/// The votes of one kind in one round: at most one per validator (the first one received).
#[derive(Default, Debug)]
pub(crate) struct VoteSet {
    votes: BTreeMap<PublicKey, SignedVote>,
    /// Power behind each value (`None` = nil).
    power_by_block: BTreeMap<Option<BlockId>, u64>,
    total_power: u64,
}

impl VoteSet {
    pub fn get(&self, validator: &PublicKey) -> Option<&SignedVote> {
        self.votes.get(validator)
    }

    fn insert(&mut self, vote: SignedVote, power: u64) {
        *self.power_by_block.entry(vote.vote.block).or_default() += power;
        self.total_power += power;
        self.votes.insert(vote.vote.validator, vote);
    }

    /// Power of the votes for `block` (`None` = nil).
    pub fn power_for(&self, block: Option<BlockId>) -> u64 {
        self.power_by_block.get(&block).copied().unwrap_or(0)
    }

    /// Power of all votes, whatever their value.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// Non-nil values with the power behind each.
    pub fn blocks(&self) -> impl Iterator<Item = (BlockId, u64)> + '_ {
        self.power_by_block.iter().filter_map(|(block, power)| block.map(|b| (b, *power)))
    }

    /// The signatures of the votes for `block`, ordered by validator: the body of a commit.
    pub fn signatures_for(&self, block: BlockId) -> Vec<CommitSignature> {
        self.votes
            .values()
            .filter(|v| v.vote.block == Some(block))
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
    pub fn of_kind(&self, kind: VoteKind) -> &VoteSet {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    /// Counts `vote` with `power`. The caller has checked that the validator has no vote of this
    /// kind in this round yet.
    pub fn insert(&mut self, vote: SignedVote, power: u64) {
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
    pub fn voters_power(&self) -> u64 {
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
}
