//! ed25519 keys, signatures and 32-byte addresses.
//!
//! A signature always covers `domain || message`, where the domain is one of [`crate::domain`]: a vote
//! signature can never be presented as a transaction signature, and the reverse.
//!
//! Signatures are made with `ed25519-dalek` and verified under the ZIP-215 rules with
//! `ed25519-zebra`: those rules fix exactly which signatures are valid, edge cases included, and
//! verifying many at once ([`verify_batch`]) accepts exactly what verifying them one by one
//! accepts. That is what lets a node check a batch of transactions for about a third of the cost
//! without ever disagreeing with a node that checked them singly. Every signature an honest
//! RFC 8032 signer makes is valid under both rules.

use crate::hash::{parse_hex_array, ParseHexError};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key's bytes are not an ed25519 point.
    #[error("public key {0} is not a valid ed25519 point")]
    MalformedKey(PublicKey),
    /// The signature is not the key's over that domain and message.
    #[error("signature does not verify for key {0}")]
    Invalid(PublicKey),
}

/// An ed25519 public key. It is also the [`Address`] of the account it controls.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Default,
)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// Who holds state or calls a contract: a member account (its public key bytes) or a contract
/// (a hash derived when it is instantiated, see `kessai-runtime`).
#[derive(
    Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The namespace of the chain's own state: accounts, members, code, validators.
    pub const SYSTEM: Address = Address([0; 32]);
}

impl PublicKey {
    /// The address of the account this key controls: the same 32 bytes.
    pub fn to_address(self) -> Address {
        Address(self.0)
    }

    /// Checks `signature` over `domain || message`.
    pub fn verify(
        &self,
        domain: &[u8],
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        let key = ed25519_zebra::VerificationKey::try_from(self.0)
            .map_err(|_| SignatureError::MalformedKey(*self))?;
        let signature = ed25519_zebra::Signature::from_bytes(&signature.0);
        key.verify(&signature, &framed(domain, message)).map_err(|_| SignatureError::Invalid(*self))
    }
}

/// One signature to check: the key, the signature and the message, without its domain.
pub struct SignedMessage<'a> {
    /// The key that should have signed.
    pub key: PublicKey,
    /// The signature to check.
    pub signature: &'a Signature,
    /// The signed message, without the domain tag.
    pub message: &'a [u8],
}

/// Checks many signatures over `domain || message` at once; the result of each is what
/// [`PublicKey::verify`] would say of it. One batch check (random linear combination, so `rng`
/// must be a cryptographic one) covers all valid signatures; only if it fails are they checked
/// one by one to find the culprits.
pub fn verify_batch<R: rand_core::RngCore + rand_core::CryptoRng>(
    domain: &[u8],
    items: &[SignedMessage<'_>],
    rng: R,
) -> Vec<Result<(), SignatureError>> {
    let framed: Vec<Vec<u8>> = items.iter().map(|item| framed(domain, item.message)).collect();
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for (item, message) in items.iter().zip(&framed) {
        let key = ed25519_zebra::VerificationKeyBytes::from(item.key.0);
        batch.queue((key, ed25519_zebra::Signature::from_bytes(&item.signature.0), message));
    }
    if batch.verify(rng).is_ok() {
        return items.iter().map(|_| Ok(())).collect();
    }
    items.iter().map(|item| item.key.verify(domain, item.message, item.signature)).collect()
}

impl From<PublicKey> for Address {
    fn from(key: PublicKey) -> Address {
        key.to_address()
    }
}

fn framed(domain: &[u8], message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(domain.len() + message.len());
    bytes.extend_from_slice(domain);
    bytes.extend_from_slice(message);
    bytes
}

/// A signing key with its public half.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// A fresh key from the operating system's random source (feature `keygen`, on by default).
    #[cfg(feature = "keygen")]
    pub fn generate() -> Keypair {
        Keypair { signing: SigningKey::generate(&mut rand_core::OsRng) }
    }

    /// The key whose ed25519 secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair { signing: SigningKey::from_bytes(&seed) }
    }

    /// A well-known key derived from a name, for development chains and tests only
    /// (like Substrate's `//Alice`): anyone can recompute it.
    pub fn dev(name: &str) -> Keypair {
        Keypair::from_seed(*blake3::hash(format!("kessai/dev-key/{name}").as_bytes()).as_bytes())
    }

    /// The ed25519 secret seed: keep it secret; [`Keypair::from_seed`] rebuilds the key from it.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// The address of the account the key controls.
    pub fn address(&self) -> Address {
        self.public().to_address()
    }

    /// Signs `domain || message`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> Signature {
        Signature(self.signing.sign(&framed(domain, message)).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public())
    }
}

macro_rules! hex_newtype {
    ($name:ident, $len:expr) => {
        impl $name {
            /// The bytes as lowercase hex, without `0x`.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }
        impl FromStr for $name {
            type Err = ParseHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex_array::<$len>(s).map($name)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({}…)", stringify!($name), &self.to_hex()[..12])
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_newtype!(PublicKey, 32);
hex_newtype!(Signature, 64);
hex_newtype!(Address, 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_bound_to_domain_and_message() {
        let key = Keypair::dev("alice");
        let sig = key.sign(b"d1", b"hello");
        assert!(key.public().verify(b"d1", b"hello", &sig).is_ok());
        assert_eq!(
            key.public().verify(b"d2", b"hello", &sig),
            Err(SignatureError::Invalid(key.public()))
        );
        assert!(key.public().verify(b"d1", b"hellO", &sig).is_err());
        assert!(Keypair::dev("bob").public().verify(b"d1", b"hello", &sig).is_err());
    }

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        assert_eq!(Keypair::dev("alice").public(), Keypair::dev("alice").public());
        assert_ne!(Keypair::dev("alice").public(), Keypair::dev("bob").public());
        assert_eq!(
            Keypair::from_seed(Keypair::dev("x").seed()).public(),
            Keypair::dev("x").public()
        );
    }

    #[test]
    fn malformed_key_is_reported() {
        // y = 2 is not on the curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let bad = PublicKey(bytes);
        let sig = Keypair::dev("a").sign(b"d", b"m");
        assert!(bad.verify(b"d", b"m", &sig).is_err());
    }
}
