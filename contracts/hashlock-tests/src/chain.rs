//! The test harness: parties with ed25519 keys, a [`Chain`] (one contract on its own chain, with
//! its own storage, events and block clock), and the claim signatures.

use crate::{power_ledger as pl, value_certificate as vc};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};
use hashlock_core::{
    claim_message, ClaimAction, ClaimMessage, HashAlgorithm, LegOrder, Lock, Secret, TimeoutRules,
};
use kessai_sdk::test_env::{self, Env, Event, Method};
use kessai_sdk::Address;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

pub const HOUR_MS: u64 = 3_600_000;
/// Every first leg's timeout: embodiment 3's TIMEOUT_N (burn requests), embodiment 4's TIMEOUT_M
/// (transfer conditions).
pub const FIRST_TIMEOUT_MS: u64 = 48 * HOUR_MS;
/// Every second leg's timeout: embodiment 3's TIMEOUT_M, embodiment 4's TIMEOUT_N.
pub const SECOND_TIMEOUT_MS: u64 = 24 * HOUR_MS;
/// How much earlier than its counter leg a second leg must expire, on both chains.
pub const MARGIN_MS: u64 = HOUR_MS;
/// 2023-11-14T22:13:20Z: the power chain's clock at the start of every test.
pub const T0: u64 = 1_700_000_000_000;
/// How far the value chain's clock runs ahead of the power chain's (two chains never agree to the
/// millisecond).
pub const VALUE_CLOCK_AHEAD_MS: u64 = 3_000;

pub const POWER_LEDGER: Address = Address([0xA1; 32]);
pub const VALUE_CERTIFICATE: Address = Address([0xB2; 32]);

/// A party: an ed25519 key whose public key is its address.
pub struct Party {
    key: SigningKey,
}

impl Party {
    pub fn new(seed: u8) -> Party {
        // Deriving the public key is a scalar multiplication, slow in a debug build: once per
        // seed and thread.
        std::thread_local! {
            static KEYS: RefCell<BTreeMap<u8, SigningKey>> =
                const { RefCell::new(BTreeMap::new()) };
        }
        let key = KEYS.with(|keys| {
            keys.borrow_mut()
                .entry(seed)
                .or_insert_with(|| SigningKey::from_bytes(&[seed; 32]))
                .clone()
        });
        Party { key }
    }

    pub fn address(&self) -> Address {
        Address(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Its signature of a claim (domain tag and borsh, as the contracts verify it).
    pub fn sign_claim(&self, claim: &ClaimMessage) -> [u8; 64] {
        self.sign(&claim_message(claim))
    }
}

/// Terminal 14: the certified third party, administrator of both platforms.
pub fn admin() -> Party {
    Party::new(14)
}

/// Terminal 24: the generator that holds the power information.
pub fn holder() -> Party {
    Party::new(24)
}

pub fn stranger() -> Party {
    Party::new(99)
}

pub fn secret(byte: u8) -> Secret {
    [byte; 32]
}

pub fn blake3_lock(secret: &Secret) -> Lock {
    Lock::of(HashAlgorithm::Blake3, secret)
}

pub fn sha256_lock(secret: &Secret) -> Lock {
    Lock::of(HashAlgorithm::Sha256, secret)
}

/// The rules a contract whose legs are `order` legs is deployed with: 48 h for first legs, 24 h
/// for second legs, a margin of 1 h.
pub fn rules(order: LegOrder) -> TimeoutRules {
    let timeout_ms = match order {
        LegOrder::First => FIRST_TIMEOUT_MS,
        LegOrder::Second => SECOND_TIMEOUT_MS,
    };
    TimeoutRules { order, timeout_ms, margin_ms: MARGIN_MS }
}

/// The patent's two swaps, as deployments: which contract holds the first legs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embodiment {
    /// The holder (terminal 24) draws R: burn requests are first legs (TIMEOUT_N = 48 h),
    /// transfer conditions second legs (TIMEOUT_M = 24 h).
    Three,
    /// The administrator (terminal 14) draws R: transfer conditions are first legs (48 h), burn
    /// requests second legs (24 h).
    Four,
}

impl Embodiment {
    pub const BOTH: [Embodiment; 2] = [Embodiment::Three, Embodiment::Four];

    pub fn power_order(self) -> LegOrder {
        match self {
            Embodiment::Three => LegOrder::First,
            Embodiment::Four => LegOrder::Second,
        }
    }

    pub fn value_order(self) -> LegOrder {
        match self {
            Embodiment::Three => LegOrder::Second,
            Embodiment::Four => LegOrder::First,
        }
    }

    /// The pair of chains: (power ledger, value certificates), both administered by terminal 14.
    pub fn chains(self) -> (Chain, Chain) {
        (Chain::power(self.power_order()), Chain::value(self.value_order()))
    }
}

/// One contract on its own chain: its own storage, events and block clock. The thread's test
/// environment is the chain's while a call runs.
pub struct Chain {
    env: Env,
}

impl Chain {
    /// A chain whose contract at `contract` is not initialised yet (for `init`'s own tests).
    pub fn uninitialised(contract: Address, time_ms: u64) -> Chain {
        let env = Env { self_address: contract, block_time_ms: time_ms, ..Env::default() };
        Chain { env }
    }

    /// The power ledger (SC1) at `contract` with `rules`, administered by terminal 14.
    pub fn power_with(contract: Address, time_ms: u64, rules: TimeoutRules) -> Chain {
        let mut chain = Chain::uninitialised(contract, time_ms);
        let args = (admin().address(), rules.order, rules.timeout_ms, rules.margin_ms);
        chain.call::<_, ()>(&admin(), pl::init, args).unwrap();
        chain
    }

    /// The power ledger holding `order` legs, at `contract` with its clock at `time_ms`.
    pub fn power_at(contract: Address, time_ms: u64, order: LegOrder) -> Chain {
        Chain::power_with(contract, time_ms, rules(order))
    }

    /// The power ledger holding `order` legs (embodiment 3: first, embodiment 4: second).
    pub fn power(order: LegOrder) -> Chain {
        Chain::power_at(POWER_LEDGER, T0, order)
    }

    /// The value certificates (SC2) with `rules`, administered by terminal 14; its clock runs
    /// [`VALUE_CLOCK_AHEAD_MS`] ahead of the power chain's.
    pub fn value_with(rules: TimeoutRules) -> Chain {
        let mut chain = Chain::uninitialised(VALUE_CERTIFICATE, T0 + VALUE_CLOCK_AHEAD_MS);
        let args = (admin().address(), rules.order, rules.timeout_ms, rules.margin_ms);
        chain.call::<_, ()>(&admin(), vc::init, args).unwrap();
        chain
    }

    /// The value certificates holding `order` legs (embodiment 3: second, embodiment 4: first).
    pub fn value(order: LegOrder) -> Chain {
        Chain::value_with(rules(order))
    }

    /// Runs `f` with this chain's environment as the thread's.
    pub fn enter<R>(&mut self, f: impl FnOnce() -> R) -> R {
        test_env::with(|env| std::mem::swap(env, &mut self.env));
        let out = f();
        test_env::with(|env| std::mem::swap(env, &mut self.env));
        out
    }

    /// A transaction signed by `who` calling `method`.
    pub fn call<A: BorshSerialize, R: BorshDeserialize>(
        &mut self,
        who: &Party,
        method: Method,
        args: A,
    ) -> Result<R, String> {
        self.call_as(who.address(), method, args)
    }

    pub fn call_as<A: BorshSerialize, R: BorshDeserialize>(
        &mut self,
        who: Address,
        method: Method,
        args: A,
    ) -> Result<R, String> {
        self.enter(|| {
            test_env::set_sender(who);
            test_env::invoke(method, &args)
        })
    }

    pub fn view<A: BorshSerialize, R: BorshDeserialize>(&mut self, method: Method, args: A) -> R {
        self.enter(|| test_env::invoke_view(method, &args)).expect("view call")
    }

    pub fn now(&self) -> u64 {
        self.env.block_time_ms
    }

    pub fn advance(&mut self, ms: u64) {
        self.env.block_time_ms += ms;
    }

    /// Sets the block clock; it never runs backwards.
    pub fn set_time(&mut self, time_ms: u64) {
        assert!(time_ms >= self.env.block_time_ms, "a chain's block time never decreases");
        self.env.block_time_ms = time_ms;
    }

    pub fn events(&self) -> Vec<Event> {
        self.env.events.clone()
    }

    pub fn storage(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.env.storage
    }

    /// Every value stored under `prefix` (one map of the contract), decoded, in key order.
    pub fn stored<T: BorshDeserialize>(&self, prefix: &[u8]) -> Vec<T> {
        let entries = self.env.storage.iter().filter(|(key, _)| key.starts_with(prefix));
        entries.map(|(_, value)| borsh::from_slice(value).expect("stored value")).collect()
    }

    pub fn contract(&self) -> Address {
        self.env.self_address
    }

    // --- the power ledger --------------------------------------------------------------------

    /// `who` registers a burn request of `amount` for `permitted` (the argument types spelled
    /// out: the call's tuple is borsh-encoded as it is, so a wrong type would fail at run time).
    pub fn register_burn(
        &mut self,
        who: &Party,
        amount: u64,
        lock: Lock,
        permitted: Address,
        counter_deadline_ms: Option<u64>,
    ) -> Result<u64, String> {
        let args = (amount, lock, permitted, counter_deadline_ms);
        self.call(who, pl::register_burn_request, args)
    }

    /// `who` withdraws burn request `id`.
    pub fn withdraw_burn(&mut self, who: &Party, id: u64) -> Result<(), String> {
        self.call(who, pl::withdraw_burn_request, (id,))
    }

    pub fn balance(&mut self, who: &Party) -> u64 {
        self.view(pl::balance_of, (who.address(),))
    }

    pub fn supply(&mut self) -> u64 {
        self.view(pl::total_supply, ())
    }

    pub fn escrowed(&mut self) -> u64 {
        self.view(pl::escrowed, ())
    }

    pub fn burn_request(&mut self, id: u64) -> pl::BurnRequest {
        self.view::<_, Option<pl::BurnRequest>>(pl::burn_request, (id,)).expect("burn request")
    }

    /// The claim that burns request `id` with `preimage`, as its permitted address signs it.
    pub fn burn_claim(&mut self, id: u64, preimage: Secret) -> ClaimMessage {
        let request = self.burn_request(id);
        ClaimMessage {
            action: ClaimAction::Burn,
            contract: self.contract(),
            request_id: id,
            registered_at_ms: request.timestamp_ms,
            lock: request.lock,
            preimage,
            claimant: request.permitted,
        }
    }

    /// `who` burns request `id` with `preimage`, signing the claim itself.
    pub fn burn(&mut self, who: &Party, id: u64, preimage: Secret) -> Result<(), String> {
        let sig = who.sign_claim(&self.burn_claim(id, preimage));
        self.call(who, pl::burn, (id, preimage, sig))
    }

    // --- the value certificates --------------------------------------------------------------

    /// `who` locks token `token` under `lock` for `destination`.
    pub fn register_condition(
        &mut self,
        who: &Party,
        token: u64,
        lock: Lock,
        destination: Address,
        counter_deadline_ms: Option<u64>,
    ) -> Result<u64, String> {
        let args = (token, lock, destination, counter_deadline_ms);
        self.call(who, vc::register_transfer_condition, args)
    }

    /// `who` withdraws transfer condition `id`.
    pub fn withdraw_condition(&mut self, who: &Party, id: u64) -> Result<(), String> {
        self.call(who, vc::withdraw_transfer_condition, (id,))
    }

    pub fn token(&mut self, id: u64) -> vc::Token {
        self.view::<_, Option<vc::Token>>(vc::token, (id,)).expect("token")
    }

    pub fn condition(&mut self, id: u64) -> vc::TransferCondition {
        self.view::<_, Option<vc::TransferCondition>>(vc::transfer_condition, (id,))
            .expect("transfer condition")
    }

    pub fn transfer_claim(&mut self, id: u64, preimage: Secret) -> ClaimMessage {
        let condition = self.condition(id);
        ClaimMessage {
            action: ClaimAction::Transfer,
            contract: self.contract(),
            request_id: id,
            registered_at_ms: condition.timestamp_ms,
            lock: condition.lock,
            preimage,
            claimant: condition.destination,
        }
    }

    /// `who` claims transfer condition `id` with `preimage`, signing the claim itself.
    pub fn transfer(&mut self, who: &Party, id: u64, preimage: Secret) -> Result<(), String> {
        let sig = who.sign_claim(&self.transfer_claim(id, preimage));
        self.call(who, vc::transfer, (id, preimage, sig))
    }
}
