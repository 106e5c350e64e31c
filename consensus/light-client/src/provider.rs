//! Where the light client gets its (untrusted) data: a node's JSON-RPC, or anything else.

use kessai_primitives::merkle::InclusionProof;
use kessai_primitives::{
    Commit, Hash, Header, Receipt, SignedTransaction, StateProof, ValidatorSet,
};

/// Why a provider could not answer. Nothing a provider answers is trusted; these only say that
/// there was no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The node does not have it (a height beyond its tip, a pruned height, …).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request did not get through or the answer could not be decoded.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// A transaction with its receipt and the Merkle paths that tie both to a block's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxEvidence {
    /// Height of the block that holds the transaction.
    pub height: u64,
    /// Position of the transaction (and of its receipt) in the block.
    pub index: u64,
    /// The signed transaction.
    pub tx: SignedTransaction,
    /// Path from `borsh(tx)` to the header's `txs_root`.
    pub tx_proof: InclusionProof,
    /// Its receipt.
    pub receipt: Receipt,
    /// Path from `borsh(receipt)` to the header's `receipts_root`.
    pub receipt_proof: InclusionProof,
}

/// A source of headers, commits, validator sets, state proofs and transactions — typically one
/// node's JSON-RPC (`kessai_header`, `kessai_commit`, `kessai_validators`, `kessai_state`,
/// `kessai_tx`, `kessai_status`). The light client verifies everything it returns.
///
/// The futures are not required to be `Send`, so a provider may be built on a browser's `fetch`
/// (wasm32) as well as on a tokio HTTP client; the light client needs no runtime of its own.
#[allow(async_fn_in_trait)]
pub trait Provider {
    /// The node's latest committed height.
    async fn latest_height(&self) -> Result<u64, ProviderError>;

    /// The header of the block at `height`.
    async fn header(&self, height: u64) -> Result<Header, ProviderError>;

    /// The commit that finalised the block at `height`.
    async fn commit(&self, height: u64) -> Result<Commit, ProviderError>;

    /// The validator set that signs the block at `height` (`height` may be one past the tip: that
    /// set is already decided).
    async fn validators(&self, height: u64) -> Result<ValidatorSet, ProviderError>;

    /// The value of a flat key (`namespace ‖ key`) in the state after block `height`, `None` when
    /// absent, with its proof against that header's `state_root`.
    async fn state(
        &self,
        flat_key: &[u8],
        height: u64,
    ) -> Result<(Option<Vec<u8>>, StateProof), ProviderError>;

    /// A committed transaction with its receipt and proofs; `None` when the node does not know it.
    async fn tx(&self, tx_id: Hash) -> Result<Option<TxEvidence>, ProviderError>;
}
