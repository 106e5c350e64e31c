//! How an execution ends when it does not succeed: a [`Failure`] of the transaction (its text is
//! the receipt's reason, and the node goes on), or a [`Stop::Fatal`] state read error, which is not
//! the transaction's doing and stops the block's execution.

use crate::{DeployError, StateError};
use kessai_primitives::{Address, Hash, Role};
use wasmtime::Trap;

/// Why a transaction (or view call) fails: the receipt's reason is this error's text.
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
    #[error("a contract already exists at {0}")]
    ContractExists(Address),
    #[error("the contract has no init method, so instantiating it takes no arguments")]
    NoInit,
    #[error("governance: {0}")]
    Governance(String),
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
                let text = trap.to_string();
                Stop::Failed(Failure::Trap(text.trim_start_matches("wasm trap: ").to_string()))
            }
            None => Stop::Failed(Failure::Trap(format!("{error:#}"))),
        }
    }
}
