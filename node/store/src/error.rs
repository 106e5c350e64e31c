use kessai_primitives::{BlockId, Hash};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("state tree: {0:#}")]
    Tree(anyhow::Error),
    #[error("stored {what} does not decode: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("database format {found} is not the format {expected} this build reads")]
    Format { expected: u32, found: u32 },

    #[error("genesis is already committed")]
    GenesisExists,
    #[error("expected height {expected}, got {got}")]
    WrongHeight { expected: u64, got: u64 },
    #[error("state was prepared for version {prepared}, not {expected}")]
    PreparedForOtherVersion { expected: u64, prepared: u64 },
    #[error("header state root {header} does not match the prepared state root {prepared}")]
    StateRootMismatch { header: Hash, prepared: Hash },
    #[error("block {height} names parent {got}, but the block at {} is {expected}", height - 1)]
    WrongParent { height: u64, expected: BlockId, got: BlockId },
    #[error("commit is for height {height} block {block}, not this block")]
    CommitMismatch { height: u64, block: BlockId },
    #[error("receipts do not match the block's transactions: {0}")]
    ReceiptsMismatch(String),
    #[error("flat state key {0} is shorter than its 32-byte namespace")]
    KeyWithoutNamespace(String),
    #[error("block {0} is still being written; one block is committed at a time")]
    WriteInFlight(u64),
    #[error("height {requested} is not committed (latest: {latest:?})")]
    NotCommitted { requested: u64, latest: Option<u64> },
}
