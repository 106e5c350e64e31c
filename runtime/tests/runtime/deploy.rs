use crate::common::*;
use kessai_primitives::{Hash, Payload};
use kessai_runtime::{system, DeployError, Runtime, RuntimeConfig};

const PING_ABI: &str =
    r#"{"name":"ping","version":"0.1.0","methods":[{"name":"ping","kind":"call"}]}"#;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).unwrap()
}

fn check(wat: &str) -> Result<kessai_abi::Abi, DeployError> {
    runtime().validate_code(&module(wat, Some(PING_ABI)))
}

#[test]
fn a_well_formed_module_is_accepted() {
    let abi = check(r#"(module (memory (export "memory") 1) (func (export "ping")))"#).unwrap();
    assert_eq!(abi.name, "ping");
    assert_eq!(abi.methods.len(), 1);
    // The kitchen contract imports every host function with its documented signature.
    let abi = runtime().validate_code(&kitchen()).unwrap();
    assert!(abi.method("call_view").is_some());
}

#[test]
fn exports_are_checked() {
    assert_eq!(
        check(r#"(module (memory 1) (func (export "ping")))"#),
        Err(DeployError::NoMemoryExport)
    );
    assert_eq!(
        check(r#"(module (memory (export "memory") 1) (func (export "pong")))"#),
        Err(DeployError::MethodNotExported("ping".into()))
    );
    assert_eq!(
        check(r#"(module (memory (export "memory") 1) (func (export "ping") (param i32)))"#),
        Err(DeployError::BadExport { name: "ping".into(), found: "(i32) -> ()".into() })
    );
    assert_eq!(
        check(
            r#"(module (memory (export "memory") 1) (func (export "ping"))
                 (func (export "init") (result i32) i32.const 0))"#
        ),
        Err(DeployError::BadExport { name: "init".into(), found: "() -> (i32)".into() })
    );
}

#[test]
fn imports_are_checked() {
    assert_eq!(
        check(
            r#"(module (import "env" "now" (func (result i64)))
                 (memory (export "memory") 1) (func (export "ping")))"#
        ),
        Err(DeployError::ForbiddenImport { module: "env".into(), name: "now".into() })
    );
    assert_eq!(
        check(
            r#"(module (import "kessai" "random" (func (result i64)))
                 (memory (export "memory") 1) (func (export "ping")))"#
        ),
        Err(DeployError::ForbiddenImport { module: "kessai".into(), name: "random".into() })
    );
    assert_eq!(
        check(
            r#"(module (import "kessai" "storage_get" (func (param i32) (result i64)))
                 (memory (export "memory") 1) (func (export "ping")))"#
        ),
        Err(DeployError::ImportSignature {
            name: "storage_get".into(),
            expected: "(i32, i32) -> (i64)".into(),
            found: "(i32) -> (i64)".into(),
        })
    );
    assert_eq!(
        check(
            r#"(module (import "kessai" "memory" (memory 1))
                 (func (export "ping")) (export "memory" (memory 0)))"#
        ),
        Err(DeployError::ForbiddenImport { module: "kessai".into(), name: "memory".into() })
    );
}

#[test]
fn a_start_function_is_refused() {
    assert_eq!(
        check(
            r#"(module (memory (export "memory") 1) (func $setup) (start $setup)
                 (func (export "ping")))"#
        ),
        Err(DeployError::StartFunction)
    );
}

#[test]
fn the_interface_section_is_required_and_parsed() {
    let wat = r#"(module (memory (export "memory") 1) (func (export "ping")))"#;
    assert_eq!(runtime().validate_code(&module(wat, None)), Err(DeployError::MissingAbi));
    assert!(matches!(
        runtime().validate_code(&module(wat, Some("{ not json"))),
        Err(DeployError::BadAbi(_))
    ));
    let mut twice = module(wat, Some(PING_ABI));
    append_custom_section(&mut twice, kessai_abi::SECTION, PING_ABI.as_bytes());
    assert!(matches!(runtime().validate_code(&twice), Err(DeployError::BadAbi(_))));
}

#[test]
fn proposals_outside_the_allowed_set_are_refused() {
    let cases = [
        (
            "simd",
            r#"(module (memory (export "memory") 1) (func (export "ping") (drop (v128.const i64x2 0 0))))"#,
        ),
        ("threads", r#"(module (memory (export "memory") 1 1 shared) (func (export "ping")))"#),
        ("memory64", r#"(module (memory (export "memory") i64 1) (func (export "ping")))"#),
        (
            "multi-memory",
            r#"(module (memory (export "memory") 1) (memory 1) (func (export "ping")))"#,
        ),
        (
            "tail calls",
            r#"(module (memory (export "memory") 1) (func $f (export "ping") (return_call $f)))"#,
        ),
    ];
    for (name, wat) in cases {
        assert_eq!(check(wat), Err(DeployError::Invalid), "{name}");
    }
    assert_eq!(runtime().validate_code(b"not wasm"), Err(DeployError::Invalid));
    // Saturating float-to-int (emitted by Rust for wasm32 by default) is allowed.
    check(
        r#"(module (memory (export "memory") 1)
             (func (export "ping") (drop (i32.trunc_sat_f64_s (f64.const 1e100)))))"#,
    )
    .unwrap();
}

#[test]
fn memory_and_tables_are_bounded() {
    assert_eq!(
        check(r#"(module (memory (export "memory") 257) (func (export "ping")))"#),
        Err(DeployError::MemoryTooLarge { pages: 257, limit: 256 })
    );
    check(r#"(module (memory (export "memory") 256) (func (export "ping")))"#).unwrap();
    assert_eq!(
        check(
            r#"(module (memory (export "memory") 1) (table 10001 funcref) (func (export "ping")))"#
        ),
        Err(DeployError::TableTooLarge { elements: 10_001, limit: 10_000 })
    );
    assert_eq!(
        check(
            r#"(module (memory (export "memory") 1) (table 1 funcref) (table 1 funcref)
                 (func (export "ping")))"#
        ),
        Err(DeployError::TooManyTables(2))
    );
}

#[test]
fn deploying_bad_code_fails_the_transaction() {
    let mut chain = Chain::new();
    let code = module(
        r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "ping")))"#,
        Some(PING_ABI),
    );
    let receipt = chain.run(chain.tx(&alice(), Payload::Deploy { code: code.clone() }));
    assert_eq!(
        failure(&receipt),
        "invalid code: the module has a start function; contracts must not (put set-up code in `init`)"
    );
    assert_eq!(system::code(&chain.state, &Hash::digest(&code)).unwrap(), None);
    assert_eq!(chain.nonce(&alice()), 1);
}

#[test]
fn deploy_stores_code_by_hash_and_costs_per_byte() {
    let mut chain = Chain::new();
    let code = kitchen();
    let receipt = chain.run(chain.tx(&alice(), Payload::Deploy { code: code.clone() }));
    assert_success(&receipt);
    let hash = Hash::digest(&code);
    assert_eq!(receipt.created, Some(kessai_primitives::Address(hash.0)));
    assert_eq!(system::code(&chain.state, &hash).unwrap(), Some(code.clone()));
    assert!(receipt.gas_used >= 20_000 + 100 * code.len() as u64);
}

#[test]
fn only_deployers_deploy() {
    let mut chain = Chain::new();
    let receipt = chain.run(chain.tx(&bob(), Payload::Deploy { code: kitchen() }));
    assert_eq!(failure(&receipt), "signer lacks the Deployer role");
    assert_eq!(chain.nonce(&bob()), 1, "a failed transaction still uses its nonce");
}

#[test]
fn instantiate_needs_stored_code_and_matching_init() {
    let mut chain = Chain::new();
    let unknown = Hash::digest(b"no such code");
    let receipt =
        chain.run(chain.tx(&alice(), Payload::Instantiate { code_hash: unknown, args: vec![] }));
    assert_eq!(failure(&receipt), format!("no code {unknown}"));

    // Code the runtime has compiled (and cached) but that this state does not hold.
    let elsewhere =
        module(r#"(module (memory (export "memory") 1) (func (export "ping")))"#, Some(PING_ABI));
    chain.runtime.validate_code(&elsewhere).unwrap();
    let code_hash = Hash::digest(&elsewhere);
    let receipt = chain.run(chain.tx(&alice(), Payload::Instantiate { code_hash, args: vec![] }));
    assert_eq!(failure(&receipt), format!("no code {code_hash}"));

    // No init: arguments are refused, none is fine; only a deployer instantiates (decision
    // record 0019).
    assert_success(&chain.run(chain.tx(&alice(), Payload::Deploy { code: elsewhere })));
    let receipt = chain.run(chain.tx(&alice(), Payload::Instantiate { code_hash, args: vec![1] }));
    assert_eq!(
        failure(&receipt),
        "the contract has no init method, so instantiating it takes no arguments"
    );
    let receipt = chain.run(chain.tx(&bob(), Payload::Instantiate { code_hash, args: vec![] }));
    assert_eq!(failure(&receipt), "signer lacks the Deployer role");
    let nonce = chain.nonce(&alice());
    let receipt = chain.run(chain.tx(&alice(), Payload::Instantiate { code_hash, args: vec![] }));
    assert_success(&receipt);
    let address = system::contract_address(&alice().address(), nonce);
    assert_eq!(receipt.created, Some(address));
    let info = system::contract_info(&chain.state, &address).unwrap().unwrap();
    assert_eq!(
        (info.code_hash, info.creator, info.created_at_height),
        (code_hash, alice().address(), chain.height)
    );
}
