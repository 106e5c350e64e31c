//! Proofs that a state value is (or is not) under a state root.
//!
//! All state lives in one key space of **flat keys** (`namespace (32 bytes) ‖ key`, see
//! `docs/contract-abi.md`), authenticated by a Jellyfish Merkle tree (crate [`jmt`]) whose leaves are
//! keyed by `blake3(flat key)` and hashed with blake3 ([`Blake3Hasher`]). The tree's root is the
//! header's `state_root`.
//!
//! Building the tree needs storage and lives in `kessai-store`; checking a proof needs only this
//! module, so the light client can verify state without a database.

use crate::crypto::Address;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use jmt::proof::SparseMerkleProof;
use jmt::{KeyHash, RootHash, SimpleHasher};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The tree's hash function: plain blake3, like everything else Kessai hashes.
#[derive(Clone, Default)]
pub struct Blake3Hasher(blake3::Hasher);

impl SimpleHasher for Blake3Hasher {
    fn new() -> Self {
        Blake3Hasher(blake3::Hasher::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// Root of the tree with no keys at all: jmt's placeholder hash (not a blake3 digest).
pub const EMPTY_STATE_ROOT: Hash = Hash(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");

/// The flat key of `key` in `namespace`: `namespace ‖ key`.
pub fn flat_key(namespace: &Address, key: &[u8]) -> Vec<u8> {
    let mut flat = Vec::with_capacity(32 + key.len());
    flat.extend_from_slice(&namespace.0);
    flat.extend_from_slice(key);
    flat
}

/// Where a flat key sits in the tree: `blake3(flat key)`.
pub fn key_hash(flat_key: &[u8]) -> KeyHash {
    KeyHash::with::<Blake3Hasher>(flat_key)
}

/// Why a [`StateProof`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state proof does not verify: {0}")]
pub struct ProofError(pub String);

/// A Merkle proof of the value of one flat key under one state root: inclusion when the key has a
/// value, non-inclusion (absence) when it has none.
///
/// Borsh-encoded as jmt's `SparseMerkleProof`; in JSON (serde) as the hex string of that borsh
/// encoding, which keeps RPC answers compact and leaves one canonical byte form.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct StateProof(pub SparseMerkleProof<Blake3Hasher>);

impl StateProof {
    /// Checks that under `root`, `flat_key` has `value` (`None`: the key is absent).
    pub fn verify(
        &self,
        root: Hash,
        flat_key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), ProofError> {
        self.0
            .verify(RootHash(root.0), key_hash(flat_key), value)
            .map_err(|e| ProofError(e.to_string()))
    }

    /// Borsh of the proof, for carrying it as bytes (decode with [`StateProof::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("encoding to memory cannot fail")
    }

    /// Decodes [`StateProof::to_bytes`] output, refusing trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<StateProof, ProofError> {
        borsh::from_slice(bytes).map_err(|e| ProofError(format!("malformed proof: {e}")))
    }
}

impl Serialize for StateProof {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for StateProof {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let bytes =
            hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)?;
        StateProof::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hasher_is_plain_blake3() {
        assert_eq!(Blake3Hasher::hash(b"kessai"), *Hash::digest(b"kessai").as_bytes());
        assert_eq!(key_hash(b"k").0, Hash::digest(b"k").0);
    }

    #[test]
    fn flat_key_is_namespace_then_key() {
        let flat = flat_key(&Address([7; 32]), b"r/1");
        assert_eq!(&flat[..32], &[7; 32]);
        assert_eq!(&flat[32..], b"r/1");
    }

    /// A tree in memory, just enough to produce real proofs without a database.
    #[derive(Default)]
    struct MemoryTree {
        nodes: std::collections::HashMap<jmt::storage::NodeKey, jmt::storage::Node>,
        values: std::collections::BTreeMap<(KeyHash, u64), Option<Vec<u8>>>,
    }

    impl jmt::storage::TreeReader for MemoryTree {
        fn get_node_option(
            &self,
            key: &jmt::storage::NodeKey,
        ) -> anyhow::Result<Option<jmt::storage::Node>> {
            Ok(self.nodes.get(key).cloned())
        }
        fn get_value_option(&self, max: u64, key: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
            Ok(self.values.range((key, 0)..=(key, max)).next_back().and_then(|(_, v)| v.clone()))
        }
        fn get_rightmost_leaf(
            &self,
        ) -> anyhow::Result<Option<(jmt::storage::NodeKey, jmt::storage::LeafNode)>> {
            unimplemented!("not used by these tests")
        }
    }

    fn tree_with(entries: &[(&[u8], &[u8])]) -> (MemoryTree, Hash) {
        let mut tree = MemoryTree::default();
        let writes = entries.iter().map(|(k, v)| (key_hash(k), Some(v.to_vec())));
        let (root, batch) = jmt::JellyfishMerkleTree::<_, Blake3Hasher>::new(&tree)
            .put_value_set(writes, 0)
            .unwrap();
        for (key, node) in batch.node_batch.nodes() {
            tree.nodes.insert(key.clone(), node.clone());
        }
        for ((version, key), value) in batch.node_batch.values() {
            tree.values.insert((*key, *version), value.clone());
        }
        (tree, Hash(root.0))
    }

    fn prove(tree: &MemoryTree, flat_key: &[u8]) -> (Option<Vec<u8>>, StateProof) {
        let (value, proof) = jmt::JellyfishMerkleTree::<_, Blake3Hasher>::new(tree)
            .get_with_proof(key_hash(flat_key), 0)
            .unwrap();
        (value, StateProof(proof))
    }

    #[test]
    fn inclusion_and_absence_verify_and_tampering_fails() {
        let (tree, root) = tree_with(&[(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]);
        let (value, proof) = prove(&tree, b"b");
        assert_eq!(value.as_deref(), Some(&b"2"[..]));
        proof.verify(root, b"b", Some(b"2")).unwrap();
        assert!(proof.verify(root, b"b", Some(b"X")).is_err(), "tampered value");
        assert!(proof.verify(root, b"b", None).is_err(), "claimed absent");
        assert!(proof.verify(root, b"a", Some(b"2")).is_err(), "another key");
        assert!(proof.verify(Hash::digest(b"other"), b"b", Some(b"2")).is_err(), "another root");

        let (value, absent) = prove(&tree, b"zz");
        assert_eq!(value, None);
        absent.verify(root, b"zz", None).unwrap();
        assert!(absent.verify(root, b"zz", Some(b"1")).is_err());
        assert!(absent.verify(Hash::digest(b"other"), b"zz", None).is_err());
    }

    #[test]
    fn empty_tree_root_and_absence() {
        let (tree, root) = tree_with(&[]);
        assert_eq!(root, EMPTY_STATE_ROOT);
        prove(&tree, b"k").1.verify(root, b"k", None).unwrap();
    }

    #[test]
    fn proof_round_trips_through_borsh_and_json() {
        let (tree, root) = tree_with(&[(b"a", b"1"), (b"b", b"2")]);
        let proof = prove(&tree, b"a").1;
        let again = StateProof::from_bytes(&proof.to_bytes()).unwrap();
        assert_eq!(again, proof);
        let json = serde_json::to_string(&proof).unwrap();
        let from_json: StateProof = serde_json::from_str(&json).unwrap();
        from_json.verify(root, b"a", Some(b"1")).unwrap();
    }

    #[test]
    fn malformed_proof_bytes_are_refused() {
        assert!(StateProof::from_bytes(&[1, 2, 3]).is_err());
        assert!(serde_json::from_str::<StateProof>("\"zz\"").is_err());
    }
}
