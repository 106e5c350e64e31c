//! Type expressions (`u64`, `vec<option<Record>>`, `tuple<address,bytes<64>>`) and their parser.

use crate::AbiError;

/// Deepest nesting accepted anywhere (type expressions, named types within named types). It bounds
/// the recursion of the parser and the codec, so a hostile interface cannot overflow the stack.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Int {
    U8,
    U16,
    U32,
    U64,
    U128,
    I8,
    I16,
    I32,
    I64,
    I128,
}

impl Int {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Int::U8 => "u8",
            Int::U16 => "u16",
            Int::U32 => "u32",
            Int::U64 => "u64",
            Int::U128 => "u128",
            Int::I8 => "i8",
            Int::I16 => "i16",
            Int::I32 => "i32",
            Int::I64 => "i64",
            Int::I128 => "i128",
        }
    }

    /// Encoded width in bytes.
    pub(crate) fn width(self) -> usize {
        match self {
            Int::U8 | Int::I8 => 1,
            Int::U16 | Int::I16 => 2,
            Int::U32 | Int::I32 => 4,
            Int::U64 | Int::I64 => 8,
            Int::U128 | Int::I128 => 16,
        }
    }

    pub(crate) fn signed(self) -> bool {
        matches!(self, Int::I8 | Int::I16 | Int::I32 | Int::I64 | Int::I128)
    }
}

/// A parsed type expression. Named types stay names; the codec resolves them against `types`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Int(Int),
    Bool,
    String,
    Bytes,
    Unit,
    /// `bytes<N>`, `address`, `hash`.
    Fixed(usize),
    Vec(Box<Ty>),
    Option(Box<Ty>),
    Tuple(Vec<Ty>),
    Named(String),
}

/// Names that are not available for `types` entries.
pub(crate) const BUILTIN_NAMES: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool", "string",
    "bytes", "unit", "address", "hash", "vec", "option", "tuple",
];

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Ty {
    pub(crate) fn parse(expr: &str) -> Result<Ty, AbiError> {
        let mut parser = Parser { expr, pos: 0 };
        let ty = parser.ty(0)?;
        parser.skip_space();
        if parser.pos != expr.len() {
            return Err(parser.error(format!("unexpected `{}`", &expr[parser.pos..])));
        }
        Ok(ty)
    }

    /// `option<T>` is `null` for None, so `T` must never be `null` itself or the JSON would be
    /// ambiguous (and would not round-trip).
    pub(crate) fn json_may_be_null(&self) -> bool {
        matches!(self, Ty::Unit | Ty::Option(_))
    }
}

struct Parser<'a> {
    expr: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: impl Into<String>) -> AbiError {
        AbiError::TypeExpr { expr: self.expr.to_string(), reason: reason.into() }
    }

    fn skip_space(&mut self) {
        let rest = &self.expr[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn word(&mut self) -> &str {
        self.skip_space();
        let rest = &self.expr[self.pos..];
        let len =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn eat(&mut self, punct: char) -> bool {
        self.skip_space();
        if self.expr[self.pos..].starts_with(punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: char) -> Result<(), AbiError> {
        if self.eat(punct) {
            Ok(())
        } else {
            let found = match self.expr[self.pos..].chars().next() {
                Some(c) => format!("`{c}`"),
                None => "the end".to_string(),
            };
            Err(self.error(format!("expected `{punct}`, found {found}")))
        }
    }

    fn ty(&mut self, depth: usize) -> Result<Ty, AbiError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH}")));
        }
        let word = self.word().to_string();
        let ty = match word.as_str() {
            "" => return Err(self.error("expected a type")),
            "u8" => Ty::Int(Int::U8),
            "u16" => Ty::Int(Int::U16),
            "u32" => Ty::Int(Int::U32),
            "u64" => Ty::Int(Int::U64),
            "u128" => Ty::Int(Int::U128),
            "i8" => Ty::Int(Int::I8),
            "i16" => Ty::Int(Int::I16),
            "i32" => Ty::Int(Int::I32),
            "i64" => Ty::Int(Int::I64),
            "i128" => Ty::Int(Int::I128),
            "bool" => Ty::Bool,
            "string" => Ty::String,
            "unit" => Ty::Unit,
            "address" | "hash" => Ty::Fixed(32),
            "bytes" => {
                if self.eat('<') {
                    let len = self.length()?;
                    self.expect('>')?;
                    Ty::Fixed(len)
                } else {
                    Ty::Bytes
                }
            }
            "vec" => Ty::Vec(Box::new(self.single_argument(depth)?)),
            "option" => {
                let inner = self.single_argument(depth)?;
                if inner.json_may_be_null() {
                    return Err(self.error(
                        "option of unit or of option is ambiguous in JSON (both would be null)",
                    ));
                }
                Ty::Option(Box::new(inner))
            }
            "tuple" => {
                self.expect('<')?;
                let mut items = vec![self.ty(depth + 1)?];
                while self.eat(',') {
                    items.push(self.ty(depth + 1)?);
                }
                self.expect('>')?;
                Ty::Tuple(items)
            }
            name if is_identifier(name) => Ty::Named(word),
            _ => return Err(self.error(format!("`{word}` is not a type name"))),
        };
        Ok(ty)
    }

    fn single_argument(&mut self, depth: usize) -> Result<Ty, AbiError> {
        self.expect('<')?;
        let inner = self.ty(depth + 1)?;
        self.expect('>')?;
        Ok(inner)
    }

    fn length(&mut self) -> Result<usize, AbiError> {
        let digits = self.word().to_string();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(format!("expected a byte count, found `{digits}`")));
        }
        // Lengths are u32 in borsh; a fixed array longer than that is not a sensible type.
        digits
            .parse::<u32>()
            .map(|n| n as usize)
            .map_err(|_| self.error(format!("byte count `{digits}` is too large")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> Ty {
        Ty::Named(n.to_string())
    }

    #[test]
    fn parses_nested_generics() {
        assert_eq!(
            Ty::parse(" vec< tuple<u8, option<Record>,bytes<64>> > ").unwrap(),
            Ty::Vec(Box::new(Ty::Tuple(vec![
                Ty::Int(Int::U8),
                Ty::Option(Box::new(named("Record"))),
                Ty::Fixed(64),
            ])))
        );
        assert_eq!(Ty::parse("address").unwrap(), Ty::Fixed(32));
        assert_eq!(Ty::parse("hash").unwrap(), Ty::Fixed(32));
        assert_eq!(Ty::parse("bytes").unwrap(), Ty::Bytes);
        assert_eq!(Ty::parse("i128").unwrap(), Ty::Int(Int::I128));
    }

    #[test]
    fn rejects_malformed_expressions() {
        for bad in [
            "",
            "vec",
            "vec<>",
            "vec<u8",
            "vec<u8>>",
            "tuple<>",
            "tuple<u8,>",
            "bytes<>",
            "bytes<x>",
            "bytes<-1>",
            "bytes<99999999999>",
            "u8 u8",
            "9abc",
            "a-b",
            "option<unit>",
            "option<option<u8>>",
        ] {
            assert!(
                matches!(Ty::parse(bad), Err(AbiError::TypeExpr { .. })),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn bounds_nesting() {
        let deep = format!("{}u8{}", "vec<".repeat(10_000), ">".repeat(10_000));
        let err = Ty::parse(&deep).unwrap_err().to_string();
        assert!(err.contains("nested deeper"), "{err}");
        let ok = format!("{}u8{}", "vec<".repeat(MAX_DEPTH - 1), ">".repeat(MAX_DEPTH - 1));
        Ty::parse(&ok).unwrap();
    }
}
