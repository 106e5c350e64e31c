//! `kessai keys`: create and show key files.

use super::output;
use anyhow::{bail, Result};
use kessai_client::keyfile::KeyFile;
use kessai_client::load_signer;
use kessai_primitives::Keypair;
use serde_json::json;

use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a new key file.
    New {
        /// A name for the key (also the file name under --dir).
        name: String,
        /// Directory to write NAME.json into.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show the public key of a key file (path or NAME under --dir).
    Show {
        key: String,
        #[arg(long, env = "KESSAI_KEYS")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

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
            let dir = dir.unwrap_or_else(|| kessai_client::default_dev_home().join("keys"));
            let keypair = load_signer(&key, Some(&dir))?;
            let value = json!({"name": key, "public_key": keypair.public()});
            output::print(json, &value, |_| keypair.public().to_string());
        }
    }
    Ok(())
}
