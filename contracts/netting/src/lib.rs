//! Netting without a central netting server (JP6971127B2, `shared/specs/netting.md`).
//!
//! Participants open a **cycle** with an agreed order t_1 … t_n (n ≥ 3), a relay kind and a
//! deadline, register their payment instructions, and declare themselves `ready` (which agrees to
//! the order and closes their registration; the relay starts when all are). Then each one, in the
//! order, sends the next a **netting transaction** (`relay`) that offsets what it received against
//! its own net position; the relay is closed, checked and settled atomically. The arithmetic is
//! `netting-core`'s (see its docs for the embodiments and the sign convention).
//!
//! # Modes
//!
//! - `Public`: instructions are on the ledger (`register_instruction`). A participant's position
//!   is derived from its own instructions only, and every relay step is checked against it: a
//!   wrong amount or a step out of turn is refused.
//! - `Private`: only commitments are on the ledger: blake3(borsh((cycle, id, sender, receiver,
//!   amount)) ‖ salt), registered by one party and acknowledged by the other
//!   (`commit_instruction`, `acknowledge`; `instruction_commitment` computes the hash). Nobody's
//!   gross instructions, nor the direction of any, are on the ledger. Each participant computes its
//!   position locally and relays the resulting amount; the settled positions are derived from the
//!   relay amounts. The contract cannot check a step it cannot see: the closing check is what
//!   catches disagreeing views (Σp ≠ 0), and the commitments let a counterparty prove an
//!   instruction afterwards. What the ledger still reveals: who has instructions with whom, and —
//!   as on any shared ledger — a_{i−1} − a_i, each settled position.
//!
//! # Relays
//!
//! - `Chained` (embodiment 1): t_1 … t_{n−1} relay a_1 … a_{n−1}; t_n closes with `close`, stating
//!   its own position, which must equal a_{n−1}.
//! - `MaskedRing` (embodiment 2): t_1 first commits blake3(borsh(r: i128) ‖ salt) (`commit_mask`),
//!   then t_1 … t_n relay a_1 = r − p_1, …, a_n (t_n → t_1); t_1 closes with `reveal_mask(r, salt)`:
//!   the reveal must match the commitment and a_n must equal +r (prose convention; the figure's
//!   convention is the same ring with the mask −r).
//!
//! A relay that does not close **rejects** the cycle: nothing settles, for good. A closed relay
//! settles every position at once on the participants' settlement balances, or — if a payer's
//! balance is short — not at all (the closing call fails and can be repeated once it is funded).
//!
//! # Deadlines and cut-off
//!
//! The cut-off of a cycle is the moment its last participant declares itself ready. Its deadline
//! (a block height or a block time) bounds the whole cycle: past it nothing proceeds, and anyone
//! may abort it (`abort_cycle`), which settles nothing. Before the relay starts, a participant
//! that does not agree may abort it too.
//!
//! # Settlement balances
//!
//! Balances are kept here (`b/`). They are funded and withdrawn by the **admin** (the settlement
//! agent, set at init), which attests the money it holds outside the chain: `fund` on a deposit,
//! `withdraw` on a pay-out. Only settlements move balances between participants, and they conserve
//! the total (`total_balance`).
//!
//! # Signed instructions and consent
//!
//! As in the spec (and the patent's FIG. 6, where instructions and netting transactions share one
//! four-field format), an instruction's amount is a signed integer: `(caller → receiver, a)` moves
//! `a` from the caller to the receiver, a negative `a` moves |a| the other way, and 0 moves nothing
//! (it still counts as an instruction; relays of 0 are ordinary netting transactions). The patent
//! says nothing about who may register what; here **nobody pays for an instruction it did not
//! agree to**: an instruction with `a ≥ 0` is registered by its payer (the caller) and counts at
//! once; one with `a < 0` names the receiver as the payer, so it is only *pending* until the
//! receiver accepts it with `acknowledge_instruction`. A pending instruction counts in no position,
//! holds both parties' `ready` (like an unacknowledged private commitment), and either party may
//! drop it (`cancel_instruction`: the registrant takes it back, the receiver refuses it). A
//! counted instruction is cancelled by its payer only. Positions, the relay and the closing checks
//! are the same whatever the signs.
//!
//! # Bounds
//!
//! Instruction amounts are at most 10^30, relay amounts at most 10^36 and a mask at most 10^35 in
//! absolute value; with at most 1024 instructions per cycle no position, relay amount or derived
//! position can overflow an i128 (everything is checked anyway).
//!
//! Storage (declared in `abi.json`): `b/` balances, `c/` cycles, `i/` instructions by
//! (cycle, id), `p/` each party's instructions by (cycle, party, id big-endian), `q/` pending
//! (negative, unacknowledged) instructions by (cycle, id), `m/` commitments; items `admin`,
//! `next_cycle`, `total`.
//!
//! # Version 2
//!
//! Built with the feature `v2` (`artifacts/netting-v2.wasm`, see [`v2`] there): each balance
//! becomes an account record with a **debit cap** (the most the member may pay in one
//! settlement), and the upgrade's `migrate` converts every balance to a record, keeping it.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod types;
#[cfg(feature = "v2")]
pub mod v2;

#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kessai_sdk::{block_height, block_time_ms, caller, emit, to_borsh, Address, Item, Map};
use netting_core::{NettingError, Transfer};
pub use types::*;

#[cfg(not(feature = "v2"))]
kessai_sdk::abi!("../abi.json");
// abi.json with the changes of abi-v2-changes.json (generated and checked by tests/v2.rs).
#[cfg(feature = "v2")]
kessai_sdk::abi!("../abi-v2.json");

pub const MAX_PARTICIPANTS: usize = 32;
pub const MAX_INSTRUCTIONS: u32 = 1024;
pub const MAX_INSTRUCTION_AMOUNT: i128 = 1_000_000_000_000_000_000_000_000_000_000; // 10^30
pub const MAX_RELAY_AMOUNT: i128 = 1_000_000 * MAX_INSTRUCTION_AMOUNT; // 10^36
pub const MAX_MASK: i128 = 100_000 * MAX_INSTRUCTION_AMOUNT; // 10^35

const ADMIN: Item<Address> = Item::new(b"admin");
const NEXT_CYCLE: Item<u64> = Item::new(b"next_cycle");
const TOTAL: Item<u128> = Item::new(b"total");
/// Layout 1 of the balances (version 1, and version 2 until `migrate`): account → balance.
const BALANCES: Map<Address, u128> = Map::new(b"b/");
const CYCLES: Map<u64, Cycle> = Map::new(b"c/");
const INSTRUCTIONS: Map<(u64, u64), Instruction> = Map::new(b"i/");
/// (cycle, party, id big-endian) → instruction: each party's own instructions, in id order.
const BY_PARTY: Map<(u64, Address, [u8; 8]), Instruction> = Map::new(b"p/");
/// (cycle, id) → a negative instruction waiting for its payer (the receiver) to acknowledge it.
const PENDING: Map<(u64, u64), Instruction> = Map::new(b"q/");
const COMMITMENTS: Map<(u64, Hash), Commitment> = Map::new(b"m/");

type Res<T> = Result<T, String>;

kessai_sdk::methods! {
    /// Run once at instantiation: `admin` funds and withdraws settlement balances.
    pub fn init(admin: Address) -> Res<()> {
        if ADMIN.exists() {
            return Err("already initialised".into());
        }
        ADMIN.set(&admin);
        NEXT_CYCLE.set(&1);
        TOTAL.set(&0);
        #[cfg(feature = "v2")]
        v2::initialise();
        Ok(())
    }

    pub fn set_admin(new_admin: Address) -> Res<()> {
        only_admin("hand over the admin role")?;
        ADMIN.set(&new_admin);
        emit("admin_changed", &new_admin);
        Ok(())
    }

    /// The admin credits `amount` it received for `account` outside the chain.
    pub fn fund(account: Address, amount: u128) -> Res<u128> {
        only_admin("fund settlement balances")?;
        positive(amount)?;
        let balance = balance_of(&account).checked_add(amount).ok_or("balance overflow")?;
        let total = TOTAL.get().unwrap_or(0).checked_add(amount).ok_or("total overflow")?;
        #[cfg(not(feature = "v2"))]
        BALANCES.insert(&account, &balance);
        #[cfg(feature = "v2")]
        set_balance(&account, balance);
        TOTAL.set(&total);
        emit("funded", &BalanceChanged { account, amount, balance });
        Ok(balance)
    }

    /// The admin pays `amount` out of `account`'s settlement balance, outside the chain.
    pub fn withdraw(account: Address, amount: u128) -> Res<u128> {
        only_admin("withdraw settlement balances")?;
        positive(amount)?;
        let had = balance_of(&account);
        let balance = had.checked_sub(amount).ok_or_else(|| {
            format!("{account} has a settlement balance of {had}, less than {amount}")
        })?;
        #[cfg(not(feature = "v2"))]
        BALANCES.insert(&account, &balance);
        #[cfg(feature = "v2")]
        set_balance(&account, balance);
        let total = TOTAL.get().unwrap_or(0).checked_sub(amount).ok_or("total underflow")?;
        TOTAL.set(&total);
        emit("withdrawn", &BalanceChanged { account, amount, balance });
        Ok(balance)
    }

    /// Opens a cycle; the caller must be in the order. Returns the cycle's id.
    pub fn open_cycle(
        order: Vec<Address>,
        relay: RelayKind,
        mode: Mode,
        deadline: Deadline,
    ) -> Res<u64> {
        let id = NEXT_CYCLE.get().ok_or("not initialised")?;
        netting_core::check_order(&order).map_err(|e| e.to_string())?;
        if order.len() > MAX_PARTICIPANTS {
            return Err(format!("an order has at most {MAX_PARTICIPANTS} participants"));
        }
        let opened_by = caller();
        if !order.contains(&opened_by) {
            return Err(format!("{opened_by} is not in the order: only a participant opens a cycle"));
        }
        if passed(&deadline) {
            return Err("the deadline has already passed".into());
        }
        let n = order.len();
        let cycle = Cycle {
            id,
            opened_by,
            order,
            relay,
            mode,
            deadline,
            phase: Phase::Open,
            ready: alloc::vec![false; n],
            pending: alloc::vec![0; n],
            instructions: 0,
            mask_commitment: None,
            amounts: Vec::new(),
            mask: None,
            positions: Vec::new(),
        };
        NEXT_CYCLE.set(&(id + 1));
        CYCLES.insert(&id, &cycle);
        emit("cycle_opened", &cycle);
        Ok(id)
    }

    /// Public mode: the caller registers an instruction `(caller → receiver, amount)`; the amount
    /// is signed. With `amount ≥ 0` the caller pays (or, with 0, nobody does) and it counts at
    /// once. With `amount < 0` the receiver would pay, so it is pending until the receiver
    /// acknowledges it (`acknowledge_instruction`). Returns its id (1, 2, … within the cycle).
    pub fn register_instruction(cycle: u64, receiver: Address, amount: i128) -> Res<u64> {
        let mut c = open_for_registration(cycle)?;
        if c.mode != Mode::Public {
            return Err(format!(
                "cycle {cycle} is private: register a commitment with commit_instruction"
            ));
        }
        if amount.unsigned_abs() > MAX_INSTRUCTION_AMOUNT.unsigned_abs() {
            return Err(format!(
                "amount {amount} is over the limit {MAX_INSTRUCTION_AMOUNT} in absolute value"
            ));
        }
        let sender = caller();
        let (a, b) = pair_of(&c, &sender, &receiver)?;
        let id = next_instruction_id(&mut c)?;
        let instruction = Instruction { id, sender, receiver, amount };
        if amount < 0 {
            // The receiver pays: nothing counts before it agrees.
            c.pending[a] += 1;
            c.pending[b] += 1;
            PENDING.insert(&(cycle, id), &instruction);
            CYCLES.insert(&cycle, &c);
            emit("instruction_proposed", &InstructionEvent { cycle, instruction });
            return Ok(id);
        }
        count_instruction(cycle, &instruction);
        CYCLES.insert(&cycle, &c);
        emit("instruction_registered", &InstructionEvent { cycle, instruction });
        Ok(id)
    }

    /// Public mode: the receiver of a pending (negative) instruction — its payer — accepts it; from
    /// now on it counts like any other.
    pub fn acknowledge_instruction(cycle: u64, id: u64) -> Res<()> {
        let mut c = open_for_registration(cycle)?;
        let instruction = PENDING
            .get(&(cycle, id))
            .ok_or_else(|| format!("no pending instruction {id} in cycle {cycle}"))?;
        let who = caller();
        if who != instruction.receiver {
            return Err(format!(
                "only the payer {} may acknowledge instruction {id}",
                instruction.receiver
            ));
        }
        release_pair(&mut c, &instruction.sender, &instruction.receiver)?;
        PENDING.remove(&(cycle, id));
        count_instruction(cycle, &instruction);
        CYCLES.insert(&cycle, &c);
        emit("instruction_registered", &InstructionEvent { cycle, instruction });
        Ok(())
    }

    /// Public mode, while both parties are still registering: the payer withdraws a counted
    /// instruction; either party drops a pending one (the registrant takes it back, the receiver
    /// refuses it).
    pub fn cancel_instruction(cycle: u64, id: u64) -> Res<()> {
        let mut c = open_for_registration(cycle)?;
        let who = caller();
        if let Some(instruction) = PENDING.get(&(cycle, id)) {
            if who != instruction.sender && who != instruction.receiver {
                return Err(format!("{who} is not a party to instruction {id}"));
            }
            release_pair(&mut c, &instruction.sender, &instruction.receiver)?;
            PENDING.remove(&(cycle, id));
            CYCLES.insert(&cycle, &c);
            emit("instruction_cancelled", &InstructionCancelled { cycle, id });
            return Ok(());
        }
        let instruction =
            INSTRUCTIONS.get(&(cycle, id)).ok_or_else(|| format!("no instruction {id} in cycle {cycle}"))?;
        let payer = payer_of(&instruction);
        if who != payer {
            return Err(format!("only the payer {payer} may cancel instruction {id}"));
        }
        pair_of(&c, &instruction.sender, &instruction.receiver)?;
        INSTRUCTIONS.remove(&(cycle, id));
        for party in [instruction.sender, instruction.receiver] {
            BY_PARTY.remove(&(cycle, party, id.to_be_bytes()));
        }
        emit("instruction_cancelled", &InstructionCancelled { cycle, id });
        Ok(())
    }

    /// Private mode: the caller registers the commitment of an instruction with `counterparty`;
    /// it counts once the counterparty acknowledges it.
    pub fn commit_instruction(cycle: u64, counterparty: Address, hash: Hash) -> Res<()> {
        let mut c = open_for_registration(cycle)?;
        if c.mode != Mode::Private {
            return Err(format!(
                "cycle {cycle} is public: register the instruction with register_instruction"
            ));
        }
        let who = caller();
        let (a, b) = pair_of(&c, &who, &counterparty)?;
        if COMMITMENTS.contains(&(cycle, hash)) {
            return Err(format!("commitment {} is already registered", hex(&hash)));
        }
        next_instruction_id(&mut c)?;
        c.pending[a] += 1;
        c.pending[b] += 1;
        let commitment = Commitment {
            hash,
            registered_by: who,
            counterparty,
            status: CommitmentStatus::Pending,
        };
        COMMITMENTS.insert(&(cycle, hash), &commitment);
        CYCLES.insert(&cycle, &c);
        emit("commitment_registered", &CommitmentEvent { cycle, commitment });
        Ok(())
    }

    /// Private mode: the counterparty confirms that the commitment is the hash of the instruction
    /// it knows too.
    pub fn acknowledge(cycle: u64, hash: Hash) -> Res<()> {
        let mut c = open_for_registration(cycle)?;
        let mut commitment = pending_commitment(cycle, &hash)?;
        let who = caller();
        if who != commitment.counterparty {
            return Err(format!(
                "only the counterparty {} may acknowledge commitment {}",
                commitment.counterparty,
                hex(&hash)
            ));
        }
        release_pending(&mut c, &commitment)?;
        commitment.status = CommitmentStatus::Acknowledged;
        COMMITMENTS.insert(&(cycle, hash), &commitment);
        CYCLES.insert(&cycle, &c);
        emit("commitment_acknowledged", &CommitmentEvent { cycle, commitment });
        Ok(())
    }

    /// Private mode: either party drops a commitment that is not acknowledged yet (the registrant
    /// takes it back, or the counterparty refuses it). Acknowledged commitments stay.
    pub fn withdraw_commitment(cycle: u64, hash: Hash) -> Res<()> {
        let mut c = open_for_registration(cycle)?;
        let commitment = pending_commitment(cycle, &hash)?;
        let who = caller();
        if who != commitment.registered_by && who != commitment.counterparty {
            return Err(format!("{who} is not a party to commitment {}", hex(&hash)));
        }
        release_pending(&mut c, &commitment)?;
        COMMITMENTS.remove(&(cycle, hash));
        CYCLES.insert(&cycle, &c);
        emit("commitment_withdrawn", &CommitmentEvent { cycle, commitment });
        Ok(())
    }

    /// The caller agrees to the cycle (order, relay, mode, deadline) and closes its registration.
    /// When the last participant is ready the relay starts. Returns the cycle's phase.
    pub fn ready(cycle: u64) -> Res<Phase> {
        let mut c = open_for_registration(cycle)?;
        let who = caller();
        let i = index_of(&c, &who)?;
        if c.ready[i] {
            return Err(format!("{who} is already ready in cycle {cycle}"));
        }
        if c.pending[i] > 0 {
            let what = match c.mode {
                Mode::Private => "commitment(s)",
                Mode::Public => "negative instruction(s): the payer acknowledges or refuses them",
            };
            return Err(format!(
                "{who} is party to {} unacknowledged {what} in cycle {cycle}",
                c.pending[i]
            ));
        }
        c.ready[i] = true;
        emit("participant_ready", &ParticipantEvent { cycle, participant: who });
        if c.ready.iter().all(|r| *r) {
            c.phase = Phase::Relay;
            emit("relay_started", &cycle);
        }
        CYCLES.insert(&cycle, &c);
        Ok(c.phase)
    }

    /// Masked ring: the first participant commits to blake3(borsh(r) ‖ salt) before relaying.
    pub fn commit_mask(cycle: u64, hash: Hash) -> Res<()> {
        let mut c = load(cycle)?;
        if c.relay != RelayKind::MaskedRing {
            return Err(format!("cycle {cycle} is a chained relay: it has no mask"));
        }
        if !matches!(c.phase, Phase::Open | Phase::Relay) || !c.amounts.is_empty() {
            return Err(format!("cycle {cycle} takes no mask any more"));
        }
        live(&c)?;
        let first = c.order[0];
        if caller() != first {
            return Err(format!("only the first participant {first} commits the mask"));
        }
        if c.mask_commitment.is_some() {
            return Err(format!("the mask of cycle {cycle} is already committed"));
        }
        c.mask_commitment = Some(hash);
        CYCLES.insert(&cycle, &c);
        emit("mask_committed", &MaskCommitted { cycle, commitment: hash });
        Ok(())
    }

    /// The caller, whose turn it is, sends its netting transaction to the next participant.
    pub fn relay(cycle: u64, amount: i128) -> Res<()> {
        let mut c = relaying(cycle)?;
        let n = c.order.len();
        let step = c.amounts.len();
        if step >= relay_steps(&c) {
            let (closer, how) = closer(&c);
            return Err(format!("the relay of cycle {cycle} is complete: {closer} closes it with {how}"));
        }
        let who = caller();
        let turn = c.order[step];
        if who != turn {
            index_of(&c, &who)?;
            return Err(format!("not your turn: relay step {step} of cycle {cycle} is {turn}'s"));
        }
        if amount.unsigned_abs() > MAX_RELAY_AMOUNT.unsigned_abs() {
            return Err(format!("relay amount {amount} is over the limit {MAX_RELAY_AMOUNT}"));
        }
        let ring = c.relay == RelayKind::MaskedRing;
        if ring && step == 0 && c.mask_commitment.is_none() {
            return Err("commit the mask (commit_mask) before the first netting transaction".into());
        }
        if c.mode == Mode::Public {
            let own = own_position(cycle, &who)?;
            if step > 0 {
                netting_core::check_step(step, c.amounts[step - 1], own, amount).map_err(err)?;
            } else if !ring {
                // A ring's first amount hides r; the closing check covers it.
                let expected = netting_core::first_amount(own, 0).map_err(err)?;
                if amount != expected {
                    return Err(err(NettingError::StepMismatch { step, expected, got: amount }));
                }
            }
        }
        c.amounts.push(amount);
        CYCLES.insert(&cycle, &c);
        let to = c.order[(step + 1) % n];
        emit("relayed", &NettingTransaction { cycle, step: step as u32, from: who, to, amount });
        Ok(())
    }

    /// Chained relay: the last participant states its own position, which must be what it
    /// received; then every position settles. Returns `Settled`, or `Rejected` if the relay does
    /// not close.
    pub fn close(cycle: u64, position: i128) -> Res<Phase> {
        let c = relaying(cycle)?;
        if c.relay != RelayKind::Chained {
            return Err(format!("cycle {cycle} is a masked ring: its first participant closes it with reveal_mask"));
        }
        let n = c.order.len();
        let last = c.order[n - 1];
        if caller() != last {
            return Err(format!("only the last participant {last} closes the relay"));
        }
        relay_complete(&c)?;
        if c.mode == Mode::Public {
            let own = own_position(cycle, &last)?;
            if position != own {
                return Err(format!("wrong position {position}: your instructions give {own}"));
            }
        }
        let received = c.amounts[n - 2];
        match netting_core::check_chain_closing(received, position) {
            Ok(()) => settle(c),
            Err(_) => reject(c, position, received),
        }
    }

    /// Masked ring: the first participant reveals r and its salt; they must match the commitment,
    /// and the closing amount must be r. Returns `Settled` or `Rejected`.
    pub fn reveal_mask(cycle: u64, r: i128, salt: Hash) -> Res<Phase> {
        let mut c = relaying(cycle)?;
        if c.relay != RelayKind::MaskedRing {
            return Err(format!("cycle {cycle} is a chained relay: its last participant closes it with close"));
        }
        let first = c.order[0];
        if caller() != first {
            return Err(format!("only the first participant {first} reveals the mask"));
        }
        relay_complete(&c)?;
        if Some(kessai_sdk::blake3(&mask_preimage(r, &salt))) != c.mask_commitment {
            return Err("r and salt do not match the mask commitment".into());
        }
        c.mask = Some(r);
        let closing = c.amounts[c.order.len() - 1];
        match netting_core::check_ring_closing(closing, r) {
            Ok(()) => settle(c),
            Err(_) => reject(c, r, closing),
        }
    }

    /// Ends a cycle without settling anything: anyone once its deadline has passed, or one of its
    /// participants while it is still open.
    pub fn abort_cycle(cycle: u64) -> Res<()> {
        let mut c = load(cycle)?;
        if !matches!(c.phase, Phase::Open | Phase::Relay) {
            return Err(format!("cycle {cycle} is already {:?}", c.phase));
        }
        let by = caller();
        let allowed = passed(&c.deadline) || (c.phase == Phase::Open && c.order.contains(&by));
        if !allowed {
            return Err(format!(
                "cycle {cycle} is not past its deadline: until then only its participants may abort \
                 it, and only before the relay starts"
            ));
        }
        let waiting_for = waiting_for(&c);
        c.phase = Phase::Aborted;
        CYCLES.insert(&cycle, &c);
        emit("cycle_aborted", &CycleAborted { cycle, by, waiting_for });
        Ok(())
    }

    pub fn admin() -> Res<Address> {
        ADMIN.get().ok_or_else(|| "not initialised".into())
    }

    pub fn balance(account: Address) -> Res<u128> {
        Ok(balance_of(&account))
    }

    pub fn total_balance() -> Res<u128> {
        Ok(TOTAL.get().unwrap_or(0))
    }

    pub fn cycle(id: u64) -> Res<Option<Cycle>> {
        Ok(CYCLES.get(&id))
    }

    pub fn instruction(cycle: u64, id: u64) -> Res<Option<Instruction>> {
        Ok(INSTRUCTIONS.get(&(cycle, id)))
    }

    /// A pending (negative, not yet acknowledged) instruction (public mode).
    pub fn pending_instruction(cycle: u64, id: u64) -> Res<Option<Instruction>> {
        Ok(PENDING.get(&(cycle, id)))
    }

    /// The counted instructions `participant` is party to, in id order (public mode).
    pub fn instructions_of(cycle: u64, participant: Address) -> Res<Vec<Instruction>> {
        Ok(BY_PARTY.iter_prefix(&(cycle, participant)).map(|(_, i)| i).collect())
    }

    /// `participant`'s net position: settled, or (public mode) from its own instructions.
    pub fn position(cycle: u64, participant: Address) -> Res<i128> {
        let c = load(cycle)?;
        let i = index_of(&c, &participant)?;
        if c.phase == Phase::Settled {
            return Ok(c.positions[i]);
        }
        if c.mode == Mode::Private {
            return Err(format!("cycle {cycle} is private: only its participant knows its position"));
        }
        own_position(cycle, &participant)
    }

    pub fn commitment(cycle: u64, hash: Hash) -> Res<Option<Commitment>> {
        Ok(COMMITMENTS.get(&(cycle, hash)))
    }

    /// Public mode: the amount the participant whose turn it is must relay (none for a ring's
    /// first step, which hides r, and outside the relay).
    pub fn expected_relay(cycle: u64) -> Res<Option<i128>> {
        let c = load(cycle)?;
        let step = c.amounts.len();
        if c.mode != Mode::Public || c.phase != Phase::Relay || step >= relay_steps(&c) {
            return Ok(None);
        }
        let own = own_position(cycle, &c.order[step])?;
        Ok(match (step, c.relay) {
            (0, RelayKind::MaskedRing) => None,
            (0, RelayKind::Chained) => Some(netting_core::first_amount(own, 0).map_err(err)?),
            _ => Some(netting_core::next_amount(c.amounts[step - 1], own).map_err(err)?),
        })
    }

    /// The commitment of a private instruction: blake3(borsh((cycle, id, sender, receiver,
    /// amount)) ‖ salt). A view: ask your own node.
    pub fn instruction_commitment(
        cycle: u64,
        id: u64,
        sender: Address,
        receiver: Address,
        amount: i128,
        salt: Hash,
    ) -> Res<Hash> {
        Ok(kessai_sdk::blake3(&instruction_preimage(cycle, id, &sender, &receiver, amount, &salt)))
    }

    /// The commitment of a mask: blake3(borsh(r) ‖ salt). A view: ask your own node.
    pub fn mask_commitment(r: i128, salt: Hash) -> Res<Hash> {
        Ok(kessai_sdk::blake3(&mask_preimage(r, &salt)))
    }
}

/// borsh((cycle, id, sender, receiver, amount)) ‖ salt.
pub fn instruction_preimage(
    cycle: u64,
    id: u64,
    sender: &Address,
    receiver: &Address,
    amount: i128,
    salt: &Hash,
) -> Vec<u8> {
    let mut bytes = to_borsh(&(cycle, id, sender, receiver, amount));
    bytes.extend_from_slice(salt);
    bytes
}

/// borsh(r) ‖ salt: the 16 little-endian bytes of r, then the 32 of the salt.
pub fn mask_preimage(r: i128, salt: &Hash) -> Vec<u8> {
    let mut bytes = to_borsh(&r);
    bytes.extend_from_slice(salt);
    bytes
}

fn err(e: NettingError) -> String {
    e.to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn only_admin(what: &str) -> Res<()> {
    let admin = ADMIN.get().ok_or("not initialised")?;
    let who = caller();
    if who != admin {
        return Err(format!("only the admin may {what}; {who} is not the admin"));
    }
    Ok(())
}

fn positive(amount: u128) -> Res<()> {
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    Ok(())
}

#[cfg(not(feature = "v2"))]
fn balance_of(account: &Address) -> u128 {
    BALANCES.get(account).unwrap_or(0)
}

#[cfg(feature = "v2")]
use v2::{balance_of, set_balance};

fn load(id: u64) -> Res<Cycle> {
    CYCLES.get(&id).ok_or_else(|| format!("no cycle {id}"))
}

fn passed(deadline: &Deadline) -> bool {
    match *deadline {
        Deadline::Height { height } => block_height() > height,
        Deadline::Time { ms } => block_time_ms() > ms,
    }
}

fn live(c: &Cycle) -> Res<()> {
    if passed(&c.deadline) {
        return Err(format!("cycle {} is past its deadline: it can only be aborted", c.id));
    }
    Ok(())
}

fn in_phase(c: &Cycle, phase: Phase) -> Res<()> {
    if c.phase != phase {
        return Err(format!("cycle {} is {:?}, not {:?}", c.id, c.phase, phase));
    }
    Ok(())
}

fn open_for_registration(cycle: u64) -> Res<Cycle> {
    let c = load(cycle)?;
    in_phase(&c, Phase::Open)?;
    live(&c)?;
    Ok(c)
}

fn relaying(cycle: u64) -> Res<Cycle> {
    let c = load(cycle)?;
    in_phase(&c, Phase::Relay)?;
    live(&c)?;
    Ok(c)
}

fn index_of(c: &Cycle, who: &Address) -> Res<usize> {
    c.order
        .iter()
        .position(|p| p == who)
        .ok_or_else(|| format!("{who} is not a participant of cycle {}", c.id))
}

/// Two different participants, both still registering: their indices.
fn pair_of(c: &Cycle, a: &Address, b: &Address) -> Res<(usize, usize)> {
    let (i, j) = (index_of(c, a)?, index_of(c, b)?);
    if i == j {
        return Err("an instruction needs two different participants".into());
    }
    for (k, who) in [(i, a), (j, b)] {
        if c.ready[k] {
            return Err(format!("{who} is ready: its registration in cycle {} is closed", c.id));
        }
    }
    Ok((i, j))
}

fn next_instruction_id(c: &mut Cycle) -> Res<u64> {
    if c.instructions >= MAX_INSTRUCTIONS {
        return Err(format!(
            "cycle {} has the most instructions allowed ({MAX_INSTRUCTIONS})",
            c.id
        ));
    }
    c.instructions += 1;
    Ok(u64::from(c.instructions))
}

fn pending_commitment(cycle: u64, hash: &Hash) -> Res<Commitment> {
    let commitment = COMMITMENTS
        .get(&(cycle, *hash))
        .ok_or_else(|| format!("no commitment {} in cycle {cycle}", hex(hash)))?;
    if commitment.status != CommitmentStatus::Pending {
        return Err(format!("commitment {} is already acknowledged", hex(hash)));
    }
    Ok(commitment)
}

fn release_pending(c: &mut Cycle, commitment: &Commitment) -> Res<()> {
    release_pair(c, &commitment.registered_by, &commitment.counterparty)
}

/// Something pending between `a` and `b` (a commitment or a negative instruction) is settled.
fn release_pair(c: &mut Cycle, a: &Address, b: &Address) -> Res<()> {
    let (a, b) = pair_of(c, a, b)?;
    c.pending[a] -= 1;
    c.pending[b] -= 1;
    Ok(())
}

/// Who pays under an instruction: its sender, or (negative amount) its receiver.
fn payer_of(instruction: &Instruction) -> Address {
    if instruction.amount < 0 {
        instruction.receiver
    } else {
        instruction.sender
    }
}

/// The instruction counts in both parties' positions from now on.
fn count_instruction(cycle: u64, instruction: &Instruction) {
    INSTRUCTIONS.insert(&(cycle, instruction.id), instruction);
    for party in [instruction.sender, instruction.receiver] {
        BY_PARTY.insert(&(cycle, party, instruction.id.to_be_bytes()), instruction);
    }
}

/// A participant's position from its own instructions only.
fn own_position(cycle: u64, who: &Address) -> Res<i128> {
    let mine: Vec<Transfer<Address>> = BY_PARTY
        .iter_prefix(&(cycle, *who))
        .map(|(_, i)| Transfer::new(i.sender, i.receiver, i.amount))
        .collect();
    netting_core::position_of(who, &mine).map_err(err)
}

fn relay_steps(c: &Cycle) -> usize {
    match c.relay {
        RelayKind::Chained => c.order.len() - 1,
        RelayKind::MaskedRing => c.order.len(),
    }
}

fn closer(c: &Cycle) -> (Address, &'static str) {
    match c.relay {
        RelayKind::Chained => (c.order[c.order.len() - 1], "close"),
        RelayKind::MaskedRing => (c.order[0], "reveal_mask"),
    }
}

fn relay_complete(c: &Cycle) -> Res<()> {
    let step = c.amounts.len();
    if step < relay_steps(c) {
        return Err(format!(
            "the relay of cycle {} is not complete: step {step} is {}'s",
            c.id, c.order[step]
        ));
    }
    Ok(())
}

/// Whom an unfinished cycle waits for.
fn waiting_for(c: &Cycle) -> Option<Address> {
    match c.phase {
        Phase::Open => c.ready.iter().position(|r| !r).map(|i| c.order[i]),
        Phase::Relay if c.amounts.len() < relay_steps(c) => Some(c.order[c.amounts.len()]),
        Phase::Relay => Some(closer(c).0),
        _ => None,
    }
}

/// The relay did not close: the cycle ends, nothing settles.
fn reject(mut c: Cycle, expected: i128, got: i128) -> Res<Phase> {
    c.phase = Phase::Rejected;
    CYCLES.insert(&c.id, &c);
    emit("cycle_rejected", &CycleRejected { cycle: c.id, expected, got });
    Ok(Phase::Rejected)
}

/// Applies the positions the relay derives to every participant's balance at once.
fn settle(mut c: Cycle) -> Res<Phase> {
    let ring = c.relay == RelayKind::MaskedRing;
    let positions = netting_core::positions_from_relay(&c.amounts, ring).map_err(err)?;
    #[cfg(feature = "v2")]
    v2::check_debit_caps(&c.order, &positions)?;
    let before: Vec<u128> = c.order.iter().map(balance_of).collect();
    let after = netting_core::apply_positions(&before, &positions).map_err(|e| match e {
        NettingError::InsufficientBalance { index, balance, needed } => format!(
            "{} has a settlement balance of {balance} and must pay {needed}: fund it, then close \
             again before the deadline",
            c.order[index]
        ),
        e => e.to_string(),
    })?;
    for (who, balance) in c.order.iter().zip(&after) {
        #[cfg(not(feature = "v2"))]
        BALANCES.insert(who, balance);
        #[cfg(feature = "v2")]
        set_balance(who, *balance);
    }
    let settled: Vec<Position> = c
        .order
        .iter()
        .zip(&positions)
        .map(|(participant, amount)| Position { participant: *participant, amount: *amount })
        .collect();
    c.positions = positions;
    c.phase = Phase::Settled;
    CYCLES.insert(&c.id, &c);
    emit("cycle_settled", &CycleSettled { cycle: c.id, positions: settled });
    Ok(Phase::Settled)
}
