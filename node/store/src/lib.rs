//! RocksDB storage: blocks, commits, receipts, and the authenticated state (Jellyfish Merkle tree).
//!
//! # Layout
//!
//! One RocksDB database, one column family per concern (heights and indices big-endian, values
//! borsh):
//!
//! | family | key | value |
//! |---|---|---|
//! | `headers` | height | `Header` |
//! | `blocks` | height | `Block` |
//! | `commits` | height | `Commit` |
//! | `receipts` | height | `Vec<Receipt>` |
//! | `tx_index` | tx id | `(height u64, index u32)` |
//! | `events` | contract ‖ height ‖ tx index u32 ‖ event index u32 | `(tx id, Event)` |
//! | `state` | flat key | value: the latest state, for reads and prefix iteration |
//! | `jmt_nodes` | version ‖ borsh(nibble path) | jmt `Node` |
//! | `jmt_values` | blake3(flat key) ‖ version | `Option<value>`: every key's history |
//! | `jmt_stale` | stale-since version ‖ kind ‖ node key or key hash | what the version made stale (state pruning on only) |
//! | `jmt_preimages` | blake3(flat key) | flat key (for snapshots; pruned with the key's last deletion) |
//! | `meta` | `latest_height`, `genesis`, `format`, `earliest_state_height`, `earliest_block_height`, `preimages`, `restoring` | |
//!
//! # State
//!
//! A flat key is `namespace (32 bytes) ‖ key` (`docs/contract-abi.md`). The Jellyfish Merkle tree
//! (crate `jmt`, blake3, leaves at `blake3(flat key)`) authenticates the whole key space; its
//! version is the block height, genesis is version 0, and its root is the header's `state_root`.
//!
//! A block is committed in two steps. [`Store::prepare_state`] turns the block's [`WriteSet`] into a
//! [`PreparedState`] — the new root and the tree update — without writing anything, so a proposer
//! can put the root in its header and a validator can check a proposal's. Once the block is final,
//! [`Store::commit_block`] writes the block, its commit, its receipts, the indices, the flat state
//! and the tree update in **one atomic write batch**, with the WAL on and (by default) `fsync`ed: see
//! [`StoreConfig::sync`].
//!
//! [`Store::commit_block`] is itself two steps, so that a node can write block `n` while it
//! executes block `n + 1`: [`Store::begin_commit`] checks the block and makes it the **tip** — the
//! `tip_*` reads and [`Store::prepare_state`] read through its write set and tree nodes — and the
//! returned [`BlockWrite`] writes it, on any thread. Until it is written, [`Store::latest_height`]
//! and every other read (RPC's view) stay at the block below. One block is in flight at a time.
//!
//! Proofs ([`StateProof`]) are checked with `kessai_primitives::state_proof`, which needs no
//! database: the light client uses the same code.
//!
//! # Durability
//!
//! Every commit is one `WriteBatch` with the write-ahead log on: a process killed at any point
//! (`kill -9`) reopens at the last whole block (`tests/crash.rs` does exactly that). With
//! [`StoreConfig::sync`] (the default) the WAL is also `fsync`ed before `commit_block` returns, so
//! the block survives a power loss too; turning it off trades that for one `fsync` less per block.
//!
//! # Pruning
//!
//! By default (archive) every height stays readable and nothing is deleted. [`PruningConfig`]
//! keeps the latest `state_keep_recent` heights of state and `blocks_keep_recent` heights of
//! blocks; a [`Pruner`], run off the commit path, deletes the rest in bounded atomic batches and
//! compacts the pruned ranges so that RocksDB gives the space back:
//!
//! - **State**: with state pruning on, each commit also writes to `jmt_stale` what its version
//!   makes stale: the tree nodes jmt reports (`TreeUpdateBatch::stale_node_index_batch`), the
//!   previous root (which jmt does not report when a version changes nothing), and for each key
//!   written, its older value versions (and the value itself when it is a deletion). Value
//!   deletions are never derived from stale leaves: jmt re-creates a leaf at a new version when
//!   the tree restructures around it while the value stays at the version it was written.
//!   When the pruner deletes a key's deletion (the last of its history, the key written no
//!   more since), it deletes the key's preimage in `jmt_preimages` too, so that keys created and
//!   deleted all the time do not leave their flat keys behind
//!   (`docs/decisions/0026-pruning-forgets-deleted-keys.md`).
//! - **Blocks**: blocks, receipts, `tx_index` and `events` entries (keys read from the receipts
//!   before they go). **Headers and commits are kept at every height**: they are small, the light
//!   client verifies from them, and sync serves them.
//!
//! Each batch records the new [`Store::earliest_state_height`] / [`Store::earliest_block_height`]
//! in `meta` with its deletes, so a process killed while pruning reopens consistent. A read
//! below them fails with [`StoreError::Pruned`] ("pruned: the earliest state kept is height H"),
//! never with a wrong answer: the bar is raised before a batch is written and checked again
//! after each read. Adding `jmt_stale` did not change [`keys`]' format version: an older
//! database opens as is (`docs/decisions/0013-pruning.md`).
//!
//! # Backups
//!
//! [`Store::checkpoint`] copies the open database (RocksDB's checkpoint) without stopping
//! commits; the node's `kessai_admin_backup` and `kessai db backup` use it.
//!
//! # Snapshots and state sync
//!
//! Every commit also records, in `jmt_preimages`, the flat key of each key hash it writes (a
//! database from before is filled in from its flat state when it is opened). With them,
//! [`Store::snapshot_chunk`] serves the state of any kept height as chunks of `(flat key, value)`
//! in key-hash order with a range proof, and [`StateRestore`] rebuilds an empty store from such
//! chunks with jmt's restore, verifying each against a trusted state root (`snapshot.rs`). The
//! restored store's latest height is the snapshot's: its header and commit are there, no block
//! below it (`earliest_block_height` = H + 1, `earliest_state_height` = H).

mod error;
mod keys;
mod prune;
mod recent_values;
mod snapshot;
mod store;
mod tree;
mod upper_nodes;

pub use error::StoreError;
pub use kessai_primitives::state_proof::{
    flat_key, key_hash, Blake3Hasher, ProofError, StateProof, EMPTY_STATE_ROOT,
};
pub use prune::{PruneReport, Pruner, PruningConfig};
pub use snapshot::{ChunkError, SnapshotChunk, StateRestore, MAX_CHUNK_BYTES};
pub use store::{BlockWrite, IndexedEvent, Store, StoreConfig};
pub use tree::PreparedState;
pub use upper_nodes::DEFAULT_TREE_CACHE_DEPTH;

/// The layout version of the databases this build writes and reads (`meta`'s `format`); a
/// backup records it (`kessai db backup`).
pub const FORMAT_VERSION: u32 = keys::FORMAT_VERSION;

/// A flat key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The state changes of one block (or of genesis): flat key → new value, or `None` to delete it.
pub use kessai_state::WriteSet;
