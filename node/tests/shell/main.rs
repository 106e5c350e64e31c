//! Tests of the consensus shell (`kessai_node::service::consensus`): validators as tasks of one
//! process on paused time, real stores on temp dirs, an in-memory network the tests route
//! (`harness`). One test binary: each links RocksDB and wasmtime.

mod harness;

mod admission_latency;
mod four_validators;
mod one_validator;
mod restart;
mod state_sync;
