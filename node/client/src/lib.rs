//! The client side of a Kessai node, for the CLI, the applications (intermediary server, swap
//! relayer, notes) and the end-to-end tests:
//!
//! - [`keyfile`]: member keys on disk; [`signer`]: a loaded key and how its transactions are sent;
//! - [`submit`]: build, sign, submit a transaction and wait for its receipt;
//! - [`provider`]: a node's RPC as a `kessai-light-client` provider;
//! - [`verified`]: the one way to read verified data: a [`verified::Reader`] over
//!   `kessai-light-client` from a root of trust the caller names (light home, chain spec, trusted
//!   hash), never from the node's word;
//! - [`lifecycle`]: verified reads of contract proposals, their policies and contracts' code
//!   history;
//! - [`light_home`]: the light client's trusted state on disk (what `kessai light init` writes);
//! - [`subscribe`]: WebSocket subscriptions to heads, events and transactions;
//! - [`rpc`]: the node's JSON-RPC interface (`kessai-rpc-api`), re-exported.
//!
//! It links neither RocksDB, wasmtime nor libp2p: `cargo tree -p kessai-client -e normal` shows it.

pub mod keyfile;
pub mod lifecycle;
pub mod light_home;
pub mod provider;
pub mod signer;
pub mod submit;
pub mod subscribe;
pub mod verified;

pub use kessai_primitives::time::now_ms;
pub use kessai_rpc_api as rpc;
pub use kessai_rpc_api::{client as rpc_client, rpc_error, HttpClient};
pub use signer::{default_dev_home, load_signer, Signer};
pub use submit::{ensure_success, failure_reason, submit, wait_for};
pub use verified::{Reader, Trust};
