//! The long-running services of a node (wired together by [`crate::daemon`]): the consensus shell,
//! what peers say and how it is routed, and block sync. None of them knows the RPC server.

mod clock;
pub mod consensus;
pub mod events;
pub mod inbound;
pub mod network;
pub mod pruning;
pub mod sync;
