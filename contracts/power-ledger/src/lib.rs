//! SC1 of JP6980288B2 (`shared/specs/hashlock.md`): the power ledger of platform 1.
//!
//! The administrator (a certified third party) issues power information to holders; holders move
//! it between themselves. To convert power into a value certificate on platform 2, a holder
//! registers a **burn request**: the amount X is taken from its balance into escrow, locked by
//! H_R, for the permitted address (the administrator). Presenting R before the deadline, the
//! permitted address burns X — it leaves the total supply for good, so the same power cannot be
//! counted twice. After the deadline the creator can only withdraw it back to its balance.
//!
//! The timeout rules, the lock and the claim signature are `hashlock-core`'s (read its crate docs
//! for the safe order of the two legs). Invariant: `total_supply = Σ balances + escrowed`, and only
//! `issue` (up) and `burn` (down) change the total supply. Native tests: `contracts/hashlock-tests`.
//!
//! Storage (maps in `abi.json`): `b/` balances, `r/` burn requests by id, `l/` lock hash → request
//! id; items `admin`, `rules`, `supply`, `escrowed`, `next_id`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod types;

use alloc::vec::Vec;
pub use hashlock_core::{
    ClaimAction, ClaimMessage, HashAlgorithm, LegOrder, LegStatus, Lock, Secret, TimeoutRules,
};
use kessai_sdk::{block_time_ms, caller, emit, self_address, Address, Item, Map};
pub use types::*;

kessai_sdk::abi!("../abi.json");

const ADMIN: Item<Address> = Item::new(b"admin");
const RULES: Item<TimeoutRules> = Item::new(b"rules");
const SUPPLY: Item<u64> = Item::new(b"supply");
const ESCROWED: Item<u64> = Item::new(b"escrowed");
const NEXT_ID: Item<u64> = Item::new(b"next_id");
/// Holder → balance; a zero balance has no entry.
const BALANCES: Map<Address, u64> = Map::new(b"b/");
const REQUESTS: Map<u64, BurnRequest> = Map::new(b"r/");
/// Lock hash → the request that used it; a lock hash is used once, ever.
const LOCKS: Map<[u8; 32], u64> = Map::new(b"l/");

type Res<T> = Result<T, &'static str>;

kessai_sdk::methods! {
    /// Run once at instantiation: `admin` issues power information and is, in the patent, the
    /// permitted address of burn requests. The embodiment fixes `order` (embodiment 3: burn
    /// requests are first legs; embodiment 4: second legs) and `timeout_ms` (TIMEOUT_N: every
    /// burn request's); a second leg expires at least `margin_ms` before its counter leg.
    pub fn init(admin: Address, order: LegOrder, timeout_ms: u64, margin_ms: u64) -> Res<()> {
        if ADMIN.exists() {
            return Err("already initialised");
        }
        let rules = TimeoutRules { order, timeout_ms, margin_ms };
        rules.validate()?;
        ADMIN.set(&admin);
        RULES.set(&rules);
        SUPPLY.set(&0);
        ESCROWED.set(&0);
        NEXT_ID.set(&1);
        Ok(())
    }

    /// Adds `amount` to `to`'s balance and to the total supply. Only the administrator.
    /// (A 100, B 50; issue(20, A) → A 120, B 50.)
    pub fn issue(amount: u64, to: Address) -> Res<()> {
        only_admin()?;
        if amount == 0 {
            return Err("amount must be positive");
        }
        if to == Address::SYSTEM {
            return Err("cannot issue to the zero address");
        }
        let total_supply = supply().checked_add(amount).ok_or("total supply overflow")?;
        SUPPLY.set(&total_supply);
        credit(to, amount);
        emit("issued", &Issued { to, amount, total_supply });
        Ok(())
    }

    /// Moves `amount` of the caller's power information to `to`.
    pub fn transfer(to: Address, amount: u64) -> Res<()> {
        if amount == 0 {
            return Err("amount must be positive");
        }
        if to == Address::SYSTEM {
            return Err("cannot transfer to the zero address");
        }
        let from = caller();
        debit(from, amount)?;
        credit(to, amount);
        emit("transferred", &Transferred { from, to, amount });
        Ok(())
    }

    /// The caller asks for `amount` of its power to be burned by `permitted` on presenting the
    /// secret of `lock`: the amount moves from its balance into escrow. The timeout is the
    /// deployment's; `counter_deadline_ms` is the deadline of the counter leg (the transfer
    /// condition on platform 2), required where burn requests are second legs (embodiment 4) and
    /// refused where they are first legs (see `hashlock-core`). Returns the request id.
    pub fn register_burn_request(
        amount: u64,
        lock: Lock,
        permitted: Address,
        counter_deadline_ms: Option<u64>
    ) -> Res<u64> {
        if amount == 0 {
            return Err("amount must be positive");
        }
        if permitted == Address::SYSTEM {
            return Err("the permitted address cannot be the zero address");
        }
        let now = block_time_ms();
        let rules = timeout_rules()?;
        let deadline_ms = rules.deadline(now, counter_deadline_ms)?;
        if LOCKS.contains(&lock.hash) {
            return Err("this lock hash was already used");
        }
        let creator = caller();
        if balance(creator) < amount {
            return Err("amount exceeds the creator's balance");
        }
        debit(creator, amount)?;
        ESCROWED.set(&(escrow_total() + amount));
        let id = NEXT_ID.get().unwrap_or(1);
        NEXT_ID.set(&(id + 1));
        let request = BurnRequest {
            id,
            amount,
            lock,
            permitted,
            timestamp_ms: now,
            status: LegStatus::Active,
            creator,
            timeout_ms: rules.timeout_ms,
            deadline_ms,
            counter_deadline_ms,
        };
        REQUESTS.insert(&id, &request);
        LOCKS.insert(&lock.hash, &id);
        emit("burn_requested", &request);
        Ok(id)
    }

    /// The creator takes an active request back after its timeout: the escrow returns to its
    /// balance.
    pub fn withdraw_burn_request(id: u64) -> Res<()> {
        let mut request = REQUESTS.get(&id).ok_or("no such burn request")?;
        if caller() != request.creator {
            return Err("only the creator may withdraw the burn request");
        }
        let now = block_time_ms();
        request.status.check_withdrawable(request.deadline_ms, now)?;
        request.status = LegStatus::Withdrawn { at_ms: now };
        ESCROWED.set(&(escrow_total() - request.amount));
        credit(request.creator, request.amount);
        REQUESTS.insert(&id, &request);
        emit("burn_withdrawn", &request);
        Ok(())
    }

    /// The permitted address (the caller) burns the escrowed amount with the secret before the
    /// deadline; `sig` is its ed25519 signature of the claim message (`claim_message`). The amount
    /// leaves the total supply; the request records the secret and never executes again.
    pub fn burn(id: u64, preimage: Secret, sig: [u8; 64]) -> Res<()> {
        let mut request = REQUESTS.get(&id).ok_or("no such burn request")?;
        let now = block_time_ms();
        request.status.check_claimable(request.deadline_ms, now)?;
        hashlock_core::check_claim(&claim_of(&request, preimage), caller(), &sig)?;
        request.status = LegStatus::Claimed { preimage, at_ms: now };
        ESCROWED.set(&(escrow_total() - request.amount));
        SUPPLY.set(&(supply() - request.amount));
        REQUESTS.insert(&id, &request);
        emit("burned", &request);
        Ok(())
    }

    pub fn admin() -> Res<Address> {
        ADMIN.get().ok_or("not initialised")
    }

    pub fn rules() -> Res<TimeoutRules> {
        timeout_rules()
    }

    /// Σ balances + escrowed.
    pub fn total_supply() -> Res<u64> {
        Ok(supply())
    }

    /// The amount held by active burn requests.
    pub fn escrowed() -> Res<u64> {
        Ok(escrow_total())
    }

    pub fn balance_of(holder: Address) -> Res<u64> {
        Ok(balance(holder))
    }

    pub fn burn_request(id: u64) -> Res<Option<BurnRequest>> {
        Ok(REQUESTS.get(&id))
    }

    /// The request locked by `lock_hash` (H_R), if any.
    pub fn burn_request_by_lock(lock_hash: [u8; 32]) -> Res<Option<BurnRequest>> {
        Ok(LOCKS.get(&lock_hash).and_then(|id| REQUESTS.get(&id)))
    }

    /// The bytes the permitted address signs to burn request `id` with `preimage`.
    pub fn claim_message(id: u64, preimage: Secret) -> Res<Vec<u8>> {
        let request = REQUESTS.get(&id).ok_or("no such burn request")?;
        Ok(hashlock_core::claim_message(&claim_of(&request, preimage)))
    }
}

fn only_admin() -> Res<()> {
    match ADMIN.get() {
        Some(admin) if admin == caller() => Ok(()),
        Some(_) => Err("only the admin"),
        None => Err("not initialised"),
    }
}

fn supply() -> u64 {
    SUPPLY.get().unwrap_or(0)
}

fn escrow_total() -> u64 {
    ESCROWED.get().unwrap_or(0)
}

fn timeout_rules() -> Res<TimeoutRules> {
    RULES.get().ok_or("not initialised")
}

fn balance(holder: Address) -> u64 {
    BALANCES.get(&holder).unwrap_or(0)
}

/// Cannot overflow: every balance is part of the total supply, which `issue` keeps in a u64.
fn credit(holder: Address, amount: u64) {
    BALANCES.insert(&holder, &(balance(holder) + amount));
}

fn debit(holder: Address, amount: u64) -> Res<()> {
    let left = balance(holder).checked_sub(amount).ok_or("insufficient balance")?;
    if left == 0 {
        BALANCES.remove(&holder);
    } else {
        BALANCES.insert(&holder, &left);
    }
    Ok(())
}

fn claim_of(request: &BurnRequest, preimage: Secret) -> ClaimMessage {
    ClaimMessage {
        action: ClaimAction::Burn,
        contract: self_address(),
        request_id: request.id,
        registered_at_ms: request.timestamp_ms,
        lock: request.lock,
        preimage,
        claimant: request.permitted,
    }
}
