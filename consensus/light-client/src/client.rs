//! The light client: fetches from an untrusted primary, verifies, cross-checks with witnesses.

use crate::error::{Error, VerifyError};
use crate::fork::ForkEvidence;
use crate::options::TrustOptions;
use crate::provider::{Provider, ProviderError};
use crate::state::TrustedState;
use crate::verify;
use crate::witness::{WitnessCheck, WitnessOutcome};
use kessai_primitives::{
    Commit, Hash, Header, Receipt, SignedTransaction, StateProof, ValidatorSet,
};
use std::collections::BTreeMap;

/// A state value proven against a verified header.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedValue {
    /// Height of the verified header the value was read at.
    pub height: u64,
    /// Hash of the verified header whose `state_root` the proof leads to.
    pub header_hash: Hash,
    /// The value after block `height`; `None`: the key is proven absent.
    pub value: Option<Vec<u8>>,
    /// The proof that was checked, for passing on (a certificate carries it to its reader).
    pub proof: StateProof,
    /// Voting power that signed the header, out of `total_power`.
    pub signed_power: u64,
    /// Total voting power of the header's validator set.
    pub total_power: u64,
}

/// A transaction and its receipt, proven to be in a verified block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    /// Height of the verified block that holds it.
    pub height: u64,
    /// Position of the transaction (and of its receipt) in the block.
    pub index: u64,
    /// Hash of the verified header whose roots the proofs lead to.
    pub header_hash: Hash,
    /// The signed transaction.
    pub tx: SignedTransaction,
    /// Its receipt: what executing it did.
    pub receipt: Receipt,
    /// Voting power that signed the header, out of `total_power`.
    pub signed_power: u64,
    /// Total voting power of the header's validator set.
    pub total_power: u64,
}

struct Witness<P> {
    provider: P,
    /// The last comparison; once [`WitnessOutcome::Faulty`], the witness is no longer asked.
    last: Option<WitnessCheck>,
}

impl<P> Witness<P> {
    fn is_faulty(&self) -> bool {
        self.last.as_ref().is_some_and(|check| check.faulty().is_some())
    }
}

/// Verifies headers, state and transactions served by a `primary` node it does not trust, from a
/// [`TrustedState`] it does. Optional witnesses (other nodes) are asked for the same headers; a
/// validly signed conflicting header is reported as [`Error::ForkDetected`] and stops the client.
/// When witnesses are given, at least one of them must confirm each header verified forward (see
/// [`LightClient::with_witnesses`]).
///
/// The current time is passed in (`now_ms`, milliseconds since the Unix epoch) so the client has no
/// clock of its own, and the provider supplies all I/O, so the client runs anywhere, wasm32 included.
pub struct LightClient<P: Provider> {
    primary: P,
    witnesses: Vec<Witness<P>>,
    opts: TrustOptions,
    /// Every header verified so far, by height. The last one is the root for moving forward.
    verified: BTreeMap<u64, TrustedState>,
    fork: Option<ForkEvidence>,
}

/// How to move from a trusted header to a target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every height in between, each by [`verify::verify_adjacent`].
    Sequential,
    /// Straight to the target by [`verify::verify_skipping`], halving the step while the trusted
    /// validators' signatures are too few.
    Skipping,
}

/// An untrusted header with what is needed to verify it and to continue from it.
struct Candidate {
    header: Header,
    commit: Commit,
    validators: ValidatorSet,
    next_validators: ValidatorSet,
}

impl<P: Provider> LightClient<P> {
    /// A client that trusts `trusted` (typically loaded from disk). Its consistency is checked.
    pub fn new(primary: P, trusted: TrustedState, opts: TrustOptions) -> Result<Self, Error> {
        opts.validate()?;
        trusted.check()?;
        let verified = BTreeMap::from([(trusted.height(), trusted)]);
        Ok(LightClient { primary, witnesses: Vec::new(), opts, verified, fork: None })
    }

    /// Initialises from a header hash obtained out of band (a block explorer, a colleague, the
    /// consortium's announcement): the header at `height` must hash to `hash`, and its commit must
    /// be signed by more than two thirds of the set it names. The header must be within the
    /// trusting period at `now_ms`.
    pub async fn init_from_hash(
        primary: P,
        height: u64,
        hash: Hash,
        opts: TrustOptions,
        now_ms: u64,
    ) -> Result<Self, Error> {
        opts.validate()?;
        let header = fetch_header(&primary, height).await?;
        let got = header.id();
        if got != hash {
            return Err(VerifyError::HashMismatch { height, expected: hash, got }.into());
        }
        let candidate = fetch_rest(&primary, header, None).await?;
        let trusted = TrustedState::new(
            candidate.header,
            candidate.commit,
            candidate.validators,
            candidate.next_validators,
        )?;
        verify::check_within_trusting_period(&trusted, now_ms, &opts)?;
        Self::new(primary, trusted, opts)
    }

    /// Initialises from the chain spec: `genesis_validators` must have signed block 1 of
    /// `chain_id`. Only useful while block 1 is within the trusting period; later, initialise from a
    /// recent trusted hash.
    pub async fn init_from_genesis(
        primary: P,
        chain_id: &str,
        genesis_validators: ValidatorSet,
        opts: TrustOptions,
        now_ms: u64,
    ) -> Result<Self, Error> {
        opts.validate()?;
        let header = fetch_header(&primary, 1).await?;
        if header.chain_id != chain_id {
            return Err(VerifyError::WrongChain {
                expected: chain_id.to_string(),
                got: header.chain_id,
            }
            .into());
        }
        if header.parent != Hash::ZERO {
            return Err(VerifyError::BrokenParentLink {
                height: 1,
                expected: Hash::ZERO,
                got: header.parent,
            }
            .into());
        }
        let candidate = fetch_rest(&primary, header, Some(&genesis_validators)).await?;
        // The set comes from the spec, whatever the node says.
        let trusted = TrustedState::new(
            candidate.header,
            candidate.commit,
            genesis_validators,
            candidate.next_validators,
        )?;
        verify::check_within_trusting_period(&trusted, now_ms, &opts)?;
        Self::new(primary, trusted, opts)
    }

    /// Other nodes that every header newly verified forward (the target of a sync, not the heights
    /// bisection passes through) is compared with. With witnesses, such a header is only trusted
    /// when at least one of them confirms it; [`Error::NotConfirmed`] otherwise. Without witnesses,
    /// nothing is compared and the primary alone is believed for which of two validly signed
    /// headers is the chain.
    pub fn with_witnesses(mut self, witnesses: Vec<P>) -> Self {
        self.witnesses =
            witnesses.into_iter().map(|provider| Witness { provider, last: None }).collect();
        self
    }

    /// The trust options the client verifies with.
    pub fn options(&self) -> &TrustOptions {
        &self.opts
    }

    /// The highest verified header: what to persist, and the root of the next sync.
    pub fn latest_trusted(&self) -> &TrustedState {
        self.verified.values().next_back().expect("the client always holds a trusted state")
    }

    /// A header verified earlier, if any.
    pub fn verified(&self, height: u64) -> Option<&TrustedState> {
        self.verified.get(&height)
    }

    /// The conflict that stopped the client, if one was found.
    pub fn fork_evidence(&self) -> Option<&ForkEvidence> {
        self.fork.as_ref()
    }

    /// Each witness's last comparison, in the order given to [`LightClient::with_witnesses`];
    /// `None` for a witness not asked yet (nothing was verified forward since it was added).
    pub fn witness_checks(&self) -> Vec<Option<&WitnessCheck>> {
        self.witnesses.iter().map(|w| w.last.as_ref()).collect()
    }

    /// Witnesses no longer asked because they served a header that does not verify, with the reason.
    pub fn faulty_witnesses(&self) -> Vec<(usize, &Error)> {
        self.witnesses
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.last.as_ref().and_then(WitnessCheck::faulty).map(|e| (i, e)))
            .collect()
    }

    /// Replaces the primary (after a fork, with a node the operator trusts more) and clears the
    /// fork. Headers verified before the fork are kept: each was cross-checked when it was verified.
    pub fn reset_primary(&mut self, primary: P) {
        self.primary = primary;
        self.fork = None;
    }

    /// Verifies the header at `target_height` by skipping verification from the latest trusted
    /// header, bisecting when the trusted validators signed too little of a far header. `progress`
    /// is called with each height verified on the way. A target below the latest trusted height is
    /// verified forward from a verified header below it still within the trusting period, or else
    /// backwards through parent hashes from the verified header above it.
    pub async fn sync_to(
        &mut self,
        target_height: u64,
        now_ms: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<&TrustedState, Error> {
        self.sync(target_height, now_ms, Mode::Skipping, &mut progress).await?;
        Ok(&self.verified[&target_height])
    }

    /// Like [`LightClient::sync_to`], verifying every height in between with the adjacent rule.
    pub async fn sync_sequential_to(
        &mut self,
        target_height: u64,
        now_ms: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<&TrustedState, Error> {
        self.sync(target_height, now_ms, Mode::Sequential, &mut progress).await?;
        Ok(&self.verified[&target_height])
    }

    /// [`LightClient::sync_to`] the primary's latest height.
    pub async fn sync_to_latest(
        &mut self,
        now_ms: u64,
        progress: impl FnMut(u64),
    ) -> Result<&TrustedState, Error> {
        self.ensure_primary_trusted()?;
        let latest = self.primary.latest_height().await?;
        let target = latest.max(self.latest_trusted().height());
        self.sync_to(target, now_ms, progress).await
    }

    /// Reads `flat_key` (`namespace ‖ key`) as of block `height` from the primary and checks its
    /// proof — of the value, or of its absence — against the verified header's `state_root`,
    /// verifying that header first if needed.
    pub async fn verify_state(
        &mut self,
        flat_key: &[u8],
        height: u64,
        now_ms: u64,
    ) -> Result<VerifiedValue, Error> {
        let trusted = self.verified_at(height, now_ms).await?;
        let (value, proof) = self.primary.state(flat_key, height).await?;
        proof.verify(trusted.header.state_root, flat_key, value.as_deref()).map_err(|e| {
            Error::InvalidStateProof { height, key: hex::encode(flat_key), reason: e.0 }
        })?;
        Ok(VerifiedValue {
            height,
            header_hash: trusted.hash(),
            value,
            proof,
            signed_power: trusted.signed_power(),
            total_power: trusted.validators.total_power(),
        })
    }

    /// Fetches a transaction with its receipt and checks both Merkle paths against the verified
    /// header of its block. `None` when the primary says it does not know the transaction — an
    /// unproven claim: absence of a transaction cannot be proven this way.
    pub async fn verify_tx(
        &mut self,
        tx_id: Hash,
        now_ms: u64,
    ) -> Result<Option<VerifiedTx>, Error> {
        self.ensure_primary_trusted()?;
        let Some(evidence) = self.primary.tx(tx_id).await? else {
            return Ok(None);
        };
        let got = evidence.tx.id();
        if got != tx_id {
            return Err(Error::TxIdMismatch { expected: tx_id, got });
        }
        if evidence.receipt.tx_id != tx_id {
            return Err(Error::ReceiptMismatch { expected: tx_id, got: evidence.receipt.tx_id });
        }
        let (tx_proof, receipt_proof) = (&evidence.tx_proof, &evidence.receipt_proof);
        if tx_proof.index != evidence.index
            || receipt_proof.index != evidence.index
            || tx_proof.total != receipt_proof.total
        {
            return Err(Error::TxPositionMismatch {
                tx_id,
                index: evidence.index,
                tx_index: tx_proof.index,
                tx_total: tx_proof.total,
                receipt_index: receipt_proof.index,
                receipt_total: receipt_proof.total,
            });
        }
        let height = evidence.height;
        let trusted = self.verified_at(height, now_ms).await?;
        if tx_proof.total != trusted.header.tx_count {
            return Err(Error::TxCountMismatch {
                tx_id,
                height,
                proof_total: tx_proof.total,
                header_count: trusted.header.tx_count,
            });
        }
        let tx_bytes = borsh::to_vec(&evidence.tx).expect("encodes");
        if !tx_proof.verify(&trusted.header.txs_root, &tx_bytes) {
            return Err(Error::TxNotIncluded { tx_id, height });
        }
        let receipt_bytes = borsh::to_vec(&evidence.receipt).expect("encodes");
        if !receipt_proof.verify(&trusted.header.receipts_root, &receipt_bytes) {
            return Err(Error::ReceiptNotIncluded { tx_id, height });
        }
        Ok(Some(VerifiedTx {
            height,
            index: evidence.index,
            header_hash: trusted.hash(),
            tx: evidence.tx,
            receipt: evidence.receipt,
            signed_power: trusted.signed_power(),
            total_power: trusted.validators.total_power(),
        }))
    }

    fn ensure_primary_trusted(&self) -> Result<(), Error> {
        match &self.fork {
            Some(fork) => Err(Error::PrimaryDistrusted { height: fork.height() }),
            None => Ok(()),
        }
    }

    /// The verified header at `height`, verifying it first if needed.
    async fn verified_at(&mut self, height: u64, now_ms: u64) -> Result<TrustedState, Error> {
        self.sync(height, now_ms, Mode::Skipping, &mut |_| {}).await?;
        Ok(self.verified[&height].clone())
    }

    async fn sync(
        &mut self,
        target: u64,
        now_ms: u64,
        mode: Mode,
        progress: &mut impl FnMut(u64),
    ) -> Result<(), Error> {
        self.ensure_primary_trusted()?;
        if self.verified.contains_key(&target) {
            return Ok(());
        }
        // Forward from the closest verified header below the target while it is still within the
        // trusting period (always, above the latest: an expired root is then an error); otherwise
        // backwards from the closest one above, which needs no trusting period.
        let below = self.verified.range(..target).next_back().map(|(_, state)| state);
        let forward = match below {
            Some(root) if target > self.latest_trusted().height() => Some(root),
            Some(root) => verify::check_within_trusting_period(root, now_ms, &self.opts)
                .is_ok()
                .then_some(root),
            None => None,
        };
        let Some(root) = forward else {
            return self.verify_backwards(target).await;
        };
        let root_height = root.height();
        let trace =
            verify_trace(&self.primary, root, target, now_ms, &self.opts, mode, progress).await?;
        let reached = trace.last().expect("the target is above the root, so the trace has it");
        self.cross_check(root_height, reached, now_ms).await?;
        self.verified.extend(trace.into_iter().map(|state| (state.height(), state)));
        Ok(())
    }

    /// Verifies an old header through the parent hashes of the verified header above it (one
    /// request per height in between), then its commit and validator sets. No trusting period
    /// applies: hashes do not expire.
    async fn verify_backwards(&mut self, target: u64) -> Result<(), Error> {
        if target == 0 {
            return Err(
                ProviderError::NotFound("height 0 is genesis: it has no header".into()).into()
            );
        }
        let (_, above) = self.verified.range(target + 1..).next().expect("target is below the tip");
        let mut expected = above.header.parent;
        let mut height = above.height() - 1;
        let hint = above.validators.clone();
        let header = loop {
            let header = fetch_header(&self.primary, height).await?;
            let got = header.id();
            if got != expected {
                return Err(VerifyError::HashMismatch { height, expected, got }.into());
            }
            if height == target {
                break header;
            }
            expected = header.parent;
            height -= 1;
        };
        let candidate = fetch_rest(&self.primary, header, Some(&hint)).await?;
        let state = TrustedState::new(
            candidate.header,
            candidate.commit,
            candidate.validators,
            candidate.next_validators,
        )?;
        self.verified.insert(target, state);
        Ok(())
    }

    /// Asks each witness for the header at `reached`'s height. The same header confirms it. A
    /// different header is verified from the same root through the witness: if it verifies, two
    /// validly signed blocks exist at one height and the primary is no longer trusted; if not, the
    /// witness lied and is set aside. A witness that gives no usable answer is unavailable. With
    /// witnesses and not one confirmation, `reached` is not trusted.
    async fn cross_check(
        &mut self,
        root_height: u64,
        reached: &TrustedState,
        now_ms: u64,
    ) -> Result<(), Error> {
        if self.witnesses.is_empty() {
            return Ok(());
        }
        let height = reached.height();
        for index in 0..self.witnesses.len() {
            let witness = &self.witnesses[index];
            if witness.is_faulty() {
                continue;
            }
            let outcome = match witness.provider.header(height).await {
                Err(unanswered) => WitnessOutcome::Unavailable(unanswered.into()),
                Ok(header) if header.id() == reached.hash() => WitnessOutcome::Confirmed,
                Ok(_) => {
                    let root = &self.verified[&root_height];
                    let theirs = verify_trace(
                        &witness.provider,
                        root,
                        height,
                        now_ms,
                        &self.opts,
                        Mode::Skipping,
                        &mut |_| {},
                    )
                    .await;
                    match theirs {
                        Ok(trace) => {
                            let theirs = trace.last().expect("the trace reaches the height");
                            let evidence = ForkEvidence {
                                primary: (reached.header.clone(), reached.commit.clone()),
                                witness: (theirs.header.clone(), theirs.commit.clone()),
                                witness_index: index,
                            };
                            self.fork = Some(evidence.clone());
                            return Err(Error::ForkDetected(Box::new(evidence)));
                        }
                        Err(lie @ (Error::Verification(_) | Error::UnexpectedHeight { .. })) => {
                            WitnessOutcome::Faulty(lie)
                        }
                        // A different header it cannot back with a commit or validator sets.
                        Err(unanswered) => WitnessOutcome::Unavailable(unanswered),
                    }
                }
            };
            self.witnesses[index].last = Some(WitnessCheck { height, outcome });
        }
        let checks = || self.witnesses.iter().filter_map(|w| w.last.as_ref());
        if checks().any(|check| check.height == height && check.confirmed()) {
            return Ok(());
        }
        Err(Error::NotConfirmed {
            height,
            witnesses: self.witnesses.len(),
            unavailable: checks().filter(|check| check.unavailable().is_some()).count(),
            faulty: checks().filter(|check| check.faulty().is_some()).count(),
        })
    }
}

/// Verifies from `root` to `target` through `provider`, returning the states verified on the way
/// (the last one at `target`). Generic over the provider so a witness's chain is checked by the
/// same code as the primary's.
async fn verify_trace<Q: Provider>(
    provider: &Q,
    root: &TrustedState,
    target: u64,
    now_ms: u64,
    opts: &TrustOptions,
    mode: Mode,
    progress: &mut impl FnMut(u64),
) -> Result<Vec<TrustedState>, Error> {
    let mut trace: Vec<TrustedState> = Vec::new();
    // Headers fetched but not yet verifiable, kept while bisection verifies lower ones.
    let mut pending: BTreeMap<u64, Candidate> = BTreeMap::new();
    let mut pivot = match mode {
        Mode::Sequential => root.height() + 1,
        Mode::Skipping => target,
    };
    loop {
        let current = trace.last().unwrap_or(root);
        let current_height = current.height();
        if current_height >= target {
            return Ok(trace);
        }
        let candidate = match pending.remove(&pivot) {
            Some(candidate) => candidate,
            None => fetch_candidate(provider, pivot, &current.next_validators).await?,
        };
        let verified = match mode {
            Mode::Sequential => verify::verify_adjacent,
            Mode::Skipping => verify::verify,
        };
        match verified(
            current,
            &candidate.header,
            &candidate.commit,
            &candidate.validators,
            now_ms,
            opts,
        ) {
            Ok(_) => {
                verify::check_next_validators(&candidate.header, &candidate.next_validators)?;
                trace.push(TrustedState {
                    chain_id: current.chain_id.clone(),
                    header: candidate.header,
                    commit: candidate.commit,
                    validators: candidate.validators,
                    next_validators: candidate.next_validators,
                });
                progress(pivot);
                pivot = match mode {
                    Mode::Sequential => pivot + 1,
                    Mode::Skipping => target,
                };
            }
            // Too few of the trusted validators signed this far ahead: verify a header halfway
            // first. An adjacent header never fails this way, so the halving ends.
            Err(VerifyError::NotEnoughTrust { .. }) => {
                pending.insert(pivot, candidate);
                pivot = current_height + (pivot - current_height) / 2;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn fetch_header<Q: Provider>(provider: &Q, height: u64) -> Result<Header, Error> {
    let header = provider.header(height).await?;
    if header.height != height {
        return Err(Error::UnexpectedHeight { requested: height, got: header.height });
    }
    Ok(header)
}

async fn fetch_candidate<Q: Provider>(
    provider: &Q,
    height: u64,
    known: &ValidatorSet,
) -> Result<Candidate, Error> {
    let header = fetch_header(provider, height).await?;
    fetch_rest(provider, header, Some(known)).await
}

/// Fetches the commit and validator sets of `header`. A set the client already holds is reused
/// when the header names it, which spares two requests per header while the set does not change.
async fn fetch_rest<Q: Provider>(
    provider: &Q,
    header: Header,
    known: Option<&ValidatorSet>,
) -> Result<Candidate, Error> {
    let height = header.height;
    let commit = provider.commit(height).await?;
    let validators = match known {
        Some(set) if set.hash() == header.validators_hash => set.clone(),
        _ => provider.validators(height).await?,
    };
    let next_validators = if header.next_validators_hash == header.validators_hash {
        validators.clone()
    } else {
        provider.validators(height + 1).await?
    };
    Ok(Candidate { header, commit, validators, next_validators })
}
