//! The top levels of the Jellyfish Merkle tree, kept in memory across blocks.
//!
//! Every block's update reads the nodes on the path of each key it writes. The top levels are on
//! nearly every path (the root, its 16 children, their 256, and at a few million leaves most of the
//! 4,096 and 65,536 below), and jmt's own `TreeCache` lives for one update, so without this every
//! block looked each of them up in RocksDB again: at 10 M leaves about half of a block's node reads.
//!
//! **Why a cached node is never wrong.** A node is stored under its `NodeKey` = (version, nibble
//! path), and a committed version's node never changes. The cache holds at most one node per
//! nibble path — the newest it has seen — and answers a lookup only when the version asked for is
//! the one it holds; anything else goes to RocksDB. Nodes enter it only once they are committed
//! ([`UpperNodes::remember_committed`], after the block's write has landed) or when read back from
//! the database; never from a prepared state, since a height may see several proposals whose nodes
//! share keys and differ. A state sync, which writes a version's nodes piece by piece, reads and
//! writes around the cache and empties it when it finishes ([`UpperNodes::clear`]).
//!
//! **Why it is bounded.** Paths of at most `d` nibbles ([`DEFAULT_TREE_CACHE_DEPTH`]): at most
//! (16^(d+1) − 1) / 15 nodes whatever the state's size — 69,905 at the default depth 4: 5.6 MiB of
//! slots, and about 70 MiB once every one of them holds a full internal node (10 M leaves and
//! more).

use jmt::storage::{NibblePath, Node, NodeKey, TreeUpdateBatch};
use jmt::Version;
use std::sync::RwLock;

/// Nibble paths of at most this many nibbles are cached by default (see the module's bound).
pub const DEFAULT_TREE_CACHE_DEPTH: usize = 4;

/// The newest committed node seen at each short nibble path, in one slot per path: the paths of
/// `n` nibbles follow those of `n - 1`, each in numeric order (no hashing, no path copied).
pub(crate) struct UpperNodes {
    max_depth: Option<usize>,
    slots: RwLock<Vec<Option<(Version, Node)>>>,
}

impl UpperNodes {
    /// Caches paths of at most `max_depth` nibbles; `None` caches nothing.
    pub(crate) fn new(max_depth: Option<usize>) -> Self {
        let slots = max_depth.map_or(0, |depth| first_slot(depth + 1));
        UpperNodes { max_depth, slots: RwLock::new(vec![None; slots]) }
    }

    /// The slot of `path`, when it is short enough to be cached.
    fn slot(&self, path: &NibblePath) -> Option<usize> {
        let depth = path.num_nibbles();
        if self.max_depth.is_none_or(|max| depth > max) {
            return None;
        }
        let within = path.nibbles().fold(0, |at, nibble| at * 16 + usize::from(u8::from(nibble)));
        Some(first_slot(depth) + within)
    }

    /// The node stored under `key`, when it is the one cached at its path.
    pub(crate) fn get(&self, key: &NodeKey) -> Option<Node> {
        let slot = self.slot(key.nibble_path())?;
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        match &slots[slot] {
            Some((version, node)) if *version == key.version() => Some(node.clone()),
            _ => None,
        }
    }

    /// Keeps `node`, committed under `key`, unless a newer version of its path is cached.
    pub(crate) fn offer(&self, key: &NodeKey, node: &Node) {
        if let Some(slot) = self.slot(key.nibble_path()) {
            let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
            keep_newest(&mut slots[slot], key.version(), node);
        }
    }

    /// Keeps the short-path nodes of a version whose write has landed.
    pub(crate) fn remember_committed(&self, batch: &TreeUpdateBatch) {
        if self.max_depth.is_none() {
            return;
        }
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        for (key, node) in batch.node_batch.nodes() {
            if let Some(slot) = self.slot(key.nibble_path()) {
                keep_newest(&mut slots[slot], key.version(), node);
            }
        }
    }

    /// Forgets everything (after a state sync rewrote the tree).
    pub(crate) fn clear(&self) {
        self.slots.write().unwrap_or_else(|e| e.into_inner()).fill(None);
    }

    /// How many nodes are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).iter().flatten().count()
    }
}

/// The first slot of the paths of `depth` nibbles: there are 16^d paths of each shorter depth d.
fn first_slot(depth: usize) -> usize {
    (0..depth).map(|d| 1 << (4 * d)).sum()
}

/// Internal nodes only: a leaf this high up is in a tree small enough for RocksDB's memtables
/// and block cache, and copying the leaves of every block into the cache cost more than it saved.
fn keep_newest(slot: &mut Option<(Version, Node)>, version: Version, node: &Node) {
    if !matches!(node, Node::Internal(_)) {
        return;
    }
    if slot.as_ref().is_none_or(|(held, _)| *held < version) {
        *slot = Some((version, node.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jmt::storage::{LeafNode, NibblePath};
    use jmt::KeyHash;
    use kessai_primitives::state_proof::Blake3Hasher;

    fn key(version: Version, nibbles: &[u8]) -> NodeKey {
        let path: NibblePath = nibbles.iter().map(|n| (*n).into()).collect();
        NodeKey::new(version, path)
    }

    /// A reader of an empty tree, to build real nodes with jmt.
    struct Empty;

    impl jmt::storage::TreeReader for Empty {
        fn get_node_option(&self, _: &NodeKey) -> anyhow::Result<Option<Node>> {
            Ok(None)
        }
        fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
            Ok(None)
        }
        fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
            Ok(None)
        }
    }

    /// An internal node told apart by `byte`: the root of a tree of two keys.
    fn internal(byte: u8) -> Node {
        let tree = jmt::JellyfishMerkleTree::<_, Blake3Hasher>::new(&Empty);
        let values =
            [(KeyHash([byte; 32]), Some(vec![byte])), (KeyHash([byte ^ 0x80; 32]), Some(vec![1]))];
        let (_, batch) = tree.put_value_set(values, 0).unwrap();
        let root = batch.node_batch.nodes().iter().find(|(key, _)| key.nibble_path().is_empty());
        let root = root.expect("a root").1.clone();
        assert!(matches!(root, Node::Internal(_)));
        root
    }

    fn leaf(byte: u8) -> Node {
        Node::Leaf(LeafNode::new(KeyHash([byte; 32]), jmt::ValueHash([byte; 32])))
    }

    #[test]
    fn a_lookup_is_answered_only_for_the_version_cached_at_its_path() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(5, &[1, 2]), &internal(5));
        assert_eq!(upper.get(&key(5, &[1, 2])), Some(internal(5)));
        assert_eq!(upper.get(&key(4, &[1, 2])), None);
        assert_eq!(upper.get(&key(6, &[1, 2])), None);
        assert_eq!(upper.get(&key(5, &[1, 3])), None);
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(7, &[3]), &internal(7));
        upper.offer(&key(6, &[3]), &internal(6));
        assert_eq!(upper.get(&key(7, &[3])), Some(internal(7)));
        assert_eq!(upper.get(&key(6, &[3])), None);
        upper.offer(&key(8, &[3]), &internal(8));
        assert_eq!(upper.get(&key(8, &[3])), Some(internal(8)));
        assert_eq!(upper.len(), 1, "one node per path");
    }

    #[test]
    fn paths_deeper_than_the_depth_and_a_disabled_cache_hold_nothing() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(1, &[1, 2, 3]), &internal(1));
        assert_eq!(upper.get(&key(1, &[1, 2, 3])), None);
        let off = UpperNodes::new(None);
        off.offer(&key(1, &[]), &internal(1));
        assert_eq!(off.get(&key(1, &[])), None);
        assert_eq!(upper.len() + off.len(), 0);
    }

    #[test]
    fn leaves_are_not_cached() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(1, &[1]), &leaf(1));
        assert_eq!(upper.get(&key(1, &[1])), None);
    }

    #[test]
    fn every_path_up_to_the_depth_has_a_slot_of_its_own() {
        let upper = UpperNodes::new(Some(2));
        let mut paths = vec![vec![]];
        paths.extend((0..16).map(|a| vec![a]));
        paths.extend((0..16).flat_map(|a| (0..16).map(move |b| vec![a, b])));
        for (i, path) in paths.iter().enumerate() {
            upper.offer(&key(1, path), &internal(i as u8));
        }
        assert_eq!(upper.len(), 273);
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(upper.get(&key(1, path)), Some(internal(i as u8)), "path {path:?}");
        }
    }
}
