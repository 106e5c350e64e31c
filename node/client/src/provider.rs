//! The light client's [`Provider`] over a node's JSON-RPC: any node, validator or not, of any
//! chain. Nothing it returns is trusted; it only fetches and decodes, and refuses answers that do
//! not even answer the question (another height, another key, another transaction).

use kessai_light_client::{Provider, ProviderError, TxEvidence};
use kessai_primitives::{Commit, Hash, Header, SignedTransaction, StateProof, ValidatorSet};
use kessai_rpc_api::{
    self as rpc, codes, ClientError, HttpClient, KessaiApiClient, TxInfo, TxState,
};
use std::time::{Duration, Instant};

/// How long a witness that is behind the primary is given to reach the height it is asked about
/// (CometBFT's light client waits a comparable `maxBlockLag`, 10 s by default).
pub const WITNESS_MAX_LAG: Duration = Duration::from_secs(10);

/// One node, reached at `url`.
pub struct RpcProvider {
    url: String,
    client: HttpClient,
    /// For a witness: how long to wait for a header above the node's latest height.
    max_lag: Option<Duration>,
}

impl RpcProvider {
    /// The node at `url` as a primary: a header above its latest height counts as not found at
    /// once.
    pub fn new(url: &str) -> anyhow::Result<RpcProvider> {
        Ok(RpcProvider { url: url.to_string(), client: rpc::client(url)?, max_lag: None })
    }

    /// A witness: asked for a header above its latest height (it is a block or two behind the
    /// primary), it is given up to [`WITNESS_MAX_LAG`] to commit it before it counts as behind.
    pub fn witness(url: &str) -> anyhow::Result<RpcProvider> {
        Ok(RpcProvider { max_lag: Some(WITNESS_MAX_LAG), ..RpcProvider::new(url)? })
    }

    /// The node's JSON-RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A failed request, said with the node's URL: "not found" when the node answered that it
    /// does not have the thing, "unavailable" for everything else.
    fn failed(&self, what: &str, e: ClientError) -> ProviderError {
        match e {
            ClientError::Call(obj) if obj.code() == codes::NOT_FOUND => {
                ProviderError::NotFound(format!("{} has no {what}: {}", self.url, obj.message()))
            }
            ClientError::Call(obj) => ProviderError::Unavailable(format!(
                "{} refused {what}: {}",
                self.url,
                obj.message()
            )),
            other => ProviderError::Unavailable(format!("{what} from {}: {other}", self.url)),
        }
    }

    /// An answer that is not an answer to the question asked.
    fn off_topic(&self, what: String) -> ProviderError {
        ProviderError::Unavailable(format!("{} answered {what}", self.url))
    }
}

impl Provider for RpcProvider {
    async fn latest_height(&self) -> Result<u64, ProviderError> {
        let status = self.client.status().await.map_err(|e| self.failed("status", e))?;
        Ok(status.height)
    }

    async fn header(&self, height: u64) -> Result<Header, ProviderError> {
        let what = format!("header at height {height}");
        let answer = self.client.header(height).await.map_err(|e| self.failed(&what, e));
        match (answer, self.max_lag) {
            (Err(ProviderError::NotFound(_)), Some(max_lag)) => {
                self.wait_for(height, max_lag).await?;
                self.client.header(height).await.map_err(|e| self.failed(&what, e))
            }
            (answer, _) => answer,
        }
    }

    async fn commit(&self, height: u64) -> Result<Commit, ProviderError> {
        let what = format!("commit for height {height}");
        self.client.commit(height).await.map_err(|e| self.failed(&what, e))
    }

    async fn validators(&self, height: u64) -> Result<ValidatorSet, ProviderError> {
        let what = format!("validator set for height {height}");
        self.client.validators(height).await.map_err(|e| self.failed(&what, e))
    }

    async fn state(
        &self,
        flat_key: &[u8],
        height: u64,
    ) -> Result<(Option<Vec<u8>>, StateProof), ProviderError> {
        let key = hex::encode(flat_key);
        let what = format!("state of key {key} at height {height}");
        let read = self
            .client
            .state(key.clone(), Some(height))
            .await
            .map_err(|e| self.failed(&what, e))?;
        if read.height != height {
            return Err(self.off_topic(format!(
                "a state read at height {height} with one at height {}",
                read.height
            )));
        }
        if read.key != key {
            return Err(self.off_topic(format!("a read of key {key} with key {}", read.key)));
        }
        let value = read
            .value
            .map(|v| {
                hex::decode(v).map_err(|e| self.off_topic(format!("a value that is not hex: {e}")))
            })
            .transpose()?;
        Ok((value, read.proof))
    }

    async fn tx(&self, tx_id: Hash) -> Result<Option<TxEvidence>, ProviderError> {
        let what = format!("transaction {tx_id}");
        let info = self.client.tx(tx_id).await.map_err(|e| self.failed(&what, e))?;
        if info.state != TxState::Committed {
            return Ok(None);
        }
        self.evidence(info).map(Some)
    }
}

impl RpcProvider {
    /// Returns once the node's latest height is at least `height`; `NotFound` (it is behind) when
    /// that takes longer than `max_lag`.
    async fn wait_for(&self, height: u64, max_lag: Duration) -> Result<(), ProviderError> {
        let deadline = Instant::now() + max_lag;
        loop {
            let latest = self.latest_height().await?;
            if latest >= height {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ProviderError::NotFound(format!(
                    "{} is behind: its latest height is {latest}, it did not reach height {height} \
                     within {} s",
                    self.url,
                    max_lag.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The parts of a committed transaction's answer, all of which must be there.
    fn evidence(&self, info: TxInfo) -> Result<TxEvidence, ProviderError> {
        let incomplete = |field: &str| {
            self.off_topic(format!("transaction {} as committed without its {field}", info.tx_id))
        };
        let bytes = hex::decode(info.tx.as_deref().ok_or_else(|| incomplete("bytes"))?)
            .map_err(|_| incomplete("bytes in hex"))?;
        let tx = SignedTransaction::decode(&bytes)
            .map_err(|e| self.off_topic(format!("transaction bytes that do not decode: {e}")))?;
        Ok(TxEvidence {
            height: info.height.ok_or_else(|| incomplete("height"))?,
            index: u64::from(info.index.ok_or_else(|| incomplete("index"))?),
            tx,
            tx_proof: info.tx_proof.clone().ok_or_else(|| incomplete("transaction proof"))?,
            receipt: info.receipt.clone().ok_or_else(|| incomplete("receipt"))?,
            receipt_proof: info.receipt_proof.clone().ok_or_else(|| incomplete("receipt proof"))?,
        })
    }
}
