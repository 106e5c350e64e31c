//! Prometheus metrics: what the node measures, and the `/metrics` endpoint that serves them.
//!
//! Every name is prefixed `kessai_`. Counters end in `_total`, durations are in seconds. libp2p's
//! own figures (connections, bandwidth, gossipsub, identify; the `libp2p-metrics` crate) are under
//! `kessai_libp2p_`. The same port serves `GET /health` and `GET /ready` ([`crate::health`]).

use crate::health::Health;
use crate::mempool::{Admission, TxSource};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kessai_runtime::{thread_cpu_time, Runtime};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Buckets of `kessai_tx_admission_to_durable_seconds`, 10 ms to 120 s in steps of 1.5–2×, so that
/// a quantile estimated from them (`scripts/bench-throughput.sh`) is within a step.
const TX_LATENCY_BUCKETS: [f64; 26] = [
    0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
    7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 120.0,
];

/// A histogram per value of one label.
type Labelled = Family<[(&'static str, &'static str); 1], Histogram, fn() -> Histogram>;

/// The node's metrics, registered under the `kessai` prefix; the services update the fields.
pub struct Metrics {
    registry: Registry,
    /// `kessai_height`: latest committed block height.
    pub height: Gauge,
    /// `kessai_round`: consensus round of the current height.
    pub round: Gauge,
    /// `kessai_peers`: connected peers.
    pub peers: Gauge,
    /// `kessai_mempool_txs`: transactions waiting in the mempool.
    pub mempool_txs: Gauge,
    /// `kessai_syncing`: 1 while catching up from peers, else 0.
    pub syncing: Gauge,
    /// `kessai_sync_target_height`: highest height peers are known to have committed.
    pub sync_target_height: Gauge,
    /// `kessai_state_sync_height`: the snapshot height this node joined from by state sync (0:
    /// it did not, in this run).
    pub state_sync_height: Gauge,
    /// `kessai_state_sync_keys`: state leaves it restored then.
    pub state_sync_keys: Gauge,
    /// `kessai_committed_txs_total`: transactions committed since start.
    pub committed_txs: Counter,
    /// `kessai_penalised_peers`: penalties applied to misbehaving peers since start (a gauge set
    /// from the network's count).
    pub penalised_peers: Gauge,
    /// `kessai_storage_failed`: 1 while the node cannot write to its disk (it then admits no
    /// transactions and signs nothing), else 0.
    pub storage_failed: Gauge,
    /// `kessai_signatures_refused_total`: signatures the key's signing state refused (at or below
    /// the last one signed: `data/` was wiped or restored). Alert on any.
    pub signatures_refused: Counter,
    /// `kessai_last_signed_height`: height of the last proposal or vote this validator's key
    /// signed, from its signing state beside the key (0: never signed, or not a validator). Alert
    /// when it stops following `kessai_height` on a validator.
    pub last_signed_height: Gauge,
    /// `kessai_missed_blocks_total`: blocks this node committed at heights where its key was in
    /// the validator set and the block's commit (the one this node stored: the precommits it
    /// decided on, or the commit a peer served with a synced block) holds no precommit of its key.
    /// Counted by validators only, since start.
    pub missed_blocks: Counter,
    /// `kessai_build_info{version, chain_id, genesis_hash}`: always 1; its labels say what runs.
    build_info: Family<Vec<(String, String)>, Gauge>,
    /// Time between consecutive block times.
    pub block_interval: Histogram,
    /// From the start of a height to its decision.
    pub commit_latency: Histogram,
    /// `kessai_tx_admission_to_durable_seconds{source="client"|"peer"}`: per transaction this node
    /// admitted to its mempool, from its admission to the moment its block's write landed on this
    /// node's disk ([`Metrics::observe_durable`]); its two series, looked up once.
    tx_durable_from_client: Histogram,
    tx_durable_from_peer: Histogram,
    /// `kessai_clock_skew_seconds`: this node's clock minus the time of the last block it decided,
    /// read when it decided it (a few hundred milliseconds when the clocks agree; see
    /// `service::clock`).
    pub clock_skew: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Every metric at zero, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kessai");
        let height = Gauge::default();
        let round = Gauge::default();
        let peers = Gauge::default();
        let mempool_txs = Gauge::default();
        let syncing = Gauge::default();
        let sync_target_height = Gauge::default();
        let (state_sync_height, state_sync_keys) = (Gauge::default(), Gauge::default());
        let committed_txs = Counter::default();
        let penalised_peers = Gauge::default();
        let storage_failed = Gauge::default();
        let signatures_refused = Counter::default();
        let last_signed_height = Gauge::default();
        let missed_blocks = Counter::default();
        let build_info = Family::<Vec<(String, String)>, Gauge>::default();
        // 10 ms to about 80 s.
        let block_interval = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let commit_latency = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let tx_admission_to_durable =
            Labelled::new_with_constructor(|| Histogram::new(TX_LATENCY_BUCKETS));
        let tx_durable_from_client =
            tx_admission_to_durable.get_or_create_owned(&[("source", "client")]);
        let tx_durable_from_peer =
            tx_admission_to_durable.get_or_create_owned(&[("source", "peer")]);
        let clock_skew = Gauge::<f64, AtomicU64>::default();
        registry.register("height", "Latest committed block height", height.clone());
        registry.register("round", "Consensus round of the current height", round.clone());
        registry.register("peers", "Connected peers", peers.clone());
        registry.register(
            "mempool_txs",
            "Transactions waiting in the mempool",
            mempool_txs.clone(),
        );
        registry.register("syncing", "1 while catching up from peers", syncing.clone());
        registry.register(
            "sync_target_height",
            "Highest height peers are known to have committed",
            sync_target_height.clone(),
        );
        registry.register(
            "state_sync_height",
            "Snapshot height this node joined from by state sync in this run (0: none)",
            state_sync_height.clone(),
        );
        registry.register(
            "state_sync_keys",
            "State leaves restored by state sync in this run",
            state_sync_keys.clone(),
        );
        registry.register("committed_txs", "Transactions committed", committed_txs.clone());
        registry.register(
            "penalised_peers",
            "Penalties applied to misbehaving peers since start",
            penalised_peers.clone(),
        );
        registry.register(
            "storage_failed",
            "1 while the node cannot write to its disk (no transactions admitted, nothing signed)",
            storage_failed.clone(),
        );
        registry.register(
            "signatures_refused",
            "Signatures refused by the signing state beside the key (data/ wiped or restored)",
            signatures_refused.clone(),
        );
        registry.register(
            "last_signed_height",
            "Height of the last proposal or vote this validator's key signed (signing state)",
            last_signed_height.clone(),
        );
        registry.register(
            "missed_blocks",
            "Blocks committed at heights where this validator was in the set without its precommit",
            missed_blocks.clone(),
        );
        registry.register(
            "build_info",
            "Always 1: the node's version, chain id and chain spec hash as labels",
            build_info.clone(),
        );
        registry.register(
            "block_interval_seconds",
            "Time between consecutive blocks (block times)",
            block_interval.clone(),
        );
        registry.register(
            "commit_latency_seconds",
            "Time from the start of a height to its decision",
            commit_latency.clone(),
        );
        registry.register(
            "tx_admission_to_durable_seconds",
            "Per transaction this node admitted (source: client over RPC, or peer by gossip), from \
             its admission to its mempool to its block's write landing on this node's disk",
            tx_admission_to_durable,
        );
        registry.register(
            "clock_skew_seconds",
            "This node's clock minus the time of the last block it decided, when it decided it",
            clock_skew.clone(),
        );
        Metrics {
            registry,
            height,
            round,
            peers,
            mempool_txs,
            syncing,
            sync_target_height,
            state_sync_height,
            state_sync_keys,
            committed_txs,
            penalised_peers,
            storage_failed,
            signatures_refused,
            last_signed_height,
            missed_blocks,
            build_info,
            block_interval,
            commit_latency,
            tx_durable_from_client,
            tx_durable_from_peer,
            clock_skew,
        }
    }

    /// Sets `kessai_build_info` for this binary on `chain_id`, whose chain spec hashes to
    /// `genesis_hash`.
    pub fn set_build_info(&self, chain_id: &str, genesis_hash: &str) {
        let labels = vec![
            ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("chain_id".to_string(), chain_id.to_string()),
            ("genesis_hash".to_string(), genesis_hash.to_string()),
        ];
        self.build_info.get_or_create(&labels).set(1);
    }

    /// Observes, in `kessai_tx_admission_to_durable_seconds`, each of a block's transactions this
    /// node had admitted (`admissions`, from [`crate::mempool::Mempool::admissions`]), as of
    /// `landed`: when the block's write landed.
    pub fn observe_durable(&self, landed: Instant, admissions: &[Admission]) {
        for admission in admissions {
            let histogram = match admission.source {
                TxSource::Client => &self.tx_durable_from_client,
                TxSource::Peer => &self.tx_durable_from_peer,
            };
            histogram.observe(landed.saturating_duration_since(admission.at).as_secs_f64());
        }
    }

    /// Registers `kessai_cpu_seconds_total{stage}`: `cpu`'s stages and `runtime`'s block
    /// execution, read at each scrape.
    pub fn register_cpu(&mut self, cpu: Arc<StageCpu>, runtime: Runtime) {
        self.registry.register_collector(Box::new(CpuCollector { cpu, runtime }));
    }

    /// The registry, for libp2p's metrics (`libp2p-metrics` registers them under `libp2p_`)
    /// before the node shares its metrics.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// A stage of a transaction's life whose CPU time the node counts in `kessai_cpu_seconds_total`
/// (execution, the fourth, is the runtime's own count: [`Runtime::block_execution_cpu`]).
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// Admission to the mempool, from a client or a peer: the signature checks (in batches), the
    /// nonce and the contract-level checks.
    Admission,
    /// A block's update of the state tree and its root ([`kessai_store::Store::prepare_state`]).
    Tree,
    /// A decided block's write to the store, on the block writer's thread.
    Write,
}

/// CPU time (of the threads doing the work, `CLOCK_THREAD_CPUTIME_ID`) this node spent in each
/// [`Stage`], in nanoseconds. Whatever a process spends outside them and outside RocksDB's
/// background threads is consensus, gossip, RPC and the journals; `scripts/bench-throughput.sh`
/// prints the split per committed transaction.
#[derive(Debug, Default)]
pub struct StageCpu {
    admission: AtomicU64,
    tree: AtomicU64,
    write: AtomicU64,
}

impl StageCpu {
    /// Runs `work` on this thread and counts the CPU time it took as `stage`'s.
    pub fn measure<R>(&self, stage: Stage, work: impl FnOnce() -> R) -> R {
        let started = thread_cpu_time();
        let result = work();
        let spent = thread_cpu_time().saturating_sub(started);
        self.counter(stage).fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
        result
    }

    /// The CPU time counted as `stage`'s so far.
    pub fn spent(&self, stage: Stage) -> Duration {
        Duration::from_nanos(self.counter(stage).load(Ordering::Relaxed))
    }

    fn counter(&self, stage: Stage) -> &AtomicU64 {
        match stage {
            Stage::Admission => &self.admission,
            Stage::Tree => &self.tree,
            Stage::Write => &self.write,
        }
    }
}

/// Encodes `kessai_cpu_seconds_total{stage="admission"|"execute"|"tree"|"write"}` at each scrape.
struct CpuCollector {
    cpu: Arc<StageCpu>,
    runtime: Runtime,
}

impl fmt::Debug for CpuCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpuCollector").field("cpu", &self.cpu).finish_non_exhaustive()
    }
}

impl Collector for CpuCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stages = [
            ("admission", self.cpu.spent(Stage::Admission)),
            ("execute", self.runtime.block_execution_cpu()),
            ("tree", self.cpu.spent(Stage::Tree)),
            ("write", self.cpu.spent(Stage::Write)),
        ];
        let help = "CPU time of the threads doing each stage: admission (signature checks \
                    included), block execution (without the signature checks a block still \
                    needs), the state tree's update, the block's write";
        let mut family =
            encoder.encode_descriptor("cpu_seconds", help, None, MetricType::Counter)?;
        for (stage, spent) in stages {
            let counter = ConstCounter::new(spent.as_secs_f64());
            counter.encode(family.encode_family(&[("stage", stage)])?)?;
        }
        Ok(())
    }
}

/// Serves `GET /metrics`, `GET /health` and `GET /ready` on `addr` until the task is dropped;
/// returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            let health = health.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let metrics = metrics.clone();
                    let health = health.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(respond(&request, &metrics, &health))
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "metrics connection failed");
                }
            });
        }
    });
    Ok(local)
}

fn respond(
    request: &Request<hyper::body::Incoming>,
    metrics: &Metrics,
    health: &Health,
) -> Response<Full<Bytes>> {
    if let Some((status, body)) = health.answer(request.uri().path()) {
        return Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("valid response");
    }
    if request.uri().path() != "/metrics" {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"try /metrics, /health or /ready\n")))
            .expect("valid response");
    }
    Response::builder()
        .header("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(Full::new(Bytes::from(metrics.render())))
        .expect("valid response")
}
