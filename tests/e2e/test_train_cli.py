"""End-to-end: train, kill -9 mid-epoch, resume, and compare with an uninterrupted run;
then evaluate, predict and summary on the result."""
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pngfiles import write_png

BINARY = None


def history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return list(csv.DictReader(f))


class TrainCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        for i in range(60):
            write_png(os.path.join(cls.data, "red", f"{i}.png"), 24, 24, (150 + i, 20 + i % 40, 30))
            write_png(os.path.join(cls.data, "green", f"{i}.png"), 24, 24, (30, 150 + i, 20 + i % 40))
        cls.common = ["--size", "32", "--epochs", "4", "--batch", "4", "--optimizer", "rmsprop",
                      "--lr", "0.001", "--seed", "11", "--threads", "1", "--horizontal-flip",
                      "--rotation-range", "15"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def train(self, *args):
        return subprocess.run([BINARY, "train", *args], capture_output=True, text=True, timeout=600)

    def test_kill_mid_epoch_then_resume_gives_the_same_curve(self):
        straight = os.path.join(self.tmp.name, "straight")
        proc = self.train(self.data, "--out", straight, *self.common, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        events = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertEqual(events[-1]["event"], "finished")
        self.assertIn("val_accuracy", events[-1])
        self.assertEqual(events[-1]["epochs"], 4)

        crashed = os.path.join(self.tmp.name, "crashed")
        child = subprocess.Popen([BINARY, "train", self.data, "--out", crashed, *self.common, "--json"],
                                 stdout=subprocess.PIPE, text=True)
        killed_in_epoch = None
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "batch" and event["epoch"] == 3 and event["batch"] == 5:
                os.kill(child.pid, signal.SIGKILL)
                killed_in_epoch = 3
                break
        child.wait()
        self.assertEqual(killed_in_epoch, 3, "training ended before it could be killed")
        self.assertEqual(child.returncode, -signal.SIGKILL)
        self.assertEqual(len(history(crashed)), 2)
        self.assertFalse(os.path.exists(os.path.join(crashed, "weights.h5")))
        self.assertEqual([f for f in os.listdir(crashed) if ".tmp" in f], [])

        proc = self.train("--resume", crashed, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        a, b = history(straight), history(crashed)
        self.assertEqual(len(a), len(b))
        for row_a, row_b in zip(a, b):
            for key in ("train_loss", "val_loss", "val_accuracy"):
                self.assertAlmostEqual(float(row_a[key]), float(row_b[key]), places=4,
                                       msg=f"epoch {row_a['epoch']} {key}")

        weights = os.path.join(crashed, "weights.h5")
        out = subprocess.run([BINARY, "evaluate", weights, self.data, "--json"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        evaluation = json.loads(out.stdout)
        self.assertGreaterEqual(evaluation["accuracy"], 0.9)
        self.assertEqual(len(evaluation["confusion"]), 2)

        red = os.path.join(self.data, "red", "7.png")
        out = subprocess.run([BINARY, "predict", weights, red, "--json"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        prediction = json.loads(out.stdout.splitlines()[0])
        self.assertEqual(prediction["path"], red)
        self.assertEqual(prediction["top"], "red")
        self.assertAlmostEqual(sum(prediction["probabilities"].values()), 1.0, places=4)

        table = os.path.join(self.tmp.name, "predictions.csv")
        out = subprocess.run([BINARY, "predict", weights, os.path.join(self.data, "green"), "--csv", table],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(table) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 60)
        self.assertGreaterEqual(sum(r["top"] == "green" for r in rows), 55)

        out = subprocess.run([BINARY, "summary", weights], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("conv2d_1", out.stdout)

    def test_ctrl_c_stops_after_the_batch_with_the_resume_hint(self):
        # The handler only wakes a watcher thread, which cancels: exit 130 with the resume hint.
        run = os.path.join(self.tmp.name, "interrupted")
        child = subprocess.Popen([BINARY, "train", self.data, "--out", run, *self.common, "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "batch" and event["epoch"] == 2:
                child.send_signal(signal.SIGINT)
                break
        out, err = child.communicate(timeout=120)
        self.assertEqual(child.returncode, 130, err)
        self.assertIn(f"convscope train --resume {run}", err)
        self.assertEqual(len(history(run)), 1)

    def test_bad_settings_fail_before_anything_is_written(self):
        cases = [
            (["--val-fraction", "nan"], "not a finite number"),
            (["--lr", "inf"], "not a finite number"),
            (["--lr", "0"], "learning rate"),
            (["--momentum", "1.5", "--optimizer", "sgd"], "momentum"),
            (["--size", "12"], "input too small"),
            (["--freeze-up-to", "no_such_layer"], "no_such_layer"),
        ]
        for i, (extra, message) in enumerate(cases):
            out = os.path.join(self.tmp.name, f"bad-{i}")
            args = ["--size", "32", "--epochs", "1", "--threads", "1"] + extra
            proc = self.train(self.data, "--out", out, *args)
            self.assertIn(proc.returncode, (1, 2), extra)
            self.assertIn(message, proc.stderr, extra)
            self.assertFalse(os.path.exists(out), f"{extra} left {out} behind")
        scan = subprocess.run([BINARY, "scan", self.data, "--val-fraction", "nan"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(scan.returncode, 2, scan.stderr)
        self.assertIn("not a finite number", scan.stderr)

    def test_a_diverging_loss_stops_the_run_and_says_why(self):
        run = os.path.join(self.tmp.name, "diverged")
        proc = self.train(self.data, "--out", run, "--size", "32", "--epochs", "3", "--batch", "8",
                          "--optimizer", "sgd", "--lr", "1e12", "--threads", "1", "--no-augment")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertRegex(proc.stderr, r"the loss became (NaN|infinite) in epoch 1")
        self.assertIn("smaller learning rate", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(run, "weights.h5")))

    def test_resume_uses_its_own_folder_and_refuses_changed_classes(self):
        import shutil
        work = os.path.join(self.tmp.name, "cwd-a")
        data = os.path.join(work, "data")
        shutil.copytree(self.data, data)
        # Started with relative paths from one folder...
        child = subprocess.Popen([BINARY, "train", "data", "--out", "runs/r", "--size", "32",
                                  "--epochs", "3", "--batch", "4", "--threads", "1", "--json"],
                                 cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in child.stdout:
            if json.loads(line)["event"] == "checkpoint":
                child.send_signal(signal.SIGINT)
                break
        child.communicate(timeout=120)
        run = os.path.join(work, "runs", "r")
        with open(os.path.join(run, "config.json")) as f:
            saved = json.load(f)
        self.assertEqual(saved["run_dir"], run)
        self.assertEqual(saved["data"], data)
        # ...the run folder moved, resumed from another folder: it trains in itself.
        moved = os.path.join(self.tmp.name, "moved-run")
        shutil.move(run, moved)
        elsewhere = os.path.join(self.tmp.name, "cwd-b")
        os.makedirs(os.path.join(elsewhere, "runs", "r"))  # a decoy at the old relative path

        # A class folder added, then one swapped for another: refused with both lists, and
        # nothing in the run folder changes.
        os.makedirs(os.path.join(data, "blue"))
        write_png(os.path.join(data, "blue", "0.png"), 24, 24, (10, 10, 200))
        write_png(os.path.join(data, "blue", "1.png"), 24, 24, (12, 10, 220))
        before = {f: os.path.getmtime(os.path.join(moved, f)) for f in os.listdir(moved)}
        away = os.path.join(self.tmp.name, "green-away")
        for change in ("added", "swapped"):
            if change == "swapped":
                shutil.move(os.path.join(data, "green"), away)
            proc = subprocess.run([BINARY, "train", "--resume", moved], cwd=elsewhere,
                                  capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn("its classes changed since this run started", proc.stderr, change)
            self.assertIn("then: green, red", proc.stderr, change)
            self.assertEqual({f: os.path.getmtime(os.path.join(moved, f)) for f in os.listdir(moved)},
                             before, change)
        shutil.rmtree(os.path.join(data, "blue"))
        shutil.move(away, os.path.join(data, "green"))

        proc = subprocess.run([BINARY, "train", "--resume", moved], cwd=elsewhere,
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(history(moved)), 3)
        self.assertTrue(os.path.exists(os.path.join(moved, "weights.h5")))
        self.assertEqual(os.listdir(os.path.join(elsewhere, "runs", "r")), [])

    def test_rescale_reaches_the_run_and_the_weights(self):
        run = os.path.join(self.tmp.name, "rescaled")
        proc = self.train(self.data, "--out", run, "--size", "32", "--epochs", "1", "--batch", "8",
                          "--threads", "1", "--rescale", "0.5")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(run, "config.json")) as f:
            self.assertEqual(json.load(f)["preprocessing"]["rescale"], 0.5)
        import h5py
        with h5py.File(os.path.join(run, "weights.h5"), "r") as h5:
            model = json.loads(h5.attrs["convscope_model"])
        self.assertEqual(model["preprocessing"]["rescale"], 0.5)
        proc = self.train(self.data, "--out", os.path.join(self.tmp.name, "zero"), "--rescale", "0")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--rescale", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "zero")))

    def test_without_out_a_run_goes_into_the_default_workspace(self):
        data_home = os.path.join(self.tmp.name, "data-home")
        proc = subprocess.run([BINARY, "train", self.data, "--epochs", "1", *self.common],
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, "XDG_DATA_HOME": data_home})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        workspace = os.path.join(data_home, "convscope", "runs")
        self.assertIn("Run folder: " + workspace + "/", proc.stderr)
        runs = os.listdir(workspace)
        self.assertEqual(len(runs), 1)
        self.assertTrue(os.path.exists(os.path.join(workspace, runs[0], "weights.h5")))

    def test_bad_arguments_are_clear_errors(self):
        proc = self.train(self.data, "--out", os.path.join(self.tmp.name, "y"), "--workspace",
                          self.tmp.name)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--out", proc.stderr)
        proc = self.train(self.data, "--out", os.path.join(self.tmp.name, "x"), "--arch", "alexnet")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("unknown 'alexnet'", proc.stderr)
        proc = self.train("--resume", os.path.join(self.tmp.name, "nothing-here"))
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("not a ConvScope run directory", proc.stderr)
        bad = os.path.join(self.tmp.name, "bad.h5")
        with open(bad, "w") as f:
            f.write("not hdf5")
        proc = subprocess.run([BINARY, "predict", bad, os.path.join(self.data, "red", "1.png")],
                              capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("bad.h5", proc.stderr)

    def test_class_names_that_are_not_utf8_are_carried_escaped(self):
        # A Latin-1 folder name failed after epoch 1 and on every resume with a JSON type
        # error, and predict --json stopped partway.
        data = os.path.join(self.tmp.name, "latin1").encode()
        latin = os.path.join(data, b"caf\xe9")
        for i in range(8):
            write_png(os.path.join(latin, f"{i}.png".encode()).decode("utf-8", "surrogateescape"),
                      24, 24, (200, 30 + i, 30))
            write_png(os.path.join(data.decode(), "blue", f"{i}.png"), 24, 24, (20, 30, 200 - i))
        run = os.path.join(self.tmp.name, "latin1-run")
        proc = subprocess.run([BINARY, "train", data, "--out", run, "--size", "32", "--epochs", "2",
                               "--batch", "4"], capture_output=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(run, "import-report.json")) as f:
            names = [c["name"] for c in json.load(f)["classes"]]
        self.assertEqual(names, ["blue", "caf\\xE9"])
        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
        config["epochs"] = 3
        with open(os.path.join(run, "config.json"), "w") as f:
            json.dump(config, f)
        proc = subprocess.run([BINARY, "train", "--resume", run], capture_output=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(history(run)), 3)

        image = os.path.join(latin, b"0.png")
        out_csv = os.path.join(self.tmp.name, "latin1.csv")
        proc = subprocess.run([BINARY, "predict", os.path.join(run, "weights.h5").encode(), image,
                               os.path.join(data, b"blue", b"1.png"), "--json", "--csv", out_csv],
                              capture_output=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0]["path"].endswith("caf\\xE9/0.png"), lines[0]["path"])
        self.assertEqual(sorted(lines[0]["probabilities"]), ["blue", "caf\\xE9"])
        with open(out_csv, encoding="utf-8") as f:
            rows = f.read().splitlines()
        self.assertEqual(len(rows), 3)
        self.assertIn("caf\\xE9/0.png", rows[1])

    def test_predict_refuses_another_size_for_weights_that_keep_theirs(self):
        run = os.path.join(self.tmp.name, "sized")
        proc = self.train(self.data, "--out", run, "--size", "32", "--epochs", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        image = os.path.join(self.data, "red", "1.png")
        weights = os.path.join(run, "weights.h5")
        proc = subprocess.run([BINARY, "predict", weights, image, "--size", "48"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("was trained at 32 px and keeps that size (--size 48 cannot apply)",
                      proc.stderr)
        proc = subprocess.run([BINARY, "predict", weights, image, "--size", "32"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_damaged_weights_give_one_line_each(self):
        # Damaged HDF5 files printed "HDF5: infinite loop closing library" and a long line of
        # codes at exit, or a layer name's raw bytes.
        import random
        run = os.path.join(self.tmp.name, "to-damage")
        proc = self.train(self.data, "--out", run, "--size", "32", "--epochs", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(run, "weights.h5"), "rb") as f:
            good = f.read()
        image = os.path.join(self.data, "red", "1.png")
        damaged = os.path.join(self.tmp.name, "damaged.h5")
        for seed in range(12):
            rng = random.Random(seed)
            data = bytearray(good)
            for _ in range(30):
                data[rng.randrange(0, 4000)] ^= rng.randrange(1, 256)
            with open(damaged, "wb") as f:
                f.write(data)
            proc = subprocess.run([BINARY, "predict", damaged, image], capture_output=True)
            err = proc.stderr.decode("utf-8")  # valid UTF-8, whatever the file held
            self.assertIn(proc.returncode, (0, 1), err)
            if proc.returncode == 1:
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn("damaged.h5", err)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
