//! `kessai tx`: sign, submit, and wait for the receipt.

use super::output;
use crate::cli::{GovCommand, RpcArgs, SignerArgs, TxCommand};
use crate::keyfile::load_signer;
use crate::rpc::api::{TxInfo, TxState};
use crate::rpc::{self, KessaiApiClient};
use anyhow::{bail, Context, Result};
use kessai_abi::Abi;
use kessai_primitives::{GovernanceAction, Payload, PublicKey, Role, Transaction, Validator};
use std::time::{Duration, Instant};

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
            let receipt = submit(&client, &signer, payload).await?;
            report(&rpc, &receipt, Some((&info.abi, method.as_str())))
        }
        TxCommand::Gov(gov) => {
            let (action, signer, rpc) = governance_action(gov)?;
            let client = rpc::client(&rpc.rpc)?;
            let receipt = submit(&client, &signer, Payload::Governance(action)).await?;
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
    let stored =
        submit(&client, &SignerArgs { no_wait: false, ..signer.clone() }, Payload::Deploy { code })
            .await?;
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
            let roles = roles
                .iter()
                .map(|r| {
                    serde_json::from_value::<Role>(serde_json::Value::String(r.to_lowercase()))
                })
                .collect::<Result<Vec<_>, _>>()
                .context("roles are admin and deployer")?;
            (GovernanceAction::AddMember { key: key(&public_key)?, roles }, signer, rpc)
        }
        GovCommand::RemoveMember { public_key, signer, rpc } => {
            (GovernanceAction::RemoveMember { key: key(&public_key)? }, signer, rpc)
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
    })
}

/// Signs `payload` with the next nonce, submits it, and (unless --no-wait) waits for its block.
pub async fn submit(
    client: &jsonrpsee::http_client::HttpClient,
    signer: &SignerArgs,
    payload: Payload,
) -> Result<TxInfo> {
    let keys_dir =
        signer.keys_dir.clone().unwrap_or_else(|| super::default_dev_home().join("keys"));
    let key = load_signer(&signer.key, Some(&keys_dir))?;
    let status = client.status().await.context("cannot reach the node")?;
    let account = client.account(key.public()).await?;
    if !account.member {
        bail!("{} ({}) is not a member of chain {}", signer.key, key.public(), status.chain_id);
    }
    let tx = Transaction {
        chain_id: status.chain_id,
        signer: key.public(),
        nonce: account.next_nonce,
        gas_limit: signer.gas,
        payload,
    }
    .sign(&key);
    let submitted = client.submit_tx(hex::encode(borsh::to_vec(&tx)?)).await.map_err(rpc_error)?;
    if signer.no_wait {
        return Ok(client.tx(submitted.tx_id).await?);
    }
    wait_for(client, submitted.tx_id, Duration::from_secs(60)).await
}

/// Polls until the transaction is in a block.
pub async fn wait_for(
    client: &jsonrpsee::http_client::HttpClient,
    tx_id: kessai_primitives::Hash,
    timeout: Duration,
) -> Result<TxInfo> {
    let start = Instant::now();
    loop {
        let info = client.tx(tx_id).await?;
        match info.state {
            TxState::Committed => return Ok(info),
            TxState::Unknown if start.elapsed() > Duration::from_secs(5) => {
                bail!("transaction {tx_id} is neither pending nor committed (dropped from the mempool)")
            }
            _ if start.elapsed() > timeout => {
                bail!("transaction {tx_id} not committed after {timeout:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn ensure_success(info: &TxInfo) -> Result<()> {
    match &info.receipt {
        Some(r) if !r.is_success() => {
            bail!("transaction {} failed: {}", info.tx_id, failure_reason(r))
        }
        _ => Ok(()),
    }
}

fn failure_reason(receipt: &kessai_primitives::Receipt) -> String {
    match &receipt.status {
        kessai_primitives::TxStatus::Failed { reason } => reason.clone(),
        kessai_primitives::TxStatus::Success => "success".into(),
    }
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

/// Turns a JSON-RPC error into its message alone (no wrapper text), for one clear sentence.
pub fn rpc_error(e: jsonrpsee::core::client::Error) -> anyhow::Error {
    match e {
        jsonrpsee::core::client::Error::Call(obj) => anyhow::anyhow!("{}", obj.message()),
        other => anyhow::anyhow!("{other}"),
    }
}
