#!/usr/bin/env bash
# Data pipeline speed: import + decode + augment + batch of the 2,800-image bench folder,
# ConvScope (bench_pipeline) against torchvision (reference_pipeline.py, ImageFolder +
# RandomAffine + flip + DataLoader), every core on both sides, RUNS times (default 3),
# alternating. Prints the medians and spread of the ratios, not absolute times, as the
# headline. Not a test: it never fails on timing.
#
# usage: run_pipeline_bench.sh [DATA]   (default: $CONVSCOPE_BUILD/bench-data)
#   CONVSCOPE_BUILD       build folder (default: <repo>/build)
#   CONVSCOPE_BENCH_BIN   the bench_pipeline binary (default: $CONVSCOPE_BUILD/tests/bench/bench_pipeline)
#   RUNS (3), RESULTS (a JSON file to write, optional)
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
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq "${RUNS:-3}"); do
  "$bin" "$data" > "$out/convscope-$r.json"
  "$py" "$here/reference_pipeline.py" "$data" > "$out/torchvision-$r.json"
done
"$py" - "$out" "${RUNS:-3}" "${RESULTS:-}" <<'PY'
import json, os, statistics, sys, time
out, runs, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = [json.load(open(f"{out}/convscope-{r}.json")) for r in range(1, runs + 1)]
t = [json.load(open(f"{out}/torchvision-{r}.json")) for r in range(1, runs + 1)]
def med(rows, key):
    return statistics.median(row[key] for row in rows)
def ratio(key):
    ours, theirs = [row[key] for row in c], [row[key] for row in t]
    return {"median": statistics.median(ours) / statistics.median(theirs),
            "min": min(ours) / max(theirs), "max": max(ours) / min(theirs)}
first, second = ratio("epoch1_images_per_second"), ratio("epoch2_images_per_second")
print(f"{c[0]['images']} images, batch 32, 150x150, Keras blog augmentation, {c[0]['threads']} "
      f"threads for ConvScope, {t[0]['workers']} DataLoader workers for torchvision; "
      f"{runs} runs each (median, min-max)")
print(f"{'':24}{'epoch 1 img/s':>15}{'epoch 2 img/s':>15}")
print(f"{'ConvScope':24}{med(c, 'epoch1_images_per_second'):15.0f}{med(c, 'epoch2_images_per_second'):15.0f}")
print(f"{'torchvision':24}{med(t, 'epoch1_images_per_second'):15.0f}{med(t, 'epoch2_images_per_second'):15.0f}")
stages = {k: med(c, k) for k in ("scan_seconds", "decode_seconds", "augment_batch_seconds",
                                 "batch_only_seconds", "epoch1_seconds", "entropy_only_seconds",
                                 "decode_own_huffman_seconds", "decode_libjpeg_huffman_seconds")}
# libjpeg-turbo's entropy decoding of the same files on the same threads, alone, against
# PyTorch's whole first epoch: no pipeline that decodes with libjpeg-turbo's Huffman decoder
# can be faster. ConvScope decodes the Huffman codes itself (core/data/jpeghuffman).
ceiling = med(t, "epoch1_seconds") / stages["entropy_only_seconds"]
print(f"ConvScope stages: scan {stages['scan_seconds']:.2f} s, decode to 150x150 "
      f"{stages['decode_seconds']:.2f} s, augment + batch {stages['augment_batch_seconds']:.2f} s "
      f"(batch without augmentation {stages['batch_only_seconds']:.2f} s); torchvision epoch 1 "
      f"{med(t, 'epoch1_seconds'):.2f} s")
print(f"epoch 1, cold (scan + decode + augment + batch on both sides): {first['median']:.1f}x "
      f"({first['min']:.1f}-{first['max']:.1f}x)   (target: 5x)")
print(f"decode to 150x150 again, the Huffman codes decoded by ConvScope: "
      f"{stages['decode_own_huffman_seconds']:.2f} s, by libjpeg-turbo: "
      f"{stages['decode_libjpeg_huffman_seconds']:.2f} s (faster of two alternating passes each)")
print(f"libjpeg-turbo's entropy decoding alone of the same files, same threads: "
      f"{stages['entropy_only_seconds']:.2f} s, so no pipeline with its Huffman decoder can "
      f"pass {ceiling:.1f}x here")
print(f"epoch 2: {second['median']:.1f}x ({second['min']:.1f}-{second['max']:.1f}x), not equal work: "
      f"ConvScope reads its decoded images from memory, torchvision decodes every file again")
if results:
    import torch
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    json.dump({"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": os.cpu_count(),
               "torch": torch.__version__, "runs": runs, "ratio_first": first,
               "ratio_second": second, "convscope_stages": stages,
               "torchvision_epoch1_seconds": med(t, "epoch1_seconds"),
               "ceiling_entropy_only": ceiling,
               "convscope_epoch1_seconds": stages["epoch1_seconds"]}, open(results, "w"), indent=1)
PY
