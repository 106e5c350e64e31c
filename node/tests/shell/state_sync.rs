//! State sync through the node's snapshot provider, without processes: the snapshot a validator
//! offers verifies as a light client's trusted state, its chunks rebuild an empty store that the
//! node then opens at the snapshot height, and a store left by an interrupted restore is refused.

use crate::harness::{spec, Net};
use kessai_light_client::TrustedState;
use kessai_network::SyncProvider;
use kessai_node::chain::{genesis_record, Chain};
use kessai_node::state_sync::{
    NodeSyncProvider, SnapshotConfig, SnapshotHeader, SnapshotRequest, SnapshotResponse,
};
use kessai_store::{StateRestore, Store};

fn ask(provider: &NodeSyncProvider, request: SnapshotRequest) -> SnapshotResponse {
    let answer = provider.snapshot(&borsh::to_vec(&request).unwrap());
    borsh::from_slice(&answer).expect("a snapshot answer")
}

fn latest(provider: &NodeSyncProvider) -> Option<SnapshotHeader> {
    match ask(provider, SnapshotRequest::Latest) {
        SnapshotResponse::Header(header) => header.map(|h| *h),
        SnapshotResponse::Chunk(_) => panic!("a chunk in answer to Latest"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_served_by_a_validator_rebuilds_a_store_the_node_opens_at_its_height() {
    let mut net = Net::start(spec(1));
    net.run_until("height 7 on disk", |net| net.height(0) >= 7).await;
    let chain = net.chain(0).clone();

    // Without an interval nothing is offered; with one, the latest multiple of it.
    let none = NodeSyncProvider::new(chain.clone(), SnapshotConfig::default());
    assert!(latest(&none).is_none());
    let provider = NodeSyncProvider::new(chain.clone(), SnapshotConfig { interval: 3 });
    let offer = latest(&provider).expect("a snapshot offered");
    let height = offer.header.height;
    assert_eq!(height, chain.height() / 3 * 3);
    // What a joining node checks of it: the sets and the commit belong to the header.
    TrustedState::new(
        offer.header.clone(),
        offer.commit.clone(),
        offer.validators.clone(),
        offer.next_validators.clone(),
    )
    .expect("the offered header verifies");
    // Heights that are not snapshots are not served.
    let chunk = ask(&provider, SnapshotRequest::Chunk { height: height - 1, start: [0; 32] });
    assert!(matches!(chunk, SnapshotResponse::Chunk(None)));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).unwrap();
        let mut restore = StateRestore::begin(&store, height, offer.header.state_root).unwrap();
        while let Some(start) = restore.next_start() {
            match ask(&provider, SnapshotRequest::Chunk { height, start }) {
                SnapshotResponse::Chunk(Some(chunk)) => restore.add_chunk(chunk).unwrap(),
                other => panic!("no chunk from {start:?}: {other:?}"),
            }
        }
        let record = genesis_record(&chain.spec).unwrap();
        restore.finish(&offer.header, &offer.commit, &record).unwrap();
    }
    let joined = Chain::open(chain.spec.clone(), &data).expect("the node opens the restored store");
    assert_eq!(joined.height(), height);
    assert_eq!(joined.store.state_root(height).unwrap(), chain.store.state_root(height).unwrap());
    // It knows the set that signs the next block: it can verify block sync's next commit.
    assert_eq!(joined.validators_for(height + 1).unwrap(), offer.next_validators);
}

#[tokio::test(start_paused = true)]
async fn a_store_left_by_an_interrupted_state_sync_is_not_opened_as_a_chain() {
    let mut net = Net::start(spec(1));
    net.run_until("height 4 on disk", |net| net.height(0) >= 4).await;
    let chain = net.chain(0).clone();
    let provider = NodeSyncProvider::new(chain.clone(), SnapshotConfig { interval: 2 });
    let offer = latest(&provider).expect("a snapshot offered");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).unwrap();
        StateRestore::begin(&store, offer.header.height, offer.header.state_root).unwrap();
    }
    let Err(error) = Chain::open(chain.spec.clone(), &data) else {
        panic!("a partly restored store was opened as a chain")
    };
    assert!(format!("{error:#}").contains("interrupted state sync"), "{error:#}");
}
