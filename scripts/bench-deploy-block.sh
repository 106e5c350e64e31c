#!/usr/bin/env bash
# What the worst deploys the limits allow cost a four-validator chain (issue 20, item 1): each is
# deployed on a fresh local testnet, and the block holding it is compared with the empty blocks
# around it — the time from the previous block (block times, which the proposer stamps when it
# starts building) and the round it was decided in (from its commit).
#
#   scripts/bench-deploy-block.sh [debug|release]     (default debug: the build dev.sh and the tests run)
#
# Modules: the deploy bench's worst shapes, each as large as one maximum-gas transaction allows
# (`DEPLOY_BENCH_WRITE`, runtime/benches/deploy.rs). Needs python3. Prints one line per shape.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-debug}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
case "$profile" in
  debug) cargo build -q -p kessai-cli; bin="$CARGO_TARGET_DIR/debug/kessai" ;;
  release) cargo build -q --release -p kessai-cli; bin="$CARGO_TARGET_DIR/release/kessai" ;;
  *) echo "profile is debug or release" >&2; exit 2 ;;
esac
work="$(mktemp -d)"
trap 'KESSAI_BIN="$bin" scripts/testnet.sh down "$work/net" >/dev/null 2>&1 || true' EXIT

DEPLOY_BENCH_WRITE="$work/modules" cargo bench -q -p kessai-runtime --profile dev --bench deploy \
  >/dev/null 2>&1
shapes="${SHAPES:-nested_loops sequential_loops empty_functions calls loops_of_call_indirect}"

"$bin" testnet init --validators 4 --out "$work/net" >/dev/null
KESSAI_BIN="$bin" scripts/testnet.sh up "$work/net" >/dev/null
rpc="$(KESSAI_BIN="$bin" scripts/testnet.sh status "$work/net" --rpc-urls | head -1)"
until [ "$("$bin" status --rpc "$rpc" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo 0)" -ge 10 ]; do sleep 1; done

# gap RPC HEIGHT: "<ms since the previous block> <round of its commit>"
gap() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
url, h = sys.argv[1], int(sys.argv[2])
def call(method, *params):
    req = urllib.request.Request(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]
t = call("kessai_header", h)["time_ms"] - call("kessai_header", h - 1)["time_ms"]
print(t, call("kessai_commit", h)["round"])
PY
}

# deploy_height RPC FROM: the first block after FROM with a transaction (the deploy; its
# instantiation comes in a later block).
deploy_height() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
url, h = sys.argv[1], int(sys.argv[2])
def call(method, *params):
    req = urllib.request.Request(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]
while True:
    h += 1
    if call("kessai_block", h)["tx_ids"]:
        print(h)
        break
PY
}

echo "profile $profile, 4 validators on $(nproc) cores; per shape: bytes, compile gas, height, gap from the previous block (ms), round, and the median gap of the 5 empty blocks before"
for shape in $shapes; do
  wasm="$work/modules/$shape.wasm"
  start="$("$bin" status --rpc "$rpc" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])')"
  out="$("$bin" tx deploy "$wasm" --key alice --keys-dir "$work/net/keys" --gas 100000000 --rpc "$rpc" --json 2>&1)" \
    || { echo "$shape: deploy failed: $out"; continue; }
  h="$(deploy_height "$rpc" "$start")"
  before="$(for i in 1 2 3 4 5; do gap "$rpc" $((h - i)) | cut -d' ' -f1; done | sort -n | sed -n 3p)"
  read -r ms round < <(gap "$rpc" "$h")
  next="$(gap "$rpc" $((h + 1)) 2>/dev/null | cut -d' ' -f1 || echo '?')"
  printf '%-24s %8s B  height %4s  gap %6s ms  round %s  (next block %s ms; empty blocks %s ms)\n' \
    "$shape" "$(stat -c %s "$wasm")" "$h" "$ms" "$round" "$next" "$before"
  sleep 3
done
