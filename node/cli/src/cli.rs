//! Command-line interface (clap). Each subcommand's behaviour lives in `commands/`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
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
    /// Initialise a node home: chain spec, node key, config.
    Init(InitArgs),
    /// Run a local one-validator development chain (initialises DIR on first use).
    Dev(DevArgs),
    /// Run a node.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Create and show member keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Read chain data over RPC.
    #[command(subcommand)]
    Query(QueryCommand),
    /// Notes (JP7005000B2): terminal keys, issuance, redemption by commit-reveal.
    #[command(subcommand)]
    Notes(crate::commands::notes::NotesCommand),
    /// Show a node's status.
    Status(StatusArgs),
    /// Light client: verify headers, state and transactions served by nodes you do not trust.
    #[command(subcommand)]
    Light(crate::commands::light::LightCommand),
    /// Intermediary mediation of asset ownership (JP7803395B2): the intermediary server, usage
    /// reports, production-method certificates.
    #[command(subcommand)]
    Intermediary(crate::commands::intermediary::IntermediaryCommand),
    /// Local multi-validator networks for testing (like `cometbft testnet`).
    #[command(subcommand)]
    Testnet(TestnetCommand),
    /// Cross-chain hash-lock swaps (power ledger and value certificates): secrets, legs, claims,
    /// and the relayer that completes one leg with the secret revealed on the other chain.
    #[command(subcommand)]
    Swap(crate::commands::swap::SwapCommand),
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

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Home directory of the node.
    #[arg(long)]
    pub home: PathBuf,
    /// Chain spec: `dev`, `local`, or a path to a JSON chain spec.
    #[arg(long, default_value = "local")]
    pub chain: String,
    /// Use the dev key of this name as node key (e.g. validator-0): for local test chains only.
    #[arg(long)]
    pub dev_key: Option<String>,
    /// Use this key file as node key (default: a fresh key).
    #[arg(long, conflicts_with = "dev_key")]
    pub key_file: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub rpc_addr: SocketAddr,
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
    pub p2p_addr: String,
}

#[derive(Args, Debug)]
pub struct DevArgs {
    /// Home directory of the dev chain (keys are written to DIR/keys/).
    #[arg(long, env = "KESSAI_DEV_HOME")]
    pub home: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub rpc_addr: SocketAddr,
    /// Delete DIR's chain data first and start from genesis.
    #[arg(long)]
    pub reset: bool,
}

#[derive(Subcommand, Debug)]
pub enum TestnetCommand {
    /// Write the homes of N validators (and full nodes) on 127.0.0.1 sharing one fresh chain spec;
    /// start them with `scripts/testnet.sh up DIR`.
    Init(TestnetInitArgs),
}

#[derive(Args, Debug)]
pub struct TestnetInitArgs {
    /// Number of validators (each gets a fresh key and power 10).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub validators: u32,
    /// Non-validating nodes allowed on the network (listed in the chain spec's `nodes`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub full_nodes: u32,
    /// Directory to write into: DIR/chainspec.json, DIR/node0 … (homes), DIR/keys (members).
    #[arg(long)]
    pub out: PathBuf,
    /// Node i listens for p2p on BASE + 10·i, RPC on BASE + 10·i + 1, metrics on BASE + 10·i + 2.
    #[arg(long, default_value_t = 26600)]
    pub base_port: u16,
    #[arg(long, default_value = "kessai-testnet")]
    pub chain_id: String,
    /// Start from this chain spec (preset name or path) instead of `local`; its validators and
    /// nodes are replaced.
    #[arg(long, default_value = "local")]
    pub chain: String,
}

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Run the node in a home directory.
    Run(NodeRunArgs),
}

#[derive(Args, Debug)]
pub struct NodeRunArgs {
    #[arg(long)]
    pub home: PathBuf,
    /// Override the RPC listen address of config.json.
    #[arg(long)]
    pub rpc_addr: Option<SocketAddr>,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a new key file.
    New {
        /// A name for the key (also the file name under --dir).
        name: String,
        /// Directory to write NAME.json into.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show the public key of a key file (path or NAME under --dir).
    Show {
        key: String,
        #[arg(long, env = "KESSAI_KEYS")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
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

#[derive(Subcommand, Debug)]
pub enum TxCommand {
    /// Deploy wasm code and instantiate a contract from it.
    Deploy {
        /// The contract's .wasm file.
        wasm: PathBuf,
        /// Arguments of its init method, as JSON (array in order, or object by name).
        #[arg(long)]
        init: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Call a contract method.
    Call {
        /// Contract name (from the chain spec) or address.
        contract: String,
        method: String,
        /// Arguments as JSON (array in order, or object by name); default none.
        args: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Governance (admin keys only).
    #[command(subcommand)]
    Gov(GovCommand),
}

#[derive(Subcommand, Debug)]
pub enum GovCommand {
    /// Admit a member with roles (comma-separated: admin, deployer).
    AddMember {
        public_key: String,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Remove a member.
    RemoveMember {
        public_key: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Set a validator's voting power (0 removes it); takes effect two blocks later.
    SetValidator {
        public_key: String,
        power: u64,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Admit a node to the network by its node key (`kessai keys show`), e.g. a new full node.
    AdmitPeer {
        public_key: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// Call a view method.
    View {
        contract: String,
        method: String,
        args: Option<String>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Read an entry of a contract's storage map with its proof, and verify the proof.
    State {
        contract: String,
        map: String,
        /// The key, as JSON by the map's key type.
        key: String,
        #[arg(long)]
        height: Option<u64>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A transaction's status and receipt.
    Tx {
        tx_id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A block (header, transaction ids, last commit) and its hash.
    Block {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A block header.
    Header {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The commit certificate (precommit signatures) of a block.
    Commit {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The validator set that signs the block at a height (one above the latest: the next block).
    Validators {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// An account's membership, roles and nonce.
    Account {
        /// Public key (hex) or the NAME of a key file in --keys-dir.
        key: String,
        #[arg(long, env = "KESSAI_KEYS")]
        keys_dir: Option<PathBuf>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A contract's address, code hash and interface.
    Contract {
        contract: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Events of a contract.
    Events {
        contract: String,
        #[arg(long, default_value_t = 1)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub rpc: RpcArgs,
}

impl Command {
    /// Commands that run a node (they log at info level by default).
    pub fn is_long_running(&self) -> bool {
        use crate::commands::intermediary::IntermediaryCommand;
        matches!(
            self,
            Command::Dev(_)
                | Command::Node(_)
                | Command::Intermediary(IntermediaryCommand::Serve { .. })
        )
    }
}
