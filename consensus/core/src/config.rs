//! Chain id and timeouts: the only configuration of the core.

use crate::types::Step;

/// How long the core waits in each step before giving up on the round's proposal or votes.
///
/// The timeout for round `r` is `base + r * delta`: timeouts grow from round to round so that, once
/// the network delivers messages within some unknown bound, some round's timeouts exceed it and the
/// round can succeed (the partial-synchrony argument of the Tendermint paper).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// Wait for the round's proposal before prevoting nil, milliseconds, in round 0.
    pub propose_ms: u64,
    /// What each further round adds to the propose wait, milliseconds.
    pub propose_delta_ms: u64,
    /// Wait after +2/3 prevotes for anything (not yet for one value) before precommitting nil,
    /// milliseconds, in round 0.
    pub prevote_ms: u64,
    /// What each further round adds to the prevote wait, milliseconds.
    pub prevote_delta_ms: u64,
    /// Wait after +2/3 precommits for anything (not yet for one value) before moving to the next
    /// round, milliseconds, in round 0.
    pub precommit_ms: u64,
    /// What each further round adds to the precommit wait, milliseconds.
    pub precommit_delta_ms: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            propose_ms: 1000,
            propose_delta_ms: 500,
            prevote_ms: 500,
            prevote_delta_ms: 250,
            precommit_ms: 500,
            precommit_delta_ms: 250,
        }
    }
}

impl TimeoutConfig {
    /// The timeout of `step` in `round`, in milliseconds (`base + round * delta`, saturating).
    /// `Step::Commit` has no timeout: a decided height waits for the shell's `start_height`.
    pub fn duration_ms(&self, step: Step, round: u32) -> u64 {
        let (base, delta) = match step {
            Step::Propose => (self.propose_ms, self.propose_delta_ms),
            Step::Prevote => (self.prevote_ms, self.prevote_delta_ms),
            Step::Precommit => (self.precommit_ms, self.precommit_delta_ms),
            Step::Commit => return 0,
        };
        base.saturating_add(delta.saturating_mul(u64::from(round)))
    }
}

/// Everything the core needs besides the validator set of each height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Messages signed for another chain are ignored; our own messages carry this id.
    pub chain_id: String,
    /// How long each step waits, per round.
    pub timeouts: TimeoutConfig,
}
