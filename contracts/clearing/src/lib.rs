//! Inter-exchange virtual-currency clearing on custody-backed records (JP6745835B2,
//! `shared/specs/clearing.md`).
//!
//! The **clearing system** (set at init; the patent's 610) registers the **exchanges** (620, 630, …)
//! and attests what they bring into custody: virtual currency sent to its custody address on the
//! public chain (`deposit_asset`) and fiat paid into its custody account (`deposit_fiat`). Trades
//! between exchanges then settle by rewriting these records, never on the public chain.
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
//! 6. Settlement: every asset leg moves first, then the locked fiat moves to the fiat receivers,
//!    in one transaction (delivery versus payment: both legs or neither, and the fiat can never be
//!    missing after the asset moved, since it was locked). Status `Settled`, with each movement's
//!    before and after values (the patent's Table 2).
//! 7. The new balances are registered as confirmed when a majority of the clearing system and the
//!    parties approve (`approve`): 2 of {610, 620, 630} for one trade; for a batch with k
//!    exchanges, ⌊(k + 1) / 2⌋ + 1 of the k + 1. Until then, what an exchange received in that
//!    settlement cannot leave custody (it may trade with it).
//!
//! # Left open by the patent, decided here
//!
//! - Locks: the fiat stays locked until the settlement completes or is cancelled: by the clearing
//!   system at any time, or by a party once `lock_timeout_blocks` have passed since the match.
//!   Cancelling releases the locks and cancels the trades' conditions (negotiation restarts).
//! - Seller's assets are not locked (the patent locks fiat only); they are checked at settlement.
//! - Withdrawals out of custody (`withdraw_asset`, `withdraw_fiat`) are made by the clearing
//!   system, which pays out on the public chain or the banking system; only available, confirmed
//!   amounts leave.
//! - Several assets (symbols of 1 to 16 `A-Z0-9` characters), any number of exchanges; no fees.
//! - Amounts are 1 … 10^30 per condition, so no sum of a batch can overflow (all checked anyway).
//!
//! Value is conserved: only deposits and withdrawals change the custody total of a currency
//! (`custody_total`), which always equals the sum over exchanges of available + locked.
//!
//! Storage (declared in `abi.json`): `e/` exchanges, `b/` available balances by (exchange,
//! currency), `l/` locked fiat, `u/` unconfirmed receipts, `t/` custody totals, `c/` conditions,
//! `o/` open conditions by (asset, quantity, price, side, id big-endian), `x/` trades,
//! `s/` settlements; items `config`, `next_condition`, `next_trade`, `next_settlement`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod types;

#[cfg(test)]
mod tests;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kessai_sdk::{block_height, caller, emit, Address, Item, Map};
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
const BALANCES: Map<(Address, String), u128> = Map::new(b"b/");
const LOCKED: Map<Address, u128> = Map::new(b"l/");
const UNCONFIRMED: Map<(Address, String), u128> = Map::new(b"u/");
const TOTALS: Map<String, u128> = Map::new(b"t/");
const CONDITIONS: Map<u64, Condition> = Map::new(b"c/");
/// Open conditions by terms, so equal ones are adjacent: buys (side 0) before sells (side 1),
/// each in id order.
const OPEN: Map<(String, u128, u128, u8, [u8; 8]), Address> = Map::new(b"o/");
const TRADES: Map<u64, Trade> = Map::new(b"x/");
const SETTLEMENTS: Map<u64, Settlement> = Map::new(b"s/");

type Res<T> = Result<T, String>;

kessai_sdk::methods! {
    /// Run once at instantiation.
    pub fn init(clearing_system: Address, fiat: String, lock_timeout_blocks: u64) -> Res<()> {
        if CONFIG.exists() {
            return Err("already initialised".into());
        }
        check_symbol(&fiat)?;
        CONFIG.set(&Config { clearing_system, fiat, lock_timeout_blocks });
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
    /// `exchange`. Returns the new available balance.
    pub fn deposit_asset(exchange: Address, asset: String, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("attest deposits")?;
        check_asset(&cfg, &asset)?;
        deposit(exchange, asset, amount)
    }

    /// The clearing system attests `amount` of fiat paid into `exchange`'s custody account.
    pub fn deposit_fiat(exchange: Address, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("attest deposits")?;
        deposit(exchange, cfg.fiat, amount)
    }

    /// The clearing system takes `amount` of `asset` out of custody for `exchange` (and sends it on
    /// the public chain). Returns the new available balance.
    pub fn withdraw_asset(exchange: Address, asset: String, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("withdraw from custody")?;
        check_asset(&cfg, &asset)?;
        withdraw(exchange, asset, amount)
    }

    /// The clearing system pays `amount` of fiat out of `exchange`'s custody account.
    pub fn withdraw_fiat(exchange: Address, amount: u128) -> Res<u128> {
        let cfg = only_clearing_system("withdraw from custody")?;
        withdraw(exchange, cfg.fiat, amount)
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
        for lock in &s.locks {
            let locked = LOCKED.get(&lock.exchange).unwrap_or(0);
            LOCKED.insert(&lock.exchange, &(locked - lock.amount));
            let key = (lock.exchange, cfg.fiat.clone());
            BALANCES.insert(&key, &(balance_of(&key) + lock.amount));
        }
        for trade_id in &s.trades {
            let trade = load_trade(*trade_id)?;
            for condition_id in [trade.buy_condition, trade.sell_condition] {
                let mut condition = load_condition(condition_id)?;
                condition.status = ConditionStatus::Cancelled;
                CONDITIONS.insert(&condition_id, &condition);
            }
        }
        s.status = SettlementStatus::Cancelled;
        SETTLEMENTS.insert(&id, &s);
        emit("settlement_cancelled", &s);
        Ok(())
    }

    /// The caller (the clearing system or a party) approves a settled settlement's balances; with
    /// a majority they are registered as confirmed. Returns the status.
    pub fn approve(id: u64) -> Res<SettlementStatus> {
        let cfg = load_config()?;
        let mut s = load_settlement(id)?;
        let who = caller();
        only_involved(&cfg, &s, "approve")?;
        if s.status != SettlementStatus::Settled {
            return Err(format!("settlement {id} is {:?}: only a settled one is approved", s.status));
        }
        if s.approvals.contains(&who) {
            return Err(format!("{who} has already approved settlement {id}"));
        }
        s.approvals.push(who);
        let needed = approvals_needed(&s);
        emit(
            "approved",
            &Approved { settlement: id, by: who, approvals: s.approvals.len() as u32, needed },
        );
        if s.approvals.len() as u32 >= needed {
            for m in s.movements.iter().filter(|m| m.delta > 0) {
                let key = (m.exchange, m.currency.clone());
                let pending = UNCONFIRMED.get(&key).unwrap_or(0) - m.delta.unsigned_abs();
                set_or_remove(&UNCONFIRMED, &key, pending);
            }
            s.status = SettlementStatus::Confirmed;
            emit("balances_confirmed", &s);
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

    /// `exchange`'s holding of `currency` (an asset symbol or the fiat code).
    pub fn holding(exchange: Address, currency: String) -> Res<Holding> {
        let cfg = load_config()?;
        Ok(holding_of(&cfg, exchange, currency))
    }

    /// Every currency `exchange` holds, fiat included.
    pub fn holdings(exchange: Address) -> Res<Vec<Holding>> {
        let cfg = load_config()?;
        let mut currencies: Vec<String> =
            BALANCES.iter_prefix(&exchange).map(|((_, currency), _)| currency).collect();
        if !currencies.contains(&cfg.fiat) {
            currencies.push(cfg.fiat.clone());
        }
        Ok(currencies.into_iter().map(|c| holding_of(&cfg, exchange, c)).collect())
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

fn balance_of(key: &(Address, String)) -> u128 {
    BALANCES.get(key).unwrap_or(0)
}

fn set_or_remove(map: &Map<(Address, String), u128>, key: &(Address, String), value: u128) {
    if value == 0 {
        map.remove(key)
    } else {
        map.insert(key, &value)
    }
}

fn holding_of(cfg: &Config, exchange: Address, currency: String) -> Holding {
    let key = (exchange, currency);
    let locked = if key.1 == cfg.fiat { LOCKED.get(&exchange).unwrap_or(0) } else { 0 };
    Holding {
        available: balance_of(&key),
        locked,
        unconfirmed: UNCONFIRMED.get(&key).unwrap_or(0),
        currency: key.1,
    }
}

fn deposit(exchange: Address, currency: String, amount: u128) -> Res<u128> {
    only_exchange(&exchange)?;
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    let key = (exchange, currency);
    let balance = balance_of(&key).checked_add(amount).ok_or("balance overflow")?;
    let total = TOTALS.get(&key.1).unwrap_or(0).checked_add(amount).ok_or("total overflow")?;
    BALANCES.insert(&key, &balance);
    TOTALS.insert(&key.1, &total);
    emit("deposited", &CustodyChanged { exchange, currency: key.1, amount, balance });
    Ok(balance)
}

fn withdraw(exchange: Address, currency: String, amount: u128) -> Res<u128> {
    only_exchange(&exchange)?;
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    let key = (exchange, currency);
    let available = balance_of(&key);
    let unconfirmed = UNCONFIRMED.get(&key).unwrap_or(0);
    let withdrawable = available.saturating_sub(unconfirmed);
    if amount > withdrawable {
        return Err(format!(
            "{exchange} can withdraw at most {withdrawable} {} ({available} available, {unconfirmed} \
             of it unconfirmed)",
            key.1
        ));
    }
    let balance = available - amount;
    BALANCES.insert(&key, &balance);
    TOTALS.insert(&key.1, &(TOTALS.get(&key.1).unwrap_or(0) - amount));
    emit("withdrawn", &CustodyChanged { exchange, currency: key.1, amount, balance });
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
        approvals: Vec::new(),
    };
    progress(cfg, &mut s)?;
    SETTLEMENTS.insert(&id, &s);
    Ok(id)
}

fn waiting(s: &Settlement) -> bool {
    matches!(s.status, SettlementStatus::AwaitingFiat | SettlementStatus::AwaitingAsset)
}

/// A majority of the clearing system and the parties: 2 of 3 for one trade between two exchanges.
fn approvals_needed(s: &Settlement) -> u32 {
    let approvers = s.parties.len() as u32 + 1; // the parties and the clearing system
    approvers / 2 + 1
}

/// What each exchange pays (< 0) or receives (> 0) per currency: the trades' asset and fiat legs
/// netted multilaterally (for a single trade, its two legs).
fn net_obligations(cfg: &Config, s: &Settlement) -> Res<BTreeMap<(Address, String), i128>> {
    let mut legs = Vec::with_capacity(2 * s.trades.len());
    for id in &s.trades {
        let t = load_trade(*id)?;
        let (quantity, price) = (t.quantity as i128, t.price as i128); // ≤ 10^30
        legs.push(Transfer::new((t.seller, t.asset.clone()), (t.buyer, t.asset.clone()), quantity));
        legs.push(Transfer::new((t.buyer, cfg.fiat.clone()), (t.seller, cfg.fiat.clone()), price));
    }
    let mut net = netting_core::net_positions(&legs).map_err(|e| e.to_string())?;
    net.retain(|_, amount| *amount != 0);
    Ok(net)
}

/// Moves a waiting settlement as far as the balances allow: lock the fiat, then settle both legs.
fn progress(cfg: &Config, s: &mut Settlement) -> Res<()> {
    let net = net_obligations(cfg, s)?;
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
        for ((exchange, _), amount) in fiat_payers {
            let key = (exchange, cfg.fiat.clone());
            BALANCES.insert(&key, &(balance_of(&key) - amount));
            LOCKED.insert(&exchange, &(LOCKED.get(&exchange).unwrap_or(0) + amount));
            s.locks.push(Lock { exchange, amount });
            emit("fiat_locked", &FiatLocked { settlement: s.id, exchange, amount });
        }
        s.status = SettlementStatus::AwaitingAsset;
    }
    if request_top_ups(s.id, "asset_topup_requested", &payers(false)) {
        return Ok(());
    }
    settle(cfg, s, &net);
    Ok(())
}

/// Emits a top-up request for every payer short of what it owes; true if any is.
fn request_top_ups(settlement: u64, topic: &str, payers: &[((Address, String), u128)]) -> bool {
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

/// Both legs, assets first, then the locked fiat. Every payer was checked (assets) or locked
/// (fiat), so nothing here can fail: it is all or nothing within the transaction.
fn settle(cfg: &Config, s: &mut Settlement, net: &BTreeMap<(Address, String), i128>) {
    let (fiat, assets): (Vec<_>, Vec<_>) = net.iter().partition(|((_, c), _)| *c == cfg.fiat);
    for ((exchange, currency), delta) in assets.into_iter().chain(fiat) {
        let key = (*exchange, currency.clone());
        let available = balance_of(&key);
        let is_fiat = *currency == cfg.fiat;
        let locked = if is_fiat { LOCKED.get(exchange).unwrap_or(0) } else { 0 };
        let before = available + locked;
        let amount = delta.unsigned_abs();
        if *delta < 0 {
            if is_fiat {
                LOCKED.insert(exchange, &(locked - amount));
            } else {
                BALANCES.insert(&key, &(available - amount));
            }
        } else {
            BALANCES.insert(&key, &(available + amount));
            UNCONFIRMED.insert(&key, &(UNCONFIRMED.get(&key).unwrap_or(0) + amount));
        }
        let after = if *delta < 0 { before - amount } else { before + amount };
        s.movements.push(Movement {
            exchange: *exchange,
            currency: key.1,
            delta: *delta,
            before,
            after,
        });
    }
    s.status = SettlementStatus::Settled;
    emit("settled", &*s);
}
