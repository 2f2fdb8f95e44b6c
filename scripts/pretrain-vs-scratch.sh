#!/usr/bin/env bash
# Issue 3's check: the default SimMIM run vs the same fine-tuning and linear probe from a
# random initialisation (pretrain.epochs=0), 3 seeds each. Prints one line per run and a
# summary (mean ± std over seeds). Results stay in runs/<condition>-seed<k>/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/mimlab
[ -x "$bin" ] || swift build -c release --product mimlab
seeds=${SEEDS:-"0 1 2"}
for seed in $seeds; do
  for cond in simmim scratch; do
    out=runs/$cond-seed$seed
    if [ -f "$out/results.json" ]; then continue; fi   # resume: finished runs are kept
    extra=(); [ "$cond" = scratch ] && extra=(--set pretrain.epochs=0)
    start=$(date +%s)
    "$bin" run experiments/tiny-default.yaml --set seed=$seed "${extra[@]}" --out "$out" --json > /dev/null
    echo "$cond seed $seed: $(( $(date +%s) - start )) s"
  done
done
python3 - <<'PY'
import json, glob, statistics as st
rows = {}
for f in sorted(glob.glob("runs/*-seed*/results.json")):
    cond = f.split("/")[1].rsplit("-seed", 1)[0]
    if cond not in ("simmim", "scratch"): continue
    r = json.load(open(f))["results"]
    rows.setdefault(cond, []).append(r)
print("| init | n | fine-tune top-1 | linear-probe top-1 | pre-train s | fine-tune s |")
print("|---|---:|---:|---:|---:|---:|")
for cond in ("simmim", "scratch"):
    rs = rows.get(cond, [])
    if not rs: continue
    def ms(k):
        v = [r.get(k, 0.0) for r in rs]
        return f"{st.mean(v):.1f} ± {st.stdev(v) if len(v) > 1 else 0:.1f}"
    print(f"| {'SimMIM pre-trained' if cond == 'simmim' else 'random init'} | {len(rs)} | {ms('finetune.top1')} | {ms('linprobe.top1')} | {ms('pretrain.seconds')} | {ms('finetune.seconds')} |")
PY
