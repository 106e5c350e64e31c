//! The cache of the tree's top levels on a tree deep enough to have nodes below it: thousands of
//! keys created, overwritten and deleted over many blocks, written behind as the node writes
//! them, across a restart (an empty cache). Every root and proof matches a store without the cache.

mod common;

use common::*;
use kessai_store::{BlockWrite, Store, StoreConfig, WriteSet};
use std::path::Path;
use tempfile::TempDir;

const BLOCKS: u64 = 30;
const WRITES_PER_BLOCK: u64 = 500;

fn open_with_cache(path: &Path, tree_cache_depth: Option<usize>) -> Store {
    let config = StoreConfig { sync: false, tree_cache_depth, ..StoreConfig::default() };
    Store::open_with(path, &config).unwrap()
}

/// Block `height`'s writes: new keys, and overwrites and deletions of keys of earlier blocks,
/// chosen by hashing so that every run writes the same.
fn writes_of(height: u64) -> WriteSet {
    let mut writes = WriteSet::new();
    for i in 0..WRITES_PER_BLOCK {
        let pick = blake3::hash(&[height.to_be_bytes(), i.to_be_bytes()].concat());
        let pick = u64::from_be_bytes(pick.as_bytes()[..8].try_into().unwrap());
        let (key_height, value) = match pick % 10 {
            // 70 %: a new key of this block.
            0..=6 => (height, Some(format!("v{height}-{i}").into_bytes())),
            // 20 %: an overwrite of an earlier block's key; 10 %: its deletion.
            7 | 8 => (pick / 10 % height.max(1), Some(format!("w{height}-{i}").into_bytes())),
            _ => (pick / 10 % height.max(1), None),
        };
        writes.insert(key(1, &format!("k{key_height}-{i}")), value);
    }
    writes
}

/// Commits blocks `from..to` to `store`, each prepared while the one below is still being
/// written, as the node does.
fn commit_behind(store: &Store, from: u64, to: u64) {
    let mut in_flight: Option<BlockWrite> = None;
    for height in from..to {
        let prepared = store.prepare_state(height, &writes_of(height)).unwrap();
        if let Some(write) = in_flight.take() {
            write.write().unwrap();
        }
        let (block, commit) = block(store, height, vec![], &[], &prepared);
        in_flight = Some(store.begin_commit(block, commit, vec![], prepared).unwrap());
    }
    in_flight.expect("a block").write().unwrap();
}

#[test]
fn a_deep_tree_has_the_same_roots_and_proofs_with_the_cache_across_a_restart() {
    let (cached_dir, uncached_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let uncached = open_with_cache(uncached_dir.path(), None);
    commit_genesis(&uncached, &writes_of(0));
    for height in 1..BLOCKS + 5 {
        commit_next(&uncached, &writes_of(height), vec![]);
    }

    let cached = open_with_cache(cached_dir.path(), Some(4));
    commit_genesis(&cached, &writes_of(0));
    commit_behind(&cached, 1, BLOCKS);
    drop(cached);
    let cached = open_with_cache(cached_dir.path(), Some(4));
    commit_behind(&cached, BLOCKS, BLOCKS + 5);

    for height in 0..BLOCKS + 5 {
        assert_eq!(cached.state_root(height).unwrap(), uncached.state_root(height).unwrap());
    }
    for height in [BLOCKS / 2, BLOCKS + 4] {
        let root = cached.state_root(height).unwrap().unwrap();
        for i in (0..WRITES_PER_BLOCK).step_by(7) {
            let k = key(1, &format!("k{}-{i}", height / 2));
            let want = uncached.get_at(&k, height).unwrap();
            let (value, proof) = cached.get_with_proof(&k, height).unwrap();
            assert_eq!(value, want, "key {i} at {height}");
            assert!(proof.verify(root, &k, want.as_deref()).is_ok(), "proof of key {i}");
        }
    }
}
