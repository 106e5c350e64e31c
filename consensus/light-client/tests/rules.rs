//! The pure verification rules, one broken rule per test, each with its own error. Headers that
//! break a rule are re-signed by the fixture's validators, so only that rule can refuse them.

mod fixture;

use fixture::{time_of, ChainBuilder, FakeChain};
use kessai_light_client::verify::{verify, verify_commit};
use kessai_light_client::{verify_adjacent, verify_skipping, TrustOptions, VerifyError};
use kessai_primitives::{CommitError, Hash, Header};
use std::sync::OnceLock;

fn chain() -> &'static FakeChain {
    static CHAIN: OnceLock<FakeChain> = OnceLock::new();
    CHAIN.get_or_init(|| ChainBuilder::new("kessai-test").build(20))
}

const NOW: u64 = fixture::GENESIS_TIME_MS + 30 * fixture::BLOCK_TIME_MS;

/// `header` at its height, changed by `edit`, with a fresh commit by all its validators.
fn resigned(height: u64, edit: impl FnOnce(&mut Header)) -> (Header, kessai_primitives::Commit) {
    let chain = chain();
    let mut header = chain.header(height).clone();
    edit(&mut header);
    let commit = chain.sign(&header, &chain.all_signers(height));
    (header, commit)
}

fn adjacent(
    trusted: u64,
    header: &Header,
    commit: &kessai_primitives::Commit,
) -> Result<u64, VerifyError> {
    verify_adjacent(
        &chain().trusted(trusted),
        header,
        commit,
        chain().set(header.height),
        NOW,
        &TrustOptions::default(),
    )
}

fn skipping(
    trusted: u64,
    header: &Header,
    commit: &kessai_primitives::Commit,
) -> Result<u64, VerifyError> {
    verify_skipping(
        &chain().trusted(trusted),
        header,
        commit,
        chain().set(header.height),
        NOW,
        &TrustOptions::default(),
    )
}

#[test]
fn honest_headers_pass_both_rules() {
    let c = chain();
    assert_eq!(adjacent(4, c.header(5), c.commit(5)), Ok(40));
    assert_eq!(skipping(4, c.header(5), c.commit(5)), Ok(40));
    assert_eq!(skipping(1, c.header(20), c.commit(20)), Ok(40));
    let dispatch = |t: u64, h: u64| {
        verify(&c.trusted(t), c.header(h), c.commit(h), c.set(h), NOW, &TrustOptions::default())
    };
    assert_eq!(dispatch(1, 2), Ok(40));
    assert_eq!(dispatch(1, 20), Ok(40));
}

#[test]
fn header_of_another_chain_is_refused() {
    let other = ChainBuilder::new("kessai-other").build(2);
    let err = adjacent(1, other.header(2), other.commit(2)).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongChain { expected: "kessai-test".into(), got: "kessai-other".into() }
    );
    assert!(matches!(
        skipping(1, other.header(2), other.commit(2)),
        Err(VerifyError::WrongChain { .. })
    ));
}

#[test]
fn time_must_increase() {
    let (header, commit) = resigned(5, |h| h.time_ms = time_of(4));
    assert_eq!(
        adjacent(4, &header, &commit),
        Err(VerifyError::NonIncreasingTime {
            height: 5,
            trusted_ms: time_of(4),
            got_ms: time_of(4)
        })
    );
    let (header, commit) = resigned(10, |h| h.time_ms = time_of(3));
    assert!(matches!(skipping(4, &header, &commit), Err(VerifyError::NonIncreasingTime { .. })));
}

#[test]
fn adjacent_header_must_name_its_parent() {
    let (header, commit) = resigned(5, |h| h.parent = Hash::digest(b"another parent"));
    assert_eq!(
        adjacent(4, &header, &commit),
        Err(VerifyError::BrokenParentLink {
            height: 5,
            expected: chain().header(4).id(),
            got: Hash::digest(b"another parent"),
        })
    );
}

#[test]
fn adjacent_header_must_be_signed_by_the_announced_set() {
    // A header claiming a set the trusted header did not announce (and signed by that set).
    let strangers = ChainBuilder::new("kessai-test")
        .validators((10..14).map(|i| fixture::validator(i, 10)).collect())
        .build(5);
    let mut header = chain().header(5).clone();
    header.validators_hash = strangers.set(5).hash();
    let commit = strangers.sign(&header, &strangers.all_signers(5));
    let err = verify_adjacent(
        &chain().trusted(4),
        &header,
        &commit,
        strangers.set(5),
        NOW,
        &TrustOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        VerifyError::BrokenValidatorChain {
            height: 5,
            expected: chain().set(5).hash(),
            got: strangers.set(5).hash(),
        }
    );
    // Skipping, the same header finds none of the trusted power behind it.
    let err = verify_skipping(
        &chain().trusted(2),
        &header,
        &commit,
        strangers.set(5),
        NOW,
        &TrustOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::NotEnoughTrust { height: 5, signed: 0, total: 40, .. }));
}

#[test]
fn heights_must_move_forward() {
    let c = chain();
    assert_eq!(
        adjacent(4, c.header(6), c.commit(6)),
        Err(VerifyError::NotAdjacent { trusted: 4, expected: 5, got: 6 })
    );
    // Time is checked before height, so take a header with a later time at an old height.
    let (header, commit) = resigned(3, |h| h.time_ms = time_of(10));
    assert_eq!(
        skipping(4, &header, &commit),
        Err(VerifyError::NotAfterTrusted { trusted: 4, got: 3 })
    );
}

#[test]
fn commit_must_match_the_header() {
    let c = chain();
    // A commit for another height.
    assert_eq!(
        verify_commit(c.header(5), c.commit(6), c.set(5)),
        Err(VerifyError::CommitHeightMismatch { height: 5, commit_height: 6 })
    );
    // A changed header under the original commit.
    let mut changed = c.header(5).clone();
    changed.txs_root = Hash::digest(b"other transactions");
    assert_eq!(
        verify_commit(&changed, c.commit(5), c.set(5)),
        Err(VerifyError::ForgedHeader {
            height: 5,
            header_hash: changed.id(),
            commit_block: c.header(5).id()
        })
    );
    // A set the header does not name.
    assert_eq!(
        verify_commit(c.header(5), c.commit(5), c.set(1)).map(|_| ()),
        Ok(()),
        "the same set"
    );
    let other_set = ChainBuilder::new("kessai-test")
        .validators((10..14).map(|i| fixture::validator(i, 10)).collect())
        .build(1);
    assert!(matches!(
        verify_commit(c.header(5), c.commit(5), other_set.set(1)),
        Err(VerifyError::ValidatorSetMismatch { height: 5, .. })
    ));
}

#[test]
fn bad_signatures_and_duplicate_signers_are_refused() {
    let c = chain();
    let mut bad = c.commit(5).clone();
    bad.signatures[0].signature.0[0] ^= 1;
    assert!(matches!(
        adjacent(4, c.header(5), &bad),
        Err(VerifyError::InvalidCommit { height: 5, source: CommitError::BadSignature(_) })
    ));
    let mut doubled = c.commit(5).clone();
    doubled.signatures.truncate(2);
    doubled.signatures.push(doubled.signatures[0].clone());
    assert!(matches!(
        adjacent(4, c.header(5), &doubled),
        Err(VerifyError::InvalidCommit { height: 5, source: CommitError::DuplicateSigner(_) })
    ));
    // A signer from outside the set is refused, not ignored.
    let stranger =
        ChainBuilder::new("kessai-test").validators(vec![fixture::validator(99, 10)]).build(5);
    let mut outsider = c.commit(5).clone();
    outsider
        .signatures
        .push(stranger.sign(c.header(5), &stranger.all_signers(5)).signatures[0].clone());
    assert!(matches!(
        adjacent(4, c.header(5), &outsider),
        Err(VerifyError::InvalidCommit { height: 5, source: CommitError::UnknownSigner(_) })
    ));
}

#[test]
fn a_stricter_trust_threshold_asks_for_more_of_the_trusted_set() {
    let c = chain();
    let mut two_of_four = c.commit(20).clone();
    two_of_four.signatures.truncate(3); // 30 of 40: a quorum of its own set…
    let strict = TrustOptions { trust_threshold: (3, 4), ..TrustOptions::default() };
    let err = verify_skipping(&c.trusted(1), c.header(20), &two_of_four, c.set(20), NOW, &strict)
        .unwrap_err();
    // …but not more than 3/4 of the trusted set.
    assert_eq!(
        err,
        VerifyError::NotEnoughTrust {
            height: 20,
            signed: 30,
            total: 40,
            numerator: 3,
            denominator: 4
        }
    );
    let bad = TrustOptions { trust_threshold: (1, 5), ..TrustOptions::default() };
    assert!(matches!(
        verify_skipping(&c.trusted(1), c.header(20), c.commit(20), c.set(20), NOW, &bad),
        Err(VerifyError::InvalidOptions(_))
    ));
}

#[test]
fn a_header_of_an_unknown_protocol_version_is_refused() {
    // Signed by the whole set: only the version can refuse it.
    let (header, commit) = resigned(5, |h| h.protocol_version = 99);
    let expected = VerifyError::UnsupportedProtocolVersion {
        height: 5,
        version: 99,
        supported: kessai_primitives::protocol::SUPPORTED_PROTOCOL_VERSIONS.to_vec(),
    };
    assert_eq!(adjacent(4, &header, &commit), Err(expected.clone()));
    assert_eq!(skipping(1, &header, &commit), Err(expected.clone()));
    assert_eq!(verify_commit(&header, &commit, chain().set(5)), Err(expected));
    assert!(expected_message_names_the_upgrade(&header, &commit));
    // Version 2 is known.
    let (header, commit) = resigned(5, |h| h.protocol_version = 2);
    assert!(adjacent(4, &header, &commit).is_ok());
}

fn expected_message_names_the_upgrade(header: &Header, commit: &kessai_primitives::Commit) -> bool {
    let err = verify_commit(header, commit, chain().set(header.height)).unwrap_err();
    err.to_string().contains("upgrade to a release supporting protocol 99")
}

#[test]
fn from_version_2_the_proposer_must_be_a_validator() {
    let outsider = kessai_primitives::Keypair::dev("not-a-validator").public();
    // Version 1 does not look at the proposer…
    let (header, commit) = resigned(5, |h| h.proposer = outsider);
    assert!(adjacent(4, &header, &commit).is_ok());
    // …version 2 refuses one outside the signing set.
    let (header, commit) = resigned(5, |h| {
        h.protocol_version = 2;
        h.proposer = outsider;
    });
    assert_eq!(
        adjacent(4, &header, &commit),
        Err(VerifyError::ProposerNotValidator { height: 5, proposer: outsider })
    );
}
