//! The light client's [`Provider`] over a JavaScript object: the node's JSON-RPC is spoken by the
//! hand-written layer (`js/src/rpc.js`, over `fetch`), which answers each method with the RPC's
//! `result` as a plain object. Nothing it answers is trusted; this only decodes, and refuses
//! answers that do not answer the question asked (another height, another key).

use crate::convert::{from_js, js_error_message};
use kessai_light_client::{Provider, ProviderError, TxEvidence};
use kessai_primitives::merkle::InclusionProof;
use kessai_primitives::{
    Commit, Hash, Header, Receipt, SignedTransaction, StateProof, ValidatorSet,
};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Headers and commits that arrived by subscription (`kessai_head`), by height: the primary
/// answers from here instead of asking the node again. They are verified like any other answer.
pub(crate) type Pushed = Rc<RefCell<BTreeMap<u64, (Header, Commit)>>>;

/// One node, reached through a JavaScript object with the methods `latestHeight()`,
/// `header(height)`, `commit(height)`, `validators(height)`, `state(flatKeyHex, height)` and
/// `tx(txIdHex)`, each returning a promise of the RPC method's result. A promise rejected with an
/// error whose `notFound` is true means the node does not have it; any other rejection, that it
/// could not be asked.
pub(crate) struct JsProvider {
    object: JsValue,
    pushed: Option<Pushed>,
}

impl JsProvider {
    pub(crate) fn new(object: JsValue, pushed: Option<Pushed>) -> JsProvider {
        JsProvider { object, pushed }
    }

    /// Calls `method(args…)` on the object and awaits its promise.
    async fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, ProviderError> {
        let function = js_sys::Reflect::get(&self.object, &JsValue::from_str(method))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| {
                ProviderError::Unavailable(format!("the provider has no method {method}"))
            })?;
        let array: js_sys::Array = args.iter().collect();
        let returned = function
            .apply(&self.object, &array)
            .map_err(|e| ProviderError::Unavailable(js_error_message(&e)))?;
        let promise = js_sys::Promise::resolve(&returned);
        JsFuture::from(promise).await.map_err(|e| {
            let not_found = js_sys::Reflect::get(&e, &JsValue::from_str("notFound"))
                .map(|v| v.is_truthy())
                .unwrap_or(false);
            if not_found {
                ProviderError::NotFound(js_error_message(&e))
            } else {
                ProviderError::Unavailable(js_error_message(&e))
            }
        })
    }

    /// Calls `method` and decodes its answer as `T`.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        args: &[JsValue],
        what: &str,
    ) -> Result<T, ProviderError> {
        let answer = self.call(method, args).await?;
        from_js(&answer)
            .map_err(|e| ProviderError::Unavailable(format!("{what} that does not decode: {e}")))
    }

    fn pushed(&self, height: u64) -> Option<(Header, Commit)> {
        self.pushed.as_ref().and_then(|p| p.borrow().get(&height).cloned())
    }
}

/// The fields of `kessai_status` the client needs.
#[derive(Deserialize)]
struct Status {
    height: u64,
}

/// `kessai_state`'s answer.
#[derive(Deserialize)]
struct StateRead {
    height: u64,
    key: String,
    value: Option<String>,
    proof: StateProof,
}

/// `kessai_tx`'s answer; only a committed transaction carries the rest.
#[derive(Deserialize)]
struct TxInfo {
    state: String,
    height: Option<u64>,
    index: Option<u64>,
    tx: Option<String>,
    tx_proof: Option<InclusionProof>,
    receipt: Option<Receipt>,
    /// The receipt's committed bytes (borsh, hex), when the node sends them: preferred to the JSON.
    #[serde(default)]
    receipt_raw: Option<String>,
    receipt_proof: Option<InclusionProof>,
}

fn height_arg(height: u64) -> JsValue {
    JsValue::from_f64(height as f64)
}

fn off_topic(what: String) -> ProviderError {
    ProviderError::Unavailable(format!("the node answered {what}"))
}

impl Provider for JsProvider {
    async fn latest_height(&self) -> Result<u64, ProviderError> {
        let status: Status = self.get("latestHeight", &[], "a status").await?;
        Ok(status.height)
    }

    async fn header(&self, height: u64) -> Result<Header, ProviderError> {
        if let Some((header, _)) = self.pushed(height) {
            return Ok(header);
        }
        self.get("header", &[height_arg(height)], "a header").await
    }

    async fn commit(&self, height: u64) -> Result<Commit, ProviderError> {
        if let Some((_, commit)) = self.pushed(height) {
            return Ok(commit);
        }
        self.get("commit", &[height_arg(height)], "a commit").await
    }

    async fn validators(&self, height: u64) -> Result<ValidatorSet, ProviderError> {
        self.get("validators", &[height_arg(height)], "a validator set").await
    }

    async fn state(
        &self,
        flat_key: &[u8],
        height: u64,
    ) -> Result<(Option<Vec<u8>>, StateProof), ProviderError> {
        let key = hex::encode(flat_key);
        let read: StateRead = self
            .get("state", &[JsValue::from_str(&key), height_arg(height)], "a state read")
            .await?;
        if read.height != height {
            return Err(off_topic(format!(
                "a state read at height {height} with one at height {}",
                read.height
            )));
        }
        if read.key.trim_start_matches("0x") != key {
            return Err(off_topic(format!("a read of key {key} with key {}", read.key)));
        }
        let value = read
            .value
            .map(|v| {
                hex::decode(v.trim_start_matches("0x"))
                    .map_err(|e| off_topic(format!("a value that is not hex: {e}")))
            })
            .transpose()?;
        Ok((value, read.proof))
    }

    async fn tx(&self, tx_id: Hash) -> Result<Option<TxEvidence>, ProviderError> {
        let info: TxInfo =
            self.get("tx", &[JsValue::from_str(&tx_id.to_string())], "a transaction").await?;
        if !info.state.eq_ignore_ascii_case("committed") {
            return Ok(None);
        }
        let incomplete = |field: &str| {
            off_topic(format!("transaction {tx_id} as committed without its {field}"))
        };
        let bytes = decode_hex(info.tx.as_deref().ok_or_else(|| incomplete("bytes"))?)
            .ok_or_else(|| incomplete("bytes in hex"))?;
        let tx = SignedTransaction::decode(&bytes)
            .map_err(|e| off_topic(format!("transaction bytes that do not decode: {e}")))?;
        let receipt = match info.receipt_raw.as_deref() {
            Some(raw) => {
                let bytes = decode_hex(raw).ok_or_else(|| incomplete("receipt bytes in hex"))?;
                borsh::from_slice::<Receipt>(&bytes)
                    .map_err(|e| off_topic(format!("receipt bytes that do not decode: {e}")))?
            }
            None => info.receipt.ok_or_else(|| incomplete("receipt"))?,
        };
        Ok(Some(TxEvidence {
            height: info.height.ok_or_else(|| incomplete("height"))?,
            index: info.index.ok_or_else(|| incomplete("index"))?,
            tx,
            tx_proof: info.tx_proof.ok_or_else(|| incomplete("transaction proof"))?,
            receipt,
            receipt_proof: info.receipt_proof.ok_or_else(|| incomplete("receipt proof"))?,
        }))
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.trim_start_matches("0x")).ok()
}
