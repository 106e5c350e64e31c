//! Pruning on a real RocksDB: what is kept reads exactly as before (values, proofs, roots at
//! every retained height, against an in-memory model), what is not gives a clear error, the space
//! of a long run of updates levels off, blocks go with their indices while headers and commits
//! stay, and a process killed while pruning reopens consistent.

mod common;

use common::*;
use kessai_primitives::Hash;
use kessai_store::{key_hash, Pruner, PruningConfig, Store, StoreConfig, StoreError, WriteSet};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn open_pruned(path: &Path, state: u64, blocks: u64) -> Store {
    open_pruned_compacting(path, state, blocks, 0)
}

fn open_pruned_compacting(path: &Path, state: u64, blocks: u64, interval_secs: u64) -> Store {
    let pruning = PruningConfig {
        state_keep_recent: state,
        blocks_keep_recent: blocks,
        compaction_interval_secs: interval_secs,
    };
    Store::open_with(path, &StoreConfig { sync: false, pruning, ..StoreConfig::default() }).unwrap()
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

/// Two namespaces × 8 keys: versions overwrite and delete each other's keys all the time.
fn universe() -> Vec<Vec<u8>> {
    (1..=2).flat_map(|ns| (0..8).map(move |k| key(ns, &format!("k{k}")))).collect()
}

fn write_set() -> impl Strategy<Value = WriteSet> {
    let value = prop_oneof![
        1 => Just(None),
        3 => proptest::collection::vec(any::<u8>(), 0..4).prop_map(Some),
    ];
    let key = (1u8..=2, 0u8..8).prop_map(|(ns, k)| key(ns, &format!("k{k}")));
    // Empty sets too: a version that changes nothing copies the root.
    proptest::collection::btree_map(key, value, 0..6)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(24)
}

/// Every height from the earliest kept to the latest reads as the model says, with proofs that
/// verify against the root committed at that height; every height below fails as pruned.
fn check_retained(store: &Store, states: &[Model], roots: &[Hash]) -> Result<(), TestCaseError> {
    let latest = store.latest_height().unwrap();
    let earliest = store.earliest_state_height();
    for height in 0..=latest {
        let state = &states[height as usize];
        if height < earliest {
            let k = &universe()[0];
            for result in [
                store.get_at(k, height).map(|_| ()),
                store.get_with_proof(k, height).map(|_| ()),
                store.state_root(height).map(|_| ()),
            ] {
                prop_assert!(
                    matches!(result, Err(StoreError::Pruned { what: "state", earliest: e }) if e == earliest),
                    "height {} below {}: {:?}",
                    height,
                    earliest,
                    result
                );
            }
            continue;
        }
        let root = roots[height as usize];
        prop_assert_eq!(store.state_root(height).unwrap(), Some(root));
        // A snapshot reads flat keys from their preimages: every key the height holds has one.
        let snapshot = store.snapshot_chunk(height, [0; 32], 1 << 20).unwrap();
        let served: Model =
            snapshot.map(|chunk| chunk.entries).unwrap_or_default().into_iter().collect();
        prop_assert_eq!(&served, state, "snapshot at {}", height);
        for k in &universe() {
            let want = state.get(k);
            prop_assert_eq!(store.get_at(k, height).unwrap(), want.cloned(), "get_at {}", height);
            let (value, proof) = store.get_with_proof(k, height).unwrap();
            prop_assert_eq!(value.as_ref(), want, "get_with_proof {}", height);
            prop_assert!(proof.verify(root, k, want.map(Vec::as_slice)).is_ok());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Random writes and deletes over many versions, the pruner run at random points: whatever
    /// is kept is exactly the model's, and the earliest height is where the setting puts it.
    #[test]
    fn pruned_store_reads_like_the_model_at_every_retained_height(
        versions in proptest::collection::vec((write_set(), any::<bool>()), 2..40),
        keep in 1u64..6,
    ) {
        let dir = TempDir::new().unwrap();
        let store = open_pruned(dir.path(), keep, 0);
        let mut pruner = Pruner::new(&store);
        let (mut model, mut states, mut roots) = (Model::new(), Vec::new(), Vec::new());
        for (version, (writes, prune_now)) in versions.iter().enumerate() {
            if version == 0 {
                roots.push(commit_genesis(&store, writes));
            } else {
                roots.push(commit_next(&store, writes, vec![]).header.state_root);
            }
            apply(&mut model, writes);
            states.push(model.clone());
            if *prune_now {
                pruner.run(Duration::ZERO).unwrap();
                check_retained(&store, &states, &roots)?;
            }
        }
        pruner.run(Duration::ZERO).unwrap();
        let latest = versions.len() as u64 - 1;
        prop_assert_eq!(store.earliest_state_height(), (latest + 1).saturating_sub(keep));
        check_retained(&store, &states, &roots)?;

        // Reopened, the store knows what it pruned, and goes on.
        drop(pruner);
        drop(store);
        // Preimages are left exactly for the keys that still have a history: those alive at
        // the earliest height kept and those written (or deleted) above it.
        let earliest = (latest + 1).saturating_sub(keep);
        let mut with_history: BTreeSet<[u8; 32]> =
            states[earliest as usize].keys().map(|k| key_hash(k).0).collect();
        for (writes, _) in &versions[earliest as usize + 1..] {
            with_history.extend(writes.keys().map(|k| key_hash(k).0));
        }
        prop_assert_eq!(preimages_on_disk(dir.path()), with_history);
        let store = open_pruned(dir.path(), keep, 0);
        prop_assert_eq!(store.earliest_state_height(), (latest + 1).saturating_sub(keep));
        check_retained(&store, &states, &roots)?;
    }
}

/// The key hashes in `jmt_preimages` of the closed database at `path`, read with RocksDB itself.
fn preimages_on_disk(path: &Path) -> BTreeSet<[u8; 32]> {
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).unwrap();
    let db =
        rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), path, &families, false)
            .unwrap();
    let preimages = db.cf_handle("jmt_preimages").unwrap();
    db.iterator_cf(preimages, rocksdb::IteratorMode::Start)
        .map(|item| item.unwrap().0.as_ref().try_into().unwrap())
        .collect()
}

#[test]
fn a_read_below_the_retention_says_pruned_and_where_state_starts() {
    let dir = TempDir::new().unwrap();
    let store = open_pruned(dir.path(), 3, 0);
    commit_genesis(&store, &writes([(key(1, "a"), Some("0"))]));
    for h in 1..=10 {
        commit_next(&store, &writes([(key(1, "a"), Some(&*h.to_string()))]), vec![]);
    }
    Pruner::new(&store).run(Duration::ZERO).unwrap();
    assert_eq!(store.earliest_state_height(), 8);
    let error = store.get_with_proof(&key(1, "a"), 7).unwrap_err();
    assert_eq!(error.to_string(), "pruned: the earliest state kept is height 8");
    assert_eq!(store.get_at(&key(1, "a"), 8).unwrap(), Some(b"8".to_vec()));
    // Heights above the latest are still "not committed", not "pruned".
    assert!(matches!(store.get_at(&key(1, "a"), 11), Err(StoreError::NotCommitted { .. })));
}

#[test]
fn an_archive_store_keeps_every_height_and_records_nothing_stale() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    commit_genesis(&store, &writes([(key(1, "a"), Some("0"))]));
    for h in 1..=20 {
        commit_next(&store, &writes([(key(1, "a"), Some(&*h.to_string()))]), vec![]);
    }
    let report = Pruner::new(&store).run(Duration::ZERO).unwrap();
    assert_eq!(report, Default::default());
    assert_eq!(store.earliest_state_height(), 0);
    assert_eq!(store.get_at(&key(1, "a"), 0).unwrap(), Some(b"0".to_vec()));
    store.flush().unwrap();
    let usage: BTreeMap<_, _> = store.disk_usage().unwrap().into_iter().collect();
    assert_eq!(usage["jmt_stale"], 0);
}

/// Bytes of the tree's families on disk after a flush: what an operator sees.
fn tree_bytes(store: &Store) -> u64 {
    store.flush().unwrap();
    store
        .disk_usage()
        .unwrap()
        .into_iter()
        .filter(|(name, _)| name.starts_with("jmt_"))
        .map(|(_, bytes)| bytes)
        .sum()
}

/// A fixed set of 500 keys rewritten 50 at a time for 1,200 versions: pruned to the last 10
/// versions, the tree's families level off; kept whole, they grow with every version.
#[test]
fn the_space_of_a_long_run_of_updates_levels_off() {
    let (pruned_dir, archive_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let pruned = open_pruned(pruned_dir.path(), 10, 10);
    let archive = open(archive_dir.path());
    let mut pruner = Pruner::new(&pruned);
    let keys: Vec<_> = (0..500).map(|i| key(1, &format!("key-{i:04}"))).collect();
    let value = |version: u64, i: usize| {
        Some(format!("{version:08}-{i:04}-{}", "x".repeat(64)).into_bytes())
    };
    let genesis: WriteSet =
        keys.iter().enumerate().map(|(i, k)| (k.clone(), value(0, i))).collect();
    commit_genesis(&pruned, &genesis);
    commit_genesis(&archive, &genesis);
    let mut sizes = Vec::new();
    for version in 1..=1_200u64 {
        let writes: WriteSet = (0..50)
            .map(|j| {
                let i = ((version * 50 + j) * 7 % 500) as usize;
                (keys[i].clone(), value(version, i))
            })
            .collect();
        commit_next(&pruned, &writes, vec![vec![event(3, "e")]]);
        commit_next(&archive, &writes, vec![vec![event(3, "e")]]);
        if version % 20 == 0 {
            pruner.run(Duration::ZERO).unwrap();
        }
        if version % 300 == 0 {
            pruner.compact().unwrap();
            sizes.push((tree_bytes(&pruned), tree_bytes(&archive)));
        }
    }
    eprintln!("tree bytes every 300 versions (pruned, archive): {sizes:?}");
    let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
    assert!(last.0 < first.0 * 5 / 4, "pruned tree grew from {} to {} bytes", first.0, last.0);
    assert!(last.1 > first.1 * 3, "archive grew only from {} to {} bytes", first.1, last.1);
    assert!(last.0 * 5 < last.1, "pruned {} vs archive {} bytes", last.0, last.1);
    // And the latest state still reads and proves.
    let latest = pruned.latest_height().unwrap();
    let root = pruned.state_root(latest).unwrap().unwrap();
    assert_eq!(Some(root), archive.state_root(latest).unwrap());
    for k in keys.iter().step_by(37) {
        let (value, proof) = pruned.get_with_proof(k, latest).unwrap();
        assert_eq!(value, archive.get_at(k, latest).unwrap());
        proof.verify(root, k, value.as_deref()).unwrap();
    }
}

/// Bytes of one family on disk after a flush.
fn family_bytes(store: &Store, family: &str) -> u64 {
    store.flush().unwrap();
    store.disk_usage().unwrap().into_iter().find(|(name, _)| *name == family).unwrap().1
}

/// Keys created and deleted all the time (50 new keys a version, each deleted ten versions
/// later, as owner index entries, pending instructions or notes are): pruned to the last 10
/// versions, the tree's families, preimages included, level off however many keys have come and
/// gone.
#[test]
fn keys_created_and_deleted_all_the_time_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let store = open_pruned(dir.path(), 10, 10);
    let mut pruner = Pruner::new(&store);
    let key_of = |version: u64, j: u64| key(1, &format!("note-{version:06}-{j:02}"));
    commit_genesis(&store, &WriteSet::new());
    let mut sizes = Vec::new();
    for version in 1..=1_200u64 {
        let mut writes: WriteSet =
            (0..50).map(|j| (key_of(version, j), Some(vec![7; 40]))).collect();
        if version > 10 {
            writes.extend((0..50).map(|j| (key_of(version - 10, j), None)));
        }
        commit_next(&store, &writes, vec![]);
        if version % 20 == 0 {
            pruner.run(Duration::ZERO).unwrap();
        }
        if version % 300 == 0 {
            pruner.compact().unwrap();
            sizes.push((family_bytes(&store, "jmt_preimages"), tree_bytes(&store)));
        }
    }
    eprintln!("preimage and tree bytes every 300 versions: {sizes:?}");
    let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
    assert!(last.0 < first.0 * 5 / 4, "preimages grew from {} to {} bytes", first.0, last.0);
    assert!(last.1 < first.1 * 5 / 4, "tree families grew from {} to {} bytes", first.1, last.1);
    // What is alive still reads, proves and snapshots.
    let latest = store.latest_height().unwrap();
    let root = store.state_root(latest).unwrap().unwrap();
    let alive = key_of(latest - 3, 0);
    let (value, proof) = store.get_with_proof(&alive, latest).unwrap();
    assert_eq!(value, Some(vec![7; 40]));
    proof.verify(root, &alive, value.as_deref()).unwrap();
    let snapshot = store.snapshot_chunk(latest, [0; 32], 1 << 20).unwrap().unwrap();
    assert_eq!(snapshot.entries.len(), 500);
}

/// A version that changes nothing copies the root, and jmt reports nothing stale: the store
/// records the old root itself, or every empty block would leave one node behind forever.
#[test]
fn empty_blocks_leave_no_tree_nodes_behind() {
    let dir = TempDir::new().unwrap();
    let store = open_pruned(dir.path(), 5, 0);
    let mut pruner = Pruner::new(&store);
    let genesis: WriteSet =
        (0..50).map(|i| (key(1, &format!("k{i}")), Some(vec![1; 32]))).collect();
    commit_genesis(&store, &genesis);
    let mut sizes = Vec::new();
    for round in 0..3 {
        for _ in 0..400 {
            commit_next(&store, &WriteSet::new(), vec![]);
        }
        pruner.run(Duration::ZERO).unwrap();
        pruner.compact().unwrap();
        store.flush().unwrap();
        pruner.compact().unwrap();
        let usage: BTreeMap<_, _> = store.disk_usage().unwrap().into_iter().collect();
        sizes.push(usage["jmt_nodes"]);
        eprintln!("round {round}: jmt_nodes {} bytes", usage["jmt_nodes"]);
    }
    assert!(sizes[2] <= sizes[0] + 1024, "tree nodes grew with empty blocks: {sizes:?}");
    let latest = store.latest_height().unwrap();
    let root = store.state_root(latest).unwrap().unwrap();
    let (value, proof) = store.get_with_proof(&key(1, "k7"), latest).unwrap();
    proof.verify(root, &key(1, "k7"), value.as_deref()).unwrap();
}

#[test]
fn blocks_receipts_and_indices_go_while_headers_and_commits_stay() {
    let dir = TempDir::new().unwrap();
    let store = open_pruned(dir.path(), 0, 4);
    commit_genesis(&store, &writes([(key(1, "a"), Some("0"))]));
    let mut blocks = Vec::new();
    for h in 1..=10u64 {
        let events = vec![vec![event(3, "first")], vec![event(3, "second"), event(4, "other")]];
        blocks.push(commit_next(&store, &writes([(key(1, "a"), Some(&*h.to_string()))]), events));
    }
    let report = Pruner::new(&store).run(Duration::ZERO).unwrap();
    assert_eq!(report.blocks, 7, "heights 0..=6 (genesis has no block)");
    assert_eq!(store.earliest_block_height(), 7);
    assert_eq!(store.earliest_state_height(), 0, "state is not pruned");

    for block in &blocks {
        let h = block.height();
        assert_eq!(store.header(h).unwrap(), Some(block.header.clone()), "header {h} kept");
        assert!(store.commit(h).unwrap().is_some(), "commit {h} kept");
        let tx = block.txs[0].id();
        if h < 7 {
            let error = store.block(h).unwrap_err();
            assert_eq!(error.to_string(), "pruned: the earliest block kept is height 7");
            assert!(matches!(store.receipts(h), Err(StoreError::Pruned { what: "block", .. })));
            assert_eq!(store.tx_location(&tx).unwrap(), None);
            assert_eq!(store.receipt(&tx).unwrap(), None);
        } else {
            assert_eq!(store.block(h).unwrap().as_ref(), Some(block));
            assert_eq!(store.receipts(h).unwrap().unwrap().len(), 2);
            assert_eq!(store.tx_location(&tx).unwrap(), Some((h, 0)));
        }
    }
    assert!(matches!(store.events(contract(3), 6, 10, 100), Err(StoreError::Pruned { .. })));
    assert_eq!(store.events(contract(3), 7, 10, 100).unwrap().len(), 8);
    assert_eq!(store.events(contract(4), 7, 10, 100).unwrap().len(), 4);
    // Reopened, the store still knows; the state of every height is there.
    drop(store);
    let store = open_pruned(dir.path(), 0, 4);
    assert_eq!(store.earliest_block_height(), 7);
    assert!(store.block(6).is_err());
    assert!(store.state_root(1).unwrap().is_some(), "state of height 1 kept");
}

// ---- kill -9 while pruning ----

const DIR_VAR: &str = "KESSAI_STORE_PRUNE_CRASH_DIR";
const KEEP: u64 = 5;

/// Block `h` sets key `i` to `h`, except every seventh key (by `h`), which it deletes: after any
/// height, the state is a function of the height alone.
fn crash_writes(height: u64) -> WriteSet {
    (0..120u64)
        .map(|i| {
            let value = (i % 7 != height % 7).then(|| height.to_be_bytes().to_vec());
            (key(1, &format!("k{i:03}")), value)
        })
        .collect()
}

#[test]
fn prune_crash_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else { return };
    let store = open_pruned_compacting(Path::new(&dir), KEEP, KEEP, 1);
    commit_genesis(&store, &crash_writes(0));
    let pruning = store.clone();
    std::thread::spawn(move || {
        let mut pruner = Pruner::new(&pruning);
        loop {
            pruner.run(Duration::ZERO).unwrap();
            println!("pruned to {}", pruning.earliest_state_height());
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    loop {
        let height = store.latest_height().unwrap() + 1;
        commit_next(&store, &crash_writes(height), vec![vec![event(3, "e")]]);
        println!("committed {height}");
        // Slow enough for the pruner to keep up, so that the parent kills it mid-work.
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn killed_while_pruning_reopens_consistent_and_goes_on() {
    let dir = TempDir::new().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "prune_crash_child", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut committed, mut pruned) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("committed ") {
            committed = h.trim().parse().unwrap();
        } else if let Some(h) = line.strip_prefix("pruned to ") {
            pruned = h.trim().parse().unwrap();
        }
        if (committed >= 300 && pruned >= 250) || Instant::now() > deadline {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(pruned >= 250, "the child pruned only up to {pruned} ({committed} committed)");

    let store = open_pruned(dir.path(), KEEP, KEEP);
    let latest = store.latest_height().unwrap();
    let earliest = store.earliest_state_height();
    assert!(earliest >= pruned && earliest <= latest, "earliest {earliest}, latest {latest}");
    let check = |store: &Store, from: u64| {
        let latest = store.latest_height().unwrap();
        for height in from..=latest {
            let header = store.header(height).unwrap();
            let root = store.state_root(height).unwrap().unwrap();
            if let Some(header) = header {
                assert_eq!(root, header.state_root, "root at {height}");
            }
            for (k, v) in crash_writes(height) {
                let (value, proof) = store.get_with_proof(&k, height).unwrap();
                assert_eq!(value, v, "value at {height}");
                proof.verify(root, &k, value.as_deref()).unwrap();
            }
        }
    };
    check(&store, earliest);
    // Pruning goes on from where it stopped, and the chain too.
    Pruner::new(&store).run(Duration::ZERO).unwrap();
    for _ in 0..3 {
        let height = store.latest_height().unwrap() + 1;
        commit_next(&store, &crash_writes(height), vec![]);
    }
    Pruner::new(&store).run(Duration::ZERO).unwrap();
    let latest = store.latest_height().unwrap();
    assert_eq!(store.earliest_state_height(), latest + 1 - KEEP);
    assert_eq!(store.earliest_block_height(), latest + 1 - KEEP);
    check(&store, latest + 1 - KEEP);
}
