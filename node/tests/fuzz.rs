//! Fuzz targets of what a node's peers send it (`docs/fuzzing.md`): gossip messages
//! ([`NetworkMessage`], decoded by the inbound router), the block-sync protocol's requests and
//! responses ([`SyncRequest`], [`SyncResponse`]) and the synced blocks inside a response
//! ([`SyncedBlock`]). Each decodes without panicking and within a memory bound of its bytes,
//! re-encodes to the same bytes, and goes through the checks the router and the sync service apply
//! (chain id, signatures, a proposal's block id, block shape, commit signatures) without panicking.
//! And what clients send the RPC server: a transaction's hex ([`decode_tx`]), other hex
//! parameters, and hashes, addresses and keys as JSON strings.

#[path = "../../consensus/primitives/tests/support/fuzz.rs"]
mod fuzz_support;

use bolero::check;
use fuzz_support::{decode_canonical, mutate, Probe, SHORT_RUN};
use kessai_network::{Refusal, SyncRequest, SyncResponse};
use kessai_node::rpc::server::{decode_hex, decode_tx};
use kessai_node::service::events::SyncedBlock;
use kessai_node::service::network::NetworkMessage;
use kessai_primitives::{
    Address, Block, Commit, CommitSignature, Evidence, Hash, Header, Keypair, Payload, Proposal,
    PublicKey, SignedTransaction, SignedVote, Transaction, Validator, ValidatorSet, Vote, VoteKind,
};

#[global_allocator]
static ALLOCATOR: Probe = Probe;

const CHAIN: &str = "kessai-dev";

fn validators() -> Vec<Keypair> {
    (0..4).map(|i| Keypair::dev(&format!("val{i}"))).collect()
}

fn validator_set() -> ValidatorSet {
    let keys = validators();
    ValidatorSet::new(
        keys.iter().map(|k| Validator { public_key: k.public(), power: 10 }).collect(),
    )
    .expect("four validators")
}

fn tx(nonce: u64) -> SignedTransaction {
    let alice = Keypair::dev("alice");
    Transaction {
        chain_id: CHAIN.into(),
        signer: alice.public(),
        nonce,
        gas_limit: 1_000_000,
        payload: Payload::Call { contract: Address([7; 32]), method: "m".into(), args: vec![1] },
    }
    .sign(&alice)
}

fn vote(block: &[u8], key: &Keypair) -> SignedVote {
    Vote {
        chain_id: CHAIN.into(),
        height: 3,
        round: 0,
        kind: VoteKind::Precommit,
        block: Some(Hash::digest(block)),
        validator: key.public(),
    }
    .sign(key)
}

fn commit(height: u64, block: Hash) -> Commit {
    let mut commit = Commit { height, round: 0, block, signatures: vec![] };
    for key in &validators()[..3] {
        let signature = commit.precommit_of(CHAIN, key.public()).sign(key).signature;
        commit.signatures.push(CommitSignature { validator: key.public(), signature });
    }
    commit
}

fn block(height: u64) -> Block {
    let txs = vec![tx(0), tx(1)];
    let last_commit = Some(commit(height - 1, Hash::digest(b"parent")));
    let header = Header {
        protocol_version: 1,
        chain_id: CHAIN.into(),
        height,
        time_ms: 1_700_000_000_000 + height,
        parent: Hash::digest(b"parent"),
        proposer: validators()[0].public(),
        tx_count: txs.len() as u64,
        txs_root: Block::txs_root(&txs),
        receipts_root: Hash::digest(b"receipts"),
        state_root: Hash::digest(b"state"),
        validators_hash: validator_set().hash(),
        next_validators_hash: validator_set().hash(),
        last_commit_hash: Block::last_commit_hash(&last_commit),
        evidence_hash: Block::evidence_hash(&[]),
    };
    Block { header, txs, last_commit, evidence: vec![] }
}

fn synced(height: u64) -> SyncedBlock {
    let block = block(height);
    let commit = commit(height, block.id());
    SyncedBlock { block, commit }
}

/// Valid encodings of every message a peer sends, for the mutating targets to start from.
fn seeds() -> Vec<Vec<u8>> {
    let keys = validators();
    let block = block(3);
    let proposal = Proposal {
        chain_id: CHAIN.into(),
        height: 3,
        round: 0,
        pol_round: None,
        block: block.id(),
        proposer: keys[0].public(),
    }
    .sign(&keys[0]);
    let messages = [
        NetworkMessage::Txs(vec![tx(0), tx(1), tx(2)]),
        NetworkMessage::Proposal { proposal: proposal.clone(), block: Some(Box::new(block)) },
        NetworkMessage::Proposal { proposal, block: None },
        NetworkMessage::Vote(vote(b"a", &keys[1])),
        NetworkMessage::Resend {
            votes: vec![vote(b"a", &keys[1]), vote(b"b", &keys[2])],
            nonce: 7,
        },
        NetworkMessage::Evidence(Evidence::DuplicateVote {
            first: vote(b"a", &keys[3]),
            second: vote(b"b", &keys[3]),
        }),
    ];
    let mut seeds: Vec<Vec<u8>> = messages.iter().map(|m| borsh::to_vec(m).unwrap()).collect();
    seeds.push(borsh::to_vec(&synced(4)).unwrap());
    let blocks = vec![borsh::to_vec(&synced(5)).unwrap(), borsh::to_vec(&synced(6)).unwrap()];
    seeds.push(borsh::to_vec(&SyncResponse::Blocks(blocks)).unwrap());
    seeds.push(borsh::to_vec(&SyncRequest::Blocks { from: 5, to: 6 }).unwrap());
    seeds
}

/// What the inbound router checks before it routes a message (`service/inbound.rs`); returns
/// whether the sender would be blamed.
fn route(message: &NetworkMessage) -> bool {
    let vote_ok = |vote: &SignedVote| vote.vote.chain_id == CHAIN && vote.verify().is_ok();
    match message {
        NetworkMessage::Txs(txs) => txs.iter().any(|tx| tx.check_stateless(CHAIN).is_err()),
        NetworkMessage::Proposal { proposal, block } => {
            let _ = validator_set().proposer(proposal.proposal.height, proposal.proposal.round);
            let bad = proposal.proposal.chain_id != CHAIN || proposal.verify().is_err();
            let other_block = block.as_ref().is_some_and(|b| b.id() != proposal.proposal.block);
            if let Some(block) = block {
                check_block(block);
            }
            bad || other_block
        }
        NetworkMessage::Vote(vote) => !vote_ok(vote),
        NetworkMessage::Resend { votes, .. } => !votes.iter().all(vote_ok),
        NetworkMessage::Evidence(evidence) => evidence.verify().is_err(),
    }
}

/// What the consensus task checks of a block from a peer before it re-executes it.
fn check_block(block: &Block) {
    let set = validator_set();
    let _ = (block.id(), block.check_shape());
    if let Some(commit) = &block.last_commit {
        let _ = commit.verify(CHAIN, block.height().saturating_sub(1), &block.header.parent, &set);
    }
    for evidence in &block.evidence {
        let _ = evidence.verify();
    }
}

/// What the sync service does with a response's bytes (`service/sync.rs`).
fn sync_blocks(blocks: &[Vec<u8>]) {
    let set = validator_set();
    for bytes in blocks {
        if let Some(synced) = decode_canonical::<SyncedBlock>(bytes) {
            check_block(&synced.block);
            let _ = synced.commit.verify(CHAIN, synced.block.height(), &synced.block.id(), &set);
        }
    }
}

/// Every decoder a peer's bytes reach.
fn decode_everything(bytes: &[u8]) {
    if let Some(message) = decode_canonical::<NetworkMessage>(bytes) {
        let _ = route(&message);
    }
    if let Some(SyncResponse::Blocks(blocks)) = decode_canonical::<SyncResponse>(bytes) {
        sync_blocks(&blocks);
    }
    let _ = decode_canonical::<SyncRequest>(bytes);
    sync_blocks(&[bytes.to_vec()]);
}

#[test]
fn peer_bytes() {
    check!().with_test_time(SHORT_RUN).for_each(decode_everything);
}

#[test]
fn mutated_peer_messages() {
    let seeds = seeds();
    for seed in &seeds {
        decode_everything(seed);
    }
    check!().with_type::<(u8, Vec<(u16, u8)>, Option<u16>)>().with_test_time(SHORT_RUN).for_each(
        |(seed, flips, keep)| {
            let bytes = mutate(seeds[usize::from(*seed) % seeds.len()].clone(), flips, *keep);
            decode_everything(&bytes);
        },
    );
}

/// The seeds are what honest peers send: nobody is blamed for them.
#[test]
fn honest_messages_blame_nobody() {
    let seeds = seeds();
    for seed in &seeds[..6] {
        let message = decode_canonical::<NetworkMessage>(seed).expect("a gossip message");
        assert!(!route(&message), "{message:?}");
    }
    let synced = synced(4);
    assert_eq!(synced.block.check_shape(), Ok(()));
    assert!(synced.commit.verify(CHAIN, 4, &synced.block.id(), &validator_set()).is_ok());
}

/// Counts of 2^32 - 1 transactions, votes or blocks are refused before memory is reserved for
/// them.
#[test]
fn hostile_length_prefixes_allocate_little() {
    let huge = u32::MAX.to_le_bytes();
    for tag in [0u8, 3] {
        // Txs(vec) and Resend { votes: vec, .. } both start with the vector's length.
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&huge);
        bytes.extend_from_slice(&[0; 64]);
        assert!(decode_canonical::<NetworkMessage>(&bytes).is_none());
    }
    let mut response = vec![0u8];
    response.extend_from_slice(&huge);
    response.extend_from_slice(&huge);
    assert!(decode_canonical::<SyncResponse>(&response).is_none());
    let refused = borsh::to_vec(&SyncResponse::Refused(Refusal::TooManyHeights)).unwrap();
    assert!(decode_canonical::<SyncResponse>(&refused).is_some());
}

/// The RPC server's parameters, as a client may send them: a transaction decodes from its hex
/// (with or without `0x`) to exactly the transaction whose encoding the hex is, or is refused with
/// an RPC error; hex keys, hashes, addresses and public keys parse or are refused.
#[test]
fn rpc_params() {
    let signed = borsh::to_vec(&tx(0)).unwrap();
    check!()
        .with_type::<(u8, Vec<(u16, u8)>, Option<u16>, String)>()
        .with_test_time(SHORT_RUN)
        .for_each(|(shape, flips, keep, text)| {
            let hex_param = match shape % 4 {
                0 => text.clone(),
                1 => hex::encode(mutate(signed.clone(), flips, *keep)),
                2 => format!("0x{}", hex::encode(mutate(signed.clone(), flips, *keep))),
                _ => mutate(hex::encode(&signed).into_bytes(), flips, *keep)
                    .into_iter()
                    .map(char::from)
                    .collect(),
            };
            let bytes = decode_hex("tx", &hex_param);
            match fuzz_support::bounded("rpc tx", hex_param.as_bytes(), |_| decode_tx(&hex_param)) {
                Ok(decoded) => {
                    let bytes = bytes.expect("a decoded transaction was hex");
                    assert_eq!(borsh::to_vec(&decoded).unwrap(), bytes);
                    let _ = decoded.check_stateless(CHAIN);
                }
                Err(error) => assert!(!error.message().is_empty()),
            }
            let json = serde_json::Value::String(hex_param);
            if let Ok(hash) = serde_json::from_value::<Hash>(json.clone()) {
                assert_eq!(
                    serde_json::from_value::<Hash>(serde_json::json!(hash.to_hex())).ok(),
                    Some(hash)
                );
            }
            let _ = serde_json::from_value::<Address>(json.clone());
            let _ = serde_json::from_value::<PublicKey>(json);
        });
}
