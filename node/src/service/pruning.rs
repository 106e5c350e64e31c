//! The background pruner: after committed blocks, deletes what the node's retention settings
//! ([`PruningConfig`](kessai_store::PruningConfig), `config.json` `"pruning"`) no longer keep, on
//! a thread of its own, never on the consensus path. See `kessai_store::Pruner`.

use kessai_store::{Pruner, Store};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// Pause between two delete batches, so that a large backlog (pruning just turned on) leaves
/// the disk to the block writer now and then.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// Starts the pruner thread if the store prunes anything: it prunes once at start (a backlog
/// from before a restart or a changed setting), then after each notification of `committed`,
/// until the sender is dropped.
pub fn spawn(store: &Store, mut committed: broadcast::Receiver<u64>) -> std::io::Result<()> {
    let config = store.pruning();
    if config.is_archive() {
        return Ok(());
    }
    tracing::info!(
        state_keep_recent = config.state_keep_recent,
        blocks_keep_recent = config.blocks_keep_recent,
        "pruning: keeping the latest heights only (0 = all)"
    );
    let store = store.clone();
    std::thread::Builder::new().name("pruner".into()).spawn(move || {
        let mut pruner = Pruner::new(&store);
        loop {
            match pruner.run(BATCH_PAUSE) {
                Ok(report) if report.batches > 0 => tracing::debug!(
                    state_entries = report.state_entries,
                    blocks = report.blocks,
                    compacted = report.compacted,
                    commits_held_ms = report.longest_commits_held.as_millis() as u64,
                    earliest_state = store.earliest_state_height(),
                    earliest_block = store.earliest_block_height(),
                    "pruned"
                ),
                Ok(_) => {}
                // Nothing kept is touched by a failed batch; the next commit tries again.
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
            match committed.blocking_recv() {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            // One run for however many blocks were committed meanwhile.
            while committed.try_recv().is_ok() {}
        }
    })?;
    Ok(())
}
