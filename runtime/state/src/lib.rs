//! The chain's state as every layer sees it, without the wasm VM: how a key is laid out
//! ([`system`] for the chain's own keys, [`flat_key`] for a contract's), how a value is read
//! ([`StateView`]) and how a block's changes are handed over ([`WriteSet`]).
//!
//! The runtime executes over a [`StateView`] and returns a [`WriteSet`]; the store commits it and
//! implements [`StateView`] over RocksDB; clients and the light client name keys with [`system`]
//! and [`flat_key`]. See `docs/contract-abi.md`, "Addresses and state layout".

pub mod system;

use std::collections::BTreeMap;
use std::ops::Bound;

pub use kessai_primitives::state_proof::flat_key;

/// Read access to a committed state, by flat key (namespace(32) ‖ key; see [`flat_key`]).
pub trait StateView: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Smallest key ≥ from that starts with prefix.
    fn next_from(&self, prefix: &[u8], from: &[u8]) -> Result<Option<Entry>, StateError>;
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Flat key → new value, or `None` for a deletion.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The state behind a [`StateView`] could not be read (I/O error, corrupt value). Never the
/// outcome of a contract: execution stops and the caller gets it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// A state with nothing in it: what genesis builds on.
pub struct EmptyState;

impl StateView for EmptyState {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(None)
    }

    fn next_from(&self, _prefix: &[u8], _from: &[u8]) -> Result<Option<Entry>, StateError> {
        Ok(None)
    }
}

/// A committed state held in memory: what tests, benchmarks and a re-executing auditor run the
/// runtime over when there is no store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl MemoryState {
    /// Applies a block's writes (a `None` value deletes the key).
    pub fn apply(&mut self, writes: &WriteSet) {
        for (key, value) in writes {
            match value {
                Some(value) => self.0.insert(key.clone(), value.clone()),
                None => self.0.remove(key),
            };
        }
    }
}

impl StateView for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get(key).cloned())
    }

    fn next_from(&self, prefix: &[u8], from: &[u8]) -> Result<Option<Entry>, StateError> {
        Ok(self
            .0
            .range::<[u8], _>((Bound::Included(from.max(prefix)), Bound::Unbounded))
            .next()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}
