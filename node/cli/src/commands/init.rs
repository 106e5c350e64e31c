//! `kessai init`: a fresh node home.

use crate::cli::InitArgs;
use crate::home::{Home, NodeConfig};
use crate::keyfile::KeyFile;
use anyhow::Result;
use kessai_chainspec::ChainSpec;
use kessai_primitives::Keypair;

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
