//! Health and readiness (`kessai_node::health`): `GET /health` and `GET /ready` on the RPC port and
//! on the metrics port, `kessai status`'s readiness line and `kessai node health`'s exit status,
//! and the metrics operators alert on (last signed height, missed blocks, build info, libp2p).

use kessai_tests::testnet::{metric, metrics_url, Testnet};
use kessai_tests::{dev_address as addr, kessai, stderr, TestNode};
use serde_json::json;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A plain HTTP/1.0 `GET` of `url`: the status code and the body.
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(authority).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads the response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok());
    (status.unwrap_or_else(|| panic!("GET {url}: no status in {head:?}")), body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// `GET base/ready` until it answers `status` (a node needs a moment to decide it is ready).
fn wait_ready_status(base: &str, status: u16) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (got, body) = get(&format!("{base}/ready"));
        if got == status {
            return json(&body);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "/ready still {got}: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn failing(ready: &serde_json::Value) -> Vec<String> {
    let failing = ready["failing"].as_array().unwrap_or_else(|| panic!("no failing: {ready}"));
    failing.iter().map(|f| f.as_str().expect("a string").to_string()).collect()
}

/// The dev chain's validator, producing blocks: /health and /ready answer 200 on the RPC port
/// (JSON-RPC goes on working beside them), `kessai status` says it is ready and `kessai node
/// health` exits 0.
#[test]
fn a_dev_chain_producing_blocks_is_healthy_and_ready() {
    let node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(60)).unwrap();

    let (status, body) = get(&format!("{}/health", node.rpc));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["status"], "ok", "{body}");

    let ready = wait_ready_status(&node.rpc, 200);
    assert_eq!(ready, serde_json::json!({ "ready": true, "failing": [] }));

    let status = node.cli_ok(&["status"]);
    assert_eq!(status.lines().next(), Some("ready: yes"), "{status}");
    let readiness = &node.cli_json(&["status"])["readiness"];
    assert_eq!(readiness["ready"], true, "{readiness}");

    let health = kessai(&["node", "health", "--rpc", &node.rpc]);
    assert!(health.status.success(), "{}", stderr(&health));
    assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "ready");
}

/// A validator of a four-validator chain started alone has no peers: it serves (/health 200) but
/// is not ready (/ready 503, "no peers"), on the RPC port and on the metrics port, which also
/// serves the metrics operators alert on.
#[test]
fn a_validator_without_peers_is_not_ready_and_says_why() {
    let mut testnet = Testnet::init(4, 0);
    testnet.start(0);
    let node = testnet.node(0);

    let ready = wait_ready_status(&node.rpc, 503);
    assert_eq!(ready["ready"], false, "{ready}");
    assert!(failing(&ready).contains(&"no peers".to_string()), "{ready}");
    assert_eq!(get(&format!("{}/health", node.rpc)).0, 200);

    let status = testnet.status(0);
    assert_eq!(status["readiness"]["ready"], false, "{status}");
    let text = node.cli_ok(&["status"]);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("ready: NO (") && first.contains("no peers"), "{text}");

    let health = kessai(&["node", "health", "--rpc", &node.rpc]);
    assert!(!health.status.success(), "a node without peers passed the health check");
    let error = stderr(&health);
    assert!(error.contains("is not ready: ") && error.contains("no peers"), "{error}");

    // The metrics port: the same endpoints, and the new metrics.
    let metrics = metrics_url(&testnet.home(0)).expect("the testnet node serves metrics");
    let base = metrics.strip_suffix("/metrics").expect("a /metrics URL");
    assert_eq!(get(&format!("{base}/health")).0, 200);
    let ready = wait_ready_status(base, 503);
    assert!(failing(&ready).contains(&"no peers".to_string()), "{ready}");
    let (status, text) = get(&metrics);
    assert_eq!(status, 200);
    let build_info = text
        .lines()
        .find(|line| line.starts_with("kessai_build_info{"))
        .unwrap_or_else(|| panic!("no kessai_build_info:\n{text}"));
    assert!(build_info.contains("chain_id=\"kessai-testnet\""), "{build_info}");
    assert!(build_info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))));
    assert!(build_info.ends_with(" 1"), "{build_info}");
    for name in ["kessai_last_signed_height ", "kessai_missed_blocks_total "] {
        assert!(text.lines().any(|line| line.starts_with(name)), "no {name}:\n{text}");
    }
    // libp2p's figures (libp2p-metrics): its dials to the three missing peers fail.
    assert!(
        text.lines().any(|line| line.starts_with("kessai_libp2p_swarm_outgoing_connection_error")),
        "no libp2p metrics:\n{text}"
    );
}

/// A validator whose `data/` was wiped signs nothing until the chain passes the height its key
/// last signed: not ready, "signing waits for height H".
#[test]
fn a_validator_waiting_below_its_signed_height_is_not_ready() {
    let mut node = TestNode::dev();
    node.wait_height(3, Duration::from_secs(60)).unwrap();
    wait_ready_status(&node.rpc, 200);
    node.kill9();
    std::fs::remove_dir_all(node.home.join("data")).unwrap();
    node.start().unwrap();

    let ready = wait_ready_status(&node.rpc, 503);
    let reasons = failing(&ready);
    let waits = reasons.iter().find_map(|r| r.strip_prefix("signing waits for height "));
    let floor: u64 = waits.unwrap_or_else(|| panic!("{ready}")).parse().expect("a height");
    assert!(floor >= 3, "{ready}");
}

/// A one-validator testnet (its node has a metrics port) at `height` or above, and the node's
/// metrics URL.
fn producing_validator(height: u64) -> (Testnet, String) {
    let mut testnet = Testnet::init(1, 0);
    testnet.start(0);
    testnet.node(0).wait_height(height, Duration::from_secs(60)).unwrap();
    let metrics = metrics_url(&testnet.home(0)).expect("the testnet node serves metrics");
    (testnet, metrics)
}

/// A one-validator testnet node (it has a metrics port): ready on the metrics port once it
/// produces blocks, its key's last signed height follows the chain, and it misses no block.
#[test]
fn a_producing_validator_reports_its_signing_on_the_metrics_port() {
    let (_testnet, metrics) = producing_validator(3);
    let base = metrics.strip_suffix("/metrics").expect("a /metrics URL");
    assert_eq!(wait_ready_status(base, 200)["failing"], serde_json::json!([]));

    let height = metric(&metrics, "kessai_height").expect("kessai_height");
    let signed = metric(&metrics, "kessai_last_signed_height").expect("last signed height");
    assert!(height >= 3.0 && signed >= height, "last signed {signed}, height {height}");
    assert_eq!(metric(&metrics, "kessai_missed_blocks_total"), Some(0.0));
}

/// `kessai_cpu_seconds_total{stage}`: once a signed call is committed, each stage it went through
/// (admission, execution, the tree's update, the block's write) has counted CPU time.
#[test]
fn a_committed_call_counts_cpu_in_every_stage() {
    let (testnet, metrics) = producing_validator(2);
    let stage = |name: &str| {
        let series = format!("kessai_cpu_seconds_total{{stage=\"{name}\"}}");
        metric(&metrics, &series).unwrap_or_else(|| panic!("no {series}"))
    };
    assert_eq!(stage("admission"), 0.0, "nothing was submitted yet");

    testnet.node(0).call_result("alice", "netting", "fund", &json!([addr("bob"), 7]));
    for name in ["admission", "execute", "tree", "write"] {
        assert!(stage(name) > 0.0, "no CPU counted for {name}");
    }
}
