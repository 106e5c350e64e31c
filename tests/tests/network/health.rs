//! What a validator's metrics say about its signing in a real four-validator network:
//! `kessai_missed_blocks_total` counts the blocks committed without its precommit, and
//! `kessai_last_signed_height` follows the chain once it signs again; `/ready` says `syncing` or
//! `no peers` until it has caught up and connected.

use kessai_tests::testnet::{metric, metrics_url, one_network_at_a_time, Testnet};
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);

/// Polls `f` until it holds, for at most a minute.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < MINUTE, "{what} did not happen within a minute");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Validator 3 starts after the other three have committed blocks without it: it syncs them,
/// counts each as missed (its key is in the set, the commits hold no precommit of it), then signs
/// the next heights itself, and is ready. The three that signed from the start missed none of
/// the heights before it came.
#[test]
fn a_late_validator_counts_the_blocks_it_missed_and_then_signs() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(3);
    net.wait_height(&[0, 1, 2], 4, MINUTE).unwrap();
    // Every height up to here is committed without validator 3.
    let missed_before = net.node(0).height();
    net.start(3);
    let metrics = metrics_url(&net.home(3)).expect("node 3 serves metrics");

    let height = net.node(0).height() + 2;
    net.wait_height(&[0, 1, 2, 3], height, MINUTE).unwrap();
    let missed = metric(&metrics, "kessai_missed_blocks_total").expect("missed blocks");
    assert!(missed >= missed_before as f64, "node 3 missed {missed}, expected ≥ {missed_before}");

    // It signs again: its last signed height reaches the chain's, and its new blocks are not
    // missed.
    eventually("node 3 signing", || {
        let signed = metric(&metrics, "kessai_last_signed_height").unwrap_or(0.0);
        signed >= net.node(3).height() as f64 && signed > missed_before as f64
    });
    let base = metrics.strip_suffix("/metrics").expect("a /metrics URL");
    eventually("node 3 ready", || {
        kessai_tests::testnet::http_get(&format!("{base}/ready")).is_ok()
    });
    // The three that signed from the start: while they were three, every commit needed all three
    // precommits, so they missed none of those heights (later, one may decide on the other three
    // before its own precommit).
    let first = metric(&metrics_url(&net.home(0)).unwrap(), "kessai_missed_blocks_total");
    assert!(first.is_some_and(|m| m < missed_before as f64), "node 0 missed {first:?}");
}
