//! Inter-exchange virtual-currency clearing on custody-backed records (JP6745835B2,
//! `shared/specs/clearing.md`).
//!
//! The **clearing system** (set at init; the patent's 610) registers the **exchanges** (620, 630, …)
//! and attests what they bring into custody: virtual currency sent to its custody address on the
//! public chain (`deposit_asset`, `deposit_customer_asset`) and fiat paid into its custody account
//! (`deposit_fiat`). Trades between exchanges then settle by rewriting these records, never on the
//! public chain.
//!
//! # Records (claim 10)
//!
//! Per exchange and asset, two separate records: the exchange's **own inventory** (`Book::Own`,
//! map `balances`) and its **customers' deposits** (`Book::Customer`, map `customer_deposits`).
//! Trades between exchanges settle against the own inventory only; customer deposits are never
//! sold, locked or moved by a trade. The clearing system rebooks between the two (`rebook`) when
//! the exchange reports that a customer bought from or sold to it. Fiat is one custody account per
//! exchange (`balances` under the fiat code).
//!
//! # Flow
//!
//! 1. An exchange submits a contract condition (`submit_condition`: side, asset, quantity, price —
//!    the whole fiat consideration, integers in the smallest unit).
//! 2. Equal opposite conditions of two exchanges match: on demand (`match_pair`, by the clearing
//!    system or either exchange) or in a batch (`match_batch`, by the clearing system). Conditions
//!    that differ in anything do not match and stay open. No partial fills, no price crossing.
//! 3. Each trade gets a **settlement** — or, with `match_batch(netted = true)`, the whole batch gets
//!    one, netted multilaterally with `netting-core` into one amount per exchange and currency.
//! 4. Fiat check: a payer short of fiat gets a `fiat_topup_requested` event and the settlement
//!    waits (`AwaitingFiat`). Otherwise every fiat payer's amount is **locked**.
//! 5. Asset check: a payer short of an asset gets an `asset_topup_requested` event for the
//!    shortfall and the settlement waits (`AwaitingAsset`, fiat still locked). Once the clearing
//!    system has credited the top-up, anyone party to it retries (`retry_settlement`).
//! 6. Settlement, **provisional**: every asset leg first, then the fiat legs, in one transaction
//!    (delivery versus payment: both legs or neither; the fiat cannot be missing after the asset
//!    moved, since it was locked). Every payer's amount is locked, every receiver's is recorded as
//!    `provisional`: it cannot be withdrawn, nor sold, nor used to cover another trade (a trade
//!    that needs it waits for a top-up like any other shortfall). Status `Provisional`, with each
//!    net movement's before and after (the patent's Table 2) and each trade's own increases and
//!    decreases (`trade_legs`, claim 15 — also for a netted batch).
//! 7. The new balances are registered as confirmed only with the approval (`approve`) of at least
//!    **two of the three** addresses of every trade of the settlement: the clearing system (610),
//!    the buyer (620) and the seller (630). `{620}` alone confirms nothing; `{610, 620}`,
//!    `{610, 630}` and `{620, 630}` confirm. A netted batch follows the same rule for each of its
//!    trades (an exchange's approval counts for the trades it is party to), so no trade of a batch
//!    is confirmed without two of its own three. On confirmation the payers' locks are consumed
//!    and the receivers' provisional amounts become available.
//! 8. A provisional settlement is **rejected** (`reject`) by two of the three of any one of its
//!    trades, or — the **approval timeout** — by any one of its approvers once the block time has
//!    reached `settled_at_ms + approval_timeout_ms` (from then on it can no longer be approved).
//!    Rejecting undoes it atomically: every lock goes back to its payer, every provisional amount
//!    vanishes, the trades' conditions are cancelled (negotiation restarts). A vote (approval or
//!    rejection) is final; each approver votes once.
//!
//! # Left open by the patent, decided here
//!
//! - Fiat locks of a waiting settlement last until it settles or is cancelled: by the clearing
//!   system at any time, or by a party once `lock_timeout_blocks` have passed since the match.
//!   Cancelling releases the locks and cancels the trades' conditions (negotiation restarts).
//! - The seller's asset is checked, not locked, while the settlement waits for fiat (the patent
//!   locks fiat only); it is locked from the moment the settlement is provisional.
//! - Withdrawals out of custody (`withdraw_asset`, `withdraw_customer_asset`, `withdraw_fiat`) are
//!   made by the clearing system, which pays out on the public chain or the banking system; only
//!   available (confirmed, unlocked) amounts of the named record leave.
//! - Several assets (symbols of 1 to 16 `A-Z0-9` characters), any number of exchanges; no fees.
//! - Amounts are 1 … 10^30 per condition, so no sum of a batch can overflow (all checked anyway).
//!
//! # What each party can rely on
//!
//! Value is conserved: only deposits and withdrawals change the custody total of a currency
//! (`custody_total`), which always equals the sum over exchanges of available + locked + customer.
//! An exchange's own value (available + locked + customer) changes only by its deposits, its
//! withdrawals and the movements of settlements confirmed by two of the three of each trade; a
//! provisional amount is never counted as its own. This holds against members acting in their own
//! interest through any sequence of calls (property test `adversarial_members_never_move_value…`),
//! assuming the clearing system attests deposits and withdrawals truthfully.
//!
//! Storage (declared in `abi.json`): `e/` exchanges, `b/` available own balances by (exchange,
//! currency), `d/` customer deposits by (exchange, asset), `l/` locked by (exchange, currency),
//! `p/` provisional by (exchange, currency), `t/` custody totals, `c/` conditions, `o/` open
//! conditions by (asset, quantity, price, side, id big-endian), `x/` trades, `s/` settlements;
//! items `config`, `next_condition`, `next_trade`, `next_settlement`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod types;

#[cfg(test)]
mod tests;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kessai_sdk::{block_height, block_time_ms, caller, emit, Address, Item, Map};
use netting_core::Transfer;
pub use types::*;

kessai_sdk::abi!("../abi.json");

pub const MAX_AMOUNT: u128 = 1_000_000_000_000_000_000_000_000_000_000; // 10^30
pub const MAX_BATCH: u32 = 64;
/// Most open conditions one `match_batch` looks at.
pub const MAX_SCAN: usize = 256;
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_SYMBOL_LEN: usize = 16;

const CONFIG: Item<Config> = Item::new(b"config");
const NEXT_CONDITION: Item<u64> = Item::new(b"next_condition");
const NEXT_TRADE: Item<u64> = Item::new(b"next_trade");
const NEXT_SETTLEMENT: Item<u64> = Item::new(b"next_settlement");
const EXCHANGES: Map<Address, String> = Map::new(b"e/");
/// Available own balances: the own inventory of an asset, the fiat account.
const BALANCES: Map<(Address, String), u128> = Map::new(b"b/");
/// Customers' deposits of an asset (claim 10), apart from the own inventory.
const CUSTOMER: Map<(Address, String), u128> = Map::new(b"d/");
const LOCKED: Map<(Address, String), u128> = Map::new(b"l/");
const PROVISIONAL: Map<(Address, String), u128> = Map::new(b"p/");
const TOTALS: Map<String, u128> = Map::new(b"t/");
const CONDITIONS: Map<u64, Condition> = Map::new(b"c/");
/// Open conditions by terms, so equal ones are adjacent: buys (side 0) before sells (side 1),
/// each in id order.
const OPEN: Map<(String, u128, u128, u8, [u8; 8]), Address> = Map::new(b"o/");
const TRADES: Map<u64, Trade> = Map::new(b"x/");
const SETTLEMENTS: Map<u64, Settlement> = Map::new(b"s/");

type Res<T> = Result<T, String>;
type Key = (Address, String);

kessai_sdk::methods! {
    /// Run once at instantiation.
    pub fn init(
        clearing_system: Address,
        fiat: String,
        lock_timeout_blocks: u64,
        approval_timeout_ms: u64,
    ) -> Res<()> {
        if CONFIG.exists() {
            return Err("already initialised".into());
        }
        check_symbol(&fiat)?;
        if approval_timeout_ms == 0 {
            return Err("the approval timeout must be positive".into());
        }
        CONFIG.set(&Config { clearing_system, fiat, lock_timeout_blocks, approval_timeout_ms });
        for next in [NEXT_CONDITION, NEXT_TRADE, NEXT_SETTLEMENT] {
            next.set(&1);
        }
        Ok(())
    }

    pub fn register_exchange(exchange: Address, name: String) -> Res<()> {
        let cfg = only_clearing_system("register exchanges")?;
        if exchange == cfg.clearing_system {
            return Err("the clearing system cannot be an exchange".into());
        }
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(format!("a name has 1 to {MAX_NAME_LEN} bytes"));
        }
        if EXCHANGES.contains(&exchange) {
            return Err(format!("{exchange} is already registered"));
        }
        EXCHANGES.insert(&exchange, &name);
        emit("exchange_registered", &ExchangeRegistered { exchange, name });
        Ok(())
    }

    /// The clearing system attests `amount` of `asset` received at its custody address for
    /// `exchange`'s own inventory. Returns the new available balance.
    pub fn deposit_asset(exchange: Address, asset: String, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("attest deposits")?;
        check_asset(&cfg, &asset)?;
        deposit(exchange, asset, Book::Own, amount)
    }

    /// The clearing system attests `amount` of `asset` received for `exchange`'s customers.
    /// Returns the new customer-deposit balance.
    pub fn deposit_customer_asset(exchange: Address, asset: String, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("attest deposits")?;
        check_asset(&cfg, &asset)?;
        deposit(exchange, asset, Book::Customer, amount)
    }

    /// The clearing system attests `amount` of fiat paid into `exchange`'s custody account.
    pub fn deposit_fiat(exchange: Address, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("attest deposits")?;
        deposit(exchange, cfg.fiat, Book::Own, amount)
    }

    /// The clearing system takes `amount` of `asset` out of custody from `exchange`'s own
    /// inventory (and sends it on the public chain). Returns the new available balance.
    pub fn withdraw_asset(exchange: Address, asset: String, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("withdraw from custody")?;
        check_asset(&cfg, &asset)?;
        withdraw(exchange, asset, Book::Own, amount)
    }

    /// The clearing system takes `amount` of `asset` out of `exchange`'s customer deposits.
    pub fn withdraw_customer_asset(exchange: Address, asset: String, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("withdraw from custody")?;
        check_asset(&cfg, &asset)?;
        withdraw(exchange, asset, Book::Customer, amount)
    }

    /// The clearing system pays `amount` of fiat out of `exchange`'s custody account.
    pub fn withdraw_fiat(exchange: Address, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("withdraw from custody")?;
        withdraw(exchange, cfg.fiat, Book::Own, amount)
    }

    /// The clearing system moves `amount` of `asset` of `exchange` into the record `to` from the
    /// other one (a customer of the exchange bought from or sold to it). Only available amounts
    /// move: never a locked or provisional one. Returns (own available, customer) after it.
    pub fn rebook(exchange: Address, asset: String, amount: u128, to: Book) -> Res<(u128, u128)> {
        let cfg = only_clearing_system("rebook custody records")?;
        check_asset(&cfg, &asset)?;
        only_exchange(&exchange)?;
        if amount == 0 {
            return Err("the amount must be positive".into());
        }
        let key = (exchange, asset);
        let (own, customer) = (balance_of(&key), CUSTOMER.get(&key).unwrap_or(0));
        let (own, customer) = match to {
            Book::Customer if own >= amount => (own - amount, customer + amount),
            Book::Own if customer >= amount => (own + amount, customer - amount),
            _ => {
                return Err(format!(
                    "{exchange} has {own} {} of its own available and {customer} of customers'; \
                     {amount} cannot move into {to:?}",
                    key.1
                ))
            }
        };
        set_or_remove(&BALANCES, &key, own);
        set_or_remove(&CUSTOMER, &key, customer);
        emit("rebooked", &Rebooked { exchange, asset: key.1, to, amount, own, customer });
        Ok((own, customer))
    }

    /// A registered exchange submits a contract condition. Returns its id.
    pub fn submit_condition(side: Side, asset: String, quantity: u128, price: u128) -> Res<u64> {
        let cfg = load_config()?;
        let exchange = caller();
        only_exchange(&exchange)?;
        check_asset(&cfg, &asset)?;
        for (what, amount) in [("quantity", quantity), ("price", price)] {
            if amount == 0 || amount > MAX_AMOUNT {
                return Err(format!(
                    "the {what} is an integer in the smallest unit, 1 to {MAX_AMOUNT}, not {amount}"
                ));
            }
        }
        let id = next(&NEXT_CONDITION)?;
        let condition = Condition {
            id,
            exchange,
            side,
            asset,
            quantity,
            price,
            submitted_height: block_height(),
            status: ConditionStatus::Open,
            trade: None,
        };
        CONDITIONS.insert(&id, &condition);
        OPEN.insert(&open_key(&condition), &exchange);
        emit("condition_submitted", &condition);
        Ok(id)
    }

    /// The exchange (or the clearing system) withdraws an open condition.
    pub fn cancel_condition(id: u64) -> Res<()> {
        let cfg = load_config()?;
        let mut condition = open_condition(id)?;
        let who = caller();
        if who != condition.exchange && who != cfg.clearing_system {
            return Err(format!(
                "only its exchange {} or the clearing system may cancel condition {id}",
                condition.exchange
            ));
        }
        OPEN.remove(&open_key(&condition));
        condition.status = ConditionStatus::Cancelled;
        CONDITIONS.insert(&id, &condition);
        emit("condition_cancelled", &condition);
        Ok(())
    }

    /// Matches a buy and a sell condition on demand (the clearing system or either exchange) and
    /// settles the trade as far as the balances allow. Returns the settlement's id.
    pub fn match_pair(buy: u64, sell: u64) -> Res<u64> {
        let cfg = load_config()?;
        let (b, s) = (open_condition(buy)?, open_condition(sell)?);
        let who = caller();
        if who != cfg.clearing_system && who != b.exchange && who != s.exchange {
            return Err(format!(
                "only the clearing system or the exchanges of conditions {buy} and {sell} may match them"
            ));
        }
        if b.side != Side::Buy || s.side != Side::Sell {
            return Err(format!("condition {buy} must be a buy and {sell} a sell"));
        }
        if b.exchange == s.exchange {
            return Err("an exchange does not trade with itself".into());
        }
        if (&b.asset, b.quantity, b.price) != (&s.asset, s.quantity, s.price) {
            return Err(format!(
                "conditions do not match: buy {} {} for {} against sell {} {} for {}",
                b.quantity, b.asset, b.price, s.quantity, s.asset, s.price
            ));
        }
        let id = next(&NEXT_SETTLEMENT)?;
        let trade = make_trade(b, s, id)?;
        open_settlement(&cfg, id, false, alloc::vec![trade])
    }

    /// The clearing system's batch: pairs every open buy with the earliest equal open sell of
    /// another exchange (at most `max_pairs` trades), then settles them one by one, or netted into
    /// one settlement (`netted`). Returns the settlements' ids (none if nothing matched).
    pub fn match_batch(netted: bool, max_pairs: u32) -> Res<Vec<u64>> {
        let cfg = only_clearing_system("run a matching batch")?;
        if max_pairs == 0 || max_pairs > MAX_BATCH {
            return Err(format!("max_pairs is 1 to {MAX_BATCH}"));
        }
        let pairs = find_pairs(max_pairs as usize);
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::new();
        if netted {
            let id = next(&NEXT_SETTLEMENT)?;
            let mut trades = Vec::with_capacity(pairs.len());
            for (buy, sell) in pairs {
                trades.push(make_trade(open_condition(buy)?, open_condition(sell)?, id)?);
            }
            ids.push(open_settlement(&cfg, id, true, trades)?);
        } else {
            for (buy, sell) in pairs {
                let id = next(&NEXT_SETTLEMENT)?;
                let trade = make_trade(open_condition(buy)?, open_condition(sell)?, id)?;
                ids.push(open_settlement(&cfg, id, false, alloc::vec![trade])?);
            }
        }
        Ok(ids)
    }

    /// Tries a waiting settlement again (after a top-up): the clearing system or a party.
    pub fn retry_settlement(id: u64) -> Res<SettlementStatus> {
        let cfg = load_config()?;
        let mut s = load_settlement(id)?;
        only_involved(&cfg, &s, "retry")?;
        if !waiting(&s) {
            return Err(format!("settlement {id} is {:?}: nothing to retry", s.status));
        }
        progress(&cfg, &mut s)?;
        SETTLEMENTS.insert(&id, &s);
        Ok(s.status)
    }

    /// Abandons a waiting settlement: the clearing system at any time, a party once the lock
    /// timeout has passed. Releases the locked fiat; the trades' conditions are cancelled.
    pub fn cancel_settlement(id: u64) -> Res<()> {
        let cfg = load_config()?;
        let mut s = load_settlement(id)?;
        if !waiting(&s) {
            return Err(format!("settlement {id} is {:?}: it can no longer be cancelled", s.status));
        }
        let who = caller();
        if who != cfg.clearing_system {
            only_involved(&cfg, &s, "cancel")?;
            let from = s.created_height.saturating_add(cfg.lock_timeout_blocks);
            if block_height() < from {
                return Err(format!(
                    "a party may cancel settlement {id} only from height {from} (lock timeout)"
                ));
            }
        }
        unwind(&mut s, SettlementStatus::Cancelled)?;
        SETTLEMENTS.insert(&id, &s);
        emit("settlement_cancelled", &s);
        Ok(())
    }

    /// The caller (the clearing system or a party) approves a provisional settlement's balances;
    /// with two of the three addresses of every trade of it, they are registered as confirmed.
    /// Refused from the approval deadline on. Returns the status.
    pub fn approve(id: u64) -> Res<SettlementStatus> {
        let cfg = load_config()?;
        let mut s = load_settlement(id)?;
        let who = caller();
        only_involved(&cfg, &s, "approve")?;
        check_provisional(&s, "approved")?;
        check_not_voted(&s, who)?;
        let now = block_time_ms();
        if now >= s.approval_deadline_ms {
            return Err(format!(
                "settlement {id} can no longer be approved: its approval deadline {} has passed \
                 (block time {now}); it can only be rejected",
                s.approval_deadline_ms
            ));
        }
        s.approvals.push(who);
        let trades = trades_of(&s)?;
        let trades_approved = trades_with_two(&cfg, &trades, &s.approvals);
        emit(
            "approved",
            &Approved {
                settlement: id,
                by: who,
                approvals: s.approvals.len() as u32,
                trades_approved,
                trades: trades.len() as u32,
            },
        );
        if trades_approved as usize == trades.len() {
            confirm(&mut s);
        }
        SETTLEMENTS.insert(&id, &s);
        Ok(s.status)
    }

    /// The caller (the clearing system or a party) rejects a provisional settlement. It is undone
    /// — locks back to their payers, provisional amounts gone, conditions cancelled — when two of
    /// the three addresses of one of its trades have rejected it, or at once from its approval
    /// deadline on (the approval timeout). Returns the status.
    pub fn reject(id: u64) -> Res<SettlementStatus> {
        let cfg = load_config()?;
        let mut s = load_settlement(id)?;
        let who = caller();
        only_involved(&cfg, &s, "reject")?;
        check_provisional(&s, "rejected")?;
        let expired = block_time_ms() >= s.approval_deadline_ms;
        if !expired {
            check_not_voted(&s, who)?;
            s.rejections.push(who);
        }
        emit(
            "rejected",
            &Rejected { settlement: id, by: who, rejections: s.rejections.len() as u32, expired },
        );
        let trades = trades_of(&s)?;
        if expired || trades_with_two(&cfg, &trades, &s.rejections) > 0 {
            unwind(&mut s, SettlementStatus::Rejected)?;
            emit("settlement_rejected", &s);
        }
        SETTLEMENTS.insert(&id, &s);
        Ok(s.status)
    }

    pub fn config() -> Res<Config> {
        load_config()
    }

    pub fn exchange(exchange: Address) -> Res<Option<String>> {
        Ok(EXCHANGES.get(&exchange))
    }

    /// `exchange`'s records of `currency` (an asset symbol or the fiat code).
    pub fn holding(exchange: Address, currency: String) -> Res<Holding> {
        load_config()?;
        Ok(holding_of(exchange, currency))
    }

    /// Every currency `exchange` has a record of, fiat included.
    pub fn holdings(exchange: Address) -> Res<Vec<Holding>> {
        let cfg = load_config()?;
        let mut currencies = BTreeSet::new();
        currencies.insert(cfg.fiat.clone());
        for map in [&BALANCES, &CUSTOMER, &LOCKED, &PROVISIONAL] {
            currencies.extend(map.iter_prefix(&exchange).map(|((_, currency), _)| currency));
        }
        Ok(currencies.into_iter().map(|c| holding_of(exchange, c)).collect())
    }

    /// Everything in custody in `currency`: deposits less withdrawals.
    pub fn custody_total(currency: String) -> Res<u128> {
        Ok(TOTALS.get(&currency).unwrap_or(0))
    }

    pub fn condition(id: u64) -> Res<Option<Condition>> {
        Ok(CONDITIONS.get(&id))
    }

    pub fn trade(id: u64) -> Res<Option<Trade>> {
        Ok(TRADES.get(&id))
    }

    pub fn settlement(id: u64) -> Res<Option<Settlement>> {
        Ok(SETTLEMENTS.get(&id))
    }
}

fn load_config() -> Res<Config> {
    CONFIG.get().ok_or_else(|| "not initialised".into())
}

fn only_clearing_system(what: &str) -> Res<Config> {
    let cfg = load_config()?;
    let who = caller();
    if who != cfg.clearing_system {
        return Err(format!("only the clearing system may {what}; {who} is not it"));
    }
    Ok(cfg)
}

fn only_exchange(who: &Address) -> Res<()> {
    if !EXCHANGES.contains(who) {
        return Err(format!("{who} is not a registered exchange"));
    }
    Ok(())
}

/// The caller is the clearing system or a party of the settlement.
fn only_involved(cfg: &Config, s: &Settlement, what: &str) -> Res<()> {
    let who = caller();
    if who != cfg.clearing_system && !s.parties.contains(&who) {
        return Err(format!(
            "only the clearing system or a party of settlement {} may {what} it; {who} is neither",
            s.id
        ));
    }
    Ok(())
}

fn check_provisional(s: &Settlement, what: &str) -> Res<()> {
    if s.status != SettlementStatus::Provisional {
        return Err(format!(
            "settlement {} is {:?}: only a provisional one is {what}",
            s.id, s.status
        ));
    }
    Ok(())
}

/// Each approver votes once: an approval or a rejection, final.
fn check_not_voted(s: &Settlement, who: Address) -> Res<()> {
    if s.approvals.contains(&who) {
        return Err(format!("{who} has already approved settlement {}", s.id));
    }
    if s.rejections.contains(&who) {
        return Err(format!("{who} has already rejected settlement {}", s.id));
    }
    Ok(())
}

fn check_symbol(symbol: &str) -> Res<()> {
    let valid = !symbol.is_empty()
        && symbol.len() <= MAX_SYMBOL_LEN
        && symbol.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !valid {
        return Err(format!(
            "{symbol:?} is not a currency symbol (1 to {MAX_SYMBOL_LEN} of A-Z, 0-9)"
        ));
    }
    Ok(())
}

fn check_asset(cfg: &Config, asset: &str) -> Res<()> {
    check_symbol(asset)?;
    if asset == cfg.fiat {
        return Err(format!("{asset} is the fiat currency, not a virtual-currency asset"));
    }
    Ok(())
}

fn next(counter: &Item<u64>) -> Res<u64> {
    let id = counter.get().ok_or("not initialised")?;
    counter.set(&(id + 1));
    Ok(id)
}

fn balance_of(key: &Key) -> u128 {
    BALANCES.get(key).unwrap_or(0)
}

fn amount_in(map: &Map<Key, u128>, key: &Key) -> u128 {
    map.get(key).unwrap_or(0)
}

fn set_or_remove(map: &Map<Key, u128>, key: &Key, value: u128) {
    if value == 0 {
        map.remove(key)
    } else {
        map.insert(key, &value)
    }
}

/// Adds `delta` (which must not take it below 0) to `map[key]`.
fn add_to(map: &Map<Key, u128>, key: &Key, delta: i128) {
    let now = amount_in(map, key);
    let value = if delta < 0 { now - delta.unsigned_abs() } else { now + delta.unsigned_abs() };
    set_or_remove(map, key, value);
}

fn book_map(book: Book) -> &'static Map<Key, u128> {
    match book {
        Book::Own => &BALANCES,
        Book::Customer => &CUSTOMER,
    }
}

fn holding_of(exchange: Address, currency: String) -> Holding {
    let key = (exchange, currency);
    Holding {
        available: balance_of(&key),
        locked: amount_in(&LOCKED, &key),
        provisional: amount_in(&PROVISIONAL, &key),
        customer: amount_in(&CUSTOMER, &key),
        currency: key.1,
    }
}

fn deposit(exchange: Address, currency: String, book: Book, amount: u128) -> Res<u128> {
    only_exchange(&exchange)?;
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    let key = (exchange, currency);
    let map = book_map(book);
    let balance = amount_in(map, &key).checked_add(amount).ok_or("balance overflow")?;
    let total = TOTALS.get(&key.1).unwrap_or(0).checked_add(amount).ok_or("total overflow")?;
    map.insert(&key, &balance);
    TOTALS.insert(&key.1, &total);
    emit("deposited", &CustodyChanged { exchange, currency: key.1, book, amount, balance });
    Ok(balance)
}

/// Only what is available in `book` leaves: never a locked or a provisional amount (neither is in
/// a book's available balance).
fn withdraw(exchange: Address, currency: String, book: Book, amount: u128) -> Res<u128> {
    only_exchange(&exchange)?;
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    let key = (exchange, currency);
    let map = book_map(book);
    let available = amount_in(map, &key);
    if amount > available {
        let (locked, provisional) = (amount_in(&LOCKED, &key), amount_in(&PROVISIONAL, &key));
        return Err(match book {
            Book::Own => format!(
                "{exchange} can withdraw at most {available} {} ({locked} more locked and \
                 {provisional} provisional, not withdrawable)",
                key.1
            ),
            Book::Customer => {
                format!("{exchange} holds {available} {} of customers' deposits", key.1)
            }
        });
    }
    let balance = available - amount;
    set_or_remove(map, &key, balance);
    TOTALS.insert(&key.1, &(TOTALS.get(&key.1).unwrap_or(0) - amount));
    emit("withdrawn", &CustodyChanged { exchange, currency: key.1, book, amount, balance });
    Ok(balance)
}

fn load_condition(id: u64) -> Res<Condition> {
    CONDITIONS.get(&id).ok_or_else(|| format!("no condition {id}"))
}

fn open_condition(id: u64) -> Res<Condition> {
    let condition = load_condition(id)?;
    if condition.status != ConditionStatus::Open {
        return Err(format!("condition {id} is {:?}, not open", condition.status));
    }
    Ok(condition)
}

fn load_trade(id: u64) -> Res<Trade> {
    TRADES.get(&id).ok_or_else(|| format!("no trade {id}"))
}

fn trades_of(s: &Settlement) -> Res<Vec<Trade>> {
    s.trades.iter().map(|id| load_trade(*id)).collect()
}

fn load_settlement(id: u64) -> Res<Settlement> {
    SETTLEMENTS.get(&id).ok_or_else(|| format!("no settlement {id}"))
}

fn open_key(c: &Condition) -> (String, u128, u128, u8, [u8; 8]) {
    let side = match c.side {
        Side::Buy => 0,
        Side::Sell => 1,
    };
    (c.asset.clone(), c.quantity, c.price, side, c.id.to_be_bytes())
}

/// Pairs of (buy, sell) condition ids with equal terms from different exchanges, first come
/// first served, among the first `MAX_SCAN` open conditions.
fn find_pairs(max_pairs: usize) -> Vec<(u64, u64)> {
    let open: Vec<_> = OPEN.iter().take(MAX_SCAN).collect();
    let mut pairs = Vec::new();
    let mut start = 0;
    while start < open.len() && pairs.len() < max_pairs {
        let terms = |i: usize| (&open[i].0 .0, open[i].0 .1, open[i].0 .2);
        let end = (start..open.len()).find(|&i| terms(i) != terms(start)).unwrap_or(open.len());
        let group = &open[start..end];
        let (buys, sells): (Vec<_>, Vec<_>) = group.iter().partition(|(key, _)| key.3 == 0);
        let mut used = alloc::vec![false; sells.len()];
        for (buy_key, buyer) in buys {
            if pairs.len() == max_pairs {
                break;
            }
            let found =
                sells.iter().enumerate().find(|(j, (_, seller))| !used[*j] && seller != buyer);
            if let Some((j, (sell_key, _))) = found {
                used[j] = true;
                pairs.push((u64::from_be_bytes(buy_key.4), u64::from_be_bytes(sell_key.4)));
            }
        }
        start = end;
    }
    pairs
}

/// Records the trade of two matched conditions, settled by settlement `settlement`.
fn make_trade(mut buy: Condition, mut sell: Condition, settlement: u64) -> Res<Trade> {
    let id = next(&NEXT_TRADE)?;
    let trade = Trade {
        id,
        buyer: buy.exchange,
        seller: sell.exchange,
        buy_condition: buy.id,
        sell_condition: sell.id,
        asset: buy.asset.clone(),
        quantity: buy.quantity,
        price: buy.price,
        settlement,
    };
    for c in [&mut buy, &mut sell] {
        OPEN.remove(&open_key(c));
        c.status = ConditionStatus::Matched;
        c.trade = Some(id);
        CONDITIONS.insert(&c.id, c);
    }
    TRADES.insert(&id, &trade);
    emit("trade_matched", &trade);
    Ok(trade)
}

fn open_settlement(cfg: &Config, id: u64, netted: bool, trades: Vec<Trade>) -> Res<u64> {
    let mut parties: Vec<Address> = trades.iter().flat_map(|t| [t.buyer, t.seller]).collect();
    parties.sort();
    parties.dedup();
    let mut s = Settlement {
        id,
        netted,
        trades: trades.iter().map(|t| t.id).collect(),
        parties,
        created_height: block_height(),
        status: SettlementStatus::AwaitingFiat,
        locks: Vec::new(),
        movements: Vec::new(),
        trade_legs: Vec::new(),
        settled_at_ms: 0,
        approval_deadline_ms: 0,
        approvals: Vec::new(),
        rejections: Vec::new(),
    };
    progress(cfg, &mut s)?;
    SETTLEMENTS.insert(&id, &s);
    Ok(id)
}

fn waiting(s: &Settlement) -> bool {
    matches!(s.status, SettlementStatus::AwaitingFiat | SettlementStatus::AwaitingAsset)
}

/// How many of `trades` have at least two of their three addresses (the clearing system, the
/// buyer, the seller) among `votes`. An exchange's vote counts only for the trades it is party to.
fn trades_with_two(cfg: &Config, trades: &[Trade], votes: &[Address]) -> u32 {
    let two_of_three = |t: &Trade| {
        [cfg.clearing_system, t.buyer, t.seller].iter().filter(|a| votes.contains(a)).count() >= 2
    };
    trades.iter().filter(|t| two_of_three(t)).count() as u32
}

/// Each trade's own increases and decreases (claim 15): asset legs, then fiat legs.
fn legs_of(cfg: &Config, trades: &[Trade]) -> Vec<TradeLeg> {
    let mut legs = Vec::with_capacity(4 * trades.len());
    for t in trades {
        let (quantity, price) = (t.quantity as i128, t.price as i128); // ≤ 10^30
        for (exchange, currency, delta) in [
            (t.seller, &t.asset, -quantity),
            (t.buyer, &t.asset, quantity),
            (t.buyer, &cfg.fiat, -price),
            (t.seller, &cfg.fiat, price),
        ] {
            legs.push(TradeLeg { trade: t.id, exchange, currency: currency.clone(), delta });
        }
    }
    legs
}

/// What each exchange pays (< 0) or receives (> 0) per currency: the trades' asset and fiat legs
/// netted multilaterally (for a single trade, its two legs).
fn net_obligations(cfg: &Config, trades: &[Trade]) -> Res<BTreeMap<Key, i128>> {
    let mut legs = Vec::with_capacity(2 * trades.len());
    for t in trades {
        let (quantity, price) = (t.quantity as i128, t.price as i128); // ≤ 10^30
        legs.push(Transfer::new((t.seller, t.asset.clone()), (t.buyer, t.asset.clone()), quantity));
        legs.push(Transfer::new((t.buyer, cfg.fiat.clone()), (t.seller, cfg.fiat.clone()), price));
    }
    let mut net = netting_core::net_positions(&legs).map_err(|e| e.to_string())?;
    net.retain(|_, amount| *amount != 0);
    Ok(net)
}

/// Moves a waiting settlement as far as the balances allow: lock the fiat, then settle both legs
/// provisionally. Only available own balances count: never a provisional amount, a locked one or
/// a customer deposit.
fn progress(cfg: &Config, s: &mut Settlement) -> Res<()> {
    let trades = trades_of(s)?;
    let net = net_obligations(cfg, &trades)?;
    let payers = |fiat: bool| {
        net.iter()
            .filter(move |((_, c), amount)| (*c == cfg.fiat) == fiat && **amount < 0)
            .map(|(key, amount)| (key.clone(), amount.unsigned_abs()))
            .collect::<Vec<_>>()
    };
    if s.status == SettlementStatus::AwaitingFiat {
        let fiat_payers = payers(true);
        if request_top_ups(s.id, "fiat_topup_requested", &fiat_payers) {
            return Ok(());
        }
        for ((exchange, currency), amount) in fiat_payers {
            lock(s, &(exchange, currency), amount);
            emit("fiat_locked", &FiatLocked { settlement: s.id, exchange, amount });
        }
        s.status = SettlementStatus::AwaitingAsset;
    }
    if request_top_ups(s.id, "asset_topup_requested", &payers(false)) {
        return Ok(());
    }
    settle(cfg, s, &trades, &net);
    Ok(())
}

/// Moves `amount` of `key` from available to locked, for settlement `s`.
fn lock(s: &mut Settlement, key: &Key, amount: u128) {
    add_to(&BALANCES, key, -(amount as i128));
    add_to(&LOCKED, key, amount as i128);
    s.locks.push(Lock { exchange: key.0, currency: key.1.clone(), amount });
}

/// Emits a top-up request for every payer short of what it owes; true if any is.
fn request_top_ups(settlement: u64, topic: &str, payers: &[(Key, u128)]) -> bool {
    let mut short = false;
    for ((exchange, currency), needed) in payers {
        let available = balance_of(&(*exchange, currency.clone()));
        if available < *needed {
            short = true;
            emit(
                topic,
                &TopUpRequested {
                    settlement,
                    exchange: *exchange,
                    currency: currency.clone(),
                    needed: *needed,
                    available,
                    shortfall: needed - available,
                },
            );
        }
    }
    short
}

/// Both legs, provisionally, assets first, then fiat: every asset payer's amount is locked (the
/// fiat payers' already is), every receiver's recorded as provisional. Every payer was checked
/// (assets) or locked (fiat), so nothing here can fail: it is all or nothing within the
/// transaction.
fn settle(cfg: &Config, s: &mut Settlement, trades: &[Trade], net: &BTreeMap<Key, i128>) {
    let (fiat, assets): (Vec<_>, Vec<_>) = net.iter().partition(|((_, c), _)| *c == cfg.fiat);
    for (key, delta) in assets.into_iter().chain(fiat) {
        let before = balance_of(key) + amount_in(&LOCKED, key);
        let amount = delta.unsigned_abs();
        if *delta < 0 {
            if key.1 != cfg.fiat {
                lock(s, key, amount);
            }
        } else {
            add_to(&PROVISIONAL, key, *delta);
        }
        let after = if *delta < 0 { before - amount } else { before + amount };
        s.movements.push(Movement {
            exchange: key.0,
            currency: key.1.clone(),
            delta: *delta,
            before,
            after,
        });
    }
    s.trade_legs = legs_of(cfg, trades);
    s.settled_at_ms = block_time_ms();
    s.approval_deadline_ms = s.settled_at_ms.saturating_add(cfg.approval_timeout_ms);
    s.status = SettlementStatus::Provisional;
    emit("settled", &*s);
}

/// Registers a provisional settlement's balances: the locks are consumed, the provisional amounts
/// become available.
fn confirm(s: &mut Settlement) {
    for l in &s.locks {
        add_to(&LOCKED, &(l.exchange, l.currency.clone()), -(l.amount as i128));
    }
    for m in s.movements.iter().filter(|m| m.delta > 0) {
        let key = (m.exchange, m.currency.clone());
        add_to(&PROVISIONAL, &key, -m.delta);
        add_to(&BALANCES, &key, m.delta);
    }
    s.status = SettlementStatus::Confirmed;
    emit("balances_confirmed", &*s);
}

/// Undoes a waiting or provisional settlement: every lock back to its payer, every provisional
/// amount dropped, the trades' conditions cancelled.
fn unwind(s: &mut Settlement, status: SettlementStatus) -> Res<()> {
    for l in &s.locks {
        let key = (l.exchange, l.currency.clone());
        add_to(&LOCKED, &key, -(l.amount as i128));
        add_to(&BALANCES, &key, l.amount as i128);
    }
    if s.status == SettlementStatus::Provisional {
        for m in s.movements.iter().filter(|m| m.delta > 0) {
            add_to(&PROVISIONAL, &(m.exchange, m.currency.clone()), -m.delta);
        }
    }
    for trade in trades_of(s)? {
        for condition_id in [trade.buy_condition, trade.sell_condition] {
            let mut condition = load_condition(condition_id)?;
            condition.status = ConditionStatus::Cancelled;
            CONDITIONS.insert(&condition_id, &condition);
        }
    }
    s.status = status;
    Ok(())
}
