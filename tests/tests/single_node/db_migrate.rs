//! `kessai db migrate`: what it says for a database of the current format, a running node and a
//! home without a database (the refusal of an older format is `node/store/tests/format.rs`; the
//! protocol upgrade that made format 2 is decision record 0020).

use kessai_tests::{kessai, kessai_ok, stderr, TestNode};
use std::time::Duration;

#[test]
fn migrate_says_what_it_can_do_and_refuses_a_running_node() {
    let mut node = TestNode::dev();
    node.wait_height(1, Duration::from_secs(30)).unwrap();
    let home = node.home.display().to_string();

    let out = kessai(&["db", "migrate", "--home", &home]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is running (its database is locked)"), "{}", stderr(&out));

    node.kill9();
    let printed = kessai_ok(&["db", "migrate", "--home", &home]);
    assert!(printed.contains("is in format 2, the one this build reads: nothing to migrate"));

    let empty = tempfile::tempdir().unwrap();
    let out = kessai(&["db", "migrate", "--home", &empty.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("has no database"), "{}", stderr(&out));
}
