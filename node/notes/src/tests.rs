use super::*;
use proptest::prelude::*;

const KEY: TerminalKey = TerminalKey::from_bytes([0x7E; 32]);
const CONTRACT: [u8; 32] = [0xC0; 32];
const USER: [u8; 32] = [0xD2; 32];
const PAYEE: [u8; 32] = [0xB0; 32];

/// 25,000 from the spec's example, serial 1, expiring 2020-01-01T00:10:00Z.
fn vector_note() -> Note {
    KEY.make_note(CONTRACT, 25_000, USER, 1, 1_577_837_400_000)
}

/// The same vector is asserted by the contract's tests (`contracts/notes`): the terminal and the
/// contract agree on the note's bytes (the contract's borsh), its commitment and the redeem hash.
#[test]
fn the_shared_vector() {
    let note = vector_note();
    assert_eq!(
        hex::encode(note.mac),
        "469da7803d968d3076be6cf0e893915890196d411ba8b3a7e86c566f77f0c16c"
    );
    assert_eq!(
        hex::encode(note.commitment()),
        "7f0ee80257982dd9384b9f964f9f7cbb739f0403c61946a8f1e8575bb647fa53"
    );
    assert_eq!(
        hex::encode(note.redeem_hash(&PAYEE)),
        "16bacd36639242b1915aabc19a9b524d2e2f7e968057fcf7c2f2d418a7e194e1"
    );
    let bytes = note.to_bytes();
    assert_eq!(&bytes[..32], &CONTRACT);
    assert_eq!(&bytes[32..40], &25_000u64.to_le_bytes());
    assert_eq!(&bytes[40..72], &USER);
    assert_eq!(&bytes[72..80], &1u64.to_le_bytes());
    assert_eq!(&bytes[80..88], &1_577_837_400_000u64.to_le_bytes());
    assert_eq!(&bytes[88..], &note.mac);
}

#[test]
fn the_text_form_is_qr_alphanumeric_and_reads_back() {
    let note = vector_note();
    let text = note.encode();
    assert_eq!(text.len(), 213);
    assert!(text.starts_with("KESSAI-NOTE:1:"));
    const QR_ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    assert!(text.chars().all(|c| QR_ALPHANUMERIC.contains(c)), "{text}");
    assert_eq!(Note::parse(&text), Ok(note));
    assert_eq!(format!("  {}\n", text.to_lowercase()).parse::<Note>(), Ok(note));
    assert_eq!(note.to_string(), text);
}

#[test]
fn bad_text_gets_a_clear_error() {
    let text = vector_note().encode();
    assert_eq!(Note::parse(""), Err(NoteError::NotANote));
    assert_eq!(Note::parse("KESSAI-NOTE"), Err(NoteError::NotANote));
    assert_eq!(Note::parse("KESSAI-NOTE:1"), Err(NoteError::NotANote));
    assert_eq!(Note::parse(&text.replacen("KESSAI", "KESSA1", 1)), Err(NoteError::NotANote));
    assert_eq!(
        Note::parse(&text.replacen(":1:", ":2:", 1)),
        Err(NoteError::UnsupportedVersion("2".into()))
    );
    // `1` is not a base32 digit.
    let mut bad = text.clone();
    bad.replace_range(20..21, "1");
    assert!(
        matches!(Note::parse(&bad), Err(NoteError::NotBase32 { position: 7, .. })),
        "{:?}",
        Note::parse(&bad)
    );
    // Cut in the middle of a group.
    assert!(matches!(Note::parse(&text[..text.len() - 1]), Err(NoteError::NotBase32 { .. })));
    // A group of 8 characters (5 bytes) lost.
    assert_eq!(
        Note::parse(&format!("{}{}", &text[..100], &text[108..])),
        Err(NoteError::WrongLength { got: 119, expected: 124 })
    );
    // One character changed: the checksum catches it.
    let mut typo = text.clone();
    let c = if &typo[100..101] == "A" { "B" } else { "A" };
    typo.replace_range(100..101, c);
    assert_eq!(Note::parse(&typo), Err(NoteError::BadChecksum));
    assert_eq!(
        Note::from_bytes(&[0; 119]),
        Err(NoteError::WrongLength { got: 119, expected: NOTE_LEN })
    );
    assert_eq!(
        NoteError::BadChecksum.to_string(),
        "the note is damaged or mistyped: its checksum does not match"
    );
}

#[test]
fn only_the_terminal_key_makes_a_note() {
    let note = vector_note();
    assert!(KEY.made(&note));
    assert!(!TerminalKey::from_bytes([0x01; 32]).made(&note));
    assert!(!KEY.made(&Note(NoteFields { amount: 50_000, ..note.0 })));
    assert!(!KEY.made(&Note(NoteFields { contract: [0xC1; 32], ..note.0 })));
    // The contract is in the MAC: the same terminal never makes the same note for two contracts.
    assert_ne!(KEY.make_note([0xC1; 32], 25_000, USER, 1, note.expiry_ms).mac, note.mac);
    assert_ne!(TerminalKey::generate(), TerminalKey::generate());
    assert_eq!(format!("{KEY:?}"), "TerminalKey(..)");
}

#[test]
fn the_redeem_hash_binds_the_payee() {
    let note = vector_note();
    assert_ne!(note.redeem_hash(&PAYEE), note.redeem_hash(&[0xEE; 32]));
    assert_ne!(note.redeem_hash(&PAYEE), note.commitment());
}

#[test]
fn the_abi_json_names_every_field() {
    let json = vector_note().to_abi_json();
    assert_eq!(json["amount"], 25_000);
    assert_eq!(json["serial"], 1);
    assert_eq!(json["expiry_ms"], 1_577_837_400_000u64);
    assert_eq!(json["user"], hex::encode(USER));
    assert_eq!(json["contract"], hex::encode(CONTRACT));
    assert_eq!(json["mac"], hex::encode(vector_note().mac));
}

#[test]
fn the_patent_letter_to_digit_vector() {
    assert_eq!(letters_to_digits("5a6458p6556ff4272149").unwrap(), "501645816655606064272149");
    assert_eq!(letters_to_digits("az09").unwrap(), "012609");
    assert_eq!(letters_to_digits("(x)!").unwrap(), "27242829");
    assert_eq!(letters_to_digits(""), Ok(String::new()));
    assert_eq!(letters_to_digits("5A"), Err(NoteError::NoDigitForm('A')));
    assert_eq!(letters_to_digits("a-b"), Err(NoteError::NoDigitForm('-')));
}

#[test]
fn key_files_round_trip_privately_and_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terminals").join("phone.json");
    let key = TerminalKey::generate();
    TerminalKeyFile::new("phone", &key).create(&path).unwrap();
    let read = TerminalKeyFile::read(&path).unwrap();
    assert_eq!(read.terminal, "phone");
    assert_eq!(read.key().unwrap(), key);
    assert!(!format!("{read:?}").contains(&hex::encode(key.as_bytes())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let err = TerminalKeyFile::new("phone", &TerminalKey::generate()).create(&path).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(TerminalKeyFile::read(&path).unwrap().key().unwrap(), key);

    std::fs::write(&path, r#"{"version": 1, "terminal": "x", "key": "abcd"}"#).unwrap();
    assert_eq!(
        TerminalKeyFile::read(&path).unwrap_err().to_string(),
        "key must be 64 hex characters"
    );
    std::fs::write(&path, r#"{"version": 2, "terminal": "x", "key": "00"}"#).unwrap();
    assert!(TerminalKeyFile::read(&path)
        .unwrap_err()
        .to_string()
        .contains("unsupported key file version 2"));
    std::fs::write(&path, "{}").unwrap();
    assert!(TerminalKeyFile::read(&path)
        .unwrap_err()
        .to_string()
        .contains("is not a terminal key file"));
}

proptest! {
    #[test]
    fn any_note_survives_its_text_form(
        contract in any::<[u8; 32]>(), amount in any::<u64>(), user in any::<[u8; 32]>(),
        serial in any::<u64>(), expiry_ms in any::<u64>(), key in any::<[u8; 32]>(),
    ) {
        let note = TerminalKey::from_bytes(key).make_note(contract, amount, user, serial, expiry_ms);
        prop_assert_eq!(Note::from_bytes(&note.to_bytes()), Ok(note));
        prop_assert_eq!(Note::parse(&note.encode()), Ok(note));
    }
}
