//! Why a header, a value or a transaction was not accepted.

use crate::fork::ForkEvidence;
use crate::provider::ProviderError;
use kessai_primitives::validator::ValidatorSetError;
use kessai_primitives::{CommitError, Hash};

/// A header refused by the pure verification rules ([`crate::verify`]). Each rule has its own
/// variant, so a caller (and a test) can tell exactly which rule an untrusted node broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The header follows a protocol version this light client does not know the rules of.
    #[error(
        "header {height} follows protocol version {version}, which this light client does not \
         support (it supports {supported:?}): upgrade to a release supporting protocol {version}"
    )]
    UnsupportedProtocolVersion {
        /// Height of the header.
        height: u64,
        /// Its protocol version.
        version: u32,
        /// The versions this build verifies.
        supported: Vec<u32>,
    },

    /// From protocol version 2, a header's proposer holds power in the set that signs it.
    #[error("header {height} names proposer {proposer}, which is not in its validator set")]
    ProposerNotValidator {
        /// Height of the header.
        height: u64,
        /// The header's proposer.
        proposer: kessai_primitives::PublicKey,
    },

    /// The header names another chain than the trusted one.
    #[error("header is for chain {got:?}, the trusted chain is {expected:?}")]
    WrongChain {
        /// The trusted chain id.
        expected: String,
        /// The header's chain id.
        got: String,
    },

    #[error(
        "trusted header at height {trusted_height} (time {trusted_time_ms} ms) expired at \
         {expired_at_ms} ms, now is {now_ms} ms: re-initialise from a recent trusted hash"
    )]
    /// The trusted header is older than the trusting period: its validators may have left and
    /// could sign anything without consequence.
    Expired {
        /// Height of the trusted header.
        trusted_height: u64,
        /// Its time, milliseconds since the Unix epoch.
        trusted_time_ms: u64,
        /// When trust in it ended (its time plus the trusting period), milliseconds since the epoch.
        expired_at_ms: u64,
        /// The caller's current time, milliseconds since the Unix epoch.
        now_ms: u64,
    },

    #[error(
        "header at height {got} does not follow the trusted height {trusted} (expected {expected})"
    )]
    /// Sequential verification was asked for a header that is not the next height.
    NotAdjacent {
        /// The trusted height.
        trusted: u64,
        /// The height that follows it.
        expected: u64,
        /// The header's height.
        got: u64,
    },

    #[error("header at height {got} is not above the trusted height {trusted}")]
    /// Verification forward was asked for a header at or below the trusted height.
    NotAfterTrusted {
        /// The trusted height.
        trusted: u64,
        /// The header's height.
        got: u64,
    },

    #[error(
        "header at height {height} has time {got_ms} ms, not after the trusted header's \
         {trusted_ms} ms"
    )]
    /// The header's time is not after the trusted header's (block times strictly increase).
    NonIncreasingTime {
        /// Height of the header checked.
        height: u64,
        /// The trusted header's time, milliseconds since the Unix epoch.
        trusted_ms: u64,
        /// The header's time, milliseconds since the Unix epoch.
        got_ms: u64,
    },

    #[error(
        "header at height {height} has time {time_ms} ms, beyond now ({now_ms} ms) plus the \
         allowed clock drift of {max_drift_ms} ms"
    )]
    /// The header's time is further ahead of the caller's clock than the allowed drift.
    HeaderFromFuture {
        /// Height of the header checked.
        height: u64,
        /// The header's time, milliseconds since the Unix epoch.
        time_ms: u64,
        /// The caller's current time, milliseconds since the Unix epoch.
        now_ms: u64,
        /// The clock drift allowed, milliseconds.
        max_drift_ms: u64,
    },

    #[error(
        "header at height {height} does not link to the trusted header: its parent is {got}, \
         the trusted header's hash is {expected}"
    )]
    /// The next header's parent is not the trusted header.
    BrokenParentLink {
        /// Height of the header checked.
        height: u64,
        /// The trusted header's hash.
        expected: Hash,
        /// The parent the header names.
        got: Hash,
    },

    #[error(
        "header at height {height} names validator set {got}, but the trusted header announced \
         {expected} as the next set"
    )]
    /// The next header's validator set is not the one the trusted header announced.
    BrokenValidatorChain {
        /// Height of the header checked.
        height: u64,
        /// The trusted header's `next_validators_hash`.
        expected: Hash,
        /// The header's `validators_hash`.
        got: Hash,
    },

    /// The header does not hash to the block its commit signs: a forged or altered header.
    #[error(
        "forged header at height {height}: it hashes to {header_hash}, but the commit signs \
         block {commit_block}"
    )]
    ForgedHeader {
        /// Height of the header checked.
        height: u64,
        /// What the header hashes to.
        header_hash: Hash,
        /// The block the commit signs.
        commit_block: Hash,
    },

    /// The commit supplied with a header is for another height.
    #[error("commit is for height {commit_height}, the header is at height {height}")]
    CommitHeightMismatch {
        /// Height of the header checked.
        height: u64,
        /// The commit's height.
        commit_height: u64,
    },

    #[error(
        "validator set supplied for height {height} hashes to {got}, the header commits to \
         {expected}"
    )]
    /// The validator set supplied with a header is not the one its `validators_hash` names.
    ValidatorSetMismatch {
        /// Height of the header checked.
        height: u64,
        /// The header's `validators_hash`.
        expected: Hash,
        /// The hash of the set supplied.
        got: Hash,
    },

    #[error(
        "next validator set supplied for height {height} hashes to {got}, the header commits to \
         {expected}"
    )]
    /// The next validator set supplied is not the one the header's `next_validators_hash` names.
    NextValidatorSetMismatch {
        /// Height of the header checked.
        height: u64,
        /// The header's `next_validators_hash`.
        expected: Hash,
        /// The hash of the set supplied.
        got: Hash,
    },

    #[error(
        "commit for height {height} carries {signed} of {total} voting power; more than two \
         thirds is needed"
    )]
    /// The commit's valid signatures carry two thirds of the header's validator power or less.
    NotEnoughPower {
        /// Height of the header checked.
        height: u64,
        /// Power of the valid signers.
        signed: u64,
        /// Total power of the header's validator set.
        total: u64,
    },

    #[error(
        "commit for height {height} carries {signed} of the trusted set's {total} voting power; \
         more than {numerator}/{denominator} is needed"
    )]
    /// Skipping verification: the signers from the trusted set carry no more than the trust level
    /// of its power, so the new header cannot be reached in one step.
    NotEnoughTrust {
        /// Height of the header checked.
        height: u64,
        /// Power, in the trusted set, of the valid signers that are in it.
        signed: u64,
        /// Total power of the trusted set.
        total: u64,
        /// Numerator of the trust level.
        numerator: u64,
        /// Denominator of the trust level.
        denominator: u64,
    },

    /// A bad signature, a signer counted twice or a signer outside the header's validator set.
    #[error("invalid commit for height {height}: {source}")]
    InvalidCommit {
        /// Height of the header checked.
        height: u64,
        /// What is wrong with the commit.
        source: CommitError,
    },

    /// A header that does not hash to what a trusted source says it must: the hash the client was
    /// initialised with, or the parent hash named by a verified header above it.
    #[error(
        "header at height {height} hashes to {got}, the trusted hash for that height is {expected}"
    )]
    HashMismatch {
        /// Height of the header checked.
        height: u64,
        /// The trusted hash for that height.
        expected: Hash,
        /// What the header hashes to.
        got: Hash,
    },

    /// A validator set supplied by the node is not a valid set (empty, duplicate, overflow).
    #[error("invalid validator set: {0}")]
    InvalidValidatorSet(#[from] ValidatorSetError),

    /// The [`TrustOptions`](crate::TrustOptions) are unusable (e.g. a trust level out of range).
    #[error("invalid trust options: {0}")]
    InvalidOptions(String),
}

/// Anything the [`LightClient`](crate::LightClient) refuses or cannot do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A header broke a verification rule.
    #[error(transparent)]
    Verification(#[from] VerifyError),

    /// The node could not be asked, or did not answer.
    #[error(transparent)]
    Provider(#[from] ProviderError),

    /// The primary answered for another height than it was asked for.
    #[error("asked the node for height {requested}, it answered with height {got}")]
    UnexpectedHeight {
        /// The height asked for.
        requested: u64,
        /// The height of the answer.
        got: u64,
    },

    /// A state value's proof does not lead to the verified header's state root.
    #[error("state proof for key {key} at height {height} does not verify: {reason}")]
    InvalidStateProof {
        /// Height of the verified header.
        height: u64,
        /// The flat key read, hex.
        key: String,
        /// Why the proof fails.
        reason: String,
    },

    /// The node answered about another transaction.
    #[error("the node returned transaction {got} when asked for {expected}")]
    TxIdMismatch {
        /// The id asked for.
        expected: Hash,
        /// The id of the transaction returned.
        got: Hash,
    },

    #[error(
        "transaction {tx_id} is not proven in block {height}: its inclusion proof does not lead to \
         the header's txs_root"
    )]
    /// The transaction's inclusion proof does not lead to the verified header's `txs_root`.
    TxNotIncluded {
        /// The transaction's id.
        tx_id: Hash,
        /// Height of the block it is claimed to be in.
        height: u64,
    },

    #[error(
        "the receipt of transaction {tx_id} is not proven in block {height}: its inclusion proof \
         does not lead to the header's receipts_root"
    )]
    /// The receipt's inclusion proof does not lead to the verified header's `receipts_root`.
    ReceiptNotIncluded {
        /// The transaction's id.
        tx_id: Hash,
        /// Height of the block it is claimed to be in.
        height: u64,
    },

    #[error(
        "the proofs of transaction {tx_id} claim a block of {proof_total} transactions, but the \
         header of block {height} commits to {header_count}"
    )]
    /// The proofs' leaf count is not the header's `tx_count`: the position they prove would not be
    /// authenticated (a proof for index 4 of 5 also verifies as 1 of 2 under the same root).
    TxCountMismatch {
        /// The transaction's id.
        tx_id: Hash,
        /// Height of the block.
        height: u64,
        /// The leaf count of both proofs.
        proof_total: u64,
        /// The header's `tx_count`.
        header_count: u64,
    },

    #[error(
        "the proofs of transaction {tx_id} disagree on its position: index {index}, tx proof \
         ({tx_index} of {tx_total}), receipt proof ({receipt_index} of {receipt_total})"
    )]
    /// The node's index and the two proofs do not agree on where the transaction is in its block.
    TxPositionMismatch {
        /// The transaction's id.
        tx_id: Hash,
        /// The index the node gave.
        index: u64,
        /// The leaf index of the transaction proof.
        tx_index: u64,
        /// The leaf count of the transaction proof.
        tx_total: u64,
        /// The leaf index of the receipt proof.
        receipt_index: u64,
        /// The leaf count of the receipt proof.
        receipt_total: u64,
    },

    /// The receipt returned is for another transaction.
    #[error("the receipt returned for transaction {expected} belongs to transaction {got}")]
    ReceiptMismatch {
        /// The transaction asked about.
        expected: Hash,
        /// The transaction the receipt names.
        got: Hash,
    },

    /// A witness holds a validly signed header that conflicts with the primary's: someone signed two
    /// blocks at one height. The client stops trusting the primary (see
    /// [`LightClient::reset_primary`](crate::LightClient::reset_primary)).
    #[error("{0}")]
    ForkDetected(Box<ForkEvidence>),

    /// Witnesses were given and none confirmed the header verified at `height`: each was
    /// unavailable or faulty (see [`LightClient::witness_checks`](crate::LightClient::witness_checks)).
    /// The header is not trusted; without witnesses it would have been.
    #[error(
        "no witness confirmed the header at height {height} ({witnesses} given: {unavailable} \
         unavailable, {faulty} faulty), so it is not trusted"
    )]
    NotConfirmed {
        /// Height of the header not confirmed.
        height: u64,
        /// How many witnesses were asked.
        witnesses: usize,
        /// How many could not be asked or did not answer.
        unavailable: usize,
        /// How many answered with something that does not verify.
        faulty: usize,
    },

    /// A fork was detected earlier; nothing more is verified through this primary.
    #[error(
        "the primary is no longer trusted: a conflicting header was found at height {height}; \
         reset the primary to continue"
    )]
    PrimaryDistrusted {
        /// Height of the conflicting header.
        height: u64,
    },

    /// The light store failed to read or write trusted headers.
    #[error("light store: {0}")]
    Store(String),
}
