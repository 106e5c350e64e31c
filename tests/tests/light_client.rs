//! `kessai light` against real `kessai dev` processes: initialise from the chain spec or a trusted
//! hash, sync, prove values, absences and transactions — and catch a node that lies. The lying
//! node is an HTTP proxy in this file that forwards JSON-RPC to a real node and rewrites its
//! answers (a forged header, a tampered value or proof, a proof of another height, a withheld
//! value claimed absent, a forged receipt). A real fork — two chains signed by the same validator —
//! is caught through a witness, and a trusted header older than the trusting period is refused.
//! A witness that cannot be reached confirms nothing: alone, it makes the sync fail.

use kessai_tests::light::{assert_quorum, create_asset, light, light_json};
use kessai_tests::{dev_address as addr, now_ms, stderr, TestNode};
use proxy::{Lie, LyingProxy};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The command must fail with exit code 1 and one sentence on stderr; returns it.
fn light_refused(home: &Path, rpc: &str, args: &[&str]) -> String {
    let out = light(home, rpc, args);
    let why = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "kessai light {args:?} should have failed: {why}");
    assert!(why.starts_with("error: ") && why.trim_end().lines().count() == 1, "{why}");
    why
}

fn chain_spec(node: &TestNode) -> String {
    node.home.join("chainspec.json").display().to_string()
}

/// The node's own block id at `height`, to compare with what the light client verified.
fn block_hash(node: &TestNode, height: u64) -> Value {
    node.cli_json(&["query", "block", "--height", &height.to_string()])["hash"].clone()
}

/// The height of the header the light home trusts, as stored on disk.
fn stored_height(home: &Path) -> u64 {
    let text = std::fs::read_to_string(home.join("trusted.json")).expect("trusted.json");
    let state: Value = serde_json::from_str(&text).expect("JSON");
    state["header"]["height"].as_u64().expect("a height")
}

#[test]
fn from_genesis_sync_then_prove_values_absences_and_transactions() {
    let node = TestNode::dev();
    node.wait_height(1, Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");

    let init = light_json(&home, &node.rpc, &["init", "--from-genesis", &chain_spec(&node)]);
    assert_eq!(init["trusted"]["height"], 1);
    assert_eq!(init["trusted"]["hash"], block_hash(&node, 1));
    assert_eq!(init["trusted"]["chain_id"], "kessai-dev");
    assert!(light_refused(&home, &node.rpc, &["init", "--from-genesis", &chain_spec(&node)])
        .contains("already holds a trusted state"));

    let (id, tx, tx_height) = create_asset(&node);
    node.call_result("alice", "clearing", "register_exchange", &json!([addr("bob"), "A"]));
    node.call_result("alice", "clearing", "deposit_fiat", &json!([addr("bob"), 200]));

    let synced = light_json(&home, &node.rpc, &["sync", "--witness", &node.rpc]);
    let height = synced["verified"]["height"].as_u64().unwrap();
    assert_eq!(
        synced["witnesses"],
        json!({ "given": 1, "height": height, "confirmed": 1, "confirmed_by": [node.rpc],
            "unavailable": [], "faulty": [] }),
        "an honest witness confirms"
    );
    assert!(height >= tx_height + 2, "{synced}");
    assert_eq!(synced["verified"]["hash"], block_hash(&node, height));
    assert_quorum(&synced["verified"]);
    assert_eq!(stored_height(&home), height, "the verified header is kept");

    // An asset record: the value the contract stored, proven at the latest height.
    let record =
        light_json(&home, &node.rpc, &["get", "asset-ownership", "records", &id.to_string()]);
    assert_eq!(record["present"], true);
    assert_eq!(
        (record["value"]["amount"].as_u64(), record["value"]["owner"].as_str()),
        (Some(7), Some(addr("carol").as_str()))
    );
    let at = record["verified"]["height"].as_u64().unwrap();
    assert_eq!(record["verified"]["hash"], block_hash(&node, at));
    assert_quorum(&record["verified"]);

    // A clearing balance under a tuple key; then a proven absence.
    let key = json!([addr("bob"), "JPY"]).to_string();
    let balance = light_json(&home, &node.rpc, &["get", "clearing", "balances", &key]);
    assert_eq!(balance["value"], "200");
    let absent = light_json(&home, &node.rpc, &["get", "asset-ownership", "records", "999999"]);
    assert_eq!((absent["present"].as_bool(), &absent["value"]), (Some(false), &Value::Null));
    let human = light(&home, &node.rpc, &["get", "asset-ownership", "records", "999999"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("absent (proof of absence verified)"));

    // Below the trusted height: the record did not exist before its block, and existed in it.
    let before = (tx_height - 1).to_string();
    let earlier = light_json(
        &home,
        &node.rpc,
        &["get", "asset-ownership", "records", &id.to_string(), "--height", &before],
    );
    assert_eq!(
        (earlier["present"].as_bool(), earlier["verified"]["height"].as_u64()),
        (Some(false), Some(tx_height - 1))
    );
    assert_eq!(earlier["verified"]["hash"], block_hash(&node, tx_height - 1));
    let during = tx_height.to_string();
    let created = light_json(
        &home,
        &node.rpc,
        &["get", "asset-ownership", "records", &id.to_string(), "--height", &during],
    );
    assert_eq!(created["present"], true);

    // A transaction and its receipt, proven in their block.
    let proven = light_json(&home, &node.rpc, &["verify-tx", &tx]);
    assert_eq!(
        (proven["height"].as_u64(), proven["success"].as_bool()),
        (Some(tx_height), Some(true))
    );
    assert_eq!(
        proven["signer"],
        json!(kessai_primitives::Keypair::dev("bob").public().to_string())
    );
    assert_eq!(proven["verified"]["hash"], block_hash(&node, tx_height));
    let unknown = "ab".repeat(32);
    assert!(light_refused(&home, &node.rpc, &["verify-tx", &unknown]).contains("proves nothing"));
    // Names that are not there are proven absent too.
    assert!(light_refused(&home, &node.rpc, &["get", "no-such-contract", "m", "1"])
        .contains("proven absent"));
}

#[test]
fn init_from_a_trusted_hash_needs_the_right_hash() {
    let node = TestNode::dev();
    node.wait_height(3, Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hash = block_hash(&node, 2).as_str().unwrap().to_string();

    let wrong = light_refused(
        &dir.path().join("wrong"),
        &node.rpc,
        &["init", "--trusted-height", "2", "--trusted-hash", &"00".repeat(32)],
    );
    assert!(wrong.contains(&format!("header at height 2 hashes to {hash}")), "{wrong}");
    assert!(!dir.path().join("wrong/trusted.json").exists(), "nothing is trusted after a refusal");

    let home = dir.path().join("light");
    let init =
        light_json(&home, &node.rpc, &["init", "--trusted-height", "2", "--trusted-hash", &hash]);
    assert_eq!(
        (init["trusted"]["height"].as_u64(), init["trusted"]["hash"].as_str()),
        (Some(2), Some(hash.as_str()))
    );
    let synced = light_json(&home, &node.rpc, &["sync"]);
    assert!(synced["verified"]["height"].as_u64().unwrap() >= 3);
}

#[test]
fn a_lying_node_is_caught_and_nothing_it_says_is_kept() {
    let node = TestNode::dev();
    let (id, tx, tx_height) = create_asset(&node);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");
    light_json(&home, &node.rpc, &["init", "--from-genesis", &chain_spec(&node)]);
    let liar = LyingProxy::start(&node.rpc);
    let record = ["get", "asset-ownership", "records", &id.to_string()];

    // Honest through the proxy: the proxy itself is not what fails.
    let honest = light_json(&home, &liar.url, &record);
    assert_eq!(honest["value"]["amount"], 7);
    let trusted = stored_height(&home);

    node.wait_height(trusted + 1, Duration::from_secs(30)).unwrap();
    liar.lie(Lie::ForgeHeaders { from: trusted + 1 });
    let forged = light_refused(&home, &liar.url, &["sync"]);
    assert!(forged.contains("verification failed: forged header at height"), "{forged}");
    assert!(forged.contains("but the commit signs block"), "{forged}");

    // Each lie with the part of jmt's verdict that names what did not match.
    for (lie, what, verdict) in [
        (Lie::TamperValue, "a tampered value", "Value hashes do not match"),
        (Lie::TamperProof, "a tampered proof", "Value hashes do not match"),
        (
            Lie::StateFromHeight(tx_height - 1),
            "a proof of another height",
            "Root hashes do not match",
        ),
        (Lie::WithholdValue, "a withheld value claimed absent", "but key exists in proof"),
    ] {
        liar.lie(lie);
        let out = light(&home, &liar.url, &record);
        let why = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what} was accepted: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(why.contains("verification failed: state proof for key"), "{what}: {why}");
        assert!(why.contains("does not verify") && why.contains(verdict), "{what}: {why}");
        assert!(out.stdout.is_empty(), "{what}: nothing is printed as verified");
    }

    liar.lie(Lie::TamperReceipt);
    let receipt = light_refused(&home, &liar.url, &["verify-tx", &tx]);
    assert!(
        receipt.contains(&format!(
            "the receipt of transaction {tx} is not proven in block {tx_height}"
        )),
        "{receipt}"
    );

    assert_eq!(stored_height(&home), trusted, "nothing a liar said was kept");
    liar.lie(Lie::Nothing);
    assert_eq!(light_json(&home, &liar.url, &record)["value"]["amount"], 7);
}

#[test]
fn a_witness_that_forges_headers_is_set_aside() {
    let node = TestNode::dev();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");
    node.wait_height(3, Duration::from_secs(30)).unwrap();
    light_json(&home, &node.rpc, &["init", "--from-genesis", &chain_spec(&node)]);
    let witness = LyingProxy::start(&node.rpc);
    witness.lie(Lie::ForgeHeaders { from: 2 });

    // Alone, the liar confirms nothing: the header is not trusted.
    let why = light_refused(&home, &node.rpc, &["sync", "--witness", &witness.url]);
    assert!(why.contains("no witness confirmed the header at height"), "{why}");
    assert!(why.contains(&format!("{} faulty (forged header", witness.url)), "{why}");
    assert_eq!(stored_height(&home), 1, "nothing unconfirmed is kept");

    // With an honest witness beside it, the liar is reported and set aside.
    let synced =
        light_json(&home, &node.rpc, &["sync", "--witness", &witness.url, "--witness", &node.rpc]);
    let witnesses = &synced["witnesses"];
    assert_eq!(witnesses["confirmed_by"], json!([node.rpc]), "{synced}");
    assert_eq!(witnesses["unavailable"], json!([]), "{synced}");
    let faulty = witnesses["faulty"].as_array().unwrap();
    assert_eq!(faulty.len(), 1, "{synced}");
    assert_eq!(faulty[0]["witness"], json!(witness.url));
    assert!(faulty[0]["reason"].as_str().unwrap().contains("forged header"), "{synced}");
}

/// A URL nothing listens on: a port the system just handed out and took back.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[test]
fn a_witness_that_does_not_answer_confirms_nothing() {
    let node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");
    light_json(&home, &node.rpc, &["init", "--from-genesis", &chain_spec(&node)]);
    let dead = dead_url();

    // The only witness cannot be reached: the sync fails and says why; nothing is kept.
    let why = light_refused(&home, &node.rpc, &["sync", "--witness", &dead]);
    assert!(why.contains("no witness confirmed the header at height"), "{why}");
    assert!(why.contains("(1 given: 1 unavailable, 0 faulty)"), "{why}");
    assert!(why.contains(&format!("{dead} unavailable (")), "{why}");
    assert_eq!(stored_height(&home), 1, "nothing unconfirmed is kept");

    // Beside a witness that confirms, it is reported as unavailable, not as agreeing.
    let synced =
        light_json(&home, &node.rpc, &["sync", "--witness", &dead, "--witness", &node.rpc]);
    let height = synced["verified"]["height"].as_u64().unwrap();
    assert!(height >= 2, "{synced}");
    assert_eq!(stored_height(&home), height);
    let witnesses = &synced["witnesses"];
    assert_eq!(
        (&witnesses["given"], &witnesses["height"], &witnesses["confirmed"]),
        (&json!(2), &json!(height), &json!(1)),
        "{synced}"
    );
    assert_eq!(witnesses["confirmed_by"], json!([node.rpc]), "{synced}");
    assert_eq!(witnesses["faulty"], json!([]), "{synced}");
    let unavailable = witnesses["unavailable"].as_array().unwrap();
    assert_eq!(unavailable.len(), 1, "{synced}");
    assert_eq!(unavailable[0]["witness"], json!(dead));
    assert!(unavailable[0]["reason"].as_str().unwrap().contains(&dead), "{synced}");

    // The same, for people.
    node.wait_height(height + 1, Duration::from_secs(30)).unwrap();
    let out = light(&home, &node.rpc, &["sync", "--witness", &dead, "--witness", &node.rpc]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 of 2 witnesses confirmed the header at height"), "{text}");
    assert!(text.contains(&format!("unavailable witness {dead}: ")), "{text}");
}

#[test]
fn two_chains_signed_by_the_same_validator_are_a_fork() {
    // Same chain spec, chain id and validator key, two processes: validator-0 signs two different
    // blocks at every height. The primary's chain and the witness's both verify: a fork.
    let primary = TestNode::dev();
    let other = TestNode::with_chain_id(&primary, "kessai-dev");
    other.wait_height(3, Duration::from_secs(30)).unwrap();
    primary.wait_height(3, Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("light");
    light_json(&home, &primary.rpc, &["init", "--from-genesis", &chain_spec(&primary)]);

    let why =
        light_refused(&home, &primary.rpc, &["sync", "--height", "3", "--witness", &other.rpc]);
    assert!(why.contains("fork detected at height 3"), "{why}");
    assert!(why.contains("1 validators signed both"), "{why}");
    let evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("fork-evidence.json")).unwrap())
            .unwrap();
    assert_eq!(evidence["witness"], json!(other.rpc));
    assert_eq!(
        evidence["double_signers"],
        json!([kessai_primitives::Keypair::dev("validator-0").public()])
    );
    // Until an operator has dealt with it, nothing more is verified from this home.
    assert!(light_refused(&home, &primary.rpc, &["sync"]).contains("a fork was detected earlier"));
    assert_eq!(stored_height(&home), 1);
}

#[test]
fn headers_older_than_the_trusting_period_are_not_trusted() {
    let node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let period = ["--trusting-period", "4s"];

    // A fresh header is trusted for 4 s …
    let home = dir.path().join("light");
    let latest = node.height();
    let (height, hash) = (latest.to_string(), block_hash(&node, latest));
    let mut init =
        vec!["init", "--trusted-height", &height, "--trusted-hash", hash.as_str().unwrap()];
    init.extend(period);
    light_json(&home, &node.rpc, &init);
    light_json(&home, &node.rpc, &["sync"]);
    let synced_to = stored_height(&home);
    node.wait_height(synced_to + 1, Duration::from_secs(30)).unwrap();
    let synced_time = node.cli_json(&["query", "header", "--height", &synced_to.to_string()])
        ["time_ms"]
        .as_u64()
        .unwrap();

    // … and no longer once it is older than that, even though the node is honest.
    while now_ms() < synced_time + 4_500 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let expired = light_refused(&home, &node.rpc, &["sync"]);
    assert!(expired.contains(&format!("trusted header at height {synced_to}")), "{expired}");
    assert!(expired.contains("re-initialise from a recent trusted hash"), "{expired}");

    // A node serving its stale block 1 as the header to trust: refused at init, from the chain
    // spec as from a hash.
    let spec = chain_spec(&node);
    let mut from_genesis = vec!["init", "--from-genesis", &spec];
    from_genesis.extend(period);
    let stale = light_refused(&dir.path().join("stale"), &node.rpc, &from_genesis);
    assert!(
        stale.contains("not trusted: trusted header at height 1") && stale.contains("expired"),
        "{stale}"
    );
}

/// An HTTP JSON-RPC proxy in front of a real node that answers like it, except where told to lie.
mod proxy {
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::core::params::ArrayParams;
    use kessai_client::rpc::{ClientError, HttpClient};
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// What the proxy lies about. The state lies touch contract storage only (keys outside the
    /// system namespace), so a contract's name, code and interface still verify and what is caught
    /// is the lie about the value asked for.
    #[derive(Clone, Copy, Debug)]
    pub enum Lie {
        Nothing,
        /// Headers from this height on carry another state root (as if to prove other values).
        ForgeHeaders {
            from: u64,
        },
        /// A stored value, changed.
        TamperValue,
        /// The value hash inside the proof's leaf, changed.
        TamperProof,
        /// State reads answered from this height, labelled with the height asked for.
        StateFromHeight(u64),
        /// A present value reported absent, with the node's (inclusion) proof.
        WithholdValue,
        /// A successful transaction's receipt turned into a failure.
        TamperReceipt,
    }

    pub struct LyingProxy {
        pub url: String,
        lie: Arc<Mutex<Lie>>,
        // Serves the proxy until the proxy is dropped.
        _runtime: tokio::runtime::Runtime,
    }

    impl LyingProxy {
        pub fn start(node_rpc: &str) -> LyingProxy {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let _context = runtime.enter();
            let lie = Arc::new(Mutex::new(Lie::Nothing));
            let node = Arc::new(kessai_client::rpc_client(node_rpc).expect("node client"));
            let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("address"));
            let shared = lie.clone();
            runtime.spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (node, lie) = (node.clone(), *shared.lock().unwrap());
                    tokio::spawn(async move {
                        let _ = serve(stream, &node, lie).await;
                    });
                }
            });
            LyingProxy { url, lie, _runtime: runtime }
        }

        pub fn lie(&self, lie: Lie) {
            *self.lie.lock().unwrap() = lie;
        }
    }

    /// One HTTP request, one answer, then the connection closes.
    async fn serve(mut stream: TcpStream, node: &HttpClient, lie: Lie) -> std::io::Result<()> {
        let body = read_body(&mut stream).await?;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let response = answer(node, lie, &request).await.to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            response.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    }

    async fn read_body(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let body_start = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < body_start + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(buf[body_start..body_start + length].to_vec())
    }

    /// Forwards the call to the node and rewrites its result as `lie` says.
    async fn answer(node: &HttpClient, lie: Lie, request: &Value) -> Value {
        let method = request["method"].as_str().unwrap_or_default();
        let mut params = request["params"].as_array().cloned().unwrap_or_default();
        if let (Lie::StateFromHeight(height), "kessai_state") = (lie, method) {
            if is_contract_key(&params[0]) {
                params[1] = json!(height);
            }
        }
        let mut forwarded = ArrayParams::new();
        for param in &params {
            forwarded.insert(param).expect("a JSON value");
        }
        let reply = match node.request::<Value, _>(method, forwarded).await {
            Ok(result) => json!({ "result": rewrite(lie, method, &request["params"], result) }),
            Err(ClientError::Call(e)) => {
                json!({ "error": { "code": e.code(), "message": e.message() } })
            }
            Err(other) => json!({ "error": { "code": -32603, "message": other.to_string() } }),
        };
        let mut response = json!({ "jsonrpc": "2.0", "id": request["id"] });
        response.as_object_mut().unwrap().extend(reply.as_object().unwrap().clone());
        response
    }

    fn rewrite(lie: Lie, method: &str, asked: &Value, mut result: Value) -> Value {
        let contract_value = is_contract_key(&result["key"]) && !result["value"].is_null();
        match (lie, method) {
            (Lie::ForgeHeaders { from }, "kessai_header")
                if result["height"].as_u64().is_some_and(|h| h >= from) =>
            {
                result["state_root"] = json!("11".repeat(32));
            }
            (Lie::TamperValue, "kessai_state") if contract_value => {
                result["value"] = json!(flip_hex_byte(result["value"].as_str().unwrap(), 0));
            }
            // The proof's bytes: Some-tag (1), leaf key hash (32), leaf value hash (32), ….
            (Lie::TamperProof, "kessai_state") if contract_value => {
                result["proof"] = json!(flip_hex_byte(result["proof"].as_str().unwrap(), 33));
            }
            (Lie::StateFromHeight(_), "kessai_state") if is_contract_key(&result["key"]) => {
                result["height"] = asked[1].clone();
            }
            (Lie::WithholdValue, "kessai_state") if contract_value => result["value"] = Value::Null,
            (Lie::TamperReceipt, "kessai_tx") if !result["receipt"].is_null() => {
                result["receipt"]["status"] = json!({ "status": "failed", "reason": "out of gas" });
            }
            _ => {}
        }
        result
    }

    /// A flat key (hex) outside the system namespace (32 zero bytes): contract storage.
    fn is_contract_key(key: &Value) -> bool {
        key.as_str().is_some_and(|k| !k.starts_with(&"00".repeat(32)))
    }

    fn flip_hex_byte(hex_text: &str, index: usize) -> String {
        let mut bytes = hex::decode(hex_text).expect("hex");
        bytes[index] ^= 0xff;
        hex::encode(bytes)
    }
}
