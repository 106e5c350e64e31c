//! `kessai node run`: run the daemon in a home directory. `kessai node health`: whether a running
//! node is ready, as an exit status.

use crate::cli::{PruningArgs, RpcLimitArgs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use kessai_client::rpc_error;
use kessai_node::home::Home;
use std::net::SocketAddr;
use std::path::PathBuf;

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
}

pub async fn run(command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Run(args) => {
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
            kessai_node::daemon::run(&home, config, |_| {}).await
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
