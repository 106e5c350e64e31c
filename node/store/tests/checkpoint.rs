//! [`Store::checkpoint`]: a consistent copy of an open database that keeps committing.

mod common;

use common::*;
use kessai_store::WriteSet;
use tempfile::TempDir;

/// The copy opens on its own at the height it was taken, with the same roots, values and blocks,
/// and is independent of the original: blocks committed after it are not in it.
#[test]
fn a_checkpoint_is_a_whole_database_at_the_height_it_was_taken() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir.path().join("db"));
    commit_genesis(&store, &writes([(key(1, "x"), Some("g"))]));
    let b1 = commit_next(&store, &writes([(key(1, "x"), Some("1"))]), vec![vec![]]);
    let b2 = commit_next(&store, &writes([(key(1, "y"), Some("2"))]), vec![]);

    let copy_dir = dir.path().join("copy");
    store.checkpoint(&copy_dir).unwrap();
    commit_next(&store, &writes([(key(1, "x"), Some("3"))]), vec![]);
    assert!(store.checkpoint(&copy_dir).is_err(), "an existing directory is never overwritten");

    let copy = open(&copy_dir);
    assert_eq!(copy.latest_height(), Some(2));
    for height in 0..=2 {
        assert_eq!(copy.state_root(height).unwrap(), store.state_root(height).unwrap());
    }
    assert_eq!(copy.block(1).unwrap().map(|b| b.id()), Some(b1.id()));
    assert_eq!(copy.block(2).unwrap().map(|b| b.id()), Some(b2.id()));
    assert_eq!(copy.get(&key(1, "x")).unwrap(), Some(b"1".to_vec()));
    assert_eq!(copy.genesis_meta().unwrap(), store.genesis_meta().unwrap());
    // It goes on from where it was taken, as a restored node does.
    commit_next(&copy, &WriteSet::new(), vec![]);
    assert_eq!(copy.latest_height(), Some(3));
    assert_eq!(store.get(&key(1, "x")).unwrap(), Some(b"3".to_vec()));
}
