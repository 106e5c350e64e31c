#!/usr/bin/env python3
"""Disk size against height, one line per run: scripts/plot-disk.py OUT.png TITLE RUN.csv...

Each CSV is what scripts/bench-disk.sh samples (seconds, height, bytes of data/); the line is named
after the file (…-archive.csv → archive). Needs matplotlib (pip install matplotlib).
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, title, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for path in runs:
        with open(path) as f:
            rows = [r for r in csv.DictReader(f) if r["height"].isdigit()]
        label = os.path.basename(path).rsplit(".", 1)[0].rsplit("-", 1)[-1]
        ax.plot([int(r["height"]) for r in rows], [int(r["bytes"]) / 2**20 for r in rows], label=label)
    ax.set_xlabel("height")
    ax.set_ylabel("data/ on disk (MiB)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
