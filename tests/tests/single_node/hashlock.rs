//! The burn-and-issue hash-lock of JP6980288B2 across two real chains on this machine: a power
//! chain (`kessai dev`, chain id kessai-dev, contract power-ledger) and a value chain (the same spec
//! under chain id kessai-value, contract value-certificate), driven through the CLI only:
//! `kessai tx call`, `kessai query view`, and `kessai swap` (secret, leg, claim, and the relayer
//! `watch-and-complete` as a separate process).
//!
//! alice is the administrator (terminal 14) on both chains; bob holds power (terminal 24). The dev
//! preset deploys the pair once per embodiment (decision 0009): `power-ledger` (first legs, 40 s)
//! with `value-certificate` (second legs, 15 s) for embodiment 3, and `value-certificate-e4`
//! (first legs, 40 s) with `power-ledger-e4` (second legs, 15 s) for embodiment 4; a second leg's
//! deadline is at least 5 s before its counter leg's. Legs are registered with
//! `kessai swap register`, which proves the counter leg on the other chain before it signs.

use borsh::BorshSerialize;
use kessai_primitives::{Hash, Keypair};
use kessai_tests::proxy::{Lie, LyingProxy};
use kessai_tests::{dev_address as addr, kessai, kessai_bin, stderr, TestNode};
use serde_json::{json, Value};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const POWER: &str = "power-ledger";
const VALUE: &str = "value-certificate";
const POWER_E4: &str = "power-ledger-e4";
const VALUE_E4: &str = "value-certificate-e4";
const X: u64 = 30;
/// The dev presets' margin between the deadlines of a second leg and its counter leg.
const MARGIN_MS: u64 = 5_000;

/// The power chain and the value chain.
fn two_chains() -> (TestNode, TestNode) {
    let power = TestNode::dev();
    let value = TestNode::with_chain_id(&power, "kessai-value");
    let ids =
        [&power, &value].map(|n| n.cli_json(&["status"])["chain_id"].as_str().unwrap().to_string());
    assert_eq!(ids, ["kessai-dev", "kessai-value"]);
    (power, value)
}

fn balance(node: &TestNode, who: &str) -> u64 {
    balance_in(node, POWER, who)
}

fn balance_in(node: &TestNode, ledger: &str, who: &str) -> u64 {
    node.view(ledger, "balance_of", &json!([addr(who)])).as_u64().unwrap()
}

fn supply(node: &TestNode) -> u64 {
    node.view(POWER, "total_supply", &json!([])).as_u64().unwrap()
}

/// `--amount N` for a power ledger, `--token N` for value certificates.
fn subject_flag(contract: &str) -> &'static str {
    if contract.starts_with("power-ledger") {
        "--amount"
    } else {
        "--token"
    }
}

/// `kessai swap register` of a first leg: `key` drew `secret` and locks `subject` to `claimant`.
fn register_first(
    node: &TestNode,
    key: &str,
    contract: &str,
    subject: u64,
    secret: &str,
    algorithm: &str,
    claimant: &str,
) -> Output {
    let keys = node.keys_dir();
    let subject = subject.to_string();
    node.cli(&[
        "swap",
        "register",
        "--contract",
        contract,
        subject_flag(contract),
        &subject,
        "--secret",
        secret,
        "--algorithm",
        algorithm,
        "--claimant",
        claimant,
        "--key",
        key,
        "--keys-dir",
        &keys,
        "--json",
    ])
}

/// `kessai swap register` of a second leg on `node` answering `counter_request` on `counter`.
fn register_second(
    node: &TestNode,
    key: &str,
    contract: &str,
    subject: u64,
    counter: &TestNode,
    counter_contract: &str,
    counter_request: u64,
) -> Output {
    let keys = node.keys_dir();
    let (subject, counter_request) = (subject.to_string(), counter_request.to_string());
    let counter_spec = counter.chain_spec();
    node.cli(&[
        "swap",
        "register",
        "--contract",
        contract,
        subject_flag(contract),
        &subject,
        "--counter-rpc",
        &counter.rpc,
        "--counter-contract",
        counter_contract,
        "--counter-request",
        &counter_request,
        "--counter-trust-spec",
        &counter_spec,
        "--key",
        key,
        "--keys-dir",
        &keys,
        "--json",
    ])
}

/// The new leg's id from a successful `kessai swap register`.
fn registered(out: Output) -> u64 {
    assert!(out.status.success(), "swap register failed: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["id"].as_u64().unwrap()
}

/// The error of a refused `kessai swap register` (nothing was submitted).
fn register_refused(out: Output) -> String {
    assert!(!out.status.success(), "swap register should have been refused");
    stderr(&out)
}

/// `kessai swap leg`: the leg read with a verified state proof.
fn leg(node: &TestNode, contract: &str, id: u64) -> Value {
    let out = node.cli_json(&["swap", "leg", "--contract", contract, "--request", &id.to_string()]);
    assert!(
        out["proof"]["signed_power"].as_u64().unwrap() * 3
            > out["proof"]["total_power"].as_u64().unwrap() * 2
    );
    out["leg"].clone()
}

/// `kessai swap claim` as `key`.
fn swap_claim(node: &TestNode, key: &str, contract: &str, id: u64, secret: &str) -> Output {
    let keys = node.keys_dir();
    node.cli(&[
        "swap",
        "claim",
        "--contract",
        contract,
        "--request",
        &id.to_string(),
        "--secret",
        secret,
        "--key",
        key,
        "--keys-dir",
        &keys,
        "--json",
    ])
}

fn swap_claim_ok(node: &TestNode, key: &str, contract: &str, id: u64, secret: &str) -> Value {
    let out = swap_claim(node, key, contract, id, secret);
    assert!(out.status.success(), "swap claim failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A fresh secret and its two lock hashes, from `kessai swap secret`.
fn secret() -> (String, String, String) {
    let out = kessai(&["swap", "secret", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = v["secret"].as_str().unwrap().to_string();
    let bytes = hex::decode(&r).unwrap();
    assert_eq!(bytes.len(), 32);
    assert_eq!(v["blake3"].as_str().unwrap(), Hash::digest(&bytes).to_hex());
    (r, v["blake3"].as_str().unwrap().into(), v["sha256"].as_str().unwrap().into())
}

fn lock(algorithm: &str, hash: &str) -> Value {
    json!({"algorithm": algorithm, "hash": hash})
}

/// The relayer as its own process: watch `from` for the claim of `request`, complete `to_request`
/// on `to` as `key`.
// One parameter per `kessai swap watch-and-complete` flag, so the call sites read like the CLI.
#[allow(clippy::too_many_arguments)]
fn relayer(
    from: &TestNode,
    from_contract: &str,
    request: u64,
    to: &TestNode,
    to_contract: &str,
    to_request: u64,
    key: &str,
    extra: &[&str],
) -> Child {
    let keys = to.keys_dir();
    let (request, to_request) = (request.to_string(), to_request.to_string());
    // Each chain's headers are verified from its own chain spec (its genesis validators).
    let (from_spec, to_spec) = (from.chain_spec(), to.chain_spec());
    let mut args = vec![
        "swap",
        "watch-and-complete",
        "--from-rpc",
        &from.rpc,
        "--from-contract",
        from_contract,
        "--request",
        &request,
        "--to-rpc",
        &to.rpc,
        "--to-contract",
        to_contract,
        "--to-request",
        &to_request,
        "--key",
        key,
        "--keys-dir",
        &keys,
        "--json",
        "--poll-ms",
        "200",
        "--from-trust-spec",
        &from_spec,
        "--to-trust-spec",
        &to_spec,
    ];
    args.extend_from_slice(extra);
    Command::new(kessai_bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relayer starts")
}

/// The relayer's JSON lines, once it has exited successfully.
fn relayer_done(child: Child) -> Vec<Value> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "relayer failed: {}\n{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The relayer's error, once it has exited with one.
fn relayer_failed(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "relayer should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr(&out)
}

/// Block time of the chain's last block.
fn chain_time(node: &TestNode) -> u64 {
    node.cli_json(&["status"])["time_ms"].as_u64().unwrap()
}

fn wait_chain_time(node: &TestNode, time_ms: u64) {
    let start = Instant::now();
    while chain_time(node) < time_ms {
        assert!(start.elapsed() < Duration::from_secs(90), "chain time {time_ms} not reached");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn contract_address(node: &TestNode, contract: &str) -> [u8; 32] {
    let info = node.cli_json(&["query", "contract", contract]);
    hex::decode(info["address"].as_str().unwrap()).unwrap().try_into().unwrap()
}

/// The claim message of `hashlock-core`, built here from its documented layout.
#[derive(BorshSerialize)]
struct ClaimMessage {
    action: u8,
    contract: [u8; 32],
    request_id: u64,
    registered_at_ms: u64,
    algorithm: u8,
    hash: [u8; 32],
    preimage: [u8; 32],
    claimant: [u8; 32],
}

/// `signer`'s signature of the burn claim of request `id` with `secret`, as hex.
fn burn_signature(node: &TestNode, signer: &str, id: u64, secret: &str) -> String {
    burn_signature_in(node, POWER, signer, id, secret)
}

/// [`burn_signature`] for the power ledger deployed as `ledger`.
fn burn_signature_in(node: &TestNode, ledger: &str, signer: &str, id: u64, secret: &str) -> String {
    let request = node.view(ledger, "burn_request", &json!([id]));
    let message = ClaimMessage {
        action: 0,
        contract: contract_address(node, ledger),
        request_id: id,
        registered_at_ms: request["timestamp_ms"].as_u64().unwrap(),
        algorithm: u8::from(request["lock"]["algorithm"] == "Sha256"),
        hash: hex::decode(request["lock"]["hash"].as_str().unwrap()).unwrap().try_into().unwrap(),
        preimage: hex::decode(secret).unwrap().try_into().unwrap(),
        claimant: hex::decode(request["permitted"].as_str().unwrap()).unwrap().try_into().unwrap(),
    };
    let sig =
        Keypair::dev(signer).sign(b"kessai/hashlock/claim/v1", &borsh::to_vec(&message).unwrap());
    hex::encode(sig.0)
}

#[test]
fn both_embodiments_convert_power_into_a_certificate_once() {
    let (power, value) = two_chains();

    // The patent's issuance example: A 100, B 50; issue(20, A) → A 120, B 50.
    power.call_result("alice", POWER, "issue", &json!([100, addr("carol")]));
    power.call_result("alice", POWER, "issue", &json!([50, addr("dave")]));
    power.call_result("alice", POWER, "issue", &json!([20, addr("carol")]));
    assert_eq!((balance(&power, "carol"), balance(&power, "dave")), (120, 50));
    assert!(power
        .refused("bob", POWER, "issue", &json!([1, addr("bob")]))
        .contains("only the admin"));
    power.call_result("alice", POWER, "issue", &json!([100, addr("bob")]));
    let supply0 = supply(&power);

    // Embodiment 3: bob draws R; burn request (first leg) → alice's client proves it on the power
    // chain and registers Y's transfer condition (second leg) under its lock, for bob, checked
    // against its proven deadline → bob claims Y with R → alice's relayer reads R on the value
    // chain and burns X on the power chain.
    let (r, h, _) = secret();
    let burn = registered(register_first(&power, "bob", POWER, X, &r, "blake3", &addr("alice")));
    assert_eq!(balance(&power, "bob"), 100 - X);
    let request = leg(&power, POWER, burn);
    assert_eq!(
        (request["subject"].as_u64(), request["status"].as_str(), request["lock"]["hash"].as_str()),
        (Some(X), Some("Active"), Some(h.as_str()))
    );
    let d1 = request["deadline_ms"].as_u64().unwrap();
    let token = value
        .call_result("alice", VALUE, "issue", &json!(["59".repeat(32), null]))
        .as_u64()
        .unwrap();
    // A raw second leg without the counter deadline, or with one it does not leave the margin
    // before, is refused by the contract.
    assert!(value
        .refused(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token, lock("Blake3", &h), addr("bob"), null])
        )
        .contains("counter leg's deadline is required"));
    assert!(value
        .refused(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token, lock("Blake3", &h), addr("bob"), chain_time(&value) + 16_000])
        )
        .contains("unsafe timeout order"));
    // The client will not answer a leg that does not pay its signer.
    assert!(register_refused(register_second(&value, "carol", VALUE, token, &power, POWER, burn))
        .contains("not you"));
    // Nor one that locks another amount than the signer states.
    let (keys, spec) = (value.keys_dir(), power.chain_spec());
    let (token_id, burn_id) = (token.to_string(), burn.to_string());
    let wrong_amount = value.cli(&[
        "swap",
        "register",
        "--contract",
        VALUE,
        "--token",
        &token_id,
        "--counter-rpc",
        &power.rpc,
        "--counter-contract",
        POWER,
        "--counter-request",
        &burn_id,
        "--counter-subject",
        "31",
        "--counter-trust-spec",
        &spec,
        "--key",
        "alice",
        "--keys-dir",
        &keys,
    ]);
    assert!(register_refused(wrong_amount).contains("not the 31 expected"));
    let out = register_second(&value, "alice", VALUE, token, &power, POWER, burn);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["counter_deadline_ms"].as_u64(), Some(d1));
    assert_eq!(answer["lock"]["hash"].as_str(), Some(h.as_str()));
    assert_eq!(answer["claimant"], json!(addr("bob")));
    let cond = answer["id"].as_u64().unwrap();
    let watcher = relayer(&value, VALUE, cond, &power, POWER, burn, "alice", &[]);
    assert_eq!(leg(&value, VALUE, cond)["claimant"], json!(addr("bob")));
    // Only bob can claim Y, and only with R.
    assert!(!swap_claim(&value, "carol", VALUE, cond, &r).status.success());
    assert!(value
        .refused("bob", VALUE, "transfer", &json!([cond, "00".repeat(32), "00".repeat(64)]))
        .contains("wrong secret"));
    let claimed = swap_claim_ok(&value, "bob", VALUE, cond, &r);
    assert_eq!(claimed["method"], "transfer");
    let lines = relayer_done(watcher);
    let revealed = lines.iter().find(|l| l["event"] == "revealed").expect("revealed line");
    assert_eq!(revealed["secret"], json!(r));
    assert_eq!(lines.last().unwrap()["method"], "burn");
    assert_eq!(value.view(VALUE, "token", &json!([token]))["holder"], json!(addr("bob")));
    assert_eq!(balance(&power, "bob"), 100 - X);
    assert_eq!(supply(&power), supply0 - X);
    let burned = power.view(POWER, "burn_request", &json!([burn]));
    assert_eq!(burned["status"]["Claimed"]["preimage"], json!(r));

    // The same power cannot be converted twice.
    let sig = burn_signature(&power, "alice", burn, &r);
    assert!(power
        .refused("alice", POWER, "burn", &json!([burn, r, sig]))
        .contains("already completed"));
    assert!(stderr(&swap_claim(&power, "alice", POWER, burn, &r)).contains("already completed"));
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([X, lock("Blake3", &h), addr("alice"), null])
        )
        .contains("already used"));
    assert!(value
        .refused("alice", VALUE, "issue", &json!(["59".repeat(32), null]))
        .contains("already certified"));
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([101, lock("Blake3", &"ab".repeat(32)), addr("alice"), null])
        )
        .contains("exceeds the creator's balance"));
    assert_eq!(supply(&power), supply0 - X);

    // Embodiment 4 with a SHA-256 lock, on the embodiment-4 pair: alice draws R; Y2 offered first;
    // bob's burn request answers it and expires first; alice burns with R; bob's relayer claims Y2
    // with the R it reads.
    power.call_result("alice", POWER_E4, "issue", &json!([100, addr("bob")]));
    let (r2, _, h2) = secret();
    let token2 = value
        .call_result("alice", VALUE_E4, "issue", &json!(["5a".repeat(32), null]))
        .as_u64()
        .unwrap();
    let cond2 =
        registered(register_first(&value, "alice", VALUE_E4, token2, &r2, "sha256", &addr("bob")));
    // The loss of issue 14: a burn request registered as if it were a first leg (no counter
    // deadline), outliving the certificate's condition, is refused.
    assert!(power
        .refused(
            "bob",
            POWER_E4,
            "register_burn_request",
            &json!([X, lock("Sha256", &h2), addr("alice"), null])
        )
        .contains("counter leg's deadline is required"));
    // Nor can a first leg be registered here from the command line without R.
    assert!(register_refused(register_first(
        &power,
        "bob",
        POWER_E4,
        X,
        &"11".repeat(32),
        "sha256",
        &addr("alice")
    ))
    .contains("holds second legs"));
    let burn2 = registered(register_second(&power, "bob", POWER_E4, X, &value, VALUE_E4, cond2));
    let d2 = leg(&value, VALUE_E4, cond2)["deadline_ms"].as_u64().unwrap();
    assert!(leg(&power, POWER_E4, burn2)["deadline_ms"].as_u64().unwrap() + MARGIN_MS <= d2);
    let watcher = relayer(&power, POWER_E4, burn2, &value, VALUE_E4, cond2, "bob", &[]);
    assert_eq!(leg(&power, POWER_E4, burn2)["status"], "Active");
    swap_claim_ok(&power, "alice", POWER_E4, burn2, &r2);
    let lines = relayer_done(watcher);
    assert_eq!(lines.last().unwrap()["method"], "transfer");
    assert_eq!(value.view(VALUE_E4, "token", &json!([token2]))["holder"], json!(addr("bob")));
    assert_eq!(balance_in(&power, POWER_E4, "bob"), 100 - X);
    assert_eq!(power.view(POWER_E4, "total_supply", &json!([])).as_u64(), Some(100 - X));
}

/// Embodiment 4 as issue 14 saw it go wrong, now through the documented CLI: the administrator
/// draws R and waits for the certificate's condition to expire before it burns. By then bob's
/// burn request — which `kessai swap register` made expire a margin before the condition — has
/// expired too: alice takes Y back but cannot burn X, and bob takes his power back. Neither loses
/// both legs.
#[test]
fn an_administrator_who_waits_out_the_certificate_cannot_also_burn_the_power() {
    let (power, value) = two_chains();
    power.call_result("alice", POWER_E4, "issue", &json!([50, addr("bob")]));
    let (r, _, _) = secret();
    let token = value
        .call_result("alice", VALUE_E4, "issue", &json!(["61".repeat(32), null]))
        .as_u64()
        .unwrap();
    let cond =
        registered(register_first(&value, "alice", VALUE_E4, token, &r, "blake3", &addr("bob")));
    let burn = registered(register_second(&power, "bob", POWER_E4, X, &value, VALUE_E4, cond));
    assert_eq!(balance_in(&power, POWER_E4, "bob"), 50 - X);

    // alice waits until her condition expires and takes Y back...
    let cond_deadline = leg(&value, VALUE_E4, cond)["deadline_ms"].as_u64().unwrap();
    wait_chain_time(&value, cond_deadline);
    value.call_result("alice", VALUE_E4, "withdraw_transfer_condition", &json!([cond]));
    assert_eq!(value.view(VALUE_E4, "token", &json!([token]))["holder"], json!(addr("alice")));
    // ... then tries to burn bob's power with R: the burn request expired before the condition.
    wait_chain_time(&power, leg(&power, POWER_E4, burn)["deadline_ms"].as_u64().unwrap());
    assert_eq!(power.view(POWER_E4, "burn_request", &json!([burn]))["status"], "Active");
    let sig = burn_signature_in(&power, POWER_E4, "alice", burn, &r);
    assert!(power.refused("alice", POWER_E4, "burn", &json!([burn, r, sig])).contains("expired"));
    power.call_result("bob", POWER_E4, "withdraw_burn_request", &json!([burn]));
    assert_eq!(balance_in(&power, POWER_E4, "bob"), 50);
}

/// `kessai swap claim` never reveals R when the claim could land after the leg's deadline: a late
/// claim fails on chain but still publishes R, and the counterparty's longer leg would then be
/// burned with it (issue 14).
#[test]
fn swap_claim_refuses_to_reveal_the_secret_close_to_the_deadline() {
    let (power, value) = two_chains();
    power.call_result("alice", POWER, "issue", &json!([100, addr("bob")]));
    let (r, _, _) = secret();
    let burn = registered(register_first(&power, "bob", POWER, X, &r, "blake3", &addr("alice")));
    let token = value
        .call_result("alice", VALUE, "issue", &json!(["62".repeat(32), null]))
        .as_u64()
        .unwrap();
    let cond = registered(register_second(&value, "alice", VALUE, token, &power, POWER, burn));
    let deadline = leg(&value, VALUE, cond)["deadline_ms"].as_u64().unwrap();
    // Inside the last margin before the deadline: refused, and nothing is submitted (bob's nonce
    // on the value chain does not move, even once the deadline has passed).
    let nonce = |node: &TestNode| {
        let keys = node.keys_dir();
        node.cli_json(&["query", "account", "bob", "--keys-dir", &keys])["nonce"].clone()
    };
    let before = nonce(&value);
    wait_chain_time(&value, deadline - MARGIN_MS + 500);
    let out = swap_claim(&value, "bob", VALUE, cond, &r);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refusing to reveal the secret"), "{}", stderr(&out));
    wait_chain_time(&value, deadline + 1_000);
    assert_eq!(nonce(&value), before, "a claim transaction was submitted");
    assert_eq!(leg(&value, VALUE, cond)["status"], "Active");
}

#[test]
fn abort_paths_across_two_chains() {
    let (power, value) = two_chains();
    power.call_result("alice", POWER, "issue", &json!([100, addr("bob")]));

    // The SHA-256 vector: sha256 of 32 zero bytes opens this lock, on the chain as in BIP-199.
    let zero = "00".repeat(32);
    let vector = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925";
    let id = power
        .call_result(
            "bob",
            POWER,
            "register_burn_request",
            &json!([10, lock("Sha256", vector), addr("alice"), null]),
        )
        .as_u64()
        .unwrap();
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([1000, lock("Sha256", &"cd".repeat(32)), addr("alice"), null])
        )
        .contains("exceeds the creator's balance"));
    // Burn requests are first legs here: a counter deadline is refused, not ignored.
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([1, lock("Sha256", &"cd".repeat(32)), addr("alice"), u64::MAX])
        )
        .contains("holds first legs"));

    // Wrong secret: the CLI checks before it submits, the contract refuses a forced attempt.
    assert!(
        stderr(&swap_claim(&power, "alice", POWER, id, &"11".repeat(32))).contains("does not open")
    );
    let forced = burn_signature(&power, "alice", id, &"11".repeat(32));
    assert!(power
        .refused("alice", POWER, "burn", &json!([id, "11".repeat(32), forced]))
        .contains("wrong secret"));
    // Wrong signer: carol presents alice's valid signature; alice presents carol's.
    let good = burn_signature(&power, "alice", id, &zero);
    assert!(power
        .refused("carol", POWER, "burn", &json!([id, zero, good]))
        .contains("only the permitted address"));
    let carols = burn_signature(&power, "carol", id, &zero);
    assert!(power
        .refused("alice", POWER, "burn", &json!([id, zero, carols]))
        .contains("signature"));
    // Replay: a second request; the first one's signature does not burn it.
    let (r2, h2, _) = secret();
    let id2 = power
        .call_result(
            "bob",
            POWER,
            "register_burn_request",
            &json!([10, lock("Blake3", &h2), addr("alice"), null]),
        )
        .as_u64()
        .unwrap();
    assert!(power.refused("alice", POWER, "burn", &json!([id2, r2, good])).contains("signature"));
    power.call_result("alice", POWER, "burn", &json!([id, zero, good]));
    assert!(power
        .refused("alice", POWER, "burn", &json!([id, zero, good]))
        .contains("already completed"));
    assert_eq!((balance(&power, "bob"), supply(&power)), (80, 90));

    // A relayer for a leg that is not its key's refuses to start.
    let token = value
        .call_result("alice", VALUE, "issue", &json!(["77".repeat(32), null]))
        .as_u64()
        .unwrap();
    let d = leg(&power, POWER, id2)["deadline_ms"].as_u64().unwrap();
    let cond = registered(register_second(&value, "alice", VALUE, token, &power, POWER, id2));
    let wrong_key = relayer(&value, VALUE, cond, &power, POWER, id2, "carol", &[]);
    assert!(relayer_failed(wrong_key).contains("can be claimed by"));
    // A relayer pinned to another validator set refuses the chain's headers.
    let pinned = relayer(
        &value,
        VALUE,
        cond,
        &power,
        POWER,
        id2,
        "alice",
        &["--from-validators-hash", &"00".repeat(32)],
    );
    assert!(relayer_failed(pinned).contains("not the pinned"));

    // bob never claims Y: alice's relayer gives up when the burn request (its target) expires...
    let watcher = relayer(&value, VALUE, cond, &power, POWER, id2, "alice", &[]);
    // ... early withdrawals are refused on both chains ...
    assert!(value
        .refused("alice", VALUE, "withdraw_transfer_condition", &json!([cond]))
        .contains("not passed"));
    assert!(power
        .refused("bob", POWER, "withdraw_burn_request", &json!([id2]))
        .contains("not passed"));
    // ... the condition expires first: bob can no longer claim, alice takes Y back.
    let cond_deadline = leg(&value, VALUE, cond)["deadline_ms"].as_u64().unwrap();
    wait_chain_time(&value, cond_deadline);
    assert!(stderr(&swap_claim(&value, "bob", VALUE, cond, &r2)).contains("refusing to reveal"));
    assert!(value
        .refused("bob", VALUE, "withdraw_transfer_condition", &json!([cond]))
        .contains("only the registrant"));
    value.call_result("alice", VALUE, "withdraw_transfer_condition", &json!([cond]));
    assert_eq!(value.view(VALUE, "token", &json!([token]))["holder"], json!(addr("alice")));
    // ... then the burn request: the relayer stops, bob takes his power back.
    wait_chain_time(&power, d);
    assert!(
        relayer_failed(watcher).contains("withdrawn"),
        "the relayer stops once the source leg is withdrawn"
    );
    assert!(power
        .refused("alice", POWER, "withdraw_burn_request", &json!([id2]))
        .contains("only the creator"));
    power.call_result("bob", POWER, "withdraw_burn_request", &json!([id2]));
    assert!(power
        .refused("bob", POWER, "withdraw_burn_request", &json!([id2]))
        .contains("already withdrawn"));
    assert_eq!((balance(&power, "bob"), supply(&power)), (90, 90));
}

/// The relayer and `kessai swap leg` read legs through the light client: a node that serves a
/// header its validators did not sign gets nothing past them, whatever the leg says.
#[test]
fn a_leg_from_a_node_whose_header_does_not_verify_is_refused() {
    let (power, value) = two_chains();
    power.call_result("alice", POWER, "issue", &json!([100, addr("bob")]));
    let (_, h, _) = secret();
    let burn = power
        .call_result(
            "bob",
            POWER,
            "register_burn_request",
            &json!([X, lock("Blake3", &h), addr("alice"), null]),
        )
        .as_u64()
        .unwrap();
    // Y's transfer condition answers the burn request (registered while there is time to).
    let token = value
        .call_result("alice", VALUE, "issue", &json!(["42".repeat(32), null]))
        .as_u64()
        .unwrap();
    let cond = registered(register_second(&value, "alice", VALUE, token, &power, POWER, burn));
    let liar = LyingProxy::start(&power.rpc);
    let spec = power.chain_spec();
    let burn_id = burn.to_string();
    let swap_leg = |rpc: &str| {
        kessai(&[
            "swap",
            "leg",
            "--contract",
            POWER,
            "--request",
            &burn_id,
            "--rpc",
            rpc,
            "--trust-spec",
            &spec,
            "--json",
        ])
    };
    // Honest through the proxy: the leg, proven.
    let honest = swap_leg(&liar.url);
    assert!(honest.status.success(), "{}", stderr(&honest));
    let honest: Value = serde_json::from_slice(&honest.stdout).unwrap();
    assert_eq!(honest["leg"]["subject"], X);

    // From the next block on, the node's headers carry another state root.
    let forged_from = power.height() + 1;
    power.wait_height(forged_from, Duration::from_secs(30)).unwrap();
    liar.lie(Lie::ForgeHeaders { from: forged_from });
    let out = swap_leg(&liar.url);
    assert_eq!(out.status.code(), Some(1), "a forged header was accepted: {}", stderr(&out));
    assert!(
        stderr(&out).contains("verification failed: forged header at height"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());

    // The relayer watching the lying node for R does not start.
    let keys = value.keys_dir();
    let (value_spec, cond_id) = (value.chain_spec(), cond.to_string());
    let watcher = Command::new(kessai_bin())
        .args([
            "swap",
            "watch-and-complete",
            "--from-rpc",
            &liar.url,
            "--from-contract",
            POWER,
            "--request",
            &burn_id,
            "--from-trust-spec",
            &spec,
            "--to-rpc",
            &value.rpc,
            "--to-contract",
            VALUE,
            "--to-request",
            &cond_id,
            "--to-trust-spec",
            &value_spec,
            "--key",
            "bob",
            "--keys-dir",
            &keys,
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relayer starts");
    let why = relayer_failed(watcher);
    assert!(why.contains("verification failed: forged header at height"), "{why}");
}
