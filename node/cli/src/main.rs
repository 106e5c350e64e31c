//! The `kessai` binary: parses the command line, runs the command, prints errors as one clear
//! sentence (with causes), and exits non-zero on failure. Each command is a file in `commands/`
//! that owns its arguments and its `run`.

mod cli;
mod commands;

use clap::Parser;
use kessai_node::config::{LogConfig, LogFormat};

/// mimalloc instead of glibc's malloc: block building allocates and frees millions of small
/// objects (Merkle tree nodes, write sets, receipts) per block; glibc spent about a tenth of the
/// node's CPU in malloc, free and faulting in fresh pages for them (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if !runs_a_node(&cli.command) {
        // Client commands log only warnings; their format follows KESSAI_LOG_FORMAT as a node's.
        let format = match std::env::var("KESSAI_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let filter = if cli.command.is_long_running() {
            LogConfig::default().filter
        } else {
            "warn".to_string()
        };
        let _ = init_tracing(&LogConfig { filter, format });
    }
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
            exit_code_of(&e)
        }
    }
}

/// Exit code of a failed command: [`UPGRADE_REQUIRED`] when a node stopped (or refused to start)
/// at a protocol version its binary does not support, 1 otherwise.
fn exit_code_of(error: &anyhow::Error) -> std::process::ExitCode {
    let upgrade =
        error.chain().any(|cause| cause.is::<kessai_primitives::protocol::UnsupportedVersion>());
    match upgrade {
        true => std::process::ExitCode::from(UPGRADE_REQUIRED),
        false => std::process::ExitCode::FAILURE,
    }
}

/// Exit code of a node that stopped before a scheduled protocol upgrade its binary does not
/// support, or refused to start past it (`docs/operations.md`, "Upgrading"): a supervisor should
/// not restart it with the same binary.
const UPGRADE_REQUIRED: u8 = 3;

/// `kessai node run` and `kessai dev` start logging themselves, once their home's config is read
/// (`commands::config::start_logging`): its `[log]` says what and how.
fn runs_a_node(command: &cli::Command) -> bool {
    matches!(
        command,
        cli::Command::Dev(_) | cli::Command::Node(commands::node::NodeCommand::Run(_))
    )
}

/// Logs go to stderr, filtered by `RUST_LOG` when it is set and valid (e.g.
/// `RUST_LOG=kessai_node=debug`), else by `log.filter`, which must be valid.
pub(crate) fn init_tracing(log: &LogConfig) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match EnvFilter::try_from_default_env() {
        Ok(filter) => filter,
        Err(_) => EnvFilter::try_new(&log.filter)
            .map_err(|e| anyhow::anyhow!("{:?} is not a log filter: {e}", log.filter))?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}
