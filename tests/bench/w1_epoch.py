"""W1 end to end: one epoch of the Keras blog net as a whole `convscope train` command against
reference_w1_epoch.py doing the same work with PyTorch and torchvision, each timed from process
start to exit, every core on both sides, in each precision asked for.

Per run and precision, four processes in a row:
  ConvScope first run   an empty decoded-image cache (CONVSCOPE_CACHE_DIR, a new folder): it
                        decodes every JPEG, and keeps them
  PyTorch first run     decodes every JPEG
  ConvScope second run  the same cache, now warm: no JPEG is decoded
  PyTorch second run    the same command again; PyTorch has no decoded cache, so it decodes
                        every JPEG again (the files are in the page cache for both sides)
ConvScope's own breakdown comes from its `finished` event (--json).

Usage: w1_epoch.py CONVSCOPE REFERENCE DATA [--runs 3] [--precisions "fp32 bf16"] [--json OUT]
Prints a table; --json writes every measurement. Not a test: it never fails on timing."""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BLOG = ["--arch", "small", "--size", "150", "--batch", "32", "--optimizer", "rmsprop", "--lr",
        "1e-4", "--epochs", "1", "--rotation-range", "40", "--width-shift-range", "0.2",
        "--height-shift-range", "0.2", "--shear-range", "20", "--zoom-range", "0.2",
        "--horizontal-flip", "--seed", "1", "--device", "cpu", "--json"]
STAGES = ["scan", "decode", "forward_backward", "optimizer", "batch_wait", "validation", "writes"]


def timed(cmd, env=None):
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout


def convscope(binary, data, precision, cache):
    out = tempfile.mkdtemp()
    try:
        seconds, stdout = timed([binary, "train", data, "--out", os.path.join(out, "run"),
                                 *BLOG, "--precision", precision],
                                env=dict(os.environ, CONVSCOPE_CACHE_DIR=cache))
    finally:
        shutil.rmtree(out)
    finished = [json.loads(line) for line in stdout.splitlines() if '"finished"' in line][-1]
    stages = dict(finished["seconds"])
    stages["startup"] = max(0.0, seconds - stages["total"])  # loading libraries, before run()
    return {"seconds": seconds, "val_accuracy": finished["val_accuracy"], "stages": stages}


def pytorch(reference, data, precision):
    seconds, stdout = timed([sys.executable, reference, data, precision])
    result = json.loads(stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "val_accuracy": result["val_accuracy"]}


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("reference")
    parser.add_argument("data")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--precisions", default="fp32 bf16")
    parser.add_argument("--json")
    a = parser.parse_args()
    precisions = a.precisions.split()
    sides = ["convscope_first", "pytorch_first", "convscope_second", "pytorch_second"]
    raw = {p: {s: [] for s in sides} for p in precisions}
    for r in range(a.runs):
        for p in precisions:
            cache = tempfile.mkdtemp(prefix="convscope-bench-cache-")
            try:
                for side in sides:
                    m = (convscope(a.binary, a.data, p, cache) if side.startswith("convscope")
                         else pytorch(a.reference, a.data, p))
                    raw[p][side].append(m)
                    print(f"run {r + 1} {p} {side:17} {m['seconds']:6.2f} s "
                          f"(val_acc {m['val_accuracy']:.3f})", flush=True)
            finally:
                shutil.rmtree(cache)

    import torch
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    report = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": os.cpu_count(),
              "torch": torch.__version__, "runs": a.runs, "precisions": {}}
    print(f"\n{report['date']}, {cpu}, {os.cpu_count()} cores, PyTorch {torch.__version__}, "
          f"{a.runs} runs each (median, min-max)")
    for p in precisions:
        entry = {side: spread([m["seconds"] for m in raw[p][side]]) for side in sides}
        for side in ("convscope_first", "convscope_second"):
            entry[side]["stages"] = {
                k: statistics.median(m["stages"][k] for m in raw[p][side])
                for k in STAGES + ["augment", "startup", "total"]}
            entry[side]["val_accuracy"] = [m["val_accuracy"] for m in raw[p][side]]
        for side in ("pytorch_first", "pytorch_second"):
            entry[side]["val_accuracy"] = [m["val_accuracy"] for m in raw[p][side]]
        for run, (ours, theirs) in {"first": ("convscope_first", "pytorch_first"),
                                    "second": ("convscope_second", "pytorch_second")}.items():
            c, t = entry[ours], entry[theirs]
            entry[f"ratio_{run}"] = {"median": t["median"] / c["median"],
                                     "min": t["min"] / c["max"], "max": t["max"] / c["min"]}
            print(f"{p} {run} run: ConvScope {c['median']:.2f} s ({c['min']:.2f}-{c['max']:.2f}), "
                  f"PyTorch {t['median']:.2f} s ({t['min']:.2f}-{t['max']:.2f}): "
                  f"{entry[f'ratio_{run}']['median']:.2f}x "
                  f"({entry[f'ratio_{run}']['min']:.2f}-{entry[f'ratio_{run}']['max']:.2f}x)")
        for side in ("convscope_first", "convscope_second"):
            st = entry[side]["stages"]
            print(f"  {side}: " + ", ".join(f"{k} {st[k]:.2f}" for k in
                                             ["startup"] + STAGES + ["augment"]) +
                  " s (augment on the loader's threads, beside training)")
        report["precisions"][p] = entry
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
