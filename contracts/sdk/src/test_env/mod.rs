//! A native stand-in for the node, so contract logic is unit-tested with plain `cargo test`.
//!
//! Each test thread has its own environment (storage, caller, signer, block height and time, gas,
//! input, return data, events), so tests run in parallel without seeing each other. [`invoke`]
//! runs a method as the node would: borsh arguments in, borsh result out, and on an abort or a
//! panic the error message comes back and every storage change and event of the call is dropped.
//! The host's limits (key, value, topic, event and return sizes) and the rule that a view call
//! cannot write are enforced too, as traps.
//!
//! ```ignore
//! use kessai_sdk::test_env::{self, invoke};
//! test_env::reset();
//! test_env::set_sender(alice);
//! let id: u64 = invoke(create, &(100u64, "memo".to_string())).unwrap();
//! assert_eq!(invoke::<_, ()>(create, &(0u64, String::new())).unwrap_err(), "amount must be positive");
//! ```

pub mod abi;

use crate::{to_borsh, Address};
use borsh::{BorshDeserialize, BorshSerialize};
use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::string::{String, ToString};
use std::sync::Once;
use std::vec::Vec;

pub use abi::{check_methods, events_json, invoke_json, Abi};

/// The export an upgrade runs once on the new code (ABI kind `migrate`); see [`invoke_migrate`].
pub const MIGRATE: &str = "migrate";
/// The export instantiation runs once (ABI kind `init`).
pub const INIT: &str = "init";

/// Limits of contract-abi.md.
pub const MAX_KEY_LEN: usize = 1024;
pub const MAX_VALUE_LEN: usize = 256 * 1024;
pub const MAX_TOPIC_LEN: usize = 128;
pub const MAX_EVENT_DATA_LEN: usize = 16 * 1024;
pub const MAX_RETURN_LEN: usize = 256 * 1024;

/// An emitted event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub topic: String,
    pub data: Vec<u8>,
}

impl Event {
    /// The event's data decoded as `T` (panics if it does not decode: a test failure).
    pub fn decode<T: BorshDeserialize>(&self) -> T {
        borsh::from_slice(&self.data)
            .unwrap_or_else(|e| panic!("event {:?} does not decode: {e}", self.topic))
    }
}

/// Another contract as seen through `call_contract`: (method, borsh args) → borsh result, or the
/// message it fails with (which fails the calling transaction too).
pub type ContractMock = Rc<dyn Fn(&str, &[u8]) -> Result<Vec<u8>, String>>;

/// Everything the host would provide to one call.
#[derive(Clone)]
pub struct Env {
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
    pub caller: Address,
    pub signer: Address,
    pub self_address: Address,
    pub block_height: u64,
    pub block_time_ms: u64,
    pub gas_left: u64,
    pub input: Vec<u8>,
    pub return_data: Vec<u8>,
    pub events: Vec<Event>,
    /// A view call: writing storage, emitting an event or calling another contract traps.
    pub view: bool,
    pub contracts: BTreeMap<Address, ContractMock>,
}

impl Default for Env {
    fn default() -> Self {
        Env {
            storage: BTreeMap::new(),
            caller: Address([0x01; 32]),
            signer: Address([0x01; 32]),
            self_address: Address([0xC0; 32]),
            block_height: 1,
            block_time_ms: 1_577_836_800_000, // 2020-01-01T00:00:00Z
            gas_left: 1_000_000_000,
            input: Vec::new(),
            return_data: Vec::new(),
            events: Vec::new(),
            view: false,
            contracts: BTreeMap::new(),
        }
    }
}

std::thread_local! {
    static ENV: RefCell<Env> = RefCell::new(Env::default());
    static IN_INVOKE: Cell<bool> = const { Cell::new(false) };
}

/// The panic payload of [`crate::abort`] natively.
struct Aborted(String);

/// Runs `f` on this thread's environment.
pub fn with<R>(f: impl FnOnce(&mut Env) -> R) -> R {
    ENV.with(|env| f(&mut env.borrow_mut()))
}

/// A fresh environment: empty storage, default caller/signer (`[1; 32]`), contract address
/// (`[0xC0; 32]`), height 1 and time 2020-01-01T00:00:00Z.
pub fn reset() {
    with(|env| *env = Env::default())
}

/// Both caller and signer: a transaction signed by `who` calling the contract directly.
pub fn set_sender(who: Address) {
    with(|env| {
        env.caller = who;
        env.signer = who;
    })
}

pub fn set_caller(who: Address) {
    with(|env| env.caller = who)
}

pub fn set_signer(who: Address) {
    with(|env| env.signer = who)
}

pub fn set_self_address(address: Address) {
    with(|env| env.self_address = address)
}

pub fn set_block_height(height: u64) {
    with(|env| env.block_height = height)
}

pub fn set_block_time_ms(time_ms: u64) {
    with(|env| env.block_time_ms = time_ms)
}

pub fn set_gas_left(gas: u64) {
    with(|env| env.gas_left = gas)
}

pub fn set_input(bytes: Vec<u8>) {
    with(|env| env.input = bytes)
}

/// The result bytes of the last call.
pub fn return_data() -> Vec<u8> {
    with(|env| env.return_data.clone())
}

/// Every event emitted since the last [`reset`] or [`take_events`].
pub fn events() -> Vec<Event> {
    with(|env| env.events.clone())
}

/// The events so far, leaving none.
pub fn take_events() -> Vec<Event> {
    with(|env| std::mem::take(&mut env.events))
}

/// A copy of the whole storage.
pub fn storage() -> BTreeMap<Vec<u8>, Vec<u8>> {
    with(|env| env.storage.clone())
}

/// Makes `call_contract` to `address` answer with `handler`.
pub fn mock_contract(
    address: Address,
    handler: impl Fn(&str, &[u8]) -> Result<Vec<u8>, String> + 'static,
) {
    with(|env| {
        env.contracts.insert(address, Rc::new(handler));
    })
}

/// A contract method as [`crate::methods!`] defines it. (A hand-written method must be
/// `extern "C-unwind"` too: an abort unwinding out of an `extern "C"` function kills the test.)
pub type Method = extern "C-unwind" fn();

/// Runs a method with `borsh(args)` as the node would for a transaction, and decodes its result.
/// `Err` carries the abort message (or `panicked: …`); storage and events are then as before.
pub fn invoke<A: BorshSerialize + ?Sized, R: BorshDeserialize>(
    method: Method,
    args: &A,
) -> Result<R, String> {
    let bytes = invoke_raw(method, &to_borsh(args), false)?;
    Ok(borsh::from_slice(&bytes).unwrap_or_else(|e| panic!("method result does not decode: {e}")))
}

/// Like [`invoke`] for a view call (RPC `contract_view`): writes, events and calls trap.
pub fn invoke_view<A: BorshSerialize + ?Sized, R: BorshDeserialize>(
    method: Method,
    args: &A,
) -> Result<R, String> {
    let bytes = invoke_raw(method, &to_borsh(args), true)?;
    Ok(borsh::from_slice(&bytes).unwrap_or_else(|e| panic!("view result does not decode: {e}")))
}

/// Runs a contract's `migrate` entry point as an upgrade does: once, in the transaction that makes
/// this code the contract's code, with caller [`Address::SYSTEM`] (the signer stays the
/// transaction's signer: the approval that activated the upgrade). The caller is restored after.
/// `Err` is migrate's failure message, and then storage and events are as before: the node keeps
/// the old code in force.
pub fn invoke_migrate<A: BorshSerialize + ?Sized, R: BorshDeserialize>(
    migrate: Method,
    args: &A,
) -> Result<R, String> {
    let caller = with(|env| std::mem::replace(&mut env.caller, Address::SYSTEM));
    let outcome = invoke_raw(migrate, &to_borsh(args), false);
    with(|env| env.caller = caller);
    Ok(borsh::from_slice(&outcome?)
        .unwrap_or_else(|e| panic!("migrate result does not decode: {e}")))
}

/// Runs a method on raw argument bytes; returns its raw result or its failure message.
pub fn invoke_raw(method: Method, args: &[u8], view: bool) -> Result<Vec<u8>, String> {
    install_quiet_panic_hook();
    let (storage_before, events_before) = with(|env| {
        env.input = args.to_vec();
        env.return_data.clear();
        env.view = view;
        (env.storage.clone(), env.events.len())
    });
    IN_INVOKE.with(|flag| flag.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| method()));
    IN_INVOKE.with(|flag| flag.set(false));
    with(|env| {
        env.view = false;
        match outcome {
            Ok(()) => Ok(env.return_data.clone()),
            Err(payload) => {
                env.storage = storage_before;
                env.events.truncate(events_before);
                env.return_data.clear();
                Err(failure_message(payload))
            }
        }
    })
}

fn failure_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(Aborted(msg)) = payload.downcast_ref::<Aborted>() {
        msg.clone()
    } else if let Some(msg) = payload.downcast_ref::<String>() {
        std::format!("panicked: {msg}")
    } else if let Some(msg) = payload.downcast_ref::<&str>() {
        std::format!("panicked: {msg}")
    } else {
        "panicked".to_string()
    }
}

/// Aborts and panics inside [`invoke`] are results, not test failures: do not print them.
fn install_quiet_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_INVOKE.with(|flag| flag.get()) {
                default_hook(info)
            }
        }));
    });
}

/// What the host does with a call that breaks its rules: the call traps.
fn trap(what: &str) -> ! {
    panic::panic_any(Aborted(std::format!("trap: {what}")))
}

fn check_writable(what: &str) {
    if with(|env| env.view) {
        trap(&std::format!("{what} in a view call"))
    }
}

/// The functions of [`crate::wasm`], natively.
pub(crate) mod host {
    use super::*;

    pub fn input() -> Vec<u8> {
        with(|env| env.input.clone())
    }

    pub fn set_return(data: &[u8]) {
        if data.len() > MAX_RETURN_LEN {
            trap("return data over 256 KiB")
        }
        with(|env| env.return_data = data.to_vec())
    }

    pub fn abort(msg: &str) -> ! {
        panic::panic_any(Aborted(msg.to_string()))
    }

    fn check_key(key: &[u8]) {
        if key.len() > MAX_KEY_LEN {
            trap("storage key over 1 KiB")
        }
    }

    pub fn storage_get(key: &[u8]) -> Option<Vec<u8>> {
        check_key(key);
        with(|env| env.storage.get(key).cloned())
    }

    pub fn storage_set(key: &[u8], value: &[u8]) {
        check_writable("storage_set");
        check_key(key);
        if value.len() > MAX_VALUE_LEN {
            trap("storage value over 256 KiB")
        }
        with(|env| env.storage.insert(key.to_vec(), value.to_vec()));
    }

    pub fn storage_remove(key: &[u8]) {
        check_writable("storage_remove");
        check_key(key);
        with(|env| env.storage.remove(key));
    }

    pub fn storage_next(prefix: &[u8], from: &[u8]) -> Option<Vec<u8>> {
        let start = from.max(prefix).to_vec();
        with(|env| {
            let (k, v) = env.storage.range(start..).next()?;
            k.starts_with(prefix).then(|| to_borsh(&(k.clone(), v.clone())))
        })
    }

    pub fn caller() -> [u8; 32] {
        with(|env| env.caller.0)
    }

    pub fn signer() -> [u8; 32] {
        with(|env| env.signer.0)
    }

    pub fn self_address() -> [u8; 32] {
        with(|env| env.self_address.0)
    }

    pub fn block_height() -> u64 {
        with(|env| env.block_height)
    }

    pub fn block_time_ms() -> u64 {
        with(|env| env.block_time_ms)
    }

    pub fn emit_event(topic: &str, data: &[u8]) {
        check_writable("emit_event");
        if topic.len() > MAX_TOPIC_LEN {
            trap("event topic over 128 bytes")
        }
        if data.len() > MAX_EVENT_DATA_LEN {
            trap("event data over 16 KiB")
        }
        with(|env| env.events.push(Event { topic: topic.to_string(), data: data.to_vec() }))
    }

    pub fn blake3(data: &[u8]) -> [u8; 32] {
        *::blake3::hash(data).as_bytes()
    }

    pub fn sha256(data: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(data).into()
    }

    pub fn ed25519_verify(public_key: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature)).is_ok()
    }

    pub fn call_contract(contract: &[u8; 32], method: &str, args: &[u8]) -> Vec<u8> {
        if with(|env| env.view) {
            // The host allows views of views; the mock cannot tell, so a view may not call at all.
            trap("call_contract in a view call")
        }
        let Some(handler) = with(|env| env.contracts.get(&Address(*contract)).cloned()) else {
            trap(&std::format!("no contract at {}", Address(*contract)))
        };
        handler(method, args).unwrap_or_else(|msg| abort(&msg))
    }

    pub fn gas_left() -> u64 {
        with(|env| env.gas_left)
    }
}
