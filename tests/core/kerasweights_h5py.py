"""Interoperability of core/io/kerasweights with h5py, in both directions.

Usage: python3 kerasweights_h5py.py PATH/TO/h5weights_tool

(a) h5py writes files the way Keras 2 does and the tool's `dump` must read them;
(b) the tool's `write-sample` output must have the layout Keras 2's HDF5 loader expects.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

TOOL = None
# Keras splits a name list over "name0", "name1", ... once it would pass this many bytes.
HEADER_LIMIT = 64512


def run_tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60)


def dump(path):
    result = run_tool("dump", path)
    if result.returncode != 0:
        raise AssertionError("dump failed: " + result.stderr)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[0], lines[1:]


def sample_values(shape, seed):
    count = int(np.prod(shape)) if shape else 1
    values = [((i * 37 + seed * 11) % 101 - 50) / 64.0 for i in range(count)]
    return np.array(values, dtype=np.float32).reshape(shape)


def keras_attribute_list(group, name, names, fixed_length):
    """Stores a name list as Keras 2's save_attributes_to_hdf5_group does.

    With fixed_length=False the unsplit list goes to h5py as a Python list of bytes, which
    h5py 3 stores as variable-length strings: what Keras 2.11 writes in practice. With
    fixed_length=True it goes as a numpy 'S<n>' array (what h5py 2 wrote, and what Keras
    writes for a split list in any case).
    """
    encoded = [n.encode("utf8") for n in names]
    as_array = np.asarray(encoded)
    parts = 1
    while any(p.nbytes > HEADER_LIMIT for p in np.array_split(as_array, parts)):
        parts += 1
    if parts > 1:
        for k, part in enumerate(np.array_split(as_array, parts)):
            group.attrs["%s%d" % (name, k)] = part
    elif fixed_length:
        group.attrs[name] = as_array if encoded else np.asarray([])
    else:
        group.attrs[name] = encoded


def keras_style_load(f):
    """What Keras 2's HDF5 loader reads: [(layer, [(weight_name, array)])]."""

    def names(group, name):
        if name in group.attrs:
            raw = list(group.attrs[name])
        else:
            raw, k = [], 0
            while "%s%d" % (name, k) in group.attrs:
                raw.extend(group.attrs["%s%d" % (name, k)])
                k += 1
        return [n.decode("utf8") if hasattr(n, "decode") else n for n in raw]

    if "layer_names" not in f.attrs and "layer_names0" not in f.attrs and "model_weights" in f:
        f = f["model_weights"]
    layers = []
    for layer in names(f, "layer_names"):
        group = f[layer]
        layers.append((layer, [(w, np.asarray(group[w])) for w in names(group, "weight_names")]))
    return layers


class ReadsWhatKerasWrites(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write_keras_file(self, path, fixed_length, extra_layers=0, whole_model=False):
        """A VGG-like model as Keras 2 saves it, with the oddities seen in real files."""
        rng = np.random.default_rng(3)

        def normal(shape, dtype=np.float32):
            return rng.standard_normal(shape).astype(dtype)

        layers = [
            ("block1_conv1", [("block1_conv1/kernel:0", normal((3, 3, 3, 4))),
                              ("block1_conv1/bias:0", normal(4))]),
            # float16 (mixed precision) and float64 weights are converted to float.
            ("block1_bn", [("block1_bn/gamma:0", normal(4, np.float16)),
                           ("block1_bn/beta:0", normal(4, np.float64)),
                           ("block1_bn/moving_mean:0", normal(4)),
                           ("block1_bn/moving_variance:0", rng.random(4).astype(np.float32))]),
            ("block1_pool", []),
            # A reused model: weight names keep the first instance's prefix.
            ("dense", [("dense_1/kernel:0", normal((12, 3))), ("dense_1/bias:0", normal(3))]),
            # A nested model: its layers' weights under the model's group.
            ("backbone", [("backbone/block/kernel:0", normal((1, 1, 3, 2)))]),
        ]
        layers += [("extra_%05d" % i, []) for i in range(extra_layers)]
        with h5py.File(path, "w") as f:
            root = f
            if whole_model:
                f.attrs["model_config"] = json.dumps({"class_name": "Functional"}).encode("utf8")
                root = f.create_group("model_weights")
            keras_attribute_list(root, "layer_names", [name for name, _ in layers], fixed_length)
            if fixed_length:
                root.attrs["backend"] = np.bytes_(b"tensorflow")
                root.attrs["keras_version"] = np.bytes_(b"2.11.0")
            else:
                root.attrs["backend"] = b"tensorflow"
                root.attrs["keras_version"] = b"2.11.0"
            for name, weights in sorted(layers):
                group = root.create_group(name)
                keras_attribute_list(group, "weight_names", [w for w, _ in weights], fixed_length)
                for weight_name, value in weights:
                    group.create_dataset(weight_name, value.shape, dtype=value.dtype)[:] = value
            top = root.create_group("top_level_model_weights")
            keras_attribute_list(top, "weight_names", [], fixed_length)
            f.attrs["convscope_class_names"] = '["a","b"]'
        return layers

    def check_dump(self, path, layers):
        header, dumped = dump(path)
        self.assertEqual(header["keras_version"], "2.11.0")
        self.assertEqual(header["backend"], "tensorflow")
        self.assertEqual(header["metadata"], {"class_names": '["a","b"]'})
        self.assertEqual([d["layer"] for d in dumped], [name for name, _ in layers])
        for (name, weights), d in zip(layers, dumped):
            self.assertEqual([w["stored_name"] for w in d["weights"]], [w for w, _ in weights])
            for (stored, value), w in zip(weights, d["weights"]):
                self.assertEqual(w["name"], stored.split("/", 1)[1])
                self.assertEqual(w["shape"], list(value.shape))
                expected = value.astype(np.float32).ravel()
                np.testing.assert_array_equal(np.array(w["values"], dtype=np.float32), expected)
                self.assertAlmostEqual(w["sum"], float(expected.astype(np.float64).sum()), places=4)

    def test_fixed_length_names(self):
        layers = self.write_keras_file(self.path("fixed.h5"), fixed_length=True)
        self.check_dump(self.path("fixed.h5"), layers)

    def test_variable_length_names_as_keras_2_11_with_h5py_3(self):
        layers = self.write_keras_file(self.path("vlen.h5"), fixed_length=False)
        with h5py.File(self.path("vlen.h5"), "r") as f:
            info = h5py.check_string_dtype(f.attrs.get_id("layer_names").dtype)
            self.assertIsNone(info.length)
        self.check_dump(self.path("vlen.h5"), layers)

    def test_split_layer_names(self):
        layers = self.write_keras_file(self.path("split.h5"), fixed_length=False, extra_layers=6000)
        with h5py.File(self.path("split.h5"), "r") as f:
            self.assertNotIn("layer_names", f.attrs)
            self.assertIn("layer_names1", f.attrs)
        self.check_dump(self.path("split.h5"), layers)

    def test_whole_model_file(self):
        layers = self.write_keras_file(self.path("model.h5"), fixed_length=True, whole_model=True)
        self.check_dump(self.path("model.h5"), layers)

    def test_no_layer_names_is_an_error_without_hdf5_noise(self):
        with h5py.File(self.path("plain.h5"), "w") as f:
            f["x"] = np.zeros(3)
        result = run_tool("dump", self.path("plain.h5"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("not a Keras weights file (no layer_names attribute)", result.stderr)
        self.assertNotIn("HDF5-DIAG", result.stderr)

    def test_text_file_is_an_error(self):
        with open(self.path("notes.h5"), "w") as f:
            f.write("not hdf5\n")
        result = run_tool("dump", self.path("notes.h5"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("not an HDF5 file", result.stderr)


class WritesWhatKerasReads(unittest.TestCase):
    LAYERS = ["block1_conv1", "block1_bn", "block1_pool", "flatten", "predictions"]
    WEIGHTS = {
        "block1_conv1": [("kernel:0", (3, 3, 3, 4), 1), ("bias:0", (4,), 2)],
        "block1_bn": [("gamma:0", (4,), 3), ("beta:0", (4,), 4), ("moving_mean:0", (4,), 5),
                      ("moving_variance:0", (4,), 6)],
        "block1_pool": [],
        "flatten": [],
        "predictions": [("kernel:0", (12, 3), 7), ("bias:0", (3,), 8)],
    }

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.file = os.path.join(self.dir.name, "sample.h5")
        result = run_tool("write-sample", self.file)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_root_attributes_are_fixed_length_byte_strings(self):
        with h5py.File(self.file, "r") as f:
            names = f.attrs["layer_names"]
            self.assertEqual(names.dtype.kind, "S")
            self.assertEqual(names.dtype.itemsize, max(len(n) for n in self.LAYERS))
            self.assertEqual([n.decode() for n in names], self.LAYERS)
            for attribute, value in (("backend", b"tensorflow"), ("keras_version", b"2.11.0")):
                self.assertIsInstance(f.attrs[attribute], np.bytes_)
                self.assertEqual(f.attrs[attribute], value)

    def test_groups_hold_weight_names_and_float32_datasets(self):
        with h5py.File(self.file, "r") as f:
            for layer in self.LAYERS:
                group = f[layer]
                self.assertIsInstance(group, h5py.Group)
                names = group.attrs["weight_names"]
                expected = [layer + "/" + w for w, _, _ in self.WEIGHTS[layer]]
                self.assertEqual(len(names), len(expected))
                if expected:
                    self.assertEqual(names.dtype.kind, "S")
                    self.assertEqual([n.decode() for n in names], expected)
                for (weight, shape, seed), stored in zip(self.WEIGHTS[layer], expected):
                    data = group[stored]
                    self.assertIsInstance(group[layer], h5py.Group)  # "<layer>/<weight>" nests
                    self.assertEqual(data.name, "/%s/%s" % (layer, stored))
                    self.assertEqual(data.dtype, np.dtype("<f4"))
                    self.assertEqual(data.shape, shape)
                    np.testing.assert_array_equal(data[()], sample_values(shape, seed))
            top = f["top_level_model_weights"]
            self.assertEqual(len(top.attrs["weight_names"]), 0)

    def test_conv_kernel_is_hwio_and_dense_kernel_is_in_out(self):
        with h5py.File(self.file, "r") as f:
            self.assertEqual(f["block1_conv1/block1_conv1/kernel:0"].shape, (3, 3, 3, 4))
            self.assertEqual(f["predictions/predictions/kernel:0"].shape, (12, 3))

    def test_keras_style_loader_sees_every_weight_in_order(self):
        with h5py.File(self.file, "r") as f:
            loaded = keras_style_load(f)
        self.assertEqual([name for name, _ in loaded], self.LAYERS)
        for name, weights in loaded:
            expected = [name + "/" + w for w, _, _ in self.WEIGHTS[name]]
            self.assertEqual([w for w, _ in weights], expected)
            for (_, value), (_, shape, seed) in zip(weights, self.WEIGHTS[name]):
                np.testing.assert_array_equal(value, sample_values(shape, seed))

    def test_metadata_is_utf8_fixed_length_strings(self):
        with h5py.File(self.file, "r") as f:
            names = f.attrs["convscope_class_names"]
            self.assertIsInstance(names, np.bytes_)
            info = h5py.check_string_dtype(f.attrs.get_id("convscope_class_names").dtype)
            self.assertEqual(info.encoding, "utf-8")
            self.assertEqual(json.loads(names.decode("utf8")), ["cat", "dog", "émeu"])
            self.assertEqual(f.attrs["convscope_architecture"], b"small_cnn")
            self.assertEqual(f.attrs["convscope_input_size"], b"32")

    def test_long_layer_lists_are_split_and_still_load(self):
        path = os.path.join(self.dir.name, "many.h5")
        result = run_tool("write-sample", path, "3000")
        self.assertEqual(result.returncode, 0, result.stderr)
        with h5py.File(path, "r") as f:
            self.assertNotIn("layer_names", f.attrs)
            parts = [f.attrs["layer_names%d" % k] for k in range(2)]
            self.assertNotIn("layer_names2", f.attrs)
            for part in parts:
                self.assertEqual(part.dtype.kind, "S")
                self.assertLessEqual(part.nbytes, HEADER_LIMIT)
            loaded = keras_style_load(f)
        self.assertEqual(len(loaded), len(self.LAYERS) + 3000)
        self.assertEqual(loaded[-1][0], "predictions")
        header, dumped = dump(path)
        self.assertEqual(header["layer_count"], len(loaded))
        self.assertEqual([d["layer"] for d in dumped], [name for name, _ in loaded])

    def test_dump_reads_back_what_it_wrote(self):
        header, dumped = dump(self.file)
        self.assertEqual(header["metadata"]["architecture"], "small_cnn")
        self.assertEqual([d["layer"] for d in dumped], self.LAYERS)
        for d in dumped:
            self.assertEqual([(w["name"], tuple(w["shape"])) for w in d["weights"]],
                             [(w, s) for w, s, _ in self.WEIGHTS[d["layer"]]])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    TOOL = sys.argv.pop(1)
    unittest.main(verbosity=2)
