//! The store on a real RocksDB: commits, reads, restarts, proofs, and refused commits.

mod common;

use common::*;
use kessai_primitives::{Hash, StateProof};
use kessai_store::{Store, StoreError, WriteSet, EMPTY_STATE_ROOT};
use tempfile::TempDir;

/// Genesis and three blocks:
/// - genesis: a/x = "g", a/y = "g", b/z = "g"
/// - block 1: a/x = "1", new a/w = "1"; txs: one emitting two events of contract 7, one with none
/// - block 2: deletes a/y; one tx emitting an event of contract 8
/// - block 3: no state change, no transaction
fn sample_chain(store: &Store) -> Vec<kessai_primitives::Block> {
    commit_genesis(
        store,
        &writes([(key(1, "x"), Some("g")), (key(1, "y"), Some("g")), (key(2, "z"), Some("g"))]),
    );
    let b1 = commit_next(
        store,
        &writes([(key(1, "x"), Some("1")), (key(1, "w"), Some("1"))]),
        vec![vec![event(7, "first"), event(7, "second")], vec![]],
    );
    let b2 = commit_next(store, &writes([(key(1, "y"), None)]), vec![vec![event(8, "other")]]);
    let b3 = commit_next(store, &WriteSet::new(), vec![]);
    vec![b1, b2, b3]
}

#[test]
fn fresh_store_is_empty() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    assert_eq!(store.latest_height(), None);
    assert_eq!(store.state_root(0).unwrap(), None);
    assert_eq!(store.genesis_meta().unwrap(), None);
    assert!(matches!(store.get_with_proof(&key(1, "x"), 0), Err(StoreError::NotCommitted { .. })));
    assert!(matches!(
        store.prepare_state(1, &WriteSet::new()),
        Err(StoreError::WrongHeight { expected: 0, got: 1 })
    ));
}

#[test]
fn empty_genesis_has_the_empty_root() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    assert_eq!(commit_genesis(&store, &WriteSet::new()), EMPTY_STATE_ROOT);
    assert_eq!(store.state_root(0).unwrap(), Some(EMPTY_STATE_ROOT));
    let (value, proof) = store.get_with_proof(&key(1, "x"), 0).unwrap();
    assert_eq!(value, None);
    proof.verify(EMPTY_STATE_ROOT, &key(1, "x"), None).unwrap();
}

#[test]
fn commits_blocks_and_reads_everything_back() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let blocks = sample_chain(&store);

    assert_eq!(store.latest_height(), Some(3));
    assert_eq!(store.genesis_meta().unwrap().as_deref(), Some(&b"genesis meta"[..]));
    assert_eq!(store.header(0).unwrap(), None, "genesis has no block");
    assert_eq!(store.block(4).unwrap(), None);
    for block in &blocks {
        let h = block.height();
        assert_eq!(store.block(h).unwrap().as_ref(), Some(block));
        assert_eq!(store.header(h).unwrap().as_ref(), Some(&block.header));
        let commit = store.commit(h).unwrap().unwrap();
        assert_eq!((commit.height, commit.block), (h, block.id()));
        assert_eq!(store.state_root(h).unwrap(), Some(block.header.state_root));
        let receipts = store.receipts(h).unwrap().unwrap();
        assert_eq!(receipts.len(), block.txs.len());
        for (i, tx) in block.txs.iter().enumerate() {
            assert_eq!(store.tx_location(&tx.id()).unwrap(), Some((h, i as u32)));
            assert_eq!(store.receipt(&tx.id()).unwrap().as_ref(), Some(&receipts[i]));
        }
    }
    assert_eq!(store.tx_location(&Hash::digest(b"unknown")).unwrap(), None);
    assert_eq!(store.receipt(&Hash::digest(b"unknown")).unwrap(), None);
    // Block 3 changed nothing: same root as block 2, under a new version.
    assert_eq!(store.state_root(3).unwrap(), store.state_root(2).unwrap());
    assert_ne!(store.state_root(1).unwrap(), store.state_root(0).unwrap());
    assert_eq!(store.state_root(4).unwrap(), None);

    // Latest state.
    assert_eq!(store.get(&key(1, "x")).unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(store.get(&key(1, "y")).unwrap(), None);
    assert_eq!(store.get(&key(2, "z")).unwrap().as_deref(), Some(&b"g"[..]));
    // History.
    assert_eq!(store.get_at(&key(1, "x"), 0).unwrap().as_deref(), Some(&b"g"[..]));
    assert_eq!(store.get_at(&key(1, "x"), 3).unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(store.get_at(&key(1, "y"), 1).unwrap().as_deref(), Some(&b"g"[..]));
    assert_eq!(store.get_at(&key(1, "y"), 2).unwrap(), None);
    assert_eq!(store.get_at(&key(1, "w"), 0).unwrap(), None);
    assert!(matches!(store.get_at(&key(1, "x"), 4), Err(StoreError::NotCommitted { .. })));
}

#[test]
fn events_are_indexed_by_contract_and_height() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let blocks = sample_chain(&store);
    let tx1 = blocks[0].txs[0].id();

    let all = store.events(contract(7), 0, u64::MAX, 100).unwrap();
    let topics: Vec<_> = all.iter().map(|(h, id, e)| (*h, *id, e.topic.as_str())).collect();
    assert_eq!(topics, vec![(1, tx1, "first"), (1, tx1, "second")]);
    assert_eq!(store.events(contract(7), 0, u64::MAX, 1).unwrap().len(), 1, "limit");
    assert!(store.events(contract(7), 2, 3, 100).unwrap().is_empty(), "from_height");
    assert!(store.events(contract(7), 0, 0, 100).unwrap().is_empty(), "to_height");
    assert_eq!(store.events(contract(7), 1, 1, 100).unwrap().len(), 2, "inclusive bounds");
    assert!(store.events(contract(7), 1, 0, 100).unwrap().is_empty(), "empty range");
    let other = store.events(contract(8), 2, 2, 100).unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!((other[0].0, other[0].1), (2, blocks[1].txs[0].id()));
    assert!(store.events(contract(6), 0, 10, 100).unwrap().is_empty());
    // A contract's address that sorts right after contract 7 does not leak into its results.
    assert!(store
        .events(contract(7), 0, 1, 100)
        .unwrap()
        .iter()
        .all(|(_, _, e)| e.contract == contract(7)));
}

#[test]
fn events_resume_from_a_position_inside_a_height() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let blocks = sample_chain(&store);
    let tx1 = blocks[0].txs[0].id();

    let all = store.events_from(contract(7), (0, 0, 0), u64::MAX, 100).unwrap();
    let positions: Vec<_> =
        all.iter().map(|e| (e.height, e.tx_index, e.event_index, e.event.topic.as_str())).collect();
    assert_eq!(positions, vec![(1, 0, 0, "first"), (1, 0, 1, "second")]);
    assert!(all.iter().all(|e| e.tx_id == tx1));
    // A page of one cut inside height 1, resumed at the position after its event.
    let first = store.events_from(contract(7), (0, 0, 0), u64::MAX, 1).unwrap();
    assert_eq!(first[0].event.topic, "first");
    let rest = store.events_from(contract(7), (1, 0, 1), u64::MAX, 100).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].event.topic, "second");
    assert!(store.events_from(contract(7), (1, 0, 2), u64::MAX, 100).unwrap().is_empty());
    assert!(store.events_from(contract(7), (1, 1, 0), u64::MAX, 100).unwrap().is_empty());
}

#[test]
fn next_from_walks_a_prefix_of_the_latest_state() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    sample_chain(&store);
    let ns1 = contract(1).0.to_vec();

    let mut walked = Vec::new();
    let mut from = ns1.clone();
    while let Some((k, v)) = store.next_from(&ns1, &from).unwrap() {
        walked.push((String::from_utf8(k[32..].to_vec()).unwrap(), v));
        from = k;
        from.push(0); // the smallest key after k
    }
    assert_eq!(walked, vec![("w".into(), b"1".to_vec()), ("x".into(), b"1".to_vec())]);

    // `from` below the prefix starts at the prefix; past the prefix's keys there is nothing.
    assert_eq!(store.next_from(&ns1, b"").unwrap().unwrap().0, key(1, "w"));
    assert_eq!(store.next_from(&key(1, "x"), &key(1, "a")).unwrap().unwrap().0, key(1, "x"));
    assert_eq!(store.next_from(&ns1, &key(1, "y")).unwrap(), None);
    assert_eq!(store.next_from(&key(3, ""), b"").unwrap(), None);
    // The empty prefix spans every namespace.
    assert_eq!(store.next_from(b"", &key(1, "xa")).unwrap().unwrap().0, key(2, "z"));
}

#[test]
fn reopening_gives_the_same_store_and_it_goes_on() {
    let dir = TempDir::new().unwrap();
    let (roots, blocks) = {
        let store = open(dir.path());
        let blocks = sample_chain(&store);
        let roots: Vec<_> = (0..=3).map(|h| store.state_root(h).unwrap().unwrap()).collect();
        (roots, blocks)
    };
    let store = open(dir.path());
    assert_eq!(store.latest_height(), Some(3));
    assert_eq!(store.genesis_meta().unwrap().as_deref(), Some(&b"genesis meta"[..]));
    for (h, root) in roots.iter().enumerate() {
        assert_eq!(store.state_root(h as u64).unwrap().as_ref(), Some(root));
    }
    for block in &blocks {
        assert_eq!(store.block(block.height()).unwrap().as_ref(), Some(block));
        for tx in &block.txs {
            assert_eq!(store.receipt(&tx.id()).unwrap().unwrap().tx_id, tx.id());
        }
    }
    assert_eq!(store.get(&key(1, "w")).unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(store.events(contract(7), 0, 10, 10).unwrap().len(), 2);

    commit_next(&store, &writes([(key(1, "x"), Some("4"))]), vec![vec![]]);
    assert_eq!(store.latest_height(), Some(4));
    let (value, proof) = store.get_with_proof(&key(1, "x"), 4).unwrap();
    proof.verify(store.state_root(4).unwrap().unwrap(), &key(1, "x"), value.as_deref()).unwrap();
    assert_eq!(value.as_deref(), Some(&b"4"[..]));
}

#[test]
fn a_store_is_opened_by_one_process_at_a_time() {
    let dir = TempDir::new().unwrap();
    let _store = open(dir.path());
    assert!(matches!(Store::open(dir.path()), Err(StoreError::Db(_))));
}

#[test]
fn proofs_of_inclusion_and_absence_at_every_height() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    sample_chain(&store);
    let expected: [(u64, &[u8], Option<&str>); 10] = [
        (0, b"x", Some("g")),
        (0, b"w", None),
        (1, b"x", Some("1")),
        (1, b"w", Some("1")),
        (1, b"y", Some("g")),
        (2, b"y", None),
        (2, b"nothing", None),
        (3, b"x", Some("1")),
        (3, b"y", None),
        (3, b"w", Some("1")),
    ];
    let roots: Vec<Hash> = (0..=3).map(|h| store.state_root(h).unwrap().unwrap()).collect();
    for (height, k, want) in expected {
        let k = kessai_store::flat_key(&contract(1), k);
        let want = want.map(str::as_bytes);
        let (value, proof) = store.get_with_proof(&k, height).unwrap();
        assert_eq!(value.as_deref(), want, "value of {k:?} at {height}");
        let root = roots[height as usize];
        proof.verify(root, &k, want).unwrap();

        // Tampered claims.
        assert!(proof.verify(root, &k, Some(b"forged")).is_err());
        if want.is_some() {
            assert!(proof.verify(root, &k, None).is_err(), "present key claimed absent");
        }
        assert!(proof.verify(root, &key(2, "z"), want).is_err(), "proof for another key");
        assert!(proof.verify(Hash::digest(b"not a root"), &k, want).is_err(), "another root");
        // The roots of heights whose state differs in this key do not accept it either.
        for (other, other_root) in roots.iter().enumerate() {
            let other_value = store.get_at(&k, other as u64).unwrap();
            if other_value.as_deref() != want {
                assert!(proof.verify(*other_root, &k, want).is_err(), "{height} vs {other}");
            }
        }
        // Flipping any byte of the encoded proof breaks it (or its decoding).
        let bytes = proof.to_bytes();
        for i in 0..bytes.len() {
            let mut forged = bytes.clone();
            forged[i] ^= 1;
            if let Ok(forged) = StateProof::from_bytes(&forged) {
                assert!(forged.verify(root, &k, want).is_err(), "byte {i} flipped still verifies");
            }
        }
    }
}

/// Everything a refused commit could have touched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    latest: Option<u64>,
    roots: Vec<Option<Hash>>,
    values: Vec<Option<Vec<u8>>>,
    has_block_4: bool,
}

fn snapshot(store: &Store) -> Snapshot {
    Snapshot {
        latest: store.latest_height(),
        roots: (0..=5).map(|h| store.state_root(h).unwrap()).collect(),
        values: [key(1, "x"), key(1, "y"), key(1, "w"), key(1, "new")]
            .iter()
            .map(|k| store.get(k).unwrap())
            .collect(),
        has_block_4: store.block(4).unwrap().is_some() || store.header(4).unwrap().is_some(),
    }
}

#[test]
fn refused_commits_change_nothing() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    sample_chain(&store);
    let before = snapshot(&store);
    let new_writes = writes([(key(1, "new"), Some("v")), (key(1, "x"), None)]);

    // prepare_state only for the next height, and only namespaced keys.
    assert!(matches!(
        store.prepare_state(3, &new_writes),
        Err(StoreError::WrongHeight { expected: 4, got: 3 })
    ));
    assert!(matches!(
        store.prepare_state(4, &writes([(b"short".to_vec(), Some("v"))])),
        Err(StoreError::KeyWithoutNamespace(_))
    ));

    let prepared = store.prepare_state(4, &new_writes).unwrap();
    let bob_tx = tx("bob", 0);
    let receipts = vec![receipt(&bob_tx, vec![event(7, "refused")])];
    let (good, commit) = block(&store, 4, vec![bob_tx.clone()], &receipts, &prepared);
    let attempt = |block: &kessai_primitives::Block,
                   commit: &kessai_primitives::Commit,
                   receipts: &[kessai_primitives::Receipt]| {
        store.commit_block(block, commit, receipts, prepared.clone()).unwrap_err()
    };

    // Wrong heights: a gap and a replay.
    let mut skipping = good.clone();
    skipping.header.height = 5;
    let skipping_commit =
        kessai_primitives::Commit { height: 5, block: skipping.id(), ..commit.clone() };
    assert!(matches!(
        attempt(&skipping, &skipping_commit, &receipts),
        StoreError::WrongHeight { expected: 4, got: 5 }
    ));
    let replay = store.block(3).unwrap().unwrap();
    assert!(matches!(
        attempt(&replay, &store.commit(3).unwrap().unwrap(), &[]),
        StoreError::WrongHeight { expected: 4, got: 3 }
    ));

    // A header whose state root is not the prepared one.
    let mut wrong_root = good.clone();
    wrong_root.header.state_root = store.state_root(3).unwrap().unwrap();
    let wrong_root_commit = kessai_primitives::Commit { block: wrong_root.id(), ..commit.clone() };
    assert!(matches!(
        attempt(&wrong_root, &wrong_root_commit, &receipts),
        StoreError::StateRootMismatch { .. }
    ));

    // A commit for another block, receipts for other transactions, a wrong parent.
    let other_commit =
        kessai_primitives::Commit { block: Hash::digest(b"other"), ..commit.clone() };
    assert!(matches!(attempt(&good, &other_commit, &receipts), StoreError::CommitMismatch { .. }));
    assert!(matches!(attempt(&good, &commit, &[]), StoreError::ReceiptsMismatch(_)));
    let foreign = vec![receipt(&tx("carol", 0), vec![])];
    assert!(matches!(attempt(&good, &commit, &foreign), StoreError::ReceiptsMismatch(_)));
    let mut orphan = good.clone();
    orphan.header.parent = Hash::digest(b"elsewhere");
    let orphan_commit = kessai_primitives::Commit { block: orphan.id(), ..commit.clone() };
    assert!(matches!(attempt(&orphan, &orphan_commit, &receipts), StoreError::WrongParent { .. }));

    // State prepared for another version, and a second genesis.
    let genesis_again = {
        let fresh = TempDir::new().unwrap();
        let other = open(fresh.path());
        other.prepare_state(0, &new_writes).unwrap()
    };
    assert!(matches!(
        store.commit_block(&good, &commit, &receipts, genesis_again.clone()),
        Err(StoreError::PreparedForOtherVersion { expected: 4, prepared: 0 })
    ));
    assert!(matches!(store.commit_genesis(genesis_again, b""), Err(StoreError::GenesisExists)));

    assert_eq!(snapshot(&store), before);
    assert_eq!(store.tx_location(&bob_tx.id()).unwrap(), None);
    assert!(store.events(contract(7), 4, 4, 10).unwrap().is_empty());

    // The prepared state is still good: nothing it depends on moved.
    store.commit_block(&good, &commit, &receipts, prepared).unwrap();
    assert_eq!(store.latest_height(), Some(4));
    assert_eq!(store.get(&key(1, "new")).unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(store.get(&key(1, "x")).unwrap(), None);
    assert_eq!(store.tx_location(&bob_tx.id()).unwrap(), Some((4, 0)));
}

#[test]
fn blocks_need_a_genesis_first() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let other_dir = TempDir::new().unwrap();
    let other = open(other_dir.path());
    commit_genesis(&other, &WriteSet::new());
    let prepared = other.prepare_state(1, &WriteSet::new()).unwrap();
    let (block, commit) = block(&other, 1, vec![], &[], &prepared);
    assert!(matches!(
        store.commit_block(&block, &commit, &[], prepared),
        Err(StoreError::WrongHeight { expected: 0, got: 1 })
    ));
    assert_eq!(store.latest_height(), None);
}

#[test]
fn competing_prepared_states_for_one_height() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    sample_chain(&store);
    let a = store.prepare_state(4, &writes([(key(1, "x"), Some("a"))])).unwrap();
    let b = store.prepare_state(4, &writes([(key(1, "x"), Some("b"))])).unwrap();
    assert_ne!(a.root, b.root);
    let again = store.prepare_state(4, &writes([(key(1, "x"), Some("a"))])).unwrap();
    assert_eq!(again.root, a.root, "preparing is deterministic");

    let (block_b, commit_b) = block(&store, 4, vec![], &[], &b);
    store.commit_block(&block_b, &commit_b, &[], b).unwrap();
    // The losing proposal is now for a height that is taken.
    let (block_a, commit_a) = block(&store, 4, vec![], &[], &a);
    assert!(matches!(
        store.commit_block(&block_a, &commit_a, &[], a),
        Err(StoreError::WrongHeight { expected: 5, got: 4 })
    ));
    assert_eq!(store.get(&key(1, "x")).unwrap().as_deref(), Some(&b"b"[..]));
}

#[test]
fn a_block_begun_is_the_tip_until_written_or_abandoned() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    sample_chain(&store);
    let prepared =
        store.prepare_state(4, &writes([(key(1, "x"), Some("4")), (key(1, "w"), None)])).unwrap();
    let (block4, commit4) = block(&store, 4, vec![], &[], &prepared);
    let root4 = prepared.root;
    let write = store.begin_commit(block4.clone(), commit4.clone(), vec![], prepared).unwrap();
    assert_eq!((store.tip_height(), store.latest_height()), (Some(4), Some(3)));
    assert_eq!(store.tip_header().unwrap().as_ref(), Some(&block4.header));
    assert_eq!(store.tip_get(&key(1, "x")).unwrap().as_deref(), Some(&b"4"[..]));
    assert_eq!(store.tip_get(&key(1, "w")).unwrap(), None, "deleted by the pending block");
    assert_eq!(store.tip_next_from(&contract(1).0, b"").unwrap().unwrap().0, key(1, "x"));
    assert_eq!(store.get(&key(1, "x")).unwrap().as_deref(), Some(&b"1"[..]), "not on disk yet");
    assert_eq!(store.header(4).unwrap(), None);

    // One block at a time; the next height is prepared on the tip.
    let next = store.prepare_state(5, &writes([(key(2, "z"), Some("5"))])).unwrap();
    let (block5, commit5) = (block4.clone(), commit4.clone());
    assert!(matches!(
        store.begin_commit(block5, commit5, vec![], next.clone()),
        Err(StoreError::WriteInFlight(4))
    ));

    // Abandoned: the tip falls back to the block on disk.
    drop(write);
    assert_eq!((store.tip_height(), store.latest_height()), (Some(3), Some(3)));
    assert_eq!(store.tip_get(&key(1, "x")).unwrap().as_deref(), Some(&b"1"[..]));

    // Begun again and written: committed as if by commit_block.
    let prepared =
        store.prepare_state(4, &writes([(key(1, "x"), Some("4")), (key(1, "w"), None)])).unwrap();
    store.begin_commit(block4.clone(), commit4, vec![], prepared).unwrap().write().unwrap();
    assert_eq!((store.tip_height(), store.latest_height()), (Some(4), Some(4)));
    assert_eq!(store.state_root(4).unwrap(), Some(root4));
    assert_eq!(store.block(4).unwrap().as_ref(), Some(&block4));
    assert_eq!(store.get(&key(1, "w")).unwrap(), None);
}
