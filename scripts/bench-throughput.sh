#!/usr/bin/env bash
# Throughput benchmark: a release build of the node, signed asset-ownership calls from kessai-loadgen.
#
#   scripts/bench-throughput.sh dev     [LOADGEN ARGS]   one validator (`kessai dev`)
#   scripts/bench-throughput.sh testnet [LOADGEN ARGS]   four validators on 127.0.0.1, load spread over them
#
# Prints the load generator's report, the CPU seconds each node process used per committed
# transaction and their split by stage (`kessai_cpu_seconds_total` and the threads' own counts),
# each node's resident memory before and after the load, the load average, (testnet) the block
# interval at idle, and each node's own p50/p90/p99 from admission to durable
# (`kessai_tx_admission_to_durable_seconds` on its /metrics, estimated from the histogram's
# buckets) beside the client-seen ones. Results go into docs/benchmarks.md.
# Default load: --accounts 64 --txs 100000 --batch 500 --concurrency 8. KESSAI_BENCH_BIN=DIR runs the
# kessai and kessai-loadgen in DIR instead of building (to compare with an older build).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
[ "$mode" = dev ] || [ "$mode" = testnet ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
shift
load=("$@")
[ ${#load[@]} -gt 0 ] || load=(--accounts 64 --txs 100000 --batch 500 --concurrency 8)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target-release}"
if [ -n "${KESSAI_BENCH_BIN:-}" ]; then
    bin=$KESSAI_BENCH_BIN # kessai and kessai-loadgen built earlier (an A/B against older code)
else
    cargo build --release -q -p kessai-cli -p kessai-loadgen
    bin="$CARGO_TARGET_DIR/release"
fi
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

height() { "$bin/kessai" status --rpc "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])'; }

# p50/p90/p99 of kessai_tx_admission_to_durable_seconds at a node's /metrics URL, per source,
# estimated from the buckets as Prometheus' histogram_quantile does (linear within a bucket).
admission_quantiles() {
    python3 - "$1" <<'EOF'
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
name = "kessai_tx_admission_to_durable_seconds"
parts = []
for source in ("client", "peer"):
    buckets = []
    for m in re.finditer(r"^%s_bucket\{(.*)\} (\S+)$" % name, text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("source") == source:
            buckets.append((float(labels["le"]), float(m.group(2))))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        parts.append("%s: none" % source)
        continue
    def quantile(q):
        rank, lower, below = q * total, 0.0, 0.0
        for le, count in buckets:
            if count >= rank:
                if le == float("inf"):
                    return "> %.0f ms" % (1000 * lower)
                return "%.0f ms" % (1000 * (lower + (le - lower) * (rank - below) / (count - below)))
            lower, below = le, count
    parts.append("%s: %d txs, p50 %s, p90 %s, p99 %s"
                 % (source, total, quantile(0.5), quantile(0.9), quantile(0.99)))
print("; ".join(parts))
EOF
}

# A node's CPU seconds so far, by stage, as JSON: its `kessai_cpu_seconds_total{stage}` (threads
# doing admission, execution, the tree, the write), its threads named rocksdb:* (flushes and
# compactions) and rayon-* (blocks' signature checks), and the whole process.
stage_cpu() {
    python3 - "$1" "$2" <<'EOF'
import json, os, re, sys, urllib.request
pid, url = sys.argv[1], sys.argv[2]
tick = os.sysconf("SC_CLK_TCK")
text = urllib.request.urlopen(url, timeout=10).read().decode()
out = {s: float(v) for s, v in re.findall(r'^kessai_cpu_seconds_total\{stage="(\w+)"\} (\S+)$', text, re.M)}
def seconds(stat):
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
out["rocksdb"] = out["rayon"] = 0.0
for tid in os.listdir("/proc/%s/task" % pid):
    try:
        comm = open("/proc/%s/task/%s/comm" % (pid, tid)).read().strip()
        stat = open("/proc/%s/task/%s/stat" % (pid, tid)).read()
    except OSError:
        continue
    for group in ("rocksdb", "rayon"):
        if comm.startswith(group):
            out[group] += seconds(stat)
out["process"] = seconds(open("/proc/%s/stat" % pid).read())
print(json.dumps(out))
EOF
}

# µs of CPU per committed transaction in each stage, from two stage_cpu readings.
stage_split() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
before, after, committed = json.loads(sys.argv[1]), json.loads(sys.argv[2]), max(int(sys.argv[3]), 1)
per_tx = {k: 1e6 * (after.get(k, 0) - before.get(k, 0)) / committed for k in after}
stages = [("admission", "admission"), ("rayon", "block signature checks"), ("execute", "execution"),
          ("tree", "state tree"), ("write", "write"), ("rocksdb", "RocksDB background")]
rest = per_tx["process"] - sum(per_tx.get(k, 0) for k, _ in stages)
print(", ".join("%s %.1f" % (name, per_tx.get(k, 0)) for k, name in stages)
      + ", consensus, gossip, RPC and the rest %.1f (total %.1f µs)" % (rest, per_tx["process"]))
EOF
}

urls=()
metrics=()
if [ "$mode" = dev ]; then
    KESSAI_METRICS_ENABLED=true KESSAI_METRICS_ADDRESS=127.0.0.1:0 RUST_LOG=warn "$bin/kessai" dev --home "$work/dev" --rpc-addr 127.0.0.1:0 2>"$work/dev.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -f "$work/dev/rpc_url" ] && break; sleep 0.1; done
    urls+=("$(cat "$work/dev/rpc_url")")
    for _ in $(seq 100); do [ -s "$work/dev/metrics_url" ] && break; sleep 0.1; done
    metrics+=("$(cat "$work/dev/metrics_url")")
    keys="$work/dev/keys"
else
    "$bin/kessai" testnet init --validators 4 --out "$work/net" --base-port 28600 >/dev/null
    for i in 0 1 2 3; do
        RUST_LOG=warn "$bin/kessai" node run --home "$work/net/node$i" 2>"$work/node$i.log" &
        pids+=($!)
    done
    for i in 0 1 2 3; do
        for _ in $(seq 100); do [ -f "$work/net/node$i/rpc_url" ] && break; sleep 0.1; done
        urls+=("$(cat "$work/net/node$i/rpc_url")")
        for _ in $(seq 100); do [ -s "$work/net/node$i/metrics_url" ] && break; sleep 0.1; done
        metrics+=("$(cat "$work/net/node$i/metrics_url")")
    done
    keys="$work/net/keys"
    # Block interval at idle: heights over 20 s with no load.
    sleep 5
    h0=$(height "${urls[0]}"); sleep 20; h1=$(height "${urls[0]}")
    python3 -c "import sys; n=$h1-$h0; print('idle: %d blocks in 20 s, %.0f ms per block' % (n, 20000/max(n,1)))"
fi

# Resident memory of a process, MiB (now, and its peak).
rss() { awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "%.0f MiB (peak %.0f MiB)", r/1024, h/1024}' "/proc/$1/status"; }

before=()
for pid in "${pids[@]}"; do before+=("$(cpu_ticks "$pid")"); done
stages_before=()
for n in "${!pids[@]}"; do stages_before+=("$(stage_cpu "${pids[$n]}" "${metrics[$n]}")"); done
for n in "${!pids[@]}"; do echo "node $n before the load: $(rss "${pids[$n]}")"; done
rpc_args=()
for url in "${urls[@]}"; do rpc_args+=(--rpc "$url"); done
report="$("$bin/kessai-loadgen" "${rpc_args[@]}" --keys-dir "$keys" --json "${load[@]}")"
echo "$report"
committed=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["committed"])' "$report")
ticks=$(getconf CLK_TCK)
for n in "${!pids[@]}"; do
    used=$(( $(cpu_ticks "${pids[$n]}") - ${before[$n]} ))
    python3 -c "print('node $n: %.1f CPU-s, %.0f µs CPU per committed tx' % ($used/$ticks, 1e6*$used/$ticks/max($committed,1)))"
    echo "node $n, µs of CPU per committed tx by stage: $(stage_split "${stages_before[$n]}" "$(stage_cpu "${pids[$n]}" "${metrics[$n]}")" "$committed")"
    echo "node $n after the load: $(rss "${pids[$n]}")"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("client-seen, submission to seen committed: p50 %s ms, p90 %s ms, p99 %s ms" % (r["latency_ms_p50"], r["latency_ms_p90"], r["latency_ms_p99"]))' "$report"
for n in "${!metrics[@]}"; do
    echo "node $n, admission to durable (its /metrics): $(admission_quantiles "${metrics[$n]}")"
done
