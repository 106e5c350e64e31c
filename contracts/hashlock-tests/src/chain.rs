//! The test harness: parties with ed25519 keys, a [`Chain`] (one contract on its own chain, with
//! its own storage, events and block clock), and the claim signatures.

use crate::{power_ledger as pl, value_certificate as vc};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};
use hashlock_core::{claim_message, ClaimAction, ClaimMessage, HashAlgorithm, Lock, Secret};
use kessai_sdk::test_env::{self, Env, Event, Method};
use kessai_sdk::Address;
use std::string::String;
use std::vec::Vec;

pub const HOUR_MS: u64 = 3_600_000;
/// The shortest timeout and the margin both chains are initialised with.
pub const MIN_TIMEOUT_MS: u64 = HOUR_MS;
pub const MARGIN_MS: u64 = HOUR_MS;
/// 2023-11-14T22:13:20Z: the power chain's clock at the start of every test.
pub const T0: u64 = 1_700_000_000_000;

pub const POWER_LEDGER: Address = Address([0xA1; 32]);
pub const VALUE_CERTIFICATE: Address = Address([0xB2; 32]);

/// A party: an ed25519 key whose public key is its address.
pub struct Party {
    key: SigningKey,
}

impl Party {
    pub fn new(seed: u8) -> Party {
        Party { key: SigningKey::from_bytes(&[seed; 32]) }
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

/// One contract on its own chain: its own storage, events and block clock. The thread's test
/// environment is the chain's while a call runs.
pub struct Chain {
    env: Env,
}

impl Chain {
    fn empty(contract: Address, time_ms: u64) -> Chain {
        let env = Env { self_address: contract, block_time_ms: time_ms, ..Env::default() };
        Chain { env }
    }

    /// The power ledger (SC1) at `contract`, administered by terminal 14.
    pub fn power_at(contract: Address, time_ms: u64) -> Chain {
        let mut chain = Chain::empty(contract, time_ms);
        chain
            .call::<_, ()>(&admin(), pl::init, (admin().address(), MIN_TIMEOUT_MS, MARGIN_MS))
            .unwrap();
        chain
    }

    pub fn power() -> Chain {
        Chain::power_at(POWER_LEDGER, T0)
    }

    /// The value certificates (SC2), administered by terminal 14; its clock runs 3 s ahead of the
    /// power chain's (two chains never agree to the millisecond).
    pub fn value() -> Chain {
        let mut chain = Chain::empty(VALUE_CERTIFICATE, T0 + 3_000);
        chain
            .call::<_, ()>(&admin(), vc::init, (admin().address(), MIN_TIMEOUT_MS, MARGIN_MS))
            .unwrap();
        chain
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

    pub fn events(&self) -> Vec<Event> {
        self.env.events.clone()
    }

    pub fn storage(&self) -> &std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
        &self.env.storage
    }

    pub fn contract(&self) -> Address {
        self.env.self_address
    }

    // --- the power ledger --------------------------------------------------------------------

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
