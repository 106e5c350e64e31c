//! `kessai node run`: run the daemon in a home directory.

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
}

pub async fn run(command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Run(args) => {
            let home = Home::new(&args.home);
            let mut config = home.load_config()?;
            if let Some(addr) = args.rpc_addr {
                config.rpc_addr = addr;
            }
            kessai_node::daemon::run(&home, config, |_| {}).await
        }
    }
}
