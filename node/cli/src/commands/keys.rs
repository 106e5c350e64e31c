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
    /// Show the public key of a key file (path or NAME under --dir); with `--peer-id`, also the
    /// libp2p peer id of a node holding it (what other operators put in bootnodes).
    Show {
        /// A key file's path, or NAME for DIR/NAME.json.
        #[arg(required_unless_present = "key_file")]
        key: Option<String>,
        /// The key file (e.g. HOME/node_key.json), instead of KEY.
        #[arg(long, conflicts_with = "key")]
        key_file: Option<PathBuf>,
        #[arg(long, env = "KESSAI_KEYS")]
        dir: Option<PathBuf>,
        /// Also print the libp2p peer id of a node with this key.
        #[arg(long)]
        peer_id: bool,
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
        KeysCommand::Show { key, key_file, dir, peer_id, json } => {
            let (name, keypair) = match (key, key_file) {
                (_, Some(path)) => (path.display().to_string(), KeyFile::read(&path)?.keypair()?),
                (Some(key), None) => {
                    let dir = dir.unwrap_or_else(|| kessai_client::default_dev_home().join("keys"));
                    let keypair = load_signer(&key, Some(&dir))?;
                    (key, keypair)
                }
                (None, None) => bail!("give a key file: KEY or --key-file FILE"),
            };
            let public = keypair.public();
            if peer_id {
                print_node_identity(json, &name, &public);
            } else {
                let value = json!({"name": name, "public_key": public});
                output::print(json, &value, |_| public.to_string());
            }
        }
    }
    Ok(())
}

/// Prints what other operators need of a node with key `public`: its libp2p peer id (for their
/// bootnodes: `/ip4/IP/tcp/PORT/p2p/PEER_ID`) and its public key (for the chain spec's validators
/// or nodes, or `kessai tx gov admit-peer`). Shared with `kessai node id`.
pub fn print_node_identity(as_json: bool, name: &str, public: &kessai_primitives::PublicKey) {
    let peer_id = kessai_network::peer_id_of(public);
    let value = json!({"name": name, "peer_id": peer_id.to_string(), "public_key": public});
    output::print(as_json, &value, |_| format!("peer id     {peer_id}\npublic key  {public}"));
}
