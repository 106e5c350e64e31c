//! `kessai light`: the light client (`kessai-light-client`) on the command line, for members who
//! read the chain through nodes they do not run and do not trust.
//!
//! - `init`: trusts a first header, from a hash obtained out of band (`--trusted-height`,
//!   `--trusted-hash`) or from the chain spec's genesis validators (`--from-genesis`).
//! - `sync`: verifies headers up to the node's latest by skipping verification with bisection,
//!   comparing the result with `--witness` nodes; a validly signed conflicting header is a fork.
//!   With witnesses, at least one must confirm the header (else it is refused); the
//!   output says which confirmed, which were unavailable and which were faulty.
//! - `get CONTRACT MAP KEY`: a storage-map entry, or its absence, proven against a verified header.
//!   The contract's name, its code and so its interface are proven too, so the key is encoded and
//!   the value decoded by an interface the node could not have swapped.
//! - `verify-tx TXID`: a transaction and its receipt proven to be in a verified block.
//!
//! The trusted state lives in `--home` (default `~/.kessai/light`): `trusted.json` (the latest
//! verified header with its commit and validator sets), `options.json` (the trust options chosen at
//! init) and, once a fork was seen, `fork-evidence.json`, which stops every command until an
//! operator has looked at it. Every command prints what it verified: height, header hash, and the
//! voting power that signed it; a refusal is one sentence saying which rule the node broke.

pub use kessai_client::provider::RpcProvider;

use super::output;
use crate::cli::RpcArgs;
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgGroup, Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kessai_abi::Abi;
use kessai_chainspec::ChainSpec;
use kessai_light_client::{
    Error as LightError, FileStore, ForkEvidence, LightClient, Provider, ProviderError,
    TrustOptions, TrustedState, VerifiedTx, VerifiedValue, WitnessOutcome,
};
use kessai_primitives::time::now_ms;
use kessai_primitives::{Address, Hash, TxStatus};
use kessai_state::system::{self, ContractInfo};
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum LightCommand {
    /// Trust a first header: block 1 of a chain spec, or a header whose hash you got out of band.
    Init(InitArgs),
    /// Verify headers up to the node's latest, cross-checked with witnesses.
    Sync(SyncArgs),
    /// Prove a contract's storage-map entry (or its absence) against a verified header.
    Get(GetArgs),
    /// Prove that a transaction and its receipt are in a verified block.
    VerifyTx(VerifyTxArgs),
}

#[derive(Args, Debug, Clone)]
pub struct HomeArgs {
    /// Where the trusted state is kept (default ~/.kessai/light).
    #[arg(long, alias = "store", env = "KESSAI_LIGHT_HOME")]
    pub home: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("root").required(true).args(["trusted_height", "from_genesis"])))]
pub struct InitArgs {
    /// Height of a header you trust (with --trusted-hash).
    #[arg(long, requires = "trusted_hash")]
    pub trusted_height: Option<u64>,
    /// Hash of that header, obtained out of band (a colleague, the consortium's announcement).
    #[arg(long, requires = "trusted_height")]
    pub trusted_hash: Option<Hash>,
    /// Trust the genesis validators of this chain spec (a path, or a preset: dev, local) to have
    /// signed block 1. Only while block 1 is within the trusting period.
    #[arg(long, conflicts_with = "trusted_height")]
    pub from_genesis: Option<String>,
    /// How long a verified header may be the root of further verification: 90s, 10m, 1h, 14d.
    #[arg(long, default_value = "14d")]
    pub trusting_period: String,
    /// Share of the trusted validators' power that must sign a header reached by skipping.
    #[arg(long, default_value = "1/3")]
    pub trust_threshold: String,
    /// How far ahead of this machine's clock a header's time may be.
    #[arg(long, default_value = "10s")]
    pub max_clock_drift: String,
    /// Replace a trusted state that is already there.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Other nodes to compare the verified header with (repeatable).
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// Verify up to this height instead of the node's latest.
    #[arg(long)]
    pub height: Option<u64>,
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Contract name (from the chain spec) or address.
    pub contract: String,
    /// The storage map, as the contract's interface names it.
    pub map: String,
    /// The key, as JSON by the map's key type (a bare word is taken as a string).
    pub key: String,
    /// Read the state after this block (default: the node's latest).
    #[arg(long)]
    pub height: Option<u64>,
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

#[derive(Args, Debug)]
pub struct VerifyTxArgs {
    /// The transaction id (64 hex characters).
    pub tx_id: Hash,
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

pub async fn run(command: LightCommand) -> Result<()> {
    match command {
        LightCommand::Init(args) => init(args).await,
        LightCommand::Sync(args) => sync(args).await,
        LightCommand::Get(args) => get(args).await,
        LightCommand::VerifyTx(args) => verify_tx(args).await,
    }
}

/// The light client's directory: trusted state, options, fork evidence.
struct LightHome {
    dir: PathBuf,
}

impl LightHome {
    fn new(args: &HomeArgs) -> LightHome {
        let dir = args.home.clone().unwrap_or_else(|| {
            std::env::var_os("HOME").map_or_else(
                || PathBuf::from(".kessai-light"),
                |h| PathBuf::from(h).join(".kessai/light"),
            )
        });
        LightHome { dir }
    }

    fn store(&self) -> FileStore {
        FileStore::new(self.dir.join("trusted.json"))
    }

    fn options_path(&self) -> PathBuf {
        self.dir.join("options.json")
    }

    fn fork_path(&self) -> PathBuf {
        self.dir.join("fork-evidence.json")
    }

    /// The trusted state and options; refuses while fork evidence is waiting for an operator.
    fn load(&self) -> Result<(TrustedState, TrustOptions)> {
        if self.fork_path().exists() {
            bail!(
                "a fork was detected earlier (evidence in {}): investigate it, then remove the file \
                 or re-initialise with `kessai light init --force`",
                self.fork_path().display()
            );
        }
        let trusted = self.store().load().map_err(|e| anyhow!("{e}"))?.ok_or_else(|| {
            anyhow!("no trusted state in {}: run `kessai light init` first", self.dir.display())
        })?;
        let text = std::fs::read_to_string(self.options_path())
            .with_context(|| format!("cannot read {}", self.options_path().display()))?;
        let options = serde_json::from_str(&text).with_context(|| {
            format!("{} is not valid trust options", self.options_path().display())
        })?;
        Ok((trusted, options))
    }

    fn save(&self, trusted: &TrustedState, options: &TrustOptions) -> Result<()> {
        self.store().save(trusted).map_err(|e| anyhow!("{e}"))?;
        let text = serde_json::to_string_pretty(options).expect("options serialise");
        std::fs::write(self.options_path(), text)
            .with_context(|| format!("cannot write {}", self.options_path().display()))
    }

    /// Keeps `trusted` if it is newer than what is stored (reads of old heights verify old
    /// headers; the root of the next sync stays the newest).
    fn advance(&self, trusted: &TrustedState, stored_height: u64) -> Result<()> {
        if trusted.height() > stored_height {
            self.store().save(trusted).map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    }

    fn record_fork(&self, evidence: &ForkEvidence, witness_url: &str) -> Result<PathBuf> {
        let record = json!({ "witness": witness_url, "evidence": evidence,
            "double_signers": evidence.double_signers() });
        let path = self.fork_path();
        std::fs::write(&path, serde_json::to_string_pretty(&record).expect("serialises"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

/// A light client over the node at `rpc` (and witnesses) from the stored trusted state.
struct Session {
    home: LightHome,
    client: LightClient<RpcProvider>,
    stored_height: u64,
    witnesses: Vec<String>,
}

impl Session {
    fn open(home: &HomeArgs, rpc: &str, witnesses: &[String]) -> Result<Session> {
        let home = LightHome::new(home);
        let (trusted, options) = home.load()?;
        let stored_height = trusted.height();
        let providers =
            witnesses.iter().map(|url| RpcProvider::witness(url)).collect::<Result<Vec<_>>>()?;
        let client = LightClient::new(RpcProvider::new(rpc)?, trusted, options)
            .map_err(|e| anyhow!("the stored trusted state does not hold together: {e}"))?
            .with_witnesses(providers);
        Ok(Session { home, client, stored_height, witnesses: witnesses.to_vec() })
    }

    /// Turns a refusal into one sentence; a fork is also written down for the operator.
    fn refused(&self, e: LightError) -> anyhow::Error {
        match e {
            LightError::ForkDetected(evidence) => {
                let url = self.witnesses.get(evidence.witness_index).map_or("?", String::as_str);
                match self.home.record_fork(&evidence, url) {
                    Ok(path) => anyhow!(
                        "{evidence} (witness {url}); evidence written to {}, this light home refuses \
                         to verify until it is dealt with",
                        path.display()
                    ),
                    Err(write) => anyhow!("{evidence} (witness {url}); {write:#}"),
                }
            }
            LightError::Provider(p) => anyhow!("{p}"),
            not_confirmed @ LightError::NotConfirmed { .. } => {
                let report = self.witness_report();
                let unavailable = report.unavailable.iter().map(|w| (w, "unavailable"));
                let faulty = report.faulty.iter().map(|w| (w, "faulty"));
                let each: Vec<String> = unavailable
                    .chain(faulty)
                    .map(|(w, what)| format!("{} {what} ({})", w.witness, w.reason))
                    .collect();
                anyhow!("{not_confirmed}: {}", each.join("; "))
            }
            other => anyhow!("verification failed: {other}"),
        }
    }

    fn save(&self) -> Result<()> {
        self.home.advance(self.client.latest_trusted(), self.stored_height)
    }

    /// What the witnesses said at the last comparison.
    fn witness_report(&self) -> WitnessReport {
        let checks = self.client.witness_checks();
        let height = checks.iter().flatten().map(|check| check.height).max();
        let mut report = WitnessReport {
            given: self.witnesses.len(),
            height,
            confirmed: 0,
            confirmed_by: Vec::new(),
            unavailable: Vec::new(),
            faulty: Vec::new(),
        };
        let problem = |url: &String, why: &LightError| {
            let reason = match why {
                LightError::Provider(
                    ProviderError::Unavailable(what) | ProviderError::NotFound(what),
                ) => what.clone(),
                other => other.to_string(),
            };
            // One line, like every refusal.
            WitnessProblem { witness: url.clone(), reason: reason.replace('\n', " ") }
        };
        for (url, check) in self.witnesses.iter().zip(checks) {
            let Some(check) = check else { continue };
            match &check.outcome {
                WitnessOutcome::Faulty(why) => report.faulty.push(problem(url, why)),
                // Only the latest comparison counts (one per command: a command verifies forward
                // to one height).
                _ if Some(check.height) != height => {}
                WitnessOutcome::Confirmed => report.confirmed_by.push(url.clone()),
                WitnessOutcome::Unavailable(why) => report.unavailable.push(problem(url, why)),
            }
        }
        report.confirmed = report.confirmed_by.len();
        report
    }
}

/// What the witnesses said about the header compared with them, for people and scripts.
#[derive(Serialize)]
struct WitnessReport {
    /// How many `--witness` nodes were given.
    given: usize,
    /// The height of the header compared; `None` when nothing was verified forward (a header
    /// already trusted, or one below it verified through parent hashes), so none was asked.
    height: Option<u64>,
    confirmed: usize,
    /// The witnesses that served the same header.
    confirmed_by: Vec<String>,
    /// Not reached, behind, or serving a different header they could not back: asked again next
    /// time.
    unavailable: Vec<WitnessProblem>,
    /// Served a header that does not verify: set aside.
    faulty: Vec<WitnessProblem>,
}

#[derive(Serialize)]
struct WitnessProblem {
    witness: String,
    reason: String,
}

impl WitnessReport {
    /// Lines for people; none without witnesses.
    fn lines(&self) -> Vec<String> {
        if self.given == 0 {
            return Vec::new();
        }
        let mut lines = vec![match self.height {
            Some(height) => format!(
                "{} of {} witness{} confirmed the header at height {height}",
                self.confirmed,
                self.given,
                if self.given == 1 { "" } else { "es" }
            ),
            None => "witnesses not asked: no header was newly verified forward".to_string(),
        }];
        for (what, problems) in [("unavailable", &self.unavailable), ("faulty", &self.faulty)] {
            lines.extend(
                problems.iter().map(|w| format!("{what} witness {}: {}", w.witness, w.reason)),
            );
        }
        lines
    }
}

/// What a verified header is, for people and scripts.
#[derive(Serialize)]
struct HeaderReport {
    chain_id: String,
    height: u64,
    hash: Hash,
    time_ms: u64,
    state_root: Hash,
    validators_hash: Hash,
    signed_power: u64,
    total_power: u64,
    validators: usize,
}

impl HeaderReport {
    fn of(state: &TrustedState) -> HeaderReport {
        HeaderReport {
            chain_id: state.chain_id.clone(),
            height: state.height(),
            hash: state.hash(),
            time_ms: state.time_ms(),
            state_root: state.header.state_root,
            validators_hash: state.header.validators_hash,
            signed_power: state.signed_power(),
            total_power: state.validators.total_power(),
            validators: state.validators.len(),
        }
    }

    fn summary(&self) -> String {
        format!(
            "height {} of {}, header {}, signed by {} of {} voting power ({} validator{})",
            self.height,
            self.chain_id,
            self.hash,
            self.signed_power,
            self.total_power,
            self.validators,
            if self.validators == 1 { "" } else { "s" }
        )
    }
}

async fn init(args: InitArgs) -> Result<()> {
    let home = LightHome::new(&args.home);
    if home.store().load().ok().flatten().is_some() && !args.force {
        bail!("{} already holds a trusted state: pass --force to replace it", home.dir.display());
    }
    let options = trust_options(&args)?;
    let primary = RpcProvider::new(&args.rpc.rpc)?;
    let now = now_ms();
    let client = match (&args.from_genesis, args.trusted_height, args.trusted_hash) {
        (Some(spec), _, _) => {
            let spec = ChainSpec::load(spec).with_context(|| format!("chain spec {spec}"))?;
            let validators = spec.validator_set();
            LightClient::init_from_genesis(
                primary,
                &spec.chain_id,
                validators,
                options.clone(),
                now,
            )
            .await
        }
        (None, Some(height), Some(hash)) => {
            LightClient::init_from_hash(primary, height, hash, options.clone(), now).await
        }
        _ => unreachable!("clap requires --from-genesis or --trusted-height with --trusted-hash"),
    };
    let client = client.map_err(|e| match e {
        LightError::Provider(p) => anyhow!("{p}"),
        other => anyhow!("not trusted: {other}"),
    })?;
    let trusted = client.latest_trusted();
    let _ = std::fs::remove_file(home.fork_path());
    home.save(trusted, &options)?;
    let report = HeaderReport::of(trusted);
    let expires_in = trusted.expires_at_ms(options.trusting_period_ms).saturating_sub(now);
    let value = json!({ "trusted": &report, "options": &options, "home": home.dir,
        "expires_in_ms": expires_in });
    output::print(args.rpc.json, &value, |_| {
        format!(
            "trusted {}\nsync within {} (the trusting period); state kept in {}",
            report.summary(),
            human_duration(expires_in),
            home.dir.display()
        )
    });
    Ok(())
}

fn trust_options(args: &InitArgs) -> Result<TrustOptions> {
    let (numerator, denominator) = args
        .trust_threshold
        .split_once('/')
        .and_then(|(n, d)| Some((n.trim().parse().ok()?, d.trim().parse().ok()?)))
        .with_context(|| format!("{:?} is not a fraction like 1/3", args.trust_threshold))?;
    let options = TrustOptions {
        trusting_period_ms: super::notes::parse_duration_ms(&args.trusting_period)?,
        trust_threshold: (numerator, denominator),
        max_clock_drift_ms: super::notes::parse_duration_ms(&args.max_clock_drift)?,
    };
    options.validate().map_err(|e| anyhow!("{e}"))?;
    Ok(options)
}

/// 3d 4h, 12m 5s: for the trusting period's end.
fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {}s", s % 60),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

async fn sync(args: SyncArgs) -> Result<()> {
    let mut session = Session::open(&args.home, &args.rpc.rpc, &args.witnesses)?;
    let from = session.client.latest_trusted().height();
    let target = match args.height {
        Some(height) => height,
        None => RpcProvider::new(&args.rpc.rpc)?.latest_height().await?.max(from),
    };
    let bar = progress_bar(args.rpc.json, from, target);
    let mut verified = Vec::new();
    let outcome = session
        .client
        .sync_to(target, now_ms(), |height| {
            verified.push(height);
            bar.set_position(height);
        })
        .await
        .map(|_| ());
    bar.finish_and_clear();
    outcome.map_err(|e| session.refused(e))?;
    session.save()?;
    let reached = session.client.verified(target).expect("synced to the target");
    let report = HeaderReport::of(reached);
    let witnesses = session.witness_report();
    let value = json!({ "verified": &report, "from_height": from, "steps": verified,
        "witnesses": &witnesses });
    output::print(args.rpc.json, &value, |_| {
        let mut text = format!("verified {}", report.summary());
        text += &match verified.len() {
            0 => format!("\nalready trusted (from height {from})"),
            n => format!("\nfrom trusted height {from} in {n} verified step(s)"),
        };
        for line in witnesses.lines() {
            text += &format!("\n{line}");
        }
        text
    });
    Ok(())
}

fn progress_bar(hidden: bool, from: u64, target: u64) -> ProgressBar {
    if hidden || target <= from {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(target);
    bar.set_style(
        ProgressStyle::with_template("verifying headers [{bar:40}] height {pos}/{len} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(from);
    bar
}

async fn get(args: GetArgs) -> Result<()> {
    let mut session = Session::open(&args.home, &args.rpc.rpc, &args.witnesses)?;
    let height = match args.height {
        Some(height) => height,
        None => RpcProvider::new(&args.rpc.rpc)?.latest_height().await?,
    };
    let key: serde_json::Value = serde_json::from_str(&args.key)
        .unwrap_or_else(|_| serde_json::Value::String(args.key.clone()));
    let address = resolve_contract(&mut session, &args.contract, height).await?;
    let abi = proven_abi(&mut session, address, height).await?;
    let storage_key = abi.map_key(&args.map, &key)?;
    let proven = read(&mut session, &system::flat_key(&address, &storage_key), height).await?;
    let value = match &proven.value {
        Some(bytes) => abi
            .decode_map_value(&args.map, bytes)
            .context("the proven value does not decode by the contract's interface")?,
        None => serde_json::Value::Null,
    };
    session.save()?;
    let header = HeaderReport::of(session.client.verified(height).expect("verified"));
    let witnesses = session.witness_report();
    let out = json!({ "contract": address, "map": args.map, "key": key, "value": value,
        "present": proven.value.is_some(), "raw": proven.value.as_ref().map(hex::encode),
        "verified": &header, "witnesses": &witnesses });
    output::print(args.rpc.json, &out, |_| {
        let what = match &proven.value {
            Some(_) => format!("{value}\n(proof of inclusion verified)"),
            None => "absent (proof of absence verified)".to_string(),
        };
        let mut text = format!("{what}\nagainst {}", header.summary());
        for line in witnesses.lines() {
            text += &format!("\n{line}");
        }
        text
    });
    Ok(())
}

/// One state read, proven against the verified header at `height`.
async fn read(session: &mut Session, flat_key: &[u8], height: u64) -> Result<VerifiedValue> {
    let outcome = session.client.verify_state(flat_key, height, now_ms()).await;
    outcome.map_err(|e| session.refused(e))
}

/// A contract name resolves through the proven `name/` entry of the chain's state.
async fn resolve_contract(session: &mut Session, contract: &str, height: u64) -> Result<Address> {
    if let Ok(address) = contract.parse::<Address>() {
        return Ok(address);
    }
    let proven = read(session, &system::name_key(contract), height).await?;
    let bytes = proven.value.ok_or_else(|| {
        anyhow!("there is no contract named {contract:?} at height {height} (proven absent)")
    })?;
    borsh::from_slice(&bytes).context("the proven name entry is not an address")
}

/// The contract's interface, from its code as proven in the state (`contract/` → code hash →
/// `code/`), so that the node cannot make a key or a value mean something else.
async fn proven_abi(session: &mut Session, address: Address, height: u64) -> Result<Abi> {
    let proven = read(session, &system::contract_key(&address), height).await?;
    let bytes = proven.value.ok_or_else(|| {
        anyhow!("there is no contract at {address} at height {height} (proven absent)")
    })?;
    let info: ContractInfo =
        borsh::from_slice(&bytes).context("the proven contract entry does not decode")?;
    let code = read(session, &system::code_key(&info.code_hash), height)
        .await?
        .value
        .ok_or_else(|| anyhow!("the code {} of {address} is proven absent", info.code_hash))?;
    Abi::from_wasm(&code)
        .map_err(|e| anyhow!("the contract's proven code has no usable interface: {e}"))
}

async fn verify_tx(args: VerifyTxArgs) -> Result<()> {
    let mut session = Session::open(&args.home, &args.rpc.rpc, &args.witnesses)?;
    let outcome = session.client.verify_tx(args.tx_id, now_ms()).await;
    let Some(proven) = outcome.map_err(|e| session.refused(e))? else {
        bail!(
            "{} does not know transaction {}: a node's silence proves nothing (the absence of a \
             transaction cannot be proven)",
            args.rpc.rpc,
            args.tx_id
        );
    };
    session.save()?;
    let header = HeaderReport::of(session.client.verified(proven.height).expect("verified"));
    let witnesses = session.witness_report();
    let mut out = tx_report(&proven, &header);
    out["witnesses"] = json!(&witnesses);
    output::print(args.rpc.json, &out, |_| {
        let status = match &proven.receipt.status {
            TxStatus::Success => "success".to_string(),
            TxStatus::Failed { reason } => format!("FAILED: {reason}"),
        };
        let mut text = format!(
            "transaction {} is in block {} at index {}, with its receipt: {status} (gas {})\nsigner {} nonce {}\nagainst {}",
            args.tx_id,
            proven.height,
            proven.index,
            proven.receipt.gas_used,
            proven.tx.tx.signer,
            proven.tx.tx.nonce,
            header.summary()
        );
        for line in witnesses.lines() {
            text += &format!("\n{line}");
        }
        text
    });
    Ok(())
}

fn tx_report(proven: &VerifiedTx, header: &HeaderReport) -> serde_json::Value {
    json!({
        "tx_id": proven.receipt.tx_id,
        "height": proven.height,
        "index": proven.index,
        "signer": proven.tx.tx.signer,
        "nonce": proven.tx.tx.nonce,
        "success": proven.receipt.is_success(),
        "receipt": proven.receipt,
        "verified": header,
    })
}
