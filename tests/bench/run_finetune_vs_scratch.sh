#!/usr/bin/env bash
# Fine-tuning a pretrained network against training it from scratch, in the same wall-time
# budget: MobileNetV2 (GAP head) on a small Fashion-MNIST set (Debian's dataset-fashion-mnist
# via `convscope demo-data`, PER_CLASS training images per class) at SIZE px.
#   fine-tuned: `convscope finetune --weights PRETRAINED_WEIGHTS --bottleneck`, HEAD_EPOCHS on
#               cached bottleneck features, then FINETUNE_EPOCHS of the last block + head
#   scratch:    `convscope train` from random weights, Adam 1e-3, stopped (as Ctrl-C does)
#               when the fine-tuned run's wall time is used up; its last finished epoch counts
# Prints both validation accuracies and wall times. Not a test.
# Usage: run_finetune_vs_scratch.sh PRETRAINED_WEIGHTS
#   SIZE (96), PER_CLASS (50), VAL_PER_CLASS (30), HEAD_EPOCHS (30), FINETUNE_EPOCHS (3),
#   THREADS (0 = all cores), EXTRA_ARGS (added to both runs, e.g. "--flavour keras" so that
#   the scratch run builds the same network as a Keras backbone)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PRETRAINED_WEIGHTS" >&2; exit 2; }
pretrained="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/common.sh"
build="${CONVSCOPE_BUILD:-$root/build}"
bin="${CONVSCOPE_BENCH_BIN:-$build/app/convscope}"
size="${SIZE:-96}"
per_class="${PER_CLASS:-50}"
val_per_class="${VAL_PER_CLASS:-30}"
head_epochs="${HEAD_EPOCHS:-30}"
finetune_epochs="${FINETUNE_EPOCHS:-3}"
threads="${THREADS:-0}"
data="$build/bench-fashion-mnist-$per_class-$val_per_class"
[ -d "$data/train" ] || "$bin" demo-data "$data" --per-class "$per_class" --val-per-class "$val_per_class" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--arch mobilenetv2 --head gap --size "$size" --batch 32 --seed 1 --threads "$threads" --json)
read -r -a extra <<< "${EXTRA_ARGS:-}"
common+=("${extra[@]}")

t0=$(date +%s.%N)
"$bin" finetune "$data" --out "$work/finetuned" --weights "$pretrained" --bottleneck \
  --head-epochs "$head_epochs" --finetune-epochs "$finetune_epochs" --horizontal-flip \
  "${common[@]}" > "$work/finetuned.json"
t1=$(date +%s.%N)
budget=$("$CONVSCOPE_PYTHON" -c "import sys; print(max(1, round(float(sys.argv[2]) - float(sys.argv[1]))))" "$t0" "$t1")

# From scratch, for the same wall time: SIGINT stops after the current batch, as Ctrl-C does.
t2=$(date +%s.%N)
timeout -s INT "$budget" "$bin" train "$data" --out "$work/scratch" --epochs 1000 --optimizer adam \
  --lr 0.001 --horizontal-flip "${common[@]}" > "$work/scratch.json" || true
t3=$(date +%s.%N)

"$CONVSCOPE_PYTHON" - "$work" "$t0" "$t1" "$t2" "$t3" "$size" "$per_class" "$val_per_class" "$pretrained" <<'PY'
import csv, json, os, sys
work = sys.argv[1]
t0, t1, t2, t3 = map(float, sys.argv[2:6])
size, per_class, val_per_class, pretrained = sys.argv[6:10]
def rows(run):
    path = os.path.join(work, run, "history.csv")
    return list(csv.DictReader(open(path))) if os.path.exists(path) else []
ft, sc = rows("finetuned"), rows("scratch")
print(f"MobileNetV2 (GAP head) at {size} px, Fashion-MNIST {per_class} train / {val_per_class} validation images per class")
print(f"pretrained weights: {pretrained}")
if ft:
    p1 = [r for r in ft if r["phase"] == "1"]
    print(f"fine-tuned : val_acc {float(ft[-1]['val_accuracy']):.4f} after {len(p1)} head epochs (bottleneck) + "
          f"{len(ft) - len(p1)} fine-tuning epochs (phase 1 ended at {float(p1[-1]['val_accuracy']):.4f}); wall {t1 - t0:.0f} s")
else:
    print("fine-tuned : no finished epoch")
if sc:
    print(f"scratch    : val_acc {float(sc[-1]['val_accuracy']):.4f} after {len(sc)} epochs; wall {t3 - t2:.0f} s (budget {t1 - t0:.0f} s)")
else:
    print(f"scratch    : no epoch finished within the budget of {t1 - t0:.0f} s")
PY
