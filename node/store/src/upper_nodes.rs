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
//! **Why it is bounded.** Paths no longer than [`UpperNodes::max_depth`] nibbles: at most
//! (16^(d+1) − 1) / 15 entries whatever the state's size — 69,905 at the default depth 4, about
//! 70 MiB once every one of them is a full internal node (10 M leaves and more).

use jmt::storage::{Node, NodeKey, TreeUpdateBatch};
use jmt::Version;
use std::collections::HashMap;
use std::sync::RwLock;

/// Nibble paths of at most this many nibbles are cached by default (see the module's bound).
pub const DEFAULT_TREE_CACHE_DEPTH: usize = 4;

/// The newest committed node seen at each short nibble path.
pub(crate) struct UpperNodes {
    max_depth: Option<usize>,
    nodes: RwLock<HashMap<jmt::storage::NibblePath, (Version, Node)>>,
}

impl UpperNodes {
    /// Caches paths of at most `max_depth` nibbles; `None` caches nothing.
    pub(crate) fn new(max_depth: Option<usize>) -> Self {
        UpperNodes { max_depth, nodes: RwLock::new(HashMap::new()) }
    }

    fn covers(&self, key: &NodeKey) -> bool {
        self.max_depth.is_some_and(|depth| key.nibble_path().num_nibbles() <= depth)
    }

    /// The node stored under `key`, when it is the one cached at its path.
    pub(crate) fn get(&self, key: &NodeKey) -> Option<Node> {
        if !self.covers(key) {
            return None;
        }
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        match nodes.get(key.nibble_path()) {
            Some((version, node)) if *version == key.version() => Some(node.clone()),
            _ => None,
        }
    }

    /// Keeps `node`, committed under `key`, unless a newer version of its path is cached.
    pub(crate) fn offer(&self, key: &NodeKey, node: &Node) {
        if self.covers(key) {
            let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
            Self::keep_newest(&mut nodes, key, node);
        }
    }

    /// Keeps the short-path nodes of a version whose write has landed.
    pub(crate) fn remember_committed(&self, batch: &TreeUpdateBatch) {
        if self.max_depth.is_none() {
            return;
        }
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        for (key, node) in batch.node_batch.nodes() {
            if self.covers(key) {
                Self::keep_newest(&mut nodes, key, node);
            }
        }
    }

    fn keep_newest(
        nodes: &mut HashMap<jmt::storage::NibblePath, (Version, Node)>,
        key: &NodeKey,
        node: &Node,
    ) {
        let newer = nodes.get(key.nibble_path()).is_none_or(|(held, _)| *held < key.version());
        if newer {
            nodes.insert(key.nibble_path().clone(), (key.version(), node.clone()));
        }
    }

    /// Forgets everything (after a state sync rewrote the tree).
    pub(crate) fn clear(&self) {
        self.nodes.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// How many nodes are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nodes.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jmt::storage::{LeafNode, NibblePath};
    use jmt::KeyHash;

    fn key(version: Version, nibbles: &[u8]) -> NodeKey {
        let path: NibblePath = nibbles.iter().map(|n| (*n).into()).collect();
        NodeKey::new(version, path)
    }

    fn leaf(byte: u8) -> Node {
        Node::Leaf(LeafNode::new(KeyHash([byte; 32]), jmt::ValueHash([byte; 32])))
    }

    #[test]
    fn a_lookup_is_answered_only_for_the_version_cached_at_its_path() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(5, &[1, 2]), &leaf(5));
        assert_eq!(upper.get(&key(5, &[1, 2])), Some(leaf(5)));
        assert_eq!(upper.get(&key(4, &[1, 2])), None);
        assert_eq!(upper.get(&key(6, &[1, 2])), None);
        assert_eq!(upper.get(&key(5, &[1, 3])), None);
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(7, &[3]), &leaf(7));
        upper.offer(&key(6, &[3]), &leaf(6));
        assert_eq!(upper.get(&key(7, &[3])), Some(leaf(7)));
        assert_eq!(upper.get(&key(6, &[3])), None);
        upper.offer(&key(8, &[3]), &leaf(8));
        assert_eq!(upper.get(&key(8, &[3])), Some(leaf(8)));
        assert_eq!(upper.len(), 1, "one node per path");
    }

    #[test]
    fn paths_deeper_than_the_depth_and_a_disabled_cache_hold_nothing() {
        let upper = UpperNodes::new(Some(2));
        upper.offer(&key(1, &[1, 2, 3]), &leaf(1));
        assert_eq!(upper.get(&key(1, &[1, 2, 3])), None);
        let off = UpperNodes::new(None);
        off.offer(&key(1, &[]), &leaf(1));
        assert_eq!(off.get(&key(1, &[])), None);
        assert_eq!(upper.len() + off.len(), 0);
    }
}
