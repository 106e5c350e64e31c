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
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The [`crate::RuntimeConfig`] breaks one of its own rules (checked by [`crate::Runtime::new`]).
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    /// wasmtime refused the engine configuration or the host functions could not be linked.
    #[error("cannot set up the wasm engine: {0}")]
    Engine(String),
    /// The operating system would not start the thread contracts run on (with the configured
    /// stack size).
    #[error("cannot start the execution thread: {0}")]
    Thread(std::io::Error),
    /// The chain spec's genesis cannot be built: a member listed twice, a contract name empty or
    /// repeated, a contract's code refused or its `init` failed.
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
    /// The bytes are not a wasm module, or it uses a proposal outside the allowed set.
    #[error("not a valid wasm module of the allowed proposals (MVP + bulk-memory, mutable-global, sign-ext, multi-value, reference-types, saturating float-to-int)")]
    Invalid,
    /// No memory is exported as `memory`: the host reads and writes arguments through it.
    #[error("the module must export its linear memory as `memory`")]
    NoMemoryExport,
    /// An interface method or `init` is exported as something else than a function without
    /// parameters or results.
    #[error("export `{name}` must be a function () -> (), it is {found}")]
    BadExport {
        /// The export's name.
        name: String,
        /// What it is instead (its kind, or its function type).
        found: String,
    },
    /// An import from another module than `kessai`, or of a function `kessai` does not provide.
    #[error("import `{module}::{name}` is not allowed: a contract imports only the functions of module `kessai` listed in contract-abi.md")]
    ForbiddenImport {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
    },
    /// A `kessai` host function imported with another type than the host defines.
    #[error("import `kessai::{name}` has signature {found}, expected {expected}")]
    ImportSignature {
        /// The host function's name.
        name: String,
        /// Its type as the host defines it.
        expected: String,
        /// The type the module imports it with.
        found: String,
    },
    /// The module declares a start function, which would run at every instantiation.
    #[error("the module has a start function; contracts must not (put set-up code in `init`)")]
    StartFunction,
    /// The module carries no interface (`kessai:abi` custom section).
    #[error("the module has no `{}` custom section", kessai_abi::SECTION)]
    MissingAbi,
    /// What is wrong with it, in a few words of our own.
    #[error("the `kessai:abi` custom section is invalid: {0}")]
    BadAbi(&'static str),
    /// A method of the interface (named here) is not exported by the module.
    #[error("the interface lists method `{0}` but the module does not export it")]
    MethodNotExported(String),
    /// The initial memory is larger than the configured limit (pages of 64 KiB).
    #[error("the module asks for {pages} pages of memory at start; the limit is {limit} pages")]
    MemoryTooLarge {
        /// The initial memory the module declares, in 64 KiB pages.
        pages: u64,
        /// The most pages allowed.
        limit: u64,
    },
    /// The module defines more than one table (the count is where the check stopped: 2).
    #[error("the module has {0} tables; at most 1 is allowed")]
    TooManyTables(usize),
    /// The table's initial size is larger than the configured limit.
    #[error("the module's table starts with {elements} elements; the limit is {limit}")]
    TableTooLarge {
        /// The table's initial number of elements.
        elements: u64,
        /// The most elements allowed.
        limit: u64,
    },
    /// The module's code is larger than the configured limit.
    #[error("the module is {size} bytes; the limit is {limit}")]
    CodeTooLarge {
        /// The module's size, in bytes.
        size: u64,
        /// The most bytes allowed.
        limit: u64,
    },
    /// Too many of one kind of item: `what` is `functions`, `globals`, `data segments`,
    /// `element segments`, `types`, `imports` or `exports`.
    #[error("the module has {found} {what}; the limit is {limit}")]
    TooMany {
        /// The kind of item.
        what: &'static str,
        /// How many the module has.
        found: u64,
        /// The most allowed.
        limit: u64,
    },
    /// A function body is larger than the configured limit.
    #[error("function {function} has a body of {size} bytes; the limit is {limit}")]
    FunctionTooLarge {
        /// The function's index in the module's function index space.
        function: u32,
        /// Its body's size, in bytes.
        size: u64,
        /// The most bytes allowed.
        limit: u64,
    },
    /// A function declares more locals than the configured limit.
    #[error("function {function} declares {found} locals; the limit is {limit}")]
    TooManyLocals {
        /// The function's index in the module's function index space.
        function: u32,
        /// How many locals it declares (parameters not counted).
        found: u64,
        /// The most allowed.
        limit: u64,
    },
    /// A function nests `block`, `loop` and `if` deeper than the configured limit.
    #[error("function {function} nests blocks deeper than {limit}")]
    NestingTooDeep {
        /// The function's index in the module's function index space.
        function: u32,
        /// The deepest nesting allowed.
        limit: u32,
    },
    /// `block`, `loop`, `if`, `else`, `br`, `br_if`, `br_table` and `call_indirect` count.
    #[error("function {function} has more than {limit} branching instructions")]
    TooManyBranches {
        /// The function's index in the module's function index space.
        function: u32,
        /// The most branching instructions allowed in one function.
        limit: u32,
    },
}

/// Why a read-only call (RPC `contract_view`) gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No contract is deployed at this address.
    #[error("no contract at {0}")]
    NoContract(Address),
    /// The contract's interface has no method of this name.
    #[error("no method {0}")]
    NoMethod(String),
    /// The method may write state, so it runs only in a transaction.
    #[error("method {0} is not a view method; call it in a transaction")]
    NotView(String),
    /// The contract trapped, aborted, ran out of gas, tried to write… (the same reasons as a
    /// failed transaction's receipt).
    #[error("view call failed: {0}")]
    Failed(String),
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The runtime could not run the call at all (no execution thread).
    #[error("runtime: {0}")]
    Runtime(String),
}

/// Why the mempool must not accept a transaction (see [`crate::Runtime::check_tx`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxRejection {
    /// The signer has no `member/` entry in the state.
    #[error("signer {0} is not a member of the consortium")]
    NotMember(PublicKey),
    /// The transaction's nonce is below the signer's next nonce: it was used by a committed
    /// transaction.
    #[error("nonce {got} is already used: the signer's next nonce is {expected}")]
    NonceUsed {
        /// The signer's next nonce in the state.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The transaction's nonce is above the signer's next nonce, so it cannot execute yet.
    #[error("nonce {got} leaves a gap: the signer's next nonce is {expected}")]
    NonceGap {
        /// The signer's next nonce in the state.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// `needed` is [`crate::gas::intrinsic`], plus the compile gas of a deploy
    /// ([`crate::Runtime::compile_gas`]).
    #[error("gas limit {limit} is below the transaction's intrinsic cost {needed}")]
    GasLimitTooLow {
        /// The transaction's gas limit.
        limit: u64,
        /// What it costs before it does anything.
        needed: u64,
    },
    /// The gas limit is above the most one transaction may use ([`crate::RuntimeConfig`]).
    #[error("gas limit {limit} is above the per-transaction maximum {max}")]
    GasLimitTooHigh {
        /// The transaction's gas limit.
        limit: u64,
        /// The most gas one transaction may use.
        max: u64,
    },
    /// The payload needs a role the signer was not granted (`Deployer` to deploy, `Admin` for
    /// governance).
    #[error("signer {signer} lacks the {role:?} role this transaction needs")]
    MissingRole {
        /// The transaction's signer.
        signer: PublicKey,
        /// The role its payload needs.
        role: Role,
    },
    /// A deployed module breaks a structural limit or a rule found without compiling it.
    #[error("invalid code: {0}")]
    InvalidCode(DeployError),
    /// A contract lifecycle transaction its execution would refuse (no such proposal, a signer
    /// the policy does not count…), or a plain instantiation the deployment policy refuses.
    #[error("{0}")]
    Lifecycle(String),
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}
