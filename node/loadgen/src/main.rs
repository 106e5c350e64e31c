//! `kessai-loadgen`: drives a node with signed `asset-ownership.create` calls and reports committed
//! transactions per second and submit-to-commit latency.
//!
//! **What is measured.** Latency is what a client sees: from the moment a transaction's batch is
//! sent to the moment the client learns that its block is committed — a watcher polls the first
//! node's `kessai_status` every [`WATCH_EVERY`] and records when each height first shows up as
//! committed (so the resolution is that period). Throughput is committed transactions over the span
//! from the first submission to the moment the last one was seen committed. Block times (which the
//! proposer stamps when it *starts* building a block) are no longer used: they leave out execution,
//! the votes and the write, and flattered every figure measured with them (issue 19).
//!
//! Setup (signed by the dev admin `alice`): N fresh accounts are admitted as members and registered
//! as providers; `carol` is registered as the intermediary that owns the records. Then every account
//! submits its pre-signed calls in nonce order, in batches (`kessai_submitTxs`), one submitter task
//! per group of accounts so an account's nonces never race each other. A submission the node refuses
//! because its mempool is full is counted (`refused_full`) and offered again after [`REFUSED_PAUSE`]
//! (the submitter obeys "try again after the next block" instead of resubmitting at once); latency
//! is measured for admitted transactions, from the submission that was admitted.

use anyhow::{bail, Context, Result};
use clap::Parser;
use kessai_client::load_signer;
use kessai_client::rpc::{self, KessaiApiClient};
use kessai_primitives::time::now_ms;
use kessai_primitives::{GovernanceAction, Hash, Keypair, Payload, SignedTransaction, Transaction};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a submitter waits after the node refused part of its batch as "mempool full": about
/// a block at sustained load.
const REFUSED_PAUSE: Duration = Duration::from_millis(200);

#[derive(Parser, Debug)]
#[command(about = "Submit signed asset-ownership calls to a Kessai node and measure throughput")]
struct Args {
    /// RPC URL of a node; repeat to spread the submitters over several nodes of one chain (setup
    /// and measurement use the first).
    #[arg(long, default_value = "http://127.0.0.1:8545", num_args = 1)]
    rpc: Vec<String>,
    /// Directory with the dev keys (alice.json, carol.json).
    #[arg(long)]
    keys_dir: PathBuf,
    /// Number of sending accounts.
    #[arg(long, default_value_t = 32)]
    accounts: usize,
    /// Total transactions to send.
    #[arg(long, default_value_t = 50_000)]
    txs: usize,
    /// Transactions per `submitTxs` request.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    /// Concurrent submitter tasks.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Offered load in transactions per second, spread evenly over the submitters (default: as
    /// fast as the node admits them). Latency is only meaningful below the chain's capacity.
    #[arg(long)]
    rate: Option<f64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// What each transaction does: `create` registers a new asset record (the state grows with
    /// every transaction); `touch` calls the read-only `admin` method, so that a transaction writes
    /// only its signer's nonce (updates to a fixed set of keys: what pruning can bound).
    #[arg(long, value_enum, default_value = "create")]
    workload: Workload,
}

/// How often the watcher asks the node for its committed height.
const WATCH_EVERY: Duration = Duration::from_millis(20);

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Create,
    Touch,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = rpc::client(&args.rpc[0])?;
    let status = client.status().await.context("cannot reach the node")?;
    let chain_id = status.chain_id.clone();
    let admin = load_signer("alice", Some(&args.keys_dir))?;
    let intermediary = load_signer("carol", Some(&args.keys_dir))?;
    let contract = client.contract("asset-ownership".into()).await?;
    let abi = contract.abi.clone();

    let run_id = now_ms();
    let senders: Vec<Keypair> =
        (0..args.accounts).map(|i| Keypair::dev(&format!("loadgen-{run_id}-{i}"))).collect();

    // Setup, signed by the admin in one nonce run.
    let mut nonce = client.account(admin.public()).await?.next_nonce;
    let mut setup = Vec::new();
    let mut sign_admin = |payload: Payload| {
        let tx = Transaction {
            chain_id: chain_id.clone(),
            signer: admin.public(),
            nonce,
            gas_limit: 10_000_000,
            payload,
        }
        .sign(&admin);
        nonce += 1;
        tx
    };
    let call = |method: &str, json: serde_json::Value| -> Result<Payload> {
        Ok(Payload::Call {
            contract: contract.address,
            method: method.into(),
            args: abi.encode_args(method, &json)?,
        })
    };
    setup.push(sign_admin(call(
        "register_intermediary",
        serde_json::json!([intermediary.address().to_string(), "carol"]),
    )?));
    for (i, s) in senders.iter().enumerate() {
        setup.push(sign_admin(Payload::Governance(GovernanceAction::AddMember {
            key: s.public(),
            roles: vec![],
        })));
        setup.push(sign_admin(call(
            "register_provider",
            serde_json::json!([s.address().to_string(), format!("producer-{i}")]),
        )?));
    }
    let ids = submit_all(&client, &setup).await?;
    wait_committed(&client, *ids.last().expect("setup txs")).await?;
    for (i, id) in ids.iter().enumerate() {
        let info = client.tx(*id).await?;
        let receipt = info.receipt.as_ref();
        // The intermediary (the first setup call) stays registered from an earlier run.
        let earlier_run = i == 0
            && receipt.is_some_and(|r| format!("{:?}", r.status).contains("already registered"));
        if !receipt.is_some_and(|r| r.is_success()) && !earlier_run {
            bail!("setup transaction {id} failed: {:?}", info.receipt);
        }
    }

    // Pre-sign every call, so the measurement is the node's work, not ours.
    let per_account = args.txs.div_ceil(args.accounts);
    let base_time = now_ms() - 3_600_000;
    let owner = intermediary.address().to_string();
    let mut plan: Vec<Vec<(SignedTransaction, String)>> = Vec::new();
    for sender in &senders {
        let mut txs = Vec::with_capacity(per_account);
        for n in 0..per_account {
            let args_json = serde_json::json!([
                sender.address().to_string(),
                base_time + n as u64,
                10 + (n % 90) as u64,
                "Solar",
                owner,
                null
            ]);
            let payload = match args.workload {
                Workload::Create => call("create", args_json)?,
                Workload::Touch => call("admin", serde_json::json!([]))?,
            };
            let tx = Transaction {
                chain_id: chain_id.clone(),
                signer: sender.public(),
                nonce: n as u64,
                gas_limit: 5_000_000,
                payload,
            }
            .sign(sender);
            let hex = hex::encode(borsh::to_vec(&tx)?);
            txs.push((tx, hex));
        }
        plan.push(txs);
    }
    let total: usize = plan.iter().map(Vec::len).sum();
    // Latency is sampled on about 10,000 transactions (every one in a small run): each account's
    // nonces that are multiples of this.
    let sample_every = (total / 10_000).max(1);
    let start_height = client.status().await?.height;
    let watcher = committed_watcher::spawn(rpc::client(&args.rpc[0])?, start_height);

    // Submit: submitter task k owns accounts k, k + C, k + 2C, …
    let progress = indicatif::ProgressBar::new(total as u64);
    let submit_times: Arc<sampling::SubmitTimes> = Arc::new(sampling::SubmitTimes::default());
    let refusals: Arc<sampling::Refusals> = Arc::new(sampling::Refusals::default());
    let plan = Arc::new(plan);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let submitters = args.concurrency.min(args.accounts);
    // Seconds between transactions of one submitter at the offered rate.
    let pace = args.rate.map(|rate| submitters as f64 / rate);
    for k in 0..submitters {
        let client = rpc::client(&args.rpc[k % args.rpc.len()])?;
        let plan = plan.clone();
        let progress = progress.clone();
        let times = submit_times.clone();
        let refusals = refusals.clone();
        let (batch, concurrency) = (args.batch, args.concurrency);
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (k..plan.len()).step_by(concurrency).collect();
            let mut cursors = vec![0usize; mine.len()];
            let mut sent = 0u64;
            loop {
                // Interleave the task's accounts, each in nonce order.
                let mut chunk = Vec::new();
                for (slot, &acct) in mine.iter().enumerate() {
                    let take = (batch / mine.len()).max(1);
                    let end = (cursors[slot] + take).min(plan[acct].len());
                    chunk.extend((cursors[slot]..end).map(|i| (slot, acct, i)));
                }
                if chunk.is_empty() {
                    return Ok::<(), anyhow::Error>(());
                }
                if let Some(pace) = pace {
                    let due = started + Duration::from_secs_f64(pace * sent as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let hexes: Vec<String> =
                    chunk.iter().map(|&(_, a, i)| plan[a][i].1.clone()).collect();
                let sent_at = now_ms();
                let outcomes = client.submit_txs(hexes).await?;
                let (mut accepted, mut refused) = (0, false);
                for (&(slot, a, i), outcome) in chunk.iter().zip(&outcomes) {
                    match &outcome.error {
                        None => {
                            if i == cursors[slot] {
                                cursors[slot] += 1;
                                accepted += 1;
                                if i % sample_every == 0 {
                                    times.record(plan[a][i].0.id(), sent_at);
                                }
                            }
                        }
                        // Refused at admission: offered again after a pause (counted).
                        Some(e) if e.contains("full") => {
                            refusals.full(e);
                            refused = true;
                        }
                        // A later nonce of an account whose earlier one was just refused.
                        Some(e) if e.contains("skips ahead") => {}
                        Some(e) => anyhow::bail!("tx rejected: {e}"),
                    }
                }
                progress.inc(accepted);
                sent += accepted;
                if refused {
                    // "Try again after the next block", as the node says: a client that
                    // resubmitted at once would only spend the node's cores on refusals.
                    tokio::time::sleep(REFUSED_PAUSE).await;
                } else if accepted == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let submitted_in = started.elapsed();
    progress.finish_and_clear();

    // Wait until every account's last nonce is committed.
    let last_ids: Vec<Hash> = plan.iter().filter_map(|txs| txs.last().map(|t| t.0.id())).collect();
    let mut last_height = 0;
    for id in &last_ids {
        wait_committed(&client, *id).await?;
        last_height = last_height.max(client.tx(*id).await?.height.unwrap_or(0));
    }
    let end_height = client.status().await?.height;
    // The moment each height was first seen committed (after the last one surely was).
    tokio::time::sleep(WATCH_EVERY * 2).await;
    let seen = watcher.stop().await;

    // Throughput from block times: committed loadgen txs between the first and last block.
    let mut committed = 0usize;
    let mut first_time = None;
    let mut last_time = 0;
    let mut block_times: HashMap<u64, u64> = HashMap::new();
    let mut pruned = false;
    for h in (start_height + 1)..=end_height {
        // A node that prunes blocks may have deleted the first ones: their headers stay.
        let Ok(block) = client.block(h).await else {
            block_times.insert(h, client.header(h).await?.time_ms);
            pruned = true;
            continue;
        };
        block_times.insert(h, block.header.time_ms);
        if !block.tx_ids.is_empty() {
            committed += block.tx_ids.len();
            first_time.get_or_insert(block.header.time_ms);
            last_time = block.header.time_ms;
        }
    }
    if pruned {
        // Every planned transaction was committed (each account's last one was waited for).
        committed = total;
        last_time = block_times.get(&last_height).copied().unwrap_or(last_time);
    }
    let first_submit = submit_times.first();
    // The span ends when the client learned the last block was committed, not at its block time.
    let last_seen = seen.get(&last_height).copied().unwrap_or(last_time);
    let span_ms =
        last_seen.saturating_sub(first_submit.unwrap_or(first_time.unwrap_or(last_time))).max(1);
    let tps = committed as f64 * 1000.0 / span_ms as f64;

    // Latency of sampled txs: when the client saw their height committed minus when it sent them
    // (one clock: this process's).
    let mut latencies = Vec::new();
    // The old, flattering measure (to the block's time stamp), kept for comparison with history.
    let mut to_block_time = Vec::new();
    for (id, sent) in submit_times.all() {
        if let Some(h) = client.tx(id).await?.height {
            let seen_at = seen.get(&h).copied().or_else(|| block_times.get(&h).copied());
            latencies.push(seen_at.unwrap_or(sent).saturating_sub(sent));
            to_block_time.push(block_times.get(&h).copied().unwrap_or(sent).saturating_sub(sent));
        }
    }
    to_block_time.sort_unstable();
    let block_time_p50 = to_block_time.get(to_block_time.len().saturating_sub(1) / 2).copied();
    latencies.sort_unstable();
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
    let report = serde_json::json!({
        "txs": total, "committed": committed, "blocks": end_height - start_height,
        "submit_seconds": submitted_in.as_secs_f64(), "span_ms": span_ms, "committed_tps": tps,
        "latency_ms_p50": pct(0.5), "latency_ms_p90": pct(0.9), "latency_ms_p99": pct(0.99),
        "latency_resolution_ms": WATCH_EVERY.as_millis() as u64, "latency_samples": latencies.len(),
        "refused_full": refusals.count(), "refused_full_error": refusals.first(),
        "old_measure_block_time_p50_ms": block_time_p50,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{committed} txs committed in {} blocks over {:.2} s: {tps:.0} tx/s; submit-to-seen-committed p50 {} ms, p90 {} ms, p99 {} ms (polled every {} ms)",
            end_height - start_height,
            span_ms as f64 / 1000.0,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            WATCH_EVERY.as_millis()
        );
        if let Some(e) = refusals.first() {
            println!(
                "{} submissions refused at admission and offered again (latency is of admitted ones): {e}",
                refusals.count()
            );
        }
    }
    Ok(())
}

async fn submit_all(client: &rpc::HttpClient, txs: &[SignedTransaction]) -> Result<Vec<Hash>> {
    let hexes = txs.iter().map(|t| hex::encode(borsh::to_vec(t).expect("encodes"))).collect();
    let outcomes = client.submit_txs(hexes).await?;
    outcomes
        .into_iter()
        .map(|o| match (o.tx_id, o.error) {
            (Some(id), None) => Ok(id),
            (_, e) => bail!("setup transaction rejected: {}", e.unwrap_or_default()),
        })
        .collect()
}

async fn wait_committed(client: &rpc::HttpClient, id: Hash) -> Result<()> {
    kessai_client::wait_for(client, id, Duration::from_secs(300)).await.map(|_| ())
}

/// When each height was first seen committed by a client polling the node.
mod committed_watcher {
    use super::WATCH_EVERY;
    use kessai_client::rpc::{HttpClient, KessaiApiClient};
    use kessai_primitives::time::now_ms;
    use std::collections::HashMap;
    use tokio::sync::oneshot;

    pub struct Watcher {
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<HashMap<u64, u64>>,
    }

    /// Polls `client`'s committed height from `from` on until stopped.
    pub fn spawn(client: HttpClient, from: u64) -> Watcher {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut seen = HashMap::new();
            let mut known = from;
            loop {
                if let Ok(status) = client.status().await {
                    let at = now_ms();
                    for h in known + 1..=status.height {
                        seen.insert(h, at);
                    }
                    known = known.max(status.height);
                }
                tokio::select! {
                    _ = &mut stopped => return seen,
                    _ = tokio::time::sleep(WATCH_EVERY) => {}
                }
            }
        });
        Watcher { stop, task }
    }

    impl Watcher {
        /// Stops polling; the moment (ms since the epoch) each height was first seen committed.
        pub async fn stop(self) -> HashMap<u64, u64> {
            let _ = self.stop.send(());
            self.task.await.unwrap_or_default()
        }
    }
}

/// Submit times of sampled transactions.
mod sampling {
    use kessai_primitives::Hash;
    use std::sync::Mutex;

    /// Submissions refused because the node's mempool was full (each offered again later).
    #[derive(Default)]
    pub struct Refusals(Mutex<(u64, Option<String>)>);

    impl Refusals {
        pub fn full(&self, error: &str) {
            let mut r = self.0.lock().expect("not poisoned");
            r.0 += 1;
            r.1.get_or_insert_with(|| error.to_string());
        }
        pub fn count(&self) -> u64 {
            self.0.lock().expect("not poisoned").0
        }
        /// The first refusal's error text.
        pub fn first(&self) -> Option<String> {
            self.0.lock().expect("not poisoned").1.clone()
        }
    }

    #[derive(Default)]
    pub struct SubmitTimes(Mutex<Vec<(Hash, u64)>>);

    impl SubmitTimes {
        pub fn record(&self, id: Hash, at: u64) {
            self.0.lock().expect("not poisoned").push((id, at));
        }
        pub fn first(&self) -> Option<u64> {
            self.0.lock().expect("not poisoned").iter().map(|(_, t)| *t).min()
        }
        pub fn all(&self) -> Vec<(Hash, u64)> {
            self.0.lock().expect("not poisoned").clone()
        }
    }
}
