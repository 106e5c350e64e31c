//! What the services tell the consensus task, the only writer of the chain: the events are declared
//! here, and handled in `consensus` (the shell), produced in `inbound` (peer messages), `sync`
//! (fetched blocks) and by the shell's own timers. Keeping them apart from their handlers is what
//! lets `consensus` and `sync` not know each other.

use crate::service::network::NetworkMessage;
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_consensus::Timeout;
use kessai_primitives::{Block, Commit};
use tokio::sync::oneshot;

/// What the outside world tells the consensus task.
#[derive(Debug)]
pub enum Event {
    /// A consensus message with, for proposals, the block it proposes (boxed: it is large).
    FromPeer(Box<NetworkMessage>),
    /// A timer of the core has fired.
    Timeout(Timeout),
    /// The proposer's deferred block build is due (see `empty_block_interval_ms`).
    BuildDue {
        /// The height the block is for.
        height: u64,
        /// The round the block is for.
        round: u32,
    },
    /// `timeout_commit` after deciding height `decided` has passed: start the next height.
    NextHeight {
        /// The height just decided.
        decided: u64,
    },
    /// Blocks with their commits fetched from a peer by the sync service: verified and committed
    /// here, the only writer of the chain. The verdict says how many were committed, or why the
    /// peer's blocks were invalid.
    Synced {
        /// Consecutive heights, lowest first.
        blocks: Vec<SyncedBlock>,
        /// Where the verdict goes.
        reply: oneshot::Sender<SyncVerdict>,
    },
    /// Periodic check: if the height made no progress since the last one, send our votes again.
    ResendDue,
    /// The background write of decided block `height` failed for good (after its retries): the
    /// node must stop, whatever it is waiting for.
    BlockWriteFailed {
        /// The block's height.
        height: u64,
    },
}

/// One height as sent over the sync protocol.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub struct SyncedBlock {
    /// The block.
    pub block: Block,
    /// The commit (+2/3 precommits) that finalised it.
    pub commit: Commit,
}

/// What the consensus task says about a batch of synced blocks.
pub type SyncVerdict = Result<u64, String>;
