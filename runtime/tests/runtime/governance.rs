//! Governance keeps the chain governable and able to commit (decision record 0008): no action
//! leaves it without an admin member, or with a next validator set that has no voting power or
//! whose total power overflows a `u64`. A refused action changes nothing but the signer's nonce.

use crate::common::*;
use kessai_primitives::{
    GovernanceAction, Keypair, Payload, PublicKey, Receipt, Role, SignedTransaction, TxStatus,
    Validator, ValidatorSet,
};
use kessai_runtime::{system, WriteSet};
use proptest::prelude::*;
use std::collections::BTreeMap;

const LAST_ADMIN_ROLE: &str =
    "governance: the last admin cannot lose the admin role: no one could govern";
const LAST_ADMIN_MEMBER: &str = "governance: the last admin cannot be removed: no one could govern";
const NO_VOTING_POWER: &str =
    "governance: no validator would have voting power: no one could sign blocks";
const POWER_OVERFLOW: &str = "governance: the validators' total voting power would overflow";
const REVOKE_VALIDATOR: &str = "governance: a validator's node cannot be revoked: set its power to 0 first (tx gov set-validator KEY 0)";
const INVARIANT_REASONS: [&str; 5] =
    [LAST_ADMIN_ROLE, LAST_ADMIN_MEMBER, NO_VOTING_POWER, POWER_OVERFLOW, REVOKE_VALIDATOR];

fn govern(chain: &mut Chain, key: &Keypair, action: GovernanceAction) -> Receipt {
    chain.run(chain.tx(key, Payload::Governance(action)))
}

/// `writes` without the signer's nonce, the one thing a refused transaction may change.
fn without_nonce(mut writes: WriteSet, signer: &PublicKey) -> WriteSet {
    writes.remove(&system::nonce_key(signer));
    writes
}

/// `action` signed by `key` is refused with `reason` and writes nothing but the nonce: its block
/// writes what an empty block would. The block is committed.
#[track_caller]
fn assert_refused(chain: &mut Chain, key: &Keypair, action: GovernanceAction, reason: &str) {
    let empty = chain.execute(&[]);
    let executed = chain.execute(&[chain.tx(key, Payload::Governance(action))]);
    assert_eq!(failure(&executed.receipts[0]), reason);
    assert_eq!(without_nonce(executed.writes.clone(), &key.public()), empty.writes);
    chain.state.apply(&executed.writes);
    chain.height += 1;
}

fn roles(chain: &Chain, key: &Keypair) -> Option<Vec<Role>> {
    system::member_roles(&chain.state, &key.public()).unwrap()
}

fn set_validator(name: &str, power: u64) -> GovernanceAction {
    GovernanceAction::SetValidator { validator: validator(name, power) }
}

#[test]
fn the_only_admin_can_neither_drop_its_admin_role_nor_leave() {
    let mut chain = Chain::new();
    let (alice, carol) = (alice(), Keypair::dev("carol"));
    let revoke =
        |key: &Keypair| GovernanceAction::RevokeRole { key: key.public(), role: Role::Admin };
    let remove = |key: &Keypair| GovernanceAction::RemoveMember { key: key.public() };

    assert_refused(&mut chain, &alice, revoke(&alice), LAST_ADMIN_ROLE);
    assert_refused(&mut chain, &alice, remove(&alice), LAST_ADMIN_MEMBER);
    assert_eq!(roles(&chain, &alice), Some(vec![Role::Admin, Role::Deployer]));
    // Other roles go as before, and revoking a role a member lacks changes nothing.
    let drop_deployer = GovernanceAction::RevokeRole { key: alice.public(), role: Role::Deployer };
    assert_success(&govern(&mut chain, &alice, drop_deployer));
    assert_success(&govern(&mut chain, &alice, revoke(&bob())));
    assert_eq!(roles(&chain, &alice), Some(vec![Role::Admin]));

    // Alice still governs: with a second admin, she may step down …
    let add = GovernanceAction::AddMember { key: carol.public(), roles: vec![Role::Admin] };
    assert_success(&govern(&mut chain, &alice, add));
    assert_success(&govern(&mut chain, &alice, revoke(&alice)));
    assert_eq!(roles(&chain, &alice), Some(vec![]));
    // … and carol, now the only admin, may not, but may remove alice.
    assert_refused(&mut chain, &carol, revoke(&carol), LAST_ADMIN_ROLE);
    assert_refused(&mut chain, &carol, remove(&carol), LAST_ADMIN_MEMBER);
    assert_success(&govern(&mut chain, &carol, remove(&alice)));
    assert_eq!(system::members(&chain.state).unwrap().len(), 2, "bob and carol");
}

#[test]
fn two_admins_may_not_both_leave_in_one_block() {
    let mut chain = Chain::new();
    let carol = Keypair::dev("carol");
    let add = GovernanceAction::AddMember { key: carol.public(), roles: vec![Role::Admin] };
    assert_success(&govern(&mut chain, &alice(), add));
    let executed = chain.block(&[
        sign(
            &alice(),
            chain.nonce(&alice()),
            GAS,
            Payload::Governance(GovernanceAction::RemoveMember { key: carol.public() }),
        ),
        sign(
            &carol,
            0,
            GAS,
            Payload::Governance(GovernanceAction::RemoveMember { key: alice().public() }),
        ),
    ]);
    assert_success(&executed.receipts[0]);
    assert_eq!(
        failure(&executed.receipts[1]),
        format!("invalid: signer {} is not a member", carol.public()),
        "carol was removed before her removal of alice ran"
    );
    assert_eq!(roles(&chain, &alice()), Some(vec![Role::Admin, Role::Deployer]));
}

#[test]
fn the_validators_keep_voting_power() {
    let mut chain = Chain::new();
    let next = |chain: &Chain| system::next_validators(&chain.state).unwrap().unwrap();
    assert_refused(&mut chain, &alice(), set_validator("v0", 0), NO_VOTING_POWER);

    // Replacing the only validator in one block is fine: v1 first, then v0 leaves.
    let nonce = chain.nonce(&alice());
    let governs = |nonce, action| sign(&alice(), nonce, GAS, Payload::Governance(action));
    let executed = chain.block(&[
        governs(nonce, set_validator("v1", 5)),
        governs(nonce + 1, set_validator("v0", 0)),
    ]);
    executed.receipts.iter().for_each(assert_success);
    // Those changes are still pending for the next height: removing v1 now would leave no one.
    assert_refused(&mut chain, &alice(), set_validator("v1", 0), NO_VOTING_POWER);
    assert_eq!(next(&chain), ValidatorSet::new(vec![validator("v1", 5)]).unwrap());

    // Within one block too: v1 leaving after v0 left.
    let nonce = chain.nonce(&alice());
    let executed = chain.block(&[
        governs(nonce, set_validator("v2", 1)),
        governs(nonce + 1, set_validator("v1", 0)),
        governs(nonce + 2, set_validator("v2", 0)),
    ]);
    assert_success(&executed.receipts[0]);
    assert_success(&executed.receipts[1]);
    assert_eq!(failure(&executed.receipts[2]), NO_VOTING_POWER);
    chain.block(&[]);
    assert_eq!(next(&chain), ValidatorSet::new(vec![validator("v2", 1)]).unwrap());

    // The total must fit a u64: exactly u64::MAX does, one more does not.
    assert_refused(&mut chain, &alice(), set_validator("v3", u64::MAX), POWER_OVERFLOW);
    assert_success(&govern(&mut chain, &alice(), set_validator("v3", u64::MAX - 1)));
    chain.block(&[]);
    assert_eq!(next(&chain).total_power(), u64::MAX);
}

/// Membership and validation are separate: a validator's key need not be a member, and removing a
/// member whose key also validates leaves the validator set alone (power is changed only by
/// `SetValidator`).
#[test]
fn removing_a_member_leaves_the_validators_alone() {
    let mut chain = Chain::new();
    let v0 = Keypair::dev("v0").public();
    let validators = system::next_validators(&chain.state).unwrap();
    let add = GovernanceAction::AddMember { key: v0, roles: vec![] };
    assert_success(&govern(&mut chain, &alice(), add));
    assert_success(&govern(&mut chain, &alice(), GovernanceAction::RemoveMember { key: v0 }));
    chain.block(&[]);
    assert_eq!(system::next_validators(&chain.state).unwrap(), validators);
}

/// The libp2p (protobuf) encoding of the ed25519 node key of dev key `name`.
fn peer_key_of(name: &str) -> Vec<u8> {
    let mut bytes = vec![0x08, 0x01, 0x12, 0x20];
    bytes.extend_from_slice(&Keypair::dev(name).public().0);
    bytes
}

/// A peer is revoked (and its admission with it), once; admitting it again lifts the revocation.
/// The node keys of validators — current, next, or given power by a pending change — cannot be
/// revoked; once their power is 0 in every set, they can.
#[test]
fn peers_are_revoked_but_never_a_validators_node() {
    let mut chain = Chain::new();
    let revoke = |peer_key: Vec<u8>| GovernanceAction::RevokePeer { peer_key };
    let admit = |peer_key: Vec<u8>| GovernanceAction::AdmitPeer { peer_key };
    let (node, spec_node) = (peer_key_of("node-x"), peer_key_of("node-y"));

    assert_success(&govern(&mut chain, &alice(), admit(node.clone())));
    assert_success(&govern(&mut chain, &alice(), revoke(node.clone())));
    assert_eq!(system::admitted_peers(&chain.state).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(system::revoked_peers(&chain.state).unwrap(), vec![node.clone()]);
    let again = govern(&mut chain, &alice(), revoke(node.clone()));
    assert!(failure(&again).ends_with("is already revoked"), "{again:?}");
    // A key never admitted (e.g. one the chain spec lists) is revoked all the same.
    assert_success(&govern(&mut chain, &alice(), revoke(spec_node.clone())));
    assert_success(&govern(&mut chain, &alice(), admit(node.clone())));
    assert_eq!(system::admitted_peers(&chain.state).unwrap(), vec![node]);
    assert_eq!(system::revoked_peers(&chain.state).unwrap(), vec![spec_node]);
    assert!(failure(&govern(&mut chain, &alice(), revoke(vec![])))
        .starts_with("governance: a peer key must be"));

    // v0 signs: refused. v1 has power pending: refused, and still once it signs.
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("v0")), REVOKE_VALIDATOR);
    assert_success(&govern(&mut chain, &alice(), set_validator("v1", 5)));
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("v1")), REVOKE_VALIDATOR);
    chain.block(&[]);
    assert!(system::current_validators(&chain.state)
        .unwrap()
        .unwrap()
        .get(&validator("v1", 5).public_key)
        .is_some());
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("v1")), REVOKE_VALIDATOR);
    // Power 0: refused while v1 is in the current or next set, allowed once it is in neither.
    assert_success(&govern(&mut chain, &alice(), set_validator("v1", 0)));
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("v1")), REVOKE_VALIDATOR);
    chain.block(&[]);
    chain.block(&[]);
    assert_success(&govern(&mut chain, &alice(), revoke(peer_key_of("v1"))));
}

/// `SetValidatorNodeKey` registers a node key for a validator of the current, next or a pending
/// set only, in the canonical ed25519 encoding, never a revoked key nor another validator's node
/// or consensus key; the registered key is what `RevokePeer` then refuses, and a key rotated away
/// can be revoked.
#[test]
fn validator_node_keys_are_registered_for_signers_only_and_cannot_be_revoked() {
    let mut chain = Chain::new();
    let register = |name: &str, node_key: Vec<u8>| GovernanceAction::SetValidatorNodeKey {
        validator: Keypair::dev(name).public(),
        node_key,
    };
    let revoke = |peer_key: Vec<u8>| GovernanceAction::RevokePeer { peer_key };
    let node_of = |chain: &Chain, name: &str| {
        system::network_key_of_validator(&chain.state, &Keypair::dev(name).public()).unwrap()
    };

    // Not a validator (bob is a member, v1 has no power yet), or not an ed25519 key: refused.
    for name in ["bob", "v1"] {
        let not_validator = format!(
            "governance: {} is not a validator of the current, next or a pending set",
            Keypair::dev(name).public()
        );
        assert_refused(&mut chain, &alice(), register(name, peer_key_of("node-a")), &not_validator);
    }
    let empty = govern(&mut chain, &alice(), register("v0", vec![]));
    assert!(failure(&empty).starts_with("governance: a peer key must be"), "{empty:?}");
    let mut secp256k1 = peer_key_of("node-a");
    secp256k1[1] = 0x02;
    let not_ed25519 = govern(&mut chain, &alice(), register("v0", secp256k1));
    assert!(failure(&not_ed25519).contains("must be an ed25519 libp2p key"), "{not_ed25519:?}");
    assert_eq!(node_of(&chain, "v0"), Keypair::dev("v0").public());

    // v0 registers node-a: stored, and protected from RevokePeer (its consensus key no longer
    // names its node).
    assert_success(&govern(&mut chain, &alice(), register("v0", peer_key_of("node-a"))));
    assert_eq!(node_of(&chain, "v0"), Keypair::dev("node-a").public());
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("node-a")), REVOKE_VALIDATOR);

    // v1, given power by a pending change, may register, but not v0's node or consensus key,
    // nor a revoked key.
    assert_success(&govern(&mut chain, &alice(), set_validator("v1", 5)));
    let v0 = Keypair::dev("v0").public();
    for taken in [("node-a", v0), ("v0", v0)] {
        let reason = format!(
            "governance: node key {} belongs to validator {}",
            Keypair::dev(taken.0).public(),
            taken.1
        );
        assert_refused(&mut chain, &alice(), register("v1", peer_key_of(taken.0)), &reason);
    }
    assert_success(&govern(&mut chain, &alice(), revoke(peer_key_of("node-r"))));
    let revoked = format!(
        "governance: node key {0} is revoked: admit it first (tx gov admit-peer {0})",
        Keypair::dev("node-r").public()
    );
    assert_refused(&mut chain, &alice(), register("v1", peer_key_of("node-r")), &revoked);
    assert_success(&govern(&mut chain, &alice(), register("v1", peer_key_of("node-b"))));
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("node-b")), REVOKE_VALIDATOR);

    // Rotation: v0 replaces node-a by node-c; node-a is then an ordinary key, node-c protected.
    assert_success(&govern(&mut chain, &alice(), register("v0", peer_key_of("node-c"))));
    assert_eq!(node_of(&chain, "v0"), Keypair::dev("node-c").public());
    assert_refused(&mut chain, &alice(), revoke(peer_key_of("node-c")), REVOKE_VALIDATOR);
    assert_success(&govern(&mut chain, &alice(), revoke(peer_key_of("node-a"))));
}

// ---- Random sequences of governance actions by admins ------------------------------------------

/// The members the actions name (alice is the genesis admin; bob a member without roles).
static MEMBERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
/// The validators they name (v0 is the genesis validator, power 10).
static VALIDATORS: [&str; 3] = ["v0", "v1", "v2"];

fn action() -> impl Strategy<Value = GovernanceAction> {
    let member = prop::sample::select(&MEMBERS[..]).prop_map(|name| Keypair::dev(name).public());
    let role = prop_oneof![Just(Role::Admin), Just(Role::Deployer)];
    let power = prop_oneof![
        3 => Just(0u64),
        3 => 1..=10u64,
        1 => Just(u64::MAX / 2),
        1 => Just(u64::MAX),
    ];
    let validator = (prop::sample::select(&VALIDATORS[..]), power)
        .prop_map(|(name, power)| validator(name, power));
    prop_oneof![
        2 => (member.clone(), prop::collection::vec(role.clone(), 0..3))
            .prop_map(|(key, roles)| GovernanceAction::AddMember { key, roles }),
        2 => member.clone().prop_map(|key| GovernanceAction::RemoveMember { key }),
        2 => (member.clone(), role.clone())
            .prop_map(|(key, role)| GovernanceAction::GrantRole { key, role }),
        3 => (member, role).prop_map(|(key, role)| GovernanceAction::RevokeRole { key, role }),
        4 => validator.prop_map(|validator| GovernanceAction::SetValidator { validator }),
        1 => peer().prop_map(|peer_key| GovernanceAction::AdmitPeer { peer_key }),
        2 => peer().prop_map(|peer_key| GovernanceAction::RevokePeer { peer_key }),
    ]
}

/// Peer keys: the validators' node keys, another node's, or a few arbitrary bytes.
fn peer() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(&["v0", "v1", "v2", "node-x"][..]).prop_map(peer_key_of),
        1 => prop::collection::vec(any::<u8>(), 0..3),
    ]
}

/// Whether `key` is a validator the runtime must not let governance revoke in block `height`:
/// in the sets of `start` (the state the block began from), or given power by a change pending
/// for `height + 1` (in `start`) or `height + 2` (in `before`, after the earlier transactions).
fn validates(start: &MemState, before: &MemState, height: u64, key: &PublicKey) -> bool {
    let in_set = |set: Option<ValidatorSet>| set.is_some_and(|set| set.get(key).is_some());
    let pending = |state: &MemState, at: u64| {
        system::pending_validators(state, at)
            .unwrap()
            .unwrap_or_default()
            .iter()
            .any(|v| v.public_key == *key && v.power > 0)
    };
    in_set(system::current_validators(start).unwrap())
        || in_set(system::next_validators(start).unwrap())
        || pending(start, height + 1)
        || pending(before, height + 2)
}

/// Blocks of one to three actions, each signed by one of the admins of the block's start state.
fn blocks() -> impl Strategy<Value = Vec<Vec<(GovernanceAction, prop::sample::Index)>>> {
    let step = (action(), any::<prop::sample::Index>());
    prop::collection::vec(prop::collection::vec(step, 1..=3), 1..=12)
}

/// 64 cases by default; `PROPTEST_CASES=N` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
}

fn admins(state: &MemState) -> Vec<PublicKey> {
    let members = system::members(state).unwrap();
    members.into_iter().filter(|(_, roles)| roles.contains(&Role::Admin)).map(|(k, _)| k).collect()
}

fn after(state: &MemState, writes: &WriteSet) -> MemState {
    let mut state = state.clone();
    state.apply(writes);
    state
}

/// The power of each validator of the set that will sign block `height + 2`, with `change` made
/// in block `height`: a model of its own (a map by key), not the runtime's code. `before` is the
/// state after the block's earlier transactions and its end (so `validators/next` has taken the
/// changes for `height + 1`).
fn powers_after(before: &MemState, height: u64, change: &Validator) -> BTreeMap<PublicKey, u64> {
    let next = system::next_validators(before).unwrap().unwrap();
    let pending = system::pending_validators(before, height + 2).unwrap().unwrap_or_default();
    let mut powers: BTreeMap<PublicKey, u64> =
        next.validators().iter().map(|v| (v.public_key, v.power)).collect();
    for v in pending.iter().chain([change]) {
        powers.insert(v.public_key, v.power);
    }
    powers
}

/// The invariant refusal `action` must get in block `height` on `before`, if any.
fn expected_refusal(
    start: &MemState,
    before: &MemState,
    height: u64,
    action: &GovernanceAction,
) -> Option<&'static str> {
    let only_admin = |key: &PublicKey| admins(before) == vec![*key];
    match action {
        GovernanceAction::RemoveMember { key } => only_admin(key).then_some(LAST_ADMIN_MEMBER),
        GovernanceAction::RevokeRole { key, role: Role::Admin } => {
            only_admin(key).then_some(LAST_ADMIN_ROLE)
        }
        GovernanceAction::SetValidator { validator } => {
            let powers = powers_after(before, height, validator);
            match powers.values().try_fold(0u64, |sum, p| sum.checked_add(*p)) {
                None => Some(POWER_OVERFLOW),
                Some(0) => Some(NO_VOTING_POWER),
                Some(_) => None,
            }
        }
        GovernanceAction::RevokePeer { peer_key } => {
            let key = peer_key.strip_prefix(&[0x08, 0x01, 0x12, 0x20][..])?;
            let key = PublicKey(key.try_into().ok()?);
            validates(start, before, height, &key).then_some(REVOKE_VALIDATOR)
        }
        _ => None,
    }
}

/// Executes one block of `steps` on `chain`, checking every transaction against the state the
/// block's earlier ones left: the invariant refusals come exactly when the model says, and a
/// failed transaction writes nothing but its signer's nonce.
fn run_block(
    chain: &mut Chain,
    steps: Vec<(GovernanceAction, prop::sample::Index)>,
) -> Result<(), TestCaseError> {
    let admins = admins(&chain.state);
    prop_assert!(!admins.is_empty(), "no admin is left");
    let mut nonces = BTreeMap::new();
    let mut txs: Vec<SignedTransaction> = Vec::new();
    for (action, pick) in steps {
        let admin = admins[pick.index(admins.len())];
        let name = MEMBERS.iter().find(|name| Keypair::dev(name).public() == admin).unwrap();
        let key = Keypair::dev(name);
        let nonce = nonces.entry(admin).or_insert_with(|| chain.nonce(&key));
        txs.push(sign(&key, *nonce, GAS, Payload::Governance(action)));
        *nonce += 1;
    }
    let height = chain.height + 1;
    // prefixes[i]: the block of the first i transactions.
    let prefixes: Vec<_> = (0..=txs.len()).map(|i| chain.execute(&txs[..i])).collect();
    let block = prefixes.last().unwrap();
    for (i, tx) in txs.iter().enumerate() {
        let receipt = &block.receipts[i];
        let Payload::Governance(action) = &tx.tx.payload else { unreachable!() };
        let reason = match &receipt.status {
            TxStatus::Success => None,
            TxStatus::Failed { reason } => Some(reason.as_str()),
        };
        // Governed by a signer still admin at this point of the block: the model applies.
        let governed = !reason.is_some_and(|r| r.starts_with("invalid: ") || r.contains("lacks"));
        if governed {
            let before = after(&chain.state, &prefixes[i].writes);
            match expected_refusal(&chain.state, &before, height, action) {
                Some(expected) => prop_assert_eq!(reason, Some(expected), "{:?}", action),
                None => prop_assert!(
                    !reason.is_some_and(|r| INVARIANT_REASONS.contains(&r)),
                    "{:?} refused: {:?}",
                    action,
                    reason
                ),
            }
        }
        if reason.is_some() {
            let signer = tx.tx.signer;
            prop_assert_eq!(
                without_nonce(prefixes[i + 1].writes.clone(), &signer),
                without_nonce(prefixes[i].writes.clone(), &signer),
                "refused {:?} changed the state",
                action
            );
        }
    }
    chain.state.apply(&block.writes);
    chain.height = height;
    Ok(())
}

/// What must hold after every block: an admin, validator sets, and pending changes that make a
/// set (so that no change is ever dropped at rotation).
fn check_invariants(chain: &Chain) -> Result<(), TestCaseError> {
    prop_assert!(!admins(&chain.state).is_empty(), "no admin is left");
    let next = system::next_validators(&chain.state).unwrap().unwrap();
    prop_assert!(next.total_power() > 0);
    prop_assert!(system::current_validators(&chain.state).unwrap().is_some());
    let pending =
        system::pending_validators(&chain.state, chain.height + 2).unwrap().unwrap_or_default();
    let mut powers: BTreeMap<PublicKey, u64> =
        next.validators().iter().map(|v| (v.public_key, v.power)).collect();
    powers.extend(pending.iter().map(|v| (v.public_key, v.power)));
    let validators = powers.into_iter().map(|(public_key, power)| Validator { public_key, power });
    prop_assert!(ValidatorSet::new(validators.collect()).is_ok(), "pending changes make no set");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn governance_never_locks_the_chain_out(blocks in blocks()) {
        let mut chain = Chain::new();
        for steps in blocks {
            run_block(&mut chain, steps)?;
            check_invariants(&chain)?;
        }
        // Two more blocks apply every pending change: none is dropped.
        let expected = {
            let pending = system::pending_validators(&chain.state, chain.height + 2).unwrap();
            let next = system::next_validators(&chain.state).unwrap().unwrap();
            let mut powers: BTreeMap<PublicKey, u64> =
                next.validators().iter().map(|v| (v.public_key, v.power)).collect();
            powers.extend(pending.unwrap_or_default().iter().map(|v| (v.public_key, v.power)));
            powers.into_iter().filter(|(_, p)| *p > 0).collect::<Vec<_>>()
        };
        chain.block(&[]);
        chain.block(&[]);
        let next = system::next_validators(&chain.state).unwrap().unwrap();
        let got: Vec<_> = next.validators().iter().map(|v| (v.public_key, v.power)).collect();
        prop_assert_eq!(got, expected);
    }
}
