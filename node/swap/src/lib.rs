//! The cross-chain side of the burn-and-issue hash-lock (JP6980288B2, `contracts/power-ledger`,
//! `contracts/value-certificate`, rules in `contracts/hashlock-core`).
//!
//! A swap has two legs locked to one secret R, each on its own chain: a burn request (SC1, power
//! chain) and a transfer condition (SC2, value chain). Whoever claims one leg publishes R there;
//! the other side reads it and claims the other leg before that leg's deadline.
//!
//! - [`Chain`]: one hash-lock contract on one chain, read through a [`kessai_client::Reader`]:
//!   the contract's name and interface and every leg are proven under a header the light client
//!   verified from the caller's root of trust ([`Trust`]); [`Chain::claim`] signs
//!   `hashlock-core`'s claim message and submits.
//! - [`Watch`]: the relayer. It watches the source chain's events for the claim of one leg, checks
//!   the revealed R against the leg's proven state at the event's height, and claims the other leg.
//!
//! The contract types come from `hashlock-core` itself ([`CLAIM_DOMAIN`], [`ClaimMessage`],
//! [`Lock`], [`LegStatus`]): a change there changes what this crate signs and decodes.

use anyhow::{bail, ensure, Context, Result};
pub use hashlock_core::{
    claim_message, ClaimAction, ClaimMessage, HashAlgorithm, LegOrder, LegStatus, Lock, Secret,
    TimeoutRules, CLAIM_DOMAIN,
};
use kessai_abi::Abi;
use kessai_client::verified::VerifiedHeader;
use kessai_client::{submit, Reader, Signer, Trust};
use kessai_primitives::time::now_ms;
use kessai_primitives::{Address, Hash, Keypair, Payload, TxStatus};
use kessai_rpc_api::{rpc_error, KessaiApiClient};
use serde::Serialize;
use serde_json::json;
use std::time::{Duration, Instant};

mod register;
pub use register::{Counter, Registered, Registration};

/// The power ledger's records (SC1), compiled from the contract's own `src/types.rs`: the
/// contracts are `cdylib`-only, so no crate can depend on them, and their sources are included as
/// modules instead (as `contracts/hashlock-tests` does). A change to a contract's record changes
/// what this crate decodes; nothing is declared twice.
#[allow(missing_docs)]
#[path = "../../../contracts/power-ledger/src/types.rs"]
pub mod power_ledger;

/// The value certificates' records (SC2), compiled from the contract's own `src/types.rs`.
#[allow(missing_docs)]
#[path = "../../../contracts/value-certificate/src/types.rs"]
pub mod value_certificate;

/// A burn request ([`power_ledger::BurnRequest`]) or a transfer condition
/// ([`value_certificate::TransferCondition`]) seen through one view: the two records have the same
/// roles under different names.
#[derive(Clone, Debug)]
pub struct Leg {
    /// The leg's id in its contract (the key of its storage entry).
    pub id: u64,
    /// The amount of power (burn request) or the token id (transfer condition).
    pub subject: u64,
    /// The hash lock: the algorithm and H(R) that the claim's secret must open.
    pub lock: Lock,
    /// The permitted address (burn) or the destination (transfer): who may claim.
    pub claimant: Address,
    /// Block time of the registration, milliseconds since the Unix epoch; part of the signed
    /// claim message, where it tells apart two legs whose contract address and id coincide on two
    /// chains.
    pub timestamp_ms: u64,
    /// Active, claimed (with R and the block time of the claim) or withdrawn.
    pub status: LegStatus,
    /// The creator (burn) or the registrant (transfer).
    pub registrant: Address,
    /// How long after `timestamp_ms` the leg may be claimed, in milliseconds.
    pub timeout_ms: u64,
    /// `timestamp_ms + timeout_ms` (block time, ms): claim before it, withdraw from it on.
    pub deadline_ms: u64,
    /// For a second leg, the counter leg's deadline (ms) it was checked against at registration;
    /// `None` for a first leg.
    pub counter_deadline_ms: Option<u64>,
}

impl From<power_ledger::BurnRequest> for Leg {
    fn from(r: power_ledger::BurnRequest) -> Leg {
        Leg {
            id: r.id,
            subject: r.amount,
            lock: r.lock,
            claimant: Address(r.permitted.0),
            timestamp_ms: r.timestamp_ms,
            status: r.status,
            registrant: Address(r.creator.0),
            timeout_ms: r.timeout_ms,
            deadline_ms: r.deadline_ms,
            counter_deadline_ms: r.counter_deadline_ms,
        }
    }
}

impl From<value_certificate::TransferCondition> for Leg {
    fn from(c: value_certificate::TransferCondition) -> Leg {
        Leg {
            id: c.id,
            subject: c.token_id,
            lock: c.lock,
            claimant: Address(c.destination.0),
            timestamp_ms: c.timestamp_ms,
            status: c.status,
            registrant: Address(c.registrant.0),
            timeout_ms: c.timeout_ms,
            deadline_ms: c.deadline_ms,
            counter_deadline_ms: c.counter_deadline_ms,
        }
    }
}

impl Leg {
    /// The leg as JSON for scripts: the lock and R as hex, the algorithm by its interface name,
    /// times in ms.
    pub fn to_json(&self) -> serde_json::Value {
        let status = match self.status {
            LegStatus::Active => json!("Active"),
            LegStatus::Claimed { preimage, at_ms } => {
                json!({"Claimed": {"preimage": hex::encode(preimage), "at_ms": at_ms}})
            }
            LegStatus::Withdrawn { at_ms } => json!({"Withdrawn": {"at_ms": at_ms}}),
        };
        json!({
            "id": self.id, "subject": self.subject,
            "lock": {"algorithm": algorithm_name(self.lock.algorithm),
                "hash": hex::encode(self.lock.hash)},
            "claimant": self.claimant, "timestamp_ms": self.timestamp_ms, "status": status,
            "registrant": self.registrant, "timeout_ms": self.timeout_ms,
            "deadline_ms": self.deadline_ms, "counter_deadline_ms": self.counter_deadline_ms,
        })
    }

    /// One line for people: status (with R once claimed), subject, lock, parties and deadline.
    pub fn summary(&self) -> String {
        let status = match self.status {
            LegStatus::Active => "active".to_string(),
            LegStatus::Claimed { preimage, .. } => {
                format!("claimed with R = {}", hex::encode(preimage))
            }
            LegStatus::Withdrawn { .. } => "withdrawn".to_string(),
        };
        format!(
            "{status}; subject {}, lock {} {}, claimant {}, registrant {}, deadline {} ms",
            self.subject,
            algorithm_name(self.lock.algorithm),
            hex::encode(self.lock.hash),
            self.claimant,
            self.registrant,
            self.deadline_ms
        )
    }
}

/// The algorithm as the contracts' interface names it.
pub fn algorithm_name(algorithm: HashAlgorithm) -> &'static str {
    match algorithm {
        HashAlgorithm::Blake3 => "Blake3",
        HashAlgorithm::Sha256 => "Sha256",
    }
}

/// Which of the two hash-lock contracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegKind {
    /// A burn request of a power ledger.
    Burn,
    /// A transfer condition of value certificates.
    Transfer,
}

impl LegKind {
    /// By the contract's (proven) interface name.
    pub fn of(contract_name: &str) -> Result<LegKind> {
        match contract_name {
            "power-ledger" => Ok(LegKind::Burn),
            "value-certificate" => Ok(LegKind::Transfer),
            other => {
                bail!("{other} is not a hash-lock contract (power-ledger or value-certificate)")
            }
        }
    }

    /// The contract's interface name (`power-ledger` or `value-certificate`).
    pub fn name(self) -> &'static str {
        match self {
            LegKind::Burn => "power-ledger",
            LegKind::Transfer => "value-certificate",
        }
    }

    /// What this contract calls a leg, for messages (`burn request`, `transfer condition`).
    pub fn leg_name(self) -> &'static str {
        match self {
            LegKind::Burn => "burn request",
            LegKind::Transfer => "transfer condition",
        }
    }

    /// A leg record (storage entry or claim event) of this contract.
    pub fn decode(self, bytes: &[u8]) -> Result<Leg> {
        Ok(match self {
            LegKind::Burn => borsh::from_slice::<power_ledger::BurnRequest>(bytes)?.into(),
            LegKind::Transfer => {
                borsh::from_slice::<value_certificate::TransferCondition>(bytes)?.into()
            }
        })
    }

    /// The storage map of the legs, as the contract's interface names it (its key layout comes
    /// from the proven interface, see [`Chain::leg`]).
    pub fn map(self) -> &'static str {
        match self {
            LegKind::Burn => "requests",
            LegKind::Transfer => "conditions",
        }
    }

    /// The method that claims a leg.
    pub fn claim_method(self) -> &'static str {
        match self {
            LegKind::Burn => "burn",
            LegKind::Transfer => "transfer",
        }
    }

    /// The event a claim emits, with the leg (and so R).
    pub fn claim_topic(self) -> &'static str {
        match self {
            LegKind::Burn => "burned",
            LegKind::Transfer => "transferred",
        }
    }

    /// The action named in the signed claim message, so a signature for one contract's claim is
    /// not valid for the other's.
    pub fn action(self) -> ClaimAction {
        match self {
            LegKind::Burn => ClaimAction::Burn,
            LegKind::Transfer => ClaimAction::Transfer,
        }
    }
}

/// How a value was verified: the header it was proved under and the commit that finalised it.
#[derive(Serialize, Clone, Debug)]
pub struct ProofReport {
    /// Height of the verified header.
    pub height: u64,
    /// The header's state root, which the value's proof was checked against.
    pub state_root: Hash,
    /// The header's id (the block hash).
    pub block: Hash,
    /// Hash of the validator set that signed the commit.
    pub validators_hash: Hash,
    /// Voting power of the commit's valid signatures.
    pub signed_power: u64,
    /// Total voting power of the signing validator set.
    pub total_power: u64,
}

impl From<&VerifiedHeader> for ProofReport {
    fn from(v: &VerifiedHeader) -> ProofReport {
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
    /// One line for people: the state root and header, and the voting power that committed it.
    pub fn summary(&self) -> String {
        format!(
            "proof verified against state root {} of height {} (block {}, committed by {}/{} voting power of validator set {}, verified by the light client)",
            self.state_root, self.height, self.block, self.signed_power, self.total_power, self.validators_hash
        )
    }
}

/// A hash-lock contract on one chain, read through verified reads.
pub struct Chain {
    reader: Reader,
    /// The contract's interface, from its code as proven at connection.
    abi: Abi,
    /// The node's JSON-RPC URL.
    pub url: String,
    /// The chain's id, from the verified root of trust.
    pub chain_id: String,
    /// The contract's address (resolved in the proven state when given by name).
    pub address: Address,
    /// Which hash-lock contract it is, by its proven interface name.
    pub kind: LegKind,
}

impl Chain {
    /// Opens a verified reader of the node at `url` from `trust` (with `witnesses`), and resolves
    /// `contract` (name or address) and its kind in the proven state.
    pub async fn connect(
        url: &str,
        contract: &str,
        trust: &Trust,
        witnesses: &[String],
    ) -> Result<Chain> {
        let mut reader = Reader::open(url, trust, witnesses).await?;
        let height = reader.latest_height().await?;
        let address = reader.contract_address(contract, height).await?;
        let abi = reader.abi(address, height).await?;
        let kind = LegKind::of(&abi.name)?;
        reader.save()?;
        Ok(Chain {
            url: url.to_string(),
            chain_id: reader.chain_id().to_string(),
            reader,
            abi,
            address,
            kind,
        })
    }

    /// Leg `id`, proven at `height` (default: the node's latest).
    pub async fn leg(&mut self, id: u64, height: Option<u64>) -> Result<(Leg, ProofReport)> {
        // The key by the contract's proven interface (the map's prefix ‖ borsh(id)).
        let storage_key = self.abi.map_key(self.kind.map(), &json!(id))?;
        let proven = self.reader.contract_value(self.address, &storage_key, height).await?;
        self.reader.save()?;
        let Some(bytes) = proven.value else {
            bail!("no {} {id} on chain {} (proved absent)", self.kind.leg_name(), self.chain_id);
        };
        let leg = self.kind.decode(&bytes).context("the leg does not decode")?;
        ensure!(leg.id == id, "the proved entry is leg {}, not {id}", leg.id);
        Ok((leg, ProofReport::from(&proven.header)))
    }

    /// The latest block time: "now" for the contracts (the node's word: only used to decide when
    /// to give up, never to accept anything).
    pub async fn now_ms(&self) -> Result<u64> {
        Ok(self.reader.rpc().status().await.map_err(rpc_error)?.time_ms)
    }

    /// The contract's timeout rules (its leg order, timeout and margin), proven, with the header
    /// they were proven under (the latest verified one).
    pub async fn rules(&mut self) -> Result<(TimeoutRules, VerifiedHeader)> {
        // The `rules` item's storage key is its name (kessai-sdk's `Item`).
        let proven = self.reader.contract_value(self.address, b"rules", None).await?;
        self.reader.save()?;
        let bytes = proven.value.context("the contract has no timeout rules (not initialised)")?;
        let rules = borsh::from_slice(&bytes).context("the timeout rules do not decode")?;
        Ok((rules, proven.header))
    }

    /// Refuses to reveal R by claiming `leg` unless the claim can land well before the leg's
    /// deadline: "now" is the later of the latest verified block time and this machine's clock
    /// (a node serving an old header cannot make a late claim look early), and at least the
    /// contract's margin must be left. A claim included at or after the deadline fails on chain
    /// but its transaction still publishes R, and the counterparty, whose own leg outlives this
    /// one, could then take both legs (issue 14).
    pub async fn check_time_to_reveal(&mut self, leg: &Leg) -> Result<()> {
        let (rules, header) = self.rules().await?;
        let block_time = header.header.time_ms;
        let now = block_time.max(now_ms());
        let left = leg.deadline_ms.saturating_sub(now);
        ensure!(
            left > rules.margin_ms,
            "refusing to reveal the secret: {} {} on {} expires at block time {} ms, and only {left} ms are left (latest verified block time {block_time} ms, this machine's clock {} ms), not more than the contract's margin of {} ms. A claim that lands after the deadline fails but still publishes R, and the counterparty could then take both legs; let this leg expire and withdraw yours after its deadline",
            self.kind.leg_name(),
            leg.id,
            self.chain_id,
            leg.deadline_ms,
            now_ms(),
            rules.margin_ms
        );
        Ok(())
    }

    /// Claims `leg` with `secret` as `signer`: checks what the contract will check, signs the
    /// claim message, submits and waits for the receipt. It does not check the time left: a
    /// claim that reveals R first goes through [`Chain::check_time_to_reveal`]; the relayer,
    /// which uses an R already public, does not need to.
    pub async fn claim(&self, leg: &Leg, secret: Secret, signer: &Signer) -> Result<Completed> {
        let key: &Keypair = &signer.key;
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
            signer.name,
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
            contract: kessai_sdk::Address(self.address.0),
            request_id: leg.id,
            registered_at_ms: leg.timestamp_ms,
            lock: leg.lock,
            preimage: secret,
            claimant: kessai_sdk::Address(leg.claimant.0),
        };
        let signed = claim_message(&message);
        let signature = key.sign(CLAIM_DOMAIN, &signed[CLAIM_DOMAIN.len()..]);
        let args = borsh::to_vec(&(leg.id, secret, signature.0))?;
        let payload =
            Payload::Call { contract: self.address, method: self.kind.claim_method().into(), args };
        let info = submit(self.reader.rpc(), signer, payload).await?;
        let receipt = info.receipt.clone().context("no receipt (submitted with --no-wait?)")?;
        if let TxStatus::Failed { reason } = &receipt.status {
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

/// A completed claim.
#[derive(Serialize, Debug)]
pub struct Completed {
    /// The chain the leg is on.
    pub chain_id: String,
    /// The claim method called (`burn` or `transfer`).
    pub method: &'static str,
    /// The id of the leg claimed.
    pub request: u64,
    /// The claim transaction's id.
    pub tx_id: Hash,
    /// The block holding the transaction (`None` only when the node's answer has no height).
    pub height: Option<u64>,
    /// Gas the claim used, from its receipt.
    pub gas_used: u64,
}

impl Completed {
    /// One line for people: method, leg, chain, transaction, height and gas.
    pub fn summary(&self) -> String {
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

/// The relayer: completes `to_request` on `target` with the R revealed by the claim of `request`
/// on `source`.
pub struct Watch {
    /// The chain whose leg's claim reveals R.
    pub source: Chain,
    /// The id of the leg watched on `source`.
    pub request: u64,
    /// The chain of the leg to complete.
    pub target: Chain,
    /// The id of the leg to claim on `target`; its claimant must be the relayer's key.
    pub to_request: u64,
    /// How long to sleep between polls of the source chain's events.
    pub poll: Duration,
    /// Give up after this long (default: when the leg to complete expires).
    pub give_up: Option<Duration>,
}

/// What the relayer did, step by step, for people ([`Step::summary`]) and scripts
/// ([`Step::to_json`]).
#[derive(Debug)]
pub enum Step {
    /// Both legs checked (same lock, target claimable by the signer, target active); waiting for
    /// R.
    Watching {
        /// The target leg's deadline, block time in ms: R must be revealed and used before it.
        deadline_ms: u64,
    },
    /// R was revealed on the source chain and the source leg's proven state holds it.
    Revealed {
        /// R, which opens both locks.
        secret: Secret,
        /// Height of the block holding the claim event.
        height: u64,
        /// The source claim's transaction.
        tx_id: Hash,
        /// The header the source leg was proven under at `height`.
        proof: ProofReport,
    },
    /// The target leg was claimed with R.
    Completed(Completed),
}

impl Watch {
    /// Checks both legs, waits for R, completes the target leg as `signer`; `report` sees each
    /// step.
    pub async fn run(
        &mut self,
        signer: &Signer,
        mut report: impl FnMut(&Watch, Step),
    ) -> Result<()> {
        let key = &signer.key;
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
            signer.name,
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
        report(self, Step::Watching { deadline_ms: target_leg.deadline_ms });

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
        report(
            self,
            Step::Revealed {
                secret: revealed.secret,
                height: revealed.height,
                tx_id: revealed.tx_id,
                proof,
            },
        );
        let done = self.target.claim(&target_leg, revealed.secret, signer).await?;
        report(self, Step::Completed(done));
        Ok(())
    }

    /// Polls the source chain's claim events until one of them is the claim of `request`, or
    /// fails when that leg is withdrawn or the target leg expires.
    async fn wait_for_secret(&mut self, target_leg: &Leg) -> Result<Revealed> {
        let started = Instant::now();
        // A leg does not record its registration height: scan the events from the first block,
        // a page at a time, each page resuming after the last event of the one before.
        let mut from_height = 1;
        let mut after = None;
        loop {
            let rpc = self.source.reader.rpc();
            let latest = rpc.status().await.map_err(rpc_error)?.height;
            if latest >= from_height {
                let events = rpc
                    .events(
                        self.source.address.to_hex(),
                        from_height,
                        Some(latest),
                        Some(10_000),
                        after,
                    )
                    .await
                    .map_err(rpc_error)?;
                for info in &events {
                    if info.event.topic != self.source.kind.claim_topic() {
                        continue;
                    }
                    let Ok(leg) = self.source.kind.decode(&info.event.data) else { continue };
                    if let (true, Some(secret)) = (leg.id == self.request, leg.status.preimage()) {
                        return Ok(Revealed { secret, height: info.height, tx_id: info.tx_id });
                    }
                }
                (from_height, after) = match events.last() {
                    // A node without cursors: rescan the last height (its events again).
                    Some(last) if events.len() == 10_000 && last.cursor.is_none() => {
                        (last.height, None)
                    }
                    Some(last) if events.len() == 10_000 => (last.height, last.cursor),
                    _ => (latest + 1, None),
                };
            }
            // The leg could have been withdrawn instead, or the window could be closing.
            let now = self.target.now_ms().await?;
            let (source_now, _) = self.source.leg(self.request, None).await?;
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
}

/// R as the source chain revealed it.
struct Revealed {
    secret: Secret,
    height: u64,
    tx_id: Hash,
}

impl Step {
    /// The step as one JSON object for scripts (an `event` field names it; R as hex).
    pub fn to_json(&self, watch: &Watch) -> serde_json::Value {
        match self {
            Step::Watching { deadline_ms } => json!({"event": "watching",
                "source": watch.source.url, "chain": watch.source.chain_id,
                "request": watch.request, "target_chain": watch.target.chain_id,
                "to_request": watch.to_request, "deadline_ms": deadline_ms}),
            Step::Revealed { secret, height, tx_id, proof } => json!({"event": "revealed",
                "secret": hex::encode(secret), "height": height, "tx_id": tx_id, "proof": proof}),
            Step::Completed(done) => serde_json::to_value(done).expect("serialises"),
        }
    }

    /// The step for people, naming the legs and chains of `watch`.
    pub fn summary(&self, watch: &Watch) -> String {
        match self {
            Step::Watching { deadline_ms } => format!(
                "watching {} {} on {} for R; will claim {} {} on {} (deadline {deadline_ms} ms)",
                watch.source.kind.leg_name(),
                watch.request,
                watch.source.chain_id,
                watch.target.kind.leg_name(),
                watch.to_request,
                watch.target.chain_id
            ),
            Step::Revealed { secret, height, tx_id, proof } => format!(
                "R = {} revealed on {} at height {height} (tx {tx_id})\n{}",
                hex::encode(secret),
                watch.source.chain_id,
                proof.summary()
            ),
            Step::Completed(done) => format!("completed: {}", done.summary()),
        }
    }
}

/// A fresh secret R: 32 bytes from the operating system's random source, as keys are drawn.
pub fn draw_secret() -> Secret {
    Keypair::generate().seed()
}

/// R from 64 hex characters (a `0x` prefix is accepted).
pub fn parse_secret(text: &str) -> Result<Secret> {
    hex::decode(text.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("a secret is 32 bytes: 64 hex characters")
}

/// The lock hash of `secret` under `algorithm`, as the contracts compute it.
pub fn lock_hash(algorithm: HashAlgorithm, secret: &Secret) -> [u8; 32] {
    algorithm.digest(secret)
}
