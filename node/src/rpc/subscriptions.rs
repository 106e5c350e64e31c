//! The WebSocket subscriptions of the RPC (`kessai_subscribeHeads`, `kessai_subscribeEvents`,
//! `kessai_subscribeTx`; `docs/rpc.md`).
//!
//! A subscription keeps only a cursor: woken by each committed height, it reads what comes after
//! its cursor from the store, a page at a time, and sends it. So a subscriber that resumes from a
//! cursor gets the history first and then the live chain from the same code path, with no gap
//! and no repeat, also across a restart of the node (the store is the only source), and the node
//! holds nothing per subscriber but the cursor, one page and the connection's message buffer.
//!
//! The buffer is jsonrpsee's, per connection: [`BUFFER_MESSAGES`] messages. A message that does
//! not fit within [`LAG_TIMEOUT`] (the client does not read) closes the subscription with a
//! [`codes::LAGGED`] error that says the cursor to resume from.

use crate::chain::Chain;
use jsonrpsee::core::server::SendTimeoutError;
use jsonrpsee::core::server::{PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink};
use jsonrpsee::core::{SubscriptionError, SubscriptionResult};
use kessai_primitives::Address;
use kessai_rpc_api::{codes, Cursor, HeadInfo};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Messages waiting to be written to one WebSocket connection (shared by its subscriptions).
pub const BUFFER_MESSAGES: u32 = 256;

/// How long a subscription waits for room in its connection's buffer before it closes as lagged.
pub const LAG_TIMEOUT: Duration = Duration::from_secs(5);

/// Events or heads read from the store at a time.
const PAGE: usize = 256;

/// How often a subscription looks at the store even without a commit notification.
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// The last cursor of a height: what comes after it starts at the next height.
fn end_of(height: u64) -> Cursor {
    Cursor { height, tx: u32::MAX, event: u32::MAX }
}

/// The subscription message of `item`.
pub(crate) fn message(item: &impl Serialize) -> Result<SubscriptionMessage, SubscriptionError> {
    Ok(serde_json::value::to_raw_value(item).map_err(|e| e.to_string())?.into())
}

/// The close of a subscriber that did not keep up: `resume` is the cursor of the last message it
/// was sent.
fn lagged(resume: Cursor) -> SubscriptionError {
    let error = serde_json::json!({
        "code": codes::LAGGED,
        "message": format!(
            "lagged: resume from cursor {{\"height\":{},\"tx\":{},\"event\":{}}}",
            resume.height, resume.tx, resume.event
        ),
        "cursor": resume,
    });
    SubscriptionError::from_json(serde_json::value::to_raw_value(&error).expect("JSON"))
}

/// Sends `message`, waiting at most [`LAG_TIMEOUT`] for room; `Ok(true)` when the subscriber is
/// gone, a [`lagged`] error (resume from `resume`) when it does not read.
pub(crate) async fn send(
    sink: &SubscriptionSink,
    message: SubscriptionMessage,
    resume: Cursor,
) -> Result<bool, SubscriptionError> {
    match sink.send_timeout(message, LAG_TIMEOUT).await {
        Ok(()) => Ok(false),
        Err(SendTimeoutError::Closed(_)) => Ok(true),
        Err(SendTimeoutError::Timeout(_)) => {
            tracing::debug!(?resume, "RPC subscriber lagged: closed");
            Err(lagged(resume))
        }
    }
}

/// Waits for the next committed block (or [`IDLE_LOOK`]); false when the subscriber left or the
/// node stops.
async fn next_commit(committed: &mut broadcast::Receiver<u64>, sink: &SubscriptionSink) -> bool {
    tokio::select! {
        received = committed.recv() => !matches!(received, Err(broadcast::error::RecvError::Closed)),
        _ = tokio::time::sleep(IDLE_LOOK) => true,
        _ = sink.closed() => false,
    }
}

/// Refuses a start below what the store keeps before the subscription is accepted.
async fn accept_from(
    chain: &Chain,
    pending: PendingSubscriptionSink,
    from_height: u64,
    needs_blocks: bool,
) -> Result<Option<SubscriptionSink>, SubscriptionError> {
    let earliest = if needs_blocks { chain.store.earliest_block_height() } else { 0 };
    if from_height < earliest {
        pending
            .reject(jsonrpsee::types::ErrorObjectOwned::owned(
                codes::PRUNED,
                format!("pruned: the earliest block kept is height {earliest}"),
                None::<()>,
            ))
            .await;
        return Ok(None);
    }
    Ok(Some(pending.accept().await?))
}

/// `kessai_subscribeHeads`: every height after `after`, then each new one.
pub(crate) async fn heads(
    chain: Arc<Chain>,
    mut committed: broadcast::Receiver<u64>,
    pending: PendingSubscriptionSink,
    mut after: u64,
) -> SubscriptionResult {
    let Some(sink) = accept_from(&chain, pending, after + 1, false).await? else { return Ok(()) };
    loop {
        let latest = chain.store.latest_height().unwrap_or(0);
        while after < latest {
            let height = after + 1;
            let (Some(header), Some(commit)) = (
                chain.store.header(height).map_err(|e| e.to_string())?,
                chain.store.commit(height).map_err(|e| e.to_string())?,
            ) else {
                return Err(format!("no header or commit at committed height {height}").into());
            };
            let cursor = Cursor { height, tx: 0, event: 0 };
            let head = HeadInfo { cursor, header, commit };
            if send(&sink, message(&head)?, Cursor { height: after, tx: 0, event: 0 }).await? {
                return Ok(());
            }
            after = height;
        }
        if !next_commit(&mut committed, &sink).await {
            return Ok(());
        }
    }
}

/// Which events an events subscription sends.
pub(crate) struct EventFilter {
    /// The contract that emitted them.
    pub address: Address,
    /// Only this topic, when given.
    pub topic: Option<String>,
    /// The contract's interface, to decode them.
    pub abi: Option<kessai_abi::Abi>,
}

/// How an events subscription delivers what it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// `kessai_subscribeEvents`: one message per event.
    EachEvent,
    /// `kessai_subscribeEventPages`: one message per page of up to [`PAGE`] events, with the
    /// cursor the page covers up to. A firehose subscriber gets a few messages per block instead
    /// of one per event, and the page's JSON is rendered once for all its subscribers.
    Pages,
}

/// `kessai_subscribeEvents` and `kessai_subscribeEventPages`: every event of the filter after
/// `after`, then each new one.
pub(crate) async fn events(
    chain: Arc<Chain>,
    mut committed: broadcast::Receiver<u64>,
    pending: PendingSubscriptionSink,
    filter: EventFilter,
    mut after: Cursor,
    delivery: Delivery,
) -> SubscriptionResult {
    let Some(start) = after.next() else {
        pending
            .reject(jsonrpsee::types::ErrorObjectOwned::owned(
                codes::INVALID_PARAMS,
                "after is the last possible cursor",
                None::<()>,
            ))
            .await;
        return Ok(());
    };
    let Some(sink) = accept_from(&chain, pending, start.height, true).await? else {
        return Ok(());
    };
    // The cursor of the last event sent (or skipped by the topic filter): where a lagged
    // subscriber resumes.
    loop {
        let latest = chain.store.latest_height().unwrap_or(0);
        loop {
            let Some(from) = after.next() else { return Ok(()) };
            if from.height > latest {
                break;
            }
            let page = pages::events(&chain, &filter, from, latest).await?;
            match delivery {
                Delivery::EachEvent => {
                    for event in &page.events {
                        if filter.topic.as_ref().is_none_or(|topic| *topic == event.topic)
                            && send(&sink, event.json.clone().into(), after).await?
                        {
                            return Ok(());
                        }
                        after = event.cursor;
                    }
                }
                Delivery::Pages => {
                    if let Some(message) = page.message(filter.topic.as_deref()) {
                        if send(&sink, message, after).await? {
                            return Ok(());
                        }
                    }
                    after = page.covered();
                }
            }
            if !page.full {
                after = end_of(latest);
                break;
            }
        }
        if !next_commit(&mut committed, &sink).await {
            return Ok(());
        }
    }
}

/// Pages of events read from the store and rendered to JSON once for every subscriber that asks
/// for the same page.
///
/// Subscribers that follow the live chain all wake at the same commit and ask for the same page
/// (from the first event after the previous height, up to the new one): without this, each one
/// read it from the store, decoded every event by the ABI and serialised it, so the node's work
/// per event grew with the number of subscribers (`docs/benchmarks.md`, "Subscription fan-out").
/// A page is keyed by everything that decides its content — the chain, the contract, the first
/// cursor, the last height and the ABI it is decoded by — and committed heights never change, so
/// a page from here is exactly what the store would give; the topic filter is applied by each
/// subscriber. The first asker reads the page while the others wait for it; the last
/// [`PAGES_KEPT`] pages are kept.
mod pages {
    use super::{EventFilter, PAGE};
    use crate::chain::Chain;
    use jsonrpsee::core::server::SubscriptionMessage;
    use jsonrpsee::core::SubscriptionError;
    use kessai_primitives::Address;
    use kessai_rpc_api::Cursor;
    use serde_json::value::RawValue;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    use tokio::sync::OnceCell;

    /// Pages kept for sharing (each at most [`PAGE`] events).
    pub(super) const PAGES_KEPT: usize = 32;

    /// One event of a page, rendered.
    pub(crate) struct Rendered {
        pub cursor: Cursor,
        pub topic: String,
        /// The `kessai_event` item as JSON.
        pub json: Box<RawValue>,
    }

    /// Events after a cursor up to a height, at most [`PAGE`].
    pub(crate) struct Page {
        pub events: Vec<Rendered>,
        /// Whether the page holds [`PAGE`] events (there may be more up to that height).
        pub full: bool,
        /// The height it was read up to.
        pub latest: u64,
        /// The `kessai_eventPage` message of every event, rendered by the first subscriber that
        /// sends it.
        pub whole: OnceLock<Box<RawValue>>,
    }

    impl Page {
        /// The last cursor this page covers: its last event when it is full (more may follow at
        /// that height), else the end of the height it was read up to.
        pub(crate) fn covered(&self) -> Cursor {
            match self.events.last() {
                Some(last) if self.full => last.cursor,
                _ => super::end_of(self.latest),
            }
        }

        /// The `kessai_eventPage` message of this page's events of `topic` (all when none), with
        /// [`Page::covered`] as its cursor; none when no event is of `topic`. The whole page's
        /// message is rendered once and shared; a topic's is joined from the rendered events.
        pub(crate) fn message(&self, topic: Option<&str>) -> Option<SubscriptionMessage> {
            let covered = self.covered();
            let json = match topic {
                None if self.events.is_empty() => return None,
                None => self.whole.get_or_init(|| render(self.events.iter(), covered)).clone(),
                Some(topic) => {
                    let mut of_topic = self.events.iter().filter(|e| e.topic == topic).peekable();
                    of_topic.peek()?;
                    render(of_topic, covered)
                }
            };
            Some(json.into())
        }
    }

    /// `{"events":[…],"cursor":…}` from events already rendered (joined, not serialised again).
    fn render<'a>(events: impl Iterator<Item = &'a Rendered>, covered: Cursor) -> Box<RawValue> {
        let mut json = String::from("{\"events\":[");
        for (i, event) in events.enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(event.json.get());
        }
        json.push_str("],\"cursor\":");
        json.push_str(&serde_json::to_string(&covered).expect("a cursor is JSON"));
        json.push('}');
        RawValue::from_string(json).expect("joined JSON values are JSON")
    }

    struct Entry {
        // A weak reference keeps the chain's allocation, so no other chain can have its address
        // while the entry exists.
        chain: Weak<Chain>,
        address: Address,
        from: Cursor,
        latest: u64,
        abi: Option<kessai_abi::Abi>,
        page: Arc<OnceCell<Arc<Page>>>,
    }

    fn kept() -> &'static Mutex<VecDeque<Entry>> {
        static KEPT: OnceLock<Mutex<VecDeque<Entry>>> = OnceLock::new();
        KEPT.get_or_init(|| Mutex::new(VecDeque::with_capacity(PAGES_KEPT)))
    }

    /// The page of `filter`'s contract from `from` up to `latest`, read and rendered once.
    pub(crate) async fn events(
        chain: &Arc<Chain>,
        filter: &EventFilter,
        from: Cursor,
        latest: u64,
    ) -> Result<Arc<Page>, SubscriptionError> {
        shared(chain, filter, from, latest, read).await
    }

    /// [`events`], the page read by `read` when no subscriber has asked for it yet.
    async fn shared(
        chain: &Arc<Chain>,
        filter: &EventFilter,
        from: Cursor,
        latest: u64,
        read: impl FnOnce(&Chain, &EventFilter, Cursor, u64) -> Result<Page, SubscriptionError>,
    ) -> Result<Arc<Page>, SubscriptionError> {
        let cell = {
            let mut kept = kept().lock().expect("not poisoned");
            let found = kept.iter().find(|e| {
                e.address == filter.address
                    && e.from == from
                    && e.latest == latest
                    && std::ptr::eq(e.chain.as_ptr(), Arc::as_ptr(chain))
                    && e.abi == filter.abi
            });
            match found {
                Some(entry) => entry.page.clone(),
                None => {
                    if kept.len() == PAGES_KEPT {
                        kept.pop_front();
                    }
                    let page = Arc::new(OnceCell::new());
                    kept.push_back(Entry {
                        chain: Arc::downgrade(chain),
                        address: filter.address,
                        from,
                        latest,
                        abi: filter.abi.clone(),
                        page: page.clone(),
                    });
                    page
                }
            }
        };
        let page = cell
            .get_or_try_init(|| async { read(chain, filter, from, latest).map(Arc::new) })
            .await?;
        Ok(page.clone())
    }

    /// Reads and renders the page from the store.
    pub(crate) fn read(
        chain: &Chain,
        filter: &EventFilter,
        from: Cursor,
        latest: u64,
    ) -> Result<Page, SubscriptionError> {
        let events = chain
            .store
            .events_from(filter.address, (from.height, from.tx, from.event), latest, PAGE)
            .map_err(|e| e.to_string())?;
        let full = events.len() == PAGE;
        let events = events
            .into_iter()
            .map(|event| {
                let info = crate::rpc::server::event_info(filter.abi.as_ref(), event);
                let json = serde_json::value::to_raw_value(&info).map_err(|e| e.to_string())?;
                Ok(Rendered {
                    cursor: info.cursor.expect("events read from the store have cursors"),
                    topic: info.event.topic,
                    json,
                })
            })
            .collect::<Result<_, SubscriptionError>>()?;
        Ok(Page { events, full, latest, whole: OnceLock::new() })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use kessai_chainspec::ChainSpec;
        use std::sync::atomic::{AtomicUsize, Ordering};

        fn dev_chain() -> (tempfile::TempDir, Arc<Chain>) {
            let dir = tempfile::tempdir().unwrap();
            let chain = Chain::open(ChainSpec::dev(), dir.path()).unwrap();
            (dir, chain)
        }

        fn filter(address: Address) -> EventFilter {
            EventFilter { address, topic: None, abi: None }
        }

        /// `count` subscribers asking at once for the page of `filter` from `from` up to
        /// `latest`; how many times the store was read.
        async fn ask(
            chain: &Arc<Chain>,
            filter: &Arc<EventFilter>,
            from: Cursor,
            latest: u64,
            count: usize,
        ) -> usize {
            let reads = Arc::new(AtomicUsize::new(0));
            let asks = (0..count).map(|_| {
                let (chain, filter, reads) = (chain.clone(), filter.clone(), reads.clone());
                tokio::spawn(async move {
                    let read = |_: &Chain, _: &EventFilter, _: Cursor, _: u64| {
                        reads.fetch_add(1, Ordering::SeqCst);
                        // Slow enough that the other subscribers ask while it reads.
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok(Page {
                            events: Vec::new(),
                            full: false,
                            latest: 0,
                            whole: OnceLock::new(),
                        })
                    };
                    shared(&chain, &filter, from, latest, read).await.unwrap();
                })
            });
            for ask in asks.collect::<Vec<_>>() {
                ask.await.unwrap();
            }
            reads.load(Ordering::SeqCst)
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_page_is_read_once_for_all_its_subscribers() {
            let (_dir, chain) = dev_chain();
            // An address no other test asks for (the pages kept are shared by the process).
            let contract = Address([0xfa; 32]);
            let mine = Arc::new(filter(contract));
            let from = Cursor { height: 7, tx: 0, event: 0 };
            assert_eq!(ask(&chain, &mine, from, 7, 50).await, 1, "50 subscribers, one read");
            assert_eq!(ask(&chain, &mine, from, 7, 10).await, 0, "a kept page is not read again");
            // Anything that changes the page's content is another page.
            assert_eq!(ask(&chain, &mine, from, 8, 10).await, 1, "another last height");
            let later = Cursor { height: 7, tx: 3, event: 0 };
            assert_eq!(ask(&chain, &mine, later, 7, 10).await, 1, "another first cursor");
            let other = Arc::new(filter(Address([0xfb; 32])));
            assert_eq!(ask(&chain, &other, from, 7, 10).await, 1, "another contract");
            let (_dir2, chain2) = dev_chain();
            assert_eq!(ask(&chain2, &mine, from, 7, 10).await, 1, "another chain");
            let abi = kessai_abi::Abi {
                name: "any".into(),
                version: "1".into(),
                types: Default::default(),
                methods: Vec::new(),
                maps: Vec::new(),
                events: Vec::new(),
            };
            let decoded = Arc::new(EventFilter { abi: Some(abi), ..filter(contract) });
            assert_eq!(ask(&chain, &decoded, from, 7, 10).await, 1, "another ABI");
        }
    }
}
