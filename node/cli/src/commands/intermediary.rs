//! `kessai intermediary`: run an intermediary server, report a consumer's usage to one, and get a
//! consumer's production-method certificate from one — verified against the chain, not taken on
//! the intermediary's word. See `docs/intermediary.md`.

use super::output;
use crate::cli::{RpcArgs, TrustArgs};
use anyhow::{ensure, Context, Result};
use clap::Subcommand;
use kessai_client::default_dev_home;
use kessai_client::load_signer;
use kessai_intermediary::certificate::{self, Certificate};
use kessai_intermediary::config::ServiceConfig;
use kessai_intermediary::ledger::{Ledger, VerifiedHeader};
use kessai_intermediary::mediation::MethodTotal;
use kessai_intermediary::protocol::*;
use kessai_intermediary::server::{self, peer_client};
use kessai_primitives::Address;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// Parsed once per process: the size of the largest variant (the root of trust's options) is no cost.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum IntermediaryCommand {
    /// Run an intermediary server: consumers' usage reports and peers' change requests over HTTP
    /// JSON-RPC (the configuration file is described in docs/intermediary.md).
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Listen here instead of the configuration's address (port 0: any free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Write the server's URL to this file once it listens.
        #[arg(long)]
        url_file: Option<PathBuf>,
    },
    /// Report a consumer's usage in one slot, signed with the consumer's key (as its meter would).
    Report {
        /// URL of the intermediary server.
        #[arg(long)]
        intermediary: String,
        /// The consumer's key: a key file path, or a NAME in --keys-dir.
        #[arg(long)]
        key: String,
        #[arg(long, env = "KESSAI_KEYS")]
        keys_dir: Option<PathBuf>,
        /// Start of the slot: RFC 3339 (2020-01-01T09:00:00Z) or ms since the Unix epoch.
        #[arg(long)]
        slot: String,
        /// Electricity used in the slot, in Wh.
        #[arg(long)]
        usage_wh: u64,
        #[arg(long)]
        json: bool,
    },
    /// Get a consumer's production-method certificate for a period from its intermediary, and
    /// verify every entry's proof against a header of the node at --rpc.
    Certificate {
        /// URL of the intermediary server.
        #[arg(long)]
        intermediary: String,
        /// The consumer: an address, or the NAME of a key file in --keys-dir.
        #[arg(long)]
        consumer: String,
        #[arg(long, env = "KESSAI_KEYS")]
        keys_dir: Option<PathBuf>,
        /// Start of the period (block time of the transfers): RFC 3339 or ms.
        #[arg(long)]
        from: String,
        /// End of the period, inclusive: RFC 3339 or ms.
        #[arg(long)]
        to: String,
        /// Where the verification of the certificate's header starts (see `kessai query state
        /// --help`); --validators-hash: the validator set of this hash signed block 1.
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

pub async fn run(command: IntermediaryCommand) -> Result<()> {
    match command {
        IntermediaryCommand::Serve { config, listen, url_file } => {
            let mut config = ServiceConfig::load(&config)?;
            if let Some(addr) = listen {
                config.listen = addr;
            }
            server::serve(config, url_file).await
        }
        IntermediaryCommand::Report { intermediary, key, keys_dir, slot, usage_wh, json } => {
            let keys_dir = keys_dir.unwrap_or_else(|| default_dev_home().join("keys"));
            let consumer = load_signer(&key, Some(&keys_dir))?;
            let client = peer_client(&intermediary)?;
            let info =
                client.info().await.with_context(|| format!("cannot reach {intermediary}"))?;
            let report = UsageReport {
                intermediary: info.address,
                consumer: consumer.address(),
                slot_start_ms: parse_time_ms(&slot)?,
                usage_wh,
            };
            let signed = Signed::sign(report, REPORT_DOMAIN, &consumer);
            let outcome = client.report(signed).await.map_err(call_error)?;
            output::print(json, &outcome, describe_outcome);
            Ok(())
        }
        IntermediaryCommand::Certificate {
            intermediary,
            consumer,
            keys_dir,
            from,
            to,
            trust,
            rpc,
        } => {
            let consumer = match consumer.parse::<Address>() {
                Ok(address) => address,
                Err(_) => {
                    let dir = keys_dir.unwrap_or_else(|| default_dev_home().join("keys"));
                    load_signer(&consumer, Some(&dir))?.address()
                }
            };
            let (from_ms, to_ms) = (parse_time_ms(&from)?, parse_time_ms(&to)?);
            let client = peer_client(&intermediary)?;
            let certificate =
                client.certificate(consumer, from_ms, to_ms).await.map_err(call_error)?;
            let header = check(&certificate, &rpc.rpc, &trust).await?;
            let out = json!({ "certificate": certificate, "verified": header });
            output::print(rpc.json, &out, |_| describe_certificate(&certificate, &header));
            Ok(())
        }
    }
}

/// Verifies `certificate` against the node at `url`: its header at the certificate's height,
/// verified by the light client from `trust`, and every entry's proof under it.
async fn check(certificate: &Certificate, url: &str, trust: &TrustArgs) -> Result<VerifiedHeader> {
    let ledger = Ledger::connect(url, &certificate.contract.to_hex(), &trust.trust()).await?;
    ensure!(
        ledger.chain_id == certificate.chain_id,
        "the certificate is for chain {}, the node at {url} runs {}",
        certificate.chain_id,
        ledger.chain_id
    );
    let header = ledger.verified_header(certificate.height).await?;
    certificate::verify(certificate, &header).context("the certificate does NOT verify")?;
    Ok(header)
}

/// The server's message alone, for one clear sentence.
fn call_error(e: jsonrpsee::core::client::Error) -> anyhow::Error {
    kessai_client::rpc_error(e)
}

/// RFC 3339 (`2020-01-01T09:00:00Z`) or milliseconds since the Unix epoch.
pub fn parse_time_ms(text: &str) -> Result<u64> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .with_context(|| format!("{text:?} is neither RFC 3339 (2020-01-01T09:00:00Z) nor ms"))?;
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .with_context(|| format!("{text} is before 1970"))
}

/// `2020-01-01T09:00:00Z`, or the number itself if it is out of range.
pub fn format_time(ms: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn kwh(wh: u64) -> String {
    format!("{}.{:03} kWh", wh / 1000, wh % 1000)
}

fn percent(basis_points: Option<u64>) -> String {
    basis_points.map_or("n/a".into(), |bp| format!("{}.{:02} %", bp / 100, bp % 100))
}

fn describe_totals(totals: &[MethodTotal]) -> String {
    totals.iter().map(|t| format!("{} {}", t.method, kwh(t.wh))).collect::<Vec<_>>().join(", ")
}

fn describe_outcome(o: &ReportOutcome) -> String {
    let source = match &o.source {
        Source::Own => "from its own records".to_string(),
        Source::Peer { url } => format!("after the peer at {url} moved records to it"),
        Source::Fallback => "by the fallback: no peer could provide the decided method".to_string(),
    };
    let mut text = format!(
        "slot {} – {}: {} used {}\ndecided {} (history: {}); allocated {} {source}",
        format_time(o.slot_start_ms),
        format_time(o.slot_end_ms),
        o.consumer_name,
        kwh(o.usage_wh),
        o.decided_method,
        describe_totals(&o.history_before),
        o.allocated_method,
    );
    for peer in &o.peers_asked {
        text += &format!("\n  asked {}: {}", peer.url, peer.answer);
    }
    for a in &o.allocations {
        text += &format!(
            "\n  record {} → {} ({}), tx {} at height {}{}",
            a.asset_id,
            o.consumer_name,
            kwh(a.amount_wh),
            a.tx_id,
            a.height.map_or("?".into(), |h| h.to_string()),
            a.remainder_id.map_or(String::new(), |r| format!(", remainder in record {r}"))
        );
    }
    text + &format!(
        "\nhistory now: {}; renewable {}",
        describe_totals(&o.history_after),
        percent(o.renewable_basis_points_after)
    )
}

fn describe_certificate(c: &Certificate, h: &VerifiedHeader) -> String {
    let mut text = format!(
        "Production-method certificate\n  consumer  {}\n  period    {} – {}\n  chain     {}, asset-ownership at {}\n",
        c.consumer,
        format_time(c.from_ms),
        format_time(c.to_ms),
        c.chain_id,
        c.contract
    );
    for t in &c.totals {
        let kind = if t.renewable { "  renewable" } else { "" };
        text += &format!("  {:<10}{:>16}{kind}\n", t.method.to_string(), kwh(t.wh));
    }
    text + &format!(
        "  total {}, renewable {} = {}\n  {} final transfers, each proved under state root {} of height {}, whose commit carries {}/{} of the voting power of validator set {}",
        kwh(c.total_wh),
        kwh(c.renewable_wh),
        percent(c.renewable_basis_points),
        c.entries.len(),
        c.state_root,
        c.height,
        h.signed_power,
        h.total_power,
        h.validators_hash
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_ms_and_format_back() {
        let nine = parse_time_ms("2020-01-01T09:00:00Z").unwrap();
        assert_eq!(nine, 1_577_869_200_000);
        assert_eq!(parse_time_ms("2020-01-01T18:00:00+09:00").unwrap(), nine);
        assert_eq!(parse_time_ms("1577869200000").unwrap(), nine);
        assert_eq!(format_time(nine), "2020-01-01T09:00:00Z");
        assert!(parse_time_ms("2020-01-01 09:00").is_err());
        assert!(parse_time_ms("1969-12-31T23:59:59Z").is_err());
    }

    #[test]
    fn amounts_and_shares_print_exactly() {
        assert_eq!(kwh(30_000), "30.000 kWh");
        assert_eq!(kwh(1_500), "1.500 kWh");
        assert_eq!(percent(Some(1578)), "15.78 %");
        assert_eq!(percent(None), "n/a");
    }
}
