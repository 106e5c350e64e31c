//! Printing results: JSON for scripts (`--json`), short text for people.

use serde::Serialize;
use std::io::Write;

pub fn json<T: Serialize>(value: &T) {
    line(&serde_json::to_string_pretty(value).expect("serialisable"));
}

/// Prints one line to stdout. A closed pipe (`kessai … | head`) is the reader's choice, not an
/// error worth a panic.
pub fn line(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Prints `value` as JSON when asked, else the text `human` builds.
pub fn print<T: Serialize>(as_json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if as_json {
        json(value);
    } else {
        line(&human(value));
    }
}
