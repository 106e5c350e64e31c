//! State proofs over a large tree: proof size, proving (RocksDB reads) and verification time, and the
//! cost of preparing a block's state.
//!
//! ```sh
//! cargo bench -p kessai-store --bench state                          # 1,000,000 keys
//! KESSAI_BENCH_KEYS=100000 cargo bench -p kessai-store --bench state # quicker
//! ```
//!
//! The tree is built first (in blocks of 10,000 writes, like a busy chain would), in a temporary
//! directory; building the million keys takes a few minutes and is not part of the measurement.

// `criterion_group!` declares `pub fn benches()` and takes no doc comment for it.
#![allow(missing_docs)]

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kessai_primitives::{Address, Hash};
use kessai_store::{flat_key, Store, StoreConfig, WriteSet};
use std::time::Instant;
use support::commit;
use tempfile::TempDir;

const BATCH: u64 = 10_000;

fn keys_wanted() -> u64 {
    std::env::var("KESSAI_BENCH_KEYS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000)
}

fn state_key(i: u64) -> Vec<u8> {
    let mut key = b"balance/".to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    flat_key(&Address([7; 32]), &key)
}

fn value(i: u64, version: u64) -> Vec<u8> {
    Hash::of(&(i, version)).0.to_vec()
}

fn build(keys: u64) -> (TempDir, Store) {
    let dir = TempDir::new().unwrap();
    let store =
        Store::open_with(dir.path(), &StoreConfig { sync: false, ..Default::default() }).unwrap();
    let started = Instant::now();
    let mut next = 0;
    while next < keys {
        let version = store.latest_height().map_or(0, |h| h + 1);
        let end = (next + BATCH).min(keys);
        let writes: WriteSet =
            (next..end).map(|i| (state_key(i), Some(value(i, version)))).collect();
        commit(&store, &writes);
        next = end;
        if next % 100_000 == 0 || next == keys {
            eprintln!("built {next} keys in {:.1?}", started.elapsed());
        }
    }
    (dir, store)
}

fn state(c: &mut Criterion) {
    let keys = keys_wanted();
    let (_dir, store) = build(keys);
    let latest = store.latest_height().unwrap();
    let root = store.state_root(latest).unwrap().unwrap();

    // Proof sizes over a sample of present and absent keys.
    let sample = 1_000u64;
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    for s in 0..sample {
        let i = s * (keys / sample).max(1) % keys;
        present.push(store.get_with_proof(&state_key(i), latest).unwrap().1.to_bytes().len());
        absent.push(store.get_with_proof(&state_key(keys + s), latest).unwrap().1.to_bytes().len());
    }
    let stats = |sizes: &[usize]| {
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        format!("mean {mean:.0} B, max {} B", sizes.iter().max().unwrap())
    };
    eprintln!(
        "proof size with {keys} keys: inclusion {}; absence {}",
        stats(&present),
        stats(&absent)
    );

    let mut group = c.benchmark_group(format!("state_{keys}_keys"));
    let mut i = 0u64;
    group.bench_function("get_with_proof", |b| {
        b.iter(|| {
            i = (i + 7_919) % keys;
            store.get_with_proof(&state_key(i), latest).unwrap()
        })
    });
    let present_key = state_key(keys / 2);
    let (present_value, present_proof) = store.get_with_proof(&present_key, latest).unwrap();
    let present_value = present_value.unwrap();
    group.bench_function("verify_inclusion", |b| {
        b.iter(|| present_proof.verify(root, &present_key, Some(&present_value)).unwrap())
    });
    let absent_key = state_key(keys + 1);
    let absent_proof = store.get_with_proof(&absent_key, latest).unwrap().1;
    group.bench_function("verify_absence", |b| {
        b.iter(|| absent_proof.verify(root, &absent_key, None).unwrap())
    });
    group.bench_function("prepare_state_1000_updates", |b| {
        b.iter_batched(
            || {
                (0..1_000)
                    .map(|n| (state_key(n * 997 % keys), Some(vec![1; 32])))
                    .collect::<WriteSet>()
            },
            |writes| store.prepare_state(latest + 1, &writes).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = state
}
criterion_main!(benches);
