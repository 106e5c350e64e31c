//! Contract interfaces: the schema a contract carries in its `kessai:abi` wasm custom section, and
//! the JSON <-> borsh codec driven by it (see `docs/contract-abi.md`, "Interface section"). The CLI,
//! the RPC and the light client use it to accept and print JSON; the runtime uses it to check a
//! module's interface at deploy time.
//!
//! ```
//! use kessai_abi::Abi;
//! use serde_json::json;
//!
//! let abi = Abi::from_json(r#"{
//!   "name": "demo", "version": "0.1.0",
//!   "methods": [ { "name": "create", "kind": "call",
//!                  "args": [ { "name": "amount", "type": "u64" } ], "returns": "u128" } ],
//!   "maps": [ { "name": "records", "prefix": "r/", "key": "u64", "value": "string" } ]
//! }"#)?;
//! assert_eq!(abi.encode_args("create", &json!({ "amount": 5 }))?, 5u64.to_le_bytes());
//! assert_eq!(abi.encode_args("create", &json!(["5"]))?, 5u64.to_le_bytes());
//! assert_eq!(abi.decode_return("create", &7u128.to_le_bytes())?, json!("7"));
//! assert_eq!(abi.map_key("records", &json!(1))?, b"r/\x01\0\0\0\0\0\0\0");
//! let err = abi.encode_args("create", &json!({ "amount": -5 })).unwrap_err();
//! assert_eq!(err.to_string(), "args.amount: expected u64, got -5");
//! # Ok::<(), kessai_abi::AbiError>(())
//! ```
//!
//! Output JSON: integers up to 64 bits as numbers, 128-bit ones as decimal strings, bytes as
//! lowercase hex without `0x`; struct fields are inserted in declaration order, so they print in that
//! order only where serde_json's `preserve_order` feature is on (alphabetically otherwise).
//!
//! No I/O: builds for wasm32.

mod codec;
mod error;
mod schema;
mod ty;
mod wasm;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::AbiError;
pub use wasm::custom_section;

use codec::{Input, Path};
use schema::{prefix, Schema};
use ty::is_identifier;

/// Name of the wasm custom section that carries a contract's interface.
pub const SECTION: &str = "kessai:abi";

/// Method names that would clash with the module's other exports.
const RESERVED_EXPORTS: &[&str] = &["memory"];

/// A contract's interface. Unknown fields are refused everywhere: a misspelt `"arg"` must not
/// silently leave a method without arguments.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Abi {
    /// The contract's name, for people (not its address, nor a chain-spec name).
    pub name: String,
    /// The interface's version, free-form (e.g. `0.1.0`).
    pub version: String,
    /// Named types, by name, that type expressions elsewhere may refer to.
    #[serde(default)]
    pub types: BTreeMap<String, TypeDef>,
    /// The exported methods.
    pub methods: Vec<Method>,
    /// The contract's storage maps, for reading its state by key.
    #[serde(default)]
    pub maps: Vec<MapDef>,
    /// The events the contract emits, by topic.
    #[serde(default)]
    pub events: Vec<EventDef>,
}

/// An exported method: its arguments are borsh of the tuple of `args`, its result borsh of `returns`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Method {
    /// The wasm export's name, also the name a transaction or RPC call uses.
    pub name: String,
    /// When and how it may run: init, call or view.
    pub kind: MethodKind,
    /// The arguments, in order.
    #[serde(default)]
    pub args: Vec<Field>,
    /// Type expression of the result; `None` for a method that returns nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<String>,
}

/// How a method may be invoked (`"init"`, `"call"`, `"view"`, `"migrate"` in JSON).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    /// Run once, when the contract is instantiated.
    Init,
    /// May write; runs in a transaction.
    Call,
    /// Read-only; callable through RPC without a transaction.
    View,
    /// Run once, by the upgrade that makes this code the contract's code (caller `Address::SYSTEM`).
    Migrate,
}

/// A named, typed slot: a method argument, a struct field or an enum variant's field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Its name: the key of its value in JSON objects.
    pub name: String,
    /// A type expression: `u64`, `vec<Record>`, `tuple<address,bytes<64>>`, …
    #[serde(rename = "type")]
    pub ty: String,
}

/// A named type: `{"struct": [fields]}` or `{"enum": [variants]}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TypeDef {
    /// A struct: borsh of its fields in order, a JSON object by field name.
    Struct(Vec<Field>),
    /// An enum: borsh of the variant's index (`u8`) then its fields.
    Enum(Vec<Variant>),
}

/// A variant of an enum [`TypeDef`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The variant's name, as JSON names it.
    pub name: String,
    /// Its fields, in order; none for a unit variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// A storage map: entry `key` lives under `prefix ‖ borsh(key)`, holding `borsh(value)`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MapDef {
    /// The map's name, as the CLI and `kessai_mapEntry` name it.
    pub name: String,
    /// Taken as its UTF-8 bytes.
    pub prefix: String,
    /// Type expression of the keys.
    pub key: String,
    /// Type expression of the values.
    pub value: String,
}

/// An event the contract emits: `topic`, with `data` as borsh of this type.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EventDef {
    /// The topic the contract emits the event under.
    pub topic: String,
    /// Type expression of the event's data.
    pub data: String,
}

impl Abi {
    /// Parses an interface and validates it (see [`Abi::validate`]).
    pub fn from_json(s: &str) -> Result<Abi, AbiError> {
        let abi: Abi = serde_json::from_str(s).map_err(|e| AbiError::Json(e.to_string()))?;
        abi.validate()?;
        Ok(abi)
    }

    /// Reads the `kessai:abi` custom section of a wasm module and parses it.
    pub fn from_wasm(code: &[u8]) -> Result<Abi, AbiError> {
        let payload = custom_section(code, SECTION)?.ok_or(AbiError::MissingSection)?;
        let json = std::str::from_utf8(payload)
            .map_err(|e| AbiError::Json(format!("the section is not UTF-8: {e}")))?;
        Abi::from_json(json)
    }

    /// The interface as JSON, as it goes in the custom section.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an Abi always serializes")
    }

    /// The method called `name`, if the interface has one.
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// The `init` method, if the contract has one.
    pub fn init(&self) -> Option<&Method> {
        self.methods.iter().find(|m| m.kind == MethodKind::Init)
    }

    /// The storage map called `name`, if the interface has one.
    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The event emitted under `topic`, if the interface declares it.
    pub fn event(&self, topic: &str) -> Option<&EventDef> {
        self.events.iter().find(|e| e.topic == topic)
    }

    /// Checks what [`Abi::from_json`] checks, for an interface built in code:
    /// - every type expression parses and every named type exists, is a valid identifier other than
    ///   a built-in name, and is not recursive; nesting is at most 64 deep;
    /// - structs and variants have distinct field names; enums have 1 to 256 distinct variants;
    ///   no `vec` of zero-sized elements; no `option<unit>` or `option<option<T>>` (ambiguous JSON);
    /// - method names are distinct identifiers (they are wasm exports), not `memory`; the one
    ///   method of kind `init`, if any, is the one named `init`; argument names are distinct;
    /// - map names are distinct and non-empty, map prefixes non-empty and none a prefix of another
    ///   (their keys could collide); event topics are distinct and non-empty.
    pub fn validate(&self) -> Result<(), AbiError> {
        let mut schema = Schema::new(self);
        for name in self.types.keys() {
            schema.resolve_named(name)?;
        }
        self.validate_methods(&mut schema)?;
        self.validate_maps(&mut schema)?;
        self.validate_events(&mut schema)
    }

    fn validate_methods(&self, schema: &mut Schema<'_>) -> Result<(), AbiError> {
        let mut names = BTreeSet::new();
        for method in &self.methods {
            let context = format!("method `{}`", method.name);
            let invalid = |message: &str| AbiError::Invalid(format!("{context}: {message}"));
            if !is_identifier(&method.name) || RESERVED_EXPORTS.contains(&method.name.as_str()) {
                return Err(invalid("a method name must be an identifier other than `memory`"));
            }
            if !names.insert(method.name.as_str()) {
                return Err(invalid("duplicate method"));
            }
            if (method.kind == MethodKind::Init) != (method.name == "init") {
                return Err(invalid("the init method is the one named `init`"));
            }
            let mut args = BTreeSet::new();
            for arg in &method.args {
                let in_arg = |e| prefix(&format!("{context}, arg `{}`", arg.name), e);
                if !is_identifier(&arg.name) || !args.insert(arg.name.as_str()) {
                    let message = "argument names must be distinct identifiers";
                    return Err(in_arg(AbiError::Invalid(message.into())));
                }
                schema.resolve(&arg.ty).map_err(in_arg)?;
            }
            if let Some(returns) = &method.returns {
                schema.resolve(returns).map_err(|e| prefix(&format!("{context}, returns"), e))?;
            }
        }
        Ok(())
    }

    fn validate_maps(&self, schema: &mut Schema<'_>) -> Result<(), AbiError> {
        for (i, map) in self.maps.iter().enumerate() {
            let context = format!("map `{}`", map.name);
            let invalid = |message: String| AbiError::Invalid(format!("{context}: {message}"));
            if map.name.is_empty() || map.prefix.is_empty() {
                return Err(invalid("name and prefix must not be empty".into()));
            }
            for other in &self.maps[..i] {
                if other.name == map.name {
                    return Err(invalid("duplicate map".into()));
                }
                if other.prefix.starts_with(&map.prefix) || map.prefix.starts_with(&other.prefix) {
                    return Err(invalid(format!(
                        "prefix {:?} overlaps the prefix {:?} of map `{}`",
                        map.prefix, other.prefix, other.name
                    )));
                }
            }
            schema.resolve(&map.key).map_err(|e| prefix(&format!("{context}, key"), e))?;
            schema.resolve(&map.value).map_err(|e| prefix(&format!("{context}, value"), e))?;
        }
        Ok(())
    }

    fn validate_events(&self, schema: &mut Schema<'_>) -> Result<(), AbiError> {
        let mut topics = BTreeSet::new();
        for event in &self.events {
            let context = format!("event `{}`", event.topic);
            if event.topic.is_empty() || !topics.insert(event.topic.as_str()) {
                let message = "topics must be distinct and non-empty";
                return Err(AbiError::Invalid(format!("{context}: {message}")));
            }
            schema.resolve(&event.data).map_err(|e| prefix(&format!("{context}, data"), e))?;
        }
        Ok(())
    }
}

/// The codec. Every call resolves the types it touches against `types` first, so these work (with
/// the same checks) on an interface that was built in code and never validated.
impl Abi {
    /// JSON arguments → borsh of the tuple of the method's arguments. `args` is an array in
    /// argument order or an object keyed by argument name (`null` for a method without arguments).
    pub fn encode_args(&self, method: &str, args: &Value) -> Result<Vec<u8>, AbiError> {
        let method = self.known_method(method)?;
        let mut schema = Schema::new(self);
        let tys =
            method.args.iter().map(|arg| schema.resolve(&arg.ty)).collect::<Result<Vec<_>, _>>()?;
        let values = arg_values(&method.args, args)?;
        let mut out = Vec::new();
        for ((arg, ty), value) in method.args.iter().zip(&tys).zip(values) {
            let mut path = Path::new(&format!("args.{}", arg.name));
            codec::encode(&schema, ty, value, &mut path, &mut out)?;
        }
        Ok(out)
    }

    /// borsh of a method's arguments → a JSON object keyed by argument name.
    pub fn decode_args(&self, method: &str, bytes: &[u8]) -> Result<Value, AbiError> {
        let method = self.known_method(method)?;
        let mut schema = Schema::new(self);
        let mut input = Input::new(bytes);
        let mut object = serde_json::Map::new();
        for arg in &method.args {
            let ty = schema.resolve(&arg.ty)?;
            let mut path = Path::new(&format!("args.{}", arg.name));
            object.insert(arg.name.clone(), codec::decode(&schema, &ty, &mut input, &mut path)?);
        }
        input.finish(&Path::new("args"))?;
        Ok(Value::Object(object))
    }

    /// A method's result → JSON. A method without `returns` returns nothing: `null`.
    pub fn decode_return(&self, method: &str, bytes: &[u8]) -> Result<Value, AbiError> {
        let method = self.known_method(method)?;
        let ty = method.returns.as_deref().unwrap_or("unit");
        self.decode_at("return", ty, bytes)
    }

    /// JSON → borsh of a method's result (what the contract would `set_return`).
    pub fn encode_return(&self, method: &str, value: &Value) -> Result<Vec<u8>, AbiError> {
        let method = self.known_method(method)?;
        let ty = method.returns.as_deref().unwrap_or("unit");
        self.encode_at("return", ty, value)
    }

    /// Storage key of a map entry: prefix bytes ‖ borsh(key).
    pub fn map_key(&self, map: &str, key: &Value) -> Result<Vec<u8>, AbiError> {
        let map = self.known_map(map)?;
        let mut out = map.prefix.as_bytes().to_vec();
        out.extend(self.encode_at("key", &map.key, key)?);
        Ok(out)
    }

    /// A full storage key of a map entry (prefix included) → the entry's key as JSON.
    pub fn decode_map_key(&self, map: &str, storage_key: &[u8]) -> Result<Value, AbiError> {
        let map = self.known_map(map)?;
        let key =
            storage_key.strip_prefix(map.prefix.as_bytes()).ok_or_else(|| AbiError::Decode {
                path: "key".into(),
                message: format!(
                    "does not start with the prefix {:?} of map `{}`",
                    map.prefix, map.name
                ),
            })?;
        self.decode_at("key", &map.key, key)
    }

    /// borsh → JSON of a value stored in `map`.
    pub fn decode_map_value(&self, map: &str, bytes: &[u8]) -> Result<Value, AbiError> {
        let map = self.known_map(map)?;
        self.decode_at("value", &map.value, bytes)
    }

    /// JSON → borsh of a value to store in `map` (what the contract would write under the key).
    pub fn encode_map_value(&self, map: &str, value: &Value) -> Result<Vec<u8>, AbiError> {
        let map = self.known_map(map)?;
        self.encode_at("value", &map.value, value)
    }

    /// borsh → JSON of the data of an event emitted under `topic`.
    pub fn decode_event(&self, topic: &str, bytes: &[u8]) -> Result<Value, AbiError> {
        let event = self.event(topic).ok_or_else(|| AbiError::UnknownEvent(topic.to_string()))?;
        self.decode_at("event", &event.data, bytes)
    }

    /// JSON → borsh of any type expression (`u64`, `vec<Record>`, …).
    pub fn encode(&self, ty: &str, value: &Value) -> Result<Vec<u8>, AbiError> {
        self.encode_at("value", ty, value)
    }

    /// borsh → JSON of any type expression; all of `bytes` must be the one value.
    pub fn decode(&self, ty: &str, bytes: &[u8]) -> Result<Value, AbiError> {
        self.decode_at("value", ty, bytes)
    }

    fn encode_at(&self, root: &str, ty: &str, value: &Value) -> Result<Vec<u8>, AbiError> {
        let mut schema = Schema::new(self);
        let ty = schema.resolve(ty)?;
        let mut out = Vec::new();
        codec::encode(&schema, &ty, value, &mut Path::new(root), &mut out)?;
        Ok(out)
    }

    fn decode_at(&self, root: &str, ty: &str, bytes: &[u8]) -> Result<Value, AbiError> {
        let mut schema = Schema::new(self);
        let ty = schema.resolve(ty)?;
        let mut input = Input::new(bytes);
        let mut path = Path::new(root);
        let value = codec::decode(&schema, &ty, &mut input, &mut path)?;
        input.finish(&path)?;
        Ok(value)
    }

    fn known_method(&self, name: &str) -> Result<&Method, AbiError> {
        self.method(name).ok_or_else(|| AbiError::UnknownMethod(name.to_string()))
    }

    fn known_map(&self, name: &str) -> Result<&MapDef, AbiError> {
        self.map(name).ok_or_else(|| AbiError::UnknownMap(name.to_string()))
    }
}

/// The JSON value of each argument, in argument order.
fn arg_values<'v>(args: &[Field], value: &'v Value) -> Result<Vec<&'v Value>, AbiError> {
    let error = |message: String| AbiError::Encode { path: "args".into(), message };
    match value {
        Value::Array(values) if values.len() == args.len() => Ok(values.iter().collect()),
        Value::Array(values) => {
            Err(error(format!("expected {} arguments, got {}", args.len(), values.len())))
        }
        Value::Object(object) => {
            if let Some(extra) = object.keys().find(|k| !args.iter().any(|a| a.name == **k)) {
                return Err(error(format!("unknown argument `{extra}`")));
            }
            args.iter()
                .map(|arg| {
                    object
                        .get(&arg.name)
                        .ok_or_else(|| error(format!("missing argument `{}`", arg.name)))
                })
                .collect()
        }
        Value::Null if args.is_empty() => Ok(Vec::new()),
        other => Err(error(format!(
            "expected an array or an object of arguments, got {}",
            codec::show(other)
        ))),
    }
}
