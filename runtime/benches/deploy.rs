//! What compiling a deploy costs, for the worst module shapes the structural limits allow, against
//! the compile gas it is charged (`gas::compile`, docs/decisions/0006-deploy-limits-and-compile-gas.md).
//!
//! `cargo bench -p kessai-runtime --bench deploy` (add `--profile dev` for the build the tests and
//! `scripts/dev.sh` run, which is what the prices were measured with)
//!
//! Each shape is a contract module filled with as many copies of one worst-case function as fit in
//! one transaction of the maximum gas (the storage gas of its bytes included) and in the limits;
//! criterion's throughput is compile gas per second, so `thrpt` reads in gas per second. Before
//! criterion runs, one timed compile per shape is printed with the promise of the model: at most
//! a CPU second per `gas::COMPILE_GAS_PER_SECOND` of compile gas.
//!
//! With `DEPLOY_BENCH_WRITE=DIR` it writes each shape's module to `DIR/<shape>.wasm` and stops
//! (for `scripts/bench-deploy-block.sh`, which deploys them on a four-validator testnet).
//!
//! With `DEPLOY_BENCH_GROWTH=1` it first prints how the compile time of one function grows with its
//! instructions, beyond the limits (wasmtime alone, configured as the runtime's engine): what is
//! superlinear, and so what the limits and the quadratic price are for.

// `criterion_group!` declares `pub fn benches()` and takes no doc comment for it.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kessai_primitives::{Keypair, Payload, Transaction};
use kessai_runtime::{gas, Runtime, RuntimeConfig};
use std::time::{Duration, Instant};

const ABI: &str = r#"{"name":"shape","version":"0.1.0","methods":[{"name":"ping","kind":"call"}]}"#;
/// A real contract, for comparison: the largest of the repository.
const CLEARING: &[u8] = include_bytes!("../../contracts/artifacts/clearing.wasm");

fn repeat(item: &str, times: u32) -> String {
    (0..times).map(|_| item).collect::<Vec<_>>().join(" ")
}

/// The worst-case functions, each at a per-function limit (2,000 branching instructions, 1,000
/// nested blocks, 64 KiB of body, 2,000 locals) or, for `empty`, as small as a function gets.
fn shapes(config: &RuntimeConfig) -> Vec<(&'static str, String)> {
    let branches = config.max_function_branches;
    let depth = config.max_nesting_depth;
    // Bytes of straight-line code that fit in one body with its locals and `end`.
    let body = config.max_function_body_bytes as u32 - 8;
    vec![
        ("empty_functions", "(func)".to_string()),
        ("sequential_loops", format!("(func {})", repeat("loop end", branches))),
        ("nested_loops", format!("(func {} {})", repeat("loop", depth), repeat("end", depth))),
        (
            "call_indirect",
            format!("(func {})", repeat("i32.const 0 call_indirect (type $t)", branches)),
        ),
        (
            "loops_of_call_indirect",
            format!(
                "(func {})",
                repeat("loop i32.const 0 call_indirect (type $t) end", branches / 2)
            ),
        ),
        ("loops_of_calls", format!("(func {})", repeat("loop call $leaf end", branches))),
        ("ifs", format!("(func (param i32) {})", repeat("local.get 0 if end", branches))),
        ("calls", format!("(func {})", repeat("call $leaf", body / 2))),
        (
            "arithmetic",
            format!(
                "(func (local i32) {})",
                repeat("local.get 0 i32.const 1 i32.add local.set 0", body / 7)
            ),
        ),
        (
            "floats",
            format!(
                "(func (local f64) {})",
                repeat("local.get 0 local.get 0 f64.mul local.set 0", body / 7)
            ),
        ),
        (
            "memory",
            format!(
                "(func (local i32 i64) {})",
                repeat("local.get 0 i64.load offset=8 local.set 1", body / 7)
            ),
        ),
        (
            "locals_across_blocks",
            format!(
                "(func (local {}) {})",
                repeat("i64", config.max_locals),
                (0..branches)
                    .map(|i| format!(
                        "block local.get {} local.set {} end",
                        i % config.max_locals,
                        (i * 7 + 1) % config.max_locals
                    ))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
    ]
}

fn contract(functions: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module (type $t (func)) (memory (export "memory") 1) (table 1 funcref)
             (func $leaf) (elem (i32.const 0) $leaf) (func (export "ping")) {functions}
             (@custom "kessai:abi" "{}"))"#,
        ABI.replace('"', "\\\"")
    );
    wat::parse_str(&wat).expect("a valid module")
}

/// All the gas of deploying `code`: the transaction's intrinsic gas (storing the code) and the
/// compile gas.
fn deploy_gas(runtime: &Runtime, code: &[u8]) -> Option<(u64, u64)> {
    let key = Keypair::dev("bench");
    let payload = Payload::Deploy { code: code.to_vec() };
    let tx =
        Transaction { chain_id: "b".into(), signer: key.public(), nonce: 0, gas_limit: 0, payload };
    let compile = runtime.compile_gas(code).ok()?;
    Some((gas::intrinsic(&tx.sign(&key)) + compile, compile))
}

/// The largest module of copies of `function` whose deploy fits in one maximum-gas transaction
/// and in the limits. The gas of a module grows by the same amount with each copy.
fn fill(runtime: &Runtime, function: &str) -> Vec<u8> {
    let config = runtime.config();
    let module = |copies: u32| contract(&repeat(function, copies));
    let gas = |code: &[u8]| deploy_gas(runtime, code).map(|(all, _)| all);
    let one = gas(&module(1)).expect("one copy is within the limits");
    let per_copy = gas(&module(2)).expect("two copies are within the limits") - one;
    let by_gas = (config.max_tx_gas.saturating_sub(one) / per_copy + 1) as u32;
    // `ping` is a function too.
    let mut copies = by_gas.min(config.max_functions - 1);
    loop {
        let code = module(copies);
        if code.len() <= config.max_code_bytes && gas(&code).is_some_and(|g| g <= config.max_tx_gas)
        {
            return code;
        }
        copies -= 1;
    }
}

/// CPU time of this process so far (all threads: wasmtime compiles functions in parallel), from
/// `/proc/self/stat` (Linux; clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let after_name = &stat[stat.rfind(')').expect("(comm)") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// One function of `n` copies of each instruction pattern, compiled once by an engine configured
/// like the runtime's (fuel, NaN canonicalisation, cranelift `speed`), without the limits.
fn growth() {
    let mut config = wasmtime::Config::new();
    config.consume_fuel(true).cranelift_nan_canonicalization(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = wasmtime::Engine::new(&config).unwrap();
    type Pattern = fn(u32) -> String;
    let patterns: [(&str, Pattern); 5] = [
        ("nested block", |n| format!("{} {}", repeat("block", n), repeat("end", n))),
        ("sequential block end", |n| repeat("block end", n)),
        ("nested loop", |n| format!("{} {}", repeat("loop", n), repeat("end", n))),
        ("call_indirect", |n| repeat("i32.const 0 call_indirect (type $t)", n)),
        ("call", |n| repeat("call $leaf", n)),
    ];
    eprintln!("one function of N instructions: wasmparser validation, compile (wall time)");
    for (name, pattern) in patterns {
        for n in [4_000, 8_000, 16_000] {
            let code = contract(&format!("(func {})", pattern(n)));
            let start = Instant::now();
            wasmparser::Validator::new().validate_all(&code).unwrap();
            let validated = start.elapsed();
            let start = Instant::now();
            wasmtime::Module::new(&engine, &code).unwrap();
            eprintln!("{name} N={n}: {validated:.2?}, {:.2?}", start.elapsed());
        }
    }
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("DEPLOY_BENCH_GROWTH").is_some() {
        growth();
    }
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut modules: Vec<(&str, Vec<u8>)> =
        shapes(runtime.config()).into_iter().map(|(name, f)| (name, fill(&runtime, &f))).collect();
    modules.push(("clearing_contract", CLEARING.to_vec()));
    // `scripts/bench-deploy-block.sh` deploys these modules on a testnet: write them and stop.
    if let Some(dir) = std::env::var_os("DEPLOY_BENCH_WRITE") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, code) in &modules {
            std::fs::write(dir.join(format!("{name}.wasm")), code).unwrap();
        }
        eprintln!("wrote {} modules to {}", modules.len(), dir.display());
        std::process::exit(0);
    }

    let promise = gas::COMPILE_GAS_PER_SECOND as f64;
    eprintln!(
        "shape: bytes, deploy gas, compile gas; wall and CPU time of a compile (the median of \
         three by wall time); ms per M compile gas, wall and CPU (promise: {:.1} ms CPU)",
        1e9 / promise
    );
    for (name, code) in &modules {
        let (all, compile) = deploy_gas(&runtime, code).unwrap();
        let mut runs: Vec<(f64, f64)> = (0..3)
            .map(|_| {
                let (start, cpu) = (Instant::now(), cpu_seconds());
                runtime.validate_code(code).unwrap();
                (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (wall, cpu) = runs[1];
        let mgas = compile as f64 / 1e6;
        let verdict = if cpu <= compile as f64 / promise { "within" } else { "OVER" };
        eprintln!(
            "{name}: {} B, {all} gas, {compile} gas; {wall:.3} s wall, {cpu:.2} s CPU; \
             {:.2} ms/Mgas wall, {:.2} ms/Mgas CPU, {verdict}",
            code.len(),
            wall * 1e3 / mgas,
            cpu * 1e3 / mgas
        );
    }

    let mut group = c.benchmark_group("compile");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    for (name, code) in &modules {
        let (_, compile) = deploy_gas(&runtime, code).unwrap();
        group.throughput(Throughput::Elements(compile));
        // validate_code compiles every time (it does not look in the module cache).
        group.bench_function(*name, |b| b.iter(|| runtime.validate_code(code).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
