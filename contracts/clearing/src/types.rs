//! The contract's data: storage values, arguments, results and events (borsh; the same shapes are
//! declared in `abi.json`). Amounts are integers in the currency's smallest unit (satoshi, yen).

use alloc::string::String;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_sdk::Address;

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The clearing system's consortium-chain address (the patent's 610).
    pub clearing_system: Address,
    /// The fiat currency's code (e.g. `JPY`); every other currency is a virtual-currency asset.
    pub fiat: String,
    /// After this many blocks, a party may cancel a settlement that still waits for a top-up.
    pub lock_timeout_blocks: u64,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    Open,
    Matched,
    Cancelled,
}

/// A contract condition an exchange submits: buy or sell `quantity` of `asset` for `price` in
/// fiat — the whole consideration, not a unit price (1 BTC for ¥100 is quantity 100,000,000
/// satoshi, price 100).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub id: u64,
    pub exchange: Address,
    pub side: Side,
    pub asset: String,
    pub quantity: u128,
    pub price: u128,
    pub submitted_height: u64,
    pub status: ConditionStatus,
    pub trade: Option<u64>,
}

/// Two equal conditions matched: `seller` delivers `quantity` of `asset` to `buyer`, who pays
/// `price`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    pub id: u64,
    pub buyer: Address,
    pub seller: Address,
    pub buy_condition: u64,
    pub sell_condition: u64,
    pub asset: String,
    pub quantity: u128,
    pub price: u128,
    pub settlement: u64,
}

/// `AwaitingFiat`: a fiat payer is short (top-up requested). `AwaitingAsset`: the fiat is locked,
/// an asset payer is short (top-up requested). `Settled`: both legs moved (asset first, then
/// fiat); the new balances are provisional. `Confirmed`: approved by a majority of the clearing
/// system and the parties (2 of 3 for one trade). `Cancelled`: nothing moved; locks released.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettlementStatus {
    AwaitingFiat,
    AwaitingAsset,
    Settled,
    Confirmed,
    Cancelled,
}

/// Fiat locked for a settlement (released when it settles or is cancelled).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub exchange: Address,
    pub amount: u128,
}

/// One leg of a settlement on one exchange: its holding of `currency` (available + locked) before
/// and after, and the change.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    pub exchange: Address,
    pub currency: String,
    pub delta: i128,
    pub before: u128,
    pub after: u128,
}

/// The settlement of one trade, or of a netted batch of trades (one net amount per exchange and
/// currency).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub id: u64,
    pub netted: bool,
    pub trades: Vec<u64>,
    /// The exchanges of the trades, sorted.
    pub parties: Vec<Address>,
    pub created_height: u64,
    pub status: SettlementStatus,
    pub locks: Vec<Lock>,
    pub movements: Vec<Movement>,
    pub approvals: Vec<Address>,
}

/// An exchange's holding of one currency in custody. `unconfirmed`: received in settlements not
/// confirmed yet, which cannot leave custody.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    pub currency: String,
    pub available: u128,
    pub locked: u128,
    pub unconfirmed: u128,
}

// Events.

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct ExchangeRegistered {
    pub exchange: Address,
    pub name: String,
}

/// A deposit into or a withdrawal out of custody; `balance` is the available balance after it.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CustodyChanged {
    pub exchange: Address,
    pub currency: String,
    pub amount: u128,
    pub balance: u128,
}

/// A top-up request: `exchange` must bring `shortfall` more `currency` into custody.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct TopUpRequested {
    pub settlement: u64,
    pub exchange: Address,
    pub currency: String,
    pub needed: u128,
    pub available: u128,
    pub shortfall: u128,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct FiatLocked {
    pub settlement: u64,
    pub exchange: Address,
    pub amount: u128,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Approved {
    pub settlement: u64,
    pub by: Address,
    pub approvals: u32,
    pub needed: u32,
}
