"""End-to-end: `convscope runs` over real run folders (finished, killed mid-epoch, a
fine-tuning recipe, a refused one and a damaged one): the JSON contract, the statuses and the
table."""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import unittest
from killedrun import train_and_kill
from pngfiles import write_png

BINARY = None
KEYS = {"path", "name", "status", "started", "duration_s", "data", "architecture", "epochs_done",
        "best_val_accuracy", "final_val_accuracy", "device", "note"}


class RunsCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        for i in range(40):
            write_png(os.path.join(cls.data, "red", f"{i}.png"), 24, 24, (150 + i, 20 + i % 40, 30))
            write_png(os.path.join(cls.data, "green", f"{i}.png"), 24, 24, (30, 150 + i, 20 + i % 40))
        cls.ws = os.path.join(cls.tmp.name, "workspace")
        common = ["--size", "32", "--batch", "4", "--threads", "1"]
        done = cls.run_cli("train", cls.data, "--out", os.path.join(cls.ws, "done"), "--epochs", "2", *common)
        assert done.returncode == 0, done.stderr

        # Killed with SIGKILL in its second epoch: nothing gets to say how it ended.
        cls.killed_pid = train_and_kill(BINARY, cls.data, os.path.join(cls.ws, "killed"),
                                        ["--epochs", "5", *common])

        weights = os.path.join(cls.ws, "done", "weights.h5")
        recipe = cls.run_cli("finetune", cls.data, "--out", os.path.join(cls.ws, "recipe"), "--weights",
                             weights, "--head-epochs", "1", "--finetune-epochs", "1", *common)
        assert recipe.returncode == 0, recipe.stderr

        refused = cls.run_cli("train", cls.data, "--out", os.path.join(cls.ws, "refused"), "--lr", "0", *common)
        assert refused.returncode != 0

        os.makedirs(os.path.join(cls.ws, "damaged"))
        with open(os.path.join(cls.ws, "damaged", "config.json"), "w") as f:
            f.write('{"data": ')
        os.makedirs(os.path.join(cls.ws, "notes"))  # not a run: no config.json, recipe or status

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def run_cli(*args):
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600)

    def listing(self):
        proc = self.run_cli("runs", self.ws, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        runs = json.loads(proc.stdout)
        return {os.path.basename(r["path"]): r for r in runs}

    def test_every_run_is_listed_with_the_contracts_fields(self):
        runs = self.listing()
        self.assertEqual(set(runs), {"done", "killed", "recipe", "damaged"})
        for name, run in runs.items():
            self.assertTrue(KEYS <= set(run), f"{name} lacks {KEYS - set(run)}")
            datetime.datetime.strptime(run["started"], "%Y-%m-%dT%H:%M:%SZ")
            self.assertEqual(run["path"], os.path.join(self.ws, name))

    def test_statuses_and_figures_follow_what_happened(self):
        runs = self.listing()
        done = runs["done"]
        self.assertEqual(done["status"], "finished")
        self.assertEqual(done["epochs_done"], 2)
        self.assertEqual(done["architecture"], "small")
        self.assertEqual(done["device"], "cpu")
        self.assertEqual(done["data"], self.data)
        self.assertGreaterEqual(done["best_val_accuracy"], done["final_val_accuracy"])
        self.assertGreaterEqual(done["duration_s"], 0)

        killed = runs["killed"]
        self.assertEqual(killed["status"], "interrupted")
        self.assertIn(str(self.killed_pid), killed["reason"])
        self.assertEqual(killed["epochs_done"], 1)

        recipe = runs["recipe"]
        self.assertEqual(recipe["status"], "finished")
        self.assertTrue(recipe["recipe"])
        self.assertEqual(recipe["epochs_done"], 2)

        damaged = runs["damaged"]
        self.assertEqual(damaged["status"], "damaged")
        self.assertIn("config.json", damaged["reason"])
        self.assertIsNone(damaged["best_val_accuracy"])

    def test_the_table_and_the_workspace_option(self):
        table = self.run_cli("runs", self.ws)
        self.assertEqual(table.returncode, 0, table.stderr)
        lines = table.stdout.splitlines()
        self.assertTrue(lines[0].startswith("name"))
        for name in ("done", "killed", "recipe", "damaged"):
            self.assertTrue(any(line.startswith(name + " ") for line in lines), name)
        same = self.run_cli("runs", "--workspace", self.ws, "--json")
        self.assertEqual(json.loads(same.stdout), json.loads(self.run_cli("runs", self.ws, "--json").stdout))
        missing = self.run_cli("runs", os.path.join(self.tmp.name, "nowhere"))
        self.assertEqual(missing.returncode, 1)
        self.assertIn("nowhere", missing.stderr)
        empty = os.path.join(self.tmp.name, "empty")
        os.makedirs(empty)
        self.assertEqual(json.loads(self.run_cli("runs", empty, "--json").stdout), [])


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
