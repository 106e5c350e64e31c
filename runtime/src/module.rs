//! Contract modules: the deploy-time checks of `docs/contract-abi.md` ("Module shape"), and the
//! compiled form kept in the cache.

use crate::config::WASM_PAGE;
use crate::host::{HostState, HOST_FUNCTIONS};
use crate::{DeployError, RuntimeConfig};
use kessai_abi::{Abi, MethodKind};
use wasmparser::{Parser, Payload};
use wasmtime::{Engine, ExternType, FuncType, InstancePre, Linker, Module};

/// A contract module compiled and linked against the host, ready to instantiate.
pub(crate) struct Contract {
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) abi: Abi,
    /// The module exports `init` (run at instantiation).
    pub(crate) has_init: bool,
}

impl Contract {
    /// The kind of a method a transaction or another contract may call (`init` never is).
    pub(crate) fn callable(&self, method: &str) -> Option<MethodKind> {
        self.abi.method(method).map(|m| m.kind).filter(|kind| *kind != MethodKind::Init)
    }
}

/// Validates `code` and compiles it.
pub(crate) fn compile(
    engine: &Engine,
    linker: &Linker<HostState>,
    config: &RuntimeConfig,
    code: &[u8],
) -> Result<Contract, DeployError> {
    let abi_json = check_sections(code, config)?;
    let module = Module::new(engine, code).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
    check_imports(&module)?;
    let has_init = check_exports(&module)?;
    let abi_json = abi_json.ok_or(DeployError::MissingAbi)?;
    let abi_json = std::str::from_utf8(abi_json)
        .map_err(|e| DeployError::BadAbi(format!("not UTF-8: {e}")))?;
    let abi = Abi::from_json(abi_json).map_err(|e| DeployError::BadAbi(e.to_string()))?;
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
    let pre =
        linker.instantiate_pre(&module).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
    Ok(Contract { pre, abi, has_init })
}

/// Walks the sections wasmtime does not tell about: no start function, at most one table and its
/// size, the initial memory size, and the `kessai:abi` section (returned, if present).
fn check_sections<'a>(
    code: &'a [u8],
    config: &RuntimeConfig,
) -> Result<Option<&'a [u8]>, DeployError> {
    let mut abi = None;
    let mut tables = 0;
    for payload in Parser::new(0).parse_all(code) {
        let invalid = |e: wasmparser::BinaryReaderError| DeployError::Invalid(e.to_string());
        match payload.map_err(invalid)? {
            Payload::StartSection { .. } => return Err(DeployError::StartFunction),
            Payload::CustomSection(section) if section.name() == kessai_abi::SECTION => {
                if abi.is_some() {
                    return Err(DeployError::BadAbi("the module has two such sections".into()));
                }
                abi = Some(section.data());
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(invalid)?;
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
                    let memory = memory.map_err(invalid)?;
                    if memory.initial > limit {
                        return Err(DeployError::MemoryTooLarge { pages: memory.initial, limit });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(abi)
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

/// Checks `memory` and `init`; returns whether `init` is exported.
fn check_exports(module: &Module) -> Result<bool, DeployError> {
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        _ => return Err(DeployError::NoMemoryExport),
    }
    match module.get_export("init") {
        None => Ok(false),
        Some(ExternType::Func(ty)) if is_unit_fn(&ty) => Ok(true),
        Some(other) => Err(DeployError::BadExport { name: "init".into(), found: describe(&other) }),
    }
}

fn is_unit_fn(ty: &FuncType) -> bool {
    ty.params().len() == 0 && ty.results().len() == 0
}

/// `(i32, i32) -> i64` for a function, the kind of anything else.
fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => signature(
            &f.params().map(|t| t.to_string()).collect::<Vec<_>>(),
            &f.results().map(|t| t.to_string()).collect::<Vec<_>>(),
        ),
        ExternType::Memory(_) => "a memory".into(),
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

pub(crate) fn signature<S: AsRef<str>>(params: &[S], results: &[S]) -> String {
    fn join<S: AsRef<str>>(types: &[S]) -> String {
        types.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(", ")
    }
    format!("({}) -> ({})", join(params), join(results))
}
