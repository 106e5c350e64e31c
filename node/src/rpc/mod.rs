//! The JSON-RPC server: the node's side of the interface declared in `kessai-rpc-api`.

pub mod limits;
mod proof_cache;
pub mod server;
pub mod subscriptions;

pub use kessai_rpc_api as api;
