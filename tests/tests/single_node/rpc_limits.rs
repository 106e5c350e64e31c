//! The RPC server's resource limits against a real node: slow clients are cut off and cannot take
//! every slot, oversize bodies get 413, over-limit batches are refused, and the node keeps serving.
//! Raw HTTP over TCP, as an attacker would speak it.

use kessai_tests::TestNode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The default request body limit (`kessai_node::rpc::limits::MAX_REQUEST_BODY_BYTES`).
const BODY_LIMIT: usize = 4 * 1024 * 1024 + 64 * 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn addr(node: &TestNode) -> SocketAddr {
    node.rpc.trim_start_matches("http://").parse().expect("rpc_url is http://IP:PORT")
}

/// A connection to the node from `source` (another loopback address is another host).
async fn connect_from(source: &str, node: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{source}:0").parse().expect("address")).expect("bind");
    socket.connect(node).await.expect("connect")
}

fn post_head(length: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    )
}

/// Reads an HTTP answer to the end (every request here says `connection: close`): the status code
/// and the body, or `None` if the connection closed without one.
async fn read_answer(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string();
    Some((status, body))
}

/// POSTs `body` from `source` and reads the answer.
async fn post(source: &str, node: SocketAddr, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = connect_from(source, node).await;
    stream.write_all(post_head(body.len()).as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    read_answer(&mut stream).await
}

/// The start of an answer, for assertion messages (an answer may be megabytes long).
fn short(text: &str) -> &str {
    text.get(..text.len().min(300)).unwrap_or(text)
}

fn call(method: &str, params: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string().into_bytes()
}

/// How a trickling connection ended: when, and with which status (none: closed without one).
struct Cut {
    after: Duration,
    status: Option<u16>,
}

/// Sends `head`, then one byte every 200 ms, until the node closes the connection (or 20 s).
async fn trickle(node: SocketAddr, head: Vec<u8>) -> Cut {
    let start = Instant::now();
    let mut stream = connect_from("127.0.0.1", node).await;
    let (mut read, mut write) = stream.split();
    let sender = async {
        let _ = write.write_all(&head).await;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let reader = async {
        let mut bytes = Vec::new();
        let _ = read.read_to_end(&mut bytes).await;
        String::from_utf8_lossy(&bytes).get(9..12).and_then(|s| s.parse().ok())
    };
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            status = reader => status,
            () = sender => unreachable!("the sender never ends"),
        }
    })
    .await
    .expect("the node closed the trickling connection within 20 s");
    Cut { after: start.elapsed(), status }
}

/// Slow loris: more trickling connections from one host than it may hold, and than the node holds
/// in all. Another host is still answered at once; every trickling connection is closed, the ones
/// over the cap at once (429), the others when their body or header timeout runs out.
#[test]
fn slow_clients_are_cut_off_and_cannot_take_every_slot() {
    let node = TestNode::dev_with_env(&[
        ("KESSAI_RPC_MAX_CONNECTIONS", "16"),
        ("KESSAI_RPC_MAX_CONNECTIONS_PER_IP", "8"),
        ("KESSAI_RPC_HEADER_TIMEOUT_MS", "1500"),
        ("KESSAI_RPC_BODY_TIMEOUT_MS", "3000"),
    ]);
    let node_addr = addr(&node);
    runtime().block_on(async {
        // 20 that send their headers and trickle a body of 1,000 bytes, 4 that trickle headers.
        let mut slow = Vec::new();
        for _ in 0..20 {
            slow.push(tokio::spawn(trickle(node_addr, format!("{}{{", post_head(1000)).into())));
        }
        for _ in 0..4 {
            slow.push(tokio::spawn(trickle(node_addr, b"POST / HTTP/1.1\r\nx-slow: ".to_vec())));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;

        let asked = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            post("127.0.0.2", node_addr, &call("kessai_status", json!([]))),
        )
        .await
        .expect("another host is answered within 2 s");
        let (status, body) = answer.expect("an HTTP answer");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"chain_id\":\"kessai-dev\""), "{body}");
        assert!(asked.elapsed() < Duration::from_secs(2));

        let mut cuts = Vec::new();
        for task in slow {
            cuts.push(task.await.expect("trickling task"));
        }
        let refused = cuts.iter().filter(|c| c.status == Some(429)).count();
        let timed_out = cuts.iter().filter(|c| c.status == Some(408)).count();
        // 8 per host: 16 refused at once, 8 admitted; of the admitted, the ones whose headers were
        // complete get 408 after the 3 s body timeout, the others are closed after 1.5 s.
        assert_eq!(
            refused,
            16,
            "statuses: {:?}",
            cuts.iter().map(|c| c.status).collect::<Vec<_>>()
        );
        assert!(
            timed_out >= 4,
            "statuses: {:?}",
            cuts.iter().map(|c| c.status).collect::<Vec<_>>()
        );
        for cut in &cuts {
            let bound = match cut.status {
                Some(429) => Duration::from_secs(1),
                _ => Duration::from_millis(3000 + 2000),
            };
            assert!(cut.after < bound, "closed after {:?} with {:?}", cut.after, cut.status);
            if cut.status == Some(408) {
                assert!(cut.after >= Duration::from_millis(2900), "{:?}", cut.after);
            }
        }
        // The slots are free again.
        let (status, _) =
            post("127.0.0.1", node_addr, &call("kessai_status", json!([]))).await.expect("answer");
        assert_eq!(status, 200);
    });
}

/// A body over the limit gets 413 with the limit, whether its size is announced (answered before
/// it is read) or streamed in chunks; the node keeps serving.
#[test]
fn an_oversize_body_gets_413_and_the_node_keeps_serving() {
    let node = TestNode::dev();
    let node_addr = addr(&node);
    runtime().block_on(async {
        // Announced: a submitTx of a transaction just above the limit, headers only.
        let tx_hex = "00".repeat(BODY_LIMIT / 2 + 1);
        let body = call("kessai_submitTx", json!([tx_hex]));
        let mut stream = connect_from("127.0.0.1", node_addr).await;
        stream.write_all(post_head(body.len()).as_bytes()).await.expect("send headers");
        let (status, text) = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut stream))
            .await
            .expect("answered without the body")
            .expect("an HTTP answer");
        assert_eq!(status, 413, "{}", short(&text));
        assert!(text.contains("too big") && text.contains(&BODY_LIMIT.to_string()), "{}", short(&text));

        // Streamed: chunked, no length announced.
        let mut stream = connect_from("127.0.0.1", node_addr).await;
        let head = "POST / HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        let (mut read, mut write) = stream.split();
        let sender = async {
            write.write_all(head.as_bytes()).await?;
            let chunk = format!("{:x}\r\n{{{}\r\n", 64 * 1024, " ".repeat(64 * 1024 - 1));
            for _ in 0..(BODY_LIMIT / (64 * 1024) + 2) {
                write.write_all(chunk.as_bytes()).await?;
            }
            std::future::pending::<std::io::Result<()>>().await
        };
        let reader = async {
            let mut bytes = Vec::new();
            let _ = read.read_to_end(&mut bytes).await;
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let text = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::select! {
                text = reader => text,
                _ = sender => String::new(),
            }
        })
        .await
        .expect("answered");
        assert!(text.starts_with("HTTP/1.1 413"), "{}", short(&text));
        assert!(text.contains(&format!("larger than the limit of {BODY_LIMIT} bytes")), "{}", short(&text));

        // A transaction one byte over the protocol's size still gets the mempool's sentence.
        let tx_hex = "00".repeat(kessai_primitives::MAX_TX_BYTES + 1);
        let (status, text) = post("127.0.0.1", node_addr, &call("kessai_submitTx", json!([tx_hex])))
            .await
            .expect("answer");
        assert_eq!(status, 200, "{}", short(&text));
        assert!(text.contains("limit"), "{}", short(&text));

        let (status, _) =
            post("127.0.0.1", node_addr, &call("kessai_status", json!([]))).await.expect("answer");
        assert_eq!(status, 200);
    });
}

/// A JSON-RPC batch over the limit and a `kessai_submitTxs` list over the limit are refused whole,
/// with the limit in the message; batches within it are answered.
#[test]
fn an_over_limit_batch_is_refused() {
    let node = TestNode::dev();
    let node_addr = addr(&node);
    runtime().block_on(async {
        let batch = |n: usize| {
            let calls: Vec<Value> = (0..n)
                .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "kessai_status", "params": []}))
                .collect();
            serde_json::to_vec(&calls).expect("JSON")
        };
        let (status, text) = post("127.0.0.1", node_addr, &batch(101)).await.expect("answer");
        let answer: Value = serde_json::from_str(&text).expect("JSON answer");
        assert_eq!(status, 200);
        assert_eq!(answer["error"]["message"], "The batch request was too large", "{}", short(&text));
        assert_eq!(answer["error"]["data"], "Exceeded max limit of 100", "{}", short(&text));

        let (_, text) = post("127.0.0.1", node_addr, &batch(100)).await.expect("answer");
        let answers: Vec<Value> = serde_json::from_str(&text).expect("JSON answers");
        assert_eq!(answers.len(), 100);

        let (_, text) =
            post("127.0.0.1", node_addr, &call("kessai_submitTxs", json!([vec!["00"; 1001]])))
                .await
                .expect("answer");
        let answer: Value = serde_json::from_str(&text).expect("JSON answer");
        assert_eq!(
            answer["error"]["message"],
            "a kessai_submitTxs call carries at most 1000 transactions; this one has 1001: split it",
            "{}", short(&text)
        );
        // Within the limit, each transaction gets its own outcome.
        let (_, text) =
            post("127.0.0.1", node_addr, &call("kessai_submitTxs", json!([vec!["00"; 1000]])))
                .await
                .expect("answer");
        let answer: Value = serde_json::from_str(&text).expect("JSON answer");
        assert_eq!(answer["result"].as_array().map(Vec::len), Some(1000), "{}", short(&text));
    });
}

/// A WebSocket client that vanished (it neither reads nor answers the node's pings) is closed
/// after `rpc.ws_idle_timeout_ms`, and its place under the per-host cap is free again; a client
/// that answers the pings keeps its subscription for as long as it likes.
#[test]
fn a_websocket_client_that_stops_answering_pings_is_closed_and_its_place_freed() {
    const IDLE_MS: u64 = 2_000;
    let node = TestNode::dev_with_env(&[
        ("KESSAI_RPC_WS_IDLE_TIMEOUT_MS", "2000"),
        ("KESSAI_RPC_MAX_CONNECTIONS_PER_IP", "1"),
    ]);
    let node_addr = addr(&node);
    runtime().block_on(async {
        // The live client, from its own host, reads all along (its pongs go back as it reads).
        let mut live = kessai_client::subscribe::Subscription::open(
            &node.rpc,
            "kessai_subscribeHeads",
            json!([null]),
        )
        .await
        .expect("heads subscription");
        let live = tokio::spawn(async move {
            let started = Instant::now();
            let mut heads = 0;
            while started.elapsed() < Duration::from_millis(IDLE_MS * 4) {
                match live.next().await.expect("still subscribed") {
                    kessai_client::subscribe::Next::Item(_) => heads += 1,
                    other => panic!("the live subscription ended: {other:?}"),
                }
            }
            heads
        });

        // The vanished one: a WebSocket upgrade from 127.0.0.3, then silence.
        let mut gone = connect_from("127.0.0.3", node_addr).await;
        let upgrade = "GET / HTTP/1.1\r\nhost: node\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
                       sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n";
        gone.write_all(upgrade.as_bytes()).await.expect("upgrade sent");
        let mut head = vec![0u8; 1024];
        let n = gone.read(&mut head).await.expect("upgrade answered");
        let answer = String::from_utf8_lossy(&head[..n]).to_string();
        assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
        let upgraded = Instant::now();

        // While it holds the host's one place, another connection from that host is refused.
        let (status, _) = post("127.0.0.3", node_addr, &call("kessai_status", json!([])))
            .await
            .expect("an answer");
        assert_eq!(status, 429, "the vanished client holds the host's place");

        // It is closed once its pings go unanswered: the pings it never read, then the end.
        tokio::time::sleep(Duration::from_millis(IDLE_MS * 2)).await;
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), gone.read_to_end(&mut rest))
            .await
            .expect("the node closed the silent connection")
            .expect("read to the end");
        assert!(!rest.is_empty(), "the node pinged before closing");
        let closed_after = upgraded.elapsed();
        assert!(closed_after < Duration::from_millis(IDLE_MS * 2 + 10_000), "{closed_after:?}");
        let (status, body) = post("127.0.0.3", node_addr, &call("kessai_status", json!([])))
            .await
            .expect("an answer");
        assert_eq!(status, 200, "the place is free again: {body}");

        // The client that answers outlived several idle timeouts, getting heads all along.
        let heads = live.await.expect("the live subscriber");
        assert!(heads >= 3, "the live subscriber got {heads} heads over the idle timeouts");
    });
}
