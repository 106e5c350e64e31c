//! Scheduled protocol upgrades on a four-validator network of real processes (issue 16, item 1;
//! decision record 0020): governance schedules version V at height H; headers from H carry V.
//! A binary that supports V goes through H and the four keep agreeing; one that does not stops
//! every node before H with "upgrade to a binary supporting protocol V" (exit code 3), and
//! refuses to start again past H.

use kessai_tests::testnet::{http_get, one_network_at_a_time, Testnet};
use kessai_tests::{kessai, stderr};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const ALL: [usize; 4] = [0, 1, 2, 3];

/// Submits `tx gov schedule-upgrade` through node 0 and returns its receipt's height.
fn schedule(net: &Testnet, version: u32, height: u64) -> u64 {
    let keys = net.keys_dir();
    let receipt = net.node(0).cli_json(&[
        "tx",
        "gov",
        "schedule-upgrade",
        "--protocol-version",
        &version.to_string(),
        "--height",
        &height.to_string(),
        "--key",
        "alice",
        "--keys-dir",
        &keys,
    ]);
    assert_eq!(receipt["receipt"]["status"]["status"], "success", "{receipt}");
    receipt["height"].as_u64().expect("height")
}

fn header_field(net: &Testnet, i: usize, height: u64, field: &str) -> u64 {
    let block = net.node(i).cli_json(&["query", "block", "--height", &height.to_string()]);
    block["header"][field].as_u64().unwrap_or_else(|| panic!("{field} in {block}"))
}

#[test]
fn a_supported_upgrade_is_passed_and_the_network_keeps_agreeing() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&ALL, 1, MINUTE).unwrap();

    let at = net.node(0).height() + 8;
    let scheduled_in = schedule(&net, 2, at);
    assert!(scheduled_in < at);
    // The receipt came from node 0 when it committed; the others may be a block behind.
    net.wait_height(&ALL, scheduled_in, MINUTE).unwrap();
    // Every node shows the upgrade coming: `kessai status` and `/health`.
    for i in ALL {
        let status = net.status(i);
        assert_eq!(status["protocol_version"], 1, "{status}");
        assert_eq!(status["supported_protocol_versions"], serde_json::json!([1, 2]));
        assert_eq!(
            status["scheduled_upgrade"],
            serde_json::json!({ "protocol_version": 2, "height": at }),
            "node {i}"
        );
    }
    let health: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{}/health", net.node(1).rpc)).unwrap()).unwrap();
    assert_eq!(health["scheduled_upgrade"]["height"], at, "{health}");
    let text = net.node(2).cli_ok(&["status"]);
    assert!(text.contains(&format!("upgrade: protocol 2 scheduled at height {at}")), "{text}");

    net.wait_height(&ALL, at + 2, MINUTE).unwrap();
    net.assert_same_chain(&ALL, at + 2);
    for height in 1..=at + 2 {
        let expected = if height < at { 1 } else { 2 };
        for i in ALL {
            assert_eq!(header_field(&net, i, height, "protocol_version"), expected, "h {height}");
        }
    }
    // The block of the governance transaction commits to its count.
    assert_eq!(header_field(&net, 3, scheduled_in, "tx_count"), 1);
    for i in ALL {
        let status = net.status(i);
        assert_eq!(status["protocol_version"], 2, "{status}");
        assert!(status["scheduled_upgrade"].is_null(), "{status}");
    }
    // Still one chain that takes transactions under version 2.
    let later = schedule(&net, 3, net.node(0).height() + 50);
    assert!(later > at);
    net.wait_height(&ALL, later + 1, MINUTE).unwrap();
    net.assert_same_chain(&ALL, later + 1);
}

#[test]
fn an_unsupported_upgrade_stops_every_node_before_its_height() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&ALL, 1, MINUTE).unwrap();

    let at = net.node(0).height() + 7;
    let scheduled_in = schedule(&net, 99, at);
    net.wait_height(&[1], scheduled_in, MINUTE).unwrap();
    let text = net.node(1).cli_ok(&["status"]);
    assert!(
        text.contains(&format!(
            "NOT supported by this binary: it stops before height {at}; upgrade to a binary \
             supporting protocol 99"
        )),
        "{text}"
    );

    let message = "upgrade to a binary supporting protocol 99";
    for i in ALL {
        let status = net.wait_exit(i, MINUTE).unwrap_or_else(|| panic!("node {i} runs on"));
        assert_eq!(status.code(), Some(3), "node {i}: {status}\n{}", net.log(i));
        let log = net.log(i);
        assert!(log.contains(message), "node {i}:\n{log}");
        assert!(log.contains(&format!("block {at} follows protocol version 99")), "{log}");
    }
    // A restart refuses to run past the upgrade: the same exit code, before serving anything.
    for i in [0, 3] {
        let home = net.home(i).display().to_string();
        let out = kessai(&["node", "run", "--home", &home, "--rpc-addr", "127.0.0.1:0"]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("refusing to start") && text.contains(message), "{text}");
    }
}
