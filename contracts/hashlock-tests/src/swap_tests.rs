//! The swap of JP6980288B2 across two chains: power information X on the power chain (SC1) for a
//! value certificate Y on the value chain (SC2), both legs locked to one secret R. Each side reads
//! the other chain only through its contract's views and events, as a relayer would.

use crate::chain::*;
use crate::power_ledger::{self as pl, BurnRequest, LegStatus, Lock, Secret};
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
    /// Both chains, with the holder's power issued.
    fn new() -> Swap {
        let mut power = Chain::power();
        power.call::<_, ()>(&admin(), pl::issue, (HELD, holder().address())).unwrap();
        Swap { power, value: Chain::value() }
    }

    /// Terminal 24 registers the burn request (X, H_R, terminal 14).
    fn register_burn(
        &mut self,
        lock: Lock,
        timeout_ms: u64,
        counter: Option<u64>,
    ) -> Result<u64, String> {
        self.power.call(
            &holder(),
            pl::register_burn_request,
            (X, lock, admin().address(), timeout_ms, counter),
        )
    }

    /// Terminal 14 issues Y and registers its transfer condition (token, H_R, terminal 24).
    fn issue_and_offer(
        &mut self,
        lock: Lock,
        timeout_ms: u64,
        counter: Option<u64>,
    ) -> Result<(u64, u64), String> {
        let token = self.value.call(&admin(), vc::issue, (Y_CONTENT, None::<Address>))?;
        let id = self.value.call(
            &admin(),
            vc::register_transfer_condition,
            (token, lock, holder().address(), timeout_ms, counter),
        )?;
        Ok((token, id))
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
        assert_eq!(
            self.register_burn(lock, 48 * HOUR_MS, None),
            Err("this lock hash was already used".into())
        );
        assert_eq!(
            self.value.call::<_, u64>(&admin(), vc::issue, (Y_CONTENT, None::<Address>)),
            Err("this content is already certified".into())
        );
    }
}

fn embodiment_3(lock_of: fn(&Secret) -> Lock) {
    let mut swap = Swap::new();
    // 1. Terminal 24 draws R and sends H_R to 14.
    let r = secret(0x24);
    let lock = lock_of(&r);
    // 2. 24 → power chain: the burn request, the first leg (TIMEOUT_N = 48 h).
    let burn_id = swap.register_burn(lock, 48 * HOUR_MS, None).unwrap();
    assert_eq!(swap.power.balance(&holder()), HELD - X);
    // 3. 14 checks it; 4. 14 → value chain: issue Y, then the transfer condition, the second
    // leg (TIMEOUT_M = 24 h), checked against the burn request's deadline.
    let request = swap.check_burn_request(lock);
    swap.value.advance(10 * 60_000);
    let (token, condition) =
        swap.issue_and_offer(lock, 24 * HOUR_MS, Some(request.deadline_ms)).unwrap();
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
    let mut swap = Swap::new();
    // 14 draws R; issues Y and registers the transfer condition, the first leg (TIMEOUT_M = 48 h).
    let r = secret(0x14);
    let lock = blake3_lock(&r);
    let (token, condition) = swap.issue_and_offer(lock, 48 * HOUR_MS, None).unwrap();
    // 24 checks it, then registers the burn request, the second leg (TIMEOUT_N = 24 h), checked
    // against the condition's deadline.
    let offered = swap.check_condition(lock);
    swap.power.advance(5 * 60_000);
    let burn_id = swap.register_burn(lock, 24 * HOUR_MS, Some(offered.deadline_ms)).unwrap();
    // 14 checks the request and burns X with R: R becomes public on the power chain.
    swap.check_burn_request(lock);
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
/// back too. The burn request (second leg) is refused when it outlives the transfer condition.
#[test]
fn embodiment_4_with_the_unsafe_timeout_order_is_refused() {
    let mut swap = Swap::new();
    let lock = blake3_lock(&secret(0x14));
    let (_, _) = swap.issue_and_offer(lock, 24 * HOUR_MS, None).unwrap();
    let offered = swap.check_condition(lock);
    let refused = swap.register_burn(lock, 48 * HOUR_MS, Some(offered.deadline_ms));
    assert!(refused.unwrap_err().starts_with("unsafe timeout order"));
    // Nor with a timeout that ends within the margin of the condition's deadline.
    let within_margin = offered.deadline_ms - swap.power.now() - MARGIN_MS + 1;
    let refused = swap.register_burn(lock, within_margin, Some(offered.deadline_ms));
    assert!(refused.unwrap_err().starts_with("unsafe timeout order"));
    swap.register_burn(lock, within_margin - 1, Some(offered.deadline_ms)).unwrap();
    assert_eq!(swap.power.balance(&holder()), HELD - X);
}

/// Embodiment 3 where 14 never offers Y: 24 gets its power back after TIMEOUT_N, not before.
#[test]
fn abort_no_counter_leg_the_holder_withdraws_after_the_timeout() {
    let mut swap = Swap::new();
    let lock = blake3_lock(&secret(0x24));
    let burn_id = swap.register_burn(lock, 48 * HOUR_MS, None).unwrap();
    swap.power.advance(47 * HOUR_MS);
    assert_eq!(
        swap.power.call::<_, ()>(&holder(), pl::withdraw_burn_request, (burn_id,)),
        Err("the timeout has not passed yet".into())
    );
    swap.power.advance(HOUR_MS);
    swap.power.call::<_, ()>(&holder(), pl::withdraw_burn_request, (burn_id,)).unwrap();
    assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (HELD, HELD));
}

/// Embodiment 3 where 24 never claims Y: the condition expires first (14 takes Y back), then the
/// burn request (24 takes X back); R was never revealed, so neither side completes.
#[test]
fn abort_the_holder_never_claims_both_sides_withdraw() {
    let mut swap = Swap::new();
    let r = secret(0x24);
    let lock = blake3_lock(&r);
    let burn_id = swap.register_burn(lock, 48 * HOUR_MS, None).unwrap();
    let request = swap.check_burn_request(lock);
    let (token, condition) =
        swap.issue_and_offer(lock, 24 * HOUR_MS, Some(request.deadline_ms)).unwrap();
    swap.value.advance(24 * HOUR_MS);
    // Too late for 24 to claim; 14 withdraws the condition.
    assert!(swap.value.transfer(&holder(), condition, r).unwrap_err().contains("expired"));
    swap.value.call::<_, ()>(&admin(), vc::withdraw_transfer_condition, (condition,)).unwrap();
    assert_eq!(
        (swap.value.token(token).holder, swap.value.token(token).locked_by),
        (admin().address(), None)
    );
    // 14 cannot burn without R, and 24 withdraws after TIMEOUT_N.
    assert!(swap.power.burn(&admin(), burn_id, secret(0)).unwrap_err().starts_with("wrong secret"));
    swap.power.advance(48 * HOUR_MS);
    swap.power.call::<_, ()>(&holder(), pl::withdraw_burn_request, (burn_id,)).unwrap();
    assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (HELD, HELD));
}

/// A leg offered with a wrong lock, or claimed by someone else, does not open the other.
#[test]
fn abort_wrong_secret_and_wrong_signer_across_the_chains() {
    let mut swap = Swap::new();
    let r = secret(0x24);
    let lock = sha256_lock(&r);
    let burn_id = swap.register_burn(lock, 48 * HOUR_MS, None).unwrap();
    let request = swap.check_burn_request(lock);
    let (_, condition) =
        swap.issue_and_offer(lock, 24 * HOUR_MS, Some(request.deadline_ms)).unwrap();
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
    let mut swap = Swap { power: Chain::power(), value: Chain::value() };
    swap.power.call::<_, ()>(&admin(), pl::issue, (X, holder().address())).unwrap();
    let r = secret(0x24);
    let lock = blake3_lock(&r);
    let burn_id = swap.register_burn(lock, 48 * HOUR_MS, None).unwrap();
    // While escrowed, the same power cannot back a second request either.
    assert_eq!(
        swap.register_burn(blake3_lock(&secret(2)), 48 * HOUR_MS, None),
        Err("amount exceeds the creator's balance".into())
    );
    let deadline = swap.check_burn_request(lock).deadline_ms;
    let (_, condition) = swap.issue_and_offer(lock, 24 * HOUR_MS, Some(deadline)).unwrap();
    swap.value.transfer(&holder(), condition, r).unwrap();
    swap.power.burn(&admin(), burn_id, r).unwrap();
    assert_eq!((swap.power.balance(&holder()), swap.power.supply()), (0, 0));
    assert_eq!(
        swap.register_burn(blake3_lock(&secret(3)), 48 * HOUR_MS, None),
        Err("amount exceeds the creator's balance".into())
    );
    assert_eq!(swap.power.burn(&admin(), burn_id, r), Err("already completed".into()));
}
