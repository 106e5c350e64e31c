//! `docs/openrpc.json`, the OpenRPC description of every RPC method, generated from this crate's
//! source: the `KessaiApi` trait (methods, subscriptions, parameter names and types, doc comments),
//! the request and response types declared next to it, and the error codes. Types of other crates
//! (`Header`, `Commit`, `Receipt`, …) are described from a sample value serialised by their own
//! serde code, so their fields follow the code too.
//!
//! The test fails when the document differs from what the source gives (a method added, removed
//! or renamed, a parameter or a field changed); `KESSAI_WRITE_OPENRPC=1 cargo test -p
//! kessai-rpc-api --test openrpc` rewrites it.

use borsh::BorshDeserialize;
use kessai_primitives::merkle::{self, InclusionProof};
use kessai_primitives::{
    Address, Commit, CommitSignature, Event, Hash, Header, Keypair, Receipt, Role, TxStatus,
    Validator, ValidatorSet,
};
use quote::ToTokens;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use syn::{Attribute, Fields, FnArg, GenericArgument, Item, PathArguments, TraitItem, Type};

const SOURCE: &str = include_str!("../src/lib.rs");
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openrpc.json");

/// The doc comment of an item, its lines joined (a blank line starts a new paragraph).
fn docs(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => {
                    Some(s.value().trim().to_string())
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut text = String::new();
    for line in lines {
        if line.is_empty() {
            text.push_str("\n\n");
        } else {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push(' ');
            }
            text.push_str(&line);
        }
    }
    text.trim().to_string()
}

fn serde_attr(attrs: &[Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .map(|a| a.to_token_stream().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The last segment of a type path and its generic type arguments.
fn segment(ty: &Type) -> (String, Vec<&Type>) {
    let Type::Path(path) = ty else { panic!("unsupported type {}", ty.to_token_stream()) };
    let last = path.path.segments.last().expect("a path has a segment");
    let args = match &last.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    (last.ident.to_string(), args)
}

/// The schema of a Rust type as its serde JSON form; names of other types become references,
/// collected in `needed`.
fn schema(ty: &Type, needed: &mut BTreeSet<String>) -> Value {
    let (name, args) = segment(ty);
    match name.as_str() {
        "Option" => json!({ "oneOf": [schema(args[0], needed), { "type": "null" }] }),
        "Vec" => json!({ "type": "array", "items": schema(args[0], needed) }),
        "u8" | "u16" | "u32" | "u64" | "usize" => json!({ "type": "integer", "minimum": 0 }),
        "i8" | "i16" | "i32" | "i64" => json!({ "type": "integer" }),
        "bool" => json!({ "type": "boolean" }),
        "String" => json!({ "type": "string" }),
        "Value" => json!({ "description": "any JSON value" }),
        "Hash" | "PublicKey" | "Address" => {
            needed.insert("Hex32".into());
            reference("Hex32")
        }
        other => {
            needed.insert(other.to_string());
            reference(other)
        }
    }
}

/// A parameter: `Option<T>` is an optional parameter of schema `T`.
fn param(name: &str, ty: &Type, needed: &mut BTreeSet<String>) -> Value {
    let (outer, args) = segment(ty);
    let (required, inner) = if outer == "Option" { (false, args[0]) } else { (true, ty) };
    json!({ "name": name, "required": required, "schema": schema(inner, needed) })
}

/// What the jsonrpsee attribute says: `name = "…"` (and for a subscription the notification after
/// `=>`, `unsubscribe = "…"` and `item = T`).
struct RpcAttr {
    kind: &'static str,
    name: String,
    notification: Option<String>,
    unsubscribe: Option<String>,
    item: Option<Type>,
}

fn rpc_attr(attrs: &[Attribute]) -> Option<RpcAttr> {
    let attr =
        attrs.iter().find(|a| a.path().is_ident("method") || a.path().is_ident("subscription"))?;
    let kind = if attr.path().is_ident("method") { "method" } else { "subscription" };
    let syn::Meta::List(list) = &attr.meta else { panic!("#[{kind}(…)] expected") };
    let tokens: Vec<proc_macro2_tokens::Token> = proc_macro2_tokens::flatten(list.tokens.clone());
    let mut strings = BTreeMap::new();
    let mut notification = None;
    let mut item = None;
    let mut i = 0;
    while i < tokens.len() {
        if let (Some(key), Some("=")) =
            (tokens[i].ident(), tokens.get(i + 1).and_then(|t| t.punct()))
        {
            if key == "item" {
                let ty: String = tokens[i + 2..]
                    .iter()
                    .take_while(|t| t.punct() != Some(","))
                    .map(|t| t.text())
                    .collect();
                item = Some(syn::parse_str::<Type>(&ty).expect("item type"));
            } else if let Some(value) = tokens.get(i + 2).and_then(|t| t.string()) {
                strings.insert(key.to_string(), value);
                // `name = "x" => "y"`: the notification method.
                if tokens.get(i + 3).and_then(|t| t.punct()) == Some("=>") {
                    notification = tokens.get(i + 4).and_then(|t| t.string());
                }
            }
        }
        i += 1;
    }
    Some(RpcAttr {
        kind,
        name: strings.remove("name").expect("name = \"…\""),
        notification,
        unsubscribe: strings.remove("unsubscribe"),
        item,
    })
}

/// Just enough of a token stream to read the attributes: identifiers, punctuation (`=>` joined)
/// and string literals.
mod proc_macro2_tokens {
    use quote::ToTokens;

    pub(crate) enum Token {
        Ident(String),
        Punct(String),
        Str(String),
        Other(String),
    }

    impl Token {
        pub(crate) fn ident(&self) -> Option<&str> {
            match self {
                Token::Ident(s) => Some(s),
                _ => None,
            }
        }
        pub(crate) fn punct(&self) -> Option<&str> {
            match self {
                Token::Punct(s) => Some(s),
                _ => None,
            }
        }
        pub(crate) fn string(&self) -> Option<String> {
            match self {
                Token::Str(s) => Some(s.clone()),
                _ => None,
            }
        }
        pub(crate) fn text(&self) -> String {
            match self {
                Token::Ident(s) | Token::Punct(s) | Token::Other(s) => s.clone(),
                Token::Str(s) => format!("{s:?}"),
            }
        }
    }

    pub(crate) fn flatten(tokens: impl ToTokens) -> Vec<Token> {
        let mut out: Vec<Token> = Vec::new();
        for tree in tokens.into_token_stream() {
            match tree {
                proc_macro2::TokenTree::Ident(i) => out.push(Token::Ident(i.to_string())),
                proc_macro2::TokenTree::Punct(p) => {
                    let c = p.as_char().to_string();
                    match out.last_mut() {
                        Some(Token::Punct(prev)) if prev == "=" && c == ">" => prev.push('>'),
                        _ => out.push(Token::Punct(c)),
                    }
                }
                proc_macro2::TokenTree::Literal(l) => {
                    match syn::parse_str::<syn::LitStr>(&l.to_string()) {
                        Ok(s) => out.push(Token::Str(s.value())),
                        Err(_) => out.push(Token::Other(l.to_string())),
                    }
                }
                proc_macro2::TokenTree::Group(g) => out.push(Token::Other(g.to_string())),
            }
        }
        out
    }
}

/// Schemas of the structs and enums declared in the crate, by name.
fn local_schemas(file: &syn::File, needed: &mut BTreeSet<String>) -> BTreeMap<String, Value> {
    let mut schemas = BTreeMap::new();
    for item in &file.items {
        match item {
            Item::Struct(s) => {
                let Fields::Named(fields) = &s.fields else { continue };
                let mut properties = Map::new();
                let mut required = Vec::new();
                for field in &fields.named {
                    let name = field.ident.as_ref().expect("named").to_string();
                    let mut property = schema(&field.ty, needed);
                    let description = docs(&field.attrs);
                    if !description.is_empty() {
                        property["description"] = json!(description);
                    }
                    if !serde_attr(&field.attrs).contains("skip_serializing_if") {
                        required.push(json!(name));
                    }
                    properties.insert(name, property);
                }
                schemas.insert(
                    s.ident.to_string(),
                    json!({ "type": "object", "description": docs(&s.attrs),
                            "properties": properties, "required": required }),
                );
            }
            Item::Enum(e) => {
                assert!(
                    e.variants.iter().all(|v| v.fields.is_empty()),
                    "{}: only unit enums are described from the source",
                    e.ident
                );
                let snake = serde_attr(&e.attrs).contains("snake_case");
                let names: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| {
                        let name = v.ident.to_string();
                        if snake {
                            to_snake_case(&name)
                        } else {
                            name
                        }
                    })
                    .collect();
                schemas.insert(
                    e.ident.to_string(),
                    json!({ "type": "string", "enum": names, "description": docs(&e.attrs) }),
                );
            }
            _ => {}
        }
    }
    schemas
}

fn to_snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The schema of a sample JSON value: objects by their keys, 64 and 128 hex characters as the
/// hex types, other strings as strings.
fn schema_of_sample(value: &Value) -> Value {
    let is_hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    match value {
        Value::String(s) if s.len() == 64 && is_hex(s) => reference("Hex32"),
        Value::String(s) if s.len() == 128 && is_hex(s) => reference("Hex64"),
        Value::String(_) => json!({ "type": "string" }),
        Value::Number(n) if n.is_u64() => json!({ "type": "integer", "minimum": 0 }),
        Value::Number(_) => json!({ "type": "integer" }),
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Array(items) => {
            let first = items.first().expect("samples have non-empty arrays");
            json!({ "type": "array", "items": schema_of_sample(first) })
        }
        Value::Object(fields) => {
            let properties: Map<String, Value> =
                fields.iter().map(|(k, v)| (k.clone(), schema_of_sample(v))).collect();
            json!({ "type": "object", "properties": properties })
        }
        Value::Null => json!({ "type": "null" }),
    }
}

/// Types of other crates: a description and a sample value serialised by their own code.
fn foreign_schemas() -> BTreeMap<String, Value> {
    let key = Keypair::dev("val0");
    let hash = Hash::digest(b"sample");
    let zeros = vec![0u8; 4096];
    let mut header = Header::deserialize(&mut &zeros[..]).expect("zero bytes decode as a header");
    header.chain_id = "kessai-dev".into();
    header.height = 1;
    let commit = Commit {
        height: 1,
        round: 0,
        block: header.id(),
        signatures: vec![CommitSignature {
            validator: key.public(),
            signature: key.sign(b"sample", b"sample"),
        }],
    };
    let set = ValidatorSet::new(vec![Validator { public_key: key.public(), power: 10 }]).unwrap();
    let event = Event { contract: Address(hash.0), topic: "transferred".into(), data: vec![1, 2] };
    let receipt = Receipt {
        tx_id: hash,
        status: TxStatus::Failed { reason: "out of gas".into() },
        gas_used: 1,
        return_data: vec![1],
        events: vec![event.clone()],
        created: Some(Address(hash.0)),
    };
    let leaves: [&[u8]; 2] = [b"a", b"b"];
    let proof = InclusionProof::build(&leaves.map(merkle::leaf_hash), 0).expect("a proof");
    let abi = kessai_abi::Abi::from_json(
        r#"{"name":"x","version":"1","types":{"T":{"struct":[{"name":"a","type":"u8"}]}},
        "methods":[{"name":"m","kind":"view","args":[{"name":"a","type":"u8"}],"returns":"u8"}],
        "maps":[{"name":"m","prefix":"m/","key":"u8","value":"T"}],
        "events":[{"topic":"t","data":"u8"}]}"#,
    )
    .expect("sample interface");

    let sample = |description: &str, value: Value| {
        let mut schema = schema_of_sample(&value);
        schema["description"] = json!(description);
        schema
    };
    let mut schemas = BTreeMap::new();
    schemas.insert(
        "Hex32".into(),
        json!({ "type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$",
                "description": "32 bytes as 64 hex characters (lower case in answers; a 0x prefix is accepted in requests): a hash, an ed25519 public key or an address" }),
    );
    schemas.insert(
        "Hex64".into(),
        json!({ "type": "string", "pattern": "^(0x)?[0-9a-fA-F]{128}$",
                "description": "64 bytes as 128 hex characters: an ed25519 signature" }),
    );
    schemas.insert(
        "Header".into(),
        sample("A block header (docs/light-client.md, section 4).", json!(header)),
    );
    schemas.insert(
        "Commit".into(),
        sample(
            "The precommit signatures that finalised a block (docs/light-client.md, section 6).",
            json!(commit),
        ),
    );
    schemas.insert(
        "ValidatorSet".into(),
        sample(
            "A validator set, sorted by public key (docs/light-client.md, section 5).",
            json!(set),
        ),
    );
    schemas.insert(
        "Receipt".into(),
        sample("What executing a transaction left behind: `status` is `success`, or `failed` with a `reason`; `return_data` and events' `data` are hex (docs/formats.md, section 3).", json!(receipt)),
    );
    schemas.insert(
        "Event".into(),
        sample("An event a contract emitted; `data` is borsh, hex.", json!(event)),
    );
    schemas.insert(
        "InclusionProof".into(),
        sample("A Merkle inclusion proof in a transaction or receipt list (docs/light-client.md, section 7).", json!(proof)),
    );
    schemas.insert(
        "StateProof".into(),
        json!({ "type": "string", "pattern": "^(0x)?([0-9a-fA-F]{2})*$",
                "description": "A Jellyfish Merkle proof, borsh, hex (docs/light-client.md, section 8)." }),
    );
    let upgrade =
        kessai_primitives::protocol::ScheduledUpgrade { protocol_version: 2, height: 100 };
    schemas.insert(
        "ScheduledUpgrade".into(),
        sample(
            "A protocol upgrade scheduled by governance: blocks from `height` on carry \
             `protocol_version` (decision record 0020).",
            json!(upgrade),
        ),
    );
    let roles: Vec<Value> =
        [Role::Admin, Role::Deployer, Role::Approver].iter().map(|r| json!(r)).collect();
    schemas.insert(
        "Role".into(),
        json!({ "type": "string", "enum": roles, "description": "A member's role." }),
    );
    let mut abi = sample(
        "A contract's interface, from its `kessai:abi` custom section (docs/contract-abi.md).",
        serde_json::to_value(&abi).unwrap(),
    );
    // `types` is a map from type names to definitions, not fixed fields.
    abi["properties"]["types"] =
        json!({ "type": "object", "additionalProperties": { "type": "object" } });
    schemas.insert("Abi".into(), abi);
    schemas.insert(
        "SubscriptionId".into(),
        json!({ "oneOf": [{ "type": "integer", "minimum": 0 }, { "type": "string" }],
                "description": "A subscription's id, as the subscribe method answered it; opaque." }),
    );
    schemas
}

/// The OpenRPC document of the crate's source.
fn openrpc() -> Value {
    let file = syn::parse_file(SOURCE).expect("src/lib.rs parses");
    let api = file
        .items
        .iter()
        .find_map(|item| match item {
            Item::Trait(t) if t.ident == "KessaiApi" => Some(t),
            _ => None,
        })
        .expect("the KessaiApi trait");
    let rpc = api.attrs.iter().find(|a| a.path().is_ident("rpc")).expect("#[rpc(…)]");
    let syn::Meta::List(rpc) = &rpc.meta else { panic!("#[rpc(…)] expected") };
    let namespace = proc_macro2_tokens::flatten(rpc.tokens.clone())
        .windows(3)
        .find_map(|w| (w[0].ident() == Some("namespace")).then(|| w[2].string()).flatten())
        .expect("namespace = \"…\"");
    let qualified = |name: &str| format!("{namespace}_{name}");

    let mut needed = BTreeSet::new();
    let mut methods = Vec::new();
    for item in &api.items {
        let TraitItem::Fn(f) = item else { continue };
        let Some(attr) = rpc_attr(&f.attrs) else { continue };
        let params: Vec<Value> = f
            .sig
            .inputs
            .iter()
            .filter_map(|arg| match arg {
                FnArg::Typed(p) => Some(p),
                FnArg::Receiver(_) => None,
            })
            .map(|p| param(&p.pat.to_token_stream().to_string(), &p.ty, &mut needed))
            .collect();
        let mut method = json!({
            "name": qualified(&attr.name),
            "description": docs(&f.attrs),
            "paramStructure": "by-position",
            "params": params,
        });
        if attr.kind == "method" {
            let syn::ReturnType::Type(_, ty) = &f.sig.output else { panic!("a method returns") };
            let (outer, args) = segment(ty);
            assert_eq!(outer, "RpcResult", "{}: RpcResult<T> expected", attr.name);
            method["result"] = json!({ "name": "result", "schema": schema(args[0], &mut needed) });
        } else {
            needed.insert("SubscriptionId".into());
            let item = attr.item.as_ref().expect("item = T");
            method["result"] =
                json!({ "name": "subscription", "schema": reference("SubscriptionId") });
            method["x-notification"] =
                json!(qualified(attr.notification.as_deref().expect("=> \"…\"")));
            method["x-item"] = schema(item, &mut needed);
            let unsubscribe = qualified(attr.unsubscribe.as_deref().expect("unsubscribe = \"…\""));
            method["x-unsubscribe"] = json!(unsubscribe);
            method["description"] = json!(format!(
                "{} Notifications `{}` carry `{{\"subscription\": id, \"result\": item}}`, or a last one with `error` (code -32040, lagged) instead of `result`.",
                docs(&f.attrs),
                qualified(attr.notification.as_deref().unwrap())
            ));
            methods.push(method);
            methods.push(json!({
                "name": unsubscribe,
                "description": format!("Ends a subscription of `{}`.", qualified(&attr.name)),
                "paramStructure": "by-position",
                "params": [{ "name": "subscription", "required": true, "schema": reference("SubscriptionId") }],
                "result": { "name": "unsubscribed", "schema": { "type": "boolean" } },
            }));
            continue;
        }
        methods.push(method);
    }

    // The schemas referenced, transitively: the crate's own types from the source, the others
    // from samples.
    let mut available = local_schemas(&file, &mut BTreeSet::new());
    available.extend(foreign_schemas());
    let mut schemas = Map::new();
    while let Some(name) = needed.iter().find(|n| !schemas.contains_key(*n)).cloned() {
        // A type of another crate without a sample yet is named, as an object, and no more.
        let schema = available.get(&name).cloned().unwrap_or_else(|| {
            json!({ "type": "object", "description": format!(
                "`{name}`, a type of another crate, as serde serialises it (no sample of it in \
                 node/rpc-api/tests/openrpc.rs yet)") })
        });
        collect_refs(&schema, &mut needed);
        schemas.insert(name, schema);
    }

    let errors: Map<String, Value> = error_codes(&file)
        .into_iter()
        .map(|(name, code, message)| (name, json!({ "code": code, "message": message })))
        .collect();
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Kessai node JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("{} Generated from node/rpc-api (`cargo test -p kessai-rpc-api --test openrpc`); methods are called over HTTP POST or WebSocket on the node's RPC address, subscriptions over WebSocket only (docs/rpc.md).", docs(&file.attrs)),
        },
        "servers": [{ "name": "a node's default RPC address", "url": "http://127.0.0.1:8545" }],
        "methods": methods,
        "components": { "schemas": schemas, "errors": errors },
    })
}

fn collect_refs(schema: &Value, needed: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                needed.insert(r.trim_start_matches("#/components/schemas/").to_string());
            }
            map.values().for_each(|v| collect_refs(v, needed));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, needed)),
        _ => {}
    }
}

/// The constants of `mod codes`: name, code, description.
fn error_codes(file: &syn::File) -> Vec<(String, i64, String)> {
    let codes = file
        .items
        .iter()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == "codes" => m.content.as_ref(),
            _ => None,
        })
        .expect("mod codes");
    codes
        .1
        .iter()
        .filter_map(|item| match item {
            Item::Const(c) => {
                let code: i64 =
                    c.expr.to_token_stream().to_string().replace(' ', "").parse().ok()?;
                Some((c.ident.to_string(), code, docs(&c.attrs)))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn openrpc_document_matches_the_api() {
    let generated = serde_json::to_string_pretty(&openrpc()).unwrap() + "\n";
    if std::env::var_os("KESSAI_WRITE_OPENRPC").is_some() {
        std::fs::write(DOC, &generated).expect("write docs/openrpc.json");
        return;
    }
    let current = std::fs::read_to_string(DOC).unwrap_or_default();
    if current == generated {
        return;
    }
    // Name what differs, method by method, before failing.
    let names = |doc: &Value| -> BTreeMap<String, Value> {
        doc["methods"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| (m["name"].as_str().unwrap_or("").to_string(), m.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let old = names(&serde_json::from_str(&current).unwrap_or(Value::Null));
    let new = names(&serde_json::from_str(&generated).unwrap());
    let added: Vec<&String> = new.keys().filter(|k| !old.contains_key(*k)).collect();
    let removed: Vec<&String> = old.keys().filter(|k| !new.contains_key(*k)).collect();
    let changed: Vec<&String> =
        new.keys().filter(|k| old.get(*k).is_some_and(|m| m != &new[*k])).collect();
    panic!(
        "docs/openrpc.json is out of date with node/rpc-api/src/lib.rs (methods added: {added:?}, \
         removed: {removed:?}, changed: {changed:?}; or schemas changed): regenerate it with \
         KESSAI_WRITE_OPENRPC=1 cargo test -p kessai-rpc-api --test openrpc"
    );
}

#[test]
fn every_method_of_the_trait_is_described() {
    // Independent of the generator: the method names as written in the source's attributes.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(DOC).expect("docs/openrpc.json"))
            .expect("docs/openrpc.json is JSON");
    let described: BTreeSet<&str> =
        doc["methods"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    let mut in_source = BTreeSet::new();
    for line in SOURCE.lines().map(str::trim) {
        for start in ["#[method(name = \"", "#[subscription(name = \""] {
            if let Some(rest) = line.strip_prefix(start) {
                in_source.insert(format!("kessai_{}", rest.split('"').next().unwrap()));
                if let Some(u) = rest.split("unsubscribe = \"").nth(1) {
                    in_source.insert(format!("kessai_{}", u.split('"').next().unwrap()));
                }
            }
        }
    }
    let in_source: BTreeSet<&str> = in_source.iter().map(String::as_str).collect();
    assert!(in_source.len() > 20, "the source's methods were found ({})", in_source.len());
    assert_eq!(described, in_source, "docs/openrpc.json describes exactly the trait's methods");
}
