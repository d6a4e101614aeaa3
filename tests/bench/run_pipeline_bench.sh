#!/usr/bin/env bash
# Data pipeline speed: import + decode + augment + batch of the 2,800-image bench folder,
# ConvScope (bench_pipeline) against torchvision (reference_pipeline.py, ImageFolder +
# RandomAffine + flip + DataLoader with 2 workers), measured in this one run. Prints the
# ratios, not absolute times, as the headline. Not a test: it never fails on timing.
#
# usage: run_pipeline_bench.sh [DATA]   (default: $CONVSCOPE_BUILD/bench-data)
#   CONVSCOPE_BUILD       build folder (default: <repo>/build)
#   CONVSCOPE_BENCH_BIN   the bench_pipeline binary (default: $CONVSCOPE_BUILD/tests/bench/bench_pipeline)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${CONVSCOPE_BUILD:-$root/build}"
bin="${CONVSCOPE_BENCH_BIN:-$build/tests/bench/bench_pipeline}"
data="${1:-$build/bench-data}"
source "$root/scripts/common.sh"
py="$CONVSCOPE_PYTHON"  # the PyTorch that ConvScope links

[ -x "$bin" ] || { echo "no $bin: build it with 'ninja -C $build bench_pipeline'" >&2; exit 2; }
[ -d "$data/train" ] || "$py" "$here/make_bench_data.py" "$data"
cpp=$("$bin" "$data")
ref=$("$py" "$here/reference_pipeline.py" "$data")
"$py" - "$cpp" "$ref" <<'PY'
import json, sys
c, r = (json.loads(a) for a in sys.argv[1:3])
print(f"{c['images']} images, batch 32, 150x150, Keras blog augmentation, {c['threads']} threads")
print(f"{'':24}{'epoch 1 img/s':>15}{'epoch 2 img/s':>15}")
print(f"{'ConvScope':24}{c['epoch1_images_per_second']:15.0f}{c['epoch2_images_per_second']:15.0f}")
print(f"{'torchvision (2 workers)':24}{r['epoch1_images_per_second']:15.0f}{r['epoch2_images_per_second']:15.0f}")
print(f"ConvScope stages: scan {c['scan_seconds']:.2f} s, decode to 150x150 {c['decode_seconds']:.2f} s, "
      f"augment + batch {c['augment_batch_seconds']:.2f} s (batch without augmentation "
      f"{c['batch_only_seconds']:.2f} s)")
e1 = c['epoch1_images_per_second'] / r['epoch1_images_per_second']
e2 = c['epoch2_images_per_second'] / r['epoch2_images_per_second']
print(f"ConvScope / torchvision images per second: epoch 1 (cold: import+decode+augment+batch) "
      f"{e1:.1f}x, epoch 2 (warm) {e2:.1f}x   (target: 5x in epoch 1)")
PY
