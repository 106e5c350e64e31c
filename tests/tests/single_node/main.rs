//! End-to-end tests against one real `kessai dev` (or `kessai` CLI) process per test: one test
//! binary, so that the world (client, tokio, jsonrpsee) is linked once. Tests run two at a time.

mod backup;
mod bad_input;
mod chain_spec;
mod clearing;
mod config;
mod db_migrate;
mod dev_chain;
mod disk_full;
mod governance;
mod hashlock;
mod health;
mod intermediary;
mod lifecycle;
mod light_client;
mod netting;
mod notes;
mod pruning;
mod rpc_limits;
mod sign_state;
mod subscriptions;
