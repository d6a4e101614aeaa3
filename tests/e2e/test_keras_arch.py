"""Custom networks from a Keras model config (`--arch model.json`), end to end against real
Keras 3 and ONNX Runtime.

1. Keras writes a functional model (Conv2D with strides and dilation, BatchNormalization,
   DepthwiseConv2D, SeparableConv2D, Add, Concatenate, ZeroPadding2D, pooling, Dropout, a
   softmax Dense): `to_json()` plus `save_weights` (Keras 3's .weights.h5) and `model.save`
   (a whole-model legacy .h5). `convscope predict WEIGHTS --arch model.json` gives Keras's
   probabilities within 1e-4, from both files; so do the whole-model .h5 and a `.keras`
   archive (model.save) on their own, which carry their architecture.
2. `convscope train --arch model.json --weights model.weights.h5` trains it (one epoch); Keras
   rebuilds the model from the same JSON, loads ConvScope's weights.h5 in order and by name,
   and predicts within 1e-4 of `convscope predict`.
3. Surgery: `--cut-after block2_add --append conv:8:3,gap,dropout:0.25` with the backbone
   frozen. The arrays of every layer up to the cut stay Keras's own, bit for bit; Keras builds
   the same network with its functional API, loads ConvScope's file by name and gives the same
   logits. CAM works on it (a GAP head), feature maps of an appended layer too. A built-in
   network (the blog net) is cut the same way through its Keras form.
4. Both trained networks exported with `convscope export --onnx` run in ONNX Runtime within
   1e-4 of ConvScope's logits.
Exits 77, saying why, where Keras or ONNX Runtime cannot be imported. Run with the PyTorch
environment's python: test_keras_arch.py CONVSCOPE_BINARY"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pngfiles import write_png_rows  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import h5py
    import numpy as np
    import keras
    from keras import layers
    import onnxruntime as ort
except Exception as e:  # noqa: BLE001 - any import failure means "not installed here"
    print(f"SKIP: Keras, h5py, numpy or onnxruntime cannot be imported ({type(e).__name__}: {e})")
    sys.exit(77)

TOLERANCE = 1e-4
SIZE = 32
CLASSES = ["circle", "square", "stripes"]
BINARY = None
RESULTS = []


def run(*args):
    cmd = [BINARY, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n"
                             f"{done.stderr}")
    return done.stdout


def picture(rng, kind):
    """SIZE x SIZE RGB rows: a shape of the class on noise."""
    rows = []
    c = SIZE // 2
    for y in range(SIZE):
        row = bytearray()
        for x in range(SIZE):
            if kind == "circle":
                on = (x - c) ** 2 + (y - c) ** 2 < (SIZE // 3) ** 2
            elif kind == "square":
                on = abs(x - c) < SIZE // 3 and abs(y - c) < SIZE // 3
            else:
                on = (x // 4) % 2 == 0
            base = 200 if on else 40
            row += bytes(min(255, max(0, base + rng.randrange(-30, 31))) for _ in range(3))
        rows.append(bytes(row))
    return rows


def make_data(root, seed=7):
    rng = random.Random(seed)
    for cls in CLASSES:
        for i in range(6):
            write_png_rows(os.path.join(root, "data", cls, f"{i}.png"), SIZE, SIZE,
                           picture(rng, cls))
    paths, pixels = [], []
    for i, cls in enumerate(CLASSES * 2):
        rows = picture(rng, cls)
        path = os.path.join(root, "probe", f"p{i}.png")
        write_png_rows(path, SIZE, SIZE, rows)
        paths.append(path)
        pixels.append(np.frombuffer(b"".join(rows), np.uint8).reshape(SIZE, SIZE, 3))
    return os.path.join(root, "data"), paths, np.stack(pixels).astype(np.float32) / 255.0


def keras_model():
    """A functional model of most of the supported layer classes, its weights and batch-norm
    statistics far from their initial values."""
    x = inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = layers.ZeroPadding2D(((1, 0), (0, 1)), name="pad")(x)
    x = layers.Conv2D(12, 3, strides=2, name="stem")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(max_value=6.0, name="stem_relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="block1_dw")(x)
    y = layers.Conv2D(12, 1, name="block1_project")(y)
    x = layers.Add(name="block1_add")([x, y])
    a = layers.SeparableConv2D(8, 3, padding="same", activation="relu", name="branch_a")(x)
    b = layers.Conv2D(8, 3, padding="same", dilation_rate=2, name="branch_b")(x)
    b = layers.LeakyReLU(negative_slope=0.1, name="branch_b_leaky")(b)
    c = layers.AveragePooling2D(3, strides=1, padding="same", name="branch_c_pool")(x)
    x = layers.Concatenate(name="block2_concat")([a, b, c])
    z = layers.Conv2D(28, 1, activation="relu", name="block2_mix")(x)
    x = layers.Add(name="block2_add")([x, z])
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="top_conv")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.3, name="drop")(x)
    outputs = layers.Dense(len(CLASSES), activation="softmax", name="classifier")(x)
    model = keras.Model(inputs, outputs, name="workbench_net")
    rng = np.random.default_rng(3)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = weights
            weights = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                       rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 2.0, var.shape)]
        else:
            weights = [rng.normal(0, 0.3, w.shape) for w in weights]
        layer.set_weights([w.astype(np.float32) for w in weights])
    return model


def probabilities(stdout, key="probabilities"):
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    if key == "logits":
        return np.array([r["logits"] for r in rows], np.float64)
    return np.array([[r[key][c] for c in r[key]] for r in rows], np.float64), rows


def check(label, ours, theirs, tolerance=TOLERANCE):
    diff = float(np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64)).max())
    print(f"{label}: largest difference {diff:.3g}")
    RESULTS.append((label, diff))
    assert diff <= tolerance, f"{label}: differs by {diff} (tolerance {tolerance})"
    return diff


def file_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        for name in f.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else str(name)
            names = f[name].attrs["weight_names"]
            out[name] = [np.array(f[name][n.decode() if isinstance(n, bytes) else n])
                         for n in names]
    return out


def keras_written(work, data, probes, x):
    model = keras_model()
    model_json = os.path.join(work, "model.json")
    with open(model_json, "w") as f:
        f.write(model.to_json())
    weights3 = os.path.join(work, "model.weights.h5")
    model.save_weights(weights3)
    whole = os.path.join(work, "whole_model.h5")
    model.save(whole)
    expected = model.predict(x, verbose=0)
    spread = float(np.abs(expected - 1 / len(CLASSES)).max())
    assert spread > 0.05, f"the Keras model's outputs are too uniform ({spread})"
    archive = os.path.join(work, "model.keras")
    model.save(archive)
    cases = [("Keras 3 .weights.h5 with --arch model.json", weights3, ["--arch", model_json]),
             ("whole-model .h5 with --arch model.json", whole, ["--arch", model_json]),
             # Files that hold the architecture too need nothing else.
             ("whole-model .h5 on its own", whole, []),
             (".keras archive on its own", archive, []),
             ("Keras 3 .weights.h5 with --arch model.keras", weights3, ["--arch", archive])]
    for label, weights, arch in cases:
        out = run("predict", weights, *probes, *arch, "--json")
        ours, rows = probabilities(out)
        # The file names no classes: they are numbered in the model's output order.
        assert list(rows[0]["probabilities"]) == ["class_0", "class_1", "class_2"], rows[0]
        check(f"Keras-written model, {label}, convscope predict vs Keras", ours, expected)
    summary = run("summary", model_json, "--size", str(SIZE), "--classes", "3")
    for layer in ("block2_concat", "branch_a", "SeparableConv2D", "classifier"):
        assert layer in summary, f"summary lacks {layer}:\n{summary}"
    return model_json, weights3


def train(work, data, name, *extra):
    out = os.path.join(work, name)
    run("train", data, "--out", out, "--epochs", "1", "--batch", "6", "--size", str(SIZE),
        "--no-augment", "--device", "cpu", "--precision", "fp32", "--seed", "5", "--lr", "0.003",
        "--rescale", str(1 / 255), *extra)
    return os.path.join(out, "weights.h5")


def keras_reads_trained(model_json, weights, probes, x):
    ours, _ = probabilities(run("predict", weights, *probes, "--json"))
    arrays = file_arrays(weights)
    for how in ("in order", "by name"):
        with open(model_json) as f:
            model = keras.models.model_from_json(f.read())
        model.load_weights(weights, **({"by_name": True} if how == "by name" else {}))
        for layer in model.layers:
            for got, want in zip(layer.get_weights(), arrays.get(layer.name, [])):
                assert np.array_equal(got, want), f"{how}: {layer.name} was not loaded"
        check(f"trained --arch model.json, Keras load_weights {how} vs convscope predict", ours,
              model.predict(x, verbose=0))


def surgery(work, data, model_json, weights3, probes, x):
    weights = train(work, data, "surgery", "--arch", model_json, "--weights", weights3,
                    "--cut-after", "block2_add", "--append", "conv:8:3,gap,dropout:0.25",
                    "--freeze-up-to", "block2_add")
    original = keras_model()
    original.load_weights(weights3)
    arrays = file_arrays(weights)
    kept = 0
    for layer in original.layers:
        if layer.get_weights() and layer.name in arrays and layer.name not in ("top_conv",
                                                                                  "classifier"):
            for got, want in zip(arrays[layer.name], layer.get_weights()):
                assert np.array_equal(got, want), f"{layer.name} changed behind a frozen cut"
            kept += 1
    assert kept == 7, f"{kept} pretrained layers kept"
    assert "top_conv" not in arrays and "classifier" not in arrays, sorted(arrays)
    for name in ("added_conv2d", "predictions"):
        assert name in arrays, f"{name} missing from {sorted(arrays)}"

    cut = original.get_layer("block2_add").output
    y = layers.Conv2D(8, 3, padding="same", activation="relu", name="added_conv2d")(cut)
    y = layers.GlobalAveragePooling2D(name="added_global_average_pooling2d")(y)
    y = layers.Dropout(0.25, name="added_dropout")(y)
    y = layers.Dense(len(CLASSES), name="predictions")(y)
    rebuilt = keras.Model(original.input, y)
    rebuilt.load_weights(weights, by_name=True)
    logits = probabilities(run("predict", weights, *probes, "--json", "--logits"), "logits")
    check("surgery (cut after block2_add, conv:8:3,gap,dropout), Keras by name vs convscope "
          "logits", logits, rebuilt.predict(x, verbose=0))

    cam = json.loads(run("cam", weights, probes[0], "--method", "cam", "--out",
                         os.path.join(work, "cam.png"), "--json"))
    assert cam["layer"] == "added_conv2d" and cam["method"] == "cam", cam
    maps = json.loads(run("featuremaps", weights, probes[1], "--layer", "added_conv2d", "--out",
                          os.path.join(work, "maps.png"), "--json"))
    assert maps["channels"] == 8, maps
    return weights


def builtin_surgery(work, data, probes, x):
    """A built-in network is cut as its Keras form: the blog net trained, then cut after its
    second block with a conv and gap appended; its first convolutions stay bit for bit, and
    Keras rebuilds the cut network from ConvScope's config and agrees."""
    base = train(work, data, "blog", "--arch", "small")
    cut = train(work, data, "blog-cut", "--arch", "small", "--weights", base, "--cut-after",
                "max_pooling2d_1", "--append", "conv:16:3,gap", "--freeze-up-to",
                "max_pooling2d_1")
    before, after = file_arrays(base), file_arrays(cut)
    for layer in ("conv2d", "conv2d_1"):
        for a, b in zip(before[layer], after[layer]):
            assert np.array_equal(a, b), f"{layer} changed behind the cut"
    assert "conv2d_2" not in after and "added_conv2d" in after, sorted(after)
    with open(os.path.join(work, "blog-cut", "config.json")) as f:
        model = json.load(f)  # the model settings are top-level keys
    assert model["architecture"] == "keras" and model["cut_after"] == "max_pooling2d_1", model
    # ConvScope writes the Keras form in Keras 2's layout, which Keras 3 reads with the
    # loader it uses for legacy whole-model .h5 files.
    from keras.src.legacy.saving import saving_utils
    rebuilt = saving_utils.model_from_config(model["keras_model"])
    y = rebuilt.get_layer("max_pooling2d_1").output
    y = layers.Conv2D(16, 3, padding="same", activation="relu", name="added_conv2d")(y)
    y = layers.GlobalAveragePooling2D(name="added_global_average_pooling2d")(y)
    y = layers.Dense(len(CLASSES), name="predictions")(y)
    rebuilt = keras.Model(rebuilt.inputs[0], y)
    rebuilt.load_weights(cut, by_name=True)
    logits = probabilities(run("predict", cut, *probes, "--json", "--logits"), "logits")
    check("small cut after max_pooling2d_1 (conv:16:3,gap), Keras by name vs convscope logits",
          logits, rebuilt.predict(x, verbose=0))
    summary = run("summary", "vgg16", "--size", "64", "--cut-after", "block4_pool", "--append",
                  "gap")
    assert "block5_conv1" not in summary and "predictions" in summary, summary
    refused = subprocess.run([BINARY, "summary", "resnet18", "--cut-after", "layer3"],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "torchvision" in refused.stderr, refused.stderr


def onnx_matches(work, label, weights, probes, x):
    path = os.path.join(work, label + ".onnx")
    run("export", weights, "--onnx", path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": np.transpose(x, (0, 3, 1, 2)).astype(np.float32)})[0]
    ours = probabilities(run("predict", weights, *probes, "--json", "--logits"), "logits")
    check(f"{label}: ONNX Runtime {ort.__version__} vs convscope logits", ours, got)


def main():
    global BINARY
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    keras.utils.set_random_seed(1)
    with tempfile.TemporaryDirectory() as work:
        data, probes, x = make_data(work)
        model_json, weights3 = keras_written(work, data, probes, x)
        trained = train(work, data, "custom", "--arch", model_json, "--weights", weights3)
        keras_reads_trained(model_json, trained, probes, x)
        # A .keras archive as starting weights brings its architecture: the same run.
        again = train(work, data, "from-archive", "--weights", os.path.join(work, "model.keras"))
        check("trained from model.keras without --arch vs with --arch model.json",
              probabilities(run("predict", again, *probes, "--json"))[0],
              probabilities(run("predict", trained, *probes, "--json"))[0], 0.0)
        cut = surgery(work, data, model_json, weights3, probes, x)
        builtin_surgery(work, data, probes, x)
        onnx_matches(work, "trained --arch model.json", trained, probes, x)
        onnx_matches(work, "surgery", cut, probes, x)
    print(f"Keras {keras.__version__}, ONNX Runtime {ort.__version__}:")
    for label, diff in RESULTS:
        print(f"  {diff:9.3g}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
