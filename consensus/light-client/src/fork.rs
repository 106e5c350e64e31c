//! What the client reports when two nodes serve conflicting, validly signed headers.

use kessai_primitives::{Commit, Header, PublicKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Two headers at one height, each with a commit that verifies from the client's trusted state:
/// the primary's and a witness's. One of them is an attack (or the chain itself forked, which needs
/// more than a third of the voting power to sign twice). Operators take this to the consortium; the
/// validators that signed both are in [`ForkEvidence::double_signers`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkEvidence {
    /// The primary's header and the commit that signs it.
    pub primary: (Header, Commit),
    /// The witness's conflicting header (same height) and the commit that signs it.
    pub witness: (Header, Commit),
    /// Position of the witness in the list given to
    /// [`LightClient::with_witnesses`](crate::LightClient::with_witnesses).
    pub witness_index: usize,
}

impl ForkEvidence {
    /// The height at which the two headers conflict.
    pub fn height(&self) -> u64 {
        self.primary.0.height
    }

    /// Validators whose precommits are in both commits: they signed two blocks at one height.
    pub fn double_signers(&self) -> Vec<PublicKey> {
        let theirs: std::collections::BTreeSet<PublicKey> =
            self.witness.1.signatures.iter().map(|s| s.validator).collect();
        self.primary
            .1
            .signatures
            .iter()
            .map(|s| s.validator)
            .filter(|v| theirs.contains(v))
            .collect()
    }
}

impl fmt::Display for ForkEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fork detected at height {}: the primary's block {} and witness {}'s block {} are both \
             signed by enough of the trusted validators ({} validators signed both)",
            self.height(),
            self.primary.0.id(),
            self.witness_index,
            self.witness.0.id(),
            self.double_signers().len()
        )
    }
}
