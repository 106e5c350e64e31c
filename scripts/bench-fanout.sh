#!/usr/bin/env bash
# Subscription fan-out benchmark (issue 18): the node's committed throughput at a fixed offered rate
# without subscribers and with N WebSocket subscribers (half kessai_subscribeHeads, half
# kessai_subscribeEvents of asset-ownership, or kessai_subscribeEventPages with --pages), and whether every subscriber got every head and
# every event once, in order (kessai-fanout checks them against the chain).
#
#   scripts/bench-fanout.sh [dev|testnet] [--release] [--rate R] [--seconds S] [--subscribers N]
#                           [--rounds K] [--pages] [-- LOADGEN ARGS]
#
# dev: one validator (`kessai dev`); testnet: four validators on 127.0.0.1, load spread over them,
# subscribers on node 0. Without --rate the sustained rate is measured first (an unthrottled run
# of --seconds × 300 transactions) and offered in every run. Each round is a run without
# subscribers and one with them; rounds alternate the order (A B, B A, …) so that the chain's
# growth and the machine's background load do not favour one side. Default: dev, debug build,
# --seconds 60, --subscribers 100, --rounds 2. Results go into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=dev
profile=debug
rate=
seconds=60
subscribers=100
rounds=2
fanout_args=()
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        dev | testnet) mode=$1 ;;
        --release) profile=release ;;
        --rate) rate=$2; shift ;;
        --seconds) seconds=$2; shift ;;
        --subscribers) subscribers=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --pages) fanout_args+=(--pages) ;;
        --) shift; extra=("$@"); break ;;
        *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$profile" = release ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target-release}"
    cargo build --release -q -p kessai-cli -p kessai-loadgen
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
    cargo build -q -p kessai-cli -p kessai-loadgen
fi
bin="$CARGO_TARGET_DIR/$profile"
echo "build: $profile ($bin), mode: $mode, commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- node consensus runtime || echo ' + uncommitted changes')"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

urls=()
if [ "$mode" = dev ]; then
    RUST_LOG=warn "$bin/kessai" dev --home "$work/dev" --rpc-addr 127.0.0.1:0 2>"$work/dev.log" &
    pids+=($!)
    for _ in $(seq 300); do [ -f "$work/dev/rpc_url" ] && break; sleep 0.1; done
    urls+=("$(cat "$work/dev/rpc_url")")
    keys="$work/dev/keys"
else
    "$bin/kessai" testnet init --validators 4 --out "$work/net" --base-port 28700 >/dev/null
    for i in 0 1 2 3; do
        RUST_LOG=warn "$bin/kessai" node run --home "$work/net/node$i" 2>"$work/node$i.log" &
        pids+=($!)
    done
    for i in 0 1 2 3; do
        for _ in $(seq 300); do [ -f "$work/net/node$i/rpc_url" ] && break; sleep 0.1; done
        urls+=("$(cat "$work/net/node$i/rpc_url")")
    done
    keys="$work/net/keys"
    sleep 5
fi
node_pids=("${pids[@]}")
rpc_args=()
for url in "${urls[@]}"; do rpc_args+=(--rpc "$url"); done
load=(--accounts 16 --batch 100 --concurrency 4 "${extra[@]}")

# One load run; prints its report and the nodes' CPU per committed transaction.
run_load() { # LABEL TXS [--rate R]
    local label=$1 txs=$2
    shift 2
    local before=() used=0 n
    for pid in "${node_pids[@]}"; do before+=("$(cpu_ticks "$pid")"); done
    local report
    report="$("$bin/kessai-loadgen" "${rpc_args[@]}" --keys-dir "$keys" --json --txs "$txs" "${load[@]}" "$@" 2>/dev/null)"
    for n in "${!node_pids[@]}"; do used=$((used + $(cpu_ticks "${node_pids[$n]}") - ${before[$n]})); done
    local committed
    committed=$(field "$report" committed)
    python3 - "$label" "$report" "$used" "$ticks" <<'EOF'
import json, sys
label, r, used, ticks = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("%-16s committed %6d in %5.1f s: %6.1f tx/s  p50 %4d ms  p99 %5d ms  node CPU %5.1f s = %4.0f µs/tx"
      % (label, r["committed"], r["span_ms"] / 1000, r["committed_tps"], r["latency_ms_p50"],
         r["latency_ms_p99"], used / ticks, 1e6 * used / ticks / max(r["committed"], 1)))
EOF
    echo "$label $(field "$report" committed_tps) $committed $used" >>"$work/results"
}

if [ -z "$rate" ]; then
    txs=$((seconds * 300))
    echo "calibrating: $txs transactions as fast as the node admits them"
    run_load calibration "$txs"
    rate=$(awk '$1 == "calibration" {printf "%.0f", $2}' "$work/results")
fi
txs=$(python3 -c "print(int($rate * $seconds))")
echo "offered: $rate tx/s for about $seconds s ($txs transactions per run), $subscribers subscribers"

with_subscribers() { # ROUND
    rm -f "$work/ready" "$work/stop"
    "$bin/kessai-fanout" --rpc "${urls[0]}" --subscribers "$subscribers" --json "${fanout_args[@]}" \
        --ready-file "$work/ready" --stop-file "$work/stop" >"$work/fanout$1.json" 2>"$work/fanout$1.log" &
    local fanout=$!
    pids+=("$fanout")
    for _ in $(seq 600); do [ -f "$work/ready" ] || ! kill -0 "$fanout" 2>/dev/null && break; sleep 0.1; done
    [ -f "$work/ready" ] || { echo "kessai-fanout did not start:"; cat "$work/fanout$1.log"; exit 1; }
    local before
    before=$(cpu_ticks "$fanout")
    run_load "subscribers-$1" "$txs" --rate "$rate"
    local client=$(($(cpu_ticks "$fanout") - before))
    touch "$work/stop"
    local status=0
    wait "$fanout" || status=$?
    python3 - "$work/fanout$1.json" "$client" "$ticks" "$status" <<'EOF'
import json, sys
path, client, ticks, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
try:
    f = json.load(open(path))
except Exception:
    print("  kessai-fanout gave no report (exit %s)" % status); sys.exit(0)
print("  subscribers: %d heads + %d events over heights %d..%d; each must get %d heads, %d events"
      % (f["heads_subscribers"], f["events_subscribers"], f["from_height"] + 1, f["to_height"],
         f["heads_expected_each"], f["events_expected_each"]))
print("  received: %d heads, %d events; complete %d/%d; missed %d, duplicated %d, out of order %d, "
      "unexpected %d; lagged closes %d, other closes %d; event index = receipts: %s; "
      "subscriber CPU during the load %.1f s"
      % (f["heads_received"], f["events_received"], f["subscribers_complete"], f["subscribers"],
         f["missed"], f["duplicated"], f["out_of_order"], f["unexpected"], f["lagged_closes"],
         f["other_closes"], f["event_index_agrees_with_receipts"], client / ticks))
if f["first_close"]:
    print("  first close:", f["first_close"])
print("  caught up to height %d within %.1f s of the load's end: %d/%d (the others were cut off)"
      % (f["to_height"], f["drain_ms"] / 1000, f["subscribers"] - f["gave_up"], f["subscribers"]))
for p in f["problems"]:
    print("  problem:", p)
EOF
}

for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then
        run_load "baseline-$round" "$txs" --rate "$rate"
        with_subscribers "$round"
    else
        with_subscribers "$round"
        run_load "baseline-$round" "$txs" --rate "$rate"
    fi
done

python3 - "$work/results" "$rate" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def mean(prefix, i):
    v = [float(r[i]) for r in rows if r[0].startswith(prefix)]
    return sum(v) / len(v)
base, subs = mean("baseline", 1), mean("subscribers", 1)
cpu_b = mean("baseline", 3) / mean("baseline", 2)
cpu_s = mean("subscribers", 3) / mean("subscribers", 2)
print("offered %s tx/s: without subscribers %.1f tx/s, with %.1f tx/s: drop %.1f %%; "
      "node CPU per committed tx %+.0f %%" % (sys.argv[2], base, subs, 100 * (base - subs) / base,
                                              100 * (cpu_s - cpu_b) / cpu_b))
EOF
