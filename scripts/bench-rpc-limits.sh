#!/usr/bin/env bash
# RPC resource limits under hostile clients: peak RSS of a `kessai dev` node while
#   1. 1,000 clients trickle their requests from one host (default limits: 64 per host),
#   2. 1,000 clients trickle from 16 hosts (127.0.0.1–16, 63 each: all admitted),
#   3. 50 clients at once send bodies just under the limit (4,259,000 bytes), 3 rounds,
#   4. 50 clients at once announce 60 MB bodies (refused with 413 before reading),
# and, for comparison, the old 64 MiB body limit (`--rpc-max-request-bytes 67108864`) under
# 8 and 50 clients sending 60 MB bodies.
#
#   scripts/bench-rpc-limits.sh            (the debug build: dependencies are optimised, and
#                                           buffers, not code, are what is measured)
#   KESSAI_BIN=path/to/kessai scripts/bench-rpc-limits.sh
#
# Needs Linux (/proc/PID/clear_refs resets the peak RSS between phases) and python3.
# Results go into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
if [ -z "${KESSAI_BIN:-}" ]; then
    cargo build -q -p kessai-cli
    KESSAI_BIN="$CARGO_TARGET_DIR/debug/kessai"
fi
probe=scripts/rpc-limits-probe.py
work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 8192

start_node() {
    [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
    rm -f "$work/dev/rpc_url"
    RUST_LOG=error "$KESSAI_BIN" dev --home "$work/dev" --rpc-addr 127.0.0.1:0 "$@" 2>>"$work/dev.log" &
    pid=$!
    for _ in $(seq 200); do [ -f "$work/dev/rpc_url" ] && break; sleep 0.1; done
    url="$(cat "$work/dev/rpc_url")"
    sleep 2
    echo "node $pid at $url ${*:-(default limits)}; idle RSS $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)"
}

start_node
python3 "$probe" "$pid" "$url" slow 1000 1 20
python3 "$probe" "$pid" "$url" slow 1000 16 20
python3 "$probe" "$pid" "$url" big 50 4259000 3
python3 "$probe" "$pid" "$url" big 50 60000000 1

echo "--- before: the old 64 MiB body limit"
start_node --rpc-max-request-bytes 67108864
python3 "$probe" "$pid" "$url" big 8 60000000 1
python3 "$probe" "$pid" "$url" big 50 60000000 1
