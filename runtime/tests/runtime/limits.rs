//! The structural limits of a deployed module (`RuntimeConfig::max_*`), checked before it is
//! compiled, and the compile gas a deploy is charged. Each module here is one item beyond a default
//! limit; each is refused with the limit it breaks, in the error and in the receipt.

use crate::common::*;
use kessai_primitives::{Hash, Payload};
use kessai_runtime::{gas, system, DeployError, Runtime, RuntimeConfig, TxRejection};

const PING_ABI: &str =
    r#"{"name":"ping","version":"0.1.0","methods":[{"name":"ping","kind":"call"}]}"#;

fn limits() -> RuntimeConfig {
    RuntimeConfig::default()
}

fn check(wat: &str) -> Result<kessai_abi::Abi, DeployError> {
    Runtime::new(limits()).unwrap().validate_code(&module(wat, Some(PING_ABI)))
}

/// A contract module with `items` in it, besides its memory and `ping`.
fn with(items: &str) -> String {
    format!(r#"(module (memory (export "memory") 1) (func (export "ping")) {items})"#)
}

fn repeat(item: &str, times: u32) -> String {
    (0..times).map(|_| item).collect::<Vec<_>>().join(" ")
}

/// `ping` with `depth` nested blocks.
fn nested_blocks(depth: u32) -> String {
    let body = format!("{} {}", repeat("block", depth), repeat("end", depth));
    format!(r#"(module (memory (export "memory") 1) (func (export "ping") {body}))"#)
}

#[test]
fn the_module_size_is_bounded() {
    let limit = limits().max_code_bytes as u64;
    let data = "\\00".repeat(limit as usize);
    let code = module(&with(&format!(r#"(data (i32.const 0) "{data}")"#)), Some(PING_ABI));
    let size = code.len() as u64;
    assert!(size > limit);
    let runtime = Runtime::new(limits()).unwrap();
    assert_eq!(runtime.validate_code(&code), Err(DeployError::CodeTooLarge { size, limit }));
}

#[test]
fn functions_are_counted_with_imports() {
    let limit = u64::from(limits().max_functions);
    // `ping` is one; an import is one more.
    let defined = repeat("(func)", limit as u32 - 2);
    let import = r#"(import "kessai" "gas_left" (func (result i64)))"#;
    check(&format!(
        r#"(module {import} (memory (export "memory") 1) (func (export "ping")) {defined})"#
    ))
    .unwrap();
    let over = format!(
        r#"(module {import} (memory (export "memory") 1) (func (export "ping")) {defined} (func))"#
    );
    assert_eq!(
        check(&over),
        Err(DeployError::TooMany { what: "functions", found: limit + 1, limit })
    );
}

#[test]
fn a_function_body_is_bounded() {
    let limit = limits().max_function_body_bytes as u64;
    // A body is its locals (one byte: none), its code and the final `end`; `nop` is one byte.
    let fits = repeat("nop", limit as u32 - 2);
    check(&with(&format!("(func {fits})"))).unwrap();
    assert_eq!(
        check(&with(&format!("(func {fits} nop)"))),
        Err(DeployError::FunctionTooLarge { function: 1, size: limit + 1, limit })
    );
}

#[test]
fn nesting_is_bounded() {
    let limit = limits().max_nesting_depth;
    check(&nested_blocks(limit)).unwrap();
    assert_eq!(
        check(&nested_blocks(limit + 1)),
        Err(DeployError::NestingTooDeep { function: 0, limit })
    );
    // `loop` and `if` open frames too.
    let mixed = format!(
        r#"(module (memory (export "memory") 1) (func (export "ping") {} i32.const 0 if end {}))"#,
        repeat("loop", limit),
        repeat("end", limit)
    );
    assert_eq!(check(&mixed), Err(DeployError::NestingTooDeep { function: 0, limit }));
    // The issue-20 module (100,000 nested blocks in one function, 300 KB) is refused before any
    // compiling, for its size already.
    assert_eq!(
        check(&nested_blocks(100_000)),
        Err(DeployError::FunctionTooLarge { function: 0, size: 300_002, limit: 64 * 1024 })
    );
}

#[test]
fn branches_are_bounded() {
    let limit = limits().max_function_branches;
    // One `block` and `limit - 1` branches out of it.
    let body = |brs: u32| format!("(func block {} end)", repeat("br 0", brs));
    check(&with(&body(limit - 1))).unwrap();
    assert_eq!(
        check(&with(&body(limit))),
        Err(DeployError::TooManyBranches { function: 1, limit })
    );
    let indirect =
        format!("(table 1 funcref) (func {})", repeat("(call_indirect (i32.const 0))", limit + 1));
    assert_eq!(check(&with(&indirect)), Err(DeployError::TooManyBranches { function: 1, limit }));
}

#[test]
fn compile_gas_follows_the_model() {
    let runtime = Runtime::new(limits()).unwrap();
    let gas_of = |wat: &str| runtime.compile_gas(&module(wat, Some(PING_ABI))).unwrap();
    let empty = gas_of(&with(""));
    let ping_body = 2; // no locals, `end`
    assert_eq!(empty, gas::COMPILE_PER_FUNCTION + ping_body * gas::COMPILE_PER_BODY_BYTE);
    // A function of four branches and two calls: its bytes, its calls and 4² for its branches.
    let branchy = gas_of(&with("(func $f block (br 0) end (call $f) (loop (br 0)) (call $f))"));
    let (bytes, calls, branches) = (16, 2, 4);
    assert_eq!(
        branchy - empty,
        gas::COMPILE_PER_FUNCTION
            + bytes * gas::COMPILE_PER_BODY_BYTE
            + calls * gas::COMPILE_PER_CALL
            + branches * branches * gas::COMPILE_PER_BRANCH_SQUARED
    );
    // Refused before compiling: the reason, not a price.
    assert_eq!(
        runtime.compile_gas(&module(&nested_blocks(1_001), Some(PING_ABI))),
        Err(DeployError::NestingTooDeep { function: 0, limit: 1_000 })
    );
}

#[test]
fn locals_are_bounded() {
    let limit = u64::from(limits().max_locals);
    check(&with(&format!("(func (local {}))", repeat("i32", limit as u32)))).unwrap();
    // Counted over all declarations, whatever their types.
    let over = format!("(func (local {}) (local i64))", repeat("i32", limit as u32));
    assert_eq!(
        check(&with(&over)),
        Err(DeployError::TooManyLocals { function: 1, found: limit + 1, limit })
    );
}

#[test]
fn items_of_the_module_are_bounded() {
    let config = limits();
    let cases = [
        ("globals", config.max_globals, "(global i32 (i32.const 0))"),
        ("data segments", config.max_data_segments, r#"(data (i32.const 0) "")"#),
        ("element segments", config.max_element_segments, "(elem func)"),
        ("types", config.max_types, "(type (func))"),
        ("imports", config.max_imports, r#"(import "kessai" "gas_left" (func (result i64)))"#),
    ];
    for (what, limit, item) in cases {
        // Imports come before the memory and the functions.
        let wat = |n: u32| match what {
            "imports" => format!(
                r#"(module {} (memory (export "memory") 1) (func (export "ping")))"#,
                repeat(item, n)
            ),
            _ => with(&repeat(item, n)),
        };
        check(&wat(limit)).unwrap_or_else(|e| panic!("{what}: {e}"));
        let limit = u64::from(limit);
        assert_eq!(
            check(&wat(limit as u32 + 1)),
            Err(DeployError::TooMany { what, found: limit + 1, limit }),
            "{what}"
        );
    }
    // Exports: `memory` and `ping` are two.
    let limit = config.max_exports;
    let exports =
        |n: u32| with(&(0..n).map(|i| format!(r#"(export "e{i}" (func 0))"#)).collect::<String>());
    check(&exports(limit - 2)).unwrap();
    assert_eq!(
        check(&exports(limit - 1)),
        Err(DeployError::TooMany {
            what: "exports",
            found: u64::from(limit) + 1,
            limit: limit.into()
        })
    );
}

#[test]
fn a_deploy_over_a_limit_fails_with_the_limit_in_the_receipt() {
    let mut chain = Chain::new();
    let mut deploy = |code: Vec<u8>| {
        let tx = sign(&alice(), chain.nonce(&alice()), 100_000_000, Payload::Deploy { code });
        failure(&chain.run(tx))
    };
    let deep = module(&nested_blocks(1_001), Some(PING_ABI));
    assert_eq!(deploy(deep.clone()), "invalid code: function 0 nests blocks deeper than 1000");
    // The modules of issue 20: 100,000 nested blocks (300 KB), 100,000 globals.
    let attack = module(&nested_blocks(100_000), Some(PING_ABI));
    assert_eq!(
        deploy(attack.clone()),
        "invalid code: function 0 has a body of 300002 bytes; the limit is 65536"
    );
    let globals = module(&with(&repeat("(global i32 (i32.const 0))", 100_000)), Some(PING_ABI));
    assert_eq!(deploy(globals), "invalid code: the module has 100000 globals; the limit is 1000");
    for code in [deep, attack] {
        assert_eq!(system::code(&chain.state, &Hash::digest(&code)).unwrap(), None);
    }
}

#[test]
fn a_deploy_is_charged_its_compile_gas_before_it_compiles() {
    let mut chain = Chain::new();
    let code = kitchen();
    let deploy = chain.tx(&alice(), Payload::Deploy { code: code.clone() });
    let receipt = chain.run(deploy.clone());
    assert_success(&receipt);
    let compiling = chain.runtime.compile_gas(&code).unwrap();
    assert_eq!(receipt.gas_used, gas::intrinsic(&deploy) + compiling);
    assert!(compiling > gas::COMPILE_PER_FUNCTION * 10, "the kitchen has more than 10 functions");

    // With gas for storing the code but not for compiling it, the deploy runs out of gas.
    let n = chain.nonce(&alice());
    let other = module(
        r#"(module (memory (export "memory") 1) (func (export "ping") nop))"#,
        Some(PING_ABI),
    );
    let short = sign(&alice(), n, 0, Payload::Deploy { code: other.clone() });
    let needed = gas::intrinsic(&short);
    let receipt = chain.run(sign(&alice(), n, needed, Payload::Deploy { code: other.clone() }));
    assert_eq!(failure(&receipt), "out of gas");
    assert_eq!(system::code(&chain.state, &Hash::digest(&other)).unwrap(), None);
}

#[test]
fn the_mempool_refuses_what_a_deploy_could_not_pay_or_breaks_without_compiling() {
    let chain = Chain::new();
    let n = chain.nonce(&alice());
    let admit = |gas_limit: u64, code: &[u8]| {
        let tx = sign(&alice(), n, gas_limit, Payload::Deploy { code: code.to_vec() });
        chain.runtime.check_tx(&chain.state, &tx, n)
    };
    let attack = module(&nested_blocks(100_000), Some(PING_ABI));
    assert_eq!(
        admit(100_000_000, &attack),
        Err(TxRejection::InvalidCode(DeployError::FunctionTooLarge {
            function: 0,
            size: 300_002,
            limit: 64 * 1024
        }))
    );
    let code = kitchen();
    let tx = sign(&alice(), n, 0, Payload::Deploy { code: code.clone() });
    let needed = gas::intrinsic(&tx) + chain.runtime.compile_gas(&code).unwrap();
    assert_eq!(admit(needed, &code), Ok(()));
    assert_eq!(
        admit(needed - 1, &code),
        Err(TxRejection::GasLimitTooLow { limit: needed - 1, needed })
    );
}

/// `ping` with 999 `block (br 0) end` (1,998 branches: about 48 M compile gas) and `salt` `nop`s,
/// so that each salt is other code.
fn heavy(salt: u32) -> Vec<u8> {
    let body = format!("{} {}", repeat("block (br 0) end", 999), repeat("nop", salt));
    module(
        &format!(r#"(module (memory (export "memory") 1) (func (export "ping") {body}))"#),
        Some(PING_ABI),
    )
}

#[test]
fn the_deploys_of_one_block_share_its_compile_budget() {
    let mut chain = Chain::new();
    let budget = limits().max_block_compile_gas;
    let codes = [heavy(0), heavy(1), heavy(2)];
    let each = chain.runtime.compile_gas(&codes[0]).unwrap();
    assert!(2 * each <= budget && 3 * each > budget, "{each} of {budget}");
    let n = chain.nonce(&alice());
    let deploys: Vec<_> = (0..3)
        .map(|i| {
            sign(&alice(), n + i, 100_000_000, Payload::Deploy { code: codes[i as usize].clone() })
        })
        .collect();
    // An honest proposer leaves the third for the next block (and what its signer sends after it).
    let bob_call = sign(&bob(), chain.nonce(&bob()), 1_000_000, Payload::Deploy { code: heavy(3) });
    let mut offered = deploys.clone();
    offered.push(sign(&alice(), n + 3, 1_000_000, Payload::Deploy { code: heavy(4) }));
    offered.push(bob_call.clone());
    let chosen = chain.runtime.block_compile_budget(offered);
    assert_eq!(chosen, deploys[..2].to_vec());
    // Execution holds the budget whatever a proposer puts in the block.
    let executed = chain.block(&deploys);
    assert_success(&executed.receipts[0]);
    assert_success(&executed.receipts[1]);
    let gas = |i: usize| chain.runtime.compile_gas(&codes[i]).unwrap();
    let left = budget - gas(0) - gas(1);
    assert_eq!(
        failure(&executed.receipts[2]),
        format!(
            "block compile budget: the deploy needs {} compile gas, {left} is left in this block; submit it again",
            gas(2)
        )
    );
    assert_eq!(system::code(&chain.state, &Hash::digest(&codes[2])).unwrap(), None);
    // The next block has a budget of its own.
    assert_success(&chain.run(sign(
        &alice(),
        n + 3,
        100_000_000,
        Payload::Deploy { code: codes[2].clone() },
    )));
}
