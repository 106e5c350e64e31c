//! The letter-to-digit rule of the patent's time-synchronised keys (JP7005000B2, second
//! modification): a terminal's initial solutions mix digits and lower-case letters; before the
//! arithmetic that derives the key of a given minute, each letter becomes its two-digit position in
//! the alphabet (`a` → `01` … `z` → `26`) and digits stay as they are. The patent's example symbols
//! get the numbers it suggests: `(` → `27`, `)` → `28`, `!` → `29`.
//!
//! This client's notes use a fixed key per terminal (keyed blake3); the rule is kept, with the
//! patent's vector, for terminals that derive time-synchronised keys.

use crate::NoteError;

/// `5a6458p6556ff4272149` → `501645816655606064272149`.
pub fn letters_to_digits(solution: &str) -> Result<String, NoteError> {
    let mut out = String::with_capacity(solution.len() * 2);
    for c in solution.chars() {
        match c {
            '0'..='9' => out.push(c),
            'a'..='z' => out.push_str(&format!("{:02}", c as u32 - 'a' as u32 + 1)),
            '(' => out.push_str("27"),
            ')' => out.push_str("28"),
            '!' => out.push_str("29"),
            other => return Err(NoteError::NoDigitForm(other)),
        }
    }
    Ok(out)
}
