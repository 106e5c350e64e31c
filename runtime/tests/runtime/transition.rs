//! Blocks applied through `kessai_runtime::transition` alone, as the consensus simulation or an
//! auditor would: no node, no store. A proposer builds each block with `apply_block` and
//! `header_for`, a checker re-executes it with `check_block` and `check_state_root`, and the state
//! moves on by the writes. The state root is the store's in a node; here a hash of the whole
//! in-memory state stands in for it (any function of the state after the writes will do).

use crate::common::{
    alice, args, bob, bytes, call, kitchen, sign, validator, Chain, MemState, CHAIN,
};
use kessai_primitives::{
    Block, Evidence, GovernanceAction, Hash, Keypair, Payload, SignedTransaction, TxStatus,
    ValidatorSet, Vote, VoteKind,
};
use kessai_runtime::transition::{
    apply_block, check_block, check_state_root, check_timely, fresh_evidence, header_for,
    BlockInput, BlockRules, InvalidBlock, Parent, Transition, TransitionError,
};
use kessai_runtime::{system, Runtime, RuntimeConfig, WriteSet};

const BLOCK_INTERVAL_MS: u64 = 1_000;

/// A chain that is nothing but the transition: a runtime, the committed state and the last header.
struct Nodeless {
    runtime: Runtime,
    state: MemState,
    parent: Parent,
    rules: BlockRules,
    proposer: Keypair,
}

impl Nodeless {
    /// The fixture's genesis (alice admin and deployer, bob, validator v0), on its own runtime.
    fn genesis() -> Nodeless {
        let chain = Chain::new();
        Nodeless {
            rules: BlockRules {
                chain_id: CHAIN.into(),
                block_gas_limit: chain.block_gas_limit,
                max_block_txs: 100,
            },
            runtime: chain.runtime,
            state: chain.state,
            parent: Parent::genesis(1_000),
            proposer: Keypair::dev("v0"),
        }
    }

    /// The block a proposer makes of `txs` and its pool of evidence, with its transition.
    fn propose(&self, txs: Vec<SignedTransaction>, pool: Vec<Evidence>) -> (Block, Transition) {
        let evidence = fresh_evidence(&self.state, pool).unwrap();
        let last_commit = None;
        let input = BlockInput {
            chain_id: CHAIN,
            height: self.parent.height + 1,
            time_ms: self.parent.time_ms + BLOCK_INTERVAL_MS,
            parent: self.parent.id,
            proposer: self.proposer.public(),
            txs: &txs,
            last_commit: &last_commit,
            evidence: &evidence,
            block_gas_limit: self.rules.block_gas_limit,
        };
        let transition = apply_block(&self.runtime, &self.state, &input, &|_| false).unwrap();
        let header = header_for(&input, &transition, self.root_after(&transition.writes));
        (Block { header, txs, last_commit, evidence }, transition)
    }

    /// What a validator (or an auditor) does with a proposed block: every check, re-execution and
    /// the state root.
    fn check(&self, block: &Block) -> Result<Transition, TransitionError> {
        let transition =
            check_block(&self.runtime, &self.state, &self.rules, &self.parent, block, &|_| false)?;
        check_state_root(&block.header, &transition, self.root_after(&transition.writes))?;
        Ok(transition)
    }

    fn commit(&mut self, block: &Block, transition: &Transition) {
        self.state.apply(&transition.writes);
        self.parent = Parent::of(&block.header);
    }

    /// Proposes the next block, checks that re-execution agrees, and commits it.
    fn block(&mut self, txs: Vec<SignedTransaction>, pool: Vec<Evidence>) -> (Block, Transition) {
        let (block, transition) = self.propose(txs, pool);
        let checked = self.check(&block).expect("a proposed block passes its own checks");
        assert_eq!(checked, transition, "re-execution gives the proposer's transition");
        self.commit(&block, &transition);
        (block, transition)
    }

    /// Stands in for the store's state root: a hash of the whole state after `writes`.
    fn root_after(&self, writes: &WriteSet) -> Hash {
        let mut after = self.state.clone();
        after.apply(writes);
        Hash::of(&after.0)
    }
}

fn govern(nonce: u64, action: GovernanceAction) -> SignedTransaction {
    sign(&alice(), nonce, crate::common::GAS, Payload::Governance(action))
}

/// Two prevotes of validator `name` for different blocks at height 1, round 0.
fn double_vote(name: &str) -> Evidence {
    let key = Keypair::dev(name);
    let vote = |block: u8| {
        Vote {
            chain_id: CHAIN.into(),
            height: 1,
            round: 0,
            kind: VoteKind::Prevote,
            block: Some(Hash([block; 32])),
            validator: key.public(),
        }
        .sign(&key)
    };
    Evidence::DuplicateVote { first: vote(1), second: vote(2) }
}

fn is_invalid(result: Result<Transition, TransitionError>, expected: InvalidBlock) -> bool {
    matches!(result, Err(TransitionError::Invalid(reason)) if reason == expected)
}

#[test]
fn a_set_validator_signs_from_two_blocks_later() {
    let mut chain = Nodeless::genesis();
    let genesis = ValidatorSet::new(vec![validator("v0", 10)]).unwrap();
    let both = ValidatorSet::new(vec![validator("v0", 10), validator("v1", 5)]).unwrap();

    // Block 1 schedules v1 for height 3: neither it nor block 2 is signed by v1.
    let set = GovernanceAction::SetValidator { validator: validator("v1", 5) };
    let (b1, t1) = chain.block(vec![govern(0, set)], vec![]);
    assert_eq!(t1.receipts[0].status, TxStatus::Success);
    assert_eq!(
        (b1.header.validators_hash, b1.header.next_validators_hash),
        (genesis.hash(), genesis.hash())
    );
    assert_eq!(
        system::pending_validators(&chain.state, 3).unwrap(),
        Some(vec![validator("v1", 5)])
    );

    // Block 2 is still signed by the genesis set, and names both as the signers of block 3.
    let (b2, t2) = chain.propose(vec![], vec![]);
    assert_eq!(
        (b2.header.validators_hash, b2.header.next_validators_hash),
        (genesis.hash(), both.hash())
    );
    assert_eq!(t2.next_validators, both);
    // A block 2 that leaves the change out of its header is refused by re-execution.
    let mut stale = b2.clone();
    stale.header.next_validators_hash = genesis.hash();
    assert!(is_invalid(chain.check(&stale), InvalidBlock::NextValidatorsHash));
    chain.commit(&b2, &t2);
    assert_eq!(system::pending_validators(&chain.state, 3).unwrap(), None);

    // Block 3 is signed by both; one claiming the old set is refused before it is executed.
    let (b3, _) = chain.propose(vec![], vec![]);
    assert_eq!(
        (b3.header.validators_hash, b3.header.next_validators_hash),
        (both.hash(), both.hash())
    );
    let mut old_signers = b3.clone();
    old_signers.header.validators_hash = genesis.hash();
    assert!(is_invalid(chain.check(&old_signers), InvalidBlock::ValidatorsHash));
    let (_, t3) = chain.block(vec![], vec![]);
    assert_eq!(system::current_validators(&chain.state).unwrap(), Some(both.clone()));
    assert_eq!(t3.validators, both);
}

#[test]
fn evidence_is_recorded_once_and_never_again() {
    let mut chain = Nodeless::genesis();
    let evidence = double_vote("v0");
    let key = system::evidence_key(&Hash::of(&evidence));

    // The pool holds it twice: block 1 carries and records it once.
    let (b1, t1) = chain.block(vec![], vec![evidence.clone(), evidence.clone()]);
    assert_eq!(b1.evidence, vec![evidence.clone()]);
    assert_eq!(t1.writes.get(&key), Some(&Some(system::encode(&evidence))));
    assert_eq!(chain.state.0.get(&key), Some(&system::encode(&evidence)));

    // A proposer whose pool still holds it leaves it out of block 2 …
    let (b2, t2) = chain.propose(vec![], vec![evidence.clone()]);
    assert!(b2.evidence.is_empty());
    assert!(!t2.writes.contains_key(&key));

    // … and a block 2 that carries it again is refused.
    let last_commit = None;
    let again = vec![evidence.clone()];
    let input = BlockInput {
        evidence: &again,
        last_commit: &last_commit,
        ..BlockInput::of(&b2, chain.rules.block_gas_limit)
    };
    let forged = apply_block(&chain.runtime, &chain.state, &input, &|_| false).unwrap();
    let header = header_for(&input, &forged, chain.root_after(&forged.writes));
    let replayed = Block { header, txs: vec![], last_commit: None, evidence: again };
    assert!(is_invalid(
        chain.check(&replayed),
        InvalidBlock::EvidenceCommitted(Hash::of(&evidence))
    ));
    chain.commit(&b2, &t2);

    // Evidence that proves nothing (the same vote twice) is refused too.
    let Evidence::DuplicateVote { first, .. } = double_vote("v0");
    let bogus = Evidence::DuplicateVote { first: first.clone(), second: first };
    let again = vec![bogus];
    let (b3, _) = chain.propose(vec![], vec![]);
    let input = BlockInput {
        evidence: &again,
        last_commit: &last_commit,
        ..BlockInput::of(&b3, chain.rules.block_gas_limit)
    };
    let forged = apply_block(&chain.runtime, &chain.state, &input, &|_| false).unwrap();
    let header = header_for(&input, &forged, chain.root_after(&forged.writes));
    let bogus_block = Block { header, txs: vec![], last_commit: None, evidence: again };
    assert!(matches!(
        chain.check(&bogus_block),
        Err(TransitionError::Invalid(InvalidBlock::Evidence(_)))
    ));
}

/// Blocks with every kind of outcome: a deploy, a governance change, an instantiation, calls that
/// write, emit and fail, an invalid transaction, evidence.
fn history() -> Vec<(Vec<SignedTransaction>, Vec<Evidence>)> {
    let gas = crate::common::GAS;
    let code = kitchen();
    let code_hash = Hash::digest(&code);
    let contract = system::contract_address(&alice().address(), 2);
    let set = GovernanceAction::SetValidator { validator: validator("v1", 5) };
    vec![
        (vec![sign(&alice(), 0, gas, Payload::Deploy { code }), govern(1, set)], vec![]),
        (
            vec![sign(&alice(), 2, gas, Payload::Instantiate { code_hash, args: bytes(b"hello") })],
            vec![],
        ),
        (
            vec![
                sign(&alice(), 3, gas, call(contract, "set", args(&[b"k", b"v"]))),
                sign(
                    &alice(),
                    4,
                    gas,
                    call(
                        contract,
                        "emit",
                        borsh::to_vec(&("topic".to_string(), b"data".to_vec())).unwrap(),
                    ),
                ),
                sign(&alice(), 5, gas, call(contract, "fail", vec![])),
                sign(&bob(), 7, gas, call(contract, "set", args(&[b"k", b"w"]))),
            ],
            vec![double_vote("v0")],
        ),
        (vec![], vec![]),
    ]
}

#[test]
fn two_runs_over_the_same_blocks_give_identical_writes_and_receipts() {
    let run = || {
        let mut chain = Nodeless::genesis();
        history().into_iter().map(|(txs, pool)| chain.block(txs, pool)).collect::<Vec<_>>()
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);

    // The history did what it says, so the comparison compared something.
    let receipts: Vec<_> = first.iter().flat_map(|(_, t)| &t.receipts).collect();
    assert_eq!(receipts.len(), 7);
    assert_eq!(receipts.iter().filter(|r| !r.is_success()).count(), 2, "{receipts:?}");
    assert!(receipts.iter().any(|r| !r.events.is_empty()));
    assert_eq!(first[2].0.evidence.len(), 1);

    // A checker on a runtime of its own (a cold module cache) agrees with every block.
    let mut checker = Nodeless::genesis();
    checker.runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    for (block, transition) in &first {
        assert_eq!(&checker.check(block).unwrap(), transition);
        checker.commit(block, transition);
    }
}

#[test]
fn a_checker_without_a_node_refuses_what_a_validator_refuses() {
    let mut chain = Nodeless::genesis();
    chain.block(vec![], vec![]);
    let (good, _) = chain.propose(
        vec![govern(0, GovernanceAction::SetValidator { validator: validator("v1", 5) })],
        vec![],
    );
    let refused = |change: &dyn Fn(&mut Block), expected: InvalidBlock| {
        let mut block = good.clone();
        change(&mut block);
        assert!(is_invalid(chain.check(&block), expected.clone()), "{expected:?}");
    };
    refused(&|b| b.header.chain_id = "other".into(), InvalidBlock::Chain("other".into()));
    refused(&|b| b.header.height = 3, InvalidBlock::Height { expected: 2, got: 3 });
    refused(&|b| b.header.parent = Hash::ZERO, InvalidBlock::Parent);
    refused(
        &|b| b.header.time_ms = chain.parent.time_ms,
        InvalidBlock::TimeNotAfterParent {
            time_ms: chain.parent.time_ms,
            parent_time_ms: chain.parent.time_ms,
        },
    );
    refused(
        &|b| b.txs.clear(),
        InvalidBlock::Shape(kessai_primitives::block::BlockShapeError::TxsRoot),
    );
    refused(&|b| b.header.receipts_root = Hash::ZERO, InvalidBlock::ReceiptsRoot);
    refused(&|b| b.header.state_root = Hash::ZERO, InvalidBlock::StateRoot);
    // Timeliness is the prevote rule, apart from validity: a block ahead of the checker's clock is
    // untimely, and valid all the same.
    let time = good.header.time_ms;
    assert_eq!(check_timely(&good.header, time - 1), Err(InvalidBlock::TimeInFuture(time)));
    assert_eq!(check_timely(&good.header, time), Ok(()));
    let strict = BlockRules { max_block_txs: 0, ..chain.rules.clone() };
    let crowded =
        check_block(&chain.runtime, &chain.state, &strict, &chain.parent, &good, &|_| false);
    assert!(is_invalid(crowded, InvalidBlock::TooManyTxs { count: 1, limit: 0 }));
    assert!(chain.check(&good).is_ok());
}

#[test]
fn a_scheduled_upgrade_changes_the_version_at_its_height() {
    let mut chain = Nodeless::genesis();
    let schedule = |nonce, protocol_version, height| {
        govern(nonce, GovernanceAction::ScheduleUpgrade { protocol_version, height })
    };
    let refusal = |t: &Transition| match &t.receipts[0].status {
        TxStatus::Failed { reason } => reason.clone(),
        status => panic!("expected a refusal, got {status:?}"),
    };
    // Block 1: too little notice (at least 5 heights), and not above the current version.
    let (_, t1) = chain.block(vec![schedule(0, 2, 5)], vec![]);
    assert!(refusal(&t1).contains("at 6 at the earliest"), "{}", refusal(&t1));
    let (b2, t2) = chain.block(vec![schedule(1, 1, 20)], vec![]);
    assert!(refusal(&t2).contains("not above the chain's current version 1"), "{}", refusal(&t2));
    assert_eq!(b2.header.protocol_version, 1);
    // Block 3 schedules version 2 at height 8.
    let (_, t3) = chain.block(vec![schedule(2, 2, 8)], vec![]);
    assert_eq!(t3.receipts[0].status, TxStatus::Success);
    let upgrade = kessai_primitives::protocol::ScheduledUpgrade { protocol_version: 2, height: 8 };
    assert_eq!(system::scheduled_upgrade(&chain.state).unwrap(), Some(upgrade));
    for _ in 4..8 {
        let (block, _) = chain.block(vec![], vec![]);
        assert_eq!(block.header.protocol_version, 1, "height {}", block.header.height);
    }
    // Block 8 must carry version 2: one still at 1 is refused.
    let (b8, t8) = chain.propose(vec![], vec![]);
    assert_eq!(b8.header.protocol_version, 2);
    let mut stale = b8.clone();
    stale.header.protocol_version = 1;
    assert!(is_invalid(chain.check(&stale), InvalidBlock::ProtocolVersion { expected: 2, got: 1 }));
    chain.check(&b8).unwrap();
    chain.commit(&b8, &t8);
    assert_eq!(system::protocol_version(&chain.state).unwrap(), 2);
    assert_eq!(system::scheduled_upgrade(&chain.state).unwrap(), None);
    let (b9, _) = chain.block(vec![], vec![]);
    assert_eq!(b9.header.protocol_version, 2);
    // Version 2's rule: a proposer outside the signing set. (Version 1 did not check it.)
    let (mut b10, _) = chain.propose(vec![], vec![]);
    b10.header.proposer = Keypair::dev("not-a-validator").public();
    assert!(is_invalid(chain.check(&b10), InvalidBlock::ProposerNotValidator(b10.header.proposer)));
    // An upgrade to a version this build does not know: blocks of it can neither be built nor
    // checked here.
    chain.block(vec![schedule(3, 99, 20)], vec![]);
    while chain.parent.height < 19 {
        chain.block(vec![], vec![]);
    }
    let last_commit = None;
    let input = BlockInput {
        chain_id: CHAIN,
        height: 20,
        time_ms: chain.parent.time_ms + BLOCK_INTERVAL_MS,
        parent: chain.parent.id,
        proposer: chain.proposer.public(),
        txs: &[],
        last_commit: &last_commit,
        evidence: &[],
        block_gas_limit: chain.rules.block_gas_limit,
    };
    let stuck = apply_block(&chain.runtime, &chain.state, &input, &|_| false);
    assert!(matches!(stuck, Err(TransitionError::UnsupportedProtocol(e)) if e.version == 99));
    let mut b20 = b10.clone();
    (b20.header.height, b20.header.parent) = (20, chain.parent.id);
    b20.header.time_ms = input.time_ms;
    let stuck = chain.check(&b20);
    assert!(matches!(stuck, Err(TransitionError::UnsupportedProtocol(e)) if e.version == 99));
}

#[test]
fn version_1_does_not_look_at_the_proposer_and_the_count_is_checked() {
    let chain = Nodeless::genesis();
    let (mut b1, _) = chain.propose(vec![], vec![]);
    b1.header.proposer = Keypair::dev("not-a-validator").public();
    chain.check(&b1).expect("version 1 takes any proposer");
    let (mut b1, _) = chain.propose(vec![], vec![]);
    b1.header.tx_count = 1;
    assert!(is_invalid(
        chain.check(&b1),
        InvalidBlock::Shape(kessai_primitives::block::BlockShapeError::TxCount {
            claimed: 1,
            actual: 0
        })
    ));
}
