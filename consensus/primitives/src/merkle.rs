//! A binary Merkle tree over a list (RFC 6962 shape, blake3): the root of a block's transactions or
//! receipts, with inclusion proofs a light client can check.
//!
//! leaf hash = blake3(0x00 || leaf bytes); node hash = blake3(0x01 || left || right); the list is split
//! at the largest power of two below its length; the root of an empty list is blake3 of nothing.

use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The hash of a leaf: blake3 of `0x00 ‖ leaf` (inner nodes hash `0x01 ‖ left ‖ right`, so a leaf
/// can never pass for a node).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0]);
    h.update(leaf);
    Hash(*h.finalize().as_bytes())
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[1]);
    h.update(&left.0);
    h.update(&right.0);
    Hash(*h.finalize().as_bytes())
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root over already-hashed leaves.
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::digest(&[]),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&root_of_leaf_hashes(&leaves[..k]), &root_of_leaf_hashes(&leaves[k..]))
        }
    }
}

/// The root over raw leaves.
pub fn root<T: AsRef<[u8]>>(leaves: &[T]) -> Hash {
    let hashed: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    root_of_leaf_hashes(&hashed)
}

/// Proof that one leaf is at `index` among `total` leaves under a root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Position of the leaf in the list, 0-based.
    pub index: u64,
    /// Number of leaves in the list.
    pub total: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// The proof for one leaf, hashing the whole list: to prove many leaves of one list, build a
    /// [`MerkleTree`] once.
    pub fn build(leaves: &[Hash], index: usize) -> Option<InclusionProof> {
        MerkleTree::new(leaves.to_vec()).proof(index)
    }

    /// Recomputes the root from `leaf` and the path; true when it equals `root`.
    pub fn verify(&self, root: &Hash, leaf: &[u8]) -> bool {
        self.verify_leaf_hash(root, &leaf_hash(leaf))
    }

    /// Like [`InclusionProof::verify`], for a leaf already hashed with [`leaf_hash`].
    pub fn verify_leaf_hash(&self, root: &Hash, leaf: &Hash) -> bool {
        if self.index >= self.total {
            return false;
        }
        let mut path = self.path.iter().rev();
        match fold_path(*leaf, self.index, self.total, &mut path) {
            Some(computed) => path.next().is_none() && computed == *root,
            None => false,
        }
    }
}

/// A list's tree with the root of every complete, aligned power-of-two subtree kept, so that any
/// leaf's proof costs O(log² n) hashes instead of rehashing the list (a node answering questions
/// about many transactions of one block).
///
/// In the RFC 6962 shape every left subtree holds a power of two of leaves and starts at a multiple
/// of its size; only the subtrees along the right edge are ragged, and there are at most log n.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    /// `levels[j][i]` is the root of leaves `i·2^j .. (i+1)·2^j`; `levels[0]` are the leaves.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds the tree over already-hashed leaves ([`leaf_hash`]).
    pub fn new(leaves: Vec<Hash>) -> MerkleTree {
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|level| level.len() >= 2) {
            let above = below.chunks_exact(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
            levels.push(above);
        }
        MerkleTree { levels }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether the list has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Equal to [`root_of_leaf_hashes`] over the leaves.
    pub fn root(&self) -> Hash {
        match self.len() {
            0 => Hash::digest(&[]),
            n => self.subtree_root(0, n),
        }
    }

    /// The inclusion proof of the leaf at `index`; `None` when out of range.
    pub fn proof(&self, index: usize) -> Option<InclusionProof> {
        if index >= self.len() {
            return None;
        }
        let mut path = Vec::new();
        self.collect_path(0, self.len(), index, &mut path);
        Some(InclusionProof { index: index as u64, total: self.len() as u64, path })
    }

    /// Root of the `len` leaves from `start` (a subtree of the RFC 6962 shape).
    fn subtree_root(&self, start: usize, len: usize) -> Hash {
        if len.is_power_of_two() {
            let level = len.trailing_zeros() as usize;
            return self.levels[level][start >> level];
        }
        let k = split_point(len);
        node_hash(&self.subtree_root(start, k), &self.subtree_root(start + k, len - k))
    }

    /// Siblings from the leaf up, for leaf `index` of the subtree of `len` leaves from `start`.
    fn collect_path(&self, start: usize, len: usize, index: usize, path: &mut Vec<Hash>) {
        if len <= 1 {
            return;
        }
        let k = split_point(len);
        if index < k {
            self.collect_path(start, k, index, path);
            path.push(self.subtree_root(start + k, len - k));
        } else {
            self.collect_path(start + k, len - k, index - k, path);
            path.push(self.subtree_root(start, k));
        }
    }
}

/// Walks the tree top-down, consuming siblings from the root end of the path.
fn fold_path<'a>(
    leaf: Hash,
    index: u64,
    total: u64,
    siblings_from_top: &mut impl Iterator<Item = &'a Hash>,
) -> Option<Hash> {
    if total <= 1 {
        return Some(leaf);
    }
    let k = split_point(total as usize) as u64;
    let sibling = *siblings_from_top.next()?;
    if index < k {
        Some(node_hash(&fold_path(leaf, index, k, siblings_from_top)?, &sibling))
    } else {
        Some(node_hash(&sibling, &fold_path(leaf, index - k, total - k, siblings_from_top)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_other_does(n in 1usize..40, seed in any::<u8>()) {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![seed, i as u8]).collect();
            let hashed: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
            let root = root(&leaves);
            for (i, leaf) in leaves.iter().enumerate() {
                let proof = InclusionProof::build(&hashed, i).unwrap();
                prop_assert!(proof.verify(&root, leaf));
                prop_assert!(!proof.verify(&root, b"other"));
                let mut moved = proof.clone();
                moved.index = (moved.index + 1) % moved.total;
                prop_assert!(n == 1 || !moved.verify(&root, leaf));
            }
        }
    }

    #[test]
    fn tree_root_and_proofs_match_the_list_root() {
        for n in (0..70).chain([127, 128, 129, 1000, 1023, 1025]) {
            let hashed: Vec<Hash> = (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let tree = MerkleTree::new(hashed.clone());
            let root = root_of_leaf_hashes(&hashed);
            assert_eq!(tree.root(), root, "{n} leaves");
            for (i, leaf) in hashed.iter().enumerate() {
                let proof = tree.proof(i).unwrap();
                assert!(proof.verify_leaf_hash(&root, leaf), "leaf {i} of {n}");
                assert!(proof.path.len() <= 64 - (n as u64).leading_zeros() as usize);
            }
            assert!(tree.proof(n).is_none());
        }
    }

    #[test]
    fn root_is_order_sensitive() {
        assert_ne!(root(&[b"a", b"b"]), root(&[b"b", b"a"]));
        assert_ne!(root::<&[u8]>(&[]), root(&[b""]));
    }
}
