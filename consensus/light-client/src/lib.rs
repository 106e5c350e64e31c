//! The Kessai light client: verifies headers, state values and receipts served by nodes it does not
//! trust, starting from one header it does.
//!
//! - [`verify`]: the rules, as pure functions of a [`TrustedState`], an untrusted header with its
//!   commit and validator set, the current time and [`TrustOptions`].
//! - [`LightClient`]: fetches through a [`Provider`] (a node's JSON-RPC, or anything else), syncs by
//!   skipping verification with bisection, proves state values ([`LightClient::verify_state`]) and
//!   transactions ([`LightClient::verify_tx`]), and compares headers with witnesses to detect forks
//!   ([`LightClient::witness_checks`]: which confirmed, which were unavailable, which lied).
//! - [`TrustedState`] is what to keep between runs (JSON; [`FileStore`] with feature `std-fs`).
//!
//! The crate has no I/O, no clock and no async runtime of its own, and builds for wasm32. The byte
//! formats and rules are written out in `docs/light-client.md` for verifiers in other languages.

pub mod client;
pub mod error;
pub mod fork;
pub mod options;
pub mod provider;
pub mod state;
#[cfg(feature = "std-fs")]
pub mod store;
pub mod verify;
pub mod witness;

pub use client::{LightClient, VerifiedTx, VerifiedValue};
pub use error::{Error, VerifyError};
pub use fork::ForkEvidence;
pub use options::TrustOptions;
pub use provider::{Provider, ProviderError, TxEvidence};
pub use state::TrustedState;
#[cfg(feature = "std-fs")]
pub use store::FileStore;
pub use verify::{verify_adjacent, verify_skipping};
pub use witness::{WitnessCheck, WitnessOutcome};
