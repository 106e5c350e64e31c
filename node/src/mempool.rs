//! Transactions waiting for a block.
//!
//! A transaction is admitted only after the checks a block would make — signature, chain id, size,
//! membership and nonce — so what is gossiped and proposed is almost always executable. Per account,
//! pending transactions form a gap-free run of nonces starting at the account's committed nonce: a
//! replayed or skipped nonce is refused at the door with the nonce expected.

use crate::chain::Chain;
use crate::metrics::Stage;
use kessai_primitives::{Hash, PublicKey, SignedTransaction, TxError};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How much the mempool holds; past a limit, new transactions are refused ([`AdmitError::Full`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Pending transactions in all.
    pub max_txs: usize,
    /// Pending transactions' total size, in bytes of their borsh encoding.
    pub max_bytes: usize,
    /// Pending transactions one account may have at once.
    pub max_per_account: usize,
    /// A transaction still pending after this long is evicted (with the account's later ones, which
    /// could not run before it): a stuck transaction must not hold its room forever.
    pub max_age: Duration,
}

/// Default of [`MempoolLimits::max_txs`]: about what the chain commits in a latency budget, so that
/// under overload an admitted transaction waits a bounded time and the excess is refused at
/// admission ([`AdmitError::Full`]) instead of queueing for minutes. Half a full block (the presets'
/// `max_block_txs` is 20,000); about 3 s of queue at four validators' sustained rate on a 2-core
/// machine and 1 s at one validator's (`docs/benchmarks.md`, issue 19). It was 100,000: at four
/// validators that queued 35 s and more.
pub const DEFAULT_MAX_TXS: usize = 10_000;

/// How far past `max_txs` transactions relayed by peers may fill the pool
/// ([`Mempool::admit_relayed_batch`]); the byte and per-account limits still apply.
pub const RELAYED_HEADROOM: usize = 4;

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: DEFAULT_MAX_TXS,
            max_bytes: 256 * 1024 * 1024,
            max_per_account: 10_000,
            max_age: Duration::from_secs(600),
        }
    }
}

/// Why a transaction was not admitted to the mempool.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// It fails a check of its own: encoding, shape, chain id, size or signature.
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// A transaction of this id is already pending.
    #[error("transaction {0} is already pending")]
    Duplicate(Hash),
    #[error("nonce {got} was already used; the next nonce of {account} is {expected}")]
    /// The nonce is below the account's next one (committed or pending).
    NonceUsed {
        /// The signer.
        account: PublicKey,
        /// The transaction's nonce.
        got: u64,
        /// The nonce the account's next transaction must carry.
        expected: u64,
    },
    #[error("nonce {got} skips ahead; the next nonce of {account} is {expected}")]
    /// The nonce is above the account's next one: pending nonces stay gap-free.
    NonceGap {
        /// The signer.
        account: PublicKey,
        /// The transaction's nonce.
        got: u64,
        /// The nonce the account's next transaction must carry.
        expected: u64,
    },
    /// The runtime refused it against the tip state ([`kessai_runtime::TxRejection`]: membership,
    /// gas limit, role, code), or the state could not be read.
    #[error("rejected: {0}")]
    Rejected(String),
    /// A [`MempoolLimits`] limit is reached; the text says which.
    #[error("mempool is full ({0}); try again after the next block")]
    Full(&'static str),
    /// The node cannot write to its disk ([`crate::storage`]): what it admitted could not be
    /// committed.
    #[error("the node cannot write to its disk; not accepting transactions")]
    StorageFailed,
}

/// Who handed this node a transaction (the `source` label of
/// `kessai_tx_admission_to_durable_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxSource {
    /// A client, over RPC.
    Client,
    /// A peer, by gossip.
    Peer,
}

/// When and from whom a pending transaction was admitted ([`Mempool::admissions`]).
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// The instant it entered the pool.
    pub at: Instant,
    /// Who gave it to the node.
    pub source: TxSource,
}

struct Entry {
    tx: SignedTransaction,
    id: Hash,
    size: usize,
    admitted_at: Instant,
    source: TxSource,
}

#[derive(Default)]
struct Pool {
    /// Per account, pending transactions by nonce (contiguous).
    accounts: BTreeMap<PublicKey, VecDeque<Entry>>,
    ids: HashSet<Hash>,
    bytes: usize,
}

impl Pool {
    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Transactions admitted and waiting for a block, per account in nonce order. Shared by RPC, the
/// inbound router and the consensus task (which reaps blocks from it and prunes it on commit).
pub struct Mempool {
    pool: Mutex<Pool>,
    limits: MempoolLimits,
    /// Wakes the block producer when the pool goes from empty to non-empty.
    notify: tokio::sync::Notify,
}

impl Mempool {
    /// An empty mempool holding at most `limits`.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool { pool: Mutex::new(Pool::default()), limits, notify: tokio::sync::Notify::new() }
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.pool.lock().len()
    }

    /// Whether no transaction is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the transaction with this id is pending.
    pub fn contains(&self, id: &Hash) -> bool {
        self.pool.lock().ids.contains(id)
    }

    /// The nonce after the account's last pending transaction, if it has any.
    pub fn pending_nonce(&self, account: &PublicKey) -> Option<u64> {
        self.pool.lock().accounts.get(account).and_then(|q| q.back()).map(|e| e.tx.tx.nonce + 1)
    }

    /// Resolves when a transaction arrives in an empty pool.
    pub async fn wait_for_tx(&self) {
        let notified = self.notify.notified();
        if !self.is_empty() {
            return;
        }
        notified.await
    }

    /// Runs every check and queues the transaction. Returns its id.
    pub fn admit(&self, chain: &Chain, tx: SignedTransaction) -> Result<Hash, AdmitError> {
        chain.cpu.measure(Stage::Admission, || {
            tx.check_stateless(chain.chain_id())?;
            self.admit_signed(chain, tx, self.limits.max_txs, TxSource::Client)
        })
    }

    /// [`Mempool::admit`] of each transaction in order, with the signatures checked in one batch
    /// (a third of the cost of checking them one by one, and the same verdicts).
    pub fn admit_batch(
        &self,
        chain: &Chain,
        txs: &[SignedTransaction],
    ) -> Vec<Result<Hash, AdmitError>> {
        self.admit_batch_up_to(chain, txs, self.limits.max_txs, TxSource::Client)
    }

    /// [`Mempool::admit_batch`] of transactions relayed by a peer: they may fill the pool up to
    /// [`RELAYED_HEADROOM`] times `max_txs`. Clients are refused from `max_txs` on, counting what
    /// peers relayed, so the transactions pending in the whole network stay near `max_txs` (not
    /// `max_txs` per node that clients submit to); and each node holds what the others admitted,
    /// so a proposer finds them in its own pool instead of leaving them for their admitting node's
    /// turn to propose.
    pub fn admit_relayed_batch(
        &self,
        chain: &Chain,
        txs: &[SignedTransaction],
    ) -> Vec<Result<Hash, AdmitError>> {
        let max_txs = self.limits.max_txs.saturating_mul(RELAYED_HEADROOM);
        self.admit_batch_up_to(chain, txs, max_txs, TxSource::Peer)
    }

    fn admit_batch_up_to(
        &self,
        chain: &Chain,
        txs: &[SignedTransaction],
        max_txs: usize,
        source: TxSource,
    ) -> Vec<Result<Hash, AdmitError>> {
        chain.cpu.measure(Stage::Admission, || {
            let signatures = SignedTransaction::verify_signatures(txs, rand::thread_rng());
            txs.iter()
                .zip(signatures)
                .map(|(tx, signature)| {
                    tx.check_shape(chain.chain_id())?;
                    signature.map_err(TxError::from)?;
                    self.admit_signed(chain, tx.clone(), max_txs, source)
                })
                .collect()
        })
    }

    /// The checks after the signature's, and the queueing, in a pool of at most `max_txs`.
    fn admit_signed(
        &self,
        chain: &Chain,
        tx: SignedTransaction,
        max_txs: usize,
        source: TxSource,
    ) -> Result<Hash, AdmitError> {
        if chain.storage.is_failed() {
            return Err(AdmitError::StorageFailed);
        }
        let id = tx.id();
        let size = borsh::object_length(&tx).expect("encodes");
        let signer = tx.tx.signer;
        let state = chain.tip_state();
        let committed_nonce = kessai_state::system::nonce(&state, &signer)
            .map_err(|e| AdmitError::Rejected(e.to_string()))?;

        let mut pool = self.pool.lock();
        if pool.ids.contains(&id) {
            return Err(AdmitError::Duplicate(id));
        }
        if pool.len() >= max_txs {
            return Err(AdmitError::Full("too many transactions"));
        }
        if pool.bytes + size > self.limits.max_bytes {
            return Err(AdmitError::Full("too many bytes"));
        }
        let queue = pool.accounts.get(&signer);
        let pending = queue.map_or(0, VecDeque::len);
        if pending >= self.limits.max_per_account {
            return Err(AdmitError::Full("too many transactions from this account"));
        }
        // While a block commits, the committed nonce may already include pending transactions that
        // are not yet pruned: the last pending nonce is then the better guide.
        let expected = queue
            .and_then(|q| q.back())
            .map_or(committed_nonce, |e| e.tx.tx.nonce + 1)
            .max(committed_nonce);
        if tx.tx.nonce < expected {
            return Err(AdmitError::NonceUsed { account: signer, got: tx.tx.nonce, expected });
        }
        if tx.tx.nonce > expected {
            return Err(AdmitError::NonceGap { account: signer, got: tx.tx.nonce, expected });
        }
        chain
            .runtime
            .check_tx(&state, &tx, expected)
            .map_err(|e| AdmitError::Rejected(e.to_string()))?;

        let was_empty = pool.len() == 0;
        pool.ids.insert(id);
        pool.bytes += size;
        pool.accounts.entry(signer).or_default().push_back(Entry {
            tx,
            id,
            size,
            admitted_at: Instant::now(),
            source,
        });
        drop(pool);
        if was_empty {
            self.notify.notify_waiters();
        }
        Ok(id)
    }

    /// Up to `max_txs` / `max_bytes` of transactions for a block: accounts in turn, each account's
    /// transactions in nonce order, so a block never holds a nonce gap.
    pub fn reap(&self, max_txs: usize, max_bytes: usize) -> Vec<SignedTransaction> {
        let pool = self.pool.lock();
        let mut cursors: Vec<_> = pool.accounts.values().map(|q| q.iter().peekable()).collect();
        let mut out = Vec::new();
        let mut bytes = 0;
        loop {
            let mut progressed = false;
            for cursor in cursors.iter_mut() {
                let Some(entry) = cursor.peek() else { continue };
                if out.len() >= max_txs || bytes + entry.size > max_bytes {
                    return out;
                }
                bytes += entry.size;
                out.push(entry.tx.clone());
                cursor.next();
                progressed = true;
            }
            if !progressed {
                return out;
            }
        }
    }

    /// When and from whom each of `txs` (a block's transactions, with their `ids` in the same
    /// order) that is pending here was admitted; those this node never admitted (it learns them
    /// from the block) are left out. Read before the block commits, which prunes them
    /// ([`Mempool::update`]): an account's pending nonces are contiguous, so each is one lookup.
    pub fn admissions(&self, txs: &[SignedTransaction], ids: &[Hash]) -> Vec<Admission> {
        let pool = self.pool.lock();
        let mut found = Vec::new();
        for (tx, id) in txs.iter().zip(ids) {
            let Some(queue) = pool.accounts.get(&tx.tx.signer) else { continue };
            let Some(first) = queue.front().map(|e| e.tx.tx.nonce) else { continue };
            let Some(index) = tx.tx.nonce.checked_sub(first) else { continue };
            match usize::try_from(index).ok().and_then(|i| queue.get(i)) {
                Some(e) if e.id == *id => {
                    found.push(Admission { at: e.admitted_at, source: e.source })
                }
                _ => {}
            }
        }
        found
    }

    /// After a block becomes the tip: drops the transactions it committed (`committed_ids`) and
    /// whatever the new state makes stale (used nonces, signers no longer members).
    pub fn update(&self, chain: &Chain, committed_ids: &HashSet<Hash>) {
        let state = chain.tip_state();
        let mut pool = self.pool.lock();
        let mut removed: Vec<(Hash, usize)> = Vec::new();
        let accounts: Vec<PublicKey> = pool.accounts.keys().copied().collect();
        let mut nonce_cache: HashMap<PublicKey, u64> = HashMap::new();
        for account in accounts {
            let nonce = *nonce_cache
                .entry(account)
                .or_insert_with(|| kessai_state::system::nonce(&state, &account).unwrap_or(0));
            let member =
                kessai_state::system::member_roles(&state, &account).ok().flatten().is_some();
            let queue = pool.accounts.get_mut(&account).expect("listed");
            let mut expired = false;
            queue.retain(|e| {
                // Once one transaction expires, the later nonces can never run: they go too.
                expired |= e.admitted_at.elapsed() > self.limits.max_age;
                let keep =
                    member && !expired && e.tx.tx.nonce >= nonce && !committed_ids.contains(&e.id);
                if !keep {
                    removed.push((e.id, e.size));
                }
                keep
            });
            if queue.is_empty() {
                pool.accounts.remove(&account);
            }
        }
        for (id, size) in removed {
            pool.ids.remove(&id);
            pool.bytes -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kessai_chainspec::ChainSpec;
    use kessai_primitives::{GovernanceAction, Keypair, Payload, Role, Transaction};
    use std::sync::Arc;

    fn dev_chain() -> (tempfile::TempDir, Arc<Chain>) {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::open(ChainSpec::dev(), dir.path()).unwrap();
        (dir, chain)
    }

    /// A governance transaction of alice (an admin of the dev spec) with `nonce`.
    fn alice_tx(chain: &Chain, nonce: u64) -> SignedTransaction {
        let alice = Keypair::dev("alice");
        Transaction {
            chain_id: chain.chain_id().to_string(),
            signer: alice.public(),
            nonce,
            gas_limit: 1_000_000,
            payload: Payload::Governance(GovernanceAction::GrantRole {
                key: Keypair::dev("carol").public(),
                role: Role::Deployer,
            }),
        }
        .sign(&alice)
    }

    #[test]
    fn nonces_are_admitted_in_order_only() {
        let (_dir, chain) = dev_chain();
        let pool = Mempool::new(MempoolLimits::default());
        assert!(matches!(
            pool.admit(&chain, alice_tx(&chain, 1)),
            Err(AdmitError::NonceGap { .. })
        ));
        pool.admit(&chain, alice_tx(&chain, 0)).unwrap();
        assert!(matches!(pool.admit(&chain, alice_tx(&chain, 0)), Err(AdmitError::Duplicate(_))));
        pool.admit(&chain, alice_tx(&chain, 1)).unwrap();
        assert_eq!(pool.reap(10, usize::MAX).len(), 2);
        assert_eq!(pool.pending_nonce(&Keypair::dev("alice").public()), Some(2));
    }

    /// A block's transactions that are pending here are found with their admission; one this
    /// node never admitted, or another transaction of a pending nonce, is not.
    #[test]
    fn admissions_are_found_for_pending_transactions_only() {
        let (_dir, chain) = dev_chain();
        let pool = Mempool::new(MempoolLimits::default());
        let before = Instant::now();
        let pending: Vec<_> = (0..3).map(|n| alice_tx(&chain, n)).collect();
        pool.admit(&chain, pending[0].clone()).unwrap();
        assert!(pool.admit_relayed_batch(&chain, &pending[1..]).iter().all(Result::is_ok));
        let mut other = alice_tx(&chain, 1);
        other.tx.gas_limit += 1; // same nonce, another transaction
        let block = [pending[2].clone(), other, alice_tx(&chain, 3), pending[0].clone()];
        let ids: Vec<Hash> = block.iter().map(SignedTransaction::id).collect();

        let found = pool.admissions(&block, &ids);
        let sources: Vec<TxSource> = found.iter().map(|a| a.source).collect();
        assert_eq!(sources, [TxSource::Peer, TxSource::Client]);
        assert!(found.iter().all(|a| a.at >= before && a.at <= Instant::now()));
    }

    #[test]
    fn limits_refuse_and_age_evicts() {
        let (_dir, chain) = dev_chain();
        let limits = MempoolLimits { max_txs: 2, ..MempoolLimits::default() };
        let pool = Mempool::new(limits);
        pool.admit(&chain, alice_tx(&chain, 0)).unwrap();
        pool.admit(&chain, alice_tx(&chain, 1)).unwrap();
        assert!(matches!(pool.admit(&chain, alice_tx(&chain, 2)), Err(AdmitError::Full(_))));

        let stale = Mempool::new(MempoolLimits { max_age: Duration::ZERO, ..limits });
        stale.admit(&chain, alice_tx(&chain, 0)).unwrap();
        stale.admit(&chain, alice_tx(&chain, 1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        stale.update(&chain, &HashSet::new());
        assert!(stale.is_empty(), "expired transactions stay pending");
        // Their room is free again.
        stale.admit(&chain, alice_tx(&chain, 0)).unwrap();
    }

    /// Clients are refused at `max_txs`, counting what peers relayed; relayed transactions fill
    /// the pool up to `RELAYED_HEADROOM` times that, and no further.
    #[test]
    fn relayed_transactions_have_headroom_and_count_against_clients() {
        let (_dir, chain) = dev_chain();
        let pool = Mempool::new(MempoolLimits { max_txs: 1, ..MempoolLimits::default() });
        let relayed: Vec<_> = (0..RELAYED_HEADROOM as u64).map(|n| alice_tx(&chain, n)).collect();
        for outcome in pool.admit_relayed_batch(&chain, &relayed) {
            outcome.unwrap();
        }
        let more = alice_tx(&chain, RELAYED_HEADROOM as u64);
        let full = pool.admit_relayed_batch(&chain, std::slice::from_ref(&more));
        assert!(matches!(full[..], [Err(AdmitError::Full(_))]), "{full:?}");
        let refused = pool.admit_batch(&chain, std::slice::from_ref(&more));
        assert!(matches!(refused[..], [Err(AdmitError::Full(_))]), "{refused:?}");
        assert_eq!(pool.len(), RELAYED_HEADROOM);
        let message = pool.admit(&chain, more).unwrap_err().to_string();
        assert!(message.contains("mempool is full") && message.contains("try again"), "{message}");
    }
}
