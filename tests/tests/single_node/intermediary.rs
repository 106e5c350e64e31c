//! Intermediary mediation (JP7803395B2) through real processes: a `kessai dev` chain and one
//! `kessai intermediary serve` per intermediary, driven by the CLI (`kessai intermediary report`,
//! `certificate`, `tx call`) and, for forged requests, by the intermediary protocol's own client.
//!
//! Cast: alice administers the contract; dave produces solar (Aa) and erin oil (Ab); bob is the
//! intermediary Da, carol the intermediary Db; frank is the consumer Ca (target 40 %, solar and
//! oil, 10 kWh per 30-minute slot).

use kessai_client::Trust;
use kessai_intermediary::certificate;
use kessai_intermediary::ledger::Ledger;
use kessai_intermediary::protocol::*;
use kessai_intermediary::server::peer_client;
use kessai_primitives::Keypair;
use kessai_tests::{kessai_bin, now_ms, stderr, TestNode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KWH: u64 = 1000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// 2020-01-01T09:00:00Z, the slot of the patent's example.
const NINE: &str = "2020-01-01T09:00:00Z";
const NINE_THIRTY: &str = "2020-01-01T09:30:00Z";
/// Provision times of the records: the night before the example, one slot apart.
const PROVIDED_FROM_MS: u64 = 1_577_836_800_000; // 2020-01-01T00:00:00Z

fn addr(name: &str) -> String {
    Keypair::dev(name).address().to_string()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// The dev chain with the cast registered.
struct Chain {
    node: TestNode,
    slot: std::cell::Cell<u64>,
}

impl Chain {
    fn start() -> Chain {
        let node = TestNode::dev();
        let register = |method: &str, who: &str, name: &str| {
            node.call_ok("alice", "asset-ownership", method, &json!([addr(who), name]).to_string());
        };
        register("register_provider", "dave", "Aa solar");
        register("register_provider", "erin", "Ab oil");
        register("register_intermediary", "bob", "Da");
        register("register_intermediary", "carol", "Db");
        Chain { node, slot: std::cell::Cell::new(0) }
    }

    /// A record of `kwh` produced by `method` (dave: solar and wind, erin: oil), owned by the
    /// intermediary `owner`, expiring at `expiry_ms`. Returns its id.
    fn create(&self, method: &str, kwh: u64, owner: &str, expiry_ms: u64) -> u64 {
        let producer = if method == "Oil" { "erin" } else { "dave" };
        let slot = self.slot.get();
        self.slot.set(slot + 1);
        let provided_at = PROVIDED_FROM_MS + slot * 30 * 60_000;
        let args = json!([addr(producer), provided_at, kwh * KWH, method, addr(owner), expiry_ms]);
        let receipt = self.node.call_ok(producer, "asset-ownership", "create", &args.to_string());
        receipt["result"].as_u64().expect("create returns the asset id")
    }

    fn record(&self, id: u64) -> Value {
        let out = self.node.cli_json(&[
            "query",
            "view",
            "asset-ownership",
            "get",
            &json!([id]).to_string(),
        ]);
        out["decoded"].clone()
    }

    /// A call as `who` that must fail on chain; returns the contract's reason.
    fn refused(&self, who: &str, method: &str, args: Value) -> String {
        let out = self.node.call(who, "asset-ownership", method, &args.to_string());
        assert!(!out.status.success(), "{who} {method} {args} should have been refused");
        let receipt: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        receipt["receipt"]["status"]["reason"].as_str().map_or_else(|| stderr(&out), str::to_string)
    }

    fn chain_time_ms(&self) -> u64 {
        self.node.cli_json(&["status"])["time_ms"].as_u64().unwrap()
    }

    fn in_days(&self, days: u64) -> u64 {
        now_ms() + days * DAY_MS
    }
}

/// A `kessai intermediary serve` process.
struct Intermediary {
    url: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Intermediary {
    /// Serves as `key` (bob: Da, carol: Db) for the consumer frank, asking `peers` in order.
    fn start(chain: &Chain, name: &str, key: &str, peers: &[&str], margin_ms: u64) -> Intermediary {
        let dir = tempfile::tempdir().unwrap();
        let config = json!({
            "name": name,
            "key": chain.node.home.join("keys").join(format!("{key}.json")),
            "node_rpc": chain.node.rpc,
            "trust_spec": chain.node.chain_spec(),
            "listen": "127.0.0.1:0",
            "peers": peers,
            "expiry_margin_ms": margin_ms,
            "journal": "reports.jsonl",
            "consumers": [{
                "name": "Ca", "address": addr("frank"), "renewable_target_percent": 40,
                "methods": ["Solar", "Oil"], "planned_wh_per_slot": 10 * KWH
            }]
        });
        let config_path = dir.path().join(format!("{key}.json"));
        std::fs::write(&config_path, config.to_string()).unwrap();
        let url_file = dir.path().join("url");
        let log = dir.path().join("intermediary.log");
        let child = Command::new(kessai_bin())
            .args(["intermediary", "serve", "--config"])
            .arg(&config_path)
            .arg("--url-file")
            .arg(&url_file)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn kessai intermediary serve");
        let mut server = Intermediary { url: String::new(), child, log, _dir: dir };
        let start = Instant::now();
        while server.url.is_empty() {
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                server.url = url.trim().to_string();
            } else if let Some(status) = server.child.try_wait().unwrap() {
                panic!("intermediary exited with {status}:\n{}", server.log_text());
            } else if start.elapsed() > Duration::from_secs(60) {
                panic!("intermediary did not listen in 60 s:\n{}", server.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kessai intermediary report` as frank's meter.
    fn report(&self, chain: &Chain, slot: &str, usage_wh: u64) -> Output {
        Command::new(kessai_bin())
            .args(["intermediary", "report", "--intermediary", &self.url, "--key", "frank"])
            .args(["--keys-dir", &chain.node.keys_dir(), "--slot", slot])
            .args(["--usage-wh", &usage_wh.to_string(), "--json"])
            .output()
            .unwrap()
    }

    fn report_ok(&self, chain: &Chain, slot: &str, usage_wh: u64) -> Value {
        let out = self.report(chain, slot, usage_wh);
        assert!(
            out.status.success(),
            "report failed: {}\n--- intermediary log ---\n{}",
            stderr(&out),
            self.log_text()
        );
        serde_json::from_slice(&out.stdout).expect("JSON outcome")
    }

    fn client(&self) -> kessai_client::HttpClient {
        peer_client(&self.url).unwrap()
    }
}

impl Drop for Intermediary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn history(outcome: &Value, key: &str) -> Vec<(String, u64)> {
    outcome[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["method"].as_str().unwrap().to_string(), t["wh"].as_u64().unwrap()))
        .collect()
}

fn solar_oil(solar_kwh: u64, oil_kwh: u64) -> Vec<(String, u64)> {
    vec![("Solar".into(), solar_kwh * KWH), ("Oil".into(), oil_kwh * KWH)]
}

/// bob (Da) has already allocated frank solar 20 kWh and oil 160 kWh: the example's history.
fn allocate_history(chain: &Chain) {
    let expiry = chain.in_days(30);
    for (method, kwh) in [("Solar", 20), ("Oil", 160)] {
        let id = chain.create(method, kwh, "bob", expiry);
        let args = json!([id, addr("frank"), kwh * KWH]).to_string();
        chain.node.call_ok("bob", "asset-ownership", "final_transfer", &args);
    }
}

#[test]
fn worked_example_target_40_history_20_160_chooses_solar_and_certifies_30() {
    let chain = Chain::start();
    let period_start = chain.chain_time_ms();
    allocate_history(&chain);
    // Two solar records cover the slot; the one expiring sooner goes first, even though the other
    // matches the usage exactly.
    let solar_later = chain.create("Solar", 10, "bob", chain.in_days(20));
    let solar_sooner = chain.create("Solar", 15, "bob", chain.in_days(10));
    let oil = chain.create("Oil", 100, "bob", chain.in_days(5));
    let da = Intermediary::start(&chain, "Da", "bob", &[], 60_000);

    let outcome = da.report_ok(&chain, NINE, 10 * KWH);
    assert_eq!(history(&outcome, "history_before"), solar_oil(20, 160));
    assert_eq!(outcome["decided_method"], "Solar", "{outcome}");
    assert_eq!(outcome["allocated_method"], "Solar");
    assert_eq!(outcome["source"]["kind"], "own");
    let allocation = &outcome["allocations"][0];
    assert_eq!(allocation["asset_id"], solar_sooner);
    assert_eq!(allocation["amount_wh"], 10 * KWH);
    assert_eq!(history(&outcome, "history_after"), solar_oil(30, 160));
    assert_eq!(outcome["renewable_basis_points_after"], 1578); // 30/190 = 15.78 %

    // On chain: Da → Ca, NotYet → Completed, the amount is the usage; the rest stays with Da.
    let record = chain.record(solar_sooner);
    assert_eq!(
        (record["owner"].as_str(), &record["status"]),
        (Some(&*addr("frank")), &json!("Completed"))
    );
    assert_eq!(record["amount"], 10 * KWH);
    let remainder = chain.record(allocation["remainder_id"].as_u64().expect("a remainder"));
    assert_eq!(remainder["owner"], addr("bob"));
    assert_eq!(
        (remainder["amount"].as_u64(), &remainder["status"]),
        (Some(5 * KWH), &json!("NotYet"))
    );
    assert_eq!(chain.record(oil)["owner"], addr("bob"), "oil was not the method decided");

    // The certificate for the period: solar 30, oil 160, every entry proved.
    let period_end = chain.chain_time_ms() + 60_000;
    let cert = certificate_cli(&chain, &da, period_start, period_end);
    let c = &cert["certificate"];
    assert_eq!(c["entries"].as_array().unwrap().len(), 3);
    assert_eq!(
        (c["total_wh"].as_u64(), c["renewable_wh"].as_u64()),
        (Some(190 * KWH), Some(30 * KWH))
    );
    assert_eq!(c["renewable_basis_points"], 1578);
    assert_eq!(cert["verified"]["signed_power"], cert["verified"]["total_power"]);

    // 15.8 % is still below 40 %: the next slot is solar again, now from the other record.
    let next = da.report_ok(&chain, NINE_THIRTY, 10 * KWH);
    assert_eq!(next["decided_method"], "Solar");
    assert_eq!(next["allocations"][0]["asset_id"], solar_later);
    assert_eq!(history(&next, "history_after"), solar_oil(40, 160));

    // A slot is allocated once, however often the meter repeats it.
    let again = da.report(&chain, NINE, 10 * KWH);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already reported"), "{}", stderr(&again));
}

/// `kessai intermediary certificate` for frank, verified against the node.
fn certificate_cli(chain: &Chain, server: &Intermediary, from_ms: u64, to_ms: u64) -> Value {
    let keys = chain.node.keys_dir();
    let (from, to) = (from_ms.to_string(), to_ms.to_string());
    chain.node.cli_json(&[
        "intermediary",
        "certificate",
        "--intermediary",
        &server.url,
        "--consumer",
        "frank",
        "--keys-dir",
        &keys,
        "--from",
        &from,
        "--to",
        &to,
    ])
}

#[test]
fn a_certificate_with_a_changed_entry_or_total_does_not_verify() {
    let chain = Chain::start();
    allocate_history(&chain);
    chain.create("Solar", 10, "bob", chain.in_days(10));
    let da = Intermediary::start(&chain, "Da", "bob", &[], 60_000);
    da.report_ok(&chain, NINE, 10 * KWH);

    let to_ms = chain.chain_time_ms() + 60_000;
    let cert =
        block_on(da.client().certificate(Keypair::dev("frank").address(), 0, to_ms)).unwrap();
    let trust = Trust::spec(chain.node.chain_spec());
    let ledger = block_on(Ledger::connect(&chain.node.rpc, "asset-ownership", &trust)).unwrap();
    let header = block_on(ledger.verified_header(cert.height)).unwrap();
    certificate::verify(&cert, &header).expect("the certificate as issued verifies");
    // Da certifies its own consumers only.
    let erin = Keypair::dev("erin").address();
    let err = block_on(da.client().certificate(erin, 0, to_ms)).unwrap_err().to_string();
    assert!(err.contains("not a consumer"), "{err}");
    assert_eq!(cert.renewable_basis_points, Some(1578));

    // More solar than the chain holds: the entry's proof fails.
    let mut inflated = cert.clone();
    let solar =
        inflated.entries.iter_mut().find(|e| e.transfer.record.method.is_renewable()).unwrap();
    solar.transfer.record.amount += 100 * KWH;
    assert!(certificate::verify(&inflated, &header).is_err());
    // A better share than the entries add up to.
    let mut boasted = cert.clone();
    boasted.renewable_basis_points = Some(4000);
    assert!(certificate::verify(&boasted, &header).is_err());
    // An entry counted twice.
    let mut doubled = cert.clone();
    doubled.entries.push(doubled.entries[0].clone());
    assert!(certificate::verify(&doubled, &header).is_err());
    // Oil left out: the remaining entries still prove, the totals no longer match them.
    let mut no_oil = cert;
    no_oil.entries.retain(|e| e.transfer.record.method.is_renewable());
    assert!(certificate::verify(&no_oil, &header).is_err());
}

#[test]
fn without_solar_da_asks_db_which_splits_and_transfers_change_completed() {
    let chain = Chain::start();
    let da_oil = chain.create("Oil", 100, "bob", chain.in_days(10));
    let db_solar = chain.create("Solar", 25, "carol", chain.in_days(10));
    let db = Intermediary::start(&chain, "Db", "carol", &[], 60_000);
    let da = Intermediary::start(&chain, "Da", "bob", &[&db.url], 60_000);

    // No history: 0 % is below 40 %, so solar; Da has none and asks Db.
    let outcome = da.report_ok(&chain, NINE, 10 * KWH);
    assert_eq!(outcome["decided_method"], "Solar", "{outcome}");
    assert_eq!(outcome["source"], json!({"kind": "peer", "url": db.url}));
    assert!(outcome["peers_asked"][0]["answer"].as_str().unwrap().starts_with("change completed"));
    assert_eq!(outcome["allocated_method"], "Solar");

    // Db split the 10 kWh asked for off its record (Db → Da, NotYet) and Da allocated them
    // (Da → Ca, Completed); Db keeps 15 kWh, Da's oil is untouched.
    let allocated = chain.record(outcome["allocations"][0]["asset_id"].as_u64().unwrap());
    assert_eq!(allocated["origin"], db_solar);
    assert_eq!(
        (allocated["owner"].as_str(), &allocated["status"]),
        (Some(&*addr("frank")), &json!("Completed"))
    );
    assert_eq!(allocated["amount"], 10 * KWH);
    let kept = chain.record(db_solar);
    assert_eq!(
        (kept["owner"].as_str(), kept["amount"].as_u64()),
        (Some(&*addr("carol")), Some(15 * KWH))
    );
    assert_eq!(chain.record(da_oil)["amount"], 100 * KWH);
    let to_da = chain.node.cli_json(&[
        "query",
        "view",
        "asset-ownership",
        "transfers_to",
        &json!([addr("bob"), 0, u64::MAX]).to_string(),
    ]);
    let moves = to_da["decoded"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{to_da}");
    assert_eq!(
        (moves[0]["from"].as_str(), &moves[0]["kind"]),
        (Some(&*addr("carol")), &json!("Intermediary"))
    );
}

#[test]
fn when_every_peer_refuses_da_falls_back_to_its_own_oil() {
    let chain = Chain::start();
    // A peer that is not there, and Db, which has wind but no solar.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let db_wind = chain.create("Wind", 50, "carol", chain.in_days(10));
    let db = Intermediary::start(&chain, "Db", "carol", &[], 60_000);
    let da = Intermediary::start(&chain, "Da", "bob", &[&dead, &db.url], 60_000);

    // Da owns nothing yet: nothing at all can be allocated, and the slot is not used up.
    let out = da.report(&chain, NINE, 10 * KWH);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no solar record covers"), "{}", stderr(&out));

    let da_oil = chain.create("Oil", 100, "bob", chain.in_days(10));
    let outcome = da.report_ok(&chain, NINE, 10 * KWH);
    assert_eq!(outcome["decided_method"], "Solar", "{outcome}");
    let answers: Vec<&str> = outcome["peers_asked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["answer"].as_str().unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers[0].starts_with("not reachable"), "{answers:?}");
    assert!(answers[1].starts_with("change not permitted"), "{answers:?}");
    assert_eq!(outcome["source"]["kind"], "fallback");
    assert_eq!(outcome["allocated_method"], "Oil");
    assert_eq!(outcome["allocations"][0]["asset_id"], da_oil);
    assert_eq!(history(&outcome, "history_after"), vec![("Oil".to_string(), 10 * KWH)]);
    assert_eq!(chain.record(db_wind)["owner"], addr("carol"), "Db's wind did not move");
}

#[test]
fn nobody_moves_a_record_that_is_someone_elses() {
    let chain = Chain::start();
    let das = chain.create("Solar", 10, "bob", chain.in_days(10));
    let dbs = chain.create("Solar", 10, "carol", chain.in_days(10));

    // On chain: another intermediary, the consumer, the producer — none of them owns it.
    for who in ["carol", "frank", "dave"] {
        let reason = chain.refused(who, "transfer", json!([das, addr(who)]));
        assert!(reason.contains("only the owner"), "{who}: {reason}");
        let reason = chain.refused(who, "final_transfer", json!([das, addr("frank"), KWH]));
        assert!(reason.contains("only the owner"), "{who}: {reason}");
    }

    let db = Intermediary::start(&chain, "Db", "carol", &[], 60_000);
    let client = db.client();
    let db_address = Keypair::dev("carol").address();
    let request = |requester: &str, sequence: u64| ChangeRequest {
        requester: Keypair::dev(requester).address(),
        peer: db_address,
        method: kessai_intermediary::asset::ProductionMethod::Solar,
        amount_wh: 10 * KWH,
        issued_at_ms: now_ms(),
        sequence,
    };
    // A change request for bob signed by erin's key.
    let forged = Signed::sign(request("bob", 1), CHANGE_DOMAIN, &Keypair::dev("erin"));
    let err = block_on(client.request_change(forged)).unwrap_err().to_string();
    assert!(err.contains("not signed by the requester"), "{err}");
    // erin asking for herself: properly signed, but not a registered intermediary.
    let own = Signed::sign(request("erin", 2), CHANGE_DOMAIN, &Keypair::dev("erin"));
    let answer = block_on(client.request_change(own)).unwrap();
    assert!(
        matches!(&answer, ChangeAnswer::ChangeNotPermitted { reason } if reason.contains("not a registered intermediary")),
        "{answer:?}"
    );
    // A usage report for frank signed by erin allocates nothing.
    let report = UsageReport {
        intermediary: db_address,
        consumer: Keypair::dev("frank").address(),
        slot_start_ms: 1_577_869_200_000,
        usage_wh: 10 * KWH,
    };
    let err = block_on(client.report(Signed::sign(report, REPORT_DOMAIN, &Keypair::dev("erin"))))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not signed by the consumer"), "{err}");
    assert_eq!(chain.record(dbs)["owner"], addr("carol"), "nothing moved Db's record");

    // bob's genuine request is served once; the same signed request again is refused.
    let genuine = Signed::sign(request("bob", 3), CHANGE_DOMAIN, &Keypair::dev("bob"));
    let answer = block_on(client.request_change(genuine.clone())).unwrap();
    let ChangeAnswer::ChangeCompleted { asset_ids, .. } = answer else {
        panic!("bob's request was refused: {answer:?}");
    };
    assert_eq!(asset_ids, vec![dbs], "the whole 10 kWh record, no split");
    assert_eq!(chain.record(dbs)["owner"], addr("bob"));
    let err = block_on(client.request_change(genuine)).unwrap_err().to_string();
    assert!(err.contains("already served"), "{err}");
}

#[test]
fn a_completed_record_never_moves_again() {
    let chain = Chain::start();
    let solar = chain.create("Solar", 10, "bob", chain.in_days(10));
    let da = Intermediary::start(&chain, "Da", "bob", &[], 60_000);
    let outcome = da.report_ok(&chain, NINE, 10 * KWH);
    assert_eq!(outcome["allocations"][0]["asset_id"], solar);
    assert_eq!(outcome["allocations"][0]["remainder_id"], Value::Null);
    assert_eq!(chain.record(solar)["status"], "Completed");

    // Not by its new owner, nor by the intermediary that had it.
    let reason = chain.refused("frank", "transfer", json!([solar, addr("bob")]));
    assert!(reason.contains("completed"), "{reason}");
    let reason = chain.refused("bob", "final_transfer", json!([solar, addr("frank"), KWH]));
    assert!(reason.contains("only the owner"), "{reason}");
    // And the intermediary does not count it as stock: frank is now at 100 % solar, so oil is
    // decided, and the fallback, which would take solar, finds none either.
    let out = da.report(&chain, NINE_THIRTY, 10 * KWH);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no oil record covers"), "{}", stderr(&out));
    assert_eq!(chain.record(solar)["owner"], addr("frank"));
}

#[test]
fn an_expired_record_is_passed_over_even_though_it_expires_soonest() {
    let chain = Chain::start();
    let expires_soon = chain.create("Solar", 10, "bob", now_ms() + 6_000);
    let valid = chain.create("Solar", 10, "bob", chain.in_days(10));
    let start = Instant::now();
    while chain.chain_time_ms() <= chain.record(expires_soon)["expiry_ms"].as_u64().unwrap() {
        assert!(start.elapsed() < Duration::from_secs(60), "the chain's time does not advance");
        std::thread::sleep(Duration::from_millis(500));
    }
    let reason = chain.refused("bob", "final_transfer", json!([expires_soon, addr("frank"), KWH]));
    assert!(reason.contains("expired"), "{reason}");

    let da = Intermediary::start(&chain, "Da", "bob", &[], 1_000);
    let outcome = da.report_ok(&chain, NINE, 10 * KWH);
    assert_eq!(outcome["allocations"][0]["asset_id"], valid, "{outcome}");
    // Never allocated, and past its expiry in block time: the contract reports it Expired.
    let expired = chain.record(expires_soon);
    assert_eq!(
        (expired["owner"].as_str(), &expired["status"]),
        (Some(&*addr("bob")), &json!("Expired"))
    );
}
