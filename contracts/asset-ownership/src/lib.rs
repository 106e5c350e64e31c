//! Asset ownership (JP7803395B2, `shared/specs/asset-ownership.md`): a registered provider creates
//! an asset record with an intermediary already as its owner; intermediaries move `NotYet` records
//! between themselves; an intermediary finally allocates a record to the user who consumed the
//! electricity, which makes it `Completed` for good.
//!
//! The checks the patent leaves out are here: only the registered provider a record names may
//! create it (once per provider, slot and method); only the current owner, a registered
//! intermediary, moves a record; only `NotYet` and unexpired records move; amounts are positive and
//! never exceed the tradable amount. A final transfer of part of a record splits it: the record
//! goes to the user with the used amount, and the remainder stays with the intermediary as a new
//! `NotYet` record (same provider, time, method and expiry), so the total is conserved.
//!
//! Expiry is measured in block time: from a record's `expiry_ms` on it cannot move, and every view
//! reports it `Expired` (derived from the stored `NotYet`, see [`Status`]); `owned_by(…, true)`
//! lists only records that can still move.
//!
//! Storage (the maps are declared in `abi.json`): `r/` records, `o/` owner index
//! (owner, id big-endian) → status, `t/` transfer log (new owner, time big-endian, id) → transfer,
//! `p/` providers, `i/` intermediaries, `c/` created slots; plus the items `admin` and `next_id`.
//! Numbers that are scanned in order are stored big-endian (borsh integers are little-endian).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod types;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use kessai_sdk::{block_time_ms, caller, emit, Address, Item, Map};
pub use types::*;

kessai_sdk::abi!("../abi.json");

/// Default validity of a record: one month (30 days) from provision.
pub const DEFAULT_VALIDITY_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// How far in the future of the block time a provision time may lie (meter and block clocks differ).
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Most records one `owned_by_page` returns.
pub const MAX_PAGE: u32 = 500;
pub const MAX_NAME_LEN: usize = 64;

const ADMIN: Item<Address> = Item::new(b"admin");
const NEXT_ID: Item<u64> = Item::new(b"next_id");
const RECORDS: Map<u64, AssetRecord> = Map::new(storage::RECORDS);
/// (owner, asset id big-endian) → status: the records each owner has, in id order.
const OWNERS: Map<(Address, [u8; 8]), Status> = Map::new(storage::OWNERS);
/// (new owner, block time big-endian, asset id) → the transfer: period queries are range scans.
const TRANSFERS: Map<(Address, [u8; 8], u64), Transfer> = Map::new(storage::TRANSFERS);
const PROVIDERS: Map<Address, Party> = Map::new(storage::PROVIDERS);
const INTERMEDIARIES: Map<Address, Party> = Map::new(storage::INTERMEDIARIES);
/// (provider, provision time, method) → asset id: one production slot is recorded once.
const CREATED: Map<(Address, u64, ProductionMethod), u64> = Map::new(storage::CREATED);

type Res<T> = Result<T, &'static str>;

kessai_sdk::methods! {
    /// Run once at instantiation: `admin` registers providers and intermediaries.
    pub fn init(admin: Address) -> Res<()> {
        if ADMIN.exists() {
            return Err("already initialised");
        }
        ADMIN.set(&admin);
        NEXT_ID.set(&1);
        Ok(())
    }

    /// Hands the admin role to `new_admin`.
    pub fn set_admin(new_admin: Address) -> Res<()> {
        only_admin()?;
        ADMIN.set(&new_admin);
        emit("admin_changed", &new_admin);
        Ok(())
    }

    pub fn register_provider(provider: Address, name: String) -> Res<()> {
        register(&PROVIDERS, provider, name)?;
        emit("provider_registered", &provider);
        Ok(())
    }

    /// The provider creates no more records; those it created stay as they are.
    pub fn unregister_provider(provider: Address) -> Res<()> {
        unregister(&PROVIDERS, provider)?;
        emit("provider_unregistered", &provider);
        Ok(())
    }

    pub fn register_intermediary(intermediary: Address, name: String) -> Res<()> {
        register(&INTERMEDIARIES, intermediary, name)?;
        emit("intermediary_registered", &intermediary);
        Ok(())
    }

    /// The intermediary can neither receive nor move records until registered again.
    pub fn unregister_intermediary(intermediary: Address) -> Res<()> {
        unregister(&INTERMEDIARIES, intermediary)?;
        emit("intermediary_unregistered", &intermediary);
        Ok(())
    }

    /// Records `amount` Wh provided by `provider` at `provided_at_ms`, produced by `method`, owned by
    /// the intermediary `owner`, status `NotYet`, valid until `expiry_ms` (default: one month after
    /// provision). Only the registered provider itself may call it. Returns the new asset id.
    pub fn create(
        provider: Address,
        provided_at_ms: u64,
        amount: u64,
        method: ProductionMethod,
        owner: Address,
        expiry_ms: Option<u64>
    ) -> Res<u64> {
        if caller() != provider {
            return Err("only the provider may create its records");
        }
        if !PROVIDERS.contains(&provider) {
            return Err("not a registered provider");
        }
        if !INTERMEDIARIES.contains(&owner) {
            return Err("the owner is not a registered intermediary");
        }
        if amount == 0 {
            return Err("amount must be positive");
        }
        if let ProductionMethod::Other { name } = &method {
            check_name(name)?;
        }
        let now = block_time_ms();
        if provided_at_ms > now.saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err("provision time is in the future");
        }
        let expiry_ms = match expiry_ms {
            Some(expiry) if expiry <= provided_at_ms => return Err("expiry must be after provision"),
            Some(expiry) => expiry,
            None => provided_at_ms.checked_add(DEFAULT_VALIDITY_MS).ok_or("provision time too large")?,
        };
        if expiry_ms <= now {
            return Err("the record would already be expired");
        }
        let slot = (provider, provided_at_ms, method.clone());
        if CREATED.contains(&slot) {
            return Err("already created for this provider, time and method");
        }
        let id = next_id();
        CREATED.insert(&slot, &id);
        let record = AssetRecord {
            id,
            provider,
            provided_at_ms,
            amount,
            method,
            owner,
            expiry_ms,
            status: Status::NotYet,
            origin: None,
        };
        store_new(&record);
        emit("created", &record);
        Ok(id)
    }

    /// Moves a record to another registered intermediary (the patent's change request between
    /// intermediaries, e.g. Db → Da). Only its owner; only `NotYet` and unexpired; stays `NotYet`.
    pub fn transfer(asset_id: u64, to: Address) -> Res<()> {
        let mut record = movable(asset_id)?;
        if !INTERMEDIARIES.contains(&to) {
            return Err("the recipient is not a registered intermediary");
        }
        if to == record.owner {
            return Err("the recipient already owns the record");
        }
        let from = record.owner;
        record.owner = to;
        OWNERS.remove(&(from, asset_id.to_be_bytes()));
        OWNERS.insert(&(to, asset_id.to_be_bytes()), &Status::NotYet);
        RECORDS.insert(&asset_id, &record);
        log_transfer("transferred", from, TransferKind::Intermediary, None, record);
        Ok(())
    }

    /// Allocates a record to the user who consumed `usage_amount` Wh (e.g. Da → Ca): the owner
    /// becomes `to_user`, the amount `usage_amount`, the status `Completed`. If the user used less
    /// than the record's amount, the rest stays with the intermediary as a new `NotYet` record,
    /// whose id is returned. Only the owner; only `NotYet` and unexpired.
    pub fn final_transfer(asset_id: u64, to_user: Address, usage_amount: u64) -> Res<Option<u64>> {
        let mut record = movable(asset_id)?;
        if usage_amount == 0 {
            return Err("usage amount must be positive");
        }
        if usage_amount > record.amount {
            return Err("usage amount exceeds the tradable amount");
        }
        if to_user == Address::SYSTEM {
            return Err("the user must be an address");
        }
        let from = record.owner;
        let remainder_id = (usage_amount < record.amount)
            .then(|| split_off(&record, record.amount - usage_amount));
        record.owner = to_user;
        record.amount = usage_amount;
        record.status = Status::Completed;
        OWNERS.remove(&(from, asset_id.to_be_bytes()));
        OWNERS.insert(&(to_user, asset_id.to_be_bytes()), &Status::Completed);
        RECORDS.insert(&asset_id, &record);
        log_transfer("final_transferred", from, TransferKind::Final, remainder_id, record);
        Ok(remainder_id)
    }

    /// Splits `amount` Wh off a record into a new `NotYet` record of the same owner (to hand part
    /// of it to another intermediary); returns the new id. Only the owner; only `NotYet` and
    /// unexpired; `amount` less than the record's.
    pub fn split(asset_id: u64, amount: u64) -> Res<u64> {
        let mut record = movable(asset_id)?;
        if amount == 0 || amount >= record.amount {
            return Err("split amount must be positive and less than the record's");
        }
        let new_id = split_off(&record, amount);
        record.amount -= amount;
        RECORDS.insert(&asset_id, &record);
        Ok(new_id)
    }

    pub fn admin() -> Res<Address> {
        ADMIN.get().ok_or("not initialised")
    }

    pub fn provider(provider: Address) -> Res<Option<Party>> {
        Ok(PROVIDERS.get(&provider))
    }

    pub fn intermediary(intermediary: Address) -> Res<Option<Party>> {
        Ok(INTERMEDIARIES.get(&intermediary))
    }

    /// The record, its status as of the block time (`Expired` once past its expiry).
    pub fn get(asset_id: u64) -> Res<Option<AssetRecord>> {
        Ok(RECORDS.get(&asset_id).map(as_of_now))
    }

    /// The record's status as of the block time.
    pub fn status(asset_id: u64) -> Res<Option<Status>> {
        Ok(RECORDS.get(&asset_id).map(|r| as_of_now(r).status))
    }

    /// Every record `owner` has, in id order, each with its status as of the block time; with
    /// `only_not_yet`, only the `NotYet` ones (not expired: they can still move). For owners with
    /// many records use `owned_by_page`.
    pub fn owned_by(owner: Address, only_not_yet: bool) -> Res<Vec<AssetRecord>> {
        Ok(owned(owner, only_not_yet, None, u32::MAX))
    }

    /// `owned_by` a page at a time: up to `limit` (at most 500) records with ids after `after_id`.
    pub fn owned_by_page(
        owner: Address,
        only_not_yet: bool,
        after_id: Option<u64>,
        limit: u32
    ) -> Res<Vec<AssetRecord>> {
        Ok(owned(owner, only_not_yet, after_id, limit.min(MAX_PAGE)))
    }

    /// The records `owner` can still move now, optionally only of `method`, soonest expiry first:
    /// the intermediary's candidates for a final transfer.
    pub fn transferable(owner: Address, method: Option<ProductionMethod>) -> Res<Vec<AssetRecord>> {
        let mut records: Vec<AssetRecord> = owned(owner, true, None, u32::MAX)
            .into_iter()
            .filter(|r| method.as_ref().is_none_or(|m| *m == r.method))
            .collect();
        records.sort_unstable_by_key(|r| (r.expiry_ms, r.id));
        Ok(records)
    }

    /// The transfers to `owner` whose block time lies in `[from_ms, to_ms]`, in time order, each
    /// with the record as it was right after the transfer (the basis of a consumer's
    /// production-method certificate for a period).
    pub fn transfers_to(owner: Address, from_ms: u64, to_ms: u64) -> Res<Vec<Transfer>> {
        Ok(TRANSFERS
            .iter_prefix_from(&owner, &from_ms.to_be_bytes())
            .take_while(|((_, time, _), _)| u64::from_be_bytes(*time) <= to_ms)
            .map(|(_, transfer)| transfer)
            .collect())
    }
}

fn only_admin() -> Res<()> {
    match ADMIN.get() {
        Some(admin) if admin == caller() => Ok(()),
        Some(_) => Err("only the admin"),
        None => Err("not initialised"),
    }
}

fn check_name(name: &str) -> Res<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err("a name is 1 to 64 bytes");
    }
    Ok(())
}

fn register(parties: &Map<Address, Party>, who: Address, name: String) -> Res<()> {
    only_admin()?;
    check_name(&name)?;
    if who == Address::SYSTEM {
        return Err("cannot register the zero address");
    }
    if parties.contains(&who) {
        return Err("already registered");
    }
    parties.insert(&who, &Party { name, registered_at_ms: block_time_ms() });
    Ok(())
}

fn unregister(parties: &Map<Address, Party>, who: Address) -> Res<()> {
    only_admin()?;
    if !parties.contains(&who) {
        return Err("not registered");
    }
    parties.remove(&who);
    Ok(())
}

fn next_id() -> u64 {
    let id = NEXT_ID.get().unwrap_or(1);
    NEXT_ID.set(&(id + 1));
    id
}

fn store_new(record: &AssetRecord) {
    RECORDS.insert(&record.id, record);
    OWNERS.insert(&(record.owner, record.id.to_be_bytes()), &record.status);
}

/// The record, if the caller may move it now: it exists, the caller owns it and is a registered
/// intermediary, it is `NotYet`, and it has not expired.
fn movable(asset_id: u64) -> Res<AssetRecord> {
    let record = RECORDS.get(&asset_id).ok_or("no such asset")?;
    if record.owner != caller() {
        return Err("only the owner may move the record");
    }
    if record.status != Status::NotYet {
        return Err("the record is completed");
    }
    if block_time_ms() >= record.expiry_ms {
        return Err("the record has expired");
    }
    if !INTERMEDIARIES.contains(&record.owner) {
        return Err("the owner is not a registered intermediary");
    }
    Ok(record)
}

/// A new `NotYet` record of `amount` taken from `record` (same provider, time, method, owner,
/// expiry); the caller lowers `record`'s amount.
fn split_off(record: &AssetRecord, amount: u64) -> u64 {
    let new_id = next_id();
    let part = AssetRecord {
        id: new_id,
        amount,
        status: Status::NotYet,
        origin: Some(record.id),
        ..record.clone()
    };
    store_new(&part);
    emit("split", &Split { asset_id: record.id, new_id, amount });
    new_id
}

fn log_transfer(
    topic: &str,
    from: Address,
    kind: TransferKind,
    remainder_id: Option<u64>,
    record: AssetRecord,
) {
    let time_ms = block_time_ms();
    let transfer = Transfer {
        asset_id: record.id,
        from,
        to: record.owner,
        time_ms,
        kind,
        remainder_id,
        record,
    };
    TRANSFERS.insert(&(transfer.to, time_ms.to_be_bytes(), transfer.asset_id), &transfer);
    emit(topic, &transfer);
}

/// The record with its status as of the block time: a `NotYet` record past its expiry is
/// `Expired` (nothing stores that; see `Status`).
fn as_of_now(record: AssetRecord) -> AssetRecord {
    as_of(record, block_time_ms())
}

fn as_of(mut record: AssetRecord, now_ms: u64) -> AssetRecord {
    if record.status == Status::NotYet && now_ms >= record.expiry_ms {
        record.status = Status::Expired;
    }
    record
}

/// The owner's records in id order, after `after_id`, at most `limit`, with their status as of
/// the block time; `only_not_yet` keeps those that can still move.
fn owned(
    owner: Address,
    only_not_yet: bool,
    after_id: Option<u64>,
    limit: u32,
) -> Vec<AssetRecord> {
    let start = match after_id {
        None => 0,
        Some(u64::MAX) => return Vec::new(),
        Some(id) => id + 1,
    };
    let now = block_time_ms();
    OWNERS
        .iter_prefix_from(&owner, &start.to_be_bytes())
        .filter(|(_, status)| !only_not_yet || *status == Status::NotYet)
        .filter_map(|((_, id), _)| RECORDS.get(&u64::from_be_bytes(id)).map(|r| as_of(r, now)))
        .filter(|record| !only_not_yet || record.status == Status::NotYet)
        .take(limit as usize)
        .collect()
}
