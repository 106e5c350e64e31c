//! The node's home directory: what lives where.
//!
//! ```text
//! HOME/
//!   config.json      node settings (addresses, peers): NodeConfig
//!   chainspec.json   the chain spec this node was initialised with
//!   node_key.json    the node's ed25519 key: consensus key of a validator, and libp2p identity
//!   sign_state.json  the last (height, round, step) the key signed: beside the key, never in
//!                    data/, so that no wipe or restore of data/ lets it sign twice (SignGuard)
//!   data/            RocksDB (blocks, state) and consensus.wal
//!   keys/            member keys written by `kessai dev` (never used by the node itself)
//! ```

use crate::rpc::limits::RpcLimits;
use anyhow::{bail, Context, Result};
use kessai_chainspec::ChainSpec;
use kessai_client::keyfile::KeyFile;
use kessai_store::PruningConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Settings that differ from node to node of one chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// JSON-RPC listen address. Loopback by default: RPC is for the operator and local tools.
    pub rpc_addr: SocketAddr,
    /// libp2p listen address (multiaddr).
    #[serde(default = "default_p2p_addr")]
    pub p2p_addr: String,
    /// Peers to dial at start (multiaddrs with /p2p/ peer ids).
    #[serde(default)]
    pub bootnodes: Vec<String>,
    /// Prometheus metrics listen address; none disables the endpoint.
    #[serde(default)]
    pub metrics_addr: Option<SocketAddr>,
    /// Whether this node signs (it must be in the validator set too).
    #[serde(default = "default_true")]
    pub validator: bool,
    /// How many recent heights of state and of blocks the node keeps (absent: all, archive).
    /// `kessai node run --state-keep-recent N --blocks-keep-recent N` override it.
    #[serde(default, skip_serializing_if = "PruningConfig::is_archive")]
    pub pruning: PruningConfig,
    /// What one RPC client may cost the node. Set by command-line flags (`--rpc-…`), not stored
    /// in config.json, so that a home keeps the defaults of the binary that runs it.
    #[serde(skip)]
    pub rpc_limits: RpcLimits,
    /// Start a validator whose signing state is missing as a key that has never signed
    /// (`--allow-missing-sign-state`; see [`crate::sign_state`]). Never stored.
    #[serde(skip)]
    pub allow_missing_sign_state: bool,
}

fn default_p2p_addr() -> String {
    "/ip4/127.0.0.1/tcp/0".into()
}

fn default_true() -> bool {
    true
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            rpc_addr: "127.0.0.1:8545".parse().expect("valid"),
            p2p_addr: default_p2p_addr(),
            bootnodes: vec![],
            metrics_addr: None,
            validator: true,
            pruning: PruningConfig::default(),
            rpc_limits: RpcLimits::default(),
            allow_missing_sign_state: false,
        }
    }
}

#[derive(Clone, Debug)]
/// A node's home directory (the layout above); only paths until a method reads or writes.
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home at `root`; nothing is read or created yet.
    pub fn new(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.json`: the [`NodeConfig`].
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `chainspec.json`: the chain spec the node was initialised with.
    pub fn chainspec_path(&self) -> PathBuf {
        self.root.join("chainspec.json")
    }
    /// `node_key.json`: the node's ed25519 key file.
    pub fn node_key_path(&self) -> PathBuf {
        self.root.join("node_key.json")
    }
    /// `sign_state.json`: the validator key's signing state ([`crate::sign_state`]).
    pub fn sign_state_path(&self) -> PathBuf {
        self.root.join("sign_state.json")
    }
    /// `data/`: the RocksDB store and the consensus WAL.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `data/consensus.wal`: the consensus write-ahead log (its block journal is the sibling
    /// directory `consensus.blocks`).
    pub fn wal_path(&self) -> PathBuf {
        self.data_dir().join("consensus.wal")
    }
    /// `keys/`: member key files written by `kessai dev`; the node never reads them.
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// Whether the home has a chain spec and a node key, i.e. `kessai init` ran.
    pub fn is_initialised(&self) -> bool {
        self.chainspec_path().exists() && self.node_key_path().exists()
    }

    /// Writes a fresh home. Refuses to overwrite an initialised one: its keys and data are precious.
    pub fn initialise(
        &self,
        spec: &ChainSpec,
        node_key: &KeyFile,
        config: &NodeConfig,
    ) -> Result<()> {
        if self.is_initialised() {
            bail!(
                "{} is already initialised; use another --home or remove it first",
                self.root.display()
            );
        }
        std::fs::create_dir_all(self.data_dir())
            .with_context(|| format!("cannot create {}", self.data_dir().display()))?;
        std::fs::write(self.chainspec_path(), spec.to_json())?;
        std::fs::write(self.config_path(), serde_json::to_string_pretty(config)?)?;
        node_key.write(&self.node_key_path())?;
        // A new key has never signed; an existing state (the key reused) is kept.
        if !self.sign_state_path().exists() {
            crate::sign_state::SignGuard::create_fresh(&self.sign_state_path())?;
        }
        Ok(())
    }

    /// Reads `config.json`.
    pub fn load_config(&self) -> Result<NodeConfig> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}; run `kessai init` first", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid node config", path.display()))
    }

    /// Writes `config.json` (pretty JSON), replacing what was there.
    pub fn save_config(&self, config: &NodeConfig) -> Result<()> {
        std::fs::write(self.config_path(), serde_json::to_string_pretty(config)?)?;
        Ok(())
    }

    /// Reads and validates `chainspec.json`.
    pub fn load_chainspec(&self) -> Result<ChainSpec> {
        if !self.chainspec_path().exists() {
            bail!("{} has no chainspec.json; run `kessai init` first", self.root.display());
        }
        Ok(ChainSpec::from_file(&self.chainspec_path())?)
    }

    /// Reads `node_key.json`.
    pub fn load_node_key(&self) -> Result<KeyFile> {
        KeyFile::read(&self.node_key_path())
    }
}
