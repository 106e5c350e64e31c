//! How this node's clock compares with the chain's.
//!
//! Block times come from proposers' clocks: a block's time is its proposer's clock when it built
//! the block (and always after its parent's). A node whose clock is far off does not stop
//! following the chain (committed blocks are never refused for their time), but it cannot prevote
//! for honest proposals if it is behind, and its own proposals get nil prevotes if it is ahead
//! (`docs/decisions/0010-block-time-is-a-prevote-rule.md`). So it says so: a rate-limited warning,
//! `clock_skew_ms` in `kessai status` and the `kessai_clock_skew_seconds` metric.

use crate::metrics::Metrics;
use kessai_primitives::time::{now_ms, MAX_CLOCK_DRIFT_MS};
use std::time::{Duration, Instant};

/// Each kind of warning about the clock is logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The last measured skew and when the node last warned about it.
#[derive(Default)]
pub(crate) struct ClockWatch {
    skew_ms: Option<i64>,
    warned_skew: Option<Instant>,
    warned_untimely: Option<Instant>,
}

impl ClockWatch {
    /// Local clock minus the time of the block this node decided last, measured when it decided it
    /// (none before the first). When the clocks agree it is the time from building the block to
    /// deciding it: well under a second on a healthy network.
    pub(crate) fn skew_ms(&self) -> Option<i64> {
        self.skew_ms
    }

    /// A block of time `block_time_ms` was just decided by consensus (not fetched by sync: a node
    /// catching up decides nothing, and old blocks say nothing of its clock).
    pub(crate) fn decided(&mut self, height: u64, block_time_ms: u64, metrics: &Metrics) {
        let skew_ms = now_ms() as i64 - block_time_ms as i64;
        self.skew_ms = Some(skew_ms);
        metrics.clock_skew.set(skew_ms as f64 / 1e3);
        if skew_ms.unsigned_abs() > MAX_CLOCK_DRIFT_MS && due(&mut self.warned_skew) {
            let side = if skew_ms > 0 { "ahead of" } else { "behind" };
            tracing::warn!(
                height,
                skew_ms,
                "the local clock disagrees with the chain: it is {:.1} s {side} the block just \
                 decided; check the clock (NTP): while it is off by more than {} s this node \
                 cannot prevote for others' blocks (if behind) or get its own accepted (if ahead)",
                skew_ms.unsigned_abs() as f64 / 1e3,
                MAX_CLOCK_DRIFT_MS / 1000,
            );
        }
    }

    /// A proposal at `height` carried a block time too far ahead of this node's clock, so this
    /// node prevotes nil for it.
    pub(crate) fn untimely_proposal(
        &mut self,
        height: u64,
        round: u32,
        error: &dyn std::fmt::Display,
    ) {
        if due(&mut self.warned_untimely) {
            tracing::warn!(
                height,
                round,
                %error,
                "prevoting nil: the proposed block's time is ahead of the local clock (this \
                 clock is behind, or the proposer's ahead)"
            );
        } else {
            tracing::debug!(height, round, %error, "prevoting nil: untimely proposal");
        }
    }
}

/// Whether a warning last given at `last` may be given again now (and if so, records it).
fn due(last: &mut Option<Instant>) -> bool {
    if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    true
}
