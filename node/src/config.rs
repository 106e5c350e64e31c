//! The node's settings: `HOME/config.toml`, commented, with environment-variable overrides.
//!
//! [`NodeConfig`] is what the daemon runs with. On disk it is `config.toml`, in sections
//! (`[rpc]`, `[p2p]`, `[metrics]`, `[consensus]`, `[mempool]`, `[store]`, `[log]`,
//! `[state_sync]`, `[signer]`) that [`render`] writes with a comment on every field (what it does, its unit,
//! its default). Where a setting comes from, strongest first:
//!
//! 1. a command-line flag (`kessai node run --rpc-addr …`, `--rpc-max-connections …`);
//! 2. the environment: `KESSAI_<SECTION>_<FIELD>`, e.g. `KESSAI_RPC_ADDRESS`,
//!    `KESSAI_MEMPOOL_MAX_TXS` (the `--rpc-…` flags' own variables, `KESSAI_RPC_MAX_CONNECTIONS`
//!    and so on, are the same names);
//! 3. `config.toml`;
//! 4. the built-in default ([`NodeConfig::default`]); a key left out of the file takes it.
//!
//! A key the node does not know, a value of the wrong kind or out of range, in the file or in
//! the environment, is one error naming the key (and the file, with its line), and the node does
//! not start. Homes written before `config.toml` existed have `config.json`: it is read when
//! there is no `config.toml` (the node says once that `kessai config migrate` converts it), and
//! [`migrate`] converts it.

use crate::home::Home;
use crate::mempool::MempoolLimits;
use crate::rpc::limits::RpcLimits;
use anyhow::{anyhow, bail, Context, Result};
use kessai_store::{PruningConfig, StoreConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings that differ from node to node of one chain.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// JSON-RPC listen address. Loopback by default: RPC is for the operator and local tools.
    pub rpc_addr: SocketAddr,
    /// libp2p listen address (multiaddr).
    pub p2p_addr: String,
    /// Peers to dial at start (multiaddrs with /p2p/ peer ids).
    pub bootnodes: Vec<String>,
    /// Prometheus metrics listen address; none disables the endpoint.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether this node signs (it must be in the validator set too).
    pub validator: bool,
    /// How many recent heights of state and of blocks the node keeps (default: all, archive).
    /// `kessai node run --state-keep-recent N --blocks-keep-recent N` override it.
    pub pruning: PruningConfig,
    /// What one RPC client may cost the node (`[rpc]`; flags `--rpc-…`).
    pub rpc_limits: RpcLimits,
    /// The mempool's bounds (`[mempool]`).
    pub mempool: MempoolLimits,
    /// `fsync` RocksDB's write-ahead log before a block's commit returns (`[store] sync`).
    pub store_sync: bool,
    /// Bytes of RocksDB block cache (`[store] cache_bytes`).
    pub store_cache_bytes: usize,
    /// Levels of the state tree kept in memory across blocks (`[store] tree_cache_levels`; 0:
    /// none); see [`StoreConfig::tree_cache_depth`].
    pub store_tree_cache_levels: usize,
    /// What the node logs and how (`[log]`).
    pub log: LogConfig,
    /// State sync (`[state_sync]`): reserved, not read from the file yet; only `enabled = false`
    /// is accepted.
    pub state_sync: StateSyncConfig,
    /// Start a validator whose signing state is missing as a key that has never signed
    /// (`--allow-missing-sign-state`; see [`crate::sign_state`]). Never stored.
    pub allow_missing_sign_state: bool,
    /// How many committed heights a validator looks back at start for a precommit of its key
    /// that its signing state did not make (`[consensus] double_sign_check_height`; 0: off).
    pub double_sign_check_height: u64,
    /// The remote signer holding the consensus key (`[signer] remote`, `unix:///path`); `None`:
    /// the key file in the home ([`crate::signer`]).
    pub remote_signer: Option<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        let store = StoreConfig::default();
        NodeConfig {
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            p2p_addr: "/ip4/127.0.0.1/tcp/0".into(),
            bootnodes: vec![],
            metrics_addr: None,
            validator: true,
            pruning: PruningConfig::default(),
            rpc_limits: RpcLimits::default(),
            mempool: MempoolLimits::default(),
            store_sync: store.sync,
            store_cache_bytes: store.cache_bytes,
            store_tree_cache_levels: store.tree_cache_depth.map_or(0, |depth| depth + 1),
            log: LogConfig::default(),
            state_sync: StateSyncConfig::default(),
            allow_missing_sign_state: false,
            double_sign_check_height: 0,
            remote_signer: None,
        }
    }
}

impl NodeConfig {
    /// The store's settings: sync, cache and pruning.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            sync: self.store_sync,
            cache_bytes: self.store_cache_bytes,
            pruning: self.pruning,
            tree_cache_depth: self.store_tree_cache_levels.checked_sub(1),
        }
    }

    /// Refuses values of the right kind that the node cannot run with, naming the key.
    pub fn check(&self) -> Result<()> {
        let at_least_one = [
            ("rpc.max_connections", self.rpc_limits.max_connections as u64),
            ("rpc.max_connections_per_ip", self.rpc_limits.max_connections_per_ip as u64),
            ("rpc.header_timeout_ms", self.rpc_limits.header_timeout_ms),
            ("rpc.body_timeout_ms", self.rpc_limits.body_timeout_ms),
            ("rpc.max_request_bytes", self.rpc_limits.max_request_body_bytes as u64),
            ("rpc.max_response_bytes", self.rpc_limits.max_response_body_bytes as u64),
            ("rpc.max_batch_calls", self.rpc_limits.max_batch_calls as u64),
            ("rpc.max_submit_txs", self.rpc_limits.max_submit_txs as u64),
            ("rpc.ws_idle_timeout_ms", self.rpc_limits.ws_idle_timeout_ms),
            ("mempool.max_txs", self.mempool.max_txs as u64),
            ("mempool.max_bytes", self.mempool.max_bytes as u64),
            ("mempool.max_per_account", self.mempool.max_per_account as u64),
            ("mempool.max_age_secs", self.mempool.max_age.as_secs()),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            bail!("`{key}` must be at least 1");
        }
        if let Err(e) = self.p2p_addr.parse::<kessai_network::Multiaddr>() {
            bail!("`p2p.listen_address` {:?} is not a multiaddr: {e}", self.p2p_addr);
        }
        for bootnode in &self.bootnodes {
            if let Err(e) = bootnode.parse::<kessai_network::Multiaddr>() {
                bail!("`p2p.bootnodes` entry {bootnode:?} is not a multiaddr: {e}");
            }
        }
        if self.store_tree_cache_levels > MAX_TREE_CACHE_LEVELS {
            bail!(
                "`store.tree_cache_levels` must be at most {MAX_TREE_CACHE_LEVELS} (7 levels would \
                 hold up to 17 million nodes, about 15 GiB)"
            );
        }
        if let Err(e) = self.pruning.check() {
            bail!("[store] pruning: {e}");
        }
        self.state_sync.trust()?;
        if let Some(remote) = &self.remote_signer {
            crate::signer::SignerAddress::parse(remote)
                .map_err(|e| anyhow!("`signer.remote` {remote:?}: {e}"))?;
        }
        Ok(())
    }
}

/// What the node logs (`[log]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter: a level, or `target=level` pairs separated by commas.
    pub filter: String,
    /// `text` (human-readable lines) or `json` (one JSON object a line).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        // jsonrpsee logs every request body the RPC limits cut short as an "internal error"
        // warning; the node answers those clients with 408/413 itself (rpc/limits.rs).
        LogConfig { filter: "info,jsonrpsee-server=error".into(), format: LogFormat::Text }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

impl LogFormat {
    fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// State sync (`[state_sync]`): join from a verified snapshot of the peers' state when `data/` is
/// empty (`crate::state_sync`; the flags `--state-sync --trust-height --trust-hash` do the same).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSyncConfig {
    /// Start from a snapshot of the state instead of replaying every block.
    pub enabled: bool,
    /// Height of a header trusted out of band, to verify the snapshot from.
    pub trust_height: u64,
    /// Hash of that header (hex); empty when unset.
    pub trust_hash: String,
}

impl StateSyncConfig {
    /// The root of trust to join from, when enabled; an error names what is missing or wrong.
    pub fn trust(&self) -> Result<Option<crate::state_sync::StateSyncConfig>> {
        if !self.enabled {
            return Ok(None);
        }
        if self.trust_height == 0 {
            bail!(
                "`state_sync.enabled` = true needs `state_sync.trust_height` (at least 1) and \
                 `state_sync.trust_hash`"
            );
        }
        let Ok(trust_hash) = self.trust_hash.parse() else {
            bail!("`state_sync.trust_hash` {:?} is not a 32-byte hex hash", self.trust_hash);
        };
        Ok(Some(crate::state_sync::StateSyncConfig { trust_height: self.trust_height, trust_hash }))
    }
}

// ---------------------------------------------------------------------------------------------
// config.toml: the file's sections.

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    rpc: RpcSection,
    p2p: P2pSection,
    metrics: MetricsSection,
    consensus: ConsensusSection,
    mempool: MempoolSection,
    store: StoreSection,
    log: LogConfig,
    state_sync: StateSyncConfig,
    signer: SignerSection,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RpcSection {
    address: SocketAddr,
    max_connections: u32,
    max_connections_per_ip: u32,
    header_timeout_ms: u64,
    body_timeout_ms: u64,
    max_request_bytes: u32,
    max_response_bytes: u32,
    max_batch_calls: u32,
    max_submit_txs: u32,
    ws_idle_timeout_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct P2pSection {
    listen_address: String,
    bootnodes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MetricsSection {
    enabled: bool,
    address: SocketAddr,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConsensusSection {
    validator: bool,
    double_sign_check_height: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SignerSection {
    remote: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MempoolSection {
    max_txs: usize,
    max_bytes: usize,
    max_per_account: usize,
    max_age_secs: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreSection {
    sync: bool,
    cache_bytes: usize,
    tree_cache_levels: usize,
    state_keep_recent: u64,
    blocks_keep_recent: u64,
    compaction_interval_secs: u64,
}

/// Most levels of the state tree `[store] tree_cache_levels` may keep in memory (up to about
/// 1 GiB on a large state).
const MAX_TREE_CACHE_LEVELS: usize = 6;

/// The metrics address written (commented as off) when the endpoint is disabled.
const DEFAULT_METRICS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9615);

/// The keys `[p2p] bootnodes` addresses name by their `/p2p/<peer id>` (addresses without one,
/// or with a peer id that embeds no ed25519 key, name none): the peers a node allows while it
/// catches up (decision 0027).
pub(crate) fn bootnode_keys(
    bootnodes: &[String],
) -> std::collections::BTreeSet<kessai_primitives::PublicKey> {
    bootnodes
        .iter()
        .filter_map(|address| address.parse().ok())
        .filter_map(|address| kessai_network::public_key_in(&address))
        .collect()
}

// Each section's default is NodeConfig::default()'s: one source of defaults.
fn defaults() -> ConfigFile {
    ConfigFile::from(&NodeConfig::default())
}

impl Default for RpcSection {
    fn default() -> Self {
        defaults().rpc
    }
}
impl Default for P2pSection {
    fn default() -> Self {
        defaults().p2p
    }
}
impl Default for MetricsSection {
    fn default() -> Self {
        defaults().metrics
    }
}
impl Default for ConsensusSection {
    fn default() -> Self {
        defaults().consensus
    }
}
impl Default for SignerSection {
    fn default() -> Self {
        defaults().signer
    }
}
impl Default for MempoolSection {
    fn default() -> Self {
        defaults().mempool
    }
}
impl Default for StoreSection {
    fn default() -> Self {
        defaults().store
    }
}

impl From<&NodeConfig> for ConfigFile {
    fn from(c: &NodeConfig) -> Self {
        let limits = &c.rpc_limits;
        ConfigFile {
            rpc: RpcSection {
                address: c.rpc_addr,
                max_connections: limits.max_connections,
                max_connections_per_ip: limits.max_connections_per_ip,
                header_timeout_ms: limits.header_timeout_ms,
                body_timeout_ms: limits.body_timeout_ms,
                max_request_bytes: limits.max_request_body_bytes,
                max_response_bytes: limits.max_response_body_bytes,
                max_batch_calls: limits.max_batch_calls,
                max_submit_txs: limits.max_submit_txs,
                ws_idle_timeout_ms: limits.ws_idle_timeout_ms,
            },
            p2p: P2pSection { listen_address: c.p2p_addr.clone(), bootnodes: c.bootnodes.clone() },
            metrics: MetricsSection {
                enabled: c.metrics_addr.is_some(),
                address: c.metrics_addr.unwrap_or(DEFAULT_METRICS_ADDR),
            },
            consensus: ConsensusSection {
                validator: c.validator,
                double_sign_check_height: c.double_sign_check_height,
            },
            mempool: MempoolSection {
                max_txs: c.mempool.max_txs,
                max_bytes: c.mempool.max_bytes,
                max_per_account: c.mempool.max_per_account,
                max_age_secs: c.mempool.max_age.as_secs(),
            },
            store: StoreSection {
                sync: c.store_sync,
                cache_bytes: c.store_cache_bytes,
                tree_cache_levels: c.store_tree_cache_levels,
                state_keep_recent: c.pruning.state_keep_recent,
                blocks_keep_recent: c.pruning.blocks_keep_recent,
                compaction_interval_secs: c.pruning.compaction_interval_secs,
            },
            log: c.log.clone(),
            state_sync: c.state_sync.clone(),
            signer: SignerSection { remote: c.remote_signer.clone().unwrap_or_default() },
        }
    }
}

impl From<ConfigFile> for NodeConfig {
    fn from(f: ConfigFile) -> Self {
        NodeConfig {
            rpc_addr: f.rpc.address,
            p2p_addr: f.p2p.listen_address,
            bootnodes: f.p2p.bootnodes,
            metrics_addr: f.metrics.enabled.then_some(f.metrics.address),
            validator: f.consensus.validator,
            pruning: PruningConfig {
                state_keep_recent: f.store.state_keep_recent,
                blocks_keep_recent: f.store.blocks_keep_recent,
                compaction_interval_secs: f.store.compaction_interval_secs,
            },
            rpc_limits: RpcLimits {
                max_connections: f.rpc.max_connections,
                max_connections_per_ip: f.rpc.max_connections_per_ip,
                header_timeout_ms: f.rpc.header_timeout_ms,
                body_timeout_ms: f.rpc.body_timeout_ms,
                max_request_body_bytes: f.rpc.max_request_bytes,
                max_response_body_bytes: f.rpc.max_response_bytes,
                max_batch_calls: f.rpc.max_batch_calls,
                max_submit_txs: f.rpc.max_submit_txs,
                ws_idle_timeout_ms: f.rpc.ws_idle_timeout_ms,
            },
            mempool: MempoolLimits {
                max_txs: f.mempool.max_txs,
                max_bytes: f.mempool.max_bytes,
                max_per_account: f.mempool.max_per_account,
                max_age: Duration::from_secs(f.mempool.max_age_secs),
            },
            store_sync: f.store.sync,
            store_cache_bytes: f.store.cache_bytes,
            store_tree_cache_levels: f.store.tree_cache_levels,
            log: f.log,
            state_sync: f.state_sync,
            allow_missing_sign_state: false,
            double_sign_check_height: f.consensus.double_sign_check_height,
            remote_signer: Some(f.signer.remote).filter(|r| !r.is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing: the commented file.

/// A TOML literal of `value` (quoted and escaped for strings, `[...]` for lists).
fn lit(value: impl Into<toml::Value>) -> String {
    value.into().to_string()
}

/// `config.toml` for `config`: every field with what it does, its unit and its default. Parsing
/// the text gives `config` back (but `allow_missing_sign_state`, which is never stored).
pub fn render(config: &NodeConfig) -> String {
    let f = ConfigFile::from(config);
    let d = defaults();
    let bootnodes =
        lit(toml::Value::Array(f.p2p.bootnodes.iter().map(|b| b.as_str().into()).collect()));
    format!(
        r#"# Kessai node configuration (HOME/config.toml), written by `kessai init`.
#
# Every setting can also come from the environment, as KESSAI_<SECTION>_<FIELD> in capitals:
# KESSAI_RPC_ADDRESS=0.0.0.0:8545, KESSAI_MEMPOOL_MAX_TXS=50000, KESSAI_CONSENSUS_VALIDATOR=false,
# KESSAI_P2P_BOOTNODES=/dns4/a/tcp/26600/p2p/ID1,/dns4/b/tcp/26600/p2p/ID2 (lists: commas).
# What wins: a command-line flag (`kessai node run --rpc-addr ...`), then the environment, then
# this file, then the built-in default (a key left out takes its default). RUST_LOG, when set,
# replaces [log] filter.
#
# A key the node does not know or a value of the wrong kind stops the node with an error that
# names it: the node never starts half-configured. Sizes are in bytes; durations say their unit
# in their name (_ms milliseconds, _secs seconds).

[rpc]
# JSON-RPC listen address, IP:PORT. Loopback by default: the RPC is for the operator and local
# tools; to open it, bind a routable address behind a firewall or a reverse proxy.
# Default: {d_rpc_address}.
address = {rpc_address}
# Open connections in all; past it a new connection gets HTTP 503. Default: {d_max_connections}.
max_connections = {max_connections}
# Open connections from one host (an IPv4 address, or an IPv6 /64); past it HTTP 429. A reverse
# proxy in front of the node counts as one host. Default: {d_max_connections_per_ip}.
max_connections_per_ip = {max_connections_per_ip}
# Milliseconds a client may take to send a request's headers; also how long an idle keep-alive
# connection stays open. Default: {d_header_timeout_ms}.
header_timeout_ms = {header_timeout_ms}
# Milliseconds a request's body may take to arrive after its headers; then HTTP 408.
# Default: {d_body_timeout_ms}.
body_timeout_ms = {body_timeout_ms}
# Largest request body, in bytes; past it HTTP 413. The default fits one transaction of the
# largest size the protocol allows, in hex, with its JSON. Default: {d_max_request_bytes}.
max_request_bytes = {max_request_bytes}
# Largest response body, in bytes (a full block is the largest answer). Default: {d_max_response_bytes}.
max_response_bytes = {max_response_bytes}
# Calls in one JSON-RPC batch; a larger batch is refused whole. Default: {d_max_batch_calls}.
max_batch_calls = {max_batch_calls}
# Transactions in one kessai_submitTxs call; a longer list is refused whole. Default: {d_max_submit_txs}.
max_submit_txs = {max_submit_txs}
# Milliseconds a WebSocket client may leave the node's pings unanswered (the node pings every
# half of it); then its connection is closed and its place freed. Default: {d_ws_idle_timeout_ms}.
ws_idle_timeout_ms = {ws_idle_timeout_ms}

[p2p]
# libp2p listen address, a multiaddr (/ip4/IP/tcp/PORT; port 0 picks a free one).
# Default: {d_listen_address}.
listen_address = {listen_address}
# Peers to dial at start, as multiaddrs ending in their peer id: /ip4/IP/tcp/PORT/p2p/ID or
# /dns4/HOST/tcp/PORT/p2p/ID. Only keys in the chain spec or admitted by governance may connect,
# and, until this node has caught up with its peers, the bootnodes named here (unless governance
# revoked them): a node joining a network whose members changed since the chain spec reaches them
# before its state knows them.
# Default: [] (none).
bootnodes = {bootnodes}

[metrics]
# Serve Prometheus metrics (/metrics) and health checks at `address`. Default: {d_metrics_enabled}.
enabled = {metrics_enabled}
# Metrics listen address, IP:PORT (used only when enabled). Default: {d_metrics_address}.
address = {metrics_address}

[consensus]
# Whether this node signs blocks. It signs only while its key is in the validator set, so a node
# that governance makes a validator starts signing without a restart. Default: {d_validator}.
validator = {validator}
# How many committed heights a validator looks back at, before it signs, for a precommit of its
# key that its signing state did not make (another copy of the key running, or a lost
# sign_state.json): it then refuses to sign for this run and says so. It also checks every
# commit it stores while it runs. 0 turns the check off. As CometBFT's double_sign_check_height:
# a validator restarted with a lost state must wait that many heights. Default: {d_double_sign_check_height}.
double_sign_check_height = {double_sign_check_height}

[mempool]
# Pending transactions in all; past it new ones are refused ("mempool is full (...); try again
# after the next block") until a block makes room. It bounds how long an admitted transaction
# waits under overload: size it to what the chain commits in your latency budget (committed tx/s
# x seconds; a few blocks' worth). The default is half a full block, about 3 s of queue for four
# validators on 2 cores. Default: {d_max_txs}.
max_txs = {max_txs}
# Pending transactions' total size, in bytes of their encoding. Default: {d_max_bytes}.
max_bytes = {max_bytes}
# Pending transactions of one account at once. Default: {d_max_per_account}.
max_per_account = {max_per_account}
# Seconds a transaction may stay pending before it is evicted (with its account's later ones).
# Default: {d_max_age_secs}.
max_age_secs = {max_age_secs}

[store]
# fsync the database's write-ahead log before a block's commit returns: a committed block then
# survives a power loss, not only a crash of the process. Keep true on validators.
# Default: {d_sync}.
sync = {sync}
# Bytes of RocksDB block cache, shared by all column families. Default: {d_cache_bytes}.
cache_bytes = {cache_bytes}
# Levels of the state's Merkle tree kept in memory across blocks (the root's level counts as one),
# so that a block's update reads only the levels below them from the database. Its memory is
# bounded whatever the state's size: 5 levels hold at most 69,905 nodes, about 70 MiB once the
# state has millions of keys (a small state takes far less); 6 levels up to about 1 GiB. 0 keeps
# none. Speed only: no root, proof or stored byte depends on it. Default: {d_tree_cache_levels}.
tree_cache_levels = {tree_cache_levels}
# Heights of state kept (values, proofs, state roots of the latest N heights); 0 keeps every
# height (archive); 1 is refused (the light client reads the height below the latest).
# Flag: --state-keep-recent. Default: {d_state_keep_recent}.
state_keep_recent = {state_keep_recent}
# Heights of blocks kept (blocks, receipts, transaction index, events; headers and commits are
# always kept); 0 keeps every height. A node that prunes blocks cannot serve sync from genesis.
# Flag: --blocks-keep-recent. Default: {d_blocks_keep_recent}.
blocks_keep_recent = {blocks_keep_recent}
# Seconds at least between two compactions of pruned ranges (when disk space comes back).
# Default: {d_compaction_interval_secs}.
compaction_interval_secs = {compaction_interval_secs}

[log]
# What to log: a level (error, warn, info, debug, trace) or target=level pairs separated by
# commas, e.g. "info,kessai_node=debug". RUST_LOG, when set, replaces it. Default: {d_filter}.
filter = {filter}
# "text" (lines for people) or "json" (one JSON object a line, for log collectors).
# Default: {d_format}.
format = {format}

[state_sync]
# State sync: on an empty data/, join from a snapshot of the peers' state (verified from the
# trusted header below) instead of replaying every block; peers serve snapshots when started
# with --snapshot-interval N. The same as `kessai node run --state-sync --trust-height H
# --trust-hash X`. Default: false.
enabled = {state_sync_enabled}
# Height of a header trusted out of band, to verify the snapshot from. Default: 0 (unset).
trust_height = {trust_height}
# Hash of that header, hex. Default: "" (unset).
trust_hash = {trust_hash}

[signer]
# Where the consensus key signs: "" uses HOME/consensus_key.json and HOME/sign_state.json;
# "unix:///path/to/signer.sock" asks `kessai signer run` listening there, which holds the key
# and its signing state (docs/operations.md, "Remote signer"). Default: "" (the local key).
remote = {signer_remote}
"#,
        d_rpc_address = lit(d.rpc.address.to_string()),
        rpc_address = lit(f.rpc.address.to_string()),
        d_max_connections = d.rpc.max_connections,
        max_connections = f.rpc.max_connections,
        d_max_connections_per_ip = d.rpc.max_connections_per_ip,
        max_connections_per_ip = f.rpc.max_connections_per_ip,
        d_header_timeout_ms = d.rpc.header_timeout_ms,
        header_timeout_ms = f.rpc.header_timeout_ms,
        d_body_timeout_ms = d.rpc.body_timeout_ms,
        body_timeout_ms = f.rpc.body_timeout_ms,
        d_max_request_bytes = d.rpc.max_request_bytes,
        max_request_bytes = f.rpc.max_request_bytes,
        d_max_response_bytes = d.rpc.max_response_bytes,
        max_response_bytes = f.rpc.max_response_bytes,
        d_max_batch_calls = d.rpc.max_batch_calls,
        max_batch_calls = f.rpc.max_batch_calls,
        d_max_submit_txs = d.rpc.max_submit_txs,
        max_submit_txs = f.rpc.max_submit_txs,
        d_ws_idle_timeout_ms = d.rpc.ws_idle_timeout_ms,
        ws_idle_timeout_ms = f.rpc.ws_idle_timeout_ms,
        d_listen_address = lit(d.p2p.listen_address.as_str()),
        listen_address = lit(f.p2p.listen_address.as_str()),
        d_metrics_enabled = d.metrics.enabled,
        metrics_enabled = f.metrics.enabled,
        d_metrics_address = lit(d.metrics.address.to_string()),
        metrics_address = lit(f.metrics.address.to_string()),
        d_validator = d.consensus.validator,
        validator = f.consensus.validator,
        d_max_txs = d.mempool.max_txs,
        max_txs = f.mempool.max_txs,
        d_max_bytes = d.mempool.max_bytes,
        max_bytes = f.mempool.max_bytes,
        d_max_per_account = d.mempool.max_per_account,
        max_per_account = f.mempool.max_per_account,
        d_max_age_secs = d.mempool.max_age_secs,
        max_age_secs = f.mempool.max_age_secs,
        d_sync = d.store.sync,
        sync = f.store.sync,
        d_cache_bytes = d.store.cache_bytes,
        cache_bytes = f.store.cache_bytes,
        d_tree_cache_levels = d.store.tree_cache_levels,
        tree_cache_levels = f.store.tree_cache_levels,
        d_state_keep_recent = d.store.state_keep_recent,
        state_keep_recent = f.store.state_keep_recent,
        d_blocks_keep_recent = d.store.blocks_keep_recent,
        blocks_keep_recent = f.store.blocks_keep_recent,
        d_compaction_interval_secs = d.store.compaction_interval_secs,
        compaction_interval_secs = f.store.compaction_interval_secs,
        d_filter = lit(d.log.filter.as_str()),
        filter = lit(f.log.filter.as_str()),
        d_format = lit(d.log.format.as_str()),
        format = lit(f.log.format.as_str()),
        state_sync_enabled = f.state_sync.enabled,
        trust_height = f.state_sync.trust_height,
        trust_hash = lit(f.state_sync.trust_hash.as_str()),
        d_double_sign_check_height = d.consensus.double_sign_check_height,
        double_sign_check_height = f.consensus.double_sign_check_height,
        signer_remote = lit(f.signer.remote.as_str()),
    )
}

// ---------------------------------------------------------------------------------------------
// Reading: the file, the environment, the old config.json.

/// Parses `config.toml` text; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<NodeConfig> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| file_error(path, text, &e))?;
    let config = NodeConfig::from(file);
    config.check().map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(config)
}

/// One sentence for a parse error: the file, the line, the key and what is wrong with it.
fn file_error(path: &Path, text: &str, error: &toml::de::Error) -> anyhow::Error {
    let message = error.message().trim_end().replace('\n', "; ");
    let Some(span) = error.span() else {
        return anyhow!("{}: {message}", path.display());
    };
    let line_no = text[..span.start].matches('\n').count() + 1;
    let key = key_at(text, span.start);
    match key {
        Some(key) => anyhow!("{}, line {line_no}: `{key}`: {message}", path.display()),
        None => anyhow!("{}, line {line_no}: {message}", path.display()),
    }
}

/// The dotted key (`section.field`) of the line holding byte `offset` of `text`, if that line is
/// `field = ...` or a `[section]` header.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return Some(line.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    }
    let field = line.split('=').next()?.trim();
    if field.is_empty() || field.starts_with('#') {
        return None;
    }
    Some(match section {
        Some(section) => format!("{section}.{field}"),
        None => field.to_string(),
    })
}

/// Sets what `KESSAI_<SECTION>_<FIELD>` variables give (looked up with `env`) over `config`;
/// returns the names of the variables used. A value of the wrong kind is an error naming the
/// variable and the key.
pub fn apply_env(
    config: &mut NodeConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let keep = config.allow_missing_sign_state;
    let mut table = toml::Table::try_from(ConfigFile::from(&*config)).context("config to TOML")?;
    let mut used = Vec::new();
    let sections: Vec<(String, toml::Table)> = table
        .iter()
        .filter_map(|(name, value)| value.as_table().map(|t| (name.clone(), t.clone())))
        .collect();
    for (section, fields) in sections {
        for (field, current) in fields {
            let var = format!("KESSAI_{section}_{field}").to_uppercase();
            let Some(raw) = env(&var) else { continue };
            let key = format!("{section}.{field}");
            let value =
                env_value(&raw, &current).map_err(|e| anyhow!("{var}={raw:?}: `{key}` {e}"))?;
            table[&section][&field] = value;
            // Converted one at a time, so that an error names this variable.
            let file: ConfigFile = table.clone().try_into().map_err(|e: toml::de::Error| {
                anyhow!("{var}={raw:?}: `{key}`: {}", e.message().trim_end())
            })?;
            NodeConfig::from(file).check().map_err(|e| anyhow!("{var}={raw:?}: {e}"))?;
            used.push(var);
        }
    }
    let file: ConfigFile = table.try_into().context("config from TOML")?;
    *config = NodeConfig::from(file);
    config.allow_missing_sign_state = keep;
    Ok(used)
}

/// The TOML value of an environment variable, of the kind of the field's `current` value.
fn env_value(raw: &str, current: &toml::Value) -> std::result::Result<toml::Value, String> {
    Ok(match current {
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim().parse().map_err(|_| "must be a whole number".to_string())?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
            "true" => true,
            "false" => false,
            _ => return Err("must be true or false".into()),
        }),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(toml::Value::from)
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}

/// Where a loaded config came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// `config.toml`.
    Toml(PathBuf),
    /// An old home's `config.json` (no `config.toml` beside it).
    LegacyJson(PathBuf),
}

/// A config read from a home, with where it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The settings, environment overrides applied.
    pub config: NodeConfig,
    /// The file they were read from.
    pub source: ConfigSource,
    /// The `KESSAI_…` variables that overrode the file.
    pub env_overrides: Vec<String>,
}

impl Loaded {
    /// What to tell the operator once about the file (an old `config.json`), if anything.
    pub fn notice(&self, home: &Home) -> Option<String> {
        match &self.source {
            ConfigSource::LegacyJson(path) => Some(format!(
                "read {}: this home has no config.toml; `kessai config migrate --home {}` converts it (a commented config.toml with every setting)",
                path.display(),
                home.root().display()
            )),
            ConfigSource::Toml(_) => None,
        }
    }
}

/// Reads the home's config: `config.toml`, or an old home's `config.json`, then the environment.
pub fn load(home: &Home) -> Result<Loaded> {
    load_with_env(home, |name| std::env::var(name).ok())
}

/// [`load`] with the environment looked up by `env`.
pub fn load_with_env(home: &Home, env: impl Fn(&str) -> Option<String>) -> Result<Loaded> {
    let toml_path = home.config_path();
    let json_path = home.legacy_config_path();
    let (mut config, source) = if toml_path.exists() {
        let text = std::fs::read_to_string(&toml_path)
            .with_context(|| format!("cannot read {}", toml_path.display()))?;
        (parse(&text, &toml_path)?, ConfigSource::Toml(toml_path))
    } else if json_path.exists() {
        (read_legacy_json(&json_path)?, ConfigSource::LegacyJson(json_path))
    } else {
        bail!("{} has no config.toml; run `kessai init` first", home.root().display());
    };
    let env_overrides = apply_env(&mut config, env)?;
    Ok(Loaded { config, source, env_overrides })
}

/// Writes `config.toml` (commented), replacing what was there.
pub fn save(home: &Home, config: &NodeConfig) -> Result<()> {
    write_atomically(&home.config_path(), &render(config))
}

/// Writes `text` to `path` through `PATH.tmp` and a rename, so that a reader polling for the file
/// (scripts, tests, an operator's tooling) sees it whole or not at all.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `config.json` as written before `config.toml` existed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyConfig {
    rpc_addr: SocketAddr,
    #[serde(default = "legacy_p2p_addr")]
    p2p_addr: String,
    #[serde(default)]
    bootnodes: Vec<String>,
    #[serde(default)]
    metrics_addr: Option<SocketAddr>,
    #[serde(default = "legacy_validator")]
    validator: bool,
    #[serde(default)]
    pruning: PruningConfig,
}

fn legacy_p2p_addr() -> String {
    NodeConfig::default().p2p_addr
}

fn legacy_validator() -> bool {
    true
}

fn read_legacy_json(path: &Path) -> Result<NodeConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let old: LegacyConfig = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid node config", path.display()))?;
    let config = NodeConfig {
        rpc_addr: old.rpc_addr,
        p2p_addr: old.p2p_addr,
        bootnodes: old.bootnodes,
        metrics_addr: old.metrics_addr,
        validator: old.validator,
        pruning: old.pruning,
        ..NodeConfig::default()
    };
    config.check().map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(config)
}

/// `kessai config migrate`: writes `config.toml` from an old home's `config.json` (its settings,
/// every other one at its default) and renames `config.json` to `config.json.migrated`. Returns
/// the new file's path. Refuses a home that has a `config.toml` already or no `config.json`.
pub fn migrate(home: &Home) -> Result<PathBuf> {
    let toml_path = home.config_path();
    let json_path = home.legacy_config_path();
    if toml_path.exists() {
        bail!("{} exists already; nothing to migrate", toml_path.display());
    }
    if !json_path.exists() {
        bail!("{} has no config.json to migrate", home.root().display());
    }
    let config = read_legacy_json(&json_path)?;
    write_atomically(&toml_path, &render(&config))?;
    let done = json_path.with_extension("json.migrated");
    std::fs::rename(&json_path, &done).with_context(|| {
        format!("wrote {} but cannot rename {}", toml_path.display(), json_path.display())
    })?;
    Ok(toml_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    /// A config with every field away from its default.
    fn unusual() -> NodeConfig {
        NodeConfig {
            rpc_addr: "0.0.0.0:18545".parse().unwrap(),
            p2p_addr: "/ip4/10.0.0.1/tcp/26600".into(),
            bootnodes: vec![
                "/dns4/b.example/tcp/26600/p2p/12D3KooWHdiAxVd8uMQR1hGWXccidmfCwLqcMpGwR6QcTP6QRMuD"
                    .into(),
                "/ip4/10.0.0.3/tcp/26600".into(),
            ],
            metrics_addr: Some("127.0.0.1:26602".parse().unwrap()),
            validator: false,
            pruning: PruningConfig {
                state_keep_recent: 100,
                blocks_keep_recent: 1000,
                compaction_interval_secs: 60,
            },
            rpc_limits: RpcLimits {
                max_connections: 10,
                max_connections_per_ip: 2,
                header_timeout_ms: 1_500,
                body_timeout_ms: 2_500,
                max_request_body_bytes: 1 << 20,
                max_response_body_bytes: 1 << 21,
                max_batch_calls: 7,
                max_submit_txs: 9,
                ws_idle_timeout_ms: 11_000,
            },
            mempool: MempoolLimits {
                max_txs: 50,
                max_bytes: 4096,
                max_per_account: 5,
                max_age: Duration::from_secs(30),
            },
            store_sync: false,
            store_cache_bytes: 1 << 24,
            store_tree_cache_levels: 3,
            log: LogConfig { filter: "debug,libp2p=warn".into(), format: LogFormat::Json },
            state_sync: StateSyncConfig {
                enabled: false,
                trust_height: 5,
                trust_hash: "ab\"c".into(),
            },
            allow_missing_sign_state: false,
            double_sign_check_height: 12,
            remote_signer: Some("unix:///run/kessai/signer.sock".into()),
        }
    }

    fn path() -> PathBuf {
        PathBuf::from("/srv/kessai/config.toml")
    }

    #[test]
    fn the_written_file_parses_back_to_the_same_config() {
        for config in [NodeConfig::default(), unusual()] {
            let text = render(&config);
            assert_eq!(parse(&text, &path()).unwrap(), config, "{text}");
        }
    }

    #[test]
    fn every_key_of_the_written_file_has_a_comment_with_its_default() {
        let text = render(&unusual());
        let lines: Vec<&str> = text.lines().collect();
        let mut keys = 0;
        for (i, line) in lines.iter().enumerate() {
            if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
                continue;
            }
            keys += 1;
            assert!(lines[i - 1].starts_with('#'), "no comment above {line:?}");
            let comment: Vec<&str> =
                lines[..i].iter().rev().take_while(|l| l.starts_with('#')).copied().collect();
            assert!(comment.iter().any(|l| l.contains("Default:")), "no default for {line:?}");
        }
        // Every field of every section is written.
        let table: toml::Table = toml::from_str(&text).unwrap();
        let written: usize = table.values().map(|s| s.as_table().unwrap().len()).sum();
        assert_eq!(keys, written);
        let all = toml::Table::try_from(defaults()).unwrap();
        assert_eq!(written, all.values().map(|s| s.as_table().unwrap().len()).sum::<usize>());
    }

    #[test]
    fn tree_cache_levels_are_the_stores_depth_plus_one_and_zero_is_none() {
        let levels = |n| NodeConfig { store_tree_cache_levels: n, ..NodeConfig::default() };
        assert_eq!(levels(0).store_config().tree_cache_depth, None);
        assert_eq!(levels(1).store_config().tree_cache_depth, Some(0));
        assert_eq!(NodeConfig::default().store_config().tree_cache_depth, Some(4));
        assert_eq!(
            NodeConfig::default().store_config().tree_cache_depth,
            StoreConfig::default().tree_cache_depth
        );
    }

    #[test]
    fn keys_left_out_take_their_defaults() {
        assert_eq!(parse("", &path()).unwrap(), NodeConfig::default());
        let config = parse("[mempool]\nmax_txs = 12\n", &path()).unwrap();
        assert_eq!(config.mempool.max_txs, 12);
        assert_eq!(config.mempool.max_bytes, MempoolLimits::default().max_bytes);
        assert_eq!(config.rpc_addr, NodeConfig::default().rpc_addr);
    }

    #[test]
    fn an_unknown_key_is_one_error_naming_it_and_the_file() {
        let text = "[rpc]\naddress = \"127.0.0.1:1\"\nmax_conections = 5\n";
        let error = parse(text, &path()).unwrap_err().to_string();
        assert!(error.contains("/srv/kessai/config.toml, line 3"), "{error}");
        assert!(error.contains("`rpc.max_conections`"), "{error}");
        assert!(error.contains("unknown field"), "{error}");
        assert!(!error.contains('\n'), "{error}");

        let error = parse("[rcp]\naddress = 1\n", &path()).unwrap_err().to_string();
        assert!(error.contains("`rcp`") && error.contains("unknown field"), "{error}");
    }

    #[test]
    fn a_bad_value_is_one_error_naming_the_key_and_the_file() {
        for (text, key) in [
            ("[mempool]\nmax_txs = \"lots\"\n", "`mempool.max_txs`"),
            ("[mempool]\nmax_txs = -1\n", "`mempool.max_txs`"),
            ("[rpc]\naddress = \"localhost\"\n", "`rpc.address`"),
            ("[log]\nformat = \"xml\"\n", "`log.format`"),
            ("[consensus]\nvalidator = \"yes\"\n", "`consensus.validator`"),
        ] {
            let error = parse(text, &path()).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
            assert!(error.contains("/srv/kessai/config.toml, line 2"), "{text}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        for (text, key) in [
            ("[mempool]\nmax_txs = 0\n", "`mempool.max_txs` must be at least 1"),
            ("[rpc]\nmax_submit_txs = 0\n", "`rpc.max_submit_txs` must be at least 1"),
            ("[store]\ntree_cache_levels = 7\n", "`store.tree_cache_levels` must be at most 6"),
            ("[p2p]\nlisten_address = \"127.0.0.1:5\"\n", "`p2p.listen_address`"),
            ("[state_sync]\nenabled = true\n", "`state_sync.trust_height`"),
            (
                "[state_sync]\nenabled = true\ntrust_height = 3\ntrust_hash = \"ab\"\n",
                "`state_sync.trust_hash`",
            ),
            ("[store]\nstate_keep_recent = 1\n", "pruning"),
        ] {
            let error = parse(text, &path()).unwrap_err().to_string();
            assert!(error.contains(key) && error.contains("config.toml"), "{text}: {error}");
        }
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut config = parse("[rpc]\naddress = \"127.0.0.1:1\"\n", &path()).unwrap();
        let used = apply_env(
            &mut config,
            env_of(&[
                ("KESSAI_RPC_ADDRESS", "127.0.0.1:9999"),
                ("KESSAI_RPC_MAX_CONNECTIONS", "33"),
                ("KESSAI_MEMPOOL_MAX_TXS", "77"),
                ("KESSAI_CONSENSUS_VALIDATOR", "false"),
                ("KESSAI_P2P_BOOTNODES", "/ip4/10.0.0.1/tcp/1, /ip4/10.0.0.2/tcp/2"),
                ("KESSAI_METRICS_ENABLED", "true"),
                ("KESSAI_LOG_FORMAT", "json"),
                ("KESSAI_STORE_SYNC", "false"),
                ("KESSAI_RPC", "http://not-a-setting"),
            ]),
        )
        .unwrap();
        assert_eq!(config.rpc_addr, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(config.rpc_limits.max_connections, 33);
        assert_eq!(config.mempool.max_txs, 77);
        assert!(!config.validator);
        assert_eq!(config.bootnodes, vec!["/ip4/10.0.0.1/tcp/1", "/ip4/10.0.0.2/tcp/2"]);
        assert_eq!(config.metrics_addr, Some(DEFAULT_METRICS_ADDR));
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(!config.store_sync);
        assert_eq!(used.len(), 8);

        let mut untouched = unusual();
        assert!(apply_env(&mut untouched, no_env).unwrap().is_empty());
        assert_eq!(untouched, unusual());
    }

    #[test]
    fn a_bad_environment_value_is_one_error_naming_the_variable_and_the_key() {
        for (var, raw, key) in [
            ("KESSAI_MEMPOOL_MAX_TXS", "lots", "`mempool.max_txs`"),
            ("KESSAI_MEMPOOL_MAX_TXS", "0", "`mempool.max_txs`"),
            ("KESSAI_RPC_ADDRESS", "nowhere", "`rpc.address`"),
            ("KESSAI_CONSENSUS_VALIDATOR", "yes", "`consensus.validator`"),
            ("KESSAI_RPC_MAX_CONNECTIONS", "-3", "`rpc.max_connections`"),
        ] {
            let mut config = NodeConfig::default();
            let error = apply_env(&mut config, env_of(&[(var, raw)])).unwrap_err().to_string();
            assert!(error.contains(var) && error.contains(key), "{var}={raw}: {error}");
            assert_eq!(config, NodeConfig::default(), "nothing changed");
        }
    }

    #[test]
    fn an_old_config_json_is_read_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        assert!(load_with_env(&home, no_env).unwrap_err().to_string().contains("kessai init"));
        let json = r#"{"rpc_addr":"127.0.0.1:26601","p2p_addr":"/ip4/127.0.0.1/tcp/26600",
            "bootnodes":["/ip4/127.0.0.1/tcp/26610"],"metrics_addr":"127.0.0.1:26602",
            "validator":false,"pruning":{"state_keep_recent":10}}"#;
        std::fs::write(home.legacy_config_path(), json).unwrap();

        let loaded = load_with_env(&home, no_env).unwrap();
        assert_eq!(loaded.source, ConfigSource::LegacyJson(home.legacy_config_path()));
        assert!(loaded.notice(&home).unwrap().contains("kessai config migrate --home"));
        let old = loaded.config;
        assert_eq!(old.rpc_addr, "127.0.0.1:26601".parse().unwrap());
        assert_eq!(old.bootnodes, vec!["/ip4/127.0.0.1/tcp/26610"]);
        assert_eq!(old.metrics_addr, Some("127.0.0.1:26602".parse().unwrap()));
        assert!(!old.validator);
        assert_eq!(old.pruning.state_keep_recent, 10);
        // The environment applies to an old home too.
        let env = env_of(&[("KESSAI_RPC_ADDRESS", "127.0.0.1:7")]);
        assert_eq!(load_with_env(&home, env).unwrap().config.rpc_addr.port(), 7);

        assert_eq!(migrate(&home).unwrap(), home.config_path());
        assert!(!home.legacy_config_path().exists());
        assert!(dir.path().join("config.json.migrated").exists());
        let loaded = load_with_env(&home, no_env).unwrap();
        assert_eq!(loaded.source, ConfigSource::Toml(home.config_path()));
        assert!(loaded.notice(&home).is_none());
        assert_eq!(loaded.config, old);
        assert!(migrate(&home).unwrap_err().to_string().contains("nothing to migrate"));
    }

    #[test]
    fn a_bad_old_config_json_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        std::fs::write(home.legacy_config_path(), r#"{"rpc_addr":"127.0.0.1:1","colour":"red"}"#)
            .unwrap();
        let error = format!("{:#}", migrate(&home).unwrap_err());
        assert!(error.contains("config.json") && error.contains("colour"), "{error}");
        assert!(!home.config_path().exists());
        assert!(home.legacy_config_path().exists());
    }
}
