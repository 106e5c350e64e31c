//! Version 2 of the netting contract (feature `v2`, `artifacts/netting-v2.wasm`): an upgrade of a
//! deployed version 1 that keeps its address, its cycles and every balance.
//!
//! # What changes
//!
//! Each settlement balance (`b/` account → `u128` in version 1) becomes an [`Account`] record,
//! under the same key: the balance and a **debit cap**, the most the member may pay in one
//! settlement (`None`: no cap, as in version 1). A settlement that would make a member pay more
//! than its cap does not happen: the closing call fails, as when a payer's balance is short, and
//! can be repeated before the deadline once the admin raised the cap (`set_debit_cap`). The cap
//! limits what a member can lose to one cycle whatever its balance, which a netting operator sets
//! per member from its credit assessment (the net debit caps of CHIPS and CLS).
//!
//! Nothing else changes: the methods of version 1 keep their arguments and results (`balance`
//! still returns the balance), the cycles, instructions and commitments keep their layout.
//!
//! # `migrate(default_debit_cap)`
//!
//! Run once by the upgrade, caller `Address::SYSTEM`, in the transaction that makes this code the
//! contract's code. It rewrites every `b/` entry of layout 1 as `Account { balance, debit_cap:
//! default_debit_cap }` (the map iterates, so every entry is reached, including those of members
//! that are in no cycle), records layout 2, and keeps `default_debit_cap` for accounts funded later.
//! It refuses, and then the upgrade does not happen:
//! - a caller other than the system (only an upgrade runs it);
//! - a contract that was never initialised, or was already migrated (it runs once);
//! - `default_debit_cap` = `Some(0)` (no member could pay in any settlement; `None` means no cap);
//! - balances that do not add up to the total (the record the contract keeps of all money in it),
//!   before or after the conversion.
//!
//! Until `migrate` has run the code reads and writes layout 1, exactly as version 1 (this is what
//! the tests use to write state with version 1's code paths); a fresh instantiation of version 2
//! starts in layout 2.

use super::*;

/// The version [`version`] reports.
pub const VERSION: u32 = 2;
/// The storage layout this code converts to.
pub const LAYOUT_V2: u32 = 2;

/// A member's settlement account (layout 2 of `b/`).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub balance: u128,
    /// The most the member may pay in one settlement; `None`: no cap.
    pub debit_cap: Option<u128>,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct DebitCapSet {
    pub account: Address,
    pub debit_cap: Option<u128>,
}

/// Emitted by `migrate`: the layout reached, how many balances were converted, their total.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    pub layout: u32,
    pub accounts: u32,
    pub total: u128,
    pub default_debit_cap: Option<u128>,
}

use borsh::{BorshDeserialize, BorshSerialize};

/// Absent: layout 1 (version 1's balances). `2`: accounts.
const LAYOUT: Item<u32> = Item::new(b"layout");
/// The debit cap of an account funded for the first time.
const DEFAULT_DEBIT_CAP: Item<Option<u128>> = Item::new(b"default_debit_cap");
/// Layout 2 of `b/`: the same keys as [`BALANCES`], records instead of amounts.
const ACCOUNTS: Map<Address, Account> = Map::new(b"b/");

fn migrated() -> bool {
    LAYOUT.get() == Some(LAYOUT_V2)
}

/// `init` of version 2: a new contract starts in layout 2, without a default cap.
pub(crate) fn initialise() {
    LAYOUT.set(&LAYOUT_V2);
    DEFAULT_DEBIT_CAP.set(&None);
}

pub(crate) fn balance_of(account: &Address) -> u128 {
    if migrated() {
        ACCOUNTS.get(account).map_or(0, |a| a.balance)
    } else {
        BALANCES.get(account).unwrap_or(0)
    }
}

pub(crate) fn set_balance(account: &Address, balance: u128) {
    if migrated() {
        let mut record = account_or_new(account);
        record.balance = balance;
        ACCOUNTS.insert(account, &record);
    } else {
        BALANCES.insert(account, &balance)
    }
}

fn account_or_new(account: &Address) -> Account {
    ACCOUNTS
        .get(account)
        .unwrap_or_else(|| Account { balance: 0, debit_cap: DEFAULT_DEBIT_CAP.get().flatten() })
}

/// A settlement in which a member would pay more than its debit cap does not happen.
pub(crate) fn check_debit_caps(order: &[Address], positions: &[i128]) -> Res<()> {
    if !migrated() {
        return Ok(());
    }
    for (who, position) in order.iter().zip(positions) {
        let needed = position.unsigned_abs();
        if *position >= 0 {
            continue;
        }
        if let Some(cap) = ACCOUNTS.get(who).and_then(|a| a.debit_cap) {
            if needed > cap {
                return Err(format!(
                    "{who} must pay {needed}, over its debit cap of {cap}: the admin may raise it \
                     (set_debit_cap), then close again before the deadline"
                ));
            }
        }
    }
    Ok(())
}

fn valid_cap(cap: Option<u128>, what: &str) -> Res<()> {
    if cap == Some(0) {
        return Err(format!(
            "{what} must be positive, or null for no cap: a cap of 0 would bar paying in any settlement"
        ));
    }
    Ok(())
}

kessai_sdk::methods! {
    /// Run once by the upgrade to this code (caller `Address::SYSTEM`): converts every balance of
    /// layout 1 to an account with `default_debit_cap`; returns how many. See the module docs.
    pub fn migrate(default_debit_cap: Option<u128>) -> Res<u32> {
        let who = caller();
        if who != Address::SYSTEM {
            return Err(format!("migrate runs only in the upgrade that installs this code, not for {who}"));
        }
        if !ADMIN.exists() {
            return Err("not initialised: nothing to migrate".into());
        }
        if let Some(layout) = LAYOUT.get() {
            return Err(format!("already migrated (storage layout {layout}): migrate runs once"));
        }
        valid_cap(default_debit_cap, "default_debit_cap")?;
        let total = TOTAL.get().unwrap_or(0);
        // Read everything first: the conversion writes under the prefix being scanned.
        let balances: Vec<(Address, u128)> = BALANCES.iter().collect();
        let sum = sum_of(balances.iter().map(|(_, b)| *b))?;
        if sum != total {
            return Err(format!("the balances add up to {sum}, not to the total {total}: not migrating"));
        }
        for (account, balance) in &balances {
            ACCOUNTS.insert(account, &Account { balance: *balance, debit_cap: default_debit_cap });
        }
        LAYOUT.set(&LAYOUT_V2);
        DEFAULT_DEBIT_CAP.set(&default_debit_cap);
        let converted = sum_of(ACCOUNTS.iter().map(|(_, a)| a.balance))?;
        if converted != total {
            return Err(format!("the converted balances add up to {converted}, not to the total {total}"));
        }
        let accounts = u32::try_from(balances.len()).map_err(|_| "over 2^32 accounts")?;
        emit("migrated", &Migrated { layout: LAYOUT_V2, accounts, total, default_debit_cap });
        Ok(accounts)
    }

    /// The admin sets `account`'s debit cap (`None`: no cap).
    pub fn set_debit_cap(account: Address, debit_cap: Option<u128>) -> Res<()> {
        only_admin("set debit caps")?;
        if !migrated() {
            return Err("the balances are still in version 1's layout: the upgrade's migrate has not run".into());
        }
        valid_cap(debit_cap, "a debit cap")?;
        let mut record = account_or_new(&account);
        record.debit_cap = debit_cap;
        ACCOUNTS.insert(&account, &record);
        emit("debit_cap_set", &DebitCapSet { account, debit_cap });
        Ok(())
    }

    /// 2: this is version 2 of the netting contract.
    pub fn version() -> Res<u32> {
        Ok(VERSION)
    }

    /// The debit cap that applies to `account` (its own, or the default for an account not yet
    /// funded); `None`: no cap (always, before the migration).
    pub fn debit_cap(account: Address) -> Res<Option<u128>> {
        if !migrated() {
            return Ok(None);
        }
        Ok(account_or_new(&account).debit_cap)
    }

    /// `account`'s record (layout 2): balance and debit cap; `None` before the migration or for an
    /// account never funded nor capped.
    pub fn account(account: Address) -> Res<Option<Account>> {
        Ok(if migrated() { ACCOUNTS.get(&account) } else { None })
    }
}

fn sum_of(mut balances: impl Iterator<Item = u128>) -> Res<u128> {
    balances
        .try_fold(0u128, |sum, b| sum.checked_add(b))
        .ok_or_else(|| "balance sum overflow".into())
}
