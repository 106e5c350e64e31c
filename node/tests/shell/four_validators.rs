//! Four validators in one process: agreement, a silent validator, and a partitioned one that
//! catches up by block sync (and refuses blocks whose commits do not verify).

use crate::harness::{spec, Envelope, Fate, Net};
use kessai_primitives::{CommitSignature, Keypair, Vote, VoteKind};
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn four_validators_commit_the_same_blocks() {
    let mut net = Net::start(spec(4));
    net.run_until("height 4 on every validator", |net| (0..4).all(|i| net.height(i) >= 4)).await;
    net.assert_agree(1..=4);
}

#[tokio::test(start_paused = true)]
async fn three_validators_commit_while_the_fourth_is_silent() {
    let mut net = Net::start(spec(4));
    // The first proposer: its rounds time out, so the others must move to the next round.
    let silent = net.index_of(&spec(4).validator_set().proposer(1, 0).public_key);
    net.set_policy(move |e: &Envelope| if e.from == silent { Fate::Drop } else { Fate::Deliver });
    let others = move |net: &Net| (0..4).filter(|&i| i != silent).all(|i| net.height(i) >= 3);
    net.run_until("height 3 on the three others", others).await;

    net.assert_agree(1..=3);
    let first = (0..4).find(|&i| i != silent).unwrap();
    let commit = net.commit(first, 1).unwrap();
    assert!(commit.round >= 1, "height 1 was decided in round 0, whose proposer was silent");
    assert!(commit.signatures.iter().all(|s| s.validator != net.key(silent)));
}

#[tokio::test(start_paused = true)]
async fn a_partitioned_validator_catches_up_by_sync_and_refuses_blocks_whose_commit_fails() {
    let mut net = Net::start(spec(4));
    let cut = 3;
    net.set_policy(
        move |e: &Envelope| {
            if e.from == cut || e.to == cut {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        },
    );
    net.run_until("height 3 on the others", |net| (0..3).all(|i| net.height(i) >= 3)).await;
    assert_eq!(net.height(cut), 0);
    // Let the others finish what they were doing, holding what they send.
    net.set_policy(
        move |e: &Envelope| if e.from == cut || e.to == cut { Fate::Drop } else { Fate::Hold },
    );
    net.run_for(Duration::from_millis(500)).await;
    let (source, top) = (0..3).map(|i| (i, net.height(i))).max_by_key(|&(_, h)| h).unwrap();
    let good = net.synced_blocks(source, 1, top);
    let chain_id = spec(4).chain_id;

    // A commit with two of four signatures: not more than two thirds of the power.
    let mut incomplete = good[0].clone();
    incomplete.commit.signatures.truncate(2);
    // A commit whose third signature is a precommit of another block.
    let mut forged = good[0].clone();
    let signer = forged.commit.signatures[2].validator;
    let key =
        (0..4).map(|i| Keypair::dev(&format!("validator-{i}"))).find(|k| k.public() == signer);
    let other_block = Vote {
        block: Some(kessai_primitives::Hash::digest(b"another block")),
        ..forged.commit.precommit_of(&chain_id, signer)
    };
    assert_eq!(other_block.kind, VoteKind::Precommit);
    forged.commit.signatures[2] =
        CommitSignature { validator: signer, signature: other_block.sign(&key.unwrap()).signature };
    // A genuine commit on a block that is not the one it commits.
    let mut tampered = good[0].clone();
    tampered.block.header.time_ms += 1;
    // A commit signed by a key outside the validator set.
    let mut outsider = good[0].clone();
    let stranger = Keypair::dev("not-a-validator");
    outsider.commit.signatures[0] = CommitSignature {
        validator: stranger.public(),
        signature: outsider
            .commit
            .precommit_of(&chain_id, stranger.public())
            .sign(&stranger)
            .signature,
    };

    for (what, bad) in [
        ("an incomplete commit", incomplete),
        ("a forged signature", forged),
        ("a block other than the committed one", tampered),
        ("a signature from outside the set", outsider),
    ] {
        let verdict = net.sync(cut, vec![bad]).await;
        assert!(verdict.is_err(), "{what}: verdict {verdict:?}");
        assert_eq!(net.height(cut), 0, "{what}: a block was committed");
        assert_eq!(net.chain(cut).tip_height(), 0, "{what}: a block became the tip");
    }

    assert_eq!(net.sync(cut, good).await, Ok(top));
    assert_eq!(net.height(cut), top);
    net.assert_agree(1..=top);

    // Healed, it takes part in consensus again: it precommits blocks the others commit. Gossip
    // does not resend a proposal it missed meanwhile; the node's sync service would then fetch
    // that block, which `catch_up` stands in for.
    net.set_policy(|_| Fate::Deliver);
    net.release(|_| true).await;
    let target = top + 3;
    let precommitted_a_committed_block = |net: &Net| {
        net.signed_by(cut).any(|(_, m)| {
            let (height, _, kind) = crate::harness::slot(m);
            kind == crate::harness::Kind::Precommit
                && height > top
                && m.block().is_some()
                && m.block() == net.block_id(0, height)
        })
    };
    for _ in 0..20 {
        if (0..4).all(|i| net.height(i) >= target) && precommitted_a_committed_block(&net) {
            break;
        }
        net.run_for(Duration::from_secs(5)).await;
        net.catch_up(cut).await.expect("the others' blocks verify");
    }
    net.assert_agree(1..=target);
    assert!(
        precommitted_a_committed_block(&net),
        "the healed validator precommitted none of the blocks committed after it synced"
    );
}
