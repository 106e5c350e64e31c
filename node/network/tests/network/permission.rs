use crate::common::*;
use kessai_network::{peer_id_of, public_key_of, NetworkConfig, Topic};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_outside_the_allow_list_never_gets_a_connection() {
    let allow = allow_list(&["p-a", "p-b"]);
    let mut a = node("p-a", &allow, &[]).await;
    let mut b = node("p-b", &allow, &[&a]).await;
    // The outsider would accept everybody and dials both members: every refusal is theirs.
    let outsider_allow = allow_list(&["p-a", "p-b", "p-x"]);
    let mut x = node("p-x", &outsider_allow, &[&a, &b]).await;
    until_connected(&[&a, &b], &[(0, 1)]).await;
    warm_up(&mut [&mut a, &mut b]).await;

    let deadline = Instant::now() + Duration::from_secs(3);
    let mut round = 0;
    while Instant::now() < deadline {
        x.handle.publish(Topic::Consensus, format!("from-x/{round}").into_bytes());
        a.handle.publish(Topic::Consensus, format!("from-a/{round}").into_bytes());
        for member in [&a, &b] {
            assert!(!member.is_connected_to(&x), "{} lists the outsider as a peer", member.name);
            assert_eq!(member.handle.peers().len(), 1, "{} has a stranger", member.name);
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let b_heard = received_within(&mut b, Duration::from_millis(200)).await;
    assert!(b_heard.iter().any(|m| m.from == a.peer()), "the members' own gossip flowed");
    for member in [&mut a, &mut b] {
        let heard = member.drain();
        assert!(heard.iter().all(|m| m.from != x.peer() && !m.data.starts_with(b"from-x")));
    }
    assert!(x.drain().is_empty(), "the outsider received gossip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_at_runtime_lets_a_peer_in_and_removal_closes_its_connection() {
    let allow = allow_list(&["q-a"]);
    let a = node("q-a", &allow, &[]).await;
    let newcomer_allow = allow_list(&["q-a", "q-b"]);
    let b = node("q-b", &newcomer_allow, &[&a]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(a.handle.peers().is_empty(), "refused before admission");

    allow.insert(key("q-b").public());
    // b keeps re-dialling with backoff and is let in on its next attempt.
    until_connected(&[&a, &b], &[(0, 1)]).await;

    assert!(allow.remove(&key("q-b").public()));
    until("the removed peer is disconnected", || !a.is_connected_to(&b)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!a.is_connected_to(&b), "a removed peer got back in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_running_another_chain_is_disconnected() {
    let allow = allow_list(&["c-a", "c-b"]);
    let mut a = node("c-a", &allow, &[]).await;
    let other_chain = NetworkConfig::new("another-chain", loopback());
    let stray = NetworkConfig { bootnodes: vec![a.address()], ..other_chain };
    let mut b = node_with("c-b", &allow, stray, empty_chain()).await;
    // Allowed, so the connection is made; identify then shows the chains differ, and whichever side
    // hears the other first penalises it.
    let penalties =
        |a: &Node, b: &Node| a.handle.metrics().penalties + b.handle.metrics().penalties;
    until("one of them penalises the other", || penalties(&a, &b) > 0).await;
    until("they are disconnected", || a.handle.peers().is_empty() && b.handle.peers().is_empty())
        .await;
    b.handle.publish(Topic::Consensus, b"wrong chain".to_vec());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(a.handle.peers().is_empty() && b.handle.peers().is_empty(), "they reconnected");
    assert!(a.drain().is_empty() && b.drain().is_empty(), "gossip crossed chains");
}

#[test]
fn peer_ids_name_kessai_keys() {
    let key = key("ids");
    let peer = peer_id_of(&key.public());
    assert_eq!(public_key_of(&peer), Some(key.public()));
}
