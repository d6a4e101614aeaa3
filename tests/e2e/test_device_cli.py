"""End-to-end: devices and precision with the real binary, on a machine without a GPU.

`info --json` has the documented schema; `--device cuda` fails cleanly and writes nothing;
`--precision` and `--device` are recorded in config.json and survive a resume; weights stay
float32 whatever the precision; an out-of-memory error (injected, since CI has no GPU) stops
the run at its last checkpoint with a message that names the batch size and the largest
batch that fits, and `--resume --batch N` finishes the run. Run with the PyTorch
environment's python (numpy, h5py) and the path of convscope."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py

sys.path.insert(0, os.path.dirname(__file__))
from test_train_cli import write_png  # noqa: E402

BINARY = None


def history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return list(csv.DictReader(f))


def config(run_dir):
    with open(os.path.join(run_dir, "config.json")) as f:
        return json.load(f)


class DeviceCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        for i in range(40):
            write_png(os.path.join(cls.data, "red", f"{i}.png"), 20, 20, (150 + i, 20 + i % 40, 30))
            write_png(os.path.join(cls.data, "blue", f"{i}.png"), 20, 20, (30, 20 + i % 40, 150 + i))
        # 64 training images (80% of 80): 4 steps of 16 per epoch.
        cls.common = ["--size", "24", "--batch", "16", "--optimizer", "adam", "--seed", "5",
                      "--threads", "1", "--no-augment"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_cli(self, *args, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600,
                              env=full_env)

    def test_info_json_matches_the_schema(self):
        proc = self.run_cli("info", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        info = json.loads(proc.stdout)
        self.assertEqual(set(info), {"version", "libtorch", "cuda_compiled", "cuda_loaded",
                                     "cuda_status", "cuda_devices", "cpu", "precision_default",
                                     "data_parallel", "data_parallel_gpus"})
        # LibTorch's CUDA libraries are loaded only where there is a driver; a GPU means they are.
        self.assertIsInstance(info["cuda_loaded"], bool)
        self.assertIsInstance(info["cuda_status"], str)
        if info["cuda_loaded"]:
            self.assertTrue(info["cuda_compiled"], info)
            self.assertTrue(info["cuda_status"].startswith("loaded from /"), info)
        else:
            self.assertEqual(info["cuda_devices"], [], info)
            self.assertTrue(info["cuda_status"], info)
        off = json.loads(self.run_cli("info", "--json", env={"CONVSCOPE_CUDA": "off"}).stdout)
        self.assertFalse(off["cuda_loaded"], off)
        self.assertEqual(off["cuda_devices"], [], off)
        if info["cuda_compiled"]:
            self.assertEqual(off["cuda_status"], "CONVSCOPE_CUDA=off")
        self.assertIsInstance(info["data_parallel"], bool)
        self.assertIsInstance(info["data_parallel_gpus"], bool)
        # NCCL needs LibTorch's CUDA libraries; no build trains on GPUs without CPU processes.
        if info["data_parallel_gpus"]:
            self.assertTrue(info["data_parallel"] and info["cuda_compiled"], info)
        self.assertRegex(info["version"], r"^\d+\.\d+\.\d+$")
        self.assertRegex(info["libtorch"], r"^2\.\d+\.\d+")
        self.assertIsInstance(info["cuda_compiled"], bool)
        self.assertIsInstance(info["cuda_devices"], list)
        for d in info["cuda_devices"]:
            self.assertEqual(set(d), {"index", "name", "memory_bytes", "capability"})
        self.assertIsInstance(info["cpu"]["threads"], int)
        self.assertGreater(info["cpu"]["threads"], 0)
        self.assertIsInstance(info["cpu"]["bf16"], bool)
        self.assertIn(info["precision_default"]["cpu"], ("bf16", "fp32"))
        self.assertEqual(info["precision_default"]["cpu"] == "bf16", info["cpu"]["bf16"])
        self.assertIn(info["precision_default"]["cuda"], ("bf16", "fp16"))
        version = self.run_cli("--version")
        self.assertEqual(version.stdout.strip(), "convscope " + info["version"])
        # The same LibTorch as the Python peers of the tests and benches.
        import torch
        self.assertEqual(info["libtorch"], torch.__version__.split("+")[0])

    def test_cuda_without_a_gpu_fails_clearly_and_writes_nothing(self):
        info = json.loads(self.run_cli("info", "--json").stdout)
        if info["cuda_devices"]:
            self.skipTest("this machine has a GPU")
        for device in ("cuda", "cuda:1"):
            out = os.path.join(self.tmp.name, "no-gpu-" + device.replace(":", ""))
            proc = self.run_cli("train", self.data, "--out", out, *self.common, "--epochs", "1",
                                "--device", device)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn("no CUDA device is available", proc.stderr)
            self.assertFalse(os.path.exists(out), "a failed --device cuda left files behind")
        bad = self.run_cli("train", self.data, "--out", os.path.join(self.tmp.name, "x"),
                           "--device", "gpu")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("auto, cpu, cuda, cuda:N", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x")))
        bad = self.run_cli("train", self.data, "--out", os.path.join(self.tmp.name, "y"),
                           "--precision", "fp8")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("auto, fp32, bf16 or fp16", bad.stderr)

    def test_oom_stops_at_the_checkpoint_and_resume_with_the_probed_batch_finishes(self):
        run = os.path.join(self.tmp.name, "oom")
        # Epoch 1 (4 steps) runs; in epoch 2 any batch over 4 images is "out of memory".
        proc = self.run_cli("train", self.data, "--out", run, *self.common, "--epochs", "3",
                            "--device", "cpu", "--precision", "bf16",
                            env={"CONVSCOPE_FAULT_OOM_ROWS": "4",
                                 "CONVSCOPE_FAULT_OOM_AFTER_STEPS": "4"})
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("out of memory", proc.stderr)
        self.assertIn("at batch size 16", proc.stderr)
        self.assertIn("the largest batch that fits is 4", proc.stderr)
        self.assertIn(f"convscope train --resume {run} --batch 4", proc.stderr)
        self.assertEqual(len(history(run)), 1, "the last checkpoint is epoch 1's")
        self.assertTrue(os.path.exists(os.path.join(run, "checkpoint.pt")))
        self.assertFalse(os.path.exists(os.path.join(run, "weights.h5")))
        saved = config(run)
        self.assertEqual((saved["device"], saved["precision"]), ("cpu", "bf16"))
        self.assertEqual((saved["device_used"], saved["precision_used"]), ("cpu", "bf16"))

        resumed = self.run_cli("train", "--resume", run, "--batch", "4", "--json")
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        rows = history(run)
        self.assertEqual([r["epoch"] for r in rows], ["1", "2", "3"])
        saved = config(run)
        self.assertEqual(saved["batch_size"], 4)
        self.assertEqual((saved["device"], saved["precision"]), ("cpu", "bf16"))
        self.assertEqual(saved["precision_used"], "bf16")
        messages = [json.loads(line) for line in resumed.stdout.splitlines()]
        self.assertTrue(any("precision bf16" in m.get("text", "") for m in messages), messages[:5])
        with h5py.File(os.path.join(run, "weights.h5"), "r") as f:
            dtypes = set()
            f.visititems(lambda name, obj: dtypes.add(obj.dtype.name)
                         if isinstance(obj, h5py.Dataset) else None)
        self.assertEqual(dtypes, {"float32"})
        predict = self.run_cli("predict", os.path.join(run, "weights.h5"),
                               os.path.join(self.data, "red", "3.png"), "--json",
                               "--precision", "bf16")
        self.assertEqual(predict.returncode, 0, predict.stderr)

    def test_precision_fp32_and_fp16_train_and_are_recorded(self):
        for precision in ("fp32", "fp16"):
            run = os.path.join(self.tmp.name, "p-" + precision)
            proc = self.run_cli("train", self.data, "--out", run, *self.common, "--epochs", "2",
                                "--device", "cpu", "--precision", precision)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            saved = config(run)
            self.assertEqual((saved["precision"], saved["precision_used"]), (precision, precision))
            self.assertGreaterEqual(float(history(run)[-1]["val_accuracy"]), 0.9,
                                    history(run))

    def test_batch_auto_is_32_on_the_cpu(self):
        run = os.path.join(self.tmp.name, "auto-batch")
        proc = self.run_cli("train", self.data, "--out", run, "--size", "24", "--epochs", "1",
                            "--batch", "auto", "--device", "cpu", "--threads", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(config(run)["batch_size"], 32)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main()
