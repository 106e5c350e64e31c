//! The HTTP JSON-RPC interface of an intermediary server (namespace `intermediary`), shared by the
//! server, its peers and the CLI: jsonrpsee generates both sides from [`IntermediaryApi`].
//!
//! Requests that make the server act are signed, each under its own domain tag: a usage report by
//! the consumer's key (its smart meter), a change request by the asking intermediary's key. Both
//! name the intermediary they are for, so one cannot be replayed to another.

use super::asset::ProductionMethod;
use super::certificate::Certificate;
use super::mediation::MethodTotal;
use borsh::BorshSerialize;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use kessai_primitives::{Address, Hash, Keypair, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// Domain tag of a usage report's signature (by the consumer's key).
pub const REPORT_DOMAIN: &[u8] = b"kessai/intermediary/usage-report/v1";
/// Domain tag of a change request's signature (by the requesting intermediary's key).
pub const CHANGE_DOMAIN: &[u8] = b"kessai/intermediary/change-request/v1";

/// A consumer's use of electricity in one slot (the patent's usage information, S81).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize)]
pub struct UsageReport {
    /// The intermediary the report is for.
    pub intermediary: Address,
    /// The consumer whose use it is; the report must be signed with its key.
    pub consumer: Address,
    /// Start of the slot (ms since the Unix epoch); the slot's length is the intermediary's.
    pub slot_start_ms: u64,
    /// Electricity used in the slot, in Wh.
    pub usage_wh: u64,
}

/// The first change request (S125): "move `amount_wh` of `method` from you (`peer`) to me
/// (`requester`)".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize)]
pub struct ChangeRequest {
    /// The asking intermediary, which signs the request and receives the records.
    pub requester: Address,
    /// The intermediary asked, which must be the one serving the request.
    pub peer: Address,
    /// The production method wanted.
    pub method: ProductionMethod,
    /// How much, in Wh.
    pub amount_wh: u64,
    /// When the requester signed it; a peer refuses requests far from its own clock and
    /// remembers the ones it has seen meanwhile, so a request is served once.
    pub issued_at_ms: u64,
    /// Distinguishes requests signed in the same millisecond.
    pub sequence: u64,
}

/// A message with the signature of `signer` over `domain ‖ borsh(message)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The message signed.
    pub message: T,
    /// The key that signed it.
    pub signer: PublicKey,
    /// The ed25519 signature over `domain ‖ borsh(message)`.
    pub signature: Signature,
}

impl<T: BorshSerialize> Signed<T> {
    /// `message` signed with `key` under `domain`.
    pub fn sign(message: T, domain: &[u8], key: &Keypair) -> Signed<T> {
        let signature = key.sign(domain, &borsh::to_vec(&message).expect("in memory"));
        Signed { message, signer: key.public(), signature }
    }

    /// Checks the signature under `domain`; who `signer` must be is the caller's check.
    pub fn verify(&self, domain: &[u8]) -> Result<(), String> {
        let bytes = borsh::to_vec(&self.message).expect("in memory");
        self.signer.verify(domain, &bytes, &self.signature).map_err(|e| e.to_string())
    }
}

/// The peer's answer (S151).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum ChangeAnswer {
    /// "Change completed": these records are now the requester's on chain.
    ChangeCompleted {
        /// The records moved (a split-off part has a new id).
        asset_ids: Vec<u64>,
        /// The split and transfer transactions, in order.
        tx_ids: Vec<Hash>,
    },
    /// "Change not permitted", and why.
    ChangeNotPermitted {
        /// Why, for people.
        reason: String,
    },
}

/// Where the allocated records came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The intermediary's own record of the decided method.
    Own,
    /// A peer moved records of the decided method to the intermediary first.
    Peer {
        /// The server URL of the peer that moved them.
        url: String,
    },
    /// Every peer refused; the method was re-decided among the intermediary's own records.
    Fallback,
}

/// One peer asked during a report, and what it answered (or why it could not be asked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAttempt {
    /// The peer's server URL.
    pub url: String,
    /// Its answer or the failure to reach it, for people.
    pub answer: String,
}

/// One final transfer to the consumer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The record transferred from.
    pub asset_id: u64,
    /// Wh transferred to the consumer.
    pub amount_wh: u64,
    /// The record holding what was left of it, still the intermediary's.
    pub remainder_id: Option<u64>,
    /// The `final_transfer` transaction.
    pub tx_id: Hash,
    /// The block holding it.
    pub height: Option<u64>,
}

/// What the intermediary did with a usage report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOutcome {
    /// The consumer reported on.
    pub consumer: Address,
    /// Its name in the intermediary's configuration.
    pub consumer_name: String,
    /// Start of the slot (ms since the Unix epoch).
    pub slot_start_ms: u64,
    /// End of the slot: its start plus the intermediary's slot length (ms since the Unix epoch).
    pub slot_end_ms: u64,
    /// The reported use, in Wh: what was allocated.
    pub usage_wh: u64,
    /// The method chosen from the target and history (S121).
    pub decided_method: ProductionMethod,
    /// The method allocated: the decided one unless the fallback re-decided it.
    pub allocated_method: ProductionMethod,
    /// Where the allocated records came from.
    pub source: Source,
    /// The peers asked, in order, and what each answered.
    pub peers_asked: Vec<PeerAttempt>,
    /// The final transfers to the consumer.
    pub allocations: Vec<Allocation>,
    /// The consumer's history (Wh by method in its contract's period) before the slot.
    pub history_before: Vec<MethodTotal>,
    /// The same after the slot's allocations.
    pub history_after: Vec<MethodTotal>,
    /// Renewable share of the consumer's history after the slot, in basis points.
    pub renewable_basis_points_after: Option<u64>,
}

/// Who an intermediary server is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The name in its configuration (the patent's Da, Db, …).
    pub name: String,
    /// Its account: the owner of its records and the signer of its transfers and change requests.
    pub address: Address,
    /// The chain it works on.
    pub chain_id: String,
    /// The asset-ownership contract it uses.
    pub contract: Address,
    /// Length of a usage slot, in ms; reports start on a multiple of it.
    pub slot_ms: u64,
    /// The server URLs of its peers, in the order it asks them.
    pub peers: Vec<String>,
}

/// The intermediary's JSON-RPC methods, `intermediary_` + the method name; jsonrpsee generates
/// `IntermediaryApiServer` (implemented by [`crate::server::Intermediary`]) and
/// `IntermediaryApiClient` (used by peers and the CLI) from it.
#[rpc(server, client, namespace = "intermediary")]
pub trait IntermediaryApi {
    /// Who the server is: name, account, chain, contract, slot length and peers.
    #[method(name = "info")]
    async fn info(&self) -> RpcResult<Info>;

    /// A consumer's usage in one slot: allocate a matching record to it (final transfer).
    #[method(name = "report")]
    async fn report(&self, report: Signed<UsageReport>) -> RpcResult<ReportOutcome>;

    /// A peer intermediary asks for records of a method to be moved to it.
    #[method(name = "requestChange")]
    async fn request_change(&self, request: Signed<ChangeRequest>) -> RpcResult<ChangeAnswer>;

    /// The consumer's production-method certificate for transfers in `[from_ms, to_ms]` (block
    /// time), with the state proofs of every entry.
    #[method(name = "certificate")]
    async fn certificate(
        &self,
        consumer: Address,
        from_ms: u64,
        to_ms: u64,
    ) -> RpcResult<Certificate>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> UsageReport {
        UsageReport {
            intermediary: Address([1; 32]),
            consumer: Keypair::dev("frank").address(),
            slot_start_ms: 1_577_869_200_000,
            usage_wh: 10_000,
        }
    }

    #[test]
    fn a_signed_report_verifies_only_as_signed() {
        let signed = Signed::sign(report(), REPORT_DOMAIN, &Keypair::dev("frank"));
        assert!(signed.verify(REPORT_DOMAIN).is_ok());
        // Another domain (a change request's) does not verify.
        assert!(signed.verify(CHANGE_DOMAIN).is_err());
        // Nor does a changed message.
        let mut more = signed.clone();
        more.message.usage_wh += 1;
        assert!(more.verify(REPORT_DOMAIN).is_err());
        // Nor the same message claimed by another key.
        let mut claimed = signed;
        claimed.signer = Keypair::dev("erin").public();
        assert!(claimed.verify(REPORT_DOMAIN).is_err());
    }

    #[test]
    fn answers_say_what_the_patent_says() {
        let done = ChangeAnswer::ChangeCompleted { asset_ids: vec![7], tx_ids: vec![] };
        assert_eq!(serde_json::to_value(&done).unwrap()["answer"], "change_completed");
        let refused = ChangeAnswer::ChangeNotPermitted { reason: "none".into() };
        assert_eq!(serde_json::to_value(&refused).unwrap()["answer"], "change_not_permitted");
    }
}
