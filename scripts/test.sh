#!/usr/bin/env bash
# Runs every check CI runs: contract artifacts are reproducible, contract logic tests, formatting,
# clippy, the whole test suite (unit, simulation, real RocksDB/wasm, end-to-end processes), and the
# JavaScript light client (wasm32 build, bindings, its tests against a real node).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"

echo "== contracts: rebuild and compare with the committed artifacts" >&2
scripts/build-contracts.sh --check
echo "== contracts: native logic tests" >&2
scripts/test-contracts.sh
echo "== fmt" >&2
cargo fmt --all -- --check
echo "== clippy" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "== tests" >&2
cargo test --workspace
echo "== light client for JavaScript (wasm32 + wasm-bindgen, node --test)" >&2
scripts/build-light-client-js.sh
