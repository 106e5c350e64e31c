//! The contract's logic natively, through the SDK's test environment: every method is invoked with
//! borsh arguments as the node would, failures roll back.

use super::*;
use kessai_sdk::test_env::{self, abi, invoke, invoke_json, invoke_view};
use serde_json::json;
use std::string::ToString;
use std::vec;

const ADMIN_KEY: Address = Address([0xAD; 32]);
/// Producers: Aa (solar), Ab (oil).
const AA: Address = Address([0xA1; 32]);
const AB: Address = Address([0xA2; 32]);
/// Intermediaries.
const DA: Address = Address([0xD1; 32]);
const DB: Address = Address([0xD2; 32]);
/// Consumer.
const CA: Address = Address([0xC1; 32]);
const STRANGER: Address = Address([0x55; 32]);

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// 2020-01-01T00:00:00Z.
const JAN_1: u64 = 1_577_836_800_000;
const KWH: u64 = 1000;

fn as_sender(who: Address) {
    test_env::set_sender(who);
}

fn call<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    who: Address,
    method: test_env::Method,
    args: A,
) -> Result<R, String> {
    as_sender(who);
    invoke(method, &args)
}

fn view<A: borsh::BorshSerialize, R: borsh::BorshDeserialize>(
    method: test_env::Method,
    args: A,
) -> R {
    invoke_view(method, &args).unwrap()
}

/// Admin, providers Aa and Ab, intermediaries Da and Db; block time 2020-01-01 09:30.
fn setup() {
    test_env::reset();
    test_env::set_block_time_ms(JAN_1 + 9 * HOUR_MS + HOUR_MS / 2);
    call::<_, ()>(ADMIN_KEY, init, (ADMIN_KEY,)).unwrap();
    for (who, name) in [(AA, "Aa"), (AB, "Ab")] {
        call::<_, ()>(ADMIN_KEY, register_provider, (who, name.to_string())).unwrap();
    }
    for (who, name) in [(DA, "Da"), (DB, "Db")] {
        call::<_, ()>(ADMIN_KEY, register_intermediary, (who, name.to_string())).unwrap();
    }
    test_env::take_events();
}

fn create_record(
    provider: Address,
    at: u64,
    amount: u64,
    method: ProductionMethod,
    owner: Address,
) -> Result<u64, String> {
    call(provider, create, (provider, at, amount, method, owner, None::<u64>))
}

fn record(id: u64) -> AssetRecord {
    view::<_, Option<AssetRecord>>(get, (id,)).expect("record exists")
}

fn set_time(ms: u64) {
    test_env::set_block_time_ms(ms);
}

#[test]
fn worked_example_db_to_da_to_ca() {
    setup();
    // Aa's meter records 10 kWh of solar for 2020.1.1 9:00-9:30, owned by intermediary Db.
    let slot = JAN_1 + 9 * HOUR_MS;
    let id = create_record(AA, slot, 10 * KWH, ProductionMethod::Solar, DB).unwrap();
    let created = record(id);
    assert_eq!((created.owner, created.status, created.amount), (DB, Status::NotYet, 10 * KWH));
    assert_eq!(created.expiry_ms, slot + 30 * DAY_MS);

    // Db → Da (change request between intermediaries): NotYet → NotYet, owner Db → Da.
    call::<_, ()>(DB, transfer, (id, DA)).unwrap();
    assert_eq!((record(id).owner, record(id).status), (DA, Status::NotYet));
    assert_eq!(view::<_, Option<Status>>(status, (id,)), Some(Status::NotYet));

    // Da → Ca (final transfer, 10 kWh used): NotYet → Completed, owner Da → Ca.
    let remainder: Option<u64> = call(DA, final_transfer, (id, CA, 10 * KWH)).unwrap();
    assert_eq!(remainder, None);
    assert_eq!(
        (record(id).owner, record(id).status, record(id).amount),
        (CA, Status::Completed, 10 * KWH)
    );
    assert_eq!(view::<_, Option<Status>>(status, (id,)), Some(Status::Completed));

    let topics: Vec<String> = test_env::events().into_iter().map(|e| e.topic).collect();
    assert_eq!(topics, ["created", "transferred", "final_transferred"]);
    let last = test_env::events().pop().unwrap().decode::<Transfer>();
    assert_eq!(
        (last.from, last.to, last.kind, last.record.status),
        (DA, CA, TransferKind::Final, Status::Completed)
    );
}

/// The renewable-share arithmetic of the example, computed from `transfers_to` as a certificate
/// would be: 20 kWh solar and 160 kWh oil so far → 11.1 % < 40 % → solar; after the 9:00 slot,
/// 30 / 190 ≈ 15.8 %, still below → solar again.
#[test]
fn worked_example_certificate_shares() {
    setup();
    let history = [(AA, ProductionMethod::Solar, 20 * KWH), (AB, ProductionMethod::Oil, 160 * KWH)];
    for (i, (provider, method, amount)) in history.into_iter().enumerate() {
        let id = create_record(provider, JAN_1 + i as u64 * HOUR_MS, amount, method, DA).unwrap();
        call::<_, Option<u64>>(DA, final_transfer, (id, CA, amount)).unwrap();
    }
    // The intermediary's choice: renewable while the share is below the target (40 %).
    let choose = |(renewable, total): (u64, u64)| {
        if renewable * 100 < 40 * total {
            ProductionMethod::Solar
        } else {
            ProductionMethod::Oil
        }
    };
    let share = |transfers: &[Transfer]| {
        let total: u64 = transfers.iter().map(|t| t.record.amount).sum();
        let renewable: u64 = transfers
            .iter()
            .filter(|t| t.record.method.is_renewable())
            .map(|t| t.record.amount)
            .sum();
        (renewable, total)
    };
    let january = (CA, JAN_1, JAN_1 + 31 * DAY_MS - 1);
    let before: Vec<Transfer> = view(transfers_to, january);
    assert_eq!(share(&before), (20 * KWH, 180 * KWH));
    assert_eq!(choose(share(&before)), ProductionMethod::Solar, "11.1 % is below 40 %");

    // The 9:00-9:30 slot: 10 kWh of the chosen method.
    let method = choose(share(&before));
    let id = create_record(AA, JAN_1 + 9 * HOUR_MS, 10 * KWH, method, DA).unwrap();
    call::<_, Option<u64>>(DA, final_transfer, (id, CA, 10 * KWH)).unwrap();
    let after: Vec<Transfer> = view(transfers_to, january);
    assert_eq!(share(&after), (30 * KWH, 190 * KWH));
    assert_eq!(choose(share(&after)), ProductionMethod::Solar, "15.8 %: still below, solar again");
    assert!(after.iter().all(|t| t.to == CA && t.record.status == Status::Completed));
}

#[test]
fn init_only_once_and_admin_rules() {
    setup();
    assert_eq!(call::<_, ()>(STRANGER, init, (STRANGER,)), Err("already initialised".into()));
    assert_eq!(view::<_, Address>(admin, ()), ADMIN_KEY);
    assert_eq!(
        call::<_, ()>(STRANGER, register_provider, (STRANGER, "x".to_string())),
        Err("only the admin".into())
    );
    assert_eq!(
        call::<_, ()>(STRANGER, register_intermediary, (STRANGER, "x".to_string())),
        Err("only the admin".into())
    );
    assert_eq!(call::<_, ()>(STRANGER, unregister_provider, (AA,)), Err("only the admin".into()));
    assert_eq!(call::<_, ()>(STRANGER, set_admin, (STRANGER,)), Err("only the admin".into()));
    assert_eq!(
        call::<_, ()>(ADMIN_KEY, register_provider, (AA, "again".to_string())),
        Err("already registered".into())
    );
    assert_eq!(
        call::<_, ()>(ADMIN_KEY, register_provider, (STRANGER, String::new())),
        Err("a name is 1 to 64 bytes".into())
    );
    assert_eq!(
        call::<_, ()>(ADMIN_KEY, register_provider, (Address::SYSTEM, "z".to_string())),
        Err("cannot register the zero address".into())
    );
    assert_eq!(
        call::<_, ()>(ADMIN_KEY, unregister_intermediary, (STRANGER,)),
        Err("not registered".into())
    );
    let party: Option<Party> = view(provider, (AA,));
    assert_eq!(party.unwrap().name, "Aa");
    assert_eq!(view::<_, Option<Party>>(intermediary, (AA,)), None);

    call::<_, ()>(ADMIN_KEY, set_admin, (STRANGER,)).unwrap();
    assert_eq!(
        call::<_, ()>(ADMIN_KEY, register_provider, (CA, "c".to_string())),
        Err("only the admin".into())
    );
    call::<_, ()>(STRANGER, register_provider, (CA, "c".to_string())).unwrap();
}

#[test]
fn uninitialised_contract_refuses_admin_calls() {
    test_env::reset();
    assert_eq!(
        call::<_, ()>(ADMIN_KEY, register_provider, (AA, "Aa".to_string())),
        Err("not initialised".into())
    );
    assert_eq!(invoke_view::<_, Address>(admin, &()), Err("not initialised".into()));
}

#[test]
fn only_the_registered_provider_itself_creates() {
    setup();
    let at = JAN_1 + 9 * HOUR_MS;
    // Not registered.
    assert_eq!(
        call::<_, u64>(
            STRANGER,
            create,
            (STRANGER, at, KWH, ProductionMethod::Solar, DA, None::<u64>)
        ),
        Err("not a registered provider".into())
    );
    // Registered, but naming another provider.
    assert_eq!(
        call::<_, u64>(AB, create, (AA, at, KWH, ProductionMethod::Solar, DA, None::<u64>)),
        Err("only the provider may create its records".into())
    );
    // Unregistered providers stop creating.
    call::<_, ()>(ADMIN_KEY, unregister_provider, (AA,)).unwrap();
    assert_eq!(
        create_record(AA, at, KWH, ProductionMethod::Solar, DA),
        Err("not a registered provider".into())
    );
    assert_eq!(view::<_, Vec<AssetRecord>>(owned_by, (DA, false)), vec![]);
}

#[test]
fn create_checks_its_fields() {
    setup();
    let now = JAN_1 + 9 * HOUR_MS + HOUR_MS / 2;
    let at = JAN_1 + 9 * HOUR_MS;
    let err = |r: Result<u64, String>| r.unwrap_err();
    assert_eq!(
        err(create_record(AA, at, KWH, ProductionMethod::Solar, CA)),
        "the owner is not a registered intermediary"
    );
    assert_eq!(
        err(create_record(AA, at, 0, ProductionMethod::Solar, DA)),
        "amount must be positive"
    );
    assert_eq!(
        err(create_record(AA, now + MAX_CLOCK_SKEW_MS + 1, KWH, ProductionMethod::Solar, DA)),
        "provision time is in the future"
    );
    assert!(create_record(AA, now + MAX_CLOCK_SKEW_MS, KWH, ProductionMethod::Solar, DA).is_ok());
    let other = |name: &str| ProductionMethod::Other { name: name.to_string() };
    assert_eq!(err(create_record(AA, at, KWH, other(""), DA)), "a name is 1 to 64 bytes");
    assert_eq!(
        err(create_record(AA, at, KWH, other(&"x".repeat(65)), DA)),
        "a name is 1 to 64 bytes"
    );
    assert!(create_record(AA, at, KWH, other("tidal"), DA).is_ok());
    // Expiry: explicit, after provision, not already past.
    let with_expiry = |expiry: u64| {
        call::<_, u64>(AA, create, (AA, at - 1, KWH, ProductionMethod::Wind, DA, Some(expiry)))
    };
    assert_eq!(err(with_expiry(at - 1)), "expiry must be after provision");
    assert_eq!(err(with_expiry(now)), "the record would already be expired");
    let id = with_expiry(now + 1).unwrap();
    assert_eq!(record(id).expiry_ms, now + 1);
    // A slot older than a month is expired by default.
    assert_eq!(
        err(create_record(AA, now - DEFAULT_VALIDITY_MS, KWH, ProductionMethod::Solar, DA)),
        "the record would already be expired"
    );
    assert_eq!(
        err(create_record(AA, u64::MAX - 1, KWH, ProductionMethod::Solar, DA)),
        "provision time is in the future"
    );
}

#[test]
fn one_slot_is_recorded_once() {
    setup();
    let at = JAN_1 + 9 * HOUR_MS;
    let id = create_record(AA, at, KWH, ProductionMethod::Solar, DA).unwrap();
    assert_eq!(
        create_record(AA, at, 2 * KWH, ProductionMethod::Solar, DB),
        Err("already created for this provider, time and method".into())
    );
    // Another method, another slot or another provider is another record.
    assert_eq!(create_record(AA, at, KWH, ProductionMethod::Wind, DA), Ok(id + 1));
    assert_eq!(create_record(AA, at + HOUR_MS / 2, KWH, ProductionMethod::Solar, DA), Ok(id + 2));
    assert_eq!(create_record(AB, at, KWH, ProductionMethod::Solar, DA), Ok(id + 3));
}

#[test]
fn only_the_owner_moves_a_record() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DB).unwrap();
    let not_owner = Err::<(), String>("only the owner may move the record".into());
    assert_eq!(call::<_, ()>(DA, transfer, (id, DA)), not_owner);
    assert_eq!(
        call::<_, Option<u64>>(DA, final_transfer, (id, CA, KWH)),
        not_owner.clone().map(|_| None)
    );
    assert_eq!(call::<_, u64>(DA, split, (id, KWH)), not_owner.clone().map(|_| 0));
    // The admin has no say over records either.
    assert_eq!(call::<_, ()>(ADMIN_KEY, transfer, (id, DA)), not_owner);
    // A contract acting for Db is not Db: the immediate caller counts.
    test_env::set_signer(DB);
    test_env::set_caller(STRANGER);
    assert_eq!(invoke::<_, ()>(transfer, &(id, DA)), not_owner);
    assert_eq!(call::<_, ()>(DB, transfer, (99u64, DA)), Err("no such asset".into()));
    assert_eq!(record(id).owner, DB);
}

#[test]
fn transfers_go_between_registered_intermediaries() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DB).unwrap();
    assert_eq!(
        call::<_, ()>(DB, transfer, (id, CA)),
        Err("the recipient is not a registered intermediary".into())
    );
    assert_eq!(
        call::<_, ()>(DB, transfer, (id, DB)),
        Err("the recipient already owns the record".into())
    );
    // An unregistered intermediary can neither receive nor move records.
    call::<_, ()>(ADMIN_KEY, unregister_intermediary, (DA,)).unwrap();
    assert_eq!(
        call::<_, ()>(DB, transfer, (id, DA)),
        Err("the recipient is not a registered intermediary".into())
    );
    call::<_, ()>(ADMIN_KEY, unregister_intermediary, (DB,)).unwrap();
    assert_eq!(
        call::<_, Option<u64>>(DB, final_transfer, (id, CA, KWH)),
        Err("the owner is not a registered intermediary".into())
    );
    call::<_, ()>(ADMIN_KEY, register_intermediary, (DB, "Db".to_string())).unwrap();
    call::<_, Option<u64>>(DB, final_transfer, (id, CA, KWH)).unwrap();
}

#[test]
fn completed_records_never_move_again() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    call::<_, Option<u64>>(DA, final_transfer, (id, CA, 10 * KWH)).unwrap();
    // Not by the intermediary that had it (no longer the owner) …
    assert_eq!(
        call::<_, ()>(DA, transfer, (id, DB)),
        Err("only the owner may move the record".into())
    );
    // … nor by the user who owns it now.
    let completed = Err::<(), String>("the record is completed".into());
    assert_eq!(call::<_, ()>(CA, transfer, (id, DB)), completed);
    assert_eq!(
        call::<_, Option<u64>>(CA, final_transfer, (id, DB, KWH)),
        completed.clone().map(|_| None)
    );
    assert_eq!(call::<_, u64>(CA, split, (id, KWH)), completed.map(|_| 0));
    assert_eq!((record(id).owner, record(id).status), (CA, Status::Completed));
}

#[test]
fn expired_records_do_not_move() {
    setup();
    let at = JAN_1;
    let id = create_record(AA, at, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    let expiry = record(id).expiry_ms;
    set_time(expiry - 1);
    call::<_, ()>(DA, transfer, (id, DB)).unwrap();
    set_time(expiry);
    let expired = Err::<(), String>("the record has expired".into());
    assert_eq!(call::<_, ()>(DB, transfer, (id, DA)), expired);
    assert_eq!(
        call::<_, Option<u64>>(DB, final_transfer, (id, CA, KWH)),
        expired.clone().map(|_| None)
    );
    assert_eq!(call::<_, u64>(DB, split, (id, KWH)), expired.map(|_| 0));
    assert_eq!(view::<_, Vec<AssetRecord>>(transferable, (DB, None::<ProductionMethod>)), vec![]);
}

#[test]
fn expiry_shows_in_the_status_and_in_owned_by() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    let kept = create_record(AA, JAN_1 + HOUR_MS, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    let used = create_record(AA, JAN_1 + 2 * HOUR_MS, KWH, ProductionMethod::Solar, DA).unwrap();
    call::<_, Option<u64>>(DA, final_transfer, (used, CA, KWH)).unwrap();
    let expiry = record(id).expiry_ms;
    let ids = |owner: Address, only_not_yet: bool| -> Vec<(u64, Status)> {
        view::<_, Vec<AssetRecord>>(owned_by, (owner, only_not_yet))
            .into_iter()
            .map(|r| (r.id, r.status))
            .collect()
    };
    let page = |only_not_yet: bool| -> Vec<(u64, Status)> {
        view::<_, Vec<AssetRecord>>(owned_by_page, (DA, only_not_yet, None::<u64>, 10u32))
            .into_iter()
            .map(|r| (r.id, r.status))
            .collect()
    };
    // One millisecond of block time before its expiry it can still move.
    set_time(expiry - 1);
    assert_eq!(view::<_, Option<Status>>(status, (id,)), Some(Status::NotYet));
    assert_eq!(ids(DA, true), vec![(id, Status::NotYet), (kept, Status::NotYet)]);
    // From its expiry on (block time, not a wall clock) it is Expired in every view, and
    // `owned_by(…, true)` lists only what can still move.
    set_time(expiry);
    assert_eq!(record(id).status, Status::Expired);
    assert_eq!(view::<_, Option<Status>>(status, (id,)), Some(Status::Expired));
    assert_eq!(ids(DA, true), vec![(kept, Status::NotYet)]);
    assert_eq!(page(true), vec![(kept, Status::NotYet)]);
    assert_eq!(ids(DA, false), vec![(id, Status::Expired), (kept, Status::NotYet)]);
    assert_eq!(page(false), vec![(id, Status::Expired), (kept, Status::NotYet)]);
    // Completed is final: a used record past its expiry stays Completed.
    set_time(record(used).expiry_ms + 1);
    assert_eq!(ids(CA, false), vec![(used, Status::Completed)]);
    assert_eq!(ids(DA, true), vec![]);
    // Nothing was written: storage keeps NotYet and the expiry (what a state proof shows).
    assert_eq!(RECORDS.get(&id).unwrap().status, Status::NotYet);
    assert_eq!(OWNERS.get(&(DA, id.to_be_bytes())), Some(Status::NotYet));
}

#[test]
fn usage_must_be_positive_and_within_the_tradable_amount() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    assert_eq!(
        call::<_, Option<u64>>(DA, final_transfer, (id, CA, 0u64)),
        Err("usage amount must be positive".into())
    );
    assert_eq!(
        call::<_, Option<u64>>(DA, final_transfer, (id, CA, 10 * KWH + 1)),
        Err("usage amount exceeds the tradable amount".into())
    );
    assert_eq!(
        call::<_, Option<u64>>(DA, final_transfer, (id, Address::SYSTEM, KWH)),
        Err("the user must be an address".into())
    );
    assert_eq!(record(id).amount, 10 * KWH);
}

#[test]
fn a_partial_final_transfer_splits_and_conserves_the_total() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    let original = record(id);
    let remainder_id =
        call::<_, Option<u64>>(DA, final_transfer, (id, CA, 3 * KWH)).unwrap().unwrap();
    let used = record(id);
    let rest = record(remainder_id);
    assert_eq!((used.owner, used.amount, used.status), (CA, 3 * KWH, Status::Completed));
    assert_eq!(
        (rest.owner, rest.amount, rest.status, rest.origin),
        (DA, 7 * KWH, Status::NotYet, Some(id))
    );
    assert_eq!(
        (rest.provider, rest.provided_at_ms, &rest.method, rest.expiry_ms),
        (original.provider, original.provided_at_ms, &original.method, original.expiry_ms)
    );
    assert_eq!(used.amount + rest.amount, original.amount);
    // The remainder is an ordinary record: it moves on, and can be used up in turn.
    assert_eq!(call::<_, Option<u64>>(DA, final_transfer, (remainder_id, CA, 7 * KWH)), Ok(None));
    let topics: Vec<String> = test_env::events().into_iter().map(|e| e.topic).collect();
    assert_eq!(topics, ["created", "split", "final_transferred", "final_transferred"]);
    let transfer_event = test_env::events()[2].decode::<Transfer>();
    assert_eq!(transfer_event.remainder_id, Some(remainder_id));
}

#[test]
fn split_conserves_the_total_and_checks_the_amount() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Wind, DB).unwrap();
    let bad = Err::<u64, String>("split amount must be positive and less than the record's".into());
    assert_eq!(call::<_, u64>(DB, split, (id, 0u64)), bad);
    assert_eq!(call::<_, u64>(DB, split, (id, 10 * KWH)), bad);
    let part = call::<_, u64>(DB, split, (id, 4 * KWH)).unwrap();
    assert_eq!((record(id).amount, record(part).amount), (6 * KWH, 4 * KWH));
    assert_eq!((record(part).owner, record(part).origin), (DB, Some(id)));
    // Db hands Da just the part it asked for.
    call::<_, ()>(DB, transfer, (part, DA)).unwrap();
    let da: Vec<u64> =
        view::<_, Vec<AssetRecord>>(owned_by, (DA, false)).into_iter().map(|r| r.id).collect();
    let db: Vec<u64> =
        view::<_, Vec<AssetRecord>>(owned_by, (DB, false)).into_iter().map(|r| r.id).collect();
    assert_eq!((da, db), (vec![part], vec![id]));
}

#[test]
fn owned_by_follows_the_owner_index() {
    setup();
    let mut ids = Vec::new();
    for i in 0..5u64 {
        ids.push(
            create_record(AA, JAN_1 + i * HOUR_MS, (i + 1) * KWH, ProductionMethod::Solar, DA)
                .unwrap(),
        );
    }
    call::<_, ()>(DA, transfer, (ids[1], DB)).unwrap();
    call::<_, Option<u64>>(DA, final_transfer, (ids[2], CA, KWH)).unwrap(); // splits: new id 6
    let of = |owner, only| -> Vec<u64> {
        view::<_, Vec<AssetRecord>>(owned_by, (owner, only)).into_iter().map(|r| r.id).collect()
    };
    assert_eq!(of(DA, false), vec![1, 4, 5, 6]);
    assert_eq!(of(DB, true), vec![2]);
    assert_eq!(of(CA, false), vec![3]);
    assert_eq!(of(CA, true), Vec::<u64>::new());
    assert_eq!(of(STRANGER, false), Vec::<u64>::new());
    // Pages, in id order.
    let page = |after: Option<u64>, limit: u32| -> Vec<u64> {
        view::<_, Vec<AssetRecord>>(owned_by_page, (DA, true, after, limit))
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(page(None, 2), vec![1, 4]);
    assert_eq!(page(Some(4), 2), vec![5, 6]);
    assert_eq!(page(Some(6), 2), Vec::<u64>::new());
    assert_eq!(page(Some(u64::MAX), 2), Vec::<u64>::new());
}

#[test]
fn owner_index_orders_ids_numerically_past_255() {
    setup();
    NEXT_ID.set(&250);
    let ids: Vec<u64> = (0..10u64)
        .map(|i| create_record(AA, JAN_1 + i, KWH, ProductionMethod::Solar, DA).unwrap())
        .collect();
    let listed: Vec<u64> =
        view::<_, Vec<AssetRecord>>(owned_by, (DA, false)).into_iter().map(|r| r.id).collect();
    assert_eq!(listed, ids);
}

#[test]
fn transferable_prefers_the_soonest_expiry() {
    setup();
    let now = JAN_1 + 9 * HOUR_MS + HOUR_MS / 2;
    let with_expiry = |at: u64, method: ProductionMethod, expiry: u64| {
        call::<_, u64>(AA, create, (AA, at, KWH, method, DA, Some(expiry))).unwrap()
    };
    let late = with_expiry(JAN_1, ProductionMethod::Solar, now + 3 * DAY_MS);
    let soon = with_expiry(JAN_1 + 1, ProductionMethod::Solar, now + DAY_MS);
    let wind = with_expiry(JAN_1 + 2, ProductionMethod::Wind, now + 2 * DAY_MS);
    let gone = with_expiry(JAN_1 + 3, ProductionMethod::Solar, now + 10);
    set_time(now + 10);
    let ids = |method: Option<ProductionMethod>| -> Vec<u64> {
        view::<_, Vec<AssetRecord>>(transferable, (DA, method)).into_iter().map(|r| r.id).collect()
    };
    assert_eq!(ids(None), vec![soon, wind, late]);
    assert_eq!(ids(Some(ProductionMethod::Solar)), vec![soon, late]);
    assert_eq!(ids(Some(ProductionMethod::Coal)), Vec::<u64>::new());
    assert!(!ids(None).contains(&gone));
}

#[test]
fn transfers_to_selects_by_owner_and_period() {
    setup();
    let mut ids = Vec::new();
    for i in 0..4u64 {
        ids.push(create_record(AA, JAN_1 + i, KWH, ProductionMethod::Solar, DB).unwrap());
    }
    let times = [JAN_1 + DAY_MS, JAN_1 + 2 * DAY_MS, JAN_1 + 2 * DAY_MS, JAN_1 + 40 * DAY_MS];
    for (id, time) in ids.iter().zip(times) {
        if time > record(*id).expiry_ms {
            continue;
        }
        set_time(time);
        call::<_, ()>(DB, transfer, (*id, DA)).unwrap();
    }
    set_time(JAN_1 + 3 * DAY_MS);
    call::<_, Option<u64>>(DA, final_transfer, (ids[0], CA, KWH)).unwrap();
    let to = |owner, from, to| -> Vec<(u64, u64)> {
        view::<_, Vec<Transfer>>(transfers_to, (owner, from, to))
            .into_iter()
            .map(|t| (t.asset_id, t.time_ms))
            .collect()
    };
    assert_eq!(
        to(DA, 0, u64::MAX),
        vec![(ids[0], times[0]), (ids[1], times[1]), (ids[2], times[2])]
    );
    // Bounds are inclusive.
    assert_eq!(to(DA, times[1], times[1]), vec![(ids[1], times[1]), (ids[2], times[2])]);
    assert_eq!(to(DA, times[0] + 1, times[1] - 1), vec![]);
    assert_eq!(to(DA, times[1] + 1, u64::MAX), vec![]);
    assert_eq!(to(CA, JAN_1, JAN_1 + 31 * DAY_MS), vec![(ids[0], JAN_1 + 3 * DAY_MS)]);
    assert_eq!(to(DB, 0, u64::MAX), vec![]);
    // The log keeps the record as it was when transferred.
    let first: Vec<Transfer> = view(transfers_to, (DA, 0u64, times[0]));
    assert_eq!(
        (first[0].from, first[0].record.owner, first[0].record.status),
        (DB, DA, Status::NotYet)
    );
}

#[test]
fn views_are_read_only_and_failed_calls_leave_no_trace() {
    setup();
    let id = create_record(AA, JAN_1, 10 * KWH, ProductionMethod::Solar, DA).unwrap();
    let (storage, events) = (test_env::storage(), test_env::events());
    assert!(call::<_, Option<u64>>(DA, final_transfer, (id, CA, 11 * KWH)).is_err());
    assert!(call::<_, ()>(CA, transfer, (id, DB)).is_err());
    assert_eq!((test_env::storage(), test_env::events()), (storage.clone(), events));
    // A view runs as a view call: it would trap on a write.
    let _: Vec<AssetRecord> = view(transferable, (DA, None::<ProductionMethod>));
    assert_eq!(test_env::storage(), storage);
}

#[test]
fn bad_arguments_are_refused() {
    setup();
    let err = test_env::invoke_raw(create, &[1, 2, 3], false).unwrap_err();
    assert!(err.starts_with("arguments do not decode"), "{err}");
}

#[test]
fn the_abi_matches_the_code() {
    let abi = abi::parse(ABI_JSON).unwrap();
    assert_eq!(abi.name, "asset-ownership");
    test_env::check_methods(&abi, METHODS).unwrap();
    setup();
    let hex = |a: Address| a.to_string();
    // Arguments and results through the node's JSON codec.
    let args = json!({
        "provider": hex(AA), "provided_at_ms": JAN_1, "amount": 5000,
        "method": {"Other": {"name": "tidal"}}, "owner": hex(DB), "expiry_ms": null
    });
    as_sender(AA);
    assert_eq!(invoke_json(&abi, METHODS, "create", args), Ok(json!(1)));
    as_sender(DB);
    assert_eq!(invoke_json(&abi, METHODS, "transfer", json!([1, hex(DA)])), Ok(json!(null)));
    as_sender(DA);
    assert_eq!(
        invoke_json(&abi, METHODS, "final_transfer", json!([1, hex(CA), 2000])),
        Ok(json!(2))
    );
    let got = invoke_json(&abi, METHODS, "get", json!([1])).unwrap();
    assert_eq!(
        got,
        json!({
            "id": 1, "provider": hex(AA), "provided_at_ms": JAN_1, "amount": 2000,
            "method": {"Other": {"name": "tidal"}}, "owner": hex(CA),
            "expiry_ms": JAN_1 + DEFAULT_VALIDITY_MS, "status": "Completed", "origin": null
        })
    );
    assert_eq!(invoke_json(&abi, METHODS, "status", json!([2])), Ok(json!("NotYet")));
    assert_eq!(invoke_json(&abi, METHODS, "split", json!([2, 1000])), Ok(json!(3)));
    assert_eq!(invoke_json(&abi, METHODS, "admin", json!(null)), Ok(json!(hex(ADMIN_KEY))));
    for (method, args) in [
        ("owned_by", json!([hex(DA), true])),
        ("owned_by_page", json!([hex(DA), false, 2, 10])),
        ("transferable", json!([hex(DA), "Solar"])),
        ("transfers_to", json!([hex(CA), 0, "18446744073709551615"])),
        ("provider", json!([hex(AA)])),
        ("intermediary", json!([hex(DA)])),
    ] {
        invoke_json(&abi, METHODS, method, args).unwrap();
    }
    // Every event decodes by the abi.
    let topics: Vec<String> = test_env::events_json(&abi).into_iter().map(|(t, _)| t).collect();
    assert!(
        topics.contains(&"final_transferred".to_string()) && topics.contains(&"split".to_string())
    );
    // Every storage key belongs to a map of the abi (or is one of the two items), and decodes.
    let maps = ["records", "owners", "transfers", "providers", "intermediaries", "created"];
    for (key, value) in test_env::storage() {
        if key == ADMIN.key() || key == NEXT_ID.key() {
            continue;
        }
        let map = maps
            .iter()
            .find(|m| key.starts_with(abi.map(m).unwrap().prefix.as_bytes()))
            .unwrap_or_else(|| panic!("key {key:?} is in no map"));
        abi.decode_map_key(map, &key).unwrap();
        abi.decode_map_value(map, &value).unwrap();
    }
    assert_eq!(abi.map_key("records", &json!(1)).unwrap(), RECORDS.storage_key(&1));
    let owner_key = abi.map_key("owners", &json!([hex(CA), "0000000000000001"])).unwrap();
    assert_eq!(OWNERS.get(&(CA, 1u64.to_be_bytes())), Some(Status::Completed));
    assert!(test_env::storage().contains_key(&owner_key));
}

/// One call of a random history: `by` and the parties index `ACTORS`, `id` picks a record.
#[derive(Clone, Debug)]
enum Op {
    Create { provider: usize, kwh: u64, owner: usize, validity_ms: u64 },
    Transfer { by: usize, id: u64, to: usize },
    Final { by: usize, id: u64, to: usize, wh: u64 },
    Split { by: usize, id: u64, wh: u64 },
    Wait { ms: u64 },
}

/// Providers Aa, Ab; intermediaries Da, Db; consumer Ca; a stranger.
const ACTORS: [Address; 6] = [AA, AB, DA, DB, CA, STRANGER];

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let who = 0..ACTORS.len();
    prop_oneof![
        (0..2usize, 1..20u64, who.clone(), 1..10 * HOUR_MS).prop_map(
            |(provider, kwh, owner, validity_ms)| Op::Create { provider, kwh, owner, validity_ms }
        ),
        (who.clone(), 1..12u64, who.clone()).prop_map(|(by, id, to)| Op::Transfer { by, id, to }),
        (who.clone(), 1..12u64, who.clone(), 0..25 * KWH).prop_map(|(by, id, to, wh)| Op::Final {
            by,
            id,
            to,
            wh
        }),
        (who, 1..12u64, 0..25 * KWH).prop_map(|(by, id, wh)| Op::Split { by, id, wh }),
        (0..3 * HOUR_MS).prop_map(|ms| Op::Wait { ms }),
    ]
}

/// Every record in storage, by id.
fn all_records() -> std::collections::BTreeMap<u64, AssetRecord> {
    RECORDS.iter().collect()
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(128))]
    /// Whatever providers, intermediaries, the consumer and a stranger call, in any order and at
    /// any block time: only the owner moves a record, only while it is `NotYet` and unexpired;
    /// `Completed` records never change; the Wh on record only grow by creation (splits and final
    /// transfers conserve them); and every view reports `Expired` exactly for stored `NotYet`
    /// records past their expiry, which `owned_by(…, true)` leaves out.
    #[test]
    fn random_histories_move_only_what_the_owner_may_move(
        ops in proptest::collection::vec(op(), 1..50)
    ) {
        setup();
        let mut created_wh = 0u64;
        let mut slot = 0u64;
        for op in &ops {
            let now = test_env::with(|env| env.block_time_ms);
            let before = all_records();
            let moved = match *op {
                Op::Create { provider, kwh, owner, validity_ms } => {
                    slot += 1;
                    let p = ACTORS[provider];
                    let args = (p, JAN_1 + slot, kwh * KWH, ProductionMethod::Solar, ACTORS[owner], Some(now + validity_ms));
                    let got = call::<_, u64>(p, create, args);
                    proptest::prop_assert_eq!(got.is_ok(), owner == 2 || owner == 3, "{:?}", got);
                    if got.is_ok() {
                        created_wh += kwh * KWH;
                    }
                    None
                }
                Op::Transfer { by, id, to } => {
                    let got = call::<_, ()>(ACTORS[by], transfer, (id, ACTORS[to]));
                    got.is_ok().then_some((by, id))
                }
                Op::Final { by, id, to, wh } => {
                    let got = call::<_, Option<u64>>(ACTORS[by], final_transfer, (id, ACTORS[to], wh));
                    got.is_ok().then_some((by, id))
                }
                Op::Split { by, id, wh } => {
                    let got = call::<_, u64>(ACTORS[by], split, (id, wh));
                    got.is_ok().then_some((by, id))
                }
                Op::Wait { ms } => {
                    set_time(now + ms);
                    None
                }
            };
            let now = test_env::with(|env| env.block_time_ms);
            let after = all_records();
            if let Some((by, id)) = moved {
                let was = &before[&id];
                proptest::prop_assert_eq!(was.owner, ACTORS[by]);
                proptest::prop_assert_eq!(was.status, Status::NotYet);
                proptest::prop_assert!(now < was.expiry_ms, "an expired record moved");
            }
            for (id, was) in &before {
                if was.status == Status::Completed {
                    proptest::prop_assert_eq!(&after[id], was);
                }
            }
            let total: u64 = after.values().map(|r| r.amount).sum();
            proptest::prop_assert_eq!(total, created_wh);
            for (id, stored) in &after {
                proptest::prop_assert!(stored.status != Status::Expired, "Expired is never stored");
                let expired = stored.status == Status::NotYet && now >= stored.expiry_ms;
                let shown = view::<_, Option<Status>>(status, (*id,)).unwrap();
                proptest::prop_assert_eq!(shown == Status::Expired, expired);
            }
            for owner in ACTORS {
                let movable: Vec<u64> = after
                    .values()
                    .filter(|r| r.owner == owner && r.status == Status::NotYet && now < r.expiry_ms)
                    .map(|r| r.id)
                    .collect();
                let listed: Vec<u64> = view::<_, Vec<AssetRecord>>(owned_by, (owner, true))
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                proptest::prop_assert_eq!(listed, movable);
            }
        }
    }
}

#[test]
fn the_shared_transfer_key_is_the_logs_storage_key() {
    // The intermediary proves log entries under `storage::transfer_key`; it must be the key the
    // contract's map writes.
    let key = (CA, 0x0102u64.to_be_bytes(), 3u64);
    assert_eq!(TRANSFERS.storage_key(&key), storage::transfer_key(&CA, 0x0102, 3));
}
