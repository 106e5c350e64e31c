use crate::common::*;
use kessai_primitives::TxStatus;
use kessai_runtime::{system, CallError, Runtime, RuntimeConfig};

#[test]
fn a_failed_transaction_keeps_only_its_nonce_and_gas() {
    let (mut chain, kv) = chain_with_kitchen();
    let nonce = chain.nonce(&alice());
    let executed = chain.block(&[chain.tx(&alice(), call(kv, "fail", vec![]))]);
    let receipt = &executed.receipts[0];
    assert_eq!(failure(receipt), "contract aborted: boom");
    assert!(receipt.events.is_empty() && receipt.return_data.is_empty());
    assert!(receipt.gas_used > 20_000, "gas is still charged: {}", receipt.gas_used);
    assert_eq!(executed.gas_used, receipt.gas_used);
    assert_eq!(chain.storage(kv, b"x"), None);
    // The only write of the block is the nonce.
    let nonce_key = system::nonce_key(&alice().public());
    assert_eq!(executed.writes.keys().collect::<Vec<_>>(), vec![&nonce_key]);
    assert_eq!(chain.nonce(&alice()), nonce + 1);
}

#[test]
fn an_infinite_loop_runs_out_of_gas_and_the_block_goes_on() {
    let (mut chain, kv) = chain_with_kitchen();
    let n = chain.nonce(&alice());
    let executed = chain.block(&[
        sign(&alice(), n, 2_000_000, call(kv, "spin", vec![])),
        sign(&alice(), n + 1, GAS, call(kv, "set", args(&[b"after", b"1"]))),
    ]);
    assert_eq!(failure(&executed.receipts[0]), "out of gas");
    assert_eq!(executed.receipts[0].gas_used, 2_000_000, "all of its gas");
    assert_success(&executed.receipts[1]);
    assert_eq!(chain.storage(kv, b"after"), Some(b"1".to_vec()));
}

#[test]
fn memory_growth_is_bounded() {
    let (mut chain, kv) = chain_with_kitchen();
    let grow =
        |chain: &mut Chain, pages: u32| chain.call(kv, "grow", borsh::to_vec(&pages).unwrap());
    let receipt = grow(&mut chain, 10);
    assert_success(&receipt);
    assert_eq!(receipt.return_data, 2i32.to_le_bytes(), "the old size: 2 pages");
    assert_success(&grow(&mut chain, 254)); // exactly 16 MiB
    assert_eq!(failure(&grow(&mut chain, 255)), "memory limit exceeded");
    assert_eq!(failure(&grow(&mut chain, 100_000)), "memory limit exceeded");
}

#[test]
fn deep_recursion_traps() {
    let (mut chain, kv) = chain_with_kitchen();
    let receipt = chain.call(kv, "recurse", vec![]);
    assert_eq!(failure(&receipt), "trap: call stack exhausted");
}

#[test]
fn missing_method() {
    let (mut chain, kv) = chain_with_kitchen();
    assert_eq!(failure(&chain.call(kv, "nope", vec![])), "no method nope");
    assert_eq!(failure(&chain.call(kv, "init", bytes(b"again"))), "no method init");
    let nowhere = kessai_primitives::Address([3; 32]);
    assert_eq!(failure(&chain.call(nowhere, "set", vec![])), format!("no contract at {nowhere}"));
    let ctx = chain.context(chain.height);
    assert_eq!(
        chain.runtime.view(&chain.state, &ctx, kv, "nope", &[]),
        Err(CallError::NoMethod("nope".into()))
    );
    assert_eq!(
        chain.runtime.view(&chain.state, &ctx, nowhere, "get", &[]),
        Err(CallError::NoContract(nowhere))
    );
}

#[test]
fn a_view_cannot_write() {
    let (mut chain, kv) = chain_with_kitchen();
    let ctx = chain.context(chain.height);
    assert_eq!(
        chain.runtime.view(&chain.state, &ctx, kv, "bad_view", &[]),
        Err(CallError::Failed("trap: a view call cannot write storage (storage_set)".into()))
    );
    assert_eq!(
        chain.runtime.view(&chain.state, &ctx, kv, "set", &args(&[b"k", b"v"])),
        Err(CallError::NotView("set".into()))
    );
    // Declared view, it stays read-only in a transaction as well.
    let receipt = chain.call(kv, "bad_view", vec![]);
    assert_eq!(failure(&receipt), "trap: a view call cannot write storage (storage_set)");
    assert_eq!(chain.storage(kv, b"x"), None);
}

#[test]
fn a_view_has_its_own_gas_limit() {
    let (chain, kv) = chain_with_kitchen();
    let ctx = chain.context(chain.height);
    let input = bytes(&[0u8; 30_000]); // hashing it costs 2 × (500 + 2 × 30,000) gas
    assert!(chain.runtime.view(&chain.state, &ctx, kv, "hashes", &input).is_ok());
    let config = RuntimeConfig { max_view_gas: 50_000, ..RuntimeConfig::default() };
    let stingy = Runtime::new(config).unwrap();
    assert_eq!(
        stingy.view(&chain.state, &ctx, kv, "hashes", &input),
        Err(CallError::Failed("out of gas".into()))
    );
}

#[test]
fn the_block_gas_limit_fails_what_does_not_fit() {
    let (mut chain, kv) = chain_with_kitchen();
    chain.block_gas_limit = 3_000_000;
    let n = chain.nonce(&alice());
    let executed = chain.block(&[
        sign(&alice(), n, 2_500_000, call(kv, "spin", vec![])),
        sign(&alice(), n + 1, 2_500_000, call(kv, "spin", vec![])),
        sign(&alice(), n + 2, 2_500_000, call(kv, "set", args(&[b"k", b"v"]))),
    ]);
    let r = &executed.receipts;
    assert_eq!(failure(&r[0]), "out of gas", "its own limit ran out first");
    assert_eq!(
        failure(&r[1]),
        "block gas limit: the transaction needed more than the 500000 gas left in the block"
    );
    assert_eq!(r[1].gas_used, 500_000);
    assert!(failure(&r[2]).starts_with("block gas limit"));
    assert_eq!(r[2].gas_used, 0);
    assert_eq!(executed.gas_used, 3_000_000);
    assert_eq!(chain.nonce(&alice()), n + 3, "they are still valid transactions");
    assert!(matches!(r[2].status, TxStatus::Failed { .. }));
}
