#!/usr/bin/env bash
# Runs a local testnet written by `kessai testnet init --validators N --out DIR`.
#
#   scripts/testnet.sh up DIR            start every node of DIR in the background (logs: DIR/nodeI/node.log)
#   scripts/testnet.sh down DIR          stop them (SIGTERM, then SIGKILL after 10 s)
#   scripts/testnet.sh status DIR        height, hash and peers of each node
#   scripts/testnet.sh status DIR --rpc-urls   one RPC URL per line (for scripts)
#
# The binary is $KESSAI_BIN, else `kessai` from $CARGO_TARGET_DIR (built if missing), else PATH.
set -euo pipefail

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$2
shift 2
[ -f "$dir/nodes.json" ] || { echo "error: $dir has no nodes.json; run kessai testnet init first" >&2; exit 1; }

kessai_bin() {
    if [ -n "${KESSAI_BIN:-}" ]; then echo "$KESSAI_BIN"; return; fi
    local repo target
    repo="$(cd "$(dirname "$0")/.." && pwd)"
    target="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
    if [ ! -x "$target/debug/kessai" ] && [ -f "$repo/Cargo.toml" ]; then
        (cd "$repo" && CARGO_TARGET_DIR="$target" cargo build -q -p kessai-cli --bin kessai)
    fi
    if [ -x "$target/debug/kessai" ]; then echo "$target/debug/kessai"; else command -v kessai; fi
}

# One "home<TAB>rpc_url" line per node, from nodes.json.
nodes() {
    python3 -c 'import json,sys
for n in json.load(open(sys.argv[1])): print(n["home"] + "\t" + n["rpc_url"])' "$dir/nodes.json"
}

running() { [ -f "$1/node.pid" ] && kill -0 "$(cat "$1/node.pid")" 2>/dev/null; }

up() {
    local bin
    bin="$(kessai_bin)"
    while IFS=$'\t' read -r home _url; do
        if running "$home"; then echo "$(basename "$home"): already running"; continue; fi
        nohup "$bin" node run --home "$home" >>"$home/node.log" 2>&1 &
        echo $! >"$home/node.pid"
        echo "$(basename "$home"): started (pid $!, log $home/node.log)"
    done < <(nodes)
}

down() {
    while IFS=$'\t' read -r home _url; do
        if ! running "$home"; then rm -f "$home/node.pid"; continue; fi
        local pid
        pid="$(cat "$home/node.pid")"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$home/node.pid"
        echo "$(basename "$home"): stopped"
    done < <(nodes)
}

status() {
    if [ "${1:-}" = "--rpc-urls" ]; then
        nodes | cut -f2
        return
    fi
    local bin
    bin="$(kessai_bin)"
    while IFS=$'\t' read -r home url; do
        local name state
        name="$(basename "$home")"
        if ! running "$home"; then echo "$name: stopped"; continue; fi
        if state="$("$bin" status --rpc "$url" --json 2>/dev/null)"; then
            python3 -c 'import json,sys
s=json.loads(sys.argv[2])
print("%s: height %s hash %s peers %d%s" % (sys.argv[1], s["height"], s["hash"][:16], len(s["peers"]), " (syncing)" if s["syncing"] else ""))' "$name" "$state"
        else
            echo "$name: running, RPC $url not answering"
        fi
    done < <(nodes)
}

case "$command" in
    up) up ;;
    down) down ;;
    status) status "$@" ;;
    *) usage ;;
esac
