//! A node killed with SIGKILL in the middle of committing comes back at a whole block.
//!
//! The test re-runs its own binary as a child (`crash_child`, which does nothing unless
//! `KESSAI_STORE_CRASH_DIR` is set) that commits blocks as fast as it can and prints each height once
//! `commit_block` returned; the parent kills it mid-stream and reopens the database.

mod common;

use common::*;
use kessai_store::{Store, StoreConfig, WriteSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIR_VAR: &str = "KESSAI_STORE_CRASH_DIR";
const KEYS_PER_BLOCK: u32 = 200;

/// Block `h` sets every key to `h`: after any whole block, all keys agree with the latest height.
fn block_writes(height: u64) -> WriteSet {
    (0..KEYS_PER_BLOCK)
        .map(|i| (key(1, &format!("k{i:04}")), Some(height.to_be_bytes().to_vec())))
        .collect()
}

#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else { return };
    // The default config: WAL on, fsync per block.
    let store = Store::open_with(std::path::Path::new(&dir), &StoreConfig::default()).unwrap();
    commit_genesis(&store, &block_writes(0));
    loop {
        let block = commit_next(
            &store,
            &block_writes(store.latest_height().unwrap() + 1),
            vec![vec![event(3, "e")]],
        );
        println!("committed {}", block.height());
    }
}

#[test]
fn killed_mid_commit_reopens_at_a_whole_block() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acknowledged = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(height) = line.unwrap().strip_prefix("committed ") {
            acknowledged = height.trim().parse::<u64>().unwrap();
        }
        if acknowledged >= 25 || Instant::now() > deadline {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush
    child.wait().unwrap();
    assert!(acknowledged >= 25, "the child committed only {acknowledged} blocks");

    let store = open(dir.path());
    let latest = store.latest_height().unwrap();
    assert!(latest >= acknowledged, "lost acknowledged block: {latest} < {acknowledged}");
    // Everything of the latest block is there, and nothing of the next.
    let header = store.header(latest).unwrap().unwrap();
    assert_eq!(store.state_root(latest).unwrap(), Some(header.state_root));
    assert!(store.block(latest).unwrap().is_some() && store.commit(latest).unwrap().is_some());
    assert_eq!(store.receipts(latest).unwrap().unwrap().len(), 1);
    assert_eq!(store.events(contract(3), latest, latest, 10).unwrap().len(), 1);
    assert!(store.header(latest + 1).unwrap().is_none());
    assert!(store.events(contract(3), latest + 1, u64::MAX, 10).unwrap().is_empty());
    for (k, v) in block_writes(latest) {
        assert_eq!(store.get(&k).unwrap(), v, "flat state at {latest}");
        let (value, proof) = store.get_with_proof(&k, latest).unwrap();
        assert_eq!(value, v);
        proof.verify(header.state_root, &k, value.as_deref()).unwrap();
    }
    // And the chain goes on from there.
    commit_next(&store, &block_writes(latest + 1), vec![]);
    assert_eq!(store.latest_height(), Some(latest + 1));
}
