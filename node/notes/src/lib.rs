//! The terminal side of the `notes` contract (`contracts/notes`, JP7005000B2).
//!
//! A member's terminal holds a secret [`TerminalKey`] that never leaves it (one file per terminal,
//! see [`TerminalKeyFile`]). Once the contract has accepted an issuance, the terminal's note is
//!
//! ```text
//! note = contract ‖ amount ‖ user ‖ serial ‖ expiry_ms ‖ mac          (120 bytes, integers LE)
//! mac  = blake3::keyed_hash(terminal_key, contract ‖ amount ‖ user ‖ serial ‖ expiry_ms)
//! ```
//!
//! — exactly the borsh of the contract's `Note`. Everything but the MAC is public on the ledger
//! (it is in the issue transaction); the MAC is what nobody without the terminal key can produce.
//! The contract address is in the MAC so that one terminal used with two contracts never makes
//! the same MAC twice. The ledger keeps only the [`Note::commitment`] `blake3(note)`; a redeemer
//! commits to [`Note::redeem_hash`] `blake3(note ‖ payee)` and reveals the note in a later block.
//!
//! As text ([`Note::encode`], [`Note::parse`]) a note is `KESSAI-NOTE:1:` followed by the
//! unpadded RFC 4648 base32 of `note ‖ checksum` (the checksum is the first 4 bytes of the
//! commitment, to catch a mistyped or damaged note before it reaches the chain): 213 characters,
//! all in the QR code's alphanumeric set (`0-9 A-Z $%*+-./:` and space), so a QR code holds it in
//! alphanumeric mode. Parsing ignores case and surrounding whitespace.
//!
//! [`letters_to_digits`] is the patent's letter-to-digit rule of its time-synchronised keys.
//!
//! [`ledger`] talks to the chain through a node's JSON-RPC (on `kessai-client`): issuing a note,
//! checking one against the ledger, redeeming it by commit–reveal.

mod key_file;
pub mod ledger;
mod letters;

pub use key_file::{TerminalKeyFile, KEY_FILE_VERSION};
pub use ledger::{resolve_address, Issuance, NoteStatus, NotesLedger, Redemption};
pub use letters::letters_to_digits;

use data_encoding::BASE32_NOPAD;
use std::fmt;
use std::str::FromStr;

/// Length of a note's bytes.
pub const NOTE_LEN: usize = 120;
/// Length of the text checksum (the commitment's first bytes).
pub const CHECKSUM_LEN: usize = 4;
/// Text prefix up to the version.
pub const TEXT_SCHEME: &str = "KESSAI-NOTE";
/// The only text version so far.
pub const TEXT_VERSION: u32 = 1;

/// Why a text or byte string is not a note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text does not start with `KESSAI-NOTE:`, or has no `:` after the version.
    #[error("not a Kessai note: it must start with {TEXT_SCHEME}:")]
    NotANote,
    #[error(
        "note format version {0:?} is not supported (this client reads version {TEXT_VERSION})"
    )]
    /// The text's version (given) is not [`TEXT_VERSION`].
    UnsupportedVersion(String),
    #[error("the note's data is not base32 (character {position}: {reason})")]
    /// The data after the version is not unpadded base32.
    NotBase32 {
        /// The first offending character, counted from 1 in the data after the version.
        position: usize,
        /// The decoder's reason.
        reason: String,
    },
    #[error("the note's data has {got} bytes, not {expected}")]
    /// The decoded data (note and checksum) or the note's bytes have the wrong length.
    WrongLength {
        /// Bytes given.
        got: usize,
        /// Bytes required: [`NOTE_LEN`] + [`CHECKSUM_LEN`] for text, [`NOTE_LEN`] for bytes.
        expected: usize,
    },
    #[error("the note is damaged or mistyped: its checksum does not match")]
    /// The checksum is not the first [`CHECKSUM_LEN`] bytes of the note's commitment.
    BadChecksum,
    #[error("{0:?} has no digit form (letters a-z, digits and ( ) ! only)")]
    /// [`letters_to_digits`] met a character that has no digit form (the one given).
    NoDigitForm(char),
}

/// A terminal's secret key: 32 bytes for keyed blake3. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TerminalKey([u8; 32]);

impl TerminalKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> TerminalKey {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TerminalKey(bytes)
    }

    /// The key with these 32 bytes (as read from a key file).
    pub const fn from_bytes(bytes: [u8; 32]) -> TerminalKey {
        TerminalKey(bytes)
    }

    /// The key's 32 bytes, to write to the terminal's key file and nowhere else.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The note of an accepted issuance.
    pub fn make_note(
        &self,
        contract: [u8; 32],
        amount: u64,
        user: [u8; 32],
        serial: u64,
        expiry_ms: u64,
    ) -> Note {
        let mac = self.mac(&contract, amount, &user, serial, expiry_ms);
        Note(NoteFields { contract, amount, user, serial, expiry_ms, mac })
    }

    /// True when this terminal made `note`.
    pub fn made(&self, note: &Note) -> bool {
        self.mac(&note.contract, note.amount, &note.user, note.serial, note.expiry_ms) == note.mac
    }

    fn mac(
        &self,
        contract: &[u8; 32],
        amount: u64,
        user: &[u8; 32],
        serial: u64,
        expiry_ms: u64,
    ) -> [u8; 32] {
        let mut data = Vec::with_capacity(NOTE_LEN - 32);
        data.extend_from_slice(contract);
        data.extend_from_slice(&amount.to_le_bytes());
        data.extend_from_slice(user);
        data.extend_from_slice(&serial.to_le_bytes());
        data.extend_from_slice(&expiry_ms.to_le_bytes());
        *blake3::keyed_hash(&self.0, &data).as_bytes()
    }
}

impl fmt::Debug for TerminalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TerminalKey(..)")
    }
}

/// The contract's `Note` (`contracts/notes-types`: its fields and their borsh), with the raw
/// 32-byte addresses the terminal hashes.
pub type NoteFields = notes_types::Note<[u8; 32]>;

/// A note: a bearer claim on `amount` of the collateral the notes contract `contract` holds for
/// serial `serial` of member `user`, redeemable while the block time is before `expiry_ms`.
///
/// Its fields are the contract's own `Note` ([`NoteFields`], read through `Deref`), declared once
/// in `notes-types`; this type adds what the terminal side does with them: the text form, the
/// commitment and redeem hash, and the MAC check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note(pub NoteFields);

impl std::ops::Deref for Note {
    type Target = NoteFields;

    fn deref(&self) -> &NoteFields {
        &self.0
    }
}

impl Note {
    /// The note's bytes: the borsh of the contract's `Note`.
    pub fn to_bytes(&self) -> [u8; NOTE_LEN] {
        let bytes = borsh::to_vec(&self.0).expect("borsh into a Vec");
        bytes.try_into().expect("a note's borsh is 120 bytes")
    }

    /// The note of [`NOTE_LEN`] bytes (any 120 bytes are a note; the MAC is not checked here);
    /// [`NoteError::WrongLength`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Note, NoteError> {
        let bytes: &[u8; NOTE_LEN] = bytes
            .try_into()
            .map_err(|_| NoteError::WrongLength { got: bytes.len(), expected: NOTE_LEN })?;
        Ok(Note(borsh::from_slice(bytes).expect("every 120 bytes are a note")))
    }

    /// What the ledger records at issuance: `blake3(note)`.
    pub fn commitment(&self) -> [u8; 32] {
        *blake3::hash(&self.to_bytes()).as_bytes()
    }

    /// What a redeemer commits to before revealing the note: `blake3(note ‖ payee)`.
    pub fn redeem_hash(&self, payee: &[u8; 32]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.to_bytes());
        hasher.update(payee);
        *hasher.finalize().as_bytes()
    }

    /// The QR-friendly text form: `KESSAI-NOTE:1:<BASE32(note ‖ checksum)>`.
    pub fn encode(&self) -> String {
        let mut data = self.to_bytes().to_vec();
        data.extend_from_slice(&self.commitment()[..CHECKSUM_LEN]);
        format!("{TEXT_SCHEME}:{TEXT_VERSION}:{}", BASE32_NOPAD.encode(&data))
    }

    /// Reads the text form (any case, surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Note, NoteError> {
        let text = text.trim().to_ascii_uppercase();
        let rest = text
            .strip_prefix(TEXT_SCHEME)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or(NoteError::NotANote)?;
        let (version, data) = rest.split_once(':').ok_or(NoteError::NotANote)?;
        if version != TEXT_VERSION.to_string() {
            return Err(NoteError::UnsupportedVersion(version.to_string()));
        }
        let data = BASE32_NOPAD.decode(data.as_bytes()).map_err(|e| NoteError::NotBase32 {
            position: e.position + 1,
            reason: e.kind.to_string(),
        })?;
        if data.len() != NOTE_LEN + CHECKSUM_LEN {
            return Err(NoteError::WrongLength {
                got: data.len(),
                expected: NOTE_LEN + CHECKSUM_LEN,
            });
        }
        let note = Note::from_bytes(&data[..NOTE_LEN])?;
        if note.commitment()[..CHECKSUM_LEN] != data[NOTE_LEN..] {
            return Err(NoteError::BadChecksum);
        }
        Ok(note)
    }

    /// The note as the contract's interface writes it in JSON (`reveal_redeem`'s `note`).
    pub fn to_abi_json(&self) -> serde_json::Value {
        serde_json::json!({
            "contract": hex::encode(self.contract),
            "amount": self.amount,
            "user": hex::encode(self.user),
            "serial": self.serial,
            "expiry_ms": self.expiry_ms,
            "mac": hex::encode(self.mac),
        })
    }
}

impl FromStr for Note {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Note, NoteError> {
        Note::parse(text)
    }
}

impl fmt::Display for Note {
    /// The text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests;
