//! Copies of a node's chain outside the node: **backups** of its database and **exported blocks**
//! (`kessai db`; `docs/decisions/0016-backup-and-block-export-formats.md`).
//!
//! # Backup and restore
//!
//! A backup is a directory: `db/`, a RocksDB checkpoint of `HOME/data` ([`Store::checkpoint`],
//! consistent while the node keeps committing), and `manifest.json` ([`BackupManifest`]: chain
//! id, genesis hash, height, block hash, state root, store format, time). A running node makes it
//! itself (RocksDB allows one process per database): `kessai_admin_backup`, served to loopback
//! clients only. A stopped node's store is opened directly.
//!
//! [`restore`] refuses a running node (the database is locked), a backup of another chain
//! (chain id or genesis hash differ from the home's chain spec) or of another store format,
//! moves the old `data/` aside (`data.before-restore-<unix seconds>`; nothing is deleted) and
//! copies the checkpoint in its place. The consensus WAL and block journal (in `data/`) go aside
//! with the old data. **The signing state is never part of a backup nor touched by a restore**: it
//! lives beside the key (`HOME/sign_state.json`, [`crate::sign_state`]), so a validator restored
//! to an older height follows the chain by block sync up to what it last signed and signs nothing
//! at or below it. A restore into a home without its signing state is refused: the state would be
//! derived from the restored, older `data/`.
//!
//! # Exported blocks
//!
//! A file of consecutive blocks with their commits: `MAGIC`, then length-prefixed records (u32
//! little endian, then the bytes): first the [`BlockFileHeader`] (borsh), then one
//! [`SyncedBlock`] (borsh, as block sync sends them) per height. [`import`] checks each block as
//! block sync does ([`Chain::check_synced`]: the commit against the validator set of its height,
//! then re-execution against the header) and commits it before reading the next, so a bad block
//! stops the import with everything below it committed and nothing above.

use crate::chain::{self, Chain};
use crate::home::Home;
use crate::service::events::SyncedBlock;
use anyhow::{bail, Context, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_chainspec::ChainSpec;
use kessai_primitives::Hash;
use kessai_rpc_api::BackupManifest;
use kessai_store::{Store, StoreConfig};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The layout of `manifest.json` this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// `BACKUP/manifest.json`.
pub fn manifest_path(backup: &Path) -> PathBuf {
    backup.join("manifest.json")
}

/// `BACKUP/db/`: the RocksDB checkpoint.
pub fn db_path(backup: &Path) -> PathBuf {
    backup.join("db")
}

/// Writes a backup of `store` (the database of chain `spec`) to the new directory `out`: the
/// checkpoint, then the manifest read from the checkpoint itself (so it says exactly what the
/// copy holds). A failed backup removes what it wrote of `out`.
pub fn create(store: &Store, spec: &ChainSpec, out: &Path) -> Result<BackupManifest> {
    if out.exists() {
        bail!("{} already exists: a backup goes to a new directory", out.display());
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let written = write_backup(store, spec, out);
    if written.is_err() {
        let _ = fs::remove_dir_all(out);
    }
    written
}

fn write_backup(store: &Store, spec: &ChainSpec, out: &Path) -> Result<BackupManifest> {
    let started = std::time::Instant::now();
    store
        .checkpoint(&db_path(out))
        .with_context(|| format!("cannot write a checkpoint to {}", db_path(out).display()))?;
    let manifest = describe(&db_path(out), spec)?;
    write_synced(&manifest_path(out), serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    tracing::info!(
        out = %out.display(),
        height = manifest.height,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "wrote a backup"
    );
    Ok(manifest)
}

/// The manifest of the database at `db` (a checkpoint), which must belong to `spec`.
fn describe(db: &Path, spec: &ChainSpec) -> Result<BackupManifest> {
    let copy = Store::open_with(db, &StoreConfig { cache_bytes: 8 << 20, ..Default::default() })
        .with_context(|| format!("cannot open the checkpoint {}", db.display()))?;
    let genesis_hash = chain::recorded_spec_hash(&copy)?;
    if genesis_hash != spec.hash() {
        bail!("the database was created from another chain spec (hash {genesis_hash}, the home's is {})", spec.hash());
    }
    let height = copy.latest_height().context("the database has no genesis")?;
    let (block_hash, state_root) = match height {
        0 => (Hash::ZERO, copy.state_root(0)?.context("no state root at genesis")?),
        h => {
            let header = copy.header(h)?.with_context(|| format!("no header at height {h}"))?;
            (header.id(), header.state_root)
        }
    };
    Ok(BackupManifest {
        manifest_version: MANIFEST_VERSION,
        chain_id: spec.chain_id.clone(),
        genesis_hash,
        height,
        block_hash,
        state_root,
        store_format: kessai_store::FORMAT_VERSION,
        created_ms: kessai_primitives::time::now_ms(),
    })
}

/// Reads and checks `BACKUP/manifest.json`.
pub fn read_manifest(backup: &Path) -> Result<BackupManifest> {
    let path = manifest_path(backup);
    let text = fs::read_to_string(&path).with_context(|| {
        format!("{} is not a backup: cannot read {}", backup.display(), path.display())
    })?;
    let manifest: BackupManifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a backup manifest", path.display()))?;
    if manifest.manifest_version != MANIFEST_VERSION {
        bail!(
            "{} has manifest version {}; this build reads version {MANIFEST_VERSION}",
            path.display(),
            manifest.manifest_version
        );
    }
    Ok(manifest)
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: BackupManifest,
    /// Where the home's previous `data/` went, if it had one.
    pub moved_aside: Option<PathBuf>,
}

/// Puts the backup `from` in place of `home`'s `data/` (see the module docs for what is refused).
pub fn restore(home: &Home, from: &Path) -> Result<Restored> {
    let spec = home.load_chainspec()?;
    let manifest = read_manifest(from)?;
    if manifest.chain_id != spec.chain_id || manifest.genesis_hash != spec.hash() {
        bail!(
            "the backup {} is of chain {} (genesis {}), but {} runs chain {} (genesis {}): refusing to restore another chain's data",
            from.display(),
            manifest.chain_id,
            manifest.genesis_hash,
            home.root().display(),
            spec.chain_id,
            spec.hash()
        );
    }
    if manifest.store_format != kessai_store::FORMAT_VERSION {
        bail!(
            "the backup's store format is {}, this build reads format {}",
            manifest.store_format,
            kessai_store::FORMAT_VERSION
        );
    }
    if !home.sign_state_path().exists() {
        bail!(
            "{} is missing: without it the node would derive what its key signed from the restored data/, which is older than the key's last signature. Put the key's signing state back first",
            home.sign_state_path().display()
        );
    }
    let source = db_path(from);
    if !source.join("CURRENT").exists() {
        bail!("{} holds no database", source.display());
    }
    refuse_if_running(home)?;

    // Copy first, swap after: an interrupted copy leaves data/ as it was.
    let data = home.data_dir();
    let incoming = home.root().join("data.restoring");
    if incoming.exists() {
        fs::remove_dir_all(&incoming)
            .with_context(|| format!("cannot remove the unfinished {}", incoming.display()))?;
    }
    copy_dir(&source, &incoming)?;
    let moved_aside = if data.exists() {
        let aside = aside_path(home);
        fs::rename(&data, &aside)
            .with_context(|| format!("cannot move {} aside", data.display()))?;
        Some(aside)
    } else {
        None
    };
    fs::rename(&incoming, &data)
        .with_context(|| format!("cannot move the restored database to {}", data.display()))?;
    File::open(home.root())?.sync_all()?;
    check_restored(&data, &manifest)?;
    tracing::info!(height = manifest.height, from = %from.display(), "restored a backup");
    Ok(Restored { manifest, moved_aside })
}

/// How a home's existing database can be reached.
pub enum Database {
    /// No process had it open: this one opened it.
    Stopped(Store),
    /// A node is running on it (RocksDB's lock on `data/LOCK` is taken).
    Running,
}

/// Opens `home`'s existing database, or finds that a running node holds it. Never creates one.
pub fn open_database(home: &Home) -> Result<Database> {
    let data = home.data_dir();
    if !data.join("CURRENT").exists() {
        bail!("{} has no database (no {})", home.root().display(), data.display());
    }
    match Store::open(&data) {
        Ok(store) => Ok(Database::Stopped(store)),
        Err(e) if is_lock_error(&e) => Ok(Database::Running),
        Err(e) => Err(e).with_context(|| format!("cannot open the database in {}", data.display())),
    }
}

/// The layout of a stopped node's database as [`Store::open`] finds it: the one this build reads
/// ([`kessai_store::FORMAT_VERSION`]), another (recorded in the database, 0 when none is), or
/// locked by a running node.
pub enum DatabaseFormat {
    /// [`kessai_store::FORMAT_VERSION`].
    Current,
    /// Another version: the node refuses to start on it (`kessai db migrate`).
    Other(u32),
    /// A node holds the database open.
    Running,
}

/// The store layout this build reads and writes ([`kessai_store::FORMAT_VERSION`]).
pub const STORE_FORMAT: u32 = kessai_store::FORMAT_VERSION;

/// [`DatabaseFormat`] of `home`'s database.
pub fn database_format(home: &Home) -> Result<DatabaseFormat> {
    let data = home.data_dir();
    if !data.join("CURRENT").exists() {
        bail!("{} has no database (no {})", home.root().display(), data.display());
    }
    match Store::open(&data) {
        Ok(_) => Ok(DatabaseFormat::Current),
        Err(kessai_store::StoreError::Format { found, .. }) => Ok(DatabaseFormat::Other(found)),
        Err(e) if is_lock_error(&e) => Ok(DatabaseFormat::Running),
        Err(e) => Err(e).with_context(|| format!("cannot open the database in {}", data.display())),
    }
}

fn is_lock_error(e: &kessai_store::StoreError) -> bool {
    matches!(e, kessai_store::StoreError::Db(_)) && e.to_string().contains("lock")
}

/// Fails when a process holds `home`'s database open.
fn refuse_if_running(home: &Home) -> Result<()> {
    let data = home.data_dir();
    if !data.join("CURRENT").exists() {
        return Ok(());
    }
    match Store::open(&data) {
        Ok(_) => Ok(()),
        Err(e) if is_lock_error(&e) => bail!(
            "the node of {} is running (its database is locked): stop it first",
            home.root().display()
        ),
        // A damaged database is what a restore is for.
        Err(e) => {
            tracing::warn!(error = %e, "the database being replaced does not open");
            Ok(())
        }
    }
}

/// `HOME/data.before-restore-<unix seconds>`, with a suffix if that exists.
fn aside_path(home: &Home) -> PathBuf {
    let secs = kessai_primitives::time::now_ms() / 1000;
    let mut path = home.root().join(format!("data.before-restore-{secs}"));
    let mut n = 1;
    while path.exists() {
        path = home.root().join(format!("data.before-restore-{secs}-{n}"));
        n += 1;
    }
    path
}

fn check_restored(data: &Path, manifest: &BackupManifest) -> Result<()> {
    let store = Store::open(data)?;
    let height = store.latest_height().context("the restored database has no genesis")?;
    let root = store.state_root(height)?;
    if height != manifest.height || root != Some(manifest.state_root) {
        bail!(
            "the restored database is at height {height} (state root {root:?}), not at the manifest's height {} ({})",
            manifest.height,
            manifest.state_root
        );
    }
    Ok(())
}

/// Copies the files of the flat directory `from` (a checkpoint) to the new directory `to`,
/// `fsync`ing each and the directory.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            bail!("{} is not a file; a checkpoint holds files only", entry.path().display());
        }
        let target = to.join(entry.file_name());
        fs::copy(entry.path(), &target)
            .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        File::open(&target)?.sync_all()?;
    }
    File::open(to)?.sync_all()?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file =
        File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

// ---- exported blocks ----

/// The first bytes of a file of exported blocks.
pub const MAGIC: &[u8; 8] = b"KSIBLKS\n";

/// The layout of exported block files this build writes and reads.
pub const BLOCK_FILE_VERSION: u32 = 1;

/// The largest record a reader accepts (a block of the largest transactions is far smaller):
/// a damaged length is refused instead of allocated.
const MAX_RECORD_BYTES: u32 = 1 << 30;

/// The first record of a file of exported blocks.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockFileHeader {
    /// [`BLOCK_FILE_VERSION`].
    pub version: u32,
    /// The chain the blocks are of.
    pub chain_id: String,
    /// Height of the first block in the file.
    pub from: u64,
    /// Height of the last block in the file.
    pub to: u64,
}

/// Writes a file of exported blocks.
pub struct BlockFileWriter {
    out: BufWriter<File>,
}

impl BlockFileWriter {
    /// Creates `path` (refusing to overwrite it) and writes the header.
    pub fn create(path: &Path, header: &BlockFileHeader) -> Result<BlockFileWriter> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot create {} (it must not exist)", path.display()))?;
        let mut writer = BlockFileWriter { out: BufWriter::new(file) };
        writer.out.write_all(MAGIC)?;
        writer.record(&borsh::to_vec(header)?)?;
        Ok(writer)
    }

    /// Appends one block with its commit.
    pub fn write(&mut self, block: &SyncedBlock) -> Result<()> {
        self.record(&borsh::to_vec(block)?)
    }

    fn record(&mut self, bytes: &[u8]) -> Result<()> {
        let len = u32::try_from(bytes.len()).ok().filter(|&l| l <= MAX_RECORD_BYTES);
        let len = len.context("a block is too large for the export format")?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(bytes)?;
        Ok(())
    }

    /// Flushes and `fsync`s the file.
    pub fn finish(self) -> Result<()> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    }
}

/// Reads a file of exported blocks: the header, then one block at a time.
pub struct BlockFileReader {
    input: BufReader<File>,
    path: PathBuf,
    header: BlockFileHeader,
}

impl BlockFileReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<BlockFileReader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut input = BufReader::new(file);
        let mut magic = [0u8; 8];
        if input.read_exact(&mut magic).is_err() || &magic != MAGIC {
            bail!("{} is not a file of exported Kessai blocks", path.display());
        }
        let bytes = read_record(&mut input)?
            .with_context(|| format!("{} ends before its header", path.display()))?;
        let header = BlockFileHeader::try_from_slice(&bytes)
            .with_context(|| format!("the header of {} does not decode", path.display()))?;
        if header.version != BLOCK_FILE_VERSION {
            bail!(
                "{} is in export format {}; this build reads format {BLOCK_FILE_VERSION}",
                path.display(),
                header.version
            );
        }
        Ok(BlockFileReader { input, path: path.to_path_buf(), header })
    }

    /// The file's header.
    pub fn header(&self) -> &BlockFileHeader {
        &self.header
    }

    /// The next block, `None` at the end of the file; `expected` (the height it should be) names
    /// it in the error when it does not decode.
    pub fn next_block(&mut self, expected: u64) -> Result<Option<SyncedBlock>> {
        let what = || format!("block {expected} of {}", self.path.display());
        let Some(bytes) = read_record(&mut self.input).with_context(what)? else {
            return Ok(None);
        };
        let block = SyncedBlock::try_from_slice(&bytes)
            .with_context(|| format!("{} does not decode", what()))?;
        Ok(Some(block))
    }
}

/// One length-prefixed record; `None` at a clean end of file.
fn read_record(input: &mut impl Read) -> Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_RECORD_BYTES {
        bail!("a record claims {len} bytes, more than any block");
    }
    let mut bytes = vec![0u8; len as usize];
    input.read_exact(&mut bytes).context("the file ends inside a record (truncated)")?;
    Ok(Some(bytes))
}

/// Writes the blocks `from..=to` of `store` (with their commits) to `out`.
pub fn export_from_store(
    store: &Store,
    chain_id: &str,
    from: u64,
    to: u64,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> Result<()> {
    let header =
        BlockFileHeader { version: BLOCK_FILE_VERSION, chain_id: chain_id.into(), from, to };
    let mut writer = BlockFileWriter::create(out, &header)?;
    for height in from..=to {
        let block = store.block(height)?.with_context(|| format!("no block at height {height}"))?;
        let commit =
            store.commit(height)?.with_context(|| format!("no commit at height {height}"))?;
        writer.write(&SyncedBlock { block, commit })?;
        progress(height);
    }
    writer.finish()
}

/// What [`import`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    /// Blocks verified and committed.
    pub committed: u64,
    /// Blocks of the file this home already had (the same blocks).
    pub skipped: u64,
    /// The home's height afterwards.
    pub height: u64,
}

/// Verifies and commits the blocks of `file` on `chain` in order, each as block sync does
/// ([`Chain::check_synced`]) and each committed before the next is read. The first block that
/// does not decode, does not follow, or does not verify stops the import with an error naming its
/// height; the blocks below it stay committed, none above it is.
pub fn import(chain: &Chain, file: &Path, mut progress: impl FnMut(u64)) -> Result<Imported> {
    let mut reader = BlockFileReader::open(file)?;
    let header = reader.header().clone();
    if header.chain_id != chain.chain_id() {
        bail!(
            "{} holds blocks of chain {}, this home runs chain {}",
            file.display(),
            header.chain_id,
            chain.chain_id()
        );
    }
    let (mut committed, mut skipped) = (0, 0);
    let mut expected = header.from;
    let refused = |height: u64, reason: String| {
        anyhow::anyhow!(
            "block {height} of {} is refused: {reason}; the home stays at height {} (nothing after it was imported)",
            file.display(),
            chain.height()
        )
    };
    while let Some(SyncedBlock { block, commit }) =
        reader.next_block(expected).map_err(|e| refused(expected, format!("{e:#}")))?
    {
        let height = block.header.height;
        if height != expected {
            return Err(refused(expected, format!("the file holds height {height} there")));
        }
        expected += 1;
        if height <= chain.height() {
            let ours = chain.store.header(height)?.map(|h| h.id());
            if ours != Some(block.id()) {
                return Err(refused(height, "this home has another block at that height".into()));
            }
            skipped += 1;
            continue;
        }
        if height != chain.height() + 1 {
            return Err(refused(
                height,
                format!(
                    "the home is at height {}, so block {} must come first",
                    chain.height(),
                    chain.height() + 1
                ),
            ));
        }
        let executed =
            chain.check_synced(block, &commit)?.map_err(|reason| refused(height, reason))?;
        chain.commit(executed, commit).with_context(|| format!("committing block {height}"))?;
        committed += 1;
        progress(height);
    }
    if expected <= header.to {
        bail!(
            "{} ends after block {} but its header says it holds blocks up to {}: the blocks up to {} are imported",
            file.display(),
            expected - 1,
            header.to,
            chain.height()
        );
    }
    Ok(Imported { committed, skipped, height: chain.height() })
}
