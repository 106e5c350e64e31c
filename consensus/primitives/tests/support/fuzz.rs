//! What every fuzz target of the workspace shares (`docs/fuzzing.md`): an allocator that remembers
//! the largest single allocation of the current thread, so a target can assert that decoding `n`
//! hostile bytes never asks for much more memory than `n` (a borsh length prefix of 2^32 must not
//! allocate 4 GiB); the borsh round-trip property; and byte mutations of valid encodings.
//!
//! Included by path (`#[path = ".../support/fuzz.rs"] mod fuzz_support;`) by each crate's
//! `tests/fuzz.rs`, each of which declares `#[global_allocator] static A: Probe = Probe;`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// How long `cargo test` runs each target: long enough to catch shallow bugs on every CI run, short
/// enough not to slow it down. `BOLERO_RANDOM_TEST_TIME_MS` overrides it for longer campaigns.
pub(crate) const SHORT_RUN: Duration = Duration::from_secs(1);

/// Memory a decoder may ask for in one allocation regardless of its input: borsh reads a `Vec<u8>`
/// or `String` into a buffer of up to 1 MiB before it knows whether the bytes are there.
pub(crate) const FIXED_ALLOWANCE: usize = (1 << 20) + (64 << 10);

/// Memory a decoder may ask for in one allocation per byte of input (a one-byte `None` is a
/// 33-byte `Option<Hash>` in memory, a one-byte element a 32-byte JSON value, and vectors double).
pub(crate) const PER_INPUT_BYTE: usize = 64;

/// The global allocator of a fuzz test binary: the system's, noting each thread's largest request.
pub(crate) struct Probe;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
pub(crate) fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let outer = LARGEST.with(|largest| largest.replace(0));
    let result = f();
    let inner = LARGEST.with(|largest| largest.replace(outer.max(largest.get())));
    (result, inner)
}

/// Runs `decode` on `input` and fails if it asked for more memory in one allocation than
/// [`FIXED_ALLOWANCE`] plus [`PER_INPUT_BYTE`] per input byte.
pub(crate) fn bounded<R>(what: &str, input: &[u8], decode: impl FnOnce(&[u8]) -> R) -> R {
    let (result, largest) = largest_allocation(|| decode(input));
    let allowance = FIXED_ALLOWANCE + PER_INPUT_BYTE * input.len();
    assert!(
        largest <= allowance,
        "decoding {} bytes as {what} allocated {largest} bytes at once (allowed {allowance})",
        input.len()
    );
    result
}

/// Decodes `bytes` as a `T` within the memory bound of [`bounded`]; a value that decodes must
/// encode back to exactly `bytes` (borsh is canonical: one value, one encoding).
pub(crate) fn decode_canonical<T>(bytes: &[u8]) -> Option<T>
where
    T: borsh::BorshDeserialize + borsh::BorshSerialize,
{
    let what = std::any::type_name::<T>();
    let value = bounded(what, bytes, |bytes| borsh::from_slice::<T>(bytes)).ok()?;
    let again = borsh::to_vec(&value).expect("a decoded value encodes");
    assert_eq!(again, bytes, "{what} decoded from bytes that are not its encoding");
    Some(value)
}

/// Applies byte mutations to `bytes`: each `(position, xor)` flips bits at `position` modulo the
/// length, then the result is cut to `keep` bytes if given. Valid encodings mutated this way reach
/// far deeper into a decoder than random bytes do.
pub(crate) fn mutate(mut bytes: Vec<u8>, flips: &[(u16, u8)], keep: Option<u16>) -> Vec<u8> {
    if !bytes.is_empty() {
        for &(position, xor) in flips {
            let at = usize::from(position) % bytes.len();
            bytes[at] ^= xor;
        }
    }
    if let Some(keep) = keep {
        bytes.truncate(usize::from(keep));
    }
    bytes
}
