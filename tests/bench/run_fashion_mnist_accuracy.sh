#!/usr/bin/env bash
# Accuracy on real data: the Keras blog net on Fashion-MNIST (Debian's dataset-fashion-mnist,
# exported by `convscope demo-data`), ConvScope in each precision of PRECISIONS against the
# same recipe in PyTorch (the PyTorch environment's interpreter: the version ConvScope links).
# Recipe: 32x32 input, Adam lr 1e-3, batch 64, no augmentation, EPOCHS epochs, 60,000 training
# and 10,000 validation images (the official test set). REFERENCE=0 skips PyTorch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/common.sh"
build="${CONVSCOPE_BUILD:-$root/build}"
py="$CONVSCOPE_PYTHON"
epochs="${EPOCHS:-5}"
seeds="${SEEDS:-1 2}"
precisions="${PRECISIONS:-fp32 bf16}"
data="$build/fashion-mnist-full"
bin="$build/app/convscope"

[ -d "$data/train" ] || "$bin" demo-data "$data" --per-class 6000 --val-per-class 1000
for seed in $seeds; do
  line="seed $seed:"
  for precision in $precisions; do
    run=$(mktemp -d)
    "$bin" train "$data" --out "$run/run" --arch small --size 32 --epochs "$epochs" --batch 64 \
      --optimizer adam --lr 0.001 --no-augment --seed "$seed" --device cpu \
      --precision "$precision" --json | tail -n 1 > "$run/last.json"
    ours=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['val_accuracy'])" "$run/last.json")
    line="$line ConvScope $precision val_acc $ours,"
    rm -rf "$run"
  done
  if [ "${REFERENCE:-1}" != 0 ]; then
    theirs=$("$py" "$here/reference_fashion_mnist.py" "$data" "$epochs" "$seed" |
             "$py" -c "import json,sys; print(json.load(sys.stdin)['val_accuracy'])")
    line="$line PyTorch $("$py" -c 'import torch; print(torch.__version__)') val_acc $theirs"
  fi
  echo "$line"
done
