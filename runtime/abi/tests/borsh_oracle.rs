//! The codec against the real `borsh` crate: Rust values are encoded by `borsh::to_vec`, their JSON
//! is written by hand from the rules in `docs/contract-abi.md`, and the codec must map one onto the
//! other in both directions. Mutated encodings must be accepted exactly when borsh accepts them.

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_abi::Abi;
use proptest::prelude::*;
use serde_json::{json, Value};

const ABI: &str = r#"{
  "name": "oracle",
  "version": "1.0.0",
  "types": {
    "Record": { "struct": [ { "name": "owner", "type": "address" }, { "name": "amount", "type": "u64" } ] },
    "Status": { "enum": [
      { "name": "NotYet" },
      { "name": "Partial", "fields": [ { "name": "done", "type": "u32" }, { "name": "note", "type": "string" } ] },
      { "name": "Completed" },
      { "name": "Settled", "fields": [ { "name": "records", "type": "vec<Record>" } ] }
    ] },
    "Empty": { "struct": [] },
    "Everything": { "struct": [
      { "name": "a", "type": "u8" }, { "name": "b", "type": "u16" }, { "name": "c", "type": "u32" },
      { "name": "d", "type": "u64" }, { "name": "e", "type": "u128" },
      { "name": "f", "type": "i8" }, { "name": "g", "type": "i16" }, { "name": "h", "type": "i32" },
      { "name": "i", "type": "i64" }, { "name": "j", "type": "i128" },
      { "name": "flag", "type": "bool" }, { "name": "text", "type": "string" },
      { "name": "blob", "type": "bytes" }, { "name": "nothing", "type": "unit" },
      { "name": "empty", "type": "Empty" }, { "name": "zero", "type": "bytes<0>" },
      { "name": "sig", "type": "bytes<64>" }, { "name": "root", "type": "hash" },
      { "name": "records", "type": "vec<Record>" }, { "name": "status", "type": "option<Status>" },
      { "name": "triple", "type": "tuple<u8, string, option<i64>>" },
      { "name": "statuses", "type": "vec<Status>" },
      { "name": "nested", "type": "vec<vec<option<u16>>>" }
    ] }
  },
  "methods": [
    { "name": "init", "kind": "init" },
    { "name": "settle", "kind": "call",
      "args": [ { "name": "id", "type": "u64" }, { "name": "status", "type": "Status" }, { "name": "who", "type": "vec<address>" } ],
      "returns": "tuple<u128, i128>" },
    { "name": "everything", "kind": "view", "args": [], "returns": "Everything" }
  ],
  "maps": [ { "name": "records", "prefix": "r/", "key": "tuple<address, u64>", "value": "Record" } ],
  "events": [ { "topic": "settled", "data": "Status" } ]
}"#;

fn abi() -> Abi {
    Abi::from_json(ABI).unwrap()
}

/// The JSON a value has by the interface rules.
trait ToJson {
    fn json(&self) -> Value;
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug)]
struct Record {
    owner: [u8; 32],
    amount: u64,
}

impl ToJson for Record {
    fn json(&self) -> Value {
        json!({ "owner": hex::encode(self.owner), "amount": self.amount })
    }
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug)]
enum Status {
    NotYet,
    Partial { done: u32, note: String },
    Completed,
    Settled { records: Vec<Record> },
}

impl ToJson for Status {
    fn json(&self) -> Value {
        match self {
            Status::NotYet => json!("NotYet"),
            Status::Partial { done, note } => json!({ "Partial": { "done": done, "note": note } }),
            Status::Completed => json!("Completed"),
            Status::Settled { records } => {
                json!({ "Settled": { "records": records.iter().map(Record::json).collect::<Vec<_>>() } })
            }
        }
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn json(&self) -> Value {
        Value::Array(self.iter().map(T::json).collect())
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn json(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::json)
    }
}

impl ToJson for (bool, String) {
    fn json(&self) -> Value {
        json!([self.0, self.1])
    }
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug)]
struct Empty {}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug)]
struct Everything {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: u128,
    f: i8,
    g: i16,
    h: i32,
    i: i64,
    j: i128,
    flag: bool,
    text: String,
    blob: Vec<u8>,
    nothing: (),
    empty: Empty,
    zero: [u8; 0],
    sig: [u8; 64],
    root: [u8; 32],
    records: Vec<Record>,
    status: Option<Status>,
    triple: (u8, String, Option<i64>),
    statuses: Vec<Status>,
    nested: Vec<Vec<Option<u16>>>,
}

impl ToJson for Everything {
    fn json(&self) -> Value {
        json!({
            "a": self.a, "b": self.b, "c": self.c, "d": self.d, "e": self.e.to_string(),
            "f": self.f, "g": self.g, "h": self.h, "i": self.i, "j": self.j.to_string(),
            "flag": self.flag, "text": self.text, "blob": hex::encode(&self.blob),
            "nothing": null, "empty": {}, "zero": "",
            "sig": hex::encode(self.sig), "root": hex::encode(self.root),
            "records": self.records.iter().map(Record::json).collect::<Vec<_>>(),
            "status": self.status.as_ref().map(Status::json),
            "triple": [self.triple.0, self.triple.1, self.triple.2],
            "statuses": self.statuses.iter().map(Status::json).collect::<Vec<_>>(),
            "nested": self.nested,
        })
    }
}

fn bytes_n<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    proptest::collection::vec(any::<u8>(), N).prop_map(|v| v.try_into().unwrap())
}

fn record() -> impl Strategy<Value = Record> {
    (bytes_n::<32>(), any::<u64>()).prop_map(|(owner, amount)| Record { owner, amount })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::NotYet),
        (any::<u32>(), ".{0,12}").prop_map(|(done, note)| Status::Partial { done, note }),
        Just(Status::Completed),
        proptest::collection::vec(record(), 0..3).prop_map(|records| Status::Settled { records }),
    ]
}

prop_compose! {
    fn numbers()(a: u8, b: u16, c: u32, d: u64, e: u128, f: i8, g: i16, h: i32, i: i64, j: i128)
        -> (u8, u16, u32, u64, u128, i8, i16, i32, i64, i128) {
        (a, b, c, d, e, f, g, h, i, j)
    }
}

prop_compose! {
    fn everything()(
        (a, b, c, d, e, f, g, h, i, j) in numbers(),
        flag: bool,
        text in "\\PC{0,16}",
        blob in proptest::collection::vec(any::<u8>(), 0..40),
        sig in bytes_n::<64>(),
        root in bytes_n::<32>(),
        records in proptest::collection::vec(record(), 0..4),
        status in proptest::option::of(status()),
        triple in (any::<u8>(), ".{0,8}", proptest::option::of(any::<i64>())),
        statuses in proptest::collection::vec(status(), 0..4),
        nested in proptest::collection::vec(
            proptest::collection::vec(proptest::option::of(any::<u16>()), 0..4), 0..4),
    ) -> Everything {
        Everything {
            a, b, c, d, e, f, g, h, i, j, flag, text, blob, nothing: (), empty: Empty {}, zero: [],
            sig, root, records, status, triple, statuses, nested,
        }
    }
}

/// Both directions: borsh bytes decode to the documented JSON, which encodes back to them.
fn assert_maps(abi: &Abi, ty: &str, bytes: &[u8], json: &Value) {
    assert_eq!(&abi.decode(ty, bytes).unwrap(), json, "decoding {ty}");
    assert_eq!(abi.encode(ty, json).unwrap(), bytes, "encoding {ty}");
}

/// Damage to an encoding: change a byte, cut it short, or add bytes.
#[derive(Debug, Clone)]
enum Damage {
    Set(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Set(i, b)),
        any::<usize>().prop_map(Damage::Truncate),
        proptest::collection::vec(any::<u8>(), 1..4).prop_map(Damage::Append),
    ]
}

fn apply(mut bytes: Vec<u8>, damage: &Damage) -> Vec<u8> {
    match damage {
        Damage::Set(i, b) if !bytes.is_empty() => {
            let len = bytes.len();
            bytes[i % len] = *b;
        }
        Damage::Set(..) => {}
        Damage::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
        Damage::Append(extra) => bytes.extend_from_slice(extra),
    }
    bytes
}

/// The codec accepts damaged bytes exactly when borsh does, and then reproduces them.
fn assert_agrees_with_borsh<T: BorshDeserialize + BorshSerialize + ToJson>(
    abi: &Abi,
    ty: &str,
    bytes: &[u8],
) {
    match (borsh::from_slice::<T>(bytes), abi.decode(ty, bytes)) {
        (Ok(value), Ok(json)) => {
            assert_eq!(json, value.json());
            assert_eq!(abi.encode(ty, &json).unwrap(), bytes);
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("borsh accepts {bytes:?} as {ty}, the codec refuses: {e}"),
        (Err(e), Ok(json)) => {
            panic!("borsh refuses {bytes:?} as {ty} ({e}), the codec gives {json}")
        }
    }
}

proptest! {
    #[test]
    fn everything_matches_borsh(value in everything()) {
        let bytes = borsh::to_vec(&value).unwrap();
        assert_maps(&abi(), "Everything", &bytes, &value.json());
        let abi = abi();
        assert_eq!(abi.decode_return("everything", &bytes).unwrap(), value.json());
    }

    #[test]
    fn damaged_everything_agrees_with_borsh(value in everything(), damage in damage()) {
        let bytes = apply(borsh::to_vec(&value).unwrap(), &damage);
        assert_agrees_with_borsh::<Everything>(&abi(), "Everything", &bytes);
    }

    #[test]
    fn damaged_statuses_agree_with_borsh(value in proptest::collection::vec(status(), 0..3), damage in damage()) {
        let bytes = apply(borsh::to_vec(&value).unwrap(), &damage);
        assert_agrees_with_borsh::<Vec<Status>>(&abi(), "vec<Status>", &bytes);
    }

    #[test]
    fn arbitrary_bytes_agree_with_borsh(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        assert_agrees_with_borsh::<Vec<Status>>(&abi(), "vec<Status>", &bytes);
        assert_agrees_with_borsh::<Option<Record>>(&abi(), "option<Record>", &bytes);
        assert_agrees_with_borsh::<(bool, String)>(&abi(), "tuple<bool,string>", &bytes);
    }

    #[test]
    fn args_are_the_borsh_tuple(id: u64, status in status(), who in proptest::collection::vec(bytes_n::<32>(), 0..3)) {
        let abi = abi();
        let bytes = borsh::to_vec(&(id, &status, &who)).unwrap();
        let who_json: Vec<String> = who.iter().map(hex::encode).collect();
        let by_name = json!({ "id": id, "status": status.json(), "who": who_json });
        let in_order = json!([id, status.json(), who_json]);
        prop_assert_eq!(&abi.encode_args("settle", &by_name).unwrap(), &bytes);
        prop_assert_eq!(&abi.encode_args("settle", &in_order).unwrap(), &bytes);
        prop_assert_eq!(abi.decode_args("settle", &bytes).unwrap(), by_name);
    }

    #[test]
    fn wide_integers_are_decimal_strings(x: u128, y: i128) {
        let abi = abi();
        let bytes = borsh::to_vec(&(x, y)).unwrap();
        let json = json!([x.to_string(), y.to_string()]);
        prop_assert_eq!(abi.decode_return("settle", &bytes).unwrap(), json.clone());
        prop_assert_eq!(abi.encode_return("settle", &json).unwrap(), bytes);
    }

    #[test]
    fn narrow_integers_as_strings_or_numbers(d: u64, i: i64, h: i32) {
        let abi = abi();
        let bytes = borsh::to_vec(&(d, i, h)).unwrap();
        let ty = "tuple<u64,i64,i32>";
        assert_maps(&abi, ty, &bytes, &json!([d, i, h]));
        prop_assert_eq!(abi.encode(ty, &json!([d.to_string(), i.to_string(), h.to_string()])).unwrap(), bytes);
    }

    #[test]
    fn map_keys_and_values(owner in bytes_n::<32>(), n: u64, value in record(), event in status()) {
        let abi = abi();
        let key_json = json!([hex::encode(owner), n]);
        let mut key = b"r/".to_vec();
        key.extend(borsh::to_vec(&(owner, n)).unwrap());
        prop_assert_eq!(&abi.map_key("records", &key_json).unwrap(), &key);
        prop_assert_eq!(abi.decode_map_key("records", &key).unwrap(), key_json);
        let bytes = borsh::to_vec(&value).unwrap();
        prop_assert_eq!(abi.decode_map_value("records", &bytes).unwrap(), value.json());
        prop_assert_eq!(abi.encode_map_value("records", &value.json()).unwrap(), bytes);
        let bytes = borsh::to_vec(&event).unwrap();
        prop_assert_eq!(abi.decode_event("settled", &bytes).unwrap(), event.json());
    }
}

#[test]
fn integer_extremes() {
    let abi = abi();
    macro_rules! extremes {
        ($($t:ty => $name:literal),*) => {$(
            for x in [<$t>::MIN, <$t>::MAX, 0 as $t] {
                let json = if $name.ends_with("128") { json!(x.to_string()) } else { json!(x) };
                assert_maps(&abi, $name, &borsh::to_vec(&x).unwrap(), &json);
            }
        )*};
    }
    extremes!(u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", u128 => "u128",
              i8 => "i8", i16 => "i16", i32 => "i32", i64 => "i64", i128 => "i128");
}
