//! The test vectors of `docs/light-client.md`, recomputed from the code: if an encoding or a hash
//! changes, this test fails until the document (which verifiers in other languages follow) is
//! updated with it. `cargo test -p kessai-light-client --test vectors -- --nocapture` prints them.

use jmt::mock::MockTreeStore;
use jmt::JellyfishMerkleTree;
use kessai_light_client::verify::verify_commit;
use kessai_primitives::merkle::{self, InclusionProof};
use kessai_primitives::state_proof::{flat_key, key_hash, Blake3Hasher};
use kessai_primitives::{
    Address, Block, Commit, CommitSignature, Hash, Header, Keypair, StateProof, Validator,
    ValidatorSet,
};

const CHAIN: &str = "kessai-doc";

fn keys() -> Vec<Keypair> {
    (0..4).map(|i| Keypair::dev(&format!("val{i}"))).collect()
}

fn example_set() -> ValidatorSet {
    let powers = [10, 20, 30, 40];
    ValidatorSet::new(
        keys()
            .iter()
            .zip(powers)
            .map(|(k, power)| Validator { public_key: k.public(), power })
            .collect(),
    )
    .unwrap()
}

/// The state of the example: three system keys in a Jellyfish Merkle tree at version 0.
fn example_tree() -> (MockTreeStore, Hash) {
    let store = MockTreeStore::default();
    let writes = [("alpha", "1"), ("beta", "2"), ("gamma", "3")].map(|(k, v)| {
        (key_hash(&flat_key(&Address::SYSTEM, k.as_bytes())), Some(v.as_bytes().to_vec()))
    });
    let (root, batch) =
        JellyfishMerkleTree::<_, Blake3Hasher>::new(&store).put_value_set(writes, 0).unwrap();
    store.write_tree_update_batch(batch).unwrap();
    (store, Hash(root.0))
}

fn prove(store: &MockTreeStore, key: &str) -> (Option<Vec<u8>>, StateProof) {
    let (value, proof) = JellyfishMerkleTree::<_, Blake3Hasher>::new(store)
        .get_with_proof(key_hash(&flat_key(&Address::SYSTEM, key.as_bytes())), 0)
        .unwrap();
    (value, StateProof(proof))
}

fn vectors() -> Vec<(&'static str, String)> {
    let set = example_set();
    let (store, state_root) = example_tree();
    let header = Header {
        protocol_version: 1,
        chain_id: CHAIN.into(),
        height: 2,
        time_ms: 1_700_000_002_000,
        parent: Hash::digest(b"block 1"),
        proposer: keys()[0].public(),
        tx_count: 0,
        txs_root: merkle::root::<&[u8]>(&[]),
        receipts_root: merkle::root::<&[u8]>(&[]),
        state_root,
        validators_hash: set.hash(),
        next_validators_hash: set.hash(),
        last_commit_hash: Hash::digest(b"commit 1"),
        evidence_hash: Block::evidence_hash(&[]),
    };
    let mut commit = Commit { height: 2, round: 0, block: header.id(), signatures: vec![] };
    // Validators of power 20, 30 and 40 sign (90 of 100), in the set's order (by public key).
    let keys = keys();
    let signers: Vec<&Keypair> = set
        .validators()
        .iter()
        .filter(|v| v.power >= 20)
        .map(|v| keys.iter().find(|k| k.public() == v.public_key).unwrap())
        .collect();
    for key in &signers {
        let vote = commit.precommit_of(CHAIN, key.public()).sign(key);
        commit
            .signatures
            .push(CommitSignature { validator: key.public(), signature: vote.signature });
    }
    // The vectors must describe a valid commit.
    let signed = verify_commit(&header, &commit, &set).unwrap();
    let first_vote = commit.precommit_of(CHAIN, signers[0].public());
    let mut sign_bytes = kessai_primitives::domain::VOTE.to_vec();
    sign_bytes.extend(borsh::to_vec(&first_vote).unwrap());

    let leaves: [&[u8]; 3] = [b"a", b"b", b"c"];
    let leaf_hashes: Vec<Hash> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
    let list_root = merkle::root(&leaves);
    let list_proof = InclusionProof::build(&leaf_hashes, 2).unwrap();
    assert!(list_proof.verify(&list_root, b"c"));

    let (beta, beta_proof) = prove(&store, "beta");
    beta_proof.verify(state_root, &flat_key(&Address::SYSTEM, b"beta"), beta.as_deref()).unwrap();
    let (delta, delta_proof) = prove(&store, "delta");
    assert_eq!(delta, None);
    delta_proof.verify(state_root, &flat_key(&Address::SYSTEM, b"delta"), None).unwrap();

    fn hex(bytes: impl AsRef<[u8]>) -> String {
        hex::encode(bytes)
    }
    vec![
        ("validator set borsh", hex(borsh::to_vec(&set).unwrap())),
        ("validator set hash", set.hash().to_hex()),
        ("header borsh", hex(borsh::to_vec(&header).unwrap())),
        ("header hash", header.id().to_hex()),
        ("precommit sign bytes", hex(sign_bytes)),
        ("precommit signature", commit.signatures[0].signature.to_hex()),
        ("commit borsh", hex(borsh::to_vec(&commit).unwrap())),
        ("commit signed power", format!("signed power {signed} of {}", set.total_power())),
        ("empty list root", merkle::root::<&[u8]>(&[]).to_hex()),
        ("leaf hash of a", leaf_hashes[0].to_hex()),
        ("list root of a b c", list_root.to_hex()),
        ("inclusion proof of c borsh", hex(borsh::to_vec(&list_proof).unwrap())),
        ("flat key of beta", hex(flat_key(&Address::SYSTEM, b"beta"))),
        ("key hash of beta", hex(key_hash(&flat_key(&Address::SYSTEM, b"beta")).0)),
        ("state root", state_root.to_hex()),
        ("proof of beta borsh", beta_proof.to_hex_string()),
        ("proof of absent delta borsh", delta_proof.to_hex_string()),
    ]
}

trait HexString {
    fn to_hex_string(&self) -> String;
}

impl HexString for StateProof {
    fn to_hex_string(&self) -> String {
        hex::encode(self.to_bytes())
    }
}

/// Section 8 of the document, implemented from its text alone (plain blake3, no jmt).
fn state_proof_as_documented(
    root: &[u8],
    flat_key: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> bool {
    let h = |parts: &[&[u8]]| {
        let mut hasher = blake3::Hasher::new();
        parts.iter().for_each(|p| {
            hasher.update(p);
        });
        *hasher.finalize().as_bytes()
    };
    let leaf_hash = |k: &[u8], v: &[u8]| h(&[b"JMT::LeafNode", k, v]);
    let internal_hash = |l: &[u8], r: &[u8]| h(&[b"JMT::IntrnalNode", l, r]);
    const PLACEHOLDER: &[u8; 32] = b"SPARSE_MERKLE_PLACEHOLDER_HASH__";

    // Decode: Option<leaf>, u32 count, then tagged siblings; nothing may follow.
    let take = |at: usize, len: usize| proof.get(at..at + len);
    let (leaf, mut at) = match proof.first() {
        Some(0) => (None, 1),
        Some(1) => match (take(1, 32), take(33, 32)) {
            (Some(k), Some(v)) => (Some((k, v)), 65),
            _ => return false,
        },
        _ => return false,
    };
    let Some(count) = take(at, 4) else { return false };
    let n = u32::from_le_bytes(count.try_into().unwrap()) as usize;
    at += 4;
    let mut siblings = Vec::new();
    for _ in 0..n {
        let tag = proof.get(at).copied();
        let hash = match (tag, take(at + 1, 64)) {
            (Some(0), _) => *PLACEHOLDER,
            (Some(1), Some(body)) => internal_hash(&body[..32], &body[32..]),
            (Some(2), Some(body)) => leaf_hash(&body[..32], &body[32..]),
            _ => return false,
        };
        at += if tag == Some(0) { 1 } else { 65 };
        siblings.push(hash);
    }
    if at != proof.len() || n > 256 {
        return false;
    }

    let key = h(&[flat_key]);
    let bit = |j: usize| (key[j / 8] >> (7 - j % 8)) & 1 == 1;
    match (value, leaf) {
        (Some(v), Some((k, vh))) => {
            if k != key || vh != h(&[v]) {
                return false;
            }
        }
        (Some(_), None) => return false,
        (None, Some((k, _))) => {
            let shared = (0..256).take_while(|&j| {
                let other = (k[j / 8] >> (7 - j % 8)) & 1 == 1;
                other == bit(j)
            });
            if k == key || shared.count() < n {
                return false;
            }
        }
        (None, None) => {}
    }
    let mut acc = leaf.map_or(*PLACEHOLDER, |(k, v)| leaf_hash(k, v));
    for (i, sibling) in siblings.iter().enumerate() {
        acc = if bit(n - 1 - i) {
            internal_hash(sibling, &acc)
        } else {
            internal_hash(&acc, sibling)
        };
    }
    acc == root
}

/// Section 7 of the document, implemented from its text alone.
fn list_proof_as_documented(
    root: &[u8],
    leaf: &[u8],
    index: u64,
    total: u64,
    path: &[[u8; 32]],
) -> bool {
    fn fold(h: [u8; 32], i: u64, n: u64, path: &mut Vec<[u8; 32]>) -> Option<[u8; 32]> {
        if n <= 1 {
            return Some(h);
        }
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        let s = path.pop()?;
        let node = |l: &[u8], r: &[u8]| {
            *blake3::Hasher::new().update(&[1]).update(l).update(r).finalize().as_bytes()
        };
        Some(if i < k {
            node(&fold(h, i, k, path)?, &s)
        } else {
            node(&s, &fold(h, i - k, n - k, path)?)
        })
    }
    if index >= total {
        return false;
    }
    let leaf_hash = *blake3::Hasher::new().update(&[0]).update(leaf).finalize().as_bytes();
    let mut path = path.to_vec();
    fold(leaf_hash, index, total, &mut path).is_some_and(|r| path.is_empty() && r == root)
}

#[test]
fn documented_algorithms_agree_with_the_code() {
    let (store, root) = example_tree();
    let key = |k: &str| flat_key(&Address::SYSTEM, k.as_bytes());
    for (name, present) in
        [("alpha", true), ("beta", true), ("gamma", true), ("delta", false), ("", false)]
    {
        let (value, proof) = prove(&store, name);
        assert_eq!(value.is_some(), present);
        let bytes = proof.to_bytes();
        assert!(state_proof_as_documented(&root.0, &key(name), value.as_deref(), &bytes), "{name}");
        // The same refusals as the code: another value, a claimed absence, another key, another root.
        assert!(!state_proof_as_documented(&root.0, &key(name), Some(b"9"), &bytes), "{name}");
        if present {
            assert!(!state_proof_as_documented(&root.0, &key(name), None, &bytes), "{name}");
        }
        assert!(!state_proof_as_documented(&root.0, &key("other"), value.as_deref(), &bytes));
        assert!(!state_proof_as_documented(&[7; 32], &key(name), value.as_deref(), &bytes));
    }
    // Absence proofs of both shapes: ending in an empty subtree, and ending at another key's leaf.
    let mut shapes = std::collections::BTreeSet::new();
    for i in 0..32 {
        let name = format!("absent/{i}");
        let (value, proof) = prove(&store, &name);
        assert_eq!(value, None);
        let bytes = proof.to_bytes();
        shapes.insert(bytes[0]);
        assert!(state_proof_as_documented(&root.0, &key(&name), None, &bytes), "{name}");
        assert!(!state_proof_as_documented(&root.0, &key(&name), Some(b"1"), &bytes), "{name}");
        assert!(!state_proof_as_documented(&root.0, &key("beta"), None, &bytes), "{name}");
    }
    assert_eq!(shapes.len(), 2, "both absence shapes were exercised");
    // The leaf of beta's proof is (key hash, H(value)).
    let beta = prove(&store, "beta").1.to_bytes();
    assert_eq!(&beta[1..33], &key_hash(&key("beta")).0);
    assert_eq!(&beta[33..65], blake3::hash(b"2").as_bytes());

    for n in 1..12usize {
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; i + 1]).collect();
        let hashes: Vec<Hash> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
        let root = merkle::root(&leaves);
        for (i, leaf) in leaves.iter().enumerate() {
            let proof = InclusionProof::build(&hashes, i).unwrap();
            let path: Vec<[u8; 32]> = proof.path.iter().map(|h| h.0).collect();
            assert!(list_proof_as_documented(&root.0, leaf, i as u64, n as u64, &path));
            assert!(!list_proof_as_documented(&root.0, b"x", i as u64, n as u64, &path));
        }
    }
}

#[test]
fn document_carries_the_current_vectors() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/light-client.md"))
            .expect("docs/light-client.md");
    let mut missing = Vec::new();
    for (name, value) in vectors() {
        println!("{name}: {value}");
        if !doc.contains(&value) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "docs/light-client.md lacks the current value of {missing:?}");
}
