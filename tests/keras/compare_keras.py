#!/usr/bin/env python3
"""ConvScope's Keras graphs (core/models/kerasgraph) against real Keras.

Builds each model in real Keras 3 (KERAS_BACKEND=torch, the environment's own torch) from the
same model config, loads the same weights, predicts on a few deterministic inputs, runs
kerasgraph_tool on the same files and inputs, and compares every output (and a few inner
layers) within 1e-4, printing the largest difference.

  compare_keras.py TOOL CASE [SHARED_DATA]

The backend is KERAS_BACKEND's (torch unless set); CTest also runs the small models on the jax
backend, whose 'same' average pooling is TensorFlow's where the torch backend's is not.

CASE: nsfwjs_mobilenet_v2, nsfwjs_inception_v3 (TF.js layers models written by Keras 2.2.4,
in SHARED_DATA/nsfwjs-4.4.0), or small (models that Keras itself writes here with to_json and
save_weights, in Keras 3's .weights.h5 and Keras 2's HDF5 layout, covering every layer class
ConvScope builds).

Exits 77 (skipped) when Keras is not installed or the shared data is missing, saying why.
"""

import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

TOLERANCE = 1e-4


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


try:
    import numpy as np
    from probeimages import images
    import keras
    from keras import layers
except ImportError as e:  # the environment lacks Keras: say so, never pass silently
    skip(f"Keras or NumPy is not installed for {sys.executable} ({e}); scripts/common.sh "
         "installs them")




def run_tool(tool, model, weights, inputs, taps, work):
    inputs = np.ascontiguousarray(inputs, np.float32)
    path = os.path.join(work, "input.bin")
    inputs.tofile(path)
    command = [tool, "--model", model, "--input", path,
               "--shape", ",".join(str(d) for d in inputs.shape),
               "--output", os.path.join(work, "cs_")]
    if weights:
        command += ["--weights", weights]
    for t in taps:
        command += ["--tap", t]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"kerasgraph_tool failed ({done.returncode}): {done.stderr.strip()}")
        sys.exit(1)
    shapes = json.loads(done.stdout)
    read = lambda name, shape: np.fromfile(os.path.join(work, f"cs_{name}.bin"),
                                           np.float32).reshape(shape)
    outputs = [read(f"output{i}", s) for i, s in enumerate(shapes["outputs"])]
    tapped = {t: read(t, s) for t, s in shapes["taps"].items()}
    return outputs, tapped


def keras_outputs(model, inputs, taps):
    names = [model.get_layer(t).output for t in taps]
    probe = keras.Model(model.inputs, list(model.outputs) + names)
    results = probe([inputs], training=False)
    if not isinstance(results, (list, tuple)):
        results = [results]
    results = [keras.ops.convert_to_numpy(r) for r in results]
    n = len(model.outputs)
    return results[:n], dict(zip(taps, results[n:]))


def compare(label, ours, theirs, relative=False):
    """Max abs difference; for inner layers (relative), against the reference's scale."""
    if ours.shape != theirs.shape:
        print(f"  {label}: shape {ours.shape} in ConvScope, {theirs.shape} in Keras")
        return False
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64))))
    scale = max(1.0, float(np.max(np.abs(theirs)))) if relative else 1.0
    ok = diff <= TOLERANCE * scale
    note = f" (values up to {scale:.3g}, so within {TOLERANCE * scale:.2g})" if relative else ""
    print(f"  {label}: shape {theirs.shape}, largest difference {diff:.3g}{note}"
          f" {'ok' if ok else 'TOO LARGE'}")
    return ok


def check(name, model, tool, model_path, weights_path, inputs, taps, work):
    print(f"{name}: Keras {keras.__version__} ({keras.backend.backend()} backend), "
          f"{len(model.layers)} layers, inputs {inputs.shape}")
    ours, our_taps = run_tool(tool, model_path, weights_path, inputs, taps, work)
    theirs, their_taps = keras_outputs(model, inputs, taps)
    ok = len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        ok &= compare(f"output {i} ({model.outputs[i].name})", a, b)
        if a.ndim == 2 and a.shape == b.shape:
            ok &= bool(np.all(a.argmax(1) == b.argmax(1)))
    for t in taps:
        ok &= compare(f"layer {t}", our_taps[t], their_taps[t], relative=True)
    return ok


def tfjs_weights(model_json):
    """A TF.js manifest's arrays by name, dequantised as TF.js does (min + scale * q)."""
    folder = os.path.dirname(model_json)
    with open(model_json) as f:
        manifest = json.load(f)["weightsManifest"]
    arrays = {}
    for group in manifest:
        data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            q = spec.get("quantization")
            if q:
                stored = np.dtype(q["dtype"])
                raw = np.frombuffer(data, stored, count, offset)
                values = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                stored = np.dtype(spec["dtype"])
                values = np.frombuffer(data, stored, count, offset).astype(np.float32)
            offset += count * stored.itemsize
            arrays[spec["name"]] = values.reshape(spec["shape"])
    return arrays


def nsfwjs(tool, shared, folder, taps, work):
    model_json = os.path.join(shared, "nsfwjs-4.4.0", folder, "model.json")
    if not os.path.exists(model_json):
        skip(f"{model_json} is missing (no shared data folder beside this checkout)")
    with open(model_json) as f:
        topology = json.load(f)["modelTopology"]
    # Keras 3 reads Keras 2.2.4's functional config; the class name "Model" it no longer knows.
    model = keras.Model.from_config(topology["model_config"]["config"])
    arrays = tfjs_weights(model_json)
    for layer in model.layers:
        if layer.weights:
            # Keras 3 calls DepthwiseConv2D's kernel "kernel"; Keras 2 "depthwise_kernel".
            names = [f"{layer.name}/{w.name}" for w in layer.weights]
            names = [n if n in arrays else n.replace("/kernel", "/depthwise_kernel") for n in names]
            layer.set_weights([arrays[n] for n in names])
    side = model.input_shape[1]
    inputs = images(3, side, side, 3, seed=14)
    return check(f"nsfwjs {folder} (TF.js, Keras {topology['keras_version']})", model, tool,
                 model_json, "", inputs, taps, work)


def randomise(model, seed):
    """Weights that make every layer matter: no zero biases, no identity batch norms."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            if "variance" in w.name:
                values.append(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            elif "gamma" in w.name:
                values.append(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            else:
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 4
                values.append(rng.normal(0, 1 / np.sqrt(fan_in), shape).astype(np.float32))
        if values:
            layer.set_weights(values)


def save(model, work, name):
    """to_json(), and the weights twice: Keras 3's own .weights.h5 (layers/<path>/vars/<i>) and
    the Keras 2 layout (layer_names / weight_names) as Keras 3's legacy HDF5 writer makes it."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    config = os.path.join(work, f"{name}.json")
    with open(config, "w") as f:
        f.write(model.to_json())
    keras3 = os.path.join(work, f"{name}.weights.h5")
    model.save_weights(keras3)
    legacy = os.path.join(work, f"{name}.h5")
    with h5py.File(legacy, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return config, [keras3, legacy]


def small_functional():
    """Every image layer, 'same' padding uneven (stride 2 on even sides, even kernels), two
    branches added and concatenated, two outputs."""
    inp = keras.Input((17, 16, 3), name="image")
    x = layers.Rescaling(0.5, offset=-0.25, name="rescale")(inp)
    x = layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)  # 20 x 17
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv_s2")(x)
    x = layers.BatchNormalization(epsilon=1e-2, momentum=0.9, name="bn")(x)
    a = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6",
                               name="dw")(x)
    b = layers.SeparableConv2D(16, 3, padding="same", activation="swish", name="sep")(x)
    x = layers.Add(name="add")([a, b])
    x = layers.Conv2D(12, 2, padding="same", use_bias=False, name="conv_even")(x)
    x = layers.BatchNormalization(center=False, name="bn_nocenter")(x)
    x = layers.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.5, name="relu")(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", name="dw_s2")(x)  # 10x9 -> 5x5
    m = layers.MaxPooling2D(3, strides=2, padding="same", name="maxpool_same")(x)
    v = layers.AveragePooling2D(3, strides=2, padding="same", name="avgpool_same")(x)
    x = layers.Concatenate(name="concat")([m, v])
    x = layers.Conv2D(6, 1, dilation_rate=1, name="conv_1x1")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky")(x)
    g = layers.GlobalAveragePooling2D(name="gap")(x)
    gm = layers.GlobalMaxPooling2D(name="gmp")(x)
    h = layers.Concatenate(axis=-1, name="concat_vec")([g, gm])
    h = layers.Dense(10, activation="tanh", name="fc")(h)
    h = layers.Dropout(0.3, name="drop")(h)
    h = layers.BatchNormalization(scale=False, name="bn_vec")(h)
    out1 = layers.Softmax(name="probs")(layers.Dense(4, name="logits")(h))
    f = layers.Flatten(name="flatten")(x)
    out2 = layers.Dense(3, activation="sigmoid", name="side")(f)
    return keras.Model(inp, [out1, out2], name="small_functional")


def small_sequential():
    """Sequential: a valid conv with rectangular kernel, dilation and groups; valid pooling;
    'same' max pooling with an even window; Dense on an image (its channel axis)."""
    return keras.Sequential([
        keras.Input((23, 22, 4)),
        layers.Conv2D(8, (3, 2), dilation_rate=(2, 1), groups=2,
                      activation="elu", name="conv_grouped"),
        layers.MaxPooling2D((2, 3), name="maxpool_valid"),
        layers.MaxPooling2D(2, strides=1, padding="same", name="maxpool_even_same"),
        layers.AveragePooling2D(2, name="avgpool_valid"),
        layers.Dense(5, activation="selu", name="dense_on_image"),
        layers.SeparableConv2D(4, 2, strides=2, padding="same", depth_multiplier=3,
                               use_bias=False, name="sep_s2"),
        layers.Flatten(name="flatten"),
        layers.Dense(6, name="out"),
    ], name="small_sequential")


def small_activations():
    """Each activation by name on the same Dense output, concatenated."""
    names = ["relu", "relu6", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "swish",
             "silu", "hard_sigmoid", "hard_silu", "gelu", "softplus", "softsign", "exponential"]
    inp = keras.Input((6,), name="vector")
    x = layers.Dense(8, name="pre")(inp)
    branches = [layers.Activation(n, name=f"act_{n}")(x) for n in names]
    return keras.Model(inp, layers.Concatenate(name="all")(branches), name="small_activations")


def small_uneven_pooling():
    """'same' pooling whose padding is uneven: TensorFlow averages over the cells inside the
    input only, and its padding goes below and to the right."""
    inp = keras.Input((8, 7, 3), name="image")
    a = layers.AveragePooling2D(2, strides=1, padding="same", name="avg_2_s1")(inp)
    b = layers.AveragePooling2D(3, strides=2, padding="same", name="avg_3_s2")(inp)
    c = layers.MaxPooling2D(2, strides=2, padding="same", name="max_2_s2")(inp)
    x = layers.Conv2D(4, 1, name="mix")(layers.Concatenate(name="cat")([b, c]))
    return keras.Model(inp, [a, x], name="small_uneven_pooling")


def small(tool, work):
    ok = True
    for seed, build, taps in [(1, small_functional, ["add", "concat", "bn_vec"]),
                              (2, small_sequential, ["avgpool_valid", "dense_on_image"]),
                              (3, small_activations, []),
                              (4, small_uneven_pooling, ["avg_3_s2"])]:
        if build is small_uneven_pooling and keras.backend.backend() == "torch":
            # Keras 3's torch backend pads uneven 'same' pooling by repeating the edge, so its
            # averages count the padded cells; its jax backend (and TensorFlow) do not.
            print("small_uneven_pooling: not compared on the torch backend, whose uneven 'same' "
                  "average pooling counts edge copies (Keras's jax backend, keras.small_jax, "
                  "checks it)")
            continue
        model = build()
        randomise(model, seed)
        config, weight_files = save(model, work, model.name)
        shape = model.input_shape
        inputs = (images(3, shape[1], shape[2], shape[3], seed) if len(shape) == 4
                  else np.random.default_rng(seed).normal(0, 1, (5, shape[1])).astype(np.float32))
        for weights in weight_files:
            ok &= check(f"{model.name} ({os.path.basename(weights)})", model, tool, config,
                        weights, inputs, taps, work)
    return ok


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    tool, case = sys.argv[1], sys.argv[2]
    if keras.backend.backend() == "jax":
        try:
            import jax  # noqa: F401
        except ImportError as e:
            skip(f"jax is not installed for {sys.executable} ({e}); scripts/common.sh installs it")
    shared = sys.argv[3] if len(sys.argv) > 3 else ""
    with tempfile.TemporaryDirectory() as work:
        if case == "nsfwjs_mobilenet_v2":
            ok = nsfwjs(tool, shared, "mobilenet_v2", ["out_relu", "dense_2"], work)
        elif case == "nsfwjs_inception_v3":
            ok = nsfwjs(tool, shared, "inception_v3", ["mixed5", "mixed10", "dense_2"], work)
        elif case == "small":
            ok = small(tool, work)
        else:
            print(f"unknown case {case}")
            return 2
    print("PASS" if ok else "FAIL: ConvScope differs from Keras by more than 1e-4")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
