#!/usr/bin/env bash
# Training speed: one epoch of the Keras blog net at 150x150 on the 2,800-image bench folder,
# end to end, ConvScope against PyTorch/torchvision (as a user writes it, NCHW, and tuned,
# channels_last). Prints the ratios measured in this one run, and GFLOP/s against the
# machine's matmul peak. Not a test: it never fails on timing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${CONVSCOPE_BUILD:-$root/build}"
data="${1:-$build/bench-data}"
source "$root/scripts/common.sh"
py="$CONVSCOPE_PYTHON"  # the PyTorch that ConvScope links

[ -d "$data/train" ] || "$py" "$here/make_bench_data.py" "$data"
cpp=$("$build/tests/bench/bench_training" "$data")
ref=$("$py" "$here/reference_training.py" "$data")
ref_cl=$("$py" "$here/reference_training.py" "$data" channels_last)
"$py" - "$cpp" "$ref" "$ref_cl" <<'PY'
import json, sys
c, r, rc = (json.loads(a) for a in sys.argv[1:4])
print(f"ConvScope      : {c['train_images_per_second']:7.1f} train img/s, epoch {c['epoch_seconds']:.1f} s, "
      f"end to end {c['end_to_end_seconds']:.1f} s")
print(f"PyTorch (NCHW) : {r['train_images_per_second']:7.1f} train img/s, end to end {r['end_to_end_seconds']:.1f} s")
print(f"PyTorch (CL)   : {rc['train_images_per_second']:7.1f} train img/s, end to end {rc['end_to_end_seconds']:.1f} s")
print(f"ratio vs reference (NCHW, as written by most users): {c['train_images_per_second'] / r['train_images_per_second']:.2f}x (target 3x)")
print(f"ratio vs tuned reference (channels_last)          : {c['train_images_per_second'] / rc['train_images_per_second']:.2f}x")
print(f"training step: {c['gflop_per_training_image']:.3f} GFLOP/image, {c['achieved_gflops']:.1f} GFLOP/s = "
      f"{100 * c['fraction_of_peak']:.0f}% of the measured matmul peak ({c['matmul_peak_gflops']:.0f} GFLOP/s)")
PY
