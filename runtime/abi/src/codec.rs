//! JSON <-> borsh by resolved type. Types reaching here went through [`Schema`], so every name is
//! defined, nesting is bounded and no `vec` has zero-sized elements: the recursion is bounded, and a
//! vec's length prefix can be checked against the bytes left before anything is allocated.

use serde_json::{Map, Value};

use crate::schema::{Def, Schema};
use crate::ty::{Int, Ty};
use crate::AbiError;

/// Where in the value we are, for error messages: `args.record.owner`, `return[2]`.
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn new(root: &str) -> Self {
        Path(root.to_string())
    }

    /// Runs `f` with `segment` appended to the path.
    fn with<T>(&mut self, segment: impl std::fmt::Display, f: impl FnOnce(&mut Self) -> T) -> T {
        let len = self.0.len();
        self.0.push_str(&segment.to_string());
        let result = f(self);
        self.0.truncate(len);
        result
    }

    fn encode_error(&self, message: impl Into<String>) -> AbiError {
        AbiError::Encode { path: self.0.clone(), message: message.into() }
    }

    fn decode_error(&self, message: impl Into<String>) -> AbiError {
        AbiError::Decode { path: self.0.clone(), message: message.into() }
    }
}

/// A JSON value as it appears in an error message: compact, and cut if long.
pub(crate) fn show(value: &Value) -> String {
    const MAX: usize = 80;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn expected(path: &Path, what: &str, value: &Value) -> AbiError {
    path.encode_error(format!("expected {what}, got {}", show(value)))
}

/// borsh length prefixes are u32.
fn put_len(len: usize, path: &Path, out: &mut Vec<u8>) -> Result<(), AbiError> {
    let len = u32::try_from(len)
        .map_err(|_| path.encode_error(format!("length {len} does not fit the u32 prefix")))?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

pub(crate) fn encode(
    schema: &Schema<'_>,
    ty: &Ty,
    value: &Value,
    path: &mut Path,
    out: &mut Vec<u8>,
) -> Result<(), AbiError> {
    match ty {
        Ty::Int(int) => out.extend_from_slice(&encode_int(*int, value, path)?),
        Ty::Bool => out.push(value.as_bool().ok_or_else(|| expected(path, "bool", value))? as u8),
        Ty::String => {
            let s = value.as_str().ok_or_else(|| expected(path, "a string", value))?;
            put_len(s.len(), path, out)?;
            out.extend_from_slice(s.as_bytes());
        }
        Ty::Bytes => {
            let bytes = parse_hex(value, path, "hex bytes")?;
            put_len(bytes.len(), path, out)?;
            out.extend_from_slice(&bytes);
        }
        Ty::Fixed(n) => {
            let what = format!("{n} bytes of hex");
            let bytes = parse_hex(value, path, &what)?;
            if bytes.len() != *n {
                return Err(path.encode_error(format!("expected {what}, got {}", bytes.len())));
            }
            out.extend_from_slice(&bytes);
        }
        Ty::Unit => {
            if !value.is_null() {
                return Err(expected(path, "null (unit)", value));
            }
        }
        Ty::Vec(item) => {
            let items = value.as_array().ok_or_else(|| expected(path, "an array", value))?;
            put_len(items.len(), path, out)?;
            for (i, v) in items.iter().enumerate() {
                path.with(format_args!("[{i}]"), |path| encode(schema, item, v, path, out))?;
            }
        }
        Ty::Option(inner) => {
            if value.is_null() {
                out.push(0);
            } else {
                out.push(1);
                encode(schema, inner, value, path, out)?;
            }
        }
        Ty::Tuple(items) => {
            let values = value.as_array().filter(|a| a.len() == items.len()).ok_or_else(|| {
                expected(path, &format!("an array of {} items", items.len()), value)
            })?;
            for (i, (item, v)) in items.iter().zip(values).enumerate() {
                path.with(format_args!("[{i}]"), |path| encode(schema, item, v, path, out))?;
            }
        }
        Ty::Named(name) => match schema.def(name) {
            Def::Struct(fields) => encode_fields(schema, name, fields, value, path, out)?,
            Def::Enum(variants) => encode_enum(schema, name, variants, value, path, out)?,
        },
    }
    Ok(())
}

/// The fields of a struct or enum variant, from a JSON object holding exactly them.
fn encode_fields(
    schema: &Schema<'_>,
    type_name: &str,
    fields: &[(String, Ty)],
    value: &Value,
    path: &mut Path,
    out: &mut Vec<u8>,
) -> Result<(), AbiError> {
    let object = value
        .as_object()
        .ok_or_else(|| expected(path, &format!("an object (`{type_name}`)"), value))?;
    if let Some(extra) = object.keys().find(|k| !fields.iter().any(|(f, _)| f == *k)) {
        return Err(path.encode_error(format!("unknown field `{extra}` of `{type_name}`")));
    }
    for (field, ty) in fields {
        let v = object.get(field).ok_or_else(|| {
            path.encode_error(format!("missing field `{field}` of `{type_name}`"))
        })?;
        path.with(format_args!(".{field}"), |path| encode(schema, ty, v, path, out))?;
    }
    Ok(())
}

/// `"Name"` for a variant without fields, `{"Name": {fields}}` for one with.
fn encode_enum(
    schema: &Schema<'_>,
    type_name: &str,
    variants: &[(String, Vec<(String, Ty)>)],
    value: &Value,
    path: &mut Path,
    out: &mut Vec<u8>,
) -> Result<(), AbiError> {
    let (name, fields_value) = match value {
        Value::String(name) => (name, None),
        Value::Object(object) if object.len() == 1 => {
            let (name, fields) = object.iter().next().expect("one entry");
            (name, Some(fields))
        }
        _ => {
            let what = format!("a variant of `{type_name}`: \"Name\" or {{\"Name\": {{fields}}}}");
            return Err(expected(path, &what, value));
        }
    };
    let (index, (_, fields)) =
        variants.iter().enumerate().find(|(_, (v, _))| v == name).ok_or_else(|| {
            let names: Vec<&str> = variants.iter().map(|(v, _)| v.as_str()).collect();
            path.encode_error(format!(
                "unknown variant `{name}` of `{type_name}` (expected one of {})",
                names.join(", ")
            ))
        })?;
    out.push(index as u8);
    match fields_value {
        None if fields.is_empty() => Ok(()),
        None => Err(path
            .encode_error(format!("variant `{name}` has fields: expected {{\"{name}\": {{…}}}}"))),
        // A variant without fields may also be written `{"Name": {}}` or `{"Name": null}`.
        Some(Value::Null) if fields.is_empty() => Ok(()),
        Some(v) => path.with(format_args!(".{name}"), |path| {
            encode_fields(schema, type_name, fields, v, path, out)
        }),
    }
}

/// Integers: JSON numbers or decimal strings, in range of the type; little-endian two's complement.
fn encode_int(int: Int, value: &Value, path: &Path) -> Result<Vec<u8>, AbiError> {
    let bad = || {
        let hint = if value.is_f64() && int.width() == 16 {
            " (write integers beyond 64 bits as decimal strings)"
        } else {
            ""
        };
        path.encode_error(format!("expected {}, got {}{hint}", int.name(), show(value)))
    };
    let (negative, magnitude) = match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                (false, u128::from(u))
            } else if let Some(i) = n.as_i64() {
                (true, u128::from(i.unsigned_abs()))
            } else {
                return Err(bad());
            }
        }
        Value::String(s) => {
            let (negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            (negative, digits.parse::<u128>().map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    };
    let bits = 8 * int.width() as u32;
    let fits = match (int.signed(), negative) {
        (false, false) => bits == 128 || magnitude < 1u128 << bits,
        (false, true) => magnitude == 0,
        (true, false) => magnitude < 1u128 << (bits - 1),
        (true, true) => magnitude <= 1u128 << (bits - 1),
    };
    if !fits {
        return Err(bad());
    }
    let twos = if negative { magnitude.wrapping_neg() } else { magnitude };
    Ok(twos.to_le_bytes()[..int.width()].to_vec())
}

fn parse_hex(value: &Value, path: &Path, what: &str) -> Result<Vec<u8>, AbiError> {
    let s = value.as_str().ok_or_else(|| expected(path, what, value))?;
    let digits = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(digits)
        .map_err(|e| path.encode_error(format!("expected {what}, got {}: {e}", show(value))))
}

/// Bytes being decoded. Every read checks what is left first.
pub(crate) struct Input<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Input<'b> {
    pub(crate) fn new(bytes: &'b [u8]) -> Self {
        Input { bytes, pos: 0 }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, len: usize, path: &Path) -> Result<&'b [u8], AbiError> {
        if len > self.left() {
            return Err(path.decode_error(format!(
                "truncated input: needs {len} bytes at offset {}, {} left",
                self.pos,
                self.left()
            )));
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    fn byte(&mut self, path: &Path) -> Result<u8, AbiError> {
        Ok(self.take(1, path)?[0])
    }

    /// A u32 length prefix, checked against the bytes left: every element takes at least one
    /// byte (the schema refuses vecs of zero-sized elements), so a longer claim is a lie.
    fn len(&mut self, path: &Path) -> Result<usize, AbiError> {
        let at = self.pos;
        let raw = self.take(4, path)?;
        let len = u32::from_le_bytes(raw.try_into().expect("4 bytes")) as usize;
        if len > self.left() {
            return Err(path.decode_error(format!(
                "truncated input: length prefix {len} at offset {at} exceeds the {} bytes left",
                self.left()
            )));
        }
        Ok(len)
    }

    /// Refuses bytes after the value: a value has one encoding.
    pub(crate) fn finish(&self, path: &Path) -> Result<(), AbiError> {
        if self.left() > 0 {
            return Err(path.decode_error(format!(
                "{} trailing bytes after offset {}",
                self.left(),
                self.pos
            )));
        }
        Ok(())
    }
}

pub(crate) fn decode(
    schema: &Schema<'_>,
    ty: &Ty,
    input: &mut Input<'_>,
    path: &mut Path,
) -> Result<Value, AbiError> {
    Ok(match ty {
        Ty::Int(int) => decode_int(*int, input.take(int.width(), path)?),
        Ty::Bool => match input.byte(path)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(invalid_tag(path, input, "bool", b)),
        },
        Ty::String => {
            let len = input.len(path)?;
            let at = input.pos;
            let raw = input.take(len, path)?;
            let s = std::str::from_utf8(raw).map_err(|e| {
                path.decode_error(format!("string at offset {at} is not UTF-8: {e}"))
            })?;
            Value::String(s.to_string())
        }
        Ty::Bytes => {
            let len = input.len(path)?;
            Value::String(hex::encode(input.take(len, path)?))
        }
        Ty::Fixed(n) => Value::String(hex::encode(input.take(*n, path)?)),
        Ty::Unit => Value::Null,
        Ty::Vec(item) => {
            let len = input.len(path)?;
            let mut items = Vec::with_capacity(len);
            for i in 0..len {
                items.push(
                    path.with(format_args!("[{i}]"), |path| decode(schema, item, input, path))?,
                );
            }
            Value::Array(items)
        }
        Ty::Option(inner) => match input.byte(path)? {
            0 => Value::Null,
            1 => decode(schema, inner, input, path)?,
            b => return Err(invalid_tag(path, input, "option tag", b)),
        },
        Ty::Tuple(items) => {
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                values.push(
                    path.with(format_args!("[{i}]"), |path| decode(schema, item, input, path))?,
                );
            }
            Value::Array(values)
        }
        Ty::Named(name) => match schema.def(name) {
            Def::Struct(fields) => decode_fields(schema, fields, input, path)?,
            Def::Enum(variants) => {
                let index = input.byte(path)?;
                let (variant, fields) = variants.get(usize::from(index)).ok_or_else(|| {
                    path.decode_error(format!(
                        "variant index {index} at offset {} out of range: `{name}` has {}",
                        input.pos - 1,
                        variants.len()
                    ))
                })?;
                if fields.is_empty() {
                    Value::String(variant.clone())
                } else {
                    let value = path.with(format_args!(".{variant}"), |path| {
                        decode_fields(schema, fields, input, path)
                    })?;
                    Value::Object(Map::from_iter([(variant.clone(), value)]))
                }
            }
        },
    })
}

fn invalid_tag(path: &Path, input: &Input<'_>, what: &str, byte: u8) -> AbiError {
    path.decode_error(format!(
        "invalid {what} 0x{byte:02x} at offset {} (expected 0 or 1)",
        input.pos - 1
    ))
}

fn decode_fields(
    schema: &Schema<'_>,
    fields: &[(String, Ty)],
    input: &mut Input<'_>,
    path: &mut Path,
) -> Result<Value, AbiError> {
    let mut object = Map::new();
    for (field, ty) in fields {
        let value = path.with(format_args!(".{field}"), |path| decode(schema, ty, input, path))?;
        object.insert(field.clone(), value);
    }
    Ok(Value::Object(object))
}

/// Up to 64 bits as JSON numbers, 128 bits as decimal strings (JSON numbers lose them).
fn decode_int(int: Int, raw: &[u8]) -> Value {
    let mut le = [0u8; 16];
    le[..raw.len()].copy_from_slice(raw);
    let unsigned = u128::from_le_bytes(le);
    let bits = 8 * raw.len() as u32;
    let value: i128 = if int.signed() && bits < 128 {
        // Sign-extend: shift the sign bit to the top, then back.
        ((unsigned << (128 - bits)) as i128) >> (128 - bits)
    } else if int.signed() {
        unsigned as i128
    } else {
        return match int {
            Int::U128 => Value::String(unsigned.to_string()),
            _ => Value::from(unsigned as u64),
        };
    };
    match int {
        Int::I128 => Value::String(value.to_string()),
        _ => Value::from(value as i64),
    }
}
