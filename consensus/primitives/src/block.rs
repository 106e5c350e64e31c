//! Blocks and their headers.
//!
//! Execution is immediate: the header of block `h` commits to the state *after* its transactions ran
//! (`state_root`) and to their receipts (`receipts_root`). A commit for `h` therefore lets a light
//! client check any state value or receipt of block `h` with that one header.

use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::merkle;
use crate::receipt::Receipt;
use crate::tx::SignedTransaction;
use crate::vote::{Commit, Evidence};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The hash of a block's header, which names the block.
pub type BlockId = Hash;

/// What validators sign (through the block id) and light clients verify: a block's place in the
/// chain and the roots of everything it commits to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Header {
    /// The rules the block follows ([`crate::protocol`]): the chain's genesis version until a
    /// scheduled upgrade's height, that upgrade's version from there.
    pub protocol_version: u32,
    /// The chain the block belongs to.
    pub chain_id: String,
    /// The block's height (genesis is 0, the first block 1).
    pub height: u64,
    /// Block time in milliseconds since the Unix epoch; contracts see it as "now". Strictly
    /// increasing from block to block.
    pub time_ms: u64,
    /// Id of the block at `height - 1` (zero for the first block after genesis' parent).
    pub parent: BlockId,
    /// The validator that proposed the block.
    pub proposer: PublicKey,
    /// Number of transactions in the block (and of receipts): with it, an inclusion proof under
    /// `txs_root` or `receipts_root` authenticates the leaf's position and the list's length.
    pub tx_count: u64,
    /// Merkle root ([`merkle::root`]) of the borsh-encoded signed transactions.
    pub txs_root: Hash,
    /// Merkle root of the borsh-encoded receipts, in transaction order.
    pub receipts_root: Hash,
    /// Root of the authenticated state after this block's transactions.
    pub state_root: Hash,
    /// Hash of the validator set that signs this block's commit.
    pub validators_hash: Hash,
    /// Hash of the validator set that signs the next block's commit.
    pub next_validators_hash: Hash,
    /// Hash of the commit for the parent block carried in this block.
    pub last_commit_hash: Hash,
    /// Hash of the evidence the block carries ([`Block::evidence_hash`]).
    pub evidence_hash: Hash,
}

impl Header {
    /// The block's id: blake3 of borsh of the header.
    pub fn id(&self) -> BlockId {
        Hash::of(self)
    }
}

/// A header and the body its roots commit to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The signed transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
    /// The commit that finalised the parent block (none for height 1).
    pub last_commit: Option<Commit>,
    /// Evidence of validator misbehaviour, committed by this block.
    pub evidence: Vec<Evidence>,
}

/// A header root that does not match the block's body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockShapeError {
    /// `txs_root` is not the root of `txs`.
    #[error("txs_root does not match the block's transactions")]
    TxsRoot,
    /// `tx_count` is not the number of `txs`.
    #[error("tx_count {claimed} but the block carries {actual} transactions")]
    TxCount {
        /// The header's.
        claimed: u64,
        /// The body's.
        actual: u64,
    },
    /// `last_commit_hash` is not the hash of `last_commit`.
    #[error("last_commit_hash does not match the block's last commit")]
    LastCommit,
    /// `evidence_hash` is not the hash of `evidence`.
    #[error("evidence_hash does not match the block's evidence")]
    Evidence,
}

impl Block {
    /// The block's id: its header's.
    pub fn id(&self) -> BlockId {
        self.header.id()
    }

    /// The block's height: its header's.
    pub fn height(&self) -> u64 {
        self.header.height
    }

    /// Merkle root of `txs` (leaf: borsh of the signed transaction): what the header's `txs_root`
    /// commits to.
    pub fn txs_root(txs: &[SignedTransaction]) -> Hash {
        let leaves: Vec<Hash> =
            txs.iter().map(|tx| merkle::leaf_hash(&borsh::to_vec(tx).expect("encodes"))).collect();
        merkle::root_of_leaf_hashes(&leaves)
    }

    /// Root of the block's receipts, in transaction order (leaf: borsh of the receipt): what the
    /// header's `receipts_root` commits to, and what a receipt's inclusion proof leads to.
    pub fn receipts_root(receipts: &[Receipt]) -> Hash {
        let leaves: Vec<Hash> = receipts
            .iter()
            .map(|r| merkle::leaf_hash(&borsh::to_vec(r).expect("encodes")))
            .collect();
        merkle::root_of_leaf_hashes(&leaves)
    }

    /// blake3 of borsh of the optional last commit: what the header's `last_commit_hash` commits to.
    pub fn last_commit_hash(commit: &Option<Commit>) -> Hash {
        Hash::of(commit)
    }

    /// blake3 of borsh of the evidence list: what the header's `evidence_hash` commits to.
    pub fn evidence_hash(evidence: &[Evidence]) -> Hash {
        Hash::of(evidence)
    }

    /// Checks that the header's roots match the body it came with.
    pub fn check_shape(&self) -> Result<(), BlockShapeError> {
        if self.header.txs_root != Block::txs_root(&self.txs) {
            return Err(BlockShapeError::TxsRoot);
        }
        if self.header.tx_count != self.txs.len() as u64 {
            return Err(BlockShapeError::TxCount {
                claimed: self.header.tx_count,
                actual: self.txs.len() as u64,
            });
        }
        if self.header.last_commit_hash != Block::last_commit_hash(&self.last_commit) {
            return Err(BlockShapeError::LastCommit);
        }
        if self.header.evidence_hash != Block::evidence_hash(&self.evidence) {
            return Err(BlockShapeError::Evidence);
        }
        Ok(())
    }
}
