//! Starting a node: open the chain, start consensus, RPC and the network, run until stopped.

use crate::chain::Chain;
use crate::home::{Home, NodeConfig};
use crate::mempool::{Mempool, MempoolLimits};
use crate::rpc;
use crate::service::consensus::ConsensusTask;
use crate::service::network::NetworkHandle;
use anyhow::{bail, Context, Result};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Runs the node in `home` until SIGINT/SIGTERM. `ready` is called once RPC listens.
pub async fn run(
    home: &Home,
    config: NodeConfig,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    let spec = home.load_chainspec()?;
    let node_key = home.load_node_key()?.keypair()?;
    let chain = Chain::open(spec, &home.data_dir())?;
    let validators = chain.validators_for(chain.height() + 1)?;
    let is_validator = config.validator && validators.get(&node_key.public()).is_some();
    if config.validator && !is_validator {
        tracing::info!(key = %node_key.public(), "the node key is not in the validator set: running as a full node");
    }
    if validators.len() > 1 && config.bootnodes.is_empty() {
        tracing::warn!(
            "more than one validator but no bootnodes: this node will not reach its peers"
        );
    }
    tracing::info!(chain_id = %chain.chain_id(), height = chain.height(), validator = is_validator, "starting node");

    let mempool = Arc::new(Mempool::new(MempoolLimits::default()));
    let network = NetworkHandle::disconnected();
    let signer = is_validator.then(|| node_key.clone());
    let (consensus, handles) = ConsensusTask::new(
        chain.clone(),
        mempool.clone(),
        network.clone(),
        signer,
        &home.wal_path(),
    )?;

    let ctx = rpc::server::RpcContext {
        chain: chain.clone(),
        mempool,
        network,
        consensus: handles.status.clone(),
        node_key: node_key.public(),
        validator: is_validator,
        peers: Arc::new(parking_lot::RwLock::new(Vec::new())),
        syncing: Arc::new(AtomicBool::new(false)),
    };
    let (rpc_addr, rpc_handle) = rpc::server::start(config.rpc_addr, ctx).await?;
    tracing::info!(%rpc_addr, "JSON-RPC listening");
    // Scripts and tests started with port 0 find the real address here.
    std::fs::write(home.root().join("rpc_url"), format!("http://{rpc_addr}\n"))?;
    ready(rpc_addr);

    let consensus = tokio::spawn(consensus.run());
    tokio::select! {
        result = consensus => {
            match result.context("consensus task panicked")? {
                Ok(()) => bail!("consensus stopped"),
                Err(e) => return Err(e.context("consensus failed")),
            }
        }
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    rpc_handle.stop().ok();
    drop(handles);
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
