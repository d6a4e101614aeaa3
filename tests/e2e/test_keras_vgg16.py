"""Keras's VGG16 "notop" file in its original layout (root layer_names with input_1 and the
pools, no keras_version, weight names block1_conv1_W_1:0 / block1_conv1_b_1:0) as a backbone:
`convscope train --weights` recognises it, loads the 13 convs by name, attaches a new 3-class
GAP head and stores Keras's "caffe" preprocessing (BGR, ImageNet mean, no scaling), which
`convscope predict` then applies: its probabilities equal a NumPy VGG16 with caffe
preprocessing, and not one that skips the BGR swap or the mean. Run with the PyTorch environment's python."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from test_keras_weights import write_png_pixels  # noqa: E402

BINARY = None
BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
MEAN_BGR = np.array([103.939, 116.779, 123.68])


def vgg16_notop_layers():
    names, convs = ["input_1"], []
    for b, (width, depth) in enumerate(BLOCKS):
        for i in range(depth):
            names.append(f"block{b + 1}_conv{i + 1}")
            convs.append((names[-1], width))
        names.append(f"block{b + 1}_pool")
    return names, convs


def write_vgg16_notop(path, rng):
    """Random VGG16 weights laid out as vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5."""
    names, convs = vgg16_notop_layers()
    weights, cin = {}, 3
    for name, width in convs:
        # He-scaled, shrunk a little per layer so that features stay near 1 and softmax alive.
        kernel = rng.normal(0, 0.75 * np.sqrt(2.0 / (9 * cin)), (3, 3, cin, width))
        weights[name] = (kernel.astype(np.float32), rng.normal(0, 0.05, width).astype(np.float32))
        cin = width
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = f.create_group(name)
            if name in weights:
                stored = [f"{name}_W_1:0", f"{name}_b_1:0"]
                group.attrs["weight_names"] = np.array([s.encode() for s in stored])
                for s, array in zip(stored, weights[name]):
                    group.create_dataset(s, data=array)
            else:
                group.attrs["weight_names"] = np.zeros((0,), "S1")
    return weights


def conv_same(x, kernel, bias):
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    h, w = x.shape[:2]
    out = 0
    for i in range(3):
        for j in range(3):
            out = out + padded[i:i + h, j:j + w] @ kernel[i, j]
    return out + bias


def vgg16_probabilities(weights, head, network_input):
    x = network_input.astype(np.float64)
    _, convs = vgg16_notop_layers()
    last_of_block = {f"block{b + 1}_conv{depth}" for b, (_, depth) in enumerate(BLOCKS)}
    for name, _ in convs:
        x = np.maximum(conv_same(x, *weights[name]), 0)
        if name in last_of_block:
            h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
            x = x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).max(axis=(1, 3))
    logits = x.mean(axis=(0, 1)) @ head[0] + head[1]
    e = np.exp(logits - logits.max())
    return e / e.sum()


class KerasVgg16Test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.rng = np.random.default_rng(11)

    def tearDown(self):
        self.tmp.cleanup()

    def test_notop_file_trains_a_new_head_and_predict_applies_caffe_preprocessing(self):
        notop = os.path.join(self.tmp.name, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
        weights = write_vgg16_notop(notop, self.rng)
        data = os.path.join(self.tmp.name, "data")
        for c, name in enumerate(("red", "green", "blue")):
            os.makedirs(os.path.join(data, name))
            for i in range(5):
                pixels = self.rng.integers(0, 120, (32, 32, 3), dtype=np.uint8)
                pixels[..., c] += 120
                write_png_pixels(os.path.join(data, name, f"{i}.png"), pixels)
        run = os.path.join(self.tmp.name, "run")
        out = subprocess.run([BINARY, "train", data, "--out", run, "--weights", notop, "--head", "gap",
                              "--size", "32", "--epochs", "1", "--batch", "5", "--no-augment",
                              "--freeze-up-to", "block5_pool"],
                             capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        log = out.stdout + out.stderr
        self.assertIn("Keras VGG16 (HDF5 weights)", log)
        self.assertIn("Loaded 13 layers", log)
        self.assertIn("kept 1 not in the file as initialised: predictions", log)

        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
        self.assertEqual(config["architecture"], "vgg16")  # recognised from the file
        self.assertEqual(config["preprocessing"]["name"], "caffe")
        self.assertTrue(config["preprocessing"]["bgr"])
        np.testing.assert_allclose(config["preprocessing"]["mean"], MEAN_BGR, rtol=1e-6)
        self.assertEqual(config["preprocessing"]["rescale"], 1.0)

        saved = os.path.join(run, "weights.h5")
        with h5py.File(saved, "r") as f:
            metadata = json.loads(f.attrs["convscope_model"].decode())
            self.assertEqual(metadata["preprocessing"]["name"], "caffe")
            self.assertTrue(metadata["preprocessing"]["bgr"])
            # Frozen backbone: the Keras kernels come back as they went in.
            np.testing.assert_array_equal(f["block1_conv1/block1_conv1/kernel:0"][()], weights["block1_conv1"][0])
            np.testing.assert_array_equal(f["block5_conv3/block5_conv3/bias:0"][()], weights["block5_conv3"][1])
            head = (f["predictions/predictions/kernel:0"][()].astype(np.float64),
                    f["predictions/predictions/bias:0"][()].astype(np.float64))
        self.assertEqual(head[0].shape, (512, 3))

        pixels = self.rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        image = os.path.join(self.tmp.name, "x.png")
        write_png_pixels(image, pixels)
        out = subprocess.run([BINARY, "predict", saved, image, "--json"], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = json.loads(out.stdout.splitlines()[0])["probabilities"]
        got = np.array([got[c] for c in ("blue", "green", "red")])  # classes sort by name

        caffe = pixels[..., ::-1].astype(np.float64) - MEAN_BGR
        expected = vgg16_probabilities(weights, head, caffe)
        print(f"predict vs NumPy (caffe): max abs diff {np.abs(got - expected).max():.3g}; "
              f"probabilities {np.round(got, 4)}", file=sys.stderr)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        # The check can tell: without the BGR swap, or without the mean, the numbers differ.
        for what, wrong in (("RGB", pixels.astype(np.float64) - MEAN_BGR),
                            ("no mean", pixels[..., ::-1].astype(np.float64))):
            diff = np.abs(vgg16_probabilities(weights, head, wrong) - got).max()
            print(f"  with {what} instead: max abs diff {diff:.3g}", file=sys.stderr)
            self.assertGreater(diff, 1e-2)

    def test_a_notop_file_refuses_another_architecture(self):
        notop = os.path.join(self.tmp.name, "notop.h5")
        write_vgg16_notop(notop, self.rng)
        data = os.path.join(self.tmp.name, "data")
        for name in ("a", "b"):
            os.makedirs(os.path.join(data, name))
            for i in range(3):
                write_png_pixels(os.path.join(data, name, f"{i}.png"),
                                 self.rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        out = subprocess.run([BINARY, "train", data, "--out", os.path.join(self.tmp.name, "run"),
                              "--weights", notop, "--arch", "mobilenetv2", "--size", "32", "--epochs", "1"],
                             capture_output=True, text=True, timeout=300)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("Keras VGG16", out.stderr)
        self.assertIn("train it as vgg16", out.stderr)

    def test_summary_of_a_notop_file_reports_what_maps(self):
        notop = os.path.join(self.tmp.name, "notop.h5")
        write_vgg16_notop(notop, self.rng)
        out = subprocess.run([BINARY, "summary", notop, "--size", "64", "--classes", "3", "--json"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        summary = json.loads(out.stdout)
        self.assertEqual(summary["architecture"], "vgg16")
        self.assertEqual(summary["origin"]["preprocessing"], "caffe")
        self.assertIn("Loaded 13 layers", summary["origin"]["report"])
        self.assertEqual(summary["layers"][-1]["name"], "predictions")


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
