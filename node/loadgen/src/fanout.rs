//! `kessai-fanout`: a fleet of WebSocket subscribers to one node, counted against the chain.
//!
//! Opens `--subscribers` subscriptions, each on a connection of its own (half
//! `kessai_subscribeHeads`, half `kessai_subscribeEvents` of `--contract` — or
//! `kessai_subscribeEventPages` with `--pages` —, or each kind for all with `--kind`), all from the height the node had at start. It records every head's height and
//! every event's cursor and transaction id that each subscriber receives, until the file
//! `--stop-file` appears (the load is over). Then it reads the chain up to the node's height at
//! that moment and checks, for each subscriber, that it got every head once and every event once,
//! in chain order: no gap, no duplicate, no reordering.
//!
//! The events a subscriber must get are read twice from the node: from `kessai_events` by cursor
//! (the event index the subscriptions read too) and, independently of that index, from the receipts
//! of every transaction of every block (`kessai_blockTxs` with receipts); the two must agree.
//!
//! A subscriber the node closes as lagged (`-32040`, "resume from cursor") subscribes again from
//! its last cursor: that is a recovery, counted apart, and what it received across it is checked
//! like the rest. Anything else the node or the connection does is counted too.
//!
//! Connections come from several loopback addresses (127.0.0.2, .3, …; [`PER_SOURCE`] each), like
//! subscribers on several hosts, so the node's per-host connection cap (64 by default) is not what
//! is measured. The client parses only the fields it checks (cursor, transaction id), to take as
//! little of the machine from the node as it can; its own CPU time is in the report.

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use kessai_client::rpc::{self, codes, Cursor, HttpClient, KessaiApiClient};
use serde::Deserialize;
use serde_json::{json, Value};
use soketto::handshake::{Client, ServerResponse};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

#[derive(Parser, Debug)]
#[command(about = "Open N WebSocket subscriptions to a Kessai node and check each got every head \
                   and event once, in order")]
struct Args {
    /// RPC URL of the node (http://HOST:PORT; the same port serves WebSocket).
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Number of subscriptions, each on a connection of its own.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// The contract whose events the events subscribers follow (name or address).
    #[arg(long, default_value = "asset-ownership")]
    contract: String,
    /// What each subscriber follows: `mixed` (even ones heads, odd ones events), `heads`, `events`.
    #[arg(long, value_enum, default_value = "mixed")]
    kind: Kind,
    /// Written (with the start height) once every subscription is accepted.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Subscribers stop once this file exists and they have everything up to the node's height
    /// at that moment.
    #[arg(long)]
    stop_file: PathBuf,
    /// How long subscribers may take after the stop to catch up to that height.
    #[arg(long, default_value_t = 120)]
    drain_seconds: u64,
    /// Events subscribers take `kessai_subscribeEventPages` (up to 256 events a message) instead
    /// of `kessai_subscribeEvents` (one message per event).
    #[arg(long)]
    pages: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mixed,
    Heads,
    Events,
}

/// Subscribers per loopback source address (the node allows 64 connections per host by default).
const PER_SOURCE: usize = 25;

/// One event as a subscriber received it: its cursor and a hash of its transaction id.
type Seen = (Cursor, u64);

/// What a subscriber follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Heads,
    Events,
}

/// What one subscriber received and what happened to it.
#[derive(Debug, Default)]
struct Record {
    /// Heights of the heads received, in arrival order.
    heads: Vec<u64>,
    /// Events received, in arrival order.
    events: Vec<Seen>,
    /// Closes as lagged (each followed by a resubscription from the last cursor).
    lagged: u32,
    /// Other closes by the node, and connections that ended (each followed by a resubscription).
    other_closes: u32,
    /// The first such close's error, for the report.
    first_close: Option<String>,
    /// Subscriptions that could not be opened again (the subscriber then gave up).
    failed: Option<String>,
}

/// Until when subscribers keep reading: set after the stop file appears.
#[derive(Clone, Copy, Debug, Default)]
struct Target {
    /// The last head a heads subscriber must get.
    head: Option<u64>,
    /// The last event an events subscriber must get (none: there is none to wait for).
    event: Option<Option<Cursor>>,
    /// Past the drain time: stop whatever was received.
    give_up: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.subscribers == 0 {
        bail!("--subscribers must be at least 1");
    }
    let client = rpc::client(&args.rpc)?;
    let host = args
        .rpc
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--rpc must be an http:// URL, not {}", args.rpc))?
        .to_string();
    let node: SocketAddr = tokio::net::lookup_host(&host)
        .await?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let contract = client.contract(args.contract.clone()).await.context("unknown contract")?;
    let start = client.status().await.context("cannot reach the node")?.height;
    let cpu_start = cpu_seconds();

    let (target_tx, target_rx) = watch::channel(Target::default());
    let mut tasks = Vec::new();
    for i in 0..args.subscribers {
        let stream = match args.kind {
            Kind::Heads => Stream::Heads,
            Kind::Events => Stream::Events,
            Kind::Mixed if i % 2 == 0 => Stream::Heads,
            Kind::Mixed => Stream::Events,
        };
        let source = Ipv4Addr::new(127, 0, 0, 2 + (i / PER_SOURCE) as u8);
        let sub = Subscriber {
            node,
            host: host.clone(),
            source,
            stream,
            contract: contract.address.to_string(),
            pages: args.pages,
            record: Record::default(),
        };
        // Opened here, one after the other, so that "ready" means every one is accepted.
        let socket = sub.open(Cursor { height: start, tx: u32::MAX, event: u32::MAX }).await?;
        let target = target_rx.clone();
        tasks.push((stream, tokio::spawn(async move { sub.run(socket, target).await })));
    }
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, format!("{start}\n"))?;
    }
    eprintln!("{} subscriptions open from height {start}", args.subscribers);

    while !args.stop_file.exists() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = client.status().await?.height;
    let stopped_at = Instant::now();
    let cpu_run = cpu_seconds() - cpu_start;
    // What the chain says each subscriber must have received, read after the run.
    let expected_events = events_by_cursor(&client, &args.contract, start, end).await?;
    let from_receipts = events_from_receipts(&client, contract.address, start, end).await?;
    let index_agrees = expected_events.len() == from_receipts.len()
        && expected_events.iter().zip(&from_receipts).all(|(a, b)| a.1 == b.1);
    target_tx.send_replace(Target {
        head: Some(end),
        event: Some(expected_events.last().map(|e| e.0)),
        give_up: false,
    });
    let drain = Duration::from_secs(args.drain_seconds);
    let giver = {
        let target_tx = target_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(drain).await;
            target_tx.send_modify(|t| t.give_up = true);
        })
    };
    let mut report = Report::default();
    for (n, (stream, task)) in tasks.into_iter().enumerate() {
        let record = task.await?;
        report.add(n, stream, &record, start, end, &expected_events);
    }
    giver.abort();
    report.drained_ms = stopped_at.elapsed().as_millis() as u64;

    let heads_expected = end - start;
    let out = json!({
        "subscribers": args.subscribers,
        "heads_subscribers": report.heads_subscribers,
        "events_subscribers": report.events_subscribers,
        "from_height": start, "to_height": end,
        "heads_expected_each": heads_expected,
        "events_expected_each": expected_events.len(),
        "event_index_agrees_with_receipts": index_agrees,
        "events_in_receipts": from_receipts.len(),
        "heads_received": report.heads_received,
        "events_received": report.events_received,
        "subscribers_complete": report.complete,
        "subscribers_with_misses": report.with_misses,
        "missed": report.missed, "duplicated": report.duplicated, "out_of_order": report.out_of_order,
        "unexpected": report.unexpected,
        "lagged_closes": report.lagged, "other_closes": report.other_closes,
        "first_close": report.first_close, "gave_up": report.gave_up,
        "drain_ms": report.drained_ms,
        "client_cpu_seconds": cpu_run,
        "problems": report.problems,
    });
    if args.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    if report.complete != args.subscribers || !index_agrees {
        std::process::exit(1);
    }
    Ok(())
}

/// A subscriber: one subscription on a connection of its own.
struct Subscriber {
    node: SocketAddr,
    host: String,
    source: Ipv4Addr,
    stream: Stream,
    contract: String,
    /// Events come in pages (`kessai_subscribeEventPages`).
    pages: bool,
    record: Record,
}

type Receiver = soketto::connection::Receiver<Compat<tokio::net::TcpStream>>;

/// What a subscriber read next.
enum Message {
    Head(u64),
    Event(Seen),
    /// A page of events, in order.
    Events(Vec<Seen>),
    /// The node closed the subscription with this error (`code`, `message`, `cursor`).
    Closed(Value),
    /// Not a notification of the subscription (ignored).
    Other,
    /// The connection ended.
    Ended,
}

impl Subscriber {
    /// Connects from `self.source` and subscribes from `after` (heads: after its height).
    async fn open(&self, after: Cursor) -> Result<Receiver> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((self.source, 0)))?;
        let stream = socket.connect(self.node).await.context("cannot connect to the node")?;
        stream.set_nodelay(true)?;
        let mut client = Client::new(stream.compat(), &self.host, "/");
        match client.handshake().await? {
            ServerResponse::Accepted { .. } => {}
            other => bail!("the node refused the WebSocket upgrade: {other:?}"),
        }
        let (mut sender, mut receiver) = client.into_builder().finish();
        let (method, params) = match self.stream {
            Stream::Heads => ("kessai_subscribeHeads", json!([after.height])),
            Stream::Events if self.pages => {
                ("kessai_subscribeEventPages", json!([self.contract, null, after]))
            }
            Stream::Events => ("kessai_subscribeEvents", json!([self.contract, null, after])),
        };
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        sender.send_text(request.to_string()).await?;
        sender.flush().await?;
        // The sender stays alive in a task: the receiver answers the node's pings through it.
        tokio::spawn(async move {
            let _sender = sender;
            std::future::pending::<()>().await
        });
        let mut buffer = Vec::new();
        receiver.receive_data(&mut buffer).await.context("no answer to the subscription")?;
        let answer: Value = serde_json::from_slice(&buffer)?;
        if let Some(error) = answer.get("error") {
            bail!("subscription refused: {error}");
        }
        Ok(receiver)
    }

    /// Reads until the target is reached (or given up); resubscribes from the last cursor when
    /// the node closes the subscription.
    async fn run(mut self, mut receiver: Receiver, mut target: watch::Receiver<Target>) -> Record {
        let mut buffer = Vec::new();
        loop {
            if self.done(&target.borrow()) {
                return self.record;
            }
            let message = tokio::select! {
                m = next(&mut receiver, &mut buffer) => m,
                _ = target.changed() => continue,
            };
            match message {
                Message::Head(height) => self.record.heads.push(height),
                Message::Event(seen) => self.record.events.push(seen),
                Message::Events(seen) => self.record.events.extend(seen),
                Message::Other => {}
                Message::Closed(error) => {
                    if error["code"].as_i64() == Some(codes::LAGGED as i64) {
                        self.record.lagged += 1;
                    } else {
                        self.record.other_closes += 1;
                    }
                    self.record.first_close.get_or_insert_with(|| error.to_string());
                    match self.reopen().await {
                        Ok(r) => receiver = r,
                        Err(e) => {
                            self.record.failed = Some(format!("{e:#}"));
                            return self.record;
                        }
                    }
                }
                Message::Ended => {
                    self.record.other_closes += 1;
                    self.record.first_close.get_or_insert_with(|| "connection ended".into());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match self.reopen().await {
                        Ok(r) => receiver = r,
                        Err(e) => {
                            self.record.failed = Some(format!("{e:#}"));
                            return self.record;
                        }
                    }
                }
            }
        }
    }

    /// Subscribes again from the last cursor received.
    async fn reopen(&self) -> Result<Receiver> {
        let after = match self.stream {
            Stream::Heads => {
                Cursor { height: *self.record.heads.last().unwrap_or(&0), ..Default::default() }
            }
            Stream::Events => self.record.events.last().map(|e| e.0).unwrap_or_default(),
        };
        self.open(after).await
    }

    /// Whether the subscriber has what it must have (or must stop).
    fn done(&self, target: &Target) -> bool {
        if target.give_up {
            return true;
        }
        match self.stream {
            Stream::Heads => target.head.is_some_and(|h| self.record.heads.last() >= Some(&h)),
            Stream::Events => match target.event {
                None => false,
                Some(None) => true,
                Some(Some(last)) => self.record.events.last().is_some_and(|e| e.0 >= last),
            },
        }
    }
}

/// The notification as far as the fleet reads it.
#[derive(Deserialize)]
struct Notification {
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    result: Option<Item>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Item {
    cursor: Cursor,
    tx_id: Option<String>,
    /// A page's events (`kessai_eventPage`).
    events: Option<Vec<PageEvent>>,
}

#[derive(Deserialize)]
struct PageEvent {
    cursor: Cursor,
    tx_id: String,
}

async fn next(receiver: &mut Receiver, buffer: &mut Vec<u8>) -> Message {
    buffer.clear();
    if receiver.receive_data(buffer).await.is_err() {
        return Message::Ended;
    }
    let Ok(Notification { params: Some(params) }) = serde_json::from_slice(buffer) else {
        return Message::Other;
    };
    if let Some(error) = params.error {
        return Message::Closed(error);
    }
    match params.result {
        Some(Item { events: Some(events), .. }) => {
            Message::Events(events.into_iter().map(|e| (e.cursor, hash_of(&e.tx_id))).collect())
        }
        Some(Item { cursor, tx_id: Some(tx_id), .. }) => Message::Event((cursor, hash_of(&tx_id))),
        Some(Item { cursor, tx_id: None, .. }) => Message::Head(cursor.height),
        None => Message::Other,
    }
}

fn hash_of(tx_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    tx_id.hash(&mut h);
    h.finish()
}

/// The contract's events of heights `start + 1 ..= end`, by cursor from `kessai_events`.
async fn events_by_cursor(
    client: &HttpClient,
    contract: &str,
    start: u64,
    end: u64,
) -> Result<Vec<Seen>> {
    let mut all = Vec::new();
    let mut after = Cursor { height: start, tx: u32::MAX, event: u32::MAX };
    const LIMIT: u32 = 10_000;
    loop {
        let page = client
            .events(contract.to_string(), start + 1, Some(end), Some(LIMIT), Some(after))
            .await?;
        let full = page.len() == LIMIT as usize;
        for event in page {
            let cursor = event.cursor.context("the node sends events without cursors")?;
            all.push((cursor, hash_of(&event.tx_id.to_string())));
            after = cursor;
        }
        if !full {
            return Ok(all);
        }
    }
}

/// The contract's events of heights `start + 1 ..= end`, from the receipts of every transaction
/// of every block (`kessai_blockTxs`), not from the node's event index.
async fn events_from_receipts(
    client: &HttpClient,
    contract: kessai_primitives::Address,
    start: u64,
    end: u64,
) -> Result<Vec<Seen>> {
    let mut all = Vec::new();
    for height in start + 1..=end {
        let mut cursor = Some(0);
        while let Some(from) = cursor {
            let page = client.block_txs(height, Some(from), Some(10_000), Some(true)).await?;
            for tx in &page.txs {
                let receipt = tx.receipt.as_ref().context("blockTxs without receipts")?;
                let tx_hash = hash_of(&tx.tx_id.to_string());
                for (i, event) in receipt.events.iter().enumerate() {
                    if event.contract == contract {
                        all.push((Cursor { height, tx: tx.index, event: i as u32 }, tx_hash));
                    }
                }
            }
            cursor = page.next;
        }
    }
    Ok(all)
}

/// The fleet's counts, checked against the chain.
#[derive(Default)]
struct Report {
    heads_subscribers: usize,
    events_subscribers: usize,
    heads_received: u64,
    events_received: u64,
    complete: usize,
    with_misses: usize,
    missed: u64,
    duplicated: u64,
    out_of_order: u64,
    unexpected: u64,
    lagged: u32,
    other_closes: u32,
    first_close: Option<String>,
    gave_up: usize,
    drained_ms: u64,
    problems: Vec<String>,
}

impl Report {
    fn add(
        &mut self,
        n: usize,
        stream: Stream,
        record: &Record,
        start: u64,
        end: u64,
        expected_events: &[Seen],
    ) {
        self.lagged += record.lagged;
        self.other_closes += record.other_closes;
        if self.first_close.is_none() {
            self.first_close.clone_from(&record.first_close);
        }
        if let Some(failed) = &record.failed {
            self.problems.push(format!("subscriber {n}: could not resubscribe: {failed}"));
        }
        // What it got up to `end` (it may have got more: the chain went on).
        let check = match stream {
            Stream::Heads => {
                self.heads_subscribers += 1;
                self.heads_received += record.heads.len() as u64;
                let got: Vec<Seen> =
                    record.heads.iter().filter(|h| **h <= end).map(|&h| (head(h), 0)).collect();
                let want: Vec<Seen> = (start + 1..=end).map(|h| (head(h), 0)).collect();
                compare(&got, &want)
            }
            Stream::Events => {
                self.events_subscribers += 1;
                self.events_received += record.events.len() as u64;
                let got: Vec<Seen> =
                    record.events.iter().filter(|e| e.0.height <= end).copied().collect();
                compare(&got, expected_events)
            }
        };
        self.missed += check.missed;
        self.duplicated += check.duplicated;
        self.out_of_order += check.out_of_order;
        self.unexpected += check.unexpected;
        if check.is_clean() {
            self.complete += 1;
        } else {
            self.with_misses += 1;
            if record.failed.is_none() && self.problems.len() < 10 {
                self.problems.push(format!("subscriber {n} ({stream:?}): {check:?}"));
            }
        }
        let reached = match stream {
            Stream::Heads => record.heads.last().is_some_and(|h| *h >= end),
            Stream::Events => expected_events
                .last()
                .is_none_or(|l| record.events.last().is_some_and(|e| e.0 >= l.0)),
        };
        if !reached {
            self.gave_up += 1;
        }
    }
}

fn head(height: u64) -> Cursor {
    Cursor { height, tx: 0, event: 0 }
}

/// How a received sequence differs from the chain's.
#[derive(Debug, Default)]
struct Check {
    /// In the chain, never received.
    missed: u64,
    /// Received more than once.
    duplicated: u64,
    /// Received after a later one.
    out_of_order: u64,
    /// Received, not in the chain (or with another transaction id).
    unexpected: u64,
}

impl Check {
    fn is_clean(&self) -> bool {
        self.missed == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.unexpected == 0
    }
}

/// Compares what a subscriber received (arrival order) with what the chain holds (chain order).
fn compare(got: &[Seen], want: &[Seen]) -> Check {
    let out_of_order = got.windows(2).filter(|w| w[1].0 < w[0].0).count() as u64;
    let mut sorted = got.to_vec();
    sorted.sort();
    let before = sorted.len();
    sorted.dedup();
    let duplicated = (before - sorted.len()) as u64;
    let wanted: std::collections::BTreeSet<Seen> = want.iter().copied().collect();
    let received: std::collections::BTreeSet<Seen> = sorted.into_iter().collect();
    Check {
        missed: wanted.difference(&received).count() as u64,
        duplicated,
        out_of_order,
        unexpected: received.difference(&wanted).count() as u64,
    }
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line; 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(height: u64, tx: u32) -> Seen {
        (Cursor { height, tx, event: 0 }, tx as u64)
    }

    #[test]
    fn compare_counts_each_kind_of_difference() {
        let want = vec![e(1, 0), e(1, 1), e(2, 0), e(3, 0)];
        assert!(compare(&want, &want).is_clean());
        let c = compare(&[e(1, 0), e(2, 0), e(3, 0)], &want);
        assert_eq!((c.missed, c.duplicated, c.out_of_order, c.unexpected), (1, 0, 0, 0));
        let c = compare(&[e(1, 0), e(1, 1), e(1, 1), e(2, 0), e(3, 0)], &want);
        assert_eq!((c.missed, c.duplicated, c.out_of_order, c.unexpected), (0, 1, 0, 0));
        let c = compare(&[e(1, 0), e(2, 0), e(1, 1), e(3, 0)], &want);
        assert_eq!((c.missed, c.duplicated, c.out_of_order, c.unexpected), (0, 0, 1, 0));
        // Same cursor, another transaction.
        let c = compare(
            &[e(1, 0), (Cursor { height: 1, tx: 1, event: 0 }, 9), e(2, 0), e(3, 0)],
            &want,
        );
        assert_eq!((c.missed, c.duplicated, c.out_of_order, c.unexpected), (1, 0, 0, 1));
    }
}
