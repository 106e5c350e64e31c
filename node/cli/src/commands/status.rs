//! `kessai status`: a node's height, block, state root, consensus step and peers.

use super::output;
use crate::cli::RpcArgs;
use anyhow::{Context, Result};
use clap::Args;
use kessai_client::rpc_error;
use kessai_rpc_api::{self as rpc, KessaiApiClient};

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub rpc: RpcArgs,
}

pub async fn run(args: StatusArgs) -> Result<()> {
    status(args.rpc).await
}

async fn status(rpc: RpcArgs) -> Result<()> {
    let client = rpc::client(&rpc.rpc)?;
    let status = client
        .status()
        .await
        .map_err(rpc_error)
        .with_context(|| format!("cannot reach the node at {}", rpc.rpc))?;
    output::print(rpc.json, &status, |s| {
        format!(
            "chain {} height {} hash {}\nstate root {}\nconsensus: height {} round {} step {}\nvalidator: {} key {}\npeers: {}  mempool: {}  syncing: {}",
            s.chain_id, s.height, s.hash, s.state_root, s.consensus_height, s.consensus_round, s.consensus_step,
            s.validator, s.node_key, s.peers.len(), s.mempool_size, s.syncing
        )
    });
    Ok(())
}
