//! Keeping in touch: bootnodes and peers we have met are re-dialled whenever they are not connected,
//! with exponential backoff (1 s, 2 s, 4 s, … capped at 30 s) reset by every successful connection.
//!
//! Pure bookkeeping: the swarm task feeds it events and the clock, and dials what [`Redialer::due`]
//! returns.

use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Addresses remembered per peer (identify may report one per interface).
const MAX_ADDRESSES: usize = 8;
/// Peers remembered; only allowed peers are ever identified, so this is a safety net.
const MAX_PEERS: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connected,
    Dialing,
    /// Not connected; dial at this instant.
    Waiting(Instant),
}

#[derive(Debug)]
struct Schedule {
    state: State,
    /// Delay before the next attempt if the current one fails or the connection is lost.
    backoff: Duration,
}

impl Schedule {
    fn due_now(now: Instant) -> Schedule {
        Schedule { state: State::Waiting(now), backoff: INITIAL_BACKOFF }
    }

    fn connected(&mut self) {
        self.state = State::Connected;
        self.backoff = INITIAL_BACKOFF;
    }

    fn retry_later(&mut self, now: Instant) {
        self.state = State::Waiting(now + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn is_due(&self, now: Instant) -> bool {
        matches!(self.state, State::Waiting(at) if at <= now)
    }
}

/// What a dial was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DialKey {
    Peer(PeerId),
    /// A bootnode given without `/p2p/<peer id>`: it becomes a [`DialKey::Peer`] once it answers.
    Address(Multiaddr),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Dial {
    pub(crate) key: DialKey,
    pub(crate) addresses: Vec<Multiaddr>,
}

pub(crate) struct Redialer {
    local: PeerId,
    peers: HashMap<PeerId, (Vec<Multiaddr>, Schedule)>,
    anonymous: Vec<(Multiaddr, Schedule)>,
    dialing: HashMap<ConnectionId, DialKey>,
}

impl Redialer {
    /// Bootnodes are due at once. A bootnode naming the local peer is skipped.
    pub(crate) fn new(local: PeerId, bootnodes: &[Multiaddr], now: Instant) -> Redialer {
        let mut redialer = Redialer {
            local,
            peers: HashMap::new(),
            anonymous: Vec::new(),
            dialing: HashMap::new(),
        };
        for bootnode in bootnodes {
            let (address, peer) = split_peer(bootnode);
            match peer {
                Some(peer) if peer == local => {}
                Some(peer) => {
                    let (addresses, _) = redialer
                        .peers
                        .entry(peer)
                        .or_insert_with(|| (Vec::new(), Schedule::due_now(now)));
                    add_address(addresses, address);
                }
                None if redialer.anonymous.iter().any(|(a, _)| *a == address) => {}
                None => redialer.anonymous.push((address, Schedule::due_now(now))),
            }
        }
        redialer
    }

    /// The dials to start now; each is marked as in progress until [`Redialer::started`] is told
    /// its connection id (or it is retried if the dial could not even start).
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Dial> {
        let mut dials = Vec::new();
        for (peer, (addresses, schedule)) in &mut self.peers {
            if schedule.is_due(now) && !addresses.is_empty() {
                schedule.state = State::Dialing;
                dials.push(Dial { key: DialKey::Peer(*peer), addresses: addresses.clone() });
            }
        }
        for (address, schedule) in &mut self.anonymous {
            if schedule.is_due(now) {
                schedule.state = State::Dialing;
                dials.push(Dial {
                    key: DialKey::Address(address.clone()),
                    addresses: vec![address.clone()],
                });
            }
        }
        dials
    }

    pub(crate) fn started(&mut self, connection: ConnectionId, key: DialKey) {
        self.dialing.insert(connection, key);
    }

    /// A dial that could not start (refused locally) or whose connection failed.
    pub(crate) fn failed(&mut self, connection: ConnectionId, now: Instant) {
        match self.dialing.remove(&connection) {
            Some(DialKey::Peer(peer)) => {
                if let Some((_, schedule)) = self.peers.get_mut(&peer) {
                    if schedule.state == State::Dialing {
                        schedule.retry_later(now);
                    }
                }
            }
            Some(DialKey::Address(address)) => {
                if let Some((_, schedule)) = self.anonymous.iter_mut().find(|(a, _)| *a == address)
                {
                    schedule.retry_later(now);
                }
            }
            None => {}
        }
    }

    /// A connection with `peer` is up, whoever dialled.
    pub(crate) fn connected(&mut self, peer: PeerId, connection: ConnectionId) {
        if let Some(DialKey::Address(address)) = self.dialing.remove(&connection) {
            // The anonymous bootnode turned out to be `peer`: from now on it is re-dialled as such.
            self.anonymous.retain(|(a, _)| *a != address);
            if peer != self.local {
                self.remember(peer, [address]);
            }
        }
        if let Some((_, schedule)) = self.peers.get_mut(&peer) {
            schedule.connected();
        }
    }

    /// The last connection with `peer` closed.
    pub(crate) fn disconnected(&mut self, peer: PeerId, now: Instant) {
        if let Some((_, schedule)) = self.peers.get_mut(&peer) {
            if schedule.state == State::Connected {
                schedule.retry_later(now);
            }
        }
    }

    /// Addresses a connected peer says it listens on (identify): it is re-dialled there if lost.
    pub(crate) fn learned(&mut self, peer: PeerId, addresses: impl IntoIterator<Item = Multiaddr>) {
        if peer == self.local {
            return;
        }
        let addresses: Vec<Multiaddr> = addresses
            .into_iter()
            .filter_map(|address| match split_peer(&address) {
                (address, None) => Some(address),
                (address, Some(p)) if p == peer => Some(address),
                _ => None,
            })
            .collect();
        self.remember(peer, addresses);
    }

    fn remember(&mut self, peer: PeerId, addresses: impl IntoIterator<Item = Multiaddr>) {
        if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_PEERS {
            return;
        }
        let (known, _) = self.peers.entry(peer).or_insert_with(|| {
            // Only connected peers are learned from.
            (Vec::new(), Schedule { state: State::Connected, backoff: INITIAL_BACKOFF })
        });
        for address in addresses {
            add_address(known, address);
        }
    }

    /// Dial every disconnected target again now with a fresh backoff (the allow list changed, so
    /// a peer refused so far may be welcome).
    pub(crate) fn retry_all(&mut self, now: Instant) {
        let schedules = self
            .peers
            .values_mut()
            .map(|(_, s)| s)
            .chain(self.anonymous.iter_mut().map(|(_, s)| s));
        for schedule in schedules {
            if matches!(schedule.state, State::Waiting(_)) {
                *schedule = Schedule::due_now(now);
            }
        }
    }
}

/// An address without its trailing `/p2p/<peer id>`, and that peer id.
fn split_peer(address: &Multiaddr) -> (Multiaddr, Option<PeerId>) {
    let mut address = address.clone();
    match address.iter().last() {
        Some(Protocol::P2p(peer)) => {
            address.pop();
            (address, Some(peer))
        }
        _ => (address, None),
    }
}

fn add_address(addresses: &mut Vec<Multiaddr>, address: Multiaddr) {
    if !addresses.contains(&address) && addresses.len() < MAX_ADDRESSES {
        addresses.push(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    fn with_peer(address: Multiaddr, peer: PeerId) -> Multiaddr {
        address.with(Protocol::P2p(peer))
    }

    /// Starts every due dial with a fresh connection id and returns them.
    fn start(redialer: &mut Redialer, now: Instant) -> Vec<(ConnectionId, Dial)> {
        redialer
            .due(now)
            .into_iter()
            .map(|dial| {
                let id = ConnectionId::new_unchecked(rand_id());
                redialer.started(id, dial.key.clone());
                (id, dial)
            })
            .collect()
    }

    fn rand_id() -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn bootnodes_are_dialled_at_once_except_ourselves() {
        let local = PeerId::random();
        let peer = PeerId::random();
        let now = Instant::now();
        let mut redialer = Redialer::new(
            local,
            &[with_peer(addr(1), peer), addr(2), addr(2), with_peer(addr(3), local)],
            now,
        );
        let mut dials = redialer.due(now);
        dials.sort_by_key(|d| matches!(d.key, DialKey::Address(_)));
        assert_eq!(
            dials,
            vec![
                Dial { key: DialKey::Peer(peer), addresses: vec![addr(1)] },
                Dial { key: DialKey::Address(addr(2)), addresses: vec![addr(2)] },
            ]
        );
        assert!(redialer.due(now).is_empty(), "in progress dials are not repeated");
    }

    /// Starts the next dial at or after `now` (scanning in half-second steps) and returns its id and
    /// instant.
    fn next_dial(redialer: &mut Redialer, now: Instant) -> (ConnectionId, Instant) {
        let mut at = now;
        while at < now + 2 * MAX_BACKOFF {
            if let Some((id, _)) = start(redialer, at).pop() {
                return (id, at);
            }
            at += Duration::from_millis(500);
        }
        panic!("no dial scheduled");
    }

    #[test]
    fn failed_dials_back_off_exponentially_up_to_the_cap() {
        let peer = PeerId::random();
        let start_time = Instant::now();
        let mut redialer = Redialer::new(PeerId::random(), &[with_peer(addr(1), peer)], start_time);
        let (mut id, mut now) = next_dial(&mut redialer, start_time);
        assert_eq!(now, start_time);
        let mut waits = Vec::new();
        for _ in 0..8 {
            redialer.failed(id, now);
            let (next, at) = next_dial(&mut redialer, now);
            waits.push((at - now).as_secs());
            (id, now) = (next, at);
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn a_connection_resets_the_backoff_and_a_loss_schedules_a_redial() {
        let peer = PeerId::random();
        let mut redialer =
            Redialer::new(PeerId::random(), &[with_peer(addr(1), peer)], Instant::now());
        let (mut id, mut now) = next_dial(&mut redialer, Instant::now());
        for _ in 0..4 {
            redialer.failed(id, now);
            (id, now) = next_dial(&mut redialer, now);
        }
        redialer.connected(peer, id);
        assert!(redialer.due(now + MAX_BACKOFF).is_empty(), "connected peers are not dialled");

        redialer.disconnected(peer, now);
        assert!(redialer.due(now + Duration::from_millis(999)).is_empty());
        assert_eq!(redialer.due(now + INITIAL_BACKOFF).len(), 1);
    }

    #[test]
    fn inbound_peers_are_redialled_at_the_addresses_they_announce() {
        let peer = PeerId::random();
        let other = PeerId::random();
        let now = Instant::now();
        let mut redialer = Redialer::new(PeerId::random(), &[], now);
        redialer.connected(peer, ConnectionId::new_unchecked(rand_id()));
        redialer.learned(peer, [addr(5), with_peer(addr(6), peer), with_peer(addr(7), other)]);
        assert!(redialer.due(now).is_empty());
        redialer.disconnected(peer, now);
        assert_eq!(
            redialer.due(now + INITIAL_BACKOFF),
            vec![Dial { key: DialKey::Peer(peer), addresses: vec![addr(5), addr(6)] }]
        );
    }

    #[test]
    fn an_anonymous_bootnode_becomes_the_peer_that_answered() {
        let peer = PeerId::random();
        let now = Instant::now();
        let mut redialer = Redialer::new(PeerId::random(), &[addr(9)], now);
        let (id, _) = start(&mut redialer, now).pop().unwrap();
        redialer.connected(peer, id);
        redialer.disconnected(peer, now);
        assert_eq!(
            redialer.due(now + INITIAL_BACKOFF),
            vec![Dial { key: DialKey::Peer(peer), addresses: vec![addr(9)] }]
        );
    }

    #[test]
    fn an_allow_list_change_retries_waiting_targets_now() {
        let peer = PeerId::random();
        let mut redialer =
            Redialer::new(PeerId::random(), &[with_peer(addr(1), peer)], Instant::now());
        let (mut id, mut now) = next_dial(&mut redialer, Instant::now());
        for _ in 0..5 {
            redialer.failed(id, now);
            (id, now) = next_dial(&mut redialer, now);
        }
        redialer.failed(id, now);
        assert!(redialer.due(now + Duration::from_secs(10)).is_empty());
        redialer.retry_all(now);
        assert_eq!(redialer.due(now).len(), 1);
    }
}
