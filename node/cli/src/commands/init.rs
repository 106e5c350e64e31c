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
    /// Use the dev key of this name as consensus key (e.g. validator-0): for local test chains
    /// only.
    #[arg(long)]
    pub dev_key: Option<String>,
    /// Use this key file as consensus key (default: a fresh key).
    #[arg(long, conflicts_with = "dev_key")]
    pub key_file: Option<PathBuf>,
    /// Use this key file as node key, the libp2p identity (default: a fresh key; or the consensus
    /// key when the chain spec lists it as a validator without a `node_key`, as specs written
    /// before the keys were split do).
    #[arg(long)]
    pub node_key_file: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub rpc_addr: SocketAddr,
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
    pub p2p_addr: String,
}

pub fn run(args: InitArgs) -> Result<()> {
    let spec = ChainSpec::load(&args.chain)?;
    let consensus_key = match (&args.dev_key, &args.key_file) {
        (Some(name), _) => KeyFile::new(name, &Keypair::dev(name)),
        (None, Some(path)) => KeyFile::read(path)?,
        (None, None) => KeyFile::new("consensus", &Keypair::generate()),
    };
    let validator = spec.validators.iter().find(|v| v.public_key == consensus_key.public_key);
    let node_key = match (&args.node_key_file, validator) {
        (Some(path), _) => KeyFile::read(path)?,
        // The spec says this validator's node connects with its consensus key.
        (None, Some(v)) if v.node_key.is_none() => consensus_key.clone(),
        (None, _) => KeyFile::new("node", &Keypair::generate()),
    };
    if let Some(expected) = validator.and_then(|v| v.node_key) {
        if expected != node_key.public_key {
            anyhow::bail!(
                "the chain spec names {expected} as this validator's node key: pass its key file with --node-key-file"
            );
        }
    }
    let config =
        NodeConfig { rpc_addr: args.rpc_addr, p2p_addr: args.p2p_addr, ..NodeConfig::default() };
    let home = Home::new(&args.home);
    home.initialise(&spec, &node_key, Some(&consensus_key), &config)?;
    let role = if validator.is_some() { "validator" } else { "full node" };
    println!(
        "initialised {} for chain {} as a {role}; consensus key {}, node key {} (peer id {})",
        args.home.display(),
        spec.chain_id,
        consensus_key.public_key,
        node_key.public_key,
        kessai_network::peer_id_of(&node_key.public_key)
    );
    Ok(())
}
