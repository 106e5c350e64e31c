//! `kessai status`: a node's readiness, height, block, state root, consensus step, peers and clock.

use super::output;
use crate::cli::RpcArgs;
use anyhow::{Context, Result};
use clap::Args;
use kessai_client::rpc_error;
use kessai_primitives::time::MAX_CLOCK_DRIFT_MS;
use kessai_rpc_api::{self as rpc, KessaiApiClient};

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub rpc: RpcArgs,
}

pub async fn run(args: StatusArgs) -> Result<()> {
    status(args.rpc).await
}

async fn status(rpc: RpcArgs) -> Result<()> {
    let client = rpc::client(&rpc.rpc)?;
    let status = client
        .status()
        .await
        .map_err(rpc_error)
        .with_context(|| format!("cannot reach the node at {}", rpc.rpc))?;
    output::print(rpc.json, &status, |s| {
        // First, where an operator looks: the node then admits and signs nothing.
        let storage = match &s.storage_fault {
            Some(fault) => format!("storage: FAILED, {fault}\n"),
            None => String::new(),
        };
        storage + &ready(s.readiness.as_ref()) + &format!(
            "chain {} height {} hash {}\nstate root {}\nconsensus: height {} round {} step {}\nvalidator: {}{}\n{}\npeers: {}  mempool: {}  syncing: {}\nclock: {}",
            s.chain_id, s.height, s.hash, s.state_root, s.consensus_height, s.consensus_round, s.consensus_step,
            s.validator, consensus_key(s), identity(s), s.peers.len(), s.mempool_size, s.syncing, clock(s.clock_skew_ms)
        ) + &protocol(s) + &kept(s.earliest_state_height, s.earliest_block_height)
    });
    Ok(())
}

/// The key the node signs with, when it runs as a validator (an older node reports only the
/// ambiguous `node_key`).
fn consensus_key(s: &rpc::Status) -> String {
    match (&s.consensus_key, &s.network_key) {
        (Some(key), _) => format!("  consensus key {key}"),
        (None, Some(_)) => "  (full node: no consensus key)".into(),
        (None, None) => format!("  key {}", s.node_key),
    }
}

/// The node's libp2p identity: what `admit-peer` and `set-validator-node-key` take, and the peer
/// id other nodes see.
fn identity(s: &rpc::Status) -> String {
    match (&s.network_key, &s.peer_id) {
        (Some(key), Some(peer_id)) => format!("node key {key}  peer id {peer_id}"),
        _ => "node key: not reported by this node".into(),
    }
}

/// The protocol version, the binary's supported ones, and a scheduled upgrade (with a warning
/// when this binary does not support it: the node will stop at its height).
fn protocol(s: &rpc::Status) -> String {
    let supported = s.supported_protocol_versions.iter().map(u32::to_string).collect::<Vec<_>>();
    let mut line = format!(
        "\nprotocol: version {} (this binary supports {})",
        s.protocol_version,
        supported.join(", ")
    );
    if let Some(upgrade) = &s.scheduled_upgrade {
        line += &format!(
            "\nupgrade: protocol {} scheduled at height {}",
            upgrade.protocol_version, upgrade.height
        );
        if !s.supported_protocol_versions.contains(&upgrade.protocol_version) {
            line += &format!(
                " (NOT supported by this binary: it stops before height {}; upgrade to a binary supporting protocol {})",
                upgrade.height, upgrade.protocol_version
            );
        }
    }
    line
}

/// What pruning keeps: a line only when something was pruned.
fn kept(earliest_state: u64, earliest_block: u64) -> String {
    if earliest_state == 0 && earliest_block == 0 {
        return String::new();
    }
    format!("\nkept: state from height {earliest_state}, blocks from height {earliest_block} (pruned below; headers and commits kept)")
}

/// Readiness in one line (what `GET /ready` answers), first: a node not ready is what an operator
/// looks for.
fn ready(readiness: Option<&rpc::Readiness>) -> String {
    match readiness {
        Some(r) if r.ready => "ready: yes\n".into(),
        Some(r) => format!("ready: NO ({})\n", r.failing.join(", ")),
        None => "ready: not reported by this node\n".into(),
    }
}

/// The node's clock against the chain's (`Status::clock_skew_ms`), with a warning beyond the drift
/// validators tolerate.
fn clock(skew_ms: Option<i64>) -> String {
    let Some(skew_ms) = skew_ms else {
        return "no block decided yet".into();
    };
    let side = if skew_ms >= 0 { "ahead of" } else { "behind" };
    let seconds = skew_ms.unsigned_abs() as f64 / 1e3;
    let line = format!(
        "{seconds:.1} s {side} the chain (local clock minus the last decided block's time)"
    );
    if skew_ms.unsigned_abs() > MAX_CLOCK_DRIFT_MS {
        format!(
            "{line}\nWARNING: the clock is off by more than {} s; fix it (NTP): {}",
            MAX_CLOCK_DRIFT_MS / 1000,
            if skew_ms > 0 {
                "this node's blocks get nil prevotes"
            } else {
                "this node cannot prevote for others' blocks"
            }
        )
    } else {
        line
    }
}
