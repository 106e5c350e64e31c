//! One module per `kessai` subcommand: its arguments (clap) and its `run`.

pub mod config;
pub mod contract;
pub mod db;
pub mod dev;
pub mod init;
pub mod intermediary;
pub mod keys;
pub mod light;
pub mod node;
pub mod notes;
mod output;
pub mod query;
pub mod signer;
pub mod status;
pub mod swap;
pub mod testnet;
pub mod tx;

use crate::cli::{Cli, Command};
use anyhow::Result;

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Config(command) => config::run(command),
        Command::Dev(args) => dev::run(args).await,
        Command::Db(command) => db::run(command).await,
        Command::Node(command) => node::run(command).await,
        Command::Keys(command) => keys::run(command),
        Command::Tx(command) => tx::run(command).await,
        Command::Contract(command) => contract::run(command).await,
        Command::Query(command) => query::run(command).await,
        Command::Notes(command) => notes::run(command).await,
        Command::Status(args) => status::run(args).await,
        Command::Light(command) => light::run(command).await,
        Command::Swap(command) => swap::run(command).await,
        Command::Intermediary(command) => intermediary::run(command).await,
        Command::Testnet(command) => testnet::run(command),
        Command::Signer(command) => signer::run(command).await,
    }
}
