//! A validator restarted mid-height, after it precommitted: it comes back from its WAL and block
//! journal, says nothing different from what it said before, and commits what it locked on.

use crate::harness::{slot, spec, Envelope, Fate, Kind, Net};
use kessai_node::service::network::NetworkMessage;
use std::time::Duration;

fn is_precommit(e: &Envelope) -> bool {
    matches!(&e.message, NetworkMessage::Vote(v) if v.vote.kind == kessai_primitives::VoteKind::Precommit)
}

#[tokio::test(start_paused = true)]
async fn a_validator_restarted_after_precommitting_never_contradicts_itself_and_commits() {
    let mut net = Net::start(spec(4));
    // The proposer of height 1: restarted, it must also come back with the block it proposed.
    let restarted = net.index_of(&spec(4).validator_set().proposer(1, 0).public_key);
    // Nobody sees a precommit: everyone precommits and waits.
    net.set_policy(|e: &Envelope| if is_precommit(e) { Fate::Hold } else { Fate::Deliver });
    let precommitted = |net: &Net, i: usize| {
        net.signed_by(i).any(|(_, m)| slot(m) == (1, 0, Kind::Precommit) && m.block().is_some())
    };
    net.run_until("every validator precommitted a block at (1, 0)", |net| {
        (0..4).all(|i| precommitted(net, i))
    })
    .await;
    assert!((0..4).all(|i| net.height(i) == 0));
    let locked = net
        .signed_by(restarted)
        .find(|(_, m)| slot(m) == (1, 0, Kind::Precommit))
        .and_then(|(_, m)| m.block())
        .unwrap();

    net.crash(restarted).await;
    net.restart(restarted);
    // Long enough for any timeout of round 0 to fire: a restarted shell that forgot what it
    // signed would propose, prevote or precommit something else (the monitor panics on it).
    net.run_for(Duration::from_secs(20)).await;
    let again: Vec<Kind> = net
        .signed_by(restarted)
        .filter(|(incarnation, m)| *incarnation == 1 && m.height() == 1)
        .map(|(_, m)| slot(m).2)
        .collect();
    assert!(
        again.contains(&Kind::Precommit),
        "after the restart it did not resend its precommit: {again:?}"
    );

    net.set_policy(|_| Fate::Deliver);
    net.release(|_| true).await;
    net.run_until("height 3 everywhere", |net| (0..4).all(|i| net.height(i) >= 3)).await;
    let ids = net.assert_agree(1..=3);
    assert_eq!(ids[0], locked, "height 1 committed another block than the one precommitted");
}
