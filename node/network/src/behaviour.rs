//! The protocols a connection runs, composed into one libp2p behaviour.

use crate::gossip::{self, Topics};
use crate::permission::{AllowList, Permission};
use crate::sync::{SyncCodec, SYNC_PROTOCOL};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{gossipsub, identify, identity};
use std::time::Duration;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    // First: it refuses a connection before the protocols below create handlers for it.
    pub(crate) permission: Permission,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) identify: identify::Behaviour,
}

pub(crate) struct Settings<'a> {
    pub(crate) allow: AllowList,
    pub(crate) topics: &'a Topics,
    pub(crate) max_message_bytes: usize,
    pub(crate) response_limit: usize,
    pub(crate) protocol_version: String,
    pub(crate) ban_duration: Duration,
    pub(crate) request_timeout: Duration,
}

impl Behaviour {
    pub(crate) fn new(key: &identity::Keypair, settings: Settings) -> Result<Behaviour, String> {
        let gossipsub = gossip::behaviour(
            key,
            settings.topics,
            settings.max_message_bytes,
            settings.ban_duration,
        )?;
        let sync = request_response::Behaviour::with_codec(
            SyncCodec { response_limit: settings.response_limit },
            [(SYNC_PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(settings.request_timeout),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(settings.protocol_version, key.public())
                .with_agent_version(format!("kessai/{}", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Behaviour { permission: Permission::new(settings.allow), gossipsub, sync, identify })
    }
}
