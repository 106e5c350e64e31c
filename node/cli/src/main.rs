//! The `kessai` binary: parses the command line, runs the command, prints errors as one clear
//! sentence (with causes), and exits non-zero on failure. Each command is a file in `commands/`
//! that owns its arguments and its `run`.

mod cli;
mod commands;

use clap::Parser;

/// mimalloc instead of glibc's malloc: block building allocates and frees millions of small
/// objects (Merkle tree nodes, write sets, receipts) per block; glibc spent about a tenth of the
/// node's CPU in malloc, free and faulting in fresh pages for them (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
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
    // jsonrpsee logs every request body the RPC limits cut short as an "internal error" warning;
    // the node answers those clients with 408/413 itself (node/src/rpc/limits.rs).
    let default = if long_running { "info,jsonrpsee-server=error" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("KESSAI_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
