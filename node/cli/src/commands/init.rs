//! `kessai init`: a fresh node home.

use anyhow::Result;
use kessai_chainspec::ChainSpec;
use kessai_client::keyfile::KeyFile;
use kessai_node::home::{Home, NodeConfig};
use kessai_primitives::Keypair;

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

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

pub fn run(args: InitArgs) -> Result<()> {
    let spec = ChainSpec::load(&args.chain)?;
    let node_key = match (&args.dev_key, &args.key_file) {
        (Some(name), _) => KeyFile::new(name, &Keypair::dev(name)),
        (None, Some(path)) => KeyFile::read(path)?,
        (None, None) => KeyFile::new("node", &Keypair::generate()),
    };
    let config =
        NodeConfig { rpc_addr: args.rpc_addr, p2p_addr: args.p2p_addr, ..NodeConfig::default() };
    let home = Home::new(&args.home);
    home.initialise(&spec, &node_key, &config)?;
    let role = if spec.validators.iter().any(|v| v.public_key == node_key.public_key) {
        "validator"
    } else {
        "full node"
    };
    println!(
        "initialised {} for chain {} as a {role}; node key {}",
        args.home.display(),
        spec.chain_id,
        node_key.public_key
    );
    Ok(())
}
