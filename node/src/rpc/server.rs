//! The JSON-RPC server: reads go straight to the store, transactions to the mempool.

use crate::chain::Chain;
use crate::health::Health;
use crate::mempool::{AdmitError, Mempool};
use crate::rpc::limits::{self, RpcLimits};
use crate::rpc::proof_cache::{BlockTrees, ProofCache};
use crate::rpc::subscriptions;
use crate::service::consensus::ConsensusStatus;
use crate::service::network::NetworkHandle;
use hyper_util::service::TowerToHyperService;
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::server::{
    BatchRequestConfig, HttpBody, HttpResponse, Methods, Server, ServerHandle,
};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::PendingSubscriptionSink;
use kessai_primitives::protocol;
use kessai_primitives::{
    Address, Commit, Hash, Header, PublicKey, SignedTransaction, ValidatorSet,
};
use kessai_rpc_api::{
    AccountInfo, BackupManifest, BatchOutcome, BlockInfo, BlockTx, BlockTxsPage, ContractInfo,
    Cursor, EventInfo, KessaiApiServer, MapEntry, StateRead, Status, Submitted, TxInfo, TxState,
    TxStatus, ViewResult,
};
use kessai_state::system;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

pub use kessai_rpc_api::codes;

fn error(code: i32, message: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.to_string(), None::<()>)
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    error(codes::INTERNAL, e)
}

/// A store error as the caller should see it: below the retention heights, "pruned: …" with
/// [`codes::PRUNED`]; anything else is the node's fault.
fn store_error(e: kessai_store::StoreError) -> ErrorObjectOwned {
    match e {
        kessai_store::StoreError::Pruned { .. } => error(codes::PRUNED, e),
        e => internal(e),
    }
}

fn bad_params(e: impl std::fmt::Display) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, e)
}

fn not_found(what: impl std::fmt::Display) -> ErrorObjectOwned {
    error(codes::NOT_FOUND, what)
}

/// A transaction as `kessai_submitTx` and `kessai_submitTxs` take it: hex (with or without `0x`)
/// of the borsh-encoded signed transaction; refused with an RPC error otherwise. Public for the
/// fuzz target of the RPC parameters (`node/tests/fuzz.rs`).
pub fn decode_tx(hex_tx: &str) -> Result<SignedTransaction, ErrorObjectOwned> {
    let bytes = decode_hex("tx", hex_tx)?;
    SignedTransaction::decode(&bytes).map_err(|e| error(codes::TX_REJECTED, AdmitError::from(e)))
}

/// Bytes given as hex (with or without `0x`) in the RPC parameter `what`.
pub fn decode_hex(what: &str, s: &str) -> RpcResult<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| bad_params(format!("{what} is not hex: {e}")))
}

/// What the RPC methods read and act on.
pub struct RpcContext {
    /// Blocks, state and receipts.
    pub chain: Arc<Chain>,
    /// Where submitted transactions are admitted.
    pub mempool: Arc<Mempool>,
    /// Gossips admitted transactions to the peers.
    pub network: NetworkHandle,
    /// The consensus task's current height, round and step.
    pub consensus: watch::Receiver<ConsensusStatus>,
    /// The node's key (its consensus key if it is a validator): `Status::node_key`, kept for
    /// older clients.
    pub node_key: PublicKey,
    /// The consensus key, when the node runs as a validator.
    pub consensus_key: Option<PublicKey>,
    /// The node's libp2p identity (`node_key.json`).
    pub network_key: PublicKey,
    /// Whether this node signs when it is in the validator set.
    pub validator: bool,
    /// Set by the sync service while it catches up from peers.
    pub syncing: Arc<std::sync::atomic::AtomicBool>,
    /// Readiness, for `kessai_status` and `GET /health`, `GET /ready` on the RPC port.
    pub health: Arc<Health>,
    /// Merkle trees of recently asked blocks, for transaction inclusion proofs.
    pub proof_cache: ProofCache,
    /// Transactions one `kessai_submitTxs` call may carry ([`RpcLimits::max_submit_txs`]).
    pub max_submit_txs: usize,
    /// The height of each committed block ([`crate::service::consensus::ConsensusHandles`]'s):
    /// wakes the subscriptions, which then read what is new from the store.
    pub committed: tokio::sync::broadcast::Sender<u64>,
}

/// Starts the JSON-RPC server (HTTP/1.1 and WebSocket) on `addr` within `limits`
/// ([`crate::rpc::limits`]) and returns the address it listens on (the port chosen if `addr`'s was
/// 0) and the handle that stops it.
pub async fn start(
    addr: SocketAddr,
    limits: &RpcLimits,
    ctx: RpcContext,
) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    limits.check()?;
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(limits.max_request_body_bytes)
        .max_response_body_size(limits.max_response_body_bytes)
        // jsonrpsee counts requests in progress; the accept loop counts connections, which are
        // never fewer, so this one never refuses first.
        .max_connections(limits.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_calls))
        .set_message_buffer_capacity(crate::rpc::subscriptions::BUFFER_MESSAGES)
        .enable_ws_ping(limits.ws_ping())
        .build();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for RPC on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let (stop, handle) = jsonrpsee::server::stop_channel();
    let builder = Server::builder().set_config(config).to_service_builder();
    let health = ctx.health.clone();
    let methods: Methods = ctx.into_rpc().into();
    let service_stop = stop.clone();
    let service_of_connection = move || -> limits::ConnectionService {
        let jsonrpsee =
            TowerToHyperService::new(builder.clone().build(methods.clone(), service_stop.clone()));
        let health = health.clone();
        Arc::new(move |request| match health_answer(&health, &request) {
            // Plain GETs of /health and /ready never reach jsonrpsee.
            Some(response) => Box::pin(std::future::ready(Ok(response))),
            None => Box::pin(hyper::service::Service::call(&jsonrpsee, request)),
        })
    };
    tokio::spawn(limits::serve(listener, limits.clone(), service_of_connection, stop));
    Ok((local, handle))
}

/// `GET /health` or `GET /ready` answered from `health` ([`crate::health`]); none for any other
/// request, which goes to jsonrpsee.
fn health_answer(health: &Health, request: &limits::LimitedRequest) -> Option<HttpResponse> {
    if request.method() != hyper::Method::GET {
        return None;
    }
    let (status, body) = health.answer(request.uri().path())?;
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Some(response)
}

/// An event read from the store as the RPC answers it, decoded when the contract's interface
/// declares its topic.
pub(crate) fn event_info(
    abi: Option<&kessai_abi::Abi>,
    e: kessai_store::IndexedEvent,
) -> EventInfo {
    let decoded = abi.and_then(|abi| abi.decode_event(&e.event.topic, &e.event.data).ok());
    EventInfo {
        height: e.height,
        tx_id: e.tx_id,
        cursor: Some(Cursor { height: e.height, tx: e.tx_index, event: e.event_index }),
        event: e.event,
        decoded,
    }
}

impl RpcContext {
    fn admit(&self, hex_tx: &str) -> Result<Hash, ErrorObjectOwned> {
        let tx = decode_tx(hex_tx)?;
        let admitted = self.mempool.admit(&self.chain, tx.clone());
        self.admitted(admitted, tx)
    }

    /// [`RpcContext::admit`] of each transaction, in order, with one batch signature check.
    fn admit_batch(&self, hex_txs: &[String]) -> Vec<Result<Hash, ErrorObjectOwned>> {
        let mut outcomes = Vec::with_capacity(hex_txs.len());
        let mut txs = Vec::with_capacity(hex_txs.len());
        for hex_tx in hex_txs {
            match decode_tx(hex_tx) {
                Ok(tx) => {
                    outcomes.push(None);
                    txs.push(tx);
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        let mut admitted = self.mempool.admit_batch(&self.chain, &txs).into_iter().zip(txs);
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    let (result, tx) =
                        admitted.next().expect("one outcome per decoded transaction");
                    self.admitted(result, tx)
                })
            })
            .collect()
    }

    /// Gossips an admitted transaction; a duplicate counts as admitted (it is pending already).
    fn admitted(
        &self,
        result: Result<Hash, AdmitError>,
        tx: SignedTransaction,
    ) -> Result<Hash, ErrorObjectOwned> {
        match result {
            Ok(id) => {
                self.network.gossip_tx(tx);
                Ok(id)
            }
            Err(AdmitError::Duplicate(id)) => Ok(id),
            Err(e) => Err(error(codes::TX_REJECTED, e)),
        }
    }

    fn header_at(&self, height: u64) -> RpcResult<Header> {
        self.chain
            .store
            .header(height)
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("no block at height {height}")))
    }

    /// `kessai_subscribeEvents` and `kessai_subscribeEventPages`.
    async fn follow_events(
        &self,
        pending: PendingSubscriptionSink,
        contract: String,
        topic: Option<String>,
        after: Option<Cursor>,
        delivery: subscriptions::Delivery,
    ) -> SubscriptionResult {
        let committed = self.committed.subscribe();
        let address = match self.resolve(&contract) {
            Ok(address) => address,
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let abi = self.chain.contract_abi(&address).ok();
        // Without a cursor: from the next block on (after the last event of the latest one).
        let after = after.unwrap_or(Cursor {
            height: self.chain.store.latest_height().unwrap_or(0),
            tx: u32::MAX,
            event: u32::MAX,
        });
        let filter = subscriptions::EventFilter { address, topic, abi };
        subscriptions::events(self.chain.clone(), committed, pending, filter, after, delivery).await
    }

    fn resolve(&self, contract: &str) -> RpcResult<Address> {
        self.chain.resolve_contract(contract).map_err(not_found)
    }

    fn read_state(&self, key: Vec<u8>, height: Option<u64>) -> RpcResult<StateRead> {
        let latest = self.chain.height();
        let height = height.unwrap_or(latest);
        if height > latest {
            return Err(not_found(format!("height {height} is above the latest height {latest}")));
        }
        let state_root = self
            .chain
            .store
            .state_root(height)
            .map_err(store_error)?
            .ok_or_else(|| not_found(format!("no state at height {height}")))?;
        let (value, proof) = self.chain.store.get_with_proof(&key, height).map_err(store_error)?;
        Ok(StateRead {
            height,
            state_root,
            key: hex::encode(&key),
            value: value.map(hex::encode),
            proof,
        })
    }
}

#[async_trait]
impl KessaiApiServer for RpcContext {
    async fn status(&self) -> RpcResult<Status> {
        let height = self.chain.height();
        let header = self.chain.latest_header();
        let consensus = self.consensus.borrow().clone();
        Ok(Status {
            chain_id: self.chain.spec.chain_id.clone(),
            genesis_hash: self.chain.spec_hash(),
            node_key: self.node_key,
            consensus_key: self.consensus_key,
            network_key: Some(self.network_key),
            peer_id: Some(kessai_network::peer_id_of(&self.network_key).to_string()),
            // Governance may add or remove this node as a validator at any height.
            validator: self.validator
                && self
                    .chain
                    .validators_for(self.chain.height() + 1)
                    .is_ok_and(|set| set.get(&self.node_key).is_some()),
            height,
            hash: header.as_ref().map_or(Hash::ZERO, Header::id),
            state_root: self.chain.store.state_root(height).map_err(internal)?.unwrap_or_default(),
            time_ms: header.map_or(self.chain.spec.genesis_time_ms, |h| h.time_ms),
            consensus_height: consensus.height,
            consensus_round: consensus.round,
            consensus_step: consensus.step,
            clock_skew_ms: consensus.clock_skew_ms,
            earliest_state_height: self.chain.store.earliest_state_height(),
            earliest_block_height: self.chain.store.earliest_block_height(),
            peers: self
                .network
                .libp2p()
                .map(|n| n.peers().iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            syncing: self.syncing.load(std::sync::atomic::Ordering::Relaxed),
            mempool_size: self.mempool.len(),
            storage_fault: self.chain.storage.fault().map(|fault| fault.to_string()),
            readiness: Some(self.health.readiness()),
            protocol_version: self.chain.protocol_version_at(height + 1).map_err(internal)?,
            supported_protocol_versions: protocol::SUPPORTED_PROTOCOL_VERSIONS.to_vec(),
            scheduled_upgrade: self.chain.scheduled_upgrade().map_err(internal)?,
        })
    }

    async fn submit_tx(&self, tx: String) -> RpcResult<Submitted> {
        Ok(Submitted { tx_id: self.admit(&tx)? })
    }

    async fn submit_txs(&self, txs: Vec<String>) -> RpcResult<Vec<BatchOutcome>> {
        if txs.len() > self.max_submit_txs {
            return Err(bad_params(format!(
                "a kessai_submitTxs call carries at most {} transactions; this one has {}: split it",
                self.max_submit_txs,
                txs.len()
            )));
        }
        Ok(self
            .admit_batch(&txs)
            .into_iter()
            .map(|outcome| match outcome {
                Ok(id) => BatchOutcome { tx_id: Some(id), error: None },
                Err(e) => BatchOutcome { tx_id: None, error: Some(e.message().to_string()) },
            })
            .collect())
    }

    async fn tx(&self, tx_id: Hash) -> RpcResult<TxInfo> {
        let unknown = TxInfo {
            tx_id,
            state: TxState::Unknown,
            height: None,
            index: None,
            receipt: None,
            receipt_proof: None,
            tx_proof: None,
            tx: None,
            receipt_raw: None,
        };
        // A transaction moves from the mempool to the block being written (decided, not yet on
        // disk: still pending) to the committed index, each step before leaving the last: asked in
        // that order, a transaction on its way is never missed.
        let pending = self.mempool.contains(&tx_id) || self.chain.store.is_tx_being_written(&tx_id);
        let Some((height, index)) = self.chain.store.tx_location(&tx_id).map_err(internal)? else {
            let state = if pending { TxState::Pending } else { TxState::Unknown };
            return Ok(TxInfo { state, ..unknown });
        };
        let trees = self.proof_cache.get_or_load(height, || {
            let store = &self.chain.store;
            let block = store
                .block(height)
                .map_err(store_error)?
                .ok_or_else(|| internal("indexed block is missing"))?;
            let receipts = store.receipts(height).map_err(store_error)?.unwrap_or_default();
            Ok::<_, ErrorObjectOwned>(BlockTrees::new(block, receipts))
        })?;
        let i = index as usize;
        Ok(TxInfo {
            tx_id,
            state: TxState::Committed,
            height: Some(height),
            index: Some(index),
            receipt: trees.receipts.get(i).cloned(),
            receipt_proof: trees.receipt_tree.proof(i),
            tx_proof: trees.tx_tree.proof(i),
            tx: trees.block.txs.get(i).map(|t| hex::encode(borsh::to_vec(t).expect("encodes"))),
            receipt_raw: trees
                .receipts
                .get(i)
                .map(|r| hex::encode(borsh::to_vec(r).expect("encodes"))),
        })
    }

    async fn account(&self, public_key: PublicKey) -> RpcResult<AccountInfo> {
        // The tip's state, which the mempool admits against: a decided block still being written
        // has already used its nonces.
        let state = self.chain.tip_state();
        let nonce = system::nonce(&state, &public_key).map_err(internal)?;
        let roles = system::member_roles(&state, &public_key).map_err(internal)?;
        let pending = self.mempool.pending_nonce(&public_key);
        Ok(AccountInfo {
            public_key,
            member: roles.is_some(),
            roles: roles.unwrap_or_default(),
            nonce,
            next_nonce: pending.map_or(nonce, |n| n.max(nonce)),
        })
    }

    async fn contract(&self, contract: String) -> RpcResult<ContractInfo> {
        let address = self.resolve(&contract)?;
        let info = system::contract_info(&self.chain.state(), &address)
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("no contract at {address}")))?;
        let abi = self.chain.contract_abi(&address).map_err(internal)?;
        Ok(ContractInfo { address, code_hash: info.code_hash, creator: info.creator, abi })
    }

    async fn view(
        &self,
        contract: String,
        method: String,
        args: serde_json::Value,
    ) -> RpcResult<ViewResult> {
        let address = self.resolve(&contract)?;
        let abi = self.chain.contract_abi(&address).map_err(internal)?;
        let encoded = abi.encode_args(&method, &args).map_err(bad_params)?;
        let ctx = kessai_runtime::BlockContext {
            chain_id: self.chain.spec.chain_id.clone(),
            height: self.chain.height(),
            time_ms: self
                .chain
                .latest_header()
                .map_or(self.chain.spec.genesis_time_ms, |h| h.time_ms),
            block_gas_limit: self.chain.spec.consensus.max_tx_gas,
        };
        let result = self
            .chain
            .runtime
            .view(&self.chain.state(), &ctx, address, &method, &encoded)
            .map_err(|e| error(codes::CALL_FAILED, e))?;
        let decoded = abi.decode_return(&method, &result).map_err(internal)?;
        Ok(ViewResult { result: hex::encode(result), decoded })
    }

    async fn state(&self, key: String, height: Option<u64>) -> RpcResult<StateRead> {
        let key = decode_hex("key", &key)?;
        self.read_state(key, height)
    }

    async fn map_entry(
        &self,
        contract: String,
        map: String,
        key: serde_json::Value,
        height: Option<u64>,
    ) -> RpcResult<MapEntry> {
        let address = self.resolve(&contract)?;
        let abi = self.chain.contract_abi(&address).map_err(internal)?;
        let storage_key = abi.map_key(&map, &key).map_err(bad_params)?;
        let mut flat = address.0.to_vec();
        flat.extend_from_slice(&storage_key);
        let read = self.read_state(flat, height)?;
        let decoded = match &read.value {
            Some(v) => {
                abi.decode_map_value(&map, &hex::decode(v).map_err(internal)?).map_err(internal)?
            }
            None => serde_json::Value::Null,
        };
        Ok(MapEntry { contract: address, map, decoded, read })
    }

    async fn header(&self, height: u64) -> RpcResult<Header> {
        self.header_at(height)
    }

    async fn admin_backup(
        &self,
        ext: &jsonrpsee::Extensions,
        out: String,
    ) -> RpcResult<BackupManifest> {
        if !ext.get::<limits::RemoteAddr>().is_some_and(limits::RemoteAddr::is_loopback) {
            return Err(error(
                codes::ADMIN_ONLY,
                "kessai_admin_backup is served only to clients on the node's own machine (loopback)",
            ));
        }
        let out = std::path::PathBuf::from(out);
        if !out.is_absolute() {
            return Err(bad_params("out must be an absolute path on the node's machine"));
        }
        if out.exists() {
            return Err(bad_params(format!(
                "{} already exists: a backup goes to a new directory",
                out.display()
            )));
        }
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || crate::backup::create(&chain.store, &chain.spec, &out))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("{e:#}")))
    }

    async fn block(&self, height: u64) -> RpcResult<BlockInfo> {
        let block = self
            .chain
            .store
            .block(height)
            .map_err(store_error)?
            .ok_or_else(|| not_found(format!("no block at height {height}")))?;
        Ok(BlockInfo {
            hash: block.id(),
            tx_ids: block.txs.iter().map(|t| t.id()).collect(),
            last_commit: block.last_commit.clone(),
            evidence: block.evidence.len(),
            raw: hex::encode(borsh::to_vec(&block).expect("encodes")),
            header: block.header,
        })
    }

    async fn commit(&self, height: u64) -> RpcResult<Commit> {
        self.chain
            .store
            .commit(height)
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("no commit for height {height}")))
    }

    async fn validators(&self, height: u64) -> RpcResult<ValidatorSet> {
        if height == 0 || height > self.chain.height() + 1 {
            return Err(not_found(format!("no validator set for height {height}")));
        }
        // The set that signs block h is the `next` set in the state after block h - 1.
        let (value, _) = self
            .chain
            .store
            .get_with_proof(&system::next_validators_key(), height - 1)
            .map_err(store_error)?;
        let bytes = value.ok_or_else(|| internal("validator set missing from state"))?;
        borsh::from_slice(&bytes).map_err(internal)
    }

    async fn events(
        &self,
        contract: String,
        from_height: u64,
        to_height: Option<u64>,
        limit: Option<u32>,
        after: Option<Cursor>,
    ) -> RpcResult<Vec<EventInfo>> {
        let address = self.resolve(&contract)?;
        let abi = self.chain.contract_abi(&address).ok();
        let to = to_height.unwrap_or(u64::MAX);
        let limit = limit.unwrap_or(1000).min(10_000) as usize;
        let from = match after {
            Some(after) => match after.next() {
                Some(next) => (next.height, next.tx, next.event),
                None => return Ok(Vec::new()),
            },
            None => (from_height, 0, 0),
        };
        let events = self.chain.store.events_from(address, from, to, limit).map_err(store_error)?;
        Ok(events.into_iter().map(|e| event_info(abi.as_ref(), e)).collect())
    }

    async fn block_txs(
        &self,
        height: u64,
        cursor: Option<u32>,
        limit: Option<u32>,
        receipts: Option<bool>,
    ) -> RpcResult<BlockTxsPage> {
        let block = self
            .chain
            .store
            .block(height)
            .map_err(store_error)?
            .ok_or_else(|| not_found(format!("no block at height {height}")))?;
        let receipts = match receipts {
            Some(true) => Some(
                self.chain
                    .store
                    .receipts(height)
                    .map_err(store_error)?
                    .ok_or_else(|| internal("the block's receipts are missing"))?,
            ),
            _ => None,
        };
        let total = block.txs.len() as u32;
        let start = cursor.unwrap_or(0);
        if start > total {
            return Err(bad_params(format!(
                "cursor {start} is past the block's {total} transactions"
            )));
        }
        let limit = limit.unwrap_or(1000).clamp(1, 10_000);
        let end = start.saturating_add(limit).min(total);
        let txs = (start..end)
            .map(|index| {
                let tx = &block.txs[index as usize];
                let receipt = receipts.as_ref().and_then(|r| r.get(index as usize));
                BlockTx {
                    index,
                    tx_id: tx.id(),
                    tx: hex::encode(borsh::to_vec(tx).expect("encodes")),
                    receipt_raw: receipt.map(|r| hex::encode(borsh::to_vec(r).expect("encodes"))),
                    receipt: receipt.cloned(),
                }
            })
            .collect();
        Ok(BlockTxsPage { height, total, txs, next: (end < total).then_some(end) })
    }

    async fn subscribe_heads(
        &self,
        pending: PendingSubscriptionSink,
        after_height: Option<u64>,
    ) -> SubscriptionResult {
        let committed = self.committed.subscribe();
        // Heads after `after_height`, or after the latest when the client gives none.
        let after = after_height.unwrap_or_else(|| self.chain.store.latest_height().unwrap_or(0));
        subscriptions::heads(self.chain.clone(), committed, pending, after).await
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        contract: String,
        topic: Option<String>,
        after: Option<Cursor>,
    ) -> SubscriptionResult {
        self.follow_events(pending, contract, topic, after, subscriptions::Delivery::EachEvent)
            .await
    }

    async fn subscribe_event_pages(
        &self,
        pending: PendingSubscriptionSink,
        contract: String,
        topic: Option<String>,
        after: Option<Cursor>,
    ) -> SubscriptionResult {
        self.follow_events(pending, contract, topic, after, subscriptions::Delivery::Pages).await
    }

    async fn subscribe_tx(
        &self,
        pending: PendingSubscriptionSink,
        tx_id: Hash,
    ) -> SubscriptionResult {
        let committed = self.committed.subscribe();
        let sink = pending.accept().await?;
        let mut committed = committed;
        let mut last: Option<TxState> = None;
        loop {
            let info = self.tx(tx_id).await?;
            if last.as_ref() != Some(&info.state) {
                let cursor =
                    info.height.zip(info.index).map(|(height, tx)| Cursor { height, tx, event: 0 });
                let status = TxStatus { tx_id, state: info.state.clone(), cursor };
                let message = subscriptions::message(&status)?;
                if subscriptions::send(&sink, message, cursor.unwrap_or_default()).await? {
                    return Ok(());
                }
                last = Some(info.state);
            }
            if last == Some(TxState::Committed) {
                return Ok(());
            }
            // A pending transaction changes state only when a block commits; an unknown one
            // may arrive from a peer at any time: look again at least every second.
            tokio::select! {
                _ = committed.recv() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = sink.closed() => return Ok(()),
            }
        }
    }

    async fn chain_spec(&self) -> RpcResult<serde_json::Value> {
        self.chain.spec.rpc_json().map_err(internal)
    }
}
