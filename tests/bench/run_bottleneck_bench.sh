#!/usr/bin/env bash
# Bottleneck features: seconds per head epoch on cached features against seconds per epoch of
# ordinary training with the same backbone frozen (a full forward pass over the same images
# every epoch), on Fashion-MNIST (Debian's dataset-fashion-mnist via `convscope demo-data`),
# resized to the backbone's input. Prints the ratio. Not a test: it never fails on timing.
# Usage: run_bottleneck_bench.sh [STARTING_WEIGHTS]
#   ARCH (mobilenetv2), SIZE (96), HEAD (gap), PER_CLASS (100), VAL_PER_CLASS (20),
#   FULL_EPOCHS (2), HEAD_EPOCHS (30), THREADS (0 = all cores)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/common.sh"
build="${CONVSCOPE_BUILD:-$root/build}"
bin="${CONVSCOPE_BENCH_BIN:-$build/app/convscope}"
arch="${ARCH:-mobilenetv2}"
size="${SIZE:-96}"
head="${HEAD:-gap}"
per_class="${PER_CLASS:-100}"
val_per_class="${VAL_PER_CLASS:-20}"
full_epochs="${FULL_EPOCHS:-2}"
head_epochs="${HEAD_EPOCHS:-30}"
threads="${THREADS:-0}"
weights=()
[ $# -ge 1 ] && weights=(--weights "$1")
data="$build/bench-fashion-mnist-$per_class-$val_per_class"
[ -d "$data/train" ] || "$bin" demo-data "$data" --per-class "$per_class" --val-per-class "$val_per_class" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--arch "$arch" --size "$size" --head "$head" --batch 32 --threads "$threads" --json "${weights[@]}")
case "$head:$arch" in
  flatten:*) backbone_end=flatten ;;
  gap:small | gap:vgg16) backbone_end=global_average_pooling2d ;;
  *) backbone_end=avgpool ;;
esac

"$bin" train "$data" --out "$work/full" --epochs "$full_epochs" --no-augment \
  --freeze-up-to "$backbone_end" "${common[@]}" > "$work/full.json"
"$bin" train "$data" --out "$work/bottleneck" --epochs "$head_epochs" --bottleneck \
  --no-augment "${common[@]}" > "$work/bottleneck.json"

"$CONVSCOPE_PYTHON" - "$work/full.json" "$work/bottleneck.json" "$arch" "$size" "$per_class" "$val_per_class" <<'PY'
import json, re, statistics, sys
def events(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")]
full, bn = events(sys.argv[1]), events(sys.argv[2])
arch, size, per_class, val_per_class = sys.argv[3:7]
full_epochs = [e["seconds"] for e in full if e["event"] == "epoch"]
head_epochs = [e["seconds"] for e in bn if e["event"] == "epoch"]
features = [e["text"] for e in bn if e["event"] == "message" and "Bottleneck features of" in e["text"]]
feature_seconds = float(re.search(r"in ([0-9.]+) s", features[0]).group(1)) if features else float("nan")
# Epoch 1 of the full run pays for warming up; the median of the rest is the steady cost.
full_s = statistics.median(full_epochs[1:] or full_epochs)
head_s = statistics.median(head_epochs)
final = [e for e in bn if e["event"] == "finished"][-1]
print(f"{arch} at {size} px, Fashion-MNIST {per_class}+{val_per_class} images per class (train+val)")
print(f"frozen-backbone epoch (full forward pass each epoch): {full_s:.3f} s  (epochs: {', '.join(f'{s:.2f}' for s in full_epochs)})")
print(f"bottleneck features, computed once               : {feature_seconds:.2f} s")
print(f"head epoch on cached features (median of {len(head_epochs)})  : {head_s:.4f} s")
print(f"ratio frozen-backbone training epoch / head epoch: {full_s / head_s:.0f}x")
print(f"ratio one forward pass over the same images (the feature pass) / head epoch: {feature_seconds / head_s:.0f}x")
print(f"bottleneck val_acc after {len(head_epochs)} head epochs: {final['val_accuracy']:.4f}")
PY
