//! `kessai node run`: run the daemon in a home directory. `kessai node health`: whether a running
//! node is ready, as an exit status.

use crate::cli::{PruningArgs, RpcLimitArgs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use kessai_client::rpc_error;
use kessai_node::home::Home;
use std::net::SocketAddr;
use std::path::PathBuf;

// Parsed once per process: the size of `Run`'s flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Run the node in a home directory.
    Run(NodeRunArgs),
    /// Exit 0 when the node at --rpc is ready (what `GET /ready` answers: synced, connected,
    /// disk writable, a validator in the set and free to sign), else 1 with what fails: for
    /// scripts and supervisors.
    Health(NodeHealthArgs),
    /// Print the node's libp2p peer id and public key: what other operators need for their
    /// bootnodes and the chain spec.
    Id(NodeIdArgs),
}

#[derive(Args, Debug)]
pub struct NodeIdArgs {
    #[arg(long)]
    pub home: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NodeHealthArgs {
    #[command(flatten)]
    pub rpc: crate::cli::RpcArgs,
}

#[derive(Args, Debug)]
pub struct NodeRunArgs {
    #[arg(long)]
    pub home: PathBuf,
    /// Override the RPC listen address of config.toml (`rpc.address`, `KESSAI_RPC_ADDRESS`).
    #[arg(long)]
    pub rpc_addr: Option<SocketAddr>,
    #[command(flatten)]
    pub rpc_limits: RpcLimitArgs,
    #[command(flatten)]
    pub pruning: PruningArgs,
    /// Start a validator whose sign_state.json is missing (and whose data/ shows nothing signed)
    /// as a key that has NEVER signed. Wrong for a key that signed before: it could then sign a
    /// conflicting vote at a height it already signed. Restore the state file with the key instead.
    #[arg(long)]
    pub allow_missing_sign_state: bool,
    /// Serve a state snapshot at every height that is a multiple of N, for as long as its state
    /// is kept (0: serve none). Joining nodes fetch the latest one (--state-sync).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub snapshot_interval: u64,
    /// Join by state sync when data/ is empty: fetch a recent snapshot of the state from peers,
    /// verified from the trusted header of --trust-height and --trust-hash, instead of replaying
    /// every block from genesis.
    #[arg(long, requires_all = ["trust_height", "trust_hash"])]
    pub state_sync: bool,
    /// Height of a header this node trusts (with --state-sync), e.g. from another operator's
    /// `kessai block` or a light client's verified header.
    #[arg(long, value_name = "HEIGHT", requires = "state_sync")]
    pub trust_height: Option<u64>,
    /// Hash of that header (hex block id).
    #[arg(long, value_name = "HASH", requires = "state_sync")]
    pub trust_hash: Option<String>,
}

impl NodeRunArgs {
    /// The snapshot and state-sync settings of the flags.
    fn joining(&self) -> Result<kessai_node::daemon::Joining> {
        let state_sync = match (self.state_sync, self.trust_height, &self.trust_hash) {
            (true, Some(trust_height), Some(hash)) => {
                let trust_hash = hash.parse().map_err(|_| {
                    anyhow::anyhow!("--trust-hash {hash:?} is not a 32-byte hex hash")
                })?;
                Some(kessai_node::state_sync::StateSyncConfig { trust_height, trust_hash })
            }
            _ => None,
        };
        if state_sync.as_ref().is_some_and(|s| s.trust_height == 0) {
            bail!("--trust-height must be at least 1: genesis has no header to trust");
        }
        Ok(kessai_node::daemon::Joining {
            snapshots: kessai_node::state_sync::SnapshotConfig { interval: self.snapshot_interval },
            state_sync,
        })
    }
}

pub async fn run(command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Run(args) => {
            let joining = args.joining()?;
            let home = Home::new(&args.home);
            let loaded = kessai_node::config::load(&home)?;
            crate::commands::config::start_logging(&home, &loaded)?;
            let mut config = loaded.config;
            if let Some(addr) = args.rpc_addr {
                config.rpc_addr = addr;
            }
            args.rpc_limits.apply(&mut config.rpc_limits);
            args.pruning.apply(&mut config);
            config.allow_missing_sign_state = args.allow_missing_sign_state;
            kessai_node::daemon::run_with(&home, config, joining, |_| {}).await
        }
        NodeCommand::Health(args) => health(args.rpc).await,
        NodeCommand::Id(args) => node_id(args),
    }
}

/// Prints the peer id and public key of the node key in `HOME/node_key.json`.
fn node_id(args: NodeIdArgs) -> Result<()> {
    let home = Home::new(&args.home);
    if !home.node_key_path().exists() {
        anyhow::bail!(
            "{} has no node key: initialise it with `kessai init --home {}`",
            home.root().display(),
            home.root().display()
        );
    }
    let key = home.load_node_key()?;
    super::keys::print_node_identity(args.json, &key.name, &key.keypair()?.public());
    Ok(())
}

/// Asks the node's readiness over JSON-RPC (`kessai_status`), prints it, and fails unless ready.
async fn health(rpc: crate::cli::RpcArgs) -> Result<()> {
    use kessai_rpc_api::KessaiApiClient;
    let status = kessai_rpc_api::client(&rpc.rpc)?
        .status()
        .await
        .map_err(rpc_error)
        .with_context(|| format!("cannot reach the node at {}", rpc.rpc))?;
    let Some(readiness) = status.readiness else {
        bail!("the node at {} does not report readiness (a Kessai older than its /ready)", rpc.rpc)
    };
    if rpc.json {
        super::output::json(&readiness);
    }
    if !readiness.ready {
        bail!("the node at {} is not ready: {}", rpc.rpc, readiness.failing.join(", "));
    }
    if !rpc.json {
        super::output::line("ready");
    }
    Ok(())
}
