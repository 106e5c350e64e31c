use crate::common::*;
use kessai_network::{start, NetworkError, Topic};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_reconnect_to_a_node_that_restarts_on_the_same_port() {
    let allow = allow_list(&["r-a", "r-b", "r-c"]);
    // b dials nobody: after its restart only the others' redials can bring it back.
    let b = node("r-b", &allow, &[]).await;
    let mut a = node("r-a", &allow, &[&b]).await;
    let mut c = node("r-c", &allow, &[&b]).await;
    until_connected(&[&a, &b, &c], &[(0, 1), (1, 2)]).await;
    let address = b.listen_address();

    // Dropping every handle shuts the node down.
    drop(b);
    until("the others notice b is gone", || {
        a.handle.peers().is_empty() && c.handle.peers().is_empty()
    })
    .await;

    let deadline = Instant::now() + PATIENCE;
    let mut b = loop {
        match start(config(address.clone(), &[]), &key("r-b"), allow.clone(), empty_chain()).await {
            Ok((handle, inbound)) => break Node { name: "r-b".into(), handle, inbound },
            // The old listener may take a moment to close.
            Err(NetworkError::Listen { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(error) => panic!("b cannot restart: {error}"),
        }
    };
    assert_eq!(b.listen_address(), address);

    until_connected(&[&a, &b, &c], &[(0, 1), (1, 2)]).await;
    warm_up(&mut [&mut a, &mut b, &mut c]).await;
    b.handle.publish(Topic::Transactions, b"back".to_vec());
    for node in [&mut a, &mut c] {
        let received = receive(node, 1).await;
        assert_eq!((received[0].from, &received[0].data[..]), (b.peer(), &b"back"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_every_handle_and_frees_the_port() {
    let allow = allow_list(&["d-a"]);
    let a = node("d-a", &allow, &[]).await;
    let other_handle = a.handle.clone();
    let address = a.listen_address();
    a.handle.shutdown().await;

    assert_eq!(other_handle.request_status(a.peer()).await, Err(NetworkError::Shutdown));
    other_handle.publish(Topic::Consensus, b"into the void".to_vec());
    other_handle.penalise(a.peer(), "nothing to penalise");
    // The listener is closed once shutdown returns.
    let (again, _inbound) = start(config(address.clone(), &[]), &key("d-a"), allow, empty_chain())
        .await
        .expect("the port is free after shutdown");
    assert_eq!(again.listen_addrs(), vec![address]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_bad_configuration_and_a_busy_port() {
    let allow = allow_list(&["busy"]);
    let a = node("busy", &allow, &[]).await;
    let taken = config(a.listen_address(), &[]);
    let error = start(taken, &key("busy-2"), allow.clone(), empty_chain()).await.err();
    assert!(matches!(error, Some(NetworkError::Listen { .. })), "{error:?}");

    let bad_chain = kessai_network::NetworkConfig::new("a/b", loopback());
    let error = start(bad_chain, &key("busy-3"), allow.clone(), empty_chain()).await.err();
    assert!(matches!(error, Some(NetworkError::Config(_))), "{error:?}");
    let no_room = kessai_network::NetworkConfig { max_message_bytes: 0, ..config(loopback(), &[]) };
    let error = start(no_room, &key("busy-4"), allow, empty_chain()).await.err();
    assert!(matches!(error, Some(NetworkError::Config(_))), "{error:?}");
}
