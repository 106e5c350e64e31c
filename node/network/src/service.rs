//! The swarm task: owns the libp2p swarm and turns its events and the handles' commands into each
//! other.

use crate::behaviour::{Behaviour, BehaviourEvent, Settings};
use crate::config::{protocol_version, NetworkConfig, Topic};
use crate::gossip::{Topics, BAN_SCORE};
use crate::handle::{Command, InboundMessage, NetworkHandle, Shared};
use crate::identity::libp2p_keypair;
use crate::permission::AllowList;
use crate::redial::{Dial, DialKey, Redialer};
use crate::sync::{self, Rejected, SyncProvider, SyncRequest, SyncResponse};
use crate::NetworkError;
use kessai_primitives::Keypair;
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, MessageAcceptance, PublishError};
use libp2p::metrics::{Metrics, Recorder, Registry};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{
    self, InboundFailure, OutboundFailure, OutboundRequestId, ResponseChannel,
};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, noise, tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

/// How long a penalised peer is refused.
pub const BAN_DURATION: Duration = Duration::from_secs(60);

/// How long a sync request may take before it fails.
pub const SYNC_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the swarm builder accepts as a behaviour constructor error.
type BehaviourError = Box<dyn std::error::Error + Send + Sync>;

/// How long `start` waits for the listener to report its address.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Period of housekeeping: due redials, expired bans, gossip scores.
const TICK: Duration = Duration::from_millis(250);

/// Commands queued from the handles (publishes beyond this are dropped with a warning).
const COMMAND_QUEUE: usize = 4096;

/// Gossip messages queued for the node (beyond this they are dropped with a warning).
const INBOUND_QUEUE: usize = 4096;

/// Sync requests served at once; more wait for a slot (each is bounded by the request timeout).
const CONCURRENT_SERVES: usize = 4;

/// Starts the network: binds the listener, dials the bootnodes and runs the swarm on a spawned
/// task. Returns once the listening address is known. The task ends when every handle is dropped
/// or [`NetworkHandle::shutdown`] is called.
pub async fn start(
    config: NetworkConfig,
    key: &Keypair,
    allow: AllowList,
    provider: Arc<dyn SyncProvider>,
) -> Result<(NetworkHandle, mpsc::Receiver<InboundMessage>), NetworkError> {
    start_with_metrics(config, key, allow, provider, &mut Registry::default()).await
}

/// [`start`], recording libp2p's figures in `registry` under `libp2p_` (the `libp2p-metrics`
/// crate): connections opened and closed, dial and listener errors, bytes in and out by
/// protocol stack, gossipsub messages and identify exchanges.
pub async fn start_with_metrics(
    config: NetworkConfig,
    key: &Keypair,
    allow: AllowList,
    provider: Arc<dyn SyncProvider>,
    registry: &mut Registry,
) -> Result<(NetworkHandle, mpsc::Receiver<InboundMessage>), NetworkError> {
    config.validate()?;
    let topics = Topics::new(&config.chain_id);
    let response_limit = sync::response_limit(config.max_message_bytes);
    let allow_changes = allow.subscribe();
    let settings = Settings {
        allow,
        topics: &topics,
        max_message_bytes: config.max_message_bytes,
        response_limit,
        protocol_version: protocol_version(&config.chain_id),
        ban_duration: BAN_DURATION,
        request_timeout: SYNC_REQUEST_TIMEOUT,
    };
    let mut swarm = SwarmBuilder::with_existing_identity(libp2p_keypair(key))
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| NetworkError::Config(format!("noise: {e}")))?
        .with_bandwidth_metrics(registry)
        .with_behaviour(|key| Behaviour::new(key, settings).map_err(BehaviourError::from))
        .map_err(|e| NetworkError::Config(e.to_string()))?
        .build();
    for topic in Topic::ALL {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(topics.get(topic))
            .map_err(|e| NetworkError::Config(format!("subscribing to {topic:?}: {e}")))?;
    }
    let local_peer_id = *swarm.local_peer_id();
    let first_address = listen(&mut swarm, &config.listen).await?;
    tracing::info!(peer = %local_peer_id, address = %first_address, "network listening");

    let shared = Arc::new(Shared::default());
    shared.listen_addrs.write().push(first_address);
    let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let (inbound, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let (served_tx, served) = mpsc::channel(CONCURRENT_SERVES);
    let service = Service {
        redial: Redialer::new(local_peer_id, &config.bootnodes, Instant::now()),
        swarm,
        commands,
        inbound,
        shared: shared.clone(),
        topics,
        max_message_bytes: config.max_message_bytes,
        response_limit,
        protocol_version: protocol_version(&config.chain_id),
        provider,
        serving: Arc::new(Semaphore::new(CONCURRENT_SERVES)),
        served_tx,
        served,
        pending: HashMap::new(),
        allow_changes,
        metrics: Metrics::new(registry),
    };
    tokio::spawn(service.run());
    let handle = NetworkHandle::new(commands_tx, shared, local_peer_id, config.max_message_bytes);
    Ok((handle, inbound_rx))
}

/// Binds `address` and waits for the actual address (port 0 resolved).
async fn listen(
    swarm: &mut Swarm<Behaviour>,
    address: &Multiaddr,
) -> Result<Multiaddr, NetworkError> {
    let failed = |reason: String| NetworkError::Listen { address: address.clone(), reason };
    ensure_port_is_free(address).map_err(|e| failed(e.to_string()))?;
    swarm.listen_on(address.clone()).map_err(|e| failed(e.to_string()))?;
    let deadline = tokio::time::sleep(LISTEN_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
                SwarmEvent::ListenerError { error, .. } => return Err(failed(error.to_string())),
                SwarmEvent::ListenerClosed { reason, .. } => {
                    let reason = reason.err().map_or("listener closed".into(), |e| e.to_string());
                    return Err(failed(reason));
                }
                // Nothing else can happen before we dial or are reachable.
                _ => {}
            },
            _ = &mut deadline => return Err(failed("no listen address reported".into())),
        }
    }
}

/// libp2p listens with `SO_REUSEPORT` (so that dials can leave from the listening port), which lets a
/// second node bind the same port and silently take a share of its connections. A plain bind fails
/// if anyone is listening there; it is released again before libp2p binds.
fn ensure_port_is_free(address: &Multiaddr) -> io::Result<()> {
    let mut ip = None;
    let mut port = None;
    for protocol in address.iter() {
        match protocol {
            Protocol::Ip4(v4) => ip = Some(IpAddr::V4(v4)),
            Protocol::Ip6(v6) => ip = Some(IpAddr::V6(v6)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    match (ip, port) {
        (Some(ip), Some(port)) if port != 0 => std::net::TcpListener::bind((ip, port)).map(drop),
        _ => Ok(()),
    }
}

/// An outbound sync request awaiting its response.
enum Pending {
    Blocks { from: u64, to: u64, reply: oneshot::Sender<Result<Vec<Vec<u8>>, NetworkError>> },
    Status { reply: oneshot::Sender<Result<u64, NetworkError>> },
    Snapshot { reply: oneshot::Sender<Result<Vec<u8>, NetworkError>> },
}

impl Pending {
    fn fail(self, error: NetworkError) {
        // An error means the requester gave up waiting: nobody to tell.
        match self {
            Pending::Blocks { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Pending::Status { reply } => {
                let _ = reply.send(Err(error));
            }
            Pending::Snapshot { reply } => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

struct Service {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<InboundMessage>,
    shared: Arc<Shared>,
    topics: Topics,
    max_message_bytes: usize,
    response_limit: usize,
    protocol_version: String,
    provider: Arc<dyn SyncProvider>,
    serving: Arc<Semaphore>,
    served_tx: mpsc::Sender<(ResponseChannel<SyncResponse>, SyncResponse)>,
    served: mpsc::Receiver<(ResponseChannel<SyncResponse>, SyncResponse)>,
    pending: HashMap<OutboundRequestId, Pending>,
    redial: Redialer,
    allow_changes: watch::Receiver<u64>,
    metrics: Metrics,
}

impl Service {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let done = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { done }) => break Some(done),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some((channel, response)) = self.served.recv() => {
                    // Fails only if the requester went away meanwhile.
                    let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
                }
                Ok(()) = self.allow_changes.changed() => self.on_allow_list_change(),
                _ = tick.tick() => self.housekeeping(),
            }
        };
        let local = *self.swarm.local_peer_id();
        // Closes the listener and every connection; pending requesters see `Shutdown`.
        drop(self);
        tracing::info!(peer = %local, "network stopped");
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data } => self.publish(topic, data),
            Command::Blocks { peer, from, to, reply } => {
                let request = SyncRequest::Blocks { from, to };
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending.insert(id, Pending::Blocks { from, to, reply });
            }
            Command::Status { peer, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, SyncRequest::Status);
                self.pending.insert(id, Pending::Status { reply });
            }
            Command::Snapshot { peer, request, reply } => {
                let request = SyncRequest::Snapshot(request);
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending.insert(id, Pending::Snapshot { reply });
            }
            Command::Penalise { peer, reason } => self.penalise(peer, &reason),
            Command::Shutdown { .. } => unreachable!("handled by the loop"),
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let hash = self.topics.get(topic).hash();
        match self.swarm.behaviour_mut().gossipsub.publish(hash, data) {
            Ok(_) => {
                self.shared.messages_published.fetch_add(1, Ordering::Relaxed);
            }
            Err(PublishError::NoPeersSubscribedToTopic) => {
                tracing::debug!(?topic, "no peer subscribed yet; message not sent");
            }
            Err(PublishError::Duplicate) => {
                tracing::debug!(?topic, "identical message already published");
            }
            Err(error) => tracing::warn!(?topic, %error, "publishing failed"),
        }
    }

    /// Disconnects `peer`, refuses it until the ban ends and ignores its gossip meanwhile.
    fn penalise(&mut self, peer: PeerId, reason: &str) {
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        tracing::warn!(%peer, reason, "penalising peer");
        let behaviour = self.swarm.behaviour_mut();
        behaviour.permission.ban(peer, Instant::now() + BAN_DURATION);
        behaviour.gossipsub.blacklist_peer(&peer);
        // An error only means it was not connected.
        let _ = self.swarm.disconnect_peer_id(peer);
        self.shared.penalties.fetch_add(1, Ordering::Relaxed);
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => {
                self.metrics.record(&event);
                self.on_gossip(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                self.metrics.record(&event);
                self.on_identify(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Permission(never)) => match never {},
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                self.redial.connected(peer_id, connection_id);
                if num_established.get() == 1 {
                    tracing::info!(peer = %peer_id, address = %endpoint.get_remote_address(), "peer connected");
                    self.shared.peers.write().insert(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, cause, .. } => {
                tracing::info!(peer = %peer_id, cause = ?cause, "peer disconnected");
                self.shared.peers.write().remove(&peer_id);
                self.redial.disconnected(peer_id, Instant::now());
            }
            SwarmEvent::OutgoingConnectionError { connection_id, peer_id, error } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
                self.redial.failed(connection_id, Instant::now());
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                tracing::debug!(from = %send_back_addr, %error, "incoming connection refused");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                let mut addresses = self.shared.listen_addrs.write();
                if !addresses.contains(&address) {
                    addresses.push(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.shared.listen_addrs.write().retain(|a| *a != address);
            }
            SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
                self.shared.listen_addrs.write().retain(|a| !addresses.contains(a));
            }
            SwarmEvent::ListenerError { error, .. } => tracing::warn!(%error, "listener error"),
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message { propagation_source, message_id, message } = event else {
            tracing::trace!(?event, "gossipsub");
            return;
        };
        let topic = self.topics.topic_of(&message.topic);
        let oversize = message.data.len() > self.max_message_bytes;
        let acceptance = match (topic, oversize) {
            (None, _) => MessageAcceptance::Ignore,
            (Some(_), true) => MessageAcceptance::Reject,
            (Some(_), false) => MessageAcceptance::Accept,
        };
        // Only accepted messages are forwarded to other peers.
        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
            &message_id,
            &propagation_source,
            acceptance,
        );
        let Some(topic) = topic else { return };
        if oversize {
            let reason = format!(
                "gossip message of {} bytes exceeds the limit of {}",
                message.data.len(),
                self.max_message_bytes
            );
            // An honest relay would have dropped it too: whoever handed it to us is at fault.
            self.penalise(propagation_source, &reason);
            return;
        }
        self.shared.messages_received.fetch_add(1, Ordering::Relaxed);
        // Strict validation guarantees a verified author.
        let from = message.source.unwrap_or(propagation_source);
        match self.inbound.try_send(InboundMessage { from, topic, data: message.data }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.shared.messages_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(?topic, "inbound gossip queue full; dropped a message");
            }
            // The node no longer reads gossip; sync keeps being served.
            Err(TrySendError::Closed(_)) => {}
        }
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.serve(request, channel)
                }
                request_response::Message::Response { request_id, response } => {
                    self.on_response(peer, request_id, response)
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                if let OutboundFailure::Io(e) = &error {
                    if e.kind() == io::ErrorKind::InvalidData {
                        self.penalise(peer, &format!("malformed or oversize sync response: {e}"));
                    }
                }
                if let Some(pending) = self.pending.remove(&request_id) {
                    pending.fail(NetworkError::Request { peer, reason: error.to_string() });
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                if let InboundFailure::Io(e) = &error {
                    if e.kind() == io::ErrorKind::InvalidData {
                        self.penalise(peer, &format!("malformed sync request: {e}"));
                        return;
                    }
                }
                tracing::debug!(%peer, %error, "sync request not answered");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Answers on a blocking thread (the provider reads the store) and hands the response back to
    /// the loop, which alone may touch the swarm.
    fn serve(&self, request: SyncRequest, channel: ResponseChannel<SyncResponse>) {
        let provider = self.provider.clone();
        let slots = self.serving.clone();
        let served = self.served_tx.clone();
        let limit = self.response_limit;
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else { return };
            let answer =
                tokio::task::spawn_blocking(move || sync::serve(&*provider, request, limit)).await;
            match answer {
                Ok(response) => {
                    // The loop is gone only if the network stopped.
                    let _ = served.send((channel, response)).await;
                }
                Err(error) => tracing::error!(%error, "sync provider failed"),
            }
        });
    }

    fn on_response(&mut self, peer: PeerId, id: OutboundRequestId, response: SyncResponse) {
        let Some(pending) = self.pending.remove(&id) else { return };
        match pending {
            Pending::Blocks { from, to, reply } => {
                let result = self.judge(peer, sync::blocks_from(response, from, to));
                let _ = reply.send(result);
            }
            Pending::Status { reply } => {
                let result = self.judge(peer, sync::status_from(response));
                let _ = reply.send(result);
            }
            Pending::Snapshot { reply } => {
                let result = self.judge(peer, sync::snapshot_from(response));
                let _ = reply.send(result);
            }
        }
    }

    /// Turns a checked response into the requester's result, penalising protocol violations.
    fn judge<T>(&mut self, peer: PeerId, checked: Result<T, Rejected>) -> Result<T, NetworkError> {
        match checked {
            Ok(value) => Ok(value),
            Err(Rejected::Refused(refusal)) => Err(NetworkError::Refused(refusal)),
            Err(Rejected::Invalid(reason)) => {
                self.penalise(peer, &format!("invalid sync response: {reason}"));
                Err(NetworkError::InvalidResponse { peer, reason })
            }
        }
    }

    fn on_identify(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else { return };
        if info.protocol_version != self.protocol_version {
            let reason = format!(
                "speaks {:?}, we speak {:?} (another chain)",
                info.protocol_version, self.protocol_version
            );
            self.penalise(peer_id, &reason);
            return;
        }
        for address in &info.listen_addrs {
            self.swarm.add_peer_address(peer_id, address.clone());
        }
        self.redial.learned(peer_id, info.listen_addrs);
    }

    /// Closes connections of peers no longer allowed, and retries the others at once (a peer
    /// refused so far may have been admitted).
    fn on_allow_list_change(&mut self) {
        let allow = self.swarm.behaviour().permission.allow_list().clone();
        let revoked: Vec<PeerId> =
            self.swarm.connected_peers().filter(|peer| !allow.allows(peer)).copied().collect();
        for peer in revoked {
            tracing::info!(%peer, "peer removed from the allow list; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        self.redial.retry_all(Instant::now());
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        let behaviour = self.swarm.behaviour_mut();
        for peer in behaviour.permission.expire_bans(now) {
            tracing::info!(%peer, "ban expired");
            behaviour.gossipsub.remove_blacklisted_peer(&peer);
        }
        // gossipsub drops invalid messages (bad signatures, oversize envelopes) itself and only
        // lowers the sender's score: turn that into a penalty.
        let misbehaving: Vec<(PeerId, f64)> = self
            .swarm
            .connected_peers()
            .filter_map(|peer| {
                let score = self.swarm.behaviour().gossipsub.peer_score(peer)?;
                (score < BAN_SCORE).then_some((*peer, score))
            })
            .collect();
        for (peer, score) in misbehaving {
            self.penalise(peer, &format!("gossip score {score:.0}: invalid messages"));
        }
        for dial in self.redial.due(now) {
            self.dial(dial, now);
        }
    }

    fn dial(&mut self, dial: Dial, now: Instant) {
        let options = match &dial.key {
            DialKey::Peer(peer) => DialOpts::peer_id(*peer)
                .addresses(dial.addresses)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build(),
            DialKey::Address(address) => {
                DialOpts::unknown_peer_id().address(address.clone()).build()
            }
        };
        let connection = options.connection_id();
        self.redial.started(connection, dial.key);
        if let Err(error) = self.swarm.dial(options) {
            tracing::debug!(?error, "dial not started");
            self.redial.failed(connection, now);
        }
    }
}
