//! A verified header with everything needed to verify the next ones.

use crate::error::VerifyError;
use crate::verify;
use kessai_primitives::{Commit, Hash, Header, ValidatorSet};
use serde::{Deserialize, Serialize};

/// A header the light client has verified (or was told to trust), with its commit, the validator
/// set that signed it and the set that signs the next height. Serialised as JSON so it can be kept
/// on disk between runs ([`TrustedState::to_json`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedState {
    /// The chain trusted; every header verified from this state must name it.
    pub chain_id: String,
    /// The latest trusted header.
    pub header: Header,
    /// The commit that finalised it.
    pub commit: Commit,
    /// The set that signed `header` (its hash is `header.validators_hash`).
    pub validators: ValidatorSet,
    /// The set that signs height + 1 (its hash is `header.next_validators_hash`).
    pub next_validators: ValidatorSet,
}

impl TrustedState {
    /// Assembles a state and checks that its parts agree (see [`TrustedState::check`]).
    pub fn new(
        header: Header,
        commit: Commit,
        validators: ValidatorSet,
        next_validators: ValidatorSet,
    ) -> Result<TrustedState, VerifyError> {
        let state = TrustedState {
            chain_id: header.chain_id.clone(),
            header,
            commit,
            validators,
            next_validators,
        };
        state.check()?;
        Ok(state)
    }

    /// Height of the trusted header.
    pub fn height(&self) -> u64 {
        self.header.height
    }

    /// The header's hash: the block id its commit signs.
    pub fn hash(&self) -> Hash {
        self.header.id()
    }

    /// Time of the trusted header, milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.header.time_ms
    }

    /// Checks that the parts belong together: chain id, both validator-set hashes, and a commit for
    /// this header signed by more than two thirds of its set. It says nothing about whether the
    /// header should be trusted; it catches a corrupted file or a careless assembly.
    pub fn check(&self) -> Result<u64, VerifyError> {
        if self.chain_id != self.header.chain_id {
            return Err(VerifyError::WrongChain {
                expected: self.chain_id.clone(),
                got: self.header.chain_id.clone(),
            });
        }
        verify::check_next_validators(&self.header, &self.next_validators)?;
        verify::verify_commit(&self.header, &self.commit, &self.validators)
    }

    /// Voting power of the commit's signers in the header's set. Signatures are not checked again:
    /// they were when this state was verified.
    pub fn signed_power(&self) -> u64 {
        self.commit
            .signatures
            .iter()
            .map(|sig| self.validators.power_of(&sig.validator))
            .fold(0u64, u64::saturating_add)
    }

    /// Time after which this state can no longer be the root of verification.
    pub fn expires_at_ms(&self, trusting_period_ms: u64) -> u64 {
        self.header.time_ms.saturating_add(trusting_period_ms)
    }

    /// The state as pretty-printed JSON, for keeping on disk.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a trusted state always serialises")
    }

    /// Parses [`TrustedState::to_json`] output and checks it (see [`TrustedState::check`]).
    pub fn from_json(json: &str) -> Result<TrustedState, crate::Error> {
        let state: TrustedState = serde_json::from_str(json)
            .map_err(|e| crate::Error::Store(format!("malformed trusted state: {e}")))?;
        state.check()?;
        Ok(state)
    }
}
