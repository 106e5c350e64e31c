//! Following the chain (issue 18): WebSocket subscriptions to heads and events deliver every
//! event once and in order, resume from a cursor without gap or repeat (also across a restart of
//! the node), close a subscriber that does not read as "lagged" with the cursor to resume from;
//! `kessai_events` and `kessai_blockTxs` page through a block larger than a page; event pages
//! (`kessai_subscribeEventPages`) carry the same events, up to 256 a message.

use kessai_client::rpc::{self, Cursor, EventInfo, KessaiApiClient};
use kessai_client::subscribe::{Connection, Next, Subscription};
use kessai_primitives::merkle;
use kessai_primitives::{Address, Hash, Keypair, Payload, Receipt, SignedTransaction, Transaction};
use kessai_tests::TestNode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const CONTRACT: &str = "asset-ownership";
const TOPIC: &str = "provider_registered";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

/// `count` transactions of alice registering a new provider each (one `provider_registered`
/// event each), from alice's next nonce; submitted in batches, in nonce order. Returns the
/// providers in that order and the id of the last transaction.
async fn register_providers(rpc_url: &str, tag: &str, count: usize) -> (Vec<Address>, Hash) {
    let client = rpc::client(rpc_url).expect("client");
    let alice = Keypair::dev("alice");
    let contract = client.contract(CONTRACT.into()).await.expect("contract");
    let mut nonce = client.account(alice.public()).await.expect("account").next_nonce;
    let mut providers = Vec::new();
    let mut txs = Vec::new();
    for i in 0..count {
        let provider = Keypair::dev(&format!("provider-{tag}-{i}")).address();
        let args = contract
            .abi
            .encode_args(
                "register_provider",
                &json!([provider.to_string(), format!("p-{tag}-{i}")]),
            )
            .expect("arguments");
        let tx = Transaction {
            chain_id: "kessai-dev".into(),
            signer: alice.public(),
            nonce,
            gas_limit: 10_000_000,
            payload: Payload::Call {
                contract: contract.address,
                method: "register_provider".into(),
                args,
            },
        }
        .sign(&alice);
        nonce += 1;
        providers.push(provider);
        txs.push(hex::encode(borsh::to_vec(&tx).expect("encodes")));
    }
    let mut last = None;
    for batch in txs.chunks(500) {
        for outcome in client.submit_txs(batch.to_vec()).await.expect("submitTxs") {
            last = Some(outcome.tx_id.unwrap_or_else(|| panic!("refused: {:?}", outcome.error)));
        }
    }
    (providers, last.expect("at least one transaction"))
}

/// Waits until transaction `id` is committed.
async fn committed(rpc_url: &str, id: Hash) {
    let client = rpc::client(rpc_url).expect("client");
    kessai_client::wait_for(&client, id, Duration::from_secs(120)).await.expect("committed");
}

fn events_params(after: Option<Cursor>) -> Value {
    json!([CONTRACT, TOPIC, after])
}

/// The next item of `subscription` within `wait`, or `None` if nothing came.
async fn next_item(subscription: &mut Subscription, wait: Duration) -> Option<Value> {
    match tokio::time::timeout(wait, subscription.next()).await {
        Err(_) => None,
        Ok(next) => match next.expect("subscription") {
            Next::Item(item) => Some(item),
            other => panic!("the subscription ended: {other:?}"),
        },
    }
}

/// Reads `count` events and checks they are the registrations of `providers`, in order, with
/// increasing cursors after `after`; returns the last cursor.
async fn expect_events(
    subscription: &mut Subscription,
    providers: &[Address],
    mut after: Option<Cursor>,
) -> Cursor {
    for (i, provider) in providers.iter().enumerate() {
        let item = next_item(subscription, Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("event {i} of {} did not arrive", providers.len()));
        let event: EventInfo = serde_json::from_value(item).expect("an event");
        assert_eq!(event.event.topic, TOPIC);
        assert_eq!(
            event.event.data,
            provider.0.to_vec(),
            "event {i}: out of order or repeated: {event:?} (at {:?} of the expected)",
            providers.iter().position(|p| p.0.to_vec() == event.event.data)
        );
        let cursor = event.cursor.expect("a cursor");
        assert!(after < Some(cursor), "cursors increase: {after:?} then {cursor:?}");
        after = Some(cursor);
    }
    after.expect("at least one event")
}

/// Nothing more arrives (no duplicate, nothing unexpected).
async fn expect_quiet(subscription: &mut Subscription) {
    if let Some(item) = next_item(subscription, Duration::from_secs(2)).await {
        panic!("an unexpected (repeated?) message: {item}");
    }
}

#[test]
fn subscribers_get_every_event_once_and_resume_from_their_cursor_across_a_restart() {
    let mut node = TestNode::dev();
    let rt = runtime();
    let last = rt.block_on(async {
        let url = node.rpc.clone();
        let mut heads = Subscription::open(&url, "kessai_subscribeHeads", json!([null]))
            .await
            .expect("heads subscription over WebSocket on the RPC port");
        let mut events = Subscription::open(&url, "kessai_subscribeEvents", events_params(None))
            .await
            .expect("events subscription");

        // Live: every event once, in order, and every head in height order.
        let (providers, last_id) = register_providers(&url, "a", 40).await;
        let last = expect_events(&mut events, &providers, None).await;
        committed(&url, last_id).await;
        expect_quiet(&mut events).await;
        let mut height = None;
        while height.is_none_or(|h| h < last.height) {
            let head = next_item(&mut heads, Duration::from_secs(30)).await.expect("a head");
            let head: rpc::HeadInfo = serde_json::from_value(head).expect("a head");
            assert_eq!(head.header.height, head.cursor.height);
            assert_eq!(head.commit.height, head.header.height, "the head carries its commit");
            if let Some(h) = height {
                assert_eq!(head.header.height, h + 1, "heads in order, none missed");
            }
            height = Some(head.header.height);
        }
        // Resumed from a height: the next head is the one right after it.
        let resume_after = last.height.saturating_sub(2);
        let mut resumed = Subscription::open(&url, "kessai_subscribeHeads", json!([resume_after]))
            .await
            .expect("heads resumed from a height");
        let head = next_item(&mut resumed, Duration::from_secs(30)).await.expect("a head");
        let head: rpc::HeadInfo = serde_json::from_value(head).expect("a head");
        assert_eq!(head.header.height, resume_after + 1, "heads resume right after the cursor");
        drop(resumed);

        // Disconnected while more commits: resumed from the last cursor, exactly the missed ones.
        drop(events);
        let (providers, last_id) = register_providers(&url, "b", 25).await;
        committed(&url, last_id).await;
        let mut events =
            Subscription::open(&url, "kessai_subscribeEvents", events_params(Some(last)))
                .await
                .expect("resubscribed");
        let last = expect_events(&mut events, &providers, Some(last)).await;
        expect_quiet(&mut events).await;
        last
    });

    // Commits while the subscriber is away, then the node restarts: still no gap, no repeat.
    let (providers, last_id) = rt.block_on(register_providers(&node.rpc, "c", 15));
    rt.block_on(committed(&node.rpc, last_id));
    node.kill9();
    node.start().expect("the node restarts");
    rt.block_on(async {
        let url = node.rpc.clone();
        let mut events =
            Subscription::open(&url, "kessai_subscribeEvents", events_params(Some(last)))
                .await
                .expect("resubscribed after the restart");
        let last = expect_events(&mut events, &providers, Some(last)).await;
        // And live again after the history.
        let (providers, _) = register_providers(&url, "d", 10).await;
        expect_events(&mut events, &providers, Some(last)).await;
        expect_quiet(&mut events).await;
    });
}

#[test]
fn a_subscriber_that_does_not_read_is_closed_as_lagged_and_resumes_from_the_cursor() {
    // 40 subscriptions from the first block on one connection that reads nothing: 40,000 event
    // messages, about 18 MB, far more than the node's buffer for the connection (256 messages)
    // and the kernel's socket buffers (4 MiB here) hold.
    const EVENTS: usize = 1_000;
    const SUBSCRIPTIONS: usize = 40;
    let node = TestNode::dev();
    let rt = runtime();
    rt.block_on(async {
        let url = node.rpc.clone();
        let (providers, last_id) = register_providers(&url, "lag", EVENTS).await;
        committed(&url, last_id).await;

        let host = url.trim_start_matches("http://").to_string();
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("small receive buffer");
        let stream = socket.connect(host.parse().expect("address")).await.expect("connect");
        let mut slow = Connection::open_on(stream, &host).await.expect("WebSocket");
        let from_start = Cursor { height: 0, tx: u32::MAX, event: u32::MAX };
        for _ in 0..SUBSCRIPTIONS {
            slow.send_request("kessai_subscribeEvents", events_params(Some(from_start)))
                .await
                .expect("subscribe");
        }
        // Longer than the node's lag timeout (5 s).
        tokio::time::sleep(Duration::from_secs(12)).await;

        // Now read everything: each subscription got all its events or a prefix of them and then
        // the lagged close with the cursor of the last one it got.
        let mut received: HashMap<String, Vec<EventInfo>> = HashMap::new();
        let mut closes: HashMap<String, Value> = HashMap::new();
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), slow.next()).await;
            let Ok(next) = next else { break };
            match next.expect("readable") {
                (id, Next::Item(item)) => received
                    .entry(id.to_string())
                    .or_default()
                    .push(serde_json::from_value(item).expect("an event")),
                (id, Next::Closed(error)) => {
                    closes.insert(id.to_string(), error);
                }
                (_, Next::Disconnected) => break,
            }
        }
        assert!(!closes.is_empty(), "no subscription was closed as lagged");
        let mut resume = None;
        for (id, events) in &received {
            for (event, provider) in events.iter().zip(&providers) {
                assert_eq!(event.event.data, provider.0.to_vec(), "in order, none missed");
            }
            match closes.get(id) {
                None => assert_eq!(events.len(), EVENTS, "{id}: cut short without a close"),
                Some(close) => {
                    assert_eq!(close["code"], rpc::codes::LAGGED, "{close}");
                    let message = close["message"].as_str().expect("a message");
                    assert!(message.starts_with("lagged: resume from cursor"), "{message}");
                    let cursor: Cursor = serde_json::from_value(close["cursor"].clone()).unwrap();
                    assert_eq!(Some(cursor), events.last().and_then(|e| e.cursor), "{id}");
                    assert!(events.len() < EVENTS);
                    resume = Some((cursor, events.len()));
                }
            }
        }
        let sent: usize = received.values().map(Vec::len).sum();
        assert!(sent < EVENTS * SUBSCRIPTIONS, "the node stopped sending to the lagging client");

        // Resumed from a lagged subscription's cursor: exactly the rest.
        let (cursor, got) = resume.expect("a lagged subscription that got some events");
        let mut resumed =
            Subscription::open(&url, "kessai_subscribeEvents", events_params(Some(cursor)))
                .await
                .expect("resubscribed");
        expect_events(&mut resumed, &providers[got..], Some(cursor)).await;
        expect_quiet(&mut resumed).await;
    });
}

/// Reads pages of `kessai_subscribeEventPages` until they hold the registrations of `providers`;
/// checks each page (1 to 256 events, in order, cursors increasing, the page's cursor at or after
/// its last event) and returns the last page's cursor and the most events one page held.
async fn expect_event_pages(
    subscription: &mut Subscription,
    providers: &[Address],
    mut after: Option<Cursor>,
) -> (Cursor, usize) {
    let (mut seen, mut largest) = (0, 0);
    while seen < providers.len() {
        let item = next_item(subscription, Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("{seen} of {} events came in pages", providers.len()));
        let page: rpc::EventPage = serde_json::from_value(item).expect("a page of events");
        assert!((1..=256).contains(&page.events.len()), "{} events", page.events.len());
        largest = largest.max(page.events.len());
        for event in &page.events {
            let expected = providers.get(seen).expect("no more events than registrations");
            assert_eq!(event.event.topic, TOPIC);
            assert_eq!(event.event.data, expected.0.to_vec(), "event {seen}: order or repeat");
            let cursor = event.cursor.expect("a cursor");
            assert!(after < Some(cursor), "cursors increase: {after:?} then {cursor:?}");
            after = Some(cursor);
            seen += 1;
        }
        assert!(after <= Some(page.cursor), "the page covers its events");
        after = Some(page.cursor);
    }
    (after.expect("at least one page"), largest)
}

#[test]
fn event_pages_carry_every_event_once_and_resume_from_the_page_cursor() {
    let node = TestNode::dev();
    let rt = runtime();
    rt.block_on(async {
        let url = node.rpc.clone();
        let open = |params: Value| Subscription::open(&url, "kessai_subscribeEventPages", params);
        let mut all = open(json!([CONTRACT, null, null])).await.expect("pages subscription");
        let mut of_topic = open(events_params(None)).await.expect("pages of one topic");
        let mut other_topic = open(json!([CONTRACT, "no_such_topic", null])).await.expect("other");

        let client = rpc::client(&url).expect("client");
        let before = client.status().await.expect("status").height;
        let (providers, last_id) = register_providers(&url, "pages", 700).await;
        let (last, _) = expect_event_pages(&mut all, &providers, None).await;
        expect_event_pages(&mut of_topic, &providers, None).await;
        committed(&url, last_id).await;
        expect_quiet(&mut all).await;
        expect_quiet(&mut of_topic).await;
        expect_quiet(&mut other_topic).await;
        // From history, all committed: pages of 256, cut inside blocks where they must be.
        let start = Cursor { height: before, tx: u32::MAX, event: u32::MAX };
        let mut history = open(json!([CONTRACT, null, start])).await.expect("from history");
        let (to, largest) = expect_event_pages(&mut history, &providers, Some(start)).await;
        assert_eq!(largest, 256, "700 events from history: 256, 256, 188");
        assert!(to >= last, "the last page covers up to the height it read: {to:?}");
        expect_quiet(&mut history).await;

        // Away while more commits: resumed from the last page's cursor, exactly the missed ones.
        drop(all);
        let (providers, last_id) = register_providers(&url, "pages-b", 30).await;
        committed(&url, last_id).await;
        let mut all = open(json!([CONTRACT, null, last])).await.expect("resubscribed");
        expect_event_pages(&mut all, &providers, Some(last)).await;
        expect_quiet(&mut all).await;
    });
}

#[test]
fn events_and_block_transactions_page_through_a_block_larger_than_a_page() {
    const PAGE: u32 = 40;
    let node = TestNode::dev();
    let rt = runtime();
    rt.block_on(async {
        let url = node.rpc.clone();
        let client = rpc::client(&url).expect("client");
        let (providers, last_id) = register_providers(&url, "page", 300).await;
        committed(&url, last_id).await;

        let mut events: Vec<EventInfo> = Vec::new();
        let mut after = None;
        for pages in 0.. {
            assert!(pages < 100, "paging does not advance");
            let page = client
                .events(CONTRACT.into(), 1, None, Some(PAGE), after)
                .await
                .expect("a page of events");
            let short = page.len() < PAGE as usize;
            after = page.last().and_then(|e| e.cursor).or(after);
            events.extend(page);
            if short {
                break;
            }
        }
        let registered: Vec<&EventInfo> =
            events.iter().filter(|e| e.event.topic == TOPIC).collect();
        assert_eq!(registered.len(), providers.len(), "every event, once");
        for (event, provider) in registered.iter().zip(&providers) {
            assert_eq!(event.event.data, provider.0.to_vec());
        }
        // Some block holds more events than a page: its pages were cut inside it.
        let mut per_height = std::collections::BTreeMap::<u64, u32>::new();
        for event in &registered {
            *per_height.entry(event.height).or_default() += 1;
        }
        let (&big, &count) = per_height.iter().max_by_key(|(_, n)| **n).expect("events");
        assert!(count > PAGE, "a block with more events than a page (largest: {count} at {big})");

        // Its transactions, a page at a time, with their receipts as committed.
        let block = client.block(big).await.expect("block");
        let mut txs = Vec::new();
        let mut cursor = None;
        loop {
            let page =
                client.block_txs(big, cursor, Some(PAGE), Some(true)).await.expect("a page of txs");
            assert_eq!(page.total as usize, block.tx_ids.len());
            txs.extend(page.txs);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(txs.len(), block.tx_ids.len());
        for (i, (tx, id)) in txs.iter().zip(&block.tx_ids).enumerate() {
            assert_eq!(tx.index as usize, i);
            assert_eq!(tx.tx_id, *id);
            let signed = SignedTransaction::decode(&hex::decode(&tx.tx).unwrap()).unwrap();
            assert_eq!(signed.id(), *id, "the borsh bytes are the transaction");
            let raw =
                hex::decode(tx.receipt_raw.as_ref().expect("receipt bytes asked for")).unwrap();
            let receipt: Receipt = borsh::from_slice(&raw).expect("the bytes are a receipt");
            assert_eq!(Some(&receipt), tx.receipt.as_ref(), "the bytes are the JSON receipt");
            assert_eq!(receipt.tx_id, *id);
        }
        // Every page read, the leaves rebuild the header's roots: the bytes are what it commits.
        let leaves = |f: fn(&rpc::BlockTx) -> Vec<u8>| txs.iter().map(f).collect::<Vec<_>>();
        let tx_leaves = leaves(|t| hex::decode(&t.tx).unwrap());
        let receipt_leaves = leaves(|t| hex::decode(t.receipt_raw.as_ref().unwrap()).unwrap());
        assert_eq!(merkle::root(&tx_leaves), block.header.txs_root);
        assert_eq!(merkle::root(&receipt_leaves), block.header.receipts_root);
        // kessai_tx gives the same bytes, and its receipt proof proves them.
        let info = client.tx(block.tx_ids[0]).await.expect("kessai_tx");
        let raw = hex::decode(info.receipt_raw.as_ref().expect("committed")).unwrap();
        assert_eq!(raw, receipt_leaves[0]);
        assert!(info.receipt_proof.expect("proof").verify(&block.header.receipts_root, &raw));
        assert_eq!(borsh::from_slice::<Receipt>(&raw).ok(), info.receipt);
        // Without `receipts` a page carries none (and no such fields in its JSON).
        let plain = client.block_txs(big, None, Some(1), None).await.expect("a page");
        assert!(plain.txs[0].receipt.is_none() && plain.txs[0].receipt_raw.is_none());
    });
}

#[test]
fn a_transaction_is_followed_until_it_is_committed() {
    let node = TestNode::dev();
    let rt = runtime();
    rt.block_on(async {
        let url = node.rpc.clone();
        let (_, id) = register_providers(&url, "tx", 1).await;
        let mut status = Subscription::open(&url, "kessai_subscribeTx", json!([id]))
            .await
            .expect("tx subscription");
        let mut states = Vec::new();
        loop {
            let item = next_item(&mut status, Duration::from_secs(30)).await.expect("a status");
            let update: rpc::TxStatus = serde_json::from_value(item).expect("a status");
            assert_eq!(update.tx_id, id);
            states.push(update.state.clone());
            if update.state == rpc::TxState::Committed {
                let cursor = update.cursor.expect("where it was committed");
                let info = rpc::client(&url).unwrap().tx(id).await.unwrap();
                assert_eq!((Some(cursor.height), Some(cursor.tx)), (info.height, info.index));
                break;
            }
        }
        assert!(states.len() <= 2, "pending at most once, then committed: {states:?}");
        // The last message closes the subscription.
        let after_committed = tokio::time::timeout(Duration::from_secs(5), status.next()).await;
        if let Ok(Ok(Next::Item(item))) = after_committed {
            panic!("a message after committed: {item}");
        }
    });
}

#[test]
fn kessai_query_events_follow_prints_each_event_once_as_it_commits() {
    use std::io::BufRead;
    let node = TestNode::dev();
    let rt = runtime();
    let (before, last_id) = rt.block_on(register_providers(&node.rpc, "before", 5));
    rt.block_on(committed(&node.rpc, last_id));
    let mut follow = std::process::Command::new(kessai_tests::kessai_bin())
        .args(["query", "events", CONTRACT, "--follow", "--json", "--rpc", &node.rpc])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kessai query events --follow");
    let (after, _) = rt.block_on(register_providers(&node.rpc, "after", 5));
    let mut lines = std::io::BufReader::new(follow.stdout.take().expect("stdout")).lines();
    for provider in before.iter().chain(&after) {
        let line = lines.next().expect("a line").expect("readable");
        let event: EventInfo = serde_json::from_str(&line).expect("one event per line");
        assert_eq!(event.event.data, provider.0.to_vec(), "in order, once: {line}");
    }
    let _ = follow.kill();
    let _ = follow.wait();
}
