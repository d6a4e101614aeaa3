#!/usr/bin/env bash
# Runs the speed benchmarks that docs/benchmarks.md reports (W1 first and second run in fp32
# and bf16, the data pipeline alone, fine-tuned against scratch over three seeds unless
# FINETUNE=0), then writes that page and its chart from their results.
# Build first (Release): cmake --build build. Not a test: it never fails on timing.
#   CONVSCOPE_BUILD (build/), RUNS (3), PRECISIONS ("fp32 bf16"), DOCS (docs/),
#   PIPELINE_RUNS (7: the pipeline is the noisiest row and the cheapest, about 20 s a pair)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/common.sh"
build="${CONVSCOPE_BUILD:-$root/build}"
results="$build/bench-results"
mkdir -p "$results"
for tool in "$build/app/convscope" "$build/tests/bench/bench_pipeline"; do
  [ -x "$tool" ] || { echo "no $tool: build first (cmake --build $build)" >&2; exit 2; }
done
echo "== W1, one epoch end to end"
RESULTS="$results/w1.json" "$here/run_w1_epoch.sh"
echo "== the data pipeline alone"
RUNS="${PIPELINE_RUNS:-7}" RESULTS="$results/pipeline.json" "$here/run_pipeline_bench.sh"
if [ "${FINETUNE:-1}" = 1 ]; then
  for epochs in 3 20; do  # a short budget and a longer one
    echo "== fine-tuned ($epochs fine-tuning epochs) against from scratch, 3 seeds"
    FINETUNE_EPOCHS=$epochs RESULTS="$results/finetune-$epochs.json" \
      "$here/run_finetune_vs_scratch.sh"
  done
fi
"$CONVSCOPE_PYTHON" "$here/make_benchmarks_md.py" "$results" "${DOCS:-$root/docs}"
echo "wrote ${DOCS:-$root/docs}/benchmarks.md and images/benchmarks-w1.png"
