//! The interface JSON (`kessai:abi`) natively: JSON ↔ borsh by its schema, as the node's RPC does,
//! so a test can call a method the way a client would and prove `abi.json` matches the code.

use super::{invoke_raw, to_borsh};
use serde_json::{Map as JsonMap, Value};
use std::boxed::Box;
use std::collections::BTreeSet;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

type R<T> = Result<T, String>;

/// A parsed interface.
pub struct Abi {
    pub json: Value,
}

/// A parsed type expression.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Int { bytes: usize, signed: bool },
    Bool,
    Str,
    Bytes,
    FixedBytes(usize),
    Unit,
    Vec(Box<Ty>),
    Option(Box<Ty>),
    Tuple(Vec<Ty>),
    Named(String),
}

fn parse_ty(text: &str) -> R<Ty> {
    let text = text.trim();
    if let Some(open) = text.find('<') {
        let inner =
            text[open + 1..].strip_suffix('>').ok_or_else(|| format!("bad type {text:?}"))?;
        let args = split_top_level(inner);
        let one = || -> R<Box<Ty>> {
            match args.as_slice() {
                [a] => Ok(Box::new(parse_ty(a)?)),
                _ => Err(format!("{text:?} takes one type")),
            }
        };
        return match &text[..open] {
            "vec" => Ok(Ty::Vec(one()?)),
            "option" => Ok(Ty::Option(one()?)),
            "tuple" => Ok(Ty::Tuple(args.iter().map(|a| parse_ty(a)).collect::<R<_>>()?)),
            "bytes" => inner
                .trim()
                .parse()
                .map(Ty::FixedBytes)
                .map_err(|_| format!("bad length in {text:?}")),
            other => Err(format!("unknown generic type {other:?}")),
        };
    }
    Ok(match text {
        "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64" | "i128" => Ty::Int {
            bytes: text[1..].parse::<usize>().unwrap() / 8,
            signed: text.starts_with('i'),
        },
        "bool" => Ty::Bool,
        "string" => Ty::Str,
        "bytes" => Ty::Bytes,
        "unit" => Ty::Unit,
        "address" | "hash" => Ty::FixedBytes(32),
        name => Ty::Named(name.to_string()),
    })
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0usize, 0usize, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

fn hex_decode(text: &str) -> R<Vec<u8>> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {text:?}"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("bad hex {text:?}")))
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Abi {
    /// Parses the interface and checks that every type it names is defined.
    pub fn parse(text: &str) -> R<Abi> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| format!("abi is not JSON: {e}"))?;
        let abi = Abi { json };
        abi.validate()?;
        Ok(abi)
    }

    fn field<'a>(value: &'a Value, key: &str) -> R<&'a Value> {
        value.get(key).ok_or_else(|| format!("missing {key:?} in {value}"))
    }

    fn str_field<'a>(value: &'a Value, key: &str) -> R<&'a str> {
        Self::field(value, key)?
            .as_str()
            .ok_or_else(|| format!("{key:?} is not a string in {value}"))
    }

    fn list<'a>(&'a self, key: &str) -> &'a [Value] {
        self.json.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn name(&self) -> &str {
        self.json.get("name").and_then(Value::as_str).unwrap_or("")
    }

    pub fn methods(&self) -> &[Value] {
        self.list("methods")
    }

    pub fn method(&self, name: &str) -> R<&Value> {
        self.methods()
            .iter()
            .find(|m| m.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("no method {name:?} in the abi"))
    }

    /// `init`, `call` or `view`.
    pub fn kind(&self, method: &str) -> R<&str> {
        Self::str_field(self.method(method)?, "kind")
    }

    fn named(&self, name: &str) -> R<&Value> {
        self.json
            .get("types")
            .and_then(|t| t.get(name))
            .ok_or_else(|| format!("type {name:?} is not defined in \"types\""))
    }

    fn arg_types(&self, method: &str) -> R<Vec<(String, Ty)>> {
        let args =
            self.method(method)?.get("args").and_then(Value::as_array).cloned().unwrap_or_default();
        args.iter()
            .map(|a| {
                Ok((
                    Self::str_field(a, "name")?.to_string(),
                    parse_ty(Self::str_field(a, "type")?)?,
                ))
            })
            .collect()
    }

    /// Every type expression is well formed and names only defined types; kinds are known; method,
    /// map and event names are unique.
    pub fn validate(&self) -> R<()> {
        let mut exprs: Vec<String> = Vec::new();
        let mut names = BTreeSet::new();
        for m in self.methods() {
            let name = Self::str_field(m, "name")?;
            if !names.insert(name) {
                return Err(format!("method {name:?} twice"));
            }
            let kind = Self::str_field(m, "kind")?;
            if !["init", "call", "view"].contains(&kind) {
                return Err(format!("method {name:?} has unknown kind {kind:?}"));
            }
            for a in m.get("args").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
                Self::str_field(a, "name")?;
                exprs.push(Self::str_field(a, "type")?.to_string());
            }
            if let Some(r) = m.get("returns") {
                exprs.push(r.as_str().ok_or("returns is not a string")?.to_string());
            }
        }
        let mut prefixes: Vec<&str> = Vec::new();
        for map in self.list("maps") {
            Self::str_field(map, "name")?;
            prefixes.push(Self::str_field(map, "prefix")?);
            exprs.push(Self::str_field(map, "key")?.to_string());
            exprs.push(Self::str_field(map, "value")?.to_string());
        }
        for (i, a) in prefixes.iter().enumerate() {
            for (j, b) in prefixes.iter().enumerate() {
                if i != j && b.starts_with(a) {
                    return Err(format!("map prefix {a:?} is a prefix of {b:?}"));
                }
            }
        }
        for event in self.list("events") {
            Self::str_field(event, "topic")?;
            exprs.push(Self::str_field(event, "data")?.to_string());
        }
        if let Some(types) = self.json.get("types").and_then(Value::as_object) {
            for (name, def) in types {
                let fields: Vec<&Value> =
                    if let Some(s) = def.get("struct").and_then(Value::as_array) {
                        s.iter().collect()
                    } else if let Some(e) = def.get("enum").and_then(Value::as_array) {
                        e.iter()
                            .flat_map(|v| {
                                v.get("fields")
                                    .and_then(Value::as_array)
                                    .map(Vec::as_slice)
                                    .unwrap_or(&[])
                            })
                            .collect()
                    } else {
                        return Err(format!("type {name:?} is neither a struct nor an enum"));
                    };
                for f in fields {
                    Self::str_field(f, "name")?;
                    exprs.push(Self::str_field(f, "type")?.to_string());
                }
            }
        }
        exprs.iter().try_for_each(|e| self.check_ty(&parse_ty(e)?))
    }

    fn check_ty(&self, ty: &Ty) -> R<()> {
        match ty {
            Ty::Named(n) => self.named(n).map(|_| ()),
            Ty::Vec(t) | Ty::Option(t) => self.check_ty(t),
            Ty::Tuple(ts) => ts.iter().try_for_each(|t| self.check_ty(t)),
            _ => Ok(()),
        }
    }

    /// `borsh` of a JSON value of type `ty` (a type expression such as `"option<Record>"`).
    pub fn encode(&self, ty: &str, value: &Value) -> R<Vec<u8>> {
        let mut out = Vec::new();
        self.enc(&parse_ty(ty)?, value, &mut out)?;
        Ok(out)
    }

    /// A method's argument bytes: `borsh` of the tuple of its args, given as a JSON array in order
    /// or an object by name.
    pub fn encode_args(&self, method: &str, args: &Value) -> R<Vec<u8>> {
        let types = self.arg_types(method)?;
        let values: Vec<Value> = match args {
            Value::Array(a) if a.len() == types.len() => a.clone(),
            Value::Object(o) => types
                .iter()
                .map(|(n, _)| o.get(n).cloned().ok_or_else(|| format!("missing argument {n:?}")))
                .collect::<R<_>>()?,
            Value::Null if types.is_empty() => Vec::new(),
            _ => return Err(format!("{method} takes {} arguments, got {args}", types.len())),
        };
        let mut out = Vec::new();
        for ((name, ty), v) in types.iter().zip(&values) {
            self.enc(ty, v, &mut out).map_err(|e| format!("argument {name:?}: {e}"))?;
        }
        Ok(out)
    }

    /// A JSON value from `borsh` of type `ty`; every byte must be used.
    pub fn decode(&self, ty: &str, bytes: &[u8]) -> R<Value> {
        let mut rest = bytes;
        let value = self.dec(&parse_ty(ty)?, &mut rest)?;
        if !rest.is_empty() {
            return Err(format!("{} bytes left over decoding {ty}", rest.len()));
        }
        Ok(value)
    }

    /// A method's result as JSON (`null` for a method without `returns`, whose result is empty).
    pub fn decode_return(&self, method: &str, bytes: &[u8]) -> R<Value> {
        match self.method(method)?.get("returns").and_then(Value::as_str) {
            Some(ty) => self.decode(ty, bytes),
            None if bytes.is_empty() => Ok(Value::Null),
            None => Err(format!(
                "{method} has no returns in the abi but returned {} bytes",
                bytes.len()
            )),
        }
    }

    fn enc(&self, ty: &Ty, v: &Value, out: &mut Vec<u8>) -> R<()> {
        match ty {
            Ty::Int { bytes, signed } => {
                let text = match v {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.clone(),
                    _ => return Err(format!("{v} is not an integer")),
                };
                let bits = *bytes * 8;
                let le = if *signed {
                    let n: i128 =
                        text.parse().map_err(|_| format!("{text:?} is not an i{bits}"))?;
                    let fits =
                        bits == 128 || (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&n);
                    fits.then(|| n.to_le_bytes())
                } else {
                    let n: u128 = text.parse().map_err(|_| format!("{text:?} is not a u{bits}"))?;
                    (bits == 128 || n < (1u128 << bits)).then(|| n.to_le_bytes())
                };
                let le = le.ok_or_else(|| format!("{text} does not fit in {bits} bits"))?;
                out.extend_from_slice(&le[..*bytes]);
            }
            Ty::Bool => out.push(v.as_bool().ok_or_else(|| format!("{v} is not a bool"))? as u8),
            Ty::Str => {
                let s = v.as_str().ok_or_else(|| format!("{v} is not a string"))?;
                out.extend_from_slice(&to_borsh(s));
            }
            Ty::Bytes => out.extend_from_slice(&to_borsh(&hex_decode(
                v.as_str().ok_or("bytes are a hex string")?,
            )?)),
            Ty::FixedBytes(n) => {
                let b = hex_decode(v.as_str().ok_or("bytes are a hex string")?)?;
                if b.len() != *n {
                    return Err(format!("expected {n} bytes, got {}", b.len()));
                }
                out.extend_from_slice(&b);
            }
            Ty::Unit => {
                if !v.is_null() {
                    return Err(format!("unit is null, got {v}"));
                }
            }
            Ty::Vec(t) => {
                let items = v.as_array().ok_or_else(|| format!("{v} is not an array"))?;
                out.extend_from_slice(&(items.len() as u32).to_le_bytes());
                items.iter().try_for_each(|item| self.enc(t, item, out))?;
            }
            Ty::Option(t) => {
                if v.is_null() {
                    out.push(0);
                } else {
                    out.push(1);
                    self.enc(t, v, out)?;
                }
            }
            Ty::Tuple(ts) => {
                let items = v
                    .as_array()
                    .filter(|a| a.len() == ts.len())
                    .ok_or_else(|| format!("{v} is not a {}-tuple", ts.len()))?;
                ts.iter().zip(items).try_for_each(|(t, item)| self.enc(t, item, out))?;
            }
            Ty::Named(name) => self.enc_named(name, v, out)?,
        }
        Ok(())
    }

    fn enc_fields(&self, fields: &[Value], v: &Value, out: &mut Vec<u8>) -> R<()> {
        let empty = JsonMap::new();
        let obj = if fields.is_empty() && v.is_null() {
            &empty
        } else {
            v.as_object().ok_or_else(|| format!("{v} is not an object"))?
        };
        if let Some(extra) = obj.keys().find(|k| {
            !fields.iter().any(|f| f.get("name").and_then(Value::as_str) == Some(k.as_str()))
        }) {
            return Err(format!("unknown field {extra:?}"));
        }
        for f in fields {
            let name = Self::str_field(f, "name")?;
            let value = obj.get(name).ok_or_else(|| format!("missing field {name:?}"))?;
            self.enc(&parse_ty(Self::str_field(f, "type")?)?, value, out)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    fn enc_named(&self, name: &str, v: &Value, out: &mut Vec<u8>) -> R<()> {
        let def = self.named(name)?;
        if let Some(fields) = def.get("struct").and_then(Value::as_array) {
            return self.enc_fields(fields, v, out);
        }
        let variants =
            def.get("enum").and_then(Value::as_array).ok_or_else(|| format!("bad type {name}"))?;
        let (variant, data) = match v {
            Value::String(s) => (s.as_str(), Value::Null),
            Value::Object(o) if o.len() == 1 => {
                let (k, d) = o.iter().next().unwrap();
                (k.as_str(), d.clone())
            }
            _ => return Err(format!("{v} is not a {name} variant")),
        };
        let index = variants
            .iter()
            .position(|x| x.get("name").and_then(Value::as_str) == Some(variant))
            .ok_or_else(|| format!("{name} has no variant {variant:?}"))?;
        out.push(index as u8);
        let fields =
            variants[index].get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
        self.enc_fields(&fields, &data, out)
    }

    fn dec(&self, ty: &Ty, rest: &mut &[u8]) -> R<Value> {
        fn take<'a>(rest: &mut &'a [u8], n: usize) -> R<&'a [u8]> {
            if rest.len() < n {
                return Err("unexpected end of bytes".to_string());
            }
            let (head, tail) = rest.split_at(n);
            *rest = tail;
            Ok(head)
        }
        fn len(rest: &mut &[u8]) -> R<usize> {
            Ok(u32::from_le_bytes(take(rest, 4)?.try_into().unwrap()) as usize)
        }
        Ok(match ty {
            Ty::Int { bytes, signed } => {
                let raw = take(rest, *bytes)?;
                let mut buf = [0u8; 16];
                buf[..*bytes].copy_from_slice(raw);
                if *signed && raw[*bytes - 1] & 0x80 != 0 {
                    buf[*bytes..].fill(0xff);
                }
                match (*bytes, *signed) {
                    (16, false) => Value::String(u128::from_le_bytes(buf).to_string()),
                    (16, true) => Value::String(i128::from_le_bytes(buf).to_string()),
                    (_, false) => Value::from(u128::from_le_bytes(buf) as u64),
                    (_, true) => Value::from(i128::from_le_bytes(buf) as i64),
                }
            }
            Ty::Bool => match take(rest, 1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("bad bool byte {b}")),
            },
            Ty::Str => {
                let n = len(rest)?;
                Value::String(
                    String::from_utf8(take(rest, n)?.to_vec())
                        .map_err(|_| "string is not UTF-8")?,
                )
            }
            Ty::Bytes => {
                let n = len(rest)?;
                Value::String(hex_encode(take(rest, n)?))
            }
            Ty::FixedBytes(n) => Value::String(hex_encode(take(rest, *n)?)),
            Ty::Unit => Value::Null,
            Ty::Vec(t) => {
                let n = len(rest)?;
                Value::Array((0..n).map(|_| self.dec(t, rest)).collect::<R<_>>()?)
            }
            Ty::Option(t) => match take(rest, 1)?[0] {
                0 => Value::Null,
                1 => self.dec(t, rest)?,
                b => return Err(format!("bad option byte {b}")),
            },
            Ty::Tuple(ts) => Value::Array(ts.iter().map(|t| self.dec(t, rest)).collect::<R<_>>()?),
            Ty::Named(name) => {
                let def = self.named(name)?;
                if let Some(fields) = def.get("struct").and_then(Value::as_array) {
                    self.dec_fields(fields, rest)?
                } else {
                    let variants = def
                        .get("enum")
                        .and_then(Value::as_array)
                        .ok_or_else(|| format!("bad type {name}"))?;
                    let index = take(rest, 1)?[0] as usize;
                    let variant = variants
                        .get(index)
                        .ok_or_else(|| format!("{name} has no variant {index}"))?;
                    let vname = Self::str_field(variant, "name")?.to_string();
                    match variant.get("fields").and_then(Value::as_array) {
                        Some(fields) if !fields.is_empty() => {
                            let mut o = JsonMap::new();
                            o.insert(vname, self.dec_fields(fields, rest)?);
                            Value::Object(o)
                        }
                        _ => Value::String(vname),
                    }
                }
            }
        })
    }

    fn dec_fields(&self, fields: &[Value], rest: &mut &[u8]) -> R<Value> {
        let mut o = JsonMap::new();
        for f in fields {
            let value = self.dec(&parse_ty(Self::str_field(f, "type")?)?, rest)?;
            o.insert(Self::str_field(f, "name")?.to_string(), value);
        }
        Ok(Value::Object(o))
    }
}

/// Calls method `name` as a client would through the node: JSON arguments encoded by the abi,
/// `methods` (a contract's `METHODS`) to find the function, the result decoded by the abi. A `view`
/// method runs as a view call.
pub fn invoke_json(
    abi: &Abi,
    methods: &[(&str, super::Method)],
    name: &str,
    args: Value,
) -> R<Value> {
    let bytes = abi
        .encode_args(name, &args)
        .unwrap_or_else(|e| panic!("abi cannot encode {name} args: {e}"));
    let method =
        methods.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no method {name}")).1;
    let result = invoke_raw(method, &bytes, abi.kind(name).unwrap() == "view")?;
    Ok(abi
        .decode_return(name, &result)
        .unwrap_or_else(|e| panic!("abi cannot decode {name} result: {e}")))
}

/// The abi lists exactly the contract's methods (`METHODS` of [`crate::methods!`]).
pub fn check_methods(abi: &Abi, methods: &[(&str, super::Method)]) -> R<()> {
    let in_abi: BTreeSet<&str> =
        abi.methods().iter().filter_map(|m| m.get("name").and_then(Value::as_str)).collect();
    let in_code: BTreeSet<&str> = methods.iter().map(|(n, _)| *n).collect();
    if in_abi != in_code {
        return Err(format!(
            "abi methods {:?} differ from the code's {:?}",
            in_abi.difference(&in_code).collect::<Vec<_>>(),
            in_code.difference(&in_abi).collect::<Vec<_>>()
        ));
    }
    Ok(())
}
