//! Fuzz targets of what peers and clients send as bytes (`docs/fuzzing.md`): signed transactions,
//! blocks, proposals, votes, commits, evidence and validator sets. Each decodes without panicking
//! and within a memory bound, re-encodes to the same bytes, and is checked (signatures, block
//! shape) without panicking; a transaction changed after signing never verifies.
//!
//! `cargo test` runs each target for about a second of random inputs; `cargo bolero test
//! <target>` (libFuzzer) or `BOLERO_RANDOM_TEST_TIME_MS=…` (the random engine) runs it for longer
//! (`docs/fuzzing.md`, "How").

#[path = "support/fuzz.rs"]
mod fuzz_support;

use bolero::{check, TypeGenerator};
use fuzz_support::{bounded, decode_canonical, mutate, Probe, SHORT_RUN};
use kessai_primitives::{
    Address, Block, Commit, CommitSignature, Evidence, GovernanceAction, Hash, Header, Keypair,
    Payload, Proposal, PublicKey, Role, SignedProposal, SignedTransaction, SignedVote, Transaction,
    TxError, Validator, ValidatorSet, Vote, VoteKind, MAX_TX_BYTES,
};

#[global_allocator]
static ALLOCATOR: Probe = Probe;

const CHAIN: &str = "kessai-dev";

/// The fields of a transaction, as the fuzzer chooses them.
#[derive(Debug, TypeGenerator)]
struct TxInput {
    signer: u8,
    chain_is_ours: bool,
    nonce: u64,
    gas_limit: u64,
    payload: u8,
    bytes: Vec<u8>,
    text: String,
    hash: [u8; 32],
    power: u64,
}

fn signer(index: u8) -> Keypair {
    Keypair::dev(["alice", "bob", "carol"][usize::from(index % 3)])
}

fn transaction(input: &TxInput) -> Transaction {
    let key = PublicKey(input.hash);
    let payload = match input.payload % 11 {
        0 => Payload::Deploy { code: input.bytes.clone() },
        1 => Payload::Instantiate { code_hash: Hash(input.hash), args: input.bytes.clone() },
        2 => Payload::Call {
            contract: Address(input.hash),
            method: input.text.clone(),
            args: input.bytes.clone(),
        },
        3 => Payload::Governance(GovernanceAction::AddMember {
            key,
            roles: input
                .bytes
                .iter()
                .map(|b| if b.is_multiple_of(2) { Role::Admin } else { Role::Deployer })
                .collect(),
        }),
        4 => Payload::Governance(GovernanceAction::RemoveMember { key }),
        5 => Payload::Governance(GovernanceAction::GrantRole { key, role: Role::Admin }),
        6 => Payload::Governance(GovernanceAction::RevokeRole { key, role: Role::Deployer }),
        7 => Payload::Governance(GovernanceAction::SetValidator {
            validator: Validator { public_key: key, power: input.power },
        }),
        8 => Payload::Governance(GovernanceAction::AdmitPeer { peer_key: input.bytes.clone() }),
        9 => Payload::Governance(GovernanceAction::RevokePeer { peer_key: input.bytes.clone() }),
        _ => Payload::Call { contract: Address([0; 32]), method: String::new(), args: vec![] },
    };
    Transaction {
        chain_id: if input.chain_is_ours { CHAIN.into() } else { input.text.clone() },
        signer: signer(input.signer).public(),
        nonce: input.nonce,
        gas_limit: input.gas_limit,
        payload,
    }
}

fn call(nonce: u64) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: signer(0).public(),
        nonce,
        gas_limit: 1_000_000,
        payload: Payload::Call {
            contract: Address([7; 32]),
            method: "transfer".into(),
            args: vec![1, 2, 3],
        },
    }
    .sign(&signer(0))
}

fn validators() -> Vec<Keypair> {
    (0..4).map(|i| Keypair::dev(&format!("val{i}"))).collect()
}

fn validator_set() -> ValidatorSet {
    let validators = validators();
    ValidatorSet::new(
        validators.iter().map(|k| Validator { public_key: k.public(), power: 10 }).collect(),
    )
    .expect("four validators")
}

fn vote(kind: VoteKind, block: Option<Hash>, key: &Keypair) -> SignedVote {
    Vote { chain_id: CHAIN.into(), height: 5, round: 1, kind, block, validator: key.public() }
        .sign(key)
}

fn commit(block: Hash) -> Commit {
    let mut commit = Commit { height: 5, round: 1, block, signatures: vec![] };
    for key in &validators()[..3] {
        let signature = commit.precommit_of(CHAIN, key.public()).sign(key).signature;
        commit.signatures.push(CommitSignature { validator: key.public(), signature });
    }
    commit
}

fn evidence() -> Evidence {
    let key = &validators()[0];
    Evidence::DuplicateVote {
        first: vote(VoteKind::Prevote, Some(Hash::digest(b"a")), key),
        second: vote(VoteKind::Prevote, Some(Hash::digest(b"b")), key),
    }
}

fn block() -> Block {
    let txs = vec![call(0), call(1)];
    let last_commit = Some(commit(Hash::digest(b"parent")));
    let evidence = vec![evidence()];
    let header = Header {
        protocol_version: 1,
        chain_id: CHAIN.into(),
        height: 6,
        time_ms: 1_700_000_000_000,
        parent: Hash::digest(b"parent"),
        proposer: validators()[1].public(),
        tx_count: txs.len() as u64,
        txs_root: Block::txs_root(&txs),
        receipts_root: Hash::digest(b"receipts"),
        state_root: Hash::digest(b"state"),
        validators_hash: validator_set().hash(),
        next_validators_hash: validator_set().hash(),
        last_commit_hash: Block::last_commit_hash(&last_commit),
        evidence_hash: Block::evidence_hash(&evidence),
    };
    Block { header, txs, last_commit, evidence }
}

fn proposal() -> SignedProposal {
    Proposal {
        chain_id: CHAIN.into(),
        height: 6,
        round: 0,
        pol_round: Some(0),
        block: block().id(),
        proposer: validators()[1].public(),
    }
    .sign(&validators()[1])
}

/// Valid encodings of each type the targets decode, for the mutating targets to start from.
fn seeds() -> Vec<Vec<u8>> {
    let key = &validators()[2];
    vec![
        borsh::to_vec(&call(3)).unwrap(),
        borsh::to_vec(&block()).unwrap(),
        borsh::to_vec(&proposal()).unwrap(),
        borsh::to_vec(&vote(VoteKind::Precommit, None, key)).unwrap(),
        borsh::to_vec(&commit(Hash::digest(b"x"))).unwrap(),
        borsh::to_vec(&evidence()).unwrap(),
    ]
}

/// Checks a decoded transaction as the RPC server and the mempool do before any state is read:
/// either it passes or it is refused with an error, never a panic.
fn check_transaction(tx: &SignedTransaction) -> Result<(), TxError> {
    let _ = (tx.id(), tx.signer_address(), tx.tx.payload.kind());
    let batch = SignedTransaction::verify_signatures(std::slice::from_ref(tx), rand_core::OsRng);
    // The batch verifier and the single one always agree (ZIP-215).
    assert_eq!(batch[0], tx.verify_signature());
    tx.check_stateless(CHAIN)
}

fn check_block(block: &Block, set: &ValidatorSet) {
    let _ = (block.id(), block.check_shape());
    for tx in &block.txs {
        let _ = check_transaction(tx);
    }
    if let Some(commit) = &block.last_commit {
        check_commit(commit, set);
    }
    for evidence in &block.evidence {
        let _ = (evidence.verify(), evidence.offender());
    }
}

fn check_commit(commit: &Commit, set: &ValidatorSet) {
    let _ = commit.verify(CHAIN, commit.height, &commit.block, set);
    let _ = commit.signed_power(CHAIN, set, false);
    let _ = commit.hash();
}

/// Every decoder of this crate on the same bytes: whatever decodes is checked.
fn decode_everything(bytes: &[u8], set: &ValidatorSet) {
    if let Some(tx) = decode_tx(bytes) {
        let _ = check_transaction(&tx);
    }
    if let Some(block) = decode_canonical::<Block>(bytes) {
        check_block(&block, set);
    }
    if let Some(header) = decode_canonical::<Header>(bytes) {
        let _ = header.id();
    }
    if let Some(proposal) = decode_canonical::<SignedProposal>(bytes) {
        let _ = proposal.verify();
    }
    if let Some(vote) = decode_canonical::<SignedVote>(bytes) {
        let _ = vote.verify();
    }
    if let Some(commit) = decode_canonical::<Commit>(bytes) {
        check_commit(&commit, set);
    }
    if let Some(evidence) = decode_canonical::<Evidence>(bytes) {
        let _ = evidence.verify();
    }
    // A validator set decodes through `ValidatorSet::new` (sorted, no zero power), so its bytes
    // need not be canonical; what it re-encodes to decodes to the same set.
    if let Ok(decoded) = bounded("ValidatorSet", bytes, borsh::from_slice::<ValidatorSet>) {
        let again = borsh::from_slice::<ValidatorSet>(&borsh::to_vec(&decoded).unwrap());
        assert_eq!(again.ok().as_ref(), Some(&decoded));
        let _ = (decoded.hash(), decoded.proposer(u64::MAX, u32::MAX), decoded.proposer(0, 0));
    }
}

/// [`SignedTransaction::decode`], what the RPC server and gossip use, within the memory bound; a
/// transaction that decodes re-encodes to the same bytes.
fn decode_tx(bytes: &[u8]) -> Option<SignedTransaction> {
    let tx = bounded("SignedTransaction", bytes, SignedTransaction::decode).ok()?;
    assert_eq!(borsh::to_vec(&tx).unwrap(), bytes, "a transaction decoded from another encoding");
    Some(tx)
}

#[test]
fn arbitrary_bytes() {
    let set = validator_set();
    check!().with_test_time(SHORT_RUN).for_each(|bytes: &[u8]| {
        decode_everything(bytes, &set);
    });
}

#[test]
fn mutated_messages() {
    let (set, seeds) = (validator_set(), seeds());
    check!().with_type::<(u8, Vec<(u16, u8)>, Option<u16>)>().with_test_time(SHORT_RUN).for_each(
        |(seed, flips, keep)| {
            let bytes = mutate(seeds[usize::from(*seed) % seeds.len()].clone(), flips, *keep);
            decode_everything(&bytes, &set);
        },
    );
}

#[test]
fn transactions_round_trip_and_tampering_never_verifies() {
    check!().with_type::<(TxInput, Vec<(u16, u8)>)>().with_test_time(SHORT_RUN).for_each(
        |(input, flips)| {
            let signed = transaction(input).sign(&signer(input.signer));
            let bytes = borsh::to_vec(&signed).unwrap();
            let decoded = decode_tx(&bytes).expect("a signed transaction decodes");
            assert_eq!(decoded, signed);
            let verdict = check_transaction(&decoded);
            let ours = input.chain_is_ours || input.text == CHAIN;
            assert_eq!(verdict.is_ok(), ours && bytes.len() <= MAX_TX_BYTES, "{verdict:?}");

            // Any change to the bytes is refused: they no longer decode, or no longer verify.
            let tampered = mutate(bytes.clone(), flips, None);
            if tampered != bytes {
                if let Some(tx) = decode_tx(&tampered) {
                    assert!(tx.verify_signature().is_err(), "a tampered transaction verified");
                }
            }
        },
    );
}

/// Length prefixes announcing 2^32 - 1 elements or bytes, where a naive decoder would reserve
/// gigabytes: each is refused, having asked for at most the bound's memory.
#[test]
fn hostile_length_prefixes_allocate_little() {
    let huge = u32::MAX.to_le_bytes();
    // A transaction whose chain id claims 4 GiB.
    let mut chain_id = huge.to_vec();
    chain_id.extend_from_slice(b"kessai-dev");
    assert!(matches!(
        bounded("tx", &chain_id, SignedTransaction::decode),
        Err(TxError::Malformed(_))
    ));

    // A deploy whose code claims 4 GiB, after a valid prefix.
    let deploy = Transaction {
        chain_id: CHAIN.into(),
        signer: signer(0).public(),
        nonce: 0,
        gas_limit: 1,
        payload: Payload::Deploy { code: vec![] },
    };
    let mut bytes = borsh::to_vec(&deploy).unwrap();
    let len_at = bytes.len() - 4;
    bytes[len_at..].copy_from_slice(&huge);
    bytes.extend_from_slice(&[0; 64]);
    assert!(bounded("tx", &bytes, SignedTransaction::decode).is_err());

    // A block claiming 2^32 - 1 transactions, and a commit as many signatures.
    let mut block = borsh::to_vec(&block().header).unwrap();
    block.extend_from_slice(&huge);
    block.extend_from_slice(&[0; 100]);
    assert!(decode_canonical::<Block>(&block).is_none());
    let mut commit =
        borsh::to_vec(&Commit { height: 1, round: 0, block: Hash([0; 32]), signatures: vec![] })
            .unwrap();
    let len_at = commit.len() - 4;
    commit[len_at..].copy_from_slice(&huge);
    commit.extend_from_slice(&[1; 96]);
    assert!(decode_canonical::<Commit>(&commit).is_none());

    // A governance action admitting a peer whose key claims 4 GiB.
    let admit = Payload::Governance(GovernanceAction::AdmitPeer { peer_key: vec![] });
    let mut bytes = borsh::to_vec(&admit).unwrap();
    let len_at = bytes.len() - 4;
    bytes[len_at..].copy_from_slice(&huge);
    assert!(decode_canonical::<Payload>(&bytes).is_none());
}

/// The bound the targets enforce is real: a decoder that trusts a length prefix fails it.
#[test]
#[should_panic(expected = "allocated")]
fn a_decoder_trusting_a_length_prefix_fails_the_bound() {
    let bytes = [0xff, 0xff, 0xff, 0x0f];
    bounded("naive", &bytes, |bytes| {
        let len = u32::from_le_bytes(bytes.try_into().unwrap()) as usize;
        Vec::<u8>::with_capacity(len)
    });
}

#[test]
fn seeds_are_valid() {
    let set = validator_set();
    assert!(call(0).check_stateless(CHAIN).is_ok());
    let block = block();
    assert_eq!(block.check_shape(), Ok(()));
    assert!(commit(Hash::digest(b"x")).verify(CHAIN, 5, &Hash::digest(b"x"), &set).is_ok());
    assert!(evidence().verify().is_ok());
    assert!(proposal().verify().is_ok());
    for seed in seeds() {
        decode_everything(&seed, &set);
    }
}
