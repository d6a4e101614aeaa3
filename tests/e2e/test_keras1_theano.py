"""A Keras 1 / Theano weights file end to end: `convscope predict --kernel-layout theano` on the
Keras blog convnet saved the Keras 1 way matches real Keras 3 within 1e-4.

The file is written with h5py as Keras 1.2.2's `Container.save_weights_to_hdf5_group` wrote it
(keras/engine/topology.py): the root attribute `layer_names` only (no keras_version, no
backend: Keras 1's save_weights wrote neither), one group per layer of the Sequential model
with Keras 1's automatic names (convolution2d_1, activation_1, maxpooling2d_1, ..., flatten_1,
dense_1, dropout_1, dense_2), its attribute `weight_names` (the Theano variables' names,
"convolution2d_1_W", "convolution2d_1_b"; an empty list for layers without weights) and one
float32 dataset per weight. The model used Theano dim ordering ('th'): conv kernels
(out, in, h, w) applied as Theano's true convolution, Flatten over (C, H, W).

The reference is real Keras 3 (torch backend), not a re-implementation. First Keras 3's own
legacy loader is tried on the file (`model.load_weights`); Keras 3 no longer converts Keras 1
or Theano kernels (legacy_h5_format.py reads keras_version and backend and uses neither), so
it refuses the (out, in, h, w) kernels and the test says so. The reference is then the same
channels_first model in Keras 3 (Conv2D and MaxPooling2D with data_format="channels_first",
and a Reshape for Keras 1's Flatten, which flattened (C, H, W) as it came) whose kernels are
converted by Keras 2's documented rules, the two lines of numpy that Keras 2's
preprocess_weights_for_loading applies: np.transpose(W, (2, 3, 1, 0)) for a Keras 1
channels_first Conv2D, then conv_utils.convert_kernel (both spatial axes reversed) because the
original backend convolved and the loading one correlates. Those two lines are the only part
not run by Keras.

Also checked: without the option ConvScope transposes the kernels (their shapes say so) but
cannot know Theano trained them, says so on stderr and differs from the reference; the same
file with backend 'theano' (as Keras 2 writes it) is detected without the option; and
--kernel-layout tensorflow refuses the (out, in, h, w) kernels. Exits 77 where Keras cannot be
imported. Run with the PyTorch environment's python: test_keras1_theano.py CONVSCOPE_BINARY"""
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
SIZE = 40  # 38, 19, 17, 8, 6, 3: a 3 x 3 x 64 map before Flatten, so (C, H, W) order matters
CLASSES = ["cats", "dogs", "birds"]

# Keras 1.2.2's Sequential: every layer named <class name lowercased>_<per-class count>.
KERAS1_LAYERS = [
    ("convolution2d_1", (32, 3, 3, 3)), ("activation_1", None), ("maxpooling2d_1", None),
    ("convolution2d_2", (32, 32, 3, 3)), ("activation_2", None), ("maxpooling2d_2", None),
    ("convolution2d_3", (64, 32, 3, 3)), ("activation_3", None), ("maxpooling2d_3", None),
    ("flatten_1", None),
    ("dense_1", (64 * 3 * 3, 64)), ("activation_4", None), ("dropout_1", None),
    ("dense_2", (64, len(CLASSES))), ("activation_5", None),
]


def keras1_weights(seed):
    """{layer: [W, b]} with Keras 1 'th' shapes, scaled so that activations stay O(1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in KERAS1_LAYERS:
        if shape is None:
            continue
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        w = rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
        b = rng.normal(0, 0.05, shape[0] if len(shape) == 4 else shape[1]).astype(np.float32)
        out[name] = [w, b]
    return out


def write_keras1_file(path, weights, backend=None):
    """What Keras 1.2.2's model.save_weights(path) wrote for this Sequential model (Theano
    backend); `backend` adds the root attribute Keras 2 writes, for the detection check."""
    # Keras 1 assigned lists of bytes; the h5py of its day (2.x) stored them as numpy made
    # them, fixed-length 'S' arrays, and an empty list as float64 of shape (0,).
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([name.encode("utf8") for name, _ in KERAS1_LAYERS])
        if backend:
            f.attrs["backend"] = backend.encode("utf8")
        for name, _ in KERAS1_LAYERS:
            g = f.create_group(name)
            arrays = weights.get(name, [])
            weight_names = [f"{name}_{suffix}".encode("utf8") for suffix in ("W", "b")][
                :len(arrays)]
            g.attrs["weight_names"] = np.array(weight_names)
            for weight_name, val in zip(weight_names, arrays):
                dset = g.create_dataset(weight_name, val.shape, dtype=val.dtype)
                dset[:] = val


def keras3_channels_first_model():
    """Keras 1's 'th' blog convnet in Keras 3: channels_first convolutions and pooling, and a
    Reshape where Keras 1's Flatten took (C, H, W) as it came (Keras 3's Flatten would first
    move the channels last)."""
    x = inputs = keras.Input((3, SIZE, SIZE))
    for i, filters in enumerate((32, 32, 64), start=1):
        x = layers.Conv2D(filters, 3, data_format="channels_first",
                          name=f"convolution2d_{i}")(x)
        x = layers.Activation("relu", name=f"activation_{i}")(x)
        x = layers.MaxPooling2D(2, data_format="channels_first", name=f"maxpooling2d_{i}")(x)
    x = layers.Reshape((-1,), name="flatten_1")(x)
    x = layers.Dense(64, name="dense_1")(x)
    x = layers.Activation("relu", name="activation_4")(x)
    x = layers.Dropout(0.5, name="dropout_1")(x)
    logits = layers.Dense(len(CLASSES), name="dense_2")(x)
    return keras.Model(inputs, logits)


def keras2_converted(weights):
    """Keras 2's preprocess_weights_for_loading for these layers: a Keras 1 channels_first
    Conv2D kernel transposed (2, 3, 1, 0), then convert_kernel for a Theano original (every
    axis but the last two reversed); dense layers unchanged."""
    out = []
    for name, shape in KERAS1_LAYERS:
        if shape is None:
            continue
        w, b = weights[name]
        if w.ndim == 4:
            w = np.transpose(w, (2, 3, 1, 0))
            w = np.copy(w[::-1, ::-1, :, :])
        out += [w, b]
    return out


def write_images(folder, seed):
    rng = random.Random(seed)
    paths, pixels = [], []
    for i in range(4):
        rows = [bytes(rng.randrange(256) for _ in range(SIZE * 3)) for _ in range(SIZE)]
        path = os.path.join(folder, f"t{i}.png")
        write_png_rows(path, SIZE, SIZE, rows)
        paths.append(path)
        pixels.append(np.frombuffer(b"".join(rows), np.uint8).reshape(SIZE, SIZE, 3))
    return paths, np.stack(pixels)


def predict(binary, weights, paths, *extra):
    cmd = [binary, "predict", weights, *paths, "--json", "--logits", "--arch", "small",
           "--size", str(SIZE), "--classes", ",".join(CLASSES), "--device", "cpu",
           "--precision", "fp32", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def logits_of(run, paths):
    if run.returncode != 0:
        raise AssertionError(f"predict failed:\n{run.stdout}\n{run.stderr}")
    rows = {}
    for line in run.stdout.splitlines():
        row = json.loads(line)
        rows[os.path.basename(row["path"])] = row["logits"]
    return np.array([rows[os.path.basename(p)] for p in paths], np.float64)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    weights = keras1_weights(seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        keras1_path = os.path.join(tmp, "blog_convnet_keras1.h5")
        write_keras1_file(keras1_path, weights)
        paths, pixels = write_images(tmp, seed=3)

        model = keras3_channels_first_model()
        try:
            model.load_weights(keras1_path)
            converted = False
        except ValueError as e:
            print(f"Keras {keras.__version__} does not convert Keras 1 Theano kernels: "
                  f"{str(e).splitlines()[0][:160]}")
            converted = None
        if converted is not None:
            raise AssertionError(f"Keras {keras.__version__} now loads Keras 1 'th' kernels: "
                                 "make it the reference instead of Keras 2's rules")
        model.set_weights(keras2_converted(weights))
        x = np.transpose(pixels.astype(np.float32) / np.float32(255.0), (0, 3, 1, 2))
        reference = np.asarray(model.predict(x, verbose=0), np.float64)

        told = logits_of(predict(binary, keras1_path, paths, "--kernel-layout", "theano"), paths)
        worst = float(np.abs(told - reference).max())
        assert worst <= TOLERANCE, f"--kernel-layout theano differs from Keras by {worst:.3g}"

        guessed_run = predict(binary, keras1_path, paths)
        guessed = logits_of(guessed_run, paths)
        assert "--kernel-layout theano" in guessed_run.stderr, guessed_run.stderr
        assert "loaded in order" in guessed_run.stderr, guessed_run.stderr
        guessed_diff = float(np.abs(guessed - reference).max())
        assert guessed_diff > 100 * TOLERANCE, \
            f"unflipped kernels match the reference too ({guessed_diff:.3g}): no test of the flip"

        with_backend = os.path.join(tmp, "with_backend.h5")
        write_keras1_file(with_backend, weights, backend="theano")
        detected = logits_of(predict(binary, with_backend, paths), paths)
        detected_diff = float(np.abs(detected - reference).max())
        assert detected_diff <= TOLERANCE, f"backend 'theano' detected: off by {detected_diff:.3g}"

        refused = predict(binary, keras1_path, paths, "--kernel-layout", "tensorflow")
        assert refused.returncode != 0 and "shape mismatch" in refused.stderr, refused.stderr

    print(f"largest differences: --kernel-layout theano {worst:.3g}, "
          f"backend attribute {detected_diff:.3g}; without the option {guessed_diff:.3g}")
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
