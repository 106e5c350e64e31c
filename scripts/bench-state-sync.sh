#!/usr/bin/env bash
# Joining by state sync vs by block sync: a one-validator chain (`kessai testnet init --validators 1
# --full-nodes 2`) taking a snapshot every INTERVAL heights commits TXS transactions of
# kessai-loadgen's `create` workload (a new asset record each: the state grows); then full node 1
# joins by block sync (replaying every block) and full node 2 by state sync (trusting the header of
# height 1), each timed from its start until it has committed the height the validator had when
# it started.
#
#   scripts/bench-state-sync.sh [TXS] [INTERVAL]
#
# RATE=N (transactions per second) spreads the load over more blocks. Defaults: 5000 100, as fast
# as the validator admits them. A debug build by default (PROFILE=release for a release build). Results go
# into docs/benchmarks.md ("State sync").
set -euo pipefail
cd "$(dirname "$0")/.."
txs=${1:-5000}
interval=${2:-100}
profile=${PROFILE:-debug}

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
if [ "$profile" = release ]; then
    cargo build --release -q -p kessai-cli -p kessai-loadgen
else
    cargo build -q -p kessai-cli -p kessai-loadgen
fi
bin="$CARGO_TARGET_DIR/$profile"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

rpc() { # URL METHOD PARAMS
    curl -s -X POST -H 'content-type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1"
}
status_field() { # URL FIELD
    rpc "$1" kessai_status '[]' | python3 -c "import json,sys; print(json.load(sys.stdin)['result']['$2'])"
}
start() { # I ARGS...: starts node I, prints nothing; its pid is appended to pids
    local i=$1
    shift
    rm -f "$net/node$i/rpc_url"
    RUST_LOG=info "$bin/kessai" node run --home "$net/node$i" "$@" 2>"$net/node$i.log" &
    pids+=("$!")
}
wait_rpc() { # I: prints the node's RPC URL once it serves
    for _ in $(seq 6000); do [ -f "$net/node$1/rpc_url" ] && break; sleep 0.05; done
    cat "$net/node$1/rpc_url"
}

net="$work/net"
"$bin/kessai" testnet init --validators 1 --full-nodes 2 --out "$net" --base-port 29700 >/dev/null
start 0 --snapshot-interval "$interval"
url="$(wait_rpc 0)"
sleep 2
# RATE spreads the load over many blocks (a longer chain for block sync to replay).
rate_flags=()
[ -n "${RATE:-}" ] && rate_flags=(--rate "$RATE")
report="$("$bin/kessai-loadgen" --rpc "$url" --keys-dir "$net/keys" --json \
    --workload create --accounts 32 --txs "$txs" --batch 50 --concurrency 4 "${rate_flags[@]}")"
# The next snapshot height after the load, so that the snapshot holds the whole load.
height="$(status_field "$url" height)"
target=$(((height / interval + 1) * interval + 2))
while [ "$(status_field "$url" height)" -lt "$target" ]; do sleep 0.5; done
trust_hash="$("$bin/kessai" query block --height 1 --rpc "$url" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['hash'])")"

join() { # I MODE ARGS...: seconds from start until node I has the validator's height
    local i=$1 mode=$2
    shift 2
    local tip
    tip="$(status_field "$url" height)"
    local t0
    t0=$(date +%s.%N)
    start "$i" "$@"
    local node_url
    node_url="$(wait_rpc "$i")"
    while [ "$(status_field "$node_url" height)" -lt "$tip" ]; do sleep 0.1; done
    local t1
    t1=$(date +%s.%N)
    local earliest
    earliest="$(status_field "$node_url" earliest_block_height)"
    python3 -c "print(f'$mode: height $tip reached in {$t1 - $t0:.1f} s (earliest block kept: $earliest)')"
    kill "${pids[-1]}"
}

python3 - "$report" "$target" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
print(f"chain: {r['committed']} txs committed in {r['blocks']} blocks; joins start above height {sys.argv[2]}")
EOF
join 1 "block sync"
join 2 "state sync" --state-sync --trust-height 1 --trust-hash "$trust_hash"
grep -h "state snapshot restored\|state sync done" "$net/node2.log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-200
