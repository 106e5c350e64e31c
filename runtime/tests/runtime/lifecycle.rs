//! The contract lifecycle (decision record 0019) with the real contracts of `contracts/artifacts/`:
//! proposals, approvals counted by policy, activation in the approving transaction, upgrades that
//! run `migrate` and keep storage, and the history each leaves.

use crate::common::*;
use kessai_primitives::lifecycle::proposal_id;
use kessai_primitives::{
    Address, ContractChange, ContractProposal, DeploymentPolicy, GovernanceAction, Hash, Keypair,
    LifecycleAction, Payload, Receipt, Role, SignedTransaction, UpgradePolicy,
};
use kessai_runtime::system::{self, ContractVersion, ProposalRecord, ProposalStatus};
use kessai_runtime::{GenesisContract, RuntimeConfig, TxRejection};

/// Enough for any deploy or activation of these contracts.
const BIG_GAS: u64 = 100_000_000;

fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../contracts/artifacts/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (scripts/build-contracts.sh)"))
}

fn carol() -> Keypair {
    Keypair::dev("carol")
}

fn dave() -> Keypair {
    Keypair::dev("dave")
}

/// A member with no role.
fn erin() -> Keypair {
    Keypair::dev("erin")
}

/// Borsh of netting's `init` arguments: `(admin)`.
fn netting_init() -> Vec<u8> {
    borsh::to_vec(&alice().address()).unwrap()
}

/// The consortium of the `local` preset: alice (admin, deployer), bob (deployer), carol and dave,
/// all four approvers, erin a member without role; 3 approvals deploy. Genesis contracts, all
/// netting version 1 initialised with admin alice: `netting` upgradable by 3 approvals,
/// `netting-admin` by alice alone, `netting-fixed` immutable.
fn consortium() -> Chain {
    let members = vec![
        (alice().public(), vec![Role::Admin, Role::Deployer, Role::Approver]),
        (bob().public(), vec![Role::Deployer, Role::Approver]),
        (carol().public(), vec![Role::Approver]),
        (dave().public(), vec![Role::Approver]),
        (erin().public(), vec![]),
    ];
    let netting = |name: &str, upgrade_policy| GenesisContract {
        name: name.into(),
        code: artifact("netting"),
        init_args: netting_init(),
        upgrade_policy,
    };
    let contracts = vec![
        netting("netting", UpgradePolicy::Approvals { required: 3 }),
        netting("netting-admin", UpgradePolicy::Admin { key: alice().public() }),
        netting("netting-fixed", UpgradePolicy::Immutable),
    ];
    let policy = DeploymentPolicy::Approvals { required: 3 };
    Chain::with_genesis(RuntimeConfig::default(), members, policy, contracts)
}

fn named(chain: &Chain, name: &str) -> Address {
    system::contract_by_name(&chain.state, name).unwrap().unwrap()
}

/// A transaction with the signer's next nonce and gas for anything.
fn big(chain: &Chain, key: &Keypair, payload: Payload) -> SignedTransaction {
    sign(key, chain.nonce(key), BIG_GAS, payload)
}

/// Stores `code` (signed by alice, a deployer); its hash.
fn deploy(chain: &mut Chain, code: Vec<u8>) -> Hash {
    let receipt = chain.run(big(chain, &alice(), Payload::Deploy { code }));
    assert_success(&receipt);
    Hash(receipt.created.unwrap().0)
}

fn instantiate(name: &str, code_hash: Hash, args: Vec<u8>) -> ContractChange {
    ContractChange::Instantiate {
        name: name.into(),
        code_hash,
        args,
        upgrade_policy: UpgradePolicy::Immutable,
    }
}

fn upgrade(contract: Address, code_hash: Hash, migrate_args: Vec<u8>) -> ContractChange {
    ContractChange::Upgrade { contract, code_hash, migrate_args }
}

/// `key` proposes `change` (expiring at `expires_at_height`): the receipt and the proposal's id.
fn propose(
    chain: &mut Chain,
    key: &Keypair,
    change: ContractChange,
    expires_at_height: u64,
) -> (Receipt, Hash) {
    let id = proposal_id(&key.public(), chain.nonce(key));
    let action = LifecycleAction::Propose(ContractProposal { change, expires_at_height });
    (chain.run(big(chain, key, Payload::Lifecycle(action))), id)
}

fn approve(chain: &mut Chain, key: &Keypair, proposal: Hash) -> Receipt {
    chain.run(big(chain, key, Payload::Lifecycle(LifecycleAction::Approve { proposal })))
}

fn withdraw(chain: &mut Chain, key: &Keypair, proposal: Hash) -> Receipt {
    chain.run(big(chain, key, Payload::Lifecycle(LifecycleAction::Withdraw { proposal })))
}

fn record(chain: &Chain, id: Hash) -> ProposalRecord {
    system::proposal(&chain.state, &id).unwrap().unwrap()
}

fn topics(receipt: &Receipt) -> Vec<&str> {
    receipt.events.iter().map(|e| e.topic.as_str()).collect()
}

/// A view of `contract`, borsh-decoded.
fn view<T: borsh::BorshDeserialize>(
    chain: &Chain,
    contract: Address,
    method: &str,
    args: &[u8],
) -> T {
    let ctx = chain.context(chain.height);
    let out = chain.runtime.view(&chain.state, &ctx, contract, method, args).unwrap();
    borsh::from_slice(&out).unwrap()
}

fn balance(chain: &Chain, netting: Address, account: &Keypair) -> u128 {
    view(chain, netting, "balance", &borsh::to_vec(&account.address()).unwrap())
}

/// alice (netting's admin) funds `account` with `amount`.
fn fund(chain: &mut Chain, netting: Address, account: &Keypair, amount: u128) {
    let args = borsh::to_vec(&(account.address(), amount)).unwrap();
    assert_success(&chain.run(big(chain, &alice(), call(netting, "fund", args))));
}

fn code_of(chain: &Chain, contract: Address) -> Hash {
    system::contract_info(&chain.state, &contract).unwrap().unwrap().code_hash
}

#[test]
fn two_approvals_do_not_instantiate_the_third_does_in_its_block() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let (receipt, id) =
        propose(&mut chain, &alice(), instantiate("netting-2", code_hash, netting_init()), 100);
    assert_success(&receipt);
    assert_eq!(topics(&receipt), ["proposal_created", "proposal_approved"]);
    assert_eq!(receipt.return_data, id.0.to_vec());
    assert_eq!(receipt.created, None);
    let proposed_at = chain.height;
    let address = system::contract_address(&alice().address(), record(&chain, id).nonce);

    assert_success(&approve(&mut chain, &bob(), id));
    let pending = record(&chain, id);
    assert_eq!(pending.status, ProposalStatus::Pending);
    assert_eq!(pending.approvals, vec![alice().public(), bob().public()]);
    assert_eq!(pending.proposed_at_height, proposed_at);
    assert_eq!(system::contract_by_name(&chain.state, "netting-2").unwrap(), None);
    assert_eq!(system::contract_info(&chain.state, &address).unwrap(), None);

    let third = approve(&mut chain, &carol(), id);
    assert_success(&third);
    assert_eq!(third.created, Some(address));
    assert_eq!(topics(&third), ["proposal_approved", "contract_instantiated"]);
    let event = &third.events[1];
    assert_eq!(event.contract, Address::SYSTEM);
    assert_eq!(
        event.data,
        borsh::to_vec(&(id, address, "netting-2".to_string(), code_hash)).unwrap()
    );
    let approved: (Hash, kessai_primitives::PublicKey, u32, u32) =
        borsh::from_slice(&third.events[0].data).unwrap();
    assert_eq!(approved, (id, carol().public(), 3, 3));

    let activated = record(&chain, id);
    assert_eq!(
        activated.status,
        ProposalStatus::Activated { height: chain.height, contract: address }
    );
    assert_eq!(named(&chain, "netting-2"), address);
    let info = system::contract_info(&chain.state, &address).unwrap().unwrap();
    assert_eq!(
        (info.code_hash, info.creator, info.created_at_height),
        (code_hash, alice().address(), chain.height)
    );
    assert_eq!(system::upgrade_policy(&chain.state, &address).unwrap(), UpgradePolicy::Immutable);
    let approvers = vec![alice().public(), bob().public(), carol().public()];
    assert_eq!(
        system::contract_versions(&chain.state, &address).unwrap(),
        vec![ContractVersion {
            version: 1,
            code_hash,
            activated_at_height: chain.height,
            proposal: Some(id),
            approvers,
        }]
    );
    // init ran with the proposal's arguments, called by the proposer.
    let admin: Address = view(&chain, address, "admin", &[]);
    assert_eq!(admin, alice().address());

    let late = approve(&mut chain, &dave(), id);
    assert_eq!(
        failure(&late),
        format!("lifecycle: proposal {id} was activated at height {}", chain.height - 1)
    );
}

#[test]
fn only_approvers_approve_and_strangers_are_refused() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let change = instantiate("netting-2", code_hash, netting_init());
    let (refused, _) = propose(&mut chain, &erin(), change.clone(), 100);
    assert_eq!(failure(&refused), "signer lacks the Approver role");

    let (receipt, id) = propose(&mut chain, &alice(), change, 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &bob(), id));
    let receipt = approve(&mut chain, &erin(), id);
    assert_eq!(failure(&receipt), "signer lacks the Approver role");
    assert_eq!(record(&chain, id).approvals.len(), 2, "erin's approval is not recorded");
    assert_eq!(record(&chain, id).status, ProposalStatus::Pending);

    // The mempool refuses them too, and a non-member is no member.
    let tx = big(&chain, &erin(), Payload::Lifecycle(LifecycleAction::Approve { proposal: id }));
    assert_eq!(
        chain.runtime.check_tx(&chain.state, &tx, chain.nonce(&erin())),
        Err(TxRejection::Lifecycle("signer lacks the Approver role".into()))
    );
    let tx = big(&chain, &mallory(), Payload::Lifecycle(LifecycleAction::Approve { proposal: id }));
    assert_eq!(
        chain.runtime.check_tx(&chain.state, &tx, 0),
        Err(TxRejection::NotMember(mallory().public()))
    );
    assert!(failure(&chain.run(tx)).starts_with("invalid: signer"));
}

#[test]
fn the_deployment_policy_changes_by_governance_only_to_one_the_approvers_can_meet() {
    let mut chain = consortium();
    let set = |chain: &mut Chain, key: &Keypair, policy| {
        let action = GovernanceAction::SetDeploymentPolicy { policy };
        chain.run(big(chain, key, Payload::Governance(action)))
    };
    // Four members hold the approver role: five approvals could never be met.
    let refused = set(&mut chain, &alice(), DeploymentPolicy::Approvals { required: 5 });
    assert!(failure(&refused).contains("5 approvals needs as many members"), "{refused:?}");
    let refused = set(&mut chain, &alice(), DeploymentPolicy::Approvals { required: 0 });
    assert!(failure(&refused).contains("at least 1 approval"), "{refused:?}");
    // Only an admin governs.
    let refused = set(&mut chain, &bob(), DeploymentPolicy::AnyDeployer);
    assert!(failure(&refused).contains("Admin"), "{refused:?}");
    let policy = system::deployment_policy(&chain.state).unwrap();
    assert_eq!(policy, DeploymentPolicy::Approvals { required: 3 });

    // Two approvals: bob's proposal waits for one more, carol's activates it.
    assert_success(&set(&mut chain, &alice(), DeploymentPolicy::Approvals { required: 2 }));
    let code_hash = Hash::digest(&artifact("netting"));
    let change = instantiate("netting-2", code_hash, netting_init());
    let (receipt, id) = propose(&mut chain, &bob(), change, 100);
    assert_success(&receipt);
    assert_eq!(receipt.created, None, "one approval of two");
    let activated = approve(&mut chain, &carol(), id);
    assert_success(&activated);
    assert!(activated.created.is_some(), "the second approval activates: {activated:?}");

    // Any deployer: bob's proposal activates at once.
    assert_success(&set(&mut chain, &alice(), DeploymentPolicy::AnyDeployer));
    let change = instantiate("netting-3", code_hash, netting_init());
    let (receipt, _) = propose(&mut chain, &bob(), change, 100);
    assert_success(&receipt);
    assert!(receipt.created.is_some(), "any deployer instantiates alone: {receipt:?}");
}

#[test]
fn approvals_count_only_members_holding_the_role_when_counted() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let (receipt, id) =
        propose(&mut chain, &alice(), instantiate("netting-2", code_hash, netting_init()), 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &bob(), id));
    let revoke = GovernanceAction::RevokeRole { key: bob().public(), role: Role::Approver };
    assert_success(&chain.run(chain.tx(&alice(), Payload::Governance(revoke))));
    // alice, bob (no longer an approver) and carol: two count.
    assert_success(&approve(&mut chain, &carol(), id));
    assert_eq!(record(&chain, id).status, ProposalStatus::Pending);
    let fourth = approve(&mut chain, &dave(), id);
    assert_success(&fourth);
    let versions = system::contract_versions(&chain.state, &fourth.created.unwrap()).unwrap();
    assert_eq!(versions[0].approvers, vec![alice().public(), carol().public(), dave().public()]);
}

#[test]
fn expired_proposals_take_no_approvals() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let change = instantiate("netting-2", code_hash, netting_init());
    // Executed at height 1: expiring at 0 is refused.
    let (receipt, _) = propose(&mut chain, &alice(), change.clone(), 0);
    assert_eq!(
        failure(&receipt),
        "lifecycle: the proposal expires at height 0, before this block (1)"
    );

    let expiry = chain.height + 3; // the proposal's block, then two more approvals
    let (receipt, id) = propose(&mut chain, &alice(), change, expiry);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &bob(), id));
    chain.block(&[]);
    assert_eq!(chain.height, expiry);
    let receipt = approve(&mut chain, &carol(), id);
    assert_eq!(failure(&receipt), format!("lifecycle: proposal {id} expired at height {expiry}"));
    let record = record(&chain, id);
    assert!(record.is_expired(chain.height + 1) && record.status == ProposalStatus::Pending);
    assert_eq!(system::contract_by_name(&chain.state, "netting-2").unwrap(), None);
}

#[test]
fn a_withdrawn_approval_no_longer_counts() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let (receipt, id) =
        propose(&mut chain, &alice(), instantiate("netting-2", code_hash, netting_init()), 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &bob(), id));
    let receipt = withdraw(&mut chain, &bob(), id);
    assert_success(&receipt);
    assert_eq!(topics(&receipt), ["approval_withdrawn"]);
    assert_eq!(record(&chain, id).approvals, vec![alice().public()]);
    let receipt = withdraw(&mut chain, &dave(), id);
    assert_eq!(
        failure(&receipt),
        format!("lifecycle: {} has no approval of proposal {id} to withdraw", dave().public())
    );

    assert_success(&approve(&mut chain, &carol(), id));
    assert_eq!(record(&chain, id).status, ProposalStatus::Pending, "alice and carol: two");
    let third = approve(&mut chain, &dave(), id);
    assert_success(&third);
    assert!(third.created.is_some());
    let receipt = withdraw(&mut chain, &alice(), id);
    assert!(failure(&receipt).ends_with("was activated at height 6"), "{receipt:?}");
}

#[test]
fn approving_twice_is_refused() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let (receipt, id) =
        propose(&mut chain, &alice(), instantiate("netting-2", code_hash, netting_init()), 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &bob(), id));
    let again = approve(&mut chain, &bob(), id);
    assert_eq!(
        failure(&again),
        format!("lifecycle: {} already approved proposal {id}", bob().public())
    );
    let own = approve(&mut chain, &alice(), id);
    assert_eq!(
        failure(&own),
        format!("lifecycle: {} already approved proposal {id}", alice().public())
    );
    assert_eq!(record(&chain, id).status, ProposalStatus::Pending);
    assert_eq!(record(&chain, id).approvals.len(), 2);
    let unknown = Hash::digest(b"no proposal");
    assert_eq!(
        failure(&approve(&mut chain, &bob(), unknown)),
        format!("lifecycle: no proposal {unknown}")
    );
}

#[test]
fn names_are_unique() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let (receipt, _) =
        propose(&mut chain, &alice(), instantiate("netting", code_hash, netting_init()), 100);
    let netting = named(&chain, "netting");
    assert_eq!(
        failure(&receipt),
        format!("lifecycle: the name \"netting\" is taken by contract {netting}")
    );
    let (receipt, _) =
        propose(&mut chain, &alice(), instantiate("no spaces", code_hash, vec![]), 100);
    assert!(failure(&receipt).starts_with("lifecycle: a contract name is 1 to 64 characters"));

    // Two proposals for one free name: the first activated takes it, the second cannot activate.
    let change = instantiate("twin", code_hash, netting_init());
    let (receipt, first) = propose(&mut chain, &alice(), change.clone(), 100);
    assert_success(&receipt);
    let (receipt, second) = propose(&mut chain, &bob(), change, 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &carol(), second));
    assert_success(&approve(&mut chain, &carol(), first));
    assert_success(&approve(&mut chain, &dave(), first));
    let twin = named(&chain, "twin");
    let receipt = approve(&mut chain, &dave(), second);
    assert_eq!(
        failure(&receipt),
        format!("lifecycle: the name \"twin\" is taken by contract {twin}")
    );
    assert_eq!(record(&chain, second).status, ProposalStatus::Pending);
    assert_eq!(record(&chain, second).approvals.len(), 2, "the failed approval left nothing");
}

#[test]
fn plain_instantiation_needs_a_deployer_and_no_approvals_policy() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let plain = Payload::Instantiate { code_hash, args: netting_init() };
    let receipt = chain.run(big(&chain, &alice(), plain.clone()));
    assert_eq!(
        failure(&receipt),
        "lifecycle: the deployment policy needs 3 approvals: propose the contract instead of instantiating it"
    );
    let tx = big(&chain, &alice(), plain.clone());
    assert!(matches!(
        chain.runtime.check_tx(&chain.state, &tx, chain.nonce(&alice())),
        Err(TxRejection::Lifecycle(_))
    ));

    // Any deployer: alice instantiates alone, bob (no role) may not; the contract gets version 1.
    let mut chain = Chain::new();
    let code_hash = deploy(&mut chain, artifact("netting"));
    let plain = Payload::Instantiate { code_hash, args: netting_init() };
    let receipt = chain.run(big(&chain, &bob(), plain.clone()));
    assert_eq!(failure(&receipt), "signer lacks the Deployer role");
    let receipt = chain.run(big(&chain, &alice(), plain));
    assert_success(&receipt);
    let address = receipt.created.unwrap();
    let versions = system::contract_versions(&chain.state, &address).unwrap();
    assert_eq!(
        versions,
        vec![ContractVersion {
            version: 1,
            code_hash,
            activated_at_height: chain.height,
            proposal: None,
            approvers: vec![]
        }]
    );
    // A deployer's proposal is activated by its own approval.
    let (receipt, id) =
        propose(&mut chain, &alice(), instantiate("solo", code_hash, netting_init()), 100);
    assert_success(&receipt);
    assert_eq!(receipt.created, Some(named(&chain, "solo")));
    assert!(matches!(record(&chain, id).status, ProposalStatus::Activated { .. }));
}

#[test]
fn immutable_contracts_refuse_upgrades() {
    let mut chain = consortium();
    let v2 = deploy(&mut chain, artifact("netting-v2"));
    let fixed = named(&chain, "netting-fixed");
    let (receipt, _) = propose(&mut chain, &alice(), upgrade(fixed, v2, vec![0]), 100);
    assert_eq!(
        failure(&receipt),
        format!("lifecycle: contract {fixed} is immutable: its code cannot be replaced")
    );
    // A contract instantiated without a policy is immutable too.
    let (receipt, _) = propose(&mut chain, &alice(), upgrade(Address([9; 32]), v2, vec![]), 100);
    assert!(failure(&receipt).ends_with("is immutable: its code cannot be replaced"));
}

#[test]
fn the_admin_key_alone_upgrades_at_once_and_storage_is_kept() {
    let mut chain = consortium();
    let v1 = Hash::digest(&artifact("netting"));
    let v2 = deploy(&mut chain, artifact("netting-v2"));
    let contract = named(&chain, "netting-admin");
    fund(&mut chain, contract, &bob(), 700);
    fund(&mut chain, contract, &carol(), 300);

    let (receipt, _) = propose(&mut chain, &bob(), upgrade(contract, v2, vec![0]), 100);
    assert_eq!(
        failure(&receipt),
        format!(
            "lifecycle: only the admin key {} may upgrade contract {contract}",
            alice().public()
        )
    );
    let (receipt, _) = propose(&mut chain, &alice(), upgrade(contract, v1, vec![]), 100);
    assert_eq!(failure(&receipt), format!("lifecycle: contract {contract} already runs code {v1}"));

    let (receipt, id) = propose(&mut chain, &alice(), upgrade(contract, v2, vec![0]), 100);
    assert_success(&receipt);
    assert!(
        topics(&receipt).ends_with(&["migrated", "contract_upgraded"]),
        "{:?}",
        topics(&receipt)
    );
    assert_eq!(code_of(&chain, contract), v2);
    assert_eq!(balance(&chain, contract, &bob()), 700);
    assert_eq!(balance(&chain, contract, &carol()), 300);
    let version: u32 = view(&chain, contract, "version", &[]);
    assert_eq!(version, 2);
    let history = system::contract_versions(&chain.state, &contract).unwrap();
    assert_eq!(
        history.iter().map(|v| (v.version, v.code_hash)).collect::<Vec<_>>(),
        [(1, v1), (2, v2)]
    );
    assert_eq!(history[1].proposal, Some(id));
    assert_eq!(history[1].approvers, vec![alice().public()]);
    assert_eq!(history[1].activated_at_height, chain.height);
}

#[test]
fn three_approvals_upgrade_netting_and_migrate_keeps_every_balance() {
    let mut chain = consortium();
    let v2 = deploy(&mut chain, artifact("netting-v2"));
    let contract = named(&chain, "netting");
    let accounts = [alice(), bob(), carol(), dave()];
    for (i, account) in accounts.iter().enumerate() {
        fund(&mut chain, contract, account, 1_000 * (i as u128 + 1));
    }
    let total: u128 = view(&chain, contract, "total_balance", &[]);
    assert_eq!(total, 10_000);

    // migrate(default_debit_cap = Some(5000))
    let migrate_args = borsh::to_vec(&Some(5_000u128)).unwrap();
    let (receipt, id) = propose(&mut chain, &dave(), upgrade(contract, v2, migrate_args), 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &carol(), id));
    assert_ne!(code_of(&chain, contract), v2, "two approvals do not upgrade");
    let third = approve(&mut chain, &bob(), id);
    assert_success(&third);
    assert_eq!(code_of(&chain, contract), v2);
    assert_eq!(
        record(&chain, id).status,
        ProposalStatus::Activated { height: chain.height, contract }
    );
    let upgraded = third.events.iter().find(|e| e.topic == "contract_upgraded").unwrap();
    assert_eq!(upgraded.data, borsh::to_vec(&(id, contract, 2u32, v2)).unwrap());
    for (i, account) in accounts.iter().enumerate() {
        assert_eq!(balance(&chain, contract, account), 1_000 * (i as u128 + 1));
    }
    let total: u128 = view(&chain, contract, "total_balance", &[]);
    assert_eq!(total, 10_000);
    let cap: Option<u128> =
        view(&chain, contract, "debit_cap", &borsh::to_vec(&bob().address()).unwrap());
    assert_eq!(cap, Some(5_000), "migrate converted the records");
    let history = system::contract_versions(&chain.state, &contract).unwrap();
    assert_eq!(history[1].approvers, vec![dave().public(), carol().public(), bob().public()]);

    // The entry points are not methods a transaction may call.
    let receipt = chain.call(contract, "migrate", borsh::to_vec(&None::<u128>).unwrap());
    assert_eq!(failure(&receipt), "no method migrate");
    let receipt = chain.call(contract, "init", netting_init());
    assert_eq!(failure(&receipt), "no method init");
}

#[test]
fn a_failing_migrate_leaves_the_old_code_in_force_and_the_proposal_pending() {
    let mut chain = consortium();
    let v1 = Hash::digest(&artifact("netting"));
    let v2 = deploy(&mut chain, artifact("netting-v2"));
    let contract = named(&chain, "netting");
    fund(&mut chain, contract, &bob(), 500);
    // migrate refuses a debit cap of 0.
    let migrate_args = borsh::to_vec(&Some(0u128)).unwrap();
    let (receipt, id) = propose(&mut chain, &alice(), upgrade(contract, v2, migrate_args), 100);
    assert_success(&receipt);
    assert_success(&approve(&mut chain, &bob(), id));
    let third = approve(&mut chain, &carol(), id);
    assert!(failure(&third).starts_with("contract aborted: "), "{third:?}");
    assert!(third.gas_used > 0 && third.events.is_empty());
    assert_eq!(code_of(&chain, contract), v1);
    assert_eq!(system::contract_versions(&chain.state, &contract).unwrap().len(), 1);
    let pending = record(&chain, id);
    assert_eq!(pending.status, ProposalStatus::Pending);
    assert_eq!(pending.approvals, vec![alice().public(), bob().public()]);
    assert_eq!(balance(&chain, contract, &bob()), 500);
    // Version 1 is still the code: it has no `version` view.
    let ctx = chain.context(chain.height);
    assert!(chain.runtime.view(&chain.state, &ctx, contract, "version", &[]).is_err());

    // Without `migrate` the new code takes no migrate arguments.
    let plain = deploy(&mut chain, artifact("asset-ownership"));
    let (receipt, _) = propose(&mut chain, &alice(), upgrade(contract, plain, vec![1]), 100);
    assert_eq!(
        failure(&receipt),
        "lifecycle: the new code has no migrate method, so the upgrade takes no migrate arguments"
    );
}

/// The gas of each step, for `docs/benchmarks.md`:
/// `cargo test -p kessai-runtime --test runtime lifecycle::gas_of_each_step -- --nocapture`.
#[test]
fn gas_of_each_step() {
    let mut chain = consortium();
    let code_hash = Hash::digest(&artifact("netting"));
    let (propose_receipt, id) =
        propose(&mut chain, &alice(), instantiate("netting-2", code_hash, netting_init()), 100);
    let approve_receipt = approve(&mut chain, &bob(), id);
    let activate_receipt = approve(&mut chain, &carol(), id);
    for receipt in [&propose_receipt, &approve_receipt, &activate_receipt] {
        assert_success(receipt);
    }
    let v2 = deploy(&mut chain, artifact("netting-v2"));
    let contract = named(&chain, "netting");
    for account in [alice(), bob(), carol(), dave()] {
        fund(&mut chain, contract, &account, 1_000);
    }
    let (upgrade_propose, id) = propose(&mut chain, &alice(), upgrade(contract, v2, vec![0]), 100);
    assert_success(&approve(&mut chain, &bob(), id));
    let migrate_receipt = approve(&mut chain, &carol(), id);
    assert_success(&upgrade_propose);
    assert_success(&migrate_receipt);
    let admin = named(&chain, "netting-admin");
    let (admin_upgrade, _) = propose(&mut chain, &alice(), upgrade(admin, v2, vec![0]), 100);
    assert_success(&admin_upgrade);
    println!("propose (instantiate netting, 3 approvals needed): {}", propose_receipt.gas_used);
    println!("approve (second of 3): {}", approve_receipt.gas_used);
    println!("approve + activate (instantiate netting, runs init): {}", activate_receipt.gas_used);
    println!("propose (upgrade netting to v2): {}", upgrade_propose.gas_used);
    println!("approve + activate (upgrade, migrate of 4 balances): {}", migrate_receipt.gas_used);
    println!(
        "admin propose = activate (upgrade, migrate of 0 balances): {}",
        admin_upgrade.gas_used
    );
}
