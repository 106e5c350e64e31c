//! The configuration file of `kessai intermediary serve` (JSON; relative paths are relative to
//! the file's directory):
//!
//! ```json
//! {
//!   "name": "Da",
//!   "key": "keys/bob.json",
//!   "node_rpc": "http://127.0.0.1:8545",
//!   "trust_spec": "chainspec.json",
//!   "listen": "127.0.0.1:9701",
//!   "peers": ["http://127.0.0.1:9702"],
//!   "journal": "da-reports.jsonl",
//!   "consumers": [
//!     { "name": "Ca", "address": "<64 hex>", "renewable_target_percent": 40,
//!       "methods": ["Solar", "Oil"], "planned_wh_per_slot": 10000 }
//!   ]
//! }
//! ```

use super::asset::ProductionMethod;
use super::mediation::ConsumerContract;
use anyhow::{bail, Context, Result};
use kessai_primitives::{Address, Hash};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The configuration file's contents (see the module's example); [`ServiceConfig::load`] reads
/// and checks it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// How the intermediary calls itself in logs and answers (the patent's Da, Db, …).
    pub name: String,
    /// The intermediary's key file: it owns the records and signs the transfers.
    pub key: PathBuf,
    /// JSON-RPC URL of the node the intermediary reads and submits through.
    pub node_rpc: String,
    /// Where the verified reads behind certificates start (`kessai_client::Trust`): a chain spec
    /// (a path, relative to this file, or a preset) whose genesis validators signed block 1 ...
    #[serde(default)]
    pub trust_spec: Option<String>,
    /// ... or a light home (`kessai light init`) ...
    #[serde(default)]
    pub light_home: Option<PathBuf>,
    /// ... or the hash of the validator set that signed block 1 (alone or with `trust_spec`).
    /// With none of the three: the default root of `kessai query state` (a light home of the
    /// chain in `~/.kessai/light`, else the dev chain spec in `~/.kessai/dev`).
    #[serde(default)]
    pub validators_hash: Option<Hash>,
    /// Address the HTTP JSON-RPC server listens on (default `127.0.0.1:9700`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The asset-ownership contract: chain-spec name or address.
    #[serde(default = "default_contract")]
    pub contract: String,
    /// URLs of the peer intermediaries' servers, asked in this order.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Length of a usage slot; reports start on a multiple of it.
    #[serde(default = "default_slot_minutes")]
    pub slot_minutes: u64,
    /// A record must outlive the chain's time by this much to be chosen, so the transfer still
    /// lands before the record expires.
    #[serde(default = "default_expiry_margin_ms")]
    pub expiry_margin_ms: u64,
    /// File of the slots already served (one JSON line each), so a report repeated after a
    /// restart is not allocated twice. Without it, only while the process runs.
    #[serde(default)]
    pub journal: Option<PathBuf>,
    /// The consumers served; a usage report from anyone else is refused.
    pub consumers: Vec<ConsumerConfig>,
}

/// A consumer the intermediary serves, and its contract.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// The consumer's name, for logs and report outcomes (the patent's Ca, Cb, …).
    pub name: String,
    /// The consumer's account (its public key): records go there, and its usage reports must be
    /// signed with that key.
    pub address: Address,
    /// The renewable share the consumer wants, in percent.
    pub renewable_target_percent: u8,
    /// The production methods of the producers it chose, most preferred first.
    pub methods: Vec<ProductionMethod>,
    /// Planned use per slot, in Wh: the least the intermediary asks a peer for (the usage, when
    /// that is more).
    pub planned_wh_per_slot: u64,
    /// The contract's period (block time, ms): the history the method is decided from.
    #[serde(default)]
    pub from_ms: u64,
    /// End of the contract's period (block time, ms; default: no end).
    #[serde(default = "far_future")]
    pub to_ms: u64,
}

impl ConsumerConfig {
    /// The consumer's contract, as the mediation decisions take it.
    pub fn contract(&self) -> ConsumerContract {
        ConsumerContract {
            renewable_target_percent: self.renewable_target_percent,
            methods: self.methods.clone(),
            planned_wh_per_slot: self.planned_wh_per_slot,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9700))
}

fn default_contract() -> String {
    "asset-ownership".into()
}

fn default_slot_minutes() -> u64 {
    30
}

fn default_expiry_margin_ms() -> u64 {
    60_000
}

fn far_future() -> u64 {
    u64::MAX
}

impl ServiceConfig {
    /// Reads and checks a configuration file, resolving its relative paths.
    pub fn load(path: &Path) -> Result<ServiceConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: ServiceConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an intermediary configuration", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.key = dir.join(&config.key);
        config.journal = config.journal.map(|j| dir.join(j));
        config.light_home = config.light_home.map(|h| dir.join(h));
        config.trust_spec = config.trust_spec.map(|spec| match dir.join(&spec) {
            relative if relative.exists() => relative.display().to_string(),
            _ => spec,
        });
        config.validate().with_context(|| format!("in {}", path.display()))?;
        Ok(config)
    }

    /// The root of trust of the intermediary's verified reads.
    pub fn trust(&self) -> kessai_client::Trust {
        kessai_client::Trust {
            light_home: self.light_home.clone(),
            spec: self.trust_spec.clone(),
            validators_hash: self.validators_hash,
            ..kessai_client::Trust::default()
        }
    }

    /// Length of a usage slot in milliseconds.
    pub fn slot_ms(&self) -> u64 {
        self.slot_minutes * 60_000
    }

    /// Checks the slot length (1 to 1440 minutes) and every consumer's contract and period.
    pub fn validate(&self) -> Result<()> {
        if self.slot_minutes == 0 || self.slot_minutes > 24 * 60 {
            bail!("slot_minutes must be 1 to 1440");
        }
        let mut seen = HashSet::new();
        for consumer in &self.consumers {
            consumer
                .contract()
                .validate()
                .map_err(|e| anyhow::anyhow!("consumer {}: {e}", consumer.name))?;
            if consumer.from_ms > consumer.to_ms {
                bail!("consumer {}: from_ms is after to_ms", consumer.name);
            }
            if !seen.insert(consumer.address) {
                bail!("consumer {} is listed twice", consumer.address);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> serde_json::Value {
        json!({
            "name": "Da",
            "key": "keys/bob.json",
            "node_rpc": "http://127.0.0.1:8545",
            "peers": ["http://127.0.0.1:9702"],
            "consumers": [{
                "name": "Ca", "address": "11".repeat(32), "renewable_target_percent": 40,
                "methods": ["Solar", "Oil"], "planned_wh_per_slot": 10000
            }]
        })
    }

    fn load(value: serde_json::Value) -> Result<ServiceConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("da.json");
        std::fs::write(&path, value.to_string())?;
        ServiceConfig::load(&path)
    }

    #[test]
    fn the_example_loads_with_defaults_and_relative_paths() {
        let config = load(example()).unwrap();
        assert_eq!(config.slot_ms(), 30 * 60_000);
        assert_eq!(config.contract, "asset-ownership");
        assert!(config.key.ends_with("keys/bob.json") && config.key.is_absolute());
        let ca = &config.consumers[0];
        assert_eq!(ca.contract().renewable_target_percent, 40);
        assert_eq!((ca.from_ms, ca.to_ms), (0, u64::MAX));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut typo = example();
        typo["peer"] = json!([]);
        assert!(load(typo).is_err());
        let mut target = example();
        target["consumers"][0]["renewable_target_percent"] = json!(140);
        assert!(format!("{:#}", load(target).unwrap_err()).contains("0 to 100"));
        let mut twice = example();
        let ca = twice["consumers"][0].clone();
        twice["consumers"].as_array_mut().unwrap().push(ca);
        assert!(format!("{:#}", load(twice).unwrap_err()).contains("twice"));
        let mut slot = example();
        slot["slot_minutes"] = json!(0);
        assert!(load(slot).is_err());
    }
}
