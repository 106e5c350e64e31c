//! `kessai-intermediary`: intermediary mediation of asset ownership (JP7803395B2, `shared/specs/asset-ownership.md`,
//! `docs/intermediary.md`): the server each intermediary runs next to the chain.
//!
//! - [`mediation`]: the decisions — production method from the consumer's target and history,
//!   the record expiring soonest, what a peer hands over, the fallback — pure and unit-tested;
//! - [`protocol`]: the HTTP JSON-RPC API between meters, intermediaries and consumers;
//! - [`ledger`]: the asset-ownership contract through a node's RPC;
//! - [`certificate`]: a consumer's production-method certificate with state proofs;
//! - [`server`]: `kessai intermediary serve`; [`config`]: its configuration file;
//! - [`asset`]: the contract's types, as the node decodes them.

pub mod asset;
pub mod certificate;
pub mod config;
pub mod ledger;
pub mod mediation;
pub mod protocol;
pub mod server;
