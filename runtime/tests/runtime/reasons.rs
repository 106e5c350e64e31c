//! The reasons stored in failed receipts are Kessai's own words from a closed set, capped in
//! length: never a library's message (issue 20, item 6). The closed set itself is pinned by the
//! unit tests of `src/failure.rs`; these check what real modules and calls end up storing.

use crate::common::*;
use kessai_primitives::Payload;

const TRAPS_WAT: &str = r#"
(module
  (import "kessai" "abort" (func $abort (param i32 i32)))
  (memory (export "memory") 1)
  (table 1 funcref)
  (type $binary (func (param i32 i32) (result i32)))
  (func $nothing)
  (elem (i32.const 0) $nothing)
  (func (export "unreachable") unreachable)
  (func (export "divide_by_zero") (drop (i32.div_s (i32.const 1) (i32.const 0))))
  (func (export "overflow") (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))
  (func (export "conversion") (drop (i32.trunc_f64_s (f64.const nan))))
  (func (export "out_of_range") (drop (i32.trunc_f64_s (f64.const 1e100))))
  (func (export "out_of_bounds") (drop (i32.load (i32.const 70000))))
  (func (export "bad_signature")
    (drop (call_indirect (type $binary) (i32.const 1) (i32.const 2) (i32.const 0))))
  (func (export "no_element") (call_indirect (i32.const 5)))
  (func (export "long_abort") (call $abort (i32.const 0) (i32.const 1024))))
"#;

const TRAPS_ABI: &str = r#"{"name":"traps","version":"0.1.0","methods":[
  {"name":"unreachable","kind":"call"},{"name":"divide_by_zero","kind":"call"},
  {"name":"overflow","kind":"call"},{"name":"conversion","kind":"call"},
  {"name":"out_of_range","kind":"call"},
  {"name":"out_of_bounds","kind":"call"},{"name":"bad_signature","kind":"call"},
  {"name":"no_element","kind":"call"},{"name":"long_abort","kind":"call"}]}"#;

#[test]
fn wasm_traps_are_stored_in_our_words() {
    let mut chain = Chain::new();
    let traps = chain.create(&module(TRAPS_WAT, Some(TRAPS_ABI)), vec![]);
    let cases = [
        ("unreachable", "trap: wasm `unreachable` instruction executed"),
        ("divide_by_zero", "trap: integer divide by zero"),
        ("overflow", "trap: integer overflow"),
        ("conversion", "trap: invalid conversion to integer"),
        ("out_of_range", "trap: integer overflow"),
        ("out_of_bounds", "trap: out of bounds memory access"),
        ("bad_signature", "trap: indirect call type mismatch"),
        ("no_element", "trap: undefined element: out of bounds table access"),
    ];
    for (method, reason) in cases {
        assert_eq!(failure(&chain.call(traps, method, vec![])), reason, "{method}");
    }
    // A contract's own message is kept, cut to the cap (memory is zeroes: NUL characters).
    let long = failure(&chain.call(traps, "long_abort", vec![]));
    assert_eq!(long.len(), 256);
    assert_eq!(long, format!("contract aborted: {}…", "\0".repeat(256 - 18 - 3)));
}

#[test]
fn refused_deploys_store_short_reasons_of_our_own() {
    let mut chain = Chain::new();
    let mut deploy =
        |code: Vec<u8>| failure(&chain.run(chain.tx(&alice(), Payload::Deploy { code })));
    // Not wasm at all (the issue's 11-line dump).
    assert_eq!(
        deploy(b"not wasm".to_vec()),
        "invalid code: not a valid wasm module of the allowed proposals (MVP + bulk-memory, \
         mutable-global, sign-ext, multi-value, reference-types, saturating float-to-int)"
    );
    // Wasm that parses but does not validate: wasmtime's type error is not stored.
    let ill_typed = r#"(module (memory (export "memory") 1) (func (export "ping") i32.const 0))"#;
    let abi = r#"{"name":"ping","version":"0.1.0","methods":[{"name":"ping","kind":"call"}]}"#;
    assert_eq!(
        deploy(module(ill_typed, Some(abi))),
        "invalid code: not a valid wasm module of the allowed proposals (MVP + bulk-memory, \
         mutable-global, sign-ext, multi-value, reference-types, saturating float-to-int)"
    );
    // A deeply nested interface type (the issue's 25,000-character reason).
    let deep_type = format!("{}u8{}", "vec<".repeat(5_000), ">".repeat(5_000));
    let deep_abi = format!(
        r#"{{"name":"ping","version":"0.1.0","methods":[{{"name":"ping","kind":"call","args":[{{"name":"a","type":"{deep_type}"}}]}}]}}"#
    );
    let fine = r#"(module (memory (export "memory") 1) (func (export "ping")))"#;
    assert_eq!(
        deploy(module(fine, Some(&deep_abi))),
        "invalid code: the `kessai:abi` custom section is invalid: not an interface as \
         contract-abi.md describes"
    );
    // Names from the module are the module's, and cut to the cap.
    let long_name = "n".repeat(10_000);
    let forbidden = format!(
        r#"(module (import "env" "{long_name}" (func)) (memory (export "memory") 1) (func (export "ping")))"#
    );
    let reason = deploy(module(&forbidden, Some(abi)));
    assert_eq!(reason.len(), 256);
    assert!(reason.starts_with("invalid code: import `env::nnnn") && reason.ends_with("n…"));
}

#[test]
fn a_long_method_name_is_cut() {
    let (mut chain, kv) = chain_with_kitchen();
    let reason = failure(&chain.call(kv, &"m".repeat(1_000), vec![]));
    assert_eq!(reason, format!("no method {}…", "m".repeat(256 - 10 - 3)));
}
