//! How long the pruner holds block commits off (`PruneReport::longest_commits_held`): a batch
//! that empties the history of keys a contract deleted checks, with commits held, whether each
//! was written again (one seek per key) before it deletes its preimage
//! (`docs/decisions/0026-pruning-forgets-deleted-keys.md`). A block decided meanwhile waits.
//!
//! ```sh
//! cargo bench -p kessai-store --bench prune_hold
//! ```
//!
//! For each count: a pruned store (2 heights kept) with that many keys written at version 1 over
//! a base of 200,000 other keys, all of them deleted at version 2, then empty versions until the
//! deletion falls out of the kept heights; one pruner run. Prints the run's batches and the longest
//! hold. No harness: one measurement per count, a temporary directory each.

// A bench target's `main` needs no documentation.
#![allow(missing_docs)]

use kessai_primitives::{Address, Block, Commit, Hash, Header, PublicKey};
use kessai_store::{flat_key, Pruner, PruningConfig, Store, StoreConfig, WriteSet};
use std::time::Duration;
use tempfile::TempDir;

const BASE_KEYS: u64 = 200_000;

fn key(namespace: &str, i: u64) -> Vec<u8> {
    let mut key = namespace.as_bytes().to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    flat_key(&Address([7; 32]), &key)
}

/// Commits `writes` as the next block (the store checks linkage, not signatures).
fn commit_next(store: &Store, writes: &WriteSet) {
    let height = store.latest_height().map_or(0, |h| h + 1);
    let prepared = store.prepare_state(height, writes).unwrap();
    if height == 0 {
        store.commit_genesis(prepared, b"bench").unwrap();
        return;
    }
    let parent = store.header(height - 1).unwrap().map_or(Hash::ZERO, |h| h.id());
    let header = Header {
        protocol_version: 1,
        chain_id: "bench".into(),
        height,
        time_ms: height,
        parent,
        proposer: PublicKey([0; 32]),
        tx_count: 0,
        txs_root: Block::txs_root(&[]),
        receipts_root: Hash::ZERO,
        state_root: prepared.root,
        validators_hash: Hash::ZERO,
        next_validators_hash: Hash::ZERO,
        last_commit_hash: Hash::ZERO,
        evidence_hash: Hash::ZERO,
    };
    let block = Block { header, txs: vec![], last_commit: None, evidence: vec![] };
    let commit = Commit { height, round: 0, block: block.id(), signatures: vec![] };
    store.commit_block(&block, &commit, &[], prepared).unwrap();
}

fn main() {
    println!("| keys deleted in one block | pruner batches | longest hold of commits |");
    println!("|---|---|---|");
    for deleted in [1_000u64, 10_000, 100_000] {
        let dir = TempDir::new().unwrap();
        let pruning = PruningConfig { state_keep_recent: 2, ..PruningConfig::default() };
        let store =
            Store::open_with(dir.path(), &StoreConfig { pruning, ..StoreConfig::default() })
                .unwrap();
        let base: WriteSet = (0..BASE_KEYS).map(|i| (key("base/", i), Some(vec![1; 64]))).collect();
        commit_next(&store, &base);
        let notes: WriteSet = (0..deleted).map(|i| (key("note/", i), Some(vec![2; 64]))).collect();
        commit_next(&store, &notes);
        let gone: WriteSet = (0..deleted).map(|i| (key("note/", i), None)).collect();
        commit_next(&store, &gone);
        for _ in 0..3 {
            commit_next(&store, &WriteSet::new());
        }
        let report = Pruner::new(&store).run(Duration::ZERO).unwrap();
        println!(
            "| {deleted} | {} | {:.1} ms |",
            report.batches,
            report.longest_commits_held.as_secs_f64() * 1e3
        );
    }
}
