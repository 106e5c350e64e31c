//! `kessai dev`: a one-validator chain on the embedded `dev` spec, ready to use.

use crate::cli::{PruningArgs, RpcLimitArgs};
use anyhow::{Context, Result};
use kessai_chainspec::{ChainSpec, DEV_MEMBERS};
use kessai_client::default_dev_home;
use kessai_client::keyfile::KeyFile;
use kessai_node::home::{Home, NodeConfig};
use kessai_primitives::Keypair;

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DevArgs {
    /// Home directory of the dev chain (keys are written to DIR/keys/).
    #[arg(long, env = "KESSAI_DEV_HOME")]
    pub home: Option<PathBuf>,
    /// RPC listen address [default: config.toml's `rpc.address`; 127.0.0.1:8545 in a new home].
    #[arg(long)]
    pub rpc_addr: Option<SocketAddr>,
    /// Delete DIR's chain data first and start from genesis (a new chain: the dev validator's
    /// signing state starts over too).
    #[arg(long)]
    pub reset: bool,
    #[command(flatten)]
    pub rpc_limits: RpcLimitArgs,
    #[command(flatten)]
    pub pruning: PruningArgs,
}

pub async fn run(args: DevArgs) -> Result<()> {
    let root = args.home.unwrap_or_else(default_dev_home);
    let home = Home::new(&root);
    if args.reset && root.exists() {
        std::fs::remove_dir_all(home.data_dir()).ok();
        // Only the dev chain may do this: its key signs nothing else, and the reset starts a new
        // chain. Anywhere else a wiped data/ keeps its signing state (see sign_state.rs).
        std::fs::remove_file(home.sign_state_path()).ok();
        if home.is_initialised() {
            kessai_node::sign_state::SignGuard::create_fresh(&home.sign_state_path())?;
        }
    }
    let spec = ChainSpec::dev();
    if !home.is_initialised() {
        let defaults = NodeConfig::default();
        let config =
            NodeConfig { rpc_addr: args.rpc_addr.unwrap_or(defaults.rpc_addr), ..defaults };
        home.initialise(
            &spec,
            &KeyFile::new("validator-0", &Keypair::dev("validator-0")),
            None,
            &config,
        )?;
    }
    // The home's config.toml (and the environment), then the flags: as `kessai node run`.
    let loaded = kessai_node::config::load(&home)?;
    crate::commands::config::start_logging(&home, &loaded)?;
    let mut config = loaded.config;
    if let Some(addr) = args.rpc_addr {
        config.rpc_addr = addr;
    }
    args.rpc_limits.apply(&mut config.rpc_limits);
    // Archive unless asked: the dev chain keeps every height by default.
    args.pruning.apply(&mut config);
    write_member_keys(&home)?;
    let keys_dir = home.keys_dir();
    kessai_node::daemon::run(&home, config, |rpc_addr| {
        eprintln!(
            "\nKessai dev chain {} is running.\n  RPC:  http://{rpc_addr}\n  keys: {} ({})\n  try:  kessai status --rpc http://{rpc_addr}\n",
            spec.chain_id,
            keys_dir.display(),
            DEV_MEMBERS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        );
    })
    .await
}

/// Writes the well-known dev member keys, so `--key alice` works out of the box.
fn write_member_keys(home: &Home) -> Result<()> {
    for (name, _) in DEV_MEMBERS {
        let path = home.keys_dir().join(format!("{name}.json"));
        if !path.exists() {
            KeyFile::new(name, &Keypair::dev(name)).write(&path).context("writing dev keys")?;
        }
    }
    Ok(())
}
