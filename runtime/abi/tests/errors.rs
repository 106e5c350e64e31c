//! Every way a value can be refused, with the message that says where.

use kessai_abi::{Abi, AbiError};
use serde_json::{json, Value};

const ABI: &str = r#"{
  "name": "errors",
  "version": "0.1.0",
  "types": {
    "Record": { "struct": [ { "name": "owner", "type": "address" }, { "name": "amount", "type": "u64" } ] },
    "Status": { "enum": [
      { "name": "NotYet" },
      { "name": "Partial", "fields": [ { "name": "done", "type": "u32" } ] }
    ] }
  },
  "methods": [
    { "name": "ping", "kind": "call" },
    { "name": "create", "kind": "call",
      "args": [ { "name": "amount", "type": "u64" }, { "name": "records", "type": "vec<Record>" } ],
      "returns": "u64" }
  ],
  "maps": [ { "name": "records", "prefix": "r/", "key": "u64", "value": "Record" } ],
  "events": [ { "topic": "created", "data": "Record" } ]
}"#;

fn abi() -> Abi {
    Abi::from_json(ABI).unwrap()
}

fn encode_error(ty: &str, value: Value) -> String {
    match abi().encode(ty, &value) {
        Err(e @ AbiError::Encode { .. }) => e.to_string(),
        other => panic!("{ty} {value}: expected an encode error, got {other:?}"),
    }
}

fn decode_error(ty: &str, bytes: &[u8]) -> String {
    match abi().decode(ty, bytes) {
        Err(e @ AbiError::Decode { .. }) => e.to_string(),
        other => panic!("{ty} {bytes:?}: expected a decode error, got {other:?}"),
    }
}

#[test]
fn integers_out_of_range_or_malformed() {
    let cases = [
        ("u8", json!(256), "value: expected u8, got 256"),
        ("u8", json!(-1), "value: expected u8, got -1"),
        ("i8", json!(128), "value: expected i8, got 128"),
        ("i8", json!(-129), "value: expected i8, got -129"),
        ("u16", json!(65536), "value: expected u16, got 65536"),
        ("i32", json!(2147483648u64), "value: expected i32, got 2147483648"),
        ("u64", json!("18446744073709551616"), "value: expected u64, got \"18446744073709551616\""),
        ("i64", json!("-9223372036854775809"), "value: expected i64, got \"-9223372036854775809\""),
        ("u64", json!(1.5), "value: expected u64, got 1.5"),
        ("u64", json!(1.0), "value: expected u64, got 1.0"),
        ("u64", json!("12a"), "value: expected u64, got \"12a\""),
        ("u64", json!(""), "value: expected u64, got \"\""),
        ("u64", json!("+5"), "value: expected u64, got \"+5\""),
        ("u64", json!(" 5"), "value: expected u64, got \" 5\""),
        ("u64", json!("-"), "value: expected u64, got \"-\""),
        ("u64", json!(true), "value: expected u64, got true"),
        ("u64", json!(null), "value: expected u64, got null"),
        (
            "u128",
            json!("340282366920938463463374607431768211456"),
            "value: expected u128, got \"340282366920938463463374607431768211456\"",
        ),
        ("u128", json!("-1"), "value: expected u128, got \"-1\""),
        (
            "i128",
            json!("170141183460469231731687303715884105728"),
            "value: expected i128, got \"170141183460469231731687303715884105728\"",
        ),
        (
            "u128",
            json!(1e20),
            "value: expected u128, got 1e+20 (write integers beyond 64 bits as decimal strings)",
        ),
    ];
    for (ty, value, message) in cases {
        assert_eq!(encode_error(ty, value), message);
    }
}

#[test]
fn integers_at_the_edges_are_accepted() {
    let abi = abi();
    assert_eq!(abi.encode("i8", &json!(-128)).unwrap(), [0x80]);
    assert_eq!(abi.encode("i8", &json!("127")).unwrap(), [0x7f]);
    assert_eq!(abi.encode("u64", &json!("-0")).unwrap(), [0; 8]);
    assert_eq!(abi.encode("u64", &json!("007")).unwrap(), 7u64.to_le_bytes());
    assert_eq!(abi.encode("u128", &json!(5)).unwrap(), 5u128.to_le_bytes());
    assert_eq!(abi.encode("i128", &json!(-5)).unwrap(), (-5i128).to_le_bytes());
    let min = "-170141183460469231731687303715884105728";
    assert_eq!(abi.encode("i128", &json!(min)).unwrap(), i128::MIN.to_le_bytes());
}

#[test]
fn wrong_json_shapes() {
    let cases = [
        ("bool", json!(1), "value: expected bool, got 1"),
        ("string", json!(5), "value: expected a string, got 5"),
        ("unit", json!(0), "value: expected null (unit), got 0"),
        ("vec<u8>", json!({}), "value: expected an array, got {}"),
        ("vec<u8>", json!([1, 2, 300]), "value[2]: expected u8, got 300"),
        ("tuple<u8,bool>", json!([1]), "value: expected an array of 2 items, got [1]"),
        ("tuple<u8,bool>", json!([1, 1]), "value[1]: expected bool, got 1"),
        ("option<u8>", json!("x"), "value: expected u8, got \"x\""),
        ("Record", json!([]), "value: expected an object (`Record`), got []"),
        (
            "vec<Record>",
            json!([{"owner": "00".repeat(32), "amount": -5}]),
            "value[0].amount: expected u64, got -5",
        ),
    ];
    for (ty, value, message) in cases {
        assert_eq!(encode_error(ty, value), message);
    }
}

#[test]
fn hex_bytes() {
    let abi = abi();
    assert_eq!(abi.encode("bytes", &json!("0xAbCd")).unwrap(), [2, 0, 0, 0, 0xab, 0xcd]);
    assert_eq!(abi.encode("bytes", &json!("")).unwrap(), [0, 0, 0, 0]);
    assert_eq!(abi.encode("bytes<2>", &json!("abcd")).unwrap(), [0xab, 0xcd]);
    // Output is lowercase, without the prefix.
    assert_eq!(abi.decode("bytes<2>", &[0xab, 0xcd]).unwrap(), json!("abcd"));
    let cases = [
        ("bytes", json!("abc"), "value: expected hex bytes, got \"abc\": Odd number of digits"),
        (
            "bytes",
            json!("zz"),
            "value: expected hex bytes, got \"zz\": Invalid character 'z' at position 0",
        ),
        ("bytes", json!([1, 2]), "value: expected hex bytes, got [1,2]"),
        ("address", json!("00".repeat(31)), "value: expected 32 bytes of hex, got 31"),
        ("hash", json!("00".repeat(33)), "value: expected 32 bytes of hex, got 33"),
        ("bytes<64>", json!(null), "value: expected 64 bytes of hex, got null"),
    ];
    for (ty, value, message) in cases {
        assert_eq!(encode_error(ty, value), message);
    }
}

#[test]
fn struct_fields_must_match_exactly() {
    let owner = "00".repeat(32);
    assert_eq!(
        encode_error("Record", json!({"owner": owner})),
        "value: missing field `amount` of `Record`"
    );
    assert_eq!(
        encode_error("Record", json!({"owner": owner, "amount": 1, "memo": "x"})),
        "value: unknown field `memo` of `Record`"
    );
}

#[test]
fn enum_variants() {
    let abi = abi();
    assert_eq!(abi.encode("Status", &json!("NotYet")).unwrap(), [0]);
    // A variant without fields may also be written as an object.
    assert_eq!(abi.encode("Status", &json!({"NotYet": {}})).unwrap(), [0]);
    assert_eq!(abi.encode("Status", &json!({"NotYet": null})).unwrap(), [0]);
    assert_eq!(abi.encode("Status", &json!({"Partial": {"done": 3}})).unwrap(), [1, 3, 0, 0, 0]);
    let cases = [
        (json!("Done"), "value: unknown variant `Done` of `Status` (expected one of NotYet, Partial)"),
        (json!({"Done": {}}), "value: unknown variant `Done` of `Status` (expected one of NotYet, Partial)"),
        (json!("Partial"), "value: variant `Partial` has fields: expected {\"Partial\": {…}}"),
        (json!({"Partial": {}}), "value.Partial: missing field `done` of `Status`"),
        (json!({"Partial": {"done": "x"}}), "value.Partial.done: expected u32, got \"x\""),
        (json!({"Partial": 3}), "value.Partial: expected an object (`Status`), got 3"),
        (json!({"NotYet": {"x": 1}}), "value.NotYet: unknown field `x` of `Status`"),
        (json!({"NotYet": {}, "Partial": {}}),
            "value: expected a variant of `Status`: \"Name\" or {\"Name\": {fields}}, got {\"NotYet\":{},\"Partial\":{}}"),
        (json!(0), "value: expected a variant of `Status`: \"Name\" or {\"Name\": {fields}}, got 0"),
    ];
    for (value, message) in cases {
        assert_eq!(encode_error("Status", value), message);
    }
}

#[test]
fn arguments() {
    let abi = abi();
    let error = |args: Value| abi.encode_args("create", &args).unwrap_err().to_string();
    assert_eq!(error(json!([1])), "args: expected 2 arguments, got 1");
    assert_eq!(error(json!({"amount": 1})), "args: missing argument `records`");
    assert_eq!(
        error(json!({"amount": 1, "records": [], "memo": 2})),
        "args: unknown argument `memo`"
    );
    assert_eq!(error(json!(5)), "args: expected an array or an object of arguments, got 5");
    assert_eq!(error(json!(null)), "args: expected an array or an object of arguments, got null");
    assert_eq!(
        error(json!({"amount": 1, "records": [{"owner": "00", "amount": 1}]})),
        "args.records[0].owner: expected 32 bytes of hex, got 1"
    );
    for none in [json!(null), json!([]), json!({})] {
        assert_eq!(abi.encode_args("ping", &none).unwrap(), Vec::<u8>::new());
    }
    assert_eq!(abi.encode_args("pong", &json!([])), Err(AbiError::UnknownMethod("pong".into())));
    assert_eq!(
        abi.decode_args("create", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9])
            .unwrap_err()
            .to_string(),
        "args: 1 trailing bytes after offset 12"
    );
}

#[test]
fn returns() {
    let abi = abi();
    // A method without `returns` returns nothing.
    assert_eq!(abi.decode_return("ping", &[]).unwrap(), Value::Null);
    assert_eq!(
        abi.decode_return("ping", &[0]).unwrap_err().to_string(),
        "return: 1 trailing bytes after offset 0"
    );
    assert_eq!(
        abi.decode_return("create", &[1, 2]).unwrap_err().to_string(),
        "return: truncated input: needs 8 bytes at offset 0, 2 left"
    );
}

#[test]
fn malformed_bytes() {
    let cases: [(&str, &[u8], &str); 11] = [
        ("u64", &[1, 2, 3], "value: truncated input: needs 8 bytes at offset 0, 3 left"),
        ("u8", &[1, 2], "value: 1 trailing bytes after offset 1"),
        ("bool", &[2], "value: invalid bool 0x02 at offset 0 (expected 0 or 1)"),
        ("option<u8>", &[2, 0], "value: invalid option tag 0x02 at offset 0 (expected 0 or 1)"),
        ("Status", &[2], "value: variant index 2 at offset 0 out of range: `Status` has 2"),
        ("string", &[2, 0, 0, 0, 0xff, 0xfe], "value: string at offset 4 is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0"),
        ("string", &[5, 0, 0, 0, b'a'], "value: truncated input: length prefix 5 at offset 0 exceeds the 1 bytes left"),
        // A hostile length prefix fails at once instead of allocating.
        ("vec<u64>", &[0xff, 0xff, 0xff, 0xff], "value: truncated input: length prefix 4294967295 at offset 0 exceeds the 0 bytes left"),
        ("vec<u64>", &[2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], "value[1]: truncated input: needs 8 bytes at offset 12, 1 left"),
        ("vec<Record>", &[1, 0, 0, 0, 7], "value[0].owner: truncated input: needs 32 bytes at offset 4, 1 left"),
        ("Status", &[1, 1, 0], "value.Partial.done: truncated input: needs 4 bytes at offset 1, 2 left"),
    ];
    for (ty, bytes, message) in cases {
        assert_eq!(decode_error(ty, bytes), message);
    }
}

#[test]
fn unknown_names() {
    let abi = abi();
    assert_eq!(abi.encode("Nope", &json!(1)), Err(AbiError::UnknownType("Nope".into())));
    assert_eq!(abi.decode("vec<Nope>", &[]), Err(AbiError::UnknownType("Nope".into())));
    assert!(matches!(abi.encode("vec<", &json!(1)), Err(AbiError::TypeExpr { .. })));
    assert_eq!(abi.map_key("nope", &json!(1)), Err(AbiError::UnknownMap("nope".into())));
    assert_eq!(abi.decode_map_value("nope", &[]), Err(AbiError::UnknownMap("nope".into())));
    assert_eq!(abi.decode_event("nope", &[]), Err(AbiError::UnknownEvent("nope".into())));
    assert_eq!(abi.decode_return("nope", &[]), Err(AbiError::UnknownMethod("nope".into())));
    assert_eq!(
        abi.decode_map_key("records", b"x/\0\0\0\0\0\0\0\0").unwrap_err().to_string(),
        "key: does not start with the prefix \"r/\" of map `records`"
    );
    assert_eq!(
        abi.map_key("records", &json!(-1)).unwrap_err().to_string(),
        "key: expected u64, got -1"
    );
    assert_eq!(
        abi.decode_event("created", &[0; 39]).unwrap_err().to_string(),
        "event.amount: truncated input: needs 8 bytes at offset 32, 7 left"
    );
}

#[test]
fn an_unvalidated_interface_is_still_checked() {
    // Built in code, never validated: the codec refuses what validation would have.
    let mut abi = abi();
    abi.types.insert(
        "Loop".into(),
        kessai_abi::TypeDef::Struct(vec![kessai_abi::Field {
            name: "next".into(),
            ty: "option<Loop>".into(),
        }]),
    );
    let err = abi.decode("Loop", &[1, 1, 1, 0]).unwrap_err().to_string();
    assert!(err.contains("recursive type: Loop -> Loop"), "{err}");
    assert!(abi.decode("vec<unit>", &[0xff, 0xff, 0xff, 0xff]).is_err());
}
