//! Sign, submit, and wait for the receipt.

use crate::signer::Signer;
use anyhow::{bail, Context, Result};
use kessai_primitives::{Hash, Payload, Receipt, Transaction, TxStatus};
use kessai_rpc_api::{rpc_error, HttpClient, KessaiApiClient, TxInfo, TxState};
use std::time::{Duration, Instant};

/// How long [`submit`] waits for a transaction's block.
pub const WAIT_FOR_BLOCK: Duration = Duration::from_secs(60);

/// Signs `payload` with the account's next nonce, submits it, and (if `signer.wait`) waits for its
/// block.
pub async fn submit(client: &HttpClient, signer: &Signer, payload: Payload) -> Result<TxInfo> {
    let key = &signer.key;
    let status = client.status().await.context("cannot reach the node")?;
    let account = client.account(key.public()).await?;
    if !account.member {
        bail!("{} ({}) is not a member of chain {}", signer.name, key.public(), status.chain_id);
    }
    let tx = Transaction {
        chain_id: status.chain_id,
        signer: key.public(),
        nonce: account.next_nonce,
        gas_limit: signer.gas,
        payload,
    }
    .sign(key);
    let submitted = client.submit_tx(hex::encode(borsh::to_vec(&tx)?)).await.map_err(rpc_error)?;
    if !signer.wait {
        return Ok(client.tx(submitted.tx_id).await?);
    }
    wait_for(client, submitted.tx_id, WAIT_FOR_BLOCK).await
}

/// Polls until the transaction is in a block.
pub async fn wait_for(client: &HttpClient, tx_id: Hash, timeout: Duration) -> Result<TxInfo> {
    let start = Instant::now();
    loop {
        let info = client.tx(tx_id).await?;
        match info.state {
            TxState::Committed => return Ok(info),
            TxState::Unknown if start.elapsed() > Duration::from_secs(5) => {
                bail!("transaction {tx_id} is neither pending nor committed (dropped from the mempool)")
            }
            _ if start.elapsed() > timeout => {
                bail!("transaction {tx_id} not committed after {timeout:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Fails with the receipt's reason when the transaction failed.
pub fn ensure_success(info: &TxInfo) -> Result<()> {
    match &info.receipt {
        Some(r) if !r.is_success() => {
            bail!("transaction {} failed: {}", info.tx_id, failure_reason(r))
        }
        _ => Ok(()),
    }
}

/// The receipt's failure reason, or "success".
pub fn failure_reason(receipt: &Receipt) -> String {
    match &receipt.status {
        TxStatus::Failed { reason } => reason.clone(),
        TxStatus::Success => "success".into(),
    }
}
