"""Real Keras reads ConvScope's weights end to end: `convscope train` writes weights.h5 (Keras 2
save_weights layout), Keras 3 loads it into the equivalent channels-last model, both in order
(`model.load_weights(path)`) and by layer name (`by_name=True`), and the Keras model's
probabilities match `convscope predict --json` within 1e-4 on the same pixels.

Covers the Keras blog convnet (`small`) with its flatten and gap heads, and MobileNetV2 in its
Keras flavour (gap head) at an odd-after-halving size, so both of Keras's stride-2 paddings run.
Images are written at the training size, so ConvScope does not resize them and both sides see
the same pixels. Exits 77 where Keras cannot be imported. Run with the PyTorch environment's
python: test_keras_reads_convscope.py CONVSCOPE_BINARY"""
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
except Exception as e:  # noqa: BLE001 - any import failure means "no Keras here"
    print(f"SKIP: Keras (with h5py and numpy) cannot be imported ({type(e).__name__}: {e})")
    sys.exit(77)

TOLERANCE = 1e-4
CLASSES = ["cats", "dogs"]


def noise_image(rng, size, tint):
    """size x size RGB rows of noise, tinted per class so training moves away from 1/2."""
    rows = []
    for _ in range(size):
        row = bytearray()
        for _ in range(size):
            row += bytes(min(255, max(0, rng.randrange(256) // 2 + t)) for t in tint)
        rows.append(bytes(row))
    return rows


def write_images(folder, size, seed):
    """A class-folder data set for training and separate test images, all size x size PNGs.
    Returns the test image paths and their pixels (N x size x size x 3 uint8)."""
    rng = random.Random(seed)
    tints = {"cats": (120, 30, 30), "dogs": (30, 30, 120)}
    for cls in CLASSES:
        for i in range(8):
            write_png_rows(os.path.join(folder, "data", cls, f"{i}.png"), size, size,
                           noise_image(rng, size, tints[cls]))
    paths, pixels = [], []
    for i, tint in enumerate([(120, 30, 30), (30, 30, 120), (70, 70, 70), (0, 128, 60)]):
        rows = noise_image(rng, size, tint)
        path = os.path.join(folder, "test", f"t{i}.png")
        write_png_rows(path, size, size, rows)
        paths.append(path)
        pixels.append(np.frombuffer(b"".join(rows), np.uint8).reshape(size, size, 3))
    return paths, np.stack(pixels)


def train(binary, folder, out, args):
    cmd = [binary, "train", os.path.join(folder, "data"), "--out", out, "--epochs", "1",
           "--batch", "4", "--no-augment", "--device", "cpu", "--precision", "fp32", "--seed", "1",
           "--optimizer", "adam", "--lr", "0.01"] + args
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{run.stdout}\n{run.stderr}")
    return os.path.join(out, "weights.h5")


def convscope_probabilities(binary, weights, paths):
    run = subprocess.run([binary, "predict", weights, *paths, "--json", "--device", "cpu",
                          "--precision", "fp32"], capture_output=True, text=True)
    if run.returncode != 0:
        raise AssertionError(f"predict failed:\n{run.stdout}\n{run.stderr}")
    rows = {}
    for line in run.stdout.splitlines():
        if line.strip():
            row = json.loads(line)
            rows[os.path.basename(row["path"])] = [row["probabilities"][c] for c in CLASSES]
    return np.array([rows[os.path.basename(p)] for p in paths], np.float64)


def preprocess(pixels, metadata):
    """ConvScope's preprocessing as recorded in the file: (x [BGR] * rescale - mean) / std."""
    pre = metadata["preprocessing"]
    x = pixels.astype(np.float32)
    if pre.get("bgr"):
        x = x[..., ::-1]
    x = x * np.float32(pre.get("rescale", 1.0))
    x = (x - np.array(pre["mean"], np.float32)) / np.array(pre["std"], np.float32)
    return x


def small_model(size, head, classes, channels_first_flatten=False):
    """The Keras blog convnet with ConvScope's layer names (core/models/kerasnets.cpp);
    channels_first_flatten: the wrong model (flattening NCHW), a negative control."""
    x = inputs = keras.Input((size, size, 3))
    for i, (name, filters) in enumerate([("conv2d", 32), ("conv2d_1", 32), ("conv2d_2", 64)]):
        x = layers.Conv2D(filters, 3, activation="relu", name=name)(x)
        x = layers.MaxPooling2D(2, name="max_pooling2d" + ("" if i == 0 else f"_{i}"))(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
        x = layers.Dense(classes, activation="softmax", name="dense")(x)
    else:
        if channels_first_flatten:
            x = layers.Permute((3, 1, 2), name="to_channels_first")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(64, activation="relu", name="dense")(x)
        x = layers.Dropout(0.5, name="dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="dense_1")(x)
    return keras.Model(inputs, x)


def mobilenetv2_model(size, classes):
    """keras.applications.MobileNetV2 (alpha 1, untrained) + ConvScope's gap head."""
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False,
                                          weights=None, pooling="avg")
    x = layers.Dense(classes, activation="softmax", name="predictions")(base.output)
    return keras.Model(base.input, x)


def file_arrays(path):
    """{layer: [arrays in the file's weight_names order]} for layers that have weights."""
    out = {}
    with h5py.File(path, "r") as f:
        for name in f.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else str(name)
            weight_names = f[name].attrs["weight_names"]
            if len(weight_names):
                out[name] = [np.array(f[name][w.decode() if isinstance(w, bytes) else w])
                             for w in weight_names]
    return out


def check_loaded(model, arrays, how):
    """Every weighted Keras layer holds exactly the file's arrays of the same name."""
    loaded = 0
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        assert layer.name in arrays, f"{how}: Keras layer {layer.name} is not in the file"
        expected = arrays[layer.name]
        assert len(weights) == len(expected), f"{how}: {layer.name} has {len(weights)} arrays"
        for got, want in zip(weights, expected):
            assert got.shape == want.shape and np.array_equal(got, want), \
                f"{how}: {layer.name} differs from the file"
        loaded += 1
    assert loaded == len(arrays), f"{how}: {loaded} layers loaded of {len(arrays)} in the file"


def compare(label, binary, weights, build, paths, pixels, wrong_build=None):
    with h5py.File(weights, "r") as f:
        metadata = json.loads(f.attrs["convscope_model"])
    expected = convscope_probabilities(binary, weights, paths)
    x = preprocess(pixels, metadata)
    arrays = file_arrays(weights)
    spread = float(np.abs(expected - 1.0 / len(CLASSES)).max())
    assert spread > 0.01, f"{label}: probabilities too close to uniform to tell models apart"

    untrained = build()
    untrained_diff = float(np.abs(untrained.predict(x, verbose=0) - expected).max())

    worst = 0.0
    for how in ("in order", "by name"):
        model = build()
        if how == "in order":
            model.load_weights(weights)
        else:
            model.load_weights(weights, by_name=True)
        check_loaded(model, arrays, how)
        got = np.asarray(model.predict(x, verbose=0), np.float64)
        diff = float(np.abs(got - expected).max())
        print(f"{label}: Keras {keras.__version__} load_weights {how}: largest difference "
              f"{diff:.3g} over {len(paths)} images (probabilities up to {spread:.3f} from "
              f"uniform; untrained Keras model differs by {untrained_diff:.3g})")
        assert diff <= TOLERANCE, f"{label} ({how}): Keras differs from convscope by {diff}"
        worst = max(worst, diff)
    assert untrained_diff > TOLERANCE, f"{label}: the comparison cannot tell trained from untrained"
    if wrong_build:
        wrong = wrong_build()
        wrong.load_weights(weights)
        wrong_diff = float(np.abs(wrong.predict(x, verbose=0) - expected).max())
        print(f"{label}: negative control, the same weights flattened channels-first: "
              f"differs by {wrong_diff:.3g}")
        assert wrong_diff > TOLERANCE, f"{label}: the comparison cannot tell NHWC from NCHW"
    return worst


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # The blog convnet at 32: 30, 15, 13, 6, 4, 2 -> 2 x 2 x 64 for the flatten head.
        small_dir = os.path.join(tmp, "small")
        paths, pixels = write_images(small_dir, 32, seed=1)
        for head in ("flatten", "gap"):
            weights = train(binary, small_dir, os.path.join(small_dir, f"run_{head}"),
                            ["--arch", "small", "--size", "32", "--head", head])
            results[f"small/{head}"] = compare(
                f"small --head {head}", binary, weights,
                lambda head=head: small_model(32, head, len(CLASSES)), paths, pixels,
                (lambda: small_model(32, head, len(CLASSES), True)) if head == "flatten" else None)

        # MobileNetV2, Keras flavour, at 40: 20, 10, 5, 3, 2 - even and odd stride-2 inputs.
        mnv2_dir = os.path.join(tmp, "mnv2")
        paths, pixels = write_images(mnv2_dir, 40, seed=2)
        weights = train(binary, mnv2_dir, os.path.join(mnv2_dir, "run"),
                        ["--arch", "mobilenetv2", "--flavour", "keras", "--head", "gap",
                         "--size", "40"])
        results["mobilenetv2/keras/gap"] = compare(
            "mobilenetv2 --flavour keras --head gap", binary, weights,
            lambda: mobilenetv2_model(40, len(CLASSES)), paths, pixels)

    print("largest differences: " + ", ".join(f"{k} {v:.3g}" for k, v in results.items()))
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
