//! Real libp2p nodes on loopback: gossip, permissioning, sync and reconnection.
//!
//! One test binary (modules rather than files under `tests/`) so libp2p is linked once.

mod common;
mod gossip;
mod permission;
mod reconnect;
mod sync;
