"""End-to-end tests of filters, featuremaps and cam: the real binary on a model it trained."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

BINARY = None


def run(*args, check=True):
    proc = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr}")
    return proc


def scene(rng, cls, w, h):
    """A bright square (class 0) or disc (class 1) on grey noise; returns image and box."""
    img = rng.integers(40, 110, size=(h, w, 3), dtype=np.uint8)
    side = int(rng.integers(min(w, h) // 4, min(w, h) // 3))
    x0, y0 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
    yy, xx = np.mgrid[0:h, 0:w]
    if cls == 0:
        mask = (xx >= x0) & (xx < x0 + side) & (yy >= y0) & (yy < y0 + side)
    else:
        r = side / 2
        mask = (xx - x0 - r + 0.5) ** 2 + (yy - y0 - r + 0.5) ** 2 <= r * r
    img[mask] = (230, 210, 60)
    return Image.fromarray(img), (x0, y0, x0 + side - 1, y0 + side - 1)


class InspectCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = cls.tmp.name
        rng = np.random.default_rng(3)
        for cls_index, name in enumerate(["square", "disc"]):
            os.makedirs(os.path.join(root, "data", name))
            for i in range(60):
                scene(rng, cls_index, 48, 48)[0].save(os.path.join(root, "data", name, f"{i}.png"))
        cls.gap = os.path.join(root, "gap")
        cls.flat = os.path.join(root, "flat")
        for run_dir, head in ((cls.gap, "gap"), (cls.flat, "flatten")):
            run("train", os.path.join(root, "data"), "--out", run_dir, "--arch", "small",
                "--head", head, "--size", "48", "--epochs", "4", "--batch", "16", "--no-augment",
                "--seed", "2")
        # A wide image, so pixel coordinates can only be right if the map is scaled per axis.
        image, cls.box = scene(np.random.default_rng(99), 0, 120, 80)
        cls.image = os.path.join(root, "wide.png")
        image.save(cls.image)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def weights(self, run_dir):
        return os.path.join(run_dir, "weights.h5")

    def test_cam_json_gives_class_peak_and_box_in_image_pixels(self):
        out = os.path.join(self.tmp.name, "cam.png")
        result = json.loads(run("cam", self.weights(self.gap), self.image, "--out", out,
                                "--json").stdout)
        self.assertEqual(result["class"], "square")
        x, y = result["peak"]
        x0, y0, x1, y1 = result["box"]
        self.assertTrue(0 <= x0 <= x1 < 120 and 0 <= y0 <= y1 < 80, result)
        self.assertTrue(x0 <= x <= x1 and y0 <= y <= y1, result)
        with Image.open(out) as overlay:
            self.assertEqual(overlay.size, (120, 80))

    def test_cam_for_a_chosen_class_and_gradcam(self):
        chosen = json.loads(run("cam", self.weights(self.gap), self.image, "--class", "disc",
                                "--json").stdout)
        self.assertEqual(chosen["class"], "disc")
        grad = json.loads(run("cam", self.weights(self.gap), self.image, "--method", "gradcam",
                              "--json").stdout)
        self.assertEqual(grad["method"], "gradcam")
        bad = run("cam", self.weights(self.gap), self.image, "--class", "zebra", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("zebra", bad.stderr)

    def test_cam_on_a_flatten_head_says_to_use_gradcam(self):
        proc = run("cam", self.weights(self.flat), self.image, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("Grad-CAM", proc.stderr)
        ok = json.loads(run("cam", self.weights(self.flat), self.image, "--method", "gradcam",
                            "--json").stdout)
        self.assertIn(ok["class"], ("square", "disc"))

    def test_filters_writes_the_kernel_grid(self):
        out = os.path.join(self.tmp.name, "filters.png")
        info = json.loads(run("filters", self.weights(self.gap), "--layer", "conv2d", "--out", out,
                              "--tile", "32", "--json").stdout)
        self.assertEqual((info["filters"], info["input_channels"]), (32, 3))
        with Image.open(out) as grid:
            # 32 tiles in rows of 6: 6 x 6 cells of 32 px with 2 px gaps.
            self.assertEqual(grid.size, (6 * 32 + 7 * 2, 6 * 32 + 7 * 2))

    def test_filters_without_layer_lists_the_layers(self):
        proc = run("filters", self.weights(self.gap), "--out", "x.png", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("conv2d_1", proc.stderr)

    def test_maximize_sorts_filters_by_activation_reached(self):
        out = os.path.join(self.tmp.name, "max.png")
        info = json.loads(run("filters", self.weights(self.gap), "--layer", "conv2d_2",
                              "--maximize", "--limit", "6", "--out", out, "--json").stdout)
        finals = [f["final_activation"] for f in info["filters"]]
        self.assertEqual(len(finals), 6)
        self.assertEqual(finals, sorted(finals, reverse=True))
        self.assertTrue(os.path.getsize(out) > 0)

    def test_featuremaps_grid_and_json(self):
        out = os.path.join(self.tmp.name, "maps.png")
        info = json.loads(run("featuremaps", self.weights(self.gap), self.image, "--layer",
                              "conv2d_1", "--out", out, "--json").stdout)
        self.assertEqual((info["channels"], info["height"], info["width"]), (32, 21, 21))
        self.assertGreaterEqual(info["min"], 0)
        with Image.open(out) as grid:
            self.assertEqual(grid.size, (6 * 64 + 7 * 2, 6 * 64 + 7 * 2))
        proc = run("featuremaps", self.weights(self.gap), self.image, "--layer", "dense",
                   "--out", out, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("dense", proc.stderr)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main()
