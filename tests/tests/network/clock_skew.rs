//! Validators whose wall clock is wrong, as real processes under libfaketime
//! (`LD_PRELOAD=libfaketime.so.1`, only the wall clock skewed: tokio's timers run on the monotonic
//! clock, which `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves alone).
//!
//! A validator 60 s slow sees every honest block as "from the future". It must still follow the
//! chain: the future-time bound is a rule for prevoting fresh proposals, not for committed blocks
//! (`docs/decisions/0010-block-time-is-a-prevote-rule.md`). A validator 60 s fast proposes blocks
//! the others will not prevote for: that costs the rounds it proposes in, never the chain.

use kessai_primitives::time::{now_ms, MAX_CLOCK_DRIFT_MS};
use kessai_tests::testnet::{
    entry_field, metric, metrics_url, one_network_at_a_time as one_at_a_time, Testnet,
};
use std::time::Duration;

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const MINUTE: Duration = Duration::from_secs(60);
/// Where Debian's `libfaketime` package puts the library (`dpkg -L libfaketime`).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// The skew the node must report, at least (of 60 s, minus consensus latency).
const REPORTED_SKEW_MS: i64 = 50_000;

/// The environment of a process whose wall clock is off by `offset` (libfaketime's syntax, e.g.
/// `-60s`) and whose monotonic clock is not.
fn skewed_clock(offset: &str) -> [(&str, &str); 3] {
    [("LD_PRELOAD", LIBFAKETIME), ("FAKETIME", offset), ("FAKETIME_DONT_FAKE_MONOTONIC", "1")]
}

#[test]
fn validators_with_skewed_clocks_follow_the_chain_and_report_the_skew() {
    assert!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: scripts/setup.sh installs libfaketime"
    );
    let _turn = one_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start(0);
    net.start(1);
    net.start_with_env(2, &skewed_clock("+60s"));
    net.start_with_env(3, &skewed_clock("-60s"));

    // The validators on time and the fast one (to which every honest block is in the past) make
    // the quorum of every honest proposal; the slow one must follow it all the same, in step.
    net.wait_height(&[0, 1, 2], 3, MINUTE).unwrap();
    // Rounds are counted from when all four follow: a height decided while the last one was still
    // starting (its turn to propose unanswered) may take one round more than the skew alone costs.
    net.wait_height(&VALIDATORS, net.node(0).height(), MINUTE).unwrap();
    let first = net.node(0).height() + 1;
    let target = first + 8;
    net.wait_height(&VALIDATORS, target, 2 * MINUTE).unwrap();
    net.assert_same_chain(&VALIDATORS, target);
    let slow_metrics = metrics_url(&net.home(3)).expect("node3 serves metrics");
    assert_eq!(
        metric(&slow_metrics, "kessai_penalised_peers"),
        Some(0.0),
        "the slow validator penalised honest peers for their blocks' times"
    );

    // The fast validator's blocks, 60 s ahead, get nil prevotes: none is committed, and each
    // costs one round (the heights it proposes in round 0 are decided in round 1), no more.
    // The slow validator's blocks, at its parent's time + 1 ms, are timely to all and committed.
    let slow_key = entry_field(&net.entries[3], "consensus_key").to_string();
    let (mut second_rounds, mut slow_proposed) = (0, 0);
    for height in first..=target {
        let at = height.to_string();
        let header = net.node(0).cli_json(&["query", "header", "--height", &at]);
        if header["proposer"] == slow_key.as_str() {
            slow_proposed += 1;
        }
        let time_ms = header["time_ms"].as_u64().expect("time_ms");
        assert!(time_ms <= now_ms() + MAX_CLOCK_DRIFT_MS, "block {height} is from the future");
        let commit = net.node(0).cli_json(&["query", "commit", "--height", &at]);
        let round = commit["round"].as_u64().expect("round");
        assert!(round <= 1, "height {height} took {round} rounds: {commit}");
        second_rounds += round;
    }
    assert!(second_rounds > 0, "the fast validator never proposed in heights {first}..={target}");
    assert!(
        slow_proposed > 0,
        "no block of the slow validator was committed in {first}..={target}"
    );

    // Each node says how far its clock is from the chain's: status, metrics and a warning.
    let skew = |i: usize| net.status(i)["clock_skew_ms"].as_i64();
    let (on_time, fast, slow) = (skew(0), skew(2), skew(3));
    assert!(on_time.is_some_and(|ms| ms.abs() < 10_000), "node0 reports {on_time:?}");
    assert!(fast.is_some_and(|ms| ms > REPORTED_SKEW_MS), "the fast node reports {fast:?}");
    assert!(slow.is_some_and(|ms| ms < -REPORTED_SKEW_MS), "the slow node reports {slow:?}");
    let gauge = metric(&slow_metrics, "kessai_clock_skew_seconds").expect("clock skew metric");
    assert!(gauge * 1e3 < -REPORTED_SKEW_MS as f64, "node3's kessai_clock_skew_seconds: {gauge}");
    assert!(net.log(3).contains("local clock disagrees with the chain"), "node3 never warned");
    let text = net.node(3).cli_ok(&["status"]);
    assert!(text.contains("behind the chain"), "kessai status does not say so: {text}");
}
