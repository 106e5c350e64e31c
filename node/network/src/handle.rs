//! The node's side of the network: a cheap, cloneable handle talking to the swarm task.

use crate::config::Topic;
use crate::sync::check_range;
use crate::NetworkError;
use libp2p::{Multiaddr, PeerId};
use parking_lot::RwLock;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// A gossip message from a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundMessage {
    /// The author: the peer that signed the message (verified), which may have reached us through
    /// another peer. This is the peer to penalise for a malformed message.
    pub from: PeerId,
    /// The topic it was published on.
    pub topic: Topic,
    /// The payload, opaque to the network: the node decodes it.
    pub data: Vec<u8>,
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkMetrics {
    /// Gossip messages delivered to the node.
    pub messages_received: u64,
    /// Gossip messages published to at least one peer.
    pub messages_published: u64,
    /// Gossip messages dropped because the node's inbound queue was full.
    pub messages_dropped: u64,
    /// Penalties applied (by the node or by the network itself).
    pub penalties: u64,
    /// Currently connected peers.
    pub peers: u64,
}

pub(crate) enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
    },
    Blocks {
        peer: PeerId,
        from: u64,
        to: u64,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, NetworkError>>,
    },
    Status {
        peer: PeerId,
        reply: oneshot::Sender<Result<u64, NetworkError>>,
    },
    Snapshot {
        peer: PeerId,
        request: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    },
    Penalise {
        peer: PeerId,
        reason: String,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// What the swarm task publishes for the handles to read.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) peers: RwLock<BTreeSet<PeerId>>,
    pub(crate) listen_addrs: RwLock<Vec<Multiaddr>>,
    pub(crate) messages_received: AtomicU64,
    pub(crate) messages_published: AtomicU64,
    pub(crate) messages_dropped: AtomicU64,
    pub(crate) penalties: AtomicU64,
}

/// Talks to the network. Cheap to clone; when the last clone is dropped the network shuts down.
#[derive(Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    local_peer_id: PeerId,
    max_message_bytes: usize,
}

impl NetworkHandle {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        shared: Arc<Shared>,
        local_peer_id: PeerId,
        max_message_bytes: usize,
    ) -> NetworkHandle {
        NetworkHandle { commands, shared, local_peer_id, max_message_bytes }
    }

    /// Gossips `data` on `topic`. Never blocks and never fails for the caller: with no peer
    /// subscribed yet the message is not sent (logged at debug; consensus and the mempool tolerate
    /// lost messages), an oversize message or a full queue is dropped with a warning.
    pub fn publish(&self, topic: Topic, data: Vec<u8>) {
        if data.len() > self.max_message_bytes {
            tracing::warn!(
                ?topic,
                bytes = data.len(),
                limit = self.max_message_bytes,
                "not publishing an oversize message"
            );
            return;
        }
        match self.commands.try_send(Command::Publish { topic, data }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(?topic, "network command queue full; dropped an outbound message")
            }
            Err(TrySendError::Closed(_)) => {
                tracing::debug!(?topic, "network stopped; dropped an outbound message")
            }
        }
    }

    /// The blocks of heights `from..=to` (at most [`crate::MAX_SYNC_HEIGHTS`]) that `peer` has: a
    /// prefix of the range, possibly empty. Contents are not checked here; the node verifies them
    /// and penalises the peer if they do not match.
    pub async fn request_blocks(
        &self,
        peer: PeerId,
        from: u64,
        to: u64,
    ) -> Result<Vec<Vec<u8>>, NetworkError> {
        check_range(from, to).map_err(NetworkError::Refused)?;
        self.ask(|reply| Command::Blocks { peer, from, to, reply }).await
    }

    /// The latest height `peer` reports.
    pub async fn request_status(&self, peer: PeerId) -> Result<u64, NetworkError> {
        self.ask(|reply| Command::Status { peer, reply }).await
    }

    /// Asks `peer` a state-snapshot question (state sync); its answer is opaque and unchecked
    /// here: the node verifies it and penalises the peer if it lies. `request` is at most
    /// [`crate::MAX_SNAPSHOT_REQUEST_BYTES`].
    pub async fn request_snapshot(
        &self,
        peer: PeerId,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, NetworkError> {
        if request.len() > crate::sync::MAX_SNAPSHOT_REQUEST_BYTES {
            return Err(NetworkError::Request {
                peer,
                reason: "snapshot request too large".into(),
            });
        }
        self.ask(|reply| Command::Snapshot { peer, request, reply }).await
    }

    /// Disconnects `peer` and refuses it for [`crate::BAN_DURATION`]; its gossip, also relayed by
    /// others, is ignored meanwhile.
    pub fn penalise(&self, peer: PeerId, reason: &str) {
        let command = Command::Penalise { peer, reason: reason.to_string() };
        if self.commands.try_send(command).is_err() {
            tracing::warn!(%peer, reason, "network command queue full or stopped; penalty dropped");
        }
    }

    /// Connected peers (all allowed: others never get a connection).
    pub fn peers(&self) -> Vec<PeerId> {
        self.shared.peers.read().iter().copied().collect()
    }

    /// This node's own peer id (derived from its key).
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The addresses we listen on, with a requested port 0 resolved. For a wildcard address
    /// (`0.0.0.0`) the per-interface addresses appear as the interfaces are discovered.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.shared.listen_addrs.read().clone()
    }

    /// The counters as they are now.
    pub fn metrics(&self) -> NetworkMetrics {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        NetworkMetrics {
            messages_received: count(&self.shared.messages_received),
            messages_published: count(&self.shared.messages_published),
            messages_dropped: count(&self.shared.messages_dropped),
            penalties: count(&self.shared.penalties),
            peers: self.shared.peers.read().len() as u64,
        }
    }

    /// Stops the network for every handle and waits until its listener and connections are closed.
    pub async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).await.is_ok() {
            // An error means it stopped on its own, which is just as good.
            let _ = stopped.await;
        }
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, NetworkError>>) -> Command,
    ) -> Result<T, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.map_err(|_| NetworkError::Shutdown)?;
        answer.await.map_err(|_| NetworkError::Shutdown)?
    }
}
