//! Fuzz targets of the runtime's checks of what clients send (`docs/fuzzing.md`): the structural
//! deploy limits (`module::inspect`, through [`Runtime::compile_gas`]), which run on every
//! deployed module before cranelift sees it, on arbitrary bytes, on mutated real contracts and on
//! valid modules from `wasm-smith` (which are then compiled, as a deploy would); and the admission
//! of a transaction (`SignedTransaction::decode`, `check_stateless`, `Runtime::check_tx`). Nothing
//! panics, and a refused module or transaction is refused with an error.

#[path = "../../consensus/primitives/tests/support/fuzz.rs"]
mod fuzz_support;

use bolero::{check, TypeGenerator};
use fuzz_support::{bounded, mutate, Probe, SHORT_RUN};
use kessai_primitives::{
    Address, GovernanceAction, Hash, Keypair, Payload, PublicKey, Role, SignedTransaction,
    Transaction, Validator, ValidatorSet,
};
use kessai_runtime::{genesis_writes, GenesisSpec, Runtime, RuntimeConfig, TxRejection};
use kessai_state::MemoryState;
use std::panic::AssertUnwindSafe;

#[global_allocator]
static ALLOCATOR: Probe = Probe;

const CHAIN: &str = "kessai-fuzz";

/// The committed contracts, whose code sections mutated reach every check of `inspect`.
const CONTRACTS: &[&[u8]] = &[
    include_bytes!("../../contracts/artifacts/asset-ownership.wasm"),
    include_bytes!("../../contracts/artifacts/notes.wasm"),
    include_bytes!("../../contracts/artifacts/power-ledger.wasm"),
];

/// A runtime the targets' closures may hold: a panic in one fails the target, so no broken
/// runtime is ever used again.
fn runtime() -> AssertUnwindSafe<Runtime> {
    AssertUnwindSafe(
        Runtime::new(RuntimeConfig::default()).expect("the default configuration is valid"),
    )
}

/// `wasm-smith`'s settings for the proposals the runtime allows (`config::allowed_features`), so
/// that most modules get past the parser to the limits and the compiler. Reference types are on
/// for half the modules: the runtime allows `funcref` but not `externref` (wasmparser counts it
/// among the GC types), and `wasm-smith` writes both.
fn smith_config(reference_types: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        reference_types_enabled: reference_types,
        allow_start_export: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        relaxed_simd_enabled: false,
        simd_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        max_memories: 1,
        max_tables: 1,
        ..wasm_smith::Config::default()
    }
}

/// A valid module built from the fuzzer's bytes, if they are enough to build one.
fn smith_module(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut input = arbitrary::Unstructured::new(bytes);
    wasm_smith::Module::new(smith_config(bytes.first() < Some(&128)), &mut input)
        .ok()
        .map(|module| module.to_bytes())
}

/// The structural check within the memory bound; its verdict does not depend on the cache.
fn inspect(runtime: &Runtime, code: &[u8]) -> Result<u64, kessai_runtime::DeployError> {
    let verdict = bounded("module", code, |code| runtime.compile_gas(code));
    assert_eq!(runtime.compile_gas(code), verdict, "inspect is deterministic");
    verdict
}

#[test]
fn deploy_limits_on_arbitrary_bytes() {
    let runtime = runtime();
    check!().with_test_time(SHORT_RUN).for_each(|code: &[u8]| {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(code);
        let _ = inspect(&runtime, code);
        let _ = inspect(&runtime, &module);
    });
}

#[test]
fn deploy_limits_on_mutated_contracts() {
    let runtime = runtime();
    for contract in CONTRACTS {
        assert!(inspect(&runtime, contract).is_ok(), "the committed contracts pass");
    }
    check!().with_type::<(u8, Vec<(u32, u8)>, Option<u32>)>().with_test_time(SHORT_RUN).for_each(
        |(which, flips, keep)| {
            let mut code = CONTRACTS[usize::from(*which) % CONTRACTS.len()].to_vec();
            for &(at, xor) in flips {
                let at = at as usize % code.len();
                code[at] ^= xor;
            }
            if let Some(keep) = keep {
                code.truncate(*keep as usize);
            }
            let _ = inspect(&runtime, &code);
        },
    );
}

/// Valid modules: the limits accept or refuse them; one they accept is compiled as a deploy would
/// be, which ends in a verdict (here mostly `MissingAbi`: `wasm-smith` writes no interface), never a
/// panic.
#[test]
fn deploy_of_valid_modules() {
    let runtime = runtime();
    check!().with_test_time(SHORT_RUN).for_each(|bytes: &[u8]| {
        let Some(code) = smith_module(bytes) else { return };
        if inspect(&runtime, &code).is_ok() {
            let _ = runtime.validate_code(&code);
        }
    });
}

/// A module with one count near its limit: `count` items of `dimension`, everything else small.
/// Returns the module and the limit that count is held to.
fn module_at_limit(config: &RuntimeConfig, dimension: u8, count: u32) -> (String, u32) {
    let n = count as usize;
    let repeat = |item: &str| item.repeat(n);
    let pages = (config.max_memory_bytes / (64 * 1024)) as u32;
    let table_limit = u32::try_from(config.max_table_elements).unwrap_or(u32::MAX);
    let (items, limit) = match dimension % 12 {
        0 => (format!("(func (local {}))", repeat("i32 ")), config.max_locals),
        1 => (format!("(func {} {})", repeat("block "), repeat("end ")), config.max_nesting_depth),
        2 => (format!("(func {})", repeat("block end ")), config.max_function_branches),
        3 => (format!("(func {})", repeat("i32.const 0 br_if 0 ")), config.max_function_branches),
        4 => (repeat("(func)"), config.max_functions),
        5 => (repeat("(global i32 (i32.const 0))"), config.max_globals),
        6 => (repeat("(type (func))"), config.max_types),
        7 => (
            format!(
                "(func) {}",
                (0..n).map(|i| format!("(export \"e{i}\" (func 0))")).collect::<String>()
            ),
            config.max_exports,
        ),
        8 => (
            format!("(memory 1) {}", repeat("(data (i32.const 0) \"\")")),
            config.max_data_segments,
        ),
        9 => (format!("(memory {count})"), pages),
        10 => (format!("(table {count} funcref)"), table_limit),
        _ => (
            (0..n).map(|i| format!("(import \"kessai\" \"f{i}\" (func))")).collect(),
            config.max_imports,
        ),
    };
    (format!("(module {items})"), limit)
}

/// Every structural limit at and around its bound: a module within all of them passes, one count
/// beyond its limit is refused with an error, never a panic.
#[test]
fn deploy_limits_at_their_bounds() {
    let runtime = runtime();
    check!().with_type::<(u8, i8, bool)>().with_test_time(SHORT_RUN).for_each(
        |(dimension, offset, near)| {
            let (_, limit) = module_at_limit(runtime.config(), *dimension, 0);
            let count = if *near {
                i64::from(limit) + i64::from(offset % 4)
            } else {
                i64::from(offset.unsigned_abs())
            };
            let count = u32::try_from(count.max(0)).expect("within u32");
            let (wat, limit) = module_at_limit(runtime.config(), *dimension, count);
            let code = wat::parse_str(&wat).expect("the generated module is valid wat");
            let verdict = inspect(&runtime, &code);
            assert_eq!(
                verdict.is_ok(),
                count <= limit,
                "{count} of dimension {dimension}: {verdict:?}"
            );
        },
    );
}

/// The fields of a transaction, as the fuzzer chooses them.
#[derive(Debug, TypeGenerator)]
struct TxInput {
    signer: u8,
    chain_is_ours: bool,
    nonce: u8,
    gas_limit: u64,
    gas_is_plenty: bool,
    payload: u8,
    bytes: Vec<u8>,
    text: String,
    hash: [u8; 32],
    power: u64,
    flips: Vec<(u16, u8)>,
}

fn signer(index: u8) -> Keypair {
    // alice is an admin and a deployer, bob a member without roles, mallory no member.
    Keypair::dev(["alice", "bob", "mallory"][usize::from(index % 3)])
}

fn payload(input: &TxInput) -> Payload {
    let key = PublicKey(input.hash);
    match input.payload % 11 {
        0 => Payload::Deploy { code: input.bytes.clone() },
        1 => Payload::Deploy { code: smith_module(&input.bytes).unwrap_or_default() },
        2 => Payload::Instantiate { code_hash: Hash(input.hash), args: input.bytes.clone() },
        3 => Payload::Call {
            contract: Address(input.hash),
            method: input.text.clone(),
            args: input.bytes.clone(),
        },
        4 => Payload::Governance(GovernanceAction::AddMember { key, roles: vec![Role::Admin] }),
        5 => Payload::Governance(GovernanceAction::RemoveMember { key }),
        6 => Payload::Governance(GovernanceAction::RevokeRole { key, role: Role::Admin }),
        7 => Payload::Governance(GovernanceAction::SetValidator {
            validator: Validator { public_key: key, power: input.power },
        }),
        8 => Payload::Governance(GovernanceAction::AdmitPeer { peer_key: input.bytes.clone() }),
        9 => Payload::Governance(GovernanceAction::RevokePeer { peer_key: input.bytes.clone() }),
        _ => {
            Payload::Deploy { code: CONTRACTS[usize::from(input.nonce) % CONTRACTS.len()].to_vec() }
        }
    }
}

/// State with alice (admin, deployer) and bob (no role) as members.
fn state(runtime: &Runtime) -> MemoryState {
    let spec = GenesisSpec {
        chain_id: CHAIN.into(),
        time_ms: 1_000,
        members: vec![
            (signer(0).public(), vec![Role::Admin, Role::Deployer]),
            (signer(1).public(), vec![]),
        ],
        validators: ValidatorSet::new(vec![Validator { public_key: signer(0).public(), power: 1 }])
            .expect("one validator"),
        deployment_policy: kessai_primitives::DeploymentPolicy::AnyDeployer,
        contracts: vec![],
    };
    let (writes, _) = genesis_writes(runtime, &spec).expect("genesis");
    let mut state = MemoryState::default();
    state.apply(&writes);
    state
}

/// What the mempool does with a transaction's bytes: decode, the stateless checks, then the
/// checks against the state. Returns whether it was admitted.
fn admit(runtime: &Runtime, state: &MemoryState, bytes: &[u8]) -> Option<Result<(), TxRejection>> {
    let tx = bounded("transaction", bytes, SignedTransaction::decode).ok()?;
    let stateless = tx.check_stateless(CHAIN);
    let verdict = runtime.check_tx(state, &tx, 0);
    stateless.ok()?;
    Some(verdict)
}

#[test]
fn transaction_admission() {
    let runtime = runtime();
    let state = state(&runtime);
    check!().with_type::<TxInput>().with_test_time(SHORT_RUN).for_each(|input| {
        let key = signer(input.signer);
        let mut tx = Transaction {
            chain_id: if input.chain_is_ours { CHAIN.into() } else { input.text.clone() },
            signer: key.public(),
            nonce: u64::from(input.nonce % 4),
            gas_limit: if input.gas_is_plenty {
                runtime.config().max_tx_gas
            } else {
                input.gas_limit
            },
            payload: payload(input),
        };
        if input.nonce == u8::MAX {
            tx.nonce = u64::MAX;
        }
        let signed = tx.sign(&key);
        let bytes = borsh::to_vec(&signed).expect("encodes");
        if let Some(verdict) = admit(&runtime, &state, &bytes) {
            if verdict.is_ok() {
                assert!(input.signer % 3 != 2, "a non-member's transaction was admitted");
                assert_eq!(signed.tx.nonce, 0, "a transaction out of nonce order was admitted");
            }
        }
        let tampered = mutate(bytes.clone(), &input.flips, None);
        if tampered != bytes {
            assert!(
                admit(&runtime, &state, &tampered).is_none(),
                "a transaction changed after signing passed the stateless checks"
            );
        }
    });
}

#[test]
fn transaction_admission_of_arbitrary_bytes() {
    let runtime = runtime();
    let state = state(&runtime);
    check!().with_test_time(SHORT_RUN).for_each(|bytes: &[u8]| {
        let _ = admit(&runtime, &state, bytes);
    });
}
