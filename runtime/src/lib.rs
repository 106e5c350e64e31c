//! The wasmtime host: executes transactions and contracts deterministically with gas
