//! Who may connect: members in the allow list, minus peers serving a ban.
//!
//! The check runs inside the swarm when a connection is established (after the noise handshake has
//! proved the remote's key) and before any protocol handler exists for it, so a peer that is not
//! allowed never gets a substream: no gossip, no sync, no identify. Dials to a known peer id are
//! refused before they start.

use crate::identity::public_key_of;
use kessai_primitives::PublicKey;
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::DeniedUpgrade;
use libp2p::core::Endpoint;
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound, FullyNegotiatedOutbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use parking_lot::RwLock;
use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::watch;

/// The members whose nodes may connect, shared between the node (which updates it when governance
/// admits or removes a member) and the network (which checks it on every connection).
///
/// Cheap to clone; all clones are the same list. Removing a key also closes the connections of that
/// peer that are already open.
#[derive(Clone)]
pub struct AllowList {
    keys: Arc<RwLock<BTreeSet<PublicKey>>>,
    /// A generation counter bumped on every change, so the swarm re-checks open connections at once.
    changes: Arc<watch::Sender<u64>>,
}

impl AllowList {
    /// A list holding `keys`.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> AllowList {
        AllowList {
            keys: Arc::new(RwLock::new(keys.into_iter().collect())),
            changes: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Whether `key` is allowed.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.keys.read().contains(key)
    }

    /// Whether `peer` is the node of an allowed key.
    pub fn allows(&self, peer: &PeerId) -> bool {
        public_key_of(peer).is_some_and(|key| self.contains(&key))
    }

    /// Admits `key`; returns whether it was new.
    pub fn insert(&self, key: PublicKey) -> bool {
        let inserted = self.keys.write().insert(key);
        if inserted {
            self.changed();
        }
        inserted
    }

    /// Removes `key` (its open connections are closed); returns whether it was present.
    pub fn remove(&self, key: &PublicKey) -> bool {
        let removed = self.keys.write().remove(key);
        if removed {
            self.changed();
        }
        removed
    }

    /// Replaces the whole list, e.g. with the member set of a newly committed block.
    pub fn replace(&self, keys: impl IntoIterator<Item = PublicKey>) {
        *self.keys.write() = keys.into_iter().collect();
        self.changed();
    }

    /// A copy of the current list.
    pub fn keys(&self) -> BTreeSet<PublicKey> {
        self.keys.read().clone()
    }

    /// How many keys are allowed.
    pub fn len(&self) -> usize {
        self.keys.read().len()
    }

    /// Whether no key is allowed (then no peer may connect).
    pub fn is_empty(&self) -> bool {
        self.keys.read().is_empty()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }
}

impl Default for AllowList {
    fn default() -> AllowList {
        AllowList::new([])
    }
}

impl FromIterator<PublicKey> for AllowList {
    fn from_iter<I: IntoIterator<Item = PublicKey>>(keys: I) -> AllowList {
        AllowList::new(keys)
    }
}

impl fmt::Debug for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys.read().iter()).finish()
    }
}

/// Why a connection was refused (the cause inside libp2p's `ConnectionDenied`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("peer {0} is not in the allow list")]
    NotAllowed(PeerId),
    #[error("peer {0} is banned")]
    Banned(PeerId),
}

/// The behaviour enforcing the allow list and bans. Listed first in the composed behaviour, so a
/// refusal happens before the other protocols create handlers for the connection.
pub(crate) struct Permission {
    allow: AllowList,
    banned_until: HashMap<PeerId, Instant>,
}

impl Permission {
    pub(crate) fn new(allow: AllowList) -> Permission {
        Permission { allow, banned_until: HashMap::new() }
    }

    pub(crate) fn allow_list(&self) -> &AllowList {
        &self.allow
    }

    /// Refuses connections with `peer` until `until` (the caller closes the open ones).
    pub(crate) fn ban(&mut self, peer: PeerId, until: Instant) {
        let entry = self.banned_until.entry(peer).or_insert(until);
        *entry = (*entry).max(until);
    }

    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.banned_until.get(peer).is_some_and(|until| *until > now)
    }

    /// Forgets bans that have run out and returns the peers they were on.
    pub(crate) fn expire_bans(&mut self, now: Instant) -> Vec<PeerId> {
        let expired: Vec<PeerId> = self
            .banned_until
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in &expired {
            self.banned_until.remove(peer);
        }
        expired
    }

    fn check(&self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        if self.is_banned(peer, Instant::now()) {
            return Err(ConnectionDenied::new(Refused::Banned(*peer)));
        }
        if !self.allow.allows(peer) {
            return Err(ConnectionDenied::new(Refused::NotAllowed(*peer)));
        }
        Ok(())
    }
}

impl NetworkBehaviour for Permission {
    type ConnectionHandler = KeepAlive;
    type ToSwarm = Infallible;

    fn handle_pending_outbound_connection(
        &mut self,
        _connection: ConnectionId,
        peer: Option<PeerId>,
        _addresses: &[Multiaddr],
        _role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        // Dialling an address without a peer id is checked once the handshake names the peer.
        if let Some(peer) = peer {
            self.check(&peer)?;
        }
        Ok(Vec::new())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _connection: ConnectionId,
        peer: PeerId,
        _local: &Multiaddr,
        _remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer)?;
        Ok(KeepAlive)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection: ConnectionId,
        peer: PeerId,
        _address: &Multiaddr,
        _role: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer)?;
        Ok(KeepAlive)
    }

    fn on_swarm_event(&mut self, _event: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _connection: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _cx: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// A handler with no protocol that keeps the connection open: the members of a permissioned chain
/// stay connected even while no protocol is busy (gossipsub only keeps its mesh peers), and a peer
/// that must go is disconnected explicitly (ban, removal from the allow list).
pub(crate) struct KeepAlive;

impl ConnectionHandler for KeepAlive {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = DeniedUpgrade;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<DeniedUpgrade> {
        SubstreamProtocol::new(DeniedUpgrade, ())
    }

    fn connection_keep_alive(&self) -> bool {
        true
    }

    fn on_behaviour_event(&mut self, event: Infallible) {
        match event {}
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<DeniedUpgrade, (), Infallible>> {
        Poll::Pending
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<DeniedUpgrade, DeniedUpgrade>) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol, ..
            }) => match protocol {},
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol, ..
            }) => match protocol {},
            // DeniedUpgrade offers no protocol: nothing else can carry information for us.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::peer_id_of;
    use kessai_primitives::Keypair;
    use std::time::Duration;

    #[test]
    fn allow_list_updates_are_shared_and_signalled() {
        let alice = Keypair::dev("alice").public();
        let bob = Keypair::dev("bob").public();
        let list = AllowList::new([alice]);
        let clone = list.clone();
        let mut changes = list.subscribe();

        assert!(clone.allows(&peer_id_of(&alice)));
        assert!(!clone.allows(&peer_id_of(&bob)));
        assert!(!changes.has_changed().unwrap());

        assert!(list.insert(bob));
        assert!(!list.insert(bob), "second insert is not new");
        assert!(clone.allows(&peer_id_of(&bob)));
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();

        assert!(clone.remove(&alice));
        assert!(!list.allows(&peer_id_of(&alice)));
        assert!(changes.has_changed().unwrap());

        list.replace([alice]);
        assert_eq!(clone.keys(), BTreeSet::from([alice]));
        assert!(!AllowList::default().allows(&peer_id_of(&alice)));
    }

    #[test]
    fn only_allowed_and_unbanned_peers_pass() {
        let alice = peer_id_of(&Keypair::dev("alice").public());
        let bob = peer_id_of(&Keypair::dev("bob").public());
        let mut permission = Permission::new(AllowList::new([Keypair::dev("alice").public()]));
        assert!(permission.check(&alice).is_ok());
        assert!(permission.check(&bob).is_err());
        assert!(permission.check(&PeerId::random()).is_err());

        let now = Instant::now();
        permission.ban(alice, now + Duration::from_secs(60));
        assert!(permission.check(&alice).is_err());
        assert!(permission.is_banned(&alice, now));
        assert!(permission.expire_bans(now).is_empty());
        assert_eq!(permission.expire_bans(now + Duration::from_secs(61)), vec![alice]);
        assert!(permission.check(&alice).is_ok());
    }

    #[test]
    fn a_shorter_ban_does_not_shorten_a_longer_one() {
        let alice = peer_id_of(&Keypair::dev("alice").public());
        let mut permission = Permission::new(AllowList::default());
        let now = Instant::now();
        permission.ban(alice, now + Duration::from_secs(60));
        permission.ban(alice, now + Duration::from_secs(1));
        assert!(permission.is_banned(&alice, now + Duration::from_secs(30)));
    }
}
