//! The wasmtime host: executes transactions and contracts deterministically with gas.
//!
//! [`Runtime`] owns a wasmtime engine configured for determinism (fuel metering, canonical NaNs, no
//! threads/SIMD/memory64/GC; see [`config`](RuntimeConfig)) and a cache of compiled contract
//! modules keyed by code hash. It reads the chain's state through [`StateView`] and never writes
//! it: [`Runtime::execute_block`] returns the receipts and the [`WriteSet`] for the node to commit.
//! The chain's own keys (members, nonces, code, contracts, validators…) are encoded and read in
//! [`system`]. The contract interface it implements is `docs/contract-abi.md`.
//!
//! Execution runs on a thread of the runtime's own with a stack sized for the deepest call chain
//! (each nested contract call gets wasmtime's full wasm stack allowance), so callers may invoke the
//! runtime from any thread, including async workers with small stacks.

mod config;
mod error;
mod execute;
mod failure;
pub mod gas;
mod genesis;
mod host;
mod lifecycle;
mod module;
mod state;
pub mod transition;
/// The chain's own keys: re-exported from `kessai-state`, where the layout lives.
pub use kessai_state::system;

pub use config::RuntimeConfig;
pub use error::{CallError, DeployError, RuntimeError, StateError, TxRejection};
pub use execute::{BlockContext, ExecutedBlock};
pub use genesis::{genesis_writes, GenesisContract, GenesisSpec};
pub use state::{EmptyState, Entry, StateView, WriteSet};

use failure::{Failure, Stop};
use host::HostState;
use kessai_abi::{Abi, MethodKind};
use kessai_primitives::{Address, Hash};
use lru::LruCache;
use module::Contract;
use parking_lot::{Condvar, Mutex};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Engine, Linker};

/// The contract runtime. Cheap to clone; clones share the engine and the module cache.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimeConfig,
    engine: Engine,
    linker: Linker<HostState>,
    /// Compiled modules by code hash. Code under a hash never changes, so an entry is never stale;
    /// whether the code exists in a given state is always checked against that state.
    cache: Mutex<LruCache<Hash, Arc<Contract>>>,
    blocks: Gate,
    views: Gate,
    /// CPU time spent executing blocks so far, in nanoseconds ([`Runtime::block_execution_cpu`]).
    block_cpu_nanos: AtomicU64,
}

/// Which executions an execution waits behind.
#[derive(Clone, Copy)]
pub(crate) enum Lane {
    /// Block execution and genesis.
    Block,
    View,
}

/// Lets at most `limit` executions run at once: the instance pool is sized for that many.
struct Gate {
    running: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl Gate {
    fn new(limit: usize) -> Gate {
        Gate { running: Mutex::new(0), freed: Condvar::new(), limit }
    }

    fn enter(&self) -> GateGuard<'_> {
        let mut running = self.running.lock();
        while *running >= self.limit {
            self.freed.wait(&mut running);
        }
        *running += 1;
        GateGuard(self)
    }
}

struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        *self.0.running.lock() -= 1;
        self.0.freed.notify_one();
    }
}

impl Runtime {
    /// A runtime with this configuration: checks it, sets up the wasmtime engine and links the
    /// host functions. Compiled modules are cached (up to `module_cache_capacity`) across calls.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        config.check()?;
        let engine = config::engine(&config)?;
        let mut linker = Linker::new(&engine);
        host::define(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let capacity = NonZeroUsize::new(config.module_cache_capacity).expect("checked above");
        let cache = Mutex::new(LruCache::new(capacity));
        let (blocks, views) =
            (Gate::new(config.concurrent_blocks), Gate::new(config.concurrent_views));
        let block_cpu_nanos = AtomicU64::new(0);
        let inner = Inner { config, engine, linker, cache, blocks, views, block_cpu_nanos };
        Ok(Runtime { inner: Arc::new(inner) })
    }

    /// CPU time the execution threads of blocks (and genesis) have used since the runtime was
    /// created: the transactions and contracts, not the signature checks a block still needs,
    /// which run on rayon's threads beside it (`kessai_cpu_seconds_total{stage="execute"}`).
    pub fn block_execution_cpu(&self) -> Duration {
        Duration::from_nanos(self.inner.block_cpu_nanos.load(Ordering::Relaxed))
    }

    /// The configuration the runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Validates wasm for deploy (`docs/contract-abi.md`, "Module shape"): it compiles with the
    /// allowed proposals only, exports `memory`, imports only `kessai` host functions with their
    /// exact signatures, has no start function, carries a parseable `kessai:abi` section, and
    /// exports every method of that interface as `() -> ()`. Returns the interface. The compiled
    /// module is cached, so deploying and then instantiating compiles once.
    pub fn validate_code(&self, code: &[u8]) -> Result<Abi, DeployError> {
        let contract = self.compile(code)?;
        let abi = contract.abi.clone();
        self.inner.cache.lock().put(Hash::digest(code), Arc::new(contract));
        Ok(abi)
    }

    fn compile(&self, code: &[u8]) -> Result<Contract, DeployError> {
        module::compile(&self.inner.engine, &self.inner.linker, &self.inner.config, code)
    }

    /// The compiled contract of `code_hash`, from the cache or compiled from the code in `state`.
    /// The caller must know that the code exists in `state` (a contract's code always does).
    pub(crate) fn load(
        &self,
        state: &impl StateView,
        code_hash: &Hash,
    ) -> Result<Arc<Contract>, Stop> {
        if let Some(contract) = self.inner.cache.lock().get(code_hash) {
            return Ok(contract.clone());
        }
        let code = system::code(state, code_hash)?.ok_or(Failure::NoCode(*code_hash))?;
        // Compiled outside the lock: two threads may compile the same code, which is harmless.
        let contract = self
            .compile(&code)
            .map_err(|e| Failure::Trap(format!("stored code {code_hash} does not load: {e}")))?;
        let contract = Arc::new(contract);
        self.inner.cache.lock().put(*code_hash, contract.clone());
        Ok(contract)
    }

    /// The contract at `address` and the kind of its callable `method`.
    pub(crate) fn resolve(
        &self,
        state: &impl StateView,
        address: &Address,
        method: &str,
    ) -> Result<(Arc<Contract>, MethodKind), Stop> {
        let info = system::contract_info(state, address)?.ok_or(Failure::NoContract(*address))?;
        let contract = self.load(state, &info.code_hash)?;
        let kind = contract.callable(method).ok_or_else(|| Failure::NoMethod(method.into()))?;
        Ok((contract, kind))
    }

    /// Runs `work` on a thread whose stack fits the deepest chain of contract calls, once its lane
    /// has room.
    pub(crate) fn on_execution_thread<R: Send>(
        &self,
        lane: Lane,
        work: impl FnOnce() -> R + Send,
    ) -> Result<R, RuntimeError> {
        let _turn = match lane {
            Lane::Block => self.inner.blocks.enter(),
            Lane::View => self.inner.views.enter(),
        };
        let stack = self.inner.config.execution_stack_bytes();
        let block_cpu = matches!(lane, Lane::Block).then_some(&self.inner.block_cpu_nanos);
        let metered = move || {
            let started = thread_cpu_time();
            let result = work();
            if let Some(total) = block_cpu {
                let spent = thread_cpu_time().saturating_sub(started);
                total.fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
            }
            result
        };
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name("kessai-runtime".into())
                .stack_size(stack)
                .spawn_scoped(scope, metered)
                .map_err(RuntimeError::Thread)?;
            match thread.join() {
                Ok(result) => Ok(result),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

/// CPU time the calling thread has used since it started.
pub fn thread_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_is_shareable_across_threads() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Runtime>();
    }

    #[test]
    fn bad_configurations_are_refused() {
        let refused =
            |config: RuntimeConfig| matches!(Runtime::new(config), Err(RuntimeError::Config(_)));
        assert!(refused(RuntimeConfig { max_memory_bytes: 1000, ..RuntimeConfig::default() }));
        assert!(refused(RuntimeConfig { max_call_depth: 0, ..RuntimeConfig::default() }));
        assert!(refused(RuntimeConfig { module_cache_capacity: 0, ..RuntimeConfig::default() }));
        assert!(Runtime::new(RuntimeConfig::default()).is_ok());
    }
}
