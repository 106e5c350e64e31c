//! RocksDB storage: blocks, commits, receipts, and the authenticated state (Jellyfish Merkle tree)
