"""End-to-end tests: run the real convscope binary as a user would."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

BINARY = None


def run(*args, check=True):
    proc = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr}")
    return proc


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "fashion")
        # A tiny synthetic IDX source, so the test does not depend on the Debian package.
        cls.source = os.path.join(cls.tmp.name, "idx")
        os.makedirs(cls.source)
        import gzip
        import struct
        for prefix in ("train", "t10k"):
            n = 40
            pixels = bytes((i * 7 + j) % 256 for i in range(n) for j in range(28 * 28))
            with gzip.open(os.path.join(cls.source, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
                f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + pixels)
            with gzip.open(os.path.join(cls.source, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as f:
                f.write(struct.pack(">BBBBI", 0, 0, 8, 1, n) + bytes(i % 10 for i in range(n)))
        run("demo-data", cls.data, "--per-class", "3", "--val-per-class", "1", "--source", cls.source)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_scan_json_lists_classes_counts_and_skipped_files(self):
        with open(os.path.join(self.data, "train", "bag", ".DS_Store"), "wb") as f:
            f.write(b"\0\0\0\1Bud1\0\0")
        try:
            out = run("scan", self.data, "--json").stdout
        finally:
            os.remove(os.path.join(self.data, "train", "bag", ".DS_Store"))
        report = json.loads(out)
        self.assertEqual(len(report["classes"]), 10)
        self.assertEqual(report["images"], 40)
        bag = next(c for c in report["classes"] if c["name"] == "bag")
        self.assertEqual((bag["train"], bag["validation"]), (3, 1))
        self.assertEqual(report["skipped"], [{"path": "train/bag/.DS_Store",
                                              "reason": "not an image (macOS .DS_Store folder metadata)"}])

    def test_scan_class_folder_layout_splits_by_fraction(self):
        out = run("scan", os.path.join(self.data, "train"), "--json", "--val-fraction", "0.34",
                  "--seed", "3").stdout
        report = json.loads(out)
        self.assertEqual(report["layout"], "class-folders")
        for c in report["classes"]:
            self.assertEqual((c["train"], c["validation"]), (2, 1))

    def test_scan_human_output_names_classes(self):
        out = run("scan", self.data).stdout
        self.assertIn("ankle-boot", out)
        self.assertIn("10 classes, 40 images (30 train, 10 validation)", out)

    def test_scan_missing_folder_fails_with_a_message(self):
        proc = run("scan", os.path.join(self.tmp.name, "nope"), check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("folder not found", proc.stderr)

    def test_scan_folder_without_images_fails(self):
        empty = os.path.join(self.tmp.name, "empty", "cats")
        os.makedirs(empty)
        proc = run("scan", os.path.dirname(empty), check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no class folder with an image", proc.stderr)

    def test_bad_arguments_exit_2(self):
        self.assertEqual(run("scan", self.data, "--frobnicate", check=False).returncode, 2)
        self.assertEqual(run("scan", check=False).returncode, 2)
        self.assertEqual(run("bogus", check=False).returncode, 2)
        self.assertEqual(run("scan", self.data, "--val-fraction", "x", check=False).returncode, 2)

    def test_augment_writes_keras_style_preview_names_reproducibly(self):
        out1 = os.path.join(self.tmp.name, "prev1")
        out2 = os.path.join(self.tmp.name, "prev2")
        args = ["--n", "4", "--class", "sneaker", "--rotation_range", "40", "--zoom-range", "0.2",
                "--horizontal-flip", "--fill-mode", "reflect", "--seed", "5"]
        run("augment", self.data, "--out", out1, *args)
        run("augment", self.data, "--out", out2, *args)
        names = sorted(os.listdir(out1))
        self.assertEqual(len(names), 4)
        for name in names:
            self.assertRegex(name, r"^sneaker_[0-3]_\d+\.jpeg$")
        self.assertEqual(names, sorted(os.listdir(out2)))
        for name in names:
            with open(os.path.join(out1, name), "rb") as a, open(os.path.join(out2, name), "rb") as b:
                self.assertEqual(a.read(), b.read())

    def test_augment_one_image_per_class_by_default(self):
        out = os.path.join(self.tmp.name, "prev_all")
        run("augment", self.data, "--out", out, "--n", "2")
        prefixes = {re.sub(r"_\d+_\d+\.jpeg$", "", n) for n in os.listdir(out)}
        self.assertEqual(len(prefixes), 10)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
