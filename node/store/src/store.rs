//! [`Store`]: the RocksDB database of one node.

use crate::error::StoreError;
use crate::keys;
use crate::recent_values::RecentValues;
use crate::tree::{write_prepared, PreparedState, TreeStore};
use crate::upper_nodes::{UpperNodes, DEFAULT_TREE_CACHE_DEPTH};
use crate::{KeyValue, PruningConfig, WriteSet};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_primitives::{Address, Block, Commit, Event, Hash, Header, Receipt, StateProof};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// How the database is opened.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `fsync` the write-ahead log before a commit returns (default `true`).
    ///
    /// The WAL is always on, so a committed block survives the process being killed (`kill -9`)
    /// either way: the write is in the OS page cache. `sync` is what makes it survive a power loss
    /// or kernel crash too, at the cost of one `fsync` per block. A validator that signed a
    /// precommit for the next height must not forget this block: keep `true` on validators.
    pub sync: bool,
    /// Bytes of RocksDB block cache shared by all column families.
    pub cache_bytes: usize,
    /// How many recent heights of state and blocks to keep (default: all, archive). With state
    /// pruning on, each commit also records what its version makes stale; a
    /// [`Pruner`](crate::Pruner) deletes it.
    pub pruning: PruningConfig,
    /// Tree nodes whose nibble path is at most this long are kept in memory across blocks
    /// (default 4: at most 69,905 nodes, about 70 MiB on a large state); `None` keeps none.
    /// Only speed depends on it, never a root or a proof.
    pub tree_cache_depth: Option<usize>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            sync: true,
            cache_bytes: 128 << 20,
            pruning: PruningConfig::default(),
            tree_cache_depth: Some(DEFAULT_TREE_CACHE_DEPTH),
        }
    }
}

/// The node's database: blocks, commits, receipts, indices, and the authenticated state.
///
/// Cheap to clone (an `Arc` inside); all methods take `&self`. Reads run concurrently with
/// commits; commits are serialised, and each is one atomic RocksDB write batch.
///
/// Two views of "the latest block": the **committed** one ([`Store::latest_height`], and every
/// read without `tip` in its name) is on disk; the **tip** ([`Store::tip_height`], `tip_*` reads,
/// [`Store::prepare_state`]) also includes a decided block whose write is still under way
/// ([`Store::begin_commit`]), so that the next block can be executed while the last one is
/// written.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: DB,
    path: PathBuf,
    sync: bool,
    /// The latest committed height, or [`NO_HEIGHT`] before genesis. Written only under
    /// `commit_lock`, after the batch that commits the height is durable.
    latest: AtomicU64,
    commit_lock: Mutex<()>,
    /// The block between [`Store::begin_commit`] and the end of its [`BlockWrite`], readable
    /// through the tip. Cleared only after `latest` includes it (or the write is abandoned).
    pending: RwLock<Option<Arc<PendingBlock>>>,
    pruning: PruningConfig,
    /// The lowest height whose state is kept ([`keys::meta::EARLIEST_STATE`]). Raised by the
    /// pruner *before* the batch that deletes below it is written, so that a read that saw a
    /// deletion also sees the new bar when it checks again.
    earliest_state: AtomicU64,
    /// The lowest height whose block, receipts and indices are kept; raised like
    /// `earliest_state`.
    earliest_block: AtomicU64,
    /// Heights that are multiples of this are snapshots (0: none): the pruner keeps the state of
    /// the latest two ([`Store::keep_snapshots`]).
    snapshot_interval: AtomicU64,
    /// The tree's top levels, across blocks ([`StoreConfig::tree_cache_depth`]).
    upper_nodes: UpperNodes,
    /// The latest committed values of recently read keys ([`Store::get`]).
    recent_values: RecentValues,
}

/// A block made the tip but not yet written: what the tip reads need of it.
struct PendingBlock {
    header: Header,
    prepared: PreparedState,
    tx_ids: std::collections::HashSet<Hash>,
}

/// An event with its position in the chain (`Store::events_from`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedEvent {
    /// Height of the block.
    pub height: u64,
    /// Index of the emitting transaction in the block.
    pub tx_index: u32,
    /// Index of the event among the transaction's events.
    pub event_index: u32,
    /// Id of the emitting transaction.
    pub tx_id: Hash,
    /// The event.
    pub event: Event,
}

/// A block made the tip by [`Store::begin_commit`]; [`BlockWrite::write`] puts it on disk.
/// Dropping it unwritten abandons the block: the tip falls back to the latest committed block.
#[must_use = "the block is not on disk until it is written"]
pub struct BlockWrite {
    store: Store,
    block: Block,
    commit: Commit,
    receipts: Vec<Receipt>,
    pending: Arc<PendingBlock>,
}

impl BlockWrite {
    /// Height of the block being written.
    pub fn height(&self) -> u64 {
        self.block.height()
    }

    /// Writes the block in one atomic batch; once this returns `Ok` it is the latest committed
    /// block. An error leaves the store at the block below and the block still the tip: the
    /// write may be tried again (a full disk that has space again), and the node must stop if it
    /// never succeeds, since the block was decided.
    pub fn write(&self) -> Result<(), StoreError> {
        self.store.write_block(&self.block, &self.commit, &self.receipts, &self.pending.prepared)
    }
}

impl Drop for BlockWrite {
    /// The tip stops reading through the block: it is now in the database (`latest` was raised
    /// first), or it was abandoned.
    fn drop(&mut self) {
        let mut slot = self.store.inner.pending.write().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|p| Arc::ptr_eq(p, &self.pending)) {
            *slot = None;
        }
    }
}

const NO_HEIGHT: u64 = u64::MAX;

/// Bound of the write-ahead log files on disk (RocksDB's default is four times every family's
/// memtables, about 5 GiB here).
const MAX_TOTAL_WAL_BYTES: u64 = 128 << 20;

/// The memtable bloom filter's size as a share of the memtable's (64 MiB): 1.3 MiB, about 50 bits
/// per entry at the tree's node sizes.
const MEMTABLE_BLOOM_RATIO: f64 = 0.02;

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("latest_height", &self.latest_height())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` with the default [`StoreConfig`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, &StoreConfig::default())
    }

    /// Opens (creating if needed) the database at `path` with `config`'s cache size and sync mode.
    pub fn open_with(path: &Path, config: &StoreConfig) -> Result<Store, StoreError> {
        let cache = Cache::new_lru_cache(config.cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        let mut cf_options = Options::default();
        cf_options.set_block_based_table_factory(&table);
        cf_options.set_compression_type(DBCompressionType::Lz4);
        // A whole-key bloom filter on each memtable: most point reads (tree nodes of older
        // versions, state keys) are not in the memtables, and without it each one searches them.
        cf_options.set_memtable_whole_key_filtering(true);
        cf_options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);

        let mut db_options = cf_options.clone();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_keep_log_file_num(4);
        // A write-ahead log file is deleted only once every family with writes in it has flushed;
        // `meta` and `headers` take a few bytes per block and would hold logs (and disk) for
        // gigabytes. Past this total, RocksDB flushes the families that hold the oldest log.
        db_options.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
        let families =
            keys::ALL.iter().map(|name| ColumnFamilyDescriptor::new(*name, cf_options.clone()));
        let db = DB::open_cf_descriptors(&db_options, path, families)?;

        let latest = match db.get_cf(cf(&db, keys::META), keys::meta::LATEST_HEIGHT)? {
            Some(bytes) => decode_u64(&bytes, "latest height")?,
            None => NO_HEIGHT,
        };
        check_format(&db, latest == NO_HEIGHT)?;
        crate::snapshot::backfill_preimages(&db, latest == NO_HEIGHT)?;
        let earliest = |key| match db.get_cf(cf(&db, keys::META), key)? {
            Some(bytes) => decode_u64(&bytes, "earliest height"),
            None => Ok(0),
        };
        let (earliest_state, earliest_block) =
            (earliest(keys::meta::EARLIEST_STATE)?, earliest(keys::meta::EARLIEST_BLOCK)?);
        tracing::debug!(path = %path.display(), latest, earliest_state, earliest_block, "opened store");
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path: path.to_path_buf(),
                sync: config.sync,
                latest: AtomicU64::new(latest),
                commit_lock: Mutex::new(()),
                pending: RwLock::new(None),
                pruning: config.pruning,
                earliest_state: AtomicU64::new(earliest_state),
                earliest_block: AtomicU64::new(earliest_block),
                snapshot_interval: AtomicU64::new(0),
                upper_nodes: UpperNodes::new(config.tree_cache_depth),
                recent_values: RecentValues::new(),
            }),
        })
    }

    /// The directory of the database.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn db(&self) -> &DB {
        &self.inner.db
    }

    /// The retention settings the store was opened with.
    pub fn pruning(&self) -> PruningConfig {
        self.inner.pruning
    }

    /// The lowest height whose state (values, proofs, root) is still kept: 0 until state
    /// pruning deletes something. Reads below it fail with [`StoreError::Pruned`].
    pub fn earliest_state_height(&self) -> u64 {
        self.inner.earliest_state.load(Ordering::Acquire)
    }

    /// The lowest height whose block, receipts, transaction index and events are still kept: 0
    /// until block pruning deletes something. Headers and commits are kept at every height.
    pub fn earliest_block_height(&self) -> u64 {
        self.inner.earliest_block.load(Ordering::Acquire)
    }

    /// Raises the in-memory bar of `what` (`"state"` or `"block"`) to `height`; called before the
    /// batch that deletes below it is written.
    pub(crate) fn raise_earliest(&self, what: &str, height: u64) {
        let bar =
            if what == "state" { &self.inner.earliest_state } else { &self.inner.earliest_block };
        bar.fetch_max(height, Ordering::AcqRel);
    }

    /// Runs `f` with commits held off: no block is written while it runs. The pruner writes
    /// the deletion of preimages under it (`Store::prune_state_batch`).
    pub(crate) fn with_commits_held<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.inner.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }

    /// Makes `height` the latest committed height once a state sync wrote it
    /// (`crate::snapshot::StateRestore::finish`).
    pub(crate) fn restored(&self, height: u64) {
        let _guard = self.inner.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.inner.upper_nodes.clear();
        self.inner.recent_values.clear();
        self.inner.latest.store(height, Ordering::Release);
    }

    /// Keeps the state of the latest two heights that are multiples of `interval` from pruning
    /// (0: none), and the blocks above the older, whatever the retention says, so that a node
    /// joining by state sync can fetch a snapshot while the chain moves past it and then follow
    /// the chain from it by block sync.
    pub fn keep_snapshots(&self, interval: u64) {
        self.inner.snapshot_interval.store(interval, Ordering::Release);
    }

    /// The lowest height whose state the snapshots kept by [`Store::keep_snapshots`] need when
    /// `latest` is committed (`u64::MAX`: none).
    pub(crate) fn snapshot_floor(&self, latest: u64) -> u64 {
        match self.inner.snapshot_interval.load(Ordering::Acquire) {
            0 => u64::MAX,
            interval => (latest / interval).saturating_sub(1) * interval,
        }
    }

    /// The latest committed height: `None` before genesis, `Some(0)` after genesis only.
    pub fn latest_height(&self) -> Option<u64> {
        match self.inner.latest.load(Ordering::Acquire) {
            NO_HEIGHT => None,
            height => Some(height),
        }
    }

    /// The height of the tip: the block being written in the background if there is one,
    /// otherwise [`Store::latest_height`].
    pub fn tip_height(&self) -> Option<u64> {
        // `latest` is raised before `pending` is cleared, so one of the two has the block.
        match self.pending() {
            Some(pending) => Some(pending.header.height),
            None => self.latest_height(),
        }
    }

    /// The header of the tip (`None` at genesis).
    pub fn tip_header(&self) -> Result<Option<Header>, StoreError> {
        match self.pending() {
            Some(pending) => Ok(Some(pending.header.clone())),
            None => match self.latest_height() {
                None | Some(0) => Ok(None),
                Some(height) => self.header(height),
            },
        }
    }

    /// Whether the transaction is in the block at the tip that is still being written: decided,
    /// but not yet readable as committed.
    pub fn is_tx_being_written(&self, tx_id: &Hash) -> bool {
        self.pending().is_some_and(|p| p.tx_ids.contains(tx_id))
    }

    fn pending(&self) -> Option<Arc<PendingBlock>> {
        self.inner.pending.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn next_version(&self) -> u64 {
        self.tip_height().map_or(0, |h| h + 1)
    }

    // ---- state updates ----

    /// Computes the state root of `version` = the tip's state plus `writes`, writing nothing.
    ///
    /// `version` must be the height after the tip (0 for genesis). A proposer calls this to fill in its
    /// header's `state_root`; a validator to check a proposal's. Several states may be prepared for
    /// the same version (competing proposals); at most one is committed.
    pub fn prepare_state(
        &self,
        version: u64,
        writes: &WriteSet,
    ) -> Result<PreparedState, StoreError> {
        let expected = self.next_version();
        if version != expected {
            return Err(StoreError::WrongHeight { expected, got: version });
        }
        if let Some(key) = writes.keys().find(|key| key.len() < 32) {
            return Err(StoreError::KeyWithoutNamespace(hex::encode(key)));
        }
        let pending = self.pending();
        TreeStore::with_pending(
            self.db(),
            &self.inner.upper_nodes,
            pending.as_ref().map(|p| &p.prepared),
        )
        .prepare(version, writes)
    }

    /// Commits the genesis state (version 0) with `genesis_meta`, opaque bytes the node wants back
    /// from [`Store::genesis_meta`] (e.g. the chain spec it started from).
    pub fn commit_genesis(
        &self,
        prepared: PreparedState,
        genesis_meta: &[u8],
    ) -> Result<(), StoreError> {
        let _guard = self.inner.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.latest_height().is_some() {
            return Err(StoreError::GenesisExists);
        }
        if prepared.version() != 0 {
            return Err(StoreError::PreparedForOtherVersion {
                expected: 0,
                prepared: prepared.version(),
            });
        }
        let db = self.db();
        let mut batch = WriteBatch::default();
        write_prepared(db, &mut batch, &prepared, self.inner.pruning.prunes_state());
        let meta = cf(db, keys::META);
        batch.put_cf(meta, keys::meta::GENESIS, genesis_meta);
        batch.put_cf(meta, keys::meta::LATEST_HEIGHT, keys::height(0));
        self.write(batch)?;
        prepared.remember_in(&self.inner.upper_nodes);
        self.inner.recent_values.committed(prepared.writes());
        self.inner.latest.store(0, Ordering::Release);
        tracing::info!(root = %prepared.root, keys = prepared.writes().len(), "committed genesis");
        Ok(())
    }

    /// Commits a finalised block with its commit, its receipts (one per transaction, in order) and
    /// its prepared state, in one atomic write: after a crash the store is at this block or at the
    /// previous one, never in between.
    pub fn commit_block(
        &self,
        block: &Block,
        commit: &Commit,
        receipts: &[Receipt],
        prepared: PreparedState,
    ) -> Result<(), StoreError> {
        self.begin_commit(block.clone(), commit.clone(), receipts.to_vec(), prepared)?.write()
    }

    /// The first half of [`Store::commit_block`]: checks the block and makes it the tip, so that
    /// the `tip_*` reads and [`Store::prepare_state`] see its state at once; the returned
    /// [`BlockWrite`] writes it, on whatever thread the caller likes, while the next block is
    /// executed. Until then [`Store::latest_height`] and every committed read stay below it.
    ///
    /// One block at a time: this fails while another [`BlockWrite`] is outstanding.
    pub fn begin_commit(
        &self,
        block: Block,
        commit: Commit,
        receipts: Vec<Receipt>,
        prepared: PreparedState,
    ) -> Result<BlockWrite, StoreError> {
        if let Some(pending) = self.pending() {
            return Err(StoreError::WriteInFlight(pending.header.height));
        }
        // Checked before taking the lock: it hashes every transaction, and tip readers wait on it.
        self.check_block(&block, &commit, &receipts, &prepared)?;
        let mut slot = self.inner.pending.write().unwrap_or_else(|e| e.into_inner());
        if let Some(pending) = slot.as_ref() {
            return Err(StoreError::WriteInFlight(pending.header.height));
        }
        // The receipts' ids were just checked against the transactions.
        let tx_ids = receipts.iter().map(|r| r.tx_id).collect();
        let pending = Arc::new(PendingBlock { header: block.header.clone(), prepared, tx_ids });
        *slot = Some(pending.clone());
        Ok(BlockWrite { store: self.clone(), block, commit, receipts, pending })
    }

    /// Writes a checked block.
    fn write_block(
        &self,
        block: &Block,
        commit: &Commit,
        receipts: &[Receipt],
        prepared: &PreparedState,
    ) -> Result<(), StoreError> {
        let _guard = self.inner.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        let height = block.height();
        // Checked again under the lock: blocks are written in order, each on its parent.
        let expected = self.latest_height().map_or(0, |h| h + 1);
        if height != expected {
            return Err(StoreError::WrongHeight { expected, got: height });
        }
        let db = self.db();
        let mut batch = WriteBatch::default();
        let at = keys::height(height);
        batch.put_cf(cf(db, keys::HEADERS), at, encode(&block.header));
        batch.put_cf(cf(db, keys::BLOCKS), at, encode(block));
        batch.put_cf(cf(db, keys::COMMITS), at, encode(commit));
        batch.put_cf(cf(db, keys::RECEIPTS), at, encode(receipts));
        let (tx_index, events) = (cf(db, keys::TX_INDEX), cf(db, keys::EVENTS));
        for (index, receipt) in (0u32..).zip(receipts) {
            batch.put_cf(tx_index, keys::tx(&receipt.tx_id), encode(&(height, index)));
            for (event_index, event) in (0u32..).zip(&receipt.events) {
                let key = keys::event(&event.contract, height, index, event_index);
                batch.put_cf(events, key, encode(&(receipt.tx_id, event)));
            }
        }
        write_prepared(db, &mut batch, prepared, self.inner.pruning.prunes_state());
        batch.put_cf(cf(db, keys::META), keys::meta::LATEST_HEIGHT, at);
        self.write(batch)?;
        prepared.remember_in(&self.inner.upper_nodes);
        // Before `latest` includes the block: a reader that sees the new height reads its values.
        self.inner.recent_values.committed(prepared.writes());
        self.inner.latest.store(height, Ordering::Release);
        tracing::debug!(
            height,
            txs = block.txs.len(),
            writes = prepared.writes().len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wrote block"
        );
        Ok(())
    }

    /// Everything that must hold before a block becomes the tip (and is written).
    fn check_block(
        &self,
        block: &Block,
        commit: &Commit,
        receipts: &[Receipt],
        prepared: &PreparedState,
    ) -> Result<(), StoreError> {
        let height = block.height();
        let Some(latest) = self.latest_height() else {
            return Err(StoreError::WrongHeight { expected: 0, got: height });
        };
        if height != latest + 1 {
            return Err(StoreError::WrongHeight { expected: latest + 1, got: height });
        }
        if prepared.version() != height {
            return Err(StoreError::PreparedForOtherVersion {
                expected: height,
                prepared: prepared.version(),
            });
        }
        if block.header.state_root != prepared.root {
            return Err(StoreError::StateRootMismatch {
                header: block.header.state_root,
                prepared: prepared.root,
            });
        }
        if commit.height != height || commit.block != block.id() {
            return Err(StoreError::CommitMismatch { height: commit.height, block: commit.block });
        }
        if receipts.len() != block.txs.len() {
            return Err(StoreError::ReceiptsMismatch(format!(
                "{} receipts for {} transactions",
                receipts.len(),
                block.txs.len()
            )));
        }
        if let Some(index) = block.txs.iter().zip(receipts).position(|(tx, r)| tx.id() != r.tx_id) {
            return Err(StoreError::ReceiptsMismatch(format!(
                "receipt {index} is for another transaction"
            )));
        }
        if height >= 2 {
            let parent = self.header(height - 1)?.ok_or_else(|| StoreError::Corrupt {
                what: "header",
                reason: format!("no header at committed height {}", height - 1),
            })?;
            if block.header.parent != parent.id() {
                return Err(StoreError::WrongParent {
                    height,
                    expected: parent.id(),
                    got: block.header.parent,
                });
            }
        }
        Ok(())
    }

    /// The tree of committed versions, read through the cache of its top levels.
    fn tree(&self) -> TreeStore<'_> {
        TreeStore::cached(self.db(), &self.inner.upper_nodes)
    }

    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(self.inner.sync);
        options.disable_wal(false);
        self.db().write_opt(batch, &options)?;
        Ok(())
    }

    // ---- chain reads ----

    /// The header of the committed block at `height`.
    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        self.get_decoded(keys::HEADERS, &keys::height(height), "header")
    }

    /// The committed block at `height`; [`StoreError::Pruned`] below
    /// [`Store::earliest_block_height`].
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        self.read_block_data(height, || {
            self.get_decoded(keys::BLOCKS, &keys::height(height), "block")
        })
    }

    /// The commit (the precommits that finalised it) of the block at `height`.
    pub fn commit(&self, height: u64) -> Result<Option<Commit>, StoreError> {
        self.get_decoded(keys::COMMITS, &keys::height(height), "commit")
    }

    /// The receipts of the block at `height`, in transaction order; [`StoreError::Pruned`] below
    /// [`Store::earliest_block_height`].
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StoreError> {
        self.read_block_data(height, || {
            self.get_decoded(keys::RECEIPTS, &keys::height(height), "receipts")
        })
    }

    /// Runs a read of the block data of `height` between two checks of what is kept: the
    /// second catches a read that raced the pruner (and may have found the data gone).
    fn read_block_data<T>(
        &self,
        height: u64,
        read: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_kept("block", height, self.earliest_block_height())?;
        let result = read();
        self.check_kept("block", height, self.earliest_block_height())?;
        result
    }

    /// Runs a read of the state of `height` between two checks (see `read_block_data`).
    fn read_state<T>(
        &self,
        height: u64,
        read: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_kept("state", height, self.earliest_state_height())?;
        let result = read();
        self.check_kept("state", height, self.earliest_state_height())?;
        result
    }

    fn check_kept(&self, what: &'static str, height: u64, earliest: u64) -> Result<(), StoreError> {
        if height < earliest {
            return Err(StoreError::Pruned { what, earliest });
        }
        Ok(())
    }

    /// Where a committed transaction is: `(height, index in the block)`. Transactions of pruned
    /// blocks are not indexed any more: `None`, as for an unknown one.
    pub fn tx_location(&self, tx_id: &Hash) -> Result<Option<(u64, u32)>, StoreError> {
        self.get_decoded(keys::TX_INDEX, keys::tx(tx_id), "tx location")
    }

    /// The receipt of a committed transaction.
    pub fn receipt(&self, tx_id: &Hash) -> Result<Option<Receipt>, StoreError> {
        let Some((height, index)) = self.tx_location(tx_id)? else { return Ok(None) };
        let receipts = self.receipts(height)?.ok_or_else(|| StoreError::Corrupt {
            what: "receipts",
            reason: format!("tx index points at height {height}, which has no receipts"),
        })?;
        let receipt =
            receipts.into_iter().nth(index as usize).ok_or_else(|| StoreError::Corrupt {
                what: "receipts",
                reason: format!("tx index points at receipt {index} of height {height}"),
            })?;
        Ok(Some(receipt))
    }

    /// Events emitted by `contract` in blocks `from_height..=to_height`, in chain order, at most
    /// `limit`: `(height, tx id, event)`. [`StoreError::Pruned`] if `from_height` is below
    /// [`Store::earliest_block_height`]: some of them may be gone.
    pub fn events(
        &self,
        contract: Address,
        from_height: u64,
        to_height: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Hash, Event)>, StoreError> {
        self.read_block_data(from_height, || {
            self.events_unchecked(contract, from_height, to_height, limit)
        })
    }

    fn events_unchecked(
        &self,
        contract: Address,
        from_height: u64,
        to_height: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Hash, Event)>, StoreError> {
        let found = self.events_from_unchecked(contract, (from_height, 0, 0), to_height, limit)?;
        Ok(found.into_iter().map(|e| (e.height, e.tx_id, e.event)).collect())
    }

    /// Events emitted by `contract` from the position `from` = (height, tx index, event index)
    /// on (inclusive) up to `to_height`, in chain order, at most `limit`, each with its position:
    /// a page cut inside a height resumes at the position after its last event.
    /// [`StoreError::Pruned`] if `from`'s height is below [`Store::earliest_block_height`].
    pub fn events_from(
        &self,
        contract: Address,
        from: (u64, u32, u32),
        to_height: u64,
        limit: usize,
    ) -> Result<Vec<IndexedEvent>, StoreError> {
        self.read_block_data(from.0, || {
            self.events_from_unchecked(contract, from, to_height, limit)
        })
    }

    fn events_from_unchecked(
        &self,
        contract: Address,
        (from_height, from_tx, from_event): (u64, u32, u32),
        to_height: u64,
        limit: usize,
    ) -> Result<Vec<IndexedEvent>, StoreError> {
        let mut found = Vec::new();
        if from_height > to_height || limit == 0 {
            return Ok(found);
        }
        let start = keys::event(&contract, from_height, from_tx, from_event);
        let mode = IteratorMode::From(&start, Direction::Forward);
        for item in self.db().iterator_cf(cf(self.db(), keys::EVENTS), mode) {
            let (key, value) = item?;
            if !key.starts_with(&contract.0) {
                break;
            }
            let height = keys::event_height(&key).ok_or_else(|| StoreError::Corrupt {
                what: "event key",
                reason: format!("{} bytes", key.len()),
            })?;
            if height > to_height {
                break;
            }
            let (tx_index, event_index) = keys::event_position(&key).ok_or_else(|| {
                StoreError::Corrupt { what: "event key", reason: format!("{} bytes", key.len()) }
            })?;
            let (tx_id, event) = decode::<(Hash, Event)>(&value, "event")?;
            found.push(IndexedEvent { height, tx_index, event_index, tx_id, event });
            if found.len() == limit {
                break;
            }
        }
        Ok(found)
    }

    /// Writes a consistent copy of the committed database to `dir` (a RocksDB checkpoint: the
    /// memtables are flushed, the table files hard-linked when `dir` is on the same file system,
    /// copied otherwise), while the store stays open and keeps committing. Every block is one
    /// write batch, so the copy holds whole blocks up to some height (read it by opening the
    /// copy). `dir` must not exist yet; its parent must.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StoreError> {
        rocksdb::checkpoint::Checkpoint::new(self.db())?.create_checkpoint(dir)?;
        Ok(())
    }

    /// The bytes given to [`Store::commit_genesis`].
    pub fn genesis_meta(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db().get_cf(cf(self.db(), keys::META), keys::meta::GENESIS)?)
    }

    // ---- state reads ----

    /// The state root after block `height` (0: the genesis state); `None` if not committed;
    /// [`StoreError::Pruned`] below [`Store::earliest_state_height`] (the header has it too).
    pub fn state_root(&self, height: u64) -> Result<Option<Hash>, StoreError> {
        if self.latest_height().is_none_or(|latest| height > latest) {
            return Ok(None);
        }
        self.read_state(height, || self.tree().root(height))
    }

    /// The latest value of a flat key.
    pub fn get(&self, flat_key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let miss = match self.inner.recent_values.get(flat_key) {
            Ok(cached) => return Ok(cached),
            Err(miss) => miss,
        };
        let value = self.db().get_cf(cf(self.db(), keys::STATE), flat_key)?;
        self.inner.recent_values.insert(flat_key, &value, miss);
        Ok(value)
    }

    /// The value of a flat key at the tip: the block being written, else the latest committed.
    pub fn tip_get(&self, flat_key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(pending) = self.pending() {
            if let Some(value) = pending.prepared.writes().get(flat_key) {
                return Ok(value.clone());
            }
        }
        self.get(flat_key)
    }

    /// [`Store::next_from`] at the tip: the committed keys merged with the pending block's writes
    /// (which replace or delete them).
    pub fn tip_next_from(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        let Some(pending) = self.pending() else { return self.next_from(prefix, from) };
        let writes = pending.prepared.writes();
        let mut cursor = from.max(prefix).to_vec();
        loop {
            let committed = self.next_from(prefix, &cursor)?;
            let written =
                writes.range(cursor.clone()..).next().filter(|(k, _)| k.starts_with(prefix));
            match (committed, written) {
                (committed, None) => return Ok(committed),
                (Some(committed), Some((key, _))) if committed.0 < *key => {
                    return Ok(Some(committed))
                }
                (_, Some((key, Some(value)))) => return Ok(Some((key.clone(), value.clone()))),
                // Deleted by the pending block: look after it.
                (_, Some((key, None))) => {
                    cursor = key.clone();
                    cursor.push(0);
                }
            }
        }
    }

    /// The value of a flat key after block `height` (no proof; one seek in the value history);
    /// [`StoreError::Pruned`] below [`Store::earliest_state_height`].
    pub fn get_at(&self, flat_key: &[u8], height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_committed(height)?;
        self.read_state(height, || TreeStore::new(self.db()).get_at(flat_key, height))
    }

    /// The smallest key `k ≥ from` that starts with `prefix`, and its value, in the latest state.
    pub fn next_from(&self, prefix: &[u8], from: &[u8]) -> Result<Option<KeyValue>, StoreError> {
        // Every key with the prefix is ≥ the prefix itself, so starting below it changes nothing.
        let start = from.max(prefix);
        let mut iter = self.db().raw_iterator_cf(cf(self.db(), keys::STATE));
        iter.seek(start);
        iter.status()?;
        Ok(match (iter.key(), iter.value()) {
            (Some(key), Some(value)) if key.starts_with(prefix) => {
                Some((key.to_vec(), value.to_vec()))
            }
            _ => None,
        })
    }

    /// The value of a flat key after block `height` and the proof of it (inclusion, or absence
    /// when `None`) against [`Store::state_root`]`(height)`; [`StoreError::Pruned`] below
    /// [`Store::earliest_state_height`].
    pub fn get_with_proof(
        &self,
        flat_key: &[u8],
        height: u64,
    ) -> Result<(Option<Vec<u8>>, StateProof), StoreError> {
        self.check_committed(height)?;
        self.read_state(height, || self.tree().get_with_proof(flat_key, height))
    }

    fn check_committed(&self, height: u64) -> Result<(), StoreError> {
        let latest = self.latest_height();
        if latest.is_none_or(|latest| height > latest) {
            return Err(StoreError::NotCommitted { requested: height, latest });
        }
        Ok(())
    }

    fn get_decoded<T: BorshDeserialize>(
        &self,
        family: &str,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.db().get_pinned_cf(cf(self.db(), family), key)? {
            Some(bytes) => decode(&bytes, what).map(Some),
            None => Ok(None),
        }
    }
}

/// Refuses a database written with another layout; stamps a new one with this layout.
fn check_format(db: &DB, is_new: bool) -> Result<(), StoreError> {
    let meta = cf(db, keys::META);
    match db.get_cf(meta, keys::meta::FORMAT)? {
        Some(bytes) => {
            let found = bytes.try_into().map(u32::from_be_bytes).unwrap_or(0);
            if found != keys::FORMAT_VERSION {
                return Err(StoreError::Format { expected: keys::FORMAT_VERSION, found });
            }
        }
        None if is_new => {
            db.put_cf(meta, keys::meta::FORMAT, keys::FORMAT_VERSION.to_be_bytes())?
        }
        None => return Err(StoreError::Format { expected: keys::FORMAT_VERSION, found: 0 }),
    }
    Ok(())
}

pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    db.cf_handle(name).expect("every column family is created when the store is opened")
}

pub(crate) fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("encoding to memory cannot fail")
}

pub(crate) fn decode<T: BorshDeserialize>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StoreError> {
    borsh::from_slice(bytes).map_err(|e| StoreError::Corrupt { what, reason: e.to_string() })
}

pub(crate) fn decode_u64(bytes: &[u8], what: &'static str) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        what,
        reason: format!("{} bytes, not 8", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}
