//! State snapshots on a real RocksDB: the state of a height, served in chunks, rebuilds an empty
//! store to the same root and flat state, which then follows the chain; a tampered chunk is
//! refused and the restore goes on from what it has; an interrupted restore is seen on reopening.

mod common;

use common::*;
use kessai_primitives::Hash;
use kessai_store::{
    flat_key, ChunkError, Pruner, PruningConfig, SnapshotChunk, StateRestore, Store, StoreConfig,
    WriteSet,
};
use tempfile::TempDir;

/// Block `height`'s writes: 150 new keys, updates of older ones and a few deletions.
fn writes_of(height: u64) -> WriteSet {
    let mut writes = WriteSet::new();
    for i in 0..150u64 {
        let key = flat_key(&contract((i % 7) as u8), format!("k{height}-{i}").as_bytes());
        writes
            .insert(key, Some(format!("v{height}-{i}").repeat(1 + (i % 5) as usize).into_bytes()));
    }
    if height > 1 {
        for i in 0..20u64 {
            let key = flat_key(&contract((i % 7) as u8), format!("k{}-{i}", height - 1).as_bytes());
            writes.insert(key, if i % 4 == 0 { None } else { Some(format!("u{height}").into()) });
        }
    }
    writes
}

/// A source store with genesis and `heights` blocks.
fn source(dir: &TempDir, heights: u64) -> Store {
    let store = open(&dir.path().join("source"));
    commit_genesis(&store, &writes([(key(1, "genesis"), Some("g"))]));
    for height in 1..=heights {
        commit_next(&store, &writes_of(height), vec![]);
    }
    store
}

/// Every `(flat key, value)` of a store's flat state.
fn flat_state(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all = Vec::new();
    let mut from = vec![];
    while let Some((key, value)) = store.next_from(&[], &from).unwrap() {
        from = key.clone();
        from.push(0);
        all.push((key, value));
    }
    all
}

/// Feeds `restore` chunks of `source` at its height until every leaf is in; `tamper` may alter
/// chunks (returning whether it did), which must then be refused. Returns the chunks accepted.
fn run(
    source: &Store,
    restore: &mut StateRestore,
    max_bytes: usize,
    mut tamper: impl FnMut(usize, &mut SnapshotChunk) -> bool,
) -> usize {
    let (mut accepted, mut served) = (0, 0);
    while let Some(start) = restore.next_start() {
        let mut chunk = source.snapshot_chunk(restore.height(), start, max_bytes).unwrap().unwrap();
        served += 1;
        let tampered = tamper(served, &mut chunk);
        match restore.add_chunk(chunk) {
            Ok(()) => {
                assert!(!tampered, "tampered chunk {served} was accepted");
                accepted += 1;
            }
            Err(ChunkError::Invalid(reason)) => assert!(tampered, "chunk {served}: {reason}"),
            Err(error) => panic!("{error}"),
        }
    }
    accepted
}

#[test]
fn a_snapshot_rebuilds_the_same_state_which_then_follows_the_chain() {
    let dir = TempDir::new().unwrap();
    let source = source(&dir, 12);
    let height = 8;
    let root = source.state_root(height).unwrap().unwrap();
    let target = open(&dir.path().join("target"));
    let mut restore = StateRestore::begin(&target, height, root).unwrap();
    let chunks = run(&source, &mut restore, 4096, |_, _| false);
    assert!(chunks > 10, "only {chunks} chunks");
    let keys = restore.keys();
    restore
        .finish(
            &source.header(height).unwrap().unwrap(),
            &source.commit(height).unwrap().unwrap(),
            b"genesis meta",
        )
        .unwrap();

    assert_eq!(target.latest_height(), Some(height));
    assert_eq!(target.state_root(height).unwrap(), Some(root));
    assert_eq!(target.earliest_state_height(), height);
    assert_eq!(target.earliest_block_height(), height + 1);
    assert!(target.block(height - 1).unwrap_err().to_string().contains("pruned"));
    assert_eq!(target.genesis_meta().unwrap().as_deref(), Some(&b"genesis meta"[..]));
    assert_eq!(target.unfinished_restore().unwrap(), None);
    // The flat state is the source's at that height: every key of the tree, nothing else.
    let flat = flat_state(&target);
    assert_eq!(flat.len() as u64, keys);
    for (key, value) in &flat {
        assert_eq!(source.get_at(key, height).unwrap().as_ref(), Some(value));
    }
    let (value, proof) = target.get_with_proof(&flat[0].0, height).unwrap();
    proof.verify(root, &flat[0].0, value.as_deref()).unwrap();

    // The restored store follows the chain: the next blocks give the source's roots, and it
    // serves snapshots of its own.
    for next in height + 1..=12 {
        commit_next(&target, &writes_of(next), vec![]);
        assert_eq!(target.state_root(next).unwrap(), source.state_root(next).unwrap());
    }
    let (source_latest, target_latest) = (flat_state(&source), flat_state(&target));
    assert_eq!(source_latest, target_latest);
    let again = open(&dir.path().join("again"));
    let root = target.state_root(12).unwrap().unwrap();
    let mut restore = StateRestore::begin(&again, 12, root).unwrap();
    run(&target, &mut restore, 1 << 20, |_, _| false);
    assert_eq!(restore.keys(), target_latest.len() as u64);
}

#[test]
fn tampered_chunks_are_refused_and_the_restore_goes_on() {
    let dir = TempDir::new().unwrap();
    let source = source(&dir, 6);
    let height = 6;
    let root = source.state_root(height).unwrap().unwrap();
    let target = open(&dir.path().join("target"));
    let mut restore = StateRestore::begin(&target, height, root).unwrap();
    // Chunks 3, 6, 9 and 12 are altered in a different way each: a value changed, a leaf left
    // out, a leaf of another state added, the order broken. Each is served again untouched.
    run(&source, &mut restore, 2048, |served, chunk| match served {
        3 => {
            chunk.entries[1].1.push(b'!');
            true
        }
        6 => {
            chunk.entries.remove(1);
            true
        }
        9 => {
            chunk.entries.insert(1, (key(3, "forged"), b"x".to_vec()));
            chunk.entries.sort_by_key(|(k, _)| kessai_store::key_hash(k));
            true
        }
        12 => {
            chunk.entries.swap(0, 1);
            true
        }
        _ => false,
    });
    let header = source.header(height).unwrap().unwrap();
    restore.finish(&header, &source.commit(height).unwrap().unwrap(), b"g").unwrap();
    assert_eq!(target.state_root(height).unwrap(), Some(root));
    assert_eq!(flat_state(&target), flat_state(&source));
    assert_eq!(target.get(&key(3, "forged")).unwrap(), None);

    // A restore against another root accepts nothing.
    let other = open(&dir.path().join("other"));
    let mut restore = StateRestore::begin(&other, height, Hash([7; 32])).unwrap();
    let chunk = source.snapshot_chunk(height, [0; 32], 2048).unwrap().unwrap();
    assert!(matches!(restore.add_chunk(chunk), Err(ChunkError::Invalid(_))));
    assert_eq!(restore.next_start(), Some([0; 32]));
}

#[test]
fn an_interrupted_restore_is_seen_when_the_store_is_opened_again() {
    let dir = TempDir::new().unwrap();
    let source = source(&dir, 3);
    let root = source.state_root(3).unwrap().unwrap();
    let path = dir.path().join("target");
    {
        let target = open(&path);
        let mut restore = StateRestore::begin(&target, 3, root).unwrap();
        let chunk = source.snapshot_chunk(3, [0; 32], 2048).unwrap().unwrap();
        restore.add_chunk(chunk).unwrap();
        assert!(restore.next_start().is_some());
    }
    let target = open(&path);
    assert_eq!(target.latest_height(), None);
    assert_eq!(target.unfinished_restore().unwrap(), Some((3, root)));
    assert!(StateRestore::begin(&target, 3, root).is_err());
}

#[test]
fn snapshots_of_heights_not_kept_are_refused() {
    let dir = TempDir::new().unwrap();
    let source = source(&dir, 2);
    assert!(source.snapshot_chunk(3, [0; 32], 1024).is_err());
    assert!(source.snapshot_chunk(2, [0xff; 32], 1024).unwrap().is_none());
}

#[test]
fn pruning_keeps_the_latest_two_snapshots_and_the_blocks_above_them() {
    let dir = TempDir::new().unwrap();
    let pruning =
        PruningConfig { state_keep_recent: 2, blocks_keep_recent: 2, compaction_interval_secs: 0 };
    let config = StoreConfig { sync: false, pruning, ..StoreConfig::default() };
    let store = Store::open_with(&dir.path().join("pruned"), &config).unwrap();
    store.keep_snapshots(4);
    commit_genesis(&store, &writes([(key(1, "genesis"), Some("g"))]));
    for height in 1..=13 {
        commit_next(&store, &writes_of(height), vec![]);
    }
    Pruner::new(&store).run(std::time::Duration::ZERO).unwrap();
    // Snapshots at 8 and 12 are kept, and the blocks above 8; 4 and what is below 8 are not.
    assert_eq!(store.earliest_state_height(), 8);
    assert_eq!(store.earliest_block_height(), 9);
    let root = store.state_root(8).unwrap().unwrap();
    let target = open(&dir.path().join("target"));
    let mut restore = StateRestore::begin(&target, 8, root).unwrap();
    run(&store, &mut restore, 1 << 20, |_, _| false);
    assert!(store.snapshot_chunk(4, [0; 32], 1024).is_err());

    // Without snapshots, only the latest two heights.
    store.keep_snapshots(0);
    Pruner::new(&store).run(std::time::Duration::ZERO).unwrap();
    assert_eq!(store.earliest_state_height(), 12);
    assert_eq!(store.earliest_block_height(), 12);
}
