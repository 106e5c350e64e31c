//! The Jellyfish Merkle tree over RocksDB: jmt's [`TreeReader`] on the `jmt_nodes` and `jmt_values`
//! column families, and the computation of a version's update batch without writing it.

use crate::error::StoreError;
use crate::keys;
use crate::upper_nodes::UpperNodes;
use crate::WriteSet;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, Version};
use kessai_primitives::state_proof::{key_hash, Blake3Hasher};
use kessai_primitives::{Hash, StateProof};
use rocksdb::{WriteBatch, DB};

/// The new state of one version, computed but not written: its root, the writes, and the tree nodes
/// and value history that [`crate::Store::commit_block`] (or `commit_genesis`) will store with it.
#[derive(Debug, Clone)]
pub struct PreparedState {
    /// The state root after the writes: the header's `state_root`.
    pub root: Hash,
    version: u64,
    writes: WriteSet,
    batch: TreeUpdateBatch,
}

impl PreparedState {
    /// Caches the short-path nodes of this state once its write has landed.
    pub(crate) fn remember_in(&self, upper: &UpperNodes) {
        upper.remember_committed(&self.batch);
    }

    /// The version (block height; 0 for genesis) this state is for.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The block's state changes this state was prepared from.
    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }
}

/// Read access to the tree's column families, optionally through the state of a block that is
/// being written (whose nodes and values are not in the database yet) and the cache of the tree's
/// top levels.
pub(crate) struct TreeStore<'a> {
    db: &'a DB,
    pending: Option<&'a PreparedState>,
    upper: Option<&'a UpperNodes>,
}

impl<'a> TreeStore<'a> {
    /// Reads the database alone: what a state sync, which writes a version piece by piece, uses.
    pub(crate) fn new(db: &'a DB) -> Self {
        TreeStore { db, pending: None, upper: None }
    }

    /// Reads committed versions through the cache of the tree's top levels.
    pub(crate) fn cached(db: &'a DB, upper: &'a UpperNodes) -> Self {
        TreeStore { db, pending: None, upper: Some(upper) }
    }

    /// Reads `pending`'s tree nodes and values before the cache's and the database's.
    pub(crate) fn with_pending(
        db: &'a DB,
        upper: &'a UpperNodes,
        pending: Option<&'a PreparedState>,
    ) -> Self {
        TreeStore { db, pending, upper: Some(upper) }
    }

    fn tree(&self) -> JellyfishMerkleTree<'_, Self, Blake3Hasher> {
        JellyfishMerkleTree::new(self)
    }

    /// Computes the root and update batch of `version` = the committed `version - 1` plus `writes`.
    /// The caller guarantees that `version - 1` is the latest committed version.
    pub(crate) fn prepare(
        &self,
        version: u64,
        writes: &WriteSet,
    ) -> Result<PreparedState, StoreError> {
        let (root, batch) = if !writes.is_empty() && writes.values().all(Option::is_some) {
            // One descent for the whole set: each touched node is read, rebuilt and hashed once,
            // where inserting key by key rebuilds the upper nodes once per key. jmt's batch path
            // takes no deletions; the tree (and so the root) is the same either way.
            let value_set = writes
                .iter()
                .filter_map(|(key, value)| Some((key_hash(key), value.clone()?)))
                .collect();
            let (mut roots, batch) = self
                .tree()
                .batch_put_value_sets(vec![value_set], None, version)
                .map_err(StoreError::Tree)?;
            (roots.pop().expect("one root per value set"), batch)
        } else {
            let value_set = writes.iter().map(|(key, value)| (key_hash(key), value.clone()));
            self.tree().put_value_set(value_set, version).map_err(StoreError::Tree)?
        };
        Ok(PreparedState { root: Hash(root.0), version, writes: writes.clone(), batch })
    }

    pub(crate) fn root(&self, version: u64) -> Result<Option<Hash>, StoreError> {
        let root = self.tree().get_root_hash_option(version).map_err(StoreError::Tree)?;
        Ok(root.map(|r| Hash(r.0)))
    }

    /// The value of `flat_key` at `version` (which must be committed) and its proof.
    pub(crate) fn get_with_proof(
        &self,
        flat_key: &[u8],
        version: u64,
    ) -> Result<(Option<Vec<u8>>, StateProof), StoreError> {
        let (value, proof) =
            self.tree().get_with_proof(key_hash(flat_key), version).map_err(StoreError::Tree)?;
        Ok((value, StateProof(proof)))
    }

    /// The value of `flat_key` at `version`, from the value history (no tree walk).
    pub(crate) fn get_at(
        &self,
        flat_key: &[u8],
        version: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.value_at(version, key_hash(flat_key))
    }

    fn value_at(&self, max_version: u64, key_hash: KeyHash) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = crate::store::cf(self.db, keys::JMT_VALUES);
        let mut iter = self.db.raw_iterator_cf(cf);
        iter.seek_for_prev(keys::jmt_value(&key_hash, max_version));
        iter.status()?;
        match (iter.key(), iter.value()) {
            (Some(key), Some(value)) if key.starts_with(&key_hash.0) => {
                crate::store::decode::<Option<Vec<u8>>>(value, "jmt value")
            }
            _ => Ok(None),
        }
    }
}

impl TreeReader for TreeStore<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(node) = self.pending.and_then(|p| p.batch.node_batch.get_node(node_key)) {
            return Ok(Some(node.clone()));
        }
        if let Some(node) = self.upper.and_then(|upper| upper.get(node_key)) {
            return Ok(Some(node));
        }
        let cf = crate::store::cf(self.db, keys::JMT_NODES);
        let Some(bytes) = self.db.get_pinned_cf(cf, keys::jmt_node(node_key))? else {
            return Ok(None);
        };
        let node: Node = crate::store::decode(&bytes, "jmt node")?;
        if let Some(upper) = self.upper {
            upper.offer(node_key, &node);
        }
        Ok(Some(node))
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        // The pending version is newer than anything in the database.
        if let Some(pending) = self.pending.filter(|p| p.version <= max_version) {
            if let Some(value) = pending.batch.node_batch.values().get(&(pending.version, key_hash))
            {
                return Ok(value.clone());
            }
        }
        Ok(self.value_at(max_version, key_hash)?)
    }

    /// The leaf with the greatest key hash among every stored node. Only jmt's restore asks
    /// (`crate::snapshot`), on a database that holds nothing but the version being restored, to
    /// resume after an interrupted or refused chunk: one scan of `jmt_nodes`.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        let cf = crate::store::cf(self.db, keys::JMT_NODES);
        let mut rightmost: Option<(NodeKey, LeafNode)> = None;
        for item in self.db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (key, bytes) = item?;
            if let Node::Leaf(leaf) = crate::store::decode::<Node>(&bytes, "jmt node")? {
                if rightmost.as_ref().is_none_or(|(_, r)| leaf.key_hash() > r.key_hash()) {
                    let node_key = keys::parse_jmt_node(&key)
                        .ok_or_else(|| anyhow::anyhow!("jmt node key of {} bytes", key.len()))?;
                    rightmost = Some((node_key, leaf));
                }
            }
        }
        Ok(rightmost)
    }
}

/// Adds everything `prepared` changes to `batch`: the flat state and the tree's nodes and values,
/// and, with `record_stale` (state pruning on), what the version makes stale ([`record_stale`]).
pub(crate) fn write_prepared(
    db: &DB,
    batch: &mut WriteBatch,
    prepared: &PreparedState,
    record_stale: bool,
) {
    if record_stale {
        self::record_stale(db, batch, prepared);
    }
    let state = crate::store::cf(db, keys::STATE);
    let preimages = crate::store::cf(db, keys::JMT_PREIMAGES);
    for (key, value) in &prepared.writes {
        match value {
            Some(value) => batch.put_cf(state, key, value),
            None => batch.delete_cf(state, key),
        }
        // Written for deleted keys too: a snapshot of a kept height below may still hold them.
        // The pruner deletes it once no kept height does (`Store::forget_deleted_keys`).
        batch.put_cf(preimages, key_hash(key).0, key);
    }
    let nodes = crate::store::cf(db, keys::JMT_NODES);
    for (node_key, node) in prepared.batch.node_batch.nodes() {
        batch.put_cf(nodes, keys::jmt_node(node_key), crate::store::encode(node));
    }
    let values = crate::store::cf(db, keys::JMT_VALUES);
    for ((version, key_hash), value) in prepared.batch.node_batch.values() {
        batch.put_cf(values, keys::jmt_value(key_hash, *version), crate::store::encode(value));
    }
}

/// Adds to `batch` the `jmt_stale` entries of `prepared`'s version `V`: what no version from `V`
/// on reads, so that the pruner may delete it once `V` is at or below the retention height.
///
/// - Every node jmt reports stale (replaced on the path to a changed leaf), and the root of
///   `V - 1`, which jmt does not report when a version changes nothing (it copies the root).
/// - For each key written at `V`: its value versions below `V`, and the value at `V` itself when
///   it is a deletion. Value deletions are never derived from stale leaves: jmt re-creates a leaf
///   at a new version when the tree restructures around it while its value stays at the version
///   it was written, so a stale leaf does not mean a stale value.
fn record_stale(db: &DB, batch: &mut WriteBatch, prepared: &PreparedState) {
    let stale = crate::store::cf(db, keys::JMT_STALE);
    for index in &prepared.batch.stale_node_index_batch {
        let node = keys::jmt_node(&index.node_key);
        batch.put_cf(stale, keys::stale(index.stale_since_version, keys::stale::NODE, &node), []);
    }
    if prepared.version > 0 {
        let root = keys::jmt_node(&keys::root_node_key(prepared.version - 1));
        batch.put_cf(stale, keys::stale(prepared.version, keys::stale::NODE, &root), []);
    }
    for ((version, key_hash), value) in prepared.batch.node_batch.values() {
        let key = keys::stale(*version, keys::stale::VALUES, &key_hash.0);
        batch.put_cf(stale, key, [u8::from(value.is_none())]);
    }
}
