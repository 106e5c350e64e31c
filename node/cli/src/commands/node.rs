//! `kessai node run`: run the daemon in a home directory.

use crate::cli::{PruningArgs, RpcLimitArgs};
use anyhow::Result;
use clap::{Args, Subcommand};
use kessai_node::home::Home;
use std::net::SocketAddr;
use std::path::PathBuf;

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
            let mut config = home.load_config()?;
            if let Some(addr) = args.rpc_addr {
                config.rpc_addr = addr;
            }
            config.rpc_limits = args.rpc_limits.limits();
            args.pruning.apply(&mut config);
            config.allow_missing_sign_state = args.allow_missing_sign_state;
            kessai_node::daemon::run(&home, config, |_| {}).await
        }
    }
}
