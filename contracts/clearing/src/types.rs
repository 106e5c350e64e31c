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
    /// How long (block time, ms) a provisional settlement may wait for its approvals: from its
    /// settlement's block time on, it can no longer be approved, and any party to it (or the
    /// clearing system) rejects it alone.
    pub approval_timeout_ms: u64,
}

/// Which of an exchange's records in custody (claim 10): `Own` is the exchange's own inventory of
/// an asset (and its fiat account), the only one that trades between exchanges settle against;
/// `Customer` holds its customers' deposits of an asset, kept apart and never used by a trade.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Book {
    Own,
    Customer,
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
/// an asset payer is short (top-up requested). `Provisional`: both legs computed (asset first,
/// then fiat): every payer's amount is locked and every receiver's is provisional — neither can be
/// withdrawn, sold or used to cover another trade — until the settlement is approved or rejected.
/// `Confirmed`: for every trade of it, two of {clearing system, buyer, seller} approved; the
/// payers' locked amounts are gone and the receivers' provisional amounts are available.
/// `Rejected`: two of a trade's three rejected, or the approval timeout passed: every lock went
/// back to its payer, the provisional amounts vanished. `Cancelled`: a waiting settlement was
/// abandoned; nothing moved, the fiat lock was released.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettlementStatus {
    AwaitingFiat,
    AwaitingAsset,
    Provisional,
    Confirmed,
    Rejected,
    Cancelled,
}

/// An amount of `currency` held out of `exchange`'s available balance for a settlement: fiat from
/// the moment it is locked, an asset from the moment the settlement is provisional. A confirmation
/// consumes it; a rejection or cancellation gives it back.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub exchange: Address,
    pub currency: String,
    pub amount: u128,
}

/// One net leg of a settlement on one exchange (the patent's Table 2): its confirmed holding of
/// `currency` (available + locked) when the settlement became provisional, the change, and the
/// value after it — registered once the settlement is confirmed.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    pub exchange: Address,
    pub currency: String,
    pub delta: i128,
    pub before: u128,
    pub after: u128,
}

/// One increase or decrease of one trade (claim 15): per trade, the seller's asset −quantity, the
/// buyer's +quantity, the buyer's fiat −price, the seller's +price — recorded for every trade,
/// also when a batch is settled by its net amounts (`Settlement::movements`).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct TradeLeg {
    pub trade: u64,
    pub exchange: Address,
    pub currency: String,
    pub delta: i128,
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
    /// The net change per exchange and currency (for one trade, its four legs).
    pub movements: Vec<Movement>,
    /// Every trade's own increases and decreases, in trade order.
    pub trade_legs: Vec<TradeLeg>,
    /// Block time when it became provisional (0 before).
    pub settled_at_ms: u64,
    /// From this block time on it can no longer be approved (0 before it is provisional).
    pub approval_deadline_ms: u64,
    pub approvals: Vec<Address>,
    pub rejections: Vec<Address>,
}

/// An exchange's records of one currency in custody. `available`: its own, confirmed and free
/// (the own inventory of an asset, or its fiat account). `locked`: held for settlements not
/// finished (still its own until a confirmation). `provisional`: received in settlements not
/// confirmed yet — not its own yet, and usable for nothing. `customer`: its customers' deposits of
/// the asset (claim 10; always 0 for fiat).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    pub currency: String,
    pub available: u128,
    pub locked: u128,
    pub provisional: u128,
    pub customer: u128,
}

// Events.

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct ExchangeRegistered {
    pub exchange: Address,
    pub name: String,
}

/// A deposit into or a withdrawal out of custody, into or out of `book`; `balance` is that book's
/// balance after it (for `Own`, the available balance).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CustodyChanged {
    pub exchange: Address,
    pub currency: String,
    pub book: Book,
    pub amount: u128,
    pub balance: u128,
}

/// `amount` of `asset` moved between an exchange's own inventory and its customers' deposits, into
/// `to` (a customer bought from or sold to the exchange); the two balances after it.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rebooked {
    pub exchange: Address,
    pub asset: String,
    pub to: Book,
    pub amount: u128,
    pub own: u128,
    pub customer: u128,
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

/// `by` approved a provisional settlement: `trades_approved` of its `trades` have two approvals of
/// their three (clearing system, buyer, seller); it is confirmed when all have.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Approved {
    pub settlement: u64,
    pub by: Address,
    pub approvals: u32,
    pub trades_approved: u32,
    pub trades: u32,
}

/// `by` rejected a provisional settlement (`expired`: after its approval deadline, which rejects it
/// at once); it is undone when a trade of it has two rejections of its three, or `expired`.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub settlement: u64,
    pub by: Address,
    pub rejections: u32,
    pub expired: bool,
}
