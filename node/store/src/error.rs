use kessai_primitives::{BlockId, Hash};

/// Why the store failed or refused an operation. The first four are faults of the database; the
/// rest are misuse by the caller (a block or state that does not follow the committed chain).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error (I/O, corruption it detected itself).
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    /// The Jellyfish Merkle tree failed (a node it needs is missing or unreadable).
    #[error("state tree: {0:#}")]
    Tree(anyhow::Error),
    /// A stored value does not decode as what it should be.
    #[error("stored {what} does not decode: {reason}")]
    Corrupt {
        /// What was read (`"header"`, `"receipts"`, …).
        what: &'static str,
        /// Why it does not decode.
        reason: String,
    },
    /// The database was written with another layout version (0: none recorded).
    #[error(
        "database format {found} is not the format {expected} this build reads; a node never \
         converts a database on start: run `kessai db migrate --home HOME` (it says whether and \
         how this one can be moved to format {expected})"
    )]
    Format {
        /// The layout version this build reads.
        expected: u32,
        /// The version recorded in the database.
        found: u32,
    },

    /// Genesis was committed to a store that already has it.
    #[error("genesis is already committed")]
    GenesisExists,
    /// A block or state is not for the height after the latest committed one.
    #[error("expected height {expected}, got {got}")]
    WrongHeight {
        /// The height the store can commit next.
        expected: u64,
        /// The height offered.
        got: u64,
    },
    /// A [`PreparedState`](crate::PreparedState) was offered with a block of another height.
    #[error("state was prepared for version {prepared}, not {expected}")]
    PreparedForOtherVersion {
        /// Height of the block being committed.
        expected: u64,
        /// Version the state was prepared for.
        prepared: u64,
    },
    /// The block's header claims a state root other than the one its writes produce.
    #[error("header state root {header} does not match the prepared state root {prepared}")]
    StateRootMismatch {
        /// The root in the block's header.
        header: Hash,
        /// The root computed from the prepared writes.
        prepared: Hash,
    },
    /// The block's parent is not the committed block below it.
    #[error("block {height} names parent {got}, but the block at {} is {expected}", height - 1)]
    WrongParent {
        /// Height of the block being committed.
        height: u64,
        /// Id of the committed block at `height - 1`.
        expected: BlockId,
        /// The parent id the block's header names.
        got: BlockId,
    },
    /// The commit offered with a block is for another height or block.
    #[error("commit is for height {height} block {block}, not this block")]
    CommitMismatch {
        /// The height the commit is for.
        height: u64,
        /// The block the commit is for.
        block: BlockId,
    },
    /// The receipts are not one per transaction, in the block's order.
    #[error("receipts do not match the block's transactions: {0}")]
    ReceiptsMismatch(String),
    /// A write-set key (hex) is shorter than the 32-byte namespace every flat key starts with.
    #[error("flat state key {0} is shorter than its 32-byte namespace")]
    KeyWithoutNamespace(String),
    /// A block (this height) is still between [`Store::begin_commit`](crate::Store::begin_commit)
    /// and its write.
    #[error("block {0} is still being written; one block is committed at a time")]
    WriteInFlight(u64),
    /// A read below what pruning keeps: the state (tree nodes, value history) or the block data
    /// (blocks, receipts, indices) of that height was deleted. Headers and commits are never
    /// pruned.
    #[error("pruned: the earliest {what} kept is height {earliest}")]
    Pruned {
        /// `"state"` or `"block"`.
        what: &'static str,
        /// The lowest height still kept.
        earliest: u64,
    },
    /// A read at a height above the latest committed one (or before genesis is committed).
    #[error("height {requested} is not committed (latest: {latest:?})")]
    NotCommitted {
        /// The height asked for.
        requested: u64,
        /// The latest committed height; `None` before genesis.
        latest: Option<u64>,
    },
}
