//! Verified reads: every header, state value and transaction a client acts on goes through
//! `kessai-light-client` — a trusted header to start from, the trusting period, skipping
//! verification with bisection, optional witnesses — and never rests on the word of the node that
//! serves it. One strength for every client: `kessai query state`, `kessai light`, the swap relayer
//! (`kessai-swap`) and the intermediary's certificates all read through a [`Reader`].
//!
//! A [`Reader`] starts from a [`Trust`] root the caller names (see `docs/light-client.md`,
//! section 12, and `docs/decisions/0007-one-verification-strength.md`):
//!
//! - a light home (what `kessai light init` wrote), which later reads move forward;
//! - a chain spec (a path or a preset): its genesis validators must have signed block 1;
//! - a header hash obtained out of band (height and hash);
//! - a validator-set hash: the set the node names for block 1 must hash to it.
//!
//! With none named ([`Trust::default`]), the light home at `$KESSAI_LIGHT_HOME` or
//! `~/.kessai/light` when it holds the node's chain, else the local dev chain's spec
//! (`$KESSAI_DEV_HOME/chainspec.json` or `~/.kessai/dev/chainspec.json`, written by `kessai dev` on
//! this machine) when its chain id is the node's; otherwise the reader refuses. Nothing the node
//! serves is ever a root of trust.

use crate::light_home::LightHome;
use crate::provider::RpcProvider;
use anyhow::{anyhow, bail, Context, Result};
use kessai_abi::Abi;
use kessai_chainspec::ChainSpec;
use kessai_light_client::{
    Error as LightError, LightClient, Provider, ProviderError, TrustOptions, TrustedState,
    VerifiedTx, WitnessOutcome,
};
use kessai_primitives::time::now_ms;
use kessai_primitives::{Address, Hash, Header, StateProof, ValidatorSet};
use kessai_rpc_api::{self as rpc, rpc_error, HttpClient, KessaiApiClient};
use kessai_state::system::{self, ContractInfo};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a [`Reader`] trusts to start with. Fields left `None` are not used; all `None` is the
/// default root described in the module docs.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// A light home (`kessai light init`). Its own trust options apply.
    pub light_home: Option<PathBuf>,
    /// A chain spec file or preset name (`dev`, `local`): its validators signed block 1.
    pub spec: Option<String>,
    /// `(height, hash)` of a header obtained out of band.
    pub trusted_hash: Option<(u64, Hash)>,
    /// The hash of the validator set that signed block 1. Alone, the node supplies the set and
    /// only one with this hash is used; with `spec`, the spec's set must have this hash.
    pub validators_hash: Option<Hash>,
    /// Trust options for every root but a light home (default: 14 days, 1/3, 10 s).
    pub options: TrustOptions,
}

/// Where the reader's trust comes from, once resolved.
enum Root {
    Home(LightHome),
    Genesis { chain_id: String, validators: ValidatorSet },
    Hash { height: u64, hash: Hash },
}

impl Trust {
    /// A root given as a light home directory.
    pub fn light_home(dir: impl Into<PathBuf>) -> Trust {
        Trust { light_home: Some(dir.into()), ..Trust::default() }
    }

    /// A root given as a chain spec (path or preset).
    pub fn spec(spec: impl Into<String>) -> Trust {
        Trust { spec: Some(spec.into()), ..Trust::default() }
    }

    async fn resolve(&self, client: &HttpClient, url: &str) -> Result<Root> {
        if let Some(dir) = &self.light_home {
            if self.validators_hash.is_some() || self.spec.is_some() || self.trusted_hash.is_some()
            {
                bail!("a light home is a root of trust of its own: name no other root with it");
            }
            return Ok(Root::Home(LightHome::new(dir)));
        }
        if let Some((height, hash)) = self.trusted_hash {
            return Ok(Root::Hash { height, hash });
        }
        if let Some(name) = &self.spec {
            let spec = ChainSpec::load(name).with_context(|| format!("chain spec {name}"))?;
            let validators = spec.validator_set();
            if let Some(pinned) = self.validators_hash {
                if validators.hash() != pinned {
                    bail!(
                        "the genesis validator set of {name} is {}, not the pinned {pinned}",
                        validators.hash()
                    );
                }
            }
            return Ok(Root::Genesis { chain_id: spec.chain_id, validators });
        }
        let chain_id = node_chain_id(client, url).await?;
        if let Some(pinned) = self.validators_hash {
            let set = client.validators(1).await.map_err(rpc_error)?;
            if set.hash() != pinned {
                bail!(
                    "block 1 of chain {chain_id} is signed by validator set {}, not the pinned \
                     {pinned}",
                    set.hash()
                );
            }
            return Ok(Root::Genesis { chain_id, validators: set });
        }
        let home = LightHome::new(LightHome::default_dir());
        if home.chain_id().as_deref() == Some(chain_id.as_str()) {
            return Ok(Root::Home(home));
        }
        let dev_spec = dev_home().join("chainspec.json");
        if let Ok(spec) = ChainSpec::from_file(&dev_spec) {
            if spec.chain_id == chain_id {
                return Ok(Root::Genesis { chain_id, validators: spec.validator_set() });
            }
        }
        bail!(
            "nothing on this machine is trusted for chain {chain_id} (served by {url}): no light \
             home of it in {} and no dev chain spec of it at {}; name a root: --trust-spec SPEC \
             (its genesis validators), --trusted-height H --trusted-hash HASH, --validators-hash \
             HASH, or --light-home DIR (`kessai light init`)",
            home.dir().display(),
            dev_spec.display()
        )
    }
}

/// `$KESSAI_DEV_HOME`, else `~/.kessai/dev`: where `kessai dev` keeps its chain spec.
fn dev_home() -> PathBuf {
    std::env::var_os("KESSAI_DEV_HOME")
        .filter(|d| !d.is_empty())
        .map_or_else(crate::default_dev_home, PathBuf::from)
}

async fn node_chain_id(client: &HttpClient, url: &str) -> Result<String> {
    let status =
        client.status().await.map_err(rpc_error).with_context(|| format!("cannot reach {url}"))?;
    Ok(status.chain_id)
}

/// A header with what vouches for it: verified by the light client from the reader's root.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifiedHeader {
    /// The verified header itself.
    pub header: Header,
    /// The header's id (the block hash).
    pub block: Hash,
    /// Hash of the validator set that signed the header's commit (the header's own
    /// `validators_hash`).
    pub validators_hash: Hash,
    /// Voting power of the commit's valid signatures, more than two thirds of `total_power`.
    pub signed_power: u64,
    /// Total voting power of the validator set that signed the commit.
    pub total_power: u64,
}

impl VerifiedHeader {
    /// The header of a trusted state, with its commit's signed power.
    pub fn of(state: &TrustedState) -> VerifiedHeader {
        VerifiedHeader {
            header: state.header.clone(),
            block: state.hash(),
            validators_hash: state.header.validators_hash,
            signed_power: state.signed_power(),
            total_power: state.validators.total_power(),
        }
    }
}

/// A state value (or its absence) proven under a verified header.
#[derive(Clone, Debug)]
pub struct Proven {
    /// The key read, in the flat state (namespace(32) ‖ key; see `kessai_state::flat_key`).
    pub flat_key: Vec<u8>,
    /// `None`: proven absent.
    pub value: Option<Vec<u8>>,
    /// The proof of `value` (or of its absence) against the header's `state_root`.
    pub proof: StateProof,
    /// The verified header the proof is checked against.
    pub header: VerifiedHeader,
}

/// A contract's storage-map entry, its key encoded and its value decoded by the contract's proven
/// interface.
#[derive(Clone, Debug)]
pub struct ProvenEntry {
    /// The contract's address (resolved from its name when it was given by name).
    pub contract: Address,
    /// The storage map's name in the contract's interface.
    pub map: String,
    /// The entry's key as given, JSON of the map's key type.
    pub key: serde_json::Value,
    /// The value by the map's type; `null` when absent.
    pub decoded: serde_json::Value,
    /// The raw value and its proof, under the flat key of the encoded map key.
    pub proven: Proven,
}

/// Reads one chain through one node (and optional witnesses), verifying everything with
/// `kessai-light-client` from the root of a [`Trust`].
pub struct Reader {
    url: String,
    rpc: HttpClient,
    client: LightClient<RpcProvider>,
    /// The light home the root came from: [`Reader::save`] moves it forward.
    home: Option<LightHome>,
    stored_height: u64,
    witnesses: Vec<String>,
}

impl Reader {
    /// A reader of the node at `url` from `trust`. `witnesses` must confirm every header verified
    /// forward (at least one of them).
    pub async fn open(url: &str, trust: &Trust, witnesses: &[String]) -> Result<Reader> {
        let rpc = rpc::client(url)?;
        let root = trust.resolve(&rpc, url).await?;
        let primary = RpcProvider::new(url)?;
        let now = now_ms();
        let not_trusted = |e: LightError| match e {
            LightError::Provider(p) => anyhow!("{p}"),
            other => anyhow!("not trusted: {other}"),
        };
        let (client, home) = match root {
            Root::Home(home) => {
                let (trusted, options) = home.load()?;
                let client = LightClient::new(primary, trusted, options)
                    .map_err(|e| anyhow!("the stored trusted state does not hold together: {e}"))?;
                (client, Some(home))
            }
            Root::Genesis { chain_id, validators } => {
                let client = LightClient::init_from_genesis(
                    primary,
                    &chain_id,
                    validators,
                    trust.options.clone(),
                    now,
                )
                .await
                .map_err(not_trusted)?;
                (client, None)
            }
            Root::Hash { height, hash } => {
                let client =
                    LightClient::init_from_hash(primary, height, hash, trust.options.clone(), now)
                        .await
                        .map_err(not_trusted)?;
                (client, None)
            }
        };
        let providers =
            witnesses.iter().map(|url| RpcProvider::witness(url)).collect::<Result<Vec<_>>>()?;
        let stored_height = client.latest_trusted().height();
        Ok(Reader {
            url: url.to_string(),
            rpc,
            client: client.with_witnesses(providers),
            home,
            stored_height,
            witnesses: witnesses.to_vec(),
        })
    }

    /// A reader from a trusted state the caller already holds (e.g. `kessai light init`'s).
    pub fn from_client(
        url: &str,
        client: LightClient<RpcProvider>,
        home: Option<LightHome>,
    ) -> Result<Reader> {
        let stored_height = client.latest_trusted().height();
        Ok(Reader {
            url: url.to_string(),
            rpc: rpc::client(url)?,
            client,
            home,
            stored_height,
            witnesses: Vec::new(),
        })
    }

    /// The URL of the node read from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The node's RPC, for what needs no proof (submitting, events to look at before proving).
    pub fn rpc(&self) -> &HttpClient {
        &self.rpc
    }

    /// The chain the root of trust is of.
    pub fn chain_id(&self) -> &str {
        &self.client.latest_trusted().chain_id
    }

    /// The light home the root of trust came from; `None` for a root from genesis or a hash.
    pub fn home(&self) -> Option<&LightHome> {
        self.home.as_ref()
    }

    /// The trust options in force (trusting period, trust threshold, maximum clock drift).
    pub fn options(&self) -> &TrustOptions {
        self.client.options()
    }

    /// The node's latest height (a target to verify, nothing more), never below the trusted one.
    pub async fn latest_height(&self) -> Result<u64> {
        let latest =
            RpcProvider::new(&self.url)?.latest_height().await.map_err(|e| anyhow!("{e}"))?;
        Ok(latest.max(self.client.latest_trusted().height()))
    }

    /// The highest verified header.
    pub fn latest_trusted(&self) -> &TrustedState {
        self.client.latest_trusted()
    }

    /// A header verified earlier, if any.
    pub fn trusted(&self, height: u64) -> Option<&TrustedState> {
        self.client.verified(height)
    }

    /// Verifies up to `target` (see [`LightClient::sync_to`]); `progress` sees each height.
    pub async fn sync_to(&mut self, target: u64, progress: impl FnMut(u64)) -> Result<()> {
        let outcome = self.client.sync_to(target, now_ms(), progress).await.map(|_| ());
        outcome.map_err(|e| self.refused(e))
    }

    /// The header at `height`, verified.
    pub async fn header(&mut self, height: u64) -> Result<VerifiedHeader> {
        self.sync_to(height, |_| {}).await?;
        Ok(VerifiedHeader::of(self.client.verified(height).expect("verified")))
    }

    /// The value of `flat_key` after block `height` (default: the node's latest), or its proven
    /// absence.
    pub async fn value(&mut self, flat_key: &[u8], height: Option<u64>) -> Result<Proven> {
        let height = match height {
            Some(height) => height,
            None => self.latest_height().await?,
        };
        let outcome = self.client.verify_state(flat_key, height, now_ms()).await;
        let verified = outcome.map_err(|e| self.refused(e))?;
        let header = VerifiedHeader::of(self.client.verified(height).expect("verified"));
        Ok(Proven {
            flat_key: flat_key.to_vec(),
            value: verified.value,
            proof: verified.proof,
            header,
        })
    }

    /// An entry of `contract`'s storage (`storage_key` within its namespace).
    pub async fn contract_value(
        &mut self,
        contract: Address,
        storage_key: &[u8],
        height: Option<u64>,
    ) -> Result<Proven> {
        self.value(&system::flat_key(&contract, storage_key), height).await
    }

    /// A contract given by address, or by name through the proven `name/` entry of the chain's
    /// state at `height`.
    pub async fn contract_address(&mut self, contract: &str, height: u64) -> Result<Address> {
        if let Ok(address) = contract.parse::<Address>() {
            return Ok(address);
        }
        let proven = self.value(&system::name_key(contract), Some(height)).await?;
        let bytes = proven.value.ok_or_else(|| {
            anyhow!(
                "there is no contract named {contract:?} on chain {} at height {height} (proven \
                 absent)",
                self.chain_id()
            )
        })?;
        borsh::from_slice(&bytes).context("the proven name entry is not an address")
    }

    /// The contract's interface, from its code as proven in the state (`contract/` → code hash →
    /// `code/`), so that the node cannot make a key or a value mean something else.
    pub async fn abi(&mut self, address: Address, height: u64) -> Result<Abi> {
        let proven = self.value(&system::contract_key(&address), Some(height)).await?;
        let bytes = proven.value.ok_or_else(|| {
            anyhow!("there is no contract at {address} at height {height} (proven absent)")
        })?;
        let info: ContractInfo =
            borsh::from_slice(&bytes).context("the proven contract entry does not decode")?;
        let code =
            self.value(&system::code_key(&info.code_hash), Some(height)).await?.value.ok_or_else(
                || anyhow!("the code {} of {address} is proven absent", info.code_hash),
            )?;
        Abi::from_wasm(&code)
            .map_err(|e| anyhow!("the contract's proven code has no usable interface: {e}"))
    }

    /// A storage-map entry of `contract` (name or address) by its interface: the name, the code and
    /// the entry are all proven under the one verified header at `height` (default: latest).
    pub async fn map_entry(
        &mut self,
        contract: &str,
        map: &str,
        key: &serde_json::Value,
        height: Option<u64>,
    ) -> Result<ProvenEntry> {
        let height = match height {
            Some(height) => height,
            None => self.latest_height().await?,
        };
        let address = self.contract_address(contract, height).await?;
        let abi = self.abi(address, height).await?;
        let storage_key = abi.map_key(map, key)?;
        let proven = self.contract_value(address, &storage_key, Some(height)).await?;
        let decoded = match &proven.value {
            Some(bytes) => abi
                .decode_map_value(map, bytes)
                .context("the proven value does not decode by the contract's interface")?,
            None => serde_json::Value::Null,
        };
        Ok(ProvenEntry {
            contract: address,
            map: map.to_string(),
            key: key.clone(),
            decoded,
            proven,
        })
    }

    /// A transaction and its receipt proven in a verified block; `None` when the node does not
    /// know it (which proves nothing).
    pub async fn tx(&mut self, tx_id: Hash) -> Result<Option<VerifiedTx>> {
        let outcome = self.client.verify_tx(tx_id, now_ms()).await;
        outcome.map_err(|e| self.refused(e))
    }

    /// Moves the light home (if the root came from one) to the newest verified header. Call it
    /// once a command's reads all succeeded: nothing of a refused answer is kept.
    pub fn save(&self) -> Result<()> {
        match &self.home {
            Some(home) => home.advance(self.client.latest_trusted(), self.stored_height),
            None => Ok(()),
        }
    }

    /// Turns a refusal into one sentence; a fork is also written down for the operator when the
    /// root is a light home.
    fn refused(&self, e: LightError) -> anyhow::Error {
        match e {
            LightError::ForkDetected(evidence) => {
                let url = self.witnesses.get(evidence.witness_index).map_or("?", String::as_str);
                let Some(home) = &self.home else {
                    return anyhow!("{evidence} (witness {url})");
                };
                match home.record_fork(&evidence, url) {
                    Ok(path) => anyhow!(
                        "{evidence} (witness {url}); evidence written to {}, this light home refuses \
                         to verify until it is dealt with",
                        path.display()
                    ),
                    Err(write) => anyhow!("{evidence} (witness {url}); {write:#}"),
                }
            }
            LightError::Provider(p) => anyhow!("{p}"),
            not_confirmed @ LightError::NotConfirmed { .. } => {
                let report = self.witness_report();
                let unavailable = report.unavailable.iter().map(|w| (w, "unavailable"));
                let faulty = report.faulty.iter().map(|w| (w, "faulty"));
                let each: Vec<String> = unavailable
                    .chain(faulty)
                    .map(|(w, what)| format!("{} {what} ({})", w.witness, w.reason))
                    .collect();
                anyhow!("{not_confirmed}: {}", each.join("; "))
            }
            other => anyhow!("verification failed: {other}"),
        }
    }

    /// What the witnesses said at the last comparison.
    pub fn witness_report(&self) -> WitnessReport {
        let checks = self.client.witness_checks();
        let height = checks.iter().flatten().map(|check| check.height).max();
        let mut report = WitnessReport {
            given: self.witnesses.len(),
            height,
            confirmed: 0,
            confirmed_by: Vec::new(),
            unavailable: Vec::new(),
            faulty: Vec::new(),
        };
        let problem = |url: &String, why: &LightError| {
            let reason = match why {
                LightError::Provider(
                    ProviderError::Unavailable(what) | ProviderError::NotFound(what),
                ) => what.clone(),
                other => other.to_string(),
            };
            // One line, like every refusal.
            WitnessProblem { witness: url.clone(), reason: reason.replace('\n', " ") }
        };
        for (url, check) in self.witnesses.iter().zip(checks) {
            let Some(check) = check else { continue };
            match &check.outcome {
                WitnessOutcome::Faulty(why) => report.faulty.push(problem(url, why)),
                // Only the latest comparison counts (one per command: a command verifies forward
                // to one height).
                _ if Some(check.height) != height => {}
                WitnessOutcome::Confirmed => report.confirmed_by.push(url.clone()),
                WitnessOutcome::Unavailable(why) => report.unavailable.push(problem(url, why)),
            }
        }
        report.confirmed = report.confirmed_by.len();
        report
    }
}

/// What the witnesses said about the header compared with them, for people and scripts.
#[derive(Serialize, Debug)]
pub struct WitnessReport {
    /// How many witnesses were given.
    pub given: usize,
    /// The height of the header compared; `None` when nothing was verified forward (a header
    /// already trusted, or one below it verified through parent hashes), so none was asked.
    pub height: Option<u64>,
    /// How many witnesses served the same header (the length of `confirmed_by`).
    pub confirmed: usize,
    /// The witnesses that served the same header.
    pub confirmed_by: Vec<String>,
    /// Not reached, behind, or serving a different header they could not back: asked again next
    /// time.
    pub unavailable: Vec<WitnessProblem>,
    /// Served a header that does not verify: set aside.
    pub faulty: Vec<WitnessProblem>,
}

/// A witness that did not confirm the header, and why.
#[derive(Serialize, Debug)]
pub struct WitnessProblem {
    /// The witness's URL.
    pub witness: String,
    /// What went wrong, for people (the provider's or the verifier's error).
    pub reason: String,
}

impl WitnessReport {
    /// Lines for people; none without witnesses.
    pub fn lines(&self) -> Vec<String> {
        if self.given == 0 {
            return Vec::new();
        }
        let mut lines = vec![match self.height {
            Some(height) => format!(
                "{} of {} witness{} confirmed the header at height {height}",
                self.confirmed,
                self.given,
                if self.given == 1 { "" } else { "es" }
            ),
            None => "witnesses not asked: no header was newly verified forward".to_string(),
        }];
        for (what, problems) in [("unavailable", &self.unavailable), ("faulty", &self.faulty)] {
            lines.extend(
                problems.iter().map(|w| format!("{what} witness {}: {}", w.witness, w.reason)),
            );
        }
        lines
    }
}

/// What a verified header is, for people and scripts.
#[derive(Serialize, Debug)]
pub struct HeaderReport {
    /// The chain the header is of.
    pub chain_id: String,
    /// The header's height.
    pub height: u64,
    /// The header's id (the block hash).
    pub hash: Hash,
    /// Block time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Root of the state after the block, which state proofs are checked against.
    pub state_root: Hash,
    /// Hash of the validator set that signed the commit.
    pub validators_hash: Hash,
    /// Voting power of the commit's valid signatures, more than two thirds of `total_power`.
    pub signed_power: u64,
    /// Total voting power of the signing validator set.
    pub total_power: u64,
    /// Number of validators in the signing set.
    pub validators: usize,
}

impl HeaderReport {
    /// The report of a trusted state's header.
    pub fn of(state: &TrustedState) -> HeaderReport {
        HeaderReport {
            chain_id: state.chain_id.clone(),
            height: state.height(),
            hash: state.hash(),
            time_ms: state.time_ms(),
            state_root: state.header.state_root,
            validators_hash: state.header.validators_hash,
            signed_power: state.signed_power(),
            total_power: state.validators.total_power(),
            validators: state.validators.len(),
        }
    }

    /// One line for people: height, chain, hash and the signed share of voting power.
    pub fn summary(&self) -> String {
        format!(
            "height {} of {}, header {}, signed by {} of {} voting power ({} validator{})",
            self.height,
            self.chain_id,
            self.hash,
            self.signed_power,
            self.total_power,
            self.validators,
            if self.validators == 1 { "" } else { "s" }
        )
    }
}
