//! Harness for end-to-end tests: starts real `kessai` processes on temporary homes and drives them
//! only through the CLI and JSON-RPC, as an operator or member would.
//!
//! The binary is the one cargo built next to the test executable (`target/debug/kessai`; the
//! `kessai-cli` package's own integration test makes cargo build it in the same run), or `$KESSAI_BIN`.

pub mod light;
pub mod proxy;
pub mod testnet;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the `kessai` binary under test.
pub fn kessai_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("KESSAI_BIN") {
        return bin.into();
    }
    // target/debug/deps/<test> → target/debug/kessai
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("kessai");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p kessai-cli` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// Runs `kessai ARGS` to completion.
pub fn kessai(args: &[&str]) -> Output {
    kessai_with_env(args, &[])
}

/// Runs `kessai ARGS` to completion with extra environment variables.
pub fn kessai_with_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    Command::new(kessai_bin())
        .args(args)
        .env_remove("KESSAI_RPC")
        .env_remove("KESSAI_KEYS")
        .envs(env.iter().copied())
        .output()
        .expect("run kessai")
}

/// Runs `kessai ARGS`, requires success, returns stdout.
pub fn kessai_ok(args: &[&str]) -> String {
    stdout_of_success(args, kessai(args))
}

/// The stdout of a `kessai ARGS` run that must have succeeded; panics with both streams otherwise.
fn stdout_of_success(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "kessai {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs `kessai ARGS --json`-style commands and parses stdout.
pub fn kessai_json(args: &[&str]) -> serde_json::Value {
    let out = kessai_ok(args);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("kessai {args:?} printed no JSON ({e}): {out}"))
}

/// A `kessai dev` (or `kessai node run`) process on its own home.
pub struct TestNode {
    pub home: PathBuf,
    pub rpc: String,
    child: Option<Child>,
    args: Vec<String>,
    /// The member key files that signed calls use (`--keys-dir`).
    keys: PathBuf,
    log: PathBuf,
    /// Extra environment of the process, from the next [`TestNode::start`] on.
    pub env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestNode {
    /// Starts `kessai dev` on a fresh temporary home with an OS-chosen RPC port.
    pub fn dev() -> TestNode {
        TestNode::dev_with_env(&[])
    }

    /// [`TestNode::dev`] with extra environment variables (e.g. `KESSAI_FAULT_*` fault injection).
    pub fn dev_with_env(env: &[(&str, &str)]) -> TestNode {
        TestNode::dev_with(env, &[])
    }

    /// [`TestNode::dev`] with extra arguments of `kessai dev` (e.g. `--state-keep-recent 5`), kept
    /// for every restart.
    pub fn dev_with_args(args: &[&str]) -> TestNode {
        TestNode::dev_with(&[], args)
    }

    fn dev_with(env: &[(&str, &str)], extra_args: &[&str]) -> TestNode {
        let tmp = tempfile::tempdir().expect("temp dir");
        let home = tmp.path().join("dev");
        let mut args = vec![
            "dev".into(),
            "--home".into(),
            home.display().to_string(),
            "--rpc-addr".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut node = TestNode {
            home: home.clone(),
            rpc: String::new(),
            child: None,
            args,
            keys: home.join("keys"),
            log: tmp.path().join("node.log"),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            _tmp: Some(tmp),
        };
        node.start().expect("dev node starts");
        node
    }

    /// Starts `kessai node run --home HOME` for an already initialised home.
    pub fn run_home(home: &Path) -> Result<TestNode> {
        TestNode::run_home_with_env(home, &[])
    }

    /// [`TestNode::run_home`] with extra environment variables (fault injection, or `LD_PRELOAD`
    /// of a library such as libfaketime), kept for every restart.
    pub fn run_home_with_env(home: &Path, env: &[(&str, &str)]) -> Result<TestNode> {
        TestNode::run_home_with(home, env, &[])
    }

    /// [`TestNode::run_home_with_env`] with extra arguments of `kessai node run`, kept for every
    /// restart.
    pub fn run_home_with(home: &Path, env: &[(&str, &str)], extra: &[&str]) -> Result<TestNode> {
        let mut args: Vec<String> = vec![
            "node".into(),
            "run".into(),
            "--home".into(),
            home.display().to_string(),
            "--rpc-addr".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut node = TestNode {
            home: home.into(),
            rpc: String::new(),
            child: None,
            args,
            keys: home.join("keys"),
            log: home.join("node.log"),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            _tmp: None,
        };
        node.start()?;
        Ok(node)
    }

    /// Starts a second, independent chain on this machine: `source`'s chain spec under the chain id
    /// `chain_id` (validator-0 validates it too), with a copy of `source`'s dev member keys.
    pub fn with_chain_id(source: &TestNode, chain_id: &str) -> TestNode {
        let tmp = tempfile::tempdir().expect("temp dir");
        let home = tmp.path().join("node");
        let spec_text =
            std::fs::read_to_string(source.home.join("chainspec.json")).expect("source chain spec");
        let mut spec: serde_json::Value =
            serde_json::from_str(&spec_text).expect("chain spec is JSON");
        spec["chain_id"] = chain_id.into();
        let spec_path = tmp.path().join("chainspec.json");
        std::fs::write(&spec_path, spec.to_string()).expect("write chain spec");
        let (home_arg, spec_arg) = (home.display().to_string(), spec_path.display().to_string());
        kessai_ok(&[
            "init",
            "--home",
            &home_arg,
            "--chain",
            &spec_arg,
            "--dev-key",
            "validator-0",
            "--rpc-addr",
            "127.0.0.1:0",
        ]);
        std::fs::create_dir_all(home.join("keys")).expect("keys dir");
        for entry in std::fs::read_dir(source.home.join("keys")).expect("source keys") {
            let path = entry.expect("key file").path();
            std::fs::copy(&path, home.join("keys").join(path.file_name().expect("name")))
                .expect("copy key");
        }
        let args = vec![
            "node".into(),
            "run".into(),
            "--home".into(),
            home_arg,
            "--rpc-addr".into(),
            "127.0.0.1:0".into(),
        ];
        let mut node = TestNode {
            keys: home.join("keys"),
            home,
            rpc: String::new(),
            child: None,
            args,
            log: tmp.path().join("node.log"),
            env: Vec::new(),
            _tmp: Some(tmp),
        };
        node.start().expect("second chain starts");
        node
    }

    pub fn keys_dir(&self) -> String {
        self.keys.display().to_string()
    }

    /// Signs calls with the key files in `dir` instead of `HOME/keys` (a testnet keeps its
    /// members' keys in one directory for all nodes).
    pub fn with_keys_dir(mut self, dir: PathBuf) -> TestNode {
        self.keys = dir;
        self
    }

    /// (Re)starts the process and waits until its RPC answers.
    pub fn start(&mut self) -> Result<()> {
        let url_file = self.home.join("rpc_url");
        let _ = std::fs::remove_file(&url_file);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(kessai_bin())
            .args(&self.args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawn kessai")?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                self.rpc = url.trim().to_string();
                break;
            }
            if let Some(status) = self.child.as_mut().expect("child").try_wait()? {
                bail!("kessai exited with {status} before RPC was up:\n{}", self.log_text());
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("RPC did not come up in 60 s:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on unix
            let _ = child.wait();
        }
    }

    /// Waits up to `timeout` for the process to end by itself: its exit status, or none if it
    /// still runs (or was not started).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a CLI command against this node (adds --rpc), as its operator on this machine would:
    /// the node's home is the dev home (`KESSAI_DEV_HOME`), so verified reads trust the chain spec
    /// in it by default, as `kessai query state` trusts `~/.kessai/dev/chainspec.json`; and no
    /// light home of the machine's user is picked up (`KESSAI_LIGHT_HOME` is one that is empty).
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--rpc", &self.rpc]);
        let no_light_home = self.home.join("no-light-home");
        kessai_with_env(
            &all,
            &[("KESSAI_DEV_HOME", &self.home), ("KESSAI_LIGHT_HOME", &no_light_home)],
        )
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        stdout_of_success(args, self.cli(args))
    }

    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let out = self.cli_ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kessai {args:?} printed no JSON ({e}): {out}"))
    }

    /// `--trust-spec HOME/chainspec.json`: this node's chain spec as the root of verified reads.
    pub fn chain_spec(&self) -> String {
        self.home.join("chainspec.json").display().to_string()
    }

    /// A signed call as member `key` (a dev key name), with the dev keys directory.
    pub fn call(&self, key: &str, contract: &str, method: &str, args: &str) -> Output {
        let keys = self.keys_dir();
        self.cli(&[
            "tx",
            "call",
            contract,
            method,
            args,
            "--key",
            key,
            "--keys-dir",
            &keys,
            "--json",
        ])
    }

    pub fn call_ok(
        &self,
        key: &str,
        contract: &str,
        method: &str,
        args: &str,
    ) -> serde_json::Value {
        let out = self.call(key, contract, method, args);
        assert!(
            out.status.success(),
            "call {method} {args} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json receipt")
    }

    /// A signed call as `key` that must succeed; returns its result, decoded by the interface.
    pub fn call_result(
        &self,
        key: &str,
        contract: &str,
        method: &str,
        args: &serde_json::Value,
    ) -> serde_json::Value {
        self.call_ok(key, contract, method, &args.to_string())["result"].clone()
    }

    /// A signed call as `key` that must fail; returns why: the receipt's failure reason when the
    /// transaction made it into a block, else what the CLI printed (a refusal by the mempool).
    pub fn refused(
        &self,
        key: &str,
        contract: &str,
        method: &str,
        args: &serde_json::Value,
    ) -> String {
        let out = self.call(key, contract, method, &args.to_string());
        assert!(!out.status.success(), "{key} {method} {args} should have been refused");
        let receipt: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        receipt["receipt"]["status"]["reason"].as_str().map_or_else(
            || format!("{} {}", String::from_utf8_lossy(&out.stdout), stderr(&out)),
            str::to_string,
        )
    }

    /// A view method's return value, decoded by the contract's interface.
    pub fn view(
        &self,
        contract: &str,
        method: &str,
        args: &serde_json::Value,
    ) -> serde_json::Value {
        self.cli_json(&["query", "view", contract, method, &args.to_string()])["decoded"].clone()
    }

    pub fn height(&self) -> u64 {
        self.cli_json(&["status"])["height"].as_u64().expect("height")
    }

    /// Waits until the chain reaches `height`.
    pub fn wait_height(&self, height: u64, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        while self.height() < height {
            if start.elapsed() > timeout {
                bail!("height {height} not reached in {timeout:?} (at {})", self.height());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The address (public key, hex) of the dev key `name`, as in `DIR/keys/NAME.json` of `kessai dev`.
pub fn dev_address(name: &str) -> String {
    kessai_primitives::Keypair::dev(name).address().to_string()
}

/// An integer as the contract interfaces print it: a JSON number up to 64 bits, a decimal string
/// for 128-bit types (JSON numbers would lose digits).
pub fn int(value: &serde_json::Value) -> i128 {
    match value {
        serde_json::Value::Number(n) => {
            let wide = n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
            wide.unwrap_or_else(|| panic!("{n} is not an integer"))
        }
        serde_json::Value::String(s) => {
            s.parse().unwrap_or_else(|_| panic!("{s:?} is not a decimal integer"))
        }
        other => panic!("{other} is not an integer"),
    }
}

/// This machine's clock, in ms since the Unix epoch (block times are on the same clock).
pub use kessai_primitives::time::now_ms;

/// Replaces the line `from` of `home`'s config.toml by `to` (e.g. `"validator = false"` by
/// `"validator = true"`); panics when the file has no such line.
pub fn edit_config(home: &Path, from: &str, to: &str) {
    let path = home.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.iter().filter(|l| **l == from).count(),
        1,
        "{} has no line {from:?}",
        path.display()
    );
    let edited: Vec<&str> = lines.into_iter().map(|l| if l == from { to } else { l }).collect();
    std::fs::write(&path, edited.join("\n") + "\n").expect("write config.toml");
}

/// stderr of a finished command, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Submits raw transaction bytes over JSON-RPC; returns the id or the node's error message.
pub fn submit_raw(rpc: &str, bytes: &[u8]) -> Result<kessai_primitives::Hash, String> {
    use kessai_client::rpc::KessaiApiClient;
    let client = kessai_client::rpc_client(rpc).map_err(|e| e.to_string())?;
    block_on(client.submit_tx(hex::encode(bytes))).map(|s| s.tx_id).map_err(|e| match e {
        kessai_client::rpc::ClientError::Call(obj) => obj.message().to_string(),
        other => other.to_string(),
    })
}

/// Submits several raw transactions in one `kessai_submitTxs` call; each gets its id or the
/// node's reason, in order.
pub fn submit_batch(rpc: &str, txs: &[Vec<u8>]) -> Vec<Result<kessai_primitives::Hash, String>> {
    use kessai_client::rpc::KessaiApiClient;
    let client = kessai_client::rpc_client(rpc).expect("client");
    let hexes = txs.iter().map(hex::encode).collect();
    let outcomes = block_on(client.submit_txs(hexes)).expect("submitTxs answers");
    outcomes
        .into_iter()
        .map(|o| match (o.tx_id, o.error) {
            (Some(id), None) => Ok(id),
            (_, error) => Err(error.unwrap_or_default()),
        })
        .collect()
}

/// The next nonce of a dev member.
pub fn next_nonce(rpc: &str, key: &kessai_primitives::Keypair) -> u64 {
    use kessai_client::rpc::KessaiApiClient;
    let client = kessai_client::rpc_client(rpc).expect("client");
    block_on(client.account(key.public())).expect("account").next_nonce
}

/// Waits for a transaction's receipt.
pub fn wait_receipt(rpc: &str, id: kessai_primitives::Hash) -> kessai_primitives::Receipt {
    let client = kessai_client::rpc_client(rpc).expect("client");
    let info =
        block_on(kessai_client::wait_for(&client, id, Duration::from_secs(60))).expect("committed");
    info.receipt.expect("receipt")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}
