//! Key files: one ed25519 key as JSON, readable only by its owner.

use anyhow::{bail, Context, Result};
use kessai_primitives::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub name: String,
    pub public_key: PublicKey,
    /// The 32-byte ed25519 seed, hex.
    pub secret_key: String,
}

impl KeyFile {
    pub fn new(name: &str, key: &Keypair) -> KeyFile {
        KeyFile {
            name: name.to_string(),
            public_key: key.public(),
            secret_key: hex::encode(key.seed()),
        }
    }

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

    pub fn read(path: &Path) -> Result<KeyFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        let file: KeyFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a key file", path.display()))?;
        file.keypair().with_context(|| format!("key file {}", path.display()))?;
        Ok(file)
    }

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
