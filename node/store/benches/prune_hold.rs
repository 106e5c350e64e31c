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

mod support;

use kessai_primitives::Address;
use kessai_store::{flat_key, Pruner, PruningConfig, Store, StoreConfig, WriteSet};
use std::time::Duration;
use support::commit;
use tempfile::TempDir;

const BASE_KEYS: u64 = 200_000;

fn key(namespace: &str, i: u64) -> Vec<u8> {
    let mut key = namespace.as_bytes().to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    flat_key(&Address([7; 32]), &key)
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
        commit(&store, &base);
        let notes: WriteSet = (0..deleted).map(|i| (key("note/", i), Some(vec![2; 64]))).collect();
        commit(&store, &notes);
        let gone: WriteSet = (0..deleted).map(|i| (key("note/", i), None)).collect();
        commit(&store, &gone);
        for _ in 0..3 {
            commit(&store, &WriteSet::new());
        }
        let report = Pruner::new(&store).run(Duration::ZERO).unwrap();
        println!(
            "| {deleted} | {} | {:.1} ms |",
            report.batches,
            report.longest_commits_held.as_secs_f64() * 1e3
        );
    }
}
