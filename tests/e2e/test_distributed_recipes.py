"""Data-parallel bottleneck training and the two-phase fine-tuning recipe, end to end with the
real binary, against one process with the whole batch (the same seed and data order):

1. `train --bottleneck --nproc-per-node 2 --batch 4` against `train --bottleneck --batch 8`:
   the ranks run the frozen backbone over their own shards and gather the rows, so the
   feature file equals the one-process file, and the history and weights match within 1e-5.
2. `finetune --bottleneck --nproc-per-node 2 --batch 4` against `finetune --bottleneck
   --batch 8`: both phases in one group, phase 2 starting from rank 0's phase-1 weights; the
   recipe's history (phases marked) and weights match, and rank 0 alone wrote the folder.
3. Ctrl-C at a data-parallel recipe's launcher stops both ranks (exit 130, interrupted), and
   `finetune --resume` continues it with 2 processes to the planned epochs.
4. `convscope control RUN_DIR pause|continue|cancel` on a data-parallel recipe: both ranks
   pause (longer than --dist-timeout, the group intact; status.json and `runs --json` say
   paused), go on, and stop at the same step (exit 130); a run that is not training, and an
   unknown request, are refused.
5. `--nproc-per-node 1` trains in a group of one (what the GPU check runs over NCCL), with the
   weights of one process.
Exits 77, saying why, where the build has no data-parallel training.
Run with the PyTorch environment's python: test_distributed_recipes.py CONVSCOPE_BINARY"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import test_distributed as dist  # noqa: E402  (its data, runs and comparisons)

import h5py  # noqa: E402  (test_distributed has exited 77 when it is missing)
import numpy as np  # noqa: E402


def features(path):
    with h5py.File(path, "r") as f:
        return {split: (np.array(f[split][split]["features:0"]),
                        np.array(f[split][split]["labels:0"])) for split in ("train", "validation")}


def same_run(one, two, what):
    assert dist.same_history(dist.history(one), dist.history(two)), (dist.history(one),
                                                                     dist.history(two))
    diff = dist.largest_difference(dist.arrays(os.path.join(one, "weights.h5")),
                                   dist.arrays(os.path.join(two, "weights.h5")))
    print(f"{what}: 2 processes x batch 4 vs 1 process x batch 8: largest weight difference "
          f"{diff:.3g}; histories equal within 1e-5")
    assert diff <= 1e-5, diff


def bottleneck(work, data):
    one, two = os.path.join(work, "b1"), os.path.join(work, "b2")
    dist.run(["train", data, "--out", one, "--batch", "8", "--epochs", "3", "--bottleneck",
              *dist.COMMON])
    done, _ = dist.run(["train", data, "--out", two, "--batch", "4", "--epochs", "3",
                        "--bottleneck", "--nproc-per-node", "2", *dist.COMMON])
    said = done.stdout + done.stderr
    assert "Global batch 8 (2 processes x 4)" in said and "Computing bottleneck" in said, said
    a, b = features(os.path.join(one, "bottleneck-features.h5")), \
        features(os.path.join(two, "bottleneck-features.h5"))
    for split in a:
        assert a[split][0].shape == b[split][0].shape and a[split][0].shape[0] > 0, split
        assert np.array_equal(a[split][1], b[split][1]), split
        gap = float(np.abs(a[split][0] - b[split][0]).max())
        assert gap <= 1e-6, (split, gap)
    print(f"bottleneck features gathered from 2 ranks equal one process's "
          f"({a['train'][0].shape[0]} + {a['validation'][0].shape[0]} rows)")
    same_run(one, two, "train --bottleneck")
    # A second data-parallel run reuses the features rank 0 wrote, on every rank.
    again = os.path.join(work, "b3")
    done, _ = dist.run(["train", data, "--out", again, "--batch", "4", "--epochs", "3",
                        "--bottleneck", "--features-cache",
                        os.path.join(two, "bottleneck-features.h5"), "--nproc-per-node", "2",
                        *dist.COMMON])
    assert "Reusing the bottleneck features" in done.stdout + done.stderr, done.stdout
    same_run(one, again, "train --bottleneck from cached features")


RECIPE = ["--head-epochs", "2", "--finetune-epochs", "2", "--bottleneck"]


def recipe(work, data):
    one, two = os.path.join(work, "f1"), os.path.join(work, "f2")
    dist.run(["finetune", data, "--out", one, "--batch", "8", *RECIPE, *dist.COMMON])
    done, _ = dist.run(["finetune", data, "--out", two, "--batch", "4", *RECIPE,
                        "--nproc-per-node", "2", *dist.COMMON])
    said = done.stdout + done.stderr
    assert said.count("Global batch 8 (2 processes x 4)") == 2, said  # once per phase
    same_run(one, two, "finetune (both phases)")
    phases = [row[-1] for row in dist.history(two)]
    assert phases == [1, 1, 2, 2], phases
    for folder in (two, os.path.join(two, "head"), os.path.join(two, "finetune")):
        with open(os.path.join(folder, "status.json")) as f:
            assert json.load(f)["status"] == "finished", folder
    with open(os.path.join(two, "finetune", "config.json")) as f:
        assert '"world_size": 2' in f.read()


def interrupted_recipe(work, data):
    out = os.path.join(work, "fi")
    more = ["--batch", "2", "--head-epochs", "30", "--finetune-epochs", "2", *dist.COMMON]
    launcher = subprocess.Popen([dist.BINARY, "finetune", data, "--out", out, *more,
                                 "--nproc-per-node", "2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    dist.wait_for_checkpoint(os.path.join(out, "head"), launcher)
    launcher.send_signal(signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = launcher.communicate(timeout=60)
    took = time.monotonic() - started
    assert launcher.returncode == 130, (launcher.returncode, stdout, stderr)
    assert stderr.count("Cancelled after") == 1, stderr
    with open(os.path.join(out, "status.json")) as f:
        assert json.load(f)["status"] == "interrupted"
    print(f"Ctrl-C at a data-parallel recipe: both ranks stopped, exit 130 after {took:.1f} s")
    dist.run(["finetune", "--resume", out, "--nproc-per-node", "2"])
    epochs = dist.history(out)
    assert len(epochs) == 32 and [row[-1] for row in epochs[-2:]] == [2, 2], epochs
    with open(os.path.join(out, "status.json")) as f:
        assert json.load(f)["status"] == "finished"
    print("finetune --resume with 2 processes finished all 32 epochs")


def status_of(run_dir):
    try:
        with open(os.path.join(run_dir, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def controlled_recipe(work, data):
    """`convscope control` pauses, continues and cancels a data-parallel recipe."""
    out = os.path.join(work, "fc")
    launcher = subprocess.Popen([dist.BINARY, "finetune", data, "--out", out, "--batch", "2",
                                 "--head-epochs", "100000", "--finetune-epochs", "2",
                                 "--nproc-per-node", "2", "--dist-timeout", "3", *dist.COMMON],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: os.path.exists(os.path.join(out, "history.csv")), 120, "no epoch")
    dist.run(["control", out, "pause"])
    wait_until(lambda: status_of(out).get("paused"), 10, "not paused")
    paused_at = len(dist.history(out))
    time.sleep(4)  # longer than --dist-timeout: a paused group stays together
    assert len(dist.history(out)) == paused_at and launcher.poll() is None
    listed = json.loads(dist.run(["runs", work, "--json"])[0].stdout)
    assert [r["paused"] for r in listed if r["name"] == "fc"] == [True], listed
    dist.run(["control", out, "continue"])
    wait_until(lambda: len(dist.history(out)) > paused_at + 1, 30, "did not go on")
    assert not status_of(out).get("paused")
    dist.run(["control", out, "cancel"])
    stdout, stderr = launcher.communicate(timeout=30)
    assert launcher.returncode == 130, (launcher.returncode, stderr)
    assert "broke" not in stderr and "Paused" in stdout and "Continuing" in stdout, stdout
    assert status_of(out)["status"] == "interrupted"
    print(f"convscope control: a 2-process recipe paused at epoch {paused_at} for 4 s "
          f"(timeout 3 s), went on, and was cancelled (exit 130)")
    refused, _ = dist.run(["control", out, "pause"], check=False)
    assert refused.returncode == 1 and "is not training (interrupted)" in refused.stderr, refused
    wrong, _ = dist.run(["control", out, "fly"], check=False)
    assert wrong.returncode == 2, wrong


def group_of_one(work, data):
    """`--nproc-per-node 1` (torchrun's, with DDP) trains in a group of one: as one process."""
    plain, one = os.path.join(work, "plain"), os.path.join(work, "one")
    dist.run(["train", data, "--out", plain, "--batch", "8", "--epochs", "3", *dist.COMMON])
    done, _ = dist.run(["train", data, "--out", one, "--batch", "8", "--epochs", "3",
                        "--nproc-per-node", "1", *dist.COMMON])
    said = done.stdout + done.stderr
    assert "Data-parallel: rank 0 of 1" in said and "Global batch 8 (1 process x 8)" in said, said
    assert dist.same_history(dist.history(plain), dist.history(one))
    diff = dist.largest_difference(dist.arrays(os.path.join(plain, "weights.h5")),
                                   dist.arrays(os.path.join(one, "weights.h5")))
    print(f"a group of one (--nproc-per-node 1) against one process: weight difference {diff:.3g}")
    assert diff <= 1e-6, diff


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    dist.BINARY = os.path.abspath(sys.argv[1])
    probe = subprocess.run([dist.BINARY, "info", "--json"], capture_output=True, text=True)
    if '"data_parallel": false' in probe.stdout:
        print("SKIP: this build has no data-parallel training (built without Gloo's headers)")
        return 77
    with tempfile.TemporaryDirectory() as work:
        data = dist.make_data(os.path.join(work, "data"), 8)  # 18 training, 6 validation
        group_of_one(work, data)
        bottleneck(work, data)
        recipe(work, data)
        interrupted_recipe(work, data)
        controlled_recipe(work, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
