//! The swap of JP6980288B2 across two chains: power information X on the power chain (SC1) for a
//! value certificate Y on the value chain (SC2), both legs locked to one secret R. Each side reads
//! the other chain only through its contract's views and events, as a relayer would.

use crate::chain::*;
use crate::power_ledger::{
    self as pl, BurnRequest, LegOrder, LegStatus, Lock, Secret, TimeoutRules,
};
use crate::value_certificate::{self as vc, TransferCondition};
use kessai_sdk::Address;
use std::string::String;

/// Power information of the holder before the swap, and the amount converted.
const HELD: u64 = 100;
const X: u64 = 30;
/// Hash of Y's content (the certificate document).
const Y_CONTENT: [u8; 32] = [0x59; 32];

struct Swap {
    power: Chain,
    value: Chain,
}

impl Swap {
    /// Both chains of `embodiment`, with `held` power issued to the holder.
    fn holding(embodiment: Embodiment, held: u64) -> Swap {
        let (mut power, value) = embodiment.chains();
        power.call::<_, ()>(&admin(), pl::issue, (held, holder().address())).unwrap();
        Swap { power, value }
    }

    /// Both chains of `embodiment`, with the holder's power issued.
    fn new(embodiment: Embodiment) -> Swap {
        Swap::holding(embodiment, HELD)
    }

    /// Terminal 24 registers the burn request (X, H_R, terminal 14).
    fn register_burn(&mut self, lock: Lock, counter: Option<u64>) -> Result<u64, String> {
        self.power.register_burn(&holder(), X, lock, admin().address(), counter)
    }

    /// Terminal 14 issues Y and registers its transfer condition (token, H_R, terminal 24).
    fn issue_and_offer(&mut self, lock: Lock, counter: Option<u64>) -> Result<(u64, u64), String> {
        let token = self.value.call(&admin(), vc::issue, (Y_CONTENT, None::<Address>))?;
        let id =
            self.value.register_condition(&admin(), token, lock, holder().address(), counter)?;
        Ok((token, id))
    }

    /// Sets both clocks to `power_ms` on the power chain, keeping the value chain's lead.
    fn set_clocks(&mut self, power_ms: u64) {
        self.power.set_time(power_ms);
        self.value.set_time(power_ms + VALUE_CLOCK_AHEAD_MS);
    }

    /// Advances both clocks by `ms`.
    fn advance(&mut self, ms: u64) {
        self.power.advance(ms);
        self.value.advance(ms);
    }

    /// What terminal 14 checks on the power chain before it offers or burns.
    fn check_burn_request(&mut self, lock: Lock) -> BurnRequest {
        let request: BurnRequest = self
            .power
            .view::<_, Option<BurnRequest>>(pl::burn_request_by_lock, (lock.hash,))
            .unwrap();
        assert_eq!(
            (request.amount, request.permitted, request.status),
            (X, admin().address(), LegStatus::Active)
        );
        assert_eq!(request.creator, holder().address());
        request
    }

    /// What terminal 24 checks on the value chain before it registers or claims.
    fn check_condition(&mut self, lock: Lock) -> TransferCondition {
        let condition: TransferCondition = self
            .value
            .view::<_, Option<TransferCondition>>(vc::transfer_condition_by_lock, (lock.hash,))
            .unwrap();
        assert_eq!(
            (condition.destination, condition.status),
            (holder().address(), LegStatus::Active)
        );
        assert_eq!(self.value.token(condition.token_id).content_hash, Y_CONTENT);
        condition
    }

    /// R as the value chain published it: from the `transferred` event, checked against the
    /// stored condition.
    fn secret_from_value_chain(&mut self, id: u64) -> Secret {
        let event =
            self.value.events().into_iter().rev().find(|e| e.topic == "transferred").unwrap();
        let published = event.decode::<TransferCondition>().status.preimage().unwrap();
        assert_eq!(self.value.condition(id).status.preimage(), Some(published));
        published
    }

    /// R as the power chain published it (the `burned` event and the stored request).
    fn secret_from_power_chain(&mut self, id: u64) -> Secret {
        let event = self.power.events().into_iter().rev().find(|e| e.topic == "burned").unwrap();
        let published = event.decode::<BurnRequest>().status.preimage().unwrap();
        assert_eq!(self.power.burn_request(id).status.preimage(), Some(published));
        published
    }

    /// After a completed swap: X is gone from the supply, Y is the holder's, and neither side can
    /// be used again.
    fn assert_converted_once(&mut self, burn_id: u64, token: u64, condition: u64, r: Secret) {
        let lock = self.power.burn_request(burn_id).lock;
        assert_eq!(self.power.balance(&holder()), HELD - X);
        assert_eq!((self.power.supply(), self.power.escrowed()), (HELD - X, 0));
        assert_eq!(self.value.token(token).holder, holder().address());
        assert_eq!(self.power.burn(&admin(), burn_id, r), Err("already completed".into()));
        assert_eq!(self.value.transfer(&holder(), condition, r), Err("already completed".into()));
        // The same lock cannot carry another request, and Y's content is certified once.
        // (A counter deadline whichever order the ledger holds: None for first legs, the latest
        // possible for second legs, so that only the lock can be the reason for refusing.)
        let ledger_rules: TimeoutRules = self.power.view(pl::rules, ());
        let any_counter = (ledger_rules.order == LegOrder::Second).then_some(u64::MAX);
        assert_eq!(
            self.register_burn(lock, any_counter),
            Err("this lock hash was already used".into())
        );
        assert_eq!(
            self.value.call::<_, u64>(&admin(), vc::issue, (Y_CONTENT, None::<Address>)),
            Err("this content is already certified".into())
        );
    }
}

fn embodiment_3(lock_of: fn(&Secret) -> Lock) {
    let mut swap = Swap::new(Embodiment::Three);
    // 1. Terminal 24 draws R and sends H_R to 14.
    let r = secret(0x24);
    let lock = lock_of(&r);
    // 2. 24 → power chain: the burn request, the first leg (TIMEOUT_N = 48 h).
    let burn_id = swap.register_burn(lock, None).unwrap();
    assert_eq!(swap.power.balance(&holder()), HELD - X);
    // 3. 14 checks it; 4. 14 → value chain: issue Y, then the transfer condition, the second
    // leg (TIMEOUT_M = 24 h), checked against the burn request's deadline.
    let request = swap.check_burn_request(lock);
    swap.value.advance(10 * 60_000);
    let (token, condition) = swap.issue_and_offer(lock, Some(request.deadline_ms)).unwrap();
    // 5. 24 checks the condition and claims Y with R: R becomes public on the value chain.
    swap.check_condition(lock);
    swap.value.advance(10 * 60_000);
    swap.value.transfer(&holder(), condition, r).unwrap();
    // 6. 14 reads R from the value chain and burns X on the power chain.
    let published = swap.secret_from_value_chain(condition);
    swap.power.advance(30 * 60_000);
    swap.power.burn(&admin(), burn_id, published).unwrap();
    swap.assert_converted_once(burn_id, token, condition, r);
}

#[test]
fn embodiment_3_holder_draws_r_issue_first_then_burn() {
    embodiment_3(blake3_lock);
}

#[test]
fn embodiment_3_with_a_sha256_lock() {
    embodiment_3(sha256_lock);
}

#[test]
fn embodiment_4_administrator_draws_r_burn_first_then_issue() {
    let mut swap = Swap::new(Embodiment::Four);
    // 14 draws R; issues Y and registers the transfer condition, the first leg (TIMEOUT_M = 48 h).
    let r = secret(0x14);
    let lock = blake3_lock(&r);
    let (token, condition) = swap.issue_and_offer(lock, None).unwrap();
    // 24 checks it, then registers the burn request, the second leg (TIMEOUT_N = 24 h), checked
    // against the condition's deadline.
    let offered = swap.check_condition(lock);
    swap.power.advance(5 * 60_000);
    let burn_id = swap.register_burn(lock, Some(offered.deadline_ms)).unwrap();
    // 14 checks the request and burns X with R: R becomes public on the power chain.
    let request = swap.check_burn_request(lock);
    assert_eq!(request.timeout_ms, SECOND_TIMEOUT_MS);
    assert!(request.deadline_ms + MARGIN_MS <= offered.deadline_ms);
    swap.power.advance(5 * 60_000);
    swap.power.burn(&admin(), burn_id, r).unwrap();
    // 24 reads R from the power chain and claims Y.
    let published = swap.secret_from_power_chain(burn_id);
    swap.value.advance(HOUR_MS);
    swap.value.transfer(&holder(), condition, published).unwrap();
    swap.assert_converted_once(burn_id, token, condition, r);
}

/// The patent's embodiment-4 prose withdraws Y after TIMEOUT_N = 24 h and X after TIMEOUT_M =
/// 48 h: the holder of R (14) could burn X late, after the transfer condition expired, and take Y
/// back too. Deployed that way round (value certificates first legs of 24 h, power ledger second
/// legs of 48 h), no burn request can ever be registered against a transfer condition: it would
/// outlive it.
#[test]
fn embodiment_4_with_the_prose_timeouts_refuses_every_burn_request() {
    let power_rules = TimeoutRules { timeout_ms: 48 * HOUR_MS, ..rules(LegOrder::Second) };
    let value_rules = TimeoutRules { timeout_ms: 24 * HOUR_MS, ..rules(LegOrder::First) };
    let mut power = Chain::power_with(POWER_LEDGER, T0, power_rules);
    power.call::<_, ()>(&admin(), pl::issue, (HELD, holder().address())).unwrap();
    let mut swap = Swap { power, value: Chain::value_with(value_rules) };
    let lock = blake3_lock(&secret(0x14));
    swap.issue_and_offer(lock, None).unwrap();
    let offered = swap.check_condition(lock);
    for delay in [0, 5 * 60_000, HOUR_MS] {
        swap.advance(delay);
        let refused = swap.register_burn(lock, Some(offered.deadline_ms));
        assert!(refused.unwrap_err().starts_with("unsafe timeout order"));
    }
    assert_eq!((swap.power.balance(&holder()), swap.power.escrowed()), (HELD, 0));
}

/// Issue 14: in embodiment 4 the holder registered its burn request without the transfer
/// condition's deadline, and the ledger took it for a first leg with a longer timeout — the
/// administrator took Y back after its condition expired and still burned X with R. A second-leg
/// ledger refuses a burn request without the counter deadline.
#[test]
fn embodiment_4_a_burn_request_without_the_counter_deadline_is_refused() {
    let mut swap = Swap::new(Embodiment::Four);
    let lock = blake3_lock(&secret(0x14));
    swap.issue_and_offer(lock, None).unwrap();
    let offered = swap.check_condition(lock);
    swap.power.advance(5 * 60_000);
    assert_eq!(
        swap.register_burn(lock, None),
        Err("this contract holds second legs: the counter leg's deadline is required".into())
    );
    assert_eq!((swap.power.balance(&holder()), swap.power.escrowed()), (HELD, 0));
    // With it, the request is a second leg: 24 h, expiring at least the margin before Y's.
    let burn_id = swap.register_burn(lock, Some(offered.deadline_ms)).unwrap();
    let request = swap.power.burn_request(burn_id);
    assert_eq!(request.deadline_ms, swap.power.now() + SECOND_TIMEOUT_MS);
    assert!(request.deadline_ms + MARGIN_MS <= offered.deadline_ms);
}

/// A second leg registered too late for its counter leg — so that it would expire less than the
/// margin before it — is refused, in either embodiment; at the last safe moment it is accepted.
#[test]
fn a_second_leg_too_late_for_its_counter_deadline_is_refused() {
    for embodiment in Embodiment::BOTH {
        let mut swap = Swap::new(embodiment);
        let lock = blake3_lock(&secret(0x42));
        // The first leg, and its deadline on its own chain's clock.
        let (first_deadline, second_chain_now) = match embodiment {
            Embodiment::Three => {
                swap.register_burn(lock, None).unwrap();
                (swap.check_burn_request(lock).deadline_ms, swap.value.now())
            }
            Embodiment::Four => {
                swap.issue_and_offer(lock, None).unwrap();
                (swap.check_condition(lock).deadline_ms, swap.power.now())
            }
        };
        // The second leg's registration time from which it would expire within the margin.
        let last_safe = last_safe_registration(first_deadline);
        assert!(last_safe > second_chain_now);
        swap.advance(last_safe + 1 - second_chain_now);
        let register_second = |swap: &mut Swap| match embodiment {
            Embodiment::Three => swap.issue_and_offer(lock, Some(first_deadline)).map(|(_, id)| id),
            Embodiment::Four => swap.register_burn(lock, Some(first_deadline)),
        };
        let refused = register_second(&mut swap);
        assert!(refused.unwrap_err().starts_with("unsafe timeout order"), "{embodiment:?}");
        // The same second leg one millisecond earlier passes (fresh chains: the clocks never
        // run back).
        let mut swap = Swap::new(embodiment);
        match embodiment {
            Embodiment::Three => assert!(swap.register_burn(lock, None).is_ok()),
            Embodiment::Four => assert!(swap.issue_and_offer(lock, None).is_ok()),
        }
        swap.advance(last_safe - second_chain_now);
        register_second(&mut swap).unwrap();
    }
}

/// The contract cannot see the other chain, so it takes the counter deadline it is given. A
/// registrant who declares a later one than the truth can only hurt itself: here the holder (L2,
/// embodiment 4) declares 4 h more and registers its burn request 2 h late, so that it outlives
/// Y's condition; the administrator takes Y back at its deadline and still burns X with R.
#[test]
fn a_lying_counter_deadline_only_hurts_its_registrant() {
    let mut swap = Swap::new(Embodiment::Four);
    let r = secret(0x14);
    let lock = blake3_lock(&r);
    let (token, condition) = swap.issue_and_offer(lock, None).unwrap();
    let offered = swap.check_condition(lock);
    swap.set_clocks(offered.deadline_ms - SECOND_TIMEOUT_MS + HOUR_MS);
    let lie = offered.deadline_ms + 4 * HOUR_MS;
    assert!(swap.register_burn(lock, Some(offered.deadline_ms)).is_err());
    let burn_id = swap.register_burn(lock, Some(lie)).unwrap();
    let request = swap.power.burn_request(burn_id);
    assert!(request.deadline_ms > offered.deadline_ms);
    swap.set_clocks(offered.deadline_ms);
    swap.value.withdraw_condition(&admin(), condition).unwrap();
    swap.power.burn(&admin(), burn_id, r).unwrap();
    assert!(swap.value.transfer(&holder(), condition, r).is_err());
    assert_eq!(swap.value.token(token).holder, admin().address());
    assert_eq!(swap.power.balance(&holder()), HELD - X);
}

/// The latest time a second leg can be registered against a first leg expiring at
/// `first_deadline_ms` (on the second leg's chain clock): it then expires exactly the margin
/// before.
fn last_safe_registration(first_deadline_ms: u64) -> u64 {
    first_deadline_ms - SECOND_TIMEOUT_MS - MARGIN_MS
}

/// Embodiment 4, the administrator (who drew R) waits past its own transfer condition's deadline
/// to take Y back: by then the holder's burn request (a second leg, expiring at least the margin
/// earlier, even when registered at the last moment allowed) has expired, so R no longer burns X
/// — the administrator gets Y back, the holder its power. It cannot have both.
#[test]
fn embodiment_4_the_administrator_cannot_take_y_back_and_burn_x() {
    for registered_late in [false, true] {
        let mut swap = Swap::new(Embodiment::Four);
        let r = secret(0x14);
        let lock = blake3_lock(&r);
        let (token, condition) = swap.issue_and_offer(lock, None).unwrap();
        let offered = swap.check_condition(lock);
        match registered_late {
            false => swap.advance(5 * 60_000),
            true => swap.set_clocks(last_safe_registration(offered.deadline_ms)),
        }
        let burn_id = swap.register_burn(lock, Some(offered.deadline_ms)).unwrap();
        let request = swap.check_burn_request(lock);
        // 14 lets the condition expire (the power chain's clock 3 s behind).
        swap.set_clocks(offered.deadline_ms - VALUE_CLOCK_AHEAD_MS);
        assert_eq!(swap.value.now(), offered.deadline_ms);
        assert!(swap.power.now() >= request.deadline_ms + MARGIN_MS - VALUE_CLOCK_AHEAD_MS);
        swap.value.withdraw_condition(&admin(), condition).unwrap();
        assert_eq!(swap.value.token(token).holder, admin().address());
        // The burn request expired about the margin ago: R does not burn X any more.
        assert!(swap.power.burn(&admin(), burn_id, r).unwrap_err().contains("expired"));
        swap.power.withdraw_burn(&holder(), burn_id).unwrap();
        assert_eq!((swap.power.balance(&holder()), swap.power.escrowed()), (HELD, 0));
        assert_eq!(swap.power.supply(), HELD);
    }
}

/// Embodiment 4, the administrator burns X at the last moment: R is public just before the burn
/// request's deadline, and the holder, reading it half a margin later, still claims Y.
#[test]
fn embodiment_4_a_last_moment_burn_leaves_the_holder_the_margin() {
    let mut swap = Swap::new(Embodiment::Four);
    let r = secret(0x14);
    let lock = blake3_lock(&r);
    let (token, condition) = swap.issue_and_offer(lock, None).unwrap();
    let offered = swap.check_condition(lock);
    // The holder answered at the last moment allowed: its request expires just the margin
    // before Y's condition.
    swap.set_clocks(last_safe_registration(offered.deadline_ms));
    let burn_id = swap.register_burn(lock, Some(offered.deadline_ms)).unwrap();
    let request = swap.check_burn_request(lock);
    assert_eq!(request.deadline_ms + MARGIN_MS, offered.deadline_ms);
    swap.set_clocks(request.deadline_ms - 1);
    swap.power.burn(&admin(), burn_id, r).unwrap();
    let published = swap.secret_from_power_chain(burn_id);
    swap.advance(MARGIN_MS / 2);
    swap.value.transfer(&holder(), condition, published).unwrap();
    swap.assert_converted_once(burn_id, token, condition, r);
}

/// Embodiment 3 from the administrator's side: the holder (who drew R) waits past its burn
/// request's deadline to take X back; by then the administrator's transfer condition (a second
/// leg) has expired, so R no longer takes Y — the holder gets its power back, the administrator
/// keeps Y.
#[test]
fn embodiment_3_the_holder_cannot_take_x_back_and_claim_y() {
    for registered_late in [false, true] {
        let mut swap = Swap::new(Embodiment::Three);
        let r = secret(0x24);
        let lock = blake3_lock(&r);
        let burn_id = swap.register_burn(lock, None).unwrap();
        let request = swap.check_burn_request(lock);
        match registered_late {
            false => swap.advance(10 * 60_000),
            true => {
                swap.set_clocks(last_safe_registration(request.deadline_ms) - VALUE_CLOCK_AHEAD_MS)
            }
        }
        let (token, condition) = swap.issue_and_offer(lock, Some(request.deadline_ms)).unwrap();
        let offered = swap.check_condition(lock);
        assert!(offered.deadline_ms + MARGIN_MS <= request.deadline_ms);
        swap.set_clocks(request.deadline_ms);
        swap.power.withdraw_burn(&holder(), burn_id).unwrap();
        assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (HELD, HELD));
        // The condition expired at least the margin ago: R does not take Y any more.
        assert!(swap.value.now() >= offered.deadline_ms + MARGIN_MS);
        assert!(swap.value.transfer(&holder(), condition, r).unwrap_err().contains("expired"));
        swap.value.withdraw_condition(&admin(), condition).unwrap();
        assert_eq!(swap.value.token(token).holder, admin().address());
    }
}

/// Embodiment 3, the holder claims Y at the last moment: the administrator reads R half a margin
/// later and still burns X.
#[test]
fn embodiment_3_a_last_moment_claim_leaves_the_administrator_the_margin() {
    let mut swap = Swap::new(Embodiment::Three);
    let r = secret(0x24);
    let lock = blake3_lock(&r);
    let burn_id = swap.register_burn(lock, None).unwrap();
    let request = swap.check_burn_request(lock);
    // 14 answered at the last moment allowed.
    swap.set_clocks(last_safe_registration(request.deadline_ms) - VALUE_CLOCK_AHEAD_MS);
    let (token, condition) = swap.issue_and_offer(lock, Some(request.deadline_ms)).unwrap();
    let offered = swap.check_condition(lock);
    assert_eq!(offered.deadline_ms + MARGIN_MS, request.deadline_ms);
    swap.set_clocks(offered.deadline_ms - 1 - VALUE_CLOCK_AHEAD_MS);
    swap.value.transfer(&holder(), condition, r).unwrap();
    let published = swap.secret_from_value_chain(condition);
    swap.advance(MARGIN_MS / 2);
    swap.power.burn(&admin(), burn_id, published).unwrap();
    swap.assert_converted_once(burn_id, token, condition, r);
}

/// Embodiment 3 where 14 never offers Y: 24 gets its power back after TIMEOUT_N, not before.
#[test]
fn abort_no_counter_leg_the_holder_withdraws_after_the_timeout() {
    let mut swap = Swap::new(Embodiment::Three);
    let lock = blake3_lock(&secret(0x24));
    let burn_id = swap.register_burn(lock, None).unwrap();
    swap.power.advance(47 * HOUR_MS);
    assert_eq!(
        swap.power.withdraw_burn(&holder(), burn_id),
        Err("the timeout has not passed yet".into())
    );
    swap.power.advance(HOUR_MS);
    swap.power.withdraw_burn(&holder(), burn_id).unwrap();
    assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (HELD, HELD));
}

/// Embodiment 3 where 24 never claims Y: the condition expires first (14 takes Y back), then the
/// burn request (24 takes X back); R was never revealed, so neither side completes.
#[test]
fn abort_the_holder_never_claims_both_sides_withdraw() {
    let mut swap = Swap::new(Embodiment::Three);
    let r = secret(0x24);
    let lock = blake3_lock(&r);
    let burn_id = swap.register_burn(lock, None).unwrap();
    let request = swap.check_burn_request(lock);
    let (token, condition) = swap.issue_and_offer(lock, Some(request.deadline_ms)).unwrap();
    swap.value.advance(24 * HOUR_MS);
    // Too late for 24 to claim; 14 withdraws the condition.
    assert!(swap.value.transfer(&holder(), condition, r).unwrap_err().contains("expired"));
    swap.value.withdraw_condition(&admin(), condition).unwrap();
    assert_eq!(
        (swap.value.token(token).holder, swap.value.token(token).locked_by),
        (admin().address(), None)
    );
    // 14 cannot burn without R, and 24 withdraws after TIMEOUT_N.
    assert!(swap.power.burn(&admin(), burn_id, secret(0)).unwrap_err().starts_with("wrong secret"));
    swap.power.advance(48 * HOUR_MS);
    swap.power.withdraw_burn(&holder(), burn_id).unwrap();
    assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (HELD, HELD));
}

/// A leg offered with a wrong lock, or claimed by someone else, does not open the other.
#[test]
fn abort_wrong_secret_and_wrong_signer_across_the_chains() {
    let mut swap = Swap::new(Embodiment::Three);
    let r = secret(0x24);
    let lock = sha256_lock(&r);
    let burn_id = swap.register_burn(lock, None).unwrap();
    let request = swap.check_burn_request(lock);
    let (_, condition) = swap.issue_and_offer(lock, Some(request.deadline_ms)).unwrap();
    // The stranger has nothing to claim with; 24 with a wrong R fails; 14 cannot take Y itself.
    assert!(swap
        .value
        .transfer(&holder(), condition, secret(1))
        .unwrap_err()
        .starts_with("wrong secret"));
    assert_eq!(
        swap.value.transfer(&stranger(), condition, r),
        Err("only the permitted address may claim".into())
    );
    assert_eq!(
        swap.value.transfer(&admin(), condition, r),
        Err("only the permitted address may claim".into())
    );
    // Once 24 has claimed, only 14 can burn; 24 cannot burn its own escrow to dodge.
    swap.value.transfer(&holder(), condition, r).unwrap();
    let published = swap.secret_from_value_chain(condition);
    assert_eq!(
        swap.power.burn(&holder(), burn_id, published),
        Err("only the permitted address may claim".into())
    );
    // 14's signature of the value chain's claim is not a burn claim either.
    let sig = admin().sign_claim(&swap.value.transfer_claim(condition, published));
    assert!(swap
        .power
        .call::<_, ()>(&admin(), pl::burn, (burn_id, published, sig))
        .unwrap_err()
        .starts_with("the signature"));
    swap.power.burn(&admin(), burn_id, published).unwrap();
    assert_eq!(swap.power.supply(), HELD - X);
}

/// The same power cannot be converted twice: with exactly X held, after the swap there is nothing
/// left to escrow for a second conversion.
#[test]
fn the_same_power_cannot_be_converted_twice() {
    let mut swap = Swap::holding(Embodiment::Three, X);
    let r = secret(0x24);
    let lock = blake3_lock(&r);
    let burn_id = swap.register_burn(lock, None).unwrap();
    // While escrowed, the same power cannot back a second request either.
    assert_eq!(
        swap.register_burn(blake3_lock(&secret(2)), None),
        Err("amount exceeds the creator's balance".into())
    );
    let deadline = swap.check_burn_request(lock).deadline_ms;
    let (_, condition) = swap.issue_and_offer(lock, Some(deadline)).unwrap();
    swap.value.transfer(&holder(), condition, r).unwrap();
    swap.power.burn(&admin(), burn_id, r).unwrap();
    assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (0, 0));
    assert_eq!(
        swap.register_burn(blake3_lock(&secret(3)), None),
        Err("amount exceeds the creator's balance".into())
    );
    assert_eq!(swap.power.burn(&admin(), burn_id, r), Err("already completed".into()));
}
