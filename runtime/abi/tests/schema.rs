//! Interfaces: parsing, validation failures, and reading the custom section of a wasm module.

use kessai_abi::{Abi, AbiError, MethodKind, SECTION};

const EXAMPLE: &str = r#"{
  "name": "asset-ownership",
  "version": "0.1.0",
  "types": {
    "Status": { "enum": [ { "name": "NotYet" }, { "name": "Completed" } ] },
    "Record": { "struct": [ { "name": "owner", "type": "address" }, { "name": "amount", "type": "u64" } ] }
  },
  "methods": [
    { "name": "init", "kind": "init", "args": [ { "name": "admin", "type": "address" } ] },
    { "name": "create", "kind": "call", "args": [ { "name": "amount", "type": "u64" } ], "returns": "u64" },
    { "name": "get", "kind": "view", "args": [ { "name": "id", "type": "u64" } ], "returns": "option<Record>" }
  ],
  "maps": [ { "name": "records", "prefix": "r/", "key": "u64", "value": "Record" } ],
  "events": [ { "topic": "created", "data": "Record" } ]
}"#;

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    leb(payload.len(), &mut out);
    out.extend_from_slice(payload);
    out
}

fn custom(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    section(0, &body)
}

/// A valid module: a type section `(func)`, a function section, an export `init`, a code section
/// with an empty body, and whatever extra sections are given, in order.
fn module(extra: &[Vec<u8>]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend(section(1, &[1, 0x60, 0, 0]));
    m.extend(section(3, &[1, 0]));
    m.extend(custom("name", b"\x00\x05hello"));
    m.extend(section(7, &[1, 4, b'i', b'n', b'i', b't', 0, 0]));
    for s in extra {
        m.extend_from_slice(s);
    }
    m.extend(section(10, &[1, 2, 0, 0x0b]));
    m
}

#[test]
fn parses_the_documented_example() {
    let abi = Abi::from_json(EXAMPLE).unwrap();
    assert_eq!(abi.name, "asset-ownership");
    assert_eq!(abi.method("init").unwrap().kind, MethodKind::Init);
    assert_eq!(abi.method("get").unwrap().kind, MethodKind::View);
    assert_eq!(abi.method("get").unwrap().returns.as_deref(), Some("option<Record>"));
    assert_eq!(abi.init().unwrap().name, "init");
    assert!(abi.method("nope").is_none());
    assert_eq!(abi.map("records").unwrap().prefix, "r/");
    assert_eq!(abi.event("created").unwrap().data, "Record");
    // It survives its own serialisation.
    assert_eq!(Abi::from_json(&abi.to_json()).unwrap(), abi);
}

#[test]
fn reads_the_section_of_a_module() {
    let wasm = module(&[custom(SECTION, EXAMPLE.as_bytes())]);
    let abi = Abi::from_wasm(&wasm).unwrap();
    assert_eq!(abi, Abi::from_json(EXAMPLE).unwrap());
}

#[test]
fn a_module_without_the_section_is_refused() {
    assert_eq!(Abi::from_wasm(&module(&[])), Err(AbiError::MissingSection));
    // A section whose name merely starts like ours is not ours.
    let wasm = module(&[custom("kessai:abi2", EXAMPLE.as_bytes())]);
    assert_eq!(Abi::from_wasm(&wasm), Err(AbiError::MissingSection));
}

#[test]
fn smoke_codec_on_the_example() {
    use serde_json::json;
    let abi = Abi::from_json(EXAMPLE).unwrap();
    let owner = "11".repeat(32);
    let args = abi.encode_args("create", &json!({"amount": 5})).unwrap();
    assert_eq!(args, 5u64.to_le_bytes());
    assert_eq!(abi.encode_args("create", &json!([5])).unwrap(), args);
    let record = json!({"owner": owner, "amount": 7});
    let mut bytes = vec![1];
    bytes.extend([0x11; 32]);
    bytes.extend(7u64.to_le_bytes());
    assert_eq!(abi.decode_return("get", &bytes).unwrap(), record);
    assert_eq!(abi.map_key("records", &json!(3)).unwrap(), b"r/\x03\0\0\0\0\0\0\0");
    let err = abi.encode_args("create", &json!({"amount": -5})).unwrap_err();
    assert_eq!(err.to_string(), "args.amount: expected u64, got -5");
}
