//! The raw host functions of module `kessai`, exactly as `docs/contract-abi.md` lists them.
//!
//! Pointers and lengths are `i32` offsets into linear memory (`*const u8` / `usize` on wasm32).
//! Variable-length results go to the call's scratch buffer; `scratch_read` copies it out.
//! Prefer the safe wrappers at the crate root.

#[link(wasm_import_module = "kessai")]
extern "C" {
    /// Puts the call's argument bytes in scratch; returns their length.
    pub fn input() -> i32;
    /// Copies the whole scratch buffer to `ptr`.
    pub fn scratch_read(ptr: *mut u8);
    /// Value length (value in scratch), or -1 when absent.
    pub fn storage_get(key_ptr: *const u8, key_len: usize) -> i64;
    pub fn storage_set(key_ptr: *const u8, key_len: usize, val_ptr: *const u8, val_len: usize);
    pub fn storage_remove(key_ptr: *const u8, key_len: usize);
    /// The smallest key `k >= from` starting with `prefix`: scratch gets
    /// `borsh((k: Vec<u8>, value: Vec<u8>))`, returns its length; -1 when none.
    pub fn storage_next(
        prefix_ptr: *const u8,
        prefix_len: usize,
        from_ptr: *const u8,
        from_len: usize,
    ) -> i64;
    /// Writes the 32-byte address of the immediate caller.
    pub fn caller(out_ptr: *mut u8);
    /// Writes the 32-byte public key that signed the transaction.
    pub fn signer(out_ptr: *mut u8);
    /// Writes this contract's 32-byte address.
    pub fn self_address(out_ptr: *mut u8);
    pub fn block_height() -> i64;
    pub fn block_time_ms() -> i64;
    /// Topic is UTF-8, data borsh.
    pub fn emit_event(topic_ptr: *const u8, topic_len: usize, data_ptr: *const u8, data_len: usize);
    pub fn hash_blake3(ptr: *const u8, len: usize, out_ptr: *mut u8);
    pub fn hash_sha256(ptr: *const u8, len: usize, out_ptr: *mut u8);
    /// 1 valid, 0 not (32-byte key, 64-byte signature, raw message).
    pub fn ed25519_verify(
        pk_ptr: *const u8,
        sig_ptr: *const u8,
        msg_ptr: *const u8,
        msg_len: usize,
    ) -> i32;
    /// The method's result (last call wins).
    pub fn set_return(ptr: *const u8, len: usize);
    /// Fails the transaction with this UTF-8 message; never returns.
    pub fn abort(msg_ptr: *const u8, msg_len: usize) -> !;
    /// Calls another contract; its return data goes to scratch, its length is returned.
    pub fn call_contract(
        addr_ptr: *const u8,
        method_ptr: *const u8,
        method_len: usize,
        args_ptr: *const u8,
        args_len: usize,
    ) -> i64;
    pub fn gas_left() -> i64;
}
