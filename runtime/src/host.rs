//! The host side of a contract call: the `kessai` host functions (`docs/contract-abi.md`, "Host
//! functions"), the store each call frame runs in, and how a frame's end is told apart: success,
//! a failure of the transaction ([`Failure`]), or a state read error that stops the node's
//! execution ([`Stop::Fatal`]).
//!
//! Every frame (the called contract, and each contract it calls in turn) gets a fresh store and
//! instance. The transaction's [`World`] — its state overlay, events and call stack — is moved into
//! the running frame's store and back out when it returns, so no frame shares mutable state with
//! another. A callee's failure fails the whole transaction (the caller cannot catch it), so callees
//! write straight into the transaction's overlay: the transaction's rollback undoes them all.

use crate::failure::{trap, Failure, Fatal, Stop};
use crate::gas::{self, cost};
use crate::module::Contract;
use crate::state::BaseState;
use crate::state::Overlay;
use crate::system::{self, flat_key};
use crate::{Runtime, StateError, StateView};
use kessai_abi::MethodKind;
use kessai_primitives::{Address, Event, PublicKey, Signature};
use sha2::Digest;
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, Store};

/// Storage keys are at most 1 KiB, values 256 KiB; event topics 128 bytes, event data 16 KiB;
/// return data 256 KiB (`docs/contract-abi.md`, "Rules the host enforces").
pub(crate) const MAX_KEY: usize = 1024;
pub(crate) const MAX_VALUE: usize = 256 * 1024;
pub(crate) const MAX_TOPIC: usize = 128;
pub(crate) const MAX_EVENT_DATA: usize = 16 * 1024;
pub(crate) const MAX_RETURN: usize = 256 * 1024;
/// Longest method name `call_contract` accepts.
const MAX_METHOD_NAME: usize = 256;
/// An `abort` message is cut to this many bytes in the receipt.
const MAX_ABORT_MESSAGE: usize = 1024;

/// What the block is, and who signed the running transaction.
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub(crate) height: u64,
    pub(crate) time_ms: u64,
    pub(crate) signer: PublicKey,
}

/// Everything a transaction's call frames share.
pub(crate) struct World {
    pub(crate) state: Overlay,
    pub(crate) events: Vec<Event>,
    pub(crate) env: Env,
    /// The contracts of the running frames, outermost first.
    pub(crate) stack: Vec<Address>,
}

impl World {
    pub(crate) fn new(base: BaseState, env: Env) -> World {
        World { state: Overlay::new(base), events: Vec::new(), env, stack: Vec::new() }
    }

    /// Runs `method` of `contract` with the world moved into the frame's store and back.
    pub(crate) fn run(
        &mut self,
        runtime: &Runtime,
        contract: &Contract,
        method: &str,
        frame: Frame,
        fuel: u64,
    ) -> Outcome {
        let placeholder = World::new(self.state.base(), self.env.clone());
        let world = std::mem::replace(self, placeholder);
        let (world, outcome) = run(runtime, world, contract, method, frame, fuel);
        *self = world;
        outcome
    }
}

/// One call of one method.
pub(crate) struct Frame {
    pub(crate) contract: Address,
    pub(crate) caller: Address,
    /// Read-only: writes, events and calls into non-view methods trap.
    pub(crate) view: bool,
    pub(crate) input: Vec<u8>,
}

/// The data of a frame's store.
pub(crate) struct HostState {
    limits: Limits,
    /// Taken out while a callee runs, put back when it returns.
    world: Option<World>,
    frame: Frame,
    scratch: Vec<u8>,
    ret: Vec<u8>,
    memory: Option<Memory>,
    runtime: Runtime,
}

struct Limits {
    memory_bytes: usize,
    table_elements: usize,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(Failure::MemoryLimit.into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(Failure::TableLimit.into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// How a frame ended, and the gas it left.
pub(crate) struct Outcome {
    pub(crate) result: Result<Vec<u8>, Stop>,
    pub(crate) fuel_left: u64,
}

/// Runs `method` of `contract` in a fresh instance with `fuel`, and gives the world back.
pub(crate) fn run(
    runtime: &Runtime,
    mut world: World,
    contract: &Contract,
    method: &str,
    frame: Frame,
    fuel: u64,
) -> (World, Outcome) {
    world.stack.push(frame.contract);
    let config = runtime.config();
    let limits = Limits {
        memory_bytes: config.max_memory_bytes,
        table_elements: usize::try_from(config.max_table_elements).unwrap_or(usize::MAX),
    };
    let state = HostState {
        limits,
        world: Some(world),
        frame,
        scratch: Vec::new(),
        ret: Vec::new(),
        memory: None,
        runtime: runtime.clone(),
    };
    let mut store = Store::new(runtime.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_fuel(fuel).expect("fuel metering is enabled");
    let result = call(&mut store, contract, method);
    let fuel_left = store.get_fuel().expect("fuel metering is enabled");
    let state = store.into_data();
    let mut world = state.world.expect("a callee always gives the world back");
    world.stack.pop();
    let result = result.map(|()| state.ret).map_err(Stop::classify);
    (world, Outcome { result, fuel_left })
}

fn call(store: &mut Store<HostState>, contract: &Contract, method: &str) -> wasmtime::Result<()> {
    let instance = contract.pre.instantiate(&mut *store)?;
    let memory =
        instance.get_memory(&mut *store, "memory").ok_or_else(|| trap("no memory export"))?;
    store.data_mut().memory = Some(memory);
    let func = instance
        .get_typed_func::<(), ()>(&mut *store, method)
        .map_err(|_| Failure::NoMethod(method.to_string()))?;
    func.call(&mut *store, ())
}

/// A host function of module `kessai` with its wasm signature.
pub(crate) struct HostFunction {
    pub(crate) name: &'static str,
    params: &'static [&'static str],
    results: &'static [&'static str],
}

impl HostFunction {
    pub(crate) fn signature(&self) -> String {
        crate::module::signature(self.params, self.results)
    }
}

const fn host(
    name: &'static str,
    params: &'static [&'static str],
    results: &'static [&'static str],
) -> HostFunction {
    HostFunction { name, params, results }
}

/// The table of `docs/contract-abi.md`; [`define`] links exactly these (a test checks it).
pub(crate) const HOST_FUNCTIONS: &[HostFunction] = &[
    host("input", &[], &["i32"]),
    host("scratch_read", &["i32"], &[]),
    host("storage_get", &["i32", "i32"], &["i64"]),
    host("storage_set", &["i32", "i32", "i32", "i32"], &[]),
    host("storage_remove", &["i32", "i32"], &[]),
    host("storage_next", &["i32", "i32", "i32", "i32"], &["i64"]),
    host("caller", &["i32"], &[]),
    host("signer", &["i32"], &[]),
    host("self_address", &["i32"], &[]),
    host("block_height", &[], &["i64"]),
    host("block_time_ms", &[], &["i64"]),
    host("emit_event", &["i32", "i32", "i32", "i32"], &[]),
    host("hash_blake3", &["i32", "i32", "i32"], &[]),
    host("hash_sha256", &["i32", "i32", "i32"], &[]),
    host("ed25519_verify", &["i32", "i32", "i32", "i32"], &["i32"]),
    host("set_return", &["i32", "i32"], &[]),
    host("abort", &["i32", "i32"], &[]),
    host("call_contract", &["i32", "i32", "i32", "i32", "i32"], &["i64"]),
    host("gas_left", &[], &["i64"]),
];

type Ctx<'a> = Caller<'a, HostState>;
type HostResult<T> = wasmtime::Result<T>;

fn charge(caller: &mut Ctx<'_>, amount: u64) -> HostResult<()> {
    let left = caller.get_fuel()?;
    match left.checked_sub(amount) {
        Some(rest) => caller.set_fuel(rest),
        None => {
            caller.set_fuel(0)?;
            Err(Failure::OutOfGas.into())
        }
    }
}

fn memory(caller: &Ctx<'_>) -> HostResult<Memory> {
    caller.data().memory.ok_or_else(|| trap("host function called before the instance was ready"))
}

fn out_of_bounds() -> wasmtime::Error {
    trap("out of bounds memory access")
}

/// Bounds-checks `ptr..ptr + len` in `memory`.
fn range(ptr: i32, len: usize, memory_len: usize) -> HostResult<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len).filter(|end| *end <= memory_len).ok_or_else(out_of_bounds)?;
    Ok(start..end)
}

/// The length argument of a host call, refused over `limit` (`what` names it in the trap).
fn length(len: i32, limit: usize, what: &str) -> HostResult<usize> {
    let len = len as u32 as usize;
    if len > limit {
        return Err(trap(format!("{what} is {len} bytes; the limit is {limit}")));
    }
    Ok(len)
}

fn read(caller: &Ctx<'_>, ptr: i32, len: usize) -> HostResult<Vec<u8>> {
    let data = memory(caller)?.data(caller);
    Ok(data[range(ptr, len, data.len())?].to_vec())
}

fn read_array<const N: usize>(caller: &Ctx<'_>, ptr: i32) -> HostResult<[u8; N]> {
    let data = memory(caller)?.data(caller);
    Ok(data[range(ptr, N, data.len())?].try_into().expect("range has N bytes"))
}

fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let data = memory(caller)?.data_mut(caller);
    let range = range(ptr, bytes.len(), data.len())?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

fn world<'a>(caller: &'a mut Ctx<'_>) -> &'a mut World {
    caller.data_mut().world.as_mut().expect("the running frame holds the world")
}

fn refuse_in_view(caller: &Ctx<'_>, what: &'static str) -> HostResult<()> {
    if caller.data().frame.view {
        return Err(Failure::ViewWrite(what).into());
    }
    Ok(())
}

/// The flat key of the running contract's storage key `key`.
fn contract_key(caller: &Ctx<'_>, key: &[u8]) -> Vec<u8> {
    flat_key(&caller.data().frame.contract, key)
}

/// Puts `bytes` in the scratch buffer; returns their length.
fn to_scratch(caller: &mut Ctx<'_>, bytes: Vec<u8>) -> i64 {
    let len = bytes.len() as i64;
    caller.data_mut().scratch = bytes;
    len
}

fn fatal(error: StateError) -> wasmtime::Error {
    Fatal(error).into()
}

/// Links the host functions of [`HOST_FUNCTIONS`].
pub(crate) fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    const M: &str = "kessai";
    linker.func_wrap(M, "input", |mut caller: Ctx<'_>| -> HostResult<i32> {
        charge(&mut caller, gas::HOST_CALL)?;
        let HostState { scratch, frame, .. } = caller.data_mut();
        scratch.clear();
        scratch.extend_from_slice(&frame.input);
        Ok(scratch.len() as i32)
    })?;
    linker.func_wrap(M, "scratch_read", |mut caller: Ctx<'_>, ptr: i32| -> HostResult<()> {
        charge(&mut caller, gas::HOST_CALL)?;
        let (data, state) = memory(&caller)?.data_and_store_mut(&mut caller);
        let range = range(ptr, state.scratch.len(), data.len())?;
        data[range].copy_from_slice(&state.scratch);
        Ok(())
    })?;
    linker.func_wrap(
        M,
        "storage_get",
        |mut caller: Ctx<'_>, kp: i32, kl: i32| -> HostResult<i64> {
            let kl = length(kl, MAX_KEY, "storage key")?;
            charge(
                &mut caller,
                gas::HOST_CALL + cost(gas::STORAGE_READ_BASE, gas::STORAGE_READ_PER_BYTE, kl),
            )?;
            let key = contract_key(&caller, &read(&caller, kp, kl)?);
            match world(&mut caller).state.get(&key).map_err(fatal)? {
                None => Ok(-1),
                Some(value) => {
                    charge(&mut caller, cost(0, gas::STORAGE_READ_PER_BYTE, value.len()))?;
                    Ok(to_scratch(&mut caller, value))
                }
            }
        },
    )?;
    linker.func_wrap(
        M,
        "storage_set",
        |mut caller: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32| -> HostResult<()> {
            refuse_in_view(&caller, "write storage (storage_set)")?;
            let kl = length(kl, MAX_KEY, "storage key")?;
            let vl = length(vl, MAX_VALUE, "storage value")?;
            charge(
                &mut caller,
                gas::HOST_CALL + cost(gas::STORAGE_SET_BASE, gas::STORAGE_SET_PER_BYTE, kl + vl),
            )?;
            let key = contract_key(&caller, &read(&caller, kp, kl)?);
            let value = read(&caller, vp, vl)?;
            world(&mut caller).state.set(key, value);
            Ok(())
        },
    )?;
    linker.func_wrap(
        M,
        "storage_remove",
        |mut caller: Ctx<'_>, kp: i32, kl: i32| -> HostResult<()> {
            refuse_in_view(&caller, "write storage (storage_remove)")?;
            let kl = length(kl, MAX_KEY, "storage key")?;
            charge(&mut caller, gas::HOST_CALL + gas::STORAGE_REMOVE)?;
            let key = contract_key(&caller, &read(&caller, kp, kl)?);
            world(&mut caller).state.remove(key);
            Ok(())
        },
    )?;
    linker.func_wrap(
        M,
        "storage_next",
        |mut caller: Ctx<'_>, pp: i32, pl: i32, fp: i32, fl: i32| -> HostResult<i64> {
            let pl = length(pl, MAX_KEY, "storage prefix")?;
            let fl = length(fl, MAX_KEY, "storage key")?;
            charge(
                &mut caller,
                gas::HOST_CALL + cost(gas::STORAGE_READ_BASE, gas::STORAGE_READ_PER_BYTE, pl + fl),
            )?;
            let prefix = contract_key(&caller, &read(&caller, pp, pl)?);
            let from = contract_key(&caller, &read(&caller, fp, fl)?);
            match world(&mut caller).state.next_from(&prefix, &from).map_err(fatal)? {
                None => Ok(-1),
                Some((key, value)) => {
                    let entry = system::encode(&(&key[32..], value));
                    charge(&mut caller, cost(0, gas::STORAGE_READ_PER_BYTE, entry.len()))?;
                    Ok(to_scratch(&mut caller, entry))
                }
            }
        },
    )?;
    linker.func_wrap(M, "caller", |mut caller: Ctx<'_>, out: i32| -> HostResult<()> {
        charge(&mut caller, gas::HOST_CALL)?;
        let address = caller.data().frame.caller;
        write(&mut caller, out, &address.0)
    })?;
    linker.func_wrap(M, "signer", |mut caller: Ctx<'_>, out: i32| -> HostResult<()> {
        charge(&mut caller, gas::HOST_CALL)?;
        let signer = world(&mut caller).env.signer;
        write(&mut caller, out, &signer.0)
    })?;
    linker.func_wrap(M, "self_address", |mut caller: Ctx<'_>, out: i32| -> HostResult<()> {
        charge(&mut caller, gas::HOST_CALL)?;
        let address = caller.data().frame.contract;
        write(&mut caller, out, &address.0)
    })?;
    linker.func_wrap(M, "block_height", |mut caller: Ctx<'_>| -> HostResult<i64> {
        charge(&mut caller, gas::HOST_CALL)?;
        Ok(world(&mut caller).env.height as i64)
    })?;
    linker.func_wrap(M, "block_time_ms", |mut caller: Ctx<'_>| -> HostResult<i64> {
        charge(&mut caller, gas::HOST_CALL)?;
        Ok(world(&mut caller).env.time_ms as i64)
    })?;
    linker.func_wrap(
        M,
        "emit_event",
        |mut caller: Ctx<'_>, tp: i32, tl: i32, dp: i32, dl: i32| -> HostResult<()> {
            refuse_in_view(&caller, "emit events")?;
            let tl = length(tl, MAX_TOPIC, "event topic")?;
            let dl = length(dl, MAX_EVENT_DATA, "event data")?;
            charge(
                &mut caller,
                gas::HOST_CALL + cost(gas::EVENT_BASE, gas::EVENT_PER_BYTE, tl + dl),
            )?;
            let topic = String::from_utf8(read(&caller, tp, tl)?)
                .map_err(|_| trap("event topic is not UTF-8"))?;
            let data = read(&caller, dp, dl)?;
            let contract = caller.data().frame.contract;
            world(&mut caller).events.push(Event { contract, topic, data });
            Ok(())
        },
    )?;
    linker.func_wrap(
        M,
        "hash_blake3",
        |mut caller: Ctx<'_>, p: i32, l: i32, out: i32| -> HostResult<()> {
            let digest = hash(&mut caller, p, l, |bytes| *blake3::hash(bytes).as_bytes())?;
            write(&mut caller, out, &digest)
        },
    )?;
    linker.func_wrap(
        M,
        "hash_sha256",
        |mut caller: Ctx<'_>, p: i32, l: i32, out: i32| -> HostResult<()> {
            let digest = hash(&mut caller, p, l, |bytes| sha2::Sha256::digest(bytes).into())?;
            write(&mut caller, out, &digest)
        },
    )?;
    linker.func_wrap(
        M,
        "ed25519_verify",
        |mut caller: Ctx<'_>, kp: i32, sp: i32, mp: i32, ml: i32| -> HostResult<i32> {
            charge(&mut caller, gas::HOST_CALL + gas::ED25519_VERIFY)?;
            let key = PublicKey(read_array::<32>(&caller, kp)?);
            let signature = Signature(read_array::<64>(&caller, sp)?);
            let data = memory(&caller)?.data(&caller);
            let message = &data[range(mp, ml as u32 as usize, data.len())?];
            // An empty domain: the contract verifies a signature over the raw message.
            Ok(key.verify(b"", message, &signature).is_ok() as i32)
        },
    )?;
    linker.func_wrap(M, "set_return", |mut caller: Ctx<'_>, p: i32, l: i32| -> HostResult<()> {
        charge(&mut caller, gas::HOST_CALL)?;
        let l = length(l, MAX_RETURN, "return data")?;
        let value = read(&caller, p, l)?;
        caller.data_mut().ret = value;
        Ok(())
    })?;
    linker.func_wrap(M, "abort", |mut caller: Ctx<'_>, p: i32, l: i32| -> HostResult<()> {
        charge(&mut caller, gas::HOST_CALL)?;
        let message = read(&caller, p, (l as u32 as usize).min(MAX_ABORT_MESSAGE))?;
        Err(Failure::Aborted(String::from_utf8_lossy(&message).into_owned()).into())
    })?;
    linker.func_wrap(M, "call_contract", call_contract)?;
    linker.func_wrap(M, "gas_left", |mut caller: Ctx<'_>| -> HostResult<i64> {
        charge(&mut caller, gas::HOST_CALL)?;
        Ok(caller.get_fuel()? as i64)
    })?;
    Ok(())
}

fn hash(
    caller: &mut Ctx<'_>,
    ptr: i32,
    len: i32,
    digest: impl FnOnce(&[u8]) -> [u8; 32],
) -> HostResult<[u8; 32]> {
    let len = len as u32 as usize;
    charge(caller, gas::HOST_CALL + cost(gas::HASH_BASE, gas::HASH_PER_BYTE, len))?;
    let data = memory(caller)?.data(&*caller);
    Ok(digest(&data[range(ptr, len, data.len())?]))
}

fn call_contract(
    mut caller: Ctx<'_>,
    address_ptr: i32,
    method_ptr: i32,
    method_len: i32,
    args_ptr: i32,
    args_len: i32,
) -> HostResult<i64> {
    charge(&mut caller, gas::HOST_CALL + gas::CALL_CONTRACT)?;
    let target = Address(read_array::<32>(&caller, address_ptr)?);
    let method_len = length(method_len, MAX_METHOD_NAME, "method name")?;
    let method = String::from_utf8(read(&caller, method_ptr, method_len)?)
        .map_err(|_| trap("method name is not UTF-8"))?;
    let args = read(&caller, args_ptr, args_len as u32 as usize)?;
    let runtime = caller.data().runtime.clone();
    let (me, view) = (caller.data().frame.contract, caller.data().frame.view);
    let max_depth = runtime.config().max_call_depth;

    let world = world(&mut caller);
    if world.stack.contains(&target) {
        return Err(Failure::Reentrancy(target).into());
    }
    if world.stack.len() >= max_depth {
        return Err(Failure::DepthLimit(max_depth).into());
    }
    let (contract, kind) =
        runtime.resolve(&world.state, &target, &method).map_err(Stop::into_error)?;
    if view && kind != MethodKind::View {
        return Err(Failure::ViewWrite("call a non-view method").into());
    }

    let fuel = caller.get_fuel()?;
    let world = caller.data_mut().world.take().expect("the running frame holds the world");
    let frame =
        Frame { contract: target, caller: me, view: view || kind == MethodKind::View, input: args };
    let (world, outcome) = run(&runtime, world, &contract, &method, frame, fuel);
    caller.data_mut().world = Some(world);
    caller.set_fuel(outcome.fuel_left)?;
    let returned = outcome.result.map_err(Stop::into_error)?;
    Ok(to_scratch(&mut caller, returned))
}
