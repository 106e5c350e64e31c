#!/usr/bin/env bash
# Disk use with and without pruning: a one-validator chain (`kessai testnet init --validators 1`,
# `kessai node run`) under kessai-loadgen, the size of its data/ directory sampled against height.
#
#   scripts/bench-disk.sh [TXS] [WORKLOAD] [KEEP]
#
# Runs the same load twice, archive then pruned (`--state-keep-recent KEEP --blocks-keep-recent
# KEEP`, compaction of pruned ranges at most every COMPACTION seconds, default 30:
# KESSAI_STORE_COMPACTION_INTERVAL_SECS; the node's own default is 300; RATE=N offers N tx/s
# instead of all at once). WORKLOAD is kessai-loadgen's: `create` (a
# new asset record per transaction: the state grows) or `touch` (a read-only call: each
# transaction writes only its signer's nonce, updates to a fixed key set). Defaults: 200000 touch
# 100. Writes docs/bench-disk/WORKLOAD-{archive,pruned}.csv (seconds, height, bytes of data/),
# prints the load generator's reports and the bytes on disk per committed transaction, and draws
# docs/bench-disk/WORKLOAD.png with scripts/plot-disk.py (python3 + matplotlib).
# A debug build by default (PROFILE=release for a release build). Results go into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
txs=${1:-200000}
workload=${2:-touch}
keep=${3:-100}
profile=${PROFILE:-debug}
compaction=${COMPACTION:-30}
# RATE=N offers N tx/s (a sustained run) instead of everything at once.
rate_flags=()
[ -n "${RATE:-}" ] && rate_flags=(--rate "$RATE")

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
if [ "$profile" = release ]; then
    cargo build --release -q -p kessai-cli -p kessai-loadgen
else
    cargo build -q -p kessai-cli -p kessai-loadgen
fi
bin="$CARGO_TARGET_DIR/$profile"
out=docs/bench-disk
mkdir -p "$out"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

status_field() { # URL FIELD
    curl -s -X POST -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"kessai_status","params":[]}' "$1" |
        python3 -c "import json,sys; print(json.load(sys.stdin)['result']['$2'])"
}

run() { # MODE (archive|pruned)
    local mode=$1 net="$work/$1" csv="$out/$workload-$1.csv"
    "$bin/kessai" testnet init --validators 1 --out "$net" --base-port 29600 >/dev/null
    local keep_flags=()
    [ "$mode" = pruned ] && keep_flags=(--state-keep-recent "$keep" --blocks-keep-recent "$keep")
    KESSAI_STORE_COMPACTION_INTERVAL_SECS=$compaction RUST_LOG=warn \
        "$bin/kessai" node run --home "$net/node0" "${keep_flags[@]}" 2>"$work/$mode.log" &
    local node=$!
    pids+=("$node")
    for _ in $(seq 100); do [ -f "$net/node0/rpc_url" ] && break; sleep 0.1; done
    local url
    url="$(cat "$net/node0/rpc_url")"
    local data="$net/node0/data"
    echo "seconds,height,bytes" >"$csv"
    local started=$SECONDS
    (
        while kill -0 "$node" 2>/dev/null; do
            echo "$((SECONDS - started)),$(status_field "$url" height),$(du -sb "$data" | cut -f1)" >>"$csv"
            sleep 2
        done
    ) &
    local sampler=$!
    pids+=("$sampler")
    sleep 3
    local before
    before=$(du -sb "$data" | cut -f1)
    local report
    report="$("$bin/kessai-loadgen" --rpc "$url" --keys-dir "$net/keys" --json \
        --workload "$workload" --accounts 64 --txs "$txs" --batch 250 --concurrency 8 "${rate_flags[@]}")"
    # Let the pruner's last runs and a compaction land.
    sleep 45
    local after
    after=$(du -sb "$data" | cut -f1)
    local earliest
    earliest="state $(status_field "$url" earliest_state_height), blocks $(status_field "$url" earliest_block_height)"
    kill "$node" "$sampler" 2>/dev/null || true
    wait "$node" "$sampler" 2>/dev/null || true
    python3 - "$mode" "$report" "$before" "$after" "$earliest" <<'EOF'
import json, sys
mode, report, before, after, earliest = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
n = report["committed"]
print(f"{mode}: {n} txs committed in {report['blocks']} blocks, {report['committed_tps']:.0f} tx/s, "
      f"p50 {report['latency_ms_p50']} ms, p99 {report['latency_ms_p99']} ms")
print(f"{mode}: data/ {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB, "
      f"{(after - before) / max(n, 1):.0f} bytes per committed tx; earliest kept: {earliest}")
EOF
}

run archive
run pruned
python3 scripts/plot-disk.py "$out/$workload.png" "$workload: $txs transactions, $profile build" \
    "$out/$workload-archive.csv" "$out/$workload-pruned.csv"
echo "plotted $out/$workload.png"
