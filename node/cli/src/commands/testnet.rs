//! `kessai testnet init`: the homes of a local multi-validator network, like `cometbft testnet`.
//!
//! ```text
//! DIR/
//!   chainspec.json   shared by every node: fresh validator keys, the dev members, builtin contracts
//!   nodes.json       one line per node: name, home, node key, peer id, p2p / RPC / metrics addresses
//!   keys/            member keys (alice, bob, …) for `kessai tx … --keys-dir DIR/keys`
//!   node0/ … nodeN/  node homes (validators first, then full nodes); start each with
//!                    `kessai node run --home DIR/nodeI` (`scripts/testnet.sh up DIR` does it)
//! ```

use anyhow::{bail, Context, Result};
use kessai_chainspec::{ChainSpec, NodeSpec, ValidatorSpec, DEV_MEMBERS};
use kessai_client::keyfile::KeyFile;
use kessai_node::home::{Home, NodeConfig};
use kessai_primitives::Keypair;
use serde::Serialize;
use std::net::SocketAddr;

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum TestnetCommand {
    /// Write the homes of N validators (and full nodes) on 127.0.0.1 sharing one fresh chain spec;
    /// start them with `scripts/testnet.sh up DIR`.
    Init(TestnetInitArgs),
}

#[derive(Args, Debug)]
pub struct TestnetInitArgs {
    /// Number of validators (each gets a fresh key and power 10).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub validators: u32,
    /// Non-validating nodes allowed on the network (listed in the chain spec's `nodes`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub full_nodes: u32,
    /// Directory to write into: DIR/chainspec.json, DIR/node0 … (homes), DIR/keys (members).
    #[arg(long)]
    pub out: PathBuf,
    /// Node i listens for p2p on BASE + 10·i, RPC on BASE + 10·i + 1, metrics on BASE + 10·i + 2.
    #[arg(long, default_value_t = 26600)]
    pub base_port: u16,
    #[arg(long, default_value = "kessai-testnet")]
    pub chain_id: String,
    /// Start from this chain spec (preset name or path) instead of `local`; its validators and
    /// nodes are replaced.
    #[arg(long, default_value = "local")]
    pub chain: String,
}

/// Voting power of each testnet validator.
const VALIDATOR_POWER: u64 = 10;

/// One node of the testnet, as listed in `nodes.json`.
#[derive(Serialize)]
struct NodeEntry {
    name: String,
    home: String,
    validator: bool,
    node_key: String,
    peer_id: String,
    p2p_addr: String,
    rpc_url: String,
    metrics_url: String,
}

struct Planned {
    name: String,
    key: Keypair,
    validator: bool,
    p2p_port: u16,
    rpc_addr: SocketAddr,
    metrics_addr: SocketAddr,
}

impl Planned {
    fn p2p_addr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.p2p_port)
    }

    fn dial_addr(&self) -> String {
        format!("{}/p2p/{}", self.p2p_addr(), kessai_network::peer_id_of(&self.key.public()))
    }
}

/// Runs a `kessai testnet` subcommand.
pub fn run(command: TestnetCommand) -> Result<()> {
    match command {
        TestnetCommand::Init(args) => init(args),
    }
}

fn init(args: TestnetInitArgs) -> Result<()> {
    if args.out.join("chainspec.json").exists() {
        bail!("{} already holds a testnet; remove it or choose another --out", args.out.display());
    }
    let nodes = plan_nodes(&args)?;
    let spec = testnet_spec(&args, &nodes)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    std::fs::write(args.out.join("chainspec.json"), spec.to_json())?;
    write_member_keys(&args.out.join("keys"))?;
    let mut entries = Vec::new();
    for node in &nodes {
        let home = Home::new(args.out.join(&node.name));
        let bootnodes =
            nodes.iter().filter(|n| n.name != node.name).map(Planned::dial_addr).collect();
        let config = NodeConfig {
            rpc_addr: node.rpc_addr,
            p2p_addr: node.p2p_addr(),
            bootnodes,
            metrics_addr: Some(node.metrics_addr),
            validator: node.validator,
            ..NodeConfig::default()
        };
        home.initialise(&spec, &KeyFile::new(&node.name, &node.key), &config)?;
        entries.push(NodeEntry {
            name: node.name.clone(),
            home: home.root().display().to_string(),
            validator: node.validator,
            node_key: node.key.public().to_string(),
            peer_id: kessai_network::peer_id_of(&node.key.public()).to_string(),
            p2p_addr: node.p2p_addr(),
            rpc_url: format!("http://{}", node.rpc_addr),
            metrics_url: format!("http://{}/metrics", node.metrics_addr),
        });
    }
    std::fs::write(args.out.join("nodes.json"), serde_json::to_string_pretty(&entries)?)?;
    println!(
        "wrote a testnet of {} validators and {} full nodes for chain {} in {}\nstart it with: scripts/testnet.sh up {}",
        args.validators,
        args.full_nodes,
        spec.chain_id,
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

fn plan_nodes(args: &TestnetInitArgs) -> Result<Vec<Planned>> {
    let count = args.validators + args.full_nodes;
    let last_port = u32::from(args.base_port) + 10 * count + 2;
    if last_port > u32::from(u16::MAX) {
        bail!("--base-port {} leaves no room for {count} nodes (10 ports each)", args.base_port);
    }
    Ok((0..count)
        .map(|i| {
            let port = args.base_port + 10 * i as u16;
            Planned {
                name: format!("node{i}"),
                key: Keypair::generate(),
                validator: i < args.validators,
                p2p_port: port,
                rpc_addr: SocketAddr::from(([127, 0, 0, 1], port + 1)),
                metrics_addr: SocketAddr::from(([127, 0, 0, 1], port + 2)),
            }
        })
        .collect())
}

fn testnet_spec(args: &TestnetInitArgs, nodes: &[Planned]) -> Result<ChainSpec> {
    let mut spec = ChainSpec::load(&args.chain)?;
    spec.chain_id = args.chain_id.clone();
    spec.genesis_time_ms = kessai_primitives::time::now_ms();
    spec.validators = nodes
        .iter()
        .filter(|n| n.validator)
        .map(|n| ValidatorSpec {
            name: n.name.clone(),
            public_key: n.key.public(),
            power: VALIDATOR_POWER,
        })
        .collect();
    spec.nodes = nodes
        .iter()
        .filter(|n| !n.validator)
        .map(|n| NodeSpec { name: n.name.clone(), public_key: n.key.public() })
        .collect();
    spec.validate().context("the testnet chain spec is invalid")?;
    Ok(spec)
}

/// The dev members' keys: the testnet spec keeps the preset's members.
fn write_member_keys(dir: &std::path::Path) -> Result<()> {
    for (name, _) in DEV_MEMBERS {
        KeyFile::new(name, &Keypair::dev(name)).write(&dir.join(format!("{name}.json")))?;
    }
    Ok(())
}
