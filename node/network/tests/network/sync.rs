use crate::common::*;
use kessai_network::{NetworkConfig, NetworkError, PeerId, Refusal, MAX_SYNC_HEIGHTS};
use std::sync::Arc;
use std::time::Duration;

fn blocks(range: std::ops::RangeInclusive<u64>, size: usize) -> Vec<Vec<u8>> {
    range.map(|h| Chain::block(h, size)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_and_status_are_served_by_the_provider() {
    let allow = allow_list(&["s-server", "s-client"]);
    let chain = Arc::new(Chain { count: 300, size: 100 });
    let server = node_with("s-server", &allow, config(loopback(), &[]), chain).await;
    let client = node("s-client", &allow, &[&server]).await;
    until_connected(&[&server, &client], &[(0, 1)]).await;
    let ask = |from, to| {
        let handle = client.handle.clone();
        let peer = server.peer();
        async move {
            tokio::time::timeout(PATIENCE, handle.request_blocks(peer, from, to))
                .await
                .expect("sync request timed out")
        }
    };

    assert_eq!(ask(5, 9).await.unwrap(), blocks(5..=9, 100));
    assert_eq!(ask(1, MAX_SYNC_HEIGHTS).await.unwrap(), blocks(1..=256, 100));
    // The server has only up to 300: a prefix, not an error.
    assert_eq!(ask(298, 310).await.unwrap(), blocks(298..=300, 100));
    assert_eq!(ask(301, 400).await.unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(client.handle.request_status(server.peer()).await.unwrap(), 300);
    assert_eq!(server.handle.request_status(client.peer()).await.unwrap(), 0);

    // Ranges the protocol does not allow are refused without asking anyone.
    assert_eq!(
        ask(1, MAX_SYNC_HEIGHTS + 1).await,
        Err(NetworkError::Refused(Refusal::TooManyHeights))
    );
    assert_eq!(ask(0, u64::MAX).await, Err(NetworkError::Refused(Refusal::TooManyHeights)));
    assert_eq!(ask(9, 5).await, Err(NetworkError::Refused(Refusal::EmptyRange)));

    // Honest answers cost nobody anything.
    assert_eq!(client.handle.metrics().penalties, 0);
    assert!(client.is_connected_to(&server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_unreachable_peers_fail_promptly() {
    let allow = allow_list(&["u-client"]);
    let client = node("u-client", &allow, &[]).await;
    let stranger = PeerId::random();
    let answer = tokio::time::timeout(PATIENCE, client.handle.request_blocks(stranger, 1, 2))
        .await
        .expect("a request to an unknown peer must fail, not hang");
    assert!(matches!(answer, Err(NetworkError::Request { peer, .. }) if peer == stranger));
    let answer = tokio::time::timeout(PATIENCE, client.handle.request_status(stranger)).await;
    assert!(matches!(answer, Ok(Err(NetworkError::Request { .. }))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_range_of_large_blocks_arrives_in_pieces_that_fit_a_response() {
    const BLOCK: usize = 1024 * 1024;
    // Just over one response's worth (16 MiB): two pieces.
    const COUNT: u64 = 20;
    let allow = allow_list(&["l-server", "l-client"]);
    let config = |bootnodes: &[&Node]| NetworkConfig {
        max_message_bytes: BLOCK,
        ..config(loopback(), bootnodes)
    };
    let chain = Arc::new(Chain { count: COUNT, size: BLOCK });
    let server = node_with("l-server", &allow, config(&[]), chain).await;
    let client = node_with("l-client", &allow, config(&[&server]), empty_chain()).await;
    until_connected(&[&server, &client], &[(0, 1)]).await;

    let mut next = 1;
    let mut pieces = 0;
    while next <= COUNT {
        let piece = tokio::time::timeout(
            PATIENCE,
            client.handle.request_blocks(server.peer(), next, COUNT),
        )
        .await
        .expect("sync request timed out")
        .unwrap();
        assert!(!piece.is_empty(), "no progress from height {next}");
        let last = next + piece.len() as u64 - 1;
        assert_eq!(piece, blocks(next..=last, BLOCK));
        next = last + 1;
        pieces += 1;
    }
    assert!(pieces > 1, "20 MiB must not fit one response");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(client.handle.metrics().penalties, 0);
}
