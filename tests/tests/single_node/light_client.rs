//! `kessai light` against real `kessai dev` processes: initialise from the chain spec or a trusted
//! hash, sync, prove values, absences and transactions — and catch a node that lies. The lying
//! node is an HTTP proxy in this file that forwards JSON-RPC to a real node and rewrites its
//! answers (a forged header, a tampered value or proof, a proof of another height, a withheld
//! value claimed absent, a forged receipt). A real fork — two chains signed by the same validator —
//! is caught through a witness, and a trusted header older than the trusting period is refused.
//! A witness that cannot be reached confirms nothing: alone, it makes the sync fail.

use kessai_tests::light::{assert_quorum, create_asset, light, light_json};
use kessai_tests::proxy::{Lie, LyingProxy};
use kessai_tests::{dev_address as addr, now_ms, stderr, TestNode};
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

/// `kessai query state` reads through the light client too: through a node that serves headers its
/// validators did not sign, it refuses and prints nothing as verified; a validator set other than
/// the one trusted is refused before anything is read.
#[test]
fn query_state_refuses_a_header_the_trusted_validators_did_not_sign() {
    let node = TestNode::dev();
    let (id, _, tx_height) = create_asset(&node);
    let liar = LyingProxy::start(&node.rpc);
    let spec = chain_spec(&node);
    let id = id.to_string();
    let query = |rpc: &str, extra: &[&str]| {
        let mut args = vec!["query", "state", "asset-ownership", "records", &id, "--rpc", rpc];
        args.extend_from_slice(extra);
        kessai_tests::kessai(&args)
    };

    // Honest through the proxy, from the chain spec given explicitly.
    let honest = query(&liar.url, &["--trust-spec", &spec, "--json"]);
    assert!(honest.status.success(), "{}", stderr(&honest));
    let honest: Value = serde_json::from_slice(&honest.stdout).unwrap();
    assert_eq!(honest["value"]["amount"], 7);
    assert_eq!(honest["proof_verified"], true);
    assert_quorum(&honest["verified"]);

    // Headers from the asset's block on carry another state root: their commits do not sign them.
    liar.lie(Lie::ForgeHeaders { from: tx_height });
    let out = query(&liar.url, &["--trust-spec", &spec]);
    let why = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "a forged header was accepted: {why}");
    assert!(why.starts_with("error: ") && why.trim_end().lines().count() == 1, "{why}");
    assert!(why.contains("verification failed: forged header at height"), "{why}");
    assert!(out.stdout.is_empty(), "nothing is printed as verified");

    // Another validator set than the one trusted: refused whatever the node serves.
    liar.lie(Lie::Nothing);
    let pinned = query(&node.rpc, &["--validators-hash", &"00".repeat(32)]);
    assert_eq!(pinned.status.code(), Some(1));
    assert!(stderr(&pinned).contains("not the pinned"), "{}", stderr(&pinned));
    // And without any root of trust on this machine, nothing is read.
    let nowhere = tempfile::tempdir().unwrap();
    let out = kessai_tests::kessai_with_env(
        &["query", "state", "asset-ownership", "records", &id, "--rpc", &node.rpc],
        &[("KESSAI_DEV_HOME", nowhere.path()), ("KESSAI_LIGHT_HOME", nowhere.path())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nothing on this machine is trusted"), "{}", stderr(&out));
}
