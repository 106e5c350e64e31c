//! Reading the committed state and layering uncommitted writes over it.
//!
//! A block executes over an [`Overlay`]: the committed state below, the writes of the block's
//! earlier transactions above it, and the writes of the running transaction on top. Reads see the
//! top-most layer that has the key; a transaction that fails drops only its own layer.

use crate::StateError;

use std::ops::Bound;

pub use kessai_state::{EmptyState, Entry, StateView, WriteSet};

/// The committed state an execution reads, with the borrow's lifetime erased.
///
/// Wasmtime requires a store's data to be `'static`, and the host functions inside the store must
/// read the caller's `&dyn StateView`. This is the one place that lifetime is erased. It is sound
/// because a `BaseState` is only created by [`BaseState::scoped`], which hands it to a closure and
/// only returns after that closure has returned: every overlay, world and store holding a copy is
/// a local of that closure (the crate never stores one anywhere else), so none outlives the borrow.
#[derive(Clone, Copy)]
pub(crate) struct BaseState(&'static dyn StateView);

impl BaseState {
    pub(crate) fn scoped<R>(state: &dyn StateView, run: impl FnOnce(BaseState) -> R) -> R {
        // SAFETY: see the type's documentation: `run` returns before `state`'s borrow ends, and no
        // copy of the BaseState escapes it.
        let erased: &'static dyn StateView =
            unsafe { std::mem::transmute::<&dyn StateView, &'static dyn StateView>(state) };
        run(BaseState(erased))
    }
}

/// Writes of a block and of its running transaction over the committed state.
pub(crate) struct Overlay {
    base: BaseState,
    block: WriteSet,
    tx: WriteSet,
}

impl Overlay {
    pub(crate) fn new(base: BaseState) -> Overlay {
        Overlay { base, block: WriteSet::new(), tx: WriteSet::new() }
    }

    pub(crate) fn base(&self) -> BaseState {
        self.base
    }

    pub(crate) fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tx.insert(key, Some(value));
    }

    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.tx.insert(key, None);
    }

    /// Keeps the running transaction's writes.
    pub(crate) fn commit_tx(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.block.extend(tx);
    }

    /// Drops the running transaction's writes.
    pub(crate) fn discard_tx(&mut self) {
        self.tx.clear();
    }

    /// The block's writes (the running transaction's must have been committed or discarded).
    pub(crate) fn into_writes(self) -> WriteSet {
        debug_assert!(self.tx.is_empty(), "a transaction is still running");
        self.block
    }

    fn layers(&self) -> [&WriteSet; 2] {
        [&self.tx, &self.block]
    }
}

impl StateView for Overlay {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        for layer in self.layers() {
            if let Some(value) = layer.get(key) {
                return Ok(value.clone());
            }
        }
        self.base.0.get(key)
    }

    fn next_from(&self, prefix: &[u8], from: &[u8]) -> Result<Option<Entry>, StateError> {
        let mut cursor = from.max(prefix).to_vec();
        let mut base_hit: Option<Entry> = None;
        loop {
            // The committed state's next entry, fetched again only once the cursor passed it.
            if base_hit.as_ref().is_none_or(|(key, _)| key.as_slice() < cursor.as_slice()) {
                base_hit = self.base.0.next_from(prefix, &cursor)?;
            }
            // The overlays' next entry (a deletion included); the upper layer wins a tie.
            let mut top: Option<(&Vec<u8>, &Option<Vec<u8>>)> = None;
            for layer in self.layers() {
                let next = layer
                    .range::<[u8], _>((Bound::Included(cursor.as_slice()), Bound::Unbounded))
                    .next()
                    .filter(|(key, _)| key.starts_with(prefix));
                if let Some((key, value)) = next {
                    if top.is_none_or(|(best, _)| key < best) {
                        top = Some((key, value));
                    }
                }
            }
            match (top, &base_hit) {
                (None, _) => return Ok(base_hit),
                (Some((key, _)), Some((base_key, _))) if base_key < key => return Ok(base_hit),
                (Some((key, Some(value))), _) => return Ok(Some((key.clone(), value.clone()))),
                // Deleted above: whatever the committed state has there is gone; look further.
                (Some((key, None)), _) => cursor = crate::system::successor(key.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use kessai_state::MemoryState as Committed;

    fn scan(view: &dyn StateView, prefix: &[u8]) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut from = prefix.to_vec();
        while let Some((k, v)) = view.next_from(prefix, &from).unwrap() {
            from = crate::system::successor(k.clone());
            out.push((k, v));
        }
        out
    }

    fn kv(k: &str, v: &str) -> Entry {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn layers_merge_with_upper_winning_and_deletions_hiding() {
        let committed = Committed(
            [kv("p/a", "1"), kv("p/b", "2"), kv("p/c", "3"), kv("p/d", "4"), kv("q/a", "x")]
                .into_iter()
                .collect(),
        );
        BaseState::scoped(&committed, |base| {
            let mut overlay = Overlay::new(base);
            overlay.remove(b"p/b".to_vec());
            overlay.set(b"p/bb".to_vec(), b"new".to_vec());
            overlay.commit_tx();
            overlay.set(b"p/b".to_vec(), b"back".to_vec()); // the tx layer undoes the deletion
            overlay.remove(b"p/c".to_vec());
            overlay.set(b"p/a".to_vec(), b"11".to_vec());
            overlay.remove(b"p/zz".to_vec()); // deleting what never existed
            assert_eq!(
                scan(&overlay, b"p/"),
                vec![kv("p/a", "11"), kv("p/b", "back"), kv("p/bb", "new"), kv("p/d", "4")]
            );
            assert_eq!(overlay.get(b"p/c").unwrap(), None);
            assert_eq!(overlay.next_from(b"p/", b"p/c").unwrap(), Some(kv("p/d", "4")));
            assert_eq!(overlay.next_from(b"p/", b"a").unwrap(), Some(kv("p/a", "11")));
            overlay.discard_tx();
            assert_eq!(
                scan(&overlay, b"p/"),
                vec![kv("p/a", "1"), kv("p/bb", "new"), kv("p/c", "3"), kv("p/d", "4")]
            );
            assert_eq!(scan(&overlay, b"q/"), vec![kv("q/a", "x")]);
            let writes = overlay.into_writes();
            assert_eq!(writes.len(), 2);
            assert_eq!(writes.get(b"p/b".as_slice()), Some(&None));
        });
    }
}
