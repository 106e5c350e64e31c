//! Chain specs: who validates, who may transact with which roles, which contracts exist at genesis,
//! and the consensus and gas parameters.
//!
//! A chain spec is a JSON file. Every node of a chain must start from byte-identical semantics: the
//! node stores [`ChainSpec::hash`] at genesis and refuses to start with a different spec. The hash
//! is of the spec's content ([`CanonicalSpec`]): each contract's code counts by the blake3 of its
//! wasm, not by where the file lives or which binary embeds it (decision record 0022). Two presets
//! are embedded: [`ChainSpec::dev`] (one validator, for `kessai dev`) and [`ChainSpec::local`] (four
//! validators on one machine). Their keys are well-known dev keys ([`Keypair::dev`]): never use them
//! for a real network.

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::{DeploymentPolicy, Hash, Keypair, PublicKey, Role, UpgradePolicy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod builtin;
pub use builtin::{builtin_code, BUILTIN_CONTRACTS};

/// Why a chain spec could not be loaded or is refused.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The chain spec file could not be read.
    #[error("cannot read chain spec {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON of a chain spec (bad syntax, missing or unknown field).
    #[error("chain spec {path} is not valid JSON for a chain spec: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error, with its line and column.
        source: serde_json::Error,
    },
    /// A name without `/` or `.` that is neither `dev` nor `local`, nor an existing file.
    #[error(
        "unknown chain spec preset {0:?}: expected \"dev\" or \"local\" or a path to a JSON file"
    )]
    UnknownPreset(String),
    /// The spec parses but breaks a rule of [`ChainSpec::validate`].
    #[error("invalid chain spec: {0}")]
    Invalid(String),
    /// A genesis contract's `.wasm` file could not be read.
    #[error("contract {name}: cannot read code from {path}: {source}")]
    Code {
        /// The contract's name in the spec.
        name: String,
        /// The `.wasm` file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Timeouts and block limits of consensus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    /// How long a validator waits for round 0's proposal before prevoting nil, milliseconds. Round
    /// `r` waits `timeout_propose_ms + r * timeout_propose_delta_ms`.
    pub timeout_propose_ms: u64,
    /// What each further round adds to the propose timeout, milliseconds.
    pub timeout_propose_delta_ms: u64,
    /// How long a validator waits, once it has prevotes of 2/3+ of the power for no single block,
    /// for more before precommitting nil, milliseconds (plus `timeout_prevote_delta_ms` per round).
    pub timeout_prevote_ms: u64,
    /// What each further round adds to the prevote timeout, milliseconds.
    pub timeout_prevote_delta_ms: u64,
    /// How long a validator waits, once it has precommits of 2/3+ of the power for no single
    /// block, before moving to the next round, milliseconds (plus `timeout_precommit_delta_ms` per
    /// round).
    pub timeout_precommit_ms: u64,
    /// What each further round adds to the precommit timeout, milliseconds.
    pub timeout_precommit_delta_ms: u64,
    /// Pause after a block is committed before the next height starts, so that late votes arrive
    /// and transactions gather.
    pub timeout_commit_ms: u64,
    /// A proposer with an empty mempool waits up to this long for a transaction before proposing
    /// an empty block. Must be below `timeout_propose_ms`.
    pub empty_block_interval_ms: u64,
    /// The most transactions a block may carry.
    pub max_block_txs: u32,
    /// Size budget of a block, bytes: a proposer takes at most half of it in transactions from its
    /// mempool, so that the proposal message stays well within the gossip size limit.
    pub max_block_bytes: u64,
    /// The most gas a block's transactions may use together.
    pub block_gas_limit: u64,
    /// The most gas one transaction may use (also the gas of a view call through RPC); must not
    /// exceed `block_gas_limit`.
    pub max_tx_gas: u64,
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            timeout_propose_ms: 3000,
            timeout_propose_delta_ms: 500,
            timeout_prevote_ms: 1000,
            timeout_prevote_delta_ms: 500,
            timeout_precommit_ms: 1000,
            timeout_precommit_delta_ms: 500,
            timeout_commit_ms: 300,
            empty_block_interval_ms: 1000,
            max_block_txs: 20_000,
            max_block_bytes: 32 * 1024 * 1024,
            block_gas_limit: 20_000_000_000,
            max_tx_gas: 100_000_000,
        }
    }
}

/// A genesis validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSpec {
    /// A name for people and logs (unique in the spec); the chain knows it by its key.
    pub name: String,
    /// The validator's consensus key: it signs proposals and votes.
    pub public_key: PublicKey,
    /// Voting power (not zero): a block needs precommits of more than 2/3 of the total.
    pub power: u64,
    /// The key of the validator's node, its libp2p identity (`HOME/node_key.json`), separate
    /// from the consensus key. Absent in specs written before the keys were split: the node then
    /// connects with its consensus key (`ValidatorSpec::network_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_key: Option<PublicKey>,
}

impl ValidatorSpec {
    /// The key the validator's node connects with: its `node_key`, or else its consensus key.
    pub fn network_key(&self) -> PublicKey {
        self.node_key.unwrap_or(self.public_key)
    }
}

/// A genesis member: a key allowed to sign transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// A name for people (unique in the spec); the chain knows the member by its key.
    pub name: String,
    /// The key the member signs transactions with.
    pub public_key: PublicKey,
    /// What the member may do beyond transacting (admin: governance; deployer: deploy code).
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// A non-validating node allowed on the network (its libp2p key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// A name for people and logs.
    pub name: String,
    /// The node's key, which is also its libp2p identity.
    pub public_key: PublicKey,
}

/// A contract instantiated at genesis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// The name the CLI and RPC accept in place of its address.
    pub name: String,
    /// `builtin:NAME` (embedded in the binary, see [`BUILTIN_CONTRACTS`]) or a path to a `.wasm`
    /// file, relative to the chain spec file.
    pub code: String,
    /// Arguments of its `init` method, as JSON by its interface (`null` when it has no `init`).
    #[serde(default)]
    pub init: serde_json::Value,
    /// Who may replace its code: `"immutable"` (the default), `{"admin": {"key": HEX}}` or
    /// `{"approvals": {"required": N}}` (decision record 0019).
    #[serde(default = "immutable", skip_serializing_if = "is_immutable")]
    pub upgrade_policy: UpgradePolicy,
}

fn immutable() -> UpgradePolicy {
    UpgradePolicy::Immutable
}

fn is_immutable(policy: &UpgradePolicy) -> bool {
    *policy == UpgradePolicy::Immutable
}

/// How contracts come into force on the chain (decision record 0019).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractPolicy {
    /// Who must approve a new contract: `"any_deployer"` (the default: one member with the deployer
    /// role instantiates alone) or `{"approvals": {"required": N}}` (N members with the approver
    /// role approve a proposal; a plain instantiation is refused).
    #[serde(default = "any_deployer")]
    pub deployment: DeploymentPolicy,
}

fn any_deployer() -> DeploymentPolicy {
    DeploymentPolicy::AnyDeployer
}

impl Default for ContractPolicy {
    fn default() -> Self {
        ContractPolicy { deployment: any_deployer() }
    }
}

impl ContractPolicy {
    fn is_default(&self) -> bool {
        *self == ContractPolicy::default()
    }
}

/// Everything a chain starts from; see the crate documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// The chain's name (1 to 64 characters), part of every signed transaction and vote so that
    /// signatures do not replay across chains.
    pub chain_id: String,
    /// Time of genesis, ms since the Unix epoch; the first block's time is later.
    pub genesis_time_ms: u64,
    /// Consensus timeouts and block limits.
    #[serde(default)]
    pub consensus: ConsensusParams,
    /// The validators at genesis (at least one).
    pub validators: Vec<ValidatorSpec>,
    /// The members at genesis; at least one must be an admin, for governance.
    pub members: Vec<MemberSpec>,
    /// Non-validating nodes allowed on the network at genesis.
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// Contracts instantiated at genesis, in order.
    #[serde(default)]
    pub contracts: Vec<ContractSpec>,
    /// Who approves new contracts. Left out of the JSON when it is the default, so that a spec
    /// written before it existed keeps its hash.
    #[serde(default, skip_serializing_if = "ContractPolicy::is_default")]
    pub contract_policy: ContractPolicy,
    /// blake3 of each `.wasm` file the spec names, by path, as [`ChainSpec::from_file`] read it.
    /// Not in the JSON: it lets [`ChainSpec::hash`] cover the code without reading the files at
    /// every call, and [`ChainSpec::contract_code`] refuse a file changed since.
    #[serde(skip)]
    code_files: CodeFiles,
}

/// Digests of code files by path: a cache, so two specs that differ only in it are equal.
#[derive(Clone, Debug, Default)]
struct CodeFiles(BTreeMap<String, Hash>);

impl PartialEq for CodeFiles {
    fn eq(&self, _: &CodeFiles) -> bool {
        true
    }
}

/// The tag that starts a [`CanonicalSpec`]; a new canonical layout gets a new tag.
pub const CANONICAL_SPEC_FORMAT: &str = "kessai/chainspec/v1";

/// What a chain spec's identity covers: [`ChainSpec::hash`] (`genesis_hash`) is the blake3 of
/// its borsh encoding. It is the spec with defaults filled in and each contract's `code` replaced
/// by the blake3 of its wasm bytes, so the same spec hashes the same in any directory and on any
/// machine, and two binaries embedding different `builtin:` code do not agree on it.
/// `kessai_chainSpec` returns it as JSON (`canonical`): a verifier recomputes `genesis_hash` from
/// it (`docs/formats.md`, section 7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalSpec {
    /// [`CANONICAL_SPEC_FORMAT`].
    pub format: String,
    /// As in the spec.
    pub chain_id: String,
    /// As in the spec.
    pub genesis_time_ms: u64,
    /// As in the spec, defaults filled in.
    pub consensus: ConsensusParams,
    /// As in the spec, in its order.
    pub validators: Vec<ValidatorSpec>,
    /// As in the spec, in its order.
    pub members: Vec<MemberSpec>,
    /// As in the spec, in its order.
    pub nodes: Vec<NodeSpec>,
    /// The contracts, in the spec's order, each with the hash of its code.
    pub contracts: Vec<CanonicalContract>,
    /// As in the spec, defaults filled in.
    pub contract_policy: ContractPolicy,
}

/// A genesis contract as its chain spec's identity sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalContract {
    /// As in the spec.
    pub name: String,
    /// blake3 of the wasm (the `builtin:` module or the file's bytes): the `code_hash` the genesis
    /// state records for the contract.
    pub code_hash: Hash,
    /// The `init` arguments as compact JSON text, object keys sorted bytewise at every depth.
    pub init: String,
    /// As in the spec (`immutable` by default).
    pub upgrade_policy: UpgradePolicy,
}

impl CanonicalSpec {
    /// `genesis_hash`: blake3 of the borsh encoding.
    pub fn hash(&self) -> Hash {
        Hash::of(self)
    }
}

/// `value` as compact JSON text with object keys sorted bytewise at every depth, whatever order
/// the parser kept them in.
fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(fields) => {
            let mut fields: Vec<(&String, &Value)> = fields.iter().collect();
            fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let fields: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// Names of the well-known members of the presets, in order; `kessai dev` writes their keys.
pub const DEV_MEMBERS: &[(&str, &[Role])] = &[
    ("alice", &[Role::Admin, Role::Deployer]),
    ("bob", &[Role::Deployer]),
    ("carol", &[]),
    ("dave", &[]),
    ("erin", &[]),
    ("frank", &[]),
];

/// The members of the `local` preset that hold [`Role::Approver`] on top of their [`DEV_MEMBERS`]
/// roles: four organisations of the consortium.
pub const LOCAL_APPROVERS: &[&str] = &["alice", "bob", "carol", "dave"];

/// Approvals the `local` preset's deployment policy and its upgradable contracts need.
pub const LOCAL_APPROVALS_REQUIRED: u32 = 3;

/// Largest block of the `local` preset (see [`ChainSpec::local`]).
pub const LOCAL_MAX_BLOCK_TXS: u32 = 4_000;

/// 2026-01-01T00:00:00Z.
const PRESET_GENESIS_TIME_MS: u64 = 1_767_225_600_000;

impl ChainSpec {
    /// One validator (`validator-0`), dev members, every builtin contract: what `kessai dev` runs.
    /// Any deployer instantiates alone; alice alone may upgrade `netting` and `clearing`.
    pub fn dev() -> ChainSpec {
        let mut spec = ChainSpec::preset("kessai-dev", 1);
        spec.consensus.timeout_commit_ms = 100;
        spec.consensus.empty_block_interval_ms = 1000;
        let admin = UpgradePolicy::Admin { key: Keypair::dev("alice").public() };
        spec.set_upgrade_policy(builtin::UPGRADABLE_PRESET_CONTRACTS, admin);
        spec
    }

    /// Four validators on one machine (`kessai testnet init` starts from it). A consortium's
    /// rules: alice, bob, carol and dave approve contracts ([`LOCAL_APPROVERS`]); a new contract,
    /// or new code for `netting` or `clearing`, needs three of their approvals.
    pub fn local() -> ChainSpec {
        let mut spec = ChainSpec::preset("kessai-local", 4);
        // Four validators share the machine's cores: a validator re-executes a proposal before its
        // prevote, and a block it cannot execute within the propose timeout costs a round.
        spec.consensus.max_block_txs = LOCAL_MAX_BLOCK_TXS;
        for member in &mut spec.members {
            if LOCAL_APPROVERS.contains(&member.name.as_str()) {
                member.roles.push(Role::Approver);
            }
        }
        let required = LOCAL_APPROVALS_REQUIRED;
        spec.contract_policy.deployment = DeploymentPolicy::Approvals { required };
        let approvals = UpgradePolicy::Approvals { required };
        spec.set_upgrade_policy(builtin::UPGRADABLE_PRESET_CONTRACTS, approvals);
        spec
    }

    fn set_upgrade_policy(&mut self, names: &[&str], policy: UpgradePolicy) {
        for contract in &mut self.contracts {
            if names.contains(&contract.name.as_str()) {
                contract.upgrade_policy = policy.clone();
            }
        }
    }

    fn preset(chain_id: &str, validators: usize) -> ChainSpec {
        let validators = (0..validators)
            .map(|i| {
                let name = format!("validator-{i}");
                ValidatorSpec {
                    public_key: Keypair::dev(&name).public(),
                    name,
                    power: 10,
                    node_key: None,
                }
            })
            .collect();
        let members = DEV_MEMBERS
            .iter()
            .map(|(name, roles)| MemberSpec {
                name: name.to_string(),
                public_key: Keypair::dev(name).public(),
                roles: roles.to_vec(),
            })
            .collect();
        let contracts = builtin::preset_contracts();
        ChainSpec {
            chain_id: chain_id.to_string(),
            genesis_time_ms: PRESET_GENESIS_TIME_MS,
            consensus: ConsensusParams::default(),
            validators,
            members,
            nodes: vec![],
            contracts,
            contract_policy: ContractPolicy::default(),
            code_files: CodeFiles::default(),
        }
    }

    /// `dev`, `local`, or a path to a JSON chain spec.
    pub fn load(name_or_path: &str) -> Result<ChainSpec, ChainSpecError> {
        let spec = match name_or_path {
            "dev" => ChainSpec::dev(),
            "local" => ChainSpec::local(),
            path if Path::new(path).exists() => ChainSpec::from_file(Path::new(path))?,
            other if !other.contains(['/', '.']) => {
                return Err(ChainSpecError::UnknownPreset(other.to_string()))
            }
            path => ChainSpec::from_file(Path::new(path))?,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Reads, parses and validates a JSON chain spec; relative `.wasm` paths in it are made
    /// absolute, relative to the file's directory.
    pub fn from_file(path: &Path) -> Result<ChainSpec, ChainSpecError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ChainSpecError::Read { path: path.into(), source })?;
        let mut spec: ChainSpec = serde_json::from_str(&text)
            .map_err(|source| ChainSpecError::Parse { path: path.into(), source })?;
        spec.resolve_code_paths(path.parent().unwrap_or(Path::new(".")));
        spec.validate()?;
        spec.read_code_files()?;
        Ok(spec)
    }

    /// Hashes every `.wasm` file the spec names, so that its identity covers the code: a spec is
    /// refused when a file cannot be read.
    fn read_code_files(&mut self) -> Result<(), ChainSpecError> {
        for contract in &self.contracts {
            if !contract.code.starts_with("builtin:") {
                let code = self.read_code_file(contract)?;
                self.code_files.0.insert(contract.code.clone(), Hash::digest(&code));
            }
        }
        Ok(())
    }

    fn read_code_file(&self, contract: &ContractSpec) -> Result<Vec<u8>, ChainSpecError> {
        std::fs::read(&contract.code).map_err(|source| ChainSpecError::Code {
            name: contract.name.clone(),
            path: contract.code.clone().into(),
            source,
        })
    }

    /// Makes relative `.wasm` paths absolute, so the spec can be used from any directory.
    fn resolve_code_paths(&mut self, base: &Path) {
        for contract in &mut self.contracts {
            if !contract.code.starts_with("builtin:") && Path::new(&contract.code).is_relative() {
                contract.code = base.join(&contract.code).display().to_string();
            }
        }
    }

    /// The spec as pretty-printed JSON, as [`ChainSpec::from_file`] reads it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a chain spec serialises")
    }

    /// Identity of the spec, `genesis_hash`: blake3 of the borsh of its [`CanonicalSpec`]. Nodes of
    /// one chain must agree on it.
    ///
    /// Panics if the spec names a `.wasm` file that [`ChainSpec::from_file`] did not read and that
    /// cannot be read now (a spec built in memory); [`ChainSpec::canonical`] returns the error.
    pub fn hash(&self) -> Hash {
        match self.canonical() {
            Ok(canonical) => canonical.hash(),
            Err(e) => panic!("a chain spec whose code cannot be read has no identity: {e}"),
        }
    }

    /// What [`ChainSpec::hash`] covers: the spec with each contract's code replaced by the blake3
    /// of its wasm (embedded in this binary for `builtin:`, the file's bytes otherwise).
    pub fn canonical(&self) -> Result<CanonicalSpec, ChainSpecError> {
        self.canonical_with(builtin_code)
    }

    /// [`ChainSpec::canonical`] with the `builtin:` modules taken from `builtin` (another
    /// binary's, in tests).
    pub fn canonical_with(
        &self,
        builtin: impl Fn(&str) -> Option<&'static [u8]>,
    ) -> Result<CanonicalSpec, ChainSpecError> {
        // Every field, named: a field added to the spec must be added here, or this stops compiling.
        let ChainSpec {
            chain_id,
            genesis_time_ms,
            consensus,
            validators,
            members,
            nodes,
            contracts,
            contract_policy,
            code_files,
        } = self;
        let contracts = contracts
            .iter()
            .map(|contract| {
                let ContractSpec { name, code, init, upgrade_policy } = contract;
                let code_hash = match code.strip_prefix("builtin:") {
                    Some(module) => Hash::digest(builtin(module).ok_or_else(|| {
                        ChainSpecError::Invalid(format!(
                            "contract {name}: no builtin code {module:?}"
                        ))
                    })?),
                    None => match code_files.0.get(code) {
                        Some(hash) => *hash,
                        None => Hash::digest(&self.read_code_file(contract)?),
                    },
                };
                Ok(CanonicalContract {
                    name: name.clone(),
                    code_hash,
                    init: canonical_json(init),
                    upgrade_policy: upgrade_policy.clone(),
                })
            })
            .collect::<Result<_, ChainSpecError>>()?;
        Ok(CanonicalSpec {
            format: CANONICAL_SPEC_FORMAT.to_string(),
            chain_id: chain_id.clone(),
            genesis_time_ms: *genesis_time_ms,
            consensus: consensus.clone(),
            validators: validators.clone(),
            members: members.clone(),
            nodes: nodes.clone(),
            contracts,
            contract_policy: contract_policy.clone(),
        })
    }

    /// The hash kessai gave the spec before decision record 0022: blake3 of its compact JSON, with
    /// code as written (paths absolute). Only to tell an operator why an old database is refused.
    pub fn text_hash_before_0022(&self) -> Hash {
        Hash::digest(serde_json::to_string(self).expect("a chain spec serialises").as_bytes())
    }

    /// What `kessai_chainSpec` answers: `genesis_hash`, the `canonical` form it is the hash of,
    /// and the `spec` as the node read it (code as `builtin:NAME` or the file's path).
    pub fn rpc_json(&self) -> Result<serde_json::Value, ChainSpecError> {
        let canonical = self.canonical()?;
        Ok(serde_json::json!({
            "genesis_hash": canonical.hash(),
            "canonical": canonical,
            "spec": self,
        }))
    }

    /// Checks everything that can be checked without executing the genesis contracts.
    pub fn validate(&self) -> Result<(), ChainSpecError> {
        let invalid = |msg: String| Err(ChainSpecError::Invalid(msg));
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return invalid("chain_id must be 1 to 64 characters".into());
        }
        if self.validators.is_empty() {
            return invalid("at least one validator is needed".into());
        }
        if let Some(v) = self.validators.iter().find(|v| v.power == 0) {
            return invalid(format!("validator {} has zero power", v.name));
        }
        unique("validator key", self.validators.iter().map(|v| v.public_key.to_hex()))?;
        unique("validator node key", self.validators.iter().map(|v| v.network_key().to_hex()))?;
        unique("validator name", self.validators.iter().map(|v| v.name.clone()))?;
        unique("member key", self.members.iter().map(|m| m.public_key.to_hex()))?;
        unique("member name", self.members.iter().map(|m| m.name.clone()))?;
        unique("contract name", self.contracts.iter().map(|c| c.name.clone()))?;
        if !self.members.iter().any(|m| m.roles.contains(&Role::Admin)) {
            return invalid("at least one member needs the admin role (governance)".into());
        }
        let c = &self.consensus;
        if c.empty_block_interval_ms >= c.timeout_propose_ms {
            return invalid(
                "consensus.empty_block_interval_ms must be below timeout_propose_ms".into(),
            );
        }
        if c.max_block_txs == 0 || c.max_tx_gas == 0 || c.block_gas_limit < c.max_tx_gas {
            return invalid("block limits must allow at least one transaction".into());
        }
        let approvers = self.members.iter().filter(|m| m.roles.contains(&Role::Approver)).count();
        if let DeploymentPolicy::Approvals { required } = self.contract_policy.deployment {
            check_approvals("contract_policy.deployment", required, approvers)?;
        }
        for contract in &self.contracts {
            let what = format!("contract {}: upgrade_policy", contract.name);
            match &contract.upgrade_policy {
                UpgradePolicy::Immutable => {}
                UpgradePolicy::Admin { key } => {
                    if !self.members.iter().any(|m| m.public_key == *key) {
                        return invalid(format!("{what}: admin key {key} is not a member"));
                    }
                }
                UpgradePolicy::Approvals { required } => {
                    check_approvals(&what, *required, approvers)?
                }
            }
            if let Some(name) = contract.code.strip_prefix("builtin:") {
                if builtin_code(name).is_none() {
                    return invalid(format!(
                        "contract {}: no builtin code {name:?}",
                        contract.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The spec with every `.wasm` file it names copied into `dir` (as `NAME.wasm`, the
    /// contract's name, or `contract-INDEX.wasm` for a name that is no plain file name) and named
    /// there by a path relative to `base` (where the returned spec's JSON will live). Its identity ([`ChainSpec::hash`]) is the same: it covers the code, not
    /// where it lives. A file changed since the spec was read is refused, as by
    /// [`ChainSpec::contract_code`].
    pub fn with_code_files_in(&self, dir: &Path, base: &Path) -> Result<ChainSpec, ChainSpecError> {
        let mut copy = self.clone();
        let files = copy.contracts.iter_mut().enumerate();
        for (index, contract) in files.filter(|(_, c)| !c.code.starts_with("builtin:")) {
            let code = self.contract_code(contract)?;
            // A name that is not a plain file name (a slash, a leading dot) is not used as one.
            let plain = !contract.name.starts_with('.')
                && contract.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            let file = if plain { contract.name.clone() } else { format!("contract-{index}") };
            let target = dir.join(format!("{file}.wasm"));
            let written =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&target, &code));
            written.map_err(|source| ChainSpecError::Code {
                name: contract.name.clone(),
                path: target.clone(),
                source,
            })?;
            let relative = target.strip_prefix(base).unwrap_or(&target);
            contract.code = relative.display().to_string();
            copy.code_files.0.insert(contract.code.clone(), Hash::digest(&code));
        }
        Ok(copy)
    }

    /// The wasm code of a genesis contract.
    pub fn contract_code(&self, contract: &ContractSpec) -> Result<Vec<u8>, ChainSpecError> {
        match contract.code.strip_prefix("builtin:") {
            Some(name) => builtin_code(name).map(<[u8]>::to_vec).ok_or_else(|| {
                ChainSpecError::Invalid(format!(
                    "contract {}: no builtin code {name:?}",
                    contract.name
                ))
            }),
            None => {
                let code = self.read_code_file(contract)?;
                match self.code_files.0.get(&contract.code) {
                    Some(hash) if *hash != Hash::digest(&code) => {
                        Err(ChainSpecError::Invalid(format!(
                            "contract {}: {} changed since the chain spec was read (its hash is part of the spec's identity)",
                            contract.name, contract.code
                        )))
                    }
                    _ => Ok(code),
                }
            }
        }
    }

    /// The genesis validators as the [`ValidatorSet`](kessai_primitives::ValidatorSet) that signs
    /// the first block.
    pub fn validator_set(&self) -> kessai_primitives::ValidatorSet {
        kessai_primitives::ValidatorSet::new(
            self.validators
                .iter()
                .map(|v| kessai_primitives::Validator { public_key: v.public_key, power: v.power })
                .collect(),
        )
        .expect("validated specs have a valid validator set")
    }

    /// Every key allowed on the network at genesis: validators' nodes and listed nodes.
    pub fn network_keys(&self) -> BTreeSet<PublicKey> {
        self.validators
            .iter()
            .map(ValidatorSpec::network_key)
            .chain(self.nodes.iter().map(|n| n.public_key))
            .collect()
    }
}

/// An approvals policy the spec's members can meet: at least one approval, and no more than the
/// members holding the approver role.
fn check_approvals(what: &str, required: u32, approvers: usize) -> Result<(), ChainSpecError> {
    if required == 0 {
        return Err(ChainSpecError::Invalid(format!("{what} must require at least 1 approval")));
    }
    if required as usize > approvers {
        let approvals = if required == 1 { "approval" } else { "approvals" };
        return Err(ChainSpecError::Invalid(format!(
            "{what} requires {required} {approvals} but only {approvers} members hold the approver role"
        )));
    }
    Ok(())
}

fn unique(what: &str, items: impl Iterator<Item = String>) -> Result<(), ChainSpecError> {
    let mut seen = BTreeSet::new();
    for item in items {
        if !seen.insert(item.clone()) {
            return Err(ChainSpecError::Invalid(format!("duplicate {what} {item}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_distinct() {
        let dev = ChainSpec::dev();
        dev.validate().unwrap();
        assert_eq!(dev.validators.len(), 1);
        let local = ChainSpec::local();
        local.validate().unwrap();
        assert_eq!(local.validator_set().len(), 4);
        assert_ne!(dev.hash(), local.hash());
    }

    #[test]
    fn presets_set_the_contract_policies() {
        let alice = Keypair::dev("alice").public();
        let upgrade = |spec: &ChainSpec, name: &str| {
            spec.contracts.iter().find(|c| c.name == name).unwrap().upgrade_policy.clone()
        };
        let dev = ChainSpec::dev();
        assert_eq!(dev.contract_policy.deployment, DeploymentPolicy::AnyDeployer);
        assert_eq!(upgrade(&dev, "netting"), UpgradePolicy::Admin { key: alice });
        assert_eq!(upgrade(&dev, "clearing"), UpgradePolicy::Admin { key: alice });
        assert_eq!(upgrade(&dev, "notes"), UpgradePolicy::Immutable);
        assert!(dev.members.iter().all(|m| !m.roles.contains(&Role::Approver)));

        let local = ChainSpec::local();
        let three = 3;
        assert_eq!(
            local.contract_policy.deployment,
            DeploymentPolicy::Approvals { required: three }
        );
        assert_eq!(upgrade(&local, "netting"), UpgradePolicy::Approvals { required: three });
        assert_eq!(upgrade(&local, "clearing"), UpgradePolicy::Approvals { required: three });
        assert_eq!(upgrade(&local, "asset-ownership"), UpgradePolicy::Immutable);
        let approvers: Vec<&str> = local
            .members
            .iter()
            .filter(|m| m.roles.contains(&Role::Approver))
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(approvers, ["alice", "bob", "carol", "dave"]);
        let alice_roles = &local.members.iter().find(|m| m.name == "alice").unwrap().roles;
        assert_eq!(alice_roles, &[Role::Admin, Role::Deployer, Role::Approver]);
    }

    #[test]
    fn contract_policies_read_from_json_with_defaults() {
        let mut value: serde_json::Value =
            serde_json::from_str(&ChainSpec::dev().to_json()).unwrap();
        // A spec written before the contract policies existed: the defaults, and the same hash.
        let fields = value.as_object_mut().unwrap();
        fields.remove("contract_policy");
        for contract in fields["contracts"].as_array_mut().unwrap() {
            contract.as_object_mut().unwrap().remove("upgrade_policy");
        }
        let old: ChainSpec = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(old.contract_policy.deployment, DeploymentPolicy::AnyDeployer);
        assert!(old.contracts.iter().all(|c| c.upgrade_policy == UpgradePolicy::Immutable));
        let mut plain = ChainSpec::dev();
        plain.contracts.iter_mut().for_each(|c| c.upgrade_policy = UpgradePolicy::Immutable);
        assert_eq!(old.hash(), plain.hash(), "the canonical form fills the defaults in");
        assert!(!plain.to_json().contains("upgrade_policy"));
        assert!(!plain.to_json().contains("contract_policy"));

        let fields = value.as_object_mut().unwrap();
        fields.insert(
            "contract_policy".into(),
            serde_json::json!({"deployment": {"approvals": {"required": 1}}}),
        );
        let alice = Keypair::dev("alice").public().to_hex();
        fields["contracts"][1]
            .as_object_mut()
            .unwrap()
            .insert("upgrade_policy".into(), serde_json::json!({"admin": {"key": alice}}));
        let mut spec: ChainSpec = serde_json::from_value(value).unwrap();
        assert_eq!(spec.contract_policy.deployment, DeploymentPolicy::Approvals { required: 1 });
        assert_eq!(
            spec.contracts[1].upgrade_policy,
            UpgradePolicy::Admin { key: Keypair::dev("alice").public() }
        );
        let refused = spec.validate().unwrap_err().to_string();
        assert_eq!(
            refused,
            "invalid chain spec: contract_policy.deployment requires 1 approval but only 0 members hold the approver role"
        );
        spec.members[2].roles.push(Role::Approver);
        spec.validate().unwrap();
    }

    #[test]
    fn contract_policies_the_members_cannot_meet_are_refused() {
        let refused = |spec: ChainSpec| spec.validate().unwrap_err().to_string();
        let mut spec = ChainSpec::local();
        spec.contract_policy.deployment = DeploymentPolicy::Approvals { required: 5 };
        assert_eq!(
            refused(spec),
            "invalid chain spec: contract_policy.deployment requires 5 approvals but only 4 members hold the approver role"
        );
        let mut spec = ChainSpec::local();
        spec.contract_policy.deployment = DeploymentPolicy::Approvals { required: 0 };
        assert_eq!(
            refused(spec),
            "invalid chain spec: contract_policy.deployment must require at least 1 approval"
        );
        let mut spec = ChainSpec::local();
        spec.contracts[1].upgrade_policy = UpgradePolicy::Approvals { required: 5 };
        assert_eq!(
            refused(spec),
            "invalid chain spec: contract netting: upgrade_policy requires 5 approvals but only 4 members hold the approver role"
        );
        let mut spec = ChainSpec::local();
        spec.contracts[1].upgrade_policy = UpgradePolicy::Approvals { required: 0 };
        assert!(refused(spec).contains("at least 1 approval"));
        let mut spec = ChainSpec::dev();
        let stranger = Keypair::dev("mallory").public();
        spec.contracts[2].upgrade_policy = UpgradePolicy::Admin { key: stranger };
        assert_eq!(
            refused(spec),
            format!("invalid chain spec: contract clearing: upgrade_policy: admin key {stranger} is not a member")
        );
    }

    #[test]
    fn json_round_trip_keeps_the_hash() {
        let spec = ChainSpec::local();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(&path, spec.to_json()).unwrap();
        assert_eq!(ChainSpec::load(path.to_str().unwrap()).unwrap().hash(), spec.hash());
    }

    /// A spec naming `code/token.wasm` (relative) and `builtin:notes`, written with `wasm` as
    /// the file's bytes into a directory of its own.
    fn spec_in_dir(dir: &Path, wasm: &[u8]) -> PathBuf {
        let mut spec = ChainSpec::dev();
        spec.contracts.truncate(1);
        let file = |name: &str, code: &str| ContractSpec {
            name: name.into(),
            code: code.into(),
            init: serde_json::json!({"b": 1, "a": [2, {"d": null, "c": "x"}]}),
            upgrade_policy: UpgradePolicy::Immutable,
        };
        spec.contracts.push(file("token", "code/token.wasm"));
        spec.contracts.push(file("notes-2", "builtin:notes"));
        std::fs::create_dir_all(dir.join("code")).unwrap();
        std::fs::write(dir.join("code/token.wasm"), wasm).unwrap();
        let path = dir.join("spec.json");
        std::fs::write(&path, spec.to_json()).unwrap();
        path
    }

    fn load(path: &Path) -> ChainSpec {
        ChainSpec::load(path.to_str().unwrap()).unwrap()
    }

    #[test]
    fn the_same_spec_hashes_the_same_in_any_directory() {
        let wasm = builtin_code("netting").unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (in_a, in_b) = (load(&spec_in_dir(a.path(), wasm)), load(&spec_in_dir(b.path(), wasm)));
        assert_ne!(in_a.contracts[1].code, in_b.contracts[1].code, "two absolute paths");
        assert_eq!(in_a.hash(), in_b.hash());
        // As `kessai init` keeps it (absolute paths), read from a home elsewhere: the same.
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("chainspec.json"), in_a.to_json()).unwrap();
        assert_eq!(load(&home.path().join("chainspec.json")).hash(), in_a.hash());
        // The file and the builtin of the same bytes are the same code.
        let mut builtin = in_a.clone();
        builtin.contracts[1].code = "builtin:netting".into();
        assert_eq!(builtin.hash(), in_a.hash());
        // The canonical form names the code by its hash and sorts init's keys.
        let canonical = in_a.canonical().unwrap();
        assert_eq!(canonical.contracts[1].code_hash, Hash::digest(wasm));
        assert_eq!(canonical.contracts[1].init, r#"{"a":[2,{"c":"x","d":null}],"b":1}"#);
        assert_eq!(canonical.format, CANONICAL_SPEC_FORMAT);
    }

    #[test]
    fn code_that_differs_by_one_byte_hashes_differently() {
        let wasm = builtin_code("netting").unwrap();
        let mut changed = wasm.to_vec();
        changed[wasm.len() / 2] ^= 1;
        // The same path, one byte of the file changed.
        let dir = tempfile::tempdir().unwrap();
        let one = load(&spec_in_dir(dir.path(), wasm));
        let other = load(&spec_in_dir(dir.path(), &changed));
        assert_eq!(one.contracts, other.contracts, "the same spec");
        assert_ne!(one.hash(), other.hash(), "a file's bytes are in the identity");

        // Another binary whose embedded `notes` differs by one byte.
        let other_notes: &'static [u8] = Box::leak(
            builtin_code("notes")
                .map(|code| [&code[..1], &[code[1] ^ 1], &code[2..]].concat())
                .unwrap()
                .into_boxed_slice(),
        );
        let other_binary = |name: &str| match name {
            "notes" => Some(other_notes),
            name => builtin_code(name),
        };
        let spec = ChainSpec::dev();
        assert_eq!(spec.canonical_with(builtin_code).unwrap().hash(), spec.hash());
        assert_ne!(spec.canonical_with(other_binary).unwrap().hash(), spec.hash());
    }

    #[test]
    fn code_files_are_read_with_the_spec_and_must_not_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = spec_in_dir(dir.path(), b"\0asm one");
        let spec = load(&path);
        let hash = spec.hash();
        // The identity is the code read with the spec: no need to read the file again.
        std::fs::write(dir.path().join("code/token.wasm"), b"\0asm two").unwrap();
        assert_eq!(spec.hash(), hash);
        let refused = spec.contract_code(&spec.contracts[1]).unwrap_err().to_string();
        assert!(refused.contains("changed since the chain spec was read"), "{refused}");
        assert_ne!(load(&path).hash(), hash);
        std::fs::remove_file(dir.path().join("code/token.wasm")).unwrap();
        let refused = ChainSpec::load(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(refused.starts_with("contract token: cannot read code from "), "{refused}");
    }

    #[test]
    fn code_files_copied_elsewhere_keep_the_identity() {
        let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let spec = load(&spec_in_dir(from.path(), b"\0asm one"));
        let moved = spec.with_code_files_in(&to.path().join("genesis"), to.path()).unwrap();
        assert_eq!(moved.contracts[1].code, "genesis/token.wasm");
        assert_eq!(moved.contracts[0].code, spec.contracts[0].code, "builtin code stays");
        assert_eq!(moved.hash(), spec.hash());
        // Written where it now lives, the spec reads without the original files.
        std::fs::write(to.path().join("spec.json"), moved.to_json()).unwrap();
        drop(from);
        assert_eq!(load(&to.path().join("spec.json")).hash(), spec.hash());
    }

    #[test]
    fn the_rpc_answer_recomputes_to_the_hash() {
        let spec = ChainSpec::local();
        let answer: serde_json::Value =
            serde_json::from_str(&spec.rpc_json().unwrap().to_string()).unwrap();
        let canonical: CanonicalSpec = serde_json::from_value(answer["canonical"].clone()).unwrap();
        assert_eq!(canonical.hash(), spec.hash());
        assert_eq!(answer["genesis_hash"], serde_json::json!(spec.hash().to_hex()));
        let read: ChainSpec = serde_json::from_value(answer["spec"].clone()).unwrap();
        assert_eq!(read.hash(), spec.hash());
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        let mut spec = ChainSpec::dev();
        spec.validators.clear();
        assert!(spec.validate().unwrap_err().to_string().contains("at least one validator"));

        let mut spec = ChainSpec::dev();
        spec.members.push(spec.members[1].clone());
        assert!(spec.validate().unwrap_err().to_string().contains("duplicate member key"));

        let mut spec = ChainSpec::dev();
        spec.members.iter_mut().for_each(|m| m.roles.clear());
        assert!(spec.validate().unwrap_err().to_string().contains("admin"));

        let mut spec = ChainSpec::dev();
        spec.contracts.push(ContractSpec {
            name: "x".into(),
            code: "builtin:nope".into(),
            init: serde_json::Value::Null,
            upgrade_policy: UpgradePolicy::Immutable,
        });
        assert!(spec.validate().unwrap_err().to_string().contains("no builtin code"));

        assert!(matches!(ChainSpec::load("staging"), Err(ChainSpecError::UnknownPreset(_))));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, r#"{"chain_id": "x", "surprise": 1}"#).unwrap();
        assert!(matches!(
            ChainSpec::load(path.to_str().unwrap()),
            Err(ChainSpecError::Parse { .. })
        ));
    }
}
