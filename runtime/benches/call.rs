//! What a contract call costs once its module is compiled and cached.
//!
//! `cargo bench -p kessai-runtime --bench call`
//!
//! - `execute_block/write_call`: a block of 100 transactions, each calling a method that does one
//!   storage write; reported per transaction. This is everything a transaction costs in a block:
//!   signature check, nonce and membership reads, the call and the receipt.
//! - `tx/verify_signature`: the ed25519 check alone, for the same transaction. The call's own cost
//!   is the first number minus this one.
//! - `execute_block/empty`: a block without transactions (the execution thread and the end-of-block
//!   validator rotation).
//! - `view/read_call`: one read-only call through `Runtime::view`, including its execution thread.
//! - `call/nested_write_call`: one transaction whose contract calls another contract's one-write
//!   method 100 times (`call_contract`); reported per call. Each is a full call of a cached
//!   module — a fresh store and instance, the write, the return — with no signature or
//!   transaction around it: the cost of a contract call itself.

// `criterion_group!` declares `pub fn benches()` and takes no doc comment for it.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kessai_primitives::{
    Address, Keypair, Payload, Role, SignedTransaction, Transaction, Validator, ValidatorSet,
};
use kessai_runtime::{
    genesis_writes, system, BlockContext, GenesisContract, GenesisSpec, Runtime, RuntimeConfig,
};

const COUNTER_WAT: &str = r#"
(module
  (import "kessai" "storage_set" (func $storage_set (param i32 i32 i32 i32)))
  (import "kessai" "storage_get" (func $storage_get (param i32 i32) (result i64)))
  (import "kessai" "input" (func $input (result i32)))
  (import "kessai" "scratch_read" (func $scratch_read (param i32)))
  (import "kessai" "call_contract" (func $call_contract (param i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (data (i32.const 16) "\01\00\00\00\00\00\00\00")
  (data (i32.const 32) "bump")
  ;; One storage write.
  (func (export "bump")
    (call $storage_set (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8)))
  ;; fan(target: address, n: u32): calls target.bump() n times.
  (func (export "fan")
    (local $n i32)
    (drop (call $input))
    (call $scratch_read (i32.const 64))
    (local.set $n (i32.load (i32.const 96)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (drop (call $call_contract (i32.const 64) (i32.const 32) (i32.const 4) (i32.const 0) (i32.const 0)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))
  ;; One storage read.
  (func (export "read")
    (drop (call $storage_get (i32.const 0) (i32.const 5)))))
"#;

const COUNTER_ABI: &str = r#"{"name":"counter","version":"0.1.0","methods":[
  {"name":"bump","kind":"call"},{"name":"read","kind":"view"},
  {"name":"fan","kind":"call","args":[{"name":"target","type":"address"},{"name":"n","type":"u32"}]}]}"#;

const CHAIN: &str = "kessai-bench";
const BLOCK_TXS: u64 = 100;
const NESTED_CALLS: u32 = 100;

use kessai_state::MemoryState as MemState;

fn counter_code() -> Vec<u8> {
    let mut code = wat::parse_str(COUNTER_WAT).unwrap();
    let name = kessai_abi::SECTION.as_bytes();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(COUNTER_ABI.as_bytes());
    code.push(0);
    let mut size = section.len() as u32;
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        code.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    code.extend_from_slice(&section);
    code
}

fn setup() -> (Runtime, MemState, [Address; 2], Keypair) {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let member = Keypair::dev("bench");
    let spec = GenesisSpec {
        chain_id: CHAIN.into(),
        time_ms: 0,
        members: vec![(member.public(), vec![Role::Admin])],
        validators: ValidatorSet::new(vec![Validator { public_key: member.public(), power: 1 }])
            .unwrap(),
        deployment_policy: kessai_primitives::DeploymentPolicy::AnyDeployer,
        contracts: ["counter", "other"]
            .iter()
            .map(|name| GenesisContract {
                name: name.to_string(),
                code: counter_code(),
                init_args: vec![],
                upgrade_policy: kessai_primitives::UpgradePolicy::Immutable,
            })
            .collect(),
    };
    let (writes, names) = genesis_writes(&runtime, &spec).unwrap();
    let mut state = MemState::default();
    for (key, value) in writes {
        state.0.insert(key, value.unwrap());
    }
    (runtime, state, [names[0].1, names[1].1], member)
}

fn ctx() -> BlockContext {
    BlockContext { chain_id: CHAIN.into(), height: 1, time_ms: 1, block_gas_limit: u64::MAX }
}

fn call(
    member: &Keypair,
    nonce: u64,
    contract: Address,
    method: &str,
    args: Vec<u8>,
) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: member.public(),
        nonce,
        gas_limit: 100_000_000,
        payload: Payload::Call { contract, method: method.into(), args },
    }
    .sign(member)
}

fn bench(c: &mut Criterion) {
    let (runtime, state, [counter, other], member) = setup();
    let txs: Vec<SignedTransaction> =
        (0..BLOCK_TXS).map(|n| call(&member, n, counter, "bump", vec![])).collect();
    let executed = runtime.execute_block(&state, &ctx(), &txs).unwrap();
    assert!(executed.receipts.iter().all(|r| r.is_success()), "{:?}", executed.receipts[0]);
    assert!(executed.writes.contains_key(&system::flat_key(&counter, b"count")));

    let mut group = c.benchmark_group("execute_block");
    group.throughput(Throughput::Elements(BLOCK_TXS));
    group.bench_function("write_call", |b| {
        b.iter(|| runtime.execute_block(&state, &ctx(), &txs).unwrap())
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("empty", |b| {
        b.iter(|| runtime.execute_block(&state, &ctx(), &[]).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("tx");
    group.bench_function("verify_signature", |b| {
        b.iter_batched(
            || txs[0].clone(),
            |tx| tx.verify_signature().unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("id", |b| b.iter(|| txs[0].id()));
    group.finish();

    let fan_args = borsh::to_vec(&(other, NESTED_CALLS)).unwrap();
    let fan = [call(&member, 0, counter, "fan", fan_args)];
    let executed = runtime.execute_block(&state, &ctx(), &fan).unwrap();
    assert!(executed.receipts[0].is_success(), "{:?}", executed.receipts[0]);
    let mut group = c.benchmark_group("call");
    group.throughput(Throughput::Elements(NESTED_CALLS as u64));
    group.bench_function("nested_write_call", |b| {
        b.iter(|| runtime.execute_block(&state, &ctx(), &fan).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("view");
    group.bench_function("read_call", |b| {
        b.iter(|| runtime.view(&state, &ctx(), counter, "read", &[]).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
