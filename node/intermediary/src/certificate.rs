//! A consumer's production-method certificate for a period (FIG. 20): what it was allocated, by
//! production method, and its renewable share — every entry carried with the Jellyfish Merkle
//! proof of the contract's transfer-log entry (`t/ (consumer, time, asset id)`) under the state
//! root of one header, so the certification authority, or the consumer, can check it against
//! any node of the chain.
//!
//! What the proofs show: each listed transfer is in the chain's state as listed. What they cannot
//! show: that none was left out (the tree hashes its keys, so a range has no proof). An entry left
//! out only lowers the totals; the transfers themselves cannot be invented or changed.

use super::asset::{storage, Status, Transfer, TransferKind};
use super::ledger::{Ledger, VerifiedHeader};
use super::mediation::{History, MethodTotal};
use anyhow::{ensure, Context, Result};
use kessai_primitives::state_proof::StateProof;
use kessai_primitives::{Address, Hash};
use serde::{Deserialize, Serialize};

/// The certificate: the consumer's final transfers in the period, each with its proof under one
/// header, and the totals they add up to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// The consumer the transfers went to.
    pub consumer: Address,
    /// The period, by block time of the transfers (ms since the Unix epoch, inclusive).
    pub from_ms: u64,
    /// End of the period (ms since the Unix epoch, inclusive).
    pub to_ms: u64,
    /// The chain the transfers are on.
    pub chain_id: String,
    /// The asset-ownership contract whose transfer log holds them.
    pub contract: Address,
    /// The header every entry is proved under.
    pub height: u64,
    /// That header's state root, which every entry's proof is checked against.
    pub state_root: Hash,
    /// The final transfers in the period, each with its proof.
    pub entries: Vec<CertifiedTransfer>,
    /// Wh of the entries by production method.
    pub totals: Vec<MethodTotal>,
    /// Wh of all entries.
    pub total_wh: u64,
    /// Wh of the entries of renewable methods.
    pub renewable_wh: u64,
    /// `renewable_wh` as a share of `total_wh` in basis points (1/100 %), rounded down; `None`
    /// without entries.
    pub renewable_basis_points: Option<u64>,
}

/// One final transfer to the consumer, with the proof of its log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertifiedTransfer {
    /// The transfer, as logged by the contract (with the record it moved).
    pub transfer: Transfer,
    /// Proof of the log entry `t/ (consumer, time, asset id)` holding `borsh(transfer)`, under the
    /// certificate's state root.
    pub proof: StateProof,
}

/// Reads the consumer's final transfers in the period and proves each at one height.
pub async fn build(
    ledger: &Ledger,
    consumer: Address,
    from_ms: u64,
    to_ms: u64,
) -> Result<Certificate> {
    ensure!(from_ms <= to_ms, "the period ends before it starts");
    let transfers: Vec<Transfer> = ledger
        .transfers_to(consumer, from_ms, to_ms)
        .await?
        .into_iter()
        .filter(|t| t.kind == TransferKind::Final)
        .collect();
    // Read after the view: the log only grows, so every entry it listed is there at this height.
    let height = ledger.height().await?;
    let header = ledger.verified_header(height).await?;
    let mut entries = Vec::with_capacity(transfers.len());
    for transfer in transfers {
        entries.push(prove(ledger, &header, transfer).await?);
    }
    let history = tally(entries.iter().map(|e| &e.transfer));
    let certificate = Certificate {
        consumer,
        from_ms,
        to_ms,
        chain_id: ledger.chain_id.clone(),
        contract: ledger.contract,
        height,
        state_root: header.header.state_root,
        entries,
        totals: history.totals(),
        total_wh: history.total_wh(),
        renewable_wh: history.renewable_wh(),
        renewable_basis_points: history.renewable_basis_points(),
    };
    verify(&certificate, &header)?;
    Ok(certificate)
}

async fn prove(
    ledger: &Ledger,
    header: &VerifiedHeader,
    transfer: Transfer,
) -> Result<CertifiedTransfer> {
    let proven = ledger.proven(&entry_key(&transfer), header.header.height).await?;
    let value = proven
        .value
        .with_context(|| format!("transfer of record {} is proved absent", transfer.asset_id))?;
    ensure!(
        value == borsh::to_vec(&transfer)?,
        "the node's view and its proved state disagree on the transfer of record {}",
        transfer.asset_id
    );
    Ok(CertifiedTransfer { transfer, proof: proven.proof })
}

fn entry_key(transfer: &Transfer) -> Vec<u8> {
    storage::transfer_key(&transfer.to, transfer.time_ms, transfer.asset_id)
}

fn tally<'a>(transfers: impl Iterator<Item = &'a Transfer>) -> History {
    let mut history = History::default();
    for t in transfers {
        history.add(&t.record.method, t.record.amount);
    }
    history
}

/// Checks a certificate against a verified header of its chain: every entry is a final transfer
/// of a completed record to the consumer within the period, listed once, whose log entry the proof
/// shows under the header's state root; and the totals are the entries' sums.
pub fn verify(certificate: &Certificate, header: &VerifiedHeader) -> Result<()> {
    let c = certificate;
    ensure!(
        header.header.chain_id == c.chain_id && header.header.height == c.height,
        "the header is not height {} of chain {}",
        c.height,
        c.chain_id
    );
    ensure!(header.header.state_root == c.state_root, "the state root is not the header's");
    let mut previous: Option<(u64, u64)> = None;
    for entry in &c.entries {
        let t = &entry.transfer;
        ensure!(t.to == c.consumer, "record {} went to {}, not the consumer", t.asset_id, t.to);
        ensure!(
            (c.from_ms..=c.to_ms).contains(&t.time_ms),
            "record {} was transferred outside the period",
            t.asset_id
        );
        ensure!(
            t.kind == TransferKind::Final && t.record.status == Status::Completed,
            "record {} was not a final transfer",
            t.asset_id
        );
        // The log is keyed by (time, id): strictly increasing keys mean no entry counts twice.
        let order = (t.time_ms, t.asset_id);
        ensure!(previous < Some(order), "entries are repeated or out of order");
        previous = Some(order);
        let key = kessai_primitives::state_proof::flat_key(&c.contract, &entry_key(t));
        entry
            .proof
            .verify(c.state_root, &key, Some(&borsh::to_vec(t)?))
            .with_context(|| format!("the proof of record {}'s transfer", t.asset_id))?;
    }
    let history = tally(c.entries.iter().map(|e| &e.transfer));
    ensure!(
        history.totals() == c.totals
            && history.total_wh() == c.total_wh
            && history.renewable_wh() == c.renewable_wh
            && history.renewable_basis_points() == c.renewable_basis_points,
        "the totals are not the sums of the entries"
    );
    Ok(())
}
