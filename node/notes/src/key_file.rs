//! Terminal keys on disk: one JSON file per terminal, readable only by its owner. The key is used
//! on the terminal to make notes and is never sent anywhere (not to the node, not in a
//! transaction): the ledger only ever sees commitments.

use crate::TerminalKey;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::Path;

/// The `version` this client writes and the only one it reads.
pub const KEY_FILE_VERSION: u32 = 1;

/// `{"version": 1, "terminal": "<name>", "key": "<64 hex>"}`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalKeyFile {
    /// The file format's version; [`TerminalKeyFile::read`] accepts only [`KEY_FILE_VERSION`].
    pub version: u32,
    /// The terminal's name, for people; the key does not depend on it.
    pub terminal: String,
    /// The 32-byte key, hex.
    key: String,
}

impl TerminalKeyFile {
    /// The file of `terminal`'s key, at the current version.
    pub fn new(terminal: &str, key: &TerminalKey) -> TerminalKeyFile {
        TerminalKeyFile {
            version: KEY_FILE_VERSION,
            terminal: terminal.into(),
            key: hex::encode(key.as_bytes()),
        }
    }

    /// The key; an `InvalidData` error when it is not 64 hex characters.
    pub fn key(&self) -> io::Result<TerminalKey> {
        let bytes: [u8; 32] = hex::decode(&self.key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid("key must be 64 hex characters"))?;
        Ok(TerminalKey::from_bytes(bytes))
    }

    /// Reads and checks a key file.
    pub fn read(path: &Path) -> io::Result<TerminalKeyFile> {
        let text = std::fs::read_to_string(path)?;
        let file: TerminalKeyFile = serde_json::from_str(&text)
            .map_err(|e| invalid(&format!("{} is not a terminal key file: {e}", path.display())))?;
        if file.version != KEY_FILE_VERSION {
            return Err(invalid(&format!(
                "{}: unsupported key file version {}",
                path.display(),
                file.version
            )));
        }
        file.key()?;
        Ok(file)
    }

    /// Writes a new key file (mode 0600 on Unix); refuses to replace an existing one, whose notes
    /// could then no longer be checked.
    pub fn create(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")
    }
}

impl std::fmt::Debug for TerminalKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalKeyFile").field("terminal", &self.terminal).finish_non_exhaustive()
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}
