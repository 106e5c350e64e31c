//! How an execution ends when it does not succeed: a [`Failure`] of the transaction (its text is
//! the receipt's reason, and the node goes on), or a [`Stop::Fatal`] state read error, which is not
//! the transaction's doing and stops the block's execution.
//!
//! A receipt's reason is consensus data (receipts are committed by `receipts_root`), so it is built
//! only from Kessai's own words: one template per [`Failure`] variant, a closed set, filled in with
//! numbers, addresses, hashes, names from the transaction or module, or a contract's own abort
//! message, and cut to [`MAX_REASON_BYTES`]. What wasmtime or wasmparser said is logged, never
//! stored: a library upgrade that rewords an error must not make validators disagree.

use crate::{DeployError, StateError};
use kessai_primitives::{Address, Hash, Role};
use wasmtime::Trap;

/// The longest reason a receipt stores, in bytes; longer ones are cut at a character boundary and
/// end with `…`.
pub(crate) const MAX_REASON_BYTES: usize = 256;

/// Why a transaction (or view call) fails: the receipt's reason is this error's text, through
/// [`Failure::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    #[error("out of gas")]
    OutOfGas,
    /// Out of gas only because the block's gas ran out before the transaction's did.
    #[error("block gas limit: the transaction needed more than the {0} gas left in the block")]
    BlockGasLimit(u64),
    #[error("memory limit exceeded")]
    MemoryLimit,
    #[error("trap: table limit exceeded")]
    TableLimit,
    #[error("contract aborted: {0}")]
    Aborted(String),
    #[error("trap: {0}")]
    Trap(String),
    #[error("no method {0}")]
    NoMethod(String),
    #[error("no contract at {0}")]
    NoContract(Address),
    #[error("no code {0}")]
    NoCode(Hash),
    #[error("trap: a view call cannot {0}")]
    ViewWrite(&'static str),
    #[error("trap: re-entrancy: contract {0} is already on the call stack")]
    Reentrancy(Address),
    #[error("trap: call depth limit of {0} exceeded")]
    DepthLimit(usize),
    #[error("signer lacks the {0:?} role")]
    MissingRole(Role),
    #[error("invalid code: {0}")]
    InvalidCode(DeployError),
    /// The block's compile budget (`RuntimeConfig::max_block_compile_gas`) is spent.
    #[error("block compile budget: the deploy needs {0} compile gas, {1} is left in this block; submit it again")]
    BlockCompileBudget(u64, u64),
    #[error("a contract already exists at {0}")]
    ContractExists(Address),
    #[error("the contract has no init method, so instantiating it takes no arguments")]
    NoInit,
    #[error("governance: {0}")]
    Governance(String),
    /// A contract lifecycle transaction refused (`lifecycle.rs`).
    #[error("lifecycle: {0}")]
    Lifecycle(String),
}

/// Why governance refuses an action that would leave the chain without an admin or without
/// validators able to commit (`execute::govern`): fixed sentences of the closed set.
pub(crate) mod refusal {
    /// `RevokeRole { role: Admin }` of the only admin member.
    pub(crate) const LAST_ADMIN_ROLE: &str =
        "the last admin cannot lose the admin role: no one could govern";
    /// `RemoveMember` of the only admin member.
    pub(crate) const LAST_ADMIN_MEMBER: &str =
        "the last admin cannot be removed: no one could govern";
    /// `SetValidator` changes that leave no validator with non-zero power.
    pub(crate) const NO_VOTING_POWER: &str =
        "no validator would have voting power: no one could sign blocks";
    /// `SetValidator` changes whose powers add up to more than `u64::MAX`.
    pub(crate) const POWER_OVERFLOW: &str = "the validators' total voting power would overflow";
    /// `RevokePeer` of the node key of a current, next or pending validator.
    pub(crate) const REVOKE_VALIDATOR: &str =
        "a validator's node cannot be revoked: set its power to 0 first (tx gov set-validator KEY 0)";
}

impl Failure {
    /// The text a receipt (or a failed view call) gets.
    pub(crate) fn reason(&self) -> String {
        cap_reason(self.to_string())
    }
}

/// Cuts `reason` to [`MAX_REASON_BYTES`].
pub(crate) fn cap_reason(mut reason: String) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let ellipsis = "…";
    let mut end = MAX_REASON_BYTES - ellipsis.len();
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    reason.push_str(ellipsis);
    reason
}

/// Our words for a wasm trap: wasmtime's own text may change with its version. They are the words
/// wasmtime 48 used, so that receipts of blocks executed before they were ours stay the same.
fn trap_words(trap: &Trap) -> &'static str {
    match trap {
        Trap::StackOverflow => "call stack exhausted",
        Trap::MemoryOutOfBounds => "out of bounds memory access",
        Trap::HeapMisaligned => "unaligned atomic",
        Trap::TableOutOfBounds => "undefined element: out of bounds table access",
        Trap::IndirectCallToNull => "uninitialized element",
        Trap::BadSignature => "indirect call type mismatch",
        Trap::IntegerOverflow => "integer overflow",
        Trap::IntegerDivisionByZero => "integer divide by zero",
        Trap::BadConversionToInteger => "invalid conversion to integer",
        Trap::UnreachableCodeReached => "wasm `unreachable` instruction executed",
        Trap::NullReference => "null reference",
        Trap::AllocationTooLarge => "allocation size too large",
        _ => "other",
    }
}

pub(crate) fn trap(message: impl Into<String>) -> wasmtime::Error {
    Failure::Trap(message.into()).into()
}

/// A state read failed inside a host function: not the contract's doing, so not a receipt.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct Fatal(pub StateError);

/// How an execution ended when it did not succeed.
#[derive(Debug)]
pub(crate) enum Stop {
    Failed(Failure),
    Fatal(StateError),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Stop {
        Stop::Failed(failure)
    }
}

impl From<StateError> for Stop {
    fn from(error: StateError) -> Stop {
        Stop::Fatal(error)
    }
}

impl Stop {
    #[cfg(test)]
    fn failed(self) -> Option<Failure> {
        match self {
            Stop::Failed(failure) => Some(failure),
            Stop::Fatal(_) => None,
        }
    }

    /// Carries the stop through wasmtime, out of a host function.
    pub(crate) fn into_error(self) -> wasmtime::Error {
        match self {
            Stop::Failed(failure) => failure.into(),
            Stop::Fatal(error) => Fatal(error).into(),
        }
    }

    /// Sorts out what ended a call: one of ours, a wasm trap, or something wasmtime refused.
    pub(crate) fn classify(error: wasmtime::Error) -> Stop {
        if let Some(failure) = error.downcast_ref::<Failure>() {
            return Stop::Failed(failure.clone());
        }
        if let Some(Fatal(state)) = error.downcast_ref::<Fatal>() {
            return Stop::Fatal(state.clone());
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Stop::Failed(Failure::OutOfGas),
            Some(trap) => {
                let words = trap_words(trap);
                if words == "other" {
                    tracing::warn!(%trap, "a call ended with a trap Kessai has no words for");
                }
                Stop::Failed(Failure::Trap(words.to_string()))
            }
            None => {
                let error = format!("{error:#}");
                tracing::warn!(%error, "the engine ended a call with an error that is not a trap");
                Stop::Failed(Failure::Trap("engine error".to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeployError;

    /// The closed set of reasons a receipt may carry, one per kind, pinned: changing one changes
    /// consensus data (`receipts_root`), so it must be a deliberate change of this list.
    #[test]
    fn every_kind_of_failure_has_a_pinned_reason() {
        let (address, hash) = (Address([7; 32]), Hash([9; 32]));
        let cases = [
            (Failure::OutOfGas, "out of gas".to_string()),
            (
                Failure::BlockGasLimit(5),
                "block gas limit: the transaction needed more than the 5 gas left in the block"
                    .into(),
            ),
            (Failure::MemoryLimit, "memory limit exceeded".into()),
            (Failure::TableLimit, "trap: table limit exceeded".into()),
            (Failure::Aborted("boom".into()), "contract aborted: boom".into()),
            (Failure::Trap("call stack exhausted".into()), "trap: call stack exhausted".into()),
            (Failure::NoMethod("nope".into()), "no method nope".into()),
            (Failure::NoContract(address), format!("no contract at {address}")),
            (Failure::NoCode(hash), format!("no code {hash}")),
            (Failure::ViewWrite("emit an event"), "trap: a view call cannot emit an event".into()),
            (
                Failure::Reentrancy(address),
                format!("trap: re-entrancy: contract {address} is already on the call stack"),
            ),
            (Failure::DepthLimit(8), "trap: call depth limit of 8 exceeded".into()),
            (Failure::MissingRole(Role::Deployer), "signer lacks the Deployer role".into()),
            (Failure::ContractExists(address), format!("a contract already exists at {address}")),
            (
                Failure::BlockCompileBudget(70, 30),
                "block compile budget: the deploy needs 70 compile gas, 30 is left in this block; submit it again".into(),
            ),
            (
                Failure::NoInit,
                "the contract has no init method, so instantiating it takes no arguments".into(),
            ),
            (Failure::Governance("no".into()), "governance: no".into()),
            (Failure::Lifecycle("no".into()), "lifecycle: no".into()),
            (
                Failure::Governance(refusal::LAST_ADMIN_ROLE.into()),
                "governance: the last admin cannot lose the admin role: no one could govern".into(),
            ),
            (
                Failure::Governance(refusal::LAST_ADMIN_MEMBER.into()),
                "governance: the last admin cannot be removed: no one could govern".into(),
            ),
            (
                Failure::Governance(refusal::NO_VOTING_POWER.into()),
                "governance: no validator would have voting power: no one could sign blocks".into(),
            ),
            (
                Failure::Governance(refusal::POWER_OVERFLOW.into()),
                "governance: the validators' total voting power would overflow".into(),
            ),
            (
                Failure::Governance(refusal::REVOKE_VALIDATOR.into()),
                "governance: a validator's node cannot be revoked: set its power to 0 first (tx gov set-validator KEY 0)".into(),
            ),
        ];
        for (failure, reason) in cases {
            assert_eq!(failure.reason(), reason);
        }
        let deploy = [
            (DeployError::Invalid, "not a valid wasm module of the allowed proposals (MVP + bulk-memory, mutable-global, sign-ext, multi-value, reference-types, saturating float-to-int)"),
            (DeployError::NoMemoryExport, "the module must export its linear memory as `memory`"),
            (
                DeployError::BadExport { name: "ping".into(), found: "a global".into() },
                "export `ping` must be a function () -> (), it is a global",
            ),
            (
                DeployError::ForbiddenImport { module: "env".into(), name: "now".into() },
                "import `env::now` is not allowed: a contract imports only the functions of module `kessai` listed in contract-abi.md",
            ),
            (
                DeployError::ImportSignature {
                    name: "input".into(),
                    expected: "() -> (i32)".into(),
                    found: "() -> ()".into(),
                },
                "import `kessai::input` has signature () -> (), expected () -> (i32)",
            ),
            (
                DeployError::StartFunction,
                "the module has a start function; contracts must not (put set-up code in `init`)",
            ),
            (DeployError::MissingAbi, "the module has no `kessai:abi` custom section"),
            (
                DeployError::BadAbi("not UTF-8"),
                "the `kessai:abi` custom section is invalid: not UTF-8",
            ),
            (
                DeployError::MethodNotExported("ping".into()),
                "the interface lists method `ping` but the module does not export it",
            ),
            (
                DeployError::MemoryTooLarge { pages: 300, limit: 256 },
                "the module asks for 300 pages of memory at start; the limit is 256 pages",
            ),
            (DeployError::TooManyTables(2), "the module has 2 tables; at most 1 is allowed"),
            (
                DeployError::TableTooLarge { elements: 20_000, limit: 10_000 },
                "the module's table starts with 20000 elements; the limit is 10000",
            ),
            (
                DeployError::CodeTooLarge { size: 2_000_000, limit: 1_048_576 },
                "the module is 2000000 bytes; the limit is 1048576",
            ),
            (
                DeployError::TooMany { what: "globals", found: 1001, limit: 1000 },
                "the module has 1001 globals; the limit is 1000",
            ),
            (
                DeployError::FunctionTooLarge { function: 3, size: 200_000, limit: 131_072 },
                "function 3 has a body of 200000 bytes; the limit is 131072",
            ),
            (
                DeployError::TooManyLocals { function: 3, found: 2001, limit: 2000 },
                "function 3 declares 2001 locals; the limit is 2000",
            ),
            (
                DeployError::NestingTooDeep { function: 3, limit: 1000 },
                "function 3 nests blocks deeper than 1000",
            ),
        ];
        for (error, text) in deploy {
            assert_eq!(Failure::InvalidCode(error).reason(), format!("invalid code: {text}"));
        }
    }

    #[test]
    fn wasm_traps_are_in_our_words() {
        let words = [
            (Trap::StackOverflow, "call stack exhausted"),
            (Trap::MemoryOutOfBounds, "out of bounds memory access"),
            (Trap::HeapMisaligned, "unaligned atomic"),
            (Trap::TableOutOfBounds, "undefined element: out of bounds table access"),
            (Trap::IndirectCallToNull, "uninitialized element"),
            (Trap::BadSignature, "indirect call type mismatch"),
            (Trap::IntegerOverflow, "integer overflow"),
            (Trap::IntegerDivisionByZero, "integer divide by zero"),
            (Trap::BadConversionToInteger, "invalid conversion to integer"),
            (Trap::UnreachableCodeReached, "wasm `unreachable` instruction executed"),
            (Trap::NullReference, "null reference"),
            (Trap::AllocationTooLarge, "allocation size too large"),
            (Trap::CastFailure, "other"),
        ];
        for (trap, text) in words {
            match Stop::classify(wasmtime::Error::new(trap)) {
                Stop::Failed(failure) => assert_eq!(failure.reason(), format!("trap: {text}")),
                Stop::Fatal(e) => panic!("{e}"),
            }
        }
        assert_eq!(Stop::classify(Failure::OutOfGas.into()).failed(), Some(Failure::OutOfGas));
        let engine = wasmtime::Error::msg("some library's words");
        assert_eq!(
            Stop::classify(engine).failed(),
            Some(Failure::Trap("engine error".into())),
            "an engine error that is not a trap keeps its words in the log"
        );
    }

    #[test]
    fn reasons_are_capped_at_a_character_boundary() {
        let long = Failure::Aborted("é".repeat(1000)).reason();
        assert_eq!(long.len(), MAX_REASON_BYTES - 1, "'é' is 2 bytes, so one byte is left over");
        assert!(long.starts_with("contract aborted: éé") && long.ends_with("é…"));
        let exact = "x".repeat(MAX_REASON_BYTES);
        assert_eq!(cap_reason(exact.clone()), exact);
        let over = cap_reason("x".repeat(MAX_REASON_BYTES + 1));
        assert_eq!(over.len(), MAX_REASON_BYTES);
        assert!(over.ends_with('…'));
    }
}
