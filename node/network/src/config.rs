//! What a node is told about its network, and the names derived from the chain id.

use crate::NetworkError;
use libp2p::Multiaddr;

/// Default bound on one gossiped message: a proposal carries its block, so this bounds blocks too.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Largest `max_message_bytes` accepted: gossipsub buffers whole messages per peer, so a larger bound
/// would let a single peer pin that much memory per queued message.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 16 * 1024 * 1024;

/// What a node is told about its network: chain, listen address, bootnodes and message bound.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Names the gossip topics and the identify protocol: nodes of another chain do not talk to us.
    pub chain_id: String,
    /// Where to listen, e.g. `/ip4/0.0.0.0/tcp/30333`; port 0 picks a free port
    /// (see [`crate::NetworkHandle::listen_addrs`]).
    pub listen: Multiaddr,
    /// Peers to dial at start and to re-dial whenever the connection is lost. With a `/p2p/<peer id>`
    /// suffix the dial is refused locally unless that peer is allowed.
    pub bootnodes: Vec<Multiaddr>,
    /// Largest gossip payload published or accepted; bigger inbound messages are dropped and the peer
    /// that sent them is penalised.
    pub max_message_bytes: usize,
}

impl NetworkConfig {
    /// A configuration with no bootnodes and [`DEFAULT_MAX_MESSAGE_BYTES`].
    pub fn new(chain_id: impl Into<String>, listen: Multiaddr) -> NetworkConfig {
        NetworkConfig {
            chain_id: chain_id.into(),
            listen,
            bootnodes: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), NetworkError> {
        let invalid = |reason: String| Err(NetworkError::Config(reason));
        let id = &self.chain_id;
        if id.is_empty() || id.len() > 64 {
            return invalid(format!("chain id {id:?} must be 1 to 64 bytes"));
        }
        // It becomes a path segment of topic and protocol names.
        if id.chars().any(|c| c == '/' || c.is_whitespace() || c.is_control()) {
            return invalid(format!("chain id {id:?} must not contain '/', spaces or controls"));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MESSAGE_BYTES_LIMIT {
            return invalid(format!(
                "max_message_bytes {} must be between 1 and {MAX_MESSAGE_BYTES_LIMIT}",
                self.max_message_bytes
            ));
        }
        Ok(())
    }
}

/// The two gossip channels. Each is a gossipsub topic named after the chain id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `kessai/<chain_id>/tx`: transactions for the mempools.
    Transactions,
    /// `kessai/<chain_id>/consensus`: proposals, votes, evidence, commit announcements.
    Consensus,
}

impl Topic {
    /// Every topic, each of which a node subscribes to.
    pub const ALL: [Topic; 2] = [Topic::Transactions, Topic::Consensus];

    /// The gossipsub topic name on chain `chain_id`.
    pub fn name(self, chain_id: &str) -> String {
        let channel = match self {
            Topic::Transactions => "tx",
            Topic::Consensus => "consensus",
        };
        format!("kessai/{chain_id}/{channel}")
    }
}

/// The identify protocol version: peers announcing another one are on another chain.
pub(crate) fn protocol_version(chain_id: &str) -> String {
    format!("/kessai/{chain_id}/1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(chain_id: &str, max_message_bytes: usize) -> NetworkConfig {
        NetworkConfig {
            max_message_bytes,
            ..NetworkConfig::new(chain_id, "/ip4/127.0.0.1/tcp/0".parse().unwrap())
        }
    }

    #[test]
    fn topics_are_named_after_the_chain() {
        assert_eq!(Topic::Transactions.name("dev"), "kessai/dev/tx");
        assert_eq!(Topic::Consensus.name("dev"), "kessai/dev/consensus");
        assert_ne!(Topic::Consensus.name("a"), Topic::Consensus.name("b"));
    }

    #[test]
    fn valid_configuration_is_accepted() {
        config("kessai-local_1.0", DEFAULT_MAX_MESSAGE_BYTES).validate().unwrap();
        config(&"x".repeat(64), MAX_MESSAGE_BYTES_LIMIT).validate().unwrap();
    }

    #[test]
    fn bad_chain_ids_and_message_bounds_are_refused() {
        for chain_id in ["", "a/b", "a b", "tab\there", &"x".repeat(65)] {
            assert!(
                matches!(config(chain_id, 1024).validate(), Err(NetworkError::Config(_))),
                "{chain_id:?} accepted"
            );
        }
        for bound in [0, MAX_MESSAGE_BYTES_LIMIT + 1] {
            assert!(matches!(config("dev", bound).validate(), Err(NetworkError::Config(_))));
        }
    }
}
