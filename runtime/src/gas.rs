//! Gas costs (`docs/contract-abi.md`, "Gas"). Gas is wasmtime fuel: one unit per wasm operation,
//! plus these. Every host call costs [`HOST_CALL`] on top of its own cost below.

use crate::module::Shape;
use kessai_primitives::{Payload, SignedTransaction};

/// Every transaction, before it does anything (part of [`intrinsic`]).
pub const TX_BASE: u64 = 20_000;
/// Per byte of the borsh-encoded signed transaction (part of [`intrinsic`]).
pub const TX_PER_BYTE: u64 = 10;
/// Every call of a host function, on top of that function's own cost.
pub const HOST_CALL: u64 = 200;
/// `storage_get` / `storage_next`: per byte of key(s) passed and of what is read back.
pub const STORAGE_READ_BASE: u64 = 2_000;
/// Per byte of key(s) passed to `storage_get` / `storage_next` and of what is read back.
pub const STORAGE_READ_PER_BYTE: u64 = 2;
/// `storage_set`, plus [`STORAGE_SET_PER_BYTE`] per byte of key and value.
pub const STORAGE_SET_BASE: u64 = 10_000;
/// Per byte of key and value written by `storage_set`.
pub const STORAGE_SET_PER_BYTE: u64 = 50;
/// `storage_remove`.
pub const STORAGE_REMOVE: u64 = 5_000;
/// `emit_event`, plus [`EVENT_PER_BYTE`] per byte of topic and data.
pub const EVENT_BASE: u64 = 2_000;
/// Per byte of topic and data of `emit_event`.
pub const EVENT_PER_BYTE: u64 = 10;
/// `hash_blake3` / `hash_sha256`, plus [`HASH_PER_BYTE`] per byte hashed.
pub const HASH_BASE: u64 = 500;
/// Per byte hashed by `hash_blake3` / `hash_sha256`.
pub const HASH_PER_BYTE: u64 = 2;
/// `ed25519_verify`: one signature check, whatever the message length.
pub const ED25519_VERIFY: u64 = 50_000;
/// `call_contract`, plus whatever the callee burns.
pub const CALL_CONTRACT: u64 = 20_000;
/// A deployment, per byte of code: what storing it costs (compiling it is [`compile`]).
pub const DEPLOY_PER_BYTE: u64 = 100;

// Compiling a deployed module (see [`compile`]). Measured in CPU time (wasmtime compiles the
// functions of a module on all cores; wall time depends on what else the machine runs) with the dev
// build on the project's 2-core machine, by `benches/deploy.rs` (docs/benchmarks.md, "Deploy:
// compile time per gas"): for each term the worst shape per unit, priced so that no module the
// limits allow takes more than a CPU second per COMPILE_GAS_PER_SECOND, with 20-50 % to spare.

/// The compile speed the `COMPILE_*` prices promise: no module the limits allow takes more than a
/// second of CPU time to compile per this much compile gas, on the reference machine with the dev
/// build (`cargo bench -p kessai-runtime --profile dev --bench deploy` checks it). A maximum-gas
/// deploy therefore compiles in under a CPU second.
pub const COMPILE_GAS_PER_SECOND: u64 = 100_000_000;
/// Per function defined: 9,600 empty functions took 0.50 s of CPU (52 µs each).
pub const COMPILE_PER_FUNCTION: u64 = 10_000;
/// Per byte of function bodies: straight-line code took 1–3.5 µs of CPU per 10 bytes, the
/// clearing contract (107 KB of bodies, much of it calls) 0.24 s.
pub const COMPILE_PER_BODY_BYTE: u64 = 250;
/// Per call instruction, on top of its bytes: 32,700 `call`s (65 KB) took 0.35 s of CPU.
pub const COMPILE_PER_CALL: u64 = 1_000;
/// Per function, times the square of its branching instructions (cranelift's optimiser and
/// regalloc2 take time quadratic in the basic blocks of a function): one function of 1,000
/// nested `loop`s took 0.53 s of CPU, of 2,000 `call_indirect`s 0.25 s, of 1,000 `loop`s each
/// holding a `call_indirect` 0.29 s.
pub const COMPILE_PER_BRANCH_SQUARED: u64 = 12;

/// What a transaction costs before it does anything: 20,000 + 10 per byte of the signed
/// transaction, plus 100 per byte of code for a deployment.
pub fn intrinsic(tx: &SignedTransaction) -> u64 {
    let size = borsh::object_length(tx).expect("a transaction always encodes") as u64;
    let deploy = match &tx.tx.payload {
        Payload::Deploy { code } => DEPLOY_PER_BYTE.saturating_mul(code.len() as u64),
        _ => 0,
    };
    TX_BASE.saturating_add(TX_PER_BYTE.saturating_mul(size)).saturating_add(deploy)
}

/// The gas of compiling a module of this shape: [`COMPILE_PER_FUNCTION`] per function defined,
/// [`COMPILE_PER_BODY_BYTE`] per byte of function bodies, [`COMPILE_PER_CALL`] per call and
/// [`COMPILE_PER_BRANCH_SQUARED`] per function times the square of its branching instructions.
/// Charged on top of [`DEPLOY_PER_BYTE`], after the module passed the structural limits and before
/// it is compiled, so that a transaction's gas limit bounds the compile time it can cause.
pub(crate) fn compile(shape: &Shape<'_>) -> u64 {
    let terms = [
        (COMPILE_PER_FUNCTION, shape.functions),
        (COMPILE_PER_BODY_BYTE, shape.body_bytes),
        (COMPILE_PER_CALL, shape.calls),
        (COMPILE_PER_BRANCH_SQUARED, shape.branch_squares),
    ];
    terms.iter().fold(0u64, |gas, (price, count)| gas.saturating_add(price.saturating_mul(*count)))
}

/// `base + per_byte × bytes`, saturating.
pub(crate) fn cost(base: u64, per_byte: u64, bytes: usize) -> u64 {
    base.saturating_add(per_byte.saturating_mul(bytes as u64))
}
