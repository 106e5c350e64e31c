//! The types every Kessai node signs, hashes and stores.
//!
//! Everything that is signed or hashed is first encoded with [borsh] — a canonical encoding, so the same
//! value gives the same bytes on every node — and hashed with blake3 ([`Hash::of`]). Keys are ed25519.
//! Each signed message is prefixed with a domain tag ([`domain`]) so that a signature over one kind of
//! message can never be replayed as another.
//!
//! This crate does no I/O and depends on nothing heavy: the light client builds on it, also for wasm32.

pub mod block;
pub mod crypto;
pub mod hash;
pub mod lifecycle;
pub mod merkle;
pub mod protocol;
pub mod receipt;
pub mod state_proof;
pub mod time;
pub mod tx;
pub mod validator;
pub mod vote;

pub use block::{Block, BlockId, Header};
pub use crypto::{Address, Keypair, PublicKey, Signature, SignatureError};
pub use hash::Hash;
pub use lifecycle::{
    ContractChange, ContractProposal, DeploymentPolicy, LifecycleAction, UpgradePolicy,
};
pub use receipt::{Event, Receipt, TxStatus};
pub use state_proof::{ProofError, StateProof};
pub use tx::{GovernanceAction, Payload, Role, SignedTransaction, Transaction, TxError};
pub use validator::{Validator, ValidatorSet};
pub use vote::{
    Commit, CommitError, CommitSignature, Evidence, Proposal, SignedProposal, SignedVote, Vote,
    VoteKind,
};

/// Domain tags prepended to every signed message (see the module docs of [`crypto`]).
pub mod domain {
    /// Tag of a [`Transaction`](crate::Transaction) signature.
    pub const TRANSACTION: &[u8] = b"kessai/tx/v1";
    /// Tag of a [`Vote`](crate::Vote) signature (and of a commit's precommit signatures).
    pub const VOTE: &[u8] = b"kessai/vote/v1";
    /// Tag of a [`Proposal`](crate::Proposal) signature.
    pub const PROPOSAL: &[u8] = b"kessai/proposal/v1";
}

/// Largest encoded transaction a node accepts (code deployments are the big ones).
pub const MAX_TX_BYTES: usize = 2 * 1024 * 1024;
