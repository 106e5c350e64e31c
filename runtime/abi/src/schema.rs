//! Resolution of type expressions against an interface's `types`: every name exists, nothing is
//! recursive or nested too deep, no `vec` of zero-sized elements. The codec only ever walks types
//! that went through here, so it needs no checks of its own for these.

use std::collections::HashMap;

use crate::ty::{is_identifier, Ty, BUILTIN_NAMES, MAX_DEPTH};
use crate::{Abi, AbiError, Field, TypeDef};

/// A named type with its field types parsed.
pub(crate) enum Def {
    Struct(Vec<(String, Ty)>),
    Enum(Vec<(String, Vec<(String, Ty)>)>),
}

/// borsh writes the variant index as one byte.
const MAX_VARIANTS: usize = 256;

#[derive(Clone, Copy)]
struct Shape {
    /// Nesting height: 1 for a leaf, one more than the tallest child otherwise.
    height: usize,
    /// Encodes to zero bytes (`unit`, `bytes<0>`, a struct of such fields).
    zero_sized: bool,
}

/// The named types reachable from the expressions resolved so far.
pub(crate) struct Schema<'a> {
    abi: &'a Abi,
    defs: HashMap<&'a str, (Def, Shape)>,
    /// Named types being resolved, outermost first: a name met again here is a recursion.
    in_progress: Vec<&'a str>,
}

impl<'a> Schema<'a> {
    pub(crate) fn new(abi: &'a Abi) -> Self {
        Schema { abi, defs: HashMap::new(), in_progress: Vec::new() }
    }

    /// Parses `expr` and checks it and every named type it reaches.
    pub(crate) fn resolve(&mut self, expr: &str) -> Result<Ty, AbiError> {
        let ty = Ty::parse(expr)?;
        self.check(&ty, 0)?;
        Ok(ty)
    }

    /// Checks the named type `name` (and what it reaches).
    pub(crate) fn resolve_named(&mut self, name: &str) -> Result<(), AbiError> {
        self.named(name, 0).map(|_| ())
    }

    /// The definition of a named type already resolved.
    pub(crate) fn def(&self, name: &str) -> &Def {
        &self.defs[name].0
    }

    /// `depth` is how deep `ty` sits below the expression being resolved: stopping at the limit on
    /// the way down keeps the recursion bounded even before any height is known.
    fn check(&mut self, ty: &Ty, depth: usize) -> Result<Shape, AbiError> {
        if depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        let leaf = |zero_sized| Ok(Shape { height: 1, zero_sized });
        let shape = match ty {
            Ty::Int(_) | Ty::Bool | Ty::String | Ty::Bytes => return leaf(false),
            Ty::Unit => return leaf(true),
            Ty::Fixed(n) => return leaf(*n == 0),
            Ty::Vec(item) => {
                let item_shape = self.check(item, depth + 1)?;
                if item_shape.zero_sized {
                    return Err(AbiError::Invalid(
                        "a vec of zero-sized elements could claim billions of them in 4 bytes"
                            .into(),
                    ));
                }
                Shape { height: item_shape.height + 1, zero_sized: false }
            }
            Ty::Option(inner) => {
                let inner = self.check(inner, depth + 1)?;
                Shape { height: inner.height + 1, zero_sized: false }
            }
            Ty::Tuple(items) => {
                let mut shape = Shape { height: 1, zero_sized: true };
                for item in items {
                    let item = self.check(item, depth + 1)?;
                    shape.height = shape.height.max(item.height + 1);
                    shape.zero_sized &= item.zero_sized;
                }
                shape
            }
            Ty::Named(name) => self.named(name, depth)?,
        };
        if shape.height > MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(shape)
    }

    fn named(&mut self, name: &str, depth: usize) -> Result<Shape, AbiError> {
        if let Some((_, shape)) = self.defs.get(name) {
            return Ok(*shape);
        }
        let (name, def) = self
            .abi
            .types
            .get_key_value(name)
            .ok_or_else(|| AbiError::UnknownType(name.to_string()))?;
        if self.in_progress.contains(&name.as_str()) {
            let cycle = [&self.in_progress[..], &[name.as_str()]].concat().join(" -> ");
            return Err(AbiError::Invalid(format!("recursive type: {cycle}")));
        }
        self.in_progress.push(name);
        let result = self.define(name, def, depth);
        self.in_progress.pop();
        let (def, shape) = result?;
        self.defs.insert(name, (def, shape));
        Ok(shape)
    }

    fn define(
        &mut self,
        name: &str,
        def: &TypeDef,
        depth: usize,
    ) -> Result<(Def, Shape), AbiError> {
        let in_type = |e: AbiError| prefix(&format!("type `{name}`"), e);
        if !is_identifier(name) || BUILTIN_NAMES.contains(&name) {
            return Err(in_type(AbiError::Invalid(
                "a type name must be an identifier other than a built-in type".into(),
            )));
        }
        match def {
            TypeDef::Struct(fields) => {
                let (fields, shape) = self.fields(fields, depth).map_err(in_type)?;
                Ok((Def::Struct(fields), shape))
            }
            TypeDef::Enum(variants) => {
                if variants.is_empty() || variants.len() > MAX_VARIANTS {
                    return Err(in_type(AbiError::Invalid(format!(
                        "an enum needs 1 to {MAX_VARIANTS} variants, not {}",
                        variants.len()
                    ))));
                }
                let mut resolved = Vec::with_capacity(variants.len());
                let mut height = 1;
                for variant in variants {
                    let in_variant = |e| in_type(prefix(&format!("variant `{}`", variant.name), e));
                    if !is_identifier(&variant.name) {
                        return Err(in_variant(AbiError::Invalid("not an identifier".into())));
                    }
                    if resolved.iter().any(|(n, _)| *n == variant.name) {
                        return Err(in_variant(AbiError::Invalid("duplicate variant".into())));
                    }
                    let (fields, shape) =
                        self.fields(&variant.fields, depth).map_err(in_variant)?;
                    height = height.max(shape.height);
                    resolved.push((variant.name.clone(), fields));
                }
                let shape = Shape { height, zero_sized: false };
                Ok((Def::Enum(resolved), shape))
            }
        }
    }

    /// The fields of a struct or of an enum variant; the shape is that of the struct they make.
    fn fields(
        &mut self,
        fields: &[Field],
        depth: usize,
    ) -> Result<(Vec<(String, Ty)>, Shape), AbiError> {
        let mut resolved: Vec<(String, Ty)> = Vec::with_capacity(fields.len());
        let mut shape = Shape { height: 1, zero_sized: true };
        for field in fields {
            let in_field = |e| prefix(&format!("field `{}`", field.name), e);
            if !is_identifier(&field.name) {
                return Err(in_field(AbiError::Invalid("not an identifier".into())));
            }
            if resolved.iter().any(|(n, _)| *n == field.name) {
                return Err(in_field(AbiError::Invalid("duplicate field".into())));
            }
            let ty = Ty::parse(&field.ty).map_err(in_field)?;
            let field_shape = self.check(&ty, depth + 1).map_err(in_field)?;
            shape.height = shape.height.max(field_shape.height + 1);
            shape.zero_sized &= field_shape.zero_sized;
            resolved.push((field.name.clone(), ty));
        }
        Ok((resolved, shape))
    }
}

fn too_deep() -> AbiError {
    AbiError::Invalid(format!("types are nested deeper than {MAX_DEPTH}"))
}

/// Puts `context` in front of an error's message, keeping errors about the interface `Invalid`.
/// Errors from nested types already carry their own context, so it is added once per level.
pub(crate) fn prefix(context: &str, error: AbiError) -> AbiError {
    let message = match error {
        AbiError::Invalid(message) => message,
        other => other.to_string(),
    };
    AbiError::Invalid(format!("{context}: {message}"))
}
