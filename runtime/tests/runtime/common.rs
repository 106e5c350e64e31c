//! The tests' fixture: an in-memory committed state, a chain that executes blocks on it, and wasm
//! modules written in WAT with their `kessai:abi` section.

use kessai_primitives::{
    Address, DeploymentPolicy, Keypair, Payload, Receipt, Role, SignedTransaction, Transaction,
    TxStatus, Validator, ValidatorSet,
};
use kessai_runtime::{
    genesis_writes, system, BlockContext, ExecutedBlock, GenesisContract, GenesisSpec, Runtime,
    RuntimeConfig, StateView,
};

pub(crate) const CHAIN: &str = "kessai-test";
pub(crate) const GAS: u64 = 10_000_000;

/// Committed state in a `BTreeMap`.
pub(crate) use kessai_state::MemoryState as MemState;

pub(crate) fn alice() -> Keypair {
    Keypair::dev("alice")
}

/// A member with no role.
pub(crate) fn bob() -> Keypair {
    Keypair::dev("bob")
}

/// Not a member.
pub(crate) fn mallory() -> Keypair {
    Keypair::dev("mallory")
}

pub(crate) fn validator(name: &str, power: u64) -> Validator {
    Validator { public_key: Keypair::dev(name).public(), power }
}

/// A chain whose genesis has alice (admin, deployer), bob (no role) and validator v0.
pub(crate) struct Chain {
    pub runtime: Runtime,
    pub state: MemState,
    pub height: u64,
    pub block_gas_limit: u64,
    pub names: Vec<(String, Address)>,
}

impl Chain {
    pub(crate) fn new() -> Chain {
        Chain::with(RuntimeConfig::default(), vec![])
    }

    pub(crate) fn with(config: RuntimeConfig, contracts: Vec<GenesisContract>) -> Chain {
        let members =
            vec![(alice().public(), vec![Role::Admin, Role::Deployer]), (bob().public(), vec![])];
        Chain::with_genesis(config, members, DeploymentPolicy::AnyDeployer, contracts)
    }

    /// A chain whose genesis has these members, deployment policy and contracts, and validator v0.
    pub(crate) fn with_genesis(
        config: RuntimeConfig,
        members: Vec<(kessai_primitives::PublicKey, Vec<Role>)>,
        deployment_policy: DeploymentPolicy,
        contracts: Vec<GenesisContract>,
    ) -> Chain {
        let runtime = Runtime::new(config).unwrap();
        let spec = GenesisSpec {
            chain_id: CHAIN.into(),
            time_ms: 1_000,
            members,
            validators: ValidatorSet::new(vec![validator("v0", 10)]).unwrap(),
            deployment_policy,
            contracts,
        };
        let (writes, names) = genesis_writes(&runtime, &spec).unwrap();
        let mut state = MemState::default();
        state.apply(&writes);
        Chain { runtime, state, height: 0, block_gas_limit: 1_000_000_000, names }
    }

    pub(crate) fn context(&self, height: u64) -> BlockContext {
        BlockContext {
            chain_id: CHAIN.into(),
            height,
            time_ms: 1_000 + height * 1_000,
            block_gas_limit: self.block_gas_limit,
        }
    }

    /// Executes the next block and commits its writes.
    pub(crate) fn block(&mut self, txs: &[SignedTransaction]) -> ExecutedBlock {
        let executed = self.execute(txs);
        self.state.apply(&executed.writes);
        self.height += 1;
        executed
    }

    /// Executes the next block without committing it.
    pub(crate) fn execute(&self, txs: &[SignedTransaction]) -> ExecutedBlock {
        self.runtime.execute_block(&self.state, &self.context(self.height + 1), txs).unwrap()
    }

    /// One transaction in its own block: its receipt.
    pub(crate) fn run(&mut self, tx: SignedTransaction) -> Receipt {
        let executed = self.block(&[tx]);
        executed.receipts.into_iter().next().unwrap()
    }

    pub(crate) fn nonce(&self, key: &Keypair) -> u64 {
        system::nonce(&self.state, &key.public()).unwrap()
    }

    /// A transaction with the signer's next committed nonce.
    pub(crate) fn tx(&self, key: &Keypair, payload: Payload) -> SignedTransaction {
        sign(key, self.nonce(key), GAS, payload)
    }

    /// Deploys and instantiates `code` (signed by alice); returns the contract's address.
    pub(crate) fn create(&mut self, code: &[u8], init_args: Vec<u8>) -> Address {
        let deploy = self.run(self.tx(&alice(), Payload::Deploy { code: code.to_vec() }));
        assert_success(&deploy);
        let code_hash = kessai_primitives::Hash(deploy.created.unwrap().0);
        let instantiate =
            self.run(self.tx(&alice(), Payload::Instantiate { code_hash, args: init_args }));
        assert_success(&instantiate);
        instantiate.created.unwrap()
    }

    /// Calls `method` in a transaction signed by alice.
    pub(crate) fn call(&mut self, contract: Address, method: &str, args: Vec<u8>) -> Receipt {
        self.run(self.tx(&alice(), call(contract, method, args)))
    }

    /// The contract's raw storage value.
    pub(crate) fn storage(&self, contract: Address, key: &[u8]) -> Option<Vec<u8>> {
        self.state.get(&system::flat_key(&contract, key)).unwrap()
    }
}

pub(crate) fn sign(
    key: &Keypair,
    nonce: u64,
    gas_limit: u64,
    payload: Payload,
) -> SignedTransaction {
    Transaction { chain_id: CHAIN.into(), signer: key.public(), nonce, gas_limit, payload }
        .sign(key)
}

pub(crate) fn call(contract: Address, method: &str, args: Vec<u8>) -> Payload {
    Payload::Call { contract, method: method.into(), args }
}

#[track_caller]
pub(crate) fn assert_success(receipt: &Receipt) {
    assert_eq!(receipt.status, TxStatus::Success, "{receipt:?}");
}

#[track_caller]
pub(crate) fn failure(receipt: &Receipt) -> String {
    match &receipt.status {
        TxStatus::Failed { reason } => reason.clone(),
        TxStatus::Success => panic!("expected a failure, got {receipt:?}"),
    }
}

/// borsh of a byte string: u32 LE length, then the bytes.
pub(crate) fn bytes(b: &[u8]) -> Vec<u8> {
    borsh::to_vec(&b.to_vec()).unwrap()
}

/// borsh of several byte strings in a row (a tuple of `bytes`).
pub(crate) fn args(parts: &[&[u8]]) -> Vec<u8> {
    parts.iter().flat_map(|p| bytes(p)).collect()
}

/// Arguments of the kitchen contract's `call`: (address, method, args).
pub(crate) fn call_args(contract: Address, method: &str, inner: &[u8]) -> Vec<u8> {
    borsh::to_vec(&(contract, method.to_string(), inner.to_vec())).unwrap()
}

/// Compiles WAT and appends a `kessai:abi` custom section holding `abi`.
pub(crate) fn module(wat: &str, abi: Option<&str>) -> Vec<u8> {
    let mut code = wat::parse_str(wat).unwrap();
    if let Some(abi) = abi {
        append_custom_section(&mut code, kessai_abi::SECTION, abi.as_bytes());
    }
    code
}

pub(crate) fn append_custom_section(code: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut section = Vec::new();
    leb128(&mut section, name.len() as u32);
    section.extend_from_slice(name.as_bytes());
    section.extend_from_slice(payload);
    code.push(0);
    leb128(code, section.len() as u32);
    code.extend_from_slice(&section);
}

fn leb128(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(crate) const KITCHEN_WAT: &str = include_str!("kitchen.wat");

pub(crate) const KITCHEN_ABI: &str = r#"{
  "name": "kitchen", "version": "0.1.0",
  "methods": [
    { "name": "init", "kind": "init", "args": [ { "name": "value", "type": "bytes" } ] },
    { "name": "set", "kind": "call", "args": [ { "name": "key", "type": "bytes" }, { "name": "value", "type": "bytes" } ] },
    { "name": "get", "kind": "view", "args": [ { "name": "key", "type": "bytes" } ], "returns": "option<bytes>" },
    { "name": "remove", "kind": "call", "args": [ { "name": "key", "type": "bytes" } ] },
    { "name": "scan_all", "kind": "call", "args": [ { "name": "prefix", "type": "bytes" } ], "returns": "bytes" },
    { "name": "env", "kind": "call" },
    { "name": "emit", "kind": "call", "args": [ { "name": "topic", "type": "string" }, { "name": "data", "type": "bytes" } ] },
    { "name": "fail", "kind": "call" },
    { "name": "hashes", "kind": "view", "args": [ { "name": "data", "type": "bytes" } ], "returns": "tuple<hash,bytes<32>>" },
    { "name": "verify", "kind": "view", "args": [ { "name": "key", "type": "bytes<32>" }, { "name": "signature", "type": "bytes<64>" }, { "name": "message", "type": "bytes" } ], "returns": "bool" },
    { "name": "call", "kind": "call", "args": [ { "name": "contract", "type": "address" }, { "name": "method", "type": "string" }, { "name": "args", "type": "bytes" } ] },
    { "name": "call_view", "kind": "view", "args": [ { "name": "contract", "type": "address" }, { "name": "method", "type": "string" }, { "name": "args", "type": "bytes" } ] },
    { "name": "spin", "kind": "call" },
    { "name": "grow", "kind": "call", "args": [ { "name": "pages", "type": "u32" } ], "returns": "i32" },
    { "name": "nan", "kind": "view", "args": [ { "name": "a", "type": "u64" }, { "name": "b", "type": "u64" } ] },
    { "name": "gas", "kind": "call", "returns": "i64" },
    { "name": "recurse", "kind": "call" },
    { "name": "bad_view", "kind": "view" }
  ]
}"#;

pub(crate) fn kitchen() -> Vec<u8> {
    module(KITCHEN_WAT, Some(KITCHEN_ABI))
}

/// A chain with one kitchen contract, created by alice; its init stored "hello".
pub(crate) fn chain_with_kitchen() -> (Chain, Address) {
    let mut chain = Chain::new();
    let address = chain.create(&kitchen(), bytes(b"hello"));
    (chain, address)
}
