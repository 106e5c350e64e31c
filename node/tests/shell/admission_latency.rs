//! `kessai_tx_admission_to_durable_seconds`: each transaction a validator admitted is observed
//! once, when its block's write lands, under the source it came from; a validator that learned it
//! only from the block does not observe it.

use crate::harness::{spec, Net, Options};
use kessai_primitives::{GovernanceAction, Hash, Keypair, Payload, Role, Transaction};
use std::time::Duration;

/// Every background block write is held back this long (real time), so the observed latency of a
/// transaction admitted before its block was proposed is at least this.
const WRITE_DELAY: Duration = Duration::from_millis(200);

/// The value of `kessai_tx_admission_to_durable_seconds_<part>{source="<source>"}` in validator
/// `i`'s `/metrics` text.
fn series(net: &Net, i: usize, part: &str, source: &str) -> f64 {
    let text = net.metrics(i).render();
    let name = format!("kessai_tx_admission_to_durable_seconds_{part}{{source=\"{source}\"}} ");
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix(&name))
        .unwrap_or_else(|| panic!("validator {i}'s /metrics has no {name}:\n{text}"));
    line.trim().parse().unwrap_or_else(|e| panic!("{name}{line}: {e}"))
}

/// The height of the block on validator `i`'s disk that holds the transaction `id`.
fn committed_at(net: &Net, i: usize, id: &Hash) -> Option<u64> {
    (1..=net.height(i)).find(|&h| {
        let block = net.chain(i).store.block(h).expect("readable store").expect("written");
        block.txs.iter().any(|tx| tx.id() == *id)
    })
}

#[tokio::test(start_paused = true)]
async fn each_admitted_transaction_is_observed_once_when_its_block_is_on_disk() {
    let mut net = Net::start_with(spec(4), Options { write_delay: Some(WRITE_DELAY) });
    let alice = Keypair::dev("alice");
    let tx = Transaction {
        chain_id: spec(4).chain_id,
        signer: alice.public(),
        nonce: 0,
        gas_limit: 1_000_000,
        payload: Payload::Governance(GovernanceAction::GrantRole {
            key: Keypair::dev("carol").public(),
            role: Role::Deployer,
        }),
    }
    .sign(&alice);
    let id = tx.id();
    // Validator 0 has it from a client, validator 1 from a peer; the harness routes no gossiped
    // transactions, so validators 2 and 3 learn it only from the block.
    net.mempool(0).admit(net.chain(0), tx.clone()).expect("admitted from a client");
    let relayed = net.mempool(1).admit_relayed_batch(net.chain(1), std::slice::from_ref(&tx));
    assert!(relayed[0].is_ok(), "relayed: {:?}", relayed[0]);

    let on_disk = |net: &Net| (0..4).all(|i| committed_at(net, i, &id).is_some());
    net.run_until("the transaction on every validator's disk", on_disk).await;
    let height = committed_at(&net, 0, &id).expect("committed");
    // Two more blocks: nothing is observed again.
    let later = move |net: &Net| (0..4).all(|i| net.height(i) >= height + 2);
    net.run_until("two blocks more on every validator", later).await;

    for (i, source, other) in [(0, "client", "peer"), (1, "peer", "client")] {
        assert_eq!(series(&net, i, "count", source), 1.0, "validator {i}, source {source}");
        assert_eq!(series(&net, i, "count", other), 0.0, "validator {i}, source {other}");
        let seconds = series(&net, i, "sum", source);
        assert!(
            seconds >= WRITE_DELAY.as_secs_f64() && seconds < 60.0,
            "validator {i} observed {seconds} s; its block's write alone took {WRITE_DELAY:?}"
        );
    }
    for i in [2, 3] {
        for source in ["client", "peer"] {
            assert_eq!(series(&net, i, "count", source), 0.0, "validator {i} never admitted it");
        }
    }
}
