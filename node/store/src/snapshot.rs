//! State snapshots: serving the whole state of a height in verifiable chunks, and rebuilding a
//! store from them (state sync).
//!
//! A snapshot is nothing but a height whose state the serving store still keeps: a chunk is a run
//! of the tree's leaves at that version in key-hash order, from a requested key hash on, each leaf
//! with its flat key (the tree keeps only `blake3(flat key)`; `jmt_preimages` keeps the flat
//! keys), and jmt's `SparseMerkleRangeProof` of the last leaf. The receiver feeds the chunks to
//! jmt's `JellyfishMerkleRestore`, which checks that the leaves received so far, with the proof's
//! right siblings, hash to the trusted state root: a chunk that leaves out, adds or alters a leaf
//! is refused before anything of it is written. The flat state is written with the tree nodes of
//! the same chunk, in one batch.

use crate::error::StoreError;
use crate::keys;
use crate::store::{cf, decode, encode};
use crate::tree::TreeStore;
use crate::Store;
use borsh::{BorshDeserialize, BorshSerialize};
use jmt::proof::SparseMerkleRangeProof;
use jmt::restore::{JellyfishMerkleRestore, StateSnapshotReceiver};
use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeWriter};
use jmt::{JellyfishMerkleIterator, JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, Version};
use kessai_primitives::state_proof::{key_hash, Blake3Hasher};
use kessai_primitives::{Commit, Hash, Header};
use rocksdb::WriteBatch;
use std::sync::{Arc, Mutex};

/// Bound on the flat keys and values of one chunk a node serves (a chunk holds at least one
/// leaf, whatever its size).
pub const MAX_CHUNK_BYTES: usize = 1 << 20;

/// A run of the state's leaves at one height, in key-hash order, with the proof of the last.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub struct SnapshotChunk {
    /// `(flat key, value)` in increasing `blake3(flat key)` order; never empty.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// The right siblings of the path to the last entry's leaf.
    pub proof: SparseMerkleRangeProof<Blake3Hasher>,
}

impl SnapshotChunk {
    /// Whether the proof says that no leaf lies right of the last entry (every right sibling is
    /// empty). Read from the proof's encoding: jmt keeps the siblings private. Only meaningful
    /// once the chunk has been verified against the root.
    fn proves_last(&self) -> bool {
        let bytes = borsh::to_vec(&self.proof).expect("encoding to memory cannot fail");
        // borsh: u32 count, then per sibling a tag (0 = empty, 1 = internal, 2 = leaf) and for
        // the non-empty ones two 32-byte hashes.
        bytes.len() >= 4 && bytes[4..].iter().all(|tag| *tag == 0)
    }
}

/// Why a chunk was refused: the peer that sent it lied (or the request was for another root).
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The chunk is not part of the trusted state.
    #[error("invalid snapshot chunk: {0}")]
    Invalid(String),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The chunk of the state at `height` that starts at the first leaf whose key hash is at or
    /// after `start`, holding leaves until their flat keys and values exceed `max_bytes` (at least
    /// one); `None` if no leaf is at or after `start`. [`StoreError::Pruned`] below
    /// [`Store::earliest_state_height`], [`StoreError::NotCommitted`] above the latest height.
    pub fn snapshot_chunk(
        &self,
        height: u64,
        start: [u8; 32],
        max_bytes: usize,
    ) -> Result<Option<SnapshotChunk>, StoreError> {
        let latest = self.latest_height();
        if latest.is_none_or(|latest| height > latest) {
            return Err(StoreError::NotCommitted { requested: height, latest });
        }
        let check_kept = || match self.earliest_state_height() {
            earliest if height < earliest => Err(StoreError::Pruned { what: "state", earliest }),
            _ => Ok(()),
        };
        check_kept()?;
        let reader = Arc::new(TreeStore::new(self.db()));
        let leaves = JellyfishMerkleIterator::new(reader.clone(), height, KeyHash(start))
            .map_err(StoreError::Tree)?;
        let preimages = cf(self.db(), keys::JMT_PREIMAGES);
        let (mut entries, mut bytes, mut last) = (Vec::new(), 0, None);
        for leaf in leaves {
            let (hash, value) = leaf.map_err(StoreError::Tree)?;
            let flat_key =
                self.db().get_cf(preimages, hash.0)?.ok_or_else(|| StoreError::Corrupt {
                    what: "jmt preimage",
                    reason: format!("no flat key for leaf {}", hex::encode(hash.0)),
                })?;
            bytes += flat_key.len() + value.len();
            entries.push((flat_key, value));
            last = Some(hash);
            if bytes >= max_bytes {
                break;
            }
        }
        let Some(last) = last else { return Ok(None) };
        let proof = JellyfishMerkleTree::<_, Blake3Hasher>::new(&*reader)
            .get_range_proof(last, height)
            .map_err(StoreError::Tree)?;
        // A pruner that ran meanwhile may have deleted what was read.
        check_kept()?;
        Ok(Some(SnapshotChunk { entries, proof }))
    }

    /// The `(height, state root)` of a state sync that was writing this database and did not
    /// finish: such a database holds part of a state and no block, and must be removed.
    pub fn unfinished_restore(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        match self.db().get_cf(cf(self.db(), keys::META), keys::meta::RESTORING)? {
            Some(bytes) => Ok(Some(decode(&bytes, "restore marker")?)),
            None => Ok(None),
        }
    }
}

/// Writes the preimage of every key of the flat state, once, in a database written before
/// `jmt_preimages` existed (every key alive now; keys written from now on get theirs at commit).
pub(crate) fn backfill_preimages(db: &rocksdb::DB, is_new: bool) -> Result<(), StoreError> {
    let meta = cf(db, keys::META);
    if db.get_cf(meta, keys::meta::PREIMAGES)?.is_some() {
        return Ok(());
    }
    let preimages = cf(db, keys::JMT_PREIMAGES);
    let mut batch = WriteBatch::default();
    let mut count = 0u64;
    if !is_new {
        for item in db.iterator_cf(cf(db, keys::STATE), rocksdb::IteratorMode::Start) {
            let (key, _) = item?;
            batch.put_cf(preimages, key_hash(&key).0, &key);
            count += 1;
            if batch.len() >= 10_000 {
                db.write(std::mem::take(&mut batch))?;
            }
        }
    }
    batch.put_cf(meta, keys::meta::PREIMAGES, [1]);
    db.write(batch)?;
    if count > 0 {
        tracing::info!(keys = count, "recorded the flat keys of the state for snapshots");
    }
    Ok(())
}

/// Rebuilds the state of one height into an empty store from [`SnapshotChunk`]s, and then makes
/// that height the store's latest, with its header and commit and no block below it.
pub struct StateRestore {
    store: Store,
    height: u64,
    root: Hash,
    writer: Arc<RestoreWriter>,
    restore: Option<JellyfishMerkleRestore<Blake3Hasher>>,
    /// The key hash to ask for next; `None` once the last leaf is in.
    next: Option<[u8; 32]>,
    keys: u64,
}

impl std::fmt::Debug for StateRestore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateRestore")
            .field("height", &self.height)
            .field("root", &self.root)
            .field("next", &self.next.map(hex::encode))
            .field("keys", &self.keys)
            .finish()
    }
}

impl StateRestore {
    /// Starts rebuilding the state of `height`, whose header's `state_root` is `root`, into
    /// `store`, which must be empty (no genesis, no earlier restore).
    pub fn begin(store: &Store, height: u64, root: Hash) -> Result<StateRestore, StoreError> {
        if store.latest_height().is_some() || store.unfinished_restore()?.is_some() {
            return Err(StoreError::Corrupt {
                what: "state sync",
                reason: "the database is not empty".into(),
            });
        }
        let db = store.db();
        db.put_cf(cf(db, keys::META), keys::meta::RESTORING, encode(&(height, root)))?;
        let writer =
            Arc::new(RestoreWriter { store: store.clone(), staged: Mutex::new(Vec::new()) });
        let mut restore = StateRestore {
            store: store.clone(),
            height,
            root,
            writer,
            restore: None,
            next: Some([0; 32]),
            keys: 0,
        };
        restore.reopen()?;
        Ok(restore)
    }

    /// The height being restored.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The key hash the next chunk must start at, or `None` once every leaf is in.
    pub fn next_start(&self) -> Option<[u8; 32]> {
        self.next
    }

    /// Leaves written so far.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// (Re)starts jmt's restore from what is on disk: after a refused chunk its partial nodes may
    /// hold the chunk's leaves, so it recovers them from the rightmost stored leaf, and the next
    /// chunk starts right after that leaf.
    fn reopen(&mut self) -> Result<(), StoreError> {
        self.writer.staged.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let rightmost =
            TreeStore::new(self.store.db()).get_rightmost_leaf().map_err(StoreError::Tree)?;
        self.next = Some(match &rightmost {
            Some((_, leaf)) => match increment(leaf.key_hash().0) {
                Some(next) => next,
                None => {
                    return Err(StoreError::Corrupt {
                        what: "state sync",
                        reason: "a stored leaf at the greatest key hash".into(),
                    })
                }
            },
            None => [0; 32],
        });
        let restore =
            JellyfishMerkleRestore::new(self.writer.clone(), self.height, RootHash(self.root.0))
                .map_err(StoreError::Tree)?;
        self.restore = Some(restore);
        Ok(())
    }

    /// Verifies `chunk` against the trusted root and writes it. A refused chunk writes nothing,
    /// and the restore resumes from what is on disk ([`StateRestore::next_start`] may move back).
    pub fn add_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), ChunkError> {
        let Some(start) = self.next else {
            return Err(ChunkError::Invalid("a chunk after the last leaf".into()));
        };
        let checked = self.check_entries(&chunk, start);
        let result = checked.and_then(|leaves| {
            let restore = self.restore.as_mut().expect("the restore is open while not finished");
            let count = leaves.len() as u64;
            let last = leaves.last().expect("a checked chunk is not empty").0;
            *self.writer.staged.lock().unwrap_or_else(|e| e.into_inner()) = chunk.entries.clone();
            restore
                .add_chunk(leaves, chunk.proof.clone())
                .map_err(|e| ChunkError::Invalid(jmt_reason(&e)))?;
            Ok((count, last))
        });
        match result {
            Ok((count, last)) => {
                self.keys += count;
                self.next = if chunk.proves_last() { None } else { increment(last.0) };
                Ok(())
            }
            Err(error) => {
                self.reopen()?;
                Err(error)
            }
        }
    }

    fn check_entries(
        &self,
        chunk: &SnapshotChunk,
        start: [u8; 32],
    ) -> Result<Vec<(KeyHash, OwnedValue)>, ChunkError> {
        if chunk.entries.is_empty() {
            return Err(ChunkError::Invalid("an empty chunk".into()));
        }
        let mut previous: Option<KeyHash> = None;
        let mut leaves = Vec::with_capacity(chunk.entries.len());
        for (flat_key, value) in &chunk.entries {
            if flat_key.len() < 32 {
                return Err(ChunkError::Invalid("a flat key without its namespace".into()));
            }
            let hash = key_hash(flat_key);
            if hash.0 < start || previous.is_some_and(|p| hash <= p) {
                return Err(ChunkError::Invalid("leaves out of key-hash order".into()));
            }
            previous = Some(hash);
            leaves.push((hash, value.clone()));
        }
        Ok(leaves)
    }

    /// Ends the restore once every leaf is in: checks the rebuilt tree's root, then writes the
    /// header and commit of the height and makes it the store's latest height, with
    /// `genesis_meta` (as [`Store::commit_genesis`] would) and no state or block below it.
    pub fn finish(
        mut self,
        header: &Header,
        commit: &Commit,
        genesis_meta: &[u8],
    ) -> Result<(), StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { what: "state sync", reason };
        if self.next.is_some() {
            return Err(corrupt("the restore has not received every leaf".into()));
        }
        if header.height != self.height || header.state_root != self.root {
            return Err(corrupt("the header is not the one being restored".into()));
        }
        if commit.height != self.height || commit.block != header.id() {
            return Err(StoreError::CommitMismatch { height: commit.height, block: commit.block });
        }
        let restore = self.restore.take().expect("the restore is open while not finished");
        restore.finish().map_err(StoreError::Tree)?;
        let db = self.store.db();
        let root = TreeStore::new(db).root(self.height)?;
        if root != Some(self.root) {
            return Err(corrupt(format!("the rebuilt tree's root is {root:?}, not {}", self.root)));
        }
        let at = keys::height(self.height);
        let mut batch = WriteBatch::default();
        batch.put_cf(cf(db, keys::HEADERS), at, encode(header));
        batch.put_cf(cf(db, keys::COMMITS), at, encode(commit));
        let meta = cf(db, keys::META);
        batch.put_cf(meta, keys::meta::GENESIS, genesis_meta);
        batch.put_cf(meta, keys::meta::EARLIEST_STATE, at);
        // The block of the height itself is not there: only its header and commit.
        batch.put_cf(meta, keys::meta::EARLIEST_BLOCK, keys::height(self.height + 1));
        batch.put_cf(meta, keys::meta::LATEST_HEIGHT, at);
        batch.delete_cf(meta, keys::meta::RESTORING);
        self.store.write(batch)?;
        self.store.raise_earliest("state", self.height);
        self.store.raise_earliest("block", self.height + 1);
        self.store.restored(self.height);
        tracing::info!(height = self.height, keys = self.keys, root = %self.root, "restored the state");
        Ok(())
    }
}

/// jmt's reason for refusing a chunk, without the byte arrays of its root mismatch message.
fn jmt_reason(error: &anyhow::Error) -> String {
    let text = error.to_string();
    if text.starts_with("Root hashes do not match") {
        "its leaves and proof do not hash to the trusted state root".into()
    } else {
        text
    }
}

/// `hash + 1` as a 256-bit big-endian number; `None` past the greatest.
fn increment(mut hash: [u8; 32]) -> Option<[u8; 32]> {
    for byte in hash.iter_mut().rev() {
        let (next, carry) = byte.overflowing_add(1);
        *byte = next;
        if !carry {
            return Some(hash);
        }
    }
    None
}

/// jmt's restore writes through this: the verified chunk's tree nodes and values, with the flat
/// state and preimages of the same chunk (staged before the chunk is handed over), in one batch.
struct RestoreWriter {
    store: Store,
    staged: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl TreeWriter for RestoreWriter {
    fn write_node_batch(&self, node_batch: &NodeBatch) -> anyhow::Result<()> {
        let db = self.store.db();
        let mut batch = WriteBatch::default();
        let nodes = cf(db, keys::JMT_NODES);
        for (node_key, node) in node_batch.nodes() {
            batch.put_cf(nodes, keys::jmt_node(node_key), encode(node));
        }
        let values = cf(db, keys::JMT_VALUES);
        for ((version, hash), value) in node_batch.values() {
            batch.put_cf(values, keys::jmt_value(hash, *version), encode(value));
        }
        let staged = std::mem::take(&mut *self.staged.lock().unwrap_or_else(|e| e.into_inner()));
        let (state, preimages) = (cf(db, keys::STATE), cf(db, keys::JMT_PREIMAGES));
        for (flat_key, value) in &staged {
            batch.put_cf(state, flat_key, value);
            batch.put_cf(preimages, key_hash(flat_key).0, flat_key);
        }
        self.store.write(batch)?;
        Ok(())
    }
}

impl TreeReader for RestoreWriter {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        TreeStore::new(self.store.db()).get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        TreeStore::new(self.store.db()).get_value_option(max_version, key_hash)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        TreeStore::new(self.store.db()).get_rightmost_leaf()
    }
}

#[cfg(test)]
mod tests {
    use super::increment;

    #[test]
    fn increment_carries() {
        let mut hash = [0u8; 32];
        hash[31] = 0xff;
        let mut expected = [0u8; 32];
        expected[30] = 1;
        assert_eq!(increment(hash), Some(expected));
        assert_eq!(increment([0xff; 32]), None);
    }
}
