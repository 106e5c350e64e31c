//! The command line (clap): the subcommands, and the argument groups several of them share. Each
//! subcommand's own arguments and behaviour live in its file in `commands/`.

use crate::commands::{
    contract::ContractCommand, db::DbCommand, dev::DevArgs, init::InitArgs,
    intermediary::IntermediaryCommand, keys::KeysCommand, light::LightCommand, node::NodeCommand,
    notes::NotesCommand, query::QueryCommand, status::StatusArgs, swap::SwapCommand,
    testnet::TestnetCommand, tx::TxCommand,
};
use clap::{ArgGroup, Args, Parser, Subcommand};
use kessai_node::rpc::limits::RpcLimits;
use kessai_primitives::Hash;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "kessai",
    version,
    about = "Kessai: a permissioned settlement chain node with BFT consensus and wasm contracts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Initialise a node home: chain spec, node key, config.toml.
    Init(InitArgs),
    /// A node home's config.toml: convert an old home's config.json.
    #[command(subcommand)]
    Config(crate::commands::config::ConfigCommand),
    /// Run a local one-validator development chain (initialises DIR on first use).
    Dev(DevArgs),
    /// Run a node.
    #[command(subcommand)]
    Node(NodeCommand),
    /// A node's database: backup and restore, export and import of blocks.
    #[command(subcommand)]
    Db(DbCommand),
    /// Create and show member keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Contract lifecycle: propose a contract or an upgrade, approve, withdraw, follow proposals,
    /// verify a local artifact against the code in force.
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Read chain data over RPC.
    #[command(subcommand)]
    Query(QueryCommand),
    /// Notes (JP7005000B2): terminal keys, issuance, redemption by commit-reveal.
    #[command(subcommand)]
    Notes(NotesCommand),
    /// Show a node's status.
    Status(StatusArgs),
    /// Light client: verify headers, state and transactions served by nodes you do not trust.
    #[command(subcommand)]
    Light(LightCommand),
    /// Intermediary mediation of asset ownership (JP7803395B2): the intermediary server, usage
    /// reports, production-method certificates.
    #[command(subcommand)]
    Intermediary(IntermediaryCommand),
    /// Local multi-validator networks for testing (like `cometbft testnet`).
    #[command(subcommand)]
    Testnet(TestnetCommand),
    /// The remote signer: holds a validator's consensus key and signing state, and signs for its
    /// node over a Unix socket (`[signer] remote` in the node's config.toml).
    #[command(subcommand)]
    Signer(crate::commands::signer::SignerCommand),
    /// Cross-chain hash-lock swaps (power ledger and value certificates): secrets, legs, claims,
    /// and the relayer that completes one leg with the secret revealed on the other chain.
    #[command(subcommand)]
    Swap(SwapCommand),
}

#[derive(Args, Debug, Clone)]
pub struct RpcArgs {
    /// RPC URL of the node to talk to.
    #[arg(long, env = "KESSAI_RPC", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where a verified read's trust starts (`docs/light-client.md`, section 12). Every read goes
/// through the light client from this root; nothing the node serves is a root.
///
/// Without any of these: the light home at $KESSAI_LIGHT_HOME or ~/.kessai/light when it holds the
/// node's chain, else the dev chain spec at $KESSAI_DEV_HOME/chainspec.json or
/// ~/.kessai/dev/chainspec.json (written by `kessai dev` on this machine) when its chain id is the
/// node's; otherwise the command refuses.
#[derive(Args, Debug, Clone, Default)]
#[command(group(ArgGroup::new("root").multiple(false).args(["light_home", "trust_spec", "trusted_height"])))]
pub struct TrustArgs {
    /// Trust the light home `kessai light init` wrote; reads move it forward.
    #[arg(long)]
    pub light_home: Option<PathBuf>,
    /// Trust the genesis validators of this chain spec (a path, or a preset: dev, local) to have
    /// signed block 1.
    #[arg(long)]
    pub trust_spec: Option<String>,
    /// Height of a header you trust (with --trusted-hash).
    #[arg(long, requires = "trusted_hash")]
    pub trusted_height: Option<u64>,
    /// Hash of that header, obtained out of band.
    #[arg(long, requires = "trusted_height")]
    pub trusted_hash: Option<Hash>,
    /// Trust the validator set of this hash to have signed block 1 (alone: the node's set for
    /// block 1 must have it; with --trust-spec: the spec's set must).
    #[arg(long, conflicts_with_all = ["light_home", "trusted_height"])]
    pub validators_hash: Option<Hash>,
    /// Other nodes that must confirm each header verified forward (repeatable; at least one).
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
}

impl TrustArgs {
    pub fn trust(&self) -> kessai_client::Trust {
        kessai_client::Trust {
            light_home: self.light_home.clone(),
            spec: self.trust_spec.clone(),
            trusted_hash: self.trusted_height.zip(self.trusted_hash),
            validators_hash: self.validators_hash,
            ..kessai_client::Trust::default()
        }
    }

    /// A reader of the node at `url` from this root.
    pub async fn reader(&self, url: &str) -> anyhow::Result<kessai_client::Reader> {
        kessai_client::Reader::open(url, &self.trust(), &self.witnesses).await
    }
}

#[derive(Args, Debug, Clone)]
pub struct SignerArgs {
    /// Signing key: a key file path, or a NAME found in --keys-dir.
    #[arg(long)]
    pub key: String,
    /// Where NAME.json key files are (default: the dev chain's keys).
    #[arg(long, env = "KESSAI_KEYS")]
    pub keys_dir: Option<PathBuf>,
    /// Gas limit of the transaction.
    #[arg(long, default_value_t = 50_000_000)]
    pub gas: u64,
    /// Return after submitting, without waiting for the block.
    #[arg(long)]
    pub no_wait: bool,
}

impl SignerArgs {
    /// Loads the key (by path, or by name in --keys-dir or the dev chain's keys).
    pub fn signer(&self) -> anyhow::Result<kessai_client::Signer> {
        let mut signer = kessai_client::Signer::load(&self.key, self.keys_dir.as_deref())?;
        signer.gas = self.gas;
        signer.wait = !self.no_wait;
        Ok(signer)
    }
}

impl Command {
    /// Commands that run a node (they log at info level by default).
    pub fn is_long_running(&self) -> bool {
        use IntermediaryCommand;
        matches!(
            self,
            Command::Dev(_)
                | Command::Node(NodeCommand::Run(_))
                | Command::Signer(crate::commands::signer::SignerCommand::Run(_))
                | Command::Intermediary(IntermediaryCommand::Serve { .. })
        )
    }
}

/// The RPC server's resource limits (`kessai node run`, `kessai dev`). Each flag overrides
/// config.toml's `[rpc]` key of the same name (its environment variable is that key's
/// `KESSAI_RPC_…` too); the defaults are `kessai_node::rpc::limits::RpcLimits::default()`.
#[derive(Args, Debug, Clone, Default)]
pub struct RpcLimitArgs {
    /// Open RPC connections in all; past it a new one gets 503 [config: rpc.max_connections].
    #[arg(long, env = "KESSAI_RPC_MAX_CONNECTIONS")]
    pub rpc_max_connections: Option<u32>,
    /// Open RPC connections from one host (IPv4 address or IPv6 /64); past it a new one gets 429
    /// [config: rpc.max_connections_per_ip].
    #[arg(long, env = "KESSAI_RPC_MAX_CONNECTIONS_PER_IP")]
    pub rpc_max_connections_per_ip: Option<u32>,
    /// Milliseconds a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open) [config: rpc.header_timeout_ms].
    #[arg(long, env = "KESSAI_RPC_HEADER_TIMEOUT_MS")]
    pub rpc_header_timeout_ms: Option<u64>,
    /// Milliseconds a client may take to send a request's body after its headers; then 408
    /// [config: rpc.body_timeout_ms].
    #[arg(long, env = "KESSAI_RPC_BODY_TIMEOUT_MS")]
    pub rpc_body_timeout_ms: Option<u64>,
    /// Largest request body in bytes (default: one maximum-size transaction in hex and its JSON);
    /// past it 413 [config: rpc.max_request_bytes].
    #[arg(long, env = "KESSAI_RPC_MAX_REQUEST_BYTES")]
    pub rpc_max_request_bytes: Option<u32>,
    /// Largest response body in bytes [config: rpc.max_response_bytes].
    #[arg(long, env = "KESSAI_RPC_MAX_RESPONSE_BYTES")]
    pub rpc_max_response_bytes: Option<u32>,
    /// Calls in one JSON-RPC batch [config: rpc.max_batch_calls].
    #[arg(long, env = "KESSAI_RPC_MAX_BATCH_CALLS")]
    pub rpc_max_batch_calls: Option<u32>,
    /// Transactions in one kessai_submitTxs call [config: rpc.max_submit_txs].
    #[arg(long, env = "KESSAI_RPC_MAX_SUBMIT_TXS")]
    pub rpc_max_submit_txs: Option<u32>,
    /// Milliseconds a WebSocket client may leave the node's pings unanswered before its
    /// connection is closed [config: rpc.ws_idle_timeout_ms].
    #[arg(long, env = "KESSAI_RPC_WS_IDLE_TIMEOUT_MS")]
    pub rpc_ws_idle_timeout_ms: Option<u64>,
}

impl RpcLimitArgs {
    /// Sets what the flags give over `limits` (the config's).
    pub fn apply(&self, limits: &mut RpcLimits) {
        let set = |flag: Option<u32>, field: &mut u32| *field = flag.unwrap_or(*field);
        set(self.rpc_max_connections, &mut limits.max_connections);
        set(self.rpc_max_connections_per_ip, &mut limits.max_connections_per_ip);
        set(self.rpc_max_request_bytes, &mut limits.max_request_body_bytes);
        set(self.rpc_max_response_bytes, &mut limits.max_response_body_bytes);
        set(self.rpc_max_batch_calls, &mut limits.max_batch_calls);
        set(self.rpc_max_submit_txs, &mut limits.max_submit_txs);
        limits.header_timeout_ms = self.rpc_header_timeout_ms.unwrap_or(limits.header_timeout_ms);
        limits.body_timeout_ms = self.rpc_body_timeout_ms.unwrap_or(limits.body_timeout_ms);
        limits.ws_idle_timeout_ms =
            self.rpc_ws_idle_timeout_ms.unwrap_or(limits.ws_idle_timeout_ms);
    }
}

/// The retention flags of `kessai node run` and `kessai dev`: they override config.toml's
/// `[store] state_keep_recent` and `blocks_keep_recent` (`kessai_store::PruningConfig`).
#[derive(Args, Debug, Clone, Default)]
pub struct PruningArgs {
    /// Keep the state (values, proofs) of the latest N heights only, deleting older tree nodes
    /// and value versions in the background; 0 keeps every height (archive). At least 2.
    #[arg(long, value_name = "N")]
    pub state_keep_recent: Option<u64>,
    /// Keep the blocks, receipts, transaction index and events of the latest N heights only
    /// (headers and commits are always kept); 0 keeps every height (archive).
    #[arg(long, value_name = "N")]
    pub blocks_keep_recent: Option<u64>,
}

impl PruningArgs {
    /// Sets what the flags give in `config`.
    pub fn apply(&self, config: &mut kessai_node::home::NodeConfig) {
        if let Some(n) = self.state_keep_recent {
            config.pruning.state_keep_recent = n;
        }
        if let Some(n) = self.blocks_keep_recent {
            config.pruning.blocks_keep_recent = n;
        }
    }
}
