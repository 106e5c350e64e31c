//! Transactions: what a member signs to change the chain.
//!
//! A transaction is borsh-encoded, signed over `domain::TRANSACTION || borsh(Transaction)` by its
//! `signer`, and identified by the blake3 hash of the borsh encoding of the whole
//! [`SignedTransaction`]. The chain id and the per-account nonce make a signed transaction valid on one
//! chain, once.

use crate::crypto::{Address, Keypair, PublicKey, Signature, SignatureError, SignedMessage};
use crate::hash::Hash;
use crate::lifecycle::LifecycleAction;
use crate::validator::Validator;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What a member may do beyond transacting. Roles come from the chain spec and change only through
/// [`GovernanceAction`]s signed by an admin.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May sign governance actions.
    Admin,
    /// May deploy contract code.
    Deployer,
    /// Counts towards the approvals a contract proposal needs (see [`crate::lifecycle`]).
    Approver,
}

/// Changes to the consortium itself; only an [`Role::Admin`] may sign them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GovernanceAction {
    /// Makes `key` a member with `roles`.
    AddMember {
        /// The new member's key.
        key: PublicKey,
        /// Its roles.
        roles: Vec<Role>,
    },
    /// Ends `key`'s membership: it may no longer sign transactions.
    RemoveMember {
        /// The member's key.
        key: PublicKey,
    },
    /// Gives a member a role.
    GrantRole {
        /// The member's key.
        key: PublicKey,
        /// The role granted.
        role: Role,
    },
    /// Takes a role from a member.
    RevokeRole {
        /// The member's key.
        key: PublicKey,
        /// The role revoked.
        role: Role,
    },
    /// Sets a validator's voting power (0 removes it). Takes effect at a later height, announced in
    /// the headers' `next_validators_hash`.
    SetValidator {
        /// The validator's key and new power.
        validator: Validator,
    },
    /// Admits a libp2p peer id (its protobuf-encoded public key bytes) to the network, lifting a
    /// revocation of it.
    AdmitPeer {
        /// The peer's libp2p public key, protobuf-encoded.
        peer_key: Vec<u8>,
    },
    /// Revokes a node key's place on the network, whether governance admitted it or the chain spec
    /// lists it: nodes drop its connections at the height that commits this. Refused for a key of
    /// the current, next or a pending validator set (decision record 0015).
    RevokePeer {
        /// The peer's libp2p public key, protobuf-encoded (as in [`GovernanceAction::AdmitPeer`]).
        peer_key: Vec<u8>,
    },
    /// Schedules a protocol upgrade: blocks from `height` on follow `protocol_version`
    /// ([`crate::protocol`]). Refused unless `protocol_version` is above the chain's current one and
    /// `height` at least [`crate::protocol::MIN_UPGRADE_NOTICE_HEIGHTS`] above the block that
    /// commits this; replaces an upgrade scheduled before (decision record 0020).
    ScheduleUpgrade {
        /// The version blocks carry from `height` on.
        protocol_version: u32,
        /// The first height of the new version.
        height: u64,
    },
    /// Replaces the chain's deployment policy (the chain spec's `contract_policy.deployment`):
    /// who must approve a new contract ([`crate::lifecycle`]). Refused if it asks more approvals
    /// than members hold [`Role::Approver`]; proposals already made are counted under the new
    /// policy from then on (decision record 0019).
    SetDeploymentPolicy {
        /// The policy from the block that commits this on.
        policy: crate::lifecycle::DeploymentPolicy,
    },
    /// Registers or replaces the node key of a validator (current, next, or given power by a
    /// pending change): the libp2p identity its node connects with, instead of its consensus key.
    /// Nodes allow the new key and drop the replaced one at the height that commits this; a
    /// registered node key cannot be revoked ([`GovernanceAction::RevokePeer`]) while the
    /// validator signs or will. Refused for a key that is not ed25519, is revoked, or is another
    /// validator's node or consensus key (decision record 0021).
    SetValidatorNodeKey {
        /// The validator's consensus key.
        validator: PublicKey,
        /// Its node's libp2p public key, protobuf-encoded (as in [`GovernanceAction::AdmitPeer`];
        /// ed25519 only: `08 01 12 20 ‖ 32 bytes`).
        node_key: Vec<u8>,
    },
}

/// What the transaction does.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Stores wasm code under its blake3 hash. Needs [`Role::Deployer`].
    Deploy {
        /// The wasm module.
        code: Vec<u8>,
    },
    /// Creates a contract from stored code and runs its `init` method with `args`.
    Instantiate {
        /// Hash of code stored by a deploy.
        code_hash: Hash,
        /// Arguments of `init`, borsh of the tuple of its arguments (empty without `init`).
        args: Vec<u8>,
    },
    /// Calls `method` of `contract` with borsh-encoded `args`.
    Call {
        /// Address of the contract called.
        contract: Address,
        /// Name of the exported method.
        method: String,
        /// Borsh of the tuple of the method's arguments.
        args: Vec<u8>,
    },
    /// A change to the consortium; needs [`Role::Admin`].
    Governance(GovernanceAction),
    /// Proposes, approves or withdraws approval of a contract instantiation or upgrade; who may
    /// sign which depends on the policies of [`crate::lifecycle`].
    Lifecycle(LifecycleAction),
}

impl Payload {
    /// A short name for logs and receipts.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Deploy { .. } => "deploy",
            Payload::Instantiate { .. } => "instantiate",
            Payload::Call { .. } => "call",
            Payload::Governance(_) => "governance",
            Payload::Lifecycle(_) => "lifecycle",
        }
    }
}

/// What a member signs to change the chain's state.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// The chain the transaction is for, so that it cannot be replayed on another.
    pub chain_id: String,
    /// The member signing it; pays its gas and is the caller contracts see.
    pub signer: PublicKey,
    /// Must equal the signer's account nonce: the first transaction of an account has nonce 0.
    pub nonce: u64,
    /// The most gas the signer allows this transaction to burn.
    pub gas_limit: u64,
    /// What the transaction does.
    pub payload: Payload,
}

impl Transaction {
    /// Signs the transaction (borsh of it, under
    /// [`domain::TRANSACTION`](crate::domain::TRANSACTION)) with `key`, which should be the
    /// `signer`'s.
    pub fn sign(self, key: &Keypair) -> SignedTransaction {
        let signature =
            key.sign(crate::domain::TRANSACTION, &borsh::to_vec(&self).expect("encodes"));
        SignedTransaction { tx: self, signature }
    }
}

/// A transaction with its signer's signature: what clients submit (borsh, hex over RPC) and blocks
/// carry.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The transaction signed.
    pub tx: Transaction,
    /// The signer's signature over borsh of `tx`, under
    /// [`domain::TRANSACTION`](crate::domain::TRANSACTION).
    pub signature: Signature,
}

/// Why a transaction is refused before it reaches a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The encoded transaction is larger than the node accepts.
    #[error("transaction is {size} bytes; the limit is {limit}")]
    Oversize {
        /// Its encoded size, bytes.
        size: usize,
        /// The most bytes accepted.
        limit: usize,
    },
    /// The bytes do not decode as a signed transaction.
    #[error("transaction bytes are not a valid borsh-encoded signed transaction: {0}")]
    Malformed(String),
    /// The transaction names another chain.
    #[error("transaction is for chain {got:?}, this is chain {expected:?}")]
    WrongChain {
        /// This chain's id.
        expected: String,
        /// The transaction's chain id.
        got: String,
    },
    /// The signature does not verify against the signer's key.
    #[error(transparent)]
    BadSignature(#[from] SignatureError),
}

impl SignedTransaction {
    /// The transaction id: blake3 of the borsh encoding of the signed transaction.
    pub fn id(&self) -> Hash {
        Hash::of(self)
    }

    /// The signer's address (see [`PublicKey::to_address`]).
    pub fn signer_address(&self) -> Address {
        self.tx.signer.to_address()
    }

    /// Checks the signature against the signer's key.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        let message = borsh::to_vec(&self.tx).expect("encodes");
        self.tx.signer.verify(crate::domain::TRANSACTION, &message, &self.signature)
    }

    /// The signature check of each transaction, as [`SignedTransaction::verify_signature`] would
    /// report it, for a fraction of the cost when most are valid: see [`crate::crypto::verify_batch`].
    pub fn verify_signatures<R: rand_core::RngCore + rand_core::CryptoRng>(
        txs: &[SignedTransaction],
        rng: R,
    ) -> Vec<Result<(), SignatureError>> {
        let messages: Vec<Vec<u8>> =
            txs.iter().map(|t| borsh::to_vec(&t.tx).expect("encodes")).collect();
        let items: Vec<SignedMessage<'_>> = txs
            .iter()
            .zip(&messages)
            .map(|(t, message)| SignedMessage {
                key: t.tx.signer,
                signature: &t.signature,
                message,
            })
            .collect();
        crate::crypto::verify_batch(crate::domain::TRANSACTION, &items, rng)
    }

    /// Decodes wire bytes, refusing oversize or trailing input.
    pub fn decode(bytes: &[u8]) -> Result<SignedTransaction, TxError> {
        if bytes.len() > crate::MAX_TX_BYTES {
            return Err(TxError::Oversize { size: bytes.len(), limit: crate::MAX_TX_BYTES });
        }
        borsh::from_slice(bytes).map_err(|e| TxError::Malformed(e.to_string()))
    }

    /// The checks that need no state: size, chain id and signature.
    pub fn check_stateless(&self, chain_id: &str) -> Result<(), TxError> {
        self.check_shape(chain_id)?;
        self.verify_signature()?;
        Ok(())
    }

    /// Chain id and size: [`SignedTransaction::check_stateless`] without the signature, for bytes
    /// whose signature was already checked.
    pub fn check_shape(&self, chain_id: &str) -> Result<(), TxError> {
        if self.tx.chain_id != chain_id {
            return Err(TxError::WrongChain {
                expected: chain_id.to_string(),
                got: self.tx.chain_id.clone(),
            });
        }
        let size = borsh::object_length(self).expect("encodes");
        if size > crate::MAX_TX_BYTES {
            return Err(TxError::Oversize { size, limit: crate::MAX_TX_BYTES });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(nonce: u64) -> Transaction {
        Transaction {
            chain_id: "kessai-dev".into(),
            signer: Keypair::dev("alice").public(),
            nonce,
            gas_limit: 1_000_000,
            payload: Payload::Call {
                contract: Address([7; 32]),
                method: "transfer".into(),
                args: vec![1, 2, 3],
            },
        }
    }

    #[test]
    fn signed_transaction_round_trips_and_verifies() {
        let signed = call(0).sign(&Keypair::dev("alice"));
        let bytes = borsh::to_vec(&signed).unwrap();
        let decoded = SignedTransaction::decode(&bytes).unwrap();
        assert_eq!(decoded, signed);
        assert_eq!(decoded.id(), Hash::digest(&bytes));
        decoded.check_stateless("kessai-dev").unwrap();
    }

    #[test]
    fn batch_verdicts_are_the_one_by_one_verdicts() {
        let alice = Keypair::dev("alice");
        let good: Vec<SignedTransaction> = (0..12).map(|n| call(n).sign(&alice)).collect();
        assert!(SignedTransaction::verify_signatures(&good, rand_core::OsRng)
            .iter()
            .all(Result::is_ok));

        let not_a_point = (0u8..)
            .map(|b| PublicKey([b; 32]))
            .find(|k| {
                matches!(
                    k.verify(b"", b"", &Signature([0; 64])),
                    Err(SignatureError::MalformedKey(_))
                )
            })
            .expect("some byte string is not a curve point");
        let mut txs = good.clone();
        txs[2].signature = Signature([7; 64]); // forged
        txs[5].tx.nonce += 100; // changed after signing
        txs[8].tx.signer = not_a_point;
        txs[11].tx.signer = Keypair::dev("bob").public(); // someone else's signature
        let batch = SignedTransaction::verify_signatures(&txs, rand_core::OsRng);
        let single: Vec<_> = txs.iter().map(SignedTransaction::verify_signature).collect();
        assert_eq!(batch, single);
        let refused: Vec<usize> = (0..txs.len()).filter(|&i| batch[i].is_err()).collect();
        assert_eq!(refused, vec![2, 5, 8, 11]);
        assert_eq!(batch[8], Err(SignatureError::MalformedKey(not_a_point)));
        assert!(SignedTransaction::verify_signatures(&[], rand_core::OsRng).is_empty());
    }

    #[test]
    fn stateless_checks_reject_bad_input() {
        let mut signed = call(0).sign(&Keypair::dev("alice"));
        assert!(matches!(signed.check_stateless("other"), Err(TxError::WrongChain { .. })));
        signed.tx.nonce = 1; // the signature no longer covers the transaction
        assert!(matches!(signed.check_stateless("kessai-dev"), Err(TxError::BadSignature(_))));
        let wrong_signer = call(0).sign(&Keypair::dev("bob"));
        assert!(wrong_signer.check_stateless("kessai-dev").is_err());
        assert!(matches!(SignedTransaction::decode(&[1, 2, 3]), Err(TxError::Malformed(_))));
        let huge = vec![0u8; crate::MAX_TX_BYTES + 1];
        assert!(matches!(SignedTransaction::decode(&huge), Err(TxError::Oversize { .. })));
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let mut bytes = borsh::to_vec(&call(0).sign(&Keypair::dev("alice"))).unwrap();
        bytes.push(0);
        assert!(matches!(SignedTransaction::decode(&bytes), Err(TxError::Malformed(_))));
    }
}
