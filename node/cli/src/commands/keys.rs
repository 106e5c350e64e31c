//! `kessai keys`: create and show key files.

use super::output;
use crate::cli::KeysCommand;
use crate::keyfile::{load_signer, KeyFile};
use anyhow::{bail, Result};
use kessai_primitives::Keypair;
use serde_json::json;

pub fn run(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::New { name, dir, json } => {
            let path = dir.join(format!("{name}.json"));
            if path.exists() {
                bail!("{} exists; refusing to overwrite a key", path.display());
            }
            let key = Keypair::generate();
            KeyFile::new(&name, &key).write(&path)?;
            let value = json!({"name": name, "public_key": key.public(), "file": path});
            output::print(json, &value, |_| {
                format!("{} {}\nwritten to {}", name, key.public(), path.display())
            });
        }
        KeysCommand::Show { key, dir, json } => {
            let dir = dir.unwrap_or_else(|| super::default_dev_home().join("keys"));
            let keypair = load_signer(&key, Some(&dir))?;
            let value = json!({"name": key, "public_key": keypair.public()});
            output::print(json, &value, |_| keypair.public().to_string());
        }
    }
    Ok(())
}
