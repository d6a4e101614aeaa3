"""Keras-layout HDF5 weights end to end, checked against an independent NumPy forward pass:
a file laid out as Keras 2's save_weights writes it (h5py, HWIO kernels, NHWC flatten) gives
the same probabilities in `convscope predict`, and the weights.h5 ConvScope writes reads
back in h5py with Keras's layout and the same numbers. Run with the PyTorch environment's python."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from pngfiles import write_png, write_png_rows  # noqa: E402

BINARY = None
LAYERS = ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2", "max_pooling2d_2",
          "flatten", "dense", "dropout", "dense_1"]


def conv_valid(x, kernel, bias):
    kh, kw, _, cout = kernel.shape
    h, w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((h, w, cout), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += x[i:i + h, j:j + w, :] @ kernel[i, j]
    return out + bias


def pool2(x):
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).max(axis=(1, 3))


def blog_net_probabilities(weights, image):
    """weights: {layer: [arrays in Keras order]}, image: HxWx3 floats in [0, 1]."""
    x = image.astype(np.float64)
    for name in ("conv2d", "conv2d_1", "conv2d_2"):
        x = pool2(np.maximum(conv_valid(x, *weights[name]), 0))
    x = x.reshape(-1)  # Keras flattens height, width, channels
    x = np.maximum(x @ weights["dense"][0] + weights["dense"][1], 0)
    logits = x @ weights["dense_1"][0] + weights["dense_1"][1]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def write_keras_file(path, weights):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in LAYERS])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.11.0"
        for name in LAYERS:
            group = f.create_group(name)
            arrays = weights.get(name, [])
            names = [f"{name}/{w}".encode() for w in ("kernel:0", "bias:0")][:len(arrays)]
            group.attrs["weight_names"] = np.array(names) if names else np.zeros((0,))
            for weight_name, array in zip(names, arrays):
                group.create_dataset(weight_name.decode(), data=array.astype(np.float32))


class KerasWeightsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.rng = np.random.default_rng(3)

    def tearDown(self):
        self.tmp.cleanup()

    def predict(self, weights_path, image_path, *extra):
        out = subprocess.run([BINARY, "predict", weights_path, image_path, "--json", *extra],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout.splitlines()[0])

    def test_a_keras_written_file_predicts_like_numpy(self):
        shapes = {"conv2d": (3, 3, 3, 32), "conv2d_1": (3, 3, 32, 32), "conv2d_2": (3, 3, 32, 64),
                  "dense": (2 * 2 * 64, 64), "dense_1": (64, 3)}
        weights = {name: [self.rng.normal(0, 0.3, shape), self.rng.normal(0, 0.1, shape[-1])]
                   for name, shape in shapes.items()}
        path = os.path.join(self.tmp.name, "keras.h5")
        write_keras_file(path, weights)
        pixels = self.rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        image = os.path.join(self.tmp.name, "x.png")
        write_png_pixels(image, pixels)
        expected = blog_net_probabilities(weights, pixels / 255.0)
        got = self.predict(path, image, "--arch", "small", "--size", "32", "--classes", "a,b,c")
        np.testing.assert_allclose([got["probabilities"][c] for c in "abc"], expected, atol=1e-4)

    def test_convscope_weights_read_back_in_h5py_with_keras_layout(self):
        data = os.path.join(self.tmp.name, "data")
        for i in range(12):
            write_png(os.path.join(data, "dark", f"{i}.png"), 32, 32, (20 + i, 30, 40))
            write_png(os.path.join(data, "light", f"{i}.png"), 32, 32, (220 - i, 210, 200))
        run = os.path.join(self.tmp.name, "run")
        out = subprocess.run([BINARY, "train", data, "--out", run, "--size", "32", "--epochs", "1"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        path = os.path.join(run, "weights.h5")
        with h5py.File(path, "r") as f:
            self.assertEqual([n.decode() for n in f.attrs["layer_names"]],
                             ["conv2d", "conv2d_1", "conv2d_2", "dense", "dense_1"])
            self.assertEqual(f.attrs["backend"], b"tensorflow")
            self.assertEqual([n.decode() for n in f["conv2d"].attrs["weight_names"]],
                             ["conv2d/kernel:0", "conv2d/bias:0"])
            self.assertEqual(f["conv2d/conv2d/kernel:0"].shape, (3, 3, 3, 32))
            self.assertEqual(f["dense/dense/kernel:0"].shape, (2 * 2 * 64, 64))
            metadata = json.loads(f.attrs["convscope_model"].decode())
            self.assertEqual(metadata["class_names"], ["dark", "light"])
            weights = {name: [f[f"{name}/{name}/kernel:0"][()], f[f"{name}/{name}/bias:0"][()]]
                       for name in ("conv2d", "conv2d_1", "conv2d_2", "dense", "dense_1")}
        image = os.path.join(data, "light", "3.png")
        pixels = np.full((32, 32, 3), (217, 210, 200), np.float64)
        expected = blog_net_probabilities(weights, pixels / 255.0)
        got = self.predict(path, image)
        np.testing.assert_allclose([got["probabilities"]["dark"], got["probabilities"]["light"]], expected, atol=1e-4)


def write_png_pixels(path, pixels):
    write_png_rows(path, pixels.shape[1], pixels.shape[0], [pixels[y].tobytes() for y in range(pixels.shape[0])])


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
