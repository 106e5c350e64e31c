//! The chain's own state: every key under namespace [`Address::SYSTEM`], how it is encoded and how to
//! read it (see `docs/contract-abi.md`, "Addresses and state layout"). This is the one place these
//! encodings live; the node, the RPC and the store read the chain state through these functions.
//!
//! A flat key is `namespace (32 bytes) ‖ key`; values are borsh.

pub use crate::flat_key;
use crate::{StateError, StateView};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::protocol::{ScheduledUpgrade, GENESIS_PROTOCOL_VERSION};
use kessai_primitives::{
    Address, ContractProposal, DeploymentPolicy, Hash, PublicKey, Role, UpgradePolicy, Validator,
    ValidatorSet,
};
use serde::{Deserialize, Serialize};

/// Key prefix of an account's next nonce (`account/ ‖ public key` → `u64`).
pub const ACCOUNT: &[u8] = b"account/";
/// Key prefix of a member's roles (`member/ ‖ public key` → `Vec<Role>`).
pub const MEMBER: &[u8] = b"member/";
/// Key prefix of stored wasm code (`code/ ‖ code hash` → the module bytes).
pub const CODE: &[u8] = b"code/";
/// Key prefix of a contract instance (`contract/ ‖ address` → [`ContractInfo`]).
pub const CONTRACT: &[u8] = b"contract/";
/// Key prefix of contract names (`name/ ‖ UTF-8 name` → [`Address`]): the chain spec's contracts and
/// those instantiated by a proposal; a name is unique.
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
/// Key prefix of validators' node keys (`validator-node/ ‖ consensus public key` → the ed25519
/// [`PublicKey`] of its node, its libp2p identity): written at genesis for each validator whose
/// chain spec entry names a `node_key`, and by `GovernanceAction::SetValidatorNodeKey` (which
/// replaces it); a validator without one connects with its consensus key. Never removed: an entry
/// of a validator whose power went to 0 only matters if it is given power again.
pub const VALIDATOR_NODE: &[u8] = b"validator-node/";
/// Key prefix of committed misbehaviour evidence (`evidence/ ‖ evidence hash` → `Evidence`).
pub const EVIDENCE: &[u8] = b"evidence/";
/// Key of the chain's [`DeploymentPolicy`] (absent = [`DeploymentPolicy::AnyDeployer`]).
pub const POLICY_DEPLOYMENT: &[u8] = b"policy/deployment";
/// Key prefix of contract proposals (`proposal/ ‖ id (32 bytes)` → [`ProposalRecord`]).
pub const PROPOSAL: &[u8] = b"proposal/";
/// Key prefix of contracts' upgrade policies (`contract-upgrade/ ‖ address` → [`UpgradePolicy`];
/// absent = [`UpgradePolicy::Immutable`]).
pub const CONTRACT_UPGRADE: &[u8] = b"contract-upgrade/";
/// Key prefix of contracts' code history (`contract-version/ ‖ address ‖ version (u32 BE)` →
/// [`ContractVersion`]).
pub const CONTRACT_VERSION: &[u8] = b"contract-version/";
/// Key of the chain's protocol version (`u32`; absent = genesis version 1), the version of the
/// latest block.
pub const PROTOCOL_VERSION: &[u8] = b"protocol/version";
/// Key of the scheduled protocol upgrade ([`ScheduledUpgrade`]; absent = none): removed by the
/// block at its height, which writes its version under [`PROTOCOL_VERSION`].
pub const PROTOCOL_UPGRADE: &[u8] = b"protocol/upgrade";

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

/// Where a contract proposal stands. An expired proposal is one still `Pending` whose
/// `expires_at_height` is below the current height; it is not rewritten when it expires.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Not yet approved enough (or expired, see [`ProposalRecord::is_expired`]).
    Pending,
    /// Applied by the block at `height`, to the contract at `contract` (instantiated or upgraded).
    Activated {
        /// Height of the block whose transaction activated it.
        height: u64,
        /// The contract instantiated or upgraded.
        contract: Address,
    },
}

/// What `proposal/ ‖ id` holds: a contract proposal and the approvals it gathered.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalRecord {
    /// The member who proposed it.
    pub proposer: PublicKey,
    /// The nonce of the proposing transaction: the id is `proposal_id(proposer, nonce)`, and an
    /// instantiation's address `contract_address(proposer, nonce)`, as a plain `Instantiate` by the
    /// proposer in that transaction would have.
    pub nonce: u64,
    /// The proposal as signed.
    pub proposal: ContractProposal,
    /// Height of the block that recorded it.
    pub proposed_at_height: u64,
    /// The members whose approval stands, in the order they gave it.
    pub approvals: Vec<PublicKey>,
    /// Pending or activated.
    pub status: ProposalStatus,
}

impl ProposalRecord {
    /// Whether the proposal can no longer be approved at `height`: still pending and past its
    /// `expires_at_height`.
    pub fn is_expired(&self, height: u64) -> bool {
        self.status == ProposalStatus::Pending && height > self.proposal.expires_at_height
    }
}

/// What `contract-version/ ‖ address ‖ version` holds: one code that was in force for a contract.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ContractVersion {
    /// 1 for the instantiation, then one more per upgrade.
    pub version: u32,
    /// Hash of the code in force from `activated_at_height`.
    pub code_hash: Hash,
    /// Height of the block that brought this code into force (0 for chain-spec contracts).
    pub activated_at_height: u64,
    /// The proposal that brought it, or `None` (chain spec or plain `Instantiate`).
    pub proposal: Option<Hash>,
    /// The members whose approvals activated it (empty without a proposal).
    pub approvers: Vec<PublicKey>,
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

/// `name/ ‖ UTF-8 name` → the [`Address`] of a named contract (chain spec or proposal).
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

/// `validator-node/ ‖ consensus public key` → the node key of that validator.
pub fn validator_node_key(consensus_key: &PublicKey) -> Vec<u8> {
    system_key(VALIDATOR_NODE, &consensus_key.0)
}

/// The key the node of the validator with `consensus_key` connects with: its registered node key
/// ([`VALIDATOR_NODE`]), or else the consensus key itself.
pub fn network_key_of_validator(
    state: &(impl StateView + ?Sized),
    consensus_key: &PublicKey,
) -> Result<PublicKey, StateError> {
    Ok(read(state, &validator_node_key(consensus_key))?.unwrap_or(*consensus_key))
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

/// `policy/deployment` → the chain's [`DeploymentPolicy`].
pub fn deployment_policy_key() -> Vec<u8> {
    system_key(POLICY_DEPLOYMENT, &[])
}

/// `proposal/ ‖ id` → [`ProposalRecord`].
pub fn proposal_key(id: &Hash) -> Vec<u8> {
    system_key(PROPOSAL, &id.0)
}

/// The flat prefix of every proposal key.
pub fn proposal_prefix() -> Vec<u8> {
    system_key(PROPOSAL, &[])
}

/// `contract-upgrade/ ‖ address` → the contract's [`UpgradePolicy`].
pub fn upgrade_policy_key(address: &Address) -> Vec<u8> {
    system_key(CONTRACT_UPGRADE, &address.0)
}

/// `contract-version/ ‖ address ‖ version (u32 BE)` → [`ContractVersion`].
pub fn contract_version_key(address: &Address, version: u32) -> Vec<u8> {
    let mut flat = contract_version_prefix(address);
    flat.extend_from_slice(&version.to_be_bytes());
    flat
}

/// The flat prefix of every version key of the contract at `address`.
pub fn contract_version_prefix(address: &Address) -> Vec<u8> {
    system_key(CONTRACT_VERSION, &address.0)
}

/// `protocol/version` → the version of the latest block (`u32`).
pub fn protocol_version_key() -> Vec<u8> {
    system_key(PROTOCOL_VERSION, &[])
}

/// `protocol/upgrade` → the [`ScheduledUpgrade`] not reached yet.
pub fn protocol_upgrade_key() -> Vec<u8> {
    system_key(PROTOCOL_UPGRADE, &[])
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

/// The chain's deployment policy ([`DeploymentPolicy::AnyDeployer`] if none is stored).
pub fn deployment_policy(
    state: &(impl StateView + ?Sized),
) -> Result<DeploymentPolicy, StateError> {
    Ok(read(state, &deployment_policy_key())?.unwrap_or(DeploymentPolicy::AnyDeployer))
}

/// The proposal with id `id`, if one was made.
pub fn proposal(
    state: &(impl StateView + ?Sized),
    id: &Hash,
) -> Result<Option<ProposalRecord>, StateError> {
    read(state, &proposal_key(id))
}

/// Every proposal ever made (pending, expired or activated), in id order.
pub fn proposals(
    state: &(impl StateView + ?Sized),
) -> Result<Vec<(Hash, ProposalRecord)>, StateError> {
    let prefix = proposal_prefix();
    let mut out = Vec::new();
    let mut from = prefix.clone();
    while let Some((key, value)) = state.next_from(&prefix, &from)? {
        let id: [u8; 32] = key[prefix.len()..]
            .try_into()
            .map_err(|_| StateError(format!("proposal key of {} bytes", key.len())))?;
        out.push((Hash(id), decode(&key, &value)?));
        from = successor(key);
    }
    Ok(out)
}

/// Who may replace the code of the contract at `address` ([`UpgradePolicy::Immutable`] if none is
/// stored).
pub fn upgrade_policy(
    state: &(impl StateView + ?Sized),
    address: &Address,
) -> Result<UpgradePolicy, StateError> {
    Ok(read(state, &upgrade_policy_key(address))?.unwrap_or(UpgradePolicy::Immutable))
}

/// Every code the contract at `address` has run, oldest (version 1) first; empty for an address
/// with no recorded history.
pub fn contract_versions(
    state: &(impl StateView + ?Sized),
    address: &Address,
) -> Result<Vec<ContractVersion>, StateError> {
    let prefix = contract_version_prefix(address);
    let mut out = Vec::new();
    let mut from = prefix.clone();
    while let Some((key, value)) = state.next_from(&prefix, &from)? {
        out.push(decode(&key, &value)?);
        from = successor(key);
    }
    Ok(out)
}

/// The protocol version of the latest block ([`GENESIS_PROTOCOL_VERSION`] until an upgrade).
pub fn protocol_version(state: &(impl StateView + ?Sized)) -> Result<u32, StateError> {
    Ok(read(state, &protocol_version_key())?.unwrap_or(GENESIS_PROTOCOL_VERSION))
}

/// The upgrade scheduled and not reached yet, if any.
pub fn scheduled_upgrade(
    state: &(impl StateView + ?Sized),
) -> Result<Option<ScheduledUpgrade>, StateError> {
    read(state, &protocol_upgrade_key())
}

/// The protocol version the block at `height` must carry, on the state its parent left.
pub fn protocol_version_at(
    state: &(impl StateView + ?Sized),
    height: u64,
) -> Result<u32, StateError> {
    let upgrade = scheduled_upgrade(state)?;
    Ok(ScheduledUpgrade::version_at(upgrade.as_ref(), protocol_version(state)?, height))
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
