//! A node's libp2p identity is its Kessai ed25519 key, so a [`PeerId`] names a member's
//! [`PublicKey`] and the allow list can be checked against the key the noise handshake proved.

use kessai_primitives::{Keypair, PublicKey};
use libp2p::{identity, PeerId};

/// Multihash code of the identity "hash": the peer id of an ed25519 key embeds the key itself.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The libp2p keypair of a node: the same ed25519 key, so `peer_id_of(&key.public())` is its peer id.
pub(crate) fn libp2p_keypair(key: &Keypair) -> identity::Keypair {
    identity::Keypair::ed25519_from_bytes(key.seed())
        .expect("an ed25519 seed is always 32 bytes, which is all ed25519_from_bytes checks")
}

/// The peer id of the node holding `key`.
///
/// Computed from the libp2p encoding of the key (protobuf `{ type: Ed25519, data: key }` wrapped in an
/// identity multihash) without decompressing the point, so it is defined for every 32 bytes. A key
/// that is not a valid point has a peer id nobody can authenticate as.
pub fn peer_id_of(key: &PublicKey) -> PeerId {
    let encoded = peer_key_bytes(key);
    let multihash = libp2p::multihash::Multihash::<64>::wrap(IDENTITY_MULTIHASH, &encoded)
        .expect("36 bytes fit a 64-byte multihash");
    PeerId::from_multihash(multihash)
        .expect("an identity multihash of at most 42 bytes is a peer id")
}

/// The libp2p (protobuf) encoding of a node key: what governance's `AdmitPeer` carries.
pub fn peer_key_bytes(key: &PublicKey) -> Vec<u8> {
    // Field 1 (key type, varint) = 1 (Ed25519); field 2 (data, 32 bytes) = the key.
    let mut encoded = vec![0x08, 0x01, 0x12, 0x20];
    encoded.extend_from_slice(&key.0);
    encoded
}

/// The node key in a libp2p (protobuf) public key encoding, if it is an ed25519 key.
pub fn key_of_peer_key(protobuf: &[u8]) -> Option<PublicKey> {
    let key = identity::PublicKey::try_decode_protobuf(protobuf).ok()?;
    Some(PublicKey(key.try_into_ed25519().ok()?.to_bytes()))
}

/// The Kessai key behind `peer`, or `None` if the peer id does not embed an ed25519 key (another key
/// type, or a hashed peer id), which no member's node has.
pub fn public_key_of(peer: &PeerId) -> Option<PublicKey> {
    let multihash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    key_of_peer_key(multihash.digest())
}

/// The Kessai key of the peer an address names by its last `/p2p/<peer id>`, if it has one and
/// that peer id embeds an ed25519 key.
pub fn public_key_in(address: &libp2p::Multiaddr) -> Option<PublicKey> {
    address.iter().fold(None, |named, protocol| match protocol {
        libp2p::multiaddr::Protocol::P2p(peer) => public_key_of(&peer),
        _ => named,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_matches_the_libp2p_identity_of_the_same_key() {
        for name in ["alice", "bob", "carol"] {
            let key = Keypair::dev(name);
            let libp2p_peer = libp2p_keypair(&key).public().to_peer_id();
            assert_eq!(peer_id_of(&key.public()), libp2p_peer);
            assert_eq!(public_key_of(&libp2p_peer), Some(key.public()));
        }
    }

    #[test]
    fn an_address_names_the_key_of_its_peer_id() {
        let key = Keypair::dev("alice").public();
        let named: libp2p::Multiaddr =
            format!("/ip4/10.0.0.1/tcp/26600/p2p/{}", peer_id_of(&key)).parse().unwrap();
        assert_eq!(public_key_in(&named), Some(key));
        let bare: libp2p::Multiaddr = "/ip4/10.0.0.1/tcp/26600".parse().unwrap();
        assert_eq!(public_key_in(&bare), None);
        let hashed: libp2p::Multiaddr =
            format!("/dns4/a/tcp/1/p2p/{}", PeerId::random()).parse().unwrap();
        assert_eq!(public_key_in(&hashed), None);
    }

    #[test]
    fn distinct_keys_have_distinct_peer_ids() {
        assert_ne!(
            peer_id_of(&Keypair::dev("alice").public()),
            peer_id_of(&Keypair::dev("bob").public())
        );
    }

    #[test]
    fn peer_ids_without_an_embedded_ed25519_key_have_no_kessai_key() {
        // An identity multihash of 32 random bytes: not a protobuf-encoded key.
        assert_eq!(public_key_of(&PeerId::random()), None);
        // A sha2-256 peer id (how keys longer than 42 bytes, e.g. RSA, are named).
        let hashed = libp2p::multihash::Multihash::<64>::wrap(0x12, &[7; 32]).unwrap();
        assert_eq!(public_key_of(&PeerId::from_multihash(hashed).unwrap()), None);
    }
}
