#!/usr/bin/env bash
# W1, end to end: one epoch of the Keras blog net at 150x150 (2,000 training + 800 validation
# JPEGs of 300-500 px, the blog's augmentation, RMSprop, batch 32) as a whole `convscope
# train` command against reference_w1_epoch.py doing the same work in PyTorch (the version
# ConvScope links), each timed from process start to exit, in fp32 and in bf16, every core on
# both sides. Runs each RUNS times (default 3), alternating, and prints medians, spread and the
# ratios. Not a test: it never fails on timing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/common.sh"
build="${CONVSCOPE_BUILD:-$root/build}"
data="${1:-$build/bench-data}"
py="$CONVSCOPE_PYTHON"
[ -d "$data/train" ] || "$py" "$here/make_bench_data.py" "$data"
"$py" - "$build/app/convscope" "$here/reference_w1_epoch.py" "$data" "${RUNS:-3}" \
  "${PRECISIONS:-fp32 bf16}" <<'PY'
import json, os, platform, shutil, statistics, subprocess, sys, tempfile, time
binary, reference, data, runs, precisions = sys.argv[1:6]
runs, precisions = int(runs), precisions.split()
blog = ["--arch", "small", "--size", "150", "--batch", "32", "--optimizer", "rmsprop", "--lr", "1e-4",
        "--epochs", "1", "--rotation-range", "40", "--width-shift-range", "0.2",
        "--height-shift-range", "0.2", "--shear-range", "20", "--zoom-range", "0.2",
        "--horizontal-flip", "--seed", "1", "--device", "cpu", "--json"]

def timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {p.stderr[-2000:]}")
    return time.perf_counter() - t, p.stdout

def ours(precision):
    out = tempfile.mkdtemp()
    try:
        seconds, stdout = timed([binary, "train", data, "--out", os.path.join(out, "run"), *blog,
                                 "--precision", precision])
    finally:
        shutil.rmtree(out)
    finished = [json.loads(l) for l in stdout.splitlines() if '"finished"' in l][-1]
    return seconds, finished["val_accuracy"]

def theirs(precision):
    seconds, stdout = timed([sys.executable, reference, data, precision])
    return seconds, json.loads(stdout.strip().splitlines()[-1])["val_accuracy"]

times = {(side, p): [] for side in ("convscope", "pytorch") for p in precisions}
accuracy = {}
for r in range(runs):
    for p in precisions:
        for side, fn in (("convscope", ours), ("pytorch", theirs)):
            s, acc = fn(p)
            times[(side, p)].append(s)
            accuracy[(side, p)] = acc
            print(f"run {r + 1} {side:9} {p}: {s:6.1f} s (val_acc {acc:.3f})", flush=True)
import torch
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"\n{time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores, PyTorch {torch.__version__}, {runs} runs each")
med = {k: statistics.median(v) for k, v in times.items()}
for p in precisions:
    c, t = times[("convscope", p)], times[("pytorch", p)]
    print(f"{p}: ConvScope median {med[('convscope', p)]:.1f} s (spread {min(c):.1f}-{max(c):.1f}), "
          f"PyTorch median {med[('pytorch', p)]:.1f} s (spread {min(t):.1f}-{max(t):.1f}): "
          f"ratio {med[('pytorch', p)] / med[('convscope', p)]:.2f}x "
          f"(per-run range {min(t) / max(c):.2f}-{max(t) / min(c):.2f}x)")
if "fp32" in precisions and "bf16" in precisions:
    print(f"bf16 over fp32: ConvScope {med[('convscope', 'fp32')] / med[('convscope', 'bf16')]:.2f}x, "
          f"PyTorch {med[('pytorch', 'fp32')] / med[('pytorch', 'bf16')]:.2f}x")
PY
