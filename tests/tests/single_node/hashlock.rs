//! The burn-and-issue hash-lock of JP6980288B2 across two real chains on this machine: a power
//! chain (`kessai dev`, chain id kessai-dev, contract power-ledger) and a value chain (the same spec
//! under chain id kessai-value, contract value-certificate), driven through the CLI only:
//! `kessai tx call`, `kessai query view`, and `kessai swap` (secret, leg, claim, and the relayer
//! `watch-and-complete` as a separate process).
//!
//! alice is the administrator (terminal 14) on both chains; bob holds power (terminal 24). The dev
//! preset's rules: timeouts of at least 10 s, a second leg's deadline at least 5 s before its
//! counter leg's.

use borsh::BorshSerialize;
use kessai_primitives::{Hash, Keypair};
use kessai_tests::proxy::{Lie, LyingProxy};
use kessai_tests::{dev_address as addr, kessai, kessai_bin, stderr, TestNode};
use serde_json::{json, Value};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const POWER: &str = "power-ledger";
const VALUE: &str = "value-certificate";
const X: u64 = 30;

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
    node.view(POWER, "balance_of", &json!([addr(who)])).as_u64().unwrap()
}

fn supply(node: &TestNode) -> u64 {
    node.view(POWER, "total_supply", &json!([])).as_u64().unwrap()
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
    let request = node.view(POWER, "burn_request", &json!([id]));
    let message = ClaimMessage {
        action: 0,
        contract: contract_address(node, POWER),
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

    // Embodiment 3: bob draws R; burn request (first leg, 60 s) → alice verifies it and offers Y
    // (second leg, 30 s, checked against the burn request's deadline) → bob claims Y with R →
    // alice's relayer reads R on the value chain and burns X on the power chain.
    let (r, h, _) = secret();
    let burn = power
        .call_result(
            "bob",
            POWER,
            "register_burn_request",
            &json!([X, lock("Blake3", &h), addr("alice"), 60_000, null]),
        )
        .as_u64()
        .unwrap();
    assert_eq!(balance(&power, "bob"), 100 - X);
    let request = leg(&power, POWER, burn);
    assert_eq!(
        (request["subject"].as_u64(), request["status"].as_str()),
        (Some(X), Some("Active"))
    );
    let d1 = request["deadline_ms"].as_u64().unwrap();
    let token = value
        .call_result("alice", VALUE, "issue", &json!(["59".repeat(32), null]))
        .as_u64()
        .unwrap();
    // Offering Y for longer than the burn request lives is refused (the unsafe order).
    assert!(value
        .refused(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token, lock("Blake3", &h), addr("bob"), 120_000, d1])
        )
        .contains("unsafe timeout order"));
    let cond = value
        .call_result(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token, lock("Blake3", &h), addr("bob"), 30_000, d1]),
        )
        .as_u64()
        .unwrap();
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
            &json!([X, lock("Blake3", &h), addr("alice"), 60_000, null])
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
            &json!([101, lock("Blake3", &"ab".repeat(32)), addr("alice"), 60_000, null])
        )
        .contains("exceeds the creator's balance"));
    assert_eq!(supply(&power), supply0 - X);

    // Embodiment 4 with a SHA-256 lock: alice draws R; Y2 offered first (60 s); bob's burn
    // request must expire first; alice burns with R; bob's relayer claims Y2 with the R it reads.
    let (r2, _, h2) = secret();
    let token2 = value
        .call_result("alice", VALUE, "issue", &json!(["5a".repeat(32), null]))
        .as_u64()
        .unwrap();
    let cond2 = value
        .call_result(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token2, lock("Sha256", &h2), addr("bob"), 60_000, null]),
        )
        .as_u64()
        .unwrap();
    let d2 = leg(&value, VALUE, cond2)["deadline_ms"].as_u64().unwrap();
    // The patent's embodiment-4 prose: the burn request outliving the transfer condition.
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([X, lock("Sha256", &h2), addr("alice"), 120_000, d2])
        )
        .contains("unsafe timeout order"));
    let burn2 = power
        .call_result(
            "bob",
            POWER,
            "register_burn_request",
            &json!([X, lock("Sha256", &h2), addr("alice"), 30_000, d2]),
        )
        .as_u64()
        .unwrap();
    let watcher = relayer(&power, POWER, burn2, &value, VALUE, cond2, "bob", &[]);
    assert_eq!(leg(&power, POWER, burn2)["status"], "Active");
    swap_claim_ok(&power, "alice", POWER, burn2, &r2);
    let lines = relayer_done(watcher);
    assert_eq!(lines.last().unwrap()["method"], "transfer");
    assert_eq!(value.view(VALUE, "token", &json!([token2]))["holder"], json!(addr("bob")));
    assert_eq!(balance(&power, "bob"), 100 - 2 * X);
    assert_eq!(supply(&power), supply0 - 2 * X);
    let tokens = value.view(VALUE, "tokens_of", &json!([addr("bob")]));
    assert_eq!(tokens.as_array().unwrap().len(), 2);
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
            &json!([10, lock("Sha256", vector), addr("alice"), 20_000, null]),
        )
        .as_u64()
        .unwrap();
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([1000, lock("Sha256", &"cd".repeat(32)), addr("alice"), 20_000, null])
        )
        .contains("exceeds the creator's balance"));
    assert!(power
        .refused(
            "bob",
            POWER,
            "register_burn_request",
            &json!([1, lock("Sha256", &"cd".repeat(32)), addr("alice"), 5_000, null])
        )
        .contains("below the minimum"));

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
            &json!([10, lock("Blake3", &h2), addr("alice"), 20_000, null]),
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
    let cond = value
        .call_result(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token, lock("Blake3", &h2), addr("bob"), 10_000, d]),
        )
        .as_u64()
        .unwrap();
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
    assert!(stderr(&swap_claim(&value, "bob", VALUE, cond, &r2)).contains("expired"));
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
            &json!([X, lock("Blake3", &h), addr("alice"), 60_000, null]),
        )
        .as_u64()
        .unwrap();
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
    let token = value
        .call_result("alice", VALUE, "issue", &json!(["42".repeat(32), null]))
        .as_u64()
        .unwrap();
    let d = leg(&power, POWER, burn)["deadline_ms"].as_u64().unwrap();
    let cond = value
        .call_result(
            "alice",
            VALUE,
            "register_transfer_condition",
            &json!([token, lock("Blake3", &h), addr("bob"), 10_000, d]),
        )
        .as_u64()
        .unwrap();
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
