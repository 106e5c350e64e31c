use crate::common::*;
use kessai_primitives::Address;
use kessai_runtime::CallError;

#[test]
fn a_contract_calls_another() {
    let (mut chain, a) = chain_with_kitchen();
    let b = chain.create(&kitchen(), bytes(b"b"));

    // a.call(b.set("k", "v")): b writes its own storage.
    let receipt = chain.call(a, "call", call_args(b, "set", &args(&[b"k", b"v"])));
    assert_success(&receipt);
    assert_eq!(chain.storage(b, b"k"), Some(b"v".to_vec()));
    assert_eq!(chain.storage(a, b"k"), None);

    // The callee sees the calling contract as caller, and the transaction's signer as signer;
    // its return data comes back to the caller.
    let receipt = chain.run(chain.tx(&bob(), call(a, "call", call_args(b, "env", &[]))));
    assert_success(&receipt);
    let env = &receipt.return_data;
    assert_eq!(&env[0..32], &a.0, "caller");
    assert_eq!(&env[32..64], &bob().public().0, "signer");
    assert_eq!(&env[64..96], &b.0, "self");

    // Events of both frames, in order.
    let receipt = chain.call(a, "call", call_args(b, "emit", &args(&[b"t", b"d"])));
    assert_eq!(receipt.events.len(), 1);
    assert_eq!(receipt.events[0].contract, b);
}

#[test]
fn a_failing_callee_fails_the_whole_transaction() {
    let (mut chain, a) = chain_with_kitchen();
    let b = chain.create(&kitchen(), bytes(b"b"));
    let nonce = chain.nonce(&alice());
    // a.call(b.fail()): b writes "x" and emits an event, then aborts.
    let receipt = chain.call(a, "call", call_args(b, "fail", &[]));
    assert_eq!(failure(&receipt), "contract aborted: boom");
    assert!(receipt.events.is_empty());
    assert_eq!(chain.storage(b, b"x"), None);
    assert_eq!(chain.nonce(&alice()), nonce + 1);

    let receipt = chain.call(a, "call", call_args(b, "nope", &[]));
    assert_eq!(failure(&receipt), "no method nope");
    let nowhere = Address([9; 32]);
    let receipt = chain.call(a, "call", call_args(nowhere, "set", &[]));
    assert_eq!(failure(&receipt), format!("no contract at {nowhere}"));
    let receipt = chain.call(a, "call", call_args(b, "init", &bytes(b"again")));
    assert_eq!(failure(&receipt), "no method init", "init runs only at instantiation");
}

/// `call_args` nested so that contracts[0] calls contracts[1] … which calls the last one's `env`.
fn chain_call(contracts: &[Address]) -> Vec<u8> {
    let (last, rest) = contracts.split_last().unwrap();
    let mut args = call_args(*last, "env", &[]);
    for contract in rest.iter().skip(1).rev() {
        args = call_args(*contract, "call", &args);
    }
    args
}

#[test]
fn call_depth_is_at_most_eight() {
    let mut chain = Chain::new();
    let code = kitchen();
    let contracts: Vec<Address> = (0..9).map(|_| chain.create(&code, vec![])).collect();

    let eight = chain.call(contracts[0], "call", chain_call(&contracts[..8]));
    assert_success(&eight);
    assert_eq!(&eight.return_data[64..96], &contracts[7].0, "the eighth frame ran");

    let nine = chain.call(contracts[0], "call", chain_call(&contracts[..9]));
    assert_eq!(failure(&nine), "trap: call depth limit of 8 exceeded");
}

#[test]
fn re_entrancy_is_refused() {
    let (mut chain, a) = chain_with_kitchen();
    let b = chain.create(&kitchen(), bytes(b"b"));
    // a → b → a
    let receipt = chain.call(a, "call", call_args(b, "call", &call_args(a, "env", &[])));
    assert_eq!(
        failure(&receipt),
        format!("trap: re-entrancy: contract {a} is already on the call stack")
    );
    // a → a
    let receipt = chain.call(a, "call", call_args(a, "env", &[]));
    assert_eq!(
        failure(&receipt),
        format!("trap: re-entrancy: contract {a} is already on the call stack")
    );
}

#[test]
fn a_view_may_call_views_only() {
    let (mut chain, a) = chain_with_kitchen();
    let b = chain.create(&kitchen(), bytes(b"b"));
    assert_success(&chain.call(b, "set", args(&[b"k", b"v"])));
    let ctx = chain.context(chain.height);

    let got =
        chain.runtime.view(&chain.state, &ctx, a, "call_view", &call_args(b, "get", &bytes(b"k")));
    let mut expected = vec![1];
    expected.extend(bytes(b"v"));
    assert_eq!(got.unwrap(), expected);

    let set = chain.runtime.view(
        &chain.state,
        &ctx,
        a,
        "call_view",
        &call_args(b, "set", &args(&[b"k", b"w"])),
    );
    assert_eq!(
        set,
        Err(CallError::Failed("trap: a view call cannot call a non-view method".into()))
    );
    // In a transaction too, a view method stays read-only.
    let receipt = chain.call(a, "call_view", call_args(b, "set", &args(&[b"k", b"w"])));
    assert_eq!(failure(&receipt), "trap: a view call cannot call a non-view method");
    assert_eq!(chain.storage(b, b"k"), Some(b"v".to_vec()));
}

/// `call_view` arguments nested so that contracts[0] reaches `get("k")` of the last contract.
fn view_chain(contracts: &[Address]) -> Vec<u8> {
    let (last, rest) = contracts.split_last().unwrap();
    let mut args = call_args(*last, "get", &bytes(b"k"));
    for contract in rest.iter().skip(1).rev() {
        args = call_args(*contract, "call_view", &args);
    }
    args
}

#[test]
fn concurrent_executions_always_find_an_instance_slot() {
    let mut chain = Chain::new();
    let code = kitchen();
    let contracts: Vec<Address> = (0..8).map(|_| chain.create(&code, vec![])).collect();
    assert_success(&chain.call(contracts[7], "set", args(&[b"k", b"v"])));
    let ctx = chain.context(chain.height);
    let view_args = view_chain(&contracts);
    let block = [chain.tx(&alice(), call(contracts[0], "call", chain_call(&contracts)))];
    let mut expected = vec![1];
    expected.extend(bytes(b"v"));

    // More views and blocks at once than the runtime runs concurrently, each 8 frames deep:
    // the extra ones wait for a turn instead of failing for want of an instance.
    std::thread::scope(|scope| {
        for _ in 0..10 {
            scope.spawn(|| {
                for _ in 0..3 {
                    let got = chain.runtime.view(
                        &chain.state,
                        &ctx,
                        contracts[0],
                        "call_view",
                        &view_args,
                    );
                    assert_eq!(got.as_ref(), Ok(&expected));
                }
            });
        }
        for _ in 0..4 {
            scope.spawn(|| {
                let executed = chain.execute(&block);
                assert_success(&executed.receipts[0]);
            });
        }
    });
}
