//! The light client against an in-memory chain of real signed blocks, served honestly or by a node
//! that lies. Every rejection asserts the exact error.

mod fixture;

use fixture::{block_on, key, time_of, validator, ChainBuilder, FakeChain, Signers, TestProvider};
use kessai_light_client::{
    verify_skipping, Error, LightClient, ProviderError, TrustOptions, TrustedState, VerifyError,
    WitnessCheck, WitnessOutcome,
};
use kessai_primitives::{Hash, StateProof, TxStatus};
use std::sync::{Arc, OnceLock};

/// One 1,000-block chain shared by the tests that only read it.
fn long_chain() -> Arc<FakeChain> {
    static CHAIN: OnceLock<Arc<FakeChain>> = OnceLock::new();
    CHAIN.get_or_init(|| Arc::new(ChainBuilder::new("kessai-test").build(1000))).clone()
}

fn client_at(provider: TestProvider, trusted_height: u64) -> LightClient<TestProvider> {
    let trusted = provider.chain.trusted(trusted_height);
    LightClient::new(provider, trusted, TrustOptions::default()).unwrap()
}

fn verification(err: Error) -> VerifyError {
    match err {
        Error::Verification(e) => e,
        other => panic!("expected a verification error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Syncing
// ---------------------------------------------------------------------------------------------

#[test]
fn sequential_sync_verifies_every_height() {
    let chain = Arc::new(ChainBuilder::new("kessai-test").build(60));
    let mut client = client_at(TestProvider::honest(chain.clone()), 1);
    let mut seen = Vec::new();
    let reached = block_on(client.sync_sequential_to(60, chain.now_after(60), |h| seen.push(h)))
        .unwrap()
        .clone();
    assert_eq!(seen, (2..=60).collect::<Vec<_>>());
    assert_eq!(reached.hash(), chain.header(60).id());
    for h in 1..=60 {
        assert_eq!(client.verified(h).unwrap().hash(), chain.header(h).id(), "height {h}");
    }
}

#[test]
fn skipping_sync_over_1000_headers_takes_one_step() {
    let chain = long_chain();
    let provider = TestProvider::honest(chain.clone());
    let requests = provider.header_requests.clone();
    let mut client = client_at(provider, 1);
    let mut seen = Vec::new();
    let reached = block_on(client.sync_to(1000, chain.now_after(1000), |h| seen.push(h))).unwrap();
    assert_eq!(reached.hash(), chain.header(1000).id());
    assert_eq!(seen, vec![1000], "an unchanged validator set needs no intermediate header");
    assert_eq!(requests.get(), 1, "one header fetched for 999 heights");
    assert_eq!(client.latest_trusted().height(), 1000);
    assert!(client.verified(500).is_none());
}

#[test]
fn sync_to_latest_follows_the_primary() {
    let chain = long_chain();
    let mut client = client_at(TestProvider::honest(chain.clone()), 900);
    let reached = block_on(client.sync_to_latest(chain.now_after(1000), |_| {})).unwrap();
    assert_eq!(reached.height(), 1000);
}

/// Blocks 1–100 are signed by four validators of power 10. From 101 four heavy validators (power
/// 100) join and sign alone (the light ones are offline); from 301 the light ones are gone. A
/// commit at 400 carries none of the power trusted at height 1, so the client must bisect down to a
/// header the old set signed that announces the new set.
fn power_shift_chain() -> FakeChain {
    let light: Vec<_> = (0..4).map(|i| validator(i, 10)).collect();
    let heavy: Vec<_> = (4..8).map(|i| validator(i, 100)).collect();
    let both: Vec<_> = light.iter().chain(heavy.iter()).cloned().collect();
    ChainBuilder::new("kessai-test")
        .validators(light)
        .change_validators_at(101, both)
        .change_validators_at(301, heavy)
        .signers(Signers::Quorum)
        .build(400)
}

#[test]
fn validator_set_change_needs_bisection() {
    let chain = Arc::new(power_shift_chain());
    let now = chain.now_after(400);
    // A direct skip fails for lack of trust…
    let err = verify_skipping(
        &chain.trusted(1),
        chain.header(400),
        chain.commit(400),
        chain.set(400),
        now,
        &TrustOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        VerifyError::NotEnoughTrust {
            height: 400,
            signed: 0,
            total: 40,
            numerator: 1,
            denominator: 3
        }
    );
    // …so the client bisects: 400 ✗, 200 ✗, 100 ✓ (the old set, announcing the new one), 400 ✓.
    let mut client = client_at(TestProvider::honest(chain.clone()), 1);
    let mut seen = Vec::new();
    let reached = block_on(client.sync_to(400, now, |h| seen.push(h))).unwrap();
    assert_eq!(reached.hash(), chain.header(400).id());
    assert_eq!(seen, vec![100, 400]);
    assert_eq!(client.verified(100).unwrap().next_validators, *chain.set(101));

    // Sequential verification reaches the same header.
    let mut sequential = client_at(TestProvider::honest(chain.clone()), 1);
    let same = block_on(sequential.sync_sequential_to(400, now, |_| {})).unwrap();
    assert_eq!(same.hash(), chain.header(400).id());
}

#[test]
fn complete_validator_replacement_is_crossed_by_bisection() {
    // Every 50 blocks a disjoint set of four takes over: no two sets share a validator.
    let mut builder = ChainBuilder::new("kessai-test");
    for era in 1..6 {
        let set = (era * 4..era * 4 + 4).map(|i| validator(i, 10)).collect();
        builder = builder.change_validators_at(era as u64 * 50 + 1, set);
    }
    let chain = Arc::new(builder.build(300));
    let mut client = client_at(TestProvider::honest(chain.clone()), 1);
    let mut seen = Vec::new();
    block_on(client.sync_to(300, chain.now_after(300), |h| seen.push(h))).unwrap();
    // Each hand-over must be crossed at its last block of the old set.
    for boundary in [50, 100, 150, 200, 250] {
        assert!(client.verified(boundary).is_some(), "crossed {boundary}: {seen:?}");
    }
    assert_eq!(*seen.last().unwrap(), 300);
}

#[test]
fn forged_header_is_refused() {
    let chain = long_chain();
    let now = chain.now_after(1000);
    let forged = TestProvider::honest(chain.clone()).lying_header(|h| {
        if h.height == 1000 {
            h.state_root = Hash::digest(b"a state where I own everything");
        }
    });
    let err = verification(
        block_on(client_at(forged.clone(), 1).sync_to(1000, now, |_| {})).unwrap_err(),
    );
    assert!(matches!(err, VerifyError::ForgedHeader { height: 1000, commit_block, .. }
        if commit_block == chain.header(1000).id()));
    // The same through adjacent verification.
    let err = verification(
        block_on(client_at(forged.clone(), 999).sync_sequential_to(1000, now, |_| {})).unwrap_err(),
    );
    assert!(matches!(err, VerifyError::ForgedHeader { height: 1000, .. }));

    // Re-pointing the commit at the forged header breaks every signature instead.
    let forged_state = Hash::digest(b"a state where I own everything");
    let both = TestProvider::honest(chain.clone())
        .lying_header(move |h| {
            if h.height == 1000 {
                h.state_root = forged_state;
            }
        })
        .lying_commit(move |c| {
            if c.height == 1000 {
                let mut header = long_chain().header(1000).clone();
                header.state_root = forged_state;
                c.block = header.id();
            }
        });
    let err = verification(block_on(client_at(both, 1).sync_to(1000, now, |_| {})).unwrap_err());
    assert!(matches!(err, VerifyError::InvalidCommit { height: 1000, .. }), "{err:?}");
}

#[test]
fn header_signed_by_too_little_power_is_refused() {
    let chain = long_chain();
    let now = chain.now_after(1000);
    // Two of four equal validators: 20 of 40 is not more than two thirds.
    let weak = TestProvider::honest(chain.clone()).lying_commit(|c| c.signatures.truncate(2));
    let err =
        verification(block_on(client_at(weak.clone(), 1).sync_to(1000, now, |_| {})).unwrap_err());
    assert_eq!(err, VerifyError::NotEnoughPower { height: 1000, signed: 20, total: 40 });
    let err =
        verification(block_on(client_at(weak, 1).sync_sequential_to(2, now, |_| {})).unwrap_err());
    assert_eq!(err, VerifyError::NotEnoughPower { height: 2, signed: 20, total: 40 });
}

#[test]
fn validator_set_not_matching_the_header_is_refused() {
    let chain = Arc::new(power_shift_chain());
    // The node swaps in a set of its own making for height 400.
    let lying = TestProvider::honest(chain.clone()).lying_validators(|height, set| {
        if height == 400 {
            *set = kessai_primitives::ValidatorSet::new(vec![kessai_primitives::Validator {
                public_key: kessai_primitives::Keypair::dev("mallory").public(),
                power: 1,
            }])
            .unwrap();
        }
    });
    let err = verification(
        block_on(client_at(lying, 1).sync_to(400, chain.now_after(400), |_| {})).unwrap_err(),
    );
    assert!(matches!(err, VerifyError::ValidatorSetMismatch { height: 400, .. }), "{err:?}");
}

/// The node invents a validator set of its own keys for height 1000 and signs a header with it.
/// Skipping finds none of the trusted power behind it; bisection closes in until the adjacent rule
/// names the break: header 1000 is not signed by the set header 999 announced.
#[test]
fn header_signed_by_an_invented_validator_set_is_refused() {
    let chain = long_chain();
    let mallory =
        Arc::new(ChainBuilder::new("kessai-test").validators(vec![validator(66, 10)]).build(1));
    let forged = {
        let mut header = chain.header(1000).clone();
        header.validators_hash = mallory.set(1).hash();
        header.state_root = Hash::digest(b"a state where I own everything");
        header
    };
    let commit = mallory.sign(&forged, &mallory.all_signers(1));
    let set = mallory.set(1).clone();
    let (forged_header, forged_commit) = (forged.clone(), commit.clone());
    let lying = TestProvider::honest(chain.clone())
        .lying_header(move |h| {
            if h.height == 1000 {
                *h = forged_header.clone();
            }
        })
        .lying_commit(move |c| {
            if c.height == 1000 {
                *c = forged_commit.clone();
            }
        })
        .lying_validators(move |height, s| {
            if height == 1000 {
                *s = set.clone();
            }
        });
    // On its own, the forged header is a valid commit by its (invented) set.
    kessai_light_client::verify::verify_commit(&forged, &commit, mallory.set(1)).unwrap();
    let mut seen = Vec::new();
    let err = verification(
        block_on(client_at(lying, 1).sync_to(1000, chain.now_after(1000), |h| seen.push(h)))
            .unwrap_err(),
    );
    assert_eq!(
        err,
        VerifyError::BrokenValidatorChain {
            height: 1000,
            expected: chain.set(1000).hash(),
            got: mallory.set(1).hash(),
        }
    );
    assert_eq!(seen.last(), Some(&999), "bisection closed in on the forged header: {seen:?}");
}

#[test]
fn stale_trusted_state_is_refused() {
    let chain = long_chain();
    let opts = TrustOptions::default();
    // The trusted header at 1 is a day past the trusting period.
    let late = time_of(1) + opts.trusting_period_ms + 24 * 3600 * 1000;
    let err = verification(
        block_on(client_at(TestProvider::honest(chain.clone()), 1).sync_to(1000, late, |_| {}))
            .unwrap_err(),
    );
    assert_eq!(
        err,
        VerifyError::Expired {
            trusted_height: 1,
            trusted_time_ms: time_of(1),
            expired_at_ms: time_of(1) + opts.trusting_period_ms,
            now_ms: late,
        }
    );
    // A header beyond the local clock is refused too.
    let too_early = time_of(1000) - 60_000;
    let err = verification(
        block_on(client_at(TestProvider::honest(chain), 1).sync_to(1000, too_early, |_| {}))
            .unwrap_err(),
    );
    assert!(matches!(err, VerifyError::HeaderFromFuture { height: 1000, .. }));
}

#[test]
fn answer_for_another_height_is_refused() {
    let chain = long_chain();
    let shifted = TestProvider::honest(chain.clone()).lying_header(|h| {
        if h.height == 1000 {
            *h = long_chain().header(999).clone();
        }
    });
    let err =
        block_on(client_at(shifted, 1).sync_to(1000, chain.now_after(1000), |_| {})).unwrap_err();
    assert!(matches!(err, Error::UnexpectedHeight { requested: 1000, got: 999 }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

#[test]
fn state_values_and_absence_verify() {
    let chain = long_chain();
    let mut client = client_at(TestProvider::honest(chain.clone()), 1);
    let now = chain.now_after(1000);
    let counter = block_on(client.verify_state(&key("counter"), 1000, now)).unwrap();
    assert_eq!(counter.value, Some(1000u64.to_le_bytes().to_vec()));
    assert_eq!(counter.header_hash, chain.header(1000).id());
    assert_eq!((counter.signed_power, counter.total_power), (40, 40));
    // Never written: proven absent.
    let missing = block_on(client.verify_state(&key("no such key"), 1000, now)).unwrap();
    assert_eq!(missing.value, None);
    // Written at 3, deleted at 6: present at 5, proven absent at 6.
    let at5 = block_on(client.verify_state(&key("temporary"), 5, now)).unwrap();
    assert_eq!(at5.value.as_deref(), Some(&b"here for a while"[..]));
    let at6 = block_on(client.verify_state(&key("temporary"), 6, now)).unwrap();
    assert_eq!(at6.value, None);
    assert_eq!(at6.header_hash, chain.header(6).id());
}

fn state_error(provider: TestProvider, flat_key: &[u8], height: u64) -> Error {
    let now = provider.chain.now_after(provider.chain.height());
    let mut client = client_at(provider, 1);
    block_on(client.verify_state(flat_key, height, now)).unwrap_err()
}

fn assert_invalid_state_proof(err: Error, height: u64) {
    assert!(
        matches!(&err, Error::InvalidStateProof { height: h, .. } if *h == height),
        "expected an invalid state proof at {height}, got {err:?}"
    );
}

#[test]
fn tampered_value_is_refused() {
    let chain = long_chain();
    let lying = TestProvider::honest(chain)
        .lying_state(|_, _, answer| answer.0 = Some(1_000_000u64.to_le_bytes().to_vec()));
    assert_invalid_state_proof(state_error(lying, &key("counter"), 1000), 1000);
}

/// Flips one bit of the proof: in the first non-placeholder sibling hash when there is one, else in
/// the leaf's value hash. Encoding (see docs/light-client.md): `Option<leaf>` (1 + 64 bytes when
/// present), a u32 sibling count, then each sibling as a tag (0 placeholder, 1 internal, 2 leaf)
/// followed by 64 bytes unless it is a placeholder.
fn flip_a_bit(proof: &StateProof) -> StateProof {
    let mut bytes = proof.to_bytes();
    assert_eq!(bytes[0], 1, "an inclusion proof carries its leaf");
    let mut at = 1 + 64 + 4;
    let mut target = 1 + 32; // the leaf's value hash
    while at < bytes.len() {
        if bytes[at] == 0 {
            at += 1;
        } else {
            target = at + 1;
            break;
        }
    }
    bytes[target] ^= 1;
    StateProof::from_bytes(&bytes).unwrap()
}

#[test]
fn tampered_proof_is_refused() {
    let chain = long_chain();
    let lying =
        TestProvider::honest(chain).lying_state(|_, _, answer| answer.1 = flip_a_bit(&answer.1));
    assert_invalid_state_proof(state_error(lying, &key("counter"), 1000), 1000);
}

#[test]
fn proof_for_another_height_is_refused() {
    let chain = long_chain();
    let honest = chain.clone();
    // The value and proof of height 999, genuine there, served for height 1000.
    let lying = TestProvider::honest(chain).lying_state(move |k, h, answer| {
        *answer = honest.state(k, h - 1);
    });
    assert_invalid_state_proof(state_error(lying, &key("counter"), 1000), 1000);
}

#[test]
fn withheld_value_cannot_be_claimed_absent() {
    let chain = long_chain();
    // "Absent", with the genuine inclusion proof.
    let lying = TestProvider::honest(chain.clone()).lying_state(|_, _, answer| answer.0 = None);
    assert_invalid_state_proof(state_error(lying, &key("counter"), 1000), 1000);
    // "Absent", with a genuine absence proof of another key at the same height.
    let honest = chain.clone();
    let lying = TestProvider::honest(chain.clone()).lying_state(move |_, h, answer| {
        *answer = honest.state(&key("no such key"), h);
    });
    assert_invalid_state_proof(state_error(lying, &key("counter"), 1000), 1000);
    // "Absent", with the absence proof from a height before the key existed.
    let honest = chain.clone();
    let lying =
        TestProvider::honest(chain).lying_state(move |k, _, answer| *answer = honest.state(k, 2));
    assert_invalid_state_proof(state_error(lying, &key("temporary"), 4), 4);
}

#[test]
fn old_header_verified_backwards_must_hash_into_the_chain() {
    let chain = long_chain();
    let lying = TestProvider::honest(chain.clone()).lying_header(|h| {
        if h.height == 500 {
            h.time_ms += 1;
        }
    });
    let mut client = client_at(lying, 900);
    let err =
        block_on(client.verify_state(&key("counter"), 400, chain.now_after(1000))).unwrap_err();
    assert!(matches!(verification(err), VerifyError::HashMismatch { height: 500, .. }));
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

#[test]
fn transaction_and_receipt_verify() {
    let chain = long_chain();
    let tx_id = chain.tx_ids(700)[0];
    let mut client = client_at(TestProvider::honest(chain.clone()), 1);
    let verified = block_on(client.verify_tx(tx_id, chain.now_after(1000))).unwrap().unwrap();
    assert_eq!((verified.height, verified.index), (700, 0));
    assert_eq!(verified.header_hash, chain.header(700).id());
    assert_eq!(verified.receipt.status, TxStatus::Success);
    assert_eq!(verified.tx.id(), tx_id);
    // Unknown to the node: no claim to check.
    let unknown = block_on(client.verify_tx(Hash::digest(b"never sent"), chain.now_after(1000)));
    assert_eq!(unknown.unwrap(), None);
}

fn tx_error(provider: TestProvider, tx_id: Hash) -> Error {
    let now = provider.chain.now_after(provider.chain.height());
    let mut client = client_at(provider, 1);
    block_on(client.verify_tx(tx_id, now)).unwrap_err()
}

#[test]
fn tampered_receipt_is_refused() {
    let chain = long_chain();
    let tx_id = chain.tx_ids(700)[0];
    let lying = TestProvider::honest(chain.clone())
        .lying_tx(|ev| ev.receipt.status = TxStatus::Failed { reason: "out of gas".into() });
    let err = tx_error(lying, tx_id);
    assert!(matches!(err, Error::ReceiptNotIncluded { height: 700, .. }), "{err:?}");
    // A genuine receipt of another transaction.
    let other = chain.tx(chain.tx_ids(701)[0]).unwrap().receipt;
    let lying = TestProvider::honest(chain).lying_tx(move |ev| ev.receipt = other.clone());
    assert!(matches!(tx_error(lying, tx_id), Error::ReceiptMismatch { .. }));
}

#[test]
fn tampered_transaction_is_refused() {
    let chain = long_chain();
    let tx_id = chain.tx_ids(700)[0];
    let lying = TestProvider::honest(chain.clone()).lying_tx(|ev| ev.tx.tx.gas_limit += 1);
    assert!(
        matches!(tx_error(lying, tx_id), Error::TxIdMismatch { expected, .. } if expected == tx_id)
    );
    // Right transaction and receipt, placed in another block.
    let lying = TestProvider::honest(chain.clone()).lying_tx(|ev| ev.height = 701);
    assert!(matches!(tx_error(lying, tx_id), Error::TxNotIncluded { height: 701, .. }));
    // Proofs that disagree on the position.
    let lying = TestProvider::honest(chain).lying_tx(|ev| ev.receipt_proof.index = 1);
    assert!(matches!(tx_error(lying, tx_id), Error::TxPositionMismatch { .. }));
}

#[test]
fn a_proof_of_another_position_and_count_is_refused() {
    // Five transactions per block: the proof of index 4 of 5 is one sibling, the root of the first
    // four, which is also a valid proof of index 1 of 2 under the same root.
    let chain = Arc::new(ChainBuilder::new("kessai-test").txs_per_block(5).build(10));
    let tx_id = chain.tx_ids(7)[4];
    let honest = TestProvider::honest(chain.clone());
    let verified = block_on(client_at(honest, 1).verify_tx(tx_id, chain.now_after(10)));
    assert_eq!(verified.unwrap().unwrap().index, 4);
    let lying = TestProvider::honest(chain.clone()).lying_tx(|ev| {
        ev.index = 1;
        for proof in [&mut ev.tx_proof, &mut ev.receipt_proof] {
            (proof.index, proof.total) = (1, 2);
        }
    });
    let root = chain.header(7).txs_root;
    let evidence = chain.tx(tx_id).unwrap();
    let mut moved = evidence.tx_proof.clone();
    (moved.index, moved.total) = (1, 2);
    assert!(
        moved.verify(&root, &borsh::to_vec(&evidence.tx).unwrap()),
        "the Merkle path alone fits"
    );
    let err = tx_error(lying, tx_id);
    assert!(
        matches!(err, Error::TxCountMismatch { height: 7, proof_total: 2, header_count: 5, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Witnesses and forks
// ---------------------------------------------------------------------------------------------

#[test]
fn conflicting_witness_reveals_a_fork() {
    let chain = long_chain();
    // The same validators signed a second chain that departs from the first at block 500.
    let fork =
        Arc::new(ChainBuilder::new("kessai-test").fork_at(500, b"the other history").build(1000));
    assert_eq!(fork.header(499).id(), chain.header(499).id());
    assert_ne!(fork.header(500).id(), chain.header(500).id());

    let primary = TestProvider::honest(chain.clone());
    let witnesses = vec![TestProvider::honest(chain.clone()), TestProvider::honest(fork.clone())];
    let mut client = client_at(primary, 1).with_witnesses(witnesses);
    let now = chain.now_after(1000);
    let err = block_on(client.sync_to(1000, now, |_| {})).unwrap_err();
    let Error::ForkDetected(evidence) = err else { panic!("expected a fork, got {err:?}") };
    assert_eq!(evidence.witness_index, 1);
    assert_eq!(evidence.height(), 1000);
    assert_eq!(evidence.primary.0.id(), chain.header(1000).id());
    assert_eq!(evidence.witness.0.id(), fork.header(1000).id());
    assert_eq!(evidence.double_signers().len(), 4);
    assert_eq!(client.latest_trusted().height(), 1, "nothing past the fork is trusted");

    // The client stops trusting the primary until it is reset.
    let err = block_on(client.verify_state(&key("counter"), 1, now)).unwrap_err();
    assert!(matches!(err, Error::PrimaryDistrusted { height: 1000 }));
    assert!(client.fork_evidence().is_some());
    client.reset_primary(TestProvider::honest(chain.clone()));
    assert!(block_on(client.verify_state(&key("counter"), 1, now)).is_ok());
}

#[test]
fn witness_serving_an_unsigned_header_is_set_aside() {
    let chain = long_chain();
    let liar = TestProvider::honest(chain.clone()).lying_header(|h| h.time_ms += 1);
    let mut client = client_at(TestProvider::honest(chain.clone()), 1)
        .with_witnesses(vec![liar, TestProvider::honest(chain.clone())]);
    let now = chain.now_after(1000);
    let reached = block_on(client.sync_to(500, now, |_| {})).unwrap();
    assert_eq!(reached.hash(), chain.header(500).id());
    let faulty = client.faulty_witnesses();
    assert_eq!(faulty.len(), 1);
    assert_eq!(faulty[0].0, 0);
    assert!(matches!(faulty[0].1, Error::Verification(VerifyError::ForgedHeader { .. })));
    let checks = client.witness_checks();
    assert!(
        matches!(
            checks[..],
            [
                Some(WitnessCheck { height: 500, outcome: WitnessOutcome::Faulty(_) }),
                Some(WitnessCheck { height: 500, outcome: WitnessOutcome::Confirmed })
            ]
        ),
        "{checks:?}"
    );

    // The liar is not asked again: its check stays the one that caught it.
    block_on(client.sync_to(1000, now, |_| {})).unwrap();
    let checks = client.witness_checks();
    assert!(
        matches!(
            checks[..],
            [
                Some(WitnessCheck { height: 500, outcome: WitnessOutcome::Faulty(_) }),
                Some(WitnessCheck { height: 1000, outcome: WitnessOutcome::Confirmed })
            ]
        ),
        "{checks:?}"
    );
}

#[test]
fn a_header_only_a_liar_witnessed_is_not_trusted() {
    let chain = long_chain();
    let liar = TestProvider::honest(chain.clone()).lying_header(|h| h.time_ms += 1);
    let mut client = client_at(TestProvider::honest(chain.clone()), 1).with_witnesses(vec![liar]);
    let err = block_on(client.sync_to(1000, chain.now_after(1000), |_| {})).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotConfirmed { height: 1000, witnesses: 1, unavailable: 0, faulty: 1 }
        ),
        "{err:?}"
    );
    assert_eq!(client.latest_trusted().height(), 1, "nothing unconfirmed is trusted");
}

#[test]
fn an_unreachable_witness_confirms_nothing() {
    let chain = long_chain();
    let mut client = client_at(TestProvider::honest(chain.clone()), 1)
        .with_witnesses(vec![TestProvider::unreachable(chain.clone())]);
    assert!(client.witness_checks()[0].is_none(), "not asked before a sync");
    let now = chain.now_after(1000);
    let err = block_on(client.sync_to(1000, now, |_| {})).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotConfirmed { height: 1000, witnesses: 1, unavailable: 1, faulty: 0 }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("no witness confirmed the header at height 1000"), "{err}");
    assert_eq!(client.latest_trusted().height(), 1, "nothing unconfirmed is trusted");
    assert!(client.verified(1000).is_none());
    let checks = client.witness_checks();
    assert!(
        matches!(
            checks[..],
            [Some(WitnessCheck {
                height: 1000,
                outcome: WitnessOutcome::Unavailable(Error::Provider(ProviderError::Unavailable(
                    _
                )))
            })]
        ),
        "{checks:?}"
    );
    assert!(client.faulty_witnesses().is_empty(), "unreachable is not faulty");

    // Reading state at a new height needs the confirmation too.
    let err = block_on(client.verify_state(&key("counter"), 700, now)).unwrap_err();
    assert!(matches!(err, Error::NotConfirmed { height: 700, .. }), "{err:?}");
}

#[test]
fn one_confirmation_suffices_when_other_witnesses_are_down_or_behind() {
    let chain = long_chain();
    let witnesses = vec![
        TestProvider::unreachable(chain.clone()),
        TestProvider::honest(chain.clone()).behind(999),
        TestProvider::honest(chain.clone()),
    ];
    let mut client = client_at(TestProvider::honest(chain.clone()), 1).with_witnesses(witnesses);
    let reached = block_on(client.sync_to(1000, chain.now_after(1000), |_| {})).unwrap();
    assert_eq!(reached.hash(), chain.header(1000).id());
    let checks = client.witness_checks();
    assert!(
        matches!(
            checks[..],
            [
                Some(WitnessCheck {
                    height: 1000,
                    outcome: WitnessOutcome::Unavailable(Error::Provider(
                        ProviderError::Unavailable(_)
                    ))
                }),
                Some(WitnessCheck {
                    height: 1000,
                    outcome: WitnessOutcome::Unavailable(Error::Provider(ProviderError::NotFound(
                        _
                    )))
                }),
                Some(WitnessCheck { height: 1000, outcome: WitnessOutcome::Confirmed }),
            ]
        ),
        "{checks:?}"
    );
    assert!(client.faulty_witnesses().is_empty());
}

#[test]
fn without_witnesses_nothing_needs_confirming() {
    let chain = long_chain();
    let mut client = client_at(TestProvider::honest(chain.clone()), 1).with_witnesses(vec![]);
    block_on(client.sync_to(1000, chain.now_after(1000), |_| {})).unwrap();
    assert!(client.witness_checks().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Initialisation and persistence
// ---------------------------------------------------------------------------------------------

#[test]
fn init_from_a_trusted_hash() {
    let chain = long_chain();
    let now = chain.now_after(1000);
    let provider = TestProvider::honest(chain.clone());
    let client = block_on(LightClient::init_from_hash(
        provider.clone(),
        800,
        chain.header(800).id(),
        TrustOptions::default(),
        now,
    ))
    .unwrap();
    assert_eq!(client.latest_trusted(), &chain.trusted(800));

    let wrong = Hash::digest(b"not that block");
    let err =
        block_on(LightClient::init_from_hash(provider, 800, wrong, TrustOptions::default(), now));
    let err = verification(err.err().unwrap());
    assert_eq!(
        err,
        VerifyError::HashMismatch { height: 800, expected: wrong, got: chain.header(800).id() }
    );
}

#[test]
fn init_from_genesis_validators() {
    let chain = Arc::new(ChainBuilder::new("kessai-test").build(20));
    let now = chain.now_after(20);
    let provider = TestProvider::honest(chain.clone());
    let genesis = chain.set(1).clone();
    let opts = TrustOptions::default();
    let mut client = block_on(LightClient::init_from_genesis(
        provider.clone(),
        "kessai-test",
        genesis.clone(),
        opts.clone(),
        now,
    ))
    .unwrap();
    assert_eq!(client.latest_trusted().height(), 1);
    assert!(block_on(client.sync_to(20, now, |_| {})).is_ok());

    let err = block_on(LightClient::init_from_genesis(
        provider.clone(),
        "other",
        genesis,
        opts.clone(),
        now,
    ));
    assert!(matches!(verification(err.err().unwrap()), VerifyError::WrongChain { .. }));

    let strangers = ChainBuilder::new("kessai-test")
        .validators((10..14).map(|i| validator(i, 10)).collect())
        .build(1);
    let err = block_on(LightClient::init_from_genesis(
        provider,
        "kessai-test",
        strangers.set(1).clone(),
        opts,
        now,
    ));
    assert!(matches!(
        verification(err.err().unwrap()),
        VerifyError::ValidatorSetMismatch { height: 1, .. }
    ));
}

#[test]
fn trusted_state_survives_a_file_and_tampering_is_caught() {
    let chain = long_chain();
    let dir = tempfile::tempdir().unwrap();
    let store = kessai_light_client::FileStore::new(dir.path().join("light/trusted.json"));
    assert_eq!(store.load().unwrap(), None);
    let state = chain.trusted(321);
    store.save(&state).unwrap();
    assert_eq!(store.load().unwrap(), Some(state.clone()));

    let mut json: serde_json::Value = serde_json::from_str(&state.to_json()).unwrap();
    json["header"]["time_ms"] = serde_json::json!(1);
    let err = TrustedState::from_json(&json.to_string()).unwrap_err();
    assert!(matches!(verification(err), VerifyError::ForgedHeader { height: 321, .. }));
    assert!(matches!(TrustedState::from_json("{"), Err(Error::Store(_))));
}
