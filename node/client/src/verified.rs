//! Reading through one node's RPC while trusting only the chain's signatures: a header is taken once
//! its commit verifies against the validator set it names, and a state value once its proof
//! verifies against that header's state root. Used by the clients that must not trust the node they
//! ask (`kessai swap`'s relayer, the intermediary's certificates).

use anyhow::{ensure, Context, Result};
use kessai_primitives::{Hash, Header};
use kessai_rpc_api::{rpc_error, HttpClient, KessaiApiClient, StateRead};
use serde::{Deserialize, Serialize};

/// A header with what vouches for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifiedHeader {
    pub header: Header,
    /// The header's id (the block hash).
    pub block: Hash,
    pub validators_hash: Hash,
    /// Voting power of the commit's valid signatures, more than two thirds of `total_power`.
    pub signed_power: u64,
    pub total_power: u64,
}

/// The header of `chain_id` at `height` from `client`, once its commit verifies against the
/// validator set it names (and, when `pinned`, that set's hash is `pinned`).
pub async fn verified_header(
    client: &HttpClient,
    chain_id: &str,
    height: u64,
    pinned: Option<Hash>,
) -> Result<VerifiedHeader> {
    ensure!(height > 0, "chain {chain_id} has no commit at height 0 (genesis)");
    let header = client.header(height).await.map_err(rpc_error)?;
    ensure!(
        header.chain_id == chain_id && header.height == height,
        "the node served a header of {} at {} for {chain_id} at {height}",
        header.chain_id,
        header.height,
    );
    let set = client.validators(height).await.map_err(rpc_error)?;
    ensure!(
        set.hash() == header.validators_hash,
        "the validator set is not the one the header names"
    );
    if let Some(pinned) = pinned {
        ensure!(
            set.hash() == pinned,
            "height {height} is signed by validator set {}, not the pinned {pinned}",
            set.hash()
        );
    }
    let commit = client.commit(height).await.map_err(rpc_error)?;
    let block = header.id();
    let signed_power = commit
        .verify(chain_id, height, &block, &set)
        .map_err(|e| anyhow::anyhow!("the commit of height {height} does not verify: {e}"))?;
    Ok(VerifiedHeader {
        header,
        block,
        validators_hash: set.hash(),
        signed_power,
        total_power: set.total_power(),
    })
}

/// The value `read` proves for `flat_key` under `header`'s state root (`None`: proven absent).
pub fn proved_value(read: &StateRead, flat_key: &[u8], header: &Header) -> Result<Option<Vec<u8>>> {
    ensure!(
        hex::decode(&read.key).ok().as_deref() == Some(flat_key),
        "the node proved another key than the one asked for"
    );
    let value = read.value.as_deref().map(hex::decode).transpose().context("value is not hex")?;
    read.proof
        .verify(header.state_root, flat_key, value.as_deref())
        .context("the state proof does NOT verify against the header's state root")?;
    Ok(value)
}
