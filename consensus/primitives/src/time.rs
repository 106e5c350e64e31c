//! Wall-clock time as the chain counts it: milliseconds since the Unix epoch.
//!
//! The one reader of the system clock for the node, the clients and the tests. The consensus core
//! and the light client never call it: they are given the time as an input, so that they stay
//! deterministic (and so that the light client runs on wasm32, where there is no system clock).

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How far ahead of a validator's clock a freshly proposed block's time may be for the validator
/// to prevote for it (the "timely" rule of `docs/decisions/0010-block-time-is-a-prevote-rule.md`).
/// Committed blocks are never refused for their time. It is also how far a node's clock may be
/// from the committed chain's before the node warns.
pub const MAX_CLOCK_DRIFT_MS: u64 = 10_000;
