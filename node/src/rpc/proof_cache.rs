//! The last few blocks as `kessai_tx` needs them: a transaction's inclusion proofs need the Merkle
//! trees of every transaction and receipt of its block, and clients (relayers, load generators,
//! light clients) ask about many transactions of the same recent blocks. Hashing a 10,000-transaction
//! block for each question would cost milliseconds each time; this keeps the trees of the most
//! recently asked blocks (every complete subtree's root), so a proof costs a few dozen hashes.

use kessai_primitives::merkle::{self, MerkleTree};
use kessai_primitives::{Block, Receipt};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// Blocks kept. Each holds its transactions, receipts and two trees of about 2n hashes.
const CACHED_BLOCKS: usize = 8;

/// One block with the Merkle trees of its transaction and receipt lists.
pub struct BlockTrees {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    pub tx_tree: MerkleTree,
    pub receipt_tree: MerkleTree,
}

impl BlockTrees {
    pub fn new(block: Block, receipts: Vec<Receipt>) -> BlockTrees {
        let leaf = |bytes: Vec<u8>| merkle::leaf_hash(&bytes);
        let tx_tree = MerkleTree::new(
            block.txs.iter().map(|t| leaf(borsh::to_vec(t).expect("encodes"))).collect(),
        );
        let receipt_tree = MerkleTree::new(
            receipts.iter().map(|r| leaf(borsh::to_vec(r).expect("encodes"))).collect(),
        );
        BlockTrees { block, receipts, tx_tree, receipt_tree }
    }
}

/// A few recently used per-height values (here: [`BlockTrees`]).
pub struct ProofCache<T = BlockTrees> {
    /// Most recently used last.
    blocks: Mutex<VecDeque<(u64, Arc<T>)>>,
}

impl<T> Default for ProofCache<T> {
    fn default() -> Self {
        ProofCache { blocks: Mutex::new(VecDeque::new()) }
    }
}

impl<T> ProofCache<T> {
    /// The value for block `height`, computed by `load` on a miss. Committed blocks never change,
    /// so an entry is valid for as long as it is kept.
    pub fn get_or_load<E>(
        &self,
        height: u64,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(hit) = self.take(height) {
            return Ok(hit);
        }
        let loaded = Arc::new(load()?);
        let mut blocks = self.blocks.lock();
        blocks.retain(|(h, _)| *h != height);
        blocks.push_back((height, loaded.clone()));
        if blocks.len() > CACHED_BLOCKS {
            blocks.pop_front();
        }
        Ok(loaded)
    }

    fn take(&self, height: u64) -> Option<Arc<T>> {
        let mut blocks = self.blocks.lock();
        let position = blocks.iter().position(|(h, _)| *h == height)?;
        let entry = blocks.remove(position).expect("position is in range");
        let trees = entry.1.clone();
        blocks.push_back(entry);
        Some(trees)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_and_keeps_the_most_recent_blocks() {
        let cache = ProofCache::<u64>::default();
        let mut loads = 0;
        for height in [1, 1, 2, 1] {
            cache
                .get_or_load(height, || {
                    loads += 1;
                    Ok::<_, ()>(height)
                })
                .unwrap();
        }
        assert_eq!(loads, 2);
        for height in 2..=(CACHED_BLOCKS as u64 + 1) {
            cache.get_or_load(height, || Ok::<_, ()>(height)).unwrap();
        }
        // Block 1 was the least recently used and has been dropped.
        let reloaded = std::cell::Cell::new(false);
        cache
            .get_or_load(1, || {
                reloaded.set(true);
                Ok::<_, ()>(1)
            })
            .unwrap();
        assert!(reloaded.get());
    }
}
