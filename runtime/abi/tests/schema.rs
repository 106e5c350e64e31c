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

/// An interface with the given `types` and `methods` (JSON text), and no maps or events.
fn with(types: &str, methods: &str) -> String {
    format!(r#"{{"name":"t","version":"1","types":{{{types}}},"methods":[{methods}]}}"#)
}

fn invalid(json: &str) -> String {
    match Abi::from_json(json) {
        Err(AbiError::Invalid(message)) => message,
        other => panic!("{json}: expected Invalid, got {other:?}"),
    }
}

const PING: &str = r#"{"name":"ping","kind":"call"}"#;

#[test]
fn type_errors_are_refused() {
    let cases = [
        (with("", r#"{"name":"f","kind":"call","args":[{"name":"x","type":"Nope"}]}"#),
            "method `f`, arg `x`: unknown type `Nope`"),
        (with("", r#"{"name":"f","kind":"view","returns":"vec<u8"}"#),
            "method `f`, returns: type `vec<u8`: expected `>`, found the end"),
        (with(r#""A":{"struct":[{"name":"b","type":"B"}]},"B":{"struct":[{"name":"a","type":"vec<A>"}]}"#, PING),
            "type `A`: field `b`: type `B`: field `a`: recursive type: A -> B -> A"),
        (with(r#""A":{"enum":[{"name":"X","fields":[{"name":"a","type":"option<A>"}]}]}"#, PING),
            "type `A`: variant `X`: field `a`: recursive type: A -> A"),
        (with(r#""u8":{"struct":[]}"#, PING),
            "type `u8`: a type name must be an identifier other than a built-in type"),
        (with(r#""my-type":{"struct":[]}"#, PING),
            "type `my-type`: a type name must be an identifier other than a built-in type"),
        (with(r#""E":{"enum":[]}"#, PING), "type `E`: an enum needs 1 to 256 variants, not 0"),
        (with(r#""S":{"struct":[{"name":"a","type":"u8"},{"name":"a","type":"u16"}]}"#, PING),
            "type `S`: field `a`: duplicate field"),
        (with(r#""E":{"enum":[{"name":"A"},{"name":"A"}]}"#, PING),
            "type `E`: variant `A`: duplicate variant"),
        (with(r#""S":{"struct":[{"name":"","type":"u8"}]}"#, PING),
            "type `S`: field ``: not an identifier"),
        (with(r#""S":{"struct":[{"name":"a","type":"vec<unit>"}]}"#, PING),
            "type `S`: field `a`: a vec of zero-sized elements could claim billions of them in 4 bytes"),
        (with(r#""Z":{"struct":[{"name":"a","type":"bytes<0>"}]}"#,
              r#"{"name":"f","kind":"call","args":[{"name":"x","type":"vec<tuple<Z,unit>>"}]}"#),
            "method `f`, arg `x`: a vec of zero-sized elements could claim billions of them in 4 bytes"),
        (with("", r#"{"name":"f","kind":"call","args":[{"name":"x","type":"option<option<u8>>"}]}"#),
            "method `f`, arg `x`: type `option<option<u8>>`: option of unit or of option is ambiguous in JSON (both would be null)"),
    ];
    for (json, message) in cases {
        assert_eq!(invalid(&json), message);
    }
    let variants: Vec<String> = (0..257).map(|i| format!(r#"{{"name":"V{i}"}}"#)).collect();
    let many = with(&format!(r#""E":{{"enum":[{}]}}"#, variants.join(",")), PING);
    assert_eq!(invalid(&many), "type `E`: an enum needs 1 to 256 variants, not 257");
    let just_enough = with(&format!(r#""E":{{"enum":[{}]}}"#, variants[..256].join(",")), PING);
    Abi::from_json(&just_enough).unwrap();
}

#[test]
fn deep_chains_of_named_types_are_refused() {
    // T0 holds T1 holds … T199: far deeper than the codec will recurse.
    let types: Vec<String> = (0..200)
        .map(|i| match i {
            199 => r#""T199":{"struct":[]}"#.to_string(),
            _ => format!(r#""T{i}":{{"struct":[{{"name":"x","type":"T{}"}}]}}"#, i + 1),
        })
        .collect();
    let message = invalid(&with(&types.join(","), PING));
    assert!(message.ends_with("types are nested deeper than 64"), "{message}");
    // A shallow chain is fine.
    let types: Vec<String> = (0..20)
        .map(|i| match i {
            19 => r#""T19":{"struct":[]}"#.to_string(),
            _ => format!(r#""T{i}":{{"struct":[{{"name":"x","type":"T{}"}}]}}"#, i + 1),
        })
        .collect();
    Abi::from_json(&with(&types.join(","), PING)).unwrap();
}

#[test]
fn method_errors_are_refused() {
    let cases = [
        (with("", &format!("{PING},{PING}")), "method `ping`: duplicate method"),
        (
            with("", r#"{"name":"init","kind":"init"},{"name":"setup","kind":"init"}"#),
            "method `setup`: the init method is the one named `init`",
        ),
        (
            with("", r#"{"name":"init","kind":"call"}"#),
            "method `init`: the init method is the one named `init`",
        ),
        (
            with("", r#"{"name":"my-method","kind":"call"}"#),
            "method `my-method`: a method name must be an identifier other than `memory`",
        ),
        (
            with("", r#"{"name":"","kind":"call"}"#),
            "method ``: a method name must be an identifier other than `memory`",
        ),
        (
            with("", r#"{"name":"memory","kind":"view"}"#),
            "method `memory`: a method name must be an identifier other than `memory`",
        ),
        (
            with(
                "",
                r#"{"name":"f","kind":"call","args":[{"name":"x","type":"u8"},{"name":"x","type":"u8"}]}"#,
            ),
            "method `f`, arg `x`: argument names must be distinct identifiers",
        ),
    ];
    for (json, message) in cases {
        assert_eq!(invalid(&json), message);
    }
}

#[test]
fn map_and_event_errors_are_refused() {
    let abi = |maps: &str, events: &str| {
        format!(r#"{{"name":"t","version":"1","methods":[],"maps":[{maps}],"events":[{events}]}}"#)
    };
    let map = |name: &str, prefix: &str, key: &str| {
        format!(r#"{{"name":"{name}","prefix":"{prefix}","key":"{key}","value":"u8"}}"#)
    };
    let cases = [
        (
            abi(&format!("{},{}", map("a", "a/", "u8"), map("a", "b/", "u8")), ""),
            "map `a`: duplicate map",
        ),
        (
            abi(&format!("{},{}", map("a", "a/", "u8"), map("b", "a/x", "u8")), ""),
            "map `b`: prefix \"a/x\" overlaps the prefix \"a/\" of map `a`",
        ),
        (
            abi(&format!("{},{}", map("a", "a/x", "u8"), map("b", "a/", "u8")), ""),
            "map `b`: prefix \"a/\" overlaps the prefix \"a/x\" of map `a`",
        ),
        (abi(&map("a", "", "u8"), ""), "map `a`: name and prefix must not be empty"),
        (abi(&map("a", "a/", "Nope"), ""), "map `a`, key: unknown type `Nope`"),
        (
            abi("", r#"{"topic":"x","data":"u8"},{"topic":"x","data":"u8"}"#),
            "event `x`: topics must be distinct and non-empty",
        ),
        (
            abi("", r#"{"topic":"x","data":"vec<>"}"#),
            "event `x`, data: type `vec<>`: expected a type",
        ),
    ];
    for (json, message) in cases {
        assert_eq!(invalid(&json), message);
    }
    Abi::from_json(&abi(&format!("{},{}", map("a", "a/", "u8"), map("b", "b/", "string")), ""))
        .unwrap();
}

#[test]
fn malformed_json_is_refused() {
    for json in [
        "",
        "{",
        r#"{"name":"t","version":"1"}"#,
        r#"{"name":"t","version":"1","methods":[{"name":"f","kind":"pure"}]}"#,
        r#"{"name":"t","version":"1","methods":[{"name":"f","kind":"call","arg":[]}]}"#,
        r#"{"name":"t","version":"1","methods":[],"types":{"S":{"union":[]}}}"#,
        r#"{"name":"t","version":"1","methods":[],"extra":1}"#,
    ] {
        assert!(matches!(Abi::from_json(json), Err(AbiError::Json(_))), "{json}");
    }
}

#[test]
fn malformed_modules_are_refused() {
    let wasm_error = |code: &[u8]| match Abi::from_wasm(code) {
        Err(AbiError::Wasm(message)) => message,
        other => panic!("{code:?}: expected a wasm error, got {other:?}"),
    };
    assert_eq!(wasm_error(b""), "missing the `\\0asm` magic");
    assert_eq!(wasm_error(b"\0asn\x01\0\0\0"), "missing the `\\0asm` magic");
    assert_eq!(wasm_error(b"\0asm\x02\0\0\0"), "unsupported version [2, 0, 0, 0]");
    // Just the header: a valid, empty module, without our section.
    assert_eq!(Abi::from_wasm(b"\0asm\x01\0\0\0"), Err(AbiError::MissingSection));

    let mut past_end = module(&[]);
    past_end.extend([0, 0x10, 1, b'x']);
    assert_eq!(
        wasm_error(&past_end),
        format!("section at offset {} runs past the end", past_end.len() - 4)
    );

    let mut long_leb = b"\0asm\x01\0\0\0".to_vec();
    long_leb.extend([0, 0x80, 0x80, 0x80, 0x80, 0x80, 0]);
    assert_eq!(wasm_error(&long_leb), "LEB128 at offset 9 is longer than 5 bytes");
    let mut wide_leb = b"\0asm\x01\0\0\0".to_vec();
    wide_leb.extend([0, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(wasm_error(&wide_leb), "LEB128 at offset 9 exceeds 32 bits");
    let mut cut_leb = b"\0asm\x01\0\0\0".to_vec();
    cut_leb.extend([0, 0x80]);
    assert_eq!(wasm_error(&cut_leb), "unexpected end at offset 10");

    // A custom section whose name claims more bytes than the section has.
    let bad_name = b"\0asm\x01\0\0\0\x00\x02\x05a".to_vec();
    assert_eq!(wasm_error(&bad_name), "custom section at offset 8: name runs past the section");

    let twice = module(&[custom(SECTION, EXAMPLE.as_bytes()), custom(SECTION, EXAMPLE.as_bytes())]);
    assert_eq!(wasm_error(&twice), "more than one `kessai:abi` custom section");

    let not_utf8 = module(&[custom(SECTION, b"{\xff}")]);
    assert!(matches!(Abi::from_wasm(&not_utf8), Err(AbiError::Json(_))));
    let not_json = module(&[custom(SECTION, b"{}")]);
    assert!(matches!(Abi::from_wasm(&not_json), Err(AbiError::Json(_))));
    let invalid_abi =
        module(&[custom(SECTION, with("", r#"{"name":"memory","kind":"call"}"#).as_bytes())]);
    assert!(matches!(Abi::from_wasm(&invalid_abi), Err(AbiError::Invalid(_))));
}

#[test]
fn a_large_section_is_found_past_multi_byte_sizes() {
    // Padding in the JSON makes the section size a 3-byte LEB128.
    let padded = format!("{EXAMPLE}{}", " ".repeat(70_000));
    let wasm = module(&[custom(SECTION, padded.as_bytes())]);
    assert_eq!(Abi::from_wasm(&wasm).unwrap().name, "asset-ownership");
}
