//! Protocol versions: which rules a block follows, named in its header, changed on a live chain by a
//! scheduled upgrade ([`crate::GovernanceAction::ScheduleUpgrade`]).
//!
//! A chain starts at [`GENESIS_PROTOCOL_VERSION`]. An upgrade scheduled for version `V` at height
//! `H` makes every header from `H` on carry `V` (decision record 0020). A binary knows the versions
//! in [`SUPPORTED_PROTOCOL_VERSIONS`]; a node never signs, commits or follows a block of a version it
//! does not know, and a light client refuses its header.

use crate::block::Header;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The version of every chain's first block.
pub const GENESIS_PROTOCOL_VERSION: u32 = 1;

/// The versions this build checks blocks of, oldest first.
///
/// - 1: the rules as they were when versions were introduced; the header commits to its
///   transaction count (`tx_count`).
/// - 2: as 1, and the header's `proposer` must hold power in the set that signs the block
///   ([`proposer_must_be_validator`]).
pub const SUPPORTED_PROTOCOL_VERSIONS: &[u32] = &[1, 2];

/// The fewest heights between the block that schedules an upgrade and the upgrade's height, so that
/// operators see it coming (`kessai status`, `/health`) and can swap binaries.
pub const MIN_UPGRADE_NOTICE_HEIGHTS: u64 = 5;

/// Whether this build knows the rules of `version`.
pub fn is_supported(version: u32) -> bool {
    SUPPORTED_PROTOCOL_VERSIONS.contains(&version)
}

/// Whether blocks of `version` must name a proposer of the signing set (from version 2).
pub fn proposer_must_be_validator(version: u32) -> bool {
    version >= 2
}

/// An upgrade decided by governance: from `height` on, blocks follow `protocol_version`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct ScheduledUpgrade {
    /// The version blocks carry from `height` on.
    pub protocol_version: u32,
    /// The first height of the new version.
    pub height: u64,
}

impl ScheduledUpgrade {
    /// The version of the block at `height`, when the chain is at `current` before it.
    pub fn version_at(upgrade: Option<&ScheduledUpgrade>, current: u32, height: u64) -> u32 {
        match upgrade {
            Some(u) if height >= u.height => u.protocol_version,
            _ => current,
        }
    }
}

/// A header whose protocol version this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "block {height} follows protocol version {version}, which this build does not support \
     (it supports {supported:?}): upgrade to a binary supporting protocol {version}"
)]
pub struct UnsupportedVersion {
    /// The header's height.
    pub height: u64,
    /// The header's version.
    pub version: u32,
    /// [`SUPPORTED_PROTOCOL_VERSIONS`].
    pub supported: &'static [u32],
}

/// Refuses a header of a version this build does not know.
pub fn check_supported(header: &Header) -> Result<(), UnsupportedVersion> {
    if is_supported(header.protocol_version) {
        return Ok(());
    }
    Err(UnsupportedVersion {
        height: header.height,
        version: header.protocol_version,
        supported: SUPPORTED_PROTOCOL_VERSIONS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_takes_effect_at_its_height() {
        let upgrade = ScheduledUpgrade { protocol_version: 2, height: 10 };
        assert_eq!(ScheduledUpgrade::version_at(Some(&upgrade), 1, 9), 1);
        assert_eq!(ScheduledUpgrade::version_at(Some(&upgrade), 1, 10), 2);
        assert_eq!(ScheduledUpgrade::version_at(Some(&upgrade), 1, 11), 2);
        assert_eq!(ScheduledUpgrade::version_at(None, 2, 11), 2);
    }

    #[test]
    fn unknown_versions_are_named_with_the_upgrade_to_make() {
        assert!(is_supported(1) && is_supported(2) && !is_supported(3) && !is_supported(0));
        let message = UnsupportedVersion { height: 7, version: 99, supported: &[1, 2] }.to_string();
        assert!(message.ends_with("upgrade to a binary supporting protocol 99"), "{message}");
    }
}
