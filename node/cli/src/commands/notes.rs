//! `kessai notes`: the terminal side of the `notes` contract (JP7005000B2).
//!
//! - `new-terminal NAME`: a terminal key in `~/.kessai/terminals/NAME.json` (mode 0600). It makes
//!   the notes and never leaves the machine: the ledger sees only commitments.
//! - `issue --amount N --terminal NAME --key MEMBER`: reads the member's next serial, makes the
//!   note with that serial, and asks the contract to issue it (`issue(amount, serial, expiry_ms,
//!   blake3(note))`); on success prints the note as QR-friendly text. A refused issuance
//!   (credit check) consumes nothing: the same serial serves the next attempt.
//! - `show NOTE`: decodes a note and checks it against the ledger (outstanding, settled, expired,
//!   or not genuine).
//! - `redeem NOTE --key REDEEMER [--payee P]`: `commit_redeem(blake3(note ‖ payee))`, waits for its
//!   block, then `reveal_redeem(note, payee)`, so a thief who sees the note in the mempool has no
//!   earlier commitment to it.
//!
//! NOTE is the text (`KESSAI-NOTE:1:…`), a file holding it, or `-` for standard input.
//!
//! What talks to the chain is `kessai_notes::ledger`; this file has the arguments and the printing.

use super::output;
use crate::cli::{RpcArgs, SignerArgs};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use kessai_notes::{resolve_address, Note, NotesLedger, TerminalKey, TerminalKeyFile};
use kessai_rpc_api::TxInfo;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum NotesCommand {
    /// Create a terminal key: one file per terminal, never sent anywhere.
    NewTerminal {
        /// The terminal's name (the file is DIR/NAME.json).
        name: String,
        /// Where terminal keys are kept (default ~/.kessai/terminals).
        #[arg(long, env = "KESSAI_TERMINALS")]
        terminals_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Ask for a note: the credit check moves AMOUNT from the deposit to collateral, and the
    /// terminal makes the note.
    Issue {
        #[arg(long)]
        amount: u64,
        /// The terminal (key file NAME in --terminals-dir, or a path) that makes the note.
        #[arg(long)]
        terminal: String,
        #[arg(long, env = "KESSAI_TERMINALS")]
        terminals_dir: Option<PathBuf>,
        /// How long the note can be redeemed, from the last block's time: 90s, 10m, 1h, 2d.
        #[arg(long, default_value = "1h")]
        valid_for: String,
        /// Also write the note's text to this file (mode 0600: it is a bearer note).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The notes contract: name in the chain spec, or address.
        #[arg(long, default_value = "notes")]
        contract: String,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Decode a note and check it against the ledger.
    Show {
        note: String,
        /// Only decode; do not ask the node.
        #[arg(long)]
        offline: bool,
        /// Also check that this terminal made the note (its MAC).
        #[arg(long)]
        terminal: Option<String>,
        #[arg(long, env = "KESSAI_TERMINALS")]
        terminals_dir: Option<PathBuf>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Redeem a note once: commit to (note, payee), wait for the block, reveal.
    Redeem {
        note: String,
        /// Who is paid (public key hex, or a key NAME in --keys-dir); default the signer.
        #[arg(long)]
        payee: Option<String>,
        /// Skip the checks against the ledger before committing and let the contract decide.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        signer: SignerArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

pub async fn run(command: NotesCommand) -> Result<()> {
    match command {
        NotesCommand::NewTerminal { name, terminals_dir, json } => {
            new_terminal(&name, terminals_dir, json)
        }
        NotesCommand::Issue {
            amount,
            terminal,
            terminals_dir,
            valid_for,
            out,
            contract,
            signer,
            rpc,
        } => {
            let terminal = read_terminal(&terminal, terminals_dir)?;
            let valid_for_ms = parse_duration_ms(&valid_for)?;
            issue(amount, &terminal, valid_for_ms, out, &contract, signer, rpc).await
        }
        NotesCommand::Show { note, offline, terminal, terminals_dir, rpc } => {
            let note = read_note(&note)?;
            let terminal = terminal.map(|t| read_terminal(&t, terminals_dir)).transpose()?;
            show(&note, offline, terminal.as_ref(), rpc).await
        }
        NotesCommand::Redeem { note, payee, force, signer, rpc } => {
            redeem(&read_note(&note)?, payee, force, signer, rpc).await
        }
    }
}

/// `~/.kessai/terminals`, or `.kessai-terminals` without a home directory.
fn default_terminals_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".kessai-terminals"),
        |h| PathBuf::from(h).join(".kessai/terminals"),
    )
}

fn terminal_path(name: &str, dir: Option<PathBuf>) -> PathBuf {
    let direct = Path::new(name);
    if name.ends_with(".json") && direct.exists() {
        return direct.to_path_buf();
    }
    dir.unwrap_or_else(default_terminals_dir).join(format!("{name}.json"))
}

fn new_terminal(name: &str, dir: Option<PathBuf>, as_json: bool) -> Result<()> {
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        bail!("a terminal name is letters, digits, '-', '_' and '.' (not first), like phone-1");
    }
    let path = dir.unwrap_or_else(default_terminals_dir).join(format!("{name}.json"));
    TerminalKeyFile::new(name, &TerminalKey::generate()).create(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!("{} exists: a terminal key is never replaced (its notes would no longer verify)", path.display())
        }
        _ => anyhow::anyhow!("cannot write {}: {e}", path.display()),
    })?;
    let value = json!({ "terminal": name, "path": path });
    output::print(as_json, &value, |_| {
        format!(
            "terminal {name}: key written to {} (mode 0600); it never leaves this machine",
            path.display()
        )
    });
    Ok(())
}

fn read_terminal(name: &str, dir: Option<PathBuf>) -> Result<TerminalKey> {
    let path = terminal_path(name, dir);
    let file = TerminalKeyFile::read(&path).with_context(|| {
        format!(
            "cannot read terminal key {} (create it with `kessai notes new-terminal {name}`)",
            path.display()
        )
    })?;
    Ok(file.key()?)
}

/// The note's text, from the argument itself, a file, or standard input (`-`).
fn read_note(arg: &str) -> Result<Note> {
    let text = if arg == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the note from standard input")?
    } else if !arg.trim().to_ascii_uppercase().starts_with(kessai_notes::TEXT_SCHEME)
        && Path::new(arg).is_file()
    {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_string()
    };
    Note::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `90s`, `10m`, `1h`, `2d`, or milliseconds as a bare number.
pub(crate) fn parse_duration_ms(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration like 90s, 10m, 1h or 2d"))?;
    let unit_ms = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("{text:?}: the unit is ms, s, m, h or d"),
    };
    number
        .checked_mul(unit_ms)
        .filter(|ms| *ms > 0)
        .with_context(|| format!("{text:?} is not a usable duration"))
}

fn keys_dir(signer: &SignerArgs) -> PathBuf {
    signer.keys_dir.clone().unwrap_or_else(|| kessai_client::default_dev_home().join("keys"))
}

fn tx_json(info: &TxInfo) -> Value {
    json!({
        "tx_id": info.tx_id,
        "height": info.height,
        "gas_used": info.receipt.as_ref().map(|r| r.gas_used),
    })
}

fn gas(info: &TxInfo) -> u64 {
    info.receipt.as_ref().map_or(0, |r| r.gas_used)
}

async fn issue(
    amount: u64,
    terminal: &TerminalKey,
    valid_for_ms: u64,
    out: Option<PathBuf>,
    contract: &str,
    signer: SignerArgs,
    rpc: RpcArgs,
) -> Result<()> {
    let signer = signer.signer()?;
    let ledger = NotesLedger::connect(&rpc.rpc)?;
    let issued = ledger.issue(contract, terminal, &signer, amount, valid_for_ms).await?;
    let (note, member, tx) = (issued.note, issued.member, issued.tx);
    let (serial, expiry_ms) = (note.serial, note.expiry_ms);
    if let Some(path) = &out {
        write_private(path, &format!("{note}\n"))?;
    }
    let value = json!({
        "note": note.to_string(),
        "serial": serial,
        "amount": amount,
        "member": member,
        "expiry_ms": expiry_ms,
        "commitment": hex::encode(note.commitment()),
        "tx": tx_json(&tx),
    });
    output::print(rpc.json, &value, |_| {
        format!(
            "issued note serial {serial} of {amount} (expires at block time {expiry_ms}), tx {} at height {} (gas {})\n{note}",
            tx.tx_id,
            tx.height.unwrap_or_default(),
            gas(&tx)
        )
    });
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

async fn show(
    note: &Note,
    offline: bool,
    terminal: Option<&TerminalKey>,
    rpc: RpcArgs,
) -> Result<()> {
    let status =
        if offline { None } else { Some(NotesLedger::connect(&rpc.rpc)?.status(note).await?) };
    let made_by_terminal = terminal.map(|t| t.made(note));
    let value = json!({
        "contract": hex::encode(note.contract),
        "amount": note.amount,
        "user": hex::encode(note.user),
        "serial": note.serial,
        "expiry_ms": note.expiry_ms,
        "commitment": hex::encode(note.commitment()),
        "status": status.map(|s| s.code()),
        // As `reveal_redeem` takes it (the holder of the text has the MAC anyway).
        "note": note.to_abi_json(),
        "made_by_terminal": made_by_terminal,
    });
    output::print(rpc.json, &value, |_| {
        let mut text = format!(
            "note of {} from member {}, serial {}\ncontract {}\nexpires at block time {} ms\ncommitment {}",
            note.amount,
            hex::encode(note.user),
            note.serial,
            hex::encode(note.contract),
            note.expiry_ms,
            hex::encode(note.commitment())
        );
        if let Some(status) = &status {
            text += &format!("\nledger: {status}");
        }
        if let Some(made) = made_by_terminal {
            text += if made {
                "\nterminal: made by this terminal"
            } else {
                "\nterminal: NOT made by this terminal"
            };
        }
        text
    });
    Ok(())
}

async fn redeem(
    note: &Note,
    payee: Option<String>,
    force: bool,
    signer: SignerArgs,
    rpc: RpcArgs,
) -> Result<()> {
    let keys_dir = keys_dir(&signer);
    let signer = signer.signer()?;
    let payee = match &payee {
        Some(p) => resolve_address(p, &keys_dir)?,
        None => signer.key.public().to_address(),
    };
    let ledger = NotesLedger::connect(&rpc.rpc)?;
    let redeemed = ledger.redeem(note, &signer, payee, force).await?;
    let (amount, commit, reveal) = (redeemed.amount, redeemed.commit, redeemed.reveal);
    let hash = hex::encode(redeemed.redeem_hash);
    let value = json!({
        "amount": amount,
        "payee": payee,
        "serial": note.serial,
        "user": hex::encode(note.user),
        "commit": commit.as_ref().map(tx_json),
        "reveal": tx_json(&reveal),
    });
    output::print(rpc.json, &value, |_| {
        let committed = match &commit {
            Some(tx) => format!(
                "committed in tx {} at height {} (gas {})",
                tx.tx_id,
                tx.height.unwrap_or_default(),
                gas(tx)
            ),
            None => format!("used the pending commitment {hash}"),
        };
        format!(
            "redeemed serial {} of {}: paid {amount} to {payee}\n{committed}\nrevealed in tx {} at height {} (gas {})",
            note.serial,
            hex::encode(note.user),
            reveal.tx_id,
            reveal.height.unwrap_or_default(),
            gas(&reveal)
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90s").unwrap(), 90_000);
        assert_eq!(parse_duration_ms("10m").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("1h").unwrap(), 3_600_000);
        assert_eq!(parse_duration_ms("2d").unwrap(), 172_800_000);
        assert_eq!(parse_duration_ms("250").unwrap(), 250);
        assert!(parse_duration_ms("0s").is_err());
        assert!(parse_duration_ms("1w").unwrap_err().to_string().contains("the unit is"));
        assert!(parse_duration_ms("h").is_err());
        assert!(parse_duration_ms("99999999999999999999d").is_err());
    }

    #[test]
    fn notes_are_read_from_text_files_or_fail_clearly() {
        let note = TerminalKey::from_bytes([1; 32]).make_note([2; 32], 5, [3; 32], 1, 9);
        assert_eq!(read_note(&note.to_string()).unwrap(), note);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("note.txt");
        std::fs::write(&path, format!("{note}\n")).unwrap();
        assert_eq!(read_note(path.to_str().unwrap()).unwrap(), note);
        let err = read_note("hello").unwrap_err().to_string();
        assert_eq!(err, "not a Kessai note: it must start with KESSAI-NOTE:");
    }
}
