use crate::common::*;
use kessai_network::{NetworkConfig, PeerId, Topic};
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_receive_every_message_once_on_both_topics() {
    let allow = allow_list(&["g-a", "g-b", "g-c"]);
    let mut a = node("g-a", &allow, &[]).await;
    // b and c know only a: what one of them publishes reaches the other through a's mesh.
    let mut b = node("g-b", &allow, &[&a]).await;
    let mut c = node("g-c", &allow, &[&a]).await;
    until_connected(&[&a, &b, &c], &[(0, 1), (0, 2)]).await;
    warm_up(&mut [&mut a, &mut b, &mut c]).await;

    let message = |name: &str, topic: Topic| format!("{name} on {topic:?}").into_bytes();
    for node in [&a, &b, &c] {
        for topic in Topic::ALL {
            node.handle.publish(topic, message(&node.name, topic));
        }
    }

    let everyone = [(a.peer(), "g-a"), (b.peer(), "g-b"), (c.peer(), "g-c")];
    for node in [&mut a, &mut b, &mut c] {
        let expected: BTreeSet<(PeerId, Topic, Vec<u8>)> = everyone
            .iter()
            .filter(|(peer, _)| *peer != node.peer())
            .flat_map(|(peer, name)| Topic::ALL.map(|t| (*peer, t, message(name, t))))
            .collect();
        let received: BTreeSet<_> = receive(node, expected.len())
            .await
            .into_iter()
            .map(|m| (m.from, m.topic, m.data))
            .collect();
        assert_eq!(received, expected, "{} received the wrong messages", node.name);
    }
    // Nothing arrives twice, and nobody receives its own messages back.
    for node in [&mut a, &mut b, &mut c] {
        let late = received_within(node, Duration::from_millis(300)).await;
        assert!(late.is_empty(), "{} received duplicates: {late:?}", node.name);
    }
    assert!(a.handle.metrics().messages_published >= 2);
    assert!(a.handle.metrics().messages_received >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_with_no_peers_is_not_an_error() {
    let allow = allow_list(&["lonely"]);
    let mut lonely = node("lonely", &allow, &[]).await;
    lonely.handle.publish(Topic::Consensus, b"anyone?".to_vec());
    lonely.handle.publish(Topic::Transactions, b"anyone?".to_vec());
    assert!(received_within(&mut lonely, Duration::from_millis(200)).await.is_empty());
    assert_eq!(lonely.handle.metrics().messages_published, 0);
    assert!(lonely.handle.peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_is_not_delivered_and_its_sender_is_penalised() {
    const SMALL_LIMIT: usize = 64 * 1024;
    let oversize = vec![7u8; 100 * 1024];
    let allow = allow_list(&["o-strict", "o-lax"]);
    let strict_config = NetworkConfig { max_message_bytes: SMALL_LIMIT, ..config(loopback(), &[]) };
    let mut strict = node_with("o-strict", &allow, strict_config, empty_chain()).await;
    // The lax node accepts and publishes larger messages than the strict one.
    let lax_config =
        NetworkConfig { max_message_bytes: 1024 * 1024, ..config(loopback(), &[&strict]) };
    let mut lax = node_with("o-lax", &allow, lax_config, empty_chain()).await;
    until_connected(&[&strict, &lax], &[(0, 1)]).await;
    warm_up(&mut [&mut strict, &mut lax]).await;

    // A node does not publish what it would refuse: only the small message leaves.
    strict.handle.publish(Topic::Transactions, oversize.clone());
    strict.handle.publish(Topic::Transactions, b"small".to_vec());
    let received = receive(&mut lax, 1).await;
    assert_eq!(received[0].data, b"small");
    assert!(received_within(&mut lax, Duration::from_millis(300)).await.is_empty());

    // The lax node's oversize message is dropped by the strict one, which bans the sender.
    lax.handle.publish(Topic::Transactions, oversize);
    until("the strict node disconnects the sender", || !strict.is_connected_to(&lax)).await;
    assert!(strict.handle.metrics().penalties >= 1);
    assert!(received_within(&mut strict, Duration::from_millis(300)).await.is_empty());
    // The ban holds: the sender's redials are refused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!strict.is_connected_to(&lax), "a banned peer got back in");
    assert!(strict.handle.peers().is_empty());
}
