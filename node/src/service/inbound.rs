//! What arrives from peers: decoded, checked, and routed — transactions to the mempool, consensus
//! messages to the consensus task, heights to the sync service.
//!
//! Checks here are the cheap ones that let us blame a peer: a message that does not decode, is on the
//! wrong topic, is for another chain, carries a bad signature, or is a proposal from a validator that
//! is not that round's proposer. Its author is penalised (disconnected and refused for a while) and
//! the message dropped. The consensus core checks everything again; this is about who to blame.

use crate::chain::Chain;
use crate::mempool::{AdmitError, Mempool};
use crate::service::events::Event;
use crate::service::network::NetworkMessage;
use crate::service::sync::PeerHeights;
use kessai_network::{InboundMessage, PeerId, Topic};
use kessai_primitives::{SignedProposal, SignedTransaction, SignedVote};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Routes what peers send (see the module's documentation); run with [`InboundRouter::run`].
pub struct InboundRouter {
    /// Chain id, validator sets and proposers to check messages against.
    pub chain: Arc<Chain>,
    /// Where gossiped transactions are admitted.
    pub mempool: Arc<Mempool>,
    /// Where misbehaving peers are penalised.
    pub network: kessai_network::NetworkHandle,
    /// The consensus task, which gets the consensus messages.
    pub consensus: mpsc::Sender<Event>,
    /// Told the heights peers' messages show they have reached, for the sync service.
    pub heights: PeerHeights,
}

/// Gossiped transaction batches waiting for admission; a batch arriving when the queue is full is
/// dropped (its transactions still reach a block through the proposals of the node that admitted
/// them first).
const ADMISSION_QUEUE: usize = 256;

/// Gossiped transaction batches on their way to the admission thread.
type Admissions = mpsc::Sender<(PeerId, Vec<SignedTransaction>)>;

/// Why a peer's message was refused; the peer is penalised with this reason.
type Blame = String;

impl InboundRouter {
    /// Routes each message from `inbound` until the network closes it; a peer whose message fails
    /// the checks is penalised and the message dropped.
    pub async fn run(self, mut inbound: mpsc::Receiver<InboundMessage>) {
        let admissions = self.start_admission();
        while let Some(message) = inbound.recv().await {
            let from = message.from;
            if let Err(reason) = self.route(message, &admissions).await {
                tracing::warn!(peer = %from, %reason, "penalising peer");
                self.network.penalise(from, &reason);
            }
        }
    }

    async fn route(&self, message: InboundMessage, admissions: &Admissions) -> Result<(), Blame> {
        let decoded: NetworkMessage = borsh::from_slice(&message.data)
            .map_err(|e| format!("malformed gossip message: {e}"))?;
        let on_tx_topic = matches!(decoded, NetworkMessage::Txs(_));
        if on_tx_topic != (message.topic == Topic::Transactions) {
            return Err(format!("message on the wrong topic {:?}", message.topic));
        }
        match decoded {
            NetworkMessage::Txs(txs) => {
                if admissions.try_send((message.from, txs)).is_err() {
                    tracing::debug!("admission queue full; dropping a gossiped batch");
                }
                Ok(())
            }
            NetworkMessage::Proposal { proposal, block } => {
                self.check_proposal(&proposal)?;
                if let Some(block) = &block {
                    if block.id() != proposal.proposal.block {
                        return Err("proposal carries a block with another id".into());
                    }
                }
                self.heights.observed(proposal.proposal.height.saturating_sub(1));
                self.to_consensus(NetworkMessage::Proposal { proposal, block }).await;
                Ok(())
            }
            NetworkMessage::Vote(vote) => {
                self.check_vote(&vote)?;
                self.heights.observed(vote.vote.height.saturating_sub(1));
                self.to_consensus(NetworkMessage::Vote(vote)).await;
                Ok(())
            }
            NetworkMessage::Resend { votes, .. } => {
                for vote in &votes {
                    self.check_vote(vote)?;
                }
                for vote in votes {
                    self.heights.observed(vote.vote.height.saturating_sub(1));
                    self.to_consensus(NetworkMessage::Vote(vote)).await;
                }
                Ok(())
            }
            NetworkMessage::Evidence(evidence) => {
                evidence.verify().map_err(|e| format!("invalid evidence: {e}"))?;
                self.to_consensus(NetworkMessage::Evidence(evidence)).await;
                Ok(())
            }
        }
    }

    async fn to_consensus(&self, message: NetworkMessage) {
        let _ = self.consensus.send(Event::FromPeer(Box::new(message))).await;
    }

    fn check_vote(&self, vote: &SignedVote) -> Result<(), Blame> {
        if vote.vote.chain_id != self.chain.chain_id() {
            return Err(format!("vote for another chain ({})", vote.vote.chain_id));
        }
        vote.verify().map_err(|_| "vote with a bad signature".to_string())
    }

    fn check_proposal(&self, signed: &SignedProposal) -> Result<(), Blame> {
        let proposal = &signed.proposal;
        if proposal.chain_id != self.chain.chain_id() {
            return Err(format!("proposal for another chain ({})", proposal.chain_id));
        }
        signed.verify().map_err(|_| "proposal with a bad signature".to_string())?;
        // Only the next height's proposer is known here; later heights are checked by the core.
        if proposal.height == self.chain.tip_height() + 1 {
            if let Ok(validators) = self.chain.validators_for(proposal.height) {
                let expected = validators.proposer(proposal.height, proposal.round).public_key;
                if expected != proposal.proposer {
                    return Err(format!(
                        "proposal for round {} from {}, whose proposer is {expected}",
                        proposal.round, proposal.proposer
                    ));
                }
            }
        }
        Ok(())
    }

    /// Starts the thread that admits gossiped transactions (signature checks and state reads),
    /// off the routing loop so that votes are never stuck behind a batch of transactions, and one
    /// batch after another so that each account's nonces arrive in order. A transaction no honest
    /// mempool would have admitted (bad signature, another chain, oversize) blames its sender;
    /// nonce races and a full pool are normal and blame no one.
    fn start_admission(&self) -> Admissions {
        let (admissions, mut queue) =
            mpsc::channel::<(PeerId, Vec<SignedTransaction>)>(ADMISSION_QUEUE);
        let (chain, mempool, network) =
            (self.chain.clone(), self.mempool.clone(), self.network.clone());
        tokio::task::spawn_blocking(move || {
            while let Some((from, txs)) = queue.blocking_recv() {
                let invalid =
                    mempool.admit_relayed_batch(&chain, &txs).into_iter().find_map(|outcome| {
                        match outcome {
                            Err(AdmitError::Invalid(e)) => Some(e),
                            _ => None,
                        }
                    });
                if let Some(e) = invalid {
                    let reason = format!("gossiped an invalid transaction: {e}");
                    tracing::warn!(peer = %from, %reason, "penalising peer");
                    network.penalise(from, &reason);
                }
            }
        });
        admissions
    }
}
