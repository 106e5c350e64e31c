#!/usr/bin/env bash
# Cost per transaction against the state's size (issue 19, goal 5).
#
#   scripts/bench-state-size.sh [BENCH ARGS]
#
# Builds the `state_size` bench of kessai-node in release (in ~/.cache/kessai/target-release, or
# KESSAI_RELEASE_TARGET_DIR; cargo waits if another build holds it), runs it — a `kessai dev`
# chain in process, the state grown straight through the store to each size, then blocks of signed
# asset-ownership.create calls admitted, executed, put in the tree and written, µs of CPU per
# transaction by stage — and draws the curve with scripts/plot-state-size.py (python3 +
# matplotlib). Writes docs/bench-state-size/state-size.csv and .png (OUT=DIR to put them
# elsewhere); a state-size-before.csv there (an earlier run) is drawn as the "before" total. Default: --sizes 0,100000,300000,1000000,3000000,10000000 (about 11 minutes on the
# 2-core machine; give --sizes for fewer). Other options: `--help` of the bench
# (--block-txs, --blocks, --fill-batch, --dir …). The database goes to a temporary directory
# (about 11 GiB at 10M entries, archive) unless --dir says where.
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--sizes 0,100000,300000,1000000,3000000,10000000)

# The release target directory always (KESSAI_RELEASE_TARGET_DIR to override), not an exported
# CARGO_TARGET_DIR: that is the debug builds' directory, where a release build starts cold.
export CARGO_TARGET_DIR="${KESSAI_RELEASE_TARGET_DIR:-$HOME/.cache/kessai/target-release}"
out="${OUT:-docs/bench-state-size}"
mkdir -p "$out"
out="$(cd "$out" && pwd)" # cargo runs the bench in node/
csv="$out/state-size.csv"
rm -f "$csv"

cargo bench -q -p kessai-node --bench state_size --no-run
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: see load1 per point)"
started=$(date +%s)
cargo bench -q -p kessai-node --bench state_size -- "${args[@]}" --csv "$csv"
echo "ran in $(( $(date +%s) - started )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# An earlier run kept beside it is drawn as the "before" total.
before=()
[ -f "$out/state-size-before.csv" ] && before=("$out/state-size-before.csv")
python3 scripts/plot-state-size.py "$out/state-size.png" "$csv" "${before[@]}"
echo "wrote $csv and $out/state-size.png"
