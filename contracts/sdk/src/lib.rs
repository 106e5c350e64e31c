//! The Kessai contract SDK.
//!
//! A contract is a `cdylib` built for `wasm32-unknown-unknown` (see `contracts/README.md` and
//! `docs/contract-abi.md`). This crate gives it:
//!
//! - the raw host imports of module `kessai` ([`sys`], wasm32 only) and safe wrappers over them
//!   ([`input`], [`ret`], [`abort`], [`caller`], [`emit`], [`call`], [`storage`], …);
//! - typed storage: [`Map`] (keys `prefix ‖ borsh(key)`, the ABI's `maps` rule) and [`Item`];
//! - [`methods!`] / [`entry`] to write a method as a function of its arguments, and [`abi!`] to
//!   embed the interface in the `kessai:abi` custom section;
//! - on wasm32, a bump allocator and a panic handler that aborts with the panic message;
//! - on every other target, [`test_env`]: an in-memory stand-in for the node so that contract logic
//!   is unit-tested natively with `cargo test`.
#![no_std]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

pub mod storage;

#[cfg(target_arch = "wasm32")]
pub mod sys;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
use wasm as host;

#[cfg(not(target_arch = "wasm32"))]
pub mod test_env;
#[cfg(not(target_arch = "wasm32"))]
use test_env::host;

pub use borsh;
pub use storage::{Item, Map, MapIter};

use alloc::string::ToString;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use core::fmt;

/// A 32-byte account or contract address (an ed25519 public key for accounts).
#[derive(
    BorshSerialize, BorshDeserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The chain's own namespace (32 zero bytes).
    pub const SYSTEM: Address = Address([0; 32]);

    pub const fn new(bytes: [u8; 32]) -> Self {
        Address(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Address {
    fn from(bytes: [u8; 32]) -> Self {
        Address(bytes)
    }
}

impl fmt::Display for Address {
    /// Lower-case hex, as the JSON interface writes addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// Encodes a value as borsh. Writing to a `Vec` cannot fail.
pub fn to_borsh<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.serialize(&mut out).expect("borsh into a Vec");
    out
}

/// Decodes borsh that must be exactly one `T`, or aborts with `what` and the decoder's error.
pub fn from_borsh_or_abort<T: BorshDeserialize>(bytes: &[u8], what: &str) -> T {
    borsh::from_slice(bytes).unwrap_or_else(|e| abort(&alloc::format!("{what}: {e}")))
}

/// The call's arguments: the borsh of the method's argument tuple. Aborts the transaction with
/// `arguments do not decode: …` on bytes that are not exactly one `T`.
pub fn input<T: BorshDeserialize>() -> T {
    from_borsh_or_abort(&host::input(), "arguments do not decode")
}

/// The call's raw argument bytes.
pub fn input_bytes() -> Vec<u8> {
    host::input()
}

/// Sets the method's result to `borsh(value)` (the last call wins).
pub fn ret<T: BorshSerialize + ?Sized>(value: &T) {
    host::set_return(&to_borsh(value))
}

/// Sets the method's result to raw bytes.
pub fn ret_bytes(data: &[u8]) {
    host::set_return(data)
}

/// Fails the transaction with `msg` (receipt: `contract aborted: <msg>`); every state change and
/// event of the transaction is dropped.
pub fn abort(msg: &str) -> ! {
    host::abort(msg)
}

/// Aborts with `msg` unless `cond` holds.
#[inline]
pub fn require(cond: bool, msg: &str) {
    if !cond {
        abort(msg)
    }
}

/// The immediate caller: the signer, or the contract that called this one.
pub fn caller() -> Address {
    Address(host::caller())
}

/// The public key that signed the transaction.
pub fn signer() -> Address {
    Address(host::signer())
}

/// This contract's address.
pub fn self_address() -> Address {
    Address(host::self_address())
}

/// Height of the block being executed.
pub fn block_height() -> u64 {
    host::block_height()
}

/// Time of the block being executed, ms since the Unix epoch (never a wall clock).
pub fn block_time_ms() -> u64 {
    host::block_time_ms()
}

/// Emits an event: a UTF-8 `topic` (at most 128 bytes) and `borsh(data)` (at most 16 KiB).
pub fn emit<T: BorshSerialize + ?Sized>(topic: &str, data: &T) {
    host::emit_event(topic, &to_borsh(data))
}

pub fn blake3(data: &[u8]) -> [u8; 32] {
    host::blake3(data)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    host::sha256(data)
}

/// True when `signature` is `public_key`'s ed25519 signature of the raw `message`.
pub fn ed25519_verify(public_key: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> bool {
    host::ed25519_verify(public_key, signature, message)
}

/// Calls `method` of another contract with `borsh(args)` and decodes its result as `R`.
/// The callee sees this contract as its `caller`; if it fails, the whole transaction fails.
pub fn call<A: BorshSerialize + ?Sized, R: BorshDeserialize>(
    contract: &Address,
    method: &str,
    args: &A,
) -> R {
    from_borsh_or_abort(&call_raw(contract, method, &to_borsh(args)), "call result does not decode")
}

/// Calls `method` of another contract with raw argument bytes; returns its raw result.
pub fn call_raw(contract: &Address, method: &str, args: &[u8]) -> Vec<u8> {
    host::call_contract(&contract.0, method, args)
}

/// Gas still available to the transaction.
pub fn gas_left() -> u64 {
    host::gas_left()
}

/// Runs a method: decodes its arguments `A` from the input, runs `body`, and either sets the
/// result to `borsh(R)` (`Ok`) or aborts the transaction with the error's text (`Err`).
///
/// ```ignore
/// #[cfg_attr(target_arch = "wasm32", no_mangle)]
/// pub extern "C-unwind" fn create() {
///     kessai_sdk::entry(|(amount, memo): (u64, String)| -> Result<u64, String> { Ok(amount) })
/// }
/// ```
pub fn entry<A, R, E>(body: impl FnOnce(A) -> Result<R, E>)
where
    A: BorshDeserialize,
    R: BorshSerialize,
    E: fmt::Display,
{
    match body(input::<A>()) {
        Ok(result) => {
            let bytes = to_borsh(&result);
            // A method without a result (`()`) leaves the result empty without a host call.
            if !bytes.is_empty() {
                host::set_return(&bytes);
            }
        }
        Err(e) => abort(&e.to_string()),
    }
}

/// Defines a contract's methods as functions of their arguments.
///
/// Each `fn name(a: A, b: B) -> Result<R, E> { … }` becomes the exported wasm function `name`
/// (`() -> ()`, as the ABI wants) that decodes `borsh((A, B))` from the input, runs the body, and
/// returns `borsh(R)` or aborts with the error's text (see [`entry`]). At most 12 arguments (borsh
/// tuples). It also defines `METHODS`: every method's name and function, which the native tests
/// dispatch on and compare with `abi.json`. Use it once per contract (a second use in another
/// module defines that module's `METHODS`).
///
/// Two names are entry points rather than methods: `init` (ABI kind `init`), run once when the
/// contract is instantiated, and `migrate` (ABI kind `migrate`), run once by the upgrade that makes
/// this code the contract's code, with caller `Address::SYSTEM`, against the storage the old code
/// left; if it fails, the upgrade does not happen. The node refuses to `Call` either. They are
/// written like any method (arguments borsh of the tuple, `Err` aborts);
/// [`test_env::invoke_migrate`] runs `migrate` as the upgrade does.
///
/// On wasm32 the functions are `#[no_mangle]` exports; natively they keep mangled names (a method
/// called `open` or `free` must not replace libc's) and are `extern "C-unwind"` so that an abort
/// unwinds back into [`test_env::invoke`].
#[macro_export]
macro_rules! methods {
    ($( $(#[$meta:meta])* $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty { $($body:tt)* } )*) => {
        $(
            $(#[$meta])*
            #[cfg_attr(target_arch = "wasm32", no_mangle)]
            $vis extern "C-unwind" fn $name() {
                $crate::entry(|($($arg,)*): ($($ty,)*)| -> $ret { $($body)* })
            }
        )*

        /// Every method of this contract: its name (the wasm export) and its function.
        #[allow(dead_code)]
        pub const METHODS: &[(&str, extern "C-unwind" fn())] = &[$((stringify!($name), $name)),*];
    };
}

/// Embeds the contract's interface (a JSON file, path relative to the invoking source file) in the
/// `kessai:abi` custom section of the wasm module, and defines `ABI_JSON` with the same text for tests.
///
/// ```ignore
/// kessai_sdk::abi!("../abi.json");
/// ```
#[macro_export]
macro_rules! abi {
    ($path:literal) => {
        #[cfg(target_arch = "wasm32")]
        #[link_section = "kessai:abi"]
        #[used]
        static __KESSAI_ABI: [u8; include_bytes!($path).len()] = *include_bytes!($path);

        /// The contract's interface JSON: the content of its `kessai:abi` section.
        #[allow(dead_code)]
        pub const ABI_JSON: &str = include_str!($path);
    };
}
