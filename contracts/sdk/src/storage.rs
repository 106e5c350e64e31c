//! Contract storage: raw keys and values, and typed [`Map`] and [`Item`] over them.
//!
//! Limits the node enforces: keys at most 1 KiB, values at most 256 KiB (over them the call traps).

use crate::{from_borsh_or_abort, host, to_borsh};
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use core::marker::PhantomData;

/// The value under `key`, if any.
pub fn get(key: &[u8]) -> Option<Vec<u8>> {
    host::storage_get(key)
}

pub fn set(key: &[u8], value: &[u8]) {
    host::storage_set(key, value)
}

pub fn remove(key: &[u8]) {
    host::storage_remove(key)
}

/// The entry with the smallest key `k >= from` that starts with `prefix`, if any.
pub fn next(prefix: &[u8], from: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    host::storage_next(prefix, from)
        .map(|pair| from_borsh_or_abort(&pair, "storage_next result does not decode"))
}

/// The value under `key` decoded as `T` (aborts if it does not decode).
pub fn read<T: BorshDeserialize>(key: &[u8]) -> Option<T> {
    get(key).map(|v| from_borsh_or_abort(&v, "stored value does not decode"))
}

/// Stores `borsh(value)` under `key`.
pub fn write<T: BorshSerialize + ?Sized>(key: &[u8], value: &T) {
    set(key, &to_borsh(value))
}

/// A typed map in storage: entry `key` lives under `prefix ‖ borsh(key)` with value `borsh(value)`,
/// the rule of the ABI's `maps`, so `kessai query state` and the light client can find it.
///
/// No map's prefix may be a prefix of another's (iteration would meet the other map's entries).
/// Borsh integers are little-endian, so iteration order follows key *bytes*, not numeric order; a
/// key that must be scanned by range should hold the number big-endian (e.g. `[u8; 8]`).
pub struct Map<K, V> {
    prefix: &'static [u8],
    _types: PhantomData<fn(K, V)>,
}

impl<K: BorshSerialize + BorshDeserialize, V: BorshSerialize + BorshDeserialize> Map<K, V> {
    pub const fn new(prefix: &'static [u8]) -> Self {
        Map { prefix, _types: PhantomData }
    }

    pub const fn prefix(&self) -> &'static [u8] {
        self.prefix
    }

    /// The storage key of `key`: `prefix ‖ borsh(key)`.
    pub fn storage_key(&self, key: &K) -> Vec<u8> {
        self.key_of(key)
    }

    fn key_of<T: BorshSerialize + ?Sized>(&self, part: &T) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 40);
        k.extend_from_slice(self.prefix);
        part.serialize(&mut k).expect("borsh into a Vec");
        k
    }

    pub fn get(&self, key: &K) -> Option<V> {
        read(&self.key_of(key))
    }

    pub fn insert(&self, key: &K, value: &V) {
        write(&self.key_of(key), value)
    }

    pub fn remove(&self, key: &K) {
        remove(&self.key_of(key))
    }

    pub fn contains(&self, key: &K) -> bool {
        get(&self.key_of(key)).is_some()
    }

    /// Every entry, in key-byte order.
    pub fn iter(&self) -> MapIter<K, V> {
        MapIter::new(self.prefix.to_vec(), self.prefix.to_vec(), self.prefix.len())
    }

    /// The entries whose key's borsh starts with `borsh(part)`: for a tuple key `(A, B)`, pass
    /// `&a` to get every entry with first component `a` (borsh of a tuple is its fields in order).
    pub fn iter_prefix<P: BorshSerialize + ?Sized>(&self, part: &P) -> MapIter<K, V> {
        let scan = self.key_of(part);
        MapIter::new(scan.clone(), scan, self.prefix.len())
    }

    /// Like [`Map::iter_prefix`], starting at the first key `>= borsh(part) ‖ borsh(from)`.
    /// With `from` big-endian, this is a range scan.
    pub fn iter_prefix_from<P: BorshSerialize + ?Sized, F: BorshSerialize + ?Sized>(
        &self,
        part: &P,
        from: &F,
    ) -> MapIter<K, V> {
        let scan = self.key_of(part);
        let mut start = scan.clone();
        from.serialize(&mut start).expect("borsh into a Vec");
        MapIter::new(scan, start, self.prefix.len())
    }
}

/// Iterates a [`Map`] with `storage_next`, one host call per entry; after each entry the scan
/// resumes at `last_key ‖ 0x00`, the next possible key.
pub struct MapIter<K, V> {
    scan_prefix: Vec<u8>,
    from: Vec<u8>,
    map_prefix_len: usize,
    done: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> MapIter<K, V> {
    fn new(scan_prefix: Vec<u8>, from: Vec<u8>, map_prefix_len: usize) -> Self {
        MapIter { scan_prefix, from, map_prefix_len, done: false, _types: PhantomData }
    }
}

impl<K: BorshDeserialize, V: BorshDeserialize> Iterator for MapIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        if self.done {
            return None;
        }
        let Some((key, value)) = next(&self.scan_prefix, &self.from) else {
            self.done = true;
            return None;
        };
        let k = from_borsh_or_abort(&key[self.map_prefix_len..], "map key does not decode");
        let v = from_borsh_or_abort(&value, "map value does not decode");
        self.from = key;
        self.from.push(0);
        Some((k, v))
    }
}

/// One typed value under a fixed storage key (a contract's admin, a counter, …).
pub struct Item<T> {
    key: &'static [u8],
    _type: PhantomData<fn(T)>,
}

impl<T: BorshSerialize + BorshDeserialize> Item<T> {
    pub const fn new(key: &'static [u8]) -> Self {
        Item { key, _type: PhantomData }
    }

    pub const fn key(&self) -> &'static [u8] {
        self.key
    }

    pub fn get(&self) -> Option<T> {
        read(self.key)
    }

    pub fn set(&self, value: &T) {
        write(self.key, value)
    }

    pub fn remove(&self) {
        remove(self.key)
    }

    pub fn exists(&self) -> bool {
        get(self.key).is_some()
    }
}
