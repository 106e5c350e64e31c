//! Gas costs (`docs/contract-abi.md`, "Gas"). Gas is wasmtime fuel: one unit per wasm operation,
//! plus these. Every host call costs [`HOST_CALL`] on top of its own cost below.

use kessai_primitives::{Payload, SignedTransaction};

pub const TX_BASE: u64 = 20_000;
pub const TX_PER_BYTE: u64 = 10;
pub const HOST_CALL: u64 = 200;
/// `storage_get` / `storage_next`: per byte of key(s) passed and of what is read back.
pub const STORAGE_READ_BASE: u64 = 2_000;
pub const STORAGE_READ_PER_BYTE: u64 = 2;
/// `storage_set`: per byte of key and value.
pub const STORAGE_SET_BASE: u64 = 10_000;
pub const STORAGE_SET_PER_BYTE: u64 = 50;
pub const STORAGE_REMOVE: u64 = 5_000;
/// `emit_event`: per byte of topic and data.
pub const EVENT_BASE: u64 = 2_000;
pub const EVENT_PER_BYTE: u64 = 10;
pub const HASH_BASE: u64 = 500;
pub const HASH_PER_BYTE: u64 = 2;
pub const ED25519_VERIFY: u64 = 50_000;
/// `call_contract`, plus whatever the callee burns.
pub const CALL_CONTRACT: u64 = 20_000;
pub const DEPLOY_PER_BYTE: u64 = 100;

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

/// `base + per_byte × bytes`, saturating.
pub(crate) fn cost(base: u64, per_byte: u64, bytes: usize) -> u64 {
    base.saturating_add(per_byte.saturating_mul(bytes as u64))
}
