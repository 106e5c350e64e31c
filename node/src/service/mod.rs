//! Long-running services of a node and how they are wired together.

pub mod consensus;
pub mod events;
pub mod inbound;
pub mod network;
pub mod node;
pub mod sync;
