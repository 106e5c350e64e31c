//! What the node says to its peers, and the handle the services use to say it.
//!
//! Messages are borsh-encoded [`NetworkMessage`]s gossiped by `kessai-network`: transactions on the
//! transaction topic, everything else on the consensus topic. A one-validator chain has no network:
//! its handle drops everything.
//!
//! Transactions are not gossiped one by one: gossipsub signs every message, so at thousands of
//! transactions per second the signatures alone would eat a core. A batcher gathers what the node
//! admitted over a few milliseconds into one [`NetworkMessage::Txs`].

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_network::Topic;
use kessai_primitives::{Block, Evidence, SignedProposal, SignedTransaction, SignedVote};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Every gossiped message, borsh-encoded on the wire.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub enum NetworkMessage {
    /// Transactions admitted by the sender's mempool, in nonce order per account.
    Txs(Vec<SignedTransaction>),
    /// A proposal and, from its proposer, the block it proposes.
    Proposal {
        /// The signed proposal, naming the block by id.
        proposal: SignedProposal,
        /// The proposed block (boxed: it is large) if the sender holds it; without it, a peer must
        /// have received the body already.
        block: Option<Box<Block>>,
    },
    /// A prevote or precommit.
    Vote(SignedVote),
    /// A validator's own votes of the current height, sent again while the height makes no
    /// progress, for peers that missed them (gossip does not retry). `nonce` makes each resend a new
    /// gossip message: gossipsub drops a message identical to one it has already seen.
    Resend {
        /// The validator's votes of the current height.
        votes: Vec<SignedVote>,
        /// A counter of the sender's resends.
        nonce: u64,
    },
    /// Proof that a validator misbehaved (two conflicting votes at one height, round and kind),
    /// for the next blocks to carry.
    Evidence(Evidence),
}

impl NetworkMessage {
    fn topic(&self) -> Topic {
        match self {
            NetworkMessage::Txs(_) => Topic::Transactions,
            _ => Topic::Consensus,
        }
    }
}

/// How long the batcher waits for more transactions before it gossips what it has.
const TX_BATCH_WINDOW: Duration = Duration::from_millis(10);

/// Most transactions in one gossiped batch.
const MAX_TX_BATCH: usize = 512;

/// Bytes at which a batch is sent without waiting for more: well under the gossip message bound
/// (a single transaction is far smaller than that bound, so a batch never exceeds it).
const MAX_TX_BATCH_BYTES: usize = 1024 * 1024;

/// Transactions waiting for the batcher; beyond this they are not gossiped (they still reach a
/// block through this node's own proposals).
const TX_QUEUE: usize = 50_000;

/// What the services publish through: the libp2p network, an in-memory one (tests), or nothing (a
/// one-validator chain, [`Default`]).
#[derive(Clone, Default)]
pub struct NetworkHandle {
    inner: Option<Connected>,
    /// The in-memory network of [`NetworkHandle::observed`] and [`NetworkHandle::in_memory`].
    observer: Option<Observer>,
}

/// Receives what an in-memory [`NetworkHandle`] publishes (see [`NetworkHandle::observed`]).
type Observer = Arc<dyn Fn(NetworkMessage) + Send + Sync>;

#[derive(Clone)]
struct Connected {
    network: kessai_network::NetworkHandle,
    txs: mpsc::Sender<SignedTransaction>,
}

impl NetworkHandle {
    /// A handle with no network behind it (a one-validator chain).
    pub fn disconnected() -> NetworkHandle {
        NetworkHandle::default()
    }

    /// A handle whose published messages (and gossiped transactions, one per message) go to the
    /// returned receiver instead of a network: the in-memory network of the consensus shell's
    /// tests, where a harness decides what each message reaches, and when.
    pub fn in_memory() -> (NetworkHandle, mpsc::UnboundedReceiver<NetworkMessage>) {
        let (sink, messages) = mpsc::unbounded_channel();
        let handle = NetworkHandle::observed(move |message| {
            let _ = sink.send(message);
        });
        (handle, messages)
    }

    /// A handle that passes each published message (and gossiped transaction, one per message) to
    /// `observer` at once, on the publishing thread, before `publish` returns. A test hook: the
    /// observer sees the node exactly as it was when the message left (was its block journaled,
    /// its WAL record written, the block below on disk?), which a receiver woken later cannot.
    pub fn observed(observer: impl Fn(NetworkMessage) + Send + Sync + 'static) -> NetworkHandle {
        NetworkHandle { inner: None, observer: Some(Arc::new(observer)) }
    }

    /// A handle publishing through `network`; starts the transaction batcher.
    pub fn connected(network: kessai_network::NetworkHandle) -> NetworkHandle {
        let (txs, queue) = mpsc::channel(TX_QUEUE);
        tokio::spawn(batch_transactions(network.clone(), queue));
        NetworkHandle { inner: Some(Connected { network, txs }), observer: None }
    }

    /// The libp2p handle, when there is a network.
    pub fn libp2p(&self) -> Option<&kessai_network::NetworkHandle> {
        self.inner.as_ref().map(|c| &c.network)
    }

    /// Gossips a message. Never blocks: a message the network cannot take now is dropped, which
    /// consensus tolerates like any lost message.
    pub fn publish(&self, message: NetworkMessage) {
        if let Some(observer) = &self.observer {
            observer(message);
            return;
        }
        if let Some(connected) = &self.inner {
            let bytes = borsh::to_vec(&message).expect("network messages encode");
            connected.network.publish(message.topic(), bytes);
        }
    }

    /// Queues an admitted transaction for gossip in the next batch.
    pub fn gossip_tx(&self, tx: SignedTransaction) {
        if let Some(observer) = &self.observer {
            observer(NetworkMessage::Txs(vec![tx]));
            return;
        }
        if let Some(connected) = &self.inner {
            if connected.txs.try_send(tx).is_err() {
                tracing::debug!("transaction gossip queue full; not gossiping a transaction");
            }
        }
    }
}

async fn batch_transactions(
    network: kessai_network::NetworkHandle,
    mut queue: mpsc::Receiver<SignedTransaction>,
) {
    while let Some(first) = queue.recv().await {
        let mut bytes = encoded_len(&first);
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + TX_BATCH_WINDOW;
        while batch.len() < MAX_TX_BATCH && bytes < MAX_TX_BATCH_BYTES {
            match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(tx)) => {
                    bytes += encoded_len(&tx);
                    batch.push(tx);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let bytes = borsh::to_vec(&NetworkMessage::Txs(batch)).expect("encodes");
        network.publish(Topic::Transactions, bytes);
    }
}

fn encoded_len(tx: &SignedTransaction) -> usize {
    borsh::object_length(tx).expect("encodes")
}
