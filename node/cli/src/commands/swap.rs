//! `kessai swap`: the cross-chain side of the burn-and-issue hash-lock (JP6980288B2). The
//! library is `kessai-swap` (legs, locks, claims, the relayer); this file holds the command's
//! arguments and what it prints.
//!
//! - `secret`: draws R and prints it with both lock hashes (blake3 and SHA-256).
//! - `leg`: reads one leg, proven, and prints it (its `deadline_ms` is what a second leg's
//!   registration takes as `counter_deadline_ms`).
//! - `claim`: claims a leg with R: signs the claim message and calls `burn` or `transfer`.
//! - `watch-and-complete`: the relayer. It watches the source chain's events for the claim of
//!   `--request`, and completes `--to-request` on the target chain with the revealed R.
//!
//! Every leg read is a verified read (`kessai_client::Reader`): the light client verifies the
//! header from a root of trust on this machine (see `kessai query state --help`: a light home, a
//! chain spec, a trusted hash, or `--validators-hash`, the set that signed block 1), and the leg,
//! the contract's name and its interface are proven under it.

use super::output;
use crate::cli::{RpcArgs, SignerArgs, TrustArgs};
use anyhow::Result;
use clap::Subcommand;
use kessai_client::Trust;
use kessai_primitives::Hash;
use kessai_swap::{draw_secret, lock_hash, parse_secret, Chain, HashAlgorithm, Watch};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum SwapCommand {
    /// Draw a secret R (32 bytes) and print it with its blake3 and SHA-256 lock hashes.
    Secret {
        #[arg(long)]
        json: bool,
    },
    /// Read a burn request or transfer condition with a verified state proof.
    Leg {
        /// The power-ledger or value-certificate contract: name in the chain spec, or address.
        #[arg(long)]
        contract: String,
        /// The burn request or transfer condition id.
        #[arg(long)]
        request: u64,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Claim a leg with the secret: `burn` on a power ledger, `transfer` on value certificates.
    Claim {
        #[arg(long)]
        contract: String,
        #[arg(long)]
        request: u64,
        /// R, 64 hex characters.
        #[arg(long)]
        secret: String,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Watch the source chain for the secret revealed by the claim of one leg, verify it, and
    /// claim the other leg with it on the target chain.
    WatchAndComplete {
        /// RPC URL of the chain where the counterparty claims (and so reveals R).
        #[arg(long)]
        from_rpc: String,
        #[arg(long)]
        from_contract: String,
        /// The leg on the source chain whose claim reveals R.
        #[arg(long)]
        request: u64,
        /// Trust the source chain's validator set of this hash to have signed its block 1.
        #[arg(long)]
        from_validators_hash: Option<Hash>,
        /// Trust the source chain's spec (path or preset): its genesis validators signed block 1.
        #[arg(long)]
        from_trust_spec: Option<String>,
        /// Trust the source chain's light home (`kessai light init`).
        #[arg(long, conflicts_with_all = ["from_trust_spec", "from_validators_hash"])]
        from_light_home: Option<PathBuf>,
        /// Witnesses of the source chain (repeatable).
        #[arg(long)]
        from_witness: Vec<String>,
        /// RPC URL of the chain where the leg to complete is.
        #[arg(long)]
        to_rpc: String,
        #[arg(long)]
        to_contract: String,
        /// The leg to claim with R; its permitted address must be --key.
        #[arg(long)]
        to_request: u64,
        /// Trust the target chain's validator set of this hash to have signed its block 1.
        #[arg(long)]
        to_validators_hash: Option<Hash>,
        /// Trust the target chain's spec (path or preset): its genesis validators signed block 1.
        #[arg(long)]
        to_trust_spec: Option<String>,
        /// Trust the target chain's light home (`kessai light init`).
        #[arg(long, conflicts_with_all = ["to_trust_spec", "to_validators_hash"])]
        to_light_home: Option<PathBuf>,
        /// Witnesses of the target chain (repeatable).
        #[arg(long)]
        to_witness: Vec<String>,
        /// How often to poll both chains.
        #[arg(long, default_value_t = 500)]
        poll_ms: u64,
        /// Give up after this many seconds (default: when the leg to complete expires).
        #[arg(long)]
        timeout_s: Option<u64>,
        #[command(flatten)]
        signer: SignerArgs,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: SwapCommand) -> Result<()> {
    match command {
        SwapCommand::Secret { json } => secret(json),
        SwapCommand::Leg { contract, request, trust, rpc } => {
            let mut chain =
                Chain::connect(&rpc.rpc, &contract, &trust.trust(), &trust.witnesses).await?;
            let (leg, proof) = chain.leg(request, None).await?;
            let value = json!({ "chain_id": chain.chain_id, "contract": chain.address,
                "kind": chain.kind.name(), "leg": leg.to_json(), "proof": proof });
            output::print(rpc.json, &value, |_| {
                format!(
                    "{} {request} on {}: {}\n{}",
                    chain.kind.leg_name(),
                    chain.chain_id,
                    leg.summary(),
                    proof.summary()
                )
            });
            Ok(())
        }
        SwapCommand::Claim { contract, request, secret, trust, signer, rpc } => {
            let secret = parse_secret(&secret)?;
            let mut chain =
                Chain::connect(&rpc.rpc, &contract, &trust.trust(), &trust.witnesses).await?;
            let signer = signer.signer()?;
            let (leg, _) = chain.leg(request, None).await?;
            let done = chain.claim(&leg, secret, &signer).await?;
            output::print(rpc.json, &done, |d| d.summary());
            Ok(())
        }
        SwapCommand::WatchAndComplete {
            from_rpc,
            from_contract,
            request,
            from_validators_hash,
            from_trust_spec,
            from_light_home,
            from_witness,
            to_rpc,
            to_contract,
            to_request,
            to_validators_hash,
            to_trust_spec,
            to_light_home,
            to_witness,
            poll_ms,
            timeout_s,
            signer,
            json,
        } => {
            let trust = |light_home, spec, validators_hash| Trust {
                light_home,
                spec,
                validators_hash,
                ..Trust::default()
            };
            let source_trust = trust(from_light_home, from_trust_spec, from_validators_hash);
            let source =
                Chain::connect(&from_rpc, &from_contract, &source_trust, &from_witness).await?;
            let target_trust = trust(to_light_home, to_trust_spec, to_validators_hash);
            let target = Chain::connect(&to_rpc, &to_contract, &target_trust, &to_witness).await?;
            let mut watch = Watch {
                source,
                request,
                target,
                to_request,
                poll: Duration::from_millis(poll_ms),
                give_up: timeout_s.map(Duration::from_secs),
            };
            watch
                .run(&signer.signer()?, |watch, step| {
                    if json {
                        println!("{}", step.to_json(watch));
                    } else {
                        println!("{}", step.summary(watch));
                    }
                })
                .await
        }
    }
}

fn secret(json: bool) -> Result<()> {
    let secret = draw_secret();
    let out = json!({
        "secret": hex::encode(secret),
        "blake3": hex::encode(lock_hash(HashAlgorithm::Blake3, &secret)),
        "sha256": hex::encode(lock_hash(HashAlgorithm::Sha256, &secret)),
    });
    output::print(json, &out, |o| {
        format!(
            "secret R     {}\nblake3 lock  {}\nsha256 lock  {}\nkeep R to yourself until you claim with it",
            o["secret"].as_str().unwrap_or_default(),
            o["blake3"].as_str().unwrap_or_default(),
            o["sha256"].as_str().unwrap_or_default()
        )
    });
    Ok(())
}
