//! The runtime's errors, one type per question a caller asks.
//!
//! A contract failing is not an error of the runtime: it is a receipt with status `failed`. These
//! types are for what the caller must handle itself: the state could not be read ([`StateError`],
//! [`RuntimeError`]), code was refused at deploy ([`DeployError`]), a view call failed
//! ([`CallError`]) or a transaction was refused at the mempool ([`TxRejection`]).

use kessai_primitives::{Address, PublicKey, Role};

pub use kessai_state::StateError;

/// Why the runtime could not do its job at all (as opposed to a transaction failing).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    #[error("cannot set up the wasm engine: {0}")]
    Engine(String),
    #[error("cannot start the execution thread: {0}")]
    Thread(std::io::Error),
    #[error("genesis: {0}")]
    Genesis(String),
}

/// Why code was refused at deploy time: each variant names the rule of `docs/contract-abi.md`
/// ("Module shape") or the structural limit of [`crate::RuntimeConfig`] that the module breaks.
///
/// The text is the reason stored in a failed deploy's receipt, which is consensus data: it is
/// Kessai's own, from this closed set, and never a library's message (what wasmparser, wasmtime or
/// the interface parser said goes to the node's log where the module is refused), so that
/// upgrading a library cannot make validators disagree on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("not a valid wasm module of the allowed proposals (MVP + bulk-memory, mutable-global, sign-ext, multi-value, reference-types, saturating float-to-int)")]
    Invalid,
    #[error("the module must export its linear memory as `memory`")]
    NoMemoryExport,
    #[error("export `{name}` must be a function () -> (), it is {found}")]
    BadExport { name: String, found: String },
    #[error("import `{module}::{name}` is not allowed: a contract imports only the functions of module `kessai` listed in contract-abi.md")]
    ForbiddenImport { module: String, name: String },
    #[error("import `kessai::{name}` has signature {found}, expected {expected}")]
    ImportSignature { name: String, expected: String, found: String },
    #[error("the module has a start function; contracts must not (put set-up code in `init`)")]
    StartFunction,
    #[error("the module has no `{}` custom section", kessai_abi::SECTION)]
    MissingAbi,
    /// What is wrong with it, in a few words of our own.
    #[error("the `kessai:abi` custom section is invalid: {0}")]
    BadAbi(&'static str),
    #[error("the interface lists method `{0}` but the module does not export it")]
    MethodNotExported(String),
    #[error("the module asks for {pages} pages of memory at start; the limit is {limit} pages")]
    MemoryTooLarge { pages: u64, limit: u64 },
    #[error("the module has {0} tables; at most 1 is allowed")]
    TooManyTables(usize),
    #[error("the module's table starts with {elements} elements; the limit is {limit}")]
    TableTooLarge { elements: u64, limit: u64 },
    #[error("the module is {size} bytes; the limit is {limit}")]
    CodeTooLarge { size: u64, limit: u64 },
    /// Too many of one kind of item: `what` is `functions`, `globals`, `data segments`,
    /// `element segments`, `types`, `imports` or `exports`.
    #[error("the module has {found} {what}; the limit is {limit}")]
    TooMany { what: &'static str, found: u64, limit: u64 },
    #[error("function {function} has a body of {size} bytes; the limit is {limit}")]
    FunctionTooLarge { function: u32, size: u64, limit: u64 },
    #[error("function {function} declares {found} locals; the limit is {limit}")]
    TooManyLocals { function: u32, found: u64, limit: u64 },
    #[error("function {function} nests blocks deeper than {limit}")]
    NestingTooDeep { function: u32, limit: u32 },
    /// `block`, `loop`, `if`, `else`, `br`, `br_if`, `br_table` and `call_indirect` count.
    #[error("function {function} has more than {limit} branching instructions")]
    TooManyBranches { function: u32, limit: u32 },
}

/// Why a read-only call (RPC `contract_view`) gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no contract at {0}")]
    NoContract(Address),
    #[error("no method {0}")]
    NoMethod(String),
    #[error("method {0} is not a view method; call it in a transaction")]
    NotView(String),
    /// The contract trapped, aborted, ran out of gas, tried to write… (the same reasons as a
    /// failed transaction's receipt).
    #[error("view call failed: {0}")]
    Failed(String),
    #[error(transparent)]
    State(#[from] StateError),
    /// The runtime could not run the call at all (no execution thread).
    #[error("runtime: {0}")]
    Runtime(String),
}

/// Why the mempool must not accept a transaction (see [`crate::Runtime::check_tx`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxRejection {
    #[error("signer {0} is not a member of the consortium")]
    NotMember(PublicKey),
    #[error("nonce {got} is already used: the signer's next nonce is {expected}")]
    NonceUsed { expected: u64, got: u64 },
    #[error("nonce {got} leaves a gap: the signer's next nonce is {expected}")]
    NonceGap { expected: u64, got: u64 },
    /// `needed` is [`crate::gas::intrinsic`], plus the compile gas of a deploy
    /// ([`crate::Runtime::compile_gas`]).
    #[error("gas limit {limit} is below the transaction's intrinsic cost {needed}")]
    GasLimitTooLow { limit: u64, needed: u64 },
    #[error("gas limit {limit} is above the per-transaction maximum {max}")]
    GasLimitTooHigh { limit: u64, max: u64 },
    #[error("signer {signer} lacks the {role:?} role this transaction needs")]
    MissingRole { signer: PublicKey, role: Role },
    /// A deployed module breaks a structural limit or a rule found without compiling it.
    #[error("invalid code: {0}")]
    InvalidCode(DeployError),
    #[error(transparent)]
    State(#[from] StateError),
}
