//! The intermediary's decisions (JP7803395B2, claims 1–3, FIG. 16), free of I/O so they can be
//! tested on their own:
//!
//! - [`choose_method`]: the production method to allocate, from the consumer's renewable target
//!   and the history of what it has been allocated (S121);
//! - [`covering_record`]: the own record of that method covering the usage, soonest expiry first
//!   (S122, and S90's preference for the expiry closest to now);
//! - [`gather`]: what a peer hands over when asked for an amount of a method — one covering record
//!   or several smaller ones (S146);
//! - [`fallback`]: when every peer refused, the method re-decided among the records the
//!   intermediary owns (S127).
//!
//! Amounts are Wh. A record "can move" if it is `NotYet` and expires after a deadline the caller
//! sets a little past the chain's time, so the transaction still lands before the expiry.

use super::asset::{AssetRecord, ProductionMethod, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a consumer agreed with its intermediary (the patent's "transaction content", FIG. 12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerContract {
    /// The share of renewable electricity the consumer wants, in percent.
    pub renewable_target_percent: u8,
    /// The production methods of the producers the consumer chose, most preferred first.
    pub methods: Vec<ProductionMethod>,
    /// Planned use per slot: what the intermediary asks a peer for (S125).
    pub planned_wh_per_slot: u64,
}

impl ConsumerContract {
    /// Checks that the target is at most 100 % and that at least one method was chosen.
    pub fn validate(&self) -> Result<(), String> {
        if self.renewable_target_percent > 100 {
            return Err("renewable_target_percent must be 0 to 100".into());
        }
        if self.methods.is_empty() {
            return Err("a consumer chooses at least one production method".into());
        }
        Ok(())
    }
}

/// Wh allocated to a consumer so far, by production method.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History(BTreeMap<ProductionMethod, u64>);

/// One line of a [`History`], for JSON (a method cannot be a JSON object key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodTotal {
    /// The production method.
    pub method: ProductionMethod,
    /// Wh allocated of it.
    pub wh: u64,
    /// Whether the method counts as renewable, for readers of the JSON.
    pub renewable: bool,
}

impl History {
    /// Adds `wh` of `method` (saturating).
    pub fn add(&mut self, method: &ProductionMethod, wh: u64) {
        let total = self.0.entry(method.clone()).or_default();
        *total = total.saturating_add(wh);
    }

    /// Wh allocated of `method` (0 if none).
    pub fn of(&self, method: &ProductionMethod) -> u64 {
        self.0.get(method).copied().unwrap_or(0)
    }

    /// Wh allocated of all methods (saturating).
    pub fn total_wh(&self) -> u64 {
        self.0.values().fold(0, |sum, wh| sum.saturating_add(*wh))
    }

    /// Wh allocated of renewable methods (saturating).
    pub fn renewable_wh(&self) -> u64 {
        self.0
            .iter()
            .filter(|(method, _)| method.is_renewable())
            .fold(0, |sum, (_, wh)| sum.saturating_add(*wh))
    }

    /// The renewable share in basis points (1/100 of a percent), rounded down; none if empty.
    pub fn renewable_basis_points(&self) -> Option<u64> {
        let total = self.total_wh();
        (total > 0).then(|| (u128::from(self.renewable_wh()) * 10_000 / u128::from(total)) as u64)
    }

    /// Whether the renewable share is below `target_percent` (an empty history is below any
    /// positive target). Exact integer arithmetic: 20/180 against 40 % must not round.
    pub fn below_target(&self, target_percent: u8) -> bool {
        u128::from(self.renewable_wh()) * 100
            < u128::from(target_percent) * u128::from(self.total_wh())
            || (self.total_wh() == 0 && target_percent > 0)
    }

    /// The history as lines, one per method, in the methods' order.
    pub fn totals(&self) -> Vec<MethodTotal> {
        self.0
            .iter()
            .map(|(method, wh)| MethodTotal {
                method: method.clone(),
                wh: *wh,
                renewable: method.is_renewable(),
            })
            .collect()
    }
}

/// S121: below the target, the consumer's first renewable method; at or above it, its first
/// other method — so the share approaches the target. If the consumer chose no method of the
/// wanted kind, its first method.
pub fn choose_method(contract: &ConsumerContract, history: &History) -> ProductionMethod {
    let want_renewable = history.below_target(contract.renewable_target_percent);
    contract
        .methods
        .iter()
        .find(|m| m.is_renewable() == want_renewable)
        .or_else(|| contract.methods.first())
        .cloned()
        .expect("a validated contract has a method")
}

/// Part of one record to move: all of it when `amount` equals the record's, else a split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    /// The record to take from.
    pub asset_id: u64,
    /// Wh to move.
    pub amount: u64,
    /// The record's amount before the take.
    pub record_amount: u64,
}

impl Take {
    /// True when the whole record moves, so no split is needed first.
    pub fn is_whole(&self) -> bool {
        self.amount == self.record_amount
    }
}

fn can_move(record: &AssetRecord, deadline_ms: u64) -> bool {
    record.status == Status::NotYet && record.expiry_ms > deadline_ms
}

/// Movable records of `method`, soonest expiry first (ties: lower id, the older record).
fn candidates<'a>(
    records: &'a [AssetRecord],
    method: &ProductionMethod,
    deadline_ms: u64,
) -> Vec<&'a AssetRecord> {
    let mut found: Vec<&AssetRecord> =
        records.iter().filter(|r| r.method == *method && can_move(r, deadline_ms)).collect();
    found.sort_by_key(|r| (r.expiry_ms, r.id));
    found
}

/// S122/S90: the movable record of `method` whose amount covers `amount_wh`, soonest expiry first.
pub fn covering_record<'a>(
    records: &'a [AssetRecord],
    method: &ProductionMethod,
    amount_wh: u64,
    deadline_ms: u64,
) -> Option<&'a AssetRecord> {
    candidates(records, method, deadline_ms).into_iter().find(|r| r.amount >= amount_wh)
}

/// `amount_wh` of `method`: one covering record if there is one, else several smaller records,
/// soonest expiry first, the last one split. None if the records of `method` do not add up.
pub fn gather(
    records: &[AssetRecord],
    method: &ProductionMethod,
    amount_wh: u64,
    deadline_ms: u64,
) -> Option<Vec<Take>> {
    if amount_wh == 0 {
        return None;
    }
    if let Some(record) = covering_record(records, method, amount_wh, deadline_ms) {
        return Some(vec![take(record, amount_wh)]);
    }
    let mut takes = Vec::new();
    let mut missing = amount_wh;
    for record in candidates(records, method, deadline_ms) {
        let part = record.amount.min(missing);
        takes.push(take(record, part));
        missing -= part;
        if missing == 0 {
            return Some(takes);
        }
    }
    None
}

fn take(record: &AssetRecord, amount: u64) -> Take {
    Take { asset_id: record.id, amount, record_amount: record.amount }
}

/// S127: every peer refused, so the method is re-decided among what the intermediary owns. In
/// order: the method decided first (several records may do now), the consumer's other methods of
/// the same kind (renewable or not), the consumer's remaining methods, then any other method the
/// intermediary owns, same kind first — the consumer has used the electricity and some record
/// must be allocated to it.
pub fn fallback(
    records: &[AssetRecord],
    contract: &ConsumerContract,
    decided: &ProductionMethod,
    usage_wh: u64,
    deadline_ms: u64,
) -> Option<(ProductionMethod, Vec<Take>)> {
    fallback_order(records, contract, decided).into_iter().find_map(|method| {
        gather(records, &method, usage_wh, deadline_ms).map(|takes| (method, takes))
    })
}

fn fallback_order(
    records: &[AssetRecord],
    contract: &ConsumerContract,
    decided: &ProductionMethod,
) -> Vec<ProductionMethod> {
    let same_kind = |m: &ProductionMethod| m.is_renewable() == decided.is_renewable();
    let mut owned: Vec<ProductionMethod> = records.iter().map(|r| r.method.clone()).collect();
    owned.sort();
    owned.dedup();
    let mut order = vec![decided.clone()];
    order.extend(contract.methods.iter().filter(|m| same_kind(m)).cloned());
    order.extend(contract.methods.iter().filter(|m| !same_kind(m)).cloned());
    order.extend(owned.iter().filter(|m| same_kind(m)).cloned());
    order.extend(owned.into_iter().filter(|m| !same_kind(m)));
    let mut seen = std::collections::BTreeSet::new();
    order.retain(|m| seen.insert(m.clone()));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use kessai_primitives::Address;
    use ProductionMethod::*;

    const KWH: u64 = 1000;
    const NOW: u64 = 1_000_000;

    fn record(id: u64, method: ProductionMethod, kwh: u64, expiry_ms: u64) -> AssetRecord {
        AssetRecord {
            id,
            provider: Address([1; 32]),
            provided_at_ms: 0,
            amount: kwh * KWH,
            method,
            owner: Address([2; 32]),
            expiry_ms,
            status: Status::NotYet,
            origin: None,
        }
    }

    /// The patent's consumer Ca: producers Aa (solar) and Ab (oil), 40 %, 10 kWh per slot.
    fn ca() -> ConsumerContract {
        ConsumerContract {
            renewable_target_percent: 40,
            methods: vec![Solar, Oil],
            planned_wh_per_slot: 10 * KWH,
        }
    }

    fn history(entries: &[(ProductionMethod, u64)]) -> History {
        let mut h = History::default();
        for (method, kwh) in entries {
            h.add(method, kwh * KWH);
        }
        h
    }

    #[test]
    fn worked_example_solar_20_oil_160_chooses_solar_twice() {
        let mut h = history(&[(Solar, 20), (Oil, 160)]);
        assert_eq!(h.renewable_basis_points(), Some(1111)); // 11.1 % < 40 %
        assert_eq!(choose_method(&ca(), &h), Solar);
        // After the 9:00–9:30 slot: solar 30, 15.8 %, still below: solar again.
        h.add(&Solar, 10 * KWH);
        assert_eq!(h.of(&Solar), 30 * KWH);
        assert_eq!(h.renewable_basis_points(), Some(1578));
        assert_eq!(choose_method(&ca(), &h), Solar);
    }

    #[test]
    fn at_or_above_the_target_the_other_method_is_chosen() {
        assert_eq!(choose_method(&ca(), &history(&[(Solar, 40), (Oil, 60)])), Oil);
        assert_eq!(choose_method(&ca(), &history(&[(Solar, 90), (Oil, 10)])), Oil);
        assert_eq!(choose_method(&ca(), &history(&[(Solar, 39), (Oil, 61)])), Solar);
    }

    #[test]
    fn an_empty_history_starts_renewable_unless_the_target_is_zero() {
        assert_eq!(choose_method(&ca(), &History::default()), Solar);
        let no_target = ConsumerContract { renewable_target_percent: 0, ..ca() };
        assert_eq!(choose_method(&no_target, &History::default()), Oil);
        assert_eq!(History::default().renewable_basis_points(), None);
    }

    #[test]
    fn a_consumer_without_a_method_of_the_wanted_kind_gets_its_first() {
        let oil_only = ConsumerContract { methods: vec![Oil, Gas], ..ca() };
        assert_eq!(choose_method(&oil_only, &History::default()), Oil);
        let green_only = ConsumerContract { methods: vec![Wind, Solar], ..ca() };
        assert_eq!(choose_method(&green_only, &history(&[(Wind, 100)])), Wind);
    }

    #[test]
    fn the_first_renewable_method_in_the_consumers_order_is_chosen() {
        let contract = ConsumerContract { methods: vec![Oil, Wind, Solar], ..ca() };
        assert_eq!(choose_method(&contract, &History::default()), Wind);
    }

    #[test]
    fn contracts_are_validated() {
        assert!(ca().validate().is_ok());
        assert!(ConsumerContract { renewable_target_percent: 101, ..ca() }.validate().is_err());
        assert!(ConsumerContract { methods: vec![], ..ca() }.validate().is_err());
    }

    #[test]
    fn the_covering_record_expiring_soonest_is_chosen() {
        let records = [
            record(1, Solar, 10, NOW + 5_000),
            record(2, Solar, 12, NOW + 3_000),
            record(3, Solar, 50, NOW + 1_000),
            record(4, Oil, 10, NOW + 500),
        ];
        assert_eq!(covering_record(&records, &Solar, 10 * KWH, NOW).map(|r| r.id), Some(3));
        // Only records that cover the usage count.
        assert_eq!(covering_record(&records, &Solar, 20 * KWH, NOW).map(|r| r.id), Some(3));
        assert_eq!(covering_record(&records, &Solar, 60 * KWH, NOW), None);
        assert_eq!(covering_record(&records, &Wind, KWH, NOW), None);
    }

    #[test]
    fn equal_expiries_prefer_the_older_record() {
        let records = [record(9, Solar, 10, NOW + 1), record(4, Solar, 10, NOW + 1)];
        assert_eq!(covering_record(&records, &Solar, KWH, NOW).map(|r| r.id), Some(4));
    }

    #[test]
    fn expired_completed_and_nearly_expired_records_are_never_chosen() {
        let mut completed = record(1, Solar, 100, NOW + 100_000);
        completed.status = Status::Completed;
        let records = [
            completed,
            record(2, Solar, 100, NOW - 1), // expired
            record(3, Solar, 100, NOW),     // expires exactly at the deadline
            record(4, Solar, 100, NOW + 1),
        ];
        assert_eq!(covering_record(&records, &Solar, KWH, NOW).map(|r| r.id), Some(4));
        assert_eq!(covering_record(&records[..3], &Solar, KWH, NOW), None);
        assert_eq!(gather(&records[..3], &Solar, KWH, NOW), None);
    }

    #[test]
    fn gather_takes_one_covering_record_when_there_is_one() {
        let records = [record(1, Solar, 4, NOW + 1), record(2, Solar, 25, NOW + 9)];
        assert_eq!(
            gather(&records, &Solar, 10 * KWH, NOW),
            Some(vec![Take { asset_id: 2, amount: 10 * KWH, record_amount: 25 * KWH }])
        );
    }

    #[test]
    fn gather_combines_smaller_records_soonest_expiry_first_and_splits_the_last() {
        let records = [
            record(1, Solar, 4, NOW + 30),
            record(2, Solar, 4, NOW + 10),
            record(3, Solar, 4, NOW + 20),
            record(4, Oil, 40, NOW + 1),
        ];
        let takes = gather(&records, &Solar, 10 * KWH, NOW).unwrap();
        assert_eq!(
            takes,
            vec![
                Take { asset_id: 2, amount: 4 * KWH, record_amount: 4 * KWH },
                Take { asset_id: 3, amount: 4 * KWH, record_amount: 4 * KWH },
                Take { asset_id: 1, amount: 2 * KWH, record_amount: 4 * KWH },
            ]
        );
        assert!(takes[0].is_whole() && !takes[2].is_whole());
        // The amount is conserved: what is taken is exactly what was asked for.
        assert_eq!(takes.iter().map(|t| t.amount).sum::<u64>(), 10 * KWH);
        assert_eq!(gather(&records, &Solar, 13 * KWH, NOW), None);
        assert_eq!(gather(&records, &Solar, 0, NOW), None);
    }

    #[test]
    fn fallback_keeps_the_decided_method_if_several_records_now_do() {
        let records = [record(1, Solar, 6, NOW + 1), record(2, Solar, 6, NOW + 2)];
        let (method, takes) = fallback(&records, &ca(), &Solar, 10 * KWH, NOW).unwrap();
        assert_eq!(method, Solar);
        assert_eq!(takes.len(), 2);
    }

    #[test]
    fn fallback_to_the_consumers_other_method_as_in_the_patent() {
        // Da has no solar and no peer gave any: the slot is allocated oil (S127).
        let records = [record(1, Oil, 160, NOW + 1), record(2, Coal, 50, NOW + 1)];
        let (method, takes) = fallback(&records, &ca(), &Solar, 10 * KWH, NOW).unwrap();
        assert_eq!(method, Oil);
        assert_eq!(takes, vec![Take { asset_id: 1, amount: 10 * KWH, record_amount: 160 * KWH }]);
    }

    #[test]
    fn fallback_prefers_same_kind_then_the_consumers_methods_then_anything() {
        let contract = ConsumerContract { methods: vec![Solar, Wind, Oil], ..ca() };
        let wind_and_oil = [record(1, Oil, 50, NOW + 1), record(2, Wind, 50, NOW + 9)];
        assert_eq!(fallback(&wind_and_oil, &contract, &Solar, KWH, NOW).unwrap().0, Wind);
        // Hydro is renewable like solar, but the consumer chose oil and not hydro: oil first.
        let hydro_and_oil = [record(1, Hydro, 50, NOW + 1), record(2, Oil, 50, NOW + 1)];
        assert_eq!(fallback(&hydro_and_oil, &contract, &Solar, KWH, NOW).unwrap().0, Oil);
        // Nothing the consumer chose: same kind first, then the rest.
        let hydro_and_gas = [record(1, Gas, 50, NOW + 1), record(2, Hydro, 50, NOW + 1)];
        assert_eq!(fallback(&hydro_and_gas, &contract, &Solar, KWH, NOW).unwrap().0, Hydro);
        let gas_only = [record(1, Gas, 50, NOW + 1)];
        assert_eq!(fallback(&gas_only, &contract, &Solar, KWH, NOW).unwrap().0, Gas);
    }

    #[test]
    fn fallback_fails_when_nothing_adds_up() {
        let records = [record(1, Oil, 4, NOW + 1), record(2, Solar, 5, NOW - 1)];
        assert_eq!(fallback(&records, &ca(), &Solar, 10 * KWH, NOW), None);
        assert_eq!(fallback(&[], &ca(), &Solar, 10 * KWH, NOW), None);
    }
}
