//! State sync: serving snapshots of the state to peers, and joining a chain from one instead of
//! replaying every block from genesis.
//!
//! **Serving.** With `--snapshot-interval N`, every height that is a multiple of N is a snapshot
//! for as long as the store keeps its state: the latest one is offered, and its state is served in
//! chunks ([`kessai_store::Store::snapshot_chunk`]: leaves in key-hash order, at most 1 MiB of
//! keys and values, with a range proof). Nothing is copied: a snapshot is a height of the tree,
//! and state pruning keeps the latest two ([`kessai_store::Store::keep_snapshots`]).
//! Questions travel on block sync's request-response protocol (`SyncRequest::Snapshot`), borsh
//! [`SnapshotRequest`] / [`SnapshotResponse`], served on its bounded blocking path.
//!
//! **Joining** ([`join`], `kessai node run --state-sync-trust-height H --state-sync-trust-hash X`):
//! the node trusts nothing its peers say. It fetches the header of the trusted height with its
//! commit and validator sets and checks the header's hash against the one it was given
//! ([`kessai_light_client::TrustedState`]: the sets hash to the header's, the commit carries
//! more than two thirds of the set's power); it then asks each peer for its latest snapshot and
//! verifies that header from the trusted one with the light client's rules
//! ([`kessai_light_client::verify_skipping`]: trusting period, more than 1/3 of the trusted set and
//! 2/3 of its own). Each chunk is verified against that header's `state_root` as it arrives
//! ([`kessai_store::StateRestore`]); a peer that sends a chunk that does not verify is penalised
//! and the chunk is fetched from another. The store then holds the snapshot's height as its
//! latest (header, commit, state; no block below it), and the node goes on as any node that is
//! behind: block sync from the next height, and votes if it is a validator.
//!
//! A node stopped in the middle finds a database holding part of a state and no block: it removes
//! it and starts over.

use crate::home::Home;
use anyhow::{anyhow, bail, Context, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_chainspec::ChainSpec;
use kessai_light_client::{TrustOptions, TrustedState};
use kessai_network::{AllowList, NetworkConfig, PeerId, SyncProvider, MAX_MESSAGE_BYTES_LIMIT};
use kessai_primitives::{Commit, Hash, Header, Keypair, ValidatorSet};
use kessai_state::system;
use kessai_store::{ChunkError, SnapshotChunk, StateRestore, Store, StoreConfig, MAX_CHUNK_BYTES};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fault injection for tests: a node started with this variable set to `1` serves every snapshot
/// chunk with its first value altered (a lying peer).
pub const FAULT_CORRUPT_CHUNKS: &str = "KESSAI_FAULT_CORRUPT_SNAPSHOT_CHUNKS";

/// Fault injection for tests: milliseconds a node waits before serving each chunk (a slow peer,
/// so that a test can stop a joining node in the middle).
pub const FAULT_CHUNK_DELAY_MS: &str = "KESSAI_FAULT_SNAPSHOT_CHUNK_DELAY_MS";

/// Bytes of keys and values per served chunk, below [`MAX_CHUNK_BYTES`] (tests and benchmarks: many
/// small chunks spread a join over every peer).
pub const CHUNK_BYTES_VAR: &str = "KESSAI_SNAPSHOT_CHUNK_BYTES";

/// A progress line is logged every this many chunks.
const PROGRESS_EVERY: u64 = 50;

/// How long a joining node waits for peers, for a trusted header and for a snapshot offer.
const JOIN_PATIENCE: Duration = Duration::from_secs(120);

/// Which snapshots a node takes and serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// Heights that are a multiple of this are snapshots (0: none served).
    pub interval: u64,
}

/// The root of trust of a node that joins by state sync: a header it trusts, named by height and
/// hash (from an operator of the chain, a block explorer, or a light client's verified header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSyncConfig {
    /// Height of the trusted header.
    pub trust_height: u64,
    /// Its hash (the block id).
    pub trust_hash: Hash,
}

/// A question about snapshots.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub enum SnapshotRequest {
    /// The header of the latest snapshot the peer serves.
    Latest,
    /// The header of a height (with its validator sets), for the root of trust.
    Header {
        /// The height asked for.
        height: u64,
    },
    /// A chunk of the state of a snapshot height.
    Chunk {
        /// The snapshot's height.
        height: u64,
        /// The first key hash wanted.
        start: [u8; 32],
    },
}

/// A header with what a light client needs to verify it: its commit, the set that signed it and
/// the set that signs the next height (both read from the state of that height).
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub struct SnapshotHeader {
    /// The header.
    pub header: Header,
    /// Its commit.
    pub commit: Commit,
    /// The set that signed it.
    pub validators: ValidatorSet,
    /// The set that signs the next height.
    pub next_validators: ValidatorSet,
}

/// The answer to a [`SnapshotRequest`]; `None` when the peer does not have it.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub enum SnapshotResponse {
    /// Answers `Latest` and `Header`.
    Header(Option<Box<SnapshotHeader>>),
    /// Answers `Chunk`.
    Chunk(Option<SnapshotChunk>),
}

/// Serves the blocks of block sync ([`crate::service::sync::ChainSyncProvider`]) and the
/// snapshots of [`SnapshotConfig`].
pub struct NodeSyncProvider {
    blocks: crate::service::sync::ChainSyncProvider,
    store: Store,
    config: SnapshotConfig,
    corrupt: bool,
    chunk_bytes: usize,
    delay: Option<Duration>,
}

impl NodeSyncProvider {
    /// Serves `chain`'s blocks, and its snapshots if `config` takes any.
    pub fn new(chain: Arc<crate::chain::Chain>, config: SnapshotConfig) -> NodeSyncProvider {
        let corrupt = std::env::var(FAULT_CORRUPT_CHUNKS).is_ok_and(|v| v == "1");
        if corrupt {
            tracing::warn!("fault injection: serving corrupted snapshot chunks");
        }
        let chunk_bytes = std::env::var(CHUNK_BYTES_VAR)
            .ok()
            .and_then(|bytes| bytes.parse().ok())
            .map_or(MAX_CHUNK_BYTES, |bytes: usize| bytes.clamp(1, MAX_CHUNK_BYTES));
        let store = chain.store.clone();
        store.keep_snapshots(config.interval);
        let delay = std::env::var(FAULT_CHUNK_DELAY_MS)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        NodeSyncProvider {
            blocks: crate::service::sync::ChainSyncProvider(chain),
            store,
            config,
            corrupt,
            chunk_bytes,
            delay,
        }
    }

    /// The latest snapshot height whose state is still kept.
    fn latest_snapshot(&self) -> Option<u64> {
        let interval = self.config.interval;
        let latest = self.store.latest_height()?;
        let height = (interval > 0).then(|| latest / interval * interval)?;
        (height > 0 && height >= self.store.earliest_state_height()).then_some(height)
    }

    fn is_snapshot(&self, height: u64) -> bool {
        let interval = self.config.interval;
        interval > 0 && height > 0 && height.is_multiple_of(interval)
    }

    fn header(&self, height: u64) -> Option<Box<SnapshotHeader>> {
        let store = &self.store;
        let read_set = |key: Vec<u8>| -> Option<ValidatorSet> {
            borsh::from_slice(&store.get_at(&key, height).ok()??).ok()
        };
        Some(Box::new(SnapshotHeader {
            header: store.header(height).ok()??,
            commit: store.commit(height).ok()??,
            validators: read_set(system::current_validators_key())?,
            next_validators: read_set(system::next_validators_key())?,
        }))
    }

    fn chunk(&self, height: u64, start: [u8; 32]) -> Option<SnapshotChunk> {
        if !self.is_snapshot(height) {
            return None;
        }
        if let Some(delay) = self.delay {
            // A blocking thread of the serving path: only this request waits.
            std::thread::sleep(delay);
        }
        let mut chunk = match self.store.snapshot_chunk(height, start, self.chunk_bytes) {
            Ok(chunk) => chunk?,
            Err(error) => {
                tracing::debug!(height, %error, "snapshot chunk not served");
                return None;
            }
        };
        if self.corrupt {
            chunk.entries[0].1.push(0x5a);
        }
        Some(chunk)
    }
}

impl SyncProvider for NodeSyncProvider {
    fn latest_height(&self) -> u64 {
        self.blocks.latest_height()
    }

    fn blocks(&self, from: u64, to: u64) -> Vec<Vec<u8>> {
        self.blocks.blocks(from, to)
    }

    fn snapshot(&self, request: &[u8]) -> Vec<u8> {
        let response = match borsh::from_slice::<SnapshotRequest>(request) {
            Ok(SnapshotRequest::Latest) => {
                SnapshotResponse::Header(self.latest_snapshot().and_then(|h| self.header(h)))
            }
            Ok(SnapshotRequest::Header { height }) => SnapshotResponse::Header(self.header(height)),
            Ok(SnapshotRequest::Chunk { height, start }) => {
                SnapshotResponse::Chunk(self.chunk(height, start))
            }
            // The requester sees an answer it cannot decode.
            Err(_) => return Vec::new(),
        };
        borsh::to_vec(&response).expect("encoding to memory cannot fail")
    }
}

/// Serves nothing: the provider of a node's network while it joins (it has no chain yet).
struct Nothing;

impl SyncProvider for Nothing {
    fn latest_height(&self) -> u64 {
        0
    }
    fn blocks(&self, _: u64, _: u64) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// What a node needs to reach its peers while it joins.
#[derive(Clone, Debug)]
pub struct JoinNetwork {
    /// The libp2p listen address.
    pub p2p_addr: String,
    /// Peers to dial.
    pub bootnodes: Vec<String>,
}

/// What a state sync restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joined {
    /// The snapshot's height: the store's latest.
    pub height: u64,
    /// State leaves restored.
    pub keys: u64,
}

/// Fills `home`'s empty database with the state of a recent snapshot of its peers, verified from
/// `trust`: afterwards the store's latest height is the snapshot's. Does nothing (`None`) if the
/// database already holds a chain; removes one left by an interrupted state sync first.
pub async fn join(
    home: &Home,
    spec: &ChainSpec,
    node_key: &Keypair,
    network: &JoinNetwork,
    trust: &StateSyncConfig,
) -> Result<Option<Joined>> {
    let data_dir = home.data_dir();
    let mut store = open(&data_dir)?;
    if let Some((height, _)) = store.unfinished_restore()? {
        tracing::warn!(height, "an interrupted state sync left part of a state: starting over");
        drop(store);
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("cannot remove {}", data_dir.display()))?;
        store = open(&data_dir)?;
    }
    if let Some(height) = store.latest_height() {
        tracing::info!(height, "the database holds a chain already: no state sync");
        return Ok(None);
    }
    let started = Instant::now();
    let libp2p = start_network(spec, node_key, network).await?;
    // Every bootnode is asked for its snapshot: wait a little for them all, but not for long
    // once one answers (some may be down).
    let (all_by, first_connected) = (Instant::now() + Duration::from_secs(10), Instant::now());
    let mut first_peer: Option<Instant> = None;
    while libp2p.peers().len() < network.bootnodes.len() && Instant::now() < all_by {
        if !libp2p.peers().is_empty() {
            let since = *first_peer.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::debug!(
        peers = libp2p.peers().len(),
        waited_ms = first_connected.elapsed().as_millis() as u64,
        "state sync peers"
    );
    let result = Joiner { network: libp2p.clone(), trust: trust.clone(), chain_id: &spec.chain_id }
        .run(&store, spec)
        .await;
    libp2p.shutdown().await;
    let joined = result?;
    tracing::info!(
        height = joined.height,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state sync done: following the chain from the snapshot"
    );
    Ok(Some(joined))
}

fn open(data_dir: &std::path::Path) -> Result<Store> {
    Store::open_with(data_dir, &StoreConfig::default())
        .with_context(|| format!("cannot open the database in {}", data_dir.display()))
}

async fn start_network(
    spec: &ChainSpec,
    node_key: &Keypair,
    network: &JoinNetwork,
) -> Result<kessai_network::NetworkHandle> {
    let listen = network
        .p2p_addr
        .parse()
        .with_context(|| format!("p2p_addr {:?} is not a multiaddr", network.p2p_addr))?;
    let mut config = NetworkConfig::new(&spec.chain_id, listen);
    config.max_message_bytes = MAX_MESSAGE_BYTES_LIMIT;
    for bootnode in &network.bootnodes {
        let address = bootnode
            .parse()
            .with_context(|| format!("bootnode {bootnode:?} is not a multiaddr"))?;
        config.bootnodes.push(address);
    }
    // The spec's validators and nodes, and the operator's bootnodes: the peers a new node can
    // know before it has any state (decision 0027). What they serve is verified from the trusted
    // header.
    let mut keys = spec.network_keys();
    keys.extend(crate::config::bootnode_keys(&network.bootnodes));
    let allow = AllowList::new(keys);
    let mut registry = kessai_network::MetricsRegistry::default();
    let (handle, _inbound) = kessai_network::start_with_metrics(
        config,
        node_key,
        allow,
        Arc::new(Nothing),
        &mut registry,
    )
    .await?;
    Ok(handle)
}

struct Joiner<'a> {
    network: kessai_network::NetworkHandle,
    trust: StateSyncConfig,
    chain_id: &'a str,
}

impl Joiner<'_> {
    async fn run(&self, store: &Store, spec: &ChainSpec) -> Result<Joined> {
        let deadline = Instant::now() + JOIN_PATIENCE;
        let trusted = loop {
            if let Some(trusted) = self.trusted_header().await? {
                break trusted;
            }
            if Instant::now() > deadline {
                bail!(
                    "no peer served the trusted header at height {} with hash {} within {:?}",
                    self.trust.trust_height,
                    self.trust.trust_hash,
                    JOIN_PATIENCE
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        tracing::info!(height = trusted.height(), hash = %trusted.hash(), "trusted header verified");
        let mut unverified = None;
        let (snapshot, mut peers) = loop {
            match self.best_offer(&trusted).await {
                Ok(offer) => break offer,
                Err(reason) => unverified = reason.or(unverified),
            }
            if Instant::now() > deadline {
                let why =
                    unverified.map(|r| format!(" (the last offered: {r})")).unwrap_or_default();
                bail!(
                    "no peer offered a snapshot at or above the trusted height that verifies \
                     from it within {JOIN_PATIENCE:?}{why}"
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let height = snapshot.header.height;
        tracing::info!(height, peers = peers.len(), root = %snapshot.header.state_root, "fetching the state snapshot");
        let mut restore = StateRestore::begin(store, height, snapshot.header.state_root)?;
        let (mut chunks, mut turn) = (0u64, 0usize);
        // On a terminal, a spinner with the leaves restored (the total is not known in advance).
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} state sync: {msg} [{elapsed}]")
                    .expect("a valid template"),
            );
            bar
        });
        while let Some(start) = restore.next_start() {
            if peers.is_empty() {
                bail!("no peer serves the snapshot of height {height} any more; restart the node to start over");
            }
            let peer = peers[turn % peers.len()];
            turn += 1;
            let request = SnapshotRequest::Chunk { height, start };
            let chunk = match self.ask(peer, &request).await {
                Ok(SnapshotResponse::Chunk(Some(chunk))) => chunk,
                Ok(_) => {
                    tracing::info!(%peer, height, "the peer does not serve the snapshot (any more)");
                    peers.retain(|p| *p != peer);
                    continue;
                }
                Err(error) => {
                    tracing::info!(%peer, %error, "snapshot chunk request failed");
                    peers.retain(|p| *p != peer);
                    continue;
                }
            };
            match restore.add_chunk(chunk) {
                Ok(()) => chunks += 1,
                Err(ChunkError::Invalid(reason)) => {
                    self.network.penalise(peer, &format!("snapshot chunk: {reason}"));
                    peers.retain(|p| *p != peer);
                    continue;
                }
                Err(ChunkError::Store(error)) => return Err(error.into()),
            }
            if let Some(bar) = &bar {
                bar.set_message(format!("height {height}, {} leaves", restore.keys()));
                bar.tick();
            }
            if chunks % PROGRESS_EVERY == 0 {
                tracing::info!(height, chunks, keys = restore.keys(), "state sync progress");
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let keys = restore.keys();
        restore.finish(&snapshot.header, &snapshot.commit, &crate::chain::genesis_record(spec)?)?;
        tracing::info!(height, chunks, keys, "state snapshot restored and verified");
        Ok(Joined { height, keys })
    }

    async fn ask(&self, peer: PeerId, request: &SnapshotRequest) -> Result<SnapshotResponse> {
        let bytes = borsh::to_vec(request).expect("encoding to memory cannot fail");
        let answer = self.network.request_snapshot(peer, bytes).await?;
        borsh::from_slice(&answer).map_err(|e| anyhow!("undecodable snapshot answer: {e}"))
    }

    /// The trusted header from the first peer that serves one whose hash is the trusted hash and
    /// whose parts agree (commit and validator sets).
    async fn trusted_header(&self) -> Result<Option<TrustedState>> {
        let request = SnapshotRequest::Header { height: self.trust.trust_height };
        for peer in self.network.peers() {
            let Ok(SnapshotResponse::Header(Some(proof))) = self.ask(peer, &request).await else {
                continue;
            };
            let proof = *proof;
            if proof.header.id() != self.trust.trust_hash {
                tracing::warn!(%peer, height = self.trust.trust_height, got = %proof.header.id(), "a peer's header is not the trusted one");
                continue;
            }
            match TrustedState::new(
                proof.header,
                proof.commit,
                proof.validators,
                proof.next_validators,
            ) {
                Ok(state) if state.chain_id == self.chain_id => return Ok(Some(state)),
                Ok(_) => self.network.penalise(peer, "trusted header of another chain"),
                Err(error) => {
                    self.network.penalise(peer, &format!("trusted header does not verify: {error}"))
                }
            }
        }
        Ok(None)
    }

    /// The highest snapshot that some peers offer and whose header verifies from `trusted`, with
    /// the peers offering it; else why the last offer was not taken, if one was made. Peers whose
    /// offer contradicts itself or the trusted header are penalised; an offer that the light
    /// client cannot verify from it (the trusted header too old, the validators changed too much
    /// since) is only not taken: that is no fault of the peer.
    async fn best_offer(
        &self,
        trusted: &TrustedState,
    ) -> Result<(SnapshotHeader, Vec<PeerId>), Option<String>> {
        let mut offers: BTreeMap<(u64, Hash), (SnapshotHeader, Vec<PeerId>)> = BTreeMap::new();
        let mut refused = None;
        for peer in self.network.peers() {
            let Ok(SnapshotResponse::Header(Some(offer))) =
                self.ask(peer, &SnapshotRequest::Latest).await
            else {
                continue;
            };
            match self.check_offer(trusted, &offer) {
                Ok(true) => {
                    let key = (offer.header.height, offer.header.id());
                    offers.entry(key).or_insert_with(|| (*offer, Vec::new())).1.push(peer);
                }
                Ok(false) => {}
                Err(Refused::Lie(reason)) => {
                    self.network.penalise(peer, &format!("snapshot header: {reason}"))
                }
                Err(Refused::Unverified(reason)) => {
                    tracing::warn!(%peer, height = offer.header.height, %reason, "a snapshot header does not verify from the trusted one");
                    refused = Some(reason);
                }
            }
        }
        offers.pop_last().map(|(_, offer)| offer).ok_or(refused)
    }

    /// Whether a peer's snapshot header can be used: `Ok(false)` below the trusted height.
    fn check_offer(&self, trusted: &TrustedState, offer: &SnapshotHeader) -> Result<bool, Refused> {
        let height = offer.header.height;
        if height < trusted.height() {
            return Ok(false);
        }
        // The sets the state sync will start from must be the header's own.
        let state = TrustedState::new(
            offer.header.clone(),
            offer.commit.clone(),
            offer.validators.clone(),
            offer.next_validators.clone(),
        )
        .map_err(|e| Refused::Lie(e.to_string()))?;
        if height == trusted.height() {
            return match state.hash() == trusted.hash() {
                true => Ok(true),
                false => Err(Refused::Lie("another header at the trusted height".into())),
            };
        }
        let now = kessai_primitives::time::now_ms();
        kessai_light_client::verify::verify(
            trusted,
            &offer.header,
            &offer.commit,
            &offer.validators,
            now,
            &TrustOptions::default(),
        )
        .map(|_| true)
        .map_err(|e| Refused::Unverified(e.to_string()))
    }
}

/// Why a snapshot header offered by a peer is not taken.
enum Refused {
    /// It contradicts itself (sets, commit) or the trusted header: the peer lies.
    Lie(String),
    /// The light client cannot verify it from the trusted header.
    Unverified(String),
}
