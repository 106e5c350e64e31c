//! End-to-end tests of real multi-node networks (four or more `kessai` processes each): one test
//! binary, whose tests take turns through `kessai_tests::testnet::one_network_at_a_time`, so that
//! two networks never share the two cores.

mod clock_skew;
mod health;
mod hostile_peers;
mod joining;
mod lifecycle;
mod light_network;
mod namespaces;
mod remote_signer;
mod state_sync;
mod testnet;
mod upgrade;
mod validator_node_key;
