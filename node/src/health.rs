//! Health and readiness: `GET /health` and `GET /ready`, served on the RPC port (before
//! jsonrpsee, `rpc::server`) and on the metrics port (`metrics::serve`), for supervisors, load
//! balancers and orchestrators.
//!
//! - `/health`: the process serves HTTP; always 200 with `{"status":"ok","height":H,
//!   "protocol_version":V,"scheduled_upgrade":null}` (`scheduled_upgrade` is `{"protocol_version",
//!   "height"}` while governance has scheduled one: decision record 0020).
//! - `/ready`: 200 with `{"ready":true,"failing":[]}` when every condition holds, else 503 with the
//!   ones that do not (`kessai_rpc_api::Readiness`):
//!   - `syncing`: the sync service is catching up, or a peer is known to have committed at least
//!     two heights more than this node (one behind is every node for a moment, while a height is
//!     decided);
//!   - `no peers`: no connected peer while the validator set has more than one validator (a node
//!     alone cannot follow such a chain);
//!   - `storage failed`: the node cannot write to its disk (`storage.rs`);
//!   - for a validator (config `validator`): `not in the validator set` when the set signing the
//!     next block does not hold its key, and `signing waits for height H` while the chain is below
//!     the last height its key signed (`sign_state.rs`: `data/` was wiped or restored, and the key
//!     signs nothing at or below that position until the chain is past it).
//!
//! A full node (RPC node behind a load balancer) is ready when synced, connected and writable.

use crate::chain::Chain;
use crate::service::sync::PeerHeights;
use kessai_primitives::PublicKey;
use kessai_rpc_api::Readiness;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The HTTP paths served by [`Health::answer`].
pub const HEALTH_PATH: &str = "/health";
/// See [`HEALTH_PATH`].
pub const READY_PATH: &str = "/ready";

/// What readiness is computed from; cheap to evaluate on every request.
pub struct Health {
    /// Height, validator set and storage state.
    pub chain: Arc<Chain>,
    /// Connected peers; none when the node runs without networking.
    pub network: Option<kessai_network::NetworkHandle>,
    /// Set by the sync service while it catches up.
    pub syncing: Arc<AtomicBool>,
    /// The highest height peers are known to have committed.
    pub peer_heights: PeerHeights,
    /// The node's key when it runs as a validator (config `validator`).
    pub validator_key: Option<PublicKey>,
    /// The last height the key signed at start (its signing state beside the key): the key signs
    /// nothing at or below it.
    pub signed_floor: Option<u64>,
}

impl Health {
    /// The conditions of `/ready` (module docs) and which of them fail.
    pub fn readiness(&self) -> Readiness {
        let mut failing = Vec::new();
        let height = self.chain.height();
        if self.syncing.load(Ordering::Relaxed) || self.peer_heights.best() > height + 1 {
            failing.push("syncing".to_string());
        }
        let validators = self.chain.validators_for(height + 1);
        let set_size = validators.as_ref().map_or(0, |set| set.len());
        let peers = self.network.as_ref().map_or(0, |network| network.peers().len());
        if set_size > 1 && peers == 0 {
            failing.push("no peers".to_string());
        }
        if self.chain.storage.is_failed() {
            failing.push("storage failed".to_string());
        }
        if let Some(key) = &self.validator_key {
            match &validators {
                Ok(set) if set.get(key).is_some() => {}
                Ok(_) => failing.push("not in the validator set".to_string()),
                Err(e) => failing.push(format!("cannot read the validator set: {e}")),
            }
            if let Some(floor) = self.signed_floor.filter(|&floor| height < floor) {
                failing.push(format!("signing waits for height {floor}"));
            }
        }
        Readiness { ready: failing.is_empty(), failing }
    }

    /// The answer to a `GET` of `path`, as (HTTP status, JSON body), or none when `path` is
    /// neither [`HEALTH_PATH`] nor [`READY_PATH`].
    pub fn answer(&self, path: &str) -> Option<(u16, String)> {
        match path {
            HEALTH_PATH => {
                let height = self.chain.height();
                let body = serde_json::json!({
                    "status": "ok",
                    "height": height,
                    "protocol_version": self.chain.protocol_version_at(height + 1).ok(),
                    "scheduled_upgrade": self.chain.scheduled_upgrade().ok().flatten(),
                });
                Some((200, body.to_string()))
            }
            READY_PATH => {
                let readiness = self.readiness();
                let status = if readiness.ready { 200 } else { 503 };
                Some((status, serde_json::to_string(&readiness).expect("serialises")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kessai_chainspec::ChainSpec;
    use kessai_primitives::Keypair;

    fn health_of(spec: ChainSpec, dir: &std::path::Path) -> Health {
        Health {
            chain: Chain::open(spec, dir).unwrap(),
            network: None,
            syncing: Arc::default(),
            peer_heights: PeerHeights::default(),
            validator_key: Some(Keypair::dev("validator-0").public()),
            signed_floor: None,
        }
    }

    fn failing(health: &Health) -> Vec<String> {
        let readiness = health.readiness();
        assert_eq!(readiness.ready, readiness.failing.is_empty());
        readiness.failing
    }

    #[test]
    fn the_dev_validator_is_ready_until_a_condition_fails() {
        let dir = tempfile::tempdir().unwrap();
        let mut health = health_of(ChainSpec::dev(), dir.path());
        assert_eq!(failing(&health), Vec::<String>::new());
        assert_eq!(health.answer(READY_PATH).unwrap().0, 200);

        health.peer_heights.observed(1);
        assert_eq!(failing(&health), Vec::<String>::new(), "one behind is not syncing");
        health.peer_heights.observed(2);
        assert_eq!(failing(&health), ["syncing"]);
        let dir = tempfile::tempdir().unwrap();
        // Peer heights never go down: a node that has not seen them.
        health = health_of(ChainSpec::dev(), dir.path());
        health.syncing.store(true, Ordering::Relaxed);
        assert_eq!(failing(&health), ["syncing"]);
        health.syncing.store(false, Ordering::Relaxed);

        health.signed_floor = Some(5);
        assert_eq!(failing(&health), ["signing waits for height 5"]);
        health.signed_floor = Some(0);
        health.validator_key = Some(Keypair::dev("not-a-validator").public());
        assert_eq!(failing(&health), ["not in the validator set"]);
        health.validator_key = None;

        health.chain.storage.failed("block 1", &"No space left on device");
        assert_eq!(failing(&health), ["storage failed"]);
        let (status, body) = health.answer(READY_PATH).unwrap();
        assert_eq!(
            (status, body.as_str()),
            (503, r#"{"ready":false,"failing":["storage failed"]}"#)
        );
        assert_eq!(health.answer(HEALTH_PATH).unwrap().0, 200, "/health does not care");
        assert_eq!(health.answer("/metrics"), None);
    }

    #[test]
    fn a_node_of_a_four_validator_chain_needs_a_peer() {
        let dir = tempfile::tempdir().unwrap();
        let mut health = health_of(ChainSpec::local(), dir.path());
        health.validator_key = None;
        assert_eq!(failing(&health), ["no peers"]);
    }
}
