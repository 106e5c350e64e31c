//! Version 2 (feature `v2`): state written by version 1's code paths, then the upgrade's
//! `migrate`, then version 2's behaviour. Until `migrate` has run, version 2 reads and writes
//! version 1's layout with version 1's functions (`BALANCES`), so the state below is version 1's;
//! only `init` differs (version 2's starts in layout 2), and `setup_v1` takes away what it adds.

use super::*;
use crate::v2::{self, Account, Migrated};
use kessai_sdk::test_env::invoke_migrate;
use std::collections::BTreeMap;
use std::string::ToString;

/// Funded but in no cycle: its record must survive the migration too.
const IDLE: Address = Address([0x66; 32]);
const IDLE_FUNDS: u128 = 7;
const CAP: u128 = 50;

/// What version 1 leaves: initialised (without version 2's `layout` and `default_debit_cap`), the
/// four terminals funded, one cycle of the spec settled, `IDLE` funded, `T400` paid out 5, and a
/// second cycle open with instructions.
fn setup_v1() {
    test_env::reset();
    test_env::set_block_height(10);
    ok(ADMIN, init, (ADMIN,));
    kessai_sdk::storage::remove(b"layout");
    kessai_sdk::storage::remove(b"default_debit_cap");
    for p in ORDER {
        call::<_, u128>(ADMIN, fund, (p, FUNDS)).unwrap();
    }
    call::<_, u128>(ADMIN, fund, (IDLE, IDLE_FUNDS)).unwrap();
    let id = open(RelayKind::Chained, Mode::Public);
    register_spec(id);
    all_ready(id);
    relay_all(id, &[-40, 40, -20]);
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Settled));
    call::<_, u128>(ADMIN, withdraw, (T400, 5u128)).unwrap();
    let open_id = open(RelayKind::Chained, Mode::Public);
    register_spec(open_id);
    test_env::take_events();
}

fn everyone() -> Vec<Address> {
    let mut all = ORDER.to_vec();
    all.extend([IDLE, ADMIN, STRANGER]);
    all
}

fn all_balances() -> Vec<u128> {
    everyone().iter().map(|p| view(balance, (*p,))).collect()
}

/// The `b/` entries, raw.
fn balance_entries() -> BTreeMap<Vec<u8>, Vec<u8>> {
    test_env::storage().into_iter().filter(|(k, _)| k.starts_with(b"b/")).collect()
}

/// Everything but the balances and version 2's items.
fn other_state() -> BTreeMap<Vec<u8>, Vec<u8>> {
    test_env::storage()
        .into_iter()
        .filter(|(k, _)| !k.starts_with(b"b/") && k != b"layout" && k != b"default_debit_cap")
        .collect()
}

fn migrate_with(cap: Option<u128>) -> Result<u32, String> {
    test_env::set_signer(T100); // the approval that activated the upgrade
    invoke_migrate(v2::migrate, &(cap,))
}

#[test]
fn version_1_state_is_in_layout_1() {
    setup_v1();
    let entries = balance_entries();
    assert_eq!(entries.len(), 5);
    assert!(entries.values().all(|v| v.len() == 16), "version 1 stores a bare u128 per account");
    assert_eq!(view::<_, Option<u128>>(v2::debit_cap, (T100,)), None);
    assert_eq!(view::<_, Option<Account>>(v2::account, (T100,)), None);
}

#[test]
fn migrate_keeps_every_balance_and_sets_the_debit_cap() {
    setup_v1();
    let before = all_balances();
    let total: u128 = view(total_balance, ());
    assert_eq!(before.iter().sum::<u128>(), total);
    let (keys_before, others) = (balance_entries().into_keys().collect::<Vec<_>>(), other_state());

    assert_eq!(migrate_with(Some(CAP)), Ok(5));

    assert_eq!(all_balances(), before, "every balance is kept");
    assert_eq!(view::<_, u128>(total_balance, ()), total);
    assert_eq!(balance_entries().into_keys().collect::<Vec<_>>(), keys_before, "no record lost");
    assert_eq!(other_state(), others, "cycles, instructions and the rest are untouched");
    for (who, balance) in everyone().iter().zip(&before) {
        let record: Option<Account> = view(v2::account, (*who,));
        let expected = (*balance > 0 || ORDER.contains(who) || *who == IDLE)
            .then_some(Account { balance: *balance, debit_cap: Some(CAP) });
        assert_eq!(record, expected, "{who}");
        assert_eq!(view::<_, Option<u128>>(v2::debit_cap, (*who,)), Some(CAP));
    }
    assert_eq!(view::<_, u32>(v2::version, ()), 2);
    let events = test_env::take_events();
    assert_eq!(events.len(), 1);
    let migrated: Migrated = events[0].decode();
    assert_eq!(migrated, Migrated { layout: 2, accounts: 5, total, default_debit_cap: Some(CAP) });
}

#[test]
fn after_migrate_the_debit_cap_holds_and_the_open_cycle_goes_on() {
    setup_v1();
    migrate_with(Some(CAP)).unwrap();
    // The cycle version 1 left open continues under version 2; T200 must pay 80, over the cap.
    let id = 2;
    all_ready(id);
    relay_all(id, &[-40, 40, -20]);
    let before = balances();
    let refused = call::<_, Phase>(T400, close, (id, -20i128)).unwrap_err();
    assert_eq!(
        refused,
        format!(
            "{T200} must pay 80, over its debit cap of 50: the admin may raise it (set_debit_cap), \
             then close again before the deadline"
        )
    );
    assert_eq!(balances(), before);
    assert!(fails(T200, v2::set_debit_cap, (T200, Some(100u128))).contains("only the admin"));
    let zero = fails(ADMIN, v2::set_debit_cap, (T200, Some(0u128)));
    assert!(zero.contains("must be positive"), "{zero}");
    ok(ADMIN, v2::set_debit_cap, (T200, Some(80u128)));
    assert_eq!(call::<_, Phase>(T400, close, (id, -20i128)), Ok(Phase::Settled));
    let after: Vec<i128> =
        balances().iter().zip(&before).map(|(a, b)| *a as i128 - *b as i128).collect();
    assert_eq!(after, POSITIONS.to_vec());
    // A member funded after the migration gets the default cap.
    call::<_, u128>(ADMIN, fund, (STRANGER, 3u128)).unwrap();
    let record: Option<Account> = view(v2::account, (STRANGER,));
    assert_eq!(record, Some(Account { balance: 3, debit_cap: Some(CAP) }));
}

#[test]
fn migrate_with_bad_args_fails_and_leaves_version_1_state_readable() {
    setup_v1();
    let (storage, balances_before) = (test_env::storage(), all_balances());
    let refused = migrate_with(Some(0)).unwrap_err();
    assert_eq!(
        refused,
        "default_debit_cap must be positive, or null for no cap: a cap of 0 would bar paying in \
         any settlement"
    );
    assert_eq!(test_env::storage(), storage, "nothing changed");
    assert!(test_env::events().is_empty());
    assert_eq!(all_balances(), balances_before);
    assert!(balance_entries().values().all(|v| v.len() == 16), "still layout 1");
    // Arguments that do not decode are refused too.
    test_env::set_caller(Address::SYSTEM);
    let garbage = test_env::invoke_raw(v2::migrate, &[7, 7], false).unwrap_err();
    assert!(garbage.starts_with("arguments do not decode"), "{garbage}");
    assert_eq!(test_env::storage(), storage);
    // And a good migrate still works afterwards.
    assert_eq!(migrate_with(None), Ok(5));
    assert_eq!(view::<_, Option<u128>>(v2::debit_cap, (T200,)), None);
}

#[test]
fn migrate_runs_once() {
    setup_v1();
    migrate_with(Some(CAP)).unwrap();
    let storage = test_env::storage();
    assert_eq!(
        migrate_with(Some(CAP)),
        Err("already migrated (storage layout 2): migrate runs once".to_string())
    );
    assert_eq!(test_env::storage(), storage);
}

#[test]
fn only_an_upgrade_runs_migrate() {
    setup_v1();
    let refused = call::<_, u32>(ADMIN, v2::migrate, (Some(CAP),)).unwrap_err();
    assert_eq!(
        refused,
        format!("migrate runs only in the upgrade that installs this code, not for {ADMIN}")
    );
    test_env::reset();
    let nothing = migrate_with(None).unwrap_err();
    assert_eq!(nothing, "not initialised: nothing to migrate");
}

#[test]
fn a_fresh_version_2_starts_in_layout_2() {
    setup();
    assert_eq!(
        migrate_with(None),
        Err("already migrated (storage layout 2): migrate runs once".into())
    );
    let record: Option<Account> = view(v2::account, (T100,));
    assert_eq!(record, Some(Account { balance: FUNDS, debit_cap: None }));
    ok(ADMIN, v2::set_debit_cap, (T100, Some(9u128)));
    assert_eq!(view::<_, Option<u128>>(v2::debit_cap, (T100,)), Some(9));
    assert_eq!(view::<_, u128>(balance, (T100,)), FUNDS);
}

#[test]
fn the_v2_interface_says_what_migrate_is() {
    let parsed = abi::parse(ABI_JSON).unwrap();
    assert_eq!(parsed.version, "0.2.0");
    assert_eq!(parsed.method("migrate").unwrap().kind, abi::MethodKind::Migrate);
    assert_eq!(parsed.method("version").unwrap().kind, abi::MethodKind::View);
    assert_eq!(parsed.map("balances").unwrap().value, "Account");
    setup_v1();
    let methods = all_methods();
    assert_eq!(invoke_json(&parsed, &methods, "migrate", json!([CAP.to_string()])), Ok(json!(5)));
    let record = invoke_json(&parsed, &methods, "account", json!([IDLE.to_string()])).unwrap();
    assert_eq!(record, json!({"balance": "7", "debit_cap": "50"}));
    assert_eq!(invoke_json(&parsed, &methods, "version", json!([])), Ok(json!(2)));
    let events = test_env::events_json(&parsed);
    assert_eq!(events[0].0, "migrated");
}

/// abi.json with the changes of abi-v2-changes.json: `version` replaces the version; `types`,
/// `methods` and `events` are added (a name already there is an error); a map in `maps` replaces
/// the map of the same name (its value type changed).
fn v2_interface() -> serde_json::Value {
    let dir = env!("CARGO_MANIFEST_DIR");
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let (mut abi, changes) = (read("abi.json"), read("abi-v2-changes.json"));
    abi["version"] = changes["version"].clone();
    let types = abi["types"].as_object_mut().unwrap();
    for (name, def) in changes["types"].as_object().unwrap() {
        assert!(types.insert(name.clone(), def.clone()).is_none(), "type {name} is in v1");
    }
    for (list, key) in [("methods", "name"), ("events", "topic")] {
        let items = abi[list].as_array_mut().unwrap();
        for item in changes[list].as_array().unwrap() {
            assert!(!items.iter().any(|i| i[key] == item[key]), "{} is in v1", item[key]);
            items.push(item.clone());
        }
    }
    let maps = abi["maps"].as_array_mut().unwrap();
    for map in changes["maps"].as_array().unwrap() {
        *maps.iter_mut().find(|m| m["name"] == map["name"]).expect("a v1 map") = map.clone();
    }
    abi
}

/// abi-v2.json (what the module embeds) is version 1's interface with the v2 changes and nothing
/// else. `NETTING_WRITE_ABI_V2=1` writes it.
#[test]
fn the_interface_is_version_1s_with_the_v2_changes() {
    let expected = v2_interface();
    if std::env::var_os("NETTING_WRITE_ABI_V2").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/abi-v2.json");
        std::fs::write(path, serde_json::to_string(&expected).unwrap() + "\n").unwrap();
    }
    let embedded: serde_json::Value = serde_json::from_str(ABI_JSON).unwrap();
    assert_eq!(embedded, expected, "abi-v2.json is stale: NETTING_WRITE_ABI_V2=1 cargo test -p netting --features v2 interface");
}
