//! Why a header, a value or a transaction was not accepted.

use crate::fork::ForkEvidence;
use crate::provider::ProviderError;
use kessai_primitives::validator::ValidatorSetError;
use kessai_primitives::{CommitError, Hash};

/// A header refused by the pure verification rules ([`crate::verify`]). Each rule has its own
/// variant, so a caller (and a test) can tell exactly which rule an untrusted node broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header is for chain {got:?}, the trusted chain is {expected:?}")]
    WrongChain { expected: String, got: String },

    #[error(
        "trusted header at height {trusted_height} (time {trusted_time_ms} ms) expired at \
         {expired_at_ms} ms, now is {now_ms} ms: re-initialise from a recent trusted hash"
    )]
    Expired { trusted_height: u64, trusted_time_ms: u64, expired_at_ms: u64, now_ms: u64 },

    #[error(
        "header at height {got} does not follow the trusted height {trusted} (expected {expected})"
    )]
    NotAdjacent { trusted: u64, expected: u64, got: u64 },

    #[error("header at height {got} is not above the trusted height {trusted}")]
    NotAfterTrusted { trusted: u64, got: u64 },

    #[error(
        "header at height {height} has time {got_ms} ms, not after the trusted header's \
         {trusted_ms} ms"
    )]
    NonIncreasingTime { height: u64, trusted_ms: u64, got_ms: u64 },

    #[error(
        "header at height {height} has time {time_ms} ms, beyond now ({now_ms} ms) plus the \
         allowed clock drift of {max_drift_ms} ms"
    )]
    HeaderFromFuture { height: u64, time_ms: u64, now_ms: u64, max_drift_ms: u64 },

    #[error(
        "header at height {height} does not link to the trusted header: its parent is {got}, \
         the trusted header's hash is {expected}"
    )]
    BrokenParentLink { height: u64, expected: Hash, got: Hash },

    #[error(
        "header at height {height} names validator set {got}, but the trusted header announced \
         {expected} as the next set"
    )]
    BrokenValidatorChain { height: u64, expected: Hash, got: Hash },

    /// The header does not hash to the block its commit signs: a forged or altered header.
    #[error(
        "forged header at height {height}: it hashes to {header_hash}, but the commit signs \
         block {commit_block}"
    )]
    ForgedHeader { height: u64, header_hash: Hash, commit_block: Hash },

    #[error("commit is for height {commit_height}, the header is at height {height}")]
    CommitHeightMismatch { height: u64, commit_height: u64 },

    #[error(
        "validator set supplied for height {height} hashes to {got}, the header commits to \
         {expected}"
    )]
    ValidatorSetMismatch { height: u64, expected: Hash, got: Hash },

    #[error(
        "next validator set supplied for height {height} hashes to {got}, the header commits to \
         {expected}"
    )]
    NextValidatorSetMismatch { height: u64, expected: Hash, got: Hash },

    #[error(
        "commit for height {height} carries {signed} of {total} voting power; more than two \
         thirds is needed"
    )]
    NotEnoughPower { height: u64, signed: u64, total: u64 },

    #[error(
        "commit for height {height} carries {signed} of the trusted set's {total} voting power; \
         more than {numerator}/{denominator} is needed"
    )]
    NotEnoughTrust { height: u64, signed: u64, total: u64, numerator: u64, denominator: u64 },

    /// A bad signature, a signer counted twice or a signer outside the header's validator set.
    #[error("invalid commit for height {height}: {source}")]
    InvalidCommit { height: u64, source: CommitError },

    /// A header that does not hash to what a trusted source says it must: the hash the client was
    /// initialised with, or the parent hash named by a verified header above it.
    #[error(
        "header at height {height} hashes to {got}, the trusted hash for that height is {expected}"
    )]
    HashMismatch { height: u64, expected: Hash, got: Hash },

    #[error("invalid validator set: {0}")]
    InvalidValidatorSet(#[from] ValidatorSetError),

    #[error("invalid trust options: {0}")]
    InvalidOptions(String),
}

/// Anything the [`LightClient`](crate::LightClient) refuses or cannot do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Verification(#[from] VerifyError),

    #[error(transparent)]
    Provider(#[from] ProviderError),

    /// The primary answered for another height than it was asked for.
    #[error("asked the node for height {requested}, it answered with height {got}")]
    UnexpectedHeight { requested: u64, got: u64 },

    #[error("state proof for key {key} at height {height} does not verify: {reason}")]
    InvalidStateProof { height: u64, key: String, reason: String },

    #[error("the node returned transaction {got} when asked for {expected}")]
    TxIdMismatch { expected: Hash, got: Hash },

    #[error(
        "transaction {tx_id} is not proven in block {height}: its inclusion proof does not lead to \
         the header's txs_root"
    )]
    TxNotIncluded { tx_id: Hash, height: u64 },

    #[error(
        "the receipt of transaction {tx_id} is not proven in block {height}: its inclusion proof \
         does not lead to the header's receipts_root"
    )]
    ReceiptNotIncluded { tx_id: Hash, height: u64 },

    #[error(
        "the proofs of transaction {tx_id} disagree on its position: index {index}, tx proof \
         ({tx_index} of {tx_total}), receipt proof ({receipt_index} of {receipt_total})"
    )]
    TxPositionMismatch {
        tx_id: Hash,
        index: u64,
        tx_index: u64,
        tx_total: u64,
        receipt_index: u64,
        receipt_total: u64,
    },

    #[error("the receipt returned for transaction {expected} belongs to transaction {got}")]
    ReceiptMismatch { expected: Hash, got: Hash },

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
    NotConfirmed { height: u64, witnesses: usize, unavailable: usize, faulty: usize },

    /// A fork was detected earlier; nothing more is verified through this primary.
    #[error(
        "the primary is no longer trusted: a conflicting header was found at height {height}; \
         reset the primary to continue"
    )]
    PrimaryDistrusted { height: u64 },

    #[error("light store: {0}")]
    Store(String),
}
