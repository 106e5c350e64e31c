//! `kessai contract`: the contract lifecycle (decision record 0019). Members propose a new
//! contract or an upgrade, approve or withdraw their approval, and see where proposals stand;
//! anyone checks that a local artifact is the code in force. `status` and `verify` are verified
//! reads (the light client, from the root of trust of `TrustArgs`); the others sign and submit.

use super::output;
use crate::cli::{RpcArgs, SignerArgs, TrustArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgGroup, Args, Subcommand};
use kessai_abi::Abi;
use kessai_client::lifecycle::{code_key, ContractHistory, ProposalStatus, ProposalView};
use kessai_client::{ensure_success, failure_reason, load_signer, submit, Signer};
use kessai_primitives::lifecycle::proposal_id;
use kessai_primitives::{
    Address, ContractChange, ContractProposal, DeploymentPolicy, Hash, LifecycleAction, Payload,
    PublicKey, SignedTransaction, UpgradePolicy,
};
use kessai_rpc_api::{self as rpc, rpc_error, HttpClient, KessaiApiClient, TxInfo};
use std::path::PathBuf;

/// How many blocks a proposal stays open by default: a day at one block a second.
pub const DEFAULT_EXPIRES_IN: u64 = 86_400;

/// The system events of an activation (`docs/rpc.md`, "Contract lifecycle").
const ACTIVATION_TOPICS: [&str; 2] = ["contract_instantiated", "contract_upgraded"];

#[derive(Subcommand, Debug)]
pub enum ContractCommand {
    /// Propose a new contract: stored code (or a .wasm file, deployed first when the chain does
    /// not hold it), a unique name, init arguments and who may later upgrade it. It is
    /// instantiated by the transaction whose approval meets the chain's deployment policy (this
    /// one, when one approval is enough).
    Propose {
        /// The contract's name, unique on the chain (what `tx call` and queries accept).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        code: CodeArgs,
        /// Arguments of its init method, as JSON (array in order, or object by name).
        #[arg(long)]
        init_args: Option<String>,
        /// Who may replace its code: immutable, admin:KEY (a public key or a key NAME), or
        /// approvals:K (K members holding the approver role).
        #[arg(long, default_value = "immutable")]
        upgrade_policy: String,
        #[command(flatten)]
        expiry: ExpiryArgs,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Propose new code for a contract, keeping its address and storage; the new code's
    /// `migrate` runs once, with --migrate-args, in the activating transaction, and if it fails
    /// nothing changes.
    ProposeUpgrade {
        /// The contract (name or address).
        contract: String,
        #[command(flatten)]
        code: CodeArgs,
        /// Arguments of the new code's migrate method, as JSON (array in order, or object by
        /// name).
        #[arg(long)]
        migrate_args: Option<String>,
        #[command(flatten)]
        expiry: ExpiryArgs,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Approve a pending proposal; the approval that meets the policy activates it.
    Approve {
        /// The proposal's id (64 hex, printed by `propose`).
        proposal_id: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Take back your approval of a proposal not yet activated.
    Withdraw {
        /// The proposal's id (64 hex).
        proposal_id: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Where one proposal stands, or every proposal the node's history shows: the change,
    /// approvals against the policy's threshold, expiry and status, proven under a verified
    /// header.
    Status {
        /// The proposal's id; without it, every proposal.
        proposal_id: Option<String>,
        /// Read the state after this block (default: the node's latest).
        #[arg(long)]
        height: Option<u64>,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Check that a local .wasm file is the code in force for a contract (proven); exits
    /// non-zero when it is not.
    Verify {
        /// The contract (name or address).
        contract: String,
        /// The locally built artifact.
        #[arg(long)]
        wasm: PathBuf,
        /// Check the code in force after this block (default: the node's latest).
        #[arg(long)]
        height: Option<u64>,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// The code a proposal names: stored code by hash, or a local file.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("code").required(true).multiple(false).args(["code_hash", "wasm"])))]
pub struct CodeArgs {
    /// Hash of code already stored on the chain (by `tx deploy` or a chain spec).
    #[arg(long)]
    code_hash: Option<String>,
    /// A .wasm file: deployed (stored) first unless the chain holds it already.
    #[arg(long)]
    wasm: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExpiryArgs {
    /// Blocks from the node's latest height during which the proposal may be approved.
    #[arg(long, default_value_t = DEFAULT_EXPIRES_IN)]
    expires_in: u64,
}

impl ExpiryArgs {
    fn check(&self) -> Result<()> {
        if self.expires_in == 0 {
            bail!("--expires-in must be at least 1 block");
        }
        Ok(())
    }
}

pub async fn run(command: ContractCommand) -> Result<()> {
    match command {
        ContractCommand::Propose { name, code, init_args, upgrade_policy, expiry, signer, rpc } => {
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            expiry.check()?;
            let upgrade_policy = parse_upgrade_policy(&upgrade_policy, &signer)?;
            let client = rpc::client(&rpc.rpc)?;
            let signer_key = signer.signer()?;
            let code = Code::named(&client, &code).await?;
            let args = encode_entry_args(&code.abi, "init", init_args.as_deref(), "--init-args")?;
            // Only once every argument is good is anything signed.
            let code_hash = code.store_if_absent(&client, &signer_key).await?;
            let change = ContractChange::Instantiate { name, code_hash, args, upgrade_policy };
            propose(&client, &rpc, &signer_key, change, expiry).await
        }
        ContractCommand::ProposeUpgrade { contract, code, migrate_args, expiry, signer, rpc } => {
            expiry.check()?;
            let client = rpc::client(&rpc.rpc)?;
            let info = client.contract(contract.clone()).await.map_err(rpc_error)?;
            let signer_key = signer.signer()?;
            let code = Code::named(&client, &code).await?;
            if code.hash == info.code_hash {
                bail!("{contract} already runs code {}: an upgrade needs other code", code.hash);
            }
            let migrate_args =
                encode_entry_args(&code.abi, "migrate", migrate_args.as_deref(), "--migrate-args")?;
            let code_hash = code.store_if_absent(&client, &signer_key).await?;
            let change =
                ContractChange::Upgrade { contract: info.address, code_hash, migrate_args };
            propose(&client, &rpc, &signer_key, change, expiry).await
        }
        ContractCommand::Approve { proposal_id, signer, rpc } => {
            let proposal = parse_proposal_id(&proposal_id)?;
            let action = LifecycleAction::Approve { proposal };
            submit_action(&rpc, &signer.signer()?, action, proposal).await
        }
        ContractCommand::Withdraw { proposal_id, signer, rpc } => {
            let proposal = parse_proposal_id(&proposal_id)?;
            let action = LifecycleAction::Withdraw { proposal };
            submit_action(&rpc, &signer.signer()?, action, proposal).await
        }
        ContractCommand::Status { proposal_id, height, trust, rpc } => {
            let id = proposal_id.as_deref().map(parse_proposal_id).transpose()?;
            status(id, height, &trust, &rpc).await
        }
        ContractCommand::Verify { contract, wasm, height, trust, rpc } => {
            verify(&contract, &wasm, height, &trust, &rpc).await
        }
    }
}

fn parse_proposal_id(text: &str) -> Result<Hash> {
    text.parse().map_err(|_| anyhow!("{text:?} is not a proposal id (64 hex characters)"))
}

/// `immutable`, `admin:KEY` or `approvals:K`.
fn parse_upgrade_policy(text: &str, signer: &SignerArgs) -> Result<UpgradePolicy> {
    let usage = "an upgrade policy is immutable, admin:KEY or approvals:K";
    match text.split_once(':') {
        None if text == "immutable" => Ok(UpgradePolicy::Immutable),
        Some(("admin", key)) => {
            let key = match key.parse::<PublicKey>() {
                Ok(key) => key,
                Err(_) => {
                    let keys_dir = signer
                        .keys_dir
                        .clone()
                        .unwrap_or_else(|| kessai_client::default_dev_home().join("keys"));
                    load_signer(key, Some(&keys_dir))
                        .with_context(|| {
                            format!(
                                "admin:{key} names neither a public key (64 hex) nor a key file"
                            )
                        })?
                        .public()
                }
            };
            Ok(UpgradePolicy::Admin { key })
        }
        Some(("approvals", k)) => match k.parse::<u32>() {
            Ok(required) if required >= 1 => Ok(UpgradePolicy::Approvals { required }),
            _ => bail!("approvals:{k} needs a number of approvals of at least 1 ({usage})"),
        },
        _ => bail!("{text:?} is not an upgrade policy: {usage}"),
    }
}

/// The code a proposal names: its hash, its interface, and its bytes when they came from a file
/// the chain may not hold yet.
struct Code {
    hash: Hash,
    abi: Abi,
    /// The file's bytes, to store before proposing; `None` for code named by hash (stored).
    file: Option<Vec<u8>>,
}

impl Code {
    /// Reads the file, or the stored code of the hash (which must be on the chain).
    async fn named(client: &HttpClient, code: &CodeArgs) -> Result<Code> {
        match (&code.code_hash, &code.wasm) {
            (Some(hash), _) => {
                let hash: Hash = hash
                    .parse()
                    .map_err(|_| anyhow!("{hash:?} is not a code hash (64 hex characters)"))?;
                let bytes = stored_code(client, &hash).await?.ok_or_else(|| {
                    anyhow!(
                        "no code {hash} is stored on the chain: deploy it first, or give --wasm FILE"
                    )
                })?;
                let abi = Abi::from_wasm(&bytes)
                    .map_err(|e| anyhow!("the stored code {hash} has no usable interface: {e}"))?;
                Ok(Code { hash, abi, file: None })
            }
            (None, Some(path)) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let abi = Abi::from_wasm(&bytes)
                    .map_err(|e| anyhow!("{} is not a Kessai contract: {e}", path.display()))?;
                Ok(Code { hash: Hash::digest(&bytes), abi, file: Some(bytes) })
            }
            (None, None) => bail!("name the code: --code-hash HASH or --wasm FILE"),
        }
    }

    /// Stores a file's code (a deploy by `signer`) unless the chain holds it already; its hash.
    async fn store_if_absent(self, client: &HttpClient, signer: &Signer) -> Result<Hash> {
        if let Some(bytes) = self.file {
            if stored_code(client, &self.hash).await?.is_none() {
                let stored = submit(client, &signer.waiting(), Payload::Deploy { code: bytes })
                    .await
                    .context("storing the code")?;
                ensure_success(&stored)?;
            }
        }
        Ok(self.hash)
    }
}

/// The code stored under `hash`, as the node serves it (what the proposal signs is the hash).
async fn stored_code(client: &HttpClient, hash: &Hash) -> Result<Option<Vec<u8>>> {
    let key = hex::encode(code_key(hash));
    let read = client.state(key, None).await.map_err(rpc_error)?;
    read.value.map(|v| hex::decode(v).context("the node sent code that is not hex")).transpose()
}

/// Borsh of an entry point's (`init`, `migrate`) arguments by the code's interface: none for code
/// without it (giving some is refused), `[]` by default.
fn encode_entry_args(abi: &Abi, entry: &str, json: Option<&str>, flag: &str) -> Result<Vec<u8>> {
    match (abi.method(entry), json) {
        (Some(_), json) => {
            let value: serde_json::Value = match json {
                None => serde_json::json!([]),
                Some(text) => serde_json::from_str(text)
                    .with_context(|| format!("{flag} is not valid JSON: {text}"))?,
            };
            abi.encode_args(entry, &value)
                .with_context(|| format!("{flag} do not match {}'s {entry}", abi.name))
        }
        (None, None) => Ok(vec![]),
        (None, Some(_)) => bail!("{} has no {entry} method, but {flag} was given", abi.name),
    }
}

async fn propose(
    client: &HttpClient,
    rpc_args: &RpcArgs,
    signer: &Signer,
    change: ContractChange,
    expiry: ExpiryArgs,
) -> Result<()> {
    let status = client.status().await.context("cannot reach the node")?;
    let expires_at_height = status.height.saturating_add(expiry.expires_in);
    // The id is that of the signer's next nonce; the committed transaction confirms it.
    let nonce = client.account(signer.key.public()).await.map_err(rpc_error)?.next_nonce;
    let proposal = ContractProposal { change, expires_at_height };
    let action = LifecycleAction::Propose(proposal);
    let info = submit(client, signer, Payload::Lifecycle(action)).await?;
    let nonce = committed_nonce(&info).unwrap_or(nonce);
    report(rpc_args, &info, proposal_id(&signer.key.public(), nonce))
}

async fn submit_action(
    rpc_args: &RpcArgs,
    signer: &Signer,
    action: LifecycleAction,
    proposal: Hash,
) -> Result<()> {
    let client = rpc::client(&rpc_args.rpc)?;
    let info = submit(&client, signer, Payload::Lifecycle(action)).await?;
    report(rpc_args, &info, proposal)
}

/// The nonce of a committed transaction, from its signed bytes.
fn committed_nonce(info: &TxInfo) -> Option<u64> {
    let bytes = hex::decode(info.tx.as_deref()?).ok()?;
    let signed: SignedTransaction = borsh::from_slice(&bytes).ok()?;
    Some(signed.tx.nonce)
}

/// Prints a lifecycle transaction's outcome: the proposal, whether it activated, the gas; fails
/// when the transaction failed.
fn report(rpc_args: &RpcArgs, info: &TxInfo, proposal: Hash) -> Result<()> {
    let activation = info.receipt.as_ref().and_then(|r| {
        r.events.iter().find(|e| {
            e.contract == Address::SYSTEM && ACTIVATION_TOPICS.contains(&e.topic.as_str())
        })
    });
    let created = info.receipt.as_ref().and_then(|r| r.created);
    let value = serde_json::json!({
        "tx_id": info.tx_id,
        "state": info.state,
        "height": info.height,
        "proposal": proposal,
        "activated": activation.is_some(),
        "activation": activation.map(|e| e.topic.clone()),
        "created": created,
        "gas_used": info.receipt.as_ref().map(|r| r.gas_used),
        "receipt": info.receipt,
    });
    output::print(rpc_args.json, &value, |_| {
        let mut text = format!("tx {} ", info.tx_id);
        match (&info.receipt, info.height) {
            (Some(r), Some(h)) => {
                text += &format!(
                    "committed at height {h}: {} (gas {})\nproposal {proposal}",
                    if r.is_success() {
                        "success".into()
                    } else {
                        format!("FAILED: {}", failure_reason(r))
                    },
                    r.gas_used
                );
                match activation {
                    Some(e) if e.topic == "contract_instantiated" => {
                        text += "\nactivated: the contract is instantiated";
                        if let Some(address) = created {
                            text += &format!(" at {address}");
                        }
                    }
                    Some(_) => text += "\nactivated: the contract runs the new code",
                    None if r.is_success() => {
                        text += &format!(
                            "\nnot activated yet: `kessai contract status {proposal}` shows its \
                             approvals"
                        )
                    }
                    None => {}
                }
            }
            _ => text += &format!("submitted\nproposal {proposal}"),
        }
        text
    });
    ensure_success(info)
}

async fn status(
    id: Option<Hash>,
    height: Option<u64>,
    trust: &TrustArgs,
    rpc_args: &RpcArgs,
) -> Result<()> {
    let mut reader = trust.reader(&rpc_args.rpc).await?;
    let height = match height {
        Some(height) => height,
        None => reader.latest_height().await?,
    };
    let ids = match id {
        Some(id) => vec![id],
        None => reader.proposal_ids().await?,
    };
    let mut views = Vec::new();
    for id in &ids {
        views.push(reader.proposal(id, Some(height)).await?);
    }
    let deployment = reader.deployment_policy(height).await?;
    let header = reader.header(height).await?;
    reader.save()?;
    let value = serde_json::json!({
        "height": height,
        "deployment_policy": deployment,
        "state_root": header.header.state_root,
        "proof_verified": true,
        "proposals": views,
        "verified": header,
    });
    output::print(rpc_args.json, &value, |_| {
        let mut lines =
            vec![format!("deployment policy: {}", describe_deployment_policy(&deployment))];
        lines.extend(views.iter().map(describe_proposal));
        if views.is_empty() {
            lines.push("no proposals".into());
        }
        lines.push(format!(
            "proven at height {height} (state root {}) against header {} of {}, signed by {} of \
             {} voting power",
            header.header.state_root,
            header.block,
            reader.chain_id(),
            header.signed_power,
            header.total_power
        ));
        lines.join("\n")
    });
    Ok(())
}

fn describe_proposal(view: &ProposalView) -> String {
    let record = &view.record;
    let change = match &record.proposal.change {
        ContractChange::Instantiate { name, code_hash, args, upgrade_policy } => format!(
            "instantiate {name:?} from code {code_hash} (init args {} bytes; upgrades: {})",
            args.len(),
            describe_upgrade_policy(upgrade_policy)
        ),
        ContractChange::Upgrade { contract, code_hash, migrate_args } => format!(
            "upgrade {contract} to code {code_hash} (migrate args {} bytes)",
            migrate_args.len()
        ),
    };
    let status = match &record.status {
        ProposalStatus::Activated { height, contract } => {
            format!("activated at height {height} ({contract})")
        }
        ProposalStatus::Pending => view.status.to_string(),
    };
    let required = view.required.map_or("none can activate it".to_string(), |r| r.to_string());
    let approvers: Vec<String> = record.approvals.iter().map(|k| k.to_string()).collect();
    format!(
        "proposal {}: {status}\n  {change}\n  proposed by {} at height {}; may be approved up to \
         height {}\n  approvals {} of {required} required ({}){}{}",
        view.id,
        record.proposer,
        record.proposed_at_height,
        record.proposal.expires_at_height,
        view.counted.len(),
        view.counted_by,
        if approvers.is_empty() { String::new() } else { format!(": {}", approvers.join(", ")) },
        if view.counted.len() < record.approvals.len() {
            format!(" ({} no longer count)", record.approvals.len() - view.counted.len())
        } else {
            String::new()
        }
    )
}

pub(crate) fn describe_upgrade_policy(policy: &UpgradePolicy) -> String {
    match policy {
        UpgradePolicy::Immutable => "immutable".into(),
        UpgradePolicy::Admin { key } => format!("admin {key}"),
        UpgradePolicy::Approvals { required } => format!("{required} approvals"),
    }
}

fn describe_deployment_policy(policy: &DeploymentPolicy) -> String {
    match policy {
        DeploymentPolicy::AnyDeployer => "any deployer".into(),
        DeploymentPolicy::Approvals { required } => format!("{required} approvals"),
    }
}

/// Lines of a contract's proven history, for people (`kessai query contract --history`).
pub(crate) fn history_lines(name: &str, history: &ContractHistory) -> Vec<String> {
    let mut lines = vec![format!(
        "{name} at {}: code {} in force (upgrades: {})",
        history.address,
        history.info.code_hash,
        describe_upgrade_policy(&history.upgrade_policy)
    )];
    if history.versions.is_empty() {
        lines.push("  no recorded versions".into());
    }
    for v in &history.versions {
        let approvers: Vec<String> = v.approvers.iter().map(|k| k.to_string()).collect();
        lines.push(format!(
            "  version {}: code {} from height {}{}{}",
            v.version,
            v.code_hash,
            v.activated_at_height,
            v.proposal.map(|p| format!(", proposal {p}")).unwrap_or_default(),
            if approvers.is_empty() {
                String::new()
            } else {
                format!(", approved by {}", approvers.join(", "))
            }
        ));
    }
    let header = &history.header;
    lines.push(format!(
        "proven at height {} (state root {}) against header {}, signed by {} of {} voting power",
        header.header.height,
        header.header.state_root,
        header.block,
        header.signed_power,
        header.total_power
    ));
    lines
}

async fn verify(
    contract: &str,
    wasm: &std::path::Path,
    height: Option<u64>,
    trust: &TrustArgs,
    rpc_args: &RpcArgs,
) -> Result<()> {
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let local = Hash::digest(&bytes);
    let mut reader = trust.reader(&rpc_args.rpc).await?;
    let history = reader.contract_history(contract, height).await?;
    reader.save()?;
    let in_force = history.info.code_hash;
    let current = history.versions.last();
    let same_as = history.versions.iter().rev().find(|v| v.code_hash == local);
    let proven_height = history.header.header.height;
    let value = serde_json::json!({
        "contract": history.address,
        "wasm": wasm.display().to_string(),
        "local_code_hash": local,
        "code_in_force": in_force,
        "version": current.map(|v| v.version),
        "matches": local == in_force,
        "matches_version": same_as.map(|v| v.version),
        "height": proven_height,
        "state_root": history.header.header.state_root,
        "proof_verified": true,
    });
    let version = current
        .map(|v| format!("version {} since height {}", v.version, v.activated_at_height))
        .unwrap_or_else(|| "no recorded version".into());
    if local == in_force {
        output::print(rpc_args.json, &value, |_| {
            format!(
                "{} matches the code in force for {contract}: {local} ({version}), proven at \
                 height {proven_height} under header {}",
                wasm.display(),
                history.header.block
            )
        });
        return Ok(());
    }
    if rpc_args.json {
        output::json(&value);
    }
    let older = match same_as {
        Some(v) => format!(" (it is the code of version {}, replaced since)", v.version),
        None => String::new(),
    };
    bail!(
        "{} (code {local}) is not the code in force for {contract}{older}: that is {in_force} \
         ({version}), proven at height {proven_height}",
        wasm.display()
    )
}
