//! Unit tests of the Tendermint rules, one node driven by hand-made messages.

use crate::{Action, Config, Consensus, Input, Message, RoundValue, Step, Timeout, TimeoutConfig};
use crate::{WalEntry, MAX_ROUNDS_AHEAD};
use kessai_primitives::{
    BlockId, Evidence, Hash, Keypair, Proposal, Validator, ValidatorSet, Vote, VoteKind,
};

const CHAIN: &str = "test-chain";
const H: u64 = 1;

fn block(name: &str) -> BlockId {
    Hash::digest(name.as_bytes())
}

fn config() -> Config {
    Config { chain_id: CHAIN.into(), timeouts: TimeoutConfig::default() }
}

/// A validator set of equal powers whose keys are indexed in set order.
struct Fixture {
    keys: Vec<Keypair>,
    set: ValidatorSet,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        Fixture::weighted(&vec![1; n])
    }

    fn weighted(powers: &[u64]) -> Fixture {
        let mut keys: Vec<Keypair> =
            (0..powers.len()).map(|i| Keypair::dev(&format!("unit{i}"))).collect();
        keys.sort_by_key(|k| k.public());
        let set = ValidatorSet::new(
            keys.iter()
                .zip(powers)
                .map(|(k, &power)| Validator { public_key: k.public(), power })
                .collect(),
        )
        .unwrap();
        Fixture { keys, set }
    }

    fn proposer(&self, height: u64, round: u32) -> &Keypair {
        let pk = self.set.proposer(height, round).public_key;
        self.keys.iter().find(|k| k.public() == pk).unwrap()
    }

    /// A key that does not propose in any of `rounds` at height `H`.
    fn bystander(&self, rounds: &[u32]) -> Keypair {
        let proposers: Vec<_> = rounds.iter().map(|&r| self.proposer(H, r).public()).collect();
        self.keys.iter().find(|k| !proposers.contains(&k.public())).unwrap().clone()
    }

    /// The other validators, excluding `me`.
    fn others(&self, me: &Keypair) -> Vec<Keypair> {
        self.keys.iter().filter(|k| k.public() != me.public()).cloned().collect()
    }

    /// A node of this set started at height `H`, and the actions of the start.
    fn start(&self, me: Option<&Keypair>) -> (Consensus, Vec<Action>) {
        let mut node = Consensus::new(config(), me.cloned());
        let actions = node.start_height(H, self.set.clone(), &[]);
        (node, actions)
    }
}

fn vote(key: &Keypair, round: u32, kind: VoteKind, block: Option<BlockId>) -> Input {
    let vote =
        Vote { chain_id: CHAIN.into(), height: H, round, kind, block, validator: key.public() };
    Input::Vote(vote.sign(key))
}

fn prevote(key: &Keypair, round: u32, block: Option<BlockId>) -> Input {
    vote(key, round, VoteKind::Prevote, block)
}

fn precommit(key: &Keypair, round: u32, block: Option<BlockId>) -> Input {
    vote(key, round, VoteKind::Precommit, block)
}

fn proposal(key: &Keypair, round: u32, pol_round: Option<u32>, block: BlockId) -> Input {
    let proposal = Proposal {
        chain_id: CHAIN.into(),
        height: H,
        round,
        pol_round,
        block,
        proposer: key.public(),
    };
    Input::Proposal { proposal: proposal.sign(key), block_valid: true, timely: true }
}

fn timeout(round: u32, step: Step) -> Input {
    Input::Timeout(Timeout { height: H, round, step })
}

fn feed(node: &mut Consensus, inputs: impl IntoIterator<Item = Input>) -> Vec<Action> {
    inputs.into_iter().flat_map(|i| node.handle(i)).collect()
}

/// Our votes broadcast in `actions`, as (round, kind, block).
fn our_votes(actions: &[Action]) -> Vec<(u32, VoteKind, Option<BlockId>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(Message::Vote(v)) => Some((v.vote.round, v.vote.kind, v.vote.block)),
            _ => None,
        })
        .collect()
}

fn our_proposals(actions: &[Action]) -> Vec<Proposal> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(Message::Proposal(p)) => Some(p.proposal.clone()),
            _ => None,
        })
        .collect()
}

fn wal_entries(actions: &[Action]) -> Vec<WalEntry> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::PersistWal(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn signs_nothing(actions: &[Action]) -> bool {
    !actions.iter().any(|a| matches!(a, Action::PersistWal(_) | Action::Broadcast(_)))
}

/// Every broadcast of a newly signed message comes right after the WAL entry holding it.
fn assert_persist_before_broadcast(actions: &[Action]) {
    for (i, action) in actions.iter().enumerate() {
        if let Action::PersistWal(entry) = action {
            assert_eq!(actions.get(i + 1), Some(&Action::Broadcast(entry.message.clone())));
        }
    }
}

/// Drives `me` (not a proposer in rounds 0..=2) to a lock on `v` in round 0, with three
/// precommits in round 0 seen so the precommit timeout is scheduled but no decision.
fn locked_in_round_zero(f: &Fixture, v: BlockId) -> (Keypair, Consensus, Vec<Action>) {
    let me = f.bystander(&[0, 1, 2]);
    let (mut node, mut log) = f.start(Some(&me));
    let others = f.others(&me);
    log.extend(node.handle(proposal(f.proposer(H, 0), 0, None, v)));
    log.extend(feed(&mut node, others[..2].iter().map(|k| prevote(k, 0, Some(v)))));
    log.extend(feed(&mut node, others[..2].iter().map(|k| precommit(k, 0, None))));
    assert_eq!(node.locked(), Some(RoundValue { block: v, round: 0 }));
    (me, node, log)
}

#[test]
fn one_validator_decides_alone() {
    let f = Fixture::new(1);
    let (mut node, start) = f.start(Some(&f.keys[0]));
    assert_eq!(start, vec![Action::RequestValue { height: H, round: 0 }]);
    let v = block("v");
    let actions = node.handle(Input::ProposeValue { height: H, round: 0, block: v });
    assert_persist_before_broadcast(&actions);
    assert_eq!(our_proposals(&actions).len(), 1);
    assert_eq!(
        our_votes(&actions),
        vec![(0, VoteKind::Prevote, Some(v)), (0, VoteKind::Precommit, Some(v))]
    );
    let Some(Action::Decide { height, round, block, commit }) = actions.last() else {
        panic!("no decision in {actions:?}");
    };
    assert_eq!((*height, *round, *block), (H, 0, v));
    assert_eq!(commit.verify(CHAIN, H, &v, &f.set), Ok(1));
    assert_eq!(node.step(), Step::Commit);
    // A decided height ignores everything until the next one starts.
    assert!(node.handle(timeout(0, Step::Precommit)).is_empty());
    let next = node.start_height(H + 1, f.set.clone(), &[]);
    assert_eq!(next, vec![Action::RequestValue { height: H + 1, round: 0 }]);
}

/// The key's signing state (kept by the shell beside the key) says it signed up to round 0's
/// precommit of this height in an earlier life whose WAL is gone: the node signs nothing there —
/// not even a vote it would count for itself — and signs again from round 1.
#[test]
fn never_signs_at_or_before_the_floor_the_shell_gives_it() {
    let f = Fixture::new(1);
    let mut node = Consensus::new(config(), Some(f.keys[0].clone()));
    node.never_sign_at_or_before(H, 0, crate::SignedKind::Precommit);
    let start = node.start_height(H, f.set.clone(), &[]);
    let v = block("v");
    let mut actions = start;
    actions.extend(node.handle(Input::ProposeValue { height: H, round: 0, block: v }));
    assert!(signs_nothing(&actions), "signed at or below the floor: {actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Decide { .. })));
    let actions = feed(&mut node, [timeout(0, Step::Propose), timeout(0, Step::Prevote)]);
    assert!(signs_nothing(&actions));
    // Round 1 is above the floor.
    let actions = feed(&mut node, [timeout(0, Step::Precommit)]);
    let actions: Vec<Action> = actions
        .into_iter()
        .chain(node.handle(Input::ProposeValue { height: H, round: 1, block: v }))
        .collect();
    assert_eq!(our_proposals(&actions).len(), 1, "{actions:?}");
    assert!(actions.iter().any(|a| matches!(a, Action::Decide { round: 1, .. })));
}

/// A validator alone whose floor is round 0's prevote (it proposed and prevoted there in a life
/// whose WAL and blocks are gone): nobody else's votes can end round 0 for it, so each step it may
/// not sign ends on a timer it sets itself — propose, prevote, precommit — and round 1 decides.
#[test]
fn a_validator_below_its_floor_leaves_the_round_on_its_own_timers() {
    let f = Fixture::new(1);
    let mut node = Consensus::new(config(), Some(f.keys[0].clone()));
    node.never_sign_at_or_before(H, 0, crate::SignedKind::Prevote);
    let v = block("v");
    let mut actions = node.start_height(H, f.set.clone(), &[]);
    actions.extend(node.handle(Input::ProposeValue { height: H, round: 0, block: v }));
    let scheduled = |actions: &[Action], step: Step| {
        actions.iter().any(|a| {
            matches!(a, Action::ScheduleTimeout { timeout, .. } if *timeout == Timeout { height: H, round: 0, step })
        })
    };
    assert!(signs_nothing(&actions), "{actions:?}");
    assert!(scheduled(&actions, Step::Propose), "no timer ends the round: {actions:?}");
    let actions = feed(&mut node, [timeout(0, Step::Propose)]);
    assert!(signs_nothing(&actions), "{actions:?}");
    assert!(scheduled(&actions, Step::Prevote), "{actions:?}");
    let actions = feed(&mut node, [timeout(0, Step::Prevote)]);
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, None)]);
    assert!(scheduled(&actions, Step::Precommit), "{actions:?}");
    let mut actions = feed(&mut node, [timeout(0, Step::Precommit)]);
    actions.extend(node.handle(Input::ProposeValue { height: H, round: 1, block: v }));
    assert_eq!(our_proposals(&actions).len(), 1, "{actions:?}");
    assert!(actions.iter().any(|a| matches!(a, Action::Decide { round: 1, .. })));
}

#[test]
fn prevotes_a_valid_proposal_then_locks_and_precommits_on_its_polka() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.bystander(&[0]);
    let (mut node, start) = f.start(Some(&me));
    assert_eq!(
        start,
        vec![Action::ScheduleTimeout {
            timeout: Timeout { height: H, round: 0, step: Step::Propose },
            after_ms: 1000
        }]
    );
    let actions = node.handle(proposal(f.proposer(H, 0), 0, None, v));
    assert_persist_before_broadcast(&actions);
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Prevote, Some(v))]);
    assert_eq!(node.step(), Step::Prevote);

    let others = f.others(&me);
    // Two prevotes (ours and one more) are not a polka of four.
    assert!(our_votes(&node.handle(prevote(&others[0], 0, Some(v)))).is_empty());
    let actions = node.handle(prevote(&others[1], 0, Some(v)));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, Some(v))]);
    let lock = Some(RoundValue { block: v, round: 0 });
    assert_eq!((node.locked(), node.valid(), node.step()), (lock, lock, Step::Precommit));
    // The WAL entry of the precommit carries the new lock.
    assert_eq!(wal_entries(&actions)[0].locked, lock);

    // Two more precommits make +2/3 for v: decided, with a verifiable commit.
    let actions = feed(&mut node, others[..2].iter().map(|k| precommit(k, 0, Some(v))));
    let Some(Action::Decide { commit, .. }) = actions.last() else { panic!("{actions:?}") };
    assert_eq!(commit.verify(CHAIN, H, &v, &f.set), Ok(3));
}

#[test]
fn invalid_block_gets_a_nil_prevote_and_is_never_locked_or_decided() {
    let f = Fixture::new(4);
    let v = block("bad");
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let Input::Proposal { proposal, .. } = proposal(f.proposer(H, 0), 0, None, v) else {
        unreachable!()
    };
    let actions = node.handle(Input::Proposal { proposal, block_valid: false, timely: true });
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Prevote, None)]);
    let others = f.others(&me);
    // A polka and even +2/3 precommits for an invalid block move nothing.
    let actions = feed(&mut node, others.iter().map(|k| prevote(k, 0, Some(v))));
    assert!(our_votes(&actions).is_empty());
    let actions = feed(&mut node, others.iter().map(|k| precommit(k, 0, Some(v))));
    assert!(!actions.iter().any(|a| matches!(a, Action::Decide { .. })));
    assert_eq!(node.locked(), None);
}

/// [`proposal`] whose block is valid but whose time is too far ahead of our clock.
fn untimely(key: &Keypair, round: u32, pol_round: Option<u32>, block: BlockId) -> Input {
    let Input::Proposal { proposal: signed, .. } = proposal(key, round, pol_round, block) else {
        unreachable!()
    };
    Input::Proposal { proposal: signed, block_valid: true, timely: false }
}

#[test]
fn untimely_block_gets_a_nil_prevote_but_is_locked_and_decided_on_the_others_votes() {
    let f = Fixture::new(4);
    let v = block("from the future");
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let actions = node.handle(untimely(f.proposer(H, 0), 0, None, v));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Prevote, None)]);
    // The block is valid: the others' polka locks us on it and we precommit it (line 36), and
    // their precommits decide it (line 49). Our clock only withheld our prevote.
    let others = f.others(&me);
    let actions = feed(&mut node, others.iter().map(|k| prevote(k, 0, Some(v))));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, Some(v))]);
    assert_eq!(node.locked(), Some(RoundValue { block: v, round: 0 }));
    let actions = feed(&mut node, others.iter().map(|k| precommit(k, 0, Some(v))));
    assert!(actions.iter().any(|a| matches!(a, Action::Decide { block, .. } if *block == v)));
}

#[test]
fn untimely_block_is_decided_on_precommits_alone() {
    let f = Fixture::new(4);
    let v = block("from the future");
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    node.handle(untimely(f.proposer(H, 0), 0, None, v));
    // We missed the prevotes: +2/3 precommits are enough (the commit is there).
    let actions = feed(&mut node, f.others(&me).iter().map(|k| precommit(k, 0, Some(v))));
    assert!(actions.iter().any(|a| matches!(a, Action::Decide { block, .. } if *block == v)));
}

#[test]
fn untimely_reproposal_with_its_proof_of_lock_gets_our_prevote() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.bystander(&[0, 1]);
    let (mut node, _) = f.start(Some(&me));
    node.handle(untimely(f.proposer(H, 0), 0, None, v));
    // A polka for v in round 0 that we saw too late to precommit on.
    node.handle(timeout(0, Step::Propose));
    let others = f.others(&me);
    node.handle(timeout(0, Step::Prevote));
    feed(&mut node, others.iter().map(|k| prevote(k, 0, Some(v))));
    feed(&mut node, others.iter().map(|k| precommit(k, 0, None)));
    node.handle(timeout(0, Step::Precommit));
    assert_eq!(node.round(), 1);
    // Re-proposed with its proof of lock: its time is its first round's, no longer ours to judge.
    let actions = node.handle(untimely(f.proposer(H, 1), 1, Some(0), v));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, Some(v))]);
}

#[test]
fn locked_validator_prevotes_nil_for_another_value_and_yes_for_its_own() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let (_, mut node, _) = locked_in_round_zero(&f, v);
    // The precommit timeout moves us to round 1.
    let actions = node.handle(timeout(0, Step::Precommit));
    assert_eq!((node.round(), node.step()), (1, Step::Propose));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ScheduleTimeout {
            timeout: Timeout { round: 1, step: Step::Propose, .. },
            after_ms: 1500
        }
    )));
    let actions = node.handle(proposal(f.proposer(H, 1), 1, None, w));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, None)]);

    // Same start, but round 1 proposes the block we are locked on.
    let (_, mut node, _) = locked_in_round_zero(&f, v);
    node.handle(timeout(0, Step::Precommit));
    let actions = node.handle(proposal(f.proposer(H, 1), 1, None, v));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, Some(v))]);
}

#[test]
fn newer_polka_moves_the_lock() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let (me, mut node, _) = locked_in_round_zero(&f, v);
    node.handle(timeout(0, Step::Precommit));
    // Round 1 proposes w: we prevote nil (locked on v) ...
    let actions = node.handle(proposal(f.proposer(H, 1), 1, None, w));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, None)]);
    // ... but the three others form a polka for w: line 36 relocks on w.
    let actions = feed(&mut node, f.others(&me).iter().map(|k| prevote(k, 1, Some(w))));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Precommit, Some(w))]);
    assert_eq!(node.locked(), Some(RoundValue { block: w, round: 1 }));
}

#[test]
fn reproposal_with_a_later_proof_of_lock_unlocks() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let (me, mut node, _) = locked_in_round_zero(&f, v);
    let others = f.others(&me);
    node.handle(timeout(0, Step::Precommit));
    node.handle(proposal(f.proposer(H, 1), 1, None, w)); // we prevote nil
                                                         // Two prevotes for w + ours for nil: +2/3 of anything, so the prevote timer starts; it fires
                                                         // and we precommit nil before the third prevote for w arrives.
    let actions = feed(&mut node, others[..2].iter().map(|k| prevote(k, 1, Some(w))));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ScheduleTimeout { timeout: Timeout { round: 1, step: Step::Prevote, .. }, .. }
    )));
    let actions = node.handle(timeout(1, Step::Prevote));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Precommit, None)]);
    let actions = node.handle(prevote(&others[2], 1, Some(w)));
    assert!(our_votes(&actions).is_empty(), "too late to precommit in round 1");
    // The late polka makes w our valid value, but the lock stays on v.
    assert_eq!(node.valid(), Some(RoundValue { block: w, round: 1 }));
    assert_eq!(node.locked(), Some(RoundValue { block: v, round: 0 }));

    // Round 2 re-proposes w with proof of lock in round 1, after our lock (round 0): prevote w.
    node.handle(timeout(1, Step::Precommit));
    assert_eq!(node.round(), 2);
    let actions = node.handle(proposal(f.proposer(H, 2), 2, Some(1), w));
    assert_eq!(our_votes(&actions), vec![(2, VoteKind::Prevote, Some(w))]);
}

#[test]
fn reproposal_waits_for_its_proof_of_lock() {
    let f = Fixture::new(4);
    let w = block("w");
    let me = f.bystander(&[0, 1]);
    let (mut node, _) = f.start(Some(&me));
    // Round 0 passes without a proposal for us: nil prevote, nil precommit, next round.
    node.handle(timeout(0, Step::Propose));
    node.handle(timeout(0, Step::Prevote));
    node.handle(timeout(0, Step::Precommit));
    assert_eq!((node.round(), node.step()), (1, Step::Propose));
    // Round 1 re-proposes w claiming a polka in round 0 that we have not seen: no prevote yet.
    let actions = node.handle(proposal(f.proposer(H, 1), 1, Some(0), w));
    assert!(our_votes(&actions).is_empty());
    assert_eq!(node.step(), Step::Propose);
    // The three others' round-0 prevotes for w arrive (relayed late): now it is proven.
    let others = f.others(&me);
    let mut actions = feed(&mut node, others[..2].iter().map(|k| prevote(k, 0, Some(w))));
    assert!(our_votes(&actions).is_empty(), "two of four is not a polka");
    actions = node.handle(prevote(&others[2], 0, Some(w)));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, Some(w))]);
}

#[test]
fn reproposal_with_a_proof_of_lock_older_than_our_lock_gets_nil() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let me = f.bystander(&[0, 1, 2]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    // Round 0: a polka for w, a block we have not received yet, so we cannot lock on it.
    node.handle(timeout(0, Step::Propose));
    feed(&mut node, others.iter().map(|k| prevote(k, 0, Some(w))));
    node.handle(timeout(0, Step::Prevote));
    node.handle(timeout(0, Step::Precommit));
    // Round 1: v is proposed and gets a polka: we lock on v in round 1.
    node.handle(proposal(f.proposer(H, 1), 1, None, v));
    feed(&mut node, others.iter().map(|k| prevote(k, 1, Some(v))));
    assert_eq!(node.locked(), Some(RoundValue { block: v, round: 1 }));
    node.handle(timeout(1, Step::Precommit));
    // Round 2 re-proposes w with its (real) round-0 polka: older than our lock, so nil.
    let actions = node.handle(proposal(f.proposer(H, 2), 2, Some(0), w));
    assert_eq!(our_votes(&actions), vec![(2, VoteKind::Prevote, None)]);
}

#[test]
fn proposer_reproposes_its_valid_value_with_its_polka_round() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.proposer(H, 1).clone();
    assert_ne!(f.proposer(H, 0).public(), me.public());
    let (mut node, _) = f.start(Some(&me));
    let others: Vec<_> = f.others(&me);
    node.handle(proposal(f.proposer(H, 0), 0, None, v));
    feed(&mut node, others[..2].iter().map(|k| prevote(k, 0, Some(v))));
    feed(&mut node, others[..2].iter().map(|k| precommit(k, 0, None)));
    assert_eq!(node.valid(), Some(RoundValue { block: v, round: 0 }));
    let actions = node.handle(timeout(0, Step::Precommit));
    assert!(!actions.iter().any(|a| matches!(a, Action::RequestValue { .. })));
    let proposals = our_proposals(&actions);
    assert_eq!(proposals.len(), 1);
    assert_eq!((proposals[0].round, proposals[0].block, proposals[0].pol_round), (1, v, Some(0)));
    // And we prevote our own re-proposal (we hold the round-0 polka).
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, Some(v))]);
    assert_persist_before_broadcast(&actions);
}

#[test]
fn proposer_asks_for_a_value_and_ignores_stale_answers() {
    let f = Fixture::new(4);
    let me = f.proposer(H, 0).clone();
    let (mut node, start) = f.start(Some(&me));
    assert_eq!(start, vec![Action::RequestValue { height: H, round: 0 }]);
    assert!(node.handle(Input::ProposeValue { height: H, round: 1, block: block("x") }).is_empty());
    assert!(node.handle(Input::ProposeValue { height: 2, round: 0, block: block("x") }).is_empty());
    let v = block("v");
    let actions = node.handle(Input::ProposeValue { height: H, round: 0, block: v });
    assert_eq!(our_proposals(&actions)[0].block, v);
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Prevote, Some(v))]);
    // A second answer does not make us propose twice.
    assert!(node.handle(Input::ProposeValue { height: H, round: 0, block: block("y") }).is_empty());
}

#[test]
fn propose_timeout_gives_a_nil_prevote_and_stale_timeouts_do_nothing() {
    let f = Fixture::new(4);
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    assert!(node.handle(timeout(1, Step::Propose)).is_empty());
    assert!(node
        .handle(Input::Timeout(Timeout { height: 2, round: 0, step: Step::Propose }))
        .is_empty());
    assert!(node.handle(timeout(0, Step::Prevote)).is_empty());
    let actions = node.handle(timeout(0, Step::Propose));
    assert_persist_before_broadcast(&actions);
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Prevote, None)]);
    assert_eq!(node.step(), Step::Prevote);
    // A proposal arriving now is too late for this round.
    assert!(our_votes(&node.handle(proposal(f.proposer(H, 0), 0, None, block("v")))).is_empty());
    // +2/3 nil prevotes: precommit nil (line 44).
    let others = f.others(&me);
    let actions = feed(&mut node, others[..2].iter().map(|k| prevote(k, 0, None)));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, None)]);
}

#[test]
fn skips_to_a_round_where_more_than_a_third_of_the_power_is() {
    let f = Fixture::new(4);
    let me = f.bystander(&[0, 5]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    // One validator of four (a possible liar) is not enough.
    assert!(node.handle(prevote(&others[0], 5, None)).is_empty());
    assert_eq!(node.round(), 0);
    let actions = node.handle(precommit(&others[1], 5, None));
    assert_eq!((node.round(), node.step()), (5, Step::Propose));
    assert!(actions.contains(&Action::ScheduleTimeout {
        timeout: Timeout { height: H, round: 5, step: Step::Propose },
        after_ms: 1000 + 5 * 500
    }));
    assert!(signs_nothing(&actions));

    // By power, not by head count: one validator with 2 of 4 power is more than a third.
    let f = Fixture::weighted(&[2, 1, 1]);
    let heavy = f.keys.iter().find(|k| f.set.power_of(&k.public()) == 2).unwrap().clone();
    let light = f.others(&heavy);
    let (mut node, _) = f.start(Some(&light[0]));
    node.handle(prevote(&light[1], 3, None));
    assert_eq!(node.round(), 0);
    node.handle(prevote(&heavy, 2, None));
    assert_eq!(node.round(), 2);
}

#[test]
fn equivocation_yields_evidence_once_and_counts_the_cheat_once_per_value() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    let cheat = &others[0];
    node.handle(timeout(0, Step::Propose)); // we prevote nil
    node.handle(proposal(f.proposer(H, 0), 0, None, w)); // w is known valid
    assert!(node.handle(prevote(cheat, 0, Some(v))).is_empty());
    let actions = node.handle(prevote(cheat, 0, Some(w)));
    let [Action::Evidence(evidence)] = actions.as_slice() else { panic!("{actions:?}") };
    assert!(evidence.verify().is_ok());
    assert_eq!(evidence.offender(), cheat.public());
    let Evidence::DuplicateVote { first, second } = evidence;
    assert_eq!((first.vote.block, second.vote.block), (Some(v), Some(w)));
    // A third version, and a repeat of the first: no new evidence.
    assert!(node.handle(prevote(cheat, 0, None)).is_empty());
    assert!(node.handle(prevote(cheat, 0, Some(v))).is_empty());
    // The cheat's power counts once towards "+2/3 of anything": with ours, 2 of 4, no timer yet.
    // One honest prevote for w makes 3 voters (timer) and w has 2 (the cheat's second vote).
    let actions = node.handle(prevote(&others[1], 0, Some(w)));
    assert!(our_votes(&actions).is_empty());
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ScheduleTimeout { timeout: Timeout { step: Step::Prevote, .. }, .. }
    )));
    // A second honest prevote for w: a polka that includes the cheat's second vote. (Counting only
    // its first vote would hide this polka from us for ever; see `VoteSet`.)
    let actions = node.handle(prevote(&others[2], 0, Some(w)));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, Some(w))]);
}

#[test]
fn keeps_only_a_few_versions_of_an_equivocators_vote() {
    let f = Fixture::new(4);
    let w = block("w");
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    let cheat = &others[0];
    node.handle(proposal(f.proposer(H, 0), 0, None, w)); // we prevote w
    feed(&mut node, others[1..].iter().map(|k| prevote(k, 0, Some(w)))); // polka: we precommit w
    node.handle(precommit(&others[1], 0, Some(w)));
    // Four junk precommits fill the cheat's versions; its fifth, for w, would complete +2/3.
    let junk = ["j1", "j2", "j3", "j4"].map(|j| precommit(cheat, 0, Some(block(j))));
    let actions = feed(&mut node, junk);
    assert_eq!(actions.iter().filter(|a| matches!(a, Action::Evidence(_))).count(), 1);
    let actions = node.handle(precommit(cheat, 0, Some(w)));
    assert!(!actions.iter().any(|a| matches!(a, Action::Decide { .. })), "{actions:?}");
    // An honest precommit decides, without the cheat's signature.
    let actions = node.handle(precommit(&others[2], 0, Some(w)));
    let Some(Action::Decide { commit, .. }) = actions.last() else { panic!("{actions:?}") };
    assert!(!commit.signatures.iter().any(|s| s.validator == cheat.public()));
}

#[test]
fn ignores_messages_it_must_not_count() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    let mallory = Keypair::dev("mallory");

    // A proposal from someone who is not the round's proposer, one of another chain, and one with a
    // forged signature.
    let not_proposer = others.iter().find(|k| k.public() != f.proposer(H, 0).public()).unwrap();
    assert!(node.handle(proposal(not_proposer, 0, None, v)).is_empty());
    let mut foreign = Proposal {
        chain_id: "other".into(),
        height: H,
        round: 0,
        pol_round: None,
        block: v,
        proposer: f.proposer(H, 0).public(),
    };
    let signed = foreign.clone().sign(f.proposer(H, 0));
    assert!(node
        .handle(Input::Proposal { proposal: signed, block_valid: true, timely: true })
        .is_empty());
    foreign.chain_id = CHAIN.into();
    let mut forged = foreign.clone().sign(f.proposer(H, 0));
    forged.proposal.block = block("forged");
    assert!(node
        .handle(Input::Proposal { proposal: forged, block_valid: true, timely: true })
        .is_empty());
    // A proposal whose proof-of-lock round is not before its round.
    assert!(node.handle(proposal(f.proposer(H, 0), 0, Some(0), v)).is_empty());
    assert_eq!(node.step(), Step::Propose);

    // Votes: an outsider, another chain, an old height, a bad signature. None of them counts
    // towards the nil polka that the two real ones plus ours would make.
    node.handle(timeout(0, Step::Propose));
    let outsider = prevote(&mallory, 0, None);
    let Input::Vote(mut foreign_vote) = prevote(&others[0], 0, None) else { unreachable!() };
    foreign_vote.vote.chain_id = "other".into();
    foreign_vote = foreign_vote.vote.sign(&others[0]);
    let Input::Vote(mut old) = prevote(&others[0], 0, None) else { unreachable!() };
    old.vote.height = 0;
    old = old.vote.sign(&others[0]);
    let Input::Vote(mut bad_sig) = prevote(&others[1], 0, None) else { unreachable!() };
    bad_sig.signature.0[0] ^= 1;
    let inputs = [outsider, Input::Vote(foreign_vote), Input::Vote(old), Input::Vote(bad_sig)];
    assert!(feed(&mut node, inputs).is_empty());
    // Way beyond the round window: ignored, even from more than a third.
    let far = MAX_ROUNDS_AHEAD + 1;
    assert!(feed(&mut node, others.iter().map(|k| prevote(k, far, None))).is_empty());
    assert_eq!(node.round(), 0);
    // The real ones work.
    let actions = feed(&mut node, others[..2].iter().map(|k| prevote(k, 0, None)));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, None)]);
}

#[test]
fn buffers_the_next_height_and_replays_it_when_it_starts() {
    let f = Fixture::new(4);
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let next = H + 1;
    let v = block("next");
    let key = f.set.proposer(next, 0).public_key;
    let proposer = f.keys.iter().find(|k| k.public() == key).unwrap();
    let p = Proposal {
        chain_id: CHAIN.into(),
        height: next,
        round: 0,
        pol_round: None,
        block: v,
        proposer: key,
    }
    .sign(proposer);
    assert!(node
        .handle(Input::Proposal { proposal: p.clone(), block_valid: true, timely: true })
        .is_empty());
    // Two heights ahead: dropped, not buffered.
    let far = Proposal { height: next + 1, ..p.proposal.clone() }.sign(proposer);
    assert!(node
        .handle(Input::Proposal { proposal: far, block_valid: true, timely: true })
        .is_empty());
    assert_eq!(node.height(), H);

    let actions = node.start_height(next, f.set.clone(), &[]);
    if me.public() != key {
        assert_eq!(node.height(), next);
        let votes: Vec<_> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Broadcast(Message::Vote(v)) => Some((v.vote.height, v.vote.block)),
                _ => None,
            })
            .collect();
        assert_eq!(votes, vec![(next, Some(v))]);
    }
}

#[test]
fn full_node_follows_and_decides_without_signing() {
    let f = Fixture::new(4);
    let v = block("v");
    let (mut node, start) = f.start(None);
    assert!(signs_nothing(&start));
    let mut actions = node.handle(proposal(f.proposer(H, 0), 0, None, v));
    actions.extend(node.handle(timeout(0, Step::Propose)));
    actions.extend(feed(&mut node, f.keys[..3].iter().map(|k| precommit(k, 0, Some(v)))));
    assert!(signs_nothing(&actions));
    let Some(Action::Decide { commit, .. }) = actions.last() else { panic!("{actions:?}") };
    assert!(commit.verify(CHAIN, H, &v, &f.set).is_ok());
}

#[test]
fn decides_only_once_the_block_is_known_valid() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.bystander(&[0, 1]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    // +2/3 precommits in round 1 for a block we have not received: no decision.
    let actions = feed(&mut node, others.iter().map(|k| precommit(k, 1, Some(v))));
    assert!(!actions.iter().any(|a| matches!(a, Action::Decide { .. })));
    assert_eq!(node.round(), 1, "more than a third is in round 1");
    // Its block arrives in a round-1 proposal: decided in round 1.
    let actions = node.handle(proposal(f.proposer(H, 1), 1, None, v));
    let Some(Action::Decide { round, commit, .. }) = actions.last() else { panic!("{actions:?}") };
    assert_eq!(*round, 1);
    assert_eq!(commit.signatures.len(), 3);
    assert!(commit.verify(CHAIN, H, &v, &f.set).is_ok());
}

#[test]
fn timeouts_grow_with_the_round() {
    let t = TimeoutConfig::default();
    assert_eq!(t.duration_ms(Step::Propose, 0), 1000);
    assert_eq!(t.duration_ms(Step::Propose, 3), 2500);
    assert_eq!(t.duration_ms(Step::Prevote, 2), 1000);
    assert_eq!(t.duration_ms(Step::Precommit, 4), 1500);
    assert_eq!(t.duration_ms(Step::Precommit, u32::MAX), 500 + 250 * u64::from(u32::MAX));
}

// ---- WAL ------------------------------------------------------------------------------------

#[test]
fn wal_entry_round_trips_through_borsh() {
    let f = Fixture::new(1);
    let (mut node, _) = f.start(Some(&f.keys[0]));
    let actions = node.handle(Input::ProposeValue { height: H, round: 0, block: block("v") });
    let entries = wal_entries(&actions);
    assert_eq!(entries.len(), 3);
    for entry in entries {
        let bytes = borsh::to_vec(&entry).unwrap();
        assert_eq!(borsh::from_slice::<WalEntry>(&bytes).unwrap(), entry);
    }
}

#[test]
fn restart_restores_the_lock_and_resends_the_exact_precommit() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let (me, _crashed, log) = locked_in_round_zero(&f, v);
    let wal = wal_entries(&log);
    let precommit_sent = wal.last().unwrap().message.clone();

    let mut node = Consensus::new(config(), Some(me.clone()));
    let actions = node.start_height(H, f.set.clone(), &wal);
    // Resumes where it signed last and says the same thing again, without signing anything new.
    assert_eq!((node.round(), node.step()), (0, Step::Precommit));
    assert_eq!(node.locked(), Some(RoundValue { block: v, round: 0 }));
    assert!(wal_entries(&actions).is_empty());
    assert!(actions.contains(&Action::Broadcast(precommit_sent)));
    // The restored lock holds: round 1 proposes w, we prevote nil.
    node.handle(timeout(0, Step::Precommit));
    let actions = node.handle(proposal(f.proposer(H, 1), 1, None, w));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, None)]);
}

#[test]
fn restart_after_a_prevote_never_signs_a_different_one() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let actions = node.handle(proposal(f.proposer(H, 0), 0, None, v));
    let wal = wal_entries(&actions);
    assert_eq!(wal.len(), 1);

    // Crash before the broadcast: the entry is all that survives.
    let mut node = Consensus::new(config(), Some(me.clone()));
    let restart = node.start_height(H, f.set.clone(), &wal);
    assert_eq!(restart, vec![Action::Broadcast(wal[0].message.clone())]);
    // The propose timeout of round 0 would make a fresh node prevote nil; we already prevoted v.
    let actions = node.handle(timeout(0, Step::Propose));
    assert!(signs_nothing(&actions));
    // +2/3 nil prevotes from the others still lead to a (new, allowed) nil precommit.
    let actions = feed(&mut node, f.others(&me).iter().map(|k| prevote(k, 0, None)));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Precommit, None)]);
}

#[test]
fn restarted_proposer_resends_its_proposal_and_prevotes_it() {
    let f = Fixture::new(4);
    let me = f.proposer(H, 0).clone();
    let (mut node, _) = f.start(Some(&me));
    let v = block("v");
    let actions = node.handle(Input::ProposeValue { height: H, round: 0, block: v });
    // Crash right after persisting the proposal.
    let wal = &wal_entries(&actions)[..1];
    let mut node = Consensus::new(config(), Some(me));
    let actions = node.start_height(H, f.set.clone(), wal);
    assert_eq!(actions[0], Action::Broadcast(wal[0].message.clone()));
    assert!(!actions.iter().any(|a| matches!(a, Action::RequestValue { .. })));
    assert_eq!(our_votes(&actions), vec![(0, VoteKind::Prevote, Some(v))]);
}

#[test]
fn never_signs_before_the_latest_signature_in_the_wal() {
    let f = Fixture::new(4);
    let me = f.bystander(&[0, 1]);
    // An entry from a later height (the shell rolled back): nothing at height H may be signed.
    let later = WalEntry {
        message: Message::Vote(
            Vote {
                chain_id: CHAIN.into(),
                height: H + 1,
                round: 0,
                kind: VoteKind::Prevote,
                block: None,
                validator: me.public(),
            }
            .sign(&me),
        ),
        locked: None,
        valid: None,
        proof: Vec::new(),
    };
    let mut node = Consensus::new(config(), Some(me.clone()));
    node.start_height(H, f.set.clone(), &[later]);
    let mut actions = node.handle(timeout(0, Step::Propose));
    actions.extend(feed(&mut node, f.others(&me).iter().map(|k| prevote(k, 0, None))));
    actions.extend(node.handle(timeout(0, Step::Precommit)));
    assert!(signs_nothing(&actions), "{actions:?}");
    // It still follows the rounds.
    assert_eq!(node.round(), 1);
}

#[test]
fn echo_of_a_vote_we_lost_from_the_wal_is_repeated_not_contradicted() {
    let f = Fixture::new(4);
    let v = block("v");
    let me = f.bystander(&[0]);
    // A restart without the WAL; a peer relays our earlier prevote for v.
    let (mut node, _) = f.start(Some(&me));
    let echo = prevote(&me, 0, Some(v));
    node.handle(echo.clone());
    let actions = node.handle(timeout(0, Step::Propose));
    let Input::Vote(earlier) = echo else { unreachable!() };
    assert_eq!(actions, vec![Action::Broadcast(Message::Vote(earlier))]);
}

#[test]
fn restarting_the_same_height_in_process_keeps_what_was_signed() {
    let f = Fixture::new(4);
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    node.handle(proposal(f.proposer(H, 0), 0, None, block("v")));
    // The shell restarts the height without passing its WAL: the core still remembers.
    node.start_height(H, f.set.clone(), &[]);
    assert_eq!(node.step(), Step::Prevote);
    assert!(signs_nothing(&node.handle(timeout(0, Step::Propose))));
}

// ---- several nodes ---------------------------------------------------------------------------

fn messages(actions: &[Action]) -> Vec<Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn input(message: &Message) -> Input {
    match message {
        Message::Proposal(p) => {
            Input::Proposal { proposal: p.clone(), block_valid: true, timely: true }
        }
        Message::Vote(v) => Input::Vote(v.clone()),
    }
}

/// Our vote of `kind` in `actions`.
fn vote_in(actions: &[Action], kind: VoteKind) -> Message {
    messages(actions)
        .into_iter()
        .find(|m| matches!(m, Message::Vote(v) if v.vote.kind == kind))
        .unwrap_or_else(|| panic!("no {kind:?} in {actions:?}"))
}

fn decisions(actions: &[Action]) -> Vec<BlockId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Decide { block, .. } => Some(*block),
            _ => None,
        })
        .collect()
}

/// The attack locks exist for. A Byzantine validator D shows its votes for v only to some honest
/// validators: A decides v in round 0, B is locked on v, C never saw the polka. In round 1, D
/// proposes w. Without B's lock, B, C and D would decide w too.
#[test]
fn locks_keep_a_split_network_from_deciding_twice() {
    let f = Fixture::new(4);
    let (v, w) = (block("v"), block("w"));
    let d = f.proposer(H, 1).clone();
    let a_key = f.proposer(H, 0).clone();
    let rest: Vec<Keypair> =
        f.others(&d).into_iter().filter(|k| k.public() != a_key.public()).collect();
    let (mut a, _) = f.start(Some(&a_key));
    let (mut b, _) = f.start(Some(&rest[0]));
    let (mut c, _) = f.start(Some(&rest[1]));

    // Round 0: A proposes v; B gets the proposal, C does not and times out.
    let a0 = a.handle(Input::ProposeValue { height: H, round: 0, block: v });
    let proposal_v = messages(&a0)[0].clone();
    let b0 = b.handle(input(&proposal_v));
    let c0 = c.handle(timeout(0, Step::Propose));
    let (a_pv, b_pv, c_pv) = (
        vote_in(&a0, VoteKind::Prevote),
        vote_in(&b0, VoteKind::Prevote),
        vote_in(&c0, VoteKind::Prevote),
    );
    // D prevotes v to A and B, nil to C: A and B see a polka and lock, C does not.
    let mut a1 = feed(&mut a, [input(&b_pv), input(&c_pv), prevote(&d, 0, Some(v))]);
    let b1 = feed(&mut b, [input(&a_pv), input(&c_pv), prevote(&d, 0, Some(v))]);
    let mut c1 = feed(&mut c, [input(&a_pv), input(&b_pv), prevote(&d, 0, None)]);
    c1.extend(c.handle(timeout(0, Step::Prevote)));
    assert_eq!(b.locked(), Some(RoundValue { block: v, round: 0 }));
    assert_eq!(c.locked(), None);
    let (a_pc, b_pc, c_pc) = (
        vote_in(&a1, VoteKind::Precommit),
        vote_in(&b1, VoteKind::Precommit),
        vote_in(&c1, VoteKind::Precommit),
    );
    // D precommits v to A only: A decides v; B and C see two precommits for v and move on.
    a1 = feed(&mut a, [input(&b_pc), input(&c_pc), precommit(&d, 0, Some(v))]);
    assert_eq!(decisions(&a1), vec![v]);
    let mut later = feed(&mut b, [input(&a_pc), input(&c_pc), precommit(&d, 0, None)]);
    later.extend(feed(&mut c, [input(&a_pc), input(&b_pc), precommit(&d, 0, None)]));
    later.extend(b.handle(timeout(0, Step::Precommit)));
    later.extend(c.handle(timeout(0, Step::Precommit)));
    assert_eq!((b.round(), c.round()), (1, 1));

    // Round 1: D proposes w and votes for it everywhere; A is unreachable.
    let b2 = b.handle(proposal(&d, 1, None, w));
    let c2 = c.handle(proposal(&d, 1, None, w));
    let (b_pv1, c_pv1) = (vote_in(&b2, VoteKind::Prevote), vote_in(&c2, VoteKind::Prevote));
    assert_eq!(our_votes(&b2), vec![(1, VoteKind::Prevote, None)], "B is locked on v");
    later.extend(b2);
    later.extend(c2);
    later.extend(feed(&mut b, [input(&c_pv1), prevote(&d, 1, Some(w))]));
    later.extend(feed(&mut c, [input(&b_pv1), prevote(&d, 1, Some(w))]));
    later.extend(feed(&mut b, [precommit(&d, 1, Some(w))]));
    later.extend(feed(&mut c, [precommit(&d, 1, Some(w))]));
    for node in [&mut b, &mut c] {
        later.extend(node.handle(timeout(1, Step::Prevote)));
    }
    assert!(decisions(&later).iter().all(|&block| block == v), "decided twice: {later:?}");
}

/// After a decision on three of four precommits, the fourth (late) one completes the set: the core
/// says so once ([`Action::AllPrecommits`], with every signature), so the shell can skip the rest of
/// its commit pause. Other late messages are still ignored.
#[test]
fn the_last_late_precommit_reports_all_precommits_once() {
    let f = Fixture::new(4);
    let me = f.bystander(&[0]);
    let (mut node, _) = f.start(Some(&me));
    let others = f.others(&me);
    let v = block("v");
    node.handle(proposal(f.proposer(H, 0), 0, None, v));
    feed(&mut node, others[..2].iter().map(|k| prevote(k, 0, Some(v))));
    let actions = feed(&mut node, others[..2].iter().map(|k| precommit(k, 0, Some(v))));
    let Some(Action::Decide { commit, .. }) = actions.last() else { panic!("{actions:?}") };
    assert_eq!(commit.signatures.len(), 3);
    assert!(!actions.iter().any(|a| matches!(a, Action::AllPrecommits { .. })));
    // Late messages that do not complete the set change nothing.
    assert!(node.handle(prevote(&others[2], 0, Some(v))).is_empty());
    assert!(node.handle(precommit(&others[2], 1, Some(v))).is_empty());
    assert!(node.handle(precommit(&others[0], 0, Some(v))).is_empty());
    let actions = node.handle(precommit(&others[2], 0, Some(v)));
    let [Action::AllPrecommits { height, commit }] = &actions[..] else { panic!("{actions:?}") };
    assert_eq!(*height, H);
    assert_eq!(commit.verify(CHAIN, H, &v, &f.set), Ok(4));
    assert_eq!(commit.signatures.len(), 4);
    // Once only.
    assert!(node.handle(precommit(&others[2], 0, Some(v))).is_empty());
    assert_eq!(node.step(), Step::Commit);
}

/// A decision whose commit already holds every precommit is not followed by `AllPrecommits`.
#[test]
fn a_full_commit_reports_nothing_more() {
    let f = Fixture::new(4);
    // A full node: it decides on the validators' votes alone.
    let (mut node, _) = f.start(None);
    let v = block("v");
    // Every vote arrives before the proposal: nothing is decided without the block.
    feed(&mut node, f.keys.iter().map(|k| prevote(k, 0, Some(v))));
    let actions = feed(&mut node, f.keys.iter().map(|k| precommit(k, 0, Some(v))));
    assert!(!actions.iter().any(|a| matches!(a, Action::Decide { .. })), "{actions:?}");
    let mut actions = node.handle(proposal(f.proposer(H, 0), 0, None, v));
    let Some(Action::Decide { commit, .. }) = actions.last() else { panic!("{actions:?}") };
    assert_eq!(commit.signatures.len(), 4);
    actions.extend(node.handle(precommit(&f.keys[0], 0, Some(v))));
    assert!(!actions.iter().any(|a| matches!(a, Action::AllPrecommits { .. })), "{actions:?}");
}

/// The simulation's seed 1151 in small. Four validators; in round 0 a Byzantine one shows its
/// prevote for `v` to us alone, completing our polka: we lock on `v`, precommit it, and crash.
/// Nobody else holds that prevote. Returns the fixture, our key (we propose in round 1), the
/// Byzantine prevote, `v` and our WAL.
fn locked_on_a_polka_only_we_saw() -> (Fixture, Keypair, Input, BlockId, Vec<WalEntry>) {
    let f = Fixture::new(4);
    let me = f.proposer(H, 1).clone();
    let proposer = f.proposer(H, 0).clone();
    assert_ne!(me.public(), proposer.public());
    let others = f.others(&me);
    let byzantine = others.iter().find(|k| k.public() != proposer.public()).unwrap().clone();
    let v = block("v");
    let (mut node, mut actions) = f.start(Some(&me));
    actions.extend(node.handle(proposal(&proposer, 0, None, v)));
    let shown_to_us_alone = prevote(&byzantine, 0, Some(v));
    actions.extend(feed(&mut node, [prevote(&proposer, 0, Some(v)), shown_to_us_alone.clone()]));
    assert_eq!(node.locked(), Some(RoundValue { block: v, round: 0 }));
    assert_eq!(our_votes(&actions).last(), Some(&(0, VoteKind::Precommit, Some(v))));
    (f, me, shown_to_us_alone, v, wal_entries(&actions))
}

/// After the crash, the round-0 precommits (nil from the others) end round 0; in round 1 we
/// propose. Returns the actions of round 1's start.
fn restart_into_round_1(f: &Fixture, me: &Keypair, wal: &[WalEntry]) -> (Consensus, Vec<Action>) {
    let mut node = Consensus::new(config(), Some(me.clone()));
    node.start_height(H, f.set.clone(), wal);
    assert_eq!(node.locked().map(|l| l.block), Some(block("v")));
    let nil = f.others(me).iter().take(2).map(|k| precommit(k, 0, None)).collect::<Vec<_>>();
    feed(&mut node, nil);
    let actions = node.handle(timeout(0, Step::Precommit));
    assert_eq!(node.round(), 1);
    (node, actions)
}

/// The WAL keeps the proof of our lock, and a re-proposal takes it along (`Action::Relay`): after
/// the crash we still hold the polka (we prevote our re-proposal at once) and the others get the
/// Byzantine prevote they never saw, so they can accept it. Without the proof in the WAL nobody
/// could ever accept `v`, while we, locked on it, refuse everything else: with every honest vote
/// needed for a quorum, the height stalls.
#[test]
fn a_re_proposal_after_a_crash_proves_its_lock() {
    let (f, me, shown_to_us_alone, v, wal) = locked_on_a_polka_only_we_saw();
    let Input::Vote(byzantine_prevote) = shown_to_us_alone else { unreachable!() };
    let proof = &wal.last().unwrap().proof;
    assert_eq!(proof.len(), 3, "the precommit's entry holds the polka");
    assert!(proof.contains(&byzantine_prevote));

    let (_, actions) = restart_into_round_1(&f, &me, &wal);
    let [p] = &our_proposals(&actions)[..] else { panic!("{actions:?}") };
    assert_eq!((p.block, p.pol_round), (v, Some(0)));
    let relayed: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Relay(votes) => Some(votes.clone()),
            _ => None,
        })
        .collect();
    let [relayed] = &relayed[..] else { panic!("no proof of lock relayed: {actions:?}") };
    assert_eq!(relayed.len(), 3);
    assert!(relayed.contains(&byzantine_prevote));
    assert!(relayed.iter().all(|vote| vote.vote.round == 0 && vote.vote.block == Some(v)));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, Some(v))]);
}

/// A proposer that cannot prevote its own re-proposal (it lacks the proof of lock: a WAL written
/// before entries held it) still has a propose timer. Without it, it would wait in the propose
/// step for ever, and the others, missing its prevote, might never see +2/3 prevotes to time out
/// on: the stall of seed 1151.
#[test]
fn a_proposer_without_its_proof_of_lock_still_times_out() {
    let (f, me, _, v, mut wal) = locked_on_a_polka_only_we_saw();
    for entry in &mut wal {
        entry.proof.clear();
    }
    let (mut node, actions) = restart_into_round_1(&f, &me, &wal);
    let [p] = &our_proposals(&actions)[..] else { panic!("{actions:?}") };
    assert_eq!((p.block, p.pol_round), (v, Some(0)));
    assert!(our_votes(&actions).is_empty(), "prevoted without the proof: {actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Relay(_))));
    let propose_timer = Timeout { height: H, round: 1, step: Step::Propose };
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::ScheduleTimeout { timeout, .. } if *timeout == propose_timer)
        ),
        "no propose timer: {actions:?}"
    );
    let actions = node.handle(timeout(1, Step::Propose));
    assert_eq!(our_votes(&actions), vec![(1, VoteKind::Prevote, None)]);
}

/// WAL entries written before `proof` existed (message, locked, valid) still decode, with an empty
/// proof; new ones round-trip; a record torn inside the proof is an error.
#[test]
fn wal_entries_without_a_proof_still_decode() {
    let (_, _, _, _, wal) = locked_on_a_polka_only_we_saw();
    let entry = wal.last().unwrap().clone();
    assert!(!entry.proof.is_empty());
    let old = borsh::to_vec(&(&entry.message, &entry.locked, &entry.valid)).unwrap();
    let decoded = borsh::from_slice::<WalEntry>(&old).unwrap();
    assert_eq!(decoded, WalEntry { proof: Vec::new(), ..entry.clone() });
    let new = borsh::to_vec(&entry).unwrap();
    assert_eq!(borsh::from_slice::<WalEntry>(&new).unwrap(), entry);
    assert!(borsh::from_slice::<WalEntry>(&new[..new.len() - 1]).is_err());
    assert!(borsh::from_slice::<WalEntry>(&new[..old.len() + 2]).is_err());
}
