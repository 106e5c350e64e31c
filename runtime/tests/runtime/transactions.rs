use crate::common::*;
use kessai_primitives::{
    Address, DeploymentPolicy, GovernanceAction, Keypair, Payload, Role, Signature, Transaction,
    UpgradePolicy, ValidatorSet,
};
use kessai_runtime::{
    gas, genesis_writes, system, GenesisContract, GenesisSpec, Runtime, RuntimeConfig,
    RuntimeError, StateView, TxRejection,
};

fn invalid(reason: &str) -> String {
    format!("invalid: {reason}")
}

#[test]
fn an_unknown_signer_is_skipped_without_any_change() {
    let (mut chain, kv) = chain_with_kitchen();
    let executed = chain.block(&[chain.tx(&mallory(), call(kv, "set", args(&[b"k", b"v"])))]);
    let receipt = &executed.receipts[0];
    assert_eq!(
        failure(receipt),
        invalid(&format!("signer {} is not a member", mallory().public()))
    );
    assert_eq!(receipt.gas_used, 0);
    assert!(executed.writes.is_empty(), "not even a nonce: {:?}", executed.writes);
    assert_eq!(executed.gas_used, 0);
}

#[test]
fn a_replayed_transaction_is_skipped() {
    let (mut chain, kv) = chain_with_kitchen();
    let tx = chain.tx(&bob(), call(kv, "set", args(&[b"k", b"v"])));
    assert_success(&chain.run(tx.clone()));
    assert_success(&chain.call(kv, "remove", bytes(b"k")));

    let executed = chain.block(std::slice::from_ref(&tx));
    assert_eq!(failure(&executed.receipts[0]), invalid("nonce 0 but the signer's next nonce is 1"));
    assert!(executed.writes.is_empty());
    assert_eq!(chain.storage(kv, b"k"), None, "the replay did not write again");

    // Within one block too: the second copy finds the nonce used by the first.
    let next = chain.tx(&bob(), call(kv, "set", args(&[b"k", b"again"])));
    let executed = chain.block(&[next.clone(), next]);
    assert_success(&executed.receipts[0]);
    assert_eq!(failure(&executed.receipts[1]), invalid("nonce 1 but the signer's next nonce is 2"));

    // A nonce from the future is skipped as well.
    let future = sign(&bob(), 7, GAS, call(kv, "env", vec![]));
    assert_eq!(failure(&chain.run(future)), invalid("nonce 7 but the signer's next nonce is 2"));
}

#[test]
fn stateless_checks_are_repeated_in_the_block() {
    let (mut chain, kv) = chain_with_kitchen();
    let mut forged = chain.tx(&bob(), call(kv, "env", vec![]));
    forged.signature = Signature([7; 64]);
    let reason = failure(&chain.run(forged));
    assert!(reason.starts_with("invalid: signature does not verify"), "{reason}");

    let other_chain = Transaction {
        chain_id: "another-chain".into(),
        signer: bob().public(),
        nonce: 0,
        gas_limit: GAS,
        payload: call(kv, "env", vec![]),
    }
    .sign(&bob());
    let reason = failure(&chain.run(other_chain));
    assert!(reason.starts_with("invalid: transaction is for chain \"another-chain\""), "{reason}");

    let greedy = sign(&bob(), 0, 100_000_001, call(kv, "env", vec![]));
    assert_eq!(
        failure(&chain.run(greedy)),
        invalid("gas limit 100000001 is above the maximum 100000000")
    );
    assert_eq!(chain.nonce(&bob()), 0, "none of them used the nonce");
}

#[test]
fn too_little_gas_for_the_intrinsic_cost_fails() {
    let (mut chain, kv) = chain_with_kitchen();
    let receipt = chain.run(sign(&bob(), 0, 20_000, call(kv, "env", vec![])));
    assert_eq!(failure(&receipt), "out of gas");
    assert_eq!(receipt.gas_used, 20_000);
    assert_eq!(chain.nonce(&bob()), 1);
}

fn govern(
    chain: &mut Chain,
    key: &Keypair,
    action: GovernanceAction,
) -> kessai_primitives::Receipt {
    chain.run(chain.tx(key, Payload::Governance(action)))
}

#[test]
fn only_admins_govern() {
    let mut chain = Chain::new();
    let carol = Keypair::dev("carol");
    let add = GovernanceAction::AddMember { key: carol.public(), roles: vec![] };
    assert_eq!(failure(&govern(&mut chain, &bob(), add.clone())), "signer lacks the Admin role");
    assert_eq!(system::member_roles(&chain.state, &carol.public()).unwrap(), None);
    assert_eq!(chain.nonce(&bob()), 1);
    assert_success(&govern(&mut chain, &alice(), add.clone()));
    assert_eq!(system::member_roles(&chain.state, &carol.public()).unwrap(), Some(vec![]));
    assert_eq!(
        failure(&govern(&mut chain, &alice(), add)),
        format!("governance: {} is already a member", carol.public())
    );
}

#[test]
fn membership_and_roles_change_through_governance() {
    let mut chain = Chain::new();
    let carol = Keypair::dev("carol");
    let key = carol.public();
    let roles = |chain: &Chain| system::member_roles(&chain.state, &key).unwrap();

    let add = GovernanceAction::AddMember { key, roles: vec![Role::Deployer, Role::Deployer] };
    assert_success(&govern(&mut chain, &alice(), add));
    assert_eq!(roles(&chain), Some(vec![Role::Deployer]), "roles are kept without duplicates");
    // A new member transacts; with the role, it deploys.
    assert_success(&chain.run(chain.tx(&carol, Payload::Deploy { code: kitchen() })));

    let grant = GovernanceAction::GrantRole { key, role: Role::Admin };
    assert_success(&govern(&mut chain, &alice(), grant));
    assert_eq!(roles(&chain), Some(vec![Role::Admin, Role::Deployer]));
    let revoke = GovernanceAction::RevokeRole { key, role: Role::Deployer };
    assert_success(&govern(&mut chain, &carol, revoke));
    assert_eq!(roles(&chain), Some(vec![Role::Admin]));
    let receipt = chain.run(chain.tx(&carol, Payload::Deploy { code: kitchen() }));
    assert_eq!(failure(&receipt), "signer lacks the Deployer role");

    assert_success(&govern(&mut chain, &alice(), GovernanceAction::RemoveMember { key }));
    assert_eq!(roles(&chain), None);
    let receipt = chain.run(chain.tx(&carol, Payload::Deploy { code: kitchen() }));
    assert_eq!(failure(&receipt), invalid(&format!("signer {key} is not a member")));
    let missing = GovernanceAction::GrantRole { key, role: Role::Admin };
    assert_eq!(
        failure(&govern(&mut chain, &alice(), missing)),
        format!("governance: {key} is not a member")
    );
    assert_eq!(system::members(&chain.state).unwrap().len(), 2);
}

#[test]
fn peers_are_admitted() {
    let mut chain = Chain::new();
    let peer = vec![8, 1, 18, 32, 1, 2, 3];
    assert_success(&govern(
        &mut chain,
        &alice(),
        GovernanceAction::AdmitPeer { peer_key: peer.clone() },
    ));
    assert!(system::is_peer_admitted(&chain.state, &peer).unwrap());
    assert_eq!(system::admitted_peers(&chain.state).unwrap(), vec![peer]);
    let empty = GovernanceAction::AdmitPeer { peer_key: vec![] };
    assert!(
        failure(&govern(&mut chain, &alice(), empty)).starts_with("governance: a peer key must be")
    );
}

#[test]
fn validator_changes_take_effect_two_heights_later() {
    let mut chain = Chain::new();
    let genesis_set = ValidatorSet::new(vec![validator("v0", 10)]).unwrap();
    let next = |chain: &Chain| system::next_validators(&chain.state).unwrap().unwrap();
    let current = |chain: &Chain| system::current_validators(&chain.state).unwrap().unwrap();

    // Block 1 schedules v1 (power 5) for height 3.
    let set = GovernanceAction::SetValidator { validator: validator("v1", 5) };
    assert_success(&govern(&mut chain, &alice(), set));
    assert_eq!(chain.height, 1);
    let pending = system::pending_validators(&chain.state, 3).unwrap().unwrap();
    assert_eq!(pending, vec![validator("v1", 5)]);
    assert_eq!(next(&chain), genesis_set, "block 2 is still signed by the genesis set");

    // Block 2 applies it to `next`: block 3 is signed by both.
    let executed = chain.block(&[]);
    assert!(executed.writes.contains_key(&system::next_validators_key()));
    let both = ValidatorSet::new(vec![validator("v0", 10), validator("v1", 5)]).unwrap();
    assert_eq!(next(&chain), both);
    assert_eq!(current(&chain), genesis_set);
    assert_eq!(system::pending_validators(&chain.state, 3).unwrap(), None);

    // Block 3 was signed by both: it becomes `current`. Removing v0 (power 0) at block 3 …
    let remove = GovernanceAction::SetValidator { validator: validator("v0", 0) };
    assert_success(&govern(&mut chain, &alice(), remove));
    assert_eq!(current(&chain), both);
    chain.block(&[]);
    assert_eq!(next(&chain), ValidatorSet::new(vec![validator("v1", 5)]).unwrap());

    // … and a change that would leave no validator is refused (`governance::` has the rest).
    let remove_last = GovernanceAction::SetValidator { validator: validator("v1", 0) };
    assert_eq!(
        failure(&govern(&mut chain, &alice(), remove_last)),
        "governance: no validator would have voting power: no one could sign blocks"
    );
    chain.block(&[]);
    assert_eq!(next(&chain), ValidatorSet::new(vec![validator("v1", 5)]).unwrap());
}

#[test]
fn check_tx_refuses_what_a_block_would_not_take() {
    let (chain, kv) = chain_with_kitchen();
    let runtime = &chain.runtime;
    let ok = chain.tx(&bob(), call(kv, "env", vec![]));
    runtime.check_tx(&chain.state, &ok, 0).unwrap();
    let queued = sign(&bob(), 2, GAS, call(kv, "env", vec![]));
    runtime.check_tx(&chain.state, &queued, 2).unwrap();
    assert_eq!(
        runtime.check_tx(&chain.state, &queued, 1),
        Err(TxRejection::NonceGap { expected: 1, got: 2 })
    );
    assert_eq!(
        runtime.check_tx(&chain.state, &ok, 1),
        Err(TxRejection::NonceUsed { expected: 1, got: 0 })
    );
    let stranger = sign(&mallory(), 0, GAS, call(kv, "env", vec![]));
    assert_eq!(
        runtime.check_tx(&chain.state, &stranger, 0),
        Err(TxRejection::NotMember(mallory().public()))
    );
    let cheap = sign(&bob(), 0, 1_000, call(kv, "env", vec![]));
    assert_eq!(
        runtime.check_tx(&chain.state, &cheap, 0),
        Err(TxRejection::GasLimitTooLow { limit: 1_000, needed: gas::intrinsic(&cheap) })
    );
    let greedy = sign(&bob(), 0, u64::MAX, call(kv, "env", vec![]));
    assert_eq!(
        runtime.check_tx(&chain.state, &greedy, 0),
        Err(TxRejection::GasLimitTooHigh { limit: u64::MAX, max: 100_000_000 })
    );
    let deploy = sign(&bob(), 0, GAS, Payload::Deploy { code: vec![0; 10] });
    assert_eq!(
        runtime.check_tx(&chain.state, &deploy, 0),
        Err(TxRejection::MissingRole { signer: bob().public(), role: Role::Deployer })
    );
    let governance = sign(
        &bob(),
        0,
        GAS,
        Payload::Governance(GovernanceAction::RemoveMember { key: alice().public() }),
    );
    assert_eq!(
        runtime.check_tx(&chain.state, &governance, 0),
        Err(TxRejection::MissingRole { signer: bob().public(), role: Role::Admin })
    );
}

#[test]
fn genesis_instantiates_named_contracts() {
    let contracts = vec![
        GenesisContract {
            name: "first".into(),
            code: kitchen(),
            init_args: bytes(b"one"),
            upgrade_policy: UpgradePolicy::Immutable,
        },
        GenesisContract {
            name: "second".into(),
            code: kitchen(),
            init_args: bytes(b"two"),
            upgrade_policy: UpgradePolicy::Admin { key: alice().public() },
        },
    ];
    let chain = Chain::with(RuntimeConfig::default(), contracts.clone());
    let first = system::contract_address(&Address::SYSTEM, 0);
    let second = system::contract_address(&Address::SYSTEM, 1);
    assert_eq!(chain.names, vec![("first".to_string(), first), ("second".to_string(), second)]);
    assert_eq!(system::contract_by_name(&chain.state, "second").unwrap(), Some(second));
    assert_eq!(chain.storage(first, b"init"), Some(b"one".to_vec()));
    assert_eq!(chain.storage(second, b"init"), Some(b"two".to_vec()));
    let info = system::contract_info(&chain.state, &first).unwrap().unwrap();
    assert_eq!((info.creator, info.created_at_height), (Address::SYSTEM, 0));
    let members = system::members(&chain.state).unwrap();
    assert_eq!(members.len(), 2);
    // Each gets its upgrade policy and its version 1; the chain its deployment policy.
    assert_eq!(system::upgrade_policy(&chain.state, &first).unwrap(), UpgradePolicy::Immutable);
    assert_eq!(
        system::upgrade_policy(&chain.state, &second).unwrap(),
        UpgradePolicy::Admin { key: alice().public() }
    );
    assert_eq!(
        system::contract_versions(&chain.state, &second).unwrap(),
        vec![system::ContractVersion {
            version: 1,
            code_hash: info.code_hash,
            activated_at_height: 0,
            proposal: None,
            approvers: vec![],
        }]
    );
    assert_eq!(system::deployment_policy(&chain.state).unwrap(), DeploymentPolicy::AnyDeployer);
    assert!(chain.state.get(&system::deployment_policy_key()).unwrap().is_some());
    assert_eq!(
        system::current_validators(&chain.state).unwrap(),
        system::next_validators(&chain.state).unwrap()
    );

    // Deterministic: the same spec gives the same writes.
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let spec = |contracts| GenesisSpec {
        chain_id: CHAIN.into(),
        time_ms: 5,
        members: vec![(alice().public(), vec![Role::Admin])],
        validators: ValidatorSet::new(vec![validator("v0", 1)]).unwrap(),
        deployment_policy: DeploymentPolicy::AnyDeployer,
        contracts,
    };
    let a = genesis_writes(&runtime, &spec(contracts.clone())).unwrap();
    let b =
        genesis_writes(&Runtime::new(RuntimeConfig::default()).unwrap(), &spec(contracts)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn genesis_refuses_bad_contracts() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let spec = |contracts| GenesisSpec {
        chain_id: CHAIN.into(),
        time_ms: 5,
        members: vec![],
        validators: ValidatorSet::new(vec![validator("v0", 1)]).unwrap(),
        deployment_policy: DeploymentPolicy::AnyDeployer,
        contracts,
    };
    let kitchen_named = |name: &str| GenesisContract {
        name: name.into(),
        code: kitchen(),
        init_args: vec![],
        upgrade_policy: UpgradePolicy::Immutable,
    };
    let error = |contracts| match genesis_writes(&runtime, &spec(contracts)) {
        Err(RuntimeError::Genesis(message)) => message,
        other => panic!("expected a genesis error, got {other:?}"),
    };
    assert!(error(vec![kitchen_named("a"), kitchen_named("a")]).contains("distinct"));
    let broken = GenesisContract {
        name: "broken".into(),
        code: b"not wasm".to_vec(),
        init_args: vec![],
        upgrade_policy: UpgradePolicy::Immutable,
    };
    assert!(error(vec![broken]).starts_with("contract \"broken\": not a valid wasm module"));
    let failing = GenesisContract {
        name: "f".into(),
        code: kitchen(),
        init_args: vec![0xff; 3],
        upgrade_policy: UpgradePolicy::Immutable,
    };
    let message = error(vec![failing]);
    assert!(message.starts_with("contract \"f\": init failed: trap: "), "{message}");
}

#[test]
fn execution_is_deterministic_across_runtimes() {
    let (mut chain, kv) = chain_with_kitchen();
    let n = chain.nonce(&alice());
    let txs = vec![
        sign(&alice(), n, GAS, call(kv, "set", args(&[b"a", b"1"]))),
        sign(&alice(), n + 1, 300_000, call(kv, "spin", vec![])),
        sign(&alice(), n + 2, GAS, call(kv, "emit", args(&[b"t", b"d"]))),
        sign(&alice(), n + 3, GAS, call(kv, "fail", vec![])),
        sign(&bob(), 0, GAS, call(kv, "gas", vec![])),
    ];
    let first = chain.execute(&txs);
    let other = Runtime::new(RuntimeConfig::default()).unwrap();
    let second = other.execute_block(&chain.state, &chain.context(chain.height + 1), &txs).unwrap();
    assert_eq!(first, second);
    chain.block(&txs);
}
