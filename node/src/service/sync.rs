//! Block sync: serving our blocks to peers, and catching up when peers are ahead.
//!
//! A node learns that it is behind from gossip (a vote or proposal for a height above ours) and from
//! asking peers their height now and then. It then fetches blocks with
//! their commits in ranges of up to [`MAX_SYNC_HEIGHTS`] and hands them to the consensus task, the
//! only writer of the chain, which verifies each commit against the validator set of its height and
//! re-executes the block before committing it. A peer whose blocks do not verify is penalised.
//!
//! Progress is visible three ways: a progress bar on a terminal, the `syncing` flag of
//! `kessai status`, and the `kessai_sync_target_height` metric.

use crate::chain::Chain;
use crate::metrics::Metrics;
use crate::service::events::{Event, SyncedBlock};

use indicatif::{ProgressBar, ProgressStyle};
use kessai_network::{PeerId, SyncProvider, MAX_SYNC_HEIGHTS};

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// How often an idle node asks a peer for its height, in case it missed every announcement.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// How long a node one block behind waits for its own consensus before syncing that block.
const ONE_BLOCK_GRACE: Duration = Duration::from_secs(1);

/// A gap at least this large gets a progress bar.
const PROGRESS_BAR_MIN_GAP: u64 = 20;

/// Serves committed blocks with their commits from the store.
pub struct ChainSyncProvider(pub Arc<Chain>);

impl SyncProvider for ChainSyncProvider {
    fn latest_height(&self) -> u64 {
        self.0.height()
    }

    fn blocks(&self, from: u64, to: u64) -> Vec<Vec<u8>> {
        let store = &self.0.store;
        let mut out = Vec::new();
        for height in from..=to {
            let (Ok(Some(block)), Ok(Some(commit))) = (store.block(height), store.commit(height))
            else {
                break;
            };
            out.push(borsh::to_vec(&SyncedBlock { block, commit }).expect("encodes"));
        }
        out
    }
}

/// Heights peers have shown they committed; the sync service works towards the highest.
#[derive(Clone)]
pub struct PeerHeights(watch::Sender<u64>);

impl Default for PeerHeights {
    fn default() -> Self {
        PeerHeights(watch::channel(0).0)
    }
}

impl PeerHeights {
    /// A peer has committed `height` (or signed something at `height + 1`).
    pub fn observed(&self, height: u64) {
        self.0.send_if_modified(|best| {
            let higher = height > *best;
            if higher {
                *best = height;
            }
            higher
        });
    }

    /// The highest height peers are known to have committed (0 before any is known).
    pub fn best(&self) -> u64 {
        *self.0.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// Catches up from peers: when they are known to be ahead, fetches blocks with their commits and
/// hands them to the consensus task; run with [`SyncService::run`].
pub struct SyncService {
    /// The local chain, for the height to sync from.
    pub chain: Arc<Chain>,
    /// Where block-sync requests go.
    pub network: kessai_network::NetworkHandle,
    /// The consensus task, which verifies and commits the fetched blocks.
    pub consensus: mpsc::Sender<Event>,
    /// The highest height peers are known to have committed.
    pub heights: PeerHeights,
    /// Set while catching up (reported by RPC and metrics).
    pub syncing: Arc<AtomicBool>,
    /// Where the sync target height is reported.
    pub metrics: Arc<Metrics>,
}

impl SyncService {
    /// Runs until the peer heights' channel closes: on a higher peer height, and every poll
    /// interval, asks one peer (in turn) for the blocks above the local height.
    pub async fn run(self) {
        let mut target = self.heights.subscribe();
        let mut next_peer = 0usize;
        loop {
            tokio::select! {
                changed = target.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(POLL_INTERVAL) => self.poll_one_peer(&mut next_peer).await,
            }
            let goal = *target.borrow_and_update();
            if goal == self.chain.height() + 1 {
                // One block behind is what every node is for a moment while a height is decided:
                // let consensus finish it before fetching it.
                tokio::time::sleep(ONE_BLOCK_GRACE).await;
            }
            if goal > self.chain.height() {
                self.catch_up(goal, &mut next_peer).await;
            }
        }
    }

    /// Asks one peer (in turn) for its height.
    async fn poll_one_peer(&self, next_peer: &mut usize) {
        let Some(peer) = self.pick_peer(next_peer) else { return };
        if let Ok(height) = self.network.request_status(peer).await {
            self.heights.observed(height);
        }
    }

    fn pick_peer(&self, next_peer: &mut usize) -> Option<PeerId> {
        let peers = self.network.peers();
        if peers.is_empty() {
            return None;
        }
        *next_peer = next_peer.wrapping_add(1);
        Some(peers[*next_peer % peers.len()])
    }

    /// Fetches and applies blocks until the chain reaches `goal` or no peer can help.
    async fn catch_up(&self, goal: u64, next_peer: &mut usize) {
        let start = self.chain.height();
        self.syncing.store(true, Ordering::Relaxed);
        self.metrics.sync_target_height.set(goal as i64);
        let bar = progress_bar(start, goal);
        let mut failures = 0;
        while self.chain.height() < goal && failures < 2 * self.network.peers().len().max(1) {
            let from = self.chain.height() + 1;
            let to = goal.min(from + MAX_SYNC_HEIGHTS - 1);
            match self.fetch_and_apply(from, to, next_peer).await {
                Ok(applied) if applied > 0 => failures = 0,
                Ok(_) => failures += 1,
                Err(e) => {
                    tracing::debug!(error = %e, "sync attempt failed");
                    failures += 1;
                }
            }
            if let Some(bar) = &bar {
                bar.set_position(self.chain.height().saturating_sub(start));
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let reached = self.chain.height();
        if reached > start {
            tracing::info!(from = start, to = reached, goal, "synced blocks from peers");
        }
        self.syncing.store(false, Ordering::Relaxed);
    }

    /// One request to one peer; returns how many blocks were committed.
    async fn fetch_and_apply(
        &self,
        from: u64,
        to: u64,
        next_peer: &mut usize,
    ) -> anyhow::Result<u64> {
        let peer = self.pick_peer(next_peer).ok_or_else(|| anyhow::anyhow!("no peers"))?;
        let raw = self.network.request_blocks(peer, from, to).await?;
        let mut blocks = Vec::with_capacity(raw.len());
        for (i, bytes) in raw.iter().enumerate() {
            match borsh::from_slice::<SyncedBlock>(bytes) {
                Ok(b) if b.block.header.height == from + i as u64 => blocks.push(b),
                _ => {
                    self.network.penalise(peer, "sync response does not match the request");
                    anyhow::bail!("peer {peer} sent blocks that do not match the request");
                }
            }
        }
        if blocks.is_empty() {
            return Ok(0);
        }
        let (reply, verdict) = oneshot::channel();
        self.consensus.send(Event::Synced { blocks, reply }).await?;
        match verdict.await? {
            Ok(applied) => Ok(applied),
            Err(reason) => {
                self.network.penalise(peer, &format!("invalid synced block: {reason}"));
                anyhow::bail!("peer {peer} sent an invalid block: {reason}")
            }
        }
    }
}

fn progress_bar(start: u64, goal: u64) -> Option<ProgressBar> {
    if goal - start < PROGRESS_BAR_MIN_GAP || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(goal - start);
    bar.set_style(
        ProgressStyle::with_template(
            "syncing {bar:40} {pos}/{len} blocks ({per_sec}, eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    bar.set_message(format!("to height {goal}"));
    Some(bar)
}
