//! 32-byte blake3 digests.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A blake3 digest. Shown and parsed as 64 lower-case hex characters.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zero bytes: "none" where a hash is expected (e.g. the parent of the first block).
    pub const ZERO: Hash = Hash([0; 32]);

    /// blake3 of raw bytes.
    pub fn digest(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// blake3 of the borsh encoding of `value`: the identity of anything Kessai hashes.
    pub fn of<T: BorshSerialize + ?Sized>(value: &T) -> Hash {
        let mut hasher = blake3::Hasher::new();
        value.serialize(&mut HashWriter(&mut hasher)).expect("writing to a hasher cannot fail");
        Hash(*hasher.finalize().as_bytes())
    }

    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Streams borsh output straight into the hasher instead of allocating the encoding.
struct HashWriter<'a>(&'a mut blake3::Hasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A string that is not 32 bytes of hex.
#[derive(Debug, thiserror::Error)]
#[error("expected 64 hex characters (32 bytes), got {0:?}")]
pub struct ParseHexError(pub String);

/// Parses exactly `N` bytes of hex, with or without a `0x` prefix.
pub fn parse_hex_array<const N: usize>(s: &str) -> Result<[u8; N], ParseHexError> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| ParseHexError(s.to_string()))?;
    Ok(out)
}

impl FromStr for Hash {
    type Err = ParseHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_array(s).map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..12])
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_equals_digest_of_encoding() {
        let value = (7u64, String::from("kessai"));
        assert_eq!(Hash::of(&value), Hash::digest(&borsh::to_vec(&value).unwrap()));
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_input() {
        let h = Hash::digest(b"x");
        assert_eq!(h.to_hex().parse::<Hash>().unwrap(), h);
        assert_eq!(format!("0x{h}").parse::<Hash>().unwrap(), h);
        assert!("abcd".parse::<Hash>().is_err());
        assert!("zz".repeat(32).parse::<Hash>().is_err());
    }
}
