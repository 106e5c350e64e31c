//! What the node says to its peers, and the handle the services use to say it.
//!
//! A one-validator chain has no peers: its handle drops everything. The libp2p service (gossipsub for
//! transactions and consensus messages, request-response for block sync) attaches to the same handle.

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::{Block, Evidence, SignedProposal, SignedTransaction, SignedVote};
use tokio::sync::mpsc;

/// Every gossiped message, borsh-encoded on the wire.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub enum NetworkMessage {
    Tx(SignedTransaction),
    /// A proposal and, from its proposer, the block it proposes.
    Proposal {
        proposal: SignedProposal,
        block: Option<Box<Block>>,
    },
    Vote(SignedVote),
    Evidence(Evidence),
    /// A node committed this height (peers behind it start syncing).
    Committed {
        height: u64,
    },
}

#[derive(Clone, Default)]
pub struct NetworkHandle {
    outbound: Option<mpsc::Sender<NetworkMessage>>,
}

impl NetworkHandle {
    /// A handle with no network behind it (a one-validator chain).
    pub fn disconnected() -> NetworkHandle {
        NetworkHandle { outbound: None }
    }

    pub fn connected(outbound: mpsc::Sender<NetworkMessage>) -> NetworkHandle {
        NetworkHandle { outbound: Some(outbound) }
    }

    /// Queues a message for gossip; drops it (with a warning) if the network falls behind, which
    /// consensus tolerates like any lost message.
    pub fn publish(&self, message: NetworkMessage) {
        if let Some(outbound) = &self.outbound {
            if outbound.try_send(message).is_err() {
                tracing::warn!("network queue full; dropped an outbound message");
            }
        }
    }
}
