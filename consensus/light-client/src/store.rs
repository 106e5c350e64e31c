//! Keeping the trusted state on disk between runs (feature `std-fs`).

use crate::error::Error;
use crate::state::TrustedState;
use std::path::{Path, PathBuf};

/// One JSON file holding the latest [`TrustedState`]. Writes go to a temporary file renamed over
/// the old one, so a crash leaves either the old state or the new one, never half of each.
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store in the JSON file at `path` (created, with its directory, on the first save).
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore { path: path.into() }
    }

    /// The file the state is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored state, checked ([`TrustedState::check`]); `None` when nothing was stored yet.
    pub fn load(&self) -> Result<Option<TrustedState>, Error> {
        match std::fs::read_to_string(&self.path) {
            Ok(json) => TrustedState::from_json(&json).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Store(format!("reading {}: {e}", self.path.display()))),
        }
    }

    /// Writes `state` as JSON ([`TrustedState::to_json`]), replacing what was stored.
    pub fn save(&self, state: &TrustedState) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::Store(format!("writing {}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        std::fs::write(&temporary, state.to_json()).map_err(io)?;
        std::fs::rename(&temporary, &self.path).map_err(io)
    }
}
