//! The wasm32 side: host calls through [`crate::sys`], the global allocator and the panic handler.

use crate::sys;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

fn read_scratch(len: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(len);
    // SAFETY: the host writes exactly `len` bytes (the scratch length it just returned) at the pointer.
    unsafe {
        sys::scratch_read(buf.as_mut_ptr());
        buf.set_len(len);
    }
    buf
}

/// A host length: -1 ("absent") is `None`.
fn scratch_if_present(len: i64) -> Option<Vec<u8>> {
    (len >= 0).then(|| read_scratch(len as usize))
}

fn address_from(write: unsafe extern "C" fn(*mut u8)) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: the host writes 32 bytes.
    unsafe { write(out.as_mut_ptr()) };
    out
}

pub fn input() -> Vec<u8> {
    // SAFETY: plain host calls.
    let len = unsafe { sys::input() };
    read_scratch(len as u32 as usize)
}

pub fn set_return(data: &[u8]) {
    unsafe { sys::set_return(data.as_ptr(), data.len()) }
}

pub fn abort(msg: &str) -> ! {
    unsafe { sys::abort(msg.as_ptr(), msg.len()) }
}

pub fn storage_get(key: &[u8]) -> Option<Vec<u8>> {
    scratch_if_present(unsafe { sys::storage_get(key.as_ptr(), key.len()) })
}

pub fn storage_set(key: &[u8], value: &[u8]) {
    unsafe { sys::storage_set(key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
}

pub fn storage_remove(key: &[u8]) {
    unsafe { sys::storage_remove(key.as_ptr(), key.len()) }
}

/// The raw borsh `(key, value)` pair of the next entry.
pub fn storage_next(prefix: &[u8], from: &[u8]) -> Option<Vec<u8>> {
    scratch_if_present(unsafe {
        sys::storage_next(prefix.as_ptr(), prefix.len(), from.as_ptr(), from.len())
    })
}

pub fn caller() -> [u8; 32] {
    address_from(sys::caller)
}

pub fn signer() -> [u8; 32] {
    address_from(sys::signer)
}

pub fn self_address() -> [u8; 32] {
    address_from(sys::self_address)
}

pub fn block_height() -> u64 {
    unsafe { sys::block_height() as u64 }
}

pub fn block_time_ms() -> u64 {
    unsafe { sys::block_time_ms() as u64 }
}

pub fn emit_event(topic: &str, data: &[u8]) {
    unsafe { sys::emit_event(topic.as_ptr(), topic.len(), data.as_ptr(), data.len()) }
}

pub fn blake3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    unsafe { sys::hash_blake3(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    out
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    unsafe { sys::hash_sha256(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    out
}

pub fn ed25519_verify(public_key: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> bool {
    unsafe {
        sys::ed25519_verify(
            public_key.as_ptr(),
            signature.as_ptr(),
            message.as_ptr(),
            message.len(),
        ) == 1
    }
}

pub fn call_contract(contract: &[u8; 32], method: &str, args: &[u8]) -> Vec<u8> {
    let len = unsafe {
        sys::call_contract(
            contract.as_ptr(),
            method.as_ptr(),
            method.len(),
            args.as_ptr(),
            args.len(),
        )
    };
    // A failing callee fails the whole transaction, so a call that returns has a result.
    scratch_if_present(len).unwrap_or_default()
}

pub fn gas_left() -> u64 {
    unsafe { sys::gas_left() as u64 }
}

/// A bump allocator over `memory.grow`.
///
/// It never reuses freed memory (except the most recent block, which `dealloc` and `realloc`
/// handle in place). That is enough and deterministic here because every call gets a fresh
/// instance of the module (contract-abi.md): the heap lives for one call only, and the node bounds
/// memory (16 MiB), so a call that allocates too much fails its transaction, never the node.
/// Being a pure function of the call's allocation sequence, it keeps execution deterministic.
struct BumpAllocator {
    /// Next free byte; 0 until the first allocation.
    next: Cell<usize>,
    /// End of the memory grown so far.
    end: Cell<usize>,
}

// SAFETY: wasm32 contracts are single-threaded (no `threads` feature).
unsafe impl Sync for BumpAllocator {}

const PAGE: usize = 65_536;

extern "C" {
    /// Set by the linker: the first byte after the data and the stack.
    static __heap_base: u8;
}

impl BumpAllocator {
    fn init_if_needed(&self) {
        if self.next.get() == 0 {
            // Only the address of the linker symbol is taken (no read): safe.
            self.next.set(core::ptr::addr_of!(__heap_base) as usize);
            self.end.set(core::arch::wasm32::memory_size::<0>() * PAGE);
        }
    }

    /// Makes sure memory reaches `new_next`; false when the node refuses to grow it.
    fn reserve_until(&self, new_next: usize) -> bool {
        let end = self.end.get();
        if new_next <= end {
            return true;
        }
        let pages = (new_next - end).div_ceil(PAGE);
        if core::arch::wasm32::memory_grow::<0>(pages) == usize::MAX {
            return false;
        }
        self.end.set(end + pages * PAGE);
        true
    }
}

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.init_if_needed();
        let align = layout.align();
        let Some(start) = self.next.get().checked_add(align - 1).map(|p| p & !(align - 1)) else {
            return core::ptr::null_mut();
        };
        match start.checked_add(layout.size()) {
            Some(new_next) if self.reserve_until(new_next) => {
                self.next.set(new_next);
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Only the most recent block can be given back.
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The most recent block grows or shrinks in place: a Vec being pushed to keeps one block.
        if ptr as usize + layout.size() == self.next.get() {
            if let Some(new_next) = (ptr as usize).checked_add(new_size) {
                if self.reserve_until(new_next) {
                    self.next.set(new_next);
                    return ptr;
                }
            }
            return core::ptr::null_mut();
        }
        if new_size <= layout.size() {
            return ptr;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new_ptr = self.alloc(new_layout);
        if !new_ptr.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size());
        }
        new_ptr
    }
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator { next: Cell::new(0), end: Cell::new(0) };

/// Formats into a fixed buffer, cutting what does not fit: a panic must not allocate (it may be
/// reporting that allocation failed).
struct FixedBuf {
    buf: [u8; 512],
    len: usize,
}

impl core::fmt::Write for FixedBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for (i, ch) in s.char_indices() {
            let end = i + ch.len_utf8();
            if self.len + end - i > self.buf.len() {
                return Err(core::fmt::Error);
            }
            self.buf[self.len..self.len + end - i].copy_from_slice(&s.as_bytes()[i..end]);
            self.len += end - i;
        }
        Ok(())
    }
}

/// A panic (a bug, an overflow, an `unwrap` on `None`) fails the transaction with its message:
/// the receipt says `contract aborted: panicked: <message>`.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut out = FixedBuf { buf: [0; 512], len: 0 };
    let _ = write!(out, "panicked: {}", info.message());
    // SAFETY: only whole UTF-8 characters are ever copied in.
    abort(unsafe { core::str::from_utf8_unchecked(&out.buf[..out.len]) })
}
