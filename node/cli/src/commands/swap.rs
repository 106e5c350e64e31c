//! `kessai swap`: the cross-chain side of the burn-and-issue hash-lock (JP6980288B2). The
//! library is `kessai-swap` (legs, locks, claims, the relayer); this file holds the command's
//! arguments and what it prints.
//!
//! - `secret`: draws R and prints it with both lock hashes (blake3 and SHA-256).
//! - `leg`: reads one leg, proven, and prints it.
//! - `register`: registers a leg. A first leg takes R (only the party that drew it registers a
//!   first leg) and computes the lock; a second leg names the counter leg on the other chain,
//!   which the client proves with the light client and checks (lock, who it pays, its deadline)
//!   before it signs — see `kessai_swap::register`.
//! - `claim`: claims a leg with R: signs the claim message and calls `burn` or `transfer`. It
//!   refuses to reveal R when less than the contract's margin is left before the leg's deadline.
//! - `watch-and-complete`: the relayer. It watches the source chain's events for the claim of
//!   `--request`, and completes `--to-request` on the target chain with the revealed R.
//!
//! Every leg read is a verified read (`kessai_client::Reader`): the light client verifies the
//! header from a root of trust on this machine (see `kessai query state --help`: a light home, a
//! chain spec, a trusted hash, or `--validators-hash`, the set that signed block 1), and the leg,
//! the contract's name and its interface are proven under it.

use super::output;
use crate::cli::{RpcArgs, SignerArgs, TrustArgs};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use kessai_client::{load_signer, Trust};
use kessai_primitives::{Address, Hash};
use kessai_swap::{
    draw_secret, lock_hash, parse_secret, Chain, Counter, HashAlgorithm, Registered, Registration,
    Watch,
};
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
    /// Register a leg: a first leg with the secret you drew (--secret, --claimant), or a second
    /// leg answering the counterparty's first leg on the other chain (--counter-*), which is
    /// proven with the light client and checked before anything is signed.
    Register(Box<RegisterArgs>),
    /// Claim a leg with the secret: `burn` on a power ledger, `transfer` on value certificates.
    Claim {
        #[arg(long)]
        contract: String,
        #[arg(long)]
        request: u64,
        /// R, 64 hex characters.
        #[arg(long)]
        secret: String,
        /// R is already public (its other leg was claimed): claim even close to the deadline.
        /// Without it the claim is refused when less than the contract's margin is left, since a
        /// late claim fails but still reveals R.
        #[arg(long)]
        secret_is_public: bool,
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

/// `kessai swap register`'s arguments (boxed in [`SwapCommand`]: they are many).
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// The power-ledger or value-certificate contract: name in the chain spec, or address.
    #[arg(long)]
    pub contract: String,
    /// The amount of power to escrow (a burn request on a power ledger).
    #[arg(long, conflicts_with = "token")]
    pub amount: Option<u64>,
    /// The certificate to lock (a transfer condition on value certificates).
    #[arg(long)]
    pub token: Option<u64>,
    /// First leg: R, 64 hex characters (`kessai swap secret`); the lock is its hash.
    #[arg(long, requires = "claimant", conflicts_with_all = ["counter_rpc", "counter_contract", "counter_request"])]
    pub secret: Option<String>,
    /// First leg: the lock's hash function.
    #[arg(long, value_enum, default_value_t = Algorithm::Blake3)]
    pub algorithm: Algorithm,
    /// First leg: who may claim it (an address, or a key NAME in --keys-dir).
    #[arg(long)]
    pub claimant: Option<String>,
    /// Second leg: RPC URL of the other chain, where the first leg is.
    #[arg(long, requires_all = ["counter_contract", "counter_request"])]
    pub counter_rpc: Option<String>,
    /// Second leg: the other chain's hash-lock contract.
    #[arg(long)]
    pub counter_contract: Option<String>,
    /// Second leg: the first leg's id there.
    #[arg(long)]
    pub counter_request: Option<u64>,
    /// Second leg: what the first leg must lock (its amount of power, or its token id); refused
    /// otherwise. Without it, read the leg first (`kessai swap leg`).
    #[arg(long)]
    pub counter_subject: Option<u64>,
    /// Trust the other chain's spec (path or preset): its genesis validators signed block 1.
    #[arg(long)]
    pub counter_trust_spec: Option<String>,
    /// Trust the other chain's validator set of this hash to have signed its block 1.
    #[arg(long)]
    pub counter_validators_hash: Option<Hash>,
    /// Trust the other chain's light home (`kessai light init`).
    #[arg(long, conflicts_with_all = ["counter_trust_spec", "counter_validators_hash"])]
    pub counter_light_home: Option<PathBuf>,
    /// Witnesses of the other chain (repeatable).
    #[arg(long)]
    pub counter_witness: Vec<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
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
        SwapCommand::Register(args) => {
            let RegisterArgs {
                contract,
                amount,
                token,
                secret,
                algorithm,
                claimant,
                counter_rpc,
                counter_contract,
                counter_request,
                counter_subject,
                counter_trust_spec,
                counter_validators_hash,
                counter_light_home,
                counter_witness,
                trust,
                signer,
                rpc,
            } = *args;
            let mut chain =
                Chain::connect(&rpc.rpc, &contract, &trust.trust(), &trust.witnesses).await?;
            let subject = match (chain.kind, amount, token) {
                (kessai_swap::LegKind::Burn, Some(amount), None) => amount,
                (kessai_swap::LegKind::Transfer, None, Some(token)) => token,
                (kessai_swap::LegKind::Burn, ..) => bail!("a burn request takes --amount"),
                (kessai_swap::LegKind::Transfer, ..) => bail!("a transfer condition takes --token"),
            };
            let registration = match (secret, counter_rpc, counter_contract, counter_request) {
                (Some(secret), None, None, None) => {
                    let claimant = claimant.context("a first leg takes --claimant")?;
                    Registration::First {
                        secret: parse_secret(&secret)?,
                        algorithm: algorithm.into(),
                        claimant: resolve_address(&claimant, signer.keys_dir.as_deref())?,
                    }
                }
                (None, Some(url), Some(counter_contract), Some(request)) => {
                    let counter_trust = Trust {
                        light_home: counter_light_home,
                        spec: counter_trust_spec,
                        validators_hash: counter_validators_hash,
                        ..Trust::default()
                    };
                    let other =
                        Chain::connect(&url, &counter_contract, &counter_trust, &counter_witness)
                            .await?;
                    Registration::Second(Box::new(Counter {
                        chain: other,
                        request,
                        subject: counter_subject,
                    }))
                }
                _ => bail!(
                    "register a first leg with --secret and --claimant (you drew R), or a second leg with --counter-rpc, --counter-contract and --counter-request (the counterparty's first leg)"
                ),
            };
            let registered = chain.register(subject, registration, &signer.signer()?).await?;
            output::print(rpc.json, &registered_json(&registered), |_| {
                registered_summary(&registered)
            });
            Ok(())
        }
        SwapCommand::Claim { contract, request, secret, secret_is_public, trust, signer, rpc } => {
            let secret = parse_secret(&secret)?;
            let mut chain =
                Chain::connect(&rpc.rpc, &contract, &trust.trust(), &trust.witnesses).await?;
            let signer = signer.signer()?;
            let (leg, _) = chain.leg(request, None).await?;
            if !secret_is_public {
                chain.check_time_to_reveal(&leg).await?;
            }
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

/// The lock's hash function, as the command line names it.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Algorithm {
    Blake3,
    /// SHA-256, as BIP-199 HTLCs use.
    Sha256,
}

impl From<Algorithm> for HashAlgorithm {
    fn from(algorithm: Algorithm) -> HashAlgorithm {
        match algorithm {
            Algorithm::Blake3 => HashAlgorithm::Blake3,
            Algorithm::Sha256 => HashAlgorithm::Sha256,
        }
    }
}

/// An address in hex, or the address of key NAME (in `keys_dir` or the dev chain's keys).
fn resolve_address(text: &str, keys_dir: Option<&std::path::Path>) -> Result<Address> {
    match text.parse::<Address>() {
        Ok(address) => Ok(address),
        Err(_) => Ok(load_signer(text, keys_dir)
            .with_context(|| format!("{text} is neither an address nor a key name"))?
            .address()),
    }
}

fn registered_json(r: &Registered) -> serde_json::Value {
    json!({
        "id": r.id, "chain_id": r.completed.chain_id, "method": r.completed.method,
        "tx_id": r.completed.tx_id, "height": r.completed.height, "gas_used": r.completed.gas_used,
        "lock": {"algorithm": kessai_swap::algorithm_name(r.lock.algorithm),
            "hash": hex::encode(r.lock.hash)},
        "claimant": r.claimant, "counter_deadline_ms": r.counter_deadline_ms,
        "counter_proof": r.counter_proof,
    })
}

fn registered_summary(r: &Registered) -> String {
    let mut text = format!(
        "registered request {} locked by {} {} for {}\n{}",
        r.id,
        kessai_swap::algorithm_name(r.lock.algorithm),
        hex::encode(r.lock.hash),
        r.claimant,
        r.completed.summary()
    );
    if let (Some(deadline), Some(proof)) = (r.counter_deadline_ms, &r.counter_proof) {
        text.push_str(&format!(
            "\nanswers a counter leg with deadline {deadline} ms, {}",
            proof.summary()
        ));
    }
    text
}
