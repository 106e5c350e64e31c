//! Bad input at the node's door: every case gets a clear error, and nothing already stored is lost.

use kessai_primitives::{
    Address, GovernanceAction, Keypair, Payload, SignedTransaction, Transaction, TxStatus,
};
use kessai_tests::{next_nonce, submit_batch, submit_raw, wait_receipt, TestNode};
use serde_json::json;

const CHAIN: &str = "kessai-dev";

fn call_tx(key: &Keypair, nonce: u64) -> Transaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: key.public(),
        nonce,
        gas_limit: 10_000_000,
        payload: Payload::Governance(GovernanceAction::GrantRole {
            key: Keypair::dev("dave").public(),
            role: kessai_primitives::Role::Deployer,
        }),
    }
}

fn bytes(tx: &SignedTransaction) -> Vec<u8> {
    borsh::to_vec(tx).unwrap()
}

#[test]
fn transactions_are_refused_with_the_reason() {
    let node = TestNode::dev();
    let alice = Keypair::dev("alice");
    let nonce = next_nonce(&node.rpc, &alice);

    // Malformed bytes.
    let err = submit_raw(&node.rpc, &[1, 2, 3]).unwrap_err();
    assert!(err.contains("not a valid borsh-encoded signed transaction"), "{err}");
    // Oversize.
    let err = submit_raw(&node.rpc, &vec![0u8; kessai_primitives::MAX_TX_BYTES + 1]).unwrap_err();
    assert!(err.contains("limit"), "{err}");
    // Bad signature: signed by bob, claims alice.
    let mut forged = call_tx(&alice, nonce).sign(&Keypair::dev("bob"));
    forged.tx.signer = alice.public();
    let err = submit_raw(&node.rpc, &bytes(&forged)).unwrap_err();
    assert!(err.contains("signature does not verify"), "{err}");
    // Wrong chain id.
    let mut other = call_tx(&alice, nonce);
    other.chain_id = "other-chain".into();
    let err = submit_raw(&node.rpc, &bytes(&other.sign(&alice))).unwrap_err();
    assert!(err.contains("other-chain"), "{err}");
    // Unknown key.
    let mallory = Keypair::dev("mallory");
    let err = submit_raw(&node.rpc, &bytes(&call_tx(&mallory, 0).sign(&mallory))).unwrap_err();
    assert!(err.contains("not a member"), "{err}");
    // Skipped nonce.
    let err = submit_raw(&node.rpc, &bytes(&call_tx(&alice, nonce + 5).sign(&alice))).unwrap_err();
    assert!(err.contains("skips ahead"), "{err}");
    // A good one, then its replay.
    let good = call_tx(&alice, nonce).sign(&alice);
    let id = submit_raw(&node.rpc, &bytes(&good)).unwrap();
    assert_eq!(wait_receipt(&node.rpc, id).status, TxStatus::Success);
    let err = submit_raw(&node.rpc, &bytes(&good)).unwrap_err();
    assert!(err.contains("already used"), "{err}");
    // The node is still fine and committed the good one.
    assert!(node.height() >= 1);
}

/// `kessai_submitTxs` checks a batch's signatures together: each bad transaction still gets its
/// own reason, and the good ones around it are admitted and committed.
#[test]
fn a_batch_refuses_each_bad_transaction_and_admits_the_rest() {
    let node = TestNode::dev();
    let alice = Keypair::dev("alice");
    let nonce = next_nonce(&node.rpc, &alice);
    let mut forged = call_tx(&alice, nonce + 1).sign(&Keypair::dev("bob"));
    forged.tx.signer = alice.public();
    let mut other_chain = call_tx(&alice, nonce + 1);
    other_chain.chain_id = "other-chain".into();
    let batch = [
        bytes(&call_tx(&alice, nonce).sign(&alice)),
        bytes(&forged),
        vec![1, 2, 3],
        bytes(&other_chain.sign(&alice)),
        bytes(&call_tx(&alice, nonce + 1).sign(&alice)),
        bytes(&call_tx(&alice, nonce + 2).sign(&alice)),
    ];
    let outcomes = submit_batch(&node.rpc, &batch);
    assert_eq!(outcomes.len(), batch.len());
    let reason = |i: usize| outcomes[i].clone().unwrap_err();
    assert!(reason(1).contains("signature does not verify"), "{}", reason(1));
    assert!(reason(2).contains("not a valid borsh-encoded signed transaction"), "{}", reason(2));
    assert!(reason(3).contains("other-chain"), "{}", reason(3));
    for i in [0, 4, 5] {
        let id = outcomes[i].clone().unwrap_or_else(|e| panic!("transaction {i} refused: {e}"));
        assert_eq!(wait_receipt(&node.rpc, id).status, TxStatus::Success);
    }
    assert_eq!(next_nonce(&node.rpc, &alice), nonce + 3);
}

fn with_abi(wat_text: &str, abi: serde_json::Value) -> Vec<u8> {
    let mut module = wat::parse_str(wat_text).unwrap();
    // A custom section: id 0, size, name, payload.
    let name = b"kessai:abi";
    let payload = abi.to_string().into_bytes();
    let mut body = Vec::new();
    leb(&mut body, name.len() as u64);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    module.push(0);
    leb(&mut module, body.len() as u64);
    module.extend_from_slice(&body);
    module
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Deploys and instantiates `code` as alice; returns the contract address.
fn deploy(node: &TestNode, code: Vec<u8>) -> Result<Address, String> {
    let alice = Keypair::dev("alice");
    let nonce = next_nonce(&node.rpc, &alice);
    let code_hash = kessai_primitives::Hash::digest(&code);
    let deploy = Transaction {
        chain_id: CHAIN.into(),
        signer: alice.public(),
        nonce,
        gas_limit: 90_000_000,
        payload: Payload::Deploy { code },
    };
    let id = submit_raw(&node.rpc, &bytes(&deploy.sign(&alice)))?;
    let receipt = wait_receipt(&node.rpc, id);
    if let TxStatus::Failed { reason } = receipt.status {
        return Err(reason);
    }
    let inst = Transaction {
        chain_id: CHAIN.into(),
        signer: alice.public(),
        nonce: nonce + 1,
        gas_limit: 10_000_000,
        payload: Payload::Instantiate { code_hash, args: vec![] },
    };
    let receipt = wait_receipt(&node.rpc, submit_raw(&node.rpc, &bytes(&inst.sign(&alice)))?);
    match receipt.status {
        TxStatus::Success => Ok(receipt.created.expect("address")),
        TxStatus::Failed { reason } => Err(reason),
    }
}

fn call(node: &TestNode, contract: Address, method: &str) -> TxStatus {
    let bob = Keypair::dev("bob");
    let tx = Transaction {
        chain_id: CHAIN.into(),
        signer: bob.public(),
        nonce: next_nonce(&node.rpc, &bob),
        gas_limit: 5_000_000,
        payload: Payload::Call { contract, method: method.into(), args: vec![] },
    };
    wait_receipt(&node.rpc, submit_raw(&node.rpc, &bytes(&tx.sign(&bob))).unwrap()).status
}

#[test]
fn hostile_wasm_fails_its_own_transaction_never_the_node() {
    let node = TestNode::dev();
    let abi = |methods: &[&str]| json!({"name": "hostile", "version": "0.1.0", "methods": methods.iter().map(|m| json!({"name": m, "kind": "call"})).collect::<Vec<_>>()});

    // Not wasm at all.
    let err = deploy(&node, b"\0asm-but-not-really".to_vec()).unwrap_err();
    assert!(!err.is_empty());
    // A forbidden import.
    let err = deploy(&node, with_abi(r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1) (func (export "run")))"#, abi(&["run"]))).unwrap_err();
    assert!(err.contains("import"), "{err}");
    // An interface method that is not exported.
    let err = deploy(&node, with_abi(r#"(module (memory (export "memory") 1))"#, abi(&["run"])))
        .unwrap_err();
    assert!(err.contains("run"), "{err}");

    // Loops forever: out of gas.
    let looping = deploy(
        &node,
        with_abi(
            r#"(module (memory (export "memory") 1) (func (export "run") (loop (br 0))))"#,
            abi(&["run"]),
        ),
    )
    .unwrap();
    match call(&node, looping, "run") {
        TxStatus::Failed { reason } => assert!(reason.contains("out of gas"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Grows memory until refused: fails cleanly.
    let bomb = deploy(&node, with_abi(r#"(module (memory (export "memory") 1) (func (export "run") (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable))"#, abi(&["run"]))).unwrap();
    match call(&node, bomb, "run") {
        TxStatus::Failed { reason } => assert!(!reason.is_empty()),
        other => panic!("{other:?}"),
    }
    // A missing method.
    match call(&node, looping, "nope") {
        TxStatus::Failed { reason } => assert!(reason.contains("nope"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The node keeps committing blocks.
    let h = node.height();
    node.wait_height(h + 2, std::time::Duration::from_secs(30)).unwrap();
}
