//! Random write sets over several versions: every proof verifies, and the root depends only on the
//! state, not on how the writes were split into versions.

mod common;

use common::*;
use kessai_primitives::Hash;
use kessai_store::{BlockWrite, Store, StoreConfig, WriteSet};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tempfile::TempDir;

/// A small key universe (two namespaces × 12 keys) so that versions overwrite and delete each
/// other's keys; values may be empty.
fn flat_key() -> impl Strategy<Value = Vec<u8>> {
    (1u8..=2, 0u8..12).prop_map(|(ns, k)| key(ns, &format!("k{k}")))
}

fn write_set() -> impl Strategy<Value = WriteSet> {
    let value = prop_oneof![
        1 => Just(None),
        3 => proptest::collection::vec(any::<u8>(), 0..6).prop_map(Some),
    ];
    proptest::collection::btree_map(flat_key(), value, 0..10)
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn apply(model: &mut Model, writes: &WriteSet) {
    for (k, v) in writes {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

/// Commits `versions[0]` as genesis and the rest as blocks; returns the model state after each.
fn commit_all(store: &Store, versions: &[WriteSet]) -> Vec<Model> {
    let mut model = Model::new();
    let mut states = Vec::new();
    for (version, writes) in versions.iter().enumerate() {
        if version == 0 {
            commit_genesis(store, writes);
        } else {
            commit_next(store, writes, vec![]);
        }
        apply(&mut model, writes);
        states.push(model.clone());
    }
    states
}

/// The root of a fresh store whose genesis is exactly `state`.
fn fresh_root(state: &Model) -> Hash {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let writes: WriteSet = state.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    commit_genesis(&store, &writes)
}

fn walk_latest_state(store: &Store) -> Model {
    walk(|from| store.next_from(b"", from).unwrap())
}

fn walk_tip_state(store: &Store) -> Model {
    walk(|from| store.tip_next_from(b"", from).unwrap())
}

fn walk(next_from: impl Fn(&[u8]) -> Option<(Vec<u8>, Vec<u8>)>) -> Model {
    let mut found = Model::new();
    let mut from = Vec::new();
    while let Some((k, v)) = next_from(&from) {
        from = k.clone();
        from.push(0);
        found.insert(k, v);
    }
    found
}

fn universe() -> Vec<Vec<u8>> {
    (1..=2).flat_map(|ns| (0..12).map(move |k| key(ns, &format!("k{k}")))).collect()
}

/// 40 cases by default (each opens a few RocksDB databases); `PROPTEST_CASES=N` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn every_proof_verifies_and_roots_are_history_independent(
        versions in proptest::collection::vec(write_set(), 1..6),
        split in any::<prop::sample::Index>(),
        tree_cache_depth in prop_oneof![Just(None), Just(Some(0)), Just(Some(1)), Just(Some(4))],
    ) {
        let dir = TempDir::new().unwrap();
        let config = StoreConfig { sync: false, tree_cache_depth, ..StoreConfig::default() };
        let store = Store::open_with(dir.path(), &config).unwrap();
        let states = commit_all(&store, &versions);
        let universe = universe();

        for (version, state) in states.iter().enumerate() {
            let version = version as u64;
            let root = store.state_root(version).unwrap().unwrap();
            for k in &universe {
                let want = state.get(k);
                let (value, proof) = store.get_with_proof(k, version).unwrap();
                prop_assert_eq!(value.as_ref(), want);
                prop_assert_eq!(store.get_at(k, version).unwrap(), want.cloned());
                prop_assert!(proof.verify(root, k, want.map(Vec::as_slice)).is_ok());
                let forged = match want {
                    Some(v) => [v.as_slice(), b"!"].concat(),
                    None => b"present".to_vec(),
                };
                prop_assert!(proof.verify(root, k, Some(&forged)).is_err());
                if want.is_some() {
                    prop_assert!(proof.verify(root, k, None).is_err());
                }
            }
            // The same state has the same root, however it was reached.
            prop_assert_eq!(root, fresh_root(state));
        }

        let last = states.last().unwrap();
        prop_assert_eq!(&walk_latest_state(&store), last);

        // The final state written as two versions, split anywhere, ends at the same root.
        let all: Vec<_> = last.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        let at = split.index(all.len() + 1);
        let dir = TempDir::new().unwrap();
        let other = open(dir.path());
        commit_all(&other, &[all[..at].iter().cloned().collect(), all[at..].iter().cloned().collect()]);
        prop_assert_eq!(other.state_root(1).unwrap(), store.state_root(states.len() as u64 - 1).unwrap());
    }

    /// A node writes block `n` while it executes block `n + 1`: each version here is prepared
    /// while the one below is the tip but not on disk ([`Store::begin_commit`]), and read through
    /// the tip before it is written. Roots and reads match a store that committed one by one.
    #[test]
    fn the_tip_reads_through_a_block_not_yet_written(
        versions in proptest::collection::vec(write_set(), 2..6),
    ) {
        let reference_dir = TempDir::new().unwrap();
        let reference = open(reference_dir.path());
        let states = commit_all(&reference, &versions);
        let dir = TempDir::new().unwrap();
        let store = open(dir.path());
        commit_genesis(&store, &versions[0]);
        let mut in_flight: Option<BlockWrite> = None;
        for (version, writes) in versions.iter().enumerate().skip(1) {
            let prepared = store.prepare_state(version as u64, writes).unwrap();
            prop_assert_eq!(Some(prepared.root), reference.state_root(version as u64).unwrap());
            if let Some(write) = in_flight.take() {
                write.write().unwrap();
            }
            let (block, commit) = block(&store, version as u64, vec![], &[], &prepared);
            let write = store.begin_commit(block, commit, vec![], prepared).unwrap();

            prop_assert_eq!(store.tip_height(), Some(version as u64));
            prop_assert_eq!(store.latest_height(), Some(version as u64 - 1));
            prop_assert_eq!(store.state_root(version as u64).unwrap(), None);
            for k in &universe() {
                prop_assert_eq!(store.tip_get(k).unwrap(), states[version].get(k).cloned());
                prop_assert_eq!(store.get(k).unwrap(), states[version - 1].get(k).cloned());
            }
            prop_assert_eq!(&walk_tip_state(&store), &states[version]);
            prop_assert_eq!(&walk_latest_state(&store), &states[version - 1]);
            in_flight = Some(write);
        }
        in_flight.expect("at least one block").write().unwrap();
        let last = versions.len() as u64 - 1;
        prop_assert_eq!(store.tip_height(), Some(last));
        prop_assert_eq!(store.latest_height(), Some(last));
        for version in 0..=last {
            prop_assert_eq!(store.state_root(version).unwrap(), reference.state_root(version).unwrap());
        }
        prop_assert_eq!(&walk_latest_state(&store), states.last().unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// A height may see several proposals whose tree nodes share keys (version, path) and differ:
    /// a decoy prepared before each committed version must leave no trace in the cache of the
    /// tree's top levels. Roots and proofs match a store that caches nothing.
    #[test]
    fn competing_proposals_leave_no_trace_in_the_tree_cache(
        versions in proptest::collection::vec((write_set(), write_set()), 2..6),
    ) {
        let uncached_dir = TempDir::new().unwrap();
        let uncached = Store::open_with(
            uncached_dir.path(),
            &StoreConfig { sync: false, tree_cache_depth: None, ..StoreConfig::default() },
        )
        .unwrap();
        let committed: Vec<WriteSet> = versions.iter().map(|(real, _)| real.clone()).collect();
        let states = commit_all(&uncached, &committed);

        let dir = TempDir::new().unwrap();
        let store = open(dir.path());
        commit_genesis(&store, &committed[0]);
        for (version, (real, decoy)) in versions.iter().enumerate().skip(1) {
            let version = version as u64;
            let decoy = store.prepare_state(version, decoy).unwrap();
            // The decoy is read through too, as a validator reads a proposal it then rejects.
            for k in &universe() {
                store.get_with_proof(k, version - 1).unwrap();
            }
            drop(decoy);
            commit_next(&store, real, vec![]);
            prop_assert_eq!(store.state_root(version).unwrap(), uncached.state_root(version).unwrap());
        }
        let last = states.len() as u64 - 1;
        let root = store.state_root(last).unwrap().unwrap();
        for k in &universe() {
            let want = states[last as usize].get(k);
            let (value, proof) = store.get_with_proof(k, last).unwrap();
            prop_assert_eq!(value.as_ref(), want);
            prop_assert!(proof.verify(root, k, want.map(Vec::as_slice)).is_ok());
        }
    }
}
