//! The interface (`kessai:abi`) in tests, through the node's own codec (`kessai-abi`): a test calls
//! a method with JSON as a client would through RPC, which proves `abi.json` matches the code.

use super::{invoke_raw, Method};
use serde_json::Value;
use std::collections::BTreeSet;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

pub use kessai_abi::{Abi, AbiError, MethodKind};

/// Parses and validates an interface as the node does at deploy time.
pub fn parse(json: &str) -> Result<Abi, String> {
    Abi::from_json(json).map_err(|e| e.to_string())
}

/// Calls method `name` as a client would through the node: JSON arguments encoded by the abi,
/// `methods` (a contract's `METHODS`) to find the function, the result decoded by the abi. A
/// `view` method runs as a view call, a `migrate` one as an upgrade runs it (caller `Address::SYSTEM`). `Err` is the call's failure message; a mismatch between the
/// abi and the code panics (a test failure).
pub fn invoke_json(
    abi: &Abi,
    methods: &[(&str, Method)],
    name: &str,
    args: Value,
) -> Result<Value, String> {
    let bytes = abi
        .encode_args(name, &args)
        .unwrap_or_else(|e| panic!("abi cannot encode {name} args: {e}"));
    let method = methods
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no method {name} in METHODS"))
        .1;
    let kind = abi.method(name).map(|m| m.kind);
    let result = if kind == Some(MethodKind::Migrate) {
        // As the upgrade runs it: caller Address::SYSTEM.
        let caller = super::with(|env| std::mem::replace(&mut env.caller, crate::Address::SYSTEM));
        let result = invoke_raw(method, &bytes, false);
        super::with(|env| env.caller = caller);
        result?
    } else {
        invoke_raw(method, &bytes, kind == Some(MethodKind::View))?
    };
    Ok(abi
        .decode_return(name, &result)
        .unwrap_or_else(|e| panic!("abi cannot decode the result of {name}: {e}")))
}

/// The abi lists exactly the contract's methods (`METHODS` of [`crate::methods!`]), and the entry
/// points have their kinds: `init` is the one method of kind `init`, `migrate` the one of kind
/// `migrate` (the node runs them by those names and refuses to `Call` them).
pub fn check_methods(abi: &Abi, methods: &[(&str, Method)]) -> Result<(), String> {
    for method in &abi.methods {
        for (entry, kind) in
            [(super::INIT, MethodKind::Init), (super::MIGRATE, MethodKind::Migrate)]
        {
            if (method.name == entry) != (method.kind == kind) {
                return Err(format!(
                    "method `{}` has kind {:?}: the entry point `{entry}` is the one method of kind {kind:?}",
                    method.name, method.kind
                ));
            }
        }
    }
    let in_abi: BTreeSet<&str> = abi.methods.iter().map(|m| m.name.as_str()).collect();
    let in_code: BTreeSet<&str> = methods.iter().map(|(n, _)| *n).collect();
    if in_abi != in_code {
        return Err(format!(
            "methods only in the abi: {:?}; only in the code: {:?}",
            in_abi.difference(&in_code).collect::<Vec<_>>(),
            in_code.difference(&in_abi).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// The decoded events so far, as JSON by the abi: `(topic, data)`.
pub fn events_json(abi: &Abi) -> Vec<(String, Value)> {
    super::events()
        .into_iter()
        .map(|e| {
            let data = abi
                .decode_event(&e.topic, &e.data)
                .unwrap_or_else(|err| panic!("event {:?}: {err}", e.topic));
            (e.topic.to_string(), data)
        })
        .collect()
}
