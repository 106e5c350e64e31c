//! A validator whose consensus key is held by a remote signer (`kessai signer run`, over a Unix
//! socket), and `double_sign_check_height`: the signer keeps the chain committing, a killed signer
//! stops the validator's signatures (not the node) until it is back, two nodes at one signer never
//! get conflicting signatures, and a validator that lost its signing state refuses to sign while
//! its key's precommits are in recent commits. Double signs are looked for where the other
//! validators would record them: "equivocation detected" in their logs and evidence in blocks.

use kessai_tests::testnet::{entry_field, metric, metrics_url, one_network_at_a_time, Testnet};
use kessai_tests::{edit_config, kessai_bin, kessai_ok};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VALIDATORS: [usize; 4] = [0, 1, 2, 3];
const MINUTE: Duration = Duration::from_secs(60);

/// A `kessai signer run` process.
struct SignerProcess {
    home: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
}

impl SignerProcess {
    /// A signer home holding node `i`'s consensus key and signing state, moved out of its home.
    fn take_key_of(net: &Testnet, i: usize) -> SignerProcess {
        let home = net.dir.join(format!("signer{i}"));
        std::fs::create_dir_all(&home).unwrap();
        for file in ["consensus_key.json", "sign_state.json"] {
            std::fs::rename(net.home(i).join(file), home.join(file)).unwrap();
        }
        let socket = home.join("signer.sock");
        SignerProcess { home, socket, child: None }
    }

    fn address(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("signer.log"))
            .unwrap();
        let child = Command::new(kessai_bin())
            .args(["signer", "run", "--home", &self.home.display().to_string()])
            .args(["--listen", &self.address()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kessai signer starts");
        self.child = Some(child);
        let started = Instant::now();
        while !self.socket.exists() {
            assert!(started.elapsed() < MINUTE, "the signer never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("signer.log")).unwrap_or_default()
    }
}

impl Drop for SignerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn last_signed(home: &Path) -> f64 {
    let url = metrics_url(home).expect("metrics enabled");
    metric(&url, "kessai_last_signed_height").unwrap_or(0.0)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// No validator in `which` saw an equivocation, and no block up to the tip of node 0 holds
/// evidence.
fn assert_no_double_sign(net: &Testnet, which: &[usize]) {
    for &i in which {
        let log = net.log(i);
        assert!(!log.contains("equivocation detected"), "node {i} saw an equivocation:\n{log}");
    }
    for height in 1..=net.node(0).height() {
        let block = net.node(0).cli_json(&["query", "block", "--height", &height.to_string()]);
        assert_eq!(block["evidence"].as_u64().unwrap_or(0), 0, "evidence at height {height}");
    }
}

/// Whether a block proposed by `key` is committed at a height in `after + 1 ..= after + count`.
fn proposes_within(net: &Testnet, key: &str, after: u64, count: u64) -> bool {
    (after + 1..=after + count).any(|height| {
        net.wait_height(&[0], height, MINUTE).unwrap();
        let header = net.node(0).cli_json(&["query", "header", "--height", &height.to_string()]);
        header["proposer"] == key
    })
}

#[test]
fn a_validator_signing_through_kessai_signer_commits_stops_without_it_and_resumes() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    let mut signer = SignerProcess::take_key_of(&net, 3);
    signer.start();
    net.start_all(3);
    net.start_with_env(3, &[("KESSAI_SIGNER_REMOTE", &signer.address())]);
    net.wait_height(&VALIDATORS, 4, MINUTE).unwrap();
    let key = entry_field(&net.entries[3], "consensus_key").to_string();
    assert!(
        proposes_within(&net, &key, 0, 12),
        "the validator of the remote signer never proposed"
    );
    assert!(last_signed(&net.home(3)) >= 3.0);

    // The signer dies: the node stays up and follows, signing nothing; the chain goes on.
    signer.kill9();
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = last_signed(&net.home(3));
    let tip = net.node(0).height();
    net.wait_height(&VALIDATORS, tip + 4, MINUTE).unwrap();
    assert!(
        last_signed(&net.home(3)) <= stopped_at + 1.0,
        "signed without its signer: {} after {stopped_at}",
        last_signed(&net.home(3))
    );
    let log = net.log(3);
    assert_eq!(
        log.matches("the remote signer cannot be reached").count(),
        1,
        "one clear line, not one per attempt:\n{log}"
    );

    // Back: it signs again, without a restart of the node.
    signer.start();
    let back = net.node(0).height();
    wait_for("signatures through the restarted signer", MINUTE, || {
        last_signed(&net.home(3)) > back as f64
    });
    assert!(net.log(3).contains("the signer answers again"));
    assert!(proposes_within(&net, &key, back, 12), "never proposed after its signer came back");
    // Nodes 0 and 3 are known to be there; 1 and 2 may be a block behind.
    let common = net.node(0).height().min(net.node(3).height());
    net.wait_height(&VALIDATORS, common, MINUTE).unwrap();
    net.assert_same_chain(&VALIDATORS, common);
    assert_no_double_sign(&net, &VALIDATORS);
}

/// Validator 3's key is signed for by one signer, for two nodes: node 3 and node 4 (a full node
/// of the spec, configured as a validator with the same remote signer). Both propose when it is
/// validator 3's turn (blocks with different times) and vote: the signer signs the first of
/// each position and refuses a different message at it, so no one sees an equivocation.
#[test]
fn two_nodes_at_one_signer_never_produce_conflicting_signatures() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 1);
    let mut signer = SignerProcess::take_key_of(&net, 3);
    signer.start();
    edit_config(&net.home(4), "validator = false", "validator = true");
    net.start_all(3);
    net.start_with_env(3, &[("KESSAI_SIGNER_REMOTE", &signer.address())]);
    net.start_with_env(4, &[("KESSAI_SIGNER_REMOTE", &signer.address())]);
    net.wait_height(&[0, 1, 2, 3, 4], 12, 2 * MINUTE).unwrap();
    net.assert_same_chain(&[0, 1, 2, 3, 4], 12);
    assert_no_double_sign(&net, &[0, 1, 2, 3, 4]);
    assert!(
        signer.log().contains("refusing to sign"),
        "the two nodes never asked for conflicting signatures:\n{}",
        signer.log()
    );
}

/// A validator loses `data/` and `sign_state.json`, which is replaced by a state that has never
/// signed (what `--allow-missing-sign-state` assumes: the operator's wrong claim), and is started
/// with `double_sign_check_height`: it syncs, finds its key's precommits in the commits it syncs, and
/// signs nothing.
#[test]
fn double_sign_check_height_refuses_a_key_whose_state_was_lost() {
    let _turn = one_network_at_a_time();
    let mut net = Testnet::init(4, 0);
    net.start_all(4);
    net.wait_height(&VALIDATORS, 6, MINUTE).unwrap();
    net.kill9(3);
    std::fs::remove_dir_all(net.home(3).join("data")).unwrap();
    // What `--allow-missing-sign-state` starts from: a state that has never signed.
    let fresh = net.dir.join("fresh-state");
    kessai_ok(&["signer", "init", "--home", &fresh.display().to_string()]);
    std::fs::copy(fresh.join("sign_state.json"), net.home(3).join("sign_state.json")).unwrap();
    edit_config(&net.home(3), "double_sign_check_height = 0", "double_sign_check_height = 20");
    net.start(3);

    let key = entry_field(&net.entries[3], "consensus_key").to_string();
    let back = net.node(0).height();
    net.wait_height(&VALIDATORS, back + 2, MINUTE).unwrap();
    assert!(!proposes_within(&net, &key, back + 2, 12), "it signed with a lost state");
    let log = net.log(3);
    assert!(log.contains("double_sign_check_height: the commit of height"), "{log}");
    assert_no_double_sign(&net, &VALIDATORS);
}
