//! `kessai-node`: the daemon. Everything a running node does, and nothing of the CLI client or of
//! the applications (those are `kessai-client`, `kessai-intermediary`, … on top of the RPC):
//!
//! - [`chain`]: store + runtime + chain spec — building, checking and committing blocks;
//! - [`mempool`]: transactions waiting for a block;
//! - [`daemon`]: starts a node — every service around one chain, the RPC server and metrics;
//! - [`service`]: the long-running tasks — consensus shell, peers' messages, sync;
//! - [`state_sync`]: serving state snapshots, and joining a chain from one;
//! - [`rpc`]: the JSON-RPC server of the interface in `kessai-rpc-api`;
//! - [`metrics`]: Prometheus metrics and their endpoint;
//! - [`health`]: `GET /health` and `GET /ready` on the RPC and metrics ports;
//! - [`storage`]: whether the node can write to its disk (a failed write stops admission and
//!   signing);
//! - [`signer`]: what signs consensus messages — the key with its signing state, or the remote
//!   signer `kessai signer run` — and the double-sign check;
//! - [`wal`]: the consensus write-ahead log and block journal; [`home`]: the node's files on disk;
//! - [`config`]: the node's settings (`config.toml`, environment overrides, old `config.json`);
//! - [`backup`]: backups of the database and files of exported blocks (`kessai db`).

pub mod backup;
pub mod chain;
pub mod config;
pub mod daemon;
pub mod health;
pub mod home;
pub mod mempool;
pub mod metrics;
pub mod rpc;
pub mod service;
pub mod sign_state;
pub mod signer;
pub mod state_sync;
pub mod storage;
pub mod wal;
