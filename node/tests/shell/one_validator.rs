//! A one-validator chain: the shell proposes, votes and commits on its own votes, and writes each
//! decided block behind, while the next one is built.

use crate::harness::{spec, Kind, Net, Options};
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn proposes_prevotes_precommits_and_commits_with_each_named_block_journaled_first() {
    let mut net = Net::start(spec(1));
    net.run_until("height 3 on disk", |net| net.height(0) >= 3).await;

    for height in 1..=3 {
        let block = net.block_id(0, height).expect("committed");
        let kinds: Vec<Kind> = net
            .signed_by(0)
            .map(|(_, m)| (crate::harness::slot(m), m.block()))
            .filter(|&((h, round, _), named)| h == height && round == 0 && named == Some(block))
            .map(|((_, _, kind), _)| kind)
            .collect();
        assert_eq!(
            kinds,
            [Kind::Proposal, Kind::Prevote, Kind::Precommit],
            "what the validator signed at height {height}, in order"
        );
    }
    net.assert_agree(1..=3);
    // The monitor checked each of these at publication: block journaled, WAL record written.
    let checked = net.log().iter().filter(|p| p.signed.iter().any(|m| m.block().is_some())).count();
    assert!(checked >= 9, "only {checked} messages naming a block were published");
}

#[tokio::test(start_paused = true)]
async fn signs_nothing_at_a_height_before_the_block_below_is_on_disk() {
    // Every decided block takes 300 ms (real time) to reach the disk, far longer than building the
    // next (empty) block: a shell that signed before waiting for the write would be caught.
    let options = Options { write_delay: Some(Duration::from_millis(300)) };
    let mut net = Net::start_with(spec(1), options);
    net.run_until("height 4 on disk", |net| net.height(0) >= 4).await;

    let mut above_one = 0;
    for published in net.log() {
        for message in &published.signed {
            let (height, ..) = crate::harness::slot(message);
            assert!(
                published.durable_height + 1 >= height,
                "{message:?} published at durable height {}",
                published.durable_height
            );
            above_one += usize::from(height > 1);
        }
    }
    assert!(above_one >= 9, "only {above_one} messages above height 1");
    assert!(net.max_write_lag() >= 1, "no decided block was ever seen still being written");
    net.assert_agree(1..=4);
}
