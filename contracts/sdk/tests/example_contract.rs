//! The SDK end to end on the host: a small contract written with `methods!`, `Map`, `Item` and
//! `abi!`, driven through the test environment as the node would drive it.

use borsh::{BorshDeserialize, BorshSerialize};
use kessai_sdk::test_env::{self, abi, invoke, invoke_json, invoke_view};
use kessai_sdk::{caller, emit, require, Address, Item, Map};
use serde_json::json;

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq)]
pub enum Tag {
    Plain,
    Custom { name: String },
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq)]
pub struct Note {
    author: Address,
    text: String,
    tag: Tag,
}

const NEXT_ID: Item<u64> = Item::new(b"next");
const NOTES: Map<u64, Note> = Map::new(b"n/");
const BY_AUTHOR: Map<(Address, u64), bool> = Map::new(b"a/");
/// Day big-endian first, so that a range of days is a range of keys.
const BY_DAY: Map<([u8; 8], u64), bool> = Map::new(b"d/");

kessai_sdk::abi!("notes.json");

kessai_sdk::methods! {
    pub fn init() -> Result<(), String> {
        require(!NEXT_ID.exists(), "already initialised");
        NEXT_ID.set(&1);
        Ok(())
    }

    pub fn add(day: u64, text: String, tag: Tag) -> Result<u64, String> {
        if text.is_empty() {
            return Err("empty note".into());
        }
        let id = NEXT_ID.get().ok_or("not initialised")?;
        NEXT_ID.set(&(id + 1));
        let note = Note { author: caller(), text, tag };
        NOTES.insert(&id, &note);
        BY_AUTHOR.insert(&(note.author, id), &true);
        BY_DAY.insert(&(day.to_be_bytes(), id), &true);
        emit("added", &note);
        Ok(id)
    }

    pub fn get(id: u64) -> Result<Option<Note>, String> {
        Ok(NOTES.get(&id))
    }

    pub fn by_author(author: Address) -> Result<Vec<u64>, String> {
        Ok(BY_AUTHOR.iter_prefix(&author).map(|((_, id), _)| id).collect())
    }

    pub fn days(from: u64, to: u64) -> Result<Vec<(u64, u64)>, String> {
        Ok(BY_DAY
            .iter_prefix_from(&(), &from.to_be_bytes())
            .map(|((day, id), _)| (u64::from_be_bytes(day), id))
            .take_while(|(day, _)| *day <= to)
            .collect())
    }

    pub fn remove(id: u64) -> Result<(), String> {
        let note = NOTES.get(&id).ok_or("no such note")?;
        require(note.author == caller(), "only the author");
        NOTES.remove(&id);
        BY_AUTHOR.remove(&(note.author, id));
        // Something after the writes fails: the writes must not survive.
        require(id != 13, "unlucky");
        Ok(())
    }

    pub fn relay(to: Address, n: u32) -> Result<u32, String> {
        Ok(kessai_sdk::call::<_, u32>(&to, "double", &(n,)))
    }

    pub fn sneaky_write() -> Result<(), String> {
        NEXT_ID.set(&999);
        Ok(())
    }

    /// Run by an upgrade to this code: every note's text gets `suffix`; returns how many.
    pub fn migrate(suffix: String) -> Result<u32, String> {
        require(caller() == Address::SYSTEM, "only an upgrade runs migrate");
        if suffix.is_empty() {
            return Err("empty suffix".into());
        }
        let notes: Vec<(u64, Note)> = NOTES.iter().collect();
        for (id, mut note) in notes.clone() {
            note.text.push_str(&suffix);
            NOTES.insert(&id, &note);
        }
        Ok(notes.len() as u32)
    }
}

const ALICE: Address = Address([0xA1; 32]);
const BOB: Address = Address([0xB0; 32]);

fn setup() {
    test_env::reset();
    test_env::set_sender(ALICE);
    invoke::<_, ()>(init, &()).unwrap();
}

fn add_note(day: u64, text: &str) -> Result<u64, String> {
    invoke(add, &(day, text.to_string(), Tag::Plain))
}

#[test]
fn methods_run_with_borsh_arguments_and_results() {
    setup();
    assert_eq!(add_note(3, "hello"), Ok(1));
    assert_eq!(add_note(3, "again"), Ok(2));
    let note: Option<Note> = invoke_view(get, &(1u64,)).unwrap();
    assert_eq!(note, Some(Note { author: ALICE, text: "hello".into(), tag: Tag::Plain }));
    assert_eq!(invoke_view::<_, Option<Note>>(get, &(9u64,)), Ok(None));
    let events = test_env::events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].topic, "added");
    assert_eq!(events[1].decode::<Note>().text, "again");
}

#[test]
fn init_twice_is_refused() {
    setup();
    assert_eq!(invoke::<_, ()>(init, &()), Err("already initialised".into()));
}

#[test]
fn a_failed_call_leaves_storage_and_events_as_before() {
    setup();
    for text in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"] {
        add_note(1, text).unwrap();
    }
    let (storage, events) = (test_env::storage(), test_env::events());
    assert_eq!(invoke::<_, ()>(remove, &(13u64,)), Err("unlucky".into()));
    assert_eq!(test_env::storage(), storage);
    assert_eq!(test_env::events(), events);
    assert!(test_env::return_data().is_empty());
    assert_eq!(add_note(1, ""), Err("empty note".into()));
    assert_eq!(test_env::storage(), storage);
}

#[test]
fn bad_arguments_abort_the_call() {
    setup();
    let err = test_env::invoke_raw(add, &[1, 2, 3], false).unwrap_err();
    assert!(err.starts_with("arguments do not decode: "), "{err}");
    // Trailing bytes are refused too: the arguments must be exactly the tuple.
    let mut bytes = kessai_sdk::to_borsh(&(1u64, "x".to_string(), Tag::Plain));
    bytes.push(0);
    assert!(test_env::invoke_raw(add, &bytes, false)
        .unwrap_err()
        .starts_with("arguments do not decode"));
}

#[test]
fn the_caller_is_checked() {
    setup();
    let id = add_note(1, "mine").unwrap();
    test_env::set_sender(BOB);
    assert_eq!(invoke::<_, ()>(remove, &(id,)), Err("only the author".into()));
    test_env::set_sender(ALICE);
    assert_eq!(invoke::<_, ()>(remove, &(id,)), Ok(()));
    assert_eq!(invoke_view::<_, Option<Note>>(get, &(id,)), Ok(None));
}

#[test]
fn map_prefix_iteration_sees_only_the_prefix() {
    setup();
    add_note(1, "a1").unwrap();
    test_env::set_sender(BOB);
    add_note(1, "b1").unwrap();
    test_env::set_sender(ALICE);
    add_note(1, "a2").unwrap();
    assert_eq!(invoke_view::<_, Vec<u64>>(by_author, &(ALICE,)), Ok(vec![1, 3]));
    assert_eq!(invoke_view::<_, Vec<u64>>(by_author, &(BOB,)), Ok(vec![2]));
    assert_eq!(invoke_view::<_, Vec<u64>>(by_author, &(Address([7; 32]),)), Ok(vec![]));
}

#[test]
fn big_endian_keys_give_range_scans() {
    setup();
    for (day, text) in [(300u64, "x"), (2, "y"), (256, "z"), (5, "w"), (1 << 40, "v")] {
        add_note(day, text).unwrap();
    }
    let found: Vec<(u64, u64)> = invoke_view(days, &(3u64, 300u64)).unwrap();
    assert_eq!(found, vec![(5, 4), (256, 3), (300, 1)]);
    let all: Vec<(u64, u64)> = invoke_view(days, &(0u64, u64::MAX)).unwrap();
    assert_eq!(all.len(), 5);
}

#[test]
fn a_view_cannot_write() {
    setup();
    let err = invoke_view::<_, ()>(sneaky_write, &()).unwrap_err();
    assert_eq!(err, "trap: storage_set in a view call");
    // The same method as a transaction may.
    assert_eq!(invoke::<_, ()>(sneaky_write, &()), Ok(()));
}

#[test]
fn calls_reach_mocked_contracts_and_their_failure_fails_the_caller() {
    setup();
    let other = Address([0x0C; 32]);
    test_env::mock_contract(other, |method, args| {
        assert_eq!(method, "double");
        let (n,): (u32,) = borsh::from_slice(args).unwrap();
        if n > 100 {
            return Err("too big".into());
        }
        Ok(kessai_sdk::to_borsh(&(n * 2)))
    });
    assert_eq!(invoke::<_, u32>(relay, &(other, 21u32)), Ok(42));
    assert_eq!(invoke::<_, u32>(relay, &(other, 101u32)), Err("too big".into()));
    assert!(invoke::<_, u32>(relay, &(Address([9; 32]), 1u32))
        .unwrap_err()
        .starts_with("trap: no contract"));
}

#[test]
fn panics_become_failures_with_their_message() {
    setup();
    NEXT_ID.set(&u64::MAX);
    let err = add_note(1, "overflow").unwrap_err();
    assert!(err.starts_with("panicked: "), "{err}");
}

#[test]
fn host_limits_trap() {
    setup();
    let err = test_env::invoke_raw(
        {
            extern "C-unwind" fn big_key() {
                kessai_sdk::storage::set(&[0u8; 1025], b"v");
            }
            big_key
        },
        &[],
        false,
    )
    .unwrap_err();
    assert_eq!(err, "trap: storage key over 1 KiB");
}

#[test]
fn the_abi_matches_the_code() {
    let abi = abi::parse(ABI_JSON).unwrap();
    test_env::check_methods(&abi, METHODS).unwrap();
    setup();
    let args = json!([4, "from json", {"Custom": {"name": "t"}}]);
    assert_eq!(invoke_json(&abi, METHODS, "add", args), Ok(json!(1)));
    let note = invoke_json(&abi, METHODS, "get", json!({"id": 1})).unwrap();
    let author = ALICE.to_string();
    assert_eq!(
        note,
        json!({"author": author, "text": "from json", "tag": {"Custom": {"name": "t"}}})
    );
    assert_eq!(invoke_json(&abi, METHODS, "days", json!([0, 10])), Ok(json!([[4, 1]])));
    assert_eq!(invoke_json(&abi, METHODS, "remove", json!([1])), Ok(json!(null)));
    assert_eq!(invoke_json(&abi, METHODS, "remove", json!([1])), Err("no such note".into()));
    let events = test_env::events_json(&abi);
    assert_eq!(events[0].0, "added");
    assert_eq!(events[0].1["text"], json!("from json"));
    // Map keys follow the abi: `prefix ‖ borsh(key)`.
    assert_eq!(abi.map_key("notes", &json!(7)).unwrap(), NOTES.storage_key(&7));
    let key = abi.map_key("by_day", &json!(["0000000000000004", 1])).unwrap();
    assert_eq!(key, BY_DAY.storage_key(&(4u64.to_be_bytes(), 1)));
}

#[test]
fn migrate_runs_as_the_upgrade_runs_it() {
    setup();
    add_note(1, "a").unwrap();
    add_note(2, "b").unwrap();
    // Not as an ordinary call: its caller would be the signer.
    let refused = invoke::<_, u32>(migrate, &("!".to_string(),));
    assert_eq!(refused, Err("only an upgrade runs migrate".into()));
    assert_eq!(test_env::invoke_migrate(migrate, &("!".to_string(),)), Ok(2u32));
    assert_eq!(test_env::with(|env| env.caller), ALICE, "the caller is restored");
    let note: Option<Note> = invoke_view(get, &(2u64,)).unwrap();
    assert_eq!(note.unwrap().text, "b!");
    // A failing migrate changes nothing.
    let storage = test_env::storage();
    let failed = test_env::invoke_migrate::<_, u32>(migrate, &(String::new(),));
    assert_eq!(failed, Err("empty suffix".into()));
    assert_eq!(test_env::storage(), storage);
    assert_eq!(test_env::with(|env| env.caller), ALICE);
    // Through the abi: kind "migrate" runs with caller Address::SYSTEM too.
    let abi = abi::parse(ABI_JSON).unwrap();
    assert_eq!(abi.method("migrate").unwrap().kind, abi::MethodKind::Migrate);
    assert_eq!(invoke_json(&abi, METHODS, "migrate", json!(["?"])), Ok(json!(2)));
}

#[test]
fn entry_points_must_have_their_kinds() {
    for (name, wrong) in
        [("init", "call"), ("migrate", "call"), ("add", "migrate"), ("add", "init")]
    {
        let mut interface: serde_json::Value = serde_json::from_str(ABI_JSON).unwrap();
        let methods = interface["methods"].as_array_mut().unwrap();
        let method = methods.iter_mut().find(|m| m["name"] == name).unwrap();
        method["kind"] = json!(wrong);
        let abi: abi::Abi = serde_json::from_value(interface).unwrap();
        let err = test_env::check_methods(&abi, METHODS).unwrap_err();
        assert!(err.contains("the entry point"), "{name} as {wrong}: {err}");
    }
}

#[test]
fn methods_missing_from_the_abi_are_found() {
    let abi = abi::parse(ABI_JSON).unwrap();
    let err = test_env::check_methods(&abi, &METHODS[1..]).unwrap_err();
    assert!(err.contains("only in the abi: [\"init\"]"), "{err}");
}

#[test]
fn hashes_and_signatures_match_the_standards() {
    assert_eq!(
        hex(&kessai_sdk::sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&kessai_sdk::blake3(b"")),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    // RFC 8032, test 1 (empty message).
    let pk = unhex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let sig = unhex::<64>("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    assert!(kessai_sdk::ed25519_verify(&pk, &sig, b""));
    assert!(!kessai_sdk::ed25519_verify(&pk, &sig, b"x"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> [u8; N] {
    let v: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}
