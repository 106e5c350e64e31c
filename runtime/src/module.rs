//! Contract modules: the deploy-time checks of `docs/contract-abi.md` ("Module shape"), and the
//! compiled form kept in the cache.

use crate::config::WASM_PAGE;
use crate::host::{HostState, HOST_FUNCTIONS};
use crate::{gas, DeployError, Runtime, RuntimeConfig};
use kessai_abi::{Abi, MethodKind};
use kessai_primitives::Hash;
use std::sync::Arc;
use wasmparser::{FunctionBody, Operator, Parser, Payload, TypeRef};
use wasmtime::{Engine, ExternType, FuncType, InstancePre, Linker, Module, ValType};

/// A contract module compiled and linked against the host, ready to instantiate.
pub(crate) struct Contract {
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) abi: Abi,
    /// The module exports `init` (run at instantiation).
    pub(crate) has_init: bool,
    /// The module exports `migrate` (run once by the upgrade that brings this code into force).
    pub(crate) has_migrate: bool,
}

/// The entry point an upgrade runs in the new code (decision record 0019); like `init`, never
/// callable by a transaction or another contract.
pub(crate) const MIGRATE: &str = "migrate";

impl Contract {
    /// The kind of a method a transaction or another contract may call (`init` and `migrate`
    /// never are, whatever the interface lists).
    pub(crate) fn callable(&self, method: &str) -> Option<MethodKind> {
        if method == MIGRATE {
            return None;
        }
        let entry_point =
            |kind: &MethodKind| matches!(kind, MethodKind::Init | MethodKind::Migrate);
        self.abi.method(method).map(|m| m.kind).filter(|kind| !entry_point(kind))
    }
}

impl Runtime {
    /// The compiled contract of `code` (whose hash is `code_hash` and whose `kessai:abi` section
    /// [`inspect`] found is `abi`): from the module cache, or built and put there.
    pub(crate) fn compiled(
        &self,
        code: &[u8],
        code_hash: &Hash,
        abi: Option<&[u8]>,
    ) -> Result<Arc<Contract>, DeployError> {
        if let Some(contract) = self.inner.cache.lock().get(code_hash) {
            return Ok(contract.clone());
        }
        // Compiled outside the lock: two threads may compile the same code, which is harmless.
        let contract = Arc::new(build(self.engine(), &self.inner.linker, code, abi)?);
        self.inner.cache.lock().put(*code_hash, contract.clone());
        Ok(contract)
    }

    /// The gas a deploy of `code` is charged for compiling it ([`gas::compile`]), on top of
    /// [`gas::intrinsic`]; or why the module is refused before anything is compiled. Takes time
    /// linear in the size of `code` and compiles nothing.
    pub fn compile_gas(&self, code: &[u8]) -> Result<u64, DeployError> {
        inspect(code, self.config()).map(|shape| gas::compile(&shape))
    }

    /// What a proposer puts in a block from `txs` (in order) so that its deploys stay within
    /// [`RuntimeConfig::max_block_compile_gas`]: a deploy that would exceed it is left out, and so
    /// is every later transaction of its signer (their nonces follow it). What is left out stays
    /// in the mempool for the next block. Execution enforces the same budget whatever a proposer
    /// does; this only keeps honest proposers from including deploys that would fail.
    pub fn block_compile_budget(
        &self,
        txs: Vec<kessai_primitives::SignedTransaction>,
    ) -> Vec<kessai_primitives::SignedTransaction> {
        let mut left = self.config().max_block_compile_gas;
        let mut deferred = std::collections::HashSet::new();
        txs.into_iter()
            .filter(|signed| {
                if deferred.contains(&signed.tx.signer) {
                    return false;
                }
                let kessai_primitives::Payload::Deploy { code } = &signed.tx.payload else {
                    return true;
                };
                // A module the limits refuse fails before compiling: it costs no budget.
                let Ok(gas) = self.compile_gas(code) else { return true };
                if gas > left {
                    deferred.insert(signed.tx.signer);
                    return false;
                }
                left -= gas;
                true
            })
            .collect()
    }
}

/// Validates `code` and compiles it: [`inspect`], then [`build`].
pub(crate) fn compile(
    engine: &Engine,
    linker: &Linker<HostState>,
    config: &RuntimeConfig,
    code: &[u8],
) -> Result<Contract, DeployError> {
    let shape = inspect(code, config)?;
    build(engine, linker, code, shape.abi)
}

/// What the one pass of [`inspect`] found in a module: its `kessai:abi` section and the counts its
/// compile gas is charged on ([`crate::gas::compile`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape<'a> {
    pub(crate) abi: Option<&'a [u8]>,
    /// Functions the module defines (not imports).
    pub(crate) functions: u64,
    /// Bytes of all function bodies together.
    pub(crate) body_bytes: u64,
    /// Instructions compiled to a call: `call`, `call_indirect`, and the memory and table
    /// instructions wasmtime implements with a call into the runtime.
    pub(crate) calls: u64,
    /// The sum over functions of the square of the function's branching instructions (see
    /// [`branches`]): the compiler's optimiser and register allocator take time quadratic in the
    /// basic blocks of one function.
    pub(crate) branch_squares: u64,
}

/// The checks that need no compiler, in one pass over the bytes, before anything is compiled: the
/// structural limits of [`RuntimeConfig`] (size, functions, body size, nesting depth, locals,
/// globals, tables, segments, types, imports, exports), no start function, the initial memory and
/// table sizes; returns the module's [`Shape`]. Time linear in the size of `code`.
pub(crate) fn inspect<'a>(
    code: &'a [u8],
    config: &RuntimeConfig,
) -> Result<Shape<'a>, DeployError> {
    let limit = config.max_code_bytes as u64;
    let size = code.len() as u64;
    if size > limit {
        return Err(DeployError::CodeTooLarge { size, limit });
    }
    let mut shape = Shape::default();
    let mut imported_functions = 0u32;
    let mut tables = 0;
    for payload in Parser::new(0).parse_all(code) {
        match payload.map_err(malformed)? {
            Payload::StartSection { .. } => return Err(DeployError::StartFunction),
            Payload::CustomSection(section) if section.name() == kessai_abi::SECTION => {
                if shape.abi.is_some() {
                    return Err(DeployError::BadAbi("the module has two such sections"));
                }
                shape.abi = Some(section.data());
            }
            Payload::TypeSection(reader) => at_most("types", reader.count(), config.max_types)?,
            Payload::ImportSection(reader) => {
                let mut imports = 0;
                for import in reader.into_imports() {
                    imports += 1;
                    at_most("imports", imports, config.max_imports)?;
                    if matches!(import.map_err(malformed)?.ty, TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                let functions = imported_functions.saturating_add(reader.count());
                at_most("functions", functions, config.max_functions)?;
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(malformed)?;
                    tables += 1;
                    if tables > 1 {
                        return Err(DeployError::TooManyTables(tables));
                    }
                    if table.ty.initial > config.max_table_elements {
                        return Err(DeployError::TableTooLarge {
                            elements: table.ty.initial,
                            limit: config.max_table_elements,
                        });
                    }
                }
            }
            Payload::MemorySection(reader) => {
                let limit = (config.max_memory_bytes / WASM_PAGE) as u64;
                for memory in reader {
                    let memory = memory.map_err(malformed)?;
                    if memory.initial > limit {
                        return Err(DeployError::MemoryTooLarge { pages: memory.initial, limit });
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                at_most("globals", reader.count(), config.max_globals)?
            }
            Payload::ExportSection(reader) => {
                at_most("exports", reader.count(), config.max_exports)?
            }
            Payload::ElementSection(reader) => {
                at_most("element segments", reader.count(), config.max_element_segments)?
            }
            Payload::DataSection(reader) => {
                at_most("data segments", reader.count(), config.max_data_segments)?
            }
            Payload::CodeSectionStart { count, .. } => {
                let functions = imported_functions.saturating_add(count);
                at_most("functions", functions, config.max_functions)?;
            }
            Payload::CodeSectionEntry(body) => {
                let function = imported_functions.saturating_add(shape.functions as u32);
                let counts = check_body(&body, function, config)?;
                shape.functions += 1;
                shape.body_bytes += body.range().len() as u64;
                shape.calls += counts.calls;
                shape.branch_squares += counts.branches * counts.branches;
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// What [`check_body`] counted in one function.
struct BodyCounts {
    branches: u64,
    calls: u64,
}

/// The limits of one function body: its size, its locals, how deep its blocks nest, how many
/// branching instructions it has; counts its branches and calls.
fn check_body(
    body: &FunctionBody<'_>,
    function: u32,
    config: &RuntimeConfig,
) -> Result<BodyCounts, DeployError> {
    let size = body.range().len() as u64;
    let limit = config.max_function_body_bytes as u64;
    if size > limit {
        return Err(DeployError::FunctionTooLarge { function, size, limit });
    }
    let mut locals = 0u64;
    for declared in body.get_locals_reader().map_err(malformed)? {
        locals += u64::from(declared.map_err(malformed)?.0);
    }
    let limit = u64::from(config.max_locals);
    if locals > limit {
        return Err(DeployError::TooManyLocals { function, found: locals, limit });
    }
    let mut operators = body.get_operators_reader().map_err(malformed)?;
    let mut counts = BodyCounts { branches: 0, calls: 0 };
    let mut depth = 0u32;
    while !operators.eof() {
        let operator = operators.read().map_err(malformed)?;
        match operator {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                depth += 1;
                if depth > config.max_nesting_depth {
                    let limit = config.max_nesting_depth;
                    return Err(DeployError::NestingTooDeep { function, limit });
                }
            }
            // The last `end` closes the function itself.
            Operator::End => depth = depth.saturating_sub(1),
            _ => {}
        }
        if branches(&operator) {
            counts.branches += 1;
            if counts.branches > u64::from(config.max_function_branches) {
                let limit = config.max_function_branches;
                return Err(DeployError::TooManyBranches { function, limit });
            }
        }
        if calls(&operator) {
            counts.calls += 1;
        }
    }
    Ok(counts)
}

/// Instructions that start or end basic blocks of the compiled function: `call_indirect`
/// branches on its table checks.
fn branches(operator: &Operator<'_>) -> bool {
    matches!(
        operator,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::CallIndirect { .. }
    )
}

/// Instructions compiled to a call (with the fuel counter saved and reloaded around it).
fn calls(operator: &Operator<'_>) -> bool {
    matches!(
        operator,
        Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::MemoryGrow { .. }
            | Operator::MemoryCopy { .. }
            | Operator::MemoryFill { .. }
            | Operator::MemoryInit { .. }
            | Operator::DataDrop { .. }
            | Operator::TableGet { .. }
            | Operator::TableSet { .. }
            | Operator::TableGrow { .. }
            | Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. }
            | Operator::ElemDrop { .. }
    )
}

fn at_most(what: &'static str, found: u32, limit: u32) -> Result<(), DeployError> {
    if found > limit {
        return Err(DeployError::TooMany { what, found: found.into(), limit: limit.into() });
    }
    Ok(())
}

/// The bytes do not parse: what wasmparser said goes to the log only (it is not ours to put in a
/// receipt; see [`DeployError`]).
fn malformed(error: wasmparser::BinaryReaderError) -> DeployError {
    tracing::debug!(%error, "deploy refused: the module does not parse");
    DeployError::Invalid
}

/// Compiles a module that passed [`inspect`] (`abi` is its `kessai:abi` section), and checks what
/// needs the compiled module: imports, exports, the interface's methods.
pub(crate) fn build(
    engine: &Engine,
    linker: &Linker<HostState>,
    code: &[u8],
    abi: Option<&[u8]>,
) -> Result<Contract, DeployError> {
    let module = Module::new(engine, code).map_err(|error| {
        tracing::debug!(
            error = format!("{error:#}"),
            "deploy refused: the module does not compile"
        );
        DeployError::Invalid
    })?;
    check_imports(&module)?;
    let (has_init, has_migrate) = check_exports(&module)?;
    let abi = parse_abi(abi.ok_or(DeployError::MissingAbi)?)?;
    for method in &abi.methods {
        match module.get_export(&method.name) {
            Some(ExternType::Func(ty)) if is_unit_fn(&ty) => {}
            Some(other) => {
                return Err(DeployError::BadExport {
                    name: method.name.clone(),
                    found: describe(&other),
                })
            }
            None => return Err(DeployError::MethodNotExported(method.name.clone())),
        }
    }
    let pre = linker.instantiate_pre(&module).map_err(|error| {
        tracing::debug!(error = format!("{error:#}"), "deploy refused: the module does not link");
        DeployError::Invalid
    })?;
    Ok(Contract { pre, abi, has_init, has_migrate })
}

fn parse_abi(section: &[u8]) -> Result<Abi, DeployError> {
    let json = std::str::from_utf8(section).map_err(|_| DeployError::BadAbi("not UTF-8"))?;
    Abi::from_json(json).map_err(|error| {
        tracing::debug!(%error, "deploy refused: the interface section is invalid");
        DeployError::BadAbi("not an interface as contract-abi.md describes")
    })
}

fn check_imports(module: &Module) -> Result<(), DeployError> {
    for import in module.imports() {
        let forbidden = || DeployError::ForbiddenImport {
            module: import.module().to_string(),
            name: import.name().to_string(),
        };
        if import.module() != "kessai" {
            return Err(forbidden());
        }
        let expected = HOST_FUNCTIONS
            .iter()
            .find(|f| f.name == import.name())
            .ok_or_else(forbidden)?
            .signature();
        let found = describe(&import.ty());
        if found != expected {
            return Err(DeployError::ImportSignature {
                name: import.name().to_string(),
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// Checks `memory`, `init` and `migrate`; returns whether `init` and `migrate` are exported.
fn check_exports(module: &Module) -> Result<(bool, bool), DeployError> {
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        _ => return Err(DeployError::NoMemoryExport),
    }
    let entry_point = |name: &str| match module.get_export(name) {
        None => Ok(false),
        Some(ExternType::Func(ty)) if is_unit_fn(&ty) => Ok(true),
        Some(other) => Err(DeployError::BadExport { name: name.into(), found: describe(&other) }),
    };
    Ok((entry_point("init")?, entry_point(MIGRATE)?))
}

fn is_unit_fn(ty: &FuncType) -> bool {
    ty.params().len() == 0 && ty.results().len() == 0
}

/// `(i32, i32) -> i64` for a function, the kind of anything else.
fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => signature(
            &f.params().map(|t| value_type(&t)).collect::<Vec<_>>(),
            &f.results().map(|t| value_type(&t)).collect::<Vec<_>>(),
        ),
        ExternType::Memory(_) => "a memory".into(),
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

/// The name of a value type, in our words rather than wasmtime's (they end up in receipts).
fn value_type(ty: &ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(_) => "a reference",
    }
}

pub(crate) fn signature<S: AsRef<str>>(params: &[S], results: &[S]) -> String {
    fn join<S: AsRef<str>>(types: &[S]) -> String {
        types.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(", ")
    }
    format!("({}) -> ({})", join(params), join(results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{genesis_writes, BlockContext, GenesisSpec};
    use kessai_primitives::ValidatorSet;
    use kessai_primitives::{Keypair, Payload, Role, Transaction, TxStatus, Validator};

    use kessai_state::MemoryState as Committed;

    /// The proposer executes a block holding a deploy, then every validator checks the proposal,
    /// in every round: the module is compiled by the first and taken from the cache after.
    #[test]
    fn a_deploy_is_compiled_once_per_node() {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let alice = Keypair::dev("alice");
        let validator = Validator { public_key: Keypair::dev("v0").public(), power: 1 };
        let spec = GenesisSpec {
            chain_id: "cache".into(),
            time_ms: 0,
            members: vec![(alice.public(), vec![Role::Deployer])],
            validators: ValidatorSet::new(vec![validator]).unwrap(),
            deployment_policy: kessai_primitives::DeploymentPolicy::AnyDeployer,
            contracts: vec![],
        };
        let (writes, _) = genesis_writes(&runtime, &spec).unwrap();
        let state = Committed(writes.into_iter().filter_map(|(k, v)| Some((k, v?))).collect());
        let code = wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "ping"))
                 (@custom "kessai:abi" "{\"name\":\"ping\",\"version\":\"0.1.0\",\"methods\":[{\"name\":\"ping\",\"kind\":\"call\"}]}"))"#,
        )
        .unwrap();
        let payload = Payload::Deploy { code: code.clone() };
        let tx = Transaction {
            chain_id: "cache".into(),
            signer: alice.public(),
            nonce: 0,
            gas_limit: 10_000_000,
            payload,
        }
        .sign(&alice);
        let ctx = BlockContext {
            chain_id: "cache".into(),
            height: 1,
            time_ms: 1_000,
            block_gas_limit: 1_000_000_000,
        };
        let cached = || runtime.inner.cache.lock().peek(&Hash::digest(&code)).cloned();

        let proposed = runtime.execute_block(&state, &ctx, std::slice::from_ref(&tx)).unwrap();
        assert_eq!(proposed.receipts[0].status, TxStatus::Success);
        let compiled = cached().expect("the deploy fills the cache");
        for _round in 0..3 {
            let checked = runtime.execute_block(&state, &ctx, std::slice::from_ref(&tx)).unwrap();
            assert_eq!(checked, proposed, "the same receipts and writes, gas included");
            assert!(Arc::ptr_eq(&compiled, &cached().unwrap()), "compiled again");
        }
    }
}
