//! Between JavaScript values and the light client's types: through JSON, with the serde formats
//! the node's RPC uses (`docs/light-client.md`, section 10), so an RPC answer passes through as is.

use kessai_light_client::provider::ProviderError;
use kessai_light_client::Error;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};

/// Decodes a JavaScript value (a plain object, array, string or number) as `T`.
pub(crate) fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    let text = js_sys::JSON::stringify(value)
        .map_err(|e| js_error_message(&e))?
        .as_string()
        .ok_or_else(|| "undefined".to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// A JSON value as a plain JavaScript value.
pub(crate) fn to_js(value: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).expect("serde_json writes valid JSON")
}

/// The message of a thrown JavaScript value (an `Error`'s `message`, or the value as a string).
pub(crate) fn js_error_message(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// A JavaScript `Error` with `message` and a `kind` a caller can branch on.
pub(crate) fn js_error(kind: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&error, &"kind".into(), &kind.into());
    error.into()
}

/// A refusal of the light client as a JavaScript `Error`: `kind` is `"verification"` (a rule was
/// broken: the answer is a lie or corrupt), `"notFound"`, `"unavailable"`, `"fork"` (two validly
/// signed headers: `evidence` holds both), `"notConfirmed"` (no witness confirmed),
/// `"distrusted"` (a fork was seen earlier) or `"invalid"` (bad input from the caller).
pub(crate) fn light_client_error(error: &Error) -> JsValue {
    let kind = match error {
        Error::Provider(ProviderError::NotFound(_)) => "notFound",
        Error::Provider(ProviderError::Unavailable(_)) => "unavailable",
        Error::ForkDetected(_) => "fork",
        Error::NotConfirmed { .. } => "notConfirmed",
        Error::PrimaryDistrusted { .. } => "distrusted",
        Error::Store(_) => "invalid",
        _ => "verification",
    };
    let js = js_error(kind, &error.to_string());
    if let Error::ForkDetected(evidence) = error {
        if let Ok(json) = serde_json::to_value(evidence.as_ref()) {
            let _ = js_sys::Reflect::set(&js, &"evidence".into(), &to_js(&json));
        }
    }
    js
}
