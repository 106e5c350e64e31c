//! The node's home directory: what lives where.
//!
//! ```text
//! HOME/
//!   config.toml      node settings, commented (RPC, p2p, metrics, mempool, store, log):
//!                    NodeConfig, read by crate::config (old homes: config.json, until
//!                    `kessai config migrate` turns it into config.toml)
//!   chainspec.json   the chain spec this node was initialised with
//!   genesis/         the .wasm files of its genesis contracts (those not `builtin:`), copied by
//!                    `kessai init`, so that the home does not depend on where the spec was read
//!   node_key.json    the node's ed25519 libp2p identity (its peer id: `kessai node id`)
//!   consensus_key.json  the validator's consensus key (absent in homes from before the keys were
//!                    split: node_key.json is both; absent too where a remote signer holds it)
//!   sign_state.json  the last (height, round, step) the consensus key signed: beside the key,
//!                    never in data/, so that no wipe or restore of data/ lets it sign twice
//!   data/            RocksDB (blocks, state) and consensus.wal
//!   keys/            member keys written by `kessai dev` (never used by the node itself)
//! ```

pub use crate::config::NodeConfig;
use anyhow::{bail, Context, Result};
use kessai_chainspec::ChainSpec;
use kessai_client::keyfile::KeyFile;
use std::path::{Path, PathBuf};

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
    /// `config.toml`: the [`NodeConfig`] ([`crate::config`]).
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// `config.json`: an old home's settings, read when there is no `config.toml`.
    pub fn legacy_config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `chainspec.json`: the chain spec the node was initialised with.
    pub fn chainspec_path(&self) -> PathBuf {
        self.root.join("chainspec.json")
    }
    /// `node_key.json`: the node's ed25519 key file, its libp2p identity.
    pub fn node_key_path(&self) -> PathBuf {
        self.root.join("node_key.json")
    }
    /// `consensus_key.json`: the validator's consensus key file.
    pub fn consensus_key_path(&self) -> PathBuf {
        self.root.join("consensus_key.json")
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
    /// `consensus_key` `None` leaves one key for both (`kessai dev`).
    pub fn initialise(
        &self,
        spec: &ChainSpec,
        node_key: &KeyFile,
        consensus_key: Option<&KeyFile>,
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
        // The genesis code comes along: the home must not depend on where the spec was read.
        let spec = spec.with_code_files_in(&self.genesis_code_dir(), &self.root)?;
        std::fs::write(self.chainspec_path(), spec.to_json())?;
        crate::config::save(self, config)?;
        node_key.write(&self.node_key_path())?;
        if let Some(consensus_key) = consensus_key {
            consensus_key.write(&self.consensus_key_path())?;
        }
        // A new key has never signed; an existing state (the key reused) is kept.
        if !self.sign_state_path().exists() {
            crate::sign_state::SignGuard::create_fresh(&self.sign_state_path())?;
        }
        Ok(())
    }

    /// Reads the config ([`crate::config::load`]: `config.toml` or an old `config.json`, then
    /// the `KESSAI_<SECTION>_<FIELD>` environment).
    pub fn load_config(&self) -> Result<NodeConfig> {
        Ok(crate::config::load(self)?.config)
    }

    /// Writes `config.toml` (commented), replacing what was there.
    pub fn save_config(&self, config: &NodeConfig) -> Result<()> {
        crate::config::save(self, config)
    }

    /// `genesis/`: the `.wasm` files of the genesis contracts `chainspec.json` names by path,
    /// copied there by [`Home::initialise`].
    pub fn genesis_code_dir(&self) -> PathBuf {
        self.root.join("genesis")
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

    /// Reads `consensus_key.json`, or `node_key.json` in a home from before the keys were split
    /// (one key for both).
    pub fn load_consensus_key(&self) -> Result<KeyFile> {
        match self.consensus_key_path().exists() {
            true => KeyFile::read(&self.consensus_key_path()),
            false => self.load_node_key(),
        }
    }
}
