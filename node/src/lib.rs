//! The Kessai node: the `kessai` binary's library.
//!
//! - [`cli`] and [`commands`]: what the user types and what it does;
//! - [`chain`]: store + runtime + chain spec — building, checking and committing blocks;
//! - [`mempool`]: transactions waiting for a block;
//! - [`service`]: the long-running tasks — consensus shell, network, node wiring;
//! - [`rpc`]: the JSON-RPC API (server, and the client the CLI uses);
//! - [`intermediary`]: the intermediary server of asset-ownership mediation;
//! - [`metrics`]: Prometheus metrics and their endpoint;
//! - [`wal`]: the consensus write-ahead log; [`home`] and [`keyfile`]: files on disk.

pub mod chain;
pub mod cli;
pub mod commands;
pub mod home;
pub mod intermediary;
pub mod keyfile;
pub mod mempool;
pub mod metrics;
pub mod rpc;
pub mod service;
pub mod wal;

/// Entry point of the binary: parses arguments, runs the command, prints errors as one clear
/// sentence (with causes), and returns the process exit code.
pub fn main_with_args() -> std::process::ExitCode {
    use clap::Parser;
    let cli = cli::Cli::parse();
    init_tracing(cli.command.is_long_running());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr. Nodes log at `info` by default, client commands only warnings; `RUST_LOG`
/// overrides either (e.g. `RUST_LOG=kessai_node=debug`). `KESSAI_LOG_FORMAT=json` gives JSON lines.
fn init_tracing(long_running: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if long_running { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("KESSAI_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
