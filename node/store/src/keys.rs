//! Column family names and the byte layout of their keys.
//!
//! Heights and indices are big-endian so that RocksDB's byte order is numeric order: range scans
//! (events of a contract between two heights, a key's value history) are plain iterations.

use kessai_primitives::{Address, Hash};

pub(crate) const HEADERS: &str = "headers";
pub(crate) const BLOCKS: &str = "blocks";
pub(crate) const COMMITS: &str = "commits";
pub(crate) const RECEIPTS: &str = "receipts";
pub(crate) const TX_INDEX: &str = "tx_index";
pub(crate) const EVENTS: &str = "events";
pub(crate) const STATE: &str = "state";
pub(crate) const JMT_NODES: &str = "jmt_nodes";
pub(crate) const JMT_VALUES: &str = "jmt_values";
pub(crate) const META: &str = "meta";
/// What each version made stale, for the pruner: written only while state pruning is on.
pub(crate) const JMT_STALE: &str = "jmt_stale";
/// blake3(flat key) → flat key: what a state snapshot needs to serve the flat keys of the tree's
/// leaves (the tree keeps only their hashes).
pub(crate) const JMT_PREIMAGES: &str = "jmt_preimages";

pub(crate) const ALL: [&str; 12] = [
    HEADERS,
    BLOCKS,
    COMMITS,
    RECEIPTS,
    TX_INDEX,
    EVENTS,
    STATE,
    JMT_NODES,
    JMT_VALUES,
    META,
    JMT_STALE,
    JMT_PREIMAGES,
];

/// `meta` keys.
pub(crate) mod meta {
    /// u64 BE: the last committed height (0 = genesis).
    pub(crate) const LATEST_HEIGHT: &[u8] = b"latest_height";
    /// Opaque bytes the node stored with the genesis state (its chain spec, typically).
    pub(crate) const GENESIS: &[u8] = b"genesis";
    /// u32 BE: the layout of this database, to refuse opening one written by an incompatible build.
    pub(crate) const FORMAT: &[u8] = b"format";
    /// u64 BE: the lowest height whose state is kept (absent: 0, nothing pruned).
    pub(crate) const EARLIEST_STATE: &[u8] = b"earliest_state_height";
    /// u64 BE: the lowest height whose block, receipts and indices are kept (absent: 0).
    pub(crate) const EARLIEST_BLOCK: &[u8] = b"earliest_block_height";
    /// borsh `(height, state root)`: a state sync is writing this database (absent otherwise).
    pub(crate) const RESTORING: &[u8] = b"restoring";
    /// `[1]`: every key of the flat state has its preimage in `jmt_preimages` (absent in a
    /// database written before preimages were kept, until it is opened once).
    pub(crate) const PREIMAGES: &[u8] = b"preimages";
}

/// Version of the layout described in this module.
///
/// - 1: the first layout.
/// - 2: headers carry `protocol_version` and `tx_count` (decision record 0020): every block hash
///   and commit changed, so a database of format 1 cannot be converted (`kessai db migrate` says
///   so); the chain starts again from a new genesis.
pub(crate) const FORMAT_VERSION: u32 = 2;

pub(crate) fn height(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// `contract ‖ height ‖ tx index ‖ event index`.
pub(crate) fn event(contract: &Address, height: u64, tx_index: u32, event_index: u32) -> [u8; 48] {
    let mut key = [0u8; 48];
    key[..32].copy_from_slice(&contract.0);
    key[32..40].copy_from_slice(&height.to_be_bytes());
    key[40..44].copy_from_slice(&tx_index.to_be_bytes());
    key[44..48].copy_from_slice(&event_index.to_be_bytes());
    key
}

/// The height of an `events` key.
pub(crate) fn event_height(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(32..40)?.try_into().ok()?))
}

/// The (tx index, event index) of an `events` key.
pub(crate) fn event_position(key: &[u8]) -> Option<(u32, u32)> {
    let tx = u32::from_be_bytes(key.get(40..44)?.try_into().ok()?);
    let event = u32::from_be_bytes(key.get(44..48)?.try_into().ok()?);
    Some((tx, event))
}

/// `key hash ‖ version`: a key's value history, oldest first.
pub(crate) fn jmt_value(key_hash: &jmt::KeyHash, version: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(&key_hash.0);
    key[32..].copy_from_slice(&version.to_be_bytes());
    key
}

/// `version ‖ borsh(nibble path)`: a tree node. Version first so that the nodes the pruner deletes
/// (all older than the retention height) sit in one key range that compaction can be pointed at.
pub(crate) fn jmt_node(node_key: &jmt::storage::NodeKey) -> Vec<u8> {
    let mut key = node_key.version().to_be_bytes().to_vec();
    borsh::to_writer(&mut key, node_key.nibble_path()).expect("encoding to memory cannot fail");
    key
}

/// The tree node key of a `jmt_nodes` key.
pub(crate) fn parse_jmt_node(key: &[u8]) -> Option<jmt::storage::NodeKey> {
    let version = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let path: jmt::storage::NibblePath = borsh::from_slice(key.get(8..)?).ok()?;
    Some(jmt::storage::NodeKey::new(version, path))
}

/// What a `jmt_stale` entry says is stale from its version on.
pub(crate) mod stale {
    /// A tree node: the rest of the key is its `jmt_nodes` key.
    pub(crate) const NODE: u8 = 0;
    /// A key's value history below the version: the rest of the key is the key hash; the entry's
    /// value is `[1]` when the write at the version was a deletion (itself removable then).
    pub(crate) const VALUES: u8 = 1;
}

/// `stale since version ‖ kind ‖ what`: pruning below a height is one scan from the start.
pub(crate) fn stale(since: u64, kind: u8, what: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + what.len());
    key.extend_from_slice(&since.to_be_bytes());
    key.push(kind);
    key.extend_from_slice(what);
    key
}

/// The version, kind and rest of a `jmt_stale` key.
pub(crate) fn parse_stale(key: &[u8]) -> Option<(u64, u8, &[u8])> {
    let since = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    Some((since, *key.get(8)?, key.get(9..)?))
}

/// The key of a version's root node: the version and the empty nibble path (jmt makes that path
/// only through borsh or a crate-private constructor).
pub(crate) fn root_node_key(version: u64) -> jmt::storage::NodeKey {
    // borsh(NibblePath { num_nibbles: 0usize, bytes: vec![] }): a u64 and a u32 length, zero.
    let empty: jmt::storage::NibblePath =
        borsh::from_slice(&[0u8; 12]).expect("the empty nibble path decodes");
    jmt::storage::NodeKey::new(version, empty)
}

pub(crate) fn tx(tx_id: &Hash) -> &[u8] {
    tx_id.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_by_contract_then_height_then_position() {
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        let mut keys =
            vec![event(&b, 0, 0, 0), event(&a, 256, 0, 0), event(&a, 1, 2, 0), event(&a, 1, 1, 9)];
        keys.sort();
        assert_eq!(
            keys,
            vec![event(&a, 1, 1, 9), event(&a, 1, 2, 0), event(&a, 256, 0, 0), event(&b, 0, 0, 0)]
        );
        assert_eq!(event_height(&event(&a, 256, 0, 0)), Some(256));
    }

    #[test]
    fn value_history_sorts_by_version() {
        let k = jmt::KeyHash([3; 32]);
        assert!(jmt_value(&k, 255) < jmt_value(&k, 256));
    }
}
