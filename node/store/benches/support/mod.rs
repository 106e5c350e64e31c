//! What the store's benches share: committing a block of writes without consensus.

use kessai_primitives::{Block, Commit, Hash, Header, PublicKey};
use kessai_store::{Store, WriteSet};

/// A block at `height` carrying `root`; the store checks only its linkage, not signatures.
fn block_for(store: &Store, height: u64, root: Hash) -> (Block, Commit) {
    let parent = match height {
        1 => Hash::ZERO,
        h => store.header(h - 1).unwrap().unwrap().id(),
    };
    let header = Header {
        protocol_version: 1,
        chain_id: "bench".into(),
        height,
        time_ms: height,
        parent,
        proposer: PublicKey([0; 32]),
        tx_count: 0,
        txs_root: Block::txs_root(&[]),
        receipts_root: Hash::ZERO,
        state_root: root,
        validators_hash: Hash::ZERO,
        next_validators_hash: Hash::ZERO,
        last_commit_hash: Hash::ZERO,
        evidence_hash: Hash::ZERO,
    };
    let block = Block { header, txs: vec![], last_commit: None, evidence: vec![] };
    let commit = Commit { height, round: 0, block: block.id(), signatures: vec![] };
    (block, commit)
}

/// Commits `writes` as the next version: genesis first, then one block each.
pub(crate) fn commit(store: &Store, writes: &WriteSet) {
    let version = store.latest_height().map_or(0, |h| h + 1);
    let prepared = store.prepare_state(version, writes).unwrap();
    if version == 0 {
        store.commit_genesis(prepared, b"bench").unwrap();
    } else {
        let (block, commit) = block_for(store, version, prepared.root);
        store.commit_block(&block, &commit, &[], prepared).unwrap();
    }
}
