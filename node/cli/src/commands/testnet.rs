//! `kessai testnet init`: the homes of a multi-validator network, like `cometbft testnet`: on
//! 127.0.0.1 by default, or one home per machine with `--hostnames h1,h2,…` (names or IPs).
//!
//! ```text
//! DIR/
//!   chainspec.json   shared by every node: fresh validator keys, the dev members, builtin contracts
//!   nodes.json       one line per node: name, home, consensus key, node key, peer id, p2p / RPC /
//!                    metrics addresses
//!   keys/            member keys (alice, bob, …) for `kessai tx … --keys-dir DIR/keys`
//!   node0/ … nodeN/  node homes (validators first, then full nodes), each with its consensus key
//!                    (consensus_key.json, the chain spec's validator key) and its node key
//!                    (node_key.json, the libp2p identity the spec lists as `node_key`); start each with
//!                    `kessai node run --home DIR/nodeI` (`scripts/testnet.sh up DIR` does it)
//! ```
//!
//! With `--hostnames`, node i runs on the i-th host: it listens for p2p on all interfaces
//! (`/ip4/0.0.0.0/tcp/PORT`, or on the host's own address when it is an IP), its bootnodes name the
//! other hosts (`/dns4/HOST/tcp/PORT/p2p/ID`, `/ip4/IP/…`), and its RPC and metrics stay on
//! 127.0.0.1: opening them is the operator's deliberate choice (`docs/operations.md`). Every host
//! uses the same ports (BASE, BASE + 1, BASE + 2), a host named twice the next ten up.

use anyhow::{bail, Context, Result};
use kessai_chainspec::{ChainSpec, NodeSpec, ValidatorSpec, DEV_MEMBERS};
use kessai_client::keyfile::KeyFile;
use kessai_node::home::{Home, NodeConfig};
use kessai_primitives::Keypair;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum TestnetCommand {
    /// Write the homes of N validators (and full nodes) sharing one fresh chain spec: on 127.0.0.1
    /// (start them with `scripts/testnet.sh up DIR`), or one per host with `--hostnames`.
    Init(TestnetInitArgs),
}

#[derive(Args, Debug)]
pub struct TestnetInitArgs {
    /// Number of validators (each gets a fresh key and power 10). Default: 4, or with
    /// `--hostnames` as many as there are hosts left after the full nodes.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub validators: Option<u32>,
    /// Non-validating nodes allowed on the network (listed in the chain spec's `nodes`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub full_nodes: u32,
    /// Directory to write into: DIR/chainspec.json, DIR/node0 … (homes), DIR/keys (members).
    #[arg(long)]
    pub out: PathBuf,
    /// Node i listens for p2p on BASE + 10·i, RPC on BASE + 10·i + 1, metrics on BASE + 10·i + 2
    /// (with `--hostnames`: BASE, BASE + 1, BASE + 2 on every host).
    #[arg(long, default_value_t = 26600)]
    pub base_port: u16,
    /// One host per node (validators first, then full nodes), comma-separated DNS names or IP
    /// addresses: writes homes to copy to separate machines instead of a network on 127.0.0.1.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub hostnames: Vec<String>,
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
    /// The machine the node runs on (127.0.0.1 without `--hostnames`).
    host: String,
    home: String,
    validator: bool,
    /// The key that signs proposals and votes (`consensus_key.json`).
    consensus_key: String,
    /// The libp2p identity (`node_key.json`).
    node_key: String,
    peer_id: String,
    /// The address other nodes dial (without `/p2p/ID`).
    p2p_addr: String,
    /// The address the node listens on.
    p2p_listen: String,
    rpc_url: String,
    metrics_url: String,
}

struct Planned {
    name: String,
    /// The libp2p identity.
    key: Keypair,
    /// The consensus key.
    consensus_key: Keypair,
    validator: bool,
    host: Host,
    p2p_port: u16,
    rpc_addr: SocketAddr,
    metrics_addr: SocketAddr,
}

/// Where a node runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    /// This machine: everything on 127.0.0.1 (no `--hostnames`).
    Local,
    /// A machine reached by this address.
    Ip(IpAddr),
    /// A machine reached by this DNS name.
    Name(String),
}

impl Host {
    /// A host of `--hostnames`: an IP address or a DNS name.
    fn parse(text: &str) -> Result<Host> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            if ip.is_unspecified() {
                bail!("--hostnames: {text} is not an address other nodes can dial");
            }
            return Ok(Host::Ip(ip));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if text.len() > 253 || !text.split('.').all(label_ok) {
            bail!("--hostnames: {text:?} is neither an IP address nor a DNS host name");
        }
        Ok(Host::Name(text.to_string()))
    }

    fn ip_protocol(ip: &IpAddr) -> &'static str {
        if ip.is_ipv4() {
            "ip4"
        } else {
            "ip6"
        }
    }

    /// The multiaddr the node listens on: its own IP, or every interface for a named host.
    fn listen_addr(&self, port: u16) -> String {
        match self {
            Host::Local => format!("/ip4/127.0.0.1/tcp/{port}"),
            Host::Ip(ip) => format!("/{}/{ip}/tcp/{port}", Host::ip_protocol(ip)),
            Host::Name(_) => format!("/ip4/0.0.0.0/tcp/{port}"),
        }
    }

    /// The multiaddr other nodes dial.
    fn dial_addr(&self, port: u16) -> String {
        match self {
            Host::Local | Host::Ip(_) => self.listen_addr(port),
            Host::Name(name) => format!("/dns4/{name}/tcp/{port}"),
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Local => f.write_str("127.0.0.1"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl Planned {
    fn p2p_addr(&self) -> String {
        self.host.dial_addr(self.p2p_port)
    }

    fn p2p_listen(&self) -> String {
        self.host.listen_addr(self.p2p_port)
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
            p2p_addr: node.p2p_listen(),
            bootnodes,
            metrics_addr: Some(node.metrics_addr),
            validator: node.validator,
            ..NodeConfig::default()
        };
        home.initialise(
            &spec,
            &KeyFile::new(&node.name, &node.key),
            Some(&KeyFile::new(&node.name, &node.consensus_key)),
            &config,
        )?;
        entries.push(NodeEntry {
            name: node.name.clone(),
            host: node.host.to_string(),
            home: home.root().display().to_string(),
            validator: node.validator,
            consensus_key: node.consensus_key.public().to_string(),
            node_key: node.key.public().to_string(),
            peer_id: kessai_network::peer_id_of(&node.key.public()).to_string(),
            p2p_addr: node.p2p_addr(),
            p2p_listen: node.p2p_listen(),
            rpc_url: format!("http://{}", node.rpc_addr),
            metrics_url: format!("http://{}/metrics", node.metrics_addr),
        });
    }
    std::fs::write(args.out.join("nodes.json"), serde_json::to_string_pretty(&entries)?)?;
    let validators = nodes.iter().filter(|n| n.validator).count();
    println!(
        "wrote a testnet of {validators} validators and {} full nodes for chain {} in {}",
        args.full_nodes,
        spec.chain_id,
        args.out.display(),
    );
    if args.hostnames.is_empty() {
        println!("start it with: scripts/testnet.sh up {}", args.out.display());
    } else {
        for node in &nodes {
            println!(
                "copy {} to {} and run there: kessai node run --home HOME (p2p port {} open to the other hosts)",
                args.out.join(&node.name).display(),
                node.host,
                node.p2p_port
            );
        }
    }
    Ok(())
}

/// Each node's host and port offset (in tens): on 127.0.0.1 node i gets the i-th ten; with
/// `--hostnames`, the k-th node on one host gets the k-th ten, so every host uses the same ports.
fn placements(args: &TestnetInitArgs) -> Result<(u32, Vec<(Host, u32)>)> {
    if args.hostnames.is_empty() {
        let validators = args.validators.unwrap_or(4);
        let count = validators + args.full_nodes;
        return Ok((validators, (0..count).map(|i| (Host::Local, i)).collect()));
    }
    let hosts = args.hostnames.iter().map(|h| Host::parse(h.trim())).collect::<Result<Vec<_>>>()?;
    let count = hosts.len() as u32;
    let validators = match args.validators {
        Some(v) if v + args.full_nodes != count => bail!(
            "--hostnames lists {count} hosts for {v} validators and {} full nodes; give one host per node",
            args.full_nodes
        ),
        Some(v) => v,
        None if count <= args.full_nodes => bail!(
            "--hostnames lists {count} hosts, which leaves none for a validator after {} full nodes",
            args.full_nodes
        ),
        None => count - args.full_nodes,
    };
    let mut placed = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let on_same_host = hosts[..i].iter().filter(|h| *h == host).count() as u32;
        placed.push((host.clone(), on_same_host));
    }
    Ok((validators, placed))
}

fn plan_nodes(args: &TestnetInitArgs) -> Result<Vec<Planned>> {
    let (validators, placed) = placements(args)?;
    let count = placed.len() as u32;
    let last_offset = placed.iter().map(|(_, offset)| *offset).max().unwrap_or(0);
    let last_port = u32::from(args.base_port) + 10 * last_offset + 2;
    if last_port > u32::from(u16::MAX) {
        bail!("--base-port {} leaves no room for {count} nodes (10 ports each)", args.base_port);
    }
    Ok(placed
        .into_iter()
        .enumerate()
        .map(|(i, (host, offset))| {
            let port = args.base_port + 10 * offset as u16;
            Planned {
                name: format!("node{i}"),
                key: Keypair::generate(),
                consensus_key: Keypair::generate(),
                validator: (i as u32) < validators,
                host,
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
            public_key: n.consensus_key.public(),
            power: VALIDATOR_POWER,
            node_key: Some(n.key.public()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(hostnames: &[&str], validators: Option<u32>, full_nodes: u32) -> TestnetInitArgs {
        TestnetInitArgs {
            validators,
            full_nodes,
            out: PathBuf::from("unused"),
            base_port: 26600,
            hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
            chain_id: "t".into(),
            chain: "local".into(),
        }
    }

    #[test]
    fn hosts_are_ips_or_dns_names() {
        assert_eq!(Host::parse("10.0.0.2").unwrap(), Host::Ip("10.0.0.2".parse().unwrap()));
        assert_eq!(Host::parse("a.example-1.org").unwrap(), Host::Name("a.example-1.org".into()));
        for bad in ["", "a_b", "-a", "a..b", "0.0.0.0", "::", "a b"] {
            assert!(Host::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn each_host_listens_on_its_address_and_is_dialled_by_it() {
        let ip = Host::parse("10.0.0.2").unwrap();
        assert_eq!(ip.listen_addr(26600), "/ip4/10.0.0.2/tcp/26600");
        assert_eq!(ip.dial_addr(26600), "/ip4/10.0.0.2/tcp/26600");
        let v6 = Host::parse("fd00::2").unwrap();
        assert_eq!(v6.dial_addr(1), "/ip6/fd00::2/tcp/1");
        let name = Host::parse("a.example.org").unwrap();
        assert_eq!(name.listen_addr(26600), "/ip4/0.0.0.0/tcp/26600");
        assert_eq!(name.dial_addr(26600), "/dns4/a.example.org/tcp/26600");
        assert_eq!(Host::Local.dial_addr(26600), "/ip4/127.0.0.1/tcp/26600");
    }

    #[test]
    fn hosts_share_ports_and_a_host_named_twice_gets_the_next_ten() {
        let nodes = plan_nodes(&args(&["a", "b", "a"], None, 1)).unwrap();
        let ports: Vec<u16> = nodes.iter().map(|n| n.p2p_port).collect();
        assert_eq!(ports, [26600, 26600, 26610]);
        let validators: Vec<bool> = nodes.iter().map(|n| n.validator).collect();
        assert_eq!(validators, [true, true, false]);
        assert!(nodes.iter().all(|n| n.rpc_addr.ip().is_loopback()), "RPC stays local");
        assert!(nodes.iter().all(|n| n.metrics_addr.ip().is_loopback()), "metrics stay local");
        let local = plan_nodes(&args(&[], None, 0)).unwrap();
        let ports: Vec<u16> = local.iter().map(|n| n.p2p_port).collect();
        assert_eq!(ports, [26600, 26610, 26620, 26630], "without --hostnames: 127.0.0.1, 4 nodes");
    }

    #[test]
    fn the_host_count_must_match_the_nodes() {
        let error = plan_nodes(&args(&["a", "b"], Some(3), 0)).err().unwrap().to_string();
        assert_eq!(
            error,
            "--hostnames lists 2 hosts for 3 validators and 0 full nodes; give one host per node"
        );
        assert!(plan_nodes(&args(&["a"], None, 1)).is_err(), "no validator left");
    }
}
