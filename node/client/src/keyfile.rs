//! Key files: one ed25519 key as JSON, readable only by its owner.

use anyhow::{bail, Context, Result};
use kessai_primitives::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A key file's contents: the key's name, its public key and its secret seed. Written with mode
/// 0600 on Unix; [`KeyFile::read`] refuses a file whose public key does not match its seed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The key's name (a member name such as `alice`), for people; not checked against anything.
    pub name: String,
    /// The ed25519 public key derived from `secret_key`, kept to catch a file edited by hand.
    pub public_key: PublicKey,
    /// The 32-byte ed25519 seed, hex.
    pub secret_key: String,
}

impl KeyFile {
    /// The key file of `key`, named `name`.
    pub fn new(name: &str, key: &Keypair) -> KeyFile {
        KeyFile {
            name: name.to_string(),
            public_key: key.public(),
            secret_key: hex::encode(key.seed()),
        }
    }

    /// The keypair from the seed; fails when the seed is not 64 hex characters or does not give
    /// `public_key`.
    pub fn keypair(&self) -> Result<Keypair> {
        let seed: [u8; 32] = hex::decode(&self.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("secret_key must be 64 hex characters")?;
        let key = Keypair::from_seed(seed);
        if key.public() != self.public_key {
            bail!("key file is inconsistent: public_key does not match secret_key");
        }
        Ok(key)
    }

    /// Reads and parses the key file at `path` and checks that its seed gives its public key.
    pub fn read(path: &Path) -> Result<KeyFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        let file: KeyFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a key file", path.display()))?;
        file.keypair().with_context(|| format!("key file {}", path.display()))?;
        Ok(file)
    }

    /// Writes the file as pretty JSON, creating its directory, then makes it readable by its owner
    /// only (0600 on Unix).
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        restrict_permissions(path)
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> Result<()> {
    Ok(())
}
