//! Cost per transaction against the state's size (issue 19, goal 5): the node's work on a block of
//! signed `asset-ownership.create` calls — admission, execution by the wasm runtime, the Jellyfish
//! Merkle tree update, the RocksDB write — on a chain holding 0, 100k, 1M, … state entries.
//!
//! ```sh
//! scripts/bench-state-size.sh                     # builds in release, runs, writes the CSV and plot
//! cargo bench -p kessai-node --bench state_size -- --sizes 0,100000,1000000 --csv out.csv
//! ```
//!
//! In process, no consensus and no RPC: one `kessai dev` chain ([`ChainSpec::dev`], the node's
//! default store settings: fsync per block, 128 MiB block cache, archive) in a temporary directory,
//! driven through the node's own code — [`Mempool::admit_batch`] (batch signature check, nonce and
//! membership against the tip), [`transition::apply_block`] (what [`Chain::build_block`] runs),
//! [`kessai_store::Store::prepare_state`] and [`Chain::commit`] (`begin_commit` and the block's one
//! write batch) — one stage after another (a node writes a block on a thread of its own while the
//! next one executes; the work is the same). Each stage's cost is the CPU time of the process
//! while it runs (`CLOCK_PROCESS_CPUTIME_ID`: the runtime executes a block on a thread of its own)
//! less that of RocksDB's background threads, whose flushes and compactions over the block are
//! reported as a stage of their own; other processes on the machine affect these figures only
//! through caches and the CPU's frequency. Wall times are reported beside them.
//!
//! Between measurement points the state grows cheaply: blocks of `--fill-batch` writes go straight
//! through the store (`prepare_state` and a block without transactions), keys in the
//! `asset-ownership` namespace whose tree position is a hash, like every contract key's, values of
//! 64 bytes. Then the process waits (at most `--settle-secs`) for RocksDB's compactions of the fill
//! to finish, so that their CPU is not charged to the measured blocks, and measures `--warmup` +
//! `--blocks` blocks of `--block-txs` calls from `--accounts` accounts (the load generator's
//! workload: each call adds an asset record).

use anyhow::{bail, ensure, Context, Result};
use kessai_chainspec::ChainSpec;
use kessai_node::chain::{Chain, ExecutedProposal};
use kessai_node::mempool::{Mempool, MempoolLimits};
use kessai_primitives::time::now_ms;
use kessai_primitives::{
    Address, Block, Commit, GovernanceAction, Hash, Keypair, Payload, SignedTransaction,
    Transaction,
};
use kessai_runtime::transition::{self, BlockInput, Parent};
use kessai_store::{flat_key, StoreConfig, WriteSet};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USAGE: &str = "\
cargo bench -p kessai-node --bench state_size -- [OPTIONS]
  --sizes N,N,...     state entries at which to measure (default 0,100000,300000,1000000)
  --block-txs N       transactions per measured block (default 2000)
  --blocks N          measured blocks per point (default 8)
  --warmup N          blocks run before measuring at each point (default 1)
  --accounts N        sending accounts (default 32)
  --fill-batch N      state writes per block while growing the state (default 50000)
  --settle-secs N     longest wait for RocksDB's compactions after growing (default 180)
  --cache-mib N       RocksDB block cache (default: the node's, 128)
  --tree-cache-depth N|off
                      tree nodes kept in memory across blocks, by nibble-path length
                      (default: the node's, 4)
  --csv PATH          append one row per point to PATH (header written if new)
  --dir PATH          where the database goes (default: a temporary directory, removed after)";

struct Args {
    sizes: Vec<u64>,
    block_txs: usize,
    blocks: usize,
    warmup: usize,
    accounts: usize,
    fill_batch: u64,
    settle: Duration,
    cache_bytes: usize,
    tree_cache_depth: Option<usize>,
    csv: Option<PathBuf>,
    dir: Option<PathBuf>,
}

impl Args {
    fn parse() -> Result<Args> {
        let mut args = Args {
            sizes: vec![0, 100_000, 300_000, 1_000_000],
            block_txs: 2_000,
            blocks: 8,
            warmup: 1,
            accounts: 32,
            fill_batch: 50_000,
            settle: Duration::from_secs(180),
            cache_bytes: StoreConfig::default().cache_bytes,
            tree_cache_depth: StoreConfig::default().tree_cache_depth,
            csv: None,
            dir: None,
        };
        let mut given = std::env::args().skip(1);
        while let Some(flag) = given.next() {
            // `cargo bench` passes `--bench` to every bench binary.
            if flag == "--bench" {
                continue;
            }
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = given.next().with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
            let number = || -> Result<u64> {
                let n = value.replace('_', "").parse();
                n.with_context(|| format!("{flag} takes a number, not {value:?}"))
            };
            match flag.as_str() {
                "--sizes" => {
                    args.sizes = value
                        .split(',')
                        .map(|s| s.trim().replace('_', "").parse::<u64>())
                        .collect::<Result<_, _>>()
                        .with_context(|| format!("--sizes takes numbers, not {value:?}"))?
                }
                "--block-txs" => args.block_txs = number()? as usize,
                "--blocks" => args.blocks = number()? as usize,
                "--warmup" => args.warmup = number()? as usize,
                "--accounts" => args.accounts = number()? as usize,
                "--fill-batch" => args.fill_batch = number()?,
                "--settle-secs" => args.settle = Duration::from_secs(number()?),
                "--cache-mib" => args.cache_bytes = number()? as usize * (1 << 20),
                "--tree-cache-depth" if value == "off" => args.tree_cache_depth = None,
                "--tree-cache-depth" => args.tree_cache_depth = Some(number()? as usize),
                "--csv" => args.csv = Some(value.into()),
                "--dir" => args.dir = Some(value.into()),
                _ => bail!("unknown option {flag}\n{USAGE}"),
            }
        }
        ensure!(args.block_txs > 0 && args.blocks > 0, "--block-txs and --blocks must be positive");
        ensure!(
            args.accounts > 0 && args.fill_batch > 0,
            "--accounts and --fill-batch must be positive"
        );
        args.sizes.sort_unstable();
        args.sizes.dedup();
        Ok(args)
    }
}

/// CPU and wall time of one stage.
#[derive(Clone, Copy, Default, Debug)]
struct Cost {
    /// CPU of the process's threads but RocksDB's background ones.
    cpu_ns: u64,
    wall_ns: u64,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.cpu_ns += other.cpu_ns;
        self.wall_ns += other.wall_ns;
    }
}

/// CPU time of the process, and of RocksDB's background threads within it.
#[derive(Clone, Copy)]
struct CpuClock {
    process_ns: u64,
    background_ns: u64,
}

impl CpuClock {
    fn now() -> CpuClock {
        CpuClock { process_ns: process_cpu_ns(), background_ns: background_cpu_ns() }
    }

    /// (foreground, background) CPU since `self`.
    fn since(self) -> (u64, u64) {
        let now = CpuClock::now();
        let background = now.background_ns.saturating_sub(self.background_ns);
        let process = now.process_ns.saturating_sub(self.process_ns);
        (process.saturating_sub(background), background)
    }
}

/// Runs `f`, measuring the CPU it took — every thread of the process but RocksDB's background
/// ones (the runtime executes a block on a thread of its own) — and its wall time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Cost) {
    let (cpu, wall) = (CpuClock::now(), Instant::now());
    let out = f();
    let (foreground, _) = cpu.since();
    (out, Cost { cpu_ns: foreground, wall_ns: wall.elapsed().as_nanos() as u64 })
}

/// Nanoseconds of CPU the process has used, every thread included (those that have ended too).
fn process_cpu_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec for clock_gettime to fill in.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Nanoseconds of CPU used by RocksDB's background threads (flushes: `rocksdb:high`, compactions:
/// `rocksdb:low`), which live as long as the database.
fn background_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|task| {
            let task = task.ok()?.path();
            let name = std::fs::read_to_string(task.join("comm")).ok()?;
            if !name.starts_with("rocksdb") {
                return None;
            }
            let schedstat = std::fs::read_to_string(task.join("schedstat")).ok()?;
            schedstat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// The 1-minute load average of the machine.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Bytes of the files under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// What one block cost, stage by stage.
#[derive(Default, Debug)]
struct BlockCost {
    txs: usize,
    writes: usize,
    /// State entries the block added (new keys less deleted ones).
    new_entries: i64,
    /// Admission (signature batch, nonce and membership against the tip) and the pool's update
    /// after the block.
    admit: Cost,
    /// The block's transactions run by the wasm runtime (`transition::apply_block`).
    execute: Cost,
    /// The tree update and hashing (`Store::prepare_state`).
    prepare: Cost,
    /// `Chain::commit`: the store's checks and the block's one RocksDB write batch.
    write: Cost,
    /// CPU of RocksDB's flushes and compactions while the block ran.
    background_ns: u64,
    /// CPU of the process over the whole block (the stages, what lies between them, RocksDB's
    /// background threads).
    process_cpu_ns: u64,
}

/// The chain under test, its pool and the accounts that send the calls.
struct Bench {
    chain: std::sync::Arc<Chain>,
    pool: Mempool,
    contract: Address,
    abi: kessai_abi::Abi,
    senders: Vec<(Keypair, u64)>,
    owner: Address,
    base_time_ms: u64,
    /// Filler entries written so far.
    filled: u64,
    /// Live state entries (genesis, setup, filler and the measured blocks' records).
    entries: u64,
}

impl Bench {
    fn open(dir: &Path, args: &Args) -> Result<Bench> {
        let store = StoreConfig {
            cache_bytes: args.cache_bytes,
            tree_cache_depth: args.tree_cache_depth,
            ..StoreConfig::default()
        };
        let accounts = args.accounts;
        let chain = Chain::open_configured(ChainSpec::dev(), dir, store)?;
        let entries = count_entries(&chain)?;
        let contract = chain.resolve_contract("asset-ownership")?;
        let abi = chain.contract_abi(&contract)?;
        let senders = (0..accounts).map(|i| (Keypair::dev(&format!("bench-{i}")), 0)).collect();
        let mut bench = Bench {
            chain,
            pool: Mempool::new(MempoolLimits::default()),
            contract,
            abi,
            senders,
            owner: Keypair::dev("carol").address(),
            base_time_ms: now_ms() - 3_600_000,
            filled: 0,
            entries,
        };
        bench.setup()?;
        Ok(bench)
    }

    fn call(&self, method: &str, args: serde_json::Value) -> Result<Payload> {
        Ok(Payload::Call {
            contract: self.contract,
            method: method.into(),
            args: self.abi.encode_args(method, &args)?,
        })
    }

    /// What `kessai-loadgen` does first, signed by the dev admin: carol becomes the intermediary
    /// that owns the records, every sender a member and a registered provider.
    fn setup(&mut self) -> Result<()> {
        let admin = Keypair::dev("alice");
        let mut payloads = vec![self
            .call("register_intermediary", serde_json::json!([self.owner.to_string(), "carol"]))?];
        for (i, (sender, _)) in self.senders.iter().enumerate() {
            payloads.push(Payload::Governance(GovernanceAction::AddMember {
                key: sender.public(),
                roles: vec![],
            }));
            payloads.push(self.call(
                "register_provider",
                serde_json::json!([sender.address().to_string(), format!("producer-{i}")]),
            )?);
        }
        let txs = (0u64..)
            .zip(payloads)
            .map(|(nonce, payload)| sign(&self.chain, &admin, nonce, payload))
            .collect();
        self.run_block(txs).context("setup block")?;
        Ok(())
    }

    /// `count` signed `create` calls, the senders in turn, each in nonce order.
    fn creates(&mut self, count: usize) -> Result<Vec<SignedTransaction>> {
        let mut txs = Vec::with_capacity(count);
        for k in 0..count {
            let index = k % self.senders.len();
            let nonce = self.senders[index].1;
            let sender = &self.senders[index].0;
            let payload = self.call(
                "create",
                serde_json::json!([
                    sender.address().to_string(),
                    self.base_time_ms + nonce,
                    10 + nonce % 90,
                    "Solar",
                    self.owner.to_string(),
                    null
                ]),
            )?;
            txs.push(sign(&self.chain, sender, nonce, payload));
            self.senders[index].1 += 1;
        }
        Ok(txs)
    }

    /// Admits `txs`, builds a block of them as a proposer does, commits it; every transaction must
    /// succeed.
    fn run_block(&mut self, txs: Vec<SignedTransaction>) -> Result<BlockCost> {
        let (chain, pool) = (&*self.chain, &self.pool);
        let started = CpuClock::now();
        let mut cost = BlockCost { txs: txs.len(), ..Default::default() };

        // Admission, in batches of the size a load generator submits.
        let (admitted, admit) = timed(|| {
            txs.chunks(500).flat_map(|batch| pool.admit_batch(chain, batch)).collect::<Vec<_>>()
        });
        cost.admit += admit;
        for result in admitted {
            result.context("a transaction was not admitted")?;
        }
        let reaped = pool.reap(usize::MAX, usize::MAX);
        ensure!(reaped.len() == txs.len(), "reaped {} of {} transactions", reaped.len(), txs.len());

        let parent = match chain.tip_header() {
            Some(header) => Parent::of(&header),
            None => Parent::genesis(chain.spec.genesis_time_ms),
        };
        let input = BlockInput {
            chain_id: chain.chain_id(),
            height: parent.height + 1,
            time_ms: chain.next_block_time(),
            parent: parent.id,
            proposer: chain.spec.validators[0].public_key,
            txs: &reaped,
            last_commit: &None,
            evidence: &[],
            block_gas_limit: chain.spec.consensus.block_gas_limit,
        };
        let (applied, execute) = timed(|| {
            transition::apply_block(&chain.runtime, &chain.tip_state(), &input, &|id| {
                pool.contains(id)
            })
        });
        cost.execute = execute;
        let applied = applied?;
        if let Some(failed) = applied.receipts.iter().find(|r| !r.is_success()) {
            bail!("transaction {} failed: {:?}", failed.tx_id, failed.status);
        }
        let (prepared, prepare) =
            timed(|| chain.store.prepare_state(input.height, &applied.writes));
        cost.prepare = prepare;
        let prepared = prepared?;
        cost.writes = applied.writes.len();
        let header = transition::header_for(&input, &applied, prepared.root);
        let height = header.height;
        let block = Block { header, txs: reaped, last_commit: None, evidence: vec![] };
        let commit = Commit { height, round: 0, block: block.id(), signatures: vec![] };
        let committed: HashSet<Hash> = applied.receipts.iter().map(|r| r.tx_id).collect();
        let proposal = ExecutedProposal { block, receipts: applied.receipts, prepared };
        let (written, write) = timed(|| chain.commit(proposal, commit));
        cost.write = write;
        written?;
        let ((), update) = timed(|| pool.update(chain, &committed));
        cost.admit += update;
        let (foreground, background) = started.since();
        (cost.process_cpu_ns, cost.background_ns) = (foreground + background, background);

        // Outside every timer: which writes created a key (or deleted one).
        for (key, value) in &applied.writes {
            let existed = chain.store.get_at(key, height - 1)?.is_some();
            cost.new_entries += match (existed, value.is_some()) {
                (false, true) => 1,
                (true, false) => -1,
                _ => 0,
            };
        }
        self.entries = self.entries.saturating_add_signed(cost.new_entries);
        Ok(cost)
    }

    /// Grows the state by `count` entries, `batch` to a block, straight through the store.
    fn fill(&mut self, count: u64, batch: u64) -> Result<()> {
        let chain = &*self.chain;
        let end = self.filled + count;
        let started = Instant::now();
        let mut next_report = Instant::now() + Duration::from_secs(30);
        while self.filled < end {
            let upto = (self.filled + batch).min(end);
            let writes: WriteSet = (self.filled..upto)
                .map(|i| (filler_key(&self.contract, i), Some(filler_value(i))))
                .collect();
            let tip = chain.tip_header().context("the setup block is the tip")?;
            let prepared = chain.store.prepare_state(tip.height + 1, &writes)?;
            let mut header = tip.clone();
            header.height = tip.height + 1;
            header.parent = tip.id();
            header.time_ms = tip.time_ms + 1;
            header.tx_count = 0;
            header.txs_root = Block::txs_root(&[]);
            header.receipts_root = Block::receipts_root(&[]);
            header.state_root = prepared.root;
            header.last_commit_hash = Block::last_commit_hash(&None);
            header.evidence_hash = Block::evidence_hash(&[]);
            let block = Block { header, txs: vec![], last_commit: None, evidence: vec![] };
            let commit =
                Commit { height: tip.height + 1, round: 0, block: block.id(), signatures: vec![] };
            chain.commit(ExecutedProposal { block, receipts: vec![], prepared }, commit)?;
            self.entries += upto - self.filled;
            self.filled = upto;
            if Instant::now() >= next_report {
                next_report += Duration::from_secs(30);
                eprintln!(
                    "  grown to {} entries ({:.0} s, {:.0} writes/s)",
                    self.entries,
                    started.elapsed().as_secs_f64(),
                    (self.filled - (end - count)) as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    }
}

fn sign(chain: &Chain, signer: &Keypair, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain.chain_id().to_string(),
        signer: signer.public(),
        nonce,
        gas_limit: 5_000_000,
        payload,
    }
    .sign(signer)
}

/// A filler key: in the contract's namespace, its key a hash, as a contract's map keys are spread.
fn filler_key(namespace: &Address, i: u64) -> Vec<u8> {
    let mut key = b"bench-fill/".to_vec();
    key.extend_from_slice(blake3::hash(&i.to_le_bytes()).as_bytes());
    flat_key(namespace, &key)
}

fn filler_value(i: u64) -> Vec<u8> {
    let mut value = Vec::with_capacity(64);
    value.extend_from_slice(blake3::hash(&[&i.to_be_bytes()[..], b"a"].concat()).as_bytes());
    value.extend_from_slice(blake3::hash(&[&i.to_be_bytes()[..], b"b"].concat()).as_bytes());
    value
}

/// Entries of the committed state: every key of the flat state, counted once at open.
fn count_entries(chain: &Chain) -> Result<u64> {
    let mut count = 0;
    let mut from = Vec::new();
    while let Some((key, _)) = chain.store.next_from(&[], &from)? {
        count += 1;
        from = key;
        from.push(0);
    }
    Ok(count)
}

/// Waits until the process is idle (RocksDB's compactions of the fill done) for two seconds in a
/// row, at most `max`. Returns how long it waited.
fn settle(max: Duration) -> Duration {
    let started = Instant::now();
    let mut quiet = 0;
    while quiet < 2 && started.elapsed() < max {
        let before = process_cpu_ns();
        std::thread::sleep(Duration::from_secs(1));
        // Under 5 % of one core.
        quiet = if process_cpu_ns() - before < 50_000_000 { quiet + 1 } else { 0 };
    }
    started.elapsed()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

const CSV_HEADER: &str =
    "entries,entries_end,db_mib,load1,fill_s,settle_s,blocks,txs_per_block,writes_per_tx,\
new_entries_per_tx,admit_us,execute_us,prepare_us,write_us,background_us,block_us,node_us,\
process_us,\
execute_wall_us,prepare_wall_us,write_wall_us";

/// One point of the curve: the state's entries before and after the measured blocks (they add
/// records too), and the medians over the measured blocks, in µs of CPU per transaction: by stage,
/// `background` (the mean of RocksDB's flushes and compactions while the blocks ran), `block`
/// (execute, prepare and write: the stages of committing a block), `node` (every stage and the
/// background) and `process` (everything the process did over the block).
fn report(
    entries: (u64, u64),
    db: u64,
    load1: f64,
    fill: Duration,
    settle: Duration,
    blocks: &[BlockCost],
) -> String {
    let per_tx = |f: &dyn Fn(&BlockCost) -> f64| {
        median(blocks.iter().map(|b| f(b) / b.txs as f64).collect())
    };
    let us = |ns: u64| ns as f64 / 1_000.0;
    let admit = per_tx(&|b| us(b.admit.cpu_ns));
    let execute = per_tx(&|b| us(b.execute.cpu_ns));
    let prepare = per_tx(&|b| us(b.prepare.cpu_ns));
    let write = per_tx(&|b| us(b.write.cpu_ns));
    // Flushes and compactions come every few blocks: their mean, not their median, is their cost.
    let background = blocks.iter().map(|b| us(b.background_ns) / b.txs as f64).sum::<f64>()
        / blocks.len() as f64;
    let block = per_tx(&|b| us(b.execute.cpu_ns + b.prepare.cpu_ns + b.write.cpu_ns));
    let node =
        per_tx(&|b| us(b.admit.cpu_ns + b.execute.cpu_ns + b.prepare.cpu_ns + b.write.cpu_ns))
            + background;
    let process = per_tx(&|b| us(b.process_cpu_ns));
    format!(
        "{},{},{:.1},{load1:.2},{:.1},{:.1},{},{},{:.2},{:.2},{admit:.1},{execute:.1},{prepare:.1},\
{write:.1},{background:.1},{block:.1},{node:.1},{process:.1},{:.1},{:.1},{:.1}",
        entries.0,
        entries.1,
        db as f64 / (1 << 20) as f64,
        fill.as_secs_f64(),
        settle.as_secs_f64(),
        blocks.len(),
        blocks[0].txs,
        per_tx(&|b| b.writes as f64),
        per_tx(&|b| b.new_entries as f64),
        per_tx(&|b| us(b.execute.wall_ns)),
        per_tx(&|b| us(b.prepare.wall_ns)),
        per_tx(&|b| us(b.write.wall_ns)),
    )
}

fn main() -> Result<()> {
    let args = Args::parse()?;
    let temp;
    let dir = match &args.dir {
        Some(dir) => {
            ensure!(
                !dir.exists() || std::fs::read_dir(dir)?.next().is_none(),
                "{} is not empty: give a new directory",
                dir.display()
            );
            dir.clone()
        }
        None => {
            temp = tempfile::TempDir::new()?;
            temp.path().to_path_buf()
        }
    };
    let mut csv = match &args.csv {
        Some(path) => {
            let new = !path.exists() || std::fs::metadata(path)?.len() == 0;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            if new {
                writeln!(file, "{CSV_HEADER}")?;
            }
            Some(file)
        }
        None => None,
    };

    eprintln!("genesis and setup in {} …", dir.display());
    let mut bench = Bench::open(&dir, &args)?;
    println!("{CSV_HEADER}");
    for &target in &args.sizes {
        let fill_started = Instant::now();
        if target > bench.entries {
            eprintln!("growing the state from {} to {target} entries …", bench.entries);
            bench.fill(target - bench.entries, args.fill_batch)?;
        }
        let fill = fill_started.elapsed();
        let settled = settle(args.settle);
        let db = disk_bytes(&dir);
        eprintln!(
            "{} entries, {:.0} MiB on disk (grown in {:.0} s, settled in {:.0} s); measuring …",
            bench.entries,
            db as f64 / (1 << 20) as f64,
            fill.as_secs_f64(),
            settled.as_secs_f64()
        );
        for _ in 0..args.warmup {
            let txs = bench.creates(args.block_txs)?;
            bench.run_block(txs)?;
        }
        let entries = bench.entries;
        let mut blocks = Vec::new();
        let mut load = Vec::new();
        for _ in 0..args.blocks {
            let txs = bench.creates(args.block_txs)?;
            let cost = bench.run_block(txs)?;
            load.push(load_average());
            eprintln!(
                "  block of {}: admit {:.1}, execute {:.1}, prepare {:.1}, write {:.1}, \
                 background {:.1} µs/tx (CPU; wall {:.1} / {:.1} / {:.1}); process {:.1} µs/tx; \
                 {:.2} writes/tx",
                cost.txs,
                cost.admit.cpu_ns as f64 / 1e3 / cost.txs as f64,
                cost.execute.cpu_ns as f64 / 1e3 / cost.txs as f64,
                cost.prepare.cpu_ns as f64 / 1e3 / cost.txs as f64,
                cost.write.cpu_ns as f64 / 1e3 / cost.txs as f64,
                cost.background_ns as f64 / 1e3 / cost.txs as f64,
                cost.execute.wall_ns as f64 / 1e3 / cost.txs as f64,
                cost.prepare.wall_ns as f64 / 1e3 / cost.txs as f64,
                cost.write.wall_ns as f64 / 1e3 / cost.txs as f64,
                cost.process_cpu_ns as f64 / 1e3 / cost.txs as f64,
                cost.writes as f64 / cost.txs as f64,
            );
            blocks.push(cost);
        }
        let load1 = load.iter().sum::<f64>() / load.len() as f64;
        let row = report((entries, bench.entries), db, load1, fill, settled, &blocks);
        println!("{row}");
        if let Some(file) = csv.as_mut() {
            writeln!(file, "{row}")?;
            file.flush()?;
        }
    }
    Ok(())
}
