use crate::common::*;
use kessai_primitives::Address;

fn view(chain: &Chain, contract: Address, method: &str, args: Vec<u8>) -> Vec<u8> {
    chain.runtime.view(&chain.state, &chain.context(chain.height), contract, method, &args).unwrap()
}

/// Decodes `scan_all`'s concatenated borsh `(key, value)` entries.
fn entries(mut data: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (k, v): (Vec<u8>, Vec<u8>) = borsh::BorshDeserialize::deserialize(&mut data).unwrap();
        out.push((String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()));
    }
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn set_get_remove() {
    let (mut chain, kv) = chain_with_kitchen();
    assert_eq!(chain.storage(kv, b"init"), Some(b"hello".to_vec()), "init ran with its args");
    assert_eq!(view(&chain, kv, "get", bytes(b"k")), vec![0], "absent");

    assert_success(&chain.call(kv, "set", args(&[b"k", b"v1"])));
    assert_eq!(chain.storage(kv, b"k"), Some(b"v1".to_vec()));
    let mut some = vec![1];
    some.extend(bytes(b"v1"));
    assert_eq!(view(&chain, kv, "get", bytes(b"k")), some);

    assert_success(&chain.call(kv, "set", args(&[b"k", b""])));
    assert_eq!(chain.storage(kv, b"k"), Some(vec![]), "an empty value is still a value");

    assert_success(&chain.call(kv, "remove", bytes(b"k")));
    assert_eq!(chain.storage(kv, b"k"), None);
    assert_eq!(view(&chain, kv, "get", bytes(b"k")), vec![0]);
}

#[test]
fn storage_is_namespaced_by_contract() {
    let (mut chain, a) = chain_with_kitchen();
    let b = chain.create(&kitchen(), bytes(b"other"));
    assert_success(&chain.call(a, "set", args(&[b"shared", b"from a"])));
    assert_eq!(view(&chain, b, "get", bytes(b"shared")), vec![0]);
    assert_eq!(chain.storage(b, b"init"), Some(b"other".to_vec()));
    assert_eq!(chain.storage(a, b"init"), Some(b"hello".to_vec()));
}

#[test]
fn prefix_iteration_merges_committed_state_with_the_block_and_the_transaction() {
    let (mut chain, kv) = chain_with_kitchen();
    let alice = alice();
    let n = chain.nonce(&alice);
    let committed: Vec<_> = [("p/a", "1"), ("p/c", "3"), ("p/d", "4"), ("q/x", "9"), ("p", "0")]
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            sign(&alice, n + i as u64, GAS, call(kv, "set", args(&[k.as_bytes(), v.as_bytes()])))
        })
        .collect();
    assert!(chain.block(&committed).receipts.iter().all(|r| r.is_success()));

    // One block: earlier transactions' writes (p/b added, p/c removed, p/a changed), a failed
    // transaction whose write must not show, then the scan.
    let n = chain.nonce(&alice);
    let block = chain.block(&[
        sign(&alice, n, GAS, call(kv, "set", args(&[b"p/b", b"2"]))),
        sign(&alice, n + 1, GAS, call(kv, "remove", bytes(b"p/c"))),
        sign(&alice, n + 2, GAS, call(kv, "set", args(&[b"p/a", b"11"]))),
        sign(&alice, n + 3, GAS, call(kv, "fail", vec![])),
        sign(&alice, n + 4, GAS, call(kv, "scan_all", bytes(b"p/"))),
        sign(&alice, n + 5, GAS, call(kv, "scan_all", bytes(b""))),
    ]);
    let r = &block.receipts;
    assert!(r[..3].iter().all(|r| r.is_success()));
    assert_eq!(failure(&r[3]), "contract aborted: boom");
    assert_eq!(entries(&r[4].return_data), pairs(&[("p/a", "11"), ("p/b", "2"), ("p/d", "4")]));
    // The empty prefix sees every key of the contract, and only this contract's.
    assert_eq!(
        entries(&r[5].return_data),
        pairs(&[
            ("init", "hello"),
            ("p", "0"),
            ("p/a", "11"),
            ("p/b", "2"),
            ("p/d", "4"),
            ("q/x", "9")
        ])
    );
    assert_eq!(chain.storage(kv, b"x"), None, "the failed transaction's write was dropped");

    // Committed, the same scan gives the same answer.
    let again = chain.call(kv, "scan_all", bytes(b"p/"));
    assert_eq!(entries(&again.return_data), pairs(&[("p/a", "11"), ("p/b", "2"), ("p/d", "4")]));
}

#[test]
fn key_and_value_limits_trap() {
    let (mut chain, kv) = chain_with_kitchen();
    let long_key = vec![b'k'; 1025];
    let receipt = chain.call(kv, "set", args(&[&long_key, b"v"]));
    assert_eq!(failure(&receipt), "trap: storage key is 1025 bytes; the limit is 1024");
    assert_success(&chain.call(kv, "set", args(&[&long_key[..1024], b"v"])));
}
