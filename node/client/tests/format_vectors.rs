//! The test vectors of `docs/formats.md`, recomputed from the code that makes and checks these
//! bytes (primitives, the state layout, the ABI codec, the chain spec, the light home): if an
//! encoding, a key or a hash changes, this test fails until the document, which verifiers in other
//! languages follow, is updated with it. `cargo test -p kessai-client --test format_vectors --
//! --nocapture` prints the current values.
//!
//! The rules the document states in prose (how a storage key is built, what a contract address
//! hashes, what `genesis_hash` hashes: the borsh of `kessai_chainSpec`'s `canonical` object) are
//! also computed here from the text, with plain borsh and blake3, and compared with what the code
//! does.

use borsh::BorshDeserialize;
use jmt::mock::MockTreeStore;
use jmt::JellyfishMerkleTree;
use kessai_abi::Abi;
use kessai_chainspec::ChainSpec;
use kessai_client::light_home::LightHome;
use kessai_light_client::ForkEvidence;
use kessai_primitives::state_proof::{key_hash, Blake3Hasher};
use kessai_primitives::{
    Address, Block, Commit, CommitSignature, Event, Evidence, Hash, Header, Keypair, Payload,
    Receipt, StateProof, Transaction, TxStatus, Vote, VoteKind,
};
use kessai_state::system;
use serde_json::{json, Value};

const CHAIN: &str = "kessai-doc";
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md");

/// The interface of the example contract (the shape of `docs/contract-abi.md`'s example).
const ABI: &str = r#"{
  "name": "doc-token",
  "version": "0.1.0",
  "types": {
    "Status": { "enum": [ { "name": "Open" }, { "name": "Settled", "fields": [ { "name": "at", "type": "u64" } ] } ] },
    "Record": { "struct": [ { "name": "owner", "type": "address" }, { "name": "amount", "type": "u128" }, { "name": "memo", "type": "string" }, { "name": "status", "type": "Status" } ] }
  },
  "methods": [ { "name": "transfer", "kind": "call", "args": [ { "name": "to", "type": "address" }, { "name": "amount", "type": "u128" } ] } ],
  "maps": [
    { "name": "records", "prefix": "r/", "key": "u64", "value": "Record" },
    { "name": "balances", "prefix": "b/", "key": "address", "value": "u128" }
  ],
  "events": [ { "topic": "transferred", "data": "tuple<address,address,u128>" } ]
}"#;

/// The chain spec of the genesis-hash vector, as a file would hold it (defaults left out). Its
/// contract's code is the file `doc-token.wasm` beside it, holding the bytes `DOC_TOKEN_WASM`.
const SPEC: &str = r#"{
  "chain_id": "kessai-doc",
  "genesis_time_ms": 1700000000000,
  "validators": [
    { "name": "v0", "public_key": "372b7b45fbd3614f420207a12c26acc81bc5a4f9cb204a49f985944cf1bb5adc", "power": 10 }
  ],
  "members": [
    { "name": "alice", "public_key": "RAW_ALICE", "roles": ["admin"] }
  ],
  "contracts": [
    { "name": "doc-token", "code": "doc-token.wasm", "init": [{ "owner": "RAW_ALICE_ADDRESS", "amount": "1000" }] }
  ]
}"#;

/// The bytes of `doc-token.wasm` in the examples (the code hash of the state vector).
const DOC_TOKEN_WASM: &[u8] = b"the wasm of doc-token";

fn hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

fn blake3(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    parts.iter().for_each(|p| {
        hasher.update(p);
    });
    *hasher.finalize().as_bytes()
}

/// `u32` little-endian length, then the bytes: borsh of a `String` or a `Vec<u8>`.
fn borsh_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// borsh of the `canonical` object of `kessai_chainSpec`, by the rule of section 7 of the
/// document, with nothing but the JSON: what `genesis_hash` is the blake3 of.
fn documented_spec_borsh(c: &Value) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, v: &Value) {
        out.extend(borsh_bytes(v.as_str().expect("a string").as_bytes()));
    }
    fn int(out: &mut Vec<u8>, v: &Value, width: usize) {
        out.extend(&v.as_u64().expect("an integer").to_le_bytes()[..width]);
    }
    fn key(out: &mut Vec<u8>, v: &Value) {
        out.extend(hex::decode(v.as_str().expect("hex")).expect("32 bytes of hex"));
    }
    fn list(out: &mut Vec<u8>, v: &Value, item: impl Fn(&mut Vec<u8>, &Value)) {
        let items = v.as_array().expect("an array");
        out.extend((items.len() as u32).to_le_bytes());
        items.iter().for_each(|i| item(out, i));
    }
    // An enum as JSON ("name" or {"name": {fields}}): its tag (the index of its name) and fields.
    fn tag<'a>(v: &'a Value, names: &[&str]) -> (u8, &'a Value) {
        let (name, fields) = match v {
            Value::String(name) => (name.as_str(), &Value::Null),
            Value::Object(map) => map.iter().next().map(|(n, f)| (n.as_str(), f)).unwrap(),
            other => panic!("not an enum: {other}"),
        };
        (names.iter().position(|n| *n == name).unwrap() as u8, fields)
    }
    let mut o = Vec::new();
    string(&mut o, &c["format"]);
    string(&mut o, &c["chain_id"]);
    int(&mut o, &c["genesis_time_ms"], 8);
    let k = &c["consensus"];
    for field in ["timeout_propose_ms", "timeout_propose_delta_ms", "timeout_prevote_ms"] {
        int(&mut o, &k[field], 8);
    }
    for field in ["timeout_prevote_delta_ms", "timeout_precommit_ms", "timeout_precommit_delta_ms"]
    {
        int(&mut o, &k[field], 8);
    }
    int(&mut o, &k["timeout_commit_ms"], 8);
    int(&mut o, &k["empty_block_interval_ms"], 8);
    int(&mut o, &k["max_block_txs"], 4);
    for field in ["max_block_bytes", "block_gas_limit", "max_tx_gas"] {
        int(&mut o, &k[field], 8);
    }
    list(&mut o, &c["validators"], |o, v| {
        string(o, &v["name"]);
        key(o, &v["public_key"]);
        int(o, &v["power"], 8);
        match v.get("node_key") {
            None => o.push(0),
            Some(node_key) => {
                o.push(1);
                key(o, node_key);
            }
        }
    });
    list(&mut o, &c["members"], |o, m| {
        string(o, &m["name"]);
        key(o, &m["public_key"]);
        list(o, &m["roles"], |o, r| o.push(tag(r, &["admin", "deployer", "approver"]).0));
    });
    list(&mut o, &c["nodes"], |o, n| {
        string(o, &n["name"]);
        key(o, &n["public_key"]);
    });
    list(&mut o, &c["contracts"], |o, x| {
        string(o, &x["name"]);
        key(o, &x["code_hash"]);
        string(o, &x["init"]);
        let (policy, fields) = tag(&x["upgrade_policy"], &["immutable", "admin", "approvals"]);
        o.push(policy);
        match policy {
            1 => key(o, &fields["key"]),
            2 => int(o, &fields["required"], 4),
            _ => {}
        }
    });
    let (deployment, fields) =
        tag(&c["contract_policy"]["deployment"], &["any_deployer", "approvals"]);
    o.push(deployment);
    if deployment == 1 {
        int(&mut o, &fields["required"], 4);
    }
    o
}

/// The example contract: the first contract of a chain spec (creator SYSTEM, nonce 0).
fn contract() -> Address {
    system::contract_address(&Address::SYSTEM, 0)
}

fn spec_text() -> String {
    let alice = Keypair::dev("alice");
    SPEC.replace("RAW_ALICE_ADDRESS", &alice.address().to_hex())
        .replace("RAW_ALICE", &alice.public().to_hex())
}

/// A header whose fields are all zero but the chain id and height: decoded from zero bytes, so
/// that this file does not follow every change of the header (the fork file's example shows
/// headers as placeholders).
fn some_header(height: u64, parent: &[u8]) -> Header {
    let zeros = vec![0u8; 4096];
    let mut header = Header::deserialize(&mut &zeros[..]).expect("zero bytes decode as a header");
    header.chain_id = CHAIN.into();
    header.height = height;
    header.parent = Hash::digest(parent);
    header
}

/// The vectors, by name, and the multi-line blocks the document must carry verbatim.
/// Values by name: hex strings, or JSON text.
type Named = Vec<(&'static str, String)>;

fn vectors() -> (Named, Named) {
    let alice = Keypair::dev("alice");
    let bob = Keypair::dev("bob");
    let vals: Vec<Keypair> = (0..4).map(|i| Keypair::dev(&format!("val{i}"))).collect();
    let abi = Abi::from_json(ABI).expect("the example interface is valid");
    let contract = contract();

    // --- A signed transaction: alice calls `transfer(bob, 1000)` on the contract.
    let args =
        abi.encode_args("transfer", &json!([bob.address().to_hex(), "1000"])).expect("arguments");
    let tx = Transaction {
        chain_id: CHAIN.into(),
        signer: alice.public(),
        nonce: 7,
        gas_limit: 1_000_000,
        payload: Payload::Call { contract, method: "transfer".into(), args: args.clone() },
    };
    let tx_bytes = borsh::to_vec(&tx).unwrap();
    let mut tx_sign_bytes = kessai_primitives::domain::TRANSACTION.to_vec();
    tx_sign_bytes.extend(&tx_bytes);
    let signed = tx.sign(&alice);
    signed.verify_signature().expect("the vector's signature verifies");
    let signed_bytes = borsh::to_vec(&signed).unwrap();
    assert_eq!(signed.id().0, blake3(&[&signed_bytes]), "transaction id = H(borsh(signed))");

    // --- Its receipt, and a failed one.
    let event_data = borsh::to_vec(&(alice.address(), bob.address(), 1000u128)).unwrap();
    let receipt = Receipt {
        tx_id: signed.id(),
        status: TxStatus::Success,
        gas_used: 61_234,
        return_data: vec![],
        events: vec![Event { contract, topic: "transferred".into(), data: event_data }],
        created: None,
    };
    let receipt_bytes = borsh::to_vec(&receipt).unwrap();
    let failed = Receipt {
        status: TxStatus::Failed { reason: "contract aborted: insufficient balance".into() },
        events: vec![],
        gas_used: 40_100,
        ..receipt.clone()
    };
    let failed_bytes = borsh::to_vec(&failed).unwrap();
    let receipts_root = Block::receipts_root(&[receipt.clone(), failed.clone()]);

    // --- A nil prevote (round 1 of height 2, by val0).
    let nil = Vote {
        chain_id: CHAIN.into(),
        height: 2,
        round: 1,
        kind: VoteKind::Prevote,
        block: None,
        validator: vals[0].public(),
    };
    let mut nil_sign_bytes = kessai_primitives::domain::VOTE.to_vec();
    nil_sign_bytes.extend(borsh::to_vec(&nil).unwrap());
    let nil_signed = nil.sign(&vals[0]);
    nil_signed.verify().expect("the nil vote verifies");

    // --- Evidence: val1 precommitted two blocks at height 2, round 0.
    let precommit = |block: &[u8]| Vote {
        chain_id: CHAIN.into(),
        height: 2,
        round: 0,
        kind: VoteKind::Precommit,
        block: Some(Hash::digest(block)),
        validator: vals[1].public(),
    };
    let evidence = Evidence::DuplicateVote {
        first: precommit(b"block A").sign(&vals[1]),
        second: precommit(b"block B").sign(&vals[1]),
    };
    evidence.verify().expect("the evidence proves a double vote");
    let evidence_bytes = borsh::to_vec(&evidence).unwrap();
    let evidence_hash = Hash::of(&evidence);
    assert_eq!(evidence_hash.0, blake3(&[&evidence_bytes]));
    let evidence_flat_key = system::evidence_key(&evidence_hash);

    // --- Storage keys of the contract's map entries, and their values.
    let creator_nonce = borsh::to_vec(&("kessai/contract", Address::SYSTEM, 0u64)).unwrap();
    let mut documented = borsh_bytes(b"kessai/contract");
    documented.extend([0u8; 32]);
    documented.extend(0u64.to_le_bytes());
    assert_eq!(creator_nonce, documented, "the address preimage is as documented");
    assert_eq!(contract.0, blake3(&[&creator_nonce]), "address = H(borsh(tuple))");

    let record_key = abi.map_key("records", &json!(7)).unwrap();
    let mut documented = b"r/".to_vec();
    documented.extend(7u64.to_le_bytes());
    assert_eq!(record_key, documented, "storage key = prefix ‖ borsh(key)");
    let record_flat = system::flat_key(&contract, &record_key);
    assert_eq!(record_flat, [&contract.0[..], &record_key].concat(), "flat key = address ‖ key");
    let record_json = json!({
        "owner": bob.address().to_hex(),
        "amount": "1000",
        "memo": "invoice 42",
        "status": {"Settled": {"at": 1700000001000u64}}
    });
    let record_value = abi.encode_map_value("records", &record_json).unwrap();
    let mut documented = bob.address().0.to_vec();
    documented.extend(1000u128.to_le_bytes());
    documented.extend(borsh_bytes(b"invoice 42"));
    documented.push(1);
    documented.extend(1_700_000_001_000u64.to_le_bytes());
    assert_eq!(record_value, documented, "the value is borsh of the struct, fields in order");
    assert_eq!(abi.decode_map_value("records", &record_value).unwrap(), record_json);

    let balance_key = abi.map_key("balances", &json!(bob.address().to_hex())).unwrap();
    assert_eq!(balance_key, [&b"b/"[..], &bob.address().0].concat());
    let balance_flat = system::flat_key(&contract, &balance_key);
    let balance_value = abi.encode_map_value("balances", &json!("1000")).unwrap();
    let name_flat = system::name_key("doc-token");
    let info = system::ContractInfo {
        code_hash: Hash::digest(b"the wasm of doc-token"),
        creator: Address::SYSTEM,
        created_at_height: 0,
    };

    // --- A state holding the contract (its name, instance, two entries) and a proof of an entry.
    let store = MockTreeStore::default();
    let state: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (name_flat.clone(), borsh::to_vec(&contract).unwrap()),
        (system::contract_key(&contract), borsh::to_vec(&info).unwrap()),
        (record_flat.clone(), record_value.clone()),
        (balance_flat.clone(), balance_value.clone()),
    ];
    let writes = state.iter().map(|(k, v)| (key_hash(k), Some(v.clone())));
    let (root, batch) =
        JellyfishMerkleTree::<_, Blake3Hasher>::new(&store).put_value_set(writes, 0).unwrap();
    store.write_tree_update_batch(batch).unwrap();
    let state_root = Hash(root.0);
    let prove = |flat: &[u8]| {
        let (value, proof) = JellyfishMerkleTree::<_, Blake3Hasher>::new(&store)
            .get_with_proof(key_hash(flat), 0)
            .unwrap();
        (value, StateProof(proof))
    };
    let (value, record_proof) = prove(&record_flat);
    assert_eq!(value.as_deref(), Some(&record_value[..]));
    record_proof.verify(state_root, &record_flat, Some(&record_value)).unwrap();
    // The proof of entry 7 proves nothing about entry 8: a verifier must derive the key itself.
    let other_flat = system::flat_key(&contract, &abi.map_key("records", &json!(8)).unwrap());
    assert!(record_proof.verify(state_root, &other_flat, Some(&record_value)).is_err());
    let (absent, absent_proof) = prove(&other_flat);
    assert_eq!(absent, None);
    absent_proof.verify(state_root, &other_flat, None).unwrap();

    // --- The chain spec and its genesis hash: the spec file and its code in two directories.
    let in_dir = |dir: &std::path::Path| {
        std::fs::write(dir.join("doc-token.wasm"), DOC_TOKEN_WASM).unwrap();
        std::fs::write(dir.join("chainspec.json"), spec_text()).unwrap();
        ChainSpec::load(dir.join("chainspec.json").to_str().unwrap()).expect("the example spec")
    };
    let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (spec, elsewhere) = (in_dir(here.path()), in_dir(there.path()));
    assert_eq!(spec.hash(), elsewhere.hash(), "where the files are is not in the hash");
    // What kessai_chainSpec answers; its `canonical` object alone gives genesis_hash by the
    // documented rule.
    let answer: Value = serde_json::from_str(&spec.rpc_json().unwrap().to_string()).unwrap();
    let canonical = &answer["canonical"];
    let canonical_borsh = documented_spec_borsh(canonical);
    assert_eq!(canonical_borsh, borsh::to_vec(&spec.canonical().unwrap()).unwrap());
    assert_eq!(spec.hash().0, blake3(&[&canonical_borsh]), "genesis_hash = H(borsh(canonical))");
    assert_eq!(answer["genesis_hash"], json!(spec.hash().to_hex()));
    assert_eq!(canonical["contracts"][0]["code_hash"], json!(Hash::digest(DOC_TOKEN_WASM)));

    // --- The fork-evidence file of a light home.
    let signatures = |block: &Header| {
        vals[1..]
            .iter()
            .map(|k| {
                let commit = Commit { height: 9, round: 0, block: block.id(), signatures: vec![] };
                let vote = commit.precommit_of(CHAIN, k.public()).sign(k);
                CommitSignature { validator: k.public(), signature: vote.signature }
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (some_header(9, b"parent a"), some_header(9, b"parent b"));
    let commit =
        |h: &Header| Commit { height: 9, round: 0, block: h.id(), signatures: signatures(h) };
    let fork = ForkEvidence {
        primary: (a.clone(), commit(&a)),
        witness: (b.clone(), commit(&b)),
        witness_index: 0,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = LightHome::new(dir.path()).record_fork(&fork, "http://10.0.0.7:8545").unwrap();
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for side in ["primary", "witness"] {
        let pair = &mut file["evidence"][side];
        assert!(pair[0].is_object() && pair[1].is_object(), "[header, commit]");
        pair[0] = json!("<Header as JSON>");
        pair[1] = json!("<Commit as JSON>");
    }

    let named = vec![
        ("transaction borsh", hex(&tx_bytes)),
        ("transaction sign bytes", hex(&tx_sign_bytes)),
        ("transaction signature", signed.signature.to_hex()),
        ("signed transaction borsh", hex(&signed_bytes)),
        ("transaction id", signed.id().to_hex()),
        ("receipt borsh", hex(&receipt_bytes)),
        ("receipt leaf hash", kessai_primitives::merkle::leaf_hash(&receipt_bytes).to_hex()),
        ("failed receipt borsh", hex(&failed_bytes)),
        ("receipts root of both", receipts_root.to_hex()),
        ("nil vote sign bytes", hex(&nil_sign_bytes)),
        ("nil vote signature", nil_signed.signature.to_hex()),
        ("signed nil vote borsh", hex(borsh::to_vec(&nil_signed).unwrap())),
        ("evidence borsh", hex(&evidence_bytes)),
        ("evidence hash", evidence_hash.to_hex()),
        ("evidence_hash of a block carrying it", Block::evidence_hash(&[evidence]).to_hex()),
        ("evidence flat key", hex(&evidence_flat_key)),
        ("contract address preimage", hex(&creator_nonce)),
        ("contract address", contract.to_hex()),
        ("storage key of records 7", hex(&record_key)),
        ("flat key of records 7", hex(&record_flat)),
        ("key hash of records 7", hex(key_hash(&record_flat).0)),
        ("value of records 7", hex(&record_value)),
        ("flat key of balances bob", hex(&balance_flat)),
        ("value of balances bob", hex(&balance_value)),
        ("flat key of name doc-token", hex(&name_flat)),
        ("flat key of contract doc-token", hex(system::contract_key(&contract))),
        ("contract info borsh", hex(borsh::to_vec(&info).unwrap())),
        ("state root", state_root.to_hex()),
        ("proof of records 7 borsh", hex(record_proof.to_bytes())),
        ("proof of absent records 8 borsh", hex(absent_proof.to_bytes())),
        ("chain spec canonical borsh", hex(&canonical_borsh)),
        ("genesis hash", spec.hash().to_hex()),
    ];
    let blocks = vec![
        ("example interface", ABI.to_string()),
        ("record as JSON", serde_json::to_string_pretty(&record_json).unwrap()),
        ("receipt as JSON (kessai_tx)", serde_json::to_string_pretty(&receipt).unwrap()),
        ("chain spec file", spec_text()),
        (
            "chain spec canonical (kessai_chainSpec)",
            serde_json::to_string_pretty(canonical).unwrap(),
        ),
        ("fork-evidence.json", serde_json::to_string_pretty(&file).unwrap()),
    ];
    (named, blocks)
}

#[test]
fn document_carries_the_current_vectors() {
    let doc = std::fs::read_to_string(DOC).expect("docs/formats.md");
    let (named, blocks) = vectors();
    let mut missing = Vec::new();
    println!("```");
    for (name, value) in &named {
        println!("{name}:\n  {value}");
        if !doc.contains(&format!("{name}:\n  {value}\n")) {
            missing.push(*name);
        }
    }
    println!("```");
    for (name, text) in &blocks {
        println!("--- {name}\n{text}");
        if !doc.contains(&format!("{text}\n")) {
            missing.push(*name);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/formats.md lacks the current value of {missing:?} (run with -- --nocapture to print them)"
    );
}
