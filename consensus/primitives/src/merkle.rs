//! A binary Merkle tree over a list (RFC 6962 shape, blake3): the root of a block's transactions or
//! receipts, with inclusion proofs a light client can check.
//!
//! leaf hash = blake3(0x00 || leaf bytes); node hash = blake3(0x01 || left || right); the list is split
//! at the largest power of two below its length; the root of an empty list is blake3 of nothing.

use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

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
    pub index: u64,
    pub total: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    pub fn build(leaves: &[Hash], index: usize) -> Option<InclusionProof> {
        if index >= leaves.len() {
            return None;
        }
        let mut path = Vec::new();
        collect_path(leaves, index, &mut path);
        Some(InclusionProof { index: index as u64, total: leaves.len() as u64, path })
    }

    /// Recomputes the root from `leaf` and the path; true when it equals `root`.
    pub fn verify(&self, root: &Hash, leaf: &[u8]) -> bool {
        self.verify_leaf_hash(root, &leaf_hash(leaf))
    }

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

fn collect_path(leaves: &[Hash], index: usize, path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    if index < k {
        collect_path(&leaves[..k], index, path);
        path.push(root_of_leaf_hashes(&leaves[k..]));
    } else {
        collect_path(&leaves[k..], index - k, path);
        path.push(root_of_leaf_hashes(&leaves[..k]));
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
    fn root_is_order_sensitive() {
        assert_ne!(root(&[b"a", b"b"]), root(&[b"b", b"a"]));
        assert_ne!(root::<&[u8]>(&[]), root(&[b""]));
    }
}
