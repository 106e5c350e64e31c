//! Cost of light-client verification: one header by validator-set size, and whole syncs.
//!
//! `cargo bench -p kessai-light-client --bench verify`

// `criterion_group!` declares `pub fn benches()` and takes no doc comment for it.
#![allow(missing_docs)]

#[path = "../tests/fixture/mod.rs"]
mod fixture;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fixture::{block_on, validator, ChainBuilder, TestProvider};
use kessai_light_client::{verify_adjacent, verify_skipping, LightClient, TrustOptions};
use std::sync::Arc;

fn one_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_header");
    let opts = TrustOptions::default();
    for validators in [4, 100] {
        let chain = ChainBuilder::new("kessai-bench")
            .validators((0..validators).map(|i| validator(i, 10)).collect())
            .txs_per_block(0)
            .build(3);
        let now = chain.now_after(3);
        let trusted = chain.trusted(1);
        group.bench_with_input(BenchmarkId::new("adjacent", validators), &chain, |b, chain| {
            b.iter(|| {
                verify_adjacent(
                    &trusted,
                    chain.header(2),
                    chain.commit(2),
                    chain.set(2),
                    now,
                    &opts,
                )
                .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("skipping", validators), &chain, |b, chain| {
            b.iter(|| {
                verify_skipping(
                    &trusted,
                    chain.header(3),
                    chain.commit(3),
                    chain.set(3),
                    now,
                    &opts,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn sync(c: &mut Criterion) {
    const HEIGHT: u64 = 10_000;
    let mut group = c.benchmark_group("sync_10000");
    group.sample_size(10);
    let steady = Arc::new(ChainBuilder::new("kessai-bench").txs_per_block(0).build(HEIGHT));
    // A disjoint set of four takes over every 1,000 blocks: each hand-over must be bisected to.
    let mut rotating = ChainBuilder::new("kessai-bench").txs_per_block(0);
    for era in 1..10u64 {
        let set = (era as usize * 4..era as usize * 4 + 4).map(|i| validator(i, 10)).collect();
        rotating = rotating.change_validators_at(era * 1000 + 1, set);
    }
    let rotating = Arc::new(rotating.build(HEIGHT));
    for (name, chain) in
        [("skipping/steady_set", &steady), ("skipping/set_replaced_every_1000", &rotating)]
    {
        let now = chain.now_after(HEIGHT);
        group.bench_function(name, |b| {
            b.iter(|| {
                let provider = TestProvider::honest(chain.clone());
                let mut client =
                    LightClient::new(provider, chain.trusted(1), TrustOptions::default()).unwrap();
                block_on(client.sync_to(HEIGHT, now, |_| {})).unwrap().height()
            })
        });
    }
    let now = steady.now_after(HEIGHT);
    group.bench_function("sequential/steady_set", |b| {
        b.iter(|| {
            let provider = TestProvider::honest(steady.clone());
            let mut client =
                LightClient::new(provider, steady.trusted(1), TrustOptions::default()).unwrap();
            block_on(client.sync_sequential_to(HEIGHT, now, |_| {})).unwrap().height()
        })
    });
    group.finish();
}

criterion_group!(benches, one_header, sync);
criterion_main!(benches);
