//! Printing results: JSON for scripts (`--json`), short text for people.

use serde::Serialize;

pub fn json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable"));
}

/// Prints `value` as JSON when asked, else the text `human` builds.
pub fn print<T: Serialize>(as_json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if as_json {
        json(value);
    } else {
        println!("{}", human(value));
    }
}
