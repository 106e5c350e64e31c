//! `kessai swap`: the cross-chain side of the burn-and-issue hash-lock (JP6980288B2,
//! `contracts/power-ledger`, `contracts/value-certificate`, rules in `contracts/hashlock-core`).
//!
//! A swap has two legs locked to one secret R, each on its own chain: a burn request (SC1, power
//! chain) and a transfer condition (SC2, value chain). Whoever claims one leg publishes R there;
//! the other side reads it and claims the other leg before that leg's deadline.
//!
//! - `secret`: draws R and prints it with both lock hashes (blake3 and SHA-256).
//! - `leg`: reads one leg with a state proof and prints it (its `deadline_ms` is what a second
//!   leg's registration takes as `counter_deadline_ms`).
//! - `claim`: claims a leg with R: signs the claim message and calls `burn` or `transfer`.
//! - `watch-and-complete`: the relayer. It watches the source chain's events for the claim of
//!   `--request`, and completes `--to-request` on the target chain with the revealed R.
//!
//! Nothing one RPC answer says is taken on its own: R must open both legs' locks (checked here),
//! and every leg read is a storage-map entry with a Jellyfish Merkle proof, checked against the
//! state root of a header whose commit carries more than two thirds of the voting power of a
//! validator set whose hash the header names — optionally pinned with `--validators-hash`, which
//! makes the check hold against a node that invents a whole chain. The flat key proved is computed
//! here from the contract address and request id, and a contract given by name is resolved through
//! the proved `name/` entry of the chain's state.

use super::output;
use crate::cli::{RpcArgs, SignerArgs};
use anyhow::{bail, ensure, Context, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use clap::Subcommand;
use jsonrpsee::http_client::HttpClient;
use kessai_client::load_signer;
use kessai_client::verified::{proved_value, verified_header, VerifiedHeader};
use kessai_client::{rpc_error, submit};
use kessai_primitives::{Address, Hash, Keypair, Payload};
use kessai_rpc_api::StateRead;
use kessai_rpc_api::{self as rpc, KessaiApiClient};
use kessai_state::system;
use serde::Serialize;
use serde_json::json;
use std::time::{Duration, Instant};

/// The domain tag of a claim signature (`hashlock-core`'s `CLAIM_DOMAIN`).
const CLAIM_DOMAIN: &[u8] = b"kessai/hashlock/claim/v1";

#[derive(Subcommand, Debug)]
pub enum SwapCommand {
    /// Draw a secret R (32 bytes) and print it with its blake3 and SHA-256 lock hashes.
    Secret {
        #[arg(long)]
        json: bool,
    },
    /// Read a burn request or transfer condition with a verified state proof.
    Leg {
        /// The power-ledger or value-certificate contract: name in the chain spec, or address.
        #[arg(long)]
        contract: String,
        /// The burn request or transfer condition id.
        #[arg(long)]
        request: u64,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Claim a leg with the secret: `burn` on a power ledger, `transfer` on value certificates.
    Claim {
        #[arg(long)]
        contract: String,
        #[arg(long)]
        request: u64,
        /// R, 64 hex characters.
        #[arg(long)]
        secret: String,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Watch the source chain for the secret revealed by the claim of one leg, verify it, and
    /// claim the other leg with it on the target chain.
    WatchAndComplete {
        /// RPC URL of the chain where the counterparty claims (and so reveals R).
        #[arg(long)]
        from_rpc: String,
        #[arg(long)]
        from_contract: String,
        /// The leg on the source chain whose claim reveals R.
        #[arg(long)]
        request: u64,
        /// Pin the source chain's validator set (hex of its hash).
        #[arg(long)]
        from_validators_hash: Option<Hash>,
        /// RPC URL of the chain where the leg to complete is.
        #[arg(long)]
        to_rpc: String,
        #[arg(long)]
        to_contract: String,
        /// The leg to claim with R; its permitted address must be --key.
        #[arg(long)]
        to_request: u64,
        /// Pin the target chain's validator set (hex of its hash).
        #[arg(long)]
        to_validators_hash: Option<Hash>,
        /// How often to poll both chains.
        #[arg(long, default_value_t = 500)]
        poll_ms: u64,
        /// Give up after this many seconds (default: when the leg to complete expires).
        #[arg(long)]
        timeout_s: Option<u64>,
        #[command(flatten)]
        signer: SignerArgs,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// Pin the chain's validator set (hex of its hash): headers must be signed by it.
    #[arg(long)]
    pub validators_hash: Option<Hash>,
}

pub async fn run(command: SwapCommand) -> Result<()> {
    match command {
        SwapCommand::Secret { json } => secret(json),
        SwapCommand::Leg { contract, request, trust, rpc } => {
            let chain = Chain::connect(&rpc.rpc, &contract, trust.validators_hash).await?;
            let (leg, proof) = chain.leg(request, None).await?;
            let value = json!({ "chain_id": chain.chain_id, "contract": chain.address,
                "kind": chain.kind.name(), "leg": leg.to_json(), "proof": proof });
            output::print(rpc.json, &value, |_| {
                format!(
                    "{} {request} on {}: {}\n{}",
                    chain.kind.leg_name(),
                    chain.chain_id,
                    leg.summary(),
                    proof.summary()
                )
            });
            Ok(())
        }
        SwapCommand::Claim { contract, request, secret, trust, signer, rpc } => {
            let secret = parse_secret(&secret)?;
            let chain = Chain::connect(&rpc.rpc, &contract, trust.validators_hash).await?;
            let key = signer_key(&signer)?;
            let (leg, _) = chain.leg(request, None).await?;
            let done = chain.claim(&leg, secret, &key, &signer).await?;
            output::print(rpc.json, &done, |d| d.summary());
            Ok(())
        }
        SwapCommand::WatchAndComplete {
            from_rpc,
            from_contract,
            request,
            from_validators_hash,
            to_rpc,
            to_contract,
            to_request,
            to_validators_hash,
            poll_ms,
            timeout_s,
            signer,
            json,
        } => {
            let source = Chain::connect(&from_rpc, &from_contract, from_validators_hash).await?;
            let target = Chain::connect(&to_rpc, &to_contract, to_validators_hash).await?;
            let watch = Watch {
                source,
                request,
                target,
                to_request,
                poll: Duration::from_millis(poll_ms),
                give_up: timeout_s.map(Duration::from_secs),
                json,
            };
            watch.run(&signer).await
        }
    }
}

fn secret(json: bool) -> Result<()> {
    // 32 bytes from the operating system's random source, as keys are drawn.
    let secret = Keypair::generate().seed();
    let out = json!({
        "secret": hex::encode(secret),
        "blake3": hex::encode(HashAlgorithm::Blake3.digest(&secret)),
        "sha256": hex::encode(HashAlgorithm::Sha256.digest(&secret)),
    });
    output::print(json, &out, |o| {
        format!(
            "secret R     {}\nblake3 lock  {}\nsha256 lock  {}\nkeep R to yourself until you claim with it",
            o["secret"].as_str().unwrap_or_default(),
            o["blake3"].as_str().unwrap_or_default(),
            o["sha256"].as_str().unwrap_or_default()
        )
    });
    Ok(())
}

fn parse_secret(text: &str) -> Result<[u8; 32]> {
    hex::decode(text.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("a secret is 32 bytes: 64 hex characters")
}

fn signer_key(signer: &SignerArgs) -> Result<Keypair> {
    let keys_dir =
        signer.keys_dir.clone().unwrap_or_else(|| kessai_client::default_dev_home().join("keys"));
    load_signer(&signer.key, Some(&keys_dir))
}

// --- the contracts' records (borsh, as `hashlock-core` and the two contracts define them) ------

#[derive(BorshSerialize, BorshDeserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
enum HashAlgorithm {
    Blake3,
    Sha256,
}

impl HashAlgorithm {
    fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            HashAlgorithm::Blake3 => Hash::digest(data).0,
            HashAlgorithm::Sha256 => {
                use sha2::Digest;
                sha2::Sha256::digest(data).into()
            }
        }
    }
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
struct Lock {
    algorithm: HashAlgorithm,
    hash: [u8; 32],
}

impl Lock {
    fn opens(&self, secret: &[u8; 32]) -> bool {
        self.algorithm.digest(secret) == self.hash
    }
}

#[derive(BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
enum LegStatus {
    Active,
    Claimed { preimage: [u8; 32], at_ms: u64 },
    Withdrawn { at_ms: u64 },
}

/// A burn request (SC1) or a transfer condition (SC2): the two have the same layout.
#[derive(BorshDeserialize, Clone, Debug)]
struct Leg {
    id: u64,
    /// The amount of power (burn request) or the token id (transfer condition).
    subject: u64,
    lock: Lock,
    /// The permitted address (burn) or the destination (transfer): who may claim.
    claimant: Address,
    timestamp_ms: u64,
    status: LegStatus,
    registrant: Address,
    timeout_ms: u64,
    deadline_ms: u64,
    counter_deadline_ms: Option<u64>,
}

impl Leg {
    fn to_json(&self) -> serde_json::Value {
        let status = match self.status {
            LegStatus::Active => json!("Active"),
            LegStatus::Claimed { preimage, at_ms } => {
                json!({"Claimed": {"preimage": hex::encode(preimage), "at_ms": at_ms}})
            }
            LegStatus::Withdrawn { at_ms } => json!({"Withdrawn": {"at_ms": at_ms}}),
        };
        json!({
            "id": self.id, "subject": self.subject,
            "lock": {"algorithm": self.lock.algorithm, "hash": hex::encode(self.lock.hash)},
            "claimant": self.claimant, "timestamp_ms": self.timestamp_ms, "status": status,
            "registrant": self.registrant, "timeout_ms": self.timeout_ms,
            "deadline_ms": self.deadline_ms, "counter_deadline_ms": self.counter_deadline_ms,
        })
    }

    fn summary(&self) -> String {
        let status = match self.status {
            LegStatus::Active => "active".to_string(),
            LegStatus::Claimed { preimage, .. } => {
                format!("claimed with R = {}", hex::encode(preimage))
            }
            LegStatus::Withdrawn { .. } => "withdrawn".to_string(),
        };
        format!(
            "{status}; subject {}, lock {:?} {}, claimant {}, registrant {}, deadline {} ms",
            self.subject,
            self.lock.algorithm,
            hex::encode(self.lock.hash),
            self.claimant,
            self.registrant,
            self.deadline_ms
        )
    }
}

/// What a claimant signs after [`CLAIM_DOMAIN`] (`hashlock-core`'s `ClaimMessage`).
#[derive(BorshSerialize)]
struct ClaimMessage {
    /// 0 burn, 1 transfer.
    action: u8,
    contract: Address,
    request_id: u64,
    registered_at_ms: u64,
    lock: Lock,
    preimage: [u8; 32],
    claimant: Address,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegKind {
    /// A burn request of a power ledger.
    Burn,
    /// A transfer condition of value certificates.
    Transfer,
}

impl LegKind {
    fn of(contract_name: &str) -> Result<LegKind> {
        match contract_name {
            "power-ledger" => Ok(LegKind::Burn),
            "value-certificate" => Ok(LegKind::Transfer),
            other => {
                bail!("{other} is not a hash-lock contract (power-ledger or value-certificate)")
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            LegKind::Burn => "power-ledger",
            LegKind::Transfer => "value-certificate",
        }
    }

    fn leg_name(self) -> &'static str {
        match self {
            LegKind::Burn => "burn request",
            LegKind::Transfer => "transfer condition",
        }
    }

    /// The storage map of the legs (`abi.json`) and its prefix.
    fn map(self) -> (&'static str, &'static [u8]) {
        match self {
            LegKind::Burn => ("requests", b"r/"),
            LegKind::Transfer => ("conditions", b"c/"),
        }
    }

    /// The method that claims a leg, and the event it emits with R.
    fn claim_method(self) -> &'static str {
        match self {
            LegKind::Burn => "burn",
            LegKind::Transfer => "transfer",
        }
    }

    fn claim_topic(self) -> &'static str {
        match self {
            LegKind::Burn => "burned",
            LegKind::Transfer => "transferred",
        }
    }

    fn action(self) -> u8 {
        match self {
            LegKind::Burn => 0,
            LegKind::Transfer => 1,
        }
    }
}

// --- one chain, read with proofs ----------------------------------------------------------------

/// How a value was verified: the header it was proved under and the commit that finalised it.
#[derive(Serialize, Clone, Debug)]
struct ProofReport {
    height: u64,
    state_root: Hash,
    block: Hash,
    validators_hash: Hash,
    signed_power: u64,
    total_power: u64,
}

impl From<VerifiedHeader> for ProofReport {
    fn from(v: VerifiedHeader) -> ProofReport {
        ProofReport {
            height: v.header.height,
            state_root: v.header.state_root,
            block: v.block,
            validators_hash: v.validators_hash,
            signed_power: v.signed_power,
            total_power: v.total_power,
        }
    }
}

impl ProofReport {
    fn summary(&self) -> String {
        format!(
            "proof verified against state root {} of height {} (block {}, committed by {}/{} voting power of validator set {})",
            self.state_root, self.height, self.block, self.signed_power, self.total_power, self.validators_hash
        )
    }
}

/// A hash-lock contract on one chain.
struct Chain {
    url: String,
    client: HttpClient,
    chain_id: String,
    address: Address,
    kind: LegKind,
    pinned_validators: Option<Hash>,
}

impl Chain {
    async fn connect(url: &str, contract: &str, pinned_validators: Option<Hash>) -> Result<Chain> {
        let client = rpc::client(url)?;
        let status = client
            .status()
            .await
            .map_err(rpc_error)
            .with_context(|| format!("cannot reach {url}"))?;
        let info = client.contract(contract.to_string()).await.map_err(rpc_error)?;
        let kind = LegKind::of(&info.abi.name)?;
        let chain = Chain {
            url: url.to_string(),
            client,
            chain_id: status.chain_id,
            address: info.address,
            kind,
            pinned_validators,
        };
        if contract.parse::<Address>().is_err() {
            chain.check_name(contract, info.address).await?;
        }
        Ok(chain)
    }

    /// The contract's name resolves to `address` in the proved state (`name/ ‖ name`).
    async fn check_name(&self, name: &str, address: Address) -> Result<()> {
        let key = system::name_key(name); // already a flat key under Address::SYSTEM
        let read = self.client.state(hex::encode(&key), None).await.map_err(rpc_error)?;
        let (value, _) = self.verified(&read, &key).await?;
        let named: Address = match value {
            Some(bytes) => borsh::from_slice(&bytes).context("name entry does not decode")?,
            None => {
                bail!("{name} is not a contract name on chain {} (proved absent)", self.chain_id)
            }
        };
        ensure!(named == address, "the node says {name} is {address}, its state proves {named}");
        Ok(())
    }

    /// Leg `id`, read at `height` (default latest) and verified.
    async fn leg(&self, id: u64, height: Option<u64>) -> Result<(Leg, ProofReport)> {
        let (map, prefix) = self.kind.map();
        let mut storage_key = prefix.to_vec();
        storage_key.extend_from_slice(&id.to_le_bytes());
        let key = system::flat_key(&self.address, &storage_key);
        let entry = self
            .client
            .map_entry(self.address.to_hex(), map.to_string(), json!(id), height)
            .await
            .map_err(rpc_error)?;
        let (value, proof) = self.verified(&entry.read, &key).await?;
        let Some(bytes) = value else {
            bail!("no {} {id} on chain {} (proved absent)", self.kind.leg_name(), self.chain_id);
        };
        let leg: Leg = borsh::from_slice(&bytes).context("the leg does not decode")?;
        ensure!(leg.id == id, "the proved entry is leg {}, not {id}", leg.id);
        Ok((leg, proof))
    }

    /// The value of `flat_key` in `read`, once its proof checks against a header whose commit
    /// checks against its validator set.
    async fn verified(
        &self,
        read: &StateRead,
        flat_key: &[u8],
    ) -> Result<(Option<Vec<u8>>, ProofReport)> {
        let verified =
            verified_header(&self.client, &self.chain_id, read.height, self.pinned_validators)
                .await?;
        let value = proved_value(read, flat_key, &verified.header)?;
        Ok((value, ProofReport::from(verified)))
    }

    /// The latest block time: "now" for the contracts.
    async fn now_ms(&self) -> Result<u64> {
        Ok(self.client.status().await.map_err(rpc_error)?.time_ms)
    }

    /// Claims `leg` with `secret` as `key`: checks what the contract will check, signs the claim
    /// message, submits and waits for the receipt.
    async fn claim(
        &self,
        leg: &Leg,
        secret: [u8; 32],
        key: &Keypair,
        signer: &SignerArgs,
    ) -> Result<Completed> {
        ensure!(
            leg.lock.opens(&secret),
            "the secret does not open the lock of {} {}",
            self.kind.leg_name(),
            leg.id
        );
        ensure!(
            leg.claimant == key.address(),
            "{} {} can be claimed by {}, not by {} ({})",
            self.kind.leg_name(),
            leg.id,
            leg.claimant,
            signer.key,
            key.address()
        );
        match leg.status {
            LegStatus::Active => {}
            LegStatus::Claimed { .. } => {
                bail!("{} {} is already completed", self.kind.leg_name(), leg.id)
            }
            LegStatus::Withdrawn { .. } => {
                bail!("{} {} was withdrawn", self.kind.leg_name(), leg.id)
            }
        }
        let message = ClaimMessage {
            action: self.kind.action(),
            contract: self.address,
            request_id: leg.id,
            registered_at_ms: leg.timestamp_ms,
            lock: leg.lock,
            preimage: secret,
            claimant: leg.claimant,
        };
        let signature = key.sign(CLAIM_DOMAIN, &borsh::to_vec(&message)?);
        let args = borsh::to_vec(&(leg.id, secret, signature.0))?;
        let payload =
            Payload::Call { contract: self.address, method: self.kind.claim_method().into(), args };
        let info = submit(&self.client, &signer.signer()?, payload).await?;
        let receipt = info.receipt.clone().context("no receipt (submitted with --no-wait?)")?;
        if let kessai_primitives::TxStatus::Failed { reason } = &receipt.status {
            bail!(
                "{} of {} {} failed: {reason}",
                self.kind.claim_method(),
                self.kind.leg_name(),
                leg.id
            );
        }
        Ok(Completed {
            chain_id: self.chain_id.clone(),
            method: self.kind.claim_method(),
            request: leg.id,
            tx_id: info.tx_id,
            height: info.height,
            gas_used: receipt.gas_used,
        })
    }
}

#[derive(Serialize)]
struct Completed {
    chain_id: String,
    method: &'static str,
    request: u64,
    tx_id: Hash,
    height: Option<u64>,
    gas_used: u64,
}

impl Completed {
    fn summary(&self) -> String {
        format!(
            "{} of request {} on chain {}: tx {} at height {} (gas {})",
            self.method,
            self.request,
            self.chain_id,
            self.tx_id,
            self.height.map_or("?".into(), |h| h.to_string()),
            self.gas_used
        )
    }
}

// --- the relayer --------------------------------------------------------------------------------

struct Watch {
    source: Chain,
    request: u64,
    target: Chain,
    to_request: u64,
    poll: Duration,
    give_up: Option<Duration>,
    json: bool,
}

/// R as the source chain revealed it.
struct Revealed {
    secret: [u8; 32],
    height: u64,
    tx_id: Hash,
}

impl Watch {
    async fn run(&self, signer: &SignerArgs) -> Result<()> {
        let key = signer_key(signer)?;
        let (source_leg, _) = self.source.leg(self.request, None).await?;
        let (target_leg, _) = self.target.leg(self.to_request, None).await?;
        ensure!(
            source_leg.lock == target_leg.lock,
            "the two legs are not locked to the same secret: {} vs {}",
            hex::encode(source_leg.lock.hash),
            hex::encode(target_leg.lock.hash)
        );
        ensure!(
            target_leg.claimant == key.address(),
            "{} {} on {} can be claimed by {}, not by {} ({})",
            self.target.kind.leg_name(),
            self.to_request,
            self.target.chain_id,
            target_leg.claimant,
            signer.key,
            key.address()
        );
        if target_leg.status != LegStatus::Active {
            bail!(
                "{} {} on {} is not active",
                self.target.kind.leg_name(),
                self.to_request,
                self.target.chain_id
            );
        }
        self.say(json!({"event": "watching", "source": self.source.url, "chain": self.source.chain_id,
            "request": self.request, "target_chain": self.target.chain_id, "to_request": self.to_request,
            "deadline_ms": target_leg.deadline_ms}), || format!(
            "watching {} {} on {} for R; will claim {} {} on {} (deadline {} ms)",
            self.source.kind.leg_name(), self.request, self.source.chain_id,
            self.target.kind.leg_name(), self.to_request, self.target.chain_id, target_leg.deadline_ms));

        let revealed = self.wait_for_secret(&target_leg).await?;
        ensure!(
            source_leg.lock.opens(&revealed.secret),
            "the revealed secret does not open the lock"
        );
        // The event is one node's word; the proved state at its height must say the same.
        let (proved, proof) = self.source.leg(self.request, Some(revealed.height)).await?;
        ensure!(
            proved.status.preimage() == Some(revealed.secret),
            "the proved state of {} {} does not hold the secret of its event",
            self.source.kind.leg_name(),
            self.request
        );
        self.say(json!({"event": "revealed", "secret": hex::encode(revealed.secret), "height": revealed.height,
            "tx_id": revealed.tx_id, "proof": proof}), || format!(
            "R = {} revealed on {} at height {} (tx {})\n{}",
            hex::encode(revealed.secret), self.source.chain_id, revealed.height, revealed.tx_id, proof.summary()));

        let done = self.target.claim(&target_leg, revealed.secret, &key, signer).await?;
        self.say(serde_json::to_value(&done)?, || format!("completed: {}", done.summary()));
        Ok(())
    }

    /// Polls the source chain's claim events until one of them is the claim of `--request`, or
    /// fails when that leg is withdrawn or the target leg expires.
    async fn wait_for_secret(&self, target_leg: &Leg) -> Result<Revealed> {
        let started = Instant::now();
        // A leg does not record its registration height: scan the events from the first block.
        let mut from_height = 1;
        loop {
            let latest = self.source.client.status().await.map_err(rpc_error)?.height;
            if latest >= from_height {
                let events = self
                    .source
                    .client
                    .events(self.source.address.to_hex(), from_height, Some(latest), Some(10_000))
                    .await
                    .map_err(rpc_error)?;
                for info in &events {
                    if info.event.topic != self.source.kind.claim_topic() {
                        continue;
                    }
                    let Ok(leg) = borsh::from_slice::<Leg>(&info.event.data) else { continue };
                    if let (true, Some(secret)) = (leg.id == self.request, leg.status.preimage()) {
                        return Ok(Revealed { secret, height: info.height, tx_id: info.tx_id });
                    }
                }
                from_height = match events.last() {
                    Some(last) if events.len() == 10_000 => last.height,
                    _ => latest + 1,
                };
            }
            // The leg could have been withdrawn instead, or the window could be closing.
            let (now, (source_now, _)) =
                (self.target.now_ms().await?, self.source.leg(self.request, None).await?);
            if let LegStatus::Withdrawn { .. } = source_now.status {
                bail!(
                    "{} {} on {} was withdrawn: R will not be revealed there",
                    self.source.kind.leg_name(),
                    self.request,
                    self.source.chain_id
                );
            }
            ensure!(
                now < target_leg.deadline_ms,
                "{} {} on {} expired (block time {now} ms ≥ deadline {} ms) before R was revealed",
                self.target.kind.leg_name(),
                self.to_request,
                self.target.chain_id,
                target_leg.deadline_ms
            );
            if let Some(limit) = self.give_up {
                ensure!(started.elapsed() < limit, "no secret revealed after {limit:?}");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    fn say(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }
}

impl LegStatus {
    fn preimage(&self) -> Option<[u8; 32]> {
        match self {
            LegStatus::Claimed { preimage, .. } => Some(*preimage),
            _ => None,
        }
    }
}
