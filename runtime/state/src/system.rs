//! The chain's own state: every key under namespace [`Address::SYSTEM`], how it is encoded and how to
//! read it (see `docs/contract-abi.md`, "Addresses and state layout"). This is the one place these
//! encodings live; the node, the RPC and the store read the chain state through these functions.
//!
//! A flat key is `namespace (32 bytes) ‖ key`; values are borsh.

pub use crate::flat_key;
use crate::{StateError, StateView};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::{Address, Hash, PublicKey, Role, Validator, ValidatorSet};
use serde::{Deserialize, Serialize};

/// Key prefix of an account's next nonce (`account/ ‖ public key` → `u64`).
pub const ACCOUNT: &[u8] = b"account/";
/// Key prefix of a member's roles (`member/ ‖ public key` → `Vec<Role>`).
pub const MEMBER: &[u8] = b"member/";
/// Key prefix of stored wasm code (`code/ ‖ code hash` → the module bytes).
pub const CODE: &[u8] = b"code/";
/// Key prefix of a contract instance (`contract/ ‖ address` → [`ContractInfo`]).
pub const CONTRACT: &[u8] = b"contract/";
/// Key prefix of the chain spec's contract names (`name/ ‖ UTF-8 name` → [`Address`]).
pub const NAME: &[u8] = b"name/";
/// Key of the [`ValidatorSet`] that signed the latest block.
pub const VALIDATORS_CURRENT: &[u8] = b"validators/current";
/// Key of the [`ValidatorSet`] that signs the next block.
pub const VALIDATORS_NEXT: &[u8] = b"validators/next";
/// Key prefix of scheduled validator changes (`validators/pending/ ‖ height (u64 BE)` →
/// `Vec<Validator>`).
pub const VALIDATORS_PENDING: &[u8] = b"validators/pending/";
/// Key prefix of admitted peers (`peer/ ‖ libp2p public key bytes` → `()`).
pub const PEER: &[u8] = b"peer/";
/// Key prefix of revoked peers (`peer-revoked/ ‖ libp2p public key bytes` → `()`): node keys that
/// may not connect even though the chain spec lists them.
pub const PEER_REVOKED: &[u8] = b"peer-revoked/";
/// Key prefix of committed misbehaviour evidence (`evidence/ ‖ evidence hash` → `Evidence`).
pub const EVIDENCE: &[u8] = b"evidence/";

/// What `contract/ ‖ address` holds.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ContractInfo {
    /// Hash of the wasm code it runs, stored under [`code_key`].
    pub code_hash: Hash,
    /// The signer of the instantiating transaction, or [`Address::SYSTEM`] for chain-spec contracts.
    pub creator: Address,
    /// Height of the block that instantiated it (0 for chain-spec contracts, created at genesis).
    pub created_at_height: u64,
}

fn system_key(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut flat = Vec::with_capacity(32 + prefix.len() + suffix.len());
    flat.extend_from_slice(&Address::SYSTEM.0);
    flat.extend_from_slice(prefix);
    flat.extend_from_slice(suffix);
    flat
}

/// The address of the contract instantiated by `creator`'s transaction with `nonce`:
/// `blake3(borsh(("kessai/contract", creator, nonce)))`.
pub fn contract_address(creator: &Address, nonce: u64) -> Address {
    Address(Hash::of(&("kessai/contract", creator, nonce)).0)
}

/// `account/ ‖ public key` → `u64` next nonce (absent = 0).
pub fn nonce_key(key: &PublicKey) -> Vec<u8> {
    system_key(ACCOUNT, &key.0)
}

/// `member/ ‖ public key` → `Vec<Role>`; present = member.
pub fn member_key(key: &PublicKey) -> Vec<u8> {
    system_key(MEMBER, &key.0)
}

/// The flat prefix of every member key.
pub fn member_prefix() -> Vec<u8> {
    system_key(MEMBER, &[])
}

/// `code/ ‖ code hash` → the wasm bytes.
pub fn code_key(code_hash: &Hash) -> Vec<u8> {
    system_key(CODE, &code_hash.0)
}

/// `contract/ ‖ address` → [`ContractInfo`].
pub fn contract_key(address: &Address) -> Vec<u8> {
    system_key(CONTRACT, &address.0)
}

/// `name/ ‖ UTF-8 name` → the [`Address`] of a contract named in the chain spec.
pub fn name_key(name: &str) -> Vec<u8> {
    system_key(NAME, name.as_bytes())
}

/// `validators/current` → the [`ValidatorSet`] that signed the latest block.
pub fn current_validators_key() -> Vec<u8> {
    system_key(VALIDATORS_CURRENT, &[])
}

/// `validators/next` → the [`ValidatorSet`] that signs the next block.
pub fn next_validators_key() -> Vec<u8> {
    system_key(VALIDATORS_NEXT, &[])
}

/// `validators/pending/ ‖ height (u64 BE)` → `Vec<Validator>`: power changes that take effect at
/// that height (power 0 removes a validator).
pub fn pending_validators_key(height: u64) -> Vec<u8> {
    system_key(VALIDATORS_PENDING, &height.to_be_bytes())
}

/// `peer/ ‖ libp2p public key bytes` → `()`: an admitted peer.
pub fn peer_key(peer_key: &[u8]) -> Vec<u8> {
    system_key(PEER, peer_key)
}

/// The flat prefix of every admitted-peer key.
pub fn peer_prefix() -> Vec<u8> {
    system_key(PEER, &[])
}

/// `peer-revoked/ ‖ libp2p public key bytes` → `()`: a revoked peer.
pub fn revoked_peer_key(peer_key: &[u8]) -> Vec<u8> {
    system_key(PEER_REVOKED, peer_key)
}

/// The flat prefix of every revoked-peer key.
pub fn revoked_peer_prefix() -> Vec<u8> {
    system_key(PEER_REVOKED, &[])
}

/// `evidence/ ‖ evidence hash` → the committed `Evidence`.
pub fn evidence_key(evidence_hash: &Hash) -> Vec<u8> {
    system_key(EVIDENCE, &evidence_hash.0)
}

fn read<T: BorshDeserialize>(
    state: &(impl StateView + ?Sized),
    key: &[u8],
) -> Result<Option<T>, StateError> {
    match state.get(key)? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

pub(crate) fn decode<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, StateError> {
    borsh::from_slice(bytes).map_err(|e| {
        let shown = String::from_utf8_lossy(&key[32.min(key.len())..]);
        StateError(format!("corrupt value under system key {shown:?}: {e}"))
    })
}

/// The nonce the signer's next transaction must carry (0 for an account that never transacted).
pub fn nonce(state: &(impl StateView + ?Sized), key: &PublicKey) -> Result<u64, StateError> {
    Ok(read(state, &nonce_key(key))?.unwrap_or(0))
}

/// The roles of a member, or `None` if `key` is not a member.
pub fn member_roles(
    state: &(impl StateView + ?Sized),
    key: &PublicKey,
) -> Result<Option<Vec<Role>>, StateError> {
    read(state, &member_key(key))
}

/// Every member with its roles, in key order.
pub fn members(
    state: &(impl StateView + ?Sized),
) -> Result<Vec<(PublicKey, Vec<Role>)>, StateError> {
    let prefix = member_prefix();
    let mut out = Vec::new();
    let mut from = prefix.clone();
    while let Some((key, value)) = state.next_from(&prefix, &from)? {
        let suffix: [u8; 32] = key[prefix.len()..]
            .try_into()
            .map_err(|_| StateError(format!("member key of {} bytes", key.len())))?;
        out.push((PublicKey(suffix), decode(&key, &value)?));
        from = successor(key);
    }
    Ok(out)
}

/// The libp2p public keys (protobuf-encoded) of every admitted peer, in key order.
pub fn admitted_peers(state: &(impl StateView + ?Sized)) -> Result<Vec<Vec<u8>>, StateError> {
    let prefix = peer_prefix();
    let mut out = Vec::new();
    let mut from = prefix.clone();
    while let Some((key, _)) = state.next_from(&prefix, &from)? {
        out.push(key[prefix.len()..].to_vec());
        from = successor(key);
    }
    Ok(out)
}

/// The libp2p public keys (protobuf-encoded) of every revoked peer, in key order.
pub fn revoked_peers(state: &(impl StateView + ?Sized)) -> Result<Vec<Vec<u8>>, StateError> {
    let prefix = revoked_peer_prefix();
    let mut out = Vec::new();
    let mut from = prefix.clone();
    while let Some((key, _)) = state.next_from(&prefix, &from)? {
        out.push(key[prefix.len()..].to_vec());
        from = successor(key);
    }
    Ok(out)
}

/// Whether the libp2p public key (protobuf-encoded) is an admitted peer.
pub fn is_peer_admitted(
    state: &(impl StateView + ?Sized),
    libp2p_key: &[u8],
) -> Result<bool, StateError> {
    Ok(state.get(&peer_key(libp2p_key))?.is_some())
}

/// The wasm code stored under `code_hash`.
pub fn code(
    state: &(impl StateView + ?Sized),
    code_hash: &Hash,
) -> Result<Option<Vec<u8>>, StateError> {
    state.get(&code_key(code_hash))
}

/// What is known of the contract at `address` (its code, creator and creation height), or `None`
/// if no contract lives there.
pub fn contract_info(
    state: &(impl StateView + ?Sized),
    address: &Address,
) -> Result<Option<ContractInfo>, StateError> {
    read(state, &contract_key(address))
}

/// The address of a contract named in the chain spec.
pub fn contract_by_name(
    state: &(impl StateView + ?Sized),
    name: &str,
) -> Result<Option<Address>, StateError> {
    read(state, &name_key(name))
}

/// The [`ValidatorSet`] that signed the latest block (`None` before genesis is written).
pub fn current_validators(
    state: &(impl StateView + ?Sized),
) -> Result<Option<ValidatorSet>, StateError> {
    read(state, &current_validators_key())
}

/// The [`ValidatorSet`] that signs the next block (`None` before genesis is written).
pub fn next_validators(
    state: &(impl StateView + ?Sized),
) -> Result<Option<ValidatorSet>, StateError> {
    read(state, &next_validators_key())
}

/// Validator changes recorded to take effect at `height`.
pub fn pending_validators(
    state: &(impl StateView + ?Sized),
    height: u64,
) -> Result<Option<Vec<Validator>>, StateError> {
    read(state, &pending_validators_key(height))
}

/// The smallest key greater than `key`: where to resume a prefix scan after `key`.
pub fn successor(mut key: Vec<u8>) -> Vec<u8> {
    key.push(0);
    key
}

/// Borsh of `value`: how every system value is stored.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh encoding into a Vec cannot fail")
}
