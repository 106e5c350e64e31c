//! What arrives from peers: decoded, checked, and routed — transactions to the mempool, consensus
//! messages to the consensus task, heights to the sync service.
//!
//! Checks here are the cheap ones that let us blame a peer: a message that does not decode, is on the
//! wrong topic, is for another chain, carries a bad signature, or is a proposal from a validator that
//! is not that round's proposer. Its author is penalised (disconnected and refused for a while) and
//! the message dropped. The consensus core checks everything again; this is about who to blame.

use crate::chain::Chain;
use crate::mempool::{AdmitError, Mempool};
use crate::service::consensus::Event;
use crate::service::network::NetworkMessage;
use crate::service::sync::PeerHeights;
use kessai_network::{InboundMessage, PeerId, Topic};
use kessai_primitives::{SignedProposal, SignedTransaction, SignedVote};
use std::sync::Arc;
use tokio::sync::mpsc;

pub struct InboundRouter {
    pub chain: Arc<Chain>,
    pub mempool: Arc<Mempool>,
    pub network: kessai_network::NetworkHandle,
    pub consensus: mpsc::Sender<Event>,
    pub heights: PeerHeights,
}

/// Why a peer's message was refused; the peer is penalised with this reason.
type Blame = String;

impl InboundRouter {
    pub async fn run(self, mut inbound: mpsc::Receiver<InboundMessage>) {
        while let Some(message) = inbound.recv().await {
            let from = message.from;
            if let Err(reason) = self.route(message).await {
                tracing::warn!(peer = %from, %reason, "penalising peer");
                self.network.penalise(from, &reason);
            }
        }
    }

    async fn route(&self, message: InboundMessage) -> Result<(), Blame> {
        let decoded: NetworkMessage = borsh::from_slice(&message.data)
            .map_err(|e| format!("malformed gossip message: {e}"))?;
        let on_tx_topic = matches!(decoded, NetworkMessage::Txs(_));
        if on_tx_topic != (message.topic == Topic::Transactions) {
            return Err(format!("message on the wrong topic {:?}", message.topic));
        }
        match decoded {
            NetworkMessage::Txs(txs) => self.admit(message.from, txs).await,
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
        if proposal.height == self.chain.height() + 1 {
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

    /// Admits gossiped transactions on a blocking thread (signature checks and state reads). A
    /// transaction no honest mempool would have admitted (bad signature, another chain, oversize)
    /// blames its sender; nonce races and a full pool are normal and blame no one.
    async fn admit(&self, from: PeerId, txs: Vec<SignedTransaction>) -> Result<(), Blame> {
        let chain = self.chain.clone();
        let mempool = self.mempool.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            for tx in txs {
                if let Err(AdmitError::Invalid(e)) = mempool.admit(&chain, tx) {
                    return Err(format!("gossiped an invalid transaction: {e}"));
                }
            }
            Ok(())
        })
        .await;
        match verdict {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(peer = %from, error = %e, "transaction admission panicked");
                Ok(())
            }
        }
    }
}
