#!/usr/bin/env bash
# Verification cost in the JavaScript light client (docs/benchmarks.md, "Light client in
# JavaScript"): starts a 4-validator testnet (`kessai testnet init --validators 4`, the `local`
# preset), waits for a few heights, runs consensus/light-client/js/bench/verify.js against one
# node, and stops the testnet. Builds the package first if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
[ -f consensus/light-client/js/pkg/kessai_light_client_wasm.js ] || scripts/build-light-client-js.sh --no-test
cargo build -q -p kessai-cli --bin kessai
kessai="${KESSAI_BIN:-$CARGO_TARGET_DIR/debug/kessai}"
dir=$(mktemp -d)
trap 'scripts/testnet.sh down "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$kessai" testnet init --validators 4 --out "$dir/net" --base-port "${BASE_PORT:-27600}" >/dev/null
scripts/testnet.sh up "$dir/net" >/dev/null
rpc=$(scripts/testnet.sh status "$dir/net" --rpc-urls | head -1)
for _ in $(seq 1 120); do
  height=$(curl -s -X POST -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"kessai_status","params":[]}' "$rpc" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["height"])' 2>/dev/null || echo 0)
  [ "$height" -ge 3 ] && break
  sleep 1
done
node "${BENCH_JS:-consensus/light-client/js/bench/verify.js}" "$rpc"
