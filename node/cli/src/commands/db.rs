//! `kessai db`: a node's database outside the node — backups of it, and files of exported blocks
//! (`kessai_node::backup`; `docs/decisions/0016-backup-and-block-export-formats.md`).

use super::output;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kessai_client::rpc_error;
use kessai_node::backup::{
    self, open_database, BlockFileHeader, BlockFileWriter, Database, DatabaseFormat,
    BLOCK_FILE_VERSION,
};
use kessai_node::chain::Chain;
use kessai_node::home::Home;
use kessai_node::service::events::SyncedBlock;
use kessai_primitives::Block;
use kessai_rpc_api::{self as rpc, KessaiApiClient};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Back up a node's database: a consistent copy (RocksDB checkpoint) and a manifest. A running
    /// node makes the copy itself (`kessai_admin_backup`, from this machine only); a stopped
    /// node's database is read directly. The signing state is never part of a backup.
    Backup(BackupArgs),
    /// Put a backup in place of a stopped node's data/ (moved aside, never deleted). The node then
    /// catches up by block sync; its signing state (beside the key) is not touched, so a
    /// validator signs nothing it signed before.
    Restore(RestoreArgs),
    /// Write blocks with their commits to a file, from a node's RPC or a stopped node's home.
    ExportBlocks(ExportArgs),
    /// Verify (commit against the validator set, re-execution) and commit the blocks of an
    /// exported file on a stopped node's home initialised with the same chain spec.
    ImportBlocks(ImportArgs),
    /// Move a stopped node's database to the format this build reads, or say why it cannot be:
    /// a node never converts a database on start (it refuses one of another format).
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Home of the stopped node.
    #[arg(long)]
    pub home: PathBuf,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Home of the node to back up.
    #[arg(long)]
    pub home: PathBuf,
    /// The backup directory to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// RPC URL of the running node (default: what the node wrote to HOME/rpc_url).
    #[arg(long)]
    pub rpc: Option<String>,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Home of the stopped node to restore.
    #[arg(long)]
    pub home: PathBuf,
    /// The backup directory (written by `kessai db backup`).
    #[arg(long)]
    pub from: PathBuf,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["rpc", "home"])))]
pub struct ExportArgs {
    /// RPC URL of the node to read blocks from.
    #[arg(long)]
    pub rpc: Option<String>,
    /// Home of a stopped node to read blocks from.
    #[arg(long)]
    pub home: Option<PathBuf>,
    /// First height to export.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Last height to export (default: the latest committed).
    #[arg(long)]
    pub to: Option<u64>,
    /// The file to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Home of the stopped node to import into (`kessai init` with the same chain spec).
    #[arg(long)]
    pub home: PathBuf,
    /// A file written by `kessai db export-blocks`.
    #[arg(long)]
    pub file: PathBuf,
}

pub async fn run(command: DbCommand) -> Result<()> {
    match command {
        DbCommand::Backup(args) => backup(args).await,
        DbCommand::Restore(args) => restore(args),
        DbCommand::ExportBlocks(args) => export(args).await,
        DbCommand::ImportBlocks(args) => import(args),
        DbCommand::Migrate(args) => migrate(args),
    }
}

/// What moves a database of format `found` to [`kessai_store::FORMAT_VERSION`]. No format change
/// so far is store-only: format 2 changed the block header (decision record 0020), which changes
/// every block hash and voids every commit, so nothing here may rewrite the blocks.
fn migrate(args: MigrateArgs) -> Result<()> {
    let home = Home::new(&args.home);
    let data = home.data_dir();
    let current = backup::STORE_FORMAT;
    let found = match backup::database_format(&home)? {
        DatabaseFormat::Current => {
            println!(
                "{} is in format {current}, the one this build reads: nothing to migrate",
                data.display()
            );
            return Ok(());
        }
        DatabaseFormat::Other(found) => found,
        DatabaseFormat::Running => return Err(running_refusal(&home, "migrating its database")),
    };
    match found {
        1 => bail!(
            "{} is in format 1, whose block headers have no protocol_version and no tx_count; \
             format {current} headers have both, so every block hash and every commit signature \
             of that chain would change: no tool can convert it. The chain must start again \
             from a new genesis (all validators together, a new chain spec; state that must \
             survive is carried into the new spec's genesis), with a build of format {current}; \
             blocks exported from the old chain (kessai db export-blocks, with the old build) \
             remain its record but cannot be imported into the new one",
            data.display()
        ),
        found if found > current => bail!(
            "{} is in format {found}, written by a newer build than this one (format {current}): \
             run that build",
            data.display()
        ),
        found => bail!(
            "{} is in format {found}, which no build converted from: start from a backup in \
             format {current} or from a new genesis",
            data.display()
        ),
    }
}

fn running_refusal(home: &Home, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the node of {} is running (its database is locked): stop it before {what}",
        home.root().display()
    )
}

async fn backup(args: BackupArgs) -> Result<()> {
    let home = Home::new(&args.home);
    let spec = home.load_chainspec()?;
    let out = std::path::absolute(&args.out)
        .with_context(|| format!("bad --out {}", args.out.display()))?;
    let manifest = match open_database(&home)? {
        Database::Stopped(store) => backup::create(&store, &spec, &out)?,
        Database::Running => {
            let url = match args.rpc {
                Some(url) => url,
                None => rpc_url_of(&home)?,
            };
            let client = rpc::client(&url)?;
            client
                .admin_backup(out.display().to_string())
                .await
                .map_err(rpc_error)
                .with_context(|| format!("the node at {url} could not back up"))?
        }
    };
    if manifest.chain_id != spec.chain_id || manifest.genesis_hash != spec.hash() {
        bail!(
            "the node answered with a backup of chain {} (genesis {}), not of {}'s chain {}",
            manifest.chain_id,
            manifest.genesis_hash,
            home.root().display(),
            spec.chain_id
        );
    }
    output::print(args.json, &manifest, |m| {
        format!(
            "backed up chain {} at height {} (block {}, state root {}) to {}",
            m.chain_id,
            m.height,
            m.block_hash,
            m.state_root,
            out.display()
        )
    });
    Ok(())
}

/// The RPC URL a running node wrote to its home.
fn rpc_url_of(home: &Home) -> Result<String> {
    let path = home.root().join("rpc_url");
    let url = std::fs::read_to_string(&path).with_context(|| {
        format!("the node is running but {} is unreadable; give --rpc", path.display())
    })?;
    Ok(url.trim().to_string())
}

fn restore(args: RestoreArgs) -> Result<()> {
    let home = Home::new(&args.home);
    let restored = backup::restore(&home, &args.from)?;
    let m = &restored.manifest;
    println!(
        "restored chain {} at height {} (state root {}) into {}",
        m.chain_id,
        m.height,
        m.state_root,
        home.data_dir().display()
    );
    if let Some(aside) = &restored.moved_aside {
        println!(
            "the previous data/ is in {} (delete it when you no longer need it)",
            aside.display()
        );
    }
    println!(
        "{} is unchanged: the node catches up by block sync and signs nothing at or below what its key last signed",
        home.sign_state_path().display()
    );
    Ok(())
}

async fn export(args: ExportArgs) -> Result<()> {
    if args.from == 0 {
        bail!("--from must be at least 1 (height 0 is genesis, written from the chain spec)");
    }
    match (&args.rpc, &args.home) {
        (Some(url), _) => export_from_rpc(url, &args).await,
        (None, Some(home)) => export_from_home(&Home::new(home), &args),
        (None, None) => bail!("give --rpc URL or --home DIR"),
    }
}

fn check_range(from: u64, to: u64, latest: u64) -> Result<()> {
    if to > latest {
        bail!("--to {to} is above the latest committed height {latest}");
    }
    if from > to {
        bail!("--from {from} is above --to {to}");
    }
    Ok(())
}

async fn export_from_rpc(url: &str, args: &ExportArgs) -> Result<()> {
    let client = rpc::client(url)?;
    let status = client
        .status()
        .await
        .map_err(rpc_error)
        .with_context(|| format!("cannot reach the node at {url}"))?;
    let to = args.to.unwrap_or(status.height);
    check_range(args.from, to, status.height)?;
    let header = BlockFileHeader {
        version: BLOCK_FILE_VERSION,
        chain_id: status.chain_id.clone(),
        from: args.from,
        to,
    };
    let mut writer = BlockFileWriter::create(&args.out, &header)?;
    let progress = Progress::new("exported", args.from, to);
    for height in args.from..=to {
        let info = client.block(height).await.map_err(rpc_error)?;
        let raw = hex::decode(&info.raw).context("the node sent a block that is not hex")?;
        let block: Block = borsh::from_slice(&raw)
            .with_context(|| format!("the node sent a block {height} that does not decode"))?;
        let commit = client.commit(height).await.map_err(rpc_error)?;
        writer.write(&SyncedBlock { block, commit })?;
        progress.at(height);
    }
    writer.finish()?;
    progress.done();
    println!(
        "exported blocks {}..={to} of chain {} to {}",
        args.from,
        status.chain_id,
        args.out.display()
    );
    Ok(())
}

fn export_from_home(home: &Home, args: &ExportArgs) -> Result<()> {
    let spec = home.load_chainspec()?;
    let Database::Stopped(store) = open_database(home)? else {
        return Err(running_refusal(home, "reading its database, or export with --rpc"));
    };
    let latest = store.latest_height().unwrap_or(0);
    let to = args.to.unwrap_or(latest);
    check_range(args.from, to, latest)?;
    let progress = Progress::new("exported", args.from, to);
    backup::export_from_store(&store, &spec.chain_id, args.from, to, &args.out, |h| {
        progress.at(h)
    })?;
    progress.done();
    println!(
        "exported blocks {}..={to} of chain {} to {}",
        args.from,
        spec.chain_id,
        args.out.display()
    );
    Ok(())
}

fn import(args: ImportArgs) -> Result<()> {
    let home = Home::new(&args.home);
    let spec = home.load_chainspec()?;
    let config = home.load_config()?;
    if home.data_dir().join("CURRENT").exists() {
        if let Database::Running = open_database(&home)? {
            return Err(running_refusal(&home, "importing blocks"));
        }
    }
    let chain = Chain::open_pruned(spec, &home.data_dir(), config.pruning)?;
    let header = backup::BlockFileReader::open(&args.file)?.header().clone();
    let progress = Progress::new("imported", header.from, header.to);
    let imported = backup::import(&chain, &args.file, |h| progress.at(h));
    progress.done();
    let imported = imported?;
    println!(
        "imported {} blocks ({} already present) from {}; {} is at height {}",
        imported.committed,
        imported.skipped,
        args.file.display(),
        home.root().display(),
        imported.height
    );
    Ok(())
}

/// Progress of a long export or import: a bar on a terminal, a line every [`Progress::EVERY`]
/// blocks otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    verb: &'static str,
    from: u64,
    to: u64,
}

impl Progress {
    const EVERY: u64 = 1000;

    fn new(verb: &'static str, from: u64, to: u64) -> Progress {
        let total = to.saturating_sub(from) + 1;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{verb} {{bar:40}} {{pos}}/{{len}} blocks ({{per_sec}}, eta {{eta}})"
                ))
                .expect("valid template"),
            );
            bar
        });
        Progress { bar, verb, from, to }
    }

    fn at(&self, height: u64) {
        let done = height + 1 - self.from.min(height);
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if done.is_multiple_of(Self::EVERY) => {
                eprintln!("{} {done} blocks (height {height} of {})", self.verb, self.to)
            }
            None => {}
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
