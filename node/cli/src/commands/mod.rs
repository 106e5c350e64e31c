//! What each subcommand does.

mod dev;
mod init;
pub mod intermediary;
mod keys;
pub mod light;
pub mod notes;
mod output;
mod query;
pub mod swap;
mod testnet;
pub mod tx;

use crate::cli::{Cli, Command, NodeCommand};
use crate::home::Home;
use anyhow::Result;

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Dev(args) => dev::run(args).await,
        Command::Node(NodeCommand::Run(args)) => {
            let home = Home::new(&args.home);
            let mut config = home.load_config()?;
            if let Some(addr) = args.rpc_addr {
                config.rpc_addr = addr;
            }
            crate::service::node::run(&home, config, |_| {}).await
        }
        Command::Keys(command) => keys::run(command),
        Command::Tx(command) => tx::run(command).await,
        Command::Query(command) => query::run(command).await,
        Command::Notes(command) => notes::run(command).await,
        Command::Status(args) => query::status(args.rpc).await,
        Command::Light(command) => light::run(command).await,
        Command::Swap(command) => swap::run(command).await,
        Command::Intermediary(command) => intermediary::run(command).await,
        Command::Testnet(crate::cli::TestnetCommand::Init(args)) => testnet::init(args),
    }
}

pub use dev::default_dev_home;
pub use tx::{submit, wait_for};
