"""End-to-end: `train --bottleneck` (features cached and reused, augmentation off and said so)
and `finetune` (two phases in one run folder, cancel and resume)."""
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pngfiles import write_png_rows

BINARY = None


def write_png(path, width, height, rgb):
    """A solid-colour RGB PNG with a white square."""
    rows = []
    for y in range(height):
        row = bytearray(bytes(rgb) * width)
        if 3 <= y < 9:
            row[9:27] = b"\xff" * 18
        rows.append(bytes(row))
    write_png_rows(path, width, height, rows)


def history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return list(csv.DictReader(f))


def events(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


class FineTuneCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        for i in range(30):
            write_png(os.path.join(cls.data, "red", f"{i}.png"), 24, 24, (150 + i, 20 + i % 40, 30))
            write_png(os.path.join(cls.data, "green", f"{i}.png"), 24, 24, (30, 150 + i, 20 + i % 40))
        cls.common = ["--size", "32", "--batch", "8", "--seed", "5", "--threads", "1"]
        start = os.path.join(cls.tmp.name, "start")
        proc = subprocess.run([BINARY, "train", cls.data, "--out", start, "--epochs", "1", *cls.common],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        cls.weights = os.path.join(start, "weights.h5")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_cli(self, *args):
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600)

    def test_bottleneck_caches_features_and_says_augmentation_is_off(self):
        cache = os.path.join(self.tmp.name, "features.h5")
        first = os.path.join(self.tmp.name, "bn1")
        proc = self.run_cli("train", self.data, "--out", first, "--bottleneck", "--features-cache", cache,
                            "--weights", self.weights, "--epochs", "20", "--horizontal-flip", *self.common)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("bottleneck features are computed once, so augmentation cannot apply", proc.stdout)
        self.assertIn("Computing bottleneck features", proc.stdout)
        self.assertTrue(os.path.exists(cache))
        rows = history(first)
        self.assertEqual(len(rows), 20)
        self.assertGreaterEqual(float(rows[-1]["val_accuracy"]), 0.9)
        self.assertTrue(os.path.exists(os.path.join(first, "weights.h5")))

        second = os.path.join(self.tmp.name, "bn2")
        proc = self.run_cli("train", self.data, "--out", second, "--bottleneck", "--features-cache", cache,
                            "--weights", self.weights, "--epochs", "20", "--json", *self.common)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        found = events(proc.stdout)
        self.assertFalse([e for e in found if e["event"] == "features"], "features were computed again")
        self.assertTrue(any("Reusing the bottleneck features" in e.get("text", "") for e in found))
        self.assertEqual(history(first)[-1]["train_loss"], history(second)[-1]["train_loss"])

        # The whole model (backbone + trained head) classifies images from pixels.
        proc = self.run_cli("evaluate", os.path.join(second, "weights.h5"), self.data, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertGreaterEqual(json.loads(proc.stdout)["accuracy"], 0.9)

    def test_finetune_runs_both_phases_and_resumes_after_a_cancel(self):
        run = os.path.join(self.tmp.name, "recipe")
        child = subprocess.Popen([BINARY, "finetune", self.data, "--out", run, "--weights", self.weights,
                                  "--bottleneck", "--head-epochs", "3", "--finetune-epochs", "3",
                                  "--json", *self.common], stdout=subprocess.PIPE, text=True)
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "batch" and event["epoch"] == 5 and event["batch"] == 2:
                child.send_signal(signal.SIGINT)  # as Ctrl-C: stop after this batch
                break
        child.stdout.read()
        child.stdout.close()
        child.wait()
        self.assertEqual(child.returncode, 130)
        self.assertFalse(os.path.exists(os.path.join(run, "weights.h5")))

        proc = self.run_cli("finetune", "--resume", run, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rows = history(run)
        self.assertEqual([r["phase"] for r in rows], ["1", "1", "1", "2", "2", "2"])
        self.assertEqual([int(r["epoch"]) for r in rows], [1, 2, 3, 4, 5, 6])
        self.assertTrue(all(float(r["learning_rate"]) == 1e-4 for r in rows[3:]))
        with open(os.path.join(run, "finetune", "config.json")) as f:
            phase2 = json.load(f)
        self.assertEqual((phase2["optimizer"], phase2["learning_rate"], phase2["momentum"]), ("sgd", 1e-4, 0.9))
        self.assertEqual(phase2["freeze_up_to"], "max_pooling2d_1")
        self.assertTrue(os.path.exists(os.path.join(run, "weights.h5")))
        last = events(proc.stdout)[-1]
        self.assertEqual(last["event"], "finished")
        self.assertEqual(last["epochs"], 6)

    def test_bad_finetune_arguments_are_clear_errors(self):
        proc = self.run_cli("finetune", self.data, "--out", os.path.join(self.tmp.name, "x"), "--epochs", "3")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--head-epochs", proc.stderr)
        proc = self.run_cli("finetune", "--resume", os.path.join(self.tmp.name, "nothing"))
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no recipe.json", proc.stderr)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
