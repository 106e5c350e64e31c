//! Fuzz targets of the contract interface (`docs/fuzzing.md`): the interface JSON and the
//! `kessai:abi` section of a module (what a deployer sends), borsh → JSON (what the RPC and the CLI
//! print from a contract's bytes) and JSON → borsh (what a client's arguments become). Nothing
//! panics; decoding allocates within a bound of its input; whatever decodes encodes back to the
//! same bytes, and whatever encodes decodes to a value that encodes to the same bytes.

#[path = "../../../consensus/primitives/tests/support/fuzz.rs"]
mod fuzz_support;

use bolero::check;
use fuzz_support::{bounded, mutate, Probe, SHORT_RUN};
use kessai_abi::{custom_section, Abi, SECTION};
use serde_json::{Map, Number, Value};

#[global_allocator]
static ALLOCATOR: Probe = Probe;

/// An interface with every kind of type, named types within named types, methods, a map and an
/// event.
const ABI: &str = r#"{
  "name": "fuzz", "version": "1.0.0",
  "types": {
    "Record": { "struct": [ { "name": "owner", "type": "address" }, { "name": "amount", "type": "u64" } ] },
    "Status": { "enum": [
      { "name": "NotYet" },
      { "name": "Partial", "fields": [ { "name": "done", "type": "u32" }, { "name": "note", "type": "string" } ] },
      { "name": "Settled", "fields": [ { "name": "records", "type": "vec<Record>" } ] }
    ] },
    "Empty": { "struct": [] },
    "Wide": { "struct": [
      { "name": "a", "type": "i8" }, { "name": "b", "type": "i16" }, { "name": "c", "type": "i128" },
      { "name": "flag", "type": "bool" }, { "name": "blob", "type": "bytes" }, { "name": "nothing", "type": "unit" },
      { "name": "empty", "type": "Empty" }, { "name": "zero", "type": "bytes<0>" }, { "name": "root", "type": "hash" },
      { "name": "status", "type": "option<Status>" }, { "name": "nested", "type": "vec<vec<option<u16>>>" }
    ] }
  },
  "methods": [
    { "name": "init", "kind": "init", "args": [ { "name": "admin", "type": "address" } ] },
    { "name": "settle", "kind": "call",
      "args": [ { "name": "id", "type": "u64" }, { "name": "status", "type": "Status" }, { "name": "who", "type": "vec<address>" } ],
      "returns": "tuple<u128, i128>" },
    { "name": "wide", "kind": "view", "returns": "Wide" }
  ],
  "maps": [ { "name": "records", "prefix": "r/", "key": "tuple<address, u64>", "value": "Record" } ],
  "events": [ { "topic": "settled", "data": "Status" } ]
}"#;

const NAMED: &[&str] = &["Record", "Status", "Empty", "Wide"];

const LEAVES: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool", "string",
    "bytes", "unit", "address", "hash",
];

/// Words JSON objects are keyed by: the interface's field, variant and argument names, and others.
const KEYS: &[&str] = &[
    "owner", "amount", "NotYet", "Partial", "done", "note", "Settled", "records", "a", "b", "c",
    "flag", "blob", "nothing", "empty", "zero", "root", "status", "nested", "id", "who", "admin",
    "x",
];

fn abi() -> Abi {
    Abi::from_json(ABI).expect("the fuzz interface is valid")
}

/// Reads the fuzzer's choices one byte at a time; zeros once they run out.
struct Choices<'a>(std::slice::Iter<'a, u8>);

impl Choices<'_> {
    fn next(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.next()) % n
    }
}

/// A type expression over the interface's named types, mostly valid, sometimes not.
fn type_expr(choices: &mut Choices<'_>, depth: u32) -> String {
    let choice = if depth >= 5 { choices.below(20) } else { choices.below(27) };
    match choice {
        0..=15 => LEAVES[choice].into(),
        16..=19 => NAMED[choice - 16].into(),
        20 => format!("bytes<{}>", choices.below(70)),
        21 | 22 => format!("vec<{}>", type_expr(choices, depth + 1)),
        23 | 24 => format!("option<{}>", type_expr(choices, depth + 1)),
        25 => {
            let items: Vec<String> =
                (0..1 + choices.below(3)).map(|_| type_expr(choices, depth + 1)).collect();
            format!("tuple<{}>", items.join(", "))
        }
        _ => ["Nope", "vec<", "tuple<>", "bytes<x>", "option<unit>", " u8 ", "vec<u8>>"]
            [choices.below(7)]
        .into(),
    }
}

/// A JSON value of roughly the shapes the interface's types take.
fn json(choices: &mut Choices<'_>, depth: u32) -> Value {
    let choice = if depth >= 6 { choices.below(9) } else { choices.below(12) };
    let number = |n: Number| Value::Number(n);
    match choice {
        0 => Value::Null,
        1 => Value::Bool(choices.next().is_multiple_of(2)),
        2 => number(Number::from(choices.next())),
        3 => number(Number::from(-i64::from(choices.next()) - 1)),
        4 => number(
            [u64::MAX, u64::from(u32::MAX), 1 << 16, 0].map(Number::from)[choices.below(4)].clone(),
        ),
        5 => Number::from_f64(f64::from(choices.next()) / 3.0).map_or(Value::Null, number),
        6 => Value::String(
            [
                "340282366920938463463374607431768211455",
                "-170141183460469231731687303715884105728",
                "18446744073709551616",
                "-1",
                "007",
                "",
            ][choices.below(6)]
            .into(),
        ),
        7 => {
            let len = [0, 1, 32, 64][choices.below(4)];
            let prefix = if choices.next().is_multiple_of(4) { "0x" } else { "" };
            Value::String(format!("{prefix}{}", "ab".repeat(len)))
        }
        8 => Value::String(KEYS[choices.below(KEYS.len())].into()),
        9 | 10 => Value::Array((0..choices.below(4)).map(|_| json(choices, depth + 1)).collect()),
        _ => {
            let mut object = Map::new();
            for _ in 0..choices.below(4) {
                let key = KEYS[choices.below(KEYS.len())];
                object.insert(key.into(), json(choices, depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// borsh → JSON within the memory bound; what decodes encodes back to the same bytes.
fn decode_round_trip(abi: &Abi, ty: &str, bytes: &[u8]) {
    let decoded = bounded(ty, bytes, |bytes| abi.decode(ty, bytes));
    if let Ok(value) = decoded {
        let again = abi.encode(ty, &value);
        assert_eq!(again.as_deref(), Ok(bytes), "{ty}: {value} does not encode back");
    }
}

/// JSON → borsh; what encodes decodes, and the decoded value encodes to the same bytes.
fn encode_round_trip(abi: &Abi, ty: &str, value: &Value) {
    if let Ok(bytes) = abi.encode(ty, value) {
        let decoded = abi.decode(ty, &bytes);
        let decoded = decoded.unwrap_or_else(|e| panic!("{ty}: {value} encoded but fails: {e}"));
        assert_eq!(abi.encode(ty, &decoded), Ok(bytes), "{ty}: {value} as {decoded}");
    }
}

/// The methods', map's and event's codecs on the same bytes.
fn decode_through_interface(abi: &Abi, bytes: &[u8]) {
    for method in ["init", "settle", "wide", "missing"] {
        if let Ok(args) = bounded(method, bytes, |bytes| abi.decode_args(method, bytes)) {
            assert_eq!(abi.encode_args(method, &args).as_deref(), Ok(bytes), "{method}: {args}");
        }
        if let Ok(value) = bounded(method, bytes, |bytes| abi.decode_return(method, bytes)) {
            assert_eq!(abi.encode_return(method, &value).as_deref(), Ok(bytes), "{method}");
        }
    }
    if let Ok(key) = bounded("map key", bytes, |bytes| abi.decode_map_key("records", bytes)) {
        assert_eq!(abi.map_key("records", &key).as_deref(), Ok(bytes), "map key {key}");
    }
    if let Ok(value) = bounded("map value", bytes, |bytes| abi.decode_map_value("records", bytes)) {
        assert_eq!(abi.encode_map_value("records", &value).as_deref(), Ok(bytes), "{value}");
    }
    let _ = bounded("event", bytes, |bytes| abi.decode_event("settled", bytes));
}

#[test]
fn borsh_to_json() {
    let abi = abi();
    check!().with_type::<(Vec<u8>, Vec<u8>)>().with_test_time(SHORT_RUN).for_each(
        |(choices, bytes)| {
            let ty = type_expr(&mut Choices(choices.iter()), 0);
            decode_round_trip(&abi, &ty, bytes);
            decode_through_interface(&abi, bytes);
        },
    );
}

#[test]
fn json_to_borsh() {
    let abi = abi();
    check!().with_type::<(Vec<u8>, Vec<u8>)>().with_test_time(SHORT_RUN).for_each(
        |(type_choices, value_choices)| {
            let ty = type_expr(&mut Choices(type_choices.iter()), 0);
            let value = json(&mut Choices(value_choices.iter()), 0);
            encode_round_trip(&abi, &ty, &value);
            for method in ["init", "settle", "wide"] {
                if let Ok(bytes) = abi.encode_args(method, &value) {
                    let args = abi.decode_args(method, &bytes).expect("encoded arguments decode");
                    assert_eq!(abi.encode_args(method, &args), Ok(bytes), "{method}: {value}");
                }
            }
            let _ = abi.map_key("records", &value);
        },
    );
}

/// Valid encodings of the interface's types, mutated: deeper than random bytes get.
#[test]
fn mutated_values_decode_or_are_refused() {
    let abi = abi();
    let seeds: Vec<(&str, Vec<u8>)> = [
        ("Wide", r#"{"a": -1, "b": 300, "c": "-5", "flag": true, "blob": "00ff", "nothing": null,
                   "empty": {}, "zero": "", "root": "11111111111111111111111111111111111111111111111111111111111111ff",
                   "status": {"Partial": {"done": 3, "note": "héllo"}}, "nested": [[1, null], [], [null]]}"#),
        ("Status", r#"{"Settled": {"records": [{"owner": "2222222222222222222222222222222222222222222222222222222222222222", "amount": 9}]}}"#),
        ("vec<option<tuple<u8, string>>>", r#"[null, [1, "a"], [2, ""]]"#),
    ]
    .iter()
    .map(|(ty, value)| (*ty, abi.encode(ty, &serde_json::from_str(value).unwrap()).unwrap()))
    .collect();
    check!().with_type::<(u8, Vec<(u16, u8)>, Option<u16>)>().with_test_time(SHORT_RUN).for_each(
        |(seed, flips, keep)| {
            let (ty, bytes) = &seeds[usize::from(*seed) % seeds.len()];
            let bytes = mutate(bytes.clone(), flips, *keep);
            decode_round_trip(&abi, ty, &bytes);
        },
    );
}

/// Interface JSON as a deployer writes it: refused or accepted, never a panic; an accepted
/// interface prints to JSON that parses back to the same interface.
#[test]
fn interface_json() {
    let seed = ABI.as_bytes().to_vec();
    check!()
        .with_type::<(bool, Vec<u8>, Vec<(u16, u8)>, Option<u16>)>()
        .with_test_time(SHORT_RUN)
        .for_each(|(mutated, bytes, flips, keep)| {
            let bytes = if *mutated { mutate(seed.clone(), flips, *keep) } else { bytes.clone() };
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(abi) = Abi::from_json(&text) {
                assert_eq!(Abi::from_json(&abi.to_json()).as_ref(), Ok(&abi));
            }
        });
}

/// A module with `section` as its `kessai:abi` custom section between a type section and another
/// custom section.
fn module_with(section: &[u8]) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section: one () -> ()
    let name = SECTION.as_bytes();
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(section);
    module.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        module.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    module.extend_from_slice(&payload);
    module.extend_from_slice(&[0, 3, 2, b'x', b'y']);
    module
}

/// The interface section of a deployed module: found or refused, never a panic or a read past
/// the end.
#[test]
fn interface_section_of_a_module() {
    let seed = module_with(ABI.as_bytes());
    assert_eq!(Abi::from_wasm(&seed), Ok(abi()));
    check!()
        .with_type::<(bool, Vec<u8>, Vec<(u16, u8)>, Option<u16>)>()
        .with_test_time(SHORT_RUN)
        .for_each(|(mutated, bytes, flips, keep)| {
            let code = if *mutated { mutate(seed.clone(), flips, *keep) } else { bytes.clone() };
            let _ = custom_section(&code, SECTION);
            let _ = Abi::from_wasm(&code);
        });
}

/// Length prefixes announcing 2^32 - 1 elements or bytes are refused before anything is
/// allocated for them.
#[test]
fn hostile_length_prefixes_allocate_little() {
    let abi = abi();
    let huge = u32::MAX.to_le_bytes();
    for ty in
        ["vec<u64>", "vec<vec<u8>>", "string", "bytes", "vec<Record>", "vec<Empty>", "vec<unit>"]
    {
        let mut bytes = huge.to_vec();
        bytes.extend_from_slice(&[0; 16]);
        let result = bounded(ty, &bytes, |bytes| abi.decode(ty, bytes));
        assert!(result.is_err(), "{ty}: {result:?}");
    }
    // Nested: a vec of one vec claiming 2^32 - 1 strings.
    let mut bytes = 1u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&huge);
    assert!(bounded("nested", &bytes, |bytes| abi.decode("vec<vec<string>>", bytes)).is_err());
    // A module whose section claims 4 GiB.
    let mut code = b"\0asm\x01\0\0\0\0\xff\xff\xff\xff\x0f".to_vec();
    code.extend_from_slice(b"kessai:abi");
    assert!(bounded("module", &code, Abi::from_wasm).is_err());
}
