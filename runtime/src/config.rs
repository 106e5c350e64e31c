//! Runtime limits and the deterministic wasmtime configuration.

use crate::RuntimeError;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, WasmFeatures};

/// Limits of contract execution. [`Default`] gives the values of `docs/contract-abi.md`; every node
/// of a chain must run with the same values, or they will disagree on which transactions fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Linear memory of one instance (16 MiB = 256 pages).
    pub max_memory_bytes: usize,
    /// Elements of the one table an instance may have.
    pub max_table_elements: u64,
    /// The most gas one transaction may ask for. The default (100 M) matches the chain spec's
    /// default; it bounds a deployment to about 900 KiB of code (100 gas per byte).
    pub max_tx_gas: u64,
    /// Gas of one read-only call (RPC `contract_view`).
    pub max_view_gas: u64,
    /// Contract frames on the call stack of one transaction (the called contract counts as one).
    pub max_call_depth: usize,
    /// Native stack available to the wasm code of one call frame. Running out traps with
    /// "call stack exhausted".
    pub max_wasm_stack_bytes: usize,
    /// Compiled modules kept, by code hash (least recently used ones are dropped).
    pub module_cache_capacity: usize,
    /// Block executions (and genesis) that may run at once; more wait their turn.
    pub concurrent_blocks: usize,
    /// View calls that may run at once; more wait their turn. Kept apart from blocks so that views
    /// never delay a block.
    pub concurrent_views: usize,
    // The structure of a deployed module, checked in one pass over its bytes before it is
    // compiled (docs/decisions/0006-deploy-limits-and-compile-gas.md): the compiler's time grows
    // with these, and every validator compiles a deploy while it checks the proposal.
    /// Size of a deployed module in bytes.
    pub max_code_bytes: usize,
    /// Compile gas (`gas::compile`) all the deploys of one block may use together: what bounds the
    /// compile time a block costs every validator, where the block gas limit would allow hundreds
    /// of maximum deploys. A deploy beyond it fails with a fixed reason; proposers leave it for
    /// the next block (`Runtime::block_compile_budget`).
    pub max_block_compile_gas: u64,
    /// Functions, imported and defined.
    pub max_functions: u32,
    /// Bytes of one function body (its locals and code).
    pub max_function_body_bytes: usize,
    /// Control frames (`block`, `loop`, `if`) open at once inside one function.
    pub max_nesting_depth: u32,
    /// Branching instructions of one function (`block`, `loop`, `if`, `else`, `br`, `br_if`,
    /// `br_table`, `call_indirect`): the compiler's time grows with their square.
    pub max_function_branches: u32,
    /// Locals declared by one function (parameters not included).
    pub max_locals: u32,
    /// Globals the module defines.
    pub max_globals: u32,
    /// Segments of the data section.
    pub max_data_segments: u32,
    /// Segments of the element section.
    pub max_element_segments: u32,
    /// Function types of the type section.
    pub max_types: u32,
    /// Imports (each of a host function of module `kessai`).
    pub max_imports: u32,
    /// Exports (the memory, the methods, anything else).
    pub max_exports: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_memory_bytes: 16 * 1024 * 1024,
            max_table_elements: 10_000,
            max_tx_gas: 100_000_000,
            max_view_gas: 100_000_000,
            max_call_depth: 8,
            max_wasm_stack_bytes: 512 * 1024,
            module_cache_capacity: 256,
            concurrent_blocks: 2,
            concurrent_views: 4,
            max_code_bytes: 1024 * 1024,
            // One maximum-gas deploy: about one CPU second of compiling on the reference machine
            // (gas::COMPILE_GAS_PER_SECOND).
            max_block_compile_gas: 100_000_000,
            max_functions: 10_000,
            max_function_body_bytes: 64 * 1024,
            max_nesting_depth: 1_000,
            max_function_branches: 2_000,
            max_locals: 2_000,
            max_globals: 1_000,
            max_data_segments: 1_000,
            max_element_segments: 100,
            max_types: 1_000,
            max_imports: 100,
            max_exports: 1_000,
        }
    }
}

/// Native stack reserved for the host's own frames between two nested wasm frames, and below the
/// first one.
const HOST_STACK_PER_FRAME: usize = 256 * 1024;
const HOST_STACK_BASE: usize = 2 * 1024 * 1024;

impl RuntimeConfig {
    pub(crate) fn check(&self) -> Result<(), RuntimeError> {
        let fail = |m: &str| Err(RuntimeError::Config(m.to_string()));
        if self.max_memory_bytes == 0 || !self.max_memory_bytes.is_multiple_of(WASM_PAGE) {
            return fail("max_memory_bytes must be a positive multiple of the 64 KiB wasm page");
        }
        if self.max_call_depth == 0 || self.max_call_depth > 64 {
            return fail("max_call_depth must be between 1 and 64");
        }
        if self.max_wasm_stack_bytes < 64 * 1024 {
            return fail("max_wasm_stack_bytes must be at least 64 KiB");
        }
        if self.module_cache_capacity == 0 {
            return fail("module_cache_capacity must be at least 1");
        }
        if self.concurrent_blocks == 0 || self.concurrent_views == 0 {
            return fail("concurrent_blocks and concurrent_views must be at least 1");
        }
        Ok(())
    }

    /// The native stack an execution thread needs: each nested call frame gets a fresh store, and
    /// wasmtime gives each its own `max_wasm_stack_bytes`.
    pub(crate) fn execution_stack_bytes(&self) -> usize {
        HOST_STACK_BASE + self.max_call_depth * (self.max_wasm_stack_bytes + HOST_STACK_PER_FRAME)
    }
}

pub(crate) const WASM_PAGE: usize = 64 * 1024;

/// Instance slots of the pool: every running execution has at most `max_call_depth` frames, each
/// one instance, and executions are limited to `concurrent_blocks + concurrent_views` — so a slot
/// is always free and instantiation never fails for want of one (which would make a transaction's
/// outcome depend on load).
fn pool(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let slots = (config.concurrent_blocks + config.concurrent_views) * config.max_call_depth;
    let slots = u32::try_from(slots).unwrap_or(u32::MAX);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .total_component_instances(0)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(config.max_memory_bytes)
        .table_elements(usize::try_from(config.max_table_elements).unwrap_or(usize::MAX))
        // Reset small memories with a memset rather than a system call.
        .linear_memory_keep_resident(1024 * 1024)
        .table_keep_resident(64 * 1024);
    pool
}

/// The wasm proposals a contract may use: MVP + bulk-memory, mutable-global, sign-ext,
/// multi-value, reference-types (`docs/contract-abi.md`), and saturating float-to-int, which Rust
/// emits for wasm32 by default and which is deterministic. Floats are allowed: NaNs are
/// canonicalised.
fn allowed_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::FLOATS
}

/// An engine that runs the same module to the same result on every node: fuel metering, canonical
/// NaNs, no threads, no SIMD (relaxed or not), no memory64, no GC, no component model, no tail
/// calls, no multi-memory.
pub(crate) fn engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let mut wasm = Config::new();
    let allowed = allowed_features();
    wasm.wasm_features(WasmFeatures::all().difference(allowed), false)
        .wasm_features(allowed, true)
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .wasm_backtrace_max_frames(None)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(config)));
    Engine::new(&wasm).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}
