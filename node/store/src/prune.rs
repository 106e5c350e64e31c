//! Pruning: deleting the state and block data below the retention heights, in bounded atomic
//! batches, off the commit path, and compacting what was deleted so that the disk space is
//! reclaimed.
//!
//! **State.** While state pruning is on, every commit also writes to `jmt_stale`, keyed by
//! version, what that version makes stale (`tree::record_stale`): nothing from that version on
//! reads it. Keeping heights `E..=latest` (`E = latest + 1 - state_keep_recent`), the pruner
//! deletes everything stale since a version `≤ E`, oldest first. A key whose last write is a
//! deletion at or below `E` is gone from every kept height: with its history, its preimage
//! (`jmt_preimages`, which snapshots read flat keys from) goes too, checked and written with
//! commits held off so that a block writing the key again cannot lose it.
//!
//! **Blocks.** Below `latest + 1 - blocks_keep_recent` the pruner deletes the blocks, receipts,
//! transaction index entries and events (their keys are read from the receipts before they go).
//! Headers and commits stay at every height: they are small (about 1 KB per height against
//! hundreds of bytes per transaction), the light client verifies from them and sync serves them.
//!
//! Each batch that deletes also records the new `earliest_*` height in `meta`, atomically; the
//! in-memory bar is raised before the batch is written, and reads check it before and after,
//! so a read below it fails with [`StoreError::Pruned`] rather than answering from a
//! half-deleted height. A process killed during pruning reopens with a consistent store and
//! goes on from where it stopped.

use crate::error::StoreError;
use crate::keys;
use crate::store::{cf, decode, Store};
use kessai_primitives::Receipt;
use rocksdb::{ReadOptions, WriteBatch};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How much history a node keeps (`config.toml` `[store]`: `state_keep_recent`,
/// `blocks_keep_recent`, `compaction_interval_secs`; `kessai node run` and
/// `kessai dev` flags `--state-keep-recent N`, `--blocks-keep-recent N`). The default keeps
/// everything (archive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PruningConfig {
    /// Heights of state kept: values, proofs and state roots of the latest `N` heights; 0 keeps
    /// every height (archive, the default). State pruning records what each version makes stale
    /// from the moment it is on: history written while the node was an archive stays.
    pub state_keep_recent: u64,
    /// Heights of blocks kept: blocks, receipts, the transaction index and events of the
    /// latest `N` heights; 0 keeps every height (archive, the default). Headers and commits are
    /// always kept. A node that prunes blocks cannot serve block sync from genesis.
    pub blocks_keep_recent: u64,
    /// Seconds at least between two compactions of the pruned key ranges, which is when RocksDB
    /// gives the space of deleted entries back (default 300).
    pub compaction_interval_secs: u64,
}

impl Default for PruningConfig {
    fn default() -> Self {
        PruningConfig { state_keep_recent: 0, blocks_keep_recent: 0, compaction_interval_secs: 300 }
    }
}

impl PruningConfig {
    /// Keeps every height of state and blocks.
    pub fn is_archive(&self) -> bool {
        self.state_keep_recent == 0 && self.blocks_keep_recent == 0
    }

    /// Refuses a setting the node cannot run with: keeping one height of state would delete
    /// the state of the height below the latest, which the light client reads the latest
    /// block's validator set from.
    pub fn check(&self) -> Result<(), String> {
        if self.state_keep_recent == 1 {
            return Err("state_keep_recent must be 0 (keep every height) or at least 2".into());
        }
        Ok(())
    }

    /// Whether commits record stale tree nodes and values.
    pub(crate) fn prunes_state(&self) -> bool {
        self.state_keep_recent > 0
    }
}

/// The lowest height to keep when `keep` heights up to `latest` are kept (0 = all).
fn keep_from(latest: u64, keep: u64) -> u64 {
    if keep == 0 {
        0
    } else {
        (latest + 1).saturating_sub(keep)
    }
}

/// Entries (tree nodes, value versions, index entries) one batch deletes at most.
const BATCH_ENTRIES: usize = 20_000;

/// What a [`Pruner::run`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Tree nodes, value versions, stale records and preimages of deleted keys deleted.
    pub state_entries: u64,
    /// Heights whose block data was deleted.
    pub blocks: u64,
    /// Atomic batches written.
    pub batches: u64,
    /// Whether the pruned ranges were compacted.
    pub compacted: bool,
    /// The longest time one batch held block commits off (it deletes the preimages of keys whose
    /// history it empties with commits held: `Store::forget_deleted_keys`); a block decided
    /// meanwhile waits this long before its write.
    pub longest_commits_held: Duration,
}

/// Deletes what the store's [`PruningConfig`] no longer keeps. Run it off the commit path (the
/// node runs it on a thread of its own after commits); it writes concurrently with commits,
/// which never touch what it deletes.
pub struct Pruner {
    store: Store,
    /// Where the next scan of `jmt_stale` starts: everything before it is deleted (scanning from
    /// the start would step over the tombstones of every entry deleted since the last
    /// compaction).
    stale_cursor: Vec<u8>,
    last_compaction: Option<Instant>,
    /// Something was deleted since the last compaction.
    deleted_since_compaction: bool,
}

impl Pruner {
    /// A pruner of `store`, with the retention the store was opened with.
    pub fn new(store: &Store) -> Pruner {
        Pruner {
            store: store.clone(),
            stale_cursor: Vec::new(),
            last_compaction: None,
            deleted_since_compaction: false,
        }
    }

    /// Deletes everything due, one atomic batch at a time with `pause` between batches, then
    /// compacts the pruned ranges if the last compaction is older than the configured interval.
    pub fn run(&mut self, pause: Duration) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        // Up to the retention heights of now: under a steady stream of commits the run ends
        // (and compacts) rather than chasing the tip.
        let Some(latest) = self.store.latest_height() else { return Ok(report) };
        loop {
            let state = self.store.prune_state_batch(latest, &mut self.stale_cursor)?;
            let state = state.map(|(deleted, held)| {
                report.longest_commits_held = report.longest_commits_held.max(held);
                deleted
            });
            let blocks = self.store.prune_blocks_batch(latest)?;
            if state.is_none() && blocks.is_none() {
                break;
            }
            report.batches += u64::from(state.is_some()) + u64::from(blocks.is_some());
            report.state_entries += state.unwrap_or(0);
            report.blocks += blocks.unwrap_or(0);
            self.deleted_since_compaction |= state.unwrap_or(0) + blocks.unwrap_or(0) > 0;
            std::thread::sleep(pause);
        }
        let interval = Duration::from_secs(self.store.pruning().compaction_interval_secs);
        if self.deleted_since_compaction
            && self.last_compaction.is_none_or(|last| last.elapsed() >= interval)
        {
            self.compact()?;
            report.compacted = true;
        }
        Ok(report)
    }

    /// Compacts the key ranges pruning deleted from now, whatever the interval.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        self.store.compact_pruned();
        self.last_compaction = Some(Instant::now());
        self.deleted_since_compaction = false;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compacted pruned ranges"
        );
        Ok(())
    }
}

impl Store {
    /// Deletes one batch of state stale since a version at or below the state retention height
    /// of `latest` (a committed height),
    /// scanning `jmt_stale` from `cursor` (advanced past what it deleted). `None` when nothing
    /// was due, else the entries deleted (0: only the earliest height moved) and how long
    /// commits were held off.
    fn prune_state_batch(
        &self,
        latest: u64,
        cursor: &mut Vec<u8>,
    ) -> Result<Option<(u64, Duration)>, StoreError> {
        let keep = self.pruning().state_keep_recent;
        if keep == 0 {
            return Ok(None);
        }
        let retained = keep_from(latest, keep).min(self.snapshot_floor(latest));
        let earliest = self.earliest_state_height().max(retained);
        let db = self.db();
        let (stale, nodes, values) =
            (cf(db, keys::JMT_STALE), cf(db, keys::JMT_NODES), cf(db, keys::JMT_VALUES));
        let mut batch = WriteBatch::default();
        let mut next_cursor = cursor.clone();
        let end = keys::height(earliest + 1);
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(end.to_vec());
        let mut iter = db.raw_iterator_cf_opt(stale, options);
        iter.seek(&cursor);
        // Keys whose deletion this batch removes from their history, with its version: their
        // preimages go too unless the key was written again later (`forget_deleted_keys`).
        let mut deleted_keys = Vec::new();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if batch.len() >= BATCH_ENTRIES {
                break;
            }
            let corrupt = || StoreError::Corrupt {
                what: "stale record",
                reason: format!("key {}", hex::encode(key)),
            };
            let (since, kind, what) = keys::parse_stale(key).ok_or_else(corrupt)?;
            match kind {
                keys::stale::NODE => batch.delete_cf(nodes, what),
                keys::stale::VALUES => {
                    let key_hash = jmt::KeyHash(what.try_into().map_err(|_| corrupt())?);
                    // Every version below `since` (no height from `since` on reads them), and
                    // the deletion written at `since` once nothing older is left.
                    let mut options = ReadOptions::default();
                    options.set_iterate_upper_bound(keys::jmt_value(&key_hash, since).to_vec());
                    let mut history = db.raw_iterator_cf_opt(values, options);
                    history.seek(keys::jmt_value(&key_hash, 0));
                    while let Some(old) = history.key() {
                        batch.delete_cf(values, old);
                        history.next();
                    }
                    history.status()?;
                    if value == [1] {
                        batch.delete_cf(values, keys::jmt_value(&key_hash, since));
                        deleted_keys.push((key_hash, since));
                    }
                }
                _ => return Err(corrupt()),
            }
            batch.delete_cf(stale, key);
            next_cursor = key.to_vec();
            next_cursor.push(0);
            iter.next();
        }
        iter.status()?;
        let moved = earliest > self.stored_earliest(keys::meta::EARLIEST_STATE)?;
        if batch.is_empty() && !moved {
            return Ok(None);
        }
        batch.put_cf(cf(db, keys::META), keys::meta::EARLIEST_STATE, keys::height(earliest));
        self.raise_earliest("state", earliest);
        let write = |batch: WriteBatch| {
            let deleted = batch.len() as u64 - 1; // all but the earliest height's record
            self.write(batch).map(|()| deleted)
        };
        let (deleted, held) = if deleted_keys.is_empty() {
            (write(batch)?, Duration::ZERO)
        } else {
            // Checked and written with commits held off: a block that writes one of these keys
            // again is then either on disk before the check, which sees it, or written after
            // the deletion, putting the preimage back.
            self.with_commits_held(|| {
                let started = Instant::now();
                self.forget_deleted_keys(&mut batch, &deleted_keys)?;
                write(batch).map(|deleted| (deleted, started.elapsed()))
            })?
        };
        *cursor = next_cursor;
        let held_ms = held.as_millis() as u64;
        tracing::debug!(earliest, deleted, forgotten = deleted_keys.len(), held_ms, "pruned state");
        Ok(Some((deleted, held)))
    }

    /// Adds to `batch` the deletion of the preimage of each key deleted at `since` whose history
    /// `batch` empties: those with no value written after `since`. No kept height holds such a
    /// key (it was deleted at or below the earliest state height), so no snapshot serves it.
    /// Call with commits held off.
    fn forget_deleted_keys(
        &self,
        batch: &mut WriteBatch,
        deleted_keys: &[(jmt::KeyHash, u64)],
    ) -> Result<(), StoreError> {
        let db = self.db();
        let (values, preimages) = (cf(db, keys::JMT_VALUES), cf(db, keys::JMT_PREIMAGES));
        for (key_hash, since) in deleted_keys {
            let mut options = ReadOptions::default();
            options.set_iterate_upper_bound(keys::jmt_value(key_hash, u64::MAX).to_vec());
            let mut later = db.raw_iterator_cf_opt(values, options);
            later.seek(keys::jmt_value(key_hash, since.saturating_add(1)));
            let written_again = later.valid();
            later.status()?;
            if !written_again {
                batch.delete_cf(preimages, key_hash.0);
            }
        }
        Ok(())
    }

    /// Deletes the block data of the lowest heights below the block retention height of
    /// `latest` (a committed height), as many
    /// heights as fit one batch (at least one). `None` when nothing was due, else the heights
    /// pruned.
    fn prune_blocks_batch(&self, latest: u64) -> Result<Option<u64>, StoreError> {
        let keep = self.pruning().blocks_keep_recent;
        if keep == 0 {
            return Ok(None);
        }
        // A node joining from the older kept snapshot follows the chain from the block above it.
        let target = keep_from(latest, keep).min(self.snapshot_floor(latest).saturating_add(1));
        let from = self.earliest_block_height();
        if from >= target {
            return Ok(None);
        }
        let db = self.db();
        let (blocks, receipts_cf) = (cf(db, keys::BLOCKS), cf(db, keys::RECEIPTS));
        let (tx_index, events) = (cf(db, keys::TX_INDEX), cf(db, keys::EVENTS));
        let mut batch = WriteBatch::default();
        let mut to = from;
        while to < target && (to == from || batch.len() < BATCH_ENTRIES) {
            let at = keys::height(to);
            let receipts: Vec<Receipt> = match db.get_pinned_cf(receipts_cf, at)? {
                Some(bytes) => decode(&bytes, "receipts")?,
                None => vec![], // genesis, or a height pruned before a crash
            };
            for (index, receipt) in (0u32..).zip(&receipts) {
                batch.delete_cf(tx_index, keys::tx(&receipt.tx_id));
                for (event_index, event) in (0u32..).zip(&receipt.events) {
                    batch.delete_cf(events, keys::event(&event.contract, to, index, event_index));
                }
            }
            batch.delete_cf(blocks, at);
            batch.delete_cf(receipts_cf, at);
            to += 1;
        }
        batch.put_cf(cf(db, keys::META), keys::meta::EARLIEST_BLOCK, keys::height(to));
        self.raise_earliest("block", to);
        self.write(batch)?;
        tracing::debug!(from, to, "pruned blocks");
        Ok(Some(to - from))
    }

    fn stored_earliest(&self, key: &[u8]) -> Result<u64, StoreError> {
        match self.db().get_cf(cf(self.db(), keys::META), key)? {
            Some(bytes) => crate::store::decode_u64(&bytes, "earliest height"),
            None => Ok(0),
        }
    }

    /// Compacts the ranges pruning deletes from, so that RocksDB drops the deleted entries and
    /// their tombstones and gives the space back: tree nodes (keyed version first) below the
    /// earliest state height, value histories and the index families (keyed by hash or
    /// contract: whole), stale records, blocks and receipts below the earliest block height.
    fn compact_pruned(&self) {
        let db = self.db();
        let state = keys::height(self.earliest_state_height());
        let block = keys::height(self.earliest_block_height());
        if self.pruning().state_keep_recent > 0 {
            db.compact_range_cf(cf(db, keys::JMT_NODES), None::<&[u8]>, Some(&state));
            db.compact_range_cf(cf(db, keys::JMT_STALE), None::<&[u8]>, Some(&state));
            db.compact_range_cf(cf(db, keys::JMT_VALUES), None::<&[u8]>, None::<&[u8]>);
            db.compact_range_cf(cf(db, keys::JMT_PREIMAGES), None::<&[u8]>, None::<&[u8]>);
        }
        if self.pruning().blocks_keep_recent > 0 {
            db.compact_range_cf(cf(db, keys::BLOCKS), None::<&[u8]>, Some(&block));
            db.compact_range_cf(cf(db, keys::RECEIPTS), None::<&[u8]>, Some(&block));
            db.compact_range_cf(cf(db, keys::TX_INDEX), None::<&[u8]>, None::<&[u8]>);
            db.compact_range_cf(cf(db, keys::EVENTS), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// Bytes the column families take on disk (live SST files), by family: what pruning and
    /// compaction bring down. For tests and benchmarks.
    pub fn disk_usage(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let db = self.db();
        keys::ALL
            .iter()
            .map(|name| {
                let bytes = db
                    .property_int_value_cf(cf(db, name), "rocksdb.live-sst-files-size")?
                    .unwrap_or(0);
                Ok((*name, bytes))
            })
            .collect()
    }

    /// Writes the memtables to SST files, so that [`Store::disk_usage`] counts everything.
    pub fn flush(&self) -> Result<(), StoreError> {
        let db = self.db();
        for name in keys::ALL {
            db.flush_cf(cf(db, name))?;
        }
        Ok(())
    }
}
