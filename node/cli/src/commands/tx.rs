//! `kessai tx`: sign, submit, and wait for the receipt.

use super::output;

use anyhow::{bail, Context, Result};
use kessai_abi::Abi;
use kessai_client::{ensure_success, failure_reason, submit};
use kessai_primitives::{DeploymentPolicy, GovernanceAction, Payload, PublicKey, Role, Validator};
use kessai_rpc_api::TxInfo;
use kessai_rpc_api::{self as rpc, KessaiApiClient};

use crate::cli::{RpcArgs, SignerArgs};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum TxCommand {
    /// Deploy wasm code and instantiate a contract from it.
    Deploy {
        /// The contract's .wasm file.
        wasm: PathBuf,
        /// Arguments of its init method, as JSON (array in order, or object by name).
        #[arg(long)]
        init: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Call a contract method.
    Call {
        /// Contract name (from the chain spec) or address.
        contract: String,
        method: String,
        /// Arguments as JSON (array in order, or object by name); default none.
        args: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Governance (admin keys only).
    #[command(subcommand)]
    Gov(GovCommand),
}

#[derive(Subcommand, Debug)]
pub enum GovCommand {
    /// Admit a member with roles (comma-separated: admin, deployer).
    AddMember {
        public_key: String,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Remove a member.
    RemoveMember {
        public_key: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Give a member a role (admin, deployer or approver).
    GrantRole {
        public_key: String,
        role: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Take a role (admin, deployer or approver) from a member; the last admin keeps the admin
    /// role.
    RevokeRole {
        public_key: String,
        role: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Set a validator's voting power (0 removes it); takes effect two blocks later.
    SetValidator {
        public_key: String,
        power: u64,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Admit a node to the network by its node key (`kessai keys show`), e.g. a new full node.
    AdmitPeer {
        public_key: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Revoke a node key's place on the network (admitted, or listed in the chain spec): every
    /// node disconnects it at the committed height. Refused for a validator's key: set its power
    /// to 0 first.
    RevokePeer {
        public_key: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Schedule a protocol upgrade: blocks from HEIGHT on follow PROTOCOL_VERSION. Nodes whose
    /// binary does not support it stop before HEIGHT ("upgrade to a binary supporting protocol
    /// V"); HEIGHT must be at least 5 above the block that commits this, the version above the
    /// chain's. A later schedule replaces this one.
    ScheduleUpgrade {
        #[arg(long = "protocol-version")]
        protocol_version: u32,
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Replace the deployment policy: `any-deployer` (one deployer instantiates alone) or
    /// `approvals:K` (K members holding the approver role approve each new contract).
    SetDeploymentPolicy {
        #[arg(value_parser = deployment_policy)]
        policy: DeploymentPolicy,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Register or replace a validator's node key: the libp2p identity (`kessai node id`) its
    /// node connects with. Every node allows NODE_KEY and drops the replaced key at the committed
    /// height; the validator must be in the current, next or a pending set.
    SetValidatorNodeKey {
        /// The validator's consensus key (64 hex).
        validator_key: String,
        /// Its node's key (64 hex), as `admit-peer` takes it.
        node_key: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// `any-deployer` or `approvals:K` (K at least 1).
fn deployment_policy(text: &str) -> std::result::Result<DeploymentPolicy, String> {
    let usage = "a deployment policy is any-deployer or approvals:K";
    match text.split_once(':') {
        None if text == "any-deployer" => Ok(DeploymentPolicy::AnyDeployer),
        Some(("approvals", k)) => match k.parse::<u32>() {
            Ok(required) if required >= 1 => Ok(DeploymentPolicy::Approvals { required }),
            _ => Err(format!("approvals:{k} needs a number of approvals of at least 1 ({usage})")),
        },
        _ => Err(format!("{text:?} is not a deployment policy ({usage})")),
    }
}

pub async fn run(command: TxCommand) -> Result<()> {
    match command {
        TxCommand::Deploy { wasm, init, signer, rpc } => deploy(wasm, init, signer, rpc).await,
        TxCommand::Call { contract, method, args, signer, rpc } => {
            let client = rpc::client(&rpc.rpc)?;
            let info =
                client.contract(contract.clone()).await.context("looking up the contract")?;
            let args = parse_json_arg(args.as_deref())?;
            let encoded = info.abi.encode_args(&method, &args)?;
            let payload =
                Payload::Call { contract: info.address, method: method.clone(), args: encoded };
            let receipt = submit(&client, &signer.signer()?, payload).await?;
            report(&rpc, &receipt, Some((&info.abi, method.as_str())))
        }
        TxCommand::Gov(gov) => {
            let (action, signer, rpc) = governance_action(gov)?;
            let client = rpc::client(&rpc.rpc)?;
            let receipt = submit(&client, &signer.signer()?, Payload::Governance(action)).await?;
            report(&rpc, &receipt, None)
        }
    }
}

fn parse_json_arg(text: Option<&str>) -> Result<serde_json::Value> {
    match text {
        None => Ok(serde_json::Value::Array(vec![])),
        Some(t) => {
            serde_json::from_str(t).with_context(|| format!("arguments are not valid JSON: {t}"))
        }
    }
}

async fn deploy(
    wasm: std::path::PathBuf,
    init: Option<String>,
    signer: SignerArgs,
    rpc: RpcArgs,
) -> Result<()> {
    let code = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let abi = Abi::from_wasm(&code)
        .with_context(|| format!("{} is not a Kessai contract", wasm.display()))?;
    let init_args = match (abi.method("init"), init) {
        (Some(_), init) => abi.encode_args("init", &parse_json_arg(init.as_deref())?)?,
        (None, None) => vec![],
        (None, Some(_)) => bail!("the contract has no init method, but --init was given"),
    };
    let client = rpc::client(&rpc.rpc)?;
    let code_hash = kessai_primitives::Hash::digest(&code);
    let signer = signer.signer()?;
    let stored = submit(&client, &signer.waiting(), Payload::Deploy { code }).await?;
    ensure_success(&stored)?;
    let receipt =
        submit(&client, &signer, Payload::Instantiate { code_hash, args: init_args }).await?;
    report(&rpc, &receipt, None)
}

fn governance_action(gov: GovCommand) -> Result<(GovernanceAction, SignerArgs, RpcArgs)> {
    let key = |s: &str| {
        s.parse::<PublicKey>().with_context(|| format!("{s:?} is not a public key (64 hex)"))
    };
    Ok(match gov {
        GovCommand::AddMember { public_key, roles, signer, rpc } => {
            let roles = roles.iter().map(|r| role(r)).collect::<Result<Vec<_>>>()?;
            (GovernanceAction::AddMember { key: key(&public_key)?, roles }, signer, rpc)
        }
        GovCommand::RemoveMember { public_key, signer, rpc } => {
            (GovernanceAction::RemoveMember { key: key(&public_key)? }, signer, rpc)
        }
        GovCommand::GrantRole { public_key, role: name, signer, rpc } => {
            let action = GovernanceAction::GrantRole { key: key(&public_key)?, role: role(&name)? };
            (action, signer, rpc)
        }
        GovCommand::RevokeRole { public_key, role: name, signer, rpc } => {
            let action =
                GovernanceAction::RevokeRole { key: key(&public_key)?, role: role(&name)? };
            (action, signer, rpc)
        }
        GovCommand::SetValidator { public_key, power, signer, rpc } => (
            GovernanceAction::SetValidator {
                validator: Validator { public_key: key(&public_key)?, power },
            },
            signer,
            rpc,
        ),
        GovCommand::AdmitPeer { public_key, signer, rpc } => {
            let peer_key = kessai_network::peer_key_bytes(&key(&public_key)?);
            (GovernanceAction::AdmitPeer { peer_key }, signer, rpc)
        }
        GovCommand::RevokePeer { public_key, signer, rpc } => {
            let peer_key = kessai_network::peer_key_bytes(&key(&public_key)?);
            (GovernanceAction::RevokePeer { peer_key }, signer, rpc)
        }
        GovCommand::ScheduleUpgrade { protocol_version, height, signer, rpc } => {
            (GovernanceAction::ScheduleUpgrade { protocol_version, height }, signer, rpc)
        }
        GovCommand::SetDeploymentPolicy { policy, signer, rpc } => {
            (GovernanceAction::SetDeploymentPolicy { policy }, signer, rpc)
        }
        GovCommand::SetValidatorNodeKey { validator_key, node_key, signer, rpc } => {
            let validator = key(&validator_key)?;
            let node_key = kessai_network::peer_key_bytes(&key(&node_key)?);
            (GovernanceAction::SetValidatorNodeKey { validator, node_key }, signer, rpc)
        }
    })
}

/// A role by name, in any case: `admin`, `deployer` or `approver`.
fn role(name: &str) -> Result<Role> {
    serde_json::from_value(serde_json::Value::String(name.to_lowercase()))
        .with_context(|| format!("{name:?} is not a role: roles are admin, deployer and approver"))
}

/// Prints the receipt (decoding the return value when the method is known) and fails on a failed tx.
fn report(rpc: &RpcArgs, info: &TxInfo, method: Option<(&Abi, &str)>) -> Result<()> {
    let decoded = match (&info.receipt, method) {
        (Some(r), Some((abi, m))) if r.is_success() => abi.decode_return(m, &r.return_data).ok(),
        _ => None,
    };
    let value = serde_json::json!({
        "tx_id": info.tx_id,
        "state": info.state,
        "height": info.height,
        "receipt": info.receipt,
        "result": decoded,
    });
    output::print(rpc.json, &value, |_| {
        let mut text = format!("tx {} ", info.tx_id);
        match (&info.receipt, info.height) {
            (Some(r), Some(h)) => {
                text += &format!(
                    "committed at height {h}: {} (gas {})",
                    if r.is_success() {
                        "success".into()
                    } else {
                        format!("FAILED: {}", failure_reason(r))
                    },
                    r.gas_used
                );
                if let Some(addr) = r.created {
                    text += &format!("\ncreated {addr}");
                }
                if let Some(d) = &decoded {
                    text += &format!("\nresult: {d}");
                }
                for e in &r.events {
                    text += &format!("\nevent {} ({} bytes)", e.topic, e.data.len());
                }
            }
            _ => text += "submitted",
        }
        text
    });
    ensure_success(info)
}
