//! The runtime's integration tests: real wasm (written in WAT) executed by the real engine over an
//! in-memory committed state.

mod common;

mod calls;
mod deploy;
mod failures;
mod governance;
mod host;
mod lifecycle;
mod limits;
mod reasons;
mod storage;
mod transactions;
mod transition;
