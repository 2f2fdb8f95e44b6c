#!/usr/bin/env bash
# The README's first command: set up, build, run the quickstart sweep (12 short runs:
# SimMIM pre-training against random init, and the mask ratio) into a scratch database and
# print its regenerated table with its claim verdicts. Usage: scripts/quickstart.sh [DB]
# (default .cache/quickstart.sqlite, so the committed results/ stay as they are; run it
# again and the finished runs are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-.cache/quickstart.sqlite}"
scripts/setup.sh
swift build -c release --product mimlab
.build/release/mimlab sweep run experiments/quickstart.yaml --db "$db"
.build/release/mimlab tables experiments/quickstart.yaml --db "$db" --out .cache/quickstart
echo "table:  .cache/quickstart/tables/quickstart.md"
echo "figure: .cache/quickstart/figures/quickstart-top1-vs-avgdist.svg (linear-probe top-1 against AvgDist; committed copy: results/figures/quickstart-top1-vs-avgdist.svg)"
