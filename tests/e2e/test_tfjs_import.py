"""TF.js layers model import, checked against an independent NumPy forward pass of Keras's
MobileNetV2: a generated model.json + 2 shards (uint8, uint16, float16 and float32 weights) of
Keras MobileNetV2's layers at a 40x40 input (stride-2 pads hit even and odd sides) imports
into ConvScope's Keras flavour, dequantizes exactly as TF.js does, and gives Keras's numbers.
The same weights in Keras's save_weights HDF5 layout load by name and give the same numbers,
and `convscope train --weights model.json` trains the Keras flavour with "tf" preprocessing.
Run with the PyTorch environment's python, the path of keras_import_tool and that of convscope."""
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
from test_train_cli import write_png  # noqa: E402

TOOL = None
BINARY = None
SIZE = 40
SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1)]


def bn_arrays(c):
    return [("gamma", (c,)), ("beta", (c,)), ("moving_mean", (c,)), ("moving_variance", (c,))]


def mobilenet_layers():
    """Keras MobileNetV2 (alpha 1.0) layers in Keras order: (name, class_name, arrays)."""
    layers = [("input_1", "InputLayer", []), ("Conv1_pad", "ZeroPadding2D", []),
              ("Conv1", "Conv2D", [("kernel", (3, 3, 3, 32))]),
              ("bn_Conv1", "BatchNormalization", bn_arrays(32)), ("Conv1_relu", "ReLU", [])]
    cin, block = 32, 0
    for t, c, n, s in SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p = "expanded_conv_" if block == 0 else f"block_{block}_"
            hidden = cin * t
            if block:
                layers += [(p + "expand", "Conv2D", [("kernel", (1, 1, cin, hidden))]),
                           (p + "expand_BN", "BatchNormalization", bn_arrays(hidden)),
                           (p + "expand_relu", "ReLU", [])]
            if stride == 2:
                layers.append((p + "pad", "ZeroPadding2D", []))
            layers += [(p + "depthwise", "DepthwiseConv2D", [("depthwise_kernel", (3, 3, hidden, 1))]),
                       (p + "depthwise_BN", "BatchNormalization", bn_arrays(hidden)),
                       (p + "depthwise_relu", "ReLU", []),
                       (p + "project", "Conv2D", [("kernel", (1, 1, hidden, c))]),
                       (p + "project_BN", "BatchNormalization", bn_arrays(c))]
            if stride == 1 and cin == c:
                layers.append((p + "add", "Add", []))
            cin, block = c, block + 1
    layers += [("Conv_1", "Conv2D", [("kernel", (1, 1, 320, 1280))]),
               ("Conv_1_bn", "BatchNormalization", bn_arrays(1280)), ("out_relu", "ReLU", []),
               ("global_average_pooling2d_1", "GlobalAveragePooling2D", []),
               ("predictions", "Dense", [("kernel", (1280, 10)), ("bias", (10,))])]
    return layers


def random_weights(rng):
    weights = {}
    for name, _, arrays in mobilenet_layers():
        for array, shape in arrays:
            if array in ("kernel", "depthwise_kernel"):
                if len(shape) == 2:
                    fan_in = shape[0]
                else:
                    fan_in = shape[0] * shape[1] * (1 if array == "depthwise_kernel" else shape[2])
                w = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
            elif array == "gamma":
                # Below 1, so that 17 blocks do not amplify float32 rounding past 1e-4.
                w = rng.uniform(0.5, 1.0, shape)
            elif array == "moving_variance":
                w = rng.uniform(0.5, 1.5, shape)
            else:
                w = rng.normal(0, 0.1, shape)
            weights[f"{name}/{array}"] = w
    return weights


def quantization_of(name):
    """Which encoding each weight gets in the fixture."""
    if name == "Conv_1/kernel":
        return "float16"
    if name.endswith("/gamma"):
        return "uint16"
    if name.endswith("depthwise_kernel") or name.endswith("moving_mean") or name == "Conv1/kernel":
        return "uint8"
    return None


def write_tfjs_model(folder, weights, rng):
    """Writes model.json + two shards; returns the float32 values TF.js would decode."""
    decoded, specs, chunks = {}, [], []
    names = list(weights)
    # Keras order within a layer is not guaranteed in manifests: put one BN's arrays backwards.
    bn = [n for n in names if n.startswith("bn_Conv1/")]
    start = names.index(bn[0])
    names[start:start + 4] = bn[::-1]
    for name in names:
        w = weights[name]
        spec = {"name": name, "shape": list(w.shape), "dtype": "float32"}
        kind = quantization_of(name)
        if kind in ("uint8", "uint16"):
            levels = 255 if kind == "uint8" else 65535
            lo, hi = float(w.min()), float(w.max())
            scale = (hi - lo) / levels
            q = np.clip(np.round((w - lo) / scale), 0, levels).astype(np.uint8 if kind == "uint8" else "<u2")
            spec["quantization"] = {"dtype": kind, "min": lo, "scale": scale}
            decoded[name] = (q.astype(np.float64) * scale + lo).astype(np.float32)
            chunks.append(q.tobytes())
        elif kind == "float16":
            h = w.astype("<f2")
            spec["quantization"] = {"dtype": "float16"}
            decoded[name] = h.astype(np.float32)
            chunks.append(h.tobytes())
        else:
            f = w.astype("<f4")
            decoded[name] = f
            chunks.append(f.tobytes())
        specs.append(spec)
    data = b"".join(chunks)
    half = len(data) // 2 + 3  # a cut in the middle of an array
    paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"]
    with open(os.path.join(folder, paths[0]), "wb") as f:
        f.write(data[:half])
    with open(os.path.join(folder, paths[1]), "wb") as f:
        f.write(data[half:])
    layers = []
    for name, class_name, _ in mobilenet_layers():
        config = {"name": name, "trainable": True}
        if class_name == "InputLayer":
            config["batch_input_shape"] = [None, SIZE, SIZE, 3]
        layers.append({"name": name, "class_name": class_name, "config": config, "inbound_nodes": []})
    model = {"modelTopology": {"keras_version": "2.2.4", "backend": "tensorflow",
                               "model_config": {"class_name": "Model",
                                                "config": {"name": "model_1", "layers": layers}}},
             "weightsManifest": [{"paths": paths, "weights": specs}]}
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(model, f)
    return decoded


def write_keras_hdf5(path, decoded):
    """The weights as Keras 2's model.save_weights writes them (layer_names, weight_names)."""
    with h5py.File(path, "w") as f:
        layers = mobilenet_layers()
        f.attrs["layer_names"] = np.array([name.encode() for name, _, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name, _, arrays in layers:
            group = f.create_group(name)
            stored = [f"{name}/{array}:0" for array, _ in arrays]
            group.attrs["weight_names"] = np.array([n.encode() for n in stored]) if stored else np.zeros((0,), "S1")
            for n, (array, _) in zip(stored, arrays):
                group.create_dataset(n, data=decoded[f"{name}/{array}"])


def conv(x, kernel, stride=1):
    """'valid' convolution of HWC x with an HWIO kernel."""
    kh, kw = kernel.shape[:2]
    oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    out = 0
    for i in range(kh):
        for j in range(kw):
            out = out + x[i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] @ kernel[i, j]
    return out


def depthwise(x, kernel, stride):
    oh, ow = (x.shape[0] - 3) // stride + 1, (x.shape[1] - 3) // stride + 1
    out = 0
    for i in range(3):
        for j in range(3):
            out = out + x[i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] * kernel[i, j, :, 0]
    return out


def correct_pad(x):
    """Keras's correct_pad for a 3x3 kernel: ((1 - adjust, 1), ...), adjust = 1 - side % 2."""
    return np.pad(x, ((x.shape[0] % 2, 1), (x.shape[1] % 2, 1), (0, 0)))


def keras_mobilenet_v2(w, x):
    """Keras Applications' MobileNetV2 forward, float64, HWC; returns named outputs."""
    def bn(name, y):
        return ((y - w[name + "/moving_mean"]) / np.sqrt(w[name + "/moving_variance"] + 1e-3)
                * w[name + "/gamma"] + w[name + "/beta"])

    def relu6(y):
        return np.clip(y, 0, 6)

    out = {}
    x = conv(correct_pad(x), w["Conv1/kernel"], 2)
    out["Conv1"] = x
    x = relu6(bn("bn_Conv1", x))
    cin, block = 32, 0
    for t, c, n, s in SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p = "expanded_conv_" if block == 0 else f"block_{block}_"
            inputs = x
            if block:
                x = relu6(bn(p + "expand_BN", x @ w[p + "expand/kernel"][0, 0]))
            x = correct_pad(x) if stride == 2 else np.pad(x, ((1, 1), (1, 1), (0, 0)))
            x = relu6(bn(p + "depthwise_BN", depthwise(x, w[p + "depthwise/depthwise_kernel"], stride)))
            x = bn(p + "project_BN", x @ w[p + "project/kernel"][0, 0])
            if stride == 1 and cin == c:
                x = x + inputs
            cin, block = c, block + 1
    out["block_16_project_BN"] = x
    out["out_relu"] = relu6(bn("Conv_1_bn", x @ w["Conv_1/kernel"][0, 0]))
    return out


class TfjsImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folder = os.path.join(cls.tmp.name, "model")
        os.makedirs(cls.folder)
        rng = np.random.default_rng(7)
        cls.decoded = write_tfjs_model(cls.folder, random_weights(rng), rng)
        cls.model_json = os.path.join(cls.folder, "model.json")
        cls.pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        cls.image = os.path.join(cls.tmp.name, "x.png")
        write_png_pixels(cls.image, cls.pixels)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_tool(self, *args, expect_ok=True):
        out = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=300)
        if expect_ok:
            self.assertEqual(out.returncode, 0, out.stderr)
        return out

    def features(self, model_json, layer, image=None, array=None, size=SIZE):
        out_dir = tempfile.mkdtemp(dir=self.tmp.name)
        if array is not None:
            source = os.path.join(out_dir, "given.f32")
            array.astype("<f4").tofile(source)
            kind = "--input"
        else:
            source, kind = image, "--image"
        report = json.loads(self.run_tool("features", model_json, kind, source, layer, out_dir).stdout)
        with open(os.path.join(out_dir, "shape.json")) as f:
            shape = json.load(f)
        features = np.fromfile(os.path.join(out_dir, "features.f32"), "<f4").reshape(shape)
        inputs = np.fromfile(os.path.join(out_dir, "input.f32"), "<f4").reshape(1, size, size, 3)
        return report, features[0], inputs[0]

    def test_dequantized_values_equal_min_plus_scale_times_q(self):
        for name in ("Conv1/kernel", "block_3_depthwise/depthwise_kernel", "bn_Conv1/moving_mean",
                     "block_5_expand_BN/gamma", "Conv_1/kernel", "block_2_project/kernel"):
            with self.subTest(weight=name, encoding=quantization_of(name) or "float32"):
                path = os.path.join(self.tmp.name, "w.f32")
                self.run_tool("weight", self.model_json, name, path)
                got = np.fromfile(path, "<f4")
                np.testing.assert_array_equal(got, self.decoded[name].reshape(-1))

    def test_every_backbone_layer_maps_and_the_file_head_is_skipped(self):
        report, _, _ = self.features(self.model_json, "out_relu", image=self.image)
        self.assertEqual(report["architecture"], "mobilenetv2")
        self.assertEqual(report["flavour"], "keras")
        self.assertEqual(report["input_size"], SIZE)
        self.assertEqual(len(report["loaded"]), 104)  # 52 convs, 52 batch norms
        self.assertEqual(report["loaded"][:3], ["Conv1", "bn_Conv1", "expanded_conv_depthwise"])
        self.assertEqual(report["not_in_model"], ["predictions"])  # the file's own classifier
        self.assertEqual(report["not_in_file"], ["predictions"])  # the new head
        self.assertEqual(report["preprocessing"]["name"], "tf")

    def test_tf_preprocessing_scales_pixels_to_minus_one_one(self):
        _, _, inputs = self.features(self.model_json, "Conv1", image=self.image)
        np.testing.assert_allclose(inputs, self.pixels / 127.5 - 1, atol=1e-6)

    def test_features_equal_a_numpy_keras_mobilenet_v2(self):
        weights = {k: v.astype(np.float64) for k, v in self.decoded.items()}
        x = self.pixels / 127.5 - 1
        reference = keras_mobilenet_v2(weights, x)
        for layer in ("Conv1", "block_16_project_BN", "out_relu"):
            _, got, _ = self.features(self.model_json, layer, array=x[None])
            self.assertEqual(got.shape, reference[layer].shape)
            diff = float(np.abs(got - reference[layer]).max())
            print(f"{layer} {got.shape}: max abs diff {diff:.3g} "
                  f"(values up to {np.abs(reference[layer]).max():.3g})", file=sys.stderr)
            self.assertLess(diff, 1e-4)
        # Torchvision's symmetric padding would give other numbers: the test can tell.
        self.assertGreater(np.abs(reference["out_relu"]).max(), 0.1)

    def test_the_same_weights_as_keras_hdf5_load_by_name_with_the_same_numbers(self):
        path = os.path.join(self.tmp.name, "mobilenet_v2_weights.h5")
        write_keras_hdf5(path, self.decoded)
        weights = {k: v.astype(np.float64) for k, v in self.decoded.items()}
        x = self.pixels[:32, :32] / 127.5 - 1  # the tool uses 32x32 when a file names no size
        reference = keras_mobilenet_v2(weights, x)
        report, got, _ = self.features(path, "out_relu", array=x[None], size=32)
        self.assertEqual(report["description"], "Keras MobileNetV2 (HDF5 weights, Keras 2.2.4)")
        self.assertEqual(len(report["loaded"]), 104)
        self.assertEqual(report["not_in_model"], ["predictions"])
        diff = float(np.abs(got - reference["out_relu"]).max())
        print(f"HDF5 out_relu {got.shape}: max abs diff {diff:.3g}", file=sys.stderr)
        self.assertLess(diff, 1e-4)

    def test_a_shape_mismatch_names_the_array_and_loads_nothing(self):
        other = dict(self.decoded)
        other["Conv_1/kernel"] = np.zeros((1, 1, 320, 1024), np.float32)  # another alpha's width
        path = os.path.join(self.tmp.name, "mismatch.h5")
        write_keras_hdf5(path, other)
        out = self.run_tool("features", path, "--image", self.image, "out_relu", self.tmp.name,
                            expect_ok=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("shape mismatch, nothing loaded: Conv_1/kernel:0: file (1, 1, 320, 1024), "
                      "model expects (1, 1, 320, 1280)", out.stderr)

    def test_predict_takes_the_tfjs_model_and_says_its_head_is_untrained(self):
        out = subprocess.run([BINARY, "predict", self.model_json, self.image, "--classes", "a,b,c",
                              "--json"], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("kept 1 not in the file as initialised: predictions", out.stderr)
        probabilities = json.loads(out.stdout)["probabilities"]
        self.assertAlmostEqual(sum(probabilities.values()), 1.0, places=5)

    def test_train_from_the_tfjs_model_uses_the_keras_flavour_and_tf_preprocessing(self):
        data = os.path.join(self.tmp.name, "data")
        for i in range(6):
            write_png(os.path.join(data, "dark", f"{i}.png"), SIZE, SIZE, (20 + i, 30, 40))
            write_png(os.path.join(data, "light", f"{i}.png"), SIZE, SIZE, (220 - i, 210, 200))
        run = os.path.join(self.tmp.name, "run")
        out = subprocess.run([BINARY, "train", data, "--out", run, "--weights", self.model_json,
                              "--head", "gap", "--epochs", "1", "--batch", "4",
                              "--freeze-up-to", "block_11_add"],
                             capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        log = out.stdout + out.stderr
        self.assertIn("Keras MobileNetV2 (TF.js layers model, Keras 2.2.4, 40x40 input), "
                      "preprocessing 'tf': Loaded 104 layers; skipped 1 not in this model: "
                      "predictions; kept 1 not in the file as initialised: predictions", log)
        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["architecture"], config["flavour"], config["input_size"]),
                         ("mobilenetv2", "keras", SIZE))
        self.assertEqual(config["preprocessing"]["name"], "tf")
        self.assertAlmostEqual(config["preprocessing"]["rescale"], 1 / 127.5, places=7)
        self.assertEqual(config["preprocessing"]["mean"], [1.0, 1.0, 1.0])
        weights = os.path.join(run, "weights.h5")
        with h5py.File(weights, "r") as f:
            metadata = json.loads(f.attrs["convscope_model"].decode())
            self.assertEqual(metadata["flavour"], "keras")
            self.assertEqual(metadata["preprocessing"]["name"], "tf")
            # Frozen up to block_11_add: the imported depthwise kernel is still the file's.
            np.testing.assert_array_equal(
                f["block_3_depthwise/block_3_depthwise/depthwise_kernel:0"][()],
                self.decoded["block_3_depthwise/depthwise_kernel"])
        summary = subprocess.run([BINARY, "summary", weights, "--json"], capture_output=True,
                                 text=True, timeout=120)
        self.assertEqual(summary.returncode, 0, summary.stderr)
        self.assertEqual(json.loads(summary.stdout)["flavour"], "keras")
        predicted = subprocess.run([BINARY, "predict", weights, os.path.join(data, "dark", "0.png"),
                                    "--json"], capture_output=True, text=True, timeout=120)
        self.assertEqual(predicted.returncode, 0, predicted.stderr)
        self.assertEqual(set(json.loads(predicted.stdout)["probabilities"]), {"dark", "light"})

    def modified_copy(self, edit_json=None, edit_files=None):
        folder = tempfile.mkdtemp(dir=self.tmp.name)
        with open(self.model_json) as f:
            model = json.load(f)
        if edit_json:
            edit_json(model)
        with open(os.path.join(folder, "model.json"), "w") as f:
            json.dump(model, f)
        for shard in model.get("weightsManifest", [{}])[0].get("paths", []):
            source = os.path.join(self.folder, shard)
            if os.path.exists(source):
                with open(source, "rb") as src, open(os.path.join(folder, shard), "wb") as dst:
                    dst.write(src.read())
        if edit_files:
            edit_files(folder)
        return os.path.join(folder, "model.json")

    def expect_error(self, model_json, *phrases):
        out = self.run_tool("features", model_json, "--image", self.image, "out_relu", self.tmp.name,
                            expect_ok=False)
        self.assertEqual(out.returncode, 1, out.stdout)
        for phrase in phrases:
            self.assertIn(phrase, out.stderr)

    def test_missing_shard_is_named(self):
        path = self.modified_copy(edit_files=lambda d: os.remove(os.path.join(d, "group1-shard2of2.bin")))
        self.expect_error(path, "group1-shard2of2.bin", "missing")

    def test_short_shard_is_reported(self):
        def truncate(d):
            with open(os.path.join(d, "group1-shard2of2.bin"), "r+b") as f:
                f.truncate(100)
        self.expect_error(self.modified_copy(edit_files=truncate), "truncated")

    def test_unknown_quantization_dtype_is_reported(self):
        def int4(model):
            model["weightsManifest"][0]["weights"][0]["quantization"] = {"dtype": "int4", "min": 0, "scale": 1}
        self.expect_error(self.modified_copy(int4), "Conv1/kernel", "unknown quantization dtype 'int4'")

    def test_unknown_dtype_is_reported(self):
        def complex64(model):
            model["weightsManifest"][0]["weights"][0]["dtype"] = "complex64"
        self.expect_error(self.modified_copy(complex64), "unsupported dtype 'complex64'")

    def test_another_architecture_names_the_expected_layers(self):
        def rename(model):
            for layer in model["modelTopology"]["model_config"]["config"]["layers"]:
                layer["name"] = "x_" + layer["name"]
        self.expect_error(self.modified_copy(rename), "not a supported Keras architecture",
                          "Conv1, bn_Conv1", "block1_conv1")

    def test_missing_backbone_layer_loads_nothing(self):
        def rename(model):
            for w in model["weightsManifest"][0]["weights"]:
                if w["name"] == "block_16_project/kernel":
                    w["name"] = "something_else/kernel"
        self.expect_error(self.modified_copy(rename), "lacks 1 backbone layers", "block_16_project")

    def test_a_graph_model_is_refused(self):
        def graph(model):
            model["format"] = "graph-model"
        self.expect_error(self.modified_copy(graph), "graph models cannot be imported")


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
