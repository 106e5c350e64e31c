#!/usr/bin/env python3
"""CPU per transaction against the state's size: scripts/plot-state-size.py OUT.png RUN.csv [BEFORE.csv]

The CSV is what the `state_size` bench writes (scripts/bench-state-size.sh): one row per point,
medians of µs of CPU per transaction by stage. Top: the stages, the total of the four on the
node's threads with the band of ±20 % around the first point's (issue 19, goal 5), RocksDB's
background work and the whole process; with BEFORE.csv (an earlier run of the same bench), that
run's total of the four stages as a dashed line, for a before/after. Bottom: RocksDB on disk. Needs
matplotlib (pip install matplotlib).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STAGES = [
    ("admit_us", "admission (signatures, nonce, pool)"),
    ("execute_us", "execute (wasm)"),
    ("prepare_us", "prepare (tree update)"),
    ("write_us", "write (RocksDB batch)"),
    ("background_us", "RocksDB flushes and compactions (mean)"),
]


def read_rows(path: str) -> list:
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r["entries"].isdigit()]
    if not rows:
        sys.exit(f"{path}: no rows")
    return rows


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out, path = sys.argv[1], sys.argv[2]
    rows = read_rows(path)
    before = read_rows(sys.argv[3]) if len(sys.argv) == 4 else None
    # The state grows during a point's blocks too: place each point at its middle.
    x = [(int(r["entries"]) + int(r["entries_end"])) / 2 for r in rows]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for column, label in STAGES:
        top.plot(x, [float(r[column]) for r in rows], marker="o", label=label)
    # The judged total: the four stages on the node's own threads. RocksDB's background work comes
    # in bursts (a compaction every few blocks, one left by growing the state), so it is its own line.
    total = [sum(float(r[c]) for c, _ in STAGES[:4]) for r in rows]
    top.plot(x, total, marker="s", color="black", linewidth=2,
             label="total of the four stages")
    if before:
        top.plot([(int(r["entries"]) + int(r["entries_end"])) / 2 for r in before],
                 [sum(float(r[c]) for c, _ in STAGES[:4]) for r in before], marker="s",
                 linestyle="--", color="grey", label="total of the four stages, before")
    top.plot(x, [float(r["process_us"]) for r in rows], linestyle=":", color="black",
             label="process CPU per tx (all threads)")
    top.fill_between(x, [total[0] * 0.8] * len(x), [total[0] * 1.2] * len(x), color="grey",
                     alpha=0.2, label="the fresh chain's total ±20 %")
    for xi, r in zip(x, rows):
        top.annotate(f"load {float(r['load1']):.1f}", (xi, float(r["process_us"])),
                     textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    top.set_ylabel("µs of CPU per transaction")
    top.set_ylim(bottom=0)
    top.set_title("CPU per transaction against the state's size\n(median of blocks of "
                  f"{rows[0]['txs_per_block']} asset-ownership.create calls)", fontsize=10)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=8, loc="upper left")
    bottom.plot(x, [float(r["db_mib"]) / 1024 for r in rows], marker="o", color="tab:brown")
    bottom.set_ylabel("RocksDB on disk (GiB)")
    bottom.set_xlabel("state entries (tree leaves)")
    bottom.grid(True, alpha=0.3)
    # Symmetric log: a fresh chain (a few thousand entries) and ten million on one axis.
    bottom.set_xscale("symlog", linthresh=10_000)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
