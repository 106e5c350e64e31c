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
//! | `meta` | `latest_height`, `genesis`, `format` | |
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
//! # Not done yet
//!
//! - **Pruning.** Every height stays readable (`get_with_proof`, `get_at`, `state_root`) and every
//!   tree node and value version is kept forever. jmt reports the nodes each version makes stale
//!   (`TreeUpdateBatch::stale_node_index_batch`); a pruner would store them (a `jmt_stale` family
//!   keyed by version) and range-delete `jmt_nodes` / `jmt_values` below a retention height. Nodes
//!   are keyed version-first so that this is cheap.
//! - **State sync / restore** (jmt's `get_rightmost_leaf`, `HasPreimage`): not implemented; a node
//!   joins by replaying blocks.

mod error;
mod keys;
mod store;
mod tree;

pub use error::StoreError;
pub use kessai_primitives::state_proof::{
    flat_key, key_hash, Blake3Hasher, ProofError, StateProof, EMPTY_STATE_ROOT,
};
pub use store::{BlockWrite, Store, StoreConfig};
pub use tree::PreparedState;

/// A flat key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The state changes of one block (or of genesis): flat key → new value, or `None` to delete it.
pub use kessai_state::WriteSet;
