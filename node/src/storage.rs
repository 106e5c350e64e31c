//! Whether the node can write to its disk.
//!
//! A node that cannot write must not look healthy: it cannot commit the transactions it would
//! admit, and a validator that signs what it could not record may sign differently after a
//! restart. So the first failed write — a block to the store, a record to the consensus WAL, a body
//! to the block journal — is logged at ERROR and recorded here, where the mempool (which then
//! refuses transactions), `kessai_status` (`storage_fault`) and the `kessai_storage_failed` metric
//! read it.
//!
//! What happens next depends on what failed (`docs/architecture.md`, "When the disk fails"): a
//! block write is retried for [`retry_window`] and the node carries on if one succeeds (space came
//! back); otherwise, and at once for the WAL and the journal, the node stops with
//! [`StorageFault::stop_error`] and a non-zero exit status, for its supervisor to restart it.

use kessai_primitives::time::now_ms;
use parking_lot::Mutex;
use std::fmt;
use std::time::Duration;

/// How long a failed block write is retried before the node stops, unless
/// `KESSAI_STORAGE_RETRY_SECS` says otherwise.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(60);

/// Pause between two attempts of a failed block write.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How long a failed block write is retried: `KESSAI_STORAGE_RETRY_SECS` (seconds, 0: not
/// retried) or [`DEFAULT_RETRY_WINDOW`].
pub fn retry_window() -> Duration {
    std::env::var("KESSAI_STORAGE_RETRY_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(DEFAULT_RETRY_WINDOW, Duration::from_secs)
}

/// A failed write, as operators see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageFault {
    /// What was being written (`"block 7"`, `"the consensus WAL"`, …).
    pub what: String,
    /// The error of the last failed attempt.
    pub error: String,
    /// When the first write failed, ms since the Unix epoch.
    pub since_ms: u64,
}

impl fmt::Display for StorageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = now_ms().saturating_sub(self.since_ms) / 1000;
        write!(f, "cannot write {} (failing for {secs} s): {}", self.what, self.error)
    }
}

impl StorageFault {
    /// The error the node stops with: one sentence saying what to do, then the cause.
    pub fn stop_error(&self) -> anyhow::Error {
        anyhow::anyhow!(
            "the node cannot write to its disk and stops (writing {}: {}); free space or repair \
             the disk, then restart it: nothing committed is lost",
            self.what,
            self.error
        )
    }
}

/// The node's storage health: healthy, or the fault of the last failed write.
#[derive(Default)]
pub struct StorageHealth {
    fault: Mutex<Option<StorageFault>>,
}

impl StorageHealth {
    /// The current fault, if a write failed and none has succeeded since.
    pub fn fault(&self) -> Option<StorageFault> {
        self.fault.lock().clone()
    }

    /// Whether a write failed and none has succeeded since.
    pub fn is_failed(&self) -> bool {
        self.fault.lock().is_some()
    }

    /// Records a failed write of `what`, logged at ERROR; further failures of the same write (its
    /// retries) only at DEBUG.
    pub fn failed(&self, what: &str, error: &dyn fmt::Display) {
        let mut fault = self.fault.lock();
        let error = error.to_string();
        if let Some(fault) = fault.as_mut().filter(|f| f.what == what) {
            tracing::debug!(what, %error, "write failed again");
            fault.error = error;
            return;
        }
        tracing::error!(
            what,
            %error,
            "the node cannot write to its disk: not accepting transactions and not signing \
             until a write succeeds"
        );
        let since_ms = fault.as_ref().map_or_else(now_ms, |f| f.since_ms);
        *fault = Some(StorageFault { what: what.to_string(), error, since_ms });
    }

    /// A write of `what` succeeded: a fault recorded by an earlier write of the same `what` (a
    /// block write that was retried) is over. Any other fault stays.
    pub fn succeeded(&self, what: &str) {
        let mut fault = self.fault.lock();
        if fault.as_ref().is_some_and(|f| f.what == what) {
            let fault = fault.take().expect("checked");
            let failed_ms = now_ms().saturating_sub(fault.since_ms);
            tracing::warn!(what, failed_ms, "the disk is writable again; the node carries on");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_lasts_until_a_write_succeeds_and_keeps_its_start() {
        let health = StorageHealth::default();
        assert!(!health.is_failed());
        health.failed("block 7", &"No space left on device");
        let first = health.fault().expect("failed");
        health.failed("block 7", &"still no space");
        let again = health.fault().expect("still failed");
        assert_eq!((again.since_ms, again.error.as_str()), (first.since_ms, "still no space"));
        assert!(again.stop_error().to_string().starts_with("the node cannot write to its disk"));
        health.succeeded("block 8");
        assert!(health.is_failed(), "another write does not end the fault");
        health.succeeded("block 7");
        assert_eq!(health.fault(), None);
    }
}
