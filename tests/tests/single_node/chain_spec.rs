//! The chain spec's identity (`genesis_hash`, decision record 0022): `kessai_chainSpec`'s answer
//! alone recomputes it, by the rule of `docs/formats.md` section 7 written out here with plain
//! borsh and blake3; a spec naming `.wasm` files is the same chain from any directory, and a home
//! keeps its own copy of them (the spec's directory can go); and a node refuses its home once its
//! copy of a contract's code differs by one byte.

use kessai_client::rpc::KessaiApiClient;
use kessai_primitives::{Hash, Keypair};
use kessai_tests::{kessai_ok, TestNode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// `kessai_chainSpec`'s answer and `kessai_status`'s `genesis_hash`.
fn spec_and_genesis_hash(node: &TestNode) -> (Value, Hash) {
    let client = kessai_client::rpc_client(&node.rpc).expect("client");
    let answer = block_on(client.chain_spec()).expect("kessai_chainSpec");
    let status = block_on(client.status()).expect("kessai_status");
    (answer, status.genesis_hash)
}

// --- borsh, by hand, as an independent verifier would write it.
fn string(out: &mut Vec<u8>, s: &Value) {
    let s = s.as_str().expect("a string");
    out.extend((s.len() as u32).to_le_bytes());
    out.extend(s.as_bytes());
}
fn u64_(out: &mut Vec<u8>, v: &Value) {
    out.extend(v.as_u64().expect("an integer").to_le_bytes());
}
fn u32_(out: &mut Vec<u8>, v: &Value) {
    out.extend(u32::try_from(v.as_u64().expect("an integer")).unwrap().to_le_bytes());
}
fn bytes32(out: &mut Vec<u8>, v: &Value) {
    let bytes = hex::decode(v.as_str().expect("hex")).expect("hex");
    assert_eq!(bytes.len(), 32);
    out.extend(bytes);
}
fn vec(out: &mut Vec<u8>, v: &Value, item: impl Fn(&mut Vec<u8>, &Value)) {
    let items = v.as_array().expect("an array");
    out.extend((items.len() as u32).to_le_bytes());
    items.iter().for_each(|i| item(out, i));
}
/// An enum as serde writes it (`"unit"` or `{"variant": {fields}}`): its borsh tag by name.
fn variant<'a>(v: &'a Value, names: &[&str]) -> (u8, Option<&'a Value>) {
    let (name, fields) = match v {
        Value::String(name) => (name.as_str(), None),
        Value::Object(map) if map.len() == 1 => {
            let (name, fields) = map.iter().next().unwrap();
            (name.as_str(), Some(fields))
        }
        other => panic!("not an enum: {other}"),
    };
    (names.iter().position(|n| *n == name).expect("a known variant") as u8, fields)
}

/// `genesis_hash` from the `canonical` object of `kessai_chainSpec`: blake3 of its borsh.
pub fn genesis_hash_of(c: &Value) -> Hash {
    let mut out = Vec::new();
    let o = &mut out;
    string(o, &c["format"]);
    string(o, &c["chain_id"]);
    u64_(o, &c["genesis_time_ms"]);
    let k = &c["consensus"];
    for field in [
        "timeout_propose_ms",
        "timeout_propose_delta_ms",
        "timeout_prevote_ms",
        "timeout_prevote_delta_ms",
        "timeout_precommit_ms",
        "timeout_precommit_delta_ms",
        "timeout_commit_ms",
        "empty_block_interval_ms",
    ] {
        u64_(o, &k[field]);
    }
    u32_(o, &k["max_block_txs"]);
    u64_(o, &k["max_block_bytes"]);
    u64_(o, &k["block_gas_limit"]);
    u64_(o, &k["max_tx_gas"]);
    assert_eq!(k.as_object().unwrap().len(), 12, "no consensus field left out");
    vec(o, &c["validators"], |o, v| {
        string(o, &v["name"]);
        bytes32(o, &v["public_key"]);
        u64_(o, &v["power"]);
        match v.get("node_key") {
            None | Some(Value::Null) => o.push(0),
            Some(key) => {
                o.push(1);
                bytes32(o, key);
            }
        }
    });
    vec(o, &c["members"], |o, m| {
        string(o, &m["name"]);
        bytes32(o, &m["public_key"]);
        vec(o, &m["roles"], |o, r| o.push(variant(r, &["admin", "deployer", "approver"]).0));
    });
    vec(o, &c["nodes"], |o, n| {
        string(o, &n["name"]);
        bytes32(o, &n["public_key"]);
    });
    vec(o, &c["contracts"], |o, x| {
        string(o, &x["name"]);
        bytes32(o, &x["code_hash"]);
        string(o, &x["init"]);
        match variant(&x["upgrade_policy"], &["immutable", "admin", "approvals"]) {
            (0, _) => o.push(0),
            (1, Some(f)) => {
                o.push(1);
                bytes32(o, &f["key"]);
            }
            (2, Some(f)) => {
                o.push(2);
                u32_(o, &f["required"]);
            }
            other => panic!("bad upgrade policy {other:?}"),
        }
    });
    match variant(&c["contract_policy"]["deployment"], &["any_deployer", "approvals"]) {
        (0, _) => o.push(0),
        (1, Some(f)) => {
            o.push(1);
            u32_(o, &f["required"]);
        }
        other => panic!("bad deployment policy {other:?}"),
    }
    Hash::digest(&out)
}

#[test]
fn the_rpc_answer_recomputes_to_genesis_hash() {
    let node = TestNode::dev();
    let (answer, genesis_hash) = spec_and_genesis_hash(&node);
    let canonical = &answer["canonical"];
    assert_eq!(canonical["format"], "kessai/chainspec/v1");
    assert_eq!(genesis_hash_of(canonical), genesis_hash, "recomputed from the answer alone");
    assert_eq!(answer["genesis_hash"], json!(genesis_hash.to_hex()));
    // The builtin contracts count by their code: the hash the genesis state records for each.
    let spec_contracts = answer["spec"]["contracts"].as_array().unwrap();
    for (contract, written) in canonical["contracts"].as_array().unwrap().iter().zip(spec_contracts)
    {
        assert!(written["code"].as_str().unwrap().starts_with("builtin:"));
        let name = contract["name"].as_str().unwrap();
        let info = node.cli_json(&["query", "contract", name]);
        assert_eq!(info["code_hash"], contract["code_hash"], "{name}: {info}");
    }
}

/// A one-validator spec whose only contract is `code/netting.wasm`, in `dir`.
fn spec_with_a_code_file(dir: &Path) -> String {
    let key = |name: &str| Keypair::dev(name).public().to_hex();
    let spec = json!({
        "chain_id": "kessai-files",
        "genesis_time_ms": 1_767_225_600_000u64,
        "validators": [{"name": "validator-0", "public_key": key("validator-0"), "power": 10}],
        "members": [{"name": "alice", "public_key": key("alice"), "roles": ["admin", "deployer"]}],
        "contracts": [{
            "name": "netting",
            "code": "code/netting.wasm",
            "init": [Keypair::dev("alice").address().to_hex()],
        }],
    });
    let artifact = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/artifacts/netting.wasm");
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::copy(artifact, dir.join("code/netting.wasm")).unwrap();
    let path = dir.join("spec.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    path.display().to_string()
}

fn init_home(home: &Path, spec: &str) {
    let home = home.display().to_string();
    let args = ["--home", &home, "--chain", spec, "--dev-key", "validator-0"];
    kessai_ok(&[&["init"], &args[..], &["--rpc-addr", "127.0.0.1:0"]].concat());
}

#[test]
fn a_spec_naming_wasm_files_is_the_same_chain_anywhere_and_not_with_other_code() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, other) = (tmp.path().join("one/place"), tmp.path().join("another"));
    let (home_one, home_other) = (tmp.path().join("home-one"), tmp.path().join("home-other"));
    init_home(&home_one, &spec_with_a_code_file(&one));
    init_home(&home_other, &spec_with_a_code_file(&other));

    let mut node = TestNode::run_home(&home_one).expect("the node starts");
    node.wait_height(1, Duration::from_secs(30)).expect("blocks");
    let (answer, genesis_hash) = spec_and_genesis_hash(&node);
    assert_eq!(genesis_hash_of(&answer["canonical"]), genesis_hash);
    let netting = std::fs::read(one.join("code/netting.wasm")).unwrap();
    assert_eq!(answer["canonical"]["contracts"][0]["code_hash"], json!(Hash::digest(&netting)));
    node.kill9();

    // The home keeps its own copy of the code: the spec's directory can go.
    std::fs::remove_dir_all(&one).unwrap();
    let mut again =
        TestNode::run_home(&home_one).expect("the node starts without the spec's files");
    again.wait_height(2, Duration::from_secs(30)).expect("blocks");
    assert_eq!(spec_and_genesis_hash(&again).1, genesis_hash, "the same chain");
    again.kill9();

    let mut elsewhere = TestNode::run_home(&home_other).expect("the node starts");
    let (_, genesis_hash_elsewhere) = spec_and_genesis_hash(&elsewhere);
    elsewhere.kill9();
    assert_eq!(genesis_hash_elsewhere, genesis_hash, "the same spec in another directory");

    // One byte of the home's copy of the code changes: its node refuses to start, saying why.
    let mut changed = netting;
    changed[100] ^= 1;
    std::fs::write(home_one.join("genesis/netting.wasm"), changed).unwrap();
    let refused = TestNode::run_home(&home_one).err().expect("the node refuses").to_string();
    assert!(
        refused.contains("the database was created from another chain spec")
            && refused.contains("the code of a contract it names"),
        "{refused}"
    );
}
