//! The verification rules: pure functions, no I/O, the current time passed in as `now_ms`.
//!
//! Two ways to move trust from a verified header to a newer one:
//!
//! - [`verify_adjacent`]: the next height. The new header must name its parent (the trusted
//!   header's hash) and the validator set the trusted header announced as next, and be signed by
//!   more than two thirds of that set.
//! - [`verify_skipping`]: any later height. The new header's commit must be signed by more than two
//!   thirds of its own set *and* by more than the trust threshold (default 1/3) of the trusted
//!   header's next set: as long as less than a third of that set is faulty within the trusting
//!   period, at least one honest validator vouches for the header.

use crate::error::VerifyError;
use crate::options::TrustOptions;
use crate::state::TrustedState;
use kessai_primitives::{protocol, Commit, CommitError, Header, ValidatorSet};

/// Verifies `header` at height `trusted + 1`. Returns the voting power that signed it.
pub fn verify_adjacent(
    trusted: &TrustedState,
    header: &Header,
    commit: &Commit,
    validators: &ValidatorSet,
    now_ms: u64,
    opts: &TrustOptions,
) -> Result<u64, VerifyError> {
    check_common(trusted, header, now_ms, opts)?;
    let expected = trusted.height() + 1;
    if header.height != expected {
        return Err(VerifyError::NotAdjacent {
            trusted: trusted.height(),
            expected,
            got: header.height,
        });
    }
    let trusted_hash = trusted.hash();
    if header.parent != trusted_hash {
        return Err(VerifyError::BrokenParentLink {
            height: header.height,
            expected: trusted_hash,
            got: header.parent,
        });
    }
    if header.validators_hash != trusted.header.next_validators_hash {
        return Err(VerifyError::BrokenValidatorChain {
            height: header.height,
            expected: trusted.header.next_validators_hash,
            got: header.validators_hash,
        });
    }
    verify_commit(header, commit, validators)
}

/// Verifies `header` at any height above the trusted one. Returns the voting power of its own set
/// that signed it.
pub fn verify_skipping(
    trusted: &TrustedState,
    header: &Header,
    commit: &Commit,
    validators: &ValidatorSet,
    now_ms: u64,
    opts: &TrustOptions,
) -> Result<u64, VerifyError> {
    check_common(trusted, header, now_ms, opts)?;
    if header.height <= trusted.height() {
        return Err(VerifyError::NotAfterTrusted { trusted: trusted.height(), got: header.height });
    }
    let signed = verify_commit(header, commit, validators)?;
    // The trusted set's share: what `commit.signed_power(chain, trusted_set, false)` computes
    // (signers the trusted set does not know add nothing: the set may have changed), without checking
    // every signature a second time — `verify_commit` has checked them all, refused duplicates and
    // refused signers outside the header's set.
    let trusted_set = &trusted.next_validators;
    let vouched = commit
        .signatures
        .iter()
        .map(|sig| trusted_set.power_of(&sig.validator))
        .fold(0u64, u64::saturating_add);
    if !opts.exceeds_threshold(vouched, trusted_set.total_power()) {
        let (numerator, denominator) = opts.trust_threshold;
        return Err(VerifyError::NotEnoughTrust {
            height: header.height,
            signed: vouched,
            total: trusted_set.total_power(),
            numerator,
            denominator,
        });
    }
    Ok(signed)
}

/// [`verify_adjacent`] for the next height, [`verify_skipping`] for any later one.
pub fn verify(
    trusted: &TrustedState,
    header: &Header,
    commit: &Commit,
    validators: &ValidatorSet,
    now_ms: u64,
    opts: &TrustOptions,
) -> Result<u64, VerifyError> {
    if header.height == trusted.height() + 1 {
        verify_adjacent(trusted, header, commit, validators, now_ms, opts)
    } else {
        verify_skipping(trusted, header, commit, validators, now_ms, opts)
    }
}

/// Checks that `commit` finalises `header` with more than two thirds of `validators`, the set the
/// header names. Returns the signed power. This is all that ties a header to its signers; trust in
/// the set itself comes from the rules above.
pub fn verify_commit(
    header: &Header,
    commit: &Commit,
    validators: &ValidatorSet,
) -> Result<u64, VerifyError> {
    let height = header.height;
    let set_hash = validators.hash();
    if set_hash != header.validators_hash {
        return Err(VerifyError::ValidatorSetMismatch {
            height,
            expected: header.validators_hash,
            got: set_hash,
        });
    }
    check_protocol(header, validators)?;
    if commit.height != height {
        return Err(VerifyError::CommitHeightMismatch { height, commit_height: commit.height });
    }
    let header_hash = header.id();
    if commit.block != header_hash {
        return Err(VerifyError::ForgedHeader { height, header_hash, commit_block: commit.block });
    }
    commit.verify(&header.chain_id, height, &header_hash, validators).map_err(|e| match e {
        CommitError::NotEnoughPower { signed, total } => {
            VerifyError::NotEnoughPower { height, signed, total }
        }
        source => VerifyError::InvalidCommit { height, source },
    })
}

/// The rules of the header's protocol version ([`kessai_primitives::protocol`]): a version this
/// build knows, and from version 2 a proposer of the signing set. (The transaction count every
/// version commits to is checked against inclusion proofs, [`crate::LightClient::verify_tx`].)
pub fn check_protocol(header: &Header, validators: &ValidatorSet) -> Result<(), VerifyError> {
    let version = header.protocol_version;
    if !protocol::is_supported(version) {
        return Err(VerifyError::UnsupportedProtocolVersion {
            height: header.height,
            version,
            supported: protocol::SUPPORTED_PROTOCOL_VERSIONS.to_vec(),
        });
    }
    if protocol::proposer_must_be_validator(version) && validators.power_of(&header.proposer) == 0 {
        return Err(VerifyError::ProposerNotValidator {
            height: header.height,
            proposer: header.proposer,
        });
    }
    Ok(())
}

/// Checks that `next` is the set `header` announces for the following height.
pub fn check_next_validators(header: &Header, next: &ValidatorSet) -> Result<(), VerifyError> {
    let got = next.hash();
    if got != header.next_validators_hash {
        return Err(VerifyError::NextValidatorSetMismatch {
            height: header.height,
            expected: header.next_validators_hash,
            got,
        });
    }
    Ok(())
}

/// Refuses a trusted state older than the trusting period at `now_ms`.
pub fn check_within_trusting_period(
    trusted: &TrustedState,
    now_ms: u64,
    opts: &TrustOptions,
) -> Result<(), VerifyError> {
    let expired_at_ms = trusted.expires_at_ms(opts.trusting_period_ms);
    if now_ms >= expired_at_ms {
        return Err(VerifyError::Expired {
            trusted_height: trusted.height(),
            trusted_time_ms: trusted.time_ms(),
            expired_at_ms,
            now_ms,
        });
    }
    Ok(())
}

/// The rules both ways share: options, chain, trusting period, and a time after the trusted
/// header's and not in the future.
fn check_common(
    trusted: &TrustedState,
    header: &Header,
    now_ms: u64,
    opts: &TrustOptions,
) -> Result<(), VerifyError> {
    opts.validate()?;
    if header.chain_id != trusted.chain_id {
        return Err(VerifyError::WrongChain {
            expected: trusted.chain_id.clone(),
            got: header.chain_id.clone(),
        });
    }
    check_within_trusting_period(trusted, now_ms, opts)?;
    if header.time_ms <= trusted.time_ms() {
        return Err(VerifyError::NonIncreasingTime {
            height: header.height,
            trusted_ms: trusted.time_ms(),
            got_ms: header.time_ms,
        });
    }
    if header.time_ms > now_ms.saturating_add(opts.max_clock_drift_ms) {
        return Err(VerifyError::HeaderFromFuture {
            height: header.height,
            time_ms: header.time_ms,
            now_ms,
            max_drift_ms: opts.max_clock_drift_ms,
        });
    }
    Ok(())
}
