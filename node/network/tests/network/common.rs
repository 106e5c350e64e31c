//! Real nodes on 127.0.0.1 with ephemeral ports, and patient assertions with deadlines so that a
//! broken network fails the test instead of hanging it.

use kessai_network::{
    start, AllowList, InboundMessage, Multiaddr, NetworkConfig, NetworkHandle, PeerId,
    SyncProvider, Topic,
};
use kessai_primitives::Keypair;
use std::collections::BTreeSet;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(crate) const CHAIN: &str = "network-test";

/// Longest wait for something that should happen within a second or two.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

pub(crate) fn key(name: &str) -> Keypair {
    Keypair::dev(&format!("network-test/{name}"))
}

pub(crate) fn allow_list(names: &[&str]) -> AllowList {
    names.iter().map(|name| key(name).public()).collect()
}

/// Serves `count` blocks of heights 1..=count, each `size` bytes of a pattern naming its height.
pub(crate) struct Chain {
    pub count: u64,
    pub size: usize,
}

impl Chain {
    pub(crate) fn block(height: u64, size: usize) -> Vec<u8> {
        let mut block = format!("block-{height}-").into_bytes();
        block.resize(size.max(block.len()), (height % 251) as u8);
        block
    }
}

impl SyncProvider for Chain {
    fn latest_height(&self) -> u64 {
        self.count
    }

    fn blocks(&self, from: u64, to: u64) -> Vec<Vec<u8>> {
        (from.max(1)..=to.min(self.count)).map(|h| Chain::block(h, self.size)).collect()
    }
}

pub(crate) fn empty_chain() -> Arc<dyn SyncProvider> {
    Arc::new(Chain { count: 0, size: 0 })
}

pub(crate) struct Node {
    pub name: String,
    pub handle: NetworkHandle,
    pub inbound: mpsc::Receiver<InboundMessage>,
}

impl Node {
    pub(crate) fn peer(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    /// The dialable address, with `/p2p/<peer id>`.
    pub(crate) fn address(&self) -> Multiaddr {
        self.listen_address().with_p2p(self.peer()).unwrap()
    }

    pub(crate) fn listen_address(&self) -> Multiaddr {
        self.handle.listen_addrs().into_iter().next().expect("a listening node has an address")
    }

    pub(crate) fn is_connected_to(&self, other: &Node) -> bool {
        self.handle.peers().contains(&other.peer())
    }

    /// Every message received so far, without waiting.
    pub(crate) fn drain(&mut self) -> Vec<InboundMessage> {
        let mut messages = Vec::new();
        while let Ok(message) = self.inbound.try_recv() {
            messages.push(message);
        }
        messages
    }
}

pub(crate) fn config(listen: Multiaddr, bootnodes: &[&Node]) -> NetworkConfig {
    NetworkConfig {
        bootnodes: bootnodes.iter().map(|node| node.address()).collect(),
        ..NetworkConfig::new(CHAIN, listen)
    }
}

pub(crate) fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

pub(crate) async fn node(name: &str, allow: &AllowList, bootnodes: &[&Node]) -> Node {
    node_with(name, allow, config(loopback(), bootnodes), empty_chain()).await
}

pub(crate) async fn node_with(
    name: &str,
    allow: &AllowList,
    config: NetworkConfig,
    provider: Arc<dyn SyncProvider>,
) -> Node {
    init_tracing();
    let (handle, inbound) =
        start(config, &key(name), allow.clone(), provider).await.expect("network starts");
    Node { name: name.to_string(), handle, inbound }
}

/// `RUST_LOG=kessai_network=debug cargo test -p kessai-network` shows what the nodes do.
fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    });
}

/// Waits until `condition` holds, failing the test after [`PATIENCE`].
pub(crate) async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node is connected to the ones listed (pairs of indices).
pub(crate) async fn until_connected(nodes: &[&Node], links: &[(usize, usize)]) {
    for &(i, j) in links {
        let what = format!("{} and {} are connected", nodes[i].name, nodes[j].name);
        until(&what, || nodes[i].is_connected_to(nodes[j]) && nodes[j].is_connected_to(nodes[i]))
            .await;
    }
}

pub(crate) const PROBE: &[u8] = b"probe/";

/// Publishes probes until every node has heard a probe from every other node on both topics: then
/// subscriptions are known and the mesh relays, so later messages are not lost to a network still
/// forming. Probes are distinct (content-addressed gossip drops repeats) and marked by [`PROBE`].
pub(crate) async fn warm_up(nodes: &mut [&mut Node]) {
    let peers: Vec<PeerId> = nodes.iter().map(|node| node.peer()).collect();
    let mut heard: Vec<BTreeSet<(PeerId, Topic)>> = vec![BTreeSet::new(); nodes.len()];
    let complete = |heard: &[BTreeSet<(PeerId, Topic)>]| {
        heard.iter().all(|set| set.len() == (peers.len() - 1) * Topic::ALL.len())
    };
    let deadline = Instant::now() + PATIENCE;
    let mut round = 0u32;
    while !complete(&heard) {
        assert!(Instant::now() < deadline, "gossip did not reach every node: {heard:?}");
        for node in nodes.iter() {
            for topic in Topic::ALL {
                let mut probe = PROBE.to_vec();
                probe.extend_from_slice(format!("{}/{topic:?}/{round}", node.name).as_bytes());
                node.handle.publish(topic, probe);
            }
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        for (i, node) in nodes.iter_mut().enumerate() {
            for message in node.drain() {
                assert!(message.data.starts_with(PROBE), "unexpected message during warm-up");
                heard[i].insert((message.from, message.topic));
            }
        }
    }
}

/// Receives messages that are not probes until `count` have arrived, failing after [`PATIENCE`].
pub(crate) async fn receive(node: &mut Node, count: usize) -> Vec<InboundMessage> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut received = Vec::new();
    while received.len() < count {
        match tokio::time::timeout_at(deadline, node.inbound.recv()).await {
            Ok(Some(message)) if message.data.starts_with(PROBE) => {}
            Ok(Some(message)) => received.push(message),
            Ok(None) => panic!("{}'s network stopped", node.name),
            Err(_) => panic!("{} received {} of {count} messages", node.name, received.len()),
        }
    }
    received
}

/// Messages other than probes that arrive within `window`.
pub(crate) async fn received_within(node: &mut Node, window: Duration) -> Vec<InboundMessage> {
    tokio::time::sleep(window).await;
    node.drain().into_iter().filter(|m| !m.data.starts_with(PROBE)).collect()
}
