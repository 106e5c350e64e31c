//! `kessai signer`: the remote signer. A separate process that holds a validator's consensus key
//! and its signing state, and signs the node's proposals and votes over a Unix socket, refusing
//! anything that conflicts with what the key already signed (`kessai_node::signer`). The node uses
//! it with `[signer] remote = "unix:///path"` in its config.toml.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use kessai_client::keyfile::KeyFile;
use kessai_node::home::Home;
use kessai_node::sign_state::SignGuard;
use kessai_node::signer::{LocalSigner, Signer, SignerAddress};
use kessai_primitives::Keypair;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum SignerCommand {
    /// Write a signer home: the consensus key (fresh, --key-file or --dev-key) as
    /// consensus_key.json and a signing state that has never signed (sign_state.json). To move a
    /// validator's key instead, copy its consensus_key.json and sign_state.json together.
    Init(SignerInitArgs),
    /// Hold the consensus key and its signing state of HOME (consensus_key.json, sign_state.json)
    /// and sign for the node that connects to the Unix socket --listen (created with mode 0600).
    Run(SignerRunArgs),
}

#[derive(Args, Debug)]
pub struct SignerInitArgs {
    /// The signer's directory.
    #[arg(long)]
    pub home: PathBuf,
    /// Use this key file as the consensus key.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Use the dev key of this name (local test chains only).
    #[arg(long, conflicts_with = "key_file")]
    pub dev_key: Option<String>,
}

#[derive(Args, Debug)]
pub struct SignerRunArgs {
    /// The signer's directory (or a node home): consensus_key.json and sign_state.json.
    #[arg(long)]
    pub home: PathBuf,
    /// Where to listen: unix:///absolute/path/signer.sock.
    #[arg(long)]
    pub listen: String,
    /// Start with a missing sign_state.json as a key that has NEVER signed. Wrong for a key that
    /// signed before: copy its state with it instead.
    #[arg(long)]
    pub allow_missing_sign_state: bool,
}

pub async fn run(command: SignerCommand) -> Result<()> {
    match command {
        SignerCommand::Init(args) => init(args),
        SignerCommand::Run(args) => tokio::task::spawn_blocking(move || serve(args)).await?,
    }
}

fn init(args: SignerInitArgs) -> Result<()> {
    let home = Home::new(&args.home);
    if home.consensus_key_path().exists() {
        bail!("{} holds a consensus key already", home.consensus_key_path().display());
    }
    let key = match (&args.dev_key, &args.key_file) {
        (Some(name), _) => KeyFile::new(name, &Keypair::dev(name)),
        (None, Some(path)) => KeyFile::read(path)?,
        (None, None) => KeyFile::new("consensus", &Keypair::generate()),
    };
    std::fs::create_dir_all(&args.home)
        .with_context(|| format!("cannot create {}", args.home.display()))?;
    SignGuard::create_fresh(&home.sign_state_path())?;
    key.write(&home.consensus_key_path())?;
    println!("signer home {}: consensus key {}", args.home.display(), key.public_key);
    Ok(())
}

fn serve(args: SignerRunArgs) -> Result<()> {
    let address =
        SignerAddress::parse(&args.listen).map_err(|e| anyhow::anyhow!("--listen: {e}"))?;
    let SignerAddress::Unix(path) = address;
    let home = Home::new(&args.home);
    if !home.consensus_key_path().exists() && !home.node_key_path().exists() {
        bail!("{} has no consensus_key.json", args.home.display());
    }
    let key = home.load_consensus_key()?.keypair()?;
    // A signer has no data/ to derive a missing state from.
    let guard =
        SignGuard::open(&home.sign_state_path(), args.allow_missing_sign_state, || Ok(None))?;
    let signer = LocalSigner::new(key, guard);
    tracing::info!(key = %signer.public_key(), home = %args.home.display(), "starting the signer");
    kessai_node::signer::serve(&path, signer)
}
