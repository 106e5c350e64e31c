#!/usr/bin/env bash
# Starts a local one-validator Kessai chain (`kessai dev`), installing and building what it needs.
# Extra arguments go to `kessai dev` (e.g. --home DIR --rpc-addr 127.0.0.1:9000 --reset).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
cargo build -p kessai-cli --bin kessai
exec "$CARGO_TARGET_DIR/debug/kessai" dev "$@"
