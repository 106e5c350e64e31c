//! The consensus write-ahead log: what this validator signed at the current height, written and
//! fsynced *before* the signed message leaves the process. After a crash the consensus core is
//! restored from it, so the validator never signs a conflicting vote or proposal.
//!
//! Format: a sequence of records `len: u32 LE ‖ blake3(payload)[..8] ‖ payload`. A torn last record
//! (crash mid-write) fails its checksum and is dropped: it was never sent, because sending waits for
//! the fsync.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub struct Wal {
    path: PathBuf,
    file: File,
}

impl Wal {
    pub fn open(path: &Path) -> Result<Wal> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the consensus WAL {}", path.display()))?;
        Ok(Wal { path: path.to_path_buf(), file })
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
        Ok(out)
    }

    /// Empties the log once its height is committed.
    pub fn reset(&mut self) -> Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
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
}
