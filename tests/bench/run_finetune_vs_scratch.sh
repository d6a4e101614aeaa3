#!/usr/bin/env bash
# Fine-tuning a pretrained network against training it from scratch, in the same wall time,
# over several seeds: MobileNetV2 (Keras flavour, GAP head) on a Fashion-MNIST set (Debian's
# dataset-fashion-mnist via `convscope demo-data`) at SIZE px.
#   fine-tuned: `convscope finetune --weights PRETRAINED --bottleneck`: HEAD_EPOCHS on cached
#               bottleneck features, then FINETUNE_EPOCHS of the last block + head (batch norm
#               kept in inference mode, with the pretrained statistics: Keras's recipe)
#   scratch:    `convscope train` from random weights, Adam 1e-3, stopped (as Ctrl-C does)
#               when the fine-tuned run's wall time is used up; its last finished epoch counts
# Both get --bn-momentum 0.9: a batch norm whose statistics are updated follows its batches at
# the same rate in both. (Keras's MobileNetV2 uses 0.999: with 16 updates per epoch, scratch's
# statistics would stay near their initial values and evaluation would use those.)
# Prints each seed's validation accuracies, then their mean and spread. Not a test.
# Usage: run_finetune_vs_scratch.sh [PRETRAINED_WEIGHTS]
#   (default: ../shared/data/nsfwjs-4.4.0/mobilenet_v2/model.json, the ImageNet MobileNetV2 of
#   npm nsfwjs 4.4.0)
#   SEEDS ("1 2 3"), SIZE (96), PER_CLASS (50), VAL_PER_CLASS (30: 300 validation images, one
#   image 0.33 points), HEAD_EPOCHS (30), FINETUNE_EPOCHS (3), THREADS (0 = all cores),
#   RESULTS (a JSON file to write, optional)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pretrained="${1:-$root/../shared/data/nsfwjs-4.4.0/mobilenet_v2/model.json}"
[ -f "$pretrained" ] || { echo "no pretrained weights at $pretrained" >&2; exit 2; }
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
for seed in ${SEEDS:-1 2 3}; do
  common=(--arch mobilenetv2 --flavour keras --head gap --size "$size" --batch 32 --seed "$seed"
          --threads "$threads" --bn-momentum 0.9 --horizontal-flip --json)
  t0=$(date +%s.%N)
  "$bin" finetune "$data" --out "$work/finetuned-$seed" --weights "$pretrained" --bottleneck \
    --head-epochs "$head_epochs" --finetune-epochs "$finetune_epochs" "${common[@]}" \
    > "$work/finetuned-$seed.json"
  t1=$(date +%s.%N)
  budget=$("$CONVSCOPE_PYTHON" -c "import sys; print(max(1, round(float(sys.argv[2]) - float(sys.argv[1]))))" "$t0" "$t1")
  # From scratch, for the same wall time: SIGINT stops after the current batch, as Ctrl-C does.
  timeout -s INT "$budget" "$bin" train "$data" --out "$work/scratch-$seed" --epochs 1000 \
    --optimizer adam --lr 0.001 "${common[@]}" > "$work/scratch-$seed.json" || true
  echo "$seed $budget" >> "$work/budgets"
  echo "seed $seed done (budget $budget s)" >&2
done

"$CONVSCOPE_PYTHON" - "$work" "$size" "$per_class" "$val_per_class" "$pretrained" "${RESULTS:-}" <<'PY'
import csv, json, os, statistics, sys
work, size, per_class, val_per_class, pretrained, results = sys.argv[1:7]
budgets = dict(line.split() for line in open(os.path.join(work, "budgets")))
def rows(run):
    path = os.path.join(work, run, "history.csv")
    return list(csv.DictReader(open(path))) if os.path.exists(path) else []
print(f"MobileNetV2 (Keras flavour, GAP head) at {size} px, Fashion-MNIST {per_class} training / "
      f"{val_per_class} validation images per class ({10 * int(val_per_class)} validation images), "
      f"--bn-momentum 0.9 on both; pretrained: {pretrained}")
table = []
for seed, budget in budgets.items():
    ft, sc = rows(f"finetuned-{seed}"), rows(f"scratch-{seed}")
    p1 = [r for r in ft if r["phase"] == "1"]
    f_acc = float(ft[-1]["val_accuracy"]) if ft else float("nan")
    s_acc = float(sc[-1]["val_accuracy"]) if sc else 0.1  # no epoch: chance
    table.append({"seed": int(seed), "budget_seconds": int(budget), "finetuned": f_acc,
                  "finetuned_phase1": float(p1[-1]["val_accuracy"]) if p1 else float("nan"),
                  "scratch": s_acc, "scratch_epochs": len(sc)})
    print(f"seed {seed}: budget {budget} s; fine-tuned {f_acc:.4f} (phase 1 ended at "
          f"{table[-1]['finetuned_phase1']:.4f}); scratch {s_acc:.4f} after {len(sc)} epochs")
def summary(key):
    v = [t[key] for t in table]
    return {"mean": statistics.mean(v), "min": min(v), "max": max(v),
            "stdev": statistics.stdev(v) if len(v) > 1 else 0.0}
f, s = summary("finetuned"), summary("scratch")
print(f"fine-tuned: mean {f['mean']:.4f} (min {f['min']:.4f}, max {f['max']:.4f}, sd {f['stdev']:.4f})")
print(f"scratch:    mean {s['mean']:.4f} (min {s['min']:.4f}, max {s['max']:.4f}, sd {s['stdev']:.4f})")
print(f"fine-tuned - scratch: {100 * (f['mean'] - s['mean']):.1f} points on the mean of {len(table)} seeds")
if results:
    json.dump({"size": int(size), "per_class": int(per_class), "val_per_class": int(val_per_class),
               "head_epochs": int(os.environ.get("HEAD_EPOCHS", 30)),
               "finetune_epochs": int(os.environ.get("FINETUNE_EPOCHS", 3)),
               "seeds": table, "finetuned": f, "scratch": s}, open(results, "w"), indent=1)
PY
