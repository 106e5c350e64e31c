//! The notes contract on chain, through a node's JSON-RPC (`kessai-client`): issuing a note after
//! the contract's credit check, checking a note against the ledger, and redeeming it by
//! commit–reveal. What `kessai notes` does, without its arguments and printing.
//!
//! The terminal key never reaches this module's calls to the node: an issuance sends only the
//! commitment, a redemption first only `blake3(note ‖ payee)`, and the note itself once that
//! commitment is in an earlier block.

use crate::{Note, TerminalKey};
use anyhow::{bail, Context, Result};
use kessai_client::keyfile::KeyFile;
use kessai_client::{rpc_client, rpc_error, submit, HttpClient, Signer};
use kessai_primitives::{Address, Payload, TxStatus};
use kessai_rpc_api::{ContractInfo, KessaiApiClient, TxInfo};
use serde_json::{json, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// The notes contracts of one chain, through the node at a JSON-RPC URL.
pub struct NotesLedger {
    client: HttpClient,
}

/// An accepted issuance: the terminal's note and the transaction that locked its collateral.
#[derive(Clone, Debug)]
pub struct Issuance {
    /// The note: a bearer claim, to hand to the payee (as text, [`Note::encode`]).
    pub note: Note,
    /// The issuing member (the signer).
    pub member: Address,
    /// The `issue` transaction, with its receipt.
    pub tx: TxInfo,
}

/// A note's redemption: who was paid how much, and the commit and reveal transactions.
#[derive(Clone, Debug)]
pub struct Redemption {
    /// What the contract paid (the note's collateral).
    pub amount: u64,
    /// Who was paid: the address bound into the redeem hash, so nobody who sees the reveal can
    /// redirect the payment.
    pub payee: Address,
    /// `blake3(note ‖ payee)`, the commitment revealed.
    pub redeem_hash: [u8; 32],
    /// The commit transaction; `None` when an earlier commitment of the redeemer was pending.
    pub commit: Option<TxInfo>,
    /// The `reveal_redeem` transaction that paid `payee`, with its receipt.
    pub reveal: TxInfo,
}

/// Where a note stands on the ledger. `Display` says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteStatus {
    /// The contract's record matches the note and the block time is before its expiry.
    Outstanding {
        /// Whole seconds from the latest block time to the expiry (rounded down).
        seconds_left: u64,
    },
    /// Genuine, but the block time `block_time_ms` reached its expiry: only the issuing member can
    /// reclaim the collateral.
    Expired {
        /// The latest block time, milliseconds since the Unix epoch.
        block_time_ms: u64,
    },
    /// The serial was issued and has no record any more: redeemed or reclaimed.
    Settled,
    /// The member has no such serial.
    NotIssued,
    /// A record exists for the serial, with another commitment: not the note the terminal made.
    NotGenuine,
}

impl NoteStatus {
    /// The status as one word (`outstanding`, `expired`, `settled`, `not_issued`, `not_genuine`).
    pub fn code(&self) -> &'static str {
        match self {
            NoteStatus::Outstanding { .. } => "outstanding",
            NoteStatus::Expired { .. } => "expired",
            NoteStatus::Settled => "settled",
            NoteStatus::NotIssued => "not_issued",
            NoteStatus::NotGenuine => "not_genuine",
        }
    }
}

impl fmt::Display for NoteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteStatus::Outstanding { seconds_left } => {
                write!(f, "genuine and outstanding: redeemable for {seconds_left} more seconds")
            }
            NoteStatus::Expired { block_time_ms } => write!(
                f,
                "expired (block time {block_time_ms}): only the issuing member can reclaim its collateral"
            ),
            NoteStatus::Settled => f.write_str("already settled: redeemed or reclaimed"),
            NoteStatus::NotIssued => f.write_str("never issued: the ledger has no such serial"),
            NoteStatus::NotGenuine => {
                f.write_str("NOT genuine: it does not match the ledger's commitment")
            }
        }
    }
}

impl NotesLedger {
    /// A client of the node at `url` (nothing is asked of it yet).
    pub fn connect(url: &str) -> Result<NotesLedger> {
        Ok(NotesLedger { client: rpc_client(url)? })
    }

    /// The node's RPC client.
    pub fn rpc(&self) -> &HttpClient {
        &self.client
    }

    /// The contract `contract` (chain-spec name or address): its address and interface.
    pub async fn contract(&self, contract: &str) -> Result<ContractInfo> {
        self.client.contract(contract.to_string()).await.map_err(rpc_error)
    }

    /// The serial the contract assigns to `member`'s next accepted issuance.
    pub async fn next_serial(&self, contract: &str, member: Address) -> Result<u64> {
        self.view(contract, "next_serial", json!([member]))
            .await?
            .as_u64()
            .context("next_serial did not return a number")
    }

    /// The outstanding note `serial` of `member` as the contract records it (its `NoteRecord`
    /// in the interface's JSON: the collateral `amount`, `expiry_ms`, `commitment`,
    /// `issued_height`), if there is one.
    pub async fn note_record(
        &self,
        contract: &str,
        member: Address,
        serial: u64,
    ) -> Result<Option<Value>> {
        let record = self.view(contract, "note", json!([member, serial])).await?;
        Ok((!record.is_null()).then_some(record))
    }

    /// Asks `contract` (name or address) to issue a note of `amount` for the signer, valid for
    /// `valid_for_ms` from the last block's time, made by `terminal` with the serial the contract
    /// will assign. A refused issuance (the credit check) is an error with the contract's reason
    /// and consumes nothing: the same serial serves the next attempt.
    pub async fn issue(
        &self,
        contract: &str,
        terminal: &TerminalKey,
        signer: &Signer,
        amount: u64,
        valid_for_ms: u64,
    ) -> Result<Issuance> {
        let info = self.contract(contract).await.context("looking up the notes contract")?;
        let member = signer.key.public().to_address();
        let status =
            self.client.status().await.map_err(rpc_error).context("cannot reach the node")?;
        // The serial the contract will assign if the issuance is accepted; the note must carry it.
        let serial = self.next_serial(contract, member).await?;
        let expiry_ms = status.time_ms.checked_add(valid_for_ms).context("expiry overflows")?;
        let note = terminal.make_note(info.address.0, amount, member.0, serial, expiry_ms);
        let args = json!([amount, serial, expiry_ms, hex::encode(note.commitment())]);
        let (tx, _) = self
            .call(&info, signer, "issue", args)
            .await
            .context("the issuance was not accepted")?;
        Ok(Issuance { note, member, tx })
    }

    /// Where `note` stands on the ledger of the contract it is drawn on (an error if that
    /// contract is not on this chain).
    pub async fn status(&self, note: &Note) -> Result<NoteStatus> {
        let contract = hex::encode(note.contract);
        self.contract(&contract).await.context("the note's contract is not on this chain")?;
        let user = Address(note.user);
        let Some(record) = self.note_record(&contract, user, note.serial).await? else {
            let next = self.view(&contract, "next_serial", json!([user])).await?;
            let next = next.as_u64().unwrap_or(0);
            return Ok(if note.serial >= 1 && note.serial < next {
                NoteStatus::Settled
            } else {
                NoteStatus::NotIssued
            });
        };
        let commitment = record["commitment"].as_str().unwrap_or_default();
        if commitment != hex::encode(note.commitment()) {
            return Ok(NoteStatus::NotGenuine);
        }
        let now = self.client.status().await.map_err(rpc_error)?.time_ms;
        Ok(if now >= note.expiry_ms {
            NoteStatus::Expired { block_time_ms: now }
        } else {
            NoteStatus::Outstanding { seconds_left: (note.expiry_ms - now) / 1000 }
        })
    }

    /// Redeems `note` once, for `payee`: commits to `blake3(note ‖ payee)` (unless the signer
    /// already has that commitment pending), waits for its block, then reveals the note and the
    /// payee, so that a thief who sees the note in the mempool has no earlier commitment to it.
    /// Unless `force`, refuses a note that is not outstanding before committing anything
    /// (with `force`, the contract decides).
    pub async fn redeem(
        &self,
        note: &Note,
        signer: &Signer,
        payee: Address,
        force: bool,
    ) -> Result<Redemption> {
        let redeemer = signer.key.public().to_address();
        let contract = hex::encode(note.contract);
        let info =
            self.contract(&contract).await.context("the note's contract is not on this chain")?;
        if !force {
            let status = self.status(note).await?;
            if !matches!(status, NoteStatus::Outstanding { .. }) {
                bail!("not redeeming: the note is {status} (--force lets the contract decide)");
            }
        }
        // Commit (unless an earlier run of ours already did), then reveal in a later block: the
        // commit's block is committed before the reveal is even signed.
        let redeem_hash = note.redeem_hash(&payee.0);
        let hash = hex::encode(redeem_hash);
        let pending = self.view(&contract, "redeem_commit", json!([redeemer, hash])).await?;
        let commit = if pending.is_null() {
            Some(self.call(&info, signer, "commit_redeem", json!([hash])).await?.0)
        } else {
            None
        };
        let args = json!([note.to_abi_json(), payee]);
        let (reveal, amount) = self.call(&info, signer, "reveal_redeem", args).await?;
        let amount = amount.as_u64().context("reveal_redeem did not return an amount")?;
        Ok(Redemption { amount, payee, redeem_hash, commit, reveal })
    }

    async fn view(&self, contract: &str, method: &str, args: Value) -> Result<Value> {
        let result = self
            .client
            .view(contract.to_string(), method.to_string(), args)
            .await
            .map_err(rpc_error)?;
        Ok(result.decoded)
    }

    /// Calls `method` with JSON `args` and waits for the block; a failed call is an error with
    /// the contract's reason.
    async fn call(
        &self,
        contract: &ContractInfo,
        signer: &Signer,
        method: &str,
        args: Value,
    ) -> Result<(TxInfo, Value)> {
        let encoded = contract.abi.encode_args(method, &args)?;
        let payload =
            Payload::Call { contract: contract.address, method: method.to_string(), args: encoded };
        let info = submit(&self.client, &signer.waiting(), payload).await?;
        let receipt = info.receipt.as_ref().context("the node returned no receipt")?;
        if let TxStatus::Failed { reason } = &receipt.status {
            bail!(
                "{method} failed (tx {}, height {}): {reason}",
                info.tx_id,
                info.height.unwrap_or_default()
            );
        }
        let result = contract.abi.decode_return(method, &receipt.return_data)?;
        Ok((info, result))
    }
}

/// A member's address from a public key (64 hex), a key file path, or a key NAME in `keys_dir`.
pub fn resolve_address(spec: &str, keys_dir: &Path) -> Result<Address> {
    if let Ok(address) = spec.parse::<Address>() {
        return Ok(address);
    }
    let path = if Path::new(spec).is_file() {
        PathBuf::from(spec)
    } else {
        keys_dir.join(format!("{spec}.json"))
    };
    let file = KeyFile::read(&path)
        .with_context(|| format!("{spec:?} is neither a public key (64 hex) nor a key name"))?;
    Ok(file.public_key.to_address())
}
