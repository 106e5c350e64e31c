//! The consensus write-ahead log: what this validator signed at the current height, written and
//! fsynced *before* the signed message leaves the process. After a crash the consensus core is
//! restored from it, so the validator never signs a conflicting vote or proposal.
//!
//! Format: a sequence of records `len: u32 LE ‖ blake3(payload)[..8] ‖ payload`. A torn last record
//! (crash mid-write, or a write that failed: a full disk) fails its checksum and is dropped: it was
//! never sent, because sending waits for the fsync. Opening the log cuts such a tail off, so that
//! the records appended after a restart are not hidden behind it.

use anyhow::{Context, Result};
use kessai_primitives::Block;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The consensus write-ahead log file (format above).
pub struct Wal {
    path: PathBuf,
    file: File,
}

impl Wal {
    /// Opens the log at `path` for appending, creating it if it does not exist, and truncates it
    /// after its last intact record (a torn tail would hide every record appended after it).
    pub fn open(path: &Path) -> Result<Wal> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the consensus WAL {}", path.display()))?;
        let wal = Wal { path: path.to_path_buf(), file };
        let (_, intact) = wal.read()?;
        let len = wal.file.metadata()?.len();
        if len > intact {
            tracing::warn!(
                wal = %path.display(),
                dropped_bytes = len - intact,
                "dropping a torn record at the end of the consensus WAL (it was never sent)"
            );
            wal.file.set_len(intact)?;
            wal.file.sync_all().context("fsync of the consensus WAL failed")?;
        }
        Ok(wal)
    }

    /// Appends one record and waits until it is on disk.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        let mut record = Vec::with_capacity(12 + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&blake3::hash(payload).as_bytes()[..8]);
        record.extend_from_slice(payload);
        self.file.write_all(&record)?;
        self.file.sync_data().context("fsync of the consensus WAL failed")?;
        Ok(())
    }

    /// Every intact record, in order.
    pub fn records(&self) -> Result<Vec<Vec<u8>>> {
        Ok(self.read()?.0)
    }

    /// The intact records, in order, and the length of the file they fill.
    fn read(&self) -> Result<(Vec<Vec<u8>>, u64)> {
        let mut bytes = Vec::new();
        File::open(&self.path)?.read_to_end(&mut bytes)?;
        let mut out = Vec::new();
        let mut rest = bytes.as_slice();
        while rest.len() >= 12 {
            let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let Some(payload) = rest.get(12..12 + len) else { break };
            if blake3::hash(payload).as_bytes()[..8] != rest[4..12] {
                break;
            }
            out.push(payload.to_vec());
            rest = &rest[12 + len..];
        }
        Ok((out, (bytes.len() - rest.len()) as u64))
    }

    /// Empties the log once its height is committed.
    pub fn reset(&mut self) -> Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        Ok(())
    }
}

/// The bodies of the blocks this validator signed for (proposed or voted for) at the heights the
/// WAL holds, each written and fsynced before the first signature naming it. The WAL alone says
/// *that* the validator precommitted a block; after a crash before the block reached the store, a
/// lone validator (or one whose peers are all down) can only finish that height with the body.
pub struct BlockJournal {
    dir: PathBuf,
}

impl BlockJournal {
    /// The journal in directory `dir`, created if it does not exist.
    pub fn open(dir: &Path) -> Result<BlockJournal> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the block journal {}", dir.display()))?;
        Ok(BlockJournal { dir: dir.to_path_buf() })
    }

    /// Writes the block durably: to a temporary file, fsynced, renamed into place, directory
    /// fsynced. A crash midway leaves no file under the block's name.
    pub fn save(&self, block: &Block) -> Result<()> {
        let name = format!("{}-{}.block", block.header.height, block.id());
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file = File::create(&tmp)?;
        file.write_all(&borsh::to_vec(block)?)?;
        file.sync_all().context("fsync of the block journal failed")?;
        std::fs::rename(&tmp, self.dir.join(&name))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// The journaled blocks of `height` (an unreadable file is skipped: it cannot be a block
    /// that was signed for, whose file was complete before the signature).
    pub fn load(&self, height: u64) -> Result<Vec<Block>> {
        let prefix = format!("{height}-");
        let mut blocks = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !name.starts_with(&prefix) || !name.ends_with(".block") {
                continue;
            }
            match borsh::from_slice::<Block>(&std::fs::read(&path)?) {
                Ok(block) if block.header.height == height => blocks.push(block),
                _ => {
                    tracing::warn!(file = %path.display(), "skipping an unreadable journaled block")
                }
            }
        }
        Ok(blocks)
    }

    /// Forgets every journaled block, once the WAL of their heights is emptied.
    pub fn clear(&self) -> Result<()> {
        for entry in std::fs::read_dir(&self.dir)? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut wal = Wal::open(&path).unwrap();
        wal.append(b"first").unwrap();
        wal.append(b"second").unwrap();
        drop(wal);
        // A crash mid-write leaves half a record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        let mut wal = Wal::open(&path).unwrap();
        assert_eq!(wal.records().unwrap(), vec![b"first".to_vec(), b"second".to_vec()]);
        wal.reset().unwrap();
        assert!(wal.records().unwrap().is_empty());
        wal.append(b"third").unwrap();
        assert_eq!(wal.records().unwrap(), vec![b"third".to_vec()]);
    }

    /// A write that failed midway (a full disk) leaves a torn record; after the restart the node
    /// signs on and appends. Those records must be readable after the next restart, or the node
    /// would forget what it signed and could sign differently.
    #[test]
    fn records_appended_after_a_torn_tail_survive_the_next_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut wal = Wal::open(&path).unwrap();
        wal.append(b"prevote").unwrap();
        drop(wal);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[40, 0, 0, 0, 7, 7, 7]).unwrap();
        let mut wal = Wal::open(&path).unwrap();
        wal.append(b"precommit").unwrap();
        drop(wal);
        let wal = Wal::open(&path).unwrap();
        assert_eq!(wal.records().unwrap(), vec![b"prevote".to_vec(), b"precommit".to_vec()]);
    }

    #[test]
    fn corrupted_record_stops_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut wal = Wal::open(&path).unwrap();
        wal.append(b"good").unwrap();
        wal.append(b"flipped").unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(Wal::open(&path).unwrap().records().unwrap(), vec![b"good".to_vec()]);
    }

    #[test]
    fn journaled_blocks_survive_reopen_by_height_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let journal = BlockJournal::open(&dir.path().join("blocks")).unwrap();
        let (a, b) = (block_at(7, 1), block_at(8, 2));
        journal.save(&a).unwrap();
        journal.save(&b).unwrap();
        // A torn write never got its final name, and a stray file is not a block.
        std::fs::write(dir.path().join("blocks/8-x.block.tmp"), b"torn").unwrap();
        std::fs::write(dir.path().join("blocks/8-y.block"), b"garbage").unwrap();
        let journal = BlockJournal::open(&dir.path().join("blocks")).unwrap();
        assert_eq!(journal.load(7).unwrap(), vec![a]);
        assert_eq!(journal.load(8).unwrap(), vec![b]);
        assert!(journal.load(9).unwrap().is_empty());
        journal.clear().unwrap();
        assert!(journal.load(8).unwrap().is_empty());
    }

    fn block_at(height: u64, time_ms: u64) -> Block {
        use kessai_primitives::{Hash, Header, PublicKey};
        let header = Header {
            protocol_version: 1,
            chain_id: "wal-test".into(),
            height,
            time_ms,
            parent: Hash::ZERO,
            proposer: PublicKey([1; 32]),
            tx_count: 0,
            txs_root: Block::txs_root(&[]),
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
            next_validators_hash: Hash::ZERO,
            last_commit_hash: Hash::ZERO,
            evidence_hash: Block::evidence_hash(&[]),
        };
        Block { header, txs: vec![], last_commit: None, evidence: vec![] }
    }
}
