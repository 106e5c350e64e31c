//! A light home: the directory where the light client keeps what it trusts between runs
//! (`kessai light init` writes it; every verified read may start from it).
//!
//! - `trusted.json`: the latest verified header with its commit and both validator sets
//!   ([`TrustedState`] as JSON, re-checked on every load);
//! - `options.json`: the trust options chosen at init ([`TrustOptions`]);
//! - `fork-evidence.json`, once a fork was seen: every read refuses until an operator removes it or
//!   re-initialises the home.

use anyhow::{anyhow, bail, Context, Result};
use kessai_light_client::{FileStore, ForkEvidence, TrustOptions, TrustedState};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The light client's directory: trusted state, options, fork evidence.
#[derive(Clone, Debug)]
pub struct LightHome {
    dir: PathBuf,
}

impl LightHome {
    /// The light home in `dir` (nothing is read or created until it is used).
    pub fn new(dir: impl Into<PathBuf>) -> LightHome {
        LightHome { dir: dir.into() }
    }

    /// `$KESSAI_LIGHT_HOME`, else `~/.kessai/light` (`.kessai-light` without a home directory).
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("KESSAI_LIGHT_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        std::env::var_os("HOME").map_or_else(
            || PathBuf::from(".kessai-light"),
            |h| PathBuf::from(h).join(".kessai/light"),
        )
    }

    /// The home's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store of the trusted state, `trusted.json`.
    pub fn store(&self) -> FileStore {
        FileStore::new(self.dir.join("trusted.json"))
    }

    /// `options.json`: the trust options chosen at init.
    pub fn options_path(&self) -> PathBuf {
        self.dir.join("options.json")
    }

    /// `fork-evidence.json`: present once a fork was seen, and then every read refuses.
    pub fn fork_path(&self) -> PathBuf {
        self.dir.join("fork-evidence.json")
    }

    /// True when the home holds a trusted state (checked or not).
    pub fn is_initialised(&self) -> bool {
        self.store().path().exists()
    }

    /// The stored state's chain id, without the checks of [`LightHome::load`]: to choose a home
    /// for a chain, never to trust anything.
    pub fn chain_id(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.store().path()).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        value["chain_id"].as_str().map(str::to_string)
    }

    /// The trusted state and options; refuses while fork evidence is waiting for an operator.
    pub fn load(&self) -> Result<(TrustedState, TrustOptions)> {
        if self.fork_path().exists() {
            bail!(
                "a fork was detected earlier (evidence in {}): investigate it, then remove the file \
                 or re-initialise with `kessai light init --force`",
                self.fork_path().display()
            );
        }
        let trusted = self.store().load().map_err(|e| anyhow!("{e}"))?.ok_or_else(|| {
            anyhow!("no trusted state in {}: run `kessai light init` first", self.dir.display())
        })?;
        let text = std::fs::read_to_string(self.options_path())
            .with_context(|| format!("cannot read {}", self.options_path().display()))?;
        let options = serde_json::from_str(&text).with_context(|| {
            format!("{} is not valid trust options", self.options_path().display())
        })?;
        Ok((trusted, options))
    }

    /// Replaces what the home trusts (at `kessai light init`), clearing any fork evidence.
    pub fn save(&self, trusted: &TrustedState, options: &TrustOptions) -> Result<()> {
        let _ = std::fs::remove_file(self.fork_path());
        self.store().save(trusted).map_err(|e| anyhow!("{e}"))?;
        let text = serde_json::to_string_pretty(options).expect("options serialise");
        std::fs::write(self.options_path(), text)
            .with_context(|| format!("cannot write {}", self.options_path().display()))
    }

    /// Keeps `trusted` if it is newer than what is stored (reads of old heights verify old
    /// headers; the root of the next sync stays the newest).
    pub fn advance(&self, trusted: &TrustedState, stored_height: u64) -> Result<()> {
        if trusted.height() > stored_height {
            self.store().save(trusted).map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    }

    /// Writes a fork down for the operator; from then on [`LightHome::load`] refuses.
    pub fn record_fork(&self, evidence: &ForkEvidence, witness_url: &str) -> Result<PathBuf> {
        let record = json!({ "witness": witness_url, "evidence": evidence,
            "double_signers": evidence.double_signers() });
        let path = self.fork_path();
        std::fs::write(&path, serde_json::to_string_pretty(&record).expect("serialises"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}
