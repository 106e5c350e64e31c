//! The node's libp2p networking: TCP + noise + yamux, connections only between members, gossip of
//! opaque messages on two topics, block sync by request-response.
//!
//! The crate moves bytes and knows peers; it does not know blocks or transactions. The node decides
//! what a message means and calls [`NetworkHandle::penalise`] when a peer sends garbage.
//!
//! - **Identity.** A node's libp2p key is its Kessai ed25519 key, so a [`PeerId`] names a member's
//!   [`kessai_primitives::PublicKey`] ([`peer_id_of`], [`public_key_of`]).
//! - **Permissioned.** A connection is refused when it is established, before any protocol runs on
//!   it, unless the remote key is in the [`AllowList`] and the peer is not banned. Removing a key
//!   closes that peer's open connections.
//! - **Gossip** ([`Topic`]): gossipsub with signed messages checked strictly, deduplicated by the
//!   blake3 hash of their content, at most `max_message_bytes` each. An oversize message is dropped
//!   and its sender penalised; peers that send invalid messages (bad signatures) are penalised too.
//! - **Sync** (`/kessai/sync/1`): [`NetworkHandle::request_blocks`] and
//!   [`NetworkHandle::request_status`], served from the node's [`SyncProvider`] on blocking threads.
//! - **Staying connected.** Bootnodes and every peer met are re-dialled with exponential backoff
//!   (1 s to 30 s) while disconnected.
//! - **Penalties.** [`NetworkHandle::penalise`] disconnects a peer and refuses it for
//!   [`BAN_DURATION`].

mod behaviour;
mod config;
mod gossip;
mod handle;
mod identity;
mod permission;
mod redial;
mod service;
mod sync;

pub use config::{NetworkConfig, Topic, DEFAULT_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES_LIMIT};
pub use handle::{InboundMessage, NetworkHandle, NetworkMetrics};
pub use identity::{key_of_peer_key, peer_id_of, peer_key_bytes, public_key_in, public_key_of};
pub use libp2p::metrics::Registry as MetricsRegistry;
pub use libp2p::{Multiaddr, PeerId};
pub use permission::AllowList;
pub use service::{start, start_with_metrics, BAN_DURATION, SYNC_REQUEST_TIMEOUT};
pub use sync::{
    Refusal, SyncProvider, SyncRequest, SyncResponse, MAX_SNAPSHOT_REQUEST_BYTES, MAX_SYNC_HEIGHTS,
    SYNC_PROTOCOL,
};

/// What can go wrong when starting the network or asking a peer something.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The [`NetworkConfig`] is refused (bad chain id, message bound out of range).
    #[error("invalid network configuration: {0}")]
    Config(String),
    #[error("cannot listen on {address}: {reason}")]
    /// The listen address could not be bound.
    Listen {
        /// The configured listen address.
        address: Multiaddr,
        /// Why libp2p could not listen on it.
        reason: String,
    },
    /// The request was refused: locally before sending (a range the protocol does not allow), or by
    /// the peer.
    #[error("sync request refused: {0}")]
    Refused(Refusal),
    /// No answer: the peer could not be dialled, is not allowed, timed out or went away.
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer asked.
        peer: PeerId,
        /// What went wrong, as libp2p reports it.
        reason: String,
    },
    /// The peer answered with something the protocol does not allow; it has been penalised.
    #[error("peer {peer} sent an invalid response: {reason}")]
    InvalidResponse {
        /// The peer that answered.
        peer: PeerId,
        /// What is wrong with the answer.
        reason: String,
    },
    /// The swarm task is gone (the node is shutting down), so nothing can be sent or asked.
    #[error("the network service has stopped")]
    Shutdown,
}
