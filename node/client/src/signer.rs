//! A member's signing key, loaded from a key file, with how its transactions are sent.

use crate::keyfile::KeyFile;
use anyhow::{bail, Result};
use kessai_primitives::Keypair;
use std::path::{Path, PathBuf};

/// Gas limit of a transaction when the caller names none.
pub const DEFAULT_GAS: u64 = 50_000_000;

/// A loaded member key and how to send its transactions.
#[derive(Clone)]
pub struct Signer {
    /// How the user named the key (file path or name), for messages.
    pub name: String,
    /// The ed25519 key that signs the transactions.
    pub key: Keypair,
    /// Gas limit of each transaction.
    pub gas: u64,
    /// Wait for the block holding each transaction (otherwise return once it is admitted).
    pub wait: bool,
}

impl Signer {
    /// The key `spec` (a key file path, or a NAME in `keys_dir`, by default the dev chain's keys),
    /// waiting for blocks, with the default gas limit.
    pub fn load(spec: &str, keys_dir: Option<&Path>) -> Result<Signer> {
        let keys_dir = keys_dir.map_or_else(|| default_dev_home().join("keys"), Path::to_path_buf);
        Ok(Signer {
            name: spec.to_string(),
            key: load_signer(spec, Some(&keys_dir))?,
            gas: DEFAULT_GAS,
            wait: true,
        })
    }

    /// A signer for a key already in memory.
    pub fn from_key(name: &str, key: Keypair) -> Signer {
        Signer { name: name.to_string(), key, gas: DEFAULT_GAS, wait: true }
    }

    /// The same key, waiting for the block (whatever the user asked for the last transaction).
    pub fn waiting(&self) -> Signer {
        Signer { wait: true, ..self.clone() }
    }
}

/// `$HOME/.kessai/dev`, or `.kessai-dev` when there is no home directory: where `kessai dev` keeps
/// its chain and its member keys (`keys/`).
pub fn default_dev_home() -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from(".kessai-dev"), |h| PathBuf::from(h).join(".kessai/dev"))
}

/// Loads a signing key given as a path to a key file, or as a name looked up in `keys_dir`.
pub fn load_signer(spec: &str, keys_dir: Option<&Path>) -> Result<Keypair> {
    let direct = Path::new(spec);
    if direct.exists() {
        return KeyFile::read(direct)?.keypair();
    }
    if let Some(dir) = keys_dir {
        let named = dir.join(format!("{spec}.json"));
        if named.exists() {
            return KeyFile::read(&named)?.keypair();
        }
    }
    bail!(
        "no key file {spec:?}{}",
        keys_dir.map(|d| format!(" (nor {}/{spec}.json)", d.display())).unwrap_or_default()
    )
}
