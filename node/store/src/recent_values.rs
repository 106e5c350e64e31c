//! The latest committed values of recently read state keys, in memory.
//!
//! Every transaction reads the same few keys again — its signer's nonce and roles at admission and
//! at execution, the called contract's record, a contract's own configuration — and each read was
//! a RocksDB point lookup: a search of the memtables (large, since every block writes thousands of
//! keys), then of the SST files. On four validators sharing two cores those lookups were about a
//! sixth of a node's CPU in a load of calls that write little (`docs/benchmarks.md`). This cache
//! answers them from memory.
//!
//! **Why a cached value is never stale.** It holds, for a key, the value of the latest committed
//! height ([`crate::Store::get`]'s meaning), `None` for a key that has none.
//!
//! - A block's write updates the entries of the keys it writes ([`RecentValues::committed`])
//!   after its batch has landed and before the store's latest height includes it, under the
//!   commit lock; a state sync empties the cache ([`RecentValues::clear`]). No other code writes
//!   the flat state.
//! - A read that missed the cache reads RocksDB and then offers what it read
//!   ([`RecentValues::insert`]), tagged with the cache's generation when it missed. Every update
//!   or clear bumps the generation, and an offer whose generation is no longer current is dropped:
//!   a read that raced a block's write could have read the value from before the block and must
//!   not put it back after the block updated the cache.
//!
//! **Why it is bounded.** At most [`CAPACITY`] entries of at most [`MAX_VALUE_BYTES`] each (larger
//! values, such as contract code, are read from RocksDB every time), least recently used out first.

use crate::WriteSet;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// Most keys held: the hot keys of a busy chain (nonces of active accounts, roles, contracts'
/// records and settings) are a few thousand.
pub(crate) const CAPACITY: usize = 16_384;
/// Longest value held: 16 MiB at most in all.
pub(crate) const MAX_VALUE_BYTES: usize = 1024;

pub(crate) struct RecentValues {
    inner: Mutex<Recent>,
}

struct Recent {
    /// Bumped by every change of what the latest committed state is.
    generation: u64,
    values: LruCache<Vec<u8>, Option<Vec<u8>>>,
}

/// A miss: the generation to hand back to [`RecentValues::insert`] with the value read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Miss(u64);

impl RecentValues {
    pub(crate) fn new() -> Self {
        let capacity = NonZeroUsize::new(CAPACITY).expect("non-zero");
        RecentValues {
            inner: Mutex::new(Recent { generation: 0, values: LruCache::new(capacity) }),
        }
    }

    /// The latest committed value of `key` (`Ok(None)`: it has none), if cached.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Miss> {
        let mut recent = self.lock();
        let generation = recent.generation;
        recent.values.get(key).cloned().ok_or(Miss(generation))
    }

    /// Offers `value`, read from the database after `miss`; kept only if nothing was committed
    /// since.
    pub(crate) fn insert(&self, key: &[u8], value: &Option<Vec<u8>>, miss: Miss) {
        if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return;
        }
        let mut recent = self.lock();
        if recent.generation == miss.0 {
            recent.values.put(key.to_vec(), value.clone());
        }
    }

    /// A block's `writes` are committed: the cached keys among them take their new values.
    pub(crate) fn committed(&self, writes: &WriteSet) {
        let mut recent = self.lock();
        recent.generation += 1;
        for (key, value) in writes {
            let Some(cached) = recent.values.peek_mut(key.as_slice()) else { continue };
            match value {
                Some(v) if v.len() > MAX_VALUE_BYTES => {
                    recent.values.pop(key.as_slice());
                }
                _ => *cached = value.clone(),
            }
        }
    }

    /// Forgets everything (the flat state was written some other way: a state sync).
    pub(crate) fn clear(&self) {
        let mut recent = self.lock();
        recent.generation += 1;
        recent.values.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(entries: &[(&[u8], Option<&[u8]>)]) -> WriteSet {
        entries.iter().map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))).collect()
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_cached() {
        let recent = RecentValues::new();
        let miss = recent.get(b"k").expect_err("empty");
        // A block writes k between the read's miss and its offer of the value from before.
        recent.committed(&writes(&[(b"k", Some(b"new"))]));
        recent.insert(b"k", &Some(b"old".to_vec()), miss);
        assert!(recent.get(b"k").is_err(), "the stale value was cached");
    }

    #[test]
    fn a_commit_updates_and_deletes_cached_keys() {
        let recent = RecentValues::new();
        for key in [&b"a"[..], b"b", b"c"] {
            let miss = recent.get(key).expect_err("empty");
            recent.insert(key, &Some(b"v0".to_vec()), miss);
        }
        let big = vec![7; MAX_VALUE_BYTES + 1];
        recent.committed(&writes(&[(b"a", Some(b"v1")), (b"b", None), (b"c", Some(&big))]));
        assert_eq!(recent.get(b"a").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(recent.get(b"b").unwrap(), None);
        assert!(recent.get(b"c").is_err(), "a value too large to hold stays out");
        recent.clear();
        assert!(recent.get(b"a").is_err());
    }
}
