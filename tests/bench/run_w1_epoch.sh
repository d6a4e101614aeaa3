#!/usr/bin/env bash
# W1, end to end: one epoch of the Keras blog net at 150x150 (2,000 training + 800 validation
# JPEGs of 300-500 px, the blog's augmentation, RMSprop, batch 32) as a whole `convscope
# train` command against reference_w1_epoch.py doing the same work in PyTorch (the version
# ConvScope links), each timed from process start to exit, every core on both sides; a first
# run (ConvScope's decoded-image cache empty) and a second (ConvScope's cache warm; PyTorch
# decodes again, having no such cache). See w1_epoch.py. Not a test: it never fails on timing.
#   RUNS (3), PRECISIONS ("fp32 bf16"), RESULTS (a JSON file to write, optional)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/common.sh"
build="${CONVSCOPE_BUILD:-$root/build}"
data="${1:-$build/bench-data}"
py="$CONVSCOPE_PYTHON"
[ -d "$data/train" ] || "$py" "$here/make_bench_data.py" "$data"
args=(--runs "${RUNS:-3}" --precisions "${PRECISIONS:-fp32 bf16}")
[ -n "${RESULTS:-}" ] && args+=(--json "$RESULTS")
"$py" "$here/w1_epoch.py" "$build/app/convscope" "$here/reference_w1_epoch.py" "$data" "${args[@]}"
