#!/usr/bin/env bash
# Accuracy on real data: the Keras blog net on Fashion-MNIST (Debian's dataset-fashion-mnist,
# exported by `convscope demo-data`), ConvScope against the same recipe in PyTorch.
# Recipe: 32x32 input, Adam lr 1e-3, batch 64, no augmentation, EPOCHS epochs, 60,000 training
# and 10,000 validation images (the official test set).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${CONVSCOPE_BUILD:-$root/build}"
epochs="${EPOCHS:-5}"
seeds="${SEEDS:-1 2}"
data="$build/fashion-mnist-full"
bin="$build/app/convscope"

[ -d "$data/train" ] || "$bin" demo-data "$data" --per-class 6000 --val-per-class 1000
for seed in $seeds; do
  run=$(mktemp -d)
  "$bin" train "$data" --out "$run/run" --arch small --size 32 --epochs "$epochs" --batch 64 \
    --optimizer adam --lr 0.001 --no-augment --seed "$seed" --json | tail -n 1 > "$run/last.json"
  ours=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['val_accuracy'])" "$run/last.json")
  theirs=$(/usr/bin/python3 "$here/reference_fashion_mnist.py" "$data" "$epochs" "$seed" |
           /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['val_accuracy'])")
  echo "seed $seed: ConvScope val_acc $ours, PyTorch val_acc $theirs"
  rm -rf "$run"
done
