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

/// `kessai_subscribeEvents`: every event of the filter after `after`, then each new one.
pub(crate) async fn events(
    chain: Arc<Chain>,
    mut committed: broadcast::Receiver<u64>,
    pending: PendingSubscriptionSink,
    filter: EventFilter,
    mut after: Cursor,
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
            let page = chain
                .store
                .events_from(filter.address, (from.height, from.tx, from.event), latest, PAGE)
                .map_err(|e| e.to_string())?;
            let full = page.len() == PAGE;
            for event in page {
                let info = crate::rpc::server::event_info(filter.abi.as_ref(), event);
                let cursor = info.cursor.expect("events read from the store have cursors");
                if filter.topic.as_ref().is_none_or(|topic| *topic == info.event.topic)
                    && send(&sink, message(&info)?, after).await?
                {
                    return Ok(());
                }
                after = cursor;
            }
            if !full {
                after = end_of(latest);
                break;
            }
        }
        if !next_commit(&mut committed, &sink).await {
            return Ok(());
        }
    }
}
