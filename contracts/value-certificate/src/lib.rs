//! SC2 of JP6980288B2 (`shared/specs/hashlock.md`): value certificates on platform 2.
//!
//! The administrator issues value information Y as a token (a unique id, the hash of its content,
//! a holder). The holder of a token registers a **transfer condition**: the token is locked under
//! H_R for a destination. Presenting R before the deadline, the destination takes the token, and
//! R is stored in the condition (and emitted), where the other side of the swap reads it. After the
//! deadline the registrant can only withdraw the condition, which unlocks the token.
//!
//! The timeout rules, the lock and the claim signature are `hashlock-core`'s (read its crate docs
//! for the safe order of the two legs). A content hash is certified once, and a token is locked by
//! at most one active condition. Native tests: `contracts/hashlock-tests`.
//!
//! Storage (maps in `abi.json`): `t/` tokens, `c/` transfer conditions, `l/` lock hash → condition
//! id, `h/` (holder, token id big-endian) → true, `x/` content hash → token id; items `admin`,
//! `rules`, `next_token`, `next_condition`.
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
const NEXT_TOKEN: Item<u64> = Item::new(b"next_token");
const NEXT_CONDITION: Item<u64> = Item::new(b"next_condition");
const TOKENS: Map<u64, Token> = Map::new(b"t/");
const CONDITIONS: Map<u64, TransferCondition> = Map::new(b"c/");
/// Lock hash → the condition that used it; a lock hash is used once, ever.
const LOCKS: Map<[u8; 32], u64> = Map::new(b"l/");
/// (holder, token id big-endian) → true: each holder's tokens in id order.
const HOLDINGS: Map<(Address, [u8; 8]), bool> = Map::new(b"h/");
/// Content hash → token id.
const CONTENTS: Map<[u8; 32], u64> = Map::new(b"x/");

type Res<T> = Result<T, &'static str>;

kessai_sdk::methods! {
    /// Run once at instantiation: `admin` issues certificates. The embodiment fixes `order`
    /// (embodiment 3: transfer conditions are second legs; embodiment 4: first legs) and
    /// `timeout_ms` (TIMEOUT_M: every transfer condition's); a second leg expires at least
    /// `margin_ms` before its counter leg.
    pub fn init(admin: Address, order: LegOrder, timeout_ms: u64, margin_ms: u64) -> Res<()> {
        if ADMIN.exists() {
            return Err("already initialised");
        }
        let rules = TimeoutRules { order, timeout_ms, margin_ms };
        rules.validate()?;
        ADMIN.set(&admin);
        RULES.set(&rules);
        NEXT_TOKEN.set(&1);
        NEXT_CONDITION.set(&1);
        Ok(())
    }

    /// Mints a certificate for `content_hash` (the hash of Y's content), held by `holder` or by
    /// the administrator. Only the administrator. Returns the token id.
    pub fn issue(content_hash: [u8; 32], holder: Option<Address>) -> Res<u64> {
        let admin = only_admin()?;
        let holder = holder.unwrap_or(admin);
        if holder == Address::SYSTEM {
            return Err("cannot issue to the zero address");
        }
        if CONTENTS.contains(&content_hash) {
            return Err("this content is already certified");
        }
        let id = NEXT_TOKEN.get().unwrap_or(1);
        NEXT_TOKEN.set(&(id + 1));
        let token =
            Token { id, content_hash, holder, issued_at_ms: block_time_ms(), locked_by: None };
        TOKENS.insert(&id, &token);
        HOLDINGS.insert(&(holder, id.to_be_bytes()), &true);
        CONTENTS.insert(&content_hash, &id);
        emit("issued", &token);
        Ok(id)
    }

    /// The holder (the caller) locks `token_id` under `lock` for `destination`. The timeout is
    /// the deployment's; `counter_deadline_ms` is the deadline of the counter leg (the burn
    /// request on platform 1), required where transfer conditions are second legs (embodiment 3)
    /// and refused where they are first legs (see `hashlock-core`). Returns the condition id.
    pub fn register_transfer_condition(
        token_id: u64,
        lock: Lock,
        destination: Address,
        counter_deadline_ms: Option<u64>
    ) -> Res<u64> {
        let mut token = TOKENS.get(&token_id).ok_or("no such token")?;
        let registrant = caller();
        if token.holder != registrant {
            return Err("only the token's holder may register a transfer condition");
        }
        if token.locked_by.is_some() {
            return Err("the token is locked by an active transfer condition");
        }
        if destination == Address::SYSTEM {
            return Err("the destination cannot be the zero address");
        }
        let now = block_time_ms();
        let rules = timeout_rules()?;
        let deadline_ms = rules.deadline(now, counter_deadline_ms)?;
        if LOCKS.contains(&lock.hash) {
            return Err("this lock hash was already used");
        }
        let id = NEXT_CONDITION.get().unwrap_or(1);
        NEXT_CONDITION.set(&(id + 1));
        let condition = TransferCondition {
            id,
            token_id,
            lock,
            destination,
            timestamp_ms: now,
            status: LegStatus::Active,
            registrant,
            timeout_ms: rules.timeout_ms,
            deadline_ms,
            counter_deadline_ms,
        };
        token.locked_by = Some(id);
        TOKENS.insert(&token_id, &token);
        CONDITIONS.insert(&id, &condition);
        LOCKS.insert(&lock.hash, &id);
        emit("condition_registered", &condition);
        Ok(id)
    }

    /// The registrant takes an active condition back after its timeout: the token is unlocked
    /// and stays with it.
    pub fn withdraw_transfer_condition(id: u64) -> Res<()> {
        let mut condition = CONDITIONS.get(&id).ok_or("no such transfer condition")?;
        if caller() != condition.registrant {
            return Err("only the registrant may withdraw the transfer condition");
        }
        let now = block_time_ms();
        condition.status.check_withdrawable(condition.deadline_ms, now)?;
        condition.status = LegStatus::Withdrawn { at_ms: now };
        let mut token = TOKENS.get(&condition.token_id).ok_or("no such token")?;
        token.locked_by = None;
        TOKENS.insert(&token.id, &token);
        CONDITIONS.insert(&id, &condition);
        emit("condition_withdrawn", &condition);
        Ok(())
    }

    /// The destination (the caller) takes the token with the secret before the deadline; `sig` is
    /// its ed25519 signature of the claim message (`claim_message`). The condition records the
    /// secret (and the `transferred` event carries it) and never executes again.
    pub fn transfer(id: u64, preimage: Secret, sig: [u8; 64]) -> Res<()> {
        let mut condition = CONDITIONS.get(&id).ok_or("no such transfer condition")?;
        let now = block_time_ms();
        condition.status.check_claimable(condition.deadline_ms, now)?;
        hashlock_core::check_claim(&claim_of(&condition, preimage), caller(), &sig)?;
        condition.status = LegStatus::Claimed { preimage, at_ms: now };
        let mut token = TOKENS.get(&condition.token_id).ok_or("no such token")?;
        HOLDINGS.remove(&(token.holder, token.id.to_be_bytes()));
        token.holder = condition.destination;
        token.locked_by = None;
        HOLDINGS.insert(&(token.holder, token.id.to_be_bytes()), &true);
        TOKENS.insert(&token.id, &token);
        CONDITIONS.insert(&id, &condition);
        emit("transferred", &condition);
        Ok(())
    }

    pub fn admin() -> Res<Address> {
        ADMIN.get().ok_or("not initialised")
    }

    pub fn rules() -> Res<TimeoutRules> {
        timeout_rules()
    }

    pub fn token(id: u64) -> Res<Option<Token>> {
        Ok(TOKENS.get(&id))
    }

    /// The certificate of `content_hash`, if issued.
    pub fn token_by_content(content_hash: [u8; 32]) -> Res<Option<Token>> {
        Ok(CONTENTS.get(&content_hash).and_then(|id| TOKENS.get(&id)))
    }

    /// Every token `holder` holds, in id order.
    pub fn tokens_of(holder: Address) -> Res<Vec<Token>> {
        Ok(HOLDINGS
            .iter_prefix(&holder)
            .filter_map(|((_, id), _)| TOKENS.get(&u64::from_be_bytes(id)))
            .collect())
    }

    pub fn transfer_condition(id: u64) -> Res<Option<TransferCondition>> {
        Ok(CONDITIONS.get(&id))
    }

    /// The condition locked by `lock_hash` (H_R), if any.
    pub fn transfer_condition_by_lock(lock_hash: [u8; 32]) -> Res<Option<TransferCondition>> {
        Ok(LOCKS.get(&lock_hash).and_then(|id| CONDITIONS.get(&id)))
    }

    /// The bytes the destination signs to claim condition `id` with `preimage`.
    pub fn claim_message(id: u64, preimage: Secret) -> Res<Vec<u8>> {
        let condition = CONDITIONS.get(&id).ok_or("no such transfer condition")?;
        Ok(hashlock_core::claim_message(&claim_of(&condition, preimage)))
    }
}

/// The administrator, if it is the caller.
fn only_admin() -> Res<Address> {
    match ADMIN.get() {
        Some(admin) if admin == caller() => Ok(admin),
        Some(_) => Err("only the admin"),
        None => Err("not initialised"),
    }
}

fn timeout_rules() -> Res<TimeoutRules> {
    RULES.get().ok_or("not initialised")
}

fn claim_of(condition: &TransferCondition, preimage: Secret) -> ClaimMessage {
    ClaimMessage {
        action: ClaimAction::Transfer,
        contract: self_address(),
        request_id: condition.id,
        registered_at_ms: condition.timestamp_ms,
        lock: condition.lock,
        preimage,
        claimant: condition.destination,
    }
}
