//! The asset-ownership contract on chain, through a node's JSON-RPC: the views an intermediary
//! reads, the calls it signs, and verified reads (headers and state proofs) through a
//! [`kessai_client::Reader`], so certificates rest on the light client's verification from a root
//! of trust, never on the node's word.

use super::asset::{AssetRecord, ProductionMethod, Transfer, TransferKind};
use super::mediation::History;
use super::protocol::Allocation;
use anyhow::{bail, ensure, Context, Result};
use borsh::BorshDeserialize;
pub use kessai_client::verified::{Proven, VerifiedHeader};
use kessai_client::{submit, Reader, Signer, Trust};
use kessai_primitives::{Address, Hash, Payload, TxStatus};
use kessai_rpc_api::{self as rpc, rpc_error, HttpClient, KessaiApiClient, TxInfo};
use serde_json::json;
use std::time::Duration;
use tokio::sync::Mutex;

/// Most records one `owned_by_page` call returns (the contract's `MAX_PAGE`).
const PAGE: u32 = 500;

/// One chain's asset-ownership contract.
pub struct Ledger {
    client: HttpClient,
    /// Verified reads of the chain, from the root of trust given at [`Ledger::connect`].
    reader: Mutex<Reader>,
    /// The node's JSON-RPC URL.
    pub url: String,
    /// The chain's id, from the verified root of trust.
    pub chain_id: String,
    /// The contract's address, resolved in the proven state.
    pub contract: Address,
}

impl Ledger {
    /// Connects to the node at `url`, verifies from `trust` (see [`kessai_client::Trust`]) and
    /// resolves `contract` (a chain-spec name or an address) in the proven state: its name entry,
    /// and its interface, which must be asset-ownership's.
    pub async fn connect(url: &str, contract: &str, trust: &Trust) -> Result<Ledger> {
        let client = rpc::client(url)?;
        let height = wait_for_first_block(&client, url).await?;
        let mut reader = Reader::open(url, trust, &[]).await?;
        let address = reader.contract_address(contract, height).await?;
        let abi = reader.abi(address, height).await?;
        ensure!(
            abi.name == "asset-ownership",
            "{contract} is the {} contract, not asset-ownership",
            abi.name
        );
        reader.save()?;
        Ok(Ledger {
            client,
            url: url.to_string(),
            chain_id: reader.chain_id().to_string(),
            reader: Mutex::new(reader),
            contract: address,
        })
    }

    /// The node's latest height (its word, unverified).
    pub async fn height(&self) -> Result<u64> {
        Ok(self.client.status().await.map_err(rpc_error)?.height)
    }

    /// The latest block time: "now" for the contract.
    pub async fn now_ms(&self) -> Result<u64> {
        Ok(self.client.status().await.map_err(rpc_error)?.time_ms)
    }

    async fn view<R: BorshDeserialize>(&self, method: &str, args: serde_json::Value) -> Result<R> {
        let result = self
            .client
            .view(self.contract.to_hex(), method.to_string(), args)
            .await
            .map_err(rpc_error)
            .with_context(|| format!("view {method}"))?;
        let bytes = hex::decode(&result.result).context("view result is not hex")?;
        borsh::from_slice(&bytes).with_context(|| format!("the result of {method} does not decode"))
    }

    /// Record `asset_id` (the contract's `get` view); `None` when there is no such record.
    pub async fn record(&self, asset_id: u64) -> Result<Option<AssetRecord>> {
        self.view("get", json!([asset_id])).await
    }

    /// Whether `who` is registered as an intermediary in the contract (its `intermediary` view).
    pub async fn is_intermediary(&self, who: Address) -> Result<bool> {
        let party: Option<(String, u64)> = self.view("intermediary", json!([who])).await?;
        Ok(party.is_some())
    }

    /// The records `owner` can still move: `owned_by_page(owner, only_not_yet = true, …)` leaves
    /// out completed records and those expired at the block time of the state the node read (one
    /// may still expire before a transfer lands: the caller compares expiries with its deadline).
    /// A page at a time, so a large stock does not exceed a view's gas.
    pub async fn not_yet_records(&self, owner: Address) -> Result<Vec<AssetRecord>> {
        let mut all: Vec<AssetRecord> = Vec::new();
        loop {
            let after = all.last().map(|r| r.id);
            let page: Vec<AssetRecord> =
                self.view("owned_by_page", json!([owner, true, after, PAGE])).await?;
            let full = page.len() == PAGE as usize;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Transfers to `owner` with block time in `[from_ms, to_ms]`, oldest first.
    pub async fn transfers_to(
        &self,
        owner: Address,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<Transfer>> {
        self.view("transfers_to", json!([owner, from_ms, to_ms])).await
    }

    /// What `consumer` has been allocated in `[from_ms, to_ms]`, by method: its final transfers.
    pub async fn history(&self, consumer: Address, from_ms: u64, to_ms: u64) -> Result<History> {
        let mut history = History::default();
        for t in self.transfers_to(consumer, from_ms, to_ms).await? {
            if t.kind == TransferKind::Final {
                history.add(&t.record.method, t.record.amount);
            }
        }
        Ok(history)
    }

    /// Signs and submits a call, waits for its block, and returns the receipt's return data;
    /// a failed transaction is an error carrying the contract's reason.
    async fn call(
        &self,
        signer: &Signer,
        method: &str,
        args: Vec<u8>,
    ) -> Result<(TxInfo, Vec<u8>)> {
        let payload = Payload::Call { contract: self.contract, method: method.into(), args };
        let info = submit(&self.client, signer, payload).await?;
        let receipt = info.receipt.clone().context("no receipt")?;
        if let TxStatus::Failed { reason } = &receipt.status {
            bail!("{method} failed: {reason}");
        }
        Ok((info, receipt.return_data))
    }

    /// The third change request (S90): `amount_wh` of record `asset_id` to the consumer.
    pub async fn final_transfer(
        &self,
        signer: &Signer,
        asset_id: u64,
        consumer: Address,
        amount_wh: u64,
    ) -> Result<Allocation> {
        let args = borsh::to_vec(&(asset_id, consumer, amount_wh))?;
        let (info, data) = self.call(signer, "final_transfer", args).await?;
        let remainder_id: Option<u64> =
            borsh::from_slice(&data).context("final_transfer result")?;
        Ok(Allocation { asset_id, amount_wh, remainder_id, tx_id: info.tx_id, height: info.height })
    }

    /// The second change request (S147): record `asset_id` to another intermediary.
    pub async fn transfer(&self, signer: &Signer, asset_id: u64, to: Address) -> Result<Hash> {
        let (info, _) = self.call(signer, "transfer", borsh::to_vec(&(asset_id, to))?).await?;
        Ok(info.tx_id)
    }

    /// Splits `amount_wh` off record `asset_id` into a new record; returns its id.
    pub async fn split(
        &self,
        signer: &Signer,
        asset_id: u64,
        amount_wh: u64,
    ) -> Result<(u64, Hash)> {
        let (info, data) =
            self.call(signer, "split", borsh::to_vec(&(asset_id, amount_wh))?).await?;
        Ok((borsh::from_slice(&data).context("split result")?, info.tx_id))
    }

    /// The entry `storage_key` of the contract's storage after block `height`, proven under the
    /// verified header of that height (`value` `None`: proven absent).
    pub async fn proven(&self, storage_key: &[u8], height: u64) -> Result<Proven> {
        let mut reader = self.reader.lock().await;
        let proven = reader.contract_value(self.contract, storage_key, Some(height)).await?;
        reader.save()?;
        Ok(proven)
    }

    /// The header at `height`, verified by the light client from the ledger's root of trust.
    pub async fn verified_header(&self, height: u64) -> Result<VerifiedHeader> {
        let mut reader = self.reader.lock().await;
        let header = reader.header(height).await?;
        reader.save()?;
        Ok(header)
    }
}

async fn wait_for_first_block(client: &HttpClient, url: &str) -> Result<u64> {
    for _ in 0..300 {
        let status = client
            .status()
            .await
            .map_err(rpc_error)
            .with_context(|| format!("cannot reach the node at {url}"))?;
        if status.height > 0 {
            return Ok(status.height);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the chain at {url} has no block after 30 s")
}

/// Records of `method` among `records` with one of `ids` (what a peer said it moved).
pub fn among(
    records: Vec<AssetRecord>,
    ids: &[u64],
    method: &ProductionMethod,
) -> Vec<AssetRecord> {
    records.into_iter().filter(|r| ids.contains(&r.id) && r.method == *method).collect()
}
