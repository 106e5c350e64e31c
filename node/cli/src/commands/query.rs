//! `kessai query`: reads over RPC. `query state` is a verified read: the light client verifies
//! the header from a root of trust on this machine (`TrustArgs`), and the entry, the contract's
//! name and its interface are proven under that header; the other queries show the node's word.

use super::output;
use crate::cli::{RpcArgs, TrustArgs};
use anyhow::{bail, Context, Result};
use kessai_client::load_signer;
use kessai_client::rpc_error;
use kessai_primitives::{Hash, PublicKey};
use kessai_rpc_api::{self as rpc, KessaiApiClient};

use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// Call a view method.
    View {
        contract: String,
        method: String,
        args: Option<String>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Read an entry of a contract's storage map, proven (or proven absent) under a header the
    /// light client verified from a root of trust on this machine.
    ///
    /// The root: --light-home, --trust-spec, --trusted-height/--trusted-hash or
    /// --validators-hash; without one, the light home at $KESSAI_LIGHT_HOME or ~/.kessai/light when
    /// it holds the node's chain, else the dev chain spec at $KESSAI_DEV_HOME/chainspec.json or
    /// ~/.kessai/dev/chainspec.json when it is the node's chain (so a `kessai dev` chain needs no
    /// `kessai light init`); otherwise it refuses. Nothing the node serves is a root of trust.
    State {
        contract: String,
        map: String,
        /// The key, as JSON by the map's key type (a bare word is taken as a string).
        key: String,
        /// Read the state after this block (default: the node's latest).
        #[arg(long)]
        height: Option<u64>,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A transaction's status and receipt.
    Tx {
        tx_id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A block (header, transaction ids, last commit) and its hash.
    Block {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A block header.
    Header {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The commit certificate (precommit signatures) of a block.
    Commit {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The validator set that signs the block at a height (one above the latest: the next block).
    Validators {
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// An account's membership, roles and nonce.
    Account {
        /// Public key (hex) or the NAME of a key file in --keys-dir.
        key: String,
        #[arg(long, env = "KESSAI_KEYS")]
        keys_dir: Option<PathBuf>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A contract's address, code hash and interface; with --history, every version of its code
    /// (number, code hash, activation height, proposal, approvers), proven under a header the
    /// light client verified from a root of trust on this machine (as `query state`).
    Contract {
        contract: String,
        /// Every version of its code, proven.
        #[arg(long)]
        history: bool,
        /// With --history: the history as of this block (default: the node's latest).
        #[arg(long, requires = "history")]
        height: Option<u64>,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Events of a contract: those of heights --from..=--to, at most --limit; with --follow,
    /// every event from --from on and then each new one as its block commits, until stopped.
    Events {
        contract: String,
        #[arg(long, default_value_t = 1)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
        #[arg(long)]
        limit: Option<u32>,
        /// Keep following: a WebSocket subscription (kessai_subscribeEvents) that resumes from
        /// its last event when the node closes it as lagged; a node without subscriptions is
        /// polled every second. One event per line (one JSON object per line with --json).
        #[arg(long, conflicts_with_all = ["to", "limit"])]
        follow: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

fn parse_json(text: Option<&str>) -> Result<serde_json::Value> {
    match text {
        None => Ok(serde_json::Value::Array(vec![])),
        Some(t) => serde_json::from_str(t).with_context(|| format!("not valid JSON: {t}")),
    }
}

pub async fn run(command: QueryCommand) -> Result<()> {
    match command {
        QueryCommand::View { contract, method, args, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let result = client
                .view(contract, method, parse_json(args.as_deref())?)
                .await
                .map_err(rpc_error)?;
            output::print(rpc.json, &result, |r| r.decoded.to_string());
        }
        QueryCommand::State { contract, map, key, height, trust, rpc } => {
            let mut reader = trust.reader(&rpc.rpc).await?;
            let key: serde_json::Value = serde_json::from_str(&key)
                .unwrap_or_else(|_| serde_json::Value::String(key.clone()));
            let entry = reader.map_entry(&contract, &map, &key, height).await?;
            reader.save()?;
            let proven = &entry.proven;
            let header = &proven.header;
            let root = header.header.state_root;
            let height = header.header.height;
            let witnesses = reader.witness_report();
            let raw = serde_json::json!({
                "height": height, "state_root": root, "key": hex::encode(&proven.flat_key),
                "value": proven.value.as_ref().map(hex::encode), "proof": proven.proof,
            });
            let out = serde_json::json!({
                "contract": entry.contract, "map": entry.map, "value": entry.decoded,
                "height": height, "state_root": root, "proof_verified": true,
                "raw": raw, "verified": header, "witnesses": witnesses,
            });
            output::print(rpc.json, &out, |_| {
                let mut text = format!(
                    "{} (height {height}, state root {root}; proof of {} verified)\nagainst header \
                     {} of {}, signed by {} of {} voting power",
                    entry.decoded,
                    if proven.value.is_some() { "inclusion" } else { "absence" },
                    header.block,
                    reader.chain_id(),
                    header.signed_power,
                    header.total_power,
                );
                for line in witnesses.lines() {
                    text += &format!("\n{line}");
                }
                text
            });
        }
        QueryCommand::Tx { tx_id, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let id: Hash = tx_id.parse().context("a transaction id is 64 hex characters")?;
            let info = client.tx(id).await.map_err(rpc_error)?;
            output::print(rpc.json, &info, |i| {
                serde_json::to_string_pretty(i).expect("serialisable")
            });
        }
        QueryCommand::Block { height, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let block = client.block(height).await.map_err(rpc_error)?;
            output::print(rpc.json, &block, |b| {
                format!(
                    "block {} hash {}\n{} txs, state root {}, time {}",
                    b.header.height,
                    b.hash,
                    b.tx_ids.len(),
                    b.header.state_root,
                    b.header.time_ms
                )
            });
        }
        QueryCommand::Header { height, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let header = client.header(height).await.map_err(rpc_error)?;
            output::print(rpc.json, &header, |h| {
                serde_json::to_string_pretty(h).expect("serialisable")
            });
        }
        QueryCommand::Commit { height, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let commit = client.commit(height).await.map_err(rpc_error)?;
            output::print(rpc.json, &commit, |c| {
                format!(
                    "commit of height {} round {} for {} with {} signatures",
                    c.height,
                    c.round,
                    c.block,
                    c.signatures.len()
                )
            });
        }
        QueryCommand::Validators { height, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let set = client.validators(height).await.map_err(rpc_error)?;
            // The hash is what headers name (`validators_hash`, `next_validators_hash`).
            let out = serde_json::json!({
                "height": height, "hash": set.hash(), "total_power": set.total_power(),
                "validators": set.validators(),
            });
            output::print(rpc.json, &out, |_| {
                let lines: Vec<String> = set
                    .validators()
                    .iter()
                    .map(|v| format!("  {} power {}", v.public_key, v.power))
                    .collect();
                format!(
                    "validators at height {height} (hash {}):\n{}",
                    set.hash(),
                    lines.join("\n")
                )
            });
        }
        QueryCommand::Account { key, keys_dir, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let public_key = match key.parse::<PublicKey>() {
                Ok(k) => k,
                Err(_) => {
                    let dir =
                        keys_dir.unwrap_or_else(|| kessai_client::default_dev_home().join("keys"));
                    load_signer(&key, Some(&dir))?.public()
                }
            };
            let info = client.account(public_key).await.map_err(rpc_error)?;
            output::print(rpc.json, &info, |a| {
                format!(
                    "{}: member {} roles {:?} nonce {}",
                    a.public_key, a.member, a.roles, a.nonce
                )
            });
        }
        QueryCommand::Contract { contract, history: true, height, trust, rpc } => {
            let mut reader = trust.reader(&rpc.rpc).await?;
            let history = reader.contract_history(&contract, height).await?;
            reader.save()?;
            let out = serde_json::json!({
                "contract": history.address, "code_hash": history.info.code_hash,
                "upgrade_policy": history.upgrade_policy, "versions": history.versions,
                "height": history.header.header.height,
                "state_root": history.header.header.state_root, "proof_verified": true,
                "verified": history.header,
            });
            output::print(rpc.json, &out, |_| {
                super::contract::history_lines(&contract, &history).join("\n")
            });
        }
        QueryCommand::Contract { contract, rpc, .. } => {
            let client = rpc::client(&rpc.rpc)?;
            let info = client.contract(contract).await.map_err(rpc_error)?;
            output::print(rpc.json, &info, |c| {
                let methods: Vec<String> =
                    c.abi.methods.iter().map(|m| format!("{} ({:?})", m.name, m.kind)).collect();
                format!(
                    "{} {} at {}\ncode {}\nmethods: {}",
                    c.abi.name,
                    c.abi.version,
                    c.address,
                    c.code_hash,
                    methods.join(", ")
                )
            });
        }
        QueryCommand::Events { contract, from, follow: true, rpc, .. } => {
            follow_events(&rpc, contract, from).await?;
        }
        QueryCommand::Events { contract, from, to, limit, rpc, .. } => {
            let client = rpc::client(&rpc.rpc)?;
            if to.is_some_and(|t| t < from) {
                bail!("--to must not be below --from");
            }
            let events = client.events(contract, from, to, limit, None).await.map_err(rpc_error)?;
            output::print(rpc.json, &events, |evs| {
                evs.iter().map(event_line).collect::<Vec<_>>().join("\n")
            });
        }
    }
    Ok(())
}

fn event_line(e: &rpc::EventInfo) -> String {
    format!(
        "height {} tx {} {}: {}",
        e.height,
        e.tx_id,
        e.event.topic,
        e.decoded.clone().unwrap_or_else(|| hex::encode(&e.event.data).into())
    )
}

fn print_event(json: bool, e: &rpc::EventInfo) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(e)?);
    } else {
        println!("{}", event_line(e));
    }
    Ok(())
}

/// `kessai query events --follow`: a subscription from the cursor before `--from`, resubscribed
/// from its last cursor when the node closes it as lagged; polling when the node has no
/// subscriptions (`docs/rpc.md`).
async fn follow_events(rpc_args: &RpcArgs, contract: String, from: u64) -> Result<()> {
    use kessai_client::subscribe::{Next, SubscribeRefused, Subscription};
    // Everything after the last event of the height before `--from`.
    let mut after = rpc::Cursor { height: from.max(1) - 1, tx: u32::MAX, event: u32::MAX };
    let mut followed = false;
    loop {
        let params = serde_json::json!([contract, null, after]);
        let mut subscription =
            match Subscription::open(&rpc_args.rpc, "kessai_subscribeEvents", params).await {
                Ok(subscription) => subscription,
                // Method not found: a node older than subscriptions.
                Err(e)
                    if e.downcast_ref::<SubscribeRefused>().is_some_and(|r| r.code == -32601) =>
                {
                    return poll_events(rpc_args, contract, after).await;
                }
                Err(e) if e.to_string().contains("refused the WebSocket upgrade") => {
                    return poll_events(rpc_args, contract, after).await;
                }
                // The node went away after we followed it (a restart): try again from the cursor.
                Err(_) if followed => {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
        followed = true;
        loop {
            match subscription.next().await? {
                Next::Item(item) => {
                    let event: rpc::EventInfo = serde_json::from_value(item)?;
                    print_event(rpc_args.json, &event)?;
                    after = event.cursor.context("the node sent an event without its cursor")?;
                }
                Next::Closed(error) if error["code"] == rpc::codes::LAGGED => {
                    after = serde_json::from_value(error["cursor"].clone())
                        .context("a lagged close without its cursor")?;
                    break;
                }
                Next::Closed(error) => {
                    bail!(
                        "{}",
                        error["message"].as_str().unwrap_or("the node closed the subscription")
                    )
                }
                Next::Disconnected => {
                    eprintln!("the node closed the connection: following again after {after:?}");
                    break;
                }
            }
        }
    }
}

/// Follows a contract's events by asking `kessai_events` every second.
async fn poll_events(rpc_args: &RpcArgs, contract: String, mut after: rpc::Cursor) -> Result<()> {
    const PAGE: u32 = 1000;
    let client = rpc::client(&rpc_args.rpc)?;
    loop {
        let events = client
            .events(contract.clone(), after.height + 1, None, Some(PAGE), Some(after))
            .await
            .map_err(rpc_error)?;
        for event in &events {
            print_event(rpc_args.json, event)?;
            // A node without cursors: from the next height on.
            after = event.cursor.unwrap_or(rpc::Cursor {
                height: event.height,
                tx: u32::MAX,
                event: u32::MAX,
            });
        }
        if events.len() < PAGE as usize {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}
