//! The node's JSON-RPC interface, shared by the server (in `kessai-node`) and every client
//! (`kessai-client`, the CLI, the applications, the tests): jsonrpsee generates both sides from
//! [`KessaiApi`]. Every method is in the `kessai` namespace: `kessai_status`, `kessai_submitTx`, …
//!
//! Binary values travel as hex strings; hashes, keys and addresses as 64 hex characters. Errors
//! carry the codes of [`codes`]. This crate depends on neither RocksDB, wasmtime nor libp2p, so a
//! client links none of them.

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use kessai_primitives::state_proof::StateProof;
use kessai_primitives::{Address, Commit, Event, Hash, Header, PublicKey, Receipt, ValidatorSet};
use serde::{Deserialize, Serialize};

pub use jsonrpsee::core::client::Error as ClientError;
pub use jsonrpsee::http_client::HttpClient;

/// JSON-RPC error codes (beyond the standard ones).
pub mod codes {
    /// The request is well-formed but refers to something that does not exist.
    pub const NOT_FOUND: i32 = -32004;
    /// A transaction was refused by the mempool.
    pub const TX_REJECTED: i32 = -32010;
    /// Bad parameters (bad hex, JSON arguments that do not match the interface…).
    pub const INVALID_PARAMS: i32 = -32602;
    /// A view call failed in the contract.
    pub const CALL_FAILED: i32 = -32020;
    /// The node failed (storage, execution): not the caller's fault.
    pub const INTERNAL: i32 = -32603;
}

/// An HTTP client of a node's RPC at `url` (the CLI's, the applications', the tests').
pub fn client(url: &str) -> anyhow::Result<HttpClient> {
    jsonrpsee::http_client::HttpClientBuilder::default()
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .request_timeout(std::time::Duration::from_secs(60))
        .build(url)
        .map_err(|e| anyhow::anyhow!("bad RPC URL {url:?}: {e}"))
}

/// Turns a JSON-RPC error into its message alone (no wrapper text), for one clear sentence.
pub fn rpc_error(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Call(obj) => anyhow::anyhow!("{}", obj.message()),
        other => anyhow::anyhow!("{other}"),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub chain_id: String,
    pub genesis_hash: Hash,
    pub node_key: PublicKey,
    pub validator: bool,
    /// Last committed height (0: only genesis).
    pub height: u64,
    /// Id of the last committed block (zero at genesis).
    pub hash: Hash,
    pub state_root: Hash,
    pub time_ms: u64,
    pub consensus_height: u64,
    pub consensus_round: u32,
    pub consensus_step: String,
    pub peers: Vec<String>,
    pub syncing: bool,
    pub mempool_size: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submitted {
    pub tx_id: Hash,
}

/// The outcome of one transaction of a batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub tx_id: Option<Hash>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    Pending,
    Committed,
    Unknown,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxInfo {
    pub tx_id: Hash,
    pub state: TxState,
    pub height: Option<u64>,
    pub index: Option<u32>,
    pub receipt: Option<Receipt>,
    /// Proof that the receipt is in the block's `receipts_root` (leaf: borsh of the receipt).
    pub receipt_proof: Option<kessai_primitives::merkle::InclusionProof>,
    /// Proof that the transaction is in the block's `txs_root` (leaf: borsh of the signed tx).
    pub tx_proof: Option<kessai_primitives::merkle::InclusionProof>,
    /// The signed transaction, borsh, hex.
    pub tx: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockInfo {
    pub hash: Hash,
    pub header: Header,
    pub tx_ids: Vec<Hash>,
    pub last_commit: Option<Commit>,
    pub evidence: usize,
    /// The whole block, borsh, hex (for sync and verification).
    pub raw: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateRead {
    pub height: u64,
    pub state_root: Hash,
    /// The flat key (namespace ‖ key), hex.
    pub key: String,
    /// The value, hex, or null when absent.
    pub value: Option<String>,
    pub proof: StateProof,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MapEntry {
    pub contract: Address,
    pub map: String,
    /// The value decoded by the contract's interface, or null when absent.
    pub decoded: serde_json::Value,
    pub read: StateRead,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewResult {
    /// The method's return value, borsh, hex.
    pub result: String,
    /// The same, decoded by the contract's interface.
    pub decoded: serde_json::Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountInfo {
    pub public_key: PublicKey,
    pub member: bool,
    pub roles: Vec<kessai_primitives::Role>,
    /// Nonce of the account's next transaction after what is committed.
    pub nonce: u64,
    /// Nonce to use for a new transaction, counting pending ones.
    pub next_nonce: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContractInfo {
    pub address: Address,
    pub code_hash: Hash,
    pub creator: Address,
    pub abi: kessai_abi::Abi,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventInfo {
    pub height: u64,
    pub tx_id: Hash,
    pub event: Event,
    /// The data decoded by the contract's interface, when it declares the topic.
    pub decoded: Option<serde_json::Value>,
}

#[rpc(server, client, namespace = "kessai")]
pub trait KessaiApi {
    #[method(name = "status")]
    async fn status(&self) -> RpcResult<Status>;

    /// Admits a signed transaction (borsh, hex) to the mempool.
    #[method(name = "submitTx")]
    async fn submit_tx(&self, tx: String) -> RpcResult<Submitted>;

    /// Admits many signed transactions; each gets its own outcome.
    #[method(name = "submitTxs")]
    async fn submit_txs(&self, txs: Vec<String>) -> RpcResult<Vec<BatchOutcome>>;

    #[method(name = "tx")]
    async fn tx(&self, tx_id: Hash) -> RpcResult<TxInfo>;

    #[method(name = "account")]
    async fn account(&self, public_key: PublicKey) -> RpcResult<AccountInfo>;

    /// `contract` is a name from the chain spec or an address.
    #[method(name = "contract")]
    async fn contract(&self, contract: String) -> RpcResult<ContractInfo>;

    /// Runs a view method on the latest state. `args` is JSON by the contract's interface.
    #[method(name = "view")]
    async fn view(
        &self,
        contract: String,
        method: String,
        args: serde_json::Value,
    ) -> RpcResult<ViewResult>;

    /// Reads a raw flat key (hex) with its proof against the state root at `height` (default latest).
    #[method(name = "state")]
    async fn state(&self, key: String, height: Option<u64>) -> RpcResult<StateRead>;

    /// Reads an entry of a contract's storage map, by the contract's interface, with its proof.
    #[method(name = "mapEntry")]
    async fn map_entry(
        &self,
        contract: String,
        map: String,
        key: serde_json::Value,
        height: Option<u64>,
    ) -> RpcResult<MapEntry>;

    #[method(name = "header")]
    async fn header(&self, height: u64) -> RpcResult<Header>;

    #[method(name = "block")]
    async fn block(&self, height: u64) -> RpcResult<BlockInfo>;

    #[method(name = "commit")]
    async fn commit(&self, height: u64) -> RpcResult<Commit>;

    /// The validator set that signed the block at `height`.
    #[method(name = "validators")]
    async fn validators(&self, height: u64) -> RpcResult<ValidatorSet>;

    /// Events of a contract in a height range (inclusive), oldest first.
    #[method(name = "events")]
    async fn events(
        &self,
        contract: String,
        from_height: u64,
        to_height: Option<u64>,
        limit: Option<u32>,
    ) -> RpcResult<Vec<EventInfo>>;

    /// The chain spec this node runs.
    #[method(name = "chainSpec")]
    async fn chain_spec(&self) -> RpcResult<serde_json::Value>;
}
