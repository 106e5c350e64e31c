//! Starting a node: open the chain, start the network, consensus, sync, RPC and metrics, run until
//! stopped.

use crate::chain::Chain;
use crate::health::Health;
use crate::home::{Home, NodeConfig};
use crate::mempool::Mempool;
use crate::metrics::{self, Metrics};
use crate::rpc;
use crate::service::consensus::ConsensusTask;
use crate::service::inbound::InboundRouter;
use crate::service::network::NetworkHandle;
use crate::service::sync::{PeerHeights, SyncService};
use crate::sign_state::{step_of, LastSigned, SignGuard, SignStep};
use crate::signer::{LocalSigner, RemoteSigner, Signer, SignerAddress};
use crate::state_sync::{JoinNetwork, NodeSyncProvider, SnapshotConfig, StateSyncConfig};
use crate::wal::Wal;
use anyhow::{bail, Context, Result};
use kessai_network::{AllowList, Multiaddr, NetworkConfig, MAX_MESSAGE_BYTES_LIMIT};
use kessai_primitives::{Keypair, PublicKey};
use kessai_state::system;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Runs the node in `home` until SIGINT/SIGTERM. `ready` is called once RPC listens.
pub async fn run(
    home: &Home,
    config: NodeConfig,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    run_with(home, config, Joining::default(), ready).await
}

/// Names the threads of rayon's global pool `rayon-N` (blocks' signature checks, wasmtime's
/// parallel compilation), so that `top -H` and `scripts/bench-throughput.sh` can tell their CPU
/// from the rest; unnamed, they would inherit the name of whichever thread first used the pool.
fn name_parallel_threads() {
    // An error means the pool exists already (an earlier node in this process): nothing to do.
    let _ = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("rayon-{i}")).build_global();
}

/// How a node serves snapshots and whether it joins by state sync.
#[derive(Clone, Debug, Default)]
pub struct Joining {
    /// The snapshots it serves (none by default).
    pub snapshots: SnapshotConfig,
    /// Join by state sync from this root of trust when the database is empty.
    pub state_sync: Option<StateSyncConfig>,
}

/// [`run`], serving snapshots and joining by state sync as `joining` says.
pub async fn run_with(
    home: &Home,
    config: NodeConfig,
    joining: Joining,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    name_parallel_threads();
    let spec = home.load_chainspec()?;
    let node_key = home.load_node_key()?.keypair()?;
    // The flags first, else config.toml's `[state_sync]`.
    let trust = match joining.state_sync.clone() {
        Some(trust) => Some(trust),
        None => config.state_sync.trust()?,
    };
    let joined = match &trust {
        Some(trust) => {
            let network = JoinNetwork {
                p2p_addr: config.p2p_addr.clone(),
                bootnodes: config.bootnodes.clone(),
            };
            crate::state_sync::join(home, &spec, &node_key, &network, trust).await?
        }
        None => None,
    };
    let chain = Chain::open_configured(spec, &home.data_dir(), config.store_config())?;
    // Past a scheduled upgrade this binary does not support: never start (exit code 3).
    chain.check_protocol_for(chain.tip_height() + 1).context("refusing to start")?;
    let validators = chain.validators_for(chain.height() + 1)?;
    // A validator's consensus key signs through its signer: the key file with its signing state
    // beside it, or the remote signer of `[signer] remote`, which holds both.
    let signer = match config.validator {
        true => Some(open_signer(home, &config, &chain).await?),
        false => None,
    };
    let consensus_key = signer.as_ref().map(|s| s.public_key());
    let is_validator = consensus_key.is_some_and(|key| validators.get(&key).is_some());
    if let Some(key) = consensus_key.filter(|_| !is_validator) {
        tracing::info!(%key, "the consensus key is not in the validator set: following as a full node until governance makes it a validator");
    }
    if validators.len() > 1 && config.bootnodes.is_empty() {
        tracing::warn!(
            "more than one validator but no bootnodes: this node will not reach its peers"
        );
    }
    tracing::info!(chain_id = %chain.chain_id(), height = chain.height(), validator = is_validator, "starting node");

    let mut metrics = Metrics::new();
    metrics.height.set(chain.height() as i64);
    if let Some(joined) = joined {
        metrics.state_sync_height.set(joined.height as i64);
        metrics.state_sync_keys.set(joined.keys as i64);
    }
    metrics.set_build_info(chain.chain_id(), &chain.spec_hash().to_string());
    metrics.register_cpu(chain.cpu.clone(), chain.runtime.clone());

    let mempool = Arc::new(Mempool::new(config.mempool));
    let bootnodes = crate::config::bootnode_keys(&config.bootnodes);
    let allow = AllowList::new(allowed_keys(&chain, &bootnodes)?);
    let (libp2p, inbound) =
        start_network(&chain, &config, &joining, &node_key, allow.clone(), metrics.registry_mut())
            .await?;
    let metrics = Arc::new(metrics);
    let network = NetworkHandle::connected(libp2p.clone());
    // The core signs only at heights whose validator set holds the key, so a node that governance
    // makes a validator starts signing at the announced height without a restart.
    let signed_floor = signer.as_ref().and_then(|s| s.last_signed()).map(|last| last.height);
    let (consensus, handles) = ConsensusTask::new(
        chain.clone(),
        mempool.clone(),
        network.clone(),
        None,
        &home.wal_path(),
        metrics.clone(),
    )?;
    let consensus = match signer {
        Some(signer) => consensus.with_signer(signer, config.double_sign_check_height)?,
        None => consensus,
    };

    crate::service::pruning::spawn(&chain.store, handles.committed.subscribe())
        .context("cannot start the pruner thread")?;

    let heights = PeerHeights::default();
    let syncing = Arc::new(AtomicBool::new(false));
    tokio::spawn(
        InboundRouter {
            chain: chain.clone(),
            mempool: mempool.clone(),
            network: libp2p.clone(),
            consensus: handles.events.clone(),
            heights: heights.clone(),
        }
        .run(inbound),
    );
    tokio::spawn(
        SyncService {
            chain: chain.clone(),
            network: libp2p.clone(),
            consensus: handles.events.clone(),
            heights: heights.clone(),
            syncing: syncing.clone(),
            metrics: metrics.clone(),
        }
        .run(),
    );
    tokio::spawn(follow_allow_list(
        chain.clone(),
        allow,
        CatchingUp { bootnodes, peer_heights: heights.clone() },
        handles.committed.subscribe(),
    ));
    tokio::spawn(sample_gauges(
        libp2p.clone(),
        mempool.clone(),
        syncing.clone(),
        chain.storage.clone(),
        metrics.clone(),
    ));

    let health = Arc::new(Health {
        chain: chain.clone(),
        network: Some(libp2p.clone()),
        syncing: syncing.clone(),
        peer_heights: heights,
        validator_key: consensus_key,
        signed_floor,
    });
    if let Some(addr) = config.metrics_addr {
        let bound = metrics::serve(addr, metrics, health.clone()).await?;
        tracing::info!(address = %bound, "Prometheus metrics at /metrics, health at /health and /ready");
        std::fs::write(home.root().join("metrics_url"), format!("http://{bound}/metrics\n"))?;
    }

    let ctx = rpc::server::RpcContext {
        chain: chain.clone(),
        mempool,
        network,
        consensus: handles.status.clone(),
        node_key: consensus_key.unwrap_or(node_key.public()),
        consensus_key,
        network_key: node_key.public(),
        validator: config.validator,
        syncing,
        health,
        proof_cache: Default::default(),
        max_submit_txs: config.rpc_limits.max_submit_txs as usize,
        committed: handles.committed.clone(),
    };
    let (rpc_addr, rpc_handle) =
        rpc::server::start(config.rpc_addr, &config.rpc_limits, ctx).await?;
    tracing::info!(%rpc_addr, "JSON-RPC listening");
    // Scripts and tests started with port 0 find the real addresses here, and poll for the files:
    // written whole or not at all (a reader once found `rpc_url` empty).
    crate::config::write_atomically(&home.root().join("rpc_url"), &format!("http://{rpc_addr}\n"))?;
    let p2p: Vec<String> = libp2p.listen_addrs().iter().map(ToString::to_string).collect();
    crate::config::write_atomically(&home.root().join("p2p_addrs"), &(p2p.join("\n") + "\n"))?;
    ready(rpc_addr);

    let consensus = tokio::spawn(consensus.run());
    tokio::select! {
        result = consensus => {
            match result.context("consensus task panicked")? {
                Ok(()) => bail!("consensus stopped"),
                // A failed write is the operator's to fix: say so first (the cause is logged).
                Err(e) => match chain.storage.fault() {
                    Some(fault) => {
                        tracing::error!(error = %format!("{e:#}"), "stopping: the disk failed");
                        return Err(fault.stop_error());
                    }
                    None => return Err(e.context("consensus failed")),
                },
            }
        }
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    rpc_handle.stop().ok();
    libp2p.shutdown().await;
    drop(handles);
    Ok(())
}

async fn start_network(
    chain: &Arc<Chain>,
    config: &NodeConfig,
    joining: &Joining,
    node_key: &Keypair,
    allow: AllowList,
    registry: &mut kessai_network::MetricsRegistry,
) -> Result<(kessai_network::NetworkHandle, mpsc::Receiver<kessai_network::InboundMessage>)> {
    let listen: Multiaddr = config
        .p2p_addr
        .parse()
        .with_context(|| format!("p2p_addr {:?} is not a multiaddr", config.p2p_addr))?;
    let mut network_config = NetworkConfig::new(chain.chain_id(), listen);
    network_config.max_message_bytes = MAX_MESSAGE_BYTES_LIMIT;
    for bootnode in &config.bootnodes {
        let address = bootnode
            .parse()
            .with_context(|| format!("bootnode {bootnode:?} is not a multiaddr"))?;
        network_config.bootnodes.push(address);
    }
    let provider = Arc::new(NodeSyncProvider::new(chain.clone(), joining.snapshots));
    Ok(kessai_network::start_with_metrics(network_config, node_key, allow, provider, registry)
        .await?)
}

/// Keys allowed to connect: the spec's validators and nodes and the peers admitted by governance,
/// less the peers governance revoked; and, whatever was revoked, every validator of the current
/// and next sets (governance refuses to revoke one, and a signer must never be cut off). A
/// validator's node key is the one the state registers (`validator-node/`, written at genesis
/// from the spec or by `SetValidatorNodeKey`), so a node key rotated away is no longer allowed
/// unless the spec lists it as a node or governance admitted it.
///
/// `bootnodes` (the keys the operator's bootnode addresses name, [`crate::config::bootnode_keys`], while the node
/// catches up, [`CatchingUp`]) count as admitted: a node joining a network whose members changed
/// since the chain spec knows the current ones only from its own configuration until it has
/// replayed or restored the state that admits them
/// (`docs/decisions/0027-bootnodes-are-allowed-peers.md`).
fn allowed_keys(chain: &Chain, bootnodes: &BTreeSet<PublicKey>) -> Result<BTreeSet<PublicKey>> {
    let state = chain.state();
    let mut keys: BTreeSet<PublicKey> = chain.spec.nodes.iter().map(|n| n.public_key).collect();
    for validator in &chain.spec.validators {
        keys.insert(system::network_key_of_validator(&state, &validator.public_key)?);
    }
    keys.extend(ed25519_peer_keys(system::admitted_peers(&state)?, "admitted"));
    keys.extend(bootnodes);
    for revoked in ed25519_peer_keys(system::revoked_peers(&state)?, "revoked") {
        keys.remove(&revoked);
    }
    for set in [system::current_validators(&state)?, system::next_validators(&state)?]
        .into_iter()
        .flatten()
    {
        for validator in set.validators() {
            keys.insert(system::network_key_of_validator(&state, &validator.public_key)?);
        }
    }
    Ok(keys)
}

/// The node keys of libp2p peer keys (protobuf) that are ed25519 keys; others are logged and
/// skipped (no member's node has one).
fn ed25519_peer_keys(peer_keys: Vec<Vec<u8>>, what: &'static str) -> Vec<PublicKey> {
    peer_keys
        .into_iter()
        .filter_map(|peer_key| {
            let key = kessai_network::key_of_peer_key(&peer_key);
            if key.is_none() {
                tracing::warn!(
                    peer_key = hex::encode(&peer_key),
                    "{what} peer key is not an ed25519 libp2p key; ignoring it"
                );
            }
            key
        })
        .collect()
}

/// The bootnodes a node allows while it catches up with the network ([`allowed_keys`]).
struct CatchingUp {
    bootnodes: BTreeSet<PublicKey>,
    peer_heights: PeerHeights,
}

impl CatchingUp {
    /// Whether the node has reached the height its peers are known to have committed: from then
    /// on its state knows today's members, and a bootnode is allowed only if the state allows it
    /// (so that a node key rotated away or revoked is dropped even while configs still name it).
    fn caught_up(&self, chain: &Chain) -> bool {
        let best = self.peer_heights.best();
        best > 0 && chain.height() + 1 >= best
    }
}

/// Keeps the allow list equal to [`allowed_keys`] as blocks change it: governance admits a peer or
/// a validator, or revokes a peer, whose connections the network then closes (`AllowList::remove`).
/// Until the node has caught up with its peers, its bootnodes are allowed too ([`CatchingUp`]).
async fn follow_allow_list(
    chain: Arc<Chain>,
    allow: AllowList,
    mut catching_up: CatchingUp,
    mut committed: tokio::sync::broadcast::Receiver<u64>,
) {
    loop {
        match committed.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
        if !catching_up.bootnodes.is_empty() && catching_up.caught_up(&chain) {
            tracing::info!(
                height = chain.height(),
                "caught up with the network: bootnodes are allowed now only as the chain allows them"
            );
            catching_up.bootnodes.clear();
        }
        match allowed_keys(&chain, &catching_up.bootnodes) {
            Ok(keys) => {
                for key in allow.keys().difference(&keys) {
                    if allow.remove(key) {
                        tracing::info!(%key, "peer revoked by governance (or a validator's node key replaced); disconnecting it");
                    }
                }
                for key in keys {
                    if allow.insert(key) {
                        tracing::info!(%key, "peer admitted to the network");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the allowed peers"),
        }
    }
}

/// Gauges that are sampled rather than updated at the source.
async fn sample_gauges(
    network: kessai_network::NetworkHandle,
    mempool: Arc<Mempool>,
    syncing: Arc<AtomicBool>,
    storage: Arc<crate::storage::StorageHealth>,
    metrics: Arc<Metrics>,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let network_metrics = network.metrics();
        metrics.peers.set(network_metrics.peers as i64);
        metrics.penalised_peers.set(network_metrics.penalties as i64);
        metrics.mempool_txs.set(mempool.len() as i64);
        metrics.syncing.set(syncing.load(std::sync::atomic::Ordering::Relaxed) as i64);
        metrics.storage_failed.set(storage.is_failed() as i64);
    }
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

/// The validator's signer: the remote one of `[signer] remote` (waiting until it answers), or the
/// consensus key file with its signing state (derived from `data/` in a home from before the
/// state file, see [`SignGuard::open`]).
async fn open_signer(home: &Home, config: &NodeConfig, chain: &Chain) -> Result<Box<dyn Signer>> {
    if let Some(remote) = &config.remote_signer {
        let address =
            SignerAddress::parse(remote).map_err(|e| anyhow::anyhow!("[signer] remote: {e}"))?;
        if home.consensus_key_path().exists() {
            tracing::info!(key_file = %home.consensus_key_path().display(), "signing through the remote signer: the key file in the home is not used");
        }
        let signer = tokio::task::spawn_blocking(move || RemoteSigner::connect(address)).await?;
        return Ok(Box::new(signer));
    }
    let key = home.load_consensus_key()?.keypair()?;
    let guard = SignGuard::open(&home.sign_state_path(), config.allow_missing_sign_state, || {
        derive_sign_state(home, chain)
    })?;
    Ok(Box::new(LocalSigner::new(key, guard)))
}

/// What `data/` shows this key signed, for a home whose signing state is missing (made before
/// the state file existed): every committed height, and the WAL's records at the next one.
/// `None` when `data/` holds nothing signed.
fn derive_sign_state(home: &Home, chain: &Chain) -> Result<Option<LastSigned>> {
    let mut last = (chain.height() > 0).then(|| LastSigned {
        height: chain.height(),
        round: u32::MAX,
        step: SignStep::Precommit,
        message: None,
    });
    if home.wal_path().exists() {
        for record in Wal::open(&home.wal_path())?.records()? {
            let entry: kessai_consensus::WalEntry = borsh::from_slice(&record)?;
            let signed = LastSigned {
                height: entry.message.height(),
                round: entry.message.round(),
                step: step_of(&entry.message),
                message: Some(kessai_primitives::Hash::digest(&borsh::to_vec(&entry.message)?)),
            };
            let later = |a: &LastSigned, b: &LastSigned| {
                (a.height, a.round, a.step) > (b.height, b.round, b.step)
            };
            if last.as_ref().is_none_or(|l| later(&signed, l)) {
                last = Some(signed);
            }
        }
    }
    Ok(last)
}
