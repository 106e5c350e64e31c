//! A validator never signs a second, different message at a height, round and step it has
//! signed, whatever happens to `data/`: its signing state lives beside its key
//! (`HOME/sign_state.json`, `kessai_node::sign_state`), not in `data/`.

use kessai_tests::TestNode;
use std::time::Duration;

/// The dev validator signed heights 1..=h; its `data/` is wiped and the node restarted on the
/// same key. Replaying from genesis, it would sign a new block 1 (another block time, so another
/// block id): a conflicting proposal and conflicting votes. The signing state refuses them.
#[test]
fn a_validator_whose_data_was_wiped_does_not_sign_its_old_heights_again() {
    let mut node = TestNode::dev();
    node.wait_height(3, Duration::from_secs(60)).unwrap();
    node.kill9();
    std::fs::remove_dir_all(node.home.join("data")).unwrap();
    node.start().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let log = node.log_text();
    assert_eq!(node.height(), 0, "the wiped validator signed its old heights again:\n{log}");
    assert!(log.contains("it signs nothing at or before that position"), "no warning:\n{log}");
    // Two slots, one JSON line each; the newest has the highest `seq`.
    let text = std::fs::read_to_string(node.home.join("sign_state.json")).unwrap();
    let newest = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok())
        .max_by_key(|slot| slot["seq"].as_u64().unwrap())
        .unwrap();
    assert!(newest["last_signed"]["height"].as_u64().unwrap() >= 3, "{newest}");
}

/// Without its signing state, a validator with an empty `data/` refuses to start; with `data/`
/// intact (a home from before the state file existed) the state is derived from it and the node
/// goes on.
#[test]
fn a_validator_without_its_signing_state_starts_only_from_what_data_shows() {
    let mut node = TestNode::dev();
    node.wait_height(2, Duration::from_secs(60)).unwrap();
    node.kill9();
    let state = node.home.join("sign_state.json");

    // data/ kept: derived from the store and the WAL; the chain goes on above its height.
    std::fs::remove_file(&state).unwrap();
    node.start().unwrap();
    let before = node.height();
    node.wait_height(before + 2, Duration::from_secs(60)).unwrap();
    assert!(node.log_text().contains("derived it from data/"));
    node.kill9();

    // Both gone: refused, with the sentence that says why and what to do.
    std::fs::remove_file(&state).unwrap();
    std::fs::remove_dir_all(node.home.join("data")).unwrap();
    let error = node.start().unwrap_err().to_string();
    assert!(error.contains("is missing and data/ is empty"), "{error}");
    assert!(!state.exists());
}
