//! gossipsub configured for a small permissioned network: 4 to 7 validators, possibly one peer.

use crate::config::Topic;
use libp2p::gossipsub::{
    self, ConfigBuilder, IdentTopic, MessageAuthenticity, MessageId, PeerScoreParams,
    PeerScoreThresholds, TopicHash, TopicScoreParams, ValidationMode,
};
use libp2p::identity;
use std::time::Duration;

/// Room around a payload for the signed envelope (author, sequence number, signature, topic,
/// framing). The transport accepts `max_message_bytes + ENVELOPE_BYTES`; the payload bound itself is
/// checked on delivery so that an oversize message is attributed to the peer that sent it.
const ENVELOPE_BYTES: usize = 64 * 1024;

/// Score of one invalid message (bad signature, oversize, wrong author). A peer whose gossipsub score
/// falls below [`BAN_SCORE`] is penalised like any other misbehaving peer.
const INVALID_MESSAGE_WEIGHT: f64 = -1000.0;

/// Scores below this are banned. Only invalid messages (and repeated protocol violations such as
/// grafting during a backoff, weighted by gossipsub's default behaviour penalty) can reach it.
pub(crate) const BAN_SCORE: f64 = -500.0;

/// The two topics of one chain and their hashes.
#[derive(Clone)]
pub(crate) struct Topics {
    transactions: IdentTopic,
    consensus: IdentTopic,
}

impl Topics {
    pub(crate) fn new(chain_id: &str) -> Topics {
        Topics {
            transactions: IdentTopic::new(Topic::Transactions.name(chain_id)),
            consensus: IdentTopic::new(Topic::Consensus.name(chain_id)),
        }
    }

    pub(crate) fn get(&self, topic: Topic) -> &IdentTopic {
        match topic {
            Topic::Transactions => &self.transactions,
            Topic::Consensus => &self.consensus,
        }
    }

    pub(crate) fn topic_of(&self, hash: &TopicHash) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| self.get(*topic).hash() == *hash)
    }
}

/// Messages are identified by their content, so the same transaction or vote published twice (or by
/// two nodes) is delivered once.
fn message_id(message: &gossipsub::Message) -> MessageId {
    MessageId::new(blake3::hash(&message.data).as_bytes())
}

pub(crate) fn behaviour(
    key: &identity::Keypair,
    topics: &Topics,
    max_message_bytes: usize,
    ban_duration: Duration,
) -> Result<gossipsub::Behaviour, String> {
    let config = ConfigBuilder::default()
        // Every message is signed by its author and checked, so `from` is authentic.
        .validation_mode(ValidationMode::Strict)
        // Delivery waits for our verdict (the size check) before the message is forwarded.
        .validate_messages()
        .message_id_fn(message_id)
        .max_transmit_size(max_message_bytes + ENVELOPE_BYTES)
        // A full mesh up to 7 validators (6 peers each). Below `mesh_n_low` a newly subscribed peer
        // joins the mesh at once rather than at the next heartbeat; with fewer peers than that (even
        // one) the mesh is simply all of them. Flood publishing sends our own messages to every
        // subscribed peer, mesh or not.
        .mesh_n(6)
        .mesh_n_low(4)
        .mesh_n_high(12)
        .mesh_outbound_min(2)
        .gossip_lazy(6)
        .flood_publish(true)
        .build()
        .map_err(|e| format!("gossipsub configuration: {e}"))?;
    let mut behaviour = gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)
        .map_err(|e| format!("gossipsub: {e}"))?;
    behaviour
        .with_peer_score(score_params(topics, ban_duration), PeerScoreThresholds::default())
        .map_err(|e| format!("gossipsub scoring: {e}"))?;
    Ok(behaviour)
}

/// Scoring reduced to what a permissioned network needs: punish invalid messages. Delivery-rate and
/// mesh-time components are off (a quiet chain must not look like a lazy peer), and so is the IP
/// colocation penalty (members may share a data centre; tests share 127.0.0.1).
fn score_params(topics: &Topics, ban_duration: Duration) -> PeerScoreParams {
    let topic = TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: 0.9,
        ..TopicScoreParams::default()
    };
    PeerScoreParams {
        topics: Topic::ALL.into_iter().map(|t| (topics.get(t).hash(), topic.clone())).collect(),
        ip_colocation_factor_weight: 0.0,
        // Scores do not decay while a peer is away; forget them before its ban ends, or it would be
        // banned again the moment it returns.
        retain_score: ban_duration / 2,
        ..PeerScoreParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_valid_for_default_and_extreme_message_bounds() {
        let key = identity::Keypair::generate_ed25519();
        let topics = Topics::new("dev");
        for bound in [1, crate::DEFAULT_MAX_MESSAGE_BYTES, crate::config::MAX_MESSAGE_BYTES_LIMIT] {
            behaviour(&key, &topics, bound, Duration::from_secs(60)).unwrap();
        }
        score_params(&topics, Duration::from_secs(60)).validate().unwrap();
    }

    #[test]
    fn topics_map_back_from_their_hashes() {
        let topics = Topics::new("dev");
        for topic in Topic::ALL {
            assert_eq!(topics.topic_of(&topics.get(topic).hash()), Some(topic));
        }
        let other_chain = Topics::new("other");
        assert_eq!(topics.topic_of(&other_chain.get(Topic::Consensus).hash()), None);
    }

    #[test]
    fn message_ids_depend_on_content_only() {
        let message = |data: &[u8], seq| gossipsub::Message {
            source: Some(libp2p::PeerId::random()),
            data: data.to_vec(),
            sequence_number: Some(seq),
            topic: TopicHash::from_raw("t"),
        };
        assert_eq!(message_id(&message(b"vote", 1)), message_id(&message(b"vote", 2)));
        assert_ne!(message_id(&message(b"vote", 1)), message_id(&message(b"tx", 1)));
    }
}
