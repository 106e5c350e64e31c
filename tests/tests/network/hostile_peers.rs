//! Admitted peers that misbehave: four real validators, and libp2p peers (with keys the chain spec
//! lists as full nodes, so they may connect) that gossip malformed messages, votes with bad
//! signatures or for another chain, and proposals from a validator that is not the proposer. Each
//! offender is disconnected and banned, the validators count the penalties, and the chain keeps
//! committing.

use kessai_client::keyfile::KeyFile;
use kessai_network::{AllowList, Multiaddr, NetworkConfig, SyncProvider, Topic};
use kessai_node::service::network::NetworkMessage;
use kessai_primitives::{
    Evidence, Hash, Keypair, Proposal, Signature, SignedVote, Validator, ValidatorSet, Vote,
    VoteKind,
};
use kessai_tests::testnet::{entry_field, metric, metrics_url, one_network_at_a_time, Testnet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];

/// The chain id `kessai testnet init` gives by default.
const CHAIN_ID: &str = "kessai-testnet";

/// A peer with nothing to serve.
struct NoBlocks;

impl SyncProvider for NoBlocks {
    fn latest_height(&self) -> u64 {
        0
    }
    fn blocks(&self, _from: u64, _to: u64) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// What the offenders send, one each: bytes that are not a message, a vote whose signature is
/// forged, a vote signed for another chain, and a proposal for `height` signed by a validator that
/// is not that height's round-0 proposer.
fn offences(
    chain_id: &str,
    height: u64,
    validator: &Keypair,
    not_proposer: &Keypair,
) -> Vec<(&'static str, Vec<u8>)> {
    let vote = |chain_id: &str| Vote {
        chain_id: chain_id.to_string(),
        height,
        round: 0,
        kind: VoteKind::Prevote,
        block: None,
        validator: validator.public(),
    };
    let forged = SignedVote { vote: vote(chain_id), signature: Signature([7; 64]) };
    let other_chain = vote("another-chain").sign(validator);
    let proposal = Proposal {
        chain_id: chain_id.to_string(),
        height,
        round: 0,
        pol_round: None,
        block: Hash([9; 32]),
        proposer: not_proposer.public(),
    }
    .sign(not_proposer);
    let encode = |m: NetworkMessage| borsh::to_vec(&m).unwrap();
    vec![
        ("malformed", b"\xffnot a kessai message".to_vec()),
        ("forged vote", encode(NetworkMessage::Vote(forged))),
        ("vote for another chain", encode(NetworkMessage::Vote(other_chain))),
        (
            "proposal from a non-proposer",
            encode(NetworkMessage::Proposal { proposal, block: None }),
        ),
    ]
}

/// Evidence that `validator` prevoted for two different blocks in one round.
fn equivocation(validator: &Keypair) -> NetworkMessage {
    let prevote = |block: u8| {
        Vote {
            chain_id: CHAIN_ID.into(),
            height: 7,
            round: 3,
            kind: VoteKind::Prevote,
            block: Some(Hash([block; 32])),
            validator: validator.public(),
        }
        .sign(validator)
    };
    NetworkMessage::Evidence(Evidence::DuplicateVote { first: prevote(1), second: prevote(2) })
}

/// A validator that is not the round-0 proposer at `height` (the rotation every node computes).
fn non_proposer(keys: &[Keypair], height: u64) -> Keypair {
    let set = ValidatorSet::new(
        keys.iter().map(|k| Validator { public_key: k.public(), power: 10 }).collect(),
    )
    .unwrap();
    let proposer = set.proposer(height, 0).public_key;
    keys.iter().find(|k| k.public() != proposer).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The guard is held for the whole test on purpose: it keeps other tests' networks (other threads
// of this test binary, blocking on it) off the cores; no task of this test's runtime takes it.
#[allow(clippy::await_holding_lock)]
async fn misbehaving_peers_are_banned_and_the_chain_goes_on() {
    let _turn = one_network_at_a_time();
    // Four offenders and one honest reporter of equivocation, all admitted as full nodes.
    let mut net = Testnet::init(4, 5);
    tokio::task::block_in_place(|| {
        net.start_all(4);
        net.wait_height(&VALIDATORS, 1, Duration::from_secs(60)).unwrap();
    });
    let chain_id = CHAIN_ID;
    let validator_keys: Vec<Keypair> = VALIDATORS
        .iter()
        .map(|&i| {
            KeyFile::read(&net.home(i).join("consensus_key.json")).unwrap().keypair().unwrap()
        })
        .collect();
    let kinds = offences(chain_id, 1, &validator_keys[0], &validator_keys[1]).len();

    let bootnodes: Vec<Multiaddr> = VALIDATORS
        .iter()
        .map(|&i| {
            let e = &net.entries[i];
            format!("{}/p2p/{}", entry_field(e, "p2p_addr"), entry_field(e, "peer_id"))
                .parse()
                .unwrap()
        })
        .collect();
    // The validators' node keys, which their libp2p identities are (not their consensus keys).
    let allow: AllowList = VALIDATORS
        .iter()
        .map(|&i| KeyFile::read(&net.home(i).join("node_key.json")).unwrap().keypair().unwrap())
        .map(|key| key.public())
        .collect();

    let penalties_before = total_penalties(&net);
    for k in 0..kinds {
        let handle = join_as(&net.home(4 + k), &bootnodes, &allow).await;
        // The proposer check applies to the height a validator is working on, which may move on
        // while the message travels: aim at the current one, and try again in the rare race.
        let mut banned = None;
        for _attempt in 0..3 {
            let next = tokio::task::block_in_place(|| net.node(0).height()) + 1;
            let not_proposer = non_proposer(&validator_keys, next);
            let (offence, bytes) =
                offences(chain_id, next, &validator_keys[0], &not_proposer).swap_remove(k);
            handle.publish(Topic::Consensus, bytes);
            banned = wait_until(Duration::from_secs(8), || handle.peers().is_empty()).await;
            if banned.is_some() {
                break;
            }
            eprintln!("{offence}: not disconnected yet, sending again");
        }
        assert!(banned.is_some(), "offender {k} was not disconnected");
        handle.shutdown().await;
    }

    let handle = join_as(&net.home(4 + kinds), &bootnodes, &allow).await;
    let evidence_from = tokio::task::block_in_place(|| net.node(0).height()) + 1;
    handle.publish(Topic::Consensus, borsh::to_vec(&equivocation(&validator_keys[0])).unwrap());
    let committed_at = tokio::task::block_in_place(|| {
        (evidence_from..evidence_from + 10).find(|&height| {
            net.wait_height(&[0], height, Duration::from_secs(60)).unwrap();
            let block = net.node(0).cli_json(&["query", "block", "--height", &height.to_string()]);
            block["evidence"].as_u64().unwrap_or(0) > 0
        })
    });
    assert!(committed_at.is_some(), "the equivocation was not committed as evidence");
    assert_eq!(handle.peers().len(), 4, "an honest reporter of evidence was penalised");
    handle.shutdown().await;

    tokio::task::block_in_place(|| {
        let penalties = total_penalties(&net) - penalties_before;
        assert!(penalties >= kinds as f64, "only {penalties} penalties for {kinds} offences");
        let height = net.node(0).height();
        net.wait_height(&VALIDATORS, height + 2, Duration::from_secs(60)).unwrap();
        net.assert_same_chain(&VALIDATORS, height + 2);
    });
}

/// A bare libp2p peer with the node key of the (admitted, not running) node home `home`, connected
/// to every validator and subscribed long enough for gossip to reach them.
async fn join_as(
    home: &std::path::Path,
    bootnodes: &[Multiaddr],
    allow: &AllowList,
) -> kessai_network::NetworkHandle {
    let key = KeyFile::read(&home.join("node_key.json")).unwrap().keypair().unwrap();
    let mut config = NetworkConfig::new(CHAIN_ID, "/ip4/127.0.0.1/tcp/0".parse().unwrap());
    config.bootnodes = bootnodes.to_vec();
    let (handle, _inbound) =
        kessai_network::start(config, &key, allow.clone(), Arc::new(NoBlocks)).await.unwrap();
    wait_until(Duration::from_secs(20), || handle.peers().len() == bootnodes.len())
        .await
        .unwrap_or_else(|| panic!("{} never connected to every validator", home.display()));
    // Give gossipsub a heartbeat to learn the validators' subscriptions.
    tokio::time::sleep(Duration::from_secs(2)).await;
    handle
}

fn total_penalties(net: &Testnet) -> f64 {
    VALIDATORS
        .iter()
        .map(|&i| {
            let url = metrics_url(&net.home(i)).expect("metrics endpoint");
            metric(&url, "kessai_penalised_peers").unwrap_or(0.0)
        })
        .sum()
}

async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> Option<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if condition() {
            return Some(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
