//! The node's JSON-RPC interface, shared by the server (in `kessai-node`) and every client
//! (`kessai-client`, the CLI, the applications, the tests): jsonrpsee generates both sides from
//! [`KessaiApi`]. Every method is in the `kessai` namespace: `kessai_status`, `kessai_submitTx`, …
//!
//! Binary values travel as hex strings; hashes, keys and addresses as 64 hex characters. Errors
//! carry the codes of [`codes`]. This crate depends on neither RocksDB, wasmtime nor libp2p, so a
//! client links none of them.

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use kessai_primitives::state_proof::StateProof;
use kessai_primitives::{Address, Commit, Event, Hash, Header, PublicKey, Receipt, ValidatorSet};
use serde::{Deserialize, Serialize};

pub use jsonrpsee::core::client::Error as ClientError;
pub use jsonrpsee::http_client::HttpClient;

/// JSON-RPC error codes (beyond the standard ones). None is one of the codes jsonrpsee answers with
/// itself (-32000 to -32011: busy, oversized, batch limits…), so a client can tell a node's answer
/// from its RPC server's (`docs/decisions/0025-rpc-error-codes.md`).
pub mod codes {
    /// The request is well-formed but refers to something that does not exist.
    pub const NOT_FOUND: i32 = -32004;
    /// The height asked for is below what the node keeps (its pruning settings deleted it):
    /// "pruned: the earliest state kept is height H" (or block). Ask an archive node.
    pub const PRUNED: i32 = -32050;
    /// A transaction was refused by the mempool.
    pub const TX_REJECTED: i32 = -32060;
    /// Bad parameters (bad hex, JSON arguments that do not match the interface…).
    pub const INVALID_PARAMS: i32 = -32602;
    /// A view call failed in the contract.
    pub const CALL_FAILED: i32 = -32020;
    /// The node failed (storage, execution): not the caller's fault.
    pub const INTERNAL: i32 = -32603;
    /// An operator's method (`kessai_admin_*`) called from another machine: they are served
    /// only to clients on the node's own machine (loopback).
    pub const ADMIN_ONLY: i32 = -32030;
    /// A subscriber did not read its messages fast enough: the subscription is closed with
    /// "lagged: resume from cursor …"; subscribe again from that cursor.
    pub const LAGGED: i32 = -32040;
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

/// What `kessai_status` answers: the node's chain, its latest committed block, where its consensus
/// is and how it is connected.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    /// The chain spec's chain id.
    pub chain_id: String,
    /// Hash of the chain spec this node runs (identifies the chain with its genesis).
    pub genesis_hash: Hash,
    /// Kept for older clients, and ambiguous: the consensus key on a node that runs as a
    /// validator, the node (libp2p) key on a full node. Read [`Status::consensus_key`] and
    /// [`Status::network_key`] / [`Status::peer_id`] instead.
    pub node_key: PublicKey,
    /// The key this node signs proposals and votes with (`consensus_key.json`, or its remote
    /// signer's) when it runs as a validator, whether or not it is in the set yet; none on a full
    /// node and from nodes that do not report it.
    #[serde(default)]
    pub consensus_key: Option<PublicKey>,
    /// The node's libp2p identity (`node_key.json`): the key `kessai tx gov admit-peer` and
    /// `set-validator-node-key` name. None from nodes that do not report it.
    #[serde(default)]
    pub network_key: Option<PublicKey>,
    /// The node's libp2p peer id (derived from [`Status::network_key`]), what other nodes list
    /// in their bootnodes and show among their `peers`. None from nodes that do not report it.
    #[serde(default)]
    pub peer_id: Option<String>,
    /// Whether the node runs as a validator and is in the set that signs the next block.
    pub validator: bool,
    /// Last committed height (0: only genesis).
    pub height: u64,
    /// Id of the last committed block (zero at genesis).
    pub hash: Hash,
    /// State root after the last committed block.
    pub state_root: Hash,
    /// Time of the last committed block (the chain spec's genesis time at genesis), milliseconds
    /// since the Unix epoch.
    pub time_ms: u64,
    /// Height the consensus state machine is deciding.
    pub consensus_height: u64,
    /// Round of that height the consensus is in.
    pub consensus_round: u32,
    /// Step of that round (`Propose`, `Prevote`, `Precommit`, …), as the consensus core names it.
    pub consensus_step: String,
    /// libp2p peer ids of the connected peers (empty when the node runs without networking).
    pub peers: Vec<String>,
    /// Whether the node is catching up with block sync rather than following consensus.
    pub syncing: bool,
    /// Transactions waiting in the mempool.
    pub mempool_size: usize,
    /// Why the node cannot write to its disk (what failed, for how long, the error), or none when
    /// it can (and from nodes that do not report it). While it is set the node admits no
    /// transactions and signs nothing; it then recovers by itself or stops
    /// (`docs/architecture.md`, "When the disk fails").
    #[serde(default)]
    pub storage_fault: Option<String>,
    /// This node's clock minus the time of the last block it decided, in milliseconds, measured
    /// when it decided it (none before the first, and from nodes that do not report it). Beyond
    /// ±[`MAX_CLOCK_DRIFT_MS`](kessai_primitives::time::MAX_CLOCK_DRIFT_MS) the node's clock
    /// disagrees with the chain: it warns in its log, and should be fixed (NTP).
    #[serde(default)]
    pub clock_skew_ms: Option<i64>,
    /// The lowest height whose state (values, proofs) the node keeps; reads below it fail with
    /// [`codes::PRUNED`]. 0 when nothing was pruned (and from nodes that do not report it).
    #[serde(default)]
    pub earliest_state_height: u64,
    /// The lowest height whose block, receipts and events the node keeps (headers and commits
    /// are kept at every height). 0 when nothing was pruned.
    #[serde(default)]
    pub earliest_block_height: u64,
    /// Whether the node is ready (what `GET /ready` answers): none from nodes that do not report
    /// it.
    #[serde(default)]
    pub readiness: Option<Readiness>,
    /// The protocol version of the next block (the latest block's, or a scheduled upgrade's from
    /// its height): 0 from nodes that do not report it.
    #[serde(default)]
    pub protocol_version: u32,
    /// The versions this node's binary supports.
    #[serde(default)]
    pub supported_protocol_versions: Vec<u32>,
    /// The protocol upgrade governance scheduled and the chain has not reached, if any.
    #[serde(default)]
    pub scheduled_upgrade: Option<kessai_primitives::protocol::ScheduledUpgrade>,
}

/// Whether a node is ready to serve and, for a validator, to sign: the JSON body of `GET /ready`
/// (200 when ready, else 503), e.g. `{"ready":false,"failing":["syncing","no peers"]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Every condition holds: not catching up, connected to a peer when the chain has more than
    /// one validator, the disk writable, and a validator in the set and free to sign.
    pub ready: bool,
    /// The conditions that do not hold, one short phrase each (empty when ready): `syncing`,
    /// `no peers`, `storage failed`, `not in the validator set`, `signing waits for height H`.
    pub failing: Vec<String>,
}

/// What a backup of a node's database holds (`BACKUP/manifest.json`, next to the RocksDB
/// checkpoint in `BACKUP/db/`), and what `kessai_admin_backup` answers: which chain, which height,
/// which store layout. A restore compares `chain_id` and `genesis_hash` with the home it goes
/// into (`docs/decisions/0016-backup-and-block-export-formats.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Version of this manifest's layout (1).
    pub manifest_version: u32,
    /// The chain spec's chain id.
    pub chain_id: String,
    /// Hash of the chain spec the database's genesis was written from (`kessai_status`'s
    /// `genesis_hash`).
    pub genesis_hash: Hash,
    /// The latest committed height in the backup (0: genesis only).
    pub height: u64,
    /// Id of the block at `height` (zero at genesis).
    pub block_hash: Hash,
    /// The state root after `height`.
    pub state_root: Hash,
    /// The store's layout version (`kessai_store::FORMAT_VERSION`); a build that reads another
    /// layout refuses the restored database.
    pub store_format: u32,
    /// When the backup was taken, ms since the Unix epoch (the node's clock).
    pub created_ms: u64,
}

/// What `kessai_submitTx` answers for an admitted transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submitted {
    /// Id of the transaction (also when it was already in the mempool), for `kessai_tx`.
    pub tx_id: Hash,
}

/// The outcome of one transaction of a batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Id of the admitted transaction; `None` when it was refused.
    pub tx_id: Option<Hash>,
    /// Why it was refused (the error message alone); `None` when it was admitted.
    pub error: Option<String>,
}

/// Where a transaction is, as far as the node asked knows (`"pending"`, `"committed"`,
/// `"unknown"` in JSON).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// In the mempool or in a decided block not yet written to disk.
    Pending,
    /// In a committed block.
    Committed,
    /// Not seen by this node: never submitted to it, refused, or evicted from its mempool.
    Unknown,
}

/// What `kessai_tx` answers: a transaction's state and, once committed, where it is, its receipt
/// and the proofs of both against the block header.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxInfo {
    /// Id of the transaction asked about.
    pub tx_id: Hash,
    /// Whether it is pending, committed or unknown; the other fields are set only when committed.
    pub state: TxState,
    /// Height of the block that holds it.
    pub height: Option<u64>,
    /// Its position among that block's transactions (0-based).
    pub index: Option<u32>,
    /// The outcome of its execution.
    pub receipt: Option<Receipt>,
    /// Proof that the receipt is in the block's `receipts_root` (leaf: borsh of the receipt).
    pub receipt_proof: Option<kessai_primitives::merkle::InclusionProof>,
    /// Proof that the transaction is in the block's `txs_root` (leaf: borsh of the signed tx).
    pub tx_proof: Option<kessai_primitives::merkle::InclusionProof>,
    /// The signed transaction, borsh, hex: the leaf `tx_proof` proves under `txs_root`.
    pub tx: Option<String>,
    /// The receipt as committed, borsh, hex: the leaf `receipt_proof` proves under
    /// `receipts_root` (`receipt` is the same value as JSON). None from nodes older than it.
    #[serde(default)]
    pub receipt_raw: Option<String>,
}

/// What `kessai_block` answers: a committed block, summarised and whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Id of the block (hash of its header).
    pub hash: Hash,
    /// The block's header.
    pub header: Header,
    /// Ids of its transactions, in block order.
    pub tx_ids: Vec<Hash>,
    /// The commit of the previous block that this block carries (`None` for the first block).
    pub last_commit: Option<Commit>,
    /// How many pieces of misbehaviour evidence the block carries.
    pub evidence: usize,
    /// The whole block, borsh, hex (for sync and verification).
    pub raw: String,
}

/// What `kessai_state` answers: a state value (or its absence) with a proof against the state root
/// at a height.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateRead {
    /// Height whose state was read.
    pub height: u64,
    /// State root after the block at that height: what `proof` verifies against.
    pub state_root: Hash,
    /// The flat key (namespace ‖ key), hex.
    pub key: String,
    /// The value, hex, or null when absent.
    pub value: Option<String>,
    /// Proof of the value, or of its absence, under `state_root`.
    pub proof: StateProof,
}

/// What `kessai_mapEntry` answers: an entry of a contract's storage map, decoded, with the raw read
/// and its proof.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MapEntry {
    /// Address of the contract (resolved when it was asked for by name).
    pub contract: Address,
    /// Name of the map in the contract's interface.
    pub map: String,
    /// The value decoded by the contract's interface, or null when absent.
    pub decoded: serde_json::Value,
    /// The raw read of the entry's flat key, with its proof.
    pub read: StateRead,
}

/// What `kessai_view` answers: a view method's return value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewResult {
    /// The method's return value, borsh, hex.
    pub result: String,
    /// The same, decoded by the contract's interface.
    pub decoded: serde_json::Value,
}

/// What `kessai_account` answers: an account's membership and nonces.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The account's public key, as asked.
    pub public_key: PublicKey,
    /// Whether the key is a member of the consortium.
    pub member: bool,
    /// The member's roles (empty for a non-member).
    pub roles: Vec<kessai_primitives::Role>,
    /// Nonce of the account's next transaction after what is committed.
    pub nonce: u64,
    /// Nonce to use for a new transaction, counting pending ones.
    pub next_nonce: u64,
}

/// What `kessai_contract` answers: a contract instance and its interface.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContractInfo {
    /// Address of the contract (resolved when it was asked for by name).
    pub address: Address,
    /// Hash of the wasm code it runs.
    pub code_hash: Hash,
    /// Signer of the instantiating transaction, or [`Address::SYSTEM`] for chain-spec contracts.
    pub creator: Address,
    /// The contract's interface, read from its `kessai:abi` custom section.
    pub abi: kessai_abi::Abi,
}

/// A position in the chain's history: an event is at (height, index of its transaction in the
/// block, index of the event among that transaction's events); a block's head is at
/// (height, 0, 0). Cursors order as tuples. A history read or a subscription given a cursor
/// answers what comes strictly after it (`docs/rpc.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cursor {
    /// Block height.
    pub height: u64,
    /// Index of the transaction in the block.
    pub tx: u32,
    /// Index of the event among the transaction's events.
    pub event: u32,
}

impl Cursor {
    /// The position right after this one in (height, tx, event) order, or none at the very end.
    pub fn next(self) -> Option<Cursor> {
        if let Some(event) = self.event.checked_add(1) {
            return Some(Cursor { event, ..self });
        }
        if let Some(tx) = self.tx.checked_add(1) {
            return Some(Cursor { tx, event: 0, ..self });
        }
        Some(Cursor { height: self.height.checked_add(1)?, tx: 0, event: 0 })
    }
}

/// One event of `kessai_events` and `kessai_subscribeEvents`, with where it was emitted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventInfo {
    /// Height of the block whose transaction emitted it.
    pub height: u64,
    /// Id of that transaction.
    pub tx_id: Hash,
    /// The event as the contract emitted it.
    pub event: Event,
    /// The data decoded by the contract's interface, when it declares the topic.
    pub decoded: Option<serde_json::Value>,
    /// Where the event is: give it back as `after` to read or follow what comes next (none from
    /// nodes older than cursors).
    #[serde(default)]
    pub cursor: Option<Cursor>,
}

/// A message of `kessai_subscribeEventPages`: up to 256 events in chain order (of the topic asked,
/// when one was), each as `kessai_events` gives it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventPage {
    /// The events, never none.
    pub events: Vec<EventInfo>,
    /// The last position this page covers (its last event, or the end of the last height read):
    /// resubscribe with `after = cursor`.
    pub cursor: Cursor,
}

/// A message of `kessai_subscribeHeads`: a committed block's header and the commit that
/// finalised it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadInfo {
    /// `(height, 0, 0)`: resubscribe with `after_height = cursor.height`.
    pub cursor: Cursor,
    /// The block's header.
    pub header: Header,
    /// Its commit (precommit signatures of the validators).
    pub commit: Commit,
}

/// A message of `kessai_subscribeTx`: where a transaction is; the last message says `committed`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxStatus {
    /// Id of the transaction followed.
    pub tx_id: Hash,
    /// Pending, committed or unknown (as `kessai_tx` says).
    pub state: TxState,
    /// Where it was committed: (height, index in the block, 0); none before.
    pub cursor: Option<Cursor>,
}

/// One transaction of `kessai_blockTxs`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockTx {
    /// Its position in the block (0-based).
    pub index: u32,
    /// Its id.
    pub tx_id: Hash,
    /// The signed transaction, borsh, hex (the leaf of `txs_root`).
    pub tx: String,
    /// Its receipt as JSON, when the page was asked `receipts: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Its receipt as committed, borsh, hex (the leaf of `receipts_root`), when the page was
    /// asked `receipts: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_raw: Option<String>,
}

/// A page of a block's transactions (`kessai_blockTxs`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockTxsPage {
    /// The block's height.
    pub height: u64,
    /// How many transactions the block has in all.
    pub total: u32,
    /// The transactions of this page, in block order.
    pub txs: Vec<BlockTx>,
    /// The `cursor` of the next page (an index into the block), or none after the last page.
    pub next: Option<u32>,
}

/// The node's JSON-RPC methods, `kessai_` + the method name; jsonrpsee generates
/// `KessaiApiServer` (implemented by the node) and `KessaiApiClient` (implemented for
/// [`HttpClient`]) from it.
#[rpc(server, client, namespace = "kessai")]
pub trait KessaiApi {
    /// The node's chain, latest committed block, consensus progress and connections.
    #[method(name = "status")]
    async fn status(&self) -> RpcResult<Status>;

    /// Admits a signed transaction (borsh, hex) to the mempool.
    #[method(name = "submitTx")]
    async fn submit_tx(&self, tx: String) -> RpcResult<Submitted>;

    /// Admits many signed transactions; each gets its own outcome.
    #[method(name = "submitTxs")]
    async fn submit_txs(&self, txs: Vec<String>) -> RpcResult<Vec<BatchOutcome>>;

    /// A transaction's state; once committed, its block, receipt and proofs.
    #[method(name = "tx")]
    async fn tx(&self, tx_id: Hash) -> RpcResult<TxInfo>;

    /// An account's membership, roles and nonces.
    #[method(name = "account")]
    async fn account(&self, public_key: PublicKey) -> RpcResult<AccountInfo>;

    /// A contract's code hash, creator and interface. `contract` is a name from the chain spec or an
    /// address.
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

    /// The header of the committed block at `height`.
    #[method(name = "header")]
    async fn header(&self, height: u64) -> RpcResult<Header>;

    /// The committed block at `height`.
    #[method(name = "block")]
    async fn block(&self, height: u64) -> RpcResult<BlockInfo>;

    /// Operator only, from the node's own machine (loopback; [`codes::ADMIN_ONLY`] otherwise):
    /// writes a consistent copy of the running node's database to the directory `out` (an
    /// absolute path on the node's machine that must not exist yet): a RocksDB checkpoint in
    /// `out/db/` and `out/manifest.json`. The node keeps committing meanwhile.
    #[method(name = "admin_backup", with_extensions)]
    async fn admin_backup(&self, out: String) -> RpcResult<BackupManifest>;

    /// The commit (precommit signatures) that finalised the block at `height`.
    #[method(name = "commit")]
    async fn commit(&self, height: u64) -> RpcResult<Commit>;

    /// The validator set that signed the block at `height`.
    #[method(name = "validators")]
    async fn validators(&self, height: u64) -> RpcResult<ValidatorSet>;

    /// Events of a contract in a height range (inclusive), oldest first, at most `limit` (default
    /// 1,000, at most 10,000). With `after` (the `cursor` of the last event read), the events
    /// strictly after it, up to `to_height`: `from_height` is then ignored. A page shorter than
    /// the limit is the last; otherwise ask again with its last event's cursor, which resumes a
    /// page cut inside a height without gap or repeat.
    #[method(name = "events")]
    async fn events(
        &self,
        contract: String,
        from_height: u64,
        to_height: Option<u64>,
        limit: Option<u32>,
        after: Option<Cursor>,
    ) -> RpcResult<Vec<EventInfo>>;

    /// A page of the transactions of the committed block at `height`: from index `cursor`
    /// (default 0), at most `limit` (default 1,000, at most 10,000), with the cursor of the next
    /// page. With `receipts: true` each transaction comes with its receipt, as JSON and as the
    /// committed borsh bytes (the leaf of `receipts_root`).
    #[method(name = "blockTxs")]
    async fn block_txs(
        &self,
        height: u64,
        cursor: Option<u32>,
        limit: Option<u32>,
        receipts: Option<bool>,
    ) -> RpcResult<BlockTxsPage>;

    /// WebSocket only. Each committed block's header and commit, in height order: those after
    /// `after_height` from the store first when it is given, then live. A subscriber that does
    /// not keep up is closed with "lagged: resume from cursor …" (`docs/rpc.md`).
    #[subscription(name = "subscribeHeads" => "head", unsubscribe = "unsubscribeHeads", item = HeadInfo)]
    async fn subscribe_heads(&self, after_height: Option<u64>) -> SubscriptionResult;

    /// WebSocket only. Events of `contract`, of topic `topic` only when given, in chain order:
    /// those after `after` from the store first when it is given, then live. Closed with
    /// "lagged: resume from cursor …" when the subscriber does not keep up.
    #[subscription(name = "subscribeEvents" => "event", unsubscribe = "unsubscribeEvents", item = EventInfo)]
    async fn subscribe_events(
        &self,
        contract: String,
        topic: Option<String>,
        after: Option<Cursor>,
    ) -> SubscriptionResult;

    /// WebSocket only. The same events as `subscribeEvents`, delivered a page at a time (up to
    /// 256 events per message, each page's `cursor` the position it covers up to): for
    /// subscribers that follow every event of a busy contract, a few messages per block instead
    /// of one per event. Closed with "lagged: resume from cursor …" when the subscriber does not
    /// keep up.
    #[subscription(name = "subscribeEventPages" => "eventPage", unsubscribe = "unsubscribeEventPages", item = EventPage)]
    async fn subscribe_event_pages(
        &self,
        contract: String,
        topic: Option<String>,
        after: Option<Cursor>,
    ) -> SubscriptionResult;

    /// WebSocket only. A transaction's state now, then again at each change, until it is
    /// committed (the last message).
    #[subscription(name = "subscribeTx" => "txStatus", unsubscribe = "unsubscribeTx", item = TxStatus)]
    async fn subscribe_tx(&self, tx_id: Hash) -> SubscriptionResult;

    /// The chain spec this node runs, as `{genesis_hash, canonical, spec}`: `canonical` is exactly
    /// what `genesis_hash` hashes (borsh of it, blake3; see docs/formats.md), so a verifier can
    /// recompute the hash from this answer alone; `spec` is the spec as its JSON file reads.
    #[method(name = "chainSpec")]
    async fn chain_spec(&self) -> RpcResult<serde_json::Value>;
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn the_cursor_after_one_is_the_next_event_then_the_next_transaction_then_height() {
        let c = |height, tx, event| Cursor { height, tx, event };
        assert_eq!(c(5, 2, 3).next(), Some(c(5, 2, 4)));
        assert_eq!(c(5, 2, u32::MAX).next(), Some(c(5, 3, 0)));
        assert_eq!(c(5, u32::MAX, u32::MAX).next(), Some(c(6, 0, 0)));
        assert_eq!(c(u64::MAX, u32::MAX, u32::MAX).next(), None);
        assert!(c(5, 2, 3) < c(5, 3, 0) && c(5, 3, 0) < c(6, 0, 0), "tuple order");
    }
}

#[cfg(test)]
mod error_codes {
    use super::codes::*;
    use jsonrpsee::types::error::*;

    /// Every code jsonrpsee's server answers with by itself.
    const JSONRPSEE: [i32; 14] = [
        PARSE_ERROR_CODE,
        INVALID_REQUEST_CODE,
        METHOD_NOT_FOUND_CODE,
        INVALID_PARAMS_CODE,
        INTERNAL_ERROR_CODE,
        CALL_EXECUTION_FAILED_CODE,
        UNKNOWN_ERROR_CODE,
        BATCHES_NOT_SUPPORTED_CODE,
        TOO_MANY_SUBSCRIPTIONS_CODE,
        OVERSIZED_REQUEST_CODE,
        OVERSIZED_RESPONSE_CODE,
        SERVER_IS_BUSY_CODE,
        TOO_BIG_BATCH_REQUEST_CODE,
        TOO_BIG_BATCH_RESPONSE_CODE,
    ];

    #[test]
    fn the_nodes_own_codes_are_not_jsonrpsees() {
        // INVALID_PARAMS and INTERNAL are the standard codes on purpose; the others are ours.
        for (name, code) in [
            ("NOT_FOUND", NOT_FOUND),
            ("PRUNED", PRUNED),
            ("TX_REJECTED", TX_REJECTED),
            ("CALL_FAILED", CALL_FAILED),
            ("ADMIN_ONLY", ADMIN_ONLY),
            ("LAGGED", LAGGED),
        ] {
            assert!(!JSONRPSEE.contains(&code), "{name} ({code}) is also one of jsonrpsee's codes");
        }
    }
}
