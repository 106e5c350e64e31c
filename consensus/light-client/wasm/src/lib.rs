//! JavaScript bindings of the Kessai light client (`kessai-light-client`), for wasm32 with
//! wasm-bindgen. The npm package in `consensus/light-client/js` wraps them.
//!
//! Every rule is the light client's own — one verification strength for every client (decision
//! record 0007): [`LightClient`] here holds a `kessai_light_client::LightClient` whose provider is
//! a JavaScript object that speaks the node's JSON-RPC, and the pure functions call
//! `kessai_light_client::verify` and the primitives' proof checks. Nothing is re-implemented.
//!
//! Values cross the boundary as plain objects in the RPC's JSON formats (hashes and bytes in hex,
//! integers as numbers); heights and times are JavaScript numbers (exact below 2^53).

mod convert;
mod provider;

use convert::{from_js, js_error, light_client_error, to_js};
use kessai_light_client::{
    verify, TrustOptions, TrustedState, VerifiedTx, VerifiedValue, WitnessOutcome,
};
use kessai_primitives::{Address, Commit, Hash, Header, Payload, StateProof, ValidatorSet};
use provider::{JsProvider, Pushed};
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

type Inner = kessai_light_client::LightClient<JsProvider>;

/// The trust options as JavaScript passes them; every field optional (the light client's
/// defaults: 14 days, 1/3, 10 s).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    trusting_period_ms: Option<u64>,
    trust_threshold: Option<(u64, u64)>,
    max_clock_drift_ms: Option<u64>,
}

fn options(value: &JsValue) -> Result<TrustOptions, JsValue> {
    let given: Options = if value.is_undefined() || value.is_null() {
        Options::default()
    } else {
        from_js(value).map_err(|e| js_error("invalid", &format!("bad trust options: {e}")))?
    };
    let defaults = TrustOptions::default();
    let opts = TrustOptions {
        trusting_period_ms: given.trusting_period_ms.unwrap_or(defaults.trusting_period_ms),
        trust_threshold: given.trust_threshold.unwrap_or(defaults.trust_threshold),
        max_clock_drift_ms: given.max_clock_drift_ms.unwrap_or(defaults.max_clock_drift_ms),
    };
    opts.validate().map_err(|e| js_error("invalid", &e.to_string()))?;
    Ok(opts)
}

fn parse<T: serde::de::DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    from_js(value).map_err(|e| js_error("invalid", &format!("{what} does not decode: {e}")))
}

fn parse_hash(text: &str, what: &str) -> Result<Hash, JsValue> {
    text.trim_start_matches("0x")
        .parse()
        .map_err(|_| js_error("invalid", &format!("{what} {text:?} is not a 64-digit hex hash")))
}

fn parse_hex(text: &str, what: &str) -> Result<Vec<u8>, JsValue> {
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|_| js_error("invalid", &format!("{what} {text:?} is not hex")))
}

/// A JavaScript number as a height or time: a non-negative integer.
fn integer(value: f64, what: &str) -> Result<u64, JsValue> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_991.0
    {
        Ok(value as u64)
    } else {
        Err(js_error("invalid", &format!("{what} {value} is not a non-negative integer")))
    }
}

fn witnesses(list: &js_sys::Array) -> Vec<JsProvider> {
    list.iter().map(|w| JsProvider::new(w, None)).collect()
}

/// What a verified header is reported as.
fn summary(state: &TrustedState) -> Value {
    json!({
        "height": state.height(),
        "hash": state.hash(),
        "chainId": state.chain_id,
        "timeMs": state.time_ms(),
        "stateRoot": state.header.state_root,
        "validatorsHash": state.header.validators_hash,
        "signedPower": state.signed_power(),
        "totalPower": state.validators.total_power(),
        "header": state.header,
    })
}

fn value_summary(value: &VerifiedValue) -> Value {
    json!({
        "height": value.height,
        "headerHash": value.header_hash,
        "value": value.value.as_ref().map(hex::encode),
        "proof": value.proof,
        "signedPower": value.signed_power,
        "totalPower": value.total_power,
    })
}

fn tx_summary(tx: &VerifiedTx) -> Value {
    let signed = &tx.tx;
    // A contract call's target, method and arguments; other payloads are in the bytes.
    let call = match &signed.tx.payload {
        Payload::Call { contract, method, args } => {
            json!({"contract": hex::encode(contract.0), "method": method, "args": hex::encode(args)})
        }
        _ => Value::Null,
    };
    json!({
        "height": tx.height,
        "index": tx.index,
        "headerHash": tx.header_hash,
        "txId": signed.id(),
        "tx": hex::encode(borsh::to_vec(signed).expect("a transaction encodes")),
        "signer": signed.tx.signer,
        "nonce": signed.tx.nonce,
        "call": call,
        "receipt": tx.receipt,
        "signedPower": tx.signed_power,
        "totalPower": tx.total_power,
    })
}

/// A light client that verifies what one primary node serves (optionally cross-checked with
/// witness nodes) from a header it trusts. Calls on one client run one at a time (the JavaScript
/// layer queues them); a call made while another runs is refused with kind `"busy"`.
#[wasm_bindgen]
pub struct LightClient {
    inner: Rc<RefCell<Option<Inner>>>,
    pushed: Pushed,
}

impl LightClient {
    fn wrap(inner: Inner, pushed: Pushed) -> LightClient {
        LightClient { inner: Rc::new(RefCell::new(Some(inner))), pushed }
    }

    /// Runs `f` on the client, taken out of its cell for the duration of the call.
    fn run<F>(&self, f: F) -> js_sys::Promise
    where
        F: for<'a> FnOnce(
                &'a mut Inner,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<Value, JsValue>> + 'a>,
            > + 'static,
    {
        let cell = self.inner.clone();
        future_to_promise(async move {
            let taken = cell.borrow_mut().take();
            let mut client = taken.ok_or_else(|| {
                js_error("busy", "another call on this light client is still running")
            })?;
            let result = f(&mut client).await;
            *cell.borrow_mut() = Some(client);
            result.map(|value| to_js(&value))
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Inner) -> T) -> Result<T, JsValue> {
        let cell = self.inner.borrow();
        let client = cell.as_ref().ok_or_else(|| {
            js_error("busy", "another call on this light client is still running")
        })?;
        Ok(f(client))
    }
}

/// Trusts the header at `height` whose hash is `hash` (obtained out of band: the consortium's
/// announcement, another node's operator): fetches it from `primary` with its commit and sets and
/// checks that more than two thirds of its set signed it.
#[wasm_bindgen(js_name = initFromHash)]
pub async fn init_from_hash(
    primary: JsValue,
    witness_list: js_sys::Array,
    height: f64,
    hash: String,
    trust_options: JsValue,
    now_ms: f64,
) -> Result<LightClient, JsValue> {
    let opts = options(&trust_options)?;
    let hash = parse_hash(&hash, "trusted hash")?;
    let pushed = Pushed::default();
    let provider = JsProvider::new(primary, Some(pushed.clone()));
    let client = Inner::init_from_hash(
        provider,
        integer(height, "trusted height")?,
        hash,
        opts,
        integer(now_ms, "now")?,
    )
    .await
    .map_err(|e| light_client_error(&e))?;
    Ok(LightClient::wrap(client.with_witnesses(witnesses(&witness_list)), pushed))
}

/// Trusts the chain spec: `validators` (`{validators: [{public_key, power}]}`) of chain
/// `chain_id` must have signed block 1. Only while block 1 is within the trusting period.
#[wasm_bindgen(js_name = initFromGenesis)]
pub async fn init_from_genesis(
    primary: JsValue,
    witness_list: js_sys::Array,
    chain_id: String,
    validators: JsValue,
    trust_options: JsValue,
    now_ms: f64,
) -> Result<LightClient, JsValue> {
    let opts = options(&trust_options)?;
    let set: ValidatorSet = parse(&validators, "the genesis validator set")?;
    let pushed = Pushed::default();
    let provider = JsProvider::new(primary, Some(pushed.clone()));
    let client = Inner::init_from_genesis(provider, &chain_id, set, opts, integer(now_ms, "now")?)
        .await
        .map_err(|e| light_client_error(&e))?;
    Ok(LightClient::wrap(client.with_witnesses(witnesses(&witness_list)), pushed))
}

/// Resumes from a trusted state kept earlier ([`LightClient::trusted_state`]); its parts are
/// checked to agree (commit signed by its set, next set's hash).
#[wasm_bindgen(js_name = fromTrustedState)]
pub fn from_trusted_state(
    primary: JsValue,
    witness_list: js_sys::Array,
    state: JsValue,
    trust_options: JsValue,
) -> Result<LightClient, JsValue> {
    let opts = options(&trust_options)?;
    let state: TrustedState = parse(&state, "the trusted state")?;
    let pushed = Pushed::default();
    let provider = JsProvider::new(primary, Some(pushed.clone()));
    let client = Inner::new(provider, state, opts).map_err(|e| light_client_error(&e))?;
    Ok(LightClient::wrap(client.with_witnesses(witnesses(&witness_list)), pushed))
}

#[wasm_bindgen]
impl LightClient {
    /// Verifies the header at `height` (the primary's latest when `undefined`) by skipping
    /// verification with bisection, then has the witnesses confirm it. Resolves to the verified
    /// header's summary.
    #[wasm_bindgen(js_name = syncTo)]
    pub fn sync_to(&self, height: Option<f64>, now_ms: f64) -> Result<js_sys::Promise, JsValue> {
        let height = height.map(|h| integer(h, "height")).transpose()?;
        let now = integer(now_ms, "now")?;
        Ok(self.run(move |client| {
            Box::pin(async move {
                let state = match height {
                    Some(h) => client.sync_to(h, now, |_| {}).await,
                    None => client.sync_to_latest(now, |_| {}).await,
                };
                state.map(summary).map_err(|e| light_client_error(&e))
            })
        }))
    }

    /// Verifies a header and commit that arrived by subscription (`kessai_head`): the light client
    /// verifies them from the latest trusted header like any header it fetched (adjacent or
    /// skipping, and the witnesses), asking the primary only for validator sets it does not hold.
    /// Resolves to the summary; refuses a header or commit that does not verify.
    #[wasm_bindgen(js_name = verifyHead)]
    pub fn verify_head(
        &self,
        header: JsValue,
        commit: JsValue,
        now_ms: f64,
    ) -> Result<js_sys::Promise, JsValue> {
        let header: Header = parse(&header, "the header")?;
        let commit: Commit = parse(&commit, "the commit")?;
        let now = integer(now_ms, "now")?;
        let height = header.height;
        let id = header.id();
        let pushed = self.pushed.clone();
        pushed.borrow_mut().insert(height, (header, commit));
        Ok(self.run(move |client| {
            Box::pin(async move {
                let result = client.sync_to(height, now, |_| {}).await.cloned();
                pushed.borrow_mut().remove(&height);
                let state = result.map_err(|e| light_client_error(&e))?;
                // Verified earlier (from the primary): it must be the header that was pushed.
                if state.hash() != id {
                    return Err(js_error(
                        "verification",
                        &format!(
                            "the pushed header at height {height} hashes to {id}, the verified \
                             header at that height is {}",
                            state.hash()
                        ),
                    ));
                }
                Ok(summary(&state))
            })
        }))
    }

    /// Proves the value of a flat key (`namespace ‖ key`, hex) after block `height`, or its
    /// absence, against the verified header at that height (verified first if needed). Resolves to
    /// `{height, headerHash, value: hex | null, proof, signedPower, totalPower}`.
    #[wasm_bindgen(js_name = verifyState)]
    pub fn verify_state(
        &self,
        flat_key: String,
        height: f64,
        now_ms: f64,
    ) -> Result<js_sys::Promise, JsValue> {
        let key = parse_hex(&flat_key, "flat key")?;
        let height = integer(height, "height")?;
        let now = integer(now_ms, "now")?;
        Ok(self.run(move |client| {
            Box::pin(async move {
                let value = client.verify_state(&key, height, now).await;
                value.map(|v| value_summary(&v)).map_err(|e| light_client_error(&e))
            })
        }))
    }

    /// Proves which contract the chain names `name` at `height`: its system `name/` entry.
    /// Resolves to `{address: hex | null, …}` as [`LightClient::verify_state`].
    #[wasm_bindgen(js_name = verifyContractName)]
    pub fn verify_contract_name(
        &self,
        name: String,
        height: f64,
        now_ms: f64,
    ) -> Result<js_sys::Promise, JsValue> {
        let key = kessai_state::system::name_key(&name);
        let height = integer(height, "height")?;
        let now = integer(now_ms, "now")?;
        Ok(self.run(move |client| {
            Box::pin(async move {
                let value = client
                    .verify_state(&key, height, now)
                    .await
                    .map_err(|e| light_client_error(&e))?;
                let address = match &value.value {
                    None => None,
                    Some(bytes) => Some(borsh::from_slice::<Address>(bytes).map_err(|e| {
                        js_error("verification", &format!("the name entry is not an address: {e}"))
                    })?),
                };
                let mut summary = value_summary(&value);
                summary["address"] = json!(address.map(|a| hex::encode(a.0)));
                Ok(summary)
            })
        }))
    }

    /// Proves a committed transaction and its receipt against the verified header of its block.
    /// Resolves to `{height, index, headerHash, txId, tx, receipt, signedPower, totalPower}`, or
    /// `null` when the node says it does not know the transaction (which proves nothing).
    #[wasm_bindgen(js_name = verifyTx)]
    pub fn verify_tx(&self, tx_id: String, now_ms: f64) -> Result<js_sys::Promise, JsValue> {
        let tx_id = parse_hash(&tx_id, "transaction id")?;
        let now = integer(now_ms, "now")?;
        Ok(self.run(move |client| {
            Box::pin(async move {
                match client.verify_tx(tx_id, now).await {
                    Ok(Some(tx)) => Ok(tx_summary(&tx)),
                    Ok(None) => Ok(Value::Null),
                    Err(e) => Err(light_client_error(&e)),
                }
            })
        }))
    }

    /// The latest verified header's summary.
    pub fn latest(&self) -> Result<JsValue, JsValue> {
        self.with(|client| to_js(&summary(client.latest_trusted())))
    }

    /// The latest trusted state (header, commit, both sets) as a plain object: keep it (as JSON)
    /// and resume from it with `fromTrustedState`.
    #[wasm_bindgen(js_name = trustedState)]
    pub fn trusted_state(&self) -> Result<JsValue, JsValue> {
        self.with(|client| {
            to_js(&serde_json::to_value(client.latest_trusted()).expect("a state serialises"))
        })
    }

    /// Each witness's last comparison, in the order given: `null` (not asked yet) or
    /// `{height, outcome: "confirmed" | "unavailable" | "faulty", reason?}`.
    #[wasm_bindgen(js_name = witnessChecks)]
    pub fn witness_checks(&self) -> Result<JsValue, JsValue> {
        self.with(|client| {
            let checks: Vec<Value> = client
                .witness_checks()
                .into_iter()
                .map(|check| match check {
                    None => Value::Null,
                    Some(check) => match &check.outcome {
                        WitnessOutcome::Confirmed => {
                            json!({"height": check.height, "outcome": "confirmed"})
                        }
                        WitnessOutcome::Unavailable(why) => json!({"height": check.height,
                            "outcome": "unavailable", "reason": why.to_string()}),
                        WitnessOutcome::Faulty(why) => json!({"height": check.height,
                            "outcome": "faulty", "reason": why.to_string()}),
                    },
                })
                .collect();
            to_js(&Value::Array(checks))
        })
    }

    /// The two conflicting headers with their commits, if a witness's validly signed header
    /// contradicted the primary's; `null` otherwise.
    #[wasm_bindgen(js_name = forkEvidence)]
    pub fn fork_evidence(&self) -> Result<JsValue, JsValue> {
        self.with(|client| match client.fork_evidence() {
            Some(evidence) => to_js(&serde_json::to_value(evidence).expect("serialises")),
            None => JsValue::NULL,
        })
    }
}

/// Verifies `header` (with its `commit`, signed by `validators`, the set it names) from `trusted`
/// (a trusted state as [`LightClient::trusted_state`] gives it): the adjacent rule at the next
/// height, the skipping rule above. Returns the signed voting power; throws the broken rule.
#[wasm_bindgen(js_name = verifyHeader)]
pub fn verify_header(
    trusted: JsValue,
    header: JsValue,
    commit: JsValue,
    validators: JsValue,
    now_ms: f64,
    trust_options: JsValue,
) -> Result<f64, JsValue> {
    let trusted: TrustedState = parse(&trusted, "the trusted state")?;
    trusted.check().map_err(|e| js_error("invalid", &e.to_string()))?;
    let header: Header = parse(&header, "the header")?;
    let commit: Commit = parse(&commit, "the commit")?;
    let validators: ValidatorSet = parse(&validators, "the validator set")?;
    let opts = options(&trust_options)?;
    let now = integer(now_ms, "now")?;
    verify::verify(&trusted, &header, &commit, &validators, now, &opts)
        .map(|power| power as f64)
        .map_err(|e| js_error("verification", &e.to_string()))
}

/// Verifies a state proof (hex, as `kessai_state` gives it) that under `state_root` the flat key
/// has `value` (hex), or is absent (`value` null). Throws when it does not verify.
#[wasm_bindgen(js_name = verifyStateProof)]
pub fn verify_state_proof(
    state_root: String,
    flat_key: String,
    value: Option<String>,
    proof: String,
) -> Result<(), JsValue> {
    let root = parse_hash(&state_root, "state root")?;
    let key = parse_hex(&flat_key, "flat key")?;
    let value = value.map(|v| parse_hex(&v, "value")).transpose()?;
    let proof = StateProof::from_bytes(&parse_hex(&proof, "proof")?)
        .map_err(|e| js_error("invalid", &format!("the proof does not decode: {e}")))?;
    proof
        .verify(root, &key, value.as_deref())
        .map_err(|e| js_error("verification", &format!("the state proof does not verify: {}", e.0)))
}

/// The id of a header (`blake3(borsh(header))`), hex.
#[wasm_bindgen(js_name = headerHash)]
pub fn header_hash(header: JsValue) -> Result<String, JsValue> {
    let header: Header = parse(&header, "the header")?;
    Ok(header.id().to_string())
}

/// The flat key of a contract's storage entry: the contract's address (hex) ‖ the storage key
/// (hex; for a map entry, the map's prefix ‖ borsh of the key, `docs/contract-abi.md`).
#[wasm_bindgen(js_name = contractKey)]
pub fn contract_key(contract: String, storage_key: String) -> Result<String, JsValue> {
    let address = parse_hash(&contract, "contract address")?;
    let key = parse_hex(&storage_key, "storage key")?;
    Ok(hex::encode(kessai_primitives::state_proof::flat_key(&Address(address.0), &key)))
}
