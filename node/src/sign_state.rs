//! The validator's signing state: the last (height, round, step) its key signed, kept **beside the
//! key** (`HOME/sign_state.json`), not in `data/`, as CometBFT keeps `priv_validator_state.json`.
//!
//! The consensus WAL (`crate::wal`) lives in `data/` and only holds the current height, so a wiped
//! or restored `data/` forgets what was signed: the node would sync, reach a height or round it
//! had already signed at, and could sign a conflicting proposal or vote — equivocation, which the
//! other validators record as evidence. The guard refuses any new signature at or below the last
//! one unless it is the very same message (a re-send after a crash is harmless); the state is
//! written and fsynced **before** the signature is persisted to the WAL or sent.
//!
//! # File format
//!
//! Two slots of [`SLOT_BYTES`], each one line of JSON padded with spaces:
//! `{"seq":N,"last_signed":…|null,"check":"<blake3 of {"seq":N,"last_signed":…}>"}`. A write goes
//! in place to the slot the newest does not occupy (`seq` alternates), then `fdatasync`: the file
//! never grows after its creation, so a full disk cannot stop a validator from recording what it
//! signs (a new file per write could), and a torn write leaves the other slot — the previous
//! state — intact. Reading takes the valid slot with the highest `seq`.
//!
//! A home made by `kessai init` starts with a state that has never signed. A validator whose state
//! file is missing refuses to start, unless its `data/` shows what it signed (a home from before
//! this file existed: the state is derived from the store's height and the WAL) or the operator
//! states that the key has never signed (`kessai node run --allow-missing-sign-state`).
//!
//! The guard is checked inside the [`crate::signer::Signer`] that signs (in the node, or in the
//! remote signer `kessai signer run`), so no path signs without it. Two processes running the
//! same key, each with its own state file, are not prevented from signing at the same moment;
//! one signer process for both (a remote signer) is, and `double_sign_check_height` stops a
//! process that sees the other's precommits.

use anyhow::{bail, Context, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_consensus::Message;
use kessai_primitives::{Hash, VoteKind};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The step a signature was made in, in the order they happen within a round.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    BorshSerialize,
    BorshDeserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SignStep {
    /// A proposal.
    Propose,
    /// A prevote.
    Prevote,
    /// A precommit.
    Precommit,
}

/// The last signature: where, and which message (blake3 of its borsh encoding).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize,
)]
pub struct LastSigned {
    /// Height of the signed message.
    pub height: u64,
    /// Round of the signed message.
    pub round: u32,
    /// Step of the signed message.
    pub step: SignStep,
    /// blake3 of the message's borsh encoding; `None` when the state was derived from `data/`
    /// (no message at that position may be signed again).
    pub message: Option<Hash>,
}

impl LastSigned {
    /// (height, round, step): the order signatures are made in.
    pub fn position(&self) -> (u64, u32, SignStep) {
        (self.height, self.round, self.step)
    }
}

/// The bytes of one slot of the file (see the module docs).
pub const SLOT_BYTES: usize = 512;

/// What a slot records, before its check.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// Write counter: the slot with the highest is the newest.
    seq: u64,
    /// `None`: this key has never signed.
    last_signed: Option<LastSigned>,
}

/// A slot as stored: the state and blake3 of its JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Slot {
    seq: u64,
    last_signed: Option<LastSigned>,
    check: Hash,
}

/// What the guard says about a message the core has just signed.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A new position, now recorded: persist and send it.
    Sign,
    /// The message already recorded as the last one: sending it again is harmless.
    Resend,
    /// At or below the last signed position, and not the same message: never send it.
    Refuse(String),
}

/// The signing state file of one validator key (see the module docs).
#[derive(Debug)]
pub struct SignGuard {
    path: PathBuf,
    file: File,
    seq: u64,
    last: Option<LastSigned>,
}

impl SignGuard {
    /// Writes a state that has never signed, for a new key (`kessai init`). Refuses to overwrite
    /// an existing state.
    pub fn create_fresh(path: &Path) -> Result<()> {
        if path.exists() {
            bail!("{} already exists: a key's signing state is never reset", path.display());
        }
        create(path, None).map(|_| ())
    }

    /// Opens the state at `path`. When it is missing, `derive` says what `data/` shows was
    /// signed (the store's height, the WAL's records): `Some` writes that as the state; `None`
    /// (nothing in `data/`) refuses to start unless `allow_missing`.
    pub fn open(
        path: &Path,
        allow_missing: bool,
        derive: impl FnOnce() -> Result<Option<LastSigned>>,
    ) -> Result<SignGuard> {
        if path.exists() {
            let bytes = fs::read(path)
                .with_context(|| format!("cannot read the signing state {}", path.display()))?;
            let Some(state) = newest_slot(&bytes) else {
                bail!("the signing state {} is damaged; do not delete it: restore it from a backup of this key's state", path.display());
            };
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open the signing state {}", path.display()))?;
            return Ok(SignGuard {
                path: path.to_path_buf(),
                file,
                seq: state.seq,
                last: state.last_signed,
            });
        }
        let last = match derive()? {
            Some(derived) => {
                tracing::warn!(
                    state = %path.display(),
                    height = derived.height,
                    "no signing state beside the key: derived it from data/ (a home from an older Kessai)"
                );
                Some(derived)
            }
            None if allow_missing => {
                tracing::warn!(state = %path.display(), "no signing state: starting as a key that has never signed (--allow-missing-sign-state)");
                None
            }
            None => bail!(
                "the signing state {} is missing and data/ is empty: if this validator key has signed before (data/ wiped or restored from a backup), signing again could sign a conflicting vote. Restore the state file with the key; only if this key has never signed, start once with --allow-missing-sign-state",
                path.display()
            ),
        };
        let file = create(path, last)?;
        Ok(SignGuard { path: path.to_path_buf(), file, seq: 0, last })
    }

    /// The last signed position, if any.
    pub fn last(&self) -> Option<LastSigned> {
        self.last
    }

    /// Checks a message the core has just signed and, when it is new, records it durably before
    /// returning [`Verdict::Sign`].
    pub fn check(&mut self, message: &Message) -> Result<Verdict> {
        let next = LastSigned {
            height: message.height(),
            round: message.round(),
            step: step_of(message),
            message: Some(Hash::digest(&borsh::to_vec(message)?)),
        };
        if let Some(last) = self.last {
            match next.position().cmp(&last.position()) {
                Ordering::Greater => {}
                Ordering::Equal if last.message == next.message => return Ok(Verdict::Resend),
                _ => {
                    return Ok(Verdict::Refuse(format!(
                        "refusing to sign {:?} at height {} round {}: this key already signed {:?} at height {} round {} ({}); data/ may have been wiped or restored",
                        next.step, next.height, next.round, last.step, last.height, last.round, self.path.display()
                    )))
                }
            }
        }
        let state = State { seq: self.seq + 1, last_signed: Some(next) };
        write_slot(&self.file, &state)
            .with_context(|| format!("cannot write the signing state {}", self.path.display()))?;
        self.seq = state.seq;
        self.last = Some(next);
        Ok(Verdict::Sign)
    }
}

/// The signing step of a message.
pub fn step_of(message: &Message) -> SignStep {
    match message {
        Message::Proposal(_) => SignStep::Propose,
        Message::Vote(v) => match v.vote.kind {
            VoteKind::Prevote => SignStep::Prevote,
            VoteKind::Precommit => SignStep::Precommit,
        },
    }
}

/// Creates the file with both slots (the state as `seq` 0 and an empty slot), fsynced with its
/// directory; it never grows after this.
fn create(path: &Path, last_signed: Option<LastSigned>) -> Result<File> {
    let make = || -> Result<File> {
        let tmp = path.with_extension("json.tmp");
        let mut file = File::create(&tmp)?;
        let mut bytes = slot_bytes(&State { seq: 0, last_signed })?;
        bytes.extend(std::iter::repeat_n(b' ', SLOT_BYTES - 1).chain([b'\n']));
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(OpenOptions::new().write(true).open(path)?)
    };
    make().with_context(|| format!("cannot write the signing state {}", path.display()))
}

/// One slot's bytes: the JSON line with its check, padded to [`SLOT_BYTES`].
fn slot_bytes(state: &State) -> Result<Vec<u8>> {
    let check = Hash::digest(serde_json::to_string(state)?.as_bytes());
    let slot = Slot { seq: state.seq, last_signed: state.last_signed, check };
    let mut line = serde_json::to_string(&slot)?.into_bytes();
    anyhow::ensure!(line.len() < SLOT_BYTES, "a signing state does not fit its slot");
    line.resize(SLOT_BYTES - 1, b' ');
    line.push(b'\n');
    Ok(line)
}

/// Overwrites the slot `state.seq` selects, then waits until it is on disk.
fn write_slot(file: &File, state: &State) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let offset = (state.seq % 2) * SLOT_BYTES as u64;
    file.write_all_at(&slot_bytes(state)?, offset)?;
    file.sync_data()?;
    Ok(())
}

/// The newest slot whose check holds, if any.
fn newest_slot(bytes: &[u8]) -> Option<State> {
    bytes
        .chunks(SLOT_BYTES)
        .filter_map(|chunk| {
            let slot: Slot = serde_json::from_slice(chunk.trim_ascii()).ok()?;
            let state = State { seq: slot.seq, last_signed: slot.last_signed };
            let check = Hash::digest(serde_json::to_string(&state).ok()?.as_bytes());
            (check == slot.check).then_some(state)
        })
        .max_by_key(|state| state.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kessai_primitives::{Keypair, Vote};

    fn vote(height: u64, round: u32, kind: VoteKind, block: u8) -> Message {
        let key = Keypair::dev("validator-0");
        let vote = Vote {
            chain_id: "test".into(),
            height,
            round,
            kind,
            block: Some(Hash([block; 32])),
            validator: key.public(),
        };
        Message::Vote(vote.sign(&key))
    }

    fn fresh() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sign_state.json");
        SignGuard::create_fresh(&path).unwrap();
        (dir, path)
    }

    #[test]
    fn signs_forward_resends_the_same_and_refuses_anything_else() {
        let (_dir, path) = fresh();
        let mut guard = SignGuard::open(&path, false, || unreachable!()).unwrap();
        assert_eq!(guard.check(&vote(5, 0, VoteKind::Prevote, 1)).unwrap(), Verdict::Sign);
        assert_eq!(guard.check(&vote(5, 0, VoteKind::Prevote, 1)).unwrap(), Verdict::Resend);
        // Same position, another block: equivocation.
        assert!(matches!(
            guard.check(&vote(5, 0, VoteKind::Prevote, 2)).unwrap(),
            Verdict::Refuse(_)
        ));
        assert_eq!(guard.check(&vote(5, 0, VoteKind::Precommit, 1)).unwrap(), Verdict::Sign);
        // Back to an earlier step, round or height: refused.
        assert!(matches!(
            guard.check(&vote(5, 0, VoteKind::Prevote, 1)).unwrap(),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            guard.check(&vote(4, 9, VoteKind::Precommit, 1)).unwrap(),
            Verdict::Refuse(_)
        ));
        assert_eq!(guard.check(&vote(5, 1, VoteKind::Prevote, 3)).unwrap(), Verdict::Sign);
    }

    #[test]
    fn the_state_survives_reopening() {
        let (_dir, path) = fresh();
        let mut guard = SignGuard::open(&path, false, || unreachable!()).unwrap();
        guard.check(&vote(7, 2, VoteKind::Precommit, 1)).unwrap();
        drop(guard);
        let mut reopened = SignGuard::open(&path, false, || unreachable!()).unwrap();
        assert_eq!(reopened.last().map(|l| (l.height, l.round)), Some((7, 2)));
        assert!(matches!(
            reopened.check(&vote(7, 2, VoteKind::Prevote, 1)).unwrap(),
            Verdict::Refuse(_)
        ));
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_missing_state_is_derived_from_data_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sign_state.json");
        let error = SignGuard::open(&path, false, || Ok(None)).unwrap_err().to_string();
        assert!(error.contains("is missing and data/ is empty"), "{error}");
        assert!(!path.exists());
        let derived =
            LastSigned { height: 9, round: u32::MAX, step: SignStep::Precommit, message: None };
        let mut guard = SignGuard::open(&path, false, || Ok(Some(derived))).unwrap();
        assert!(matches!(
            guard.check(&vote(9, 0, VoteKind::Prevote, 1)).unwrap(),
            Verdict::Refuse(_)
        ));
        assert_eq!(guard.check(&vote(10, 0, VoteKind::Prevote, 1)).unwrap(), Verdict::Sign);
        let other = dir.path().join("other.json");
        assert!(SignGuard::open(&other, true, || Ok(None)).unwrap().last().is_none());
        assert!(SignGuard::create_fresh(&path).is_err(), "a state is never reset");
    }

    #[test]
    fn a_torn_write_leaves_the_previous_state_and_the_file_never_grows() {
        let (_dir, path) = fresh();
        let mut guard = SignGuard::open(&path, false, || unreachable!()).unwrap();
        guard.check(&vote(3, 0, VoteKind::Prevote, 1)).unwrap();
        guard.check(&vote(3, 0, VoteKind::Precommit, 1)).unwrap();
        drop(guard);
        assert_eq!(fs::metadata(&path).unwrap().len(), 2 * SLOT_BYTES as u64);
        // The newest write (seq 2, slot 0) torn: the precommit's record is gone, the prevote's
        // (seq 1) is what the key last signed as far as this file knows.
        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let reopened = SignGuard::open(&path, false, || unreachable!()).unwrap();
        assert_eq!(reopened.last().map(|l| l.step), Some(SignStep::Prevote));
    }

    #[test]
    fn a_damaged_state_refuses_to_start() {
        let (_dir, path) = fresh();
        fs::write(&path, "{ not json").unwrap();
        let error = SignGuard::open(&path, true, || Ok(None)).unwrap_err().to_string();
        assert!(error.contains("damaged"), "{error}");
    }
}
