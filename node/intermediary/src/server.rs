//! The intermediary server (`kessai intermediary serve`): one per intermediary, with its own key.
//!
//! On a consumer's usage report for a slot (S81–S94) it reads the records it owns, decides the
//! production method from the consumer's target and history, and final-transfers a matching record
//! to the consumer; without one it asks its peers in turn to move records of that method to it
//! (S125, answered "change completed" or "change not permitted"), and when all refuse it re-decides
//! the method among its own records (S127). It answers its peers' change requests the same way
//! (S142–S151), and produces consumers' certificates from proved chain data (S202–S206).
//!
//! Choosing a record and moving it happen under one lock (`stock`), so two reports never pick the
//! same record and the key's transactions go out in nonce order; the lock is never held while a
//! peer is asked, so two intermediaries asking each other at once cannot deadlock.

use super::asset::ProductionMethod;
use super::certificate::{self, Certificate};
use super::config::{ConsumerConfig, ServiceConfig};
use super::ledger::{among, Ledger};
use super::mediation::{choose_method, covering_record, fallback, gather, Take};
use super::protocol::*;
use anyhow::{bail, Context, Result};
use jsonrpsee::core::{async_trait, RpcResult};
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::server::Server;
use jsonrpsee::types::ErrorObjectOwned;
use kessai_client::keyfile::KeyFile;
use kessai_client::Signer;
use kessai_primitives::{Address, Hash, Keypair};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How far a change request's signing time may be from this server's clock.
const REQUEST_WINDOW_MS: u64 = 5 * 60 * 1000;
/// How far a usage report's slot end may lie ahead of this server's clock (meter clocks differ).
const SLOT_SKEW_MS: u64 = 5 * 60 * 1000;
/// How long a peer may take to answer: it may split and transfer on chain first.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// JSON-RPC error codes of the intermediary API.
pub mod codes {
    /// The signature or signer is not acceptable.
    pub const UNAUTHORIZED: i32 = -32001;
    /// The request is not acceptable as given (JSON-RPC's standard code): for another
    /// intermediary, a slot not on the grid or already reported, a stale or repeated request.
    pub const INVALID_PARAMS: i32 = -32602;
    /// No record could be allocated to the consumer.
    pub const NOT_ALLOCATED: i32 = -32030;
    /// JSON-RPC's standard internal error, reserved for failures of the server itself.
    pub const INTERNAL: i32 = -32603;
}

fn error(code: i32, message: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.to_string(), None::<()>)
}

/// A report that could not be served, and whether records were already allocated for it (then
/// the slot stays served, so a retry cannot allocate it twice).
struct Failure {
    error: anyhow::Error,
    allocated_some: bool,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure { error, allocated_some: false }
    }
}

struct Peer {
    url: String,
    client: HttpClient,
}

/// A running intermediary: its key, its view of the chain, its consumers and peers, and what it
/// has served; [`serve`] puts it behind the JSON-RPC server.
pub struct Intermediary {
    name: String,
    key: Keypair,
    signer: Signer,
    ledger: Ledger,
    slot_ms: u64,
    expiry_margin_ms: u64,
    consumers: HashMap<Address, ConsumerConfig>,
    peers: Vec<Peer>,
    stock: tokio::sync::Mutex<()>,
    journal: Journal,
    /// Change requests served lately (hash → signing time), so none is served twice.
    seen_requests: Mutex<HashMap<Hash, u64>>,
    sequence: AtomicU64,
}

/// Runs the server until it is stopped (Ctrl-C). Writes its URL to `url_file` once it listens.
pub async fn serve(config: ServiceConfig, url_file: Option<PathBuf>) -> Result<()> {
    let listen = config.listen;
    let service = Intermediary::new(config).await?;
    let (name, address) = (service.name.clone(), service.key.address());
    let server = Server::builder()
        .build(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let url = format!("http://{}", server.local_addr()?);
    let handle = server.start(service.into_rpc());
    if let Some(file) = url_file {
        std::fs::write(&file, format!("{url}\n"))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    eprintln!("intermediary {name} ({address}) is serving at {url}");
    tokio::select! {
        _ = handle.clone().stopped() => {}
        _ = tokio::signal::ctrl_c() => { let _ = handle.stop(); }
    }
    Ok(())
}

impl Intermediary {
    async fn new(config: ServiceConfig) -> Result<Intermediary> {
        let key = KeyFile::read(&config.key)?.keypair()?;
        let ledger = Ledger::connect(&config.node_rpc, &config.contract, &config.trust()).await?;
        if !ledger.is_intermediary(key.address()).await? {
            bail!(
                "{} ({}) is not a registered intermediary of the asset-ownership contract",
                config.key.display(),
                key.address()
            );
        }
        let peers = config
            .peers
            .iter()
            .map(|url| Ok(Peer { url: url.clone(), client: peer_client(url)? }))
            .collect::<Result<Vec<_>>>()?;
        Ok(Intermediary {
            signer: Signer::from_key(&config.key.display().to_string(), key.clone()),
            slot_ms: config.slot_ms(),
            expiry_margin_ms: config.expiry_margin_ms,
            consumers: config.consumers.iter().map(|c| (c.address, c.clone())).collect(),
            journal: Journal::open(config.journal.clone())?,
            name: config.name,
            key,
            ledger,
            peers,
            stock: tokio::sync::Mutex::new(()),
            seen_requests: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(0),
        })
    }

    fn address(&self) -> Address {
        self.key.address()
    }

    /// Records must outlive this (chain time plus the margin) to be chosen.
    async fn deadline_ms(&self) -> Result<u64> {
        Ok(self.ledger.now_ms().await?.saturating_add(self.expiry_margin_ms))
    }

    // --- usage reports (S81–S94) ------------------------------------------------------------------

    /// The report's consumer, once the report is signed by it, for this intermediary, and for a
    /// whole slot that has ended.
    fn admit_report(&self, signed: &Signed<UsageReport>) -> RpcResult<&ConsumerConfig> {
        signed.verify(REPORT_DOMAIN).map_err(|e| error(codes::UNAUTHORIZED, e))?;
        let report = &signed.message;
        if report.intermediary != self.address() {
            return Err(error(codes::INVALID_PARAMS, "the report is for another intermediary"));
        }
        let consumer = self.consumers.get(&report.consumer).ok_or_else(|| {
            error(
                codes::INVALID_PARAMS,
                format!("{} is not a consumer of {}", report.consumer, self.name),
            )
        })?;
        if signed.signer.to_address() != report.consumer {
            return Err(error(
                codes::UNAUTHORIZED,
                "the report is not signed by the consumer's key",
            ));
        }
        if report.usage_wh == 0 {
            return Err(error(codes::INVALID_PARAMS, "the usage must be positive"));
        }
        if !report.slot_start_ms.is_multiple_of(self.slot_ms) {
            return Err(error(
                codes::INVALID_PARAMS,
                format!("a slot starts on a multiple of {} minutes", self.slot_ms / 60_000),
            ));
        }
        if report.slot_start_ms.saturating_add(self.slot_ms) > wall_clock_ms() + SLOT_SKEW_MS {
            return Err(error(codes::INVALID_PARAMS, "the slot has not ended yet"));
        }
        Ok(consumer)
    }

    async fn serve_report(&self, signed: Signed<UsageReport>) -> RpcResult<ReportOutcome> {
        let consumer = self.admit_report(&signed)?;
        let report = signed.message;
        let slot = (report.consumer, report.slot_start_ms);
        if !self.journal.claim(slot) {
            return Err(error(codes::INVALID_PARAMS, "this slot was already reported"));
        }
        match self.mediate(consumer, &report).await {
            Ok(outcome) => {
                if let Err(e) = self.journal.record(&outcome) {
                    tracing::error!("cannot write the journal: {e:#}");
                }
                tracing::info!(
                    consumer = %consumer.name, slot = report.slot_start_ms, usage_wh = report.usage_wh,
                    decided = %outcome.decided_method, allocated = %outcome.allocated_method,
                    source = ?outcome.source, "usage allocated"
                );
                Ok(outcome)
            }
            Err(failure) => {
                if !failure.allocated_some {
                    self.journal.release(slot);
                }
                tracing::warn!(consumer = %consumer.name, "usage not allocated: {:#}", failure.error);
                Err(error(codes::NOT_ALLOCATED, format!("{:#}", failure.error)))
            }
        }
    }

    /// S86–S92: decide the method, then allocate from own records, a peer's, or the fallback.
    async fn mediate(
        &self,
        consumer: &ConsumerConfig,
        report: &UsageReport,
    ) -> Result<ReportOutcome, Failure> {
        let contract = consumer.contract();
        let before =
            self.ledger.history(consumer.address, consumer.from_ms, consumer.to_ms).await?;
        let decided = choose_method(&contract, &before);
        let usage = report.usage_wh;
        let mut peers_asked = Vec::new();
        let (allocated_method, source, allocations) =
            if let Some(done) = self.allocate_own(consumer.address, &decided, usage).await? {
                (decided.clone(), Source::Own, done)
            } else {
                let ask = usage.max(contract.planned_wh_per_slot);
                match self
                    .allocate_from_peers(consumer.address, &decided, usage, ask, &mut peers_asked)
                    .await?
                {
                    Some((url, done)) => (decided.clone(), Source::Peer { url }, done),
                    None => {
                        let (method, done) =
                            self.allocate_fallback(consumer, &decided, usage, &peers_asked).await?;
                        (method, Source::Fallback, done)
                    }
                }
            };
        let after = self
            .ledger
            .history(consumer.address, consumer.from_ms, consumer.to_ms)
            .await
            .map_err(|error| Failure { error, allocated_some: true })?;
        Ok(ReportOutcome {
            consumer: consumer.address,
            consumer_name: consumer.name.clone(),
            slot_start_ms: report.slot_start_ms,
            slot_end_ms: report.slot_start_ms + self.slot_ms,
            usage_wh: usage,
            decided_method: decided,
            allocated_method,
            source,
            peers_asked,
            allocations,
            history_before: before.totals(),
            history_after: after.totals(),
            renewable_basis_points_after: after.renewable_basis_points(),
        })
    }

    /// S122/S90: an own record of `method` covering the usage, soonest expiry first.
    async fn allocate_own(
        &self,
        consumer: Address,
        method: &ProductionMethod,
        usage: u64,
    ) -> Result<Option<Vec<Allocation>>, Failure> {
        let _stock = self.stock.lock().await;
        let records = self.ledger.not_yet_records(self.address()).await?;
        let deadline = self.deadline_ms().await?;
        match covering_record(&records, method, usage, deadline) {
            Some(record) => {
                let take =
                    Take { asset_id: record.id, amount: usage, record_amount: record.amount };
                Ok(Some(self.final_transfers(consumer, &[take]).await?))
            }
            None => Ok(None),
        }
    }

    /// S124–S126: each peer in turn, until one moves records of `method` that cover the usage.
    async fn allocate_from_peers(
        &self,
        consumer: Address,
        method: &ProductionMethod,
        usage: u64,
        ask: u64,
        attempts: &mut Vec<PeerAttempt>,
    ) -> Result<Option<(String, Vec<Allocation>)>, Failure> {
        for peer in &self.peers {
            let answer = match self.ask_peer(peer, method, ask).await {
                Ok(ChangeAnswer::ChangeCompleted { asset_ids, .. }) => {
                    if let Some(done) =
                        self.allocate_delivered(consumer, method, usage, &asset_ids).await?
                    {
                        attempts.push(PeerAttempt {
                            url: peer.url.clone(),
                            answer: format!("change completed: records {asset_ids:?}"),
                        });
                        return Ok(Some((peer.url.clone(), done)));
                    }
                    format!("change completed: records {asset_ids:?}, which do not cover the usage on chain")
                }
                Ok(ChangeAnswer::ChangeNotPermitted { reason }) => {
                    format!("change not permitted: {reason}")
                }
                Err(e) => format!("not reachable: {e:#}"),
            };
            tracing::info!(peer = %peer.url, "{answer}");
            attempts.push(PeerAttempt { url: peer.url.clone(), answer });
        }
        Ok(None)
    }

    /// The first change request (S125), signed by this intermediary's key.
    async fn ask_peer(
        &self,
        peer: &Peer,
        method: &ProductionMethod,
        amount_wh: u64,
    ) -> Result<ChangeAnswer> {
        use super::protocol::IntermediaryApiClient;
        let info = peer.client.info().await.context("info")?;
        let request = ChangeRequest {
            requester: self.address(),
            peer: info.address,
            method: method.clone(),
            amount_wh,
            issued_at_ms: wall_clock_ms(),
            sequence: self.sequence.fetch_add(1, Ordering::Relaxed),
        };
        let signed = Signed::sign(request, CHANGE_DOMAIN, &self.key);
        Ok(peer.client.request_change(signed).await?)
    }

    /// S123 after a peer's "change completed": the records it named, once they are this
    /// intermediary's on chain (its node may be a block behind the peer's).
    async fn allocate_delivered(
        &self,
        consumer: Address,
        method: &ProductionMethod,
        usage: u64,
        ids: &[u64],
    ) -> Result<Option<Vec<Allocation>>, Failure> {
        for attempt in 0..20 {
            let guard = self.stock.lock().await;
            let records = among(self.ledger.not_yet_records(self.address()).await?, ids, method);
            let deadline = self.deadline_ms().await?;
            if let Some(takes) = gather(&records, method, usage, deadline) {
                return Ok(Some(self.final_transfers(consumer, &takes).await?));
            }
            drop(guard);
            if records.len() == ids.len() || attempt == 19 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(None)
    }

    /// S127: every peer refused; re-decide among own records.
    async fn allocate_fallback(
        &self,
        consumer: &ConsumerConfig,
        decided: &ProductionMethod,
        usage: u64,
        attempts: &[PeerAttempt],
    ) -> Result<(ProductionMethod, Vec<Allocation>), Failure> {
        let _stock = self.stock.lock().await;
        let records = self.ledger.not_yet_records(self.address()).await?;
        let deadline = self.deadline_ms().await?;
        match fallback(&records, &consumer.contract(), decided, usage, deadline) {
            Some((method, takes)) => Ok((method, self.final_transfers(consumer.address, &takes).await?)),
            None => Err(anyhow::anyhow!(
                "no {decided} record covers {usage} Wh, {} peer(s) asked ({}), and no other records add up",
                attempts.len(),
                attempts.iter().map(|a| format!("{}: {}", a.url, a.answer)).collect::<Vec<_>>().join("; ")
            )
            .into()),
        }
    }

    /// The third change requests (S90), one per take; the caller holds `stock`.
    async fn final_transfers(
        &self,
        consumer: Address,
        takes: &[Take],
    ) -> Result<Vec<Allocation>, Failure> {
        let mut done = Vec::with_capacity(takes.len());
        for take in takes {
            match self
                .ledger
                .final_transfer(&self.signer, take.asset_id, consumer, take.amount)
                .await
            {
                Ok(allocation) => done.push(allocation),
                Err(error) => {
                    let allocated_some = !done.is_empty();
                    let error = error.context(format!(
                        "after {} of {} final transfers ({:?})",
                        done.len(),
                        takes.len(),
                        done.iter().map(|a: &Allocation| a.asset_id).collect::<Vec<_>>()
                    ));
                    return Err(Failure { error, allocated_some });
                }
            }
        }
        Ok(done)
    }

    // --- peers' change requests (S142–S151) -------------------------------------------------------

    /// A request signed by the intermediary it names as requester, for this intermediary, recent,
    /// and not seen before.
    fn admit_change(&self, signed: &Signed<ChangeRequest>) -> RpcResult<()> {
        signed.verify(CHANGE_DOMAIN).map_err(|e| error(codes::UNAUTHORIZED, e))?;
        let request = &signed.message;
        if signed.signer.to_address() != request.requester {
            return Err(error(
                codes::UNAUTHORIZED,
                "the request is not signed by the requester's key",
            ));
        }
        if request.peer != self.address() {
            return Err(error(codes::INVALID_PARAMS, "the request is for another intermediary"));
        }
        let now = wall_clock_ms();
        if now.abs_diff(request.issued_at_ms) > REQUEST_WINDOW_MS {
            return Err(error(codes::INVALID_PARAMS, "the request is too old or from the future"));
        }
        let mut seen = self.seen_requests.lock();
        seen.retain(|_, issued| now.abs_diff(*issued) <= REQUEST_WINDOW_MS);
        if seen.insert(Hash::of(request), request.issued_at_ms).is_some() {
            return Err(error(codes::INVALID_PARAMS, "the request was already served"));
        }
        Ok(())
    }

    async fn serve_change(&self, signed: Signed<ChangeRequest>) -> RpcResult<ChangeAnswer> {
        self.admit_change(&signed)?;
        let request = signed.message;
        let answer = match self.change(&request).await {
            Ok(done) => done,
            Err(e) => ChangeAnswer::ChangeNotPermitted { reason: format!("{e:#}") },
        };
        tracing::info!(requester = %request.requester, method = %request.method, amount_wh = request.amount_wh, ?answer, "change request");
        Ok(answer)
    }

    /// S146–S150: move records of the method to the requester — one covering record (split to the
    /// amount asked) or several smaller ones.
    async fn change(&self, request: &ChangeRequest) -> Result<ChangeAnswer> {
        if request.requester == self.address() {
            bail!("an intermediary does not ask itself");
        }
        if !self.ledger.is_intermediary(request.requester).await? {
            bail!("{} is not a registered intermediary", request.requester);
        }
        let _stock = self.stock.lock().await;
        let records = self.ledger.not_yet_records(self.address()).await?;
        let deadline = self.deadline_ms().await?;
        let Some(takes) = gather(&records, &request.method, request.amount_wh, deadline) else {
            bail!(
                "no {} records of {} adding up to {} Wh",
                request.method,
                self.name,
                request.amount_wh
            );
        };
        let (mut asset_ids, mut tx_ids) = (Vec::new(), Vec::new());
        for take in &takes {
            let moved = self.hand_over(take, request.requester, &mut tx_ids).await;
            match moved {
                Ok(id) => asset_ids.push(id),
                Err(e) => bail!("{e:#} (records already moved: {asset_ids:?})"),
            }
        }
        Ok(ChangeAnswer::ChangeCompleted { asset_ids, tx_ids })
    }

    /// Moves `take` to `to`, splitting it off its record first if it is a part; returns the id of
    /// the record moved.
    async fn hand_over(&self, take: &Take, to: Address, tx_ids: &mut Vec<Hash>) -> Result<u64> {
        let id = if take.is_whole() {
            take.asset_id
        } else {
            let (part, tx) = self.ledger.split(&self.signer, take.asset_id, take.amount).await?;
            tx_ids.push(tx);
            part
        };
        tx_ids.push(self.ledger.transfer(&self.signer, id, to).await?);
        Ok(id)
    }
}

#[async_trait]
impl IntermediaryApiServer for Intermediary {
    async fn info(&self) -> RpcResult<Info> {
        Ok(Info {
            name: self.name.clone(),
            address: self.address(),
            chain_id: self.ledger.chain_id.clone(),
            contract: self.ledger.contract,
            slot_ms: self.slot_ms,
            peers: self.peers.iter().map(|p| p.url.clone()).collect(),
        })
    }

    async fn report(&self, report: Signed<UsageReport>) -> RpcResult<ReportOutcome> {
        self.serve_report(report).await
    }

    async fn request_change(&self, request: Signed<ChangeRequest>) -> RpcResult<ChangeAnswer> {
        self.serve_change(request).await
    }

    async fn certificate(
        &self,
        consumer: Address,
        from_ms: u64,
        to_ms: u64,
    ) -> RpcResult<Certificate> {
        // Chain data, but this server's customers are its business: it certifies only them.
        if !self.consumers.contains_key(&consumer) {
            let message = format!("{consumer} is not a consumer of {}", self.name);
            return Err(error(codes::INVALID_PARAMS, message));
        }
        if from_ms > to_ms {
            return Err(error(codes::INVALID_PARAMS, "the period ends before it starts"));
        }
        certificate::build(&self.ledger, consumer, from_ms, to_ms)
            .await
            .map_err(|e| error(codes::INTERNAL, format!("{e:#}")))
    }
}

/// A JSON-RPC client of an intermediary server.
pub fn peer_client(url: &str) -> Result<HttpClient> {
    jsonrpsee::http_client::HttpClientBuilder::default()
        .max_response_size(256 * 1024 * 1024)
        .request_timeout(PEER_TIMEOUT)
        .build(url)
        .map_err(|e| anyhow::anyhow!("bad intermediary URL {url:?}: {e}"))
}

fn wall_clock_ms() -> u64 {
    kessai_primitives::time::now_ms()
}

/// The slots already served: in memory, and in a JSON-lines file (one [`ReportOutcome`] a line)
/// when configured, so a restart does not forget them.
struct Journal {
    path: Option<PathBuf>,
    served: Mutex<HashSet<(Address, u64)>>,
}

impl Journal {
    fn open(path: Option<PathBuf>) -> Result<Journal> {
        let mut served = HashSet::new();
        if let Some(path) = path.as_ref().filter(|p| p.exists()) {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the journal {}", path.display()))?;
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let outcome: ReportOutcome = serde_json::from_str(line)
                    .with_context(|| format!("{} line {}", path.display(), n + 1))?;
                served.insert((outcome.consumer, outcome.slot_start_ms));
            }
        }
        Ok(Journal { path, served: Mutex::new(served) })
    }

    /// Marks the slot as being served; false if it already was.
    fn claim(&self, slot: (Address, u64)) -> bool {
        self.served.lock().insert(slot)
    }

    fn release(&self, slot: (Address, u64)) {
        self.served.lock().remove(&slot);
    }

    fn record(&self, outcome: &ReportOutcome) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{}", serde_json::to_string(outcome)?)?;
        file.sync_data()?;
        Ok(())
    }
}
