//! The contract's storage maps (`abi.json` `maps`): their prefixes, and the keys a client reads
//! with a state proof. An entry's storage key is `prefix ‖ borsh(key)` (the SDK's `Map`); no
//! prefix is a prefix of another's.

use alloc::vec::Vec;
use borsh::BorshSerialize;

/// `r/`: asset id → [`AssetRecord`](crate::AssetRecord) (its stored status: never `Expired`).
pub const RECORDS: &[u8] = b"r/";
/// `o/`: (owner, asset id big-endian) → [`Status`](crate::Status): the records each owner has,
/// in id order.
pub const OWNERS: &[u8] = b"o/";
/// `t/`: (new owner, block time big-endian, asset id) → [`Transfer`](crate::Transfer): period
/// queries are range scans.
pub const TRANSFERS: &[u8] = b"t/";
/// `p/`: provider → [`Party`](crate::Party).
pub const PROVIDERS: &[u8] = b"p/";
/// `i/`: intermediary → [`Party`](crate::Party).
pub const INTERMEDIARIES: &[u8] = b"i/";
/// `c/`: (provider, provision time, method) → asset id: one production slot is recorded once.
pub const CREATED: &[u8] = b"c/";

/// The storage key of a transfer log entry: `t/ ‖ borsh((to, time big-endian, asset id))`.
/// `A` is the address type (see the crate docs).
pub fn transfer_key<A: BorshSerialize>(to: &A, time_ms: u64, asset_id: u64) -> Vec<u8> {
    let mut key = TRANSFERS.to_vec();
    (to, time_ms.to_be_bytes(), asset_id).serialize(&mut key).expect("borsh into a Vec");
    key
}
