//! `kessai db`: online backups of running nodes restored after a wipe, restores refused (another
//! chain, a running node), a restored validator that never signs its old heights again, and
//! exported blocks imported into a fresh home — verified block by block, a tampered file refused
//! at its first bad block (`kessai_node::backup`).

use kessai_tests::light::create_asset;
use kessai_tests::testnet::Testnet;
use kessai_tests::{dev_address, kessai, kessai_bin, kessai_ok, now_ms, stderr, TestNode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// `kessai ARGS` must fail with exit status 1; returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = kessai(args);
    let why = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "kessai {args:?} should have failed: {why}");
    why
}

/// `kessai db backup --home HOME --out OUT --json`: the manifest.
fn backup(home: &Path, out: &Path) -> Value {
    let printed = kessai_ok(&["db", "backup", "--home", &arg(home), "--out", &arg(out), "--json"]);
    serde_json::from_str(&printed).expect("the manifest as JSON")
}

/// The header the node committed at `height`.
fn header(node: &TestNode, height: u64) -> Value {
    node.cli_json(&["query", "header", "--height", &height.to_string()])
}

/// The asset-ownership records bob creates, one transaction at a time, until `stop`.
fn create_assets_until(node: &TestNode, stop: &AtomicBool) -> u64 {
    let mut created = 0;
    while !stop.load(Ordering::Relaxed) {
        let args =
            json!([dev_address("bob"), now_ms() - 60_000, 1, "Wind", dev_address("carol"), null]);
        node.call_ok("bob", "asset-ownership", "create", &args.to_string());
        created += 1;
    }
    created
}

/// The `data.before-restore-*` directories of a home.
fn moved_aside(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("data.before-restore-"))
        .collect()
}

/// A one-validator chain with a full node. The validator is backed up while it commits
/// transactions (the running node writes the checkpoint), runs on, is stopped, its data/ wiped and
/// the backup restored: it opens at the backup's height and state root, takes the heights it
/// signed after the backup from the full node by block sync (signing none of them again), and then
/// signs new heights: the chain goes on.
#[test]
fn a_validator_restored_from_an_online_backup_catches_up_and_goes_on() {
    let mut net = Testnet::init(1, 1);
    net.start(0);
    net.start(1);
    let validator_home = net.home(0);
    let node = net.node(0);
    create_asset(node); // registers bob as a provider, carol as an intermediary
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("backup");

    let stop = AtomicBool::new(false);
    let (manifest, created) = std::thread::scope(|s| {
        let load = s.spawn(|| create_assets_until(node, &stop));
        std::thread::sleep(Duration::from_secs(2));
        let manifest = backup(&validator_home, &out);
        let height = manifest["height"].as_u64().unwrap();
        node.wait_height(height + 4, Duration::from_secs(60)).unwrap();
        stop.store(true, Ordering::Relaxed);
        (manifest, load.join().unwrap())
    });
    assert!(created >= 2, "transactions were committed while the backup was taken: {created}");
    let backed_up = manifest["height"].as_u64().unwrap();
    assert!(out.join("db").join("CURRENT").exists() && out.join("manifest.json").exists());
    assert!(
        !out.join("sign_state.json").exists() && !out.join("db").join("sign_state.json").exists()
    );
    let at_backup = header(node, backed_up);
    assert_eq!(manifest["state_root"], at_backup["state_root"], "{manifest} vs {at_backup}");
    let signed_up_to = node.height();
    net.wait_height(&[1], signed_up_to, Duration::from_secs(30)).unwrap();

    net.kill9(0);
    let sign_state = std::fs::read_to_string(validator_home.join("sign_state.json")).unwrap();
    std::fs::remove_dir_all(validator_home.join("data")).unwrap();
    let printed =
        kessai_ok(&["db", "restore", "--home", &arg(&validator_home), "--from", &arg(&out)]);
    assert!(printed.contains(&format!("at height {backed_up}")), "{printed}");
    assert_eq!(
        std::fs::read_to_string(validator_home.join("sign_state.json")).unwrap(),
        sign_state,
        "a restore never touches the signing state"
    );
    // Stopped, the restored home holds the backup's height exactly.
    let block_file = tmp.path().join("tip.blocks");
    let exported = kessai_ok(&[
        "db",
        "export-blocks",
        "--home",
        &arg(&validator_home),
        "--from",
        "1",
        "--out",
        &arg(&block_file),
    ]);
    assert!(exported.contains(&format!("1..={backed_up} ")), "{exported}");

    net.start(0);
    if let Err(e) = net.wait_height(&[0, 1], signed_up_to + 3, Duration::from_secs(90)) {
        panic!("{e}\n{}", net.log(0));
    }
    let node = net.node(0);
    assert_eq!(header(node, backed_up)["state_root"], manifest["state_root"]);
    assert_eq!(
        node.cli_json(&["query", "block", "--height", &backed_up.to_string()])["hash"],
        manifest["block_hash"]
    );
    net.assert_same_chain(&[0, 1], signed_up_to + 3);
    let log = net.log(0);
    assert!(
        log.contains(&format!("data/ holds only height {backed_up} ")),
        "the validator did not start from the backup's height:\n{log}"
    );
    assert!(log.contains("synced blocks from peers"), "no block sync:\n{log}");
}

/// A backup of one chain is not restored into a node of another; a running node is not restored;
/// a backup never overwrites a directory.
#[test]
fn restores_of_another_chain_or_into_a_running_node_are_refused() {
    let node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(60)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("backup");
    let manifest = backup(&node.home, &out);
    assert_eq!(manifest["chain_id"], "kessai-dev", "{manifest}");

    let why = refused(&["db", "backup", "--home", &arg(&node.home), "--out", &arg(&out)]);
    assert!(why.contains("already exists"), "{why}");
    let why = refused(&["db", "restore", "--home", &arg(&node.home), "--from", &arg(&out)]);
    assert!(why.contains("is running (its database is locked): stop it first"), "{why}");

    let mut other = TestNode::with_chain_id(&node, "kessai-other");
    other.wait_height(2, Duration::from_secs(60)).unwrap();
    let height = other.height();
    other.kill9();
    let why = refused(&["db", "restore", "--home", &arg(&other.home), "--from", &arg(&out)]);
    assert!(
        why.contains("is of chain kessai-dev") && why.contains("runs chain kessai-other"),
        "{why}"
    );
    assert!(moved_aside(&other.home).is_empty(), "the refused restore moved data/ aside");
    other.start().unwrap();
    assert!(other.height() >= height, "the other chain's data is intact");
}

/// `kessai_admin_backup` answers loopback clients only: over another address of the machine it
/// is refused and writes nothing.
#[test]
fn the_admin_backup_is_refused_to_clients_that_are_not_on_loopback() {
    let Some(own_ip) = non_loopback_ip() else {
        panic!("this machine has no non-loopback IPv4 address to test from");
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("dev");
    let log = std::fs::File::create(tmp.path().join("node.log")).unwrap();
    let mut child = std::process::Command::new(kessai_bin())
        .args(["dev", "--home", &arg(&home), "--rpc-addr", "0.0.0.0:0"])
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        if let Ok(url) = std::fs::read_to_string(home.join("rpc_url")) {
            break url.trim().to_string();
        }
        assert!(Instant::now() < deadline, "the node did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let port = url.rsplit(':').next().unwrap();
    let remote = admin_backup(&format!("http://{own_ip}:{port}"), &tmp.path().join("remote"));
    let local = admin_backup(&format!("http://127.0.0.1:{port}"), &tmp.path().join("local"));
    let _ = child.kill();
    let _ = child.wait();
    let why = remote.expect_err("served to a client that is not on loopback");
    assert!(why.contains("only to clients on the node's own machine"), "{why}");
    assert!(!tmp.path().join("remote").exists());
    assert_eq!(local.expect("served on loopback")["chain_id"], "kessai-dev");
}

/// This machine's address on its default route, if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("203.0.113.1:9").ok()?; // no packet is sent
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback())
}

fn admin_backup(url: &str, out: &Path) -> Result<Value, String> {
    use kessai_client::rpc::KessaiApiClient;
    let client = kessai_client::rpc_client(url).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime
        .block_on(client.admin_backup(arg(out)))
        .map(|m| serde_json::to_value(m).unwrap())
        .map_err(|e| kessai_client::rpc_error(e).to_string())
}

/// A validator backed up at height b signs on to h > b, is stopped and restored to b (its data/
/// moved aside). Alone on its chain, nobody can give it blocks b+1..h, and it signed them: it must
/// not sign them again (another block time gives another block: equivocation). It waits, and says
/// why in its log.
#[test]
fn a_restored_validator_does_not_sign_its_old_heights_again() {
    let mut node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(60)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("backup");
    let manifest = backup(&node.home, &out);
    let backed_up = manifest["height"].as_u64().unwrap();
    node.wait_height(backed_up + 3, Duration::from_secs(60)).unwrap();
    node.kill9();

    let printed = kessai_ok(&["db", "restore", "--home", &arg(&node.home), "--from", &arg(&out)]);
    assert!(printed.contains("the previous data/ is in"), "{printed}");
    assert_eq!(moved_aside(&node.home).len(), 1, "the old data/ is kept");
    node.start().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let log = node.log_text();
    let status = node.cli_json(&["status"]);
    assert_eq!(status["height"].as_u64(), Some(backed_up), "it signed an old height again:\n{log}");
    assert_eq!(status["hash"], manifest["block_hash"], "{status}");
    assert!(log.contains("it signs nothing at or before that position"), "no warning:\n{log}");
}

/// A running dev chain with a few transactions: (node, its exported blocks 1..=H, H, the height of
/// a block holding a transaction, that transaction's borsh bytes).
fn exported_chain(dir: &Path) -> (TestNode, PathBuf, u64, u64, Vec<u8>) {
    let node = TestNode::dev();
    let (_, tx_id, tx_height) = create_asset(&node);
    let latest = node.height().max(tx_height + 2);
    node.wait_height(latest, Duration::from_secs(60)).unwrap();
    let file = dir.join("chain.blocks");
    let printed = kessai_ok(&[
        "db",
        "export-blocks",
        "--rpc",
        &node.rpc,
        "--to",
        &latest.to_string(),
        "--out",
        &arg(&file),
    ]);
    assert!(printed.contains(&format!("1..={latest} ")), "{printed}");
    let tx = node.cli_json(&["query", "tx", &tx_id]);
    let tx = hex::decode(tx["tx"].as_str().expect("the signed transaction")).unwrap();
    (node, file, latest, tx_height, tx)
}

/// A fresh home of the dev chain (`kessai init`, a key of its own: a full node).
fn fresh_home(dir: &Path, node: &TestNode) -> PathBuf {
    let home = dir.join("fresh");
    kessai_ok(&[
        "init",
        "--home",
        &arg(&home),
        "--chain",
        &node.chain_spec(),
        "--rpc-addr",
        "127.0.0.1:0",
    ]);
    home
}

/// Exported from a running node over RPC, imported into a fresh home: the same blocks and commits
/// (an export of the imported home is the same file), the same state root.
#[test]
fn blocks_exported_from_a_running_node_import_into_a_fresh_home() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, file, latest, _, _) = exported_chain(tmp.path());
    let home = fresh_home(tmp.path(), &node);
    let printed = kessai_ok(&["db", "import-blocks", "--home", &arg(&home), "--file", &arg(&file)]);
    assert!(printed.contains(&format!("imported {latest} blocks")), "{printed}");

    let again = tmp.path().join("again.blocks");
    kessai_ok(&["db", "export-blocks", "--home", &arg(&home), "--out", &arg(&again)]);
    assert!(std::fs::read(&file).unwrap() == std::fs::read(&again).unwrap(), "other blocks");

    let imported = TestNode::run_home(&home).unwrap();
    let status = imported.cli_json(&["status"]);
    assert_eq!(status["height"].as_u64(), Some(latest), "{status}");
    assert_eq!(status["state_root"], header(&node, latest)["state_root"], "{status}");
    assert_eq!(
        status["hash"],
        node.cli_json(&["query", "block", "--height", &latest.to_string()])["hash"]
    );
}

/// One byte of a transaction of block k flipped: the import stops at block k with a sentence
/// naming it, blocks 1..k-1 committed and nothing after.
#[test]
fn a_tampered_block_file_is_refused_at_the_first_bad_block() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, file, latest, k, tx) = exported_chain(tmp.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(tx.len()).position(|w| w == tx).expect("the transaction is in the file");
    bytes[at + tx.len() / 2] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();

    let home = fresh_home(tmp.path(), &node);
    let why = refused(&["db", "import-blocks", "--home", &arg(&home), "--file", &arg(&file)]);
    assert!(why.contains(&format!("block {k} of")) && why.contains("is refused"), "{why}");
    assert!(why.contains(&format!("stays at height {}", k - 1)), "{why}");
    assert!(k < latest, "blocks after the bad one were in the file");

    let printed = kessai_ok(&[
        "db",
        "export-blocks",
        "--home",
        &arg(&home),
        "--out",
        &arg(&tmp.path().join("kept")),
    ]);
    assert!(printed.contains(&format!("1..={} ", k - 1)), "{printed}");
}
