//! `kessai config migrate`: turns an old home's `config.json` into a commented `config.toml`; and
//! the start of logging of the commands that run a node, from their config's `[log]`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use kessai_node::config::{ConfigSource, Loaded};
use kessai_node::home::Home;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Write HOME/config.toml from an old home's config.json (its settings, every other one at
    /// its default, each with a comment) and rename config.json to config.json.migrated.
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Home directory of the node.
    #[arg(long)]
    pub home: PathBuf,
}

pub fn run(command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Migrate(args) => {
            let home = Home::new(&args.home);
            let written = kessai_node::config::migrate(&home)?;
            println!(
                "wrote {}; the old file is kept as {}",
                written.display(),
                home.legacy_config_path().with_extension("json.migrated").display()
            );
            Ok(())
        }
    }
}

/// Starts logging as the node's `[log]` says (`RUST_LOG` first), then says once where the
/// settings came from when that needs the operator's attention.
pub fn start_logging(home: &Home, loaded: &Loaded) -> Result<()> {
    let log = &loaded.config.log;
    let from = match &loaded.source {
        _ if loaded.env_overrides.iter().any(|v| v == "KESSAI_LOG_FILTER") => {
            "KESSAI_LOG_FILTER".to_string()
        }
        ConfigSource::Toml(path) | ConfigSource::LegacyJson(path) => path.display().to_string(),
    };
    crate::init_tracing(log).with_context(|| format!("`log.filter` of {from}"))?;
    if let Some(notice) = loaded.notice(home) {
        tracing::warn!("{notice}");
    }
    if !loaded.env_overrides.is_empty() {
        tracing::info!(variables = %loaded.env_overrides.join(","), "settings from the environment");
    }
    Ok(())
}
