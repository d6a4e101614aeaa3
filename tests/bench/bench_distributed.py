"""Per step, the gradient allreduce of data-parallel training with 2 CPU processes: its time
and its share of the step, for the Keras blog net and ResNet-18.

Equal work on both sides: the same two processes, one core and one thread each, the same
per-process batch and images, run
  (a) as two independent single-process runs started together, and
  (b) as one data-parallel run of world size 2 (`--nproc-per-node 2`, Gloo, DDP's Reducer).
Both keep both cores busy with the same compute, so (b) - (a) per step is the time the
allreduce adds (what its overlap with backward does not hide). Each case runs REPEATS times;
the medians are printed, with the spread. A benchmark, not a test: it never fails on timing.

    python bench_distributed.py CONVSCOPE_BINARY [--repeats 3] [--images 256] [--size 64]"""
import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from pngfiles import write_png_rows  # noqa: E402


def make_data(root, images, size):
    rng = random.Random(3)
    for i in range(images):
        cls = i % 2
        rows = [bytes(rng.randrange(256) // 2 + (100 if cls else 0) for _ in range(size * 3))
                for _ in range(size)]
        write_png_rows(os.path.join(root, f"c{cls}", f"{i}.png"), size, size, rows)


VALIDATION = 0.02  # a few images, so that validation weighs nothing on either side


def step_seconds(run_dir, batch, train_images):
    """The second epoch's seconds per training step (the first warms up)."""
    with open(os.path.join(run_dir, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["seconds"]) / -(-train_images // batch)


def run_case(binary, data, work, arch, size, batch, images, distributed, tag):
    common = ["--arch", arch, "--head", "gap", "--size", str(size), "--epochs", "2",
              "--batch", str(batch), "--no-augment", "--device", "cpu", "--precision", "fp32",
              "--threads", "1", "--workers", "1", "--val-fraction", str(VALIDATION), "--seed", "1"]
    train = images - round(images * VALIDATION)
    if distributed:
        out = os.path.join(work, f"{tag}-dp")
        subprocess.run([binary, "train", data, "--out", out, "--nproc-per-node", "2", *common],
                       check=True, capture_output=True)
        # Each rank steps through half of the images.
        return step_seconds(out, batch, -(-train // 2))
    outs = [os.path.join(work, f"{tag}-solo{k}") for k in range(2)]
    procs = [subprocess.Popen([binary, "train", data, "--out", out, *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for out in outs]
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            raise SystemExit(err.decode())
    return statistics.mean(step_seconds(out, batch, train) for out in outs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    a = parser.parse_args()
    params = {"small": 0, "resnet18": 0}
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        make_data(data, a.images, a.size)
        print(f"{a.images} images of {a.size} px, batch {a.batch} per process, 2 processes x 1 "
              f"thread on {os.cpu_count()} cores; medians of {a.repeats} (min-max)")
        print(f"{'network':10} {'gradient':>10} {'step alone':>12} {'step in DP':>12} "
              f"{'allreduce':>11} {'share':>7}")
        for arch in params:
            summary = subprocess.run([a.binary, "summary", arch, "--head", "gap", "--size",
                                      str(a.size), "--json"], capture_output=True, text=True,
                                     check=True).stdout
            total = json.loads(summary)["parameters"]
            alone, together = [], []
            for r in range(a.repeats):
                alone.append(run_case(a.binary, data, work, arch, a.size, a.batch, a.images,
                                      False, f"{arch}{r}"))
                together.append(run_case(a.binary, data, work, arch, a.size, a.batch,
                                         a.images, True, f"{arch}{r}"))
            extra = [t - s for s, t in zip(alone, together)]
            m_alone, m_together = statistics.median(alone), statistics.median(together)
            m_extra = statistics.median(extra)
            print(f"{arch:10} {total * 4 / 2**20:8.1f} MB {m_alone * 1e3:9.1f} ms "
                  f"{m_together * 1e3:9.1f} ms {m_extra * 1e3:8.1f} ms {m_extra / m_together:6.0%}"
                  f"   (allreduce {min(extra) * 1e3:.1f}-{max(extra) * 1e3:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
