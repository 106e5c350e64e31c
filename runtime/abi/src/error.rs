//! The one error type of the crate: every message says where the problem is.

/// Why an interface, a module or a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// The interface is not well-formed JSON of the expected shape.
    #[error("interface JSON: {0}")]
    Json(String),
    /// The interface parses but breaks a rule (unknown type, duplicate method, recursion, …).
    #[error("invalid interface: {0}")]
    Invalid(String),
    /// The module bytes could not be walked.
    #[error("malformed wasm module: {0}")]
    Wasm(String),
    /// The module has no `kessai:abi` custom section.
    #[error("the module has no `{}` custom section", crate::SECTION)]
    MissingSection,
    /// A type expression does not parse.
    #[error("type `{expr}`: {reason}")]
    TypeExpr {
        /// The type expression as written.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A named type is not in `types`.
    #[error("unknown type `{0}`")]
    UnknownType(String),
    /// The interface has no method of that name.
    #[error("unknown method `{0}`")]
    UnknownMethod(String),
    /// The interface has no storage map of that name.
    #[error("unknown map `{0}`")]
    UnknownMap(String),
    /// The interface declares no event under that topic.
    #[error("unknown event topic `{0}`")]
    UnknownEvent(String),
    /// A JSON value does not fit its type; `path` locates it (`args.amount`, `value.items[2]`).
    #[error("{path}: {message}")]
    Encode {
        /// Where the value is, from the root argument or value.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Bytes do not decode as their type; `path` locates the value being read.
    #[error("{path}: {message}")]
    Decode {
        /// Where the value is, from the root of what is decoded.
        path: String,
        /// What is wrong with the bytes.
        message: String,
    },
}
