//! Builders of real blocks, commits and receipts for the store's tests.
#![allow(dead_code)] // each test binary uses its own subset

use kessai_primitives::{
    merkle, Address, Block, Commit, Event, Hash, Header, Keypair, Payload, PublicKey, Receipt,
    SignedTransaction, Transaction, TxStatus,
};
use kessai_store::{flat_key, PreparedState, Store, StoreConfig, WriteSet};
use std::path::Path;

pub(crate) const CHAIN: &str = "store-test";

/// Opens without `fsync` per commit: the tests do not simulate power loss, and it keeps them fast.
pub(crate) fn open(path: &Path) -> Store {
    Store::open_with(path, &StoreConfig { sync: false, ..StoreConfig::default() }).unwrap()
}

pub(crate) fn contract(byte: u8) -> Address {
    Address([byte; 32])
}

/// The flat key of `key` in the namespace `[byte; 32]`.
pub(crate) fn key(byte: u8, key: &str) -> Vec<u8> {
    flat_key(&contract(byte), key.as_bytes())
}

pub(crate) fn writes<const N: usize>(entries: [(Vec<u8>, Option<&str>); N]) -> WriteSet {
    entries.into_iter().map(|(k, v)| (k, v.map(|v| v.as_bytes().to_vec()))).collect()
}

pub(crate) fn tx(signer: &str, nonce: u64) -> SignedTransaction {
    let key = Keypair::dev(signer);
    Transaction {
        chain_id: CHAIN.into(),
        signer: key.public(),
        nonce,
        gas_limit: 1_000_000,
        payload: Payload::Call { contract: contract(9), method: "touch".into(), args: vec![] },
    }
    .sign(&key)
}

pub(crate) fn event(contract_byte: u8, topic: &str) -> Event {
    Event {
        contract: contract(contract_byte),
        topic: topic.into(),
        data: topic.as_bytes().to_vec(),
    }
}

pub(crate) fn receipt(tx: &SignedTransaction, events: Vec<Event>) -> Receipt {
    Receipt {
        tx_id: tx.id(),
        status: TxStatus::Success,
        gas_used: 21_000,
        return_data: vec![],
        events,
        created: None,
    }
}

/// A block at `height` on top of what `store` holds, whose header carries `prepared.root`.
pub(crate) fn block(
    store: &Store,
    height: u64,
    txs: Vec<SignedTransaction>,
    receipts: &[Receipt],
    prepared: &PreparedState,
) -> (Block, Commit) {
    let parent = match height {
        0 | 1 => Hash::ZERO,
        h => store.header(h - 1).unwrap().expect("parent header").id(),
    };
    let receipt_bytes: Vec<Vec<u8>> = receipts.iter().map(|r| borsh::to_vec(r).unwrap()).collect();
    let header = Header {
        protocol_version: 1,
        chain_id: CHAIN.into(),
        height,
        time_ms: 1_700_000_000_000 + height,
        parent,
        proposer: PublicKey([1; 32]),
        tx_count: txs.len() as u64,
        txs_root: Block::txs_root(&txs),
        receipts_root: merkle::root(&receipt_bytes),
        state_root: prepared.root,
        validators_hash: Hash::ZERO,
        next_validators_hash: Hash::ZERO,
        last_commit_hash: Hash::ZERO,
        evidence_hash: Block::evidence_hash(&[]),
    };
    let block = Block { header, txs, last_commit: None, evidence: vec![] };
    let commit = Commit { height, round: 0, block: block.id(), signatures: vec![] };
    (block, commit)
}

/// Prepares `writes` and commits them as the next block, with one transaction per entry of
/// `tx_events` (carrying those events). Returns the committed block.
pub(crate) fn commit_next(store: &Store, writes: &WriteSet, tx_events: Vec<Vec<Event>>) -> Block {
    let height = store.latest_height().expect("genesis") + 1;
    let prepared = store.prepare_state(height, writes).unwrap();
    let txs: Vec<_> = (0..tx_events.len()).map(|i| tx("alice", height * 100 + i as u64)).collect();
    let receipts: Vec<_> = txs.iter().zip(tx_events).map(|(t, e)| receipt(t, e)).collect();
    let (block, commit) = block(store, height, txs, &receipts, &prepared);
    store.commit_block(&block, &commit, &receipts, prepared).unwrap();
    block
}

pub(crate) fn commit_genesis(store: &Store, writes: &WriteSet) -> Hash {
    let prepared = store.prepare_state(0, writes).unwrap();
    let root = prepared.root;
    store.commit_genesis(prepared, b"genesis meta").unwrap();
    root
}
