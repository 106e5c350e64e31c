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
