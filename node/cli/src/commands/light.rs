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

use super::output;
use crate::cli::RpcArgs;
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgGroup, Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kessai_client::light_home::LightHome;
use kessai_client::verified::HeaderReport;
use kessai_client::{Reader, Trust};
use kessai_light_client::{TrustOptions, VerifiedTx};
use kessai_primitives::time::now_ms;
use kessai_primitives::{Hash, TxStatus};
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

/// The light home `--home` names (default `$KESSAI_LIGHT_HOME` or `~/.kessai/light`).
fn light_home(args: &HomeArgs) -> LightHome {
    LightHome::new(args.home.clone().unwrap_or_else(LightHome::default_dir))
}

/// A verified reader over the node at `rpc` (and witnesses) from the light home.
async fn open(home: &HomeArgs, rpc: &str, witnesses: &[String]) -> Result<Reader> {
    let home = light_home(home);
    // The home must hold a trusted state: `kessai light` never falls back to another root.
    home.load()?;
    Reader::open(rpc, &Trust::light_home(home.dir()), witnesses).await
}

async fn init(args: InitArgs) -> Result<()> {
    let home = light_home(&args.home);
    if home.store().load().ok().flatten().is_some() && !args.force {
        bail!("{} already holds a trusted state: pass --force to replace it", home.dir().display());
    }
    let options = trust_options(&args)?;
    let trust = Trust {
        spec: args.from_genesis.clone(),
        trusted_hash: args.trusted_height.zip(args.trusted_hash),
        options: options.clone(),
        ..Trust::default()
    };
    let reader = Reader::open(&args.rpc.rpc, &trust, &[]).await?;
    let trusted = reader.latest_trusted();
    home.save(trusted, &options)?;
    let report = HeaderReport::of(trusted);
    let now = now_ms();
    let expires_in = trusted.expires_at_ms(options.trusting_period_ms).saturating_sub(now);
    let value = json!({ "trusted": &report, "options": &options, "home": home.dir(),
        "expires_in_ms": expires_in });
    output::print(args.rpc.json, &value, |_| {
        format!(
            "trusted {}\nsync within {} (the trusting period); state kept in {}",
            report.summary(),
            human_duration(expires_in),
            home.dir().display()
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
    let mut reader = open(&args.home, &args.rpc.rpc, &args.witnesses).await?;
    let from = reader.latest_trusted().height();
    let target = match args.height {
        Some(height) => height,
        None => reader.latest_height().await?,
    };
    let bar = progress_bar(args.rpc.json, from, target);
    let mut verified = Vec::new();
    let outcome = reader
        .sync_to(target, |height| {
            verified.push(height);
            bar.set_position(height);
        })
        .await;
    bar.finish_and_clear();
    outcome?;
    reader.save()?;
    let report = HeaderReport::of(reader.trusted(target).expect("synced to the target"));
    let witnesses = reader.witness_report();
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
    let mut reader = open(&args.home, &args.rpc.rpc, &args.witnesses).await?;
    let key: serde_json::Value = serde_json::from_str(&args.key)
        .unwrap_or_else(|_| serde_json::Value::String(args.key.clone()));
    let entry = reader.map_entry(&args.contract, &args.map, &key, args.height).await?;
    reader.save()?;
    let proven = &entry.proven;
    let height = proven.header.header.height;
    let header = HeaderReport::of(reader.trusted(height).expect("verified"));
    let witnesses = reader.witness_report();
    let value = &entry.decoded;
    let out = json!({ "contract": entry.contract, "map": args.map, "key": key, "value": value,
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

async fn verify_tx(args: VerifyTxArgs) -> Result<()> {
    let mut reader = open(&args.home, &args.rpc.rpc, &args.witnesses).await?;
    let Some(proven) = reader.tx(args.tx_id).await? else {
        bail!(
            "{} does not know transaction {}: a node's silence proves nothing (the absence of a \
             transaction cannot be proven)",
            args.rpc.rpc,
            args.tx_id
        );
    };
    reader.save()?;
    let header = HeaderReport::of(reader.trusted(proven.height).expect("verified"));
    let witnesses = reader.witness_report();
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
