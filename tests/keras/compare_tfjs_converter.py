#!/usr/bin/env python3
"""TF.js layers models written by TensorFlow.js's own converter, loaded by ConvScope.

Small Keras models (the Keras blog's Sequential convnet; a functional net with Rescaling,
ZeroPadding2D, strided and 1x1 convolutions, DepthwiseConv2D, SeparableConv2D, batch norms with
non-trivial moving statistics, Add, Concatenate, max and average pooling, two outputs; every
activation by name) are built in tf_keras (Keras 2, the Keras that the converter reads), given
random weights, saved as HDF5 and turned into TF.js layers models (model.json + shards) by the
real `tensorflowjs_converter --input_format keras`, in float32 and quantized to float16 and
uint8. kerasgraph_tool loads each model.json and runs the same inputs as Keras; the outputs,
and a few inner layers against their own scale, must agree:

  float32:          within 1e-4 of the Keras model that was converted.
  float16 / uint8:  within 1e-4 of the converter's own reading of that model.json back into
                    tf_keras (tensorflowjs.converters.load_keras_model, which dequantizes as
                    TF.js does); the difference from the unquantized model is printed, and for
                    float16 (11-bit mantissa) must stay within 1e-2.
  Keras 3 .keras:   the converter's keras_keras path (tensorflow/tfjs#8266) must be refused
                    with the missing weights named, or match within 1e-4.

  compare_tfjs_converter.py TOOL TFJS_PYTHON

TFJS_PYTHON is the interpreter of the converter's environment (scripts/common.sh makes it apart
from the PyTorch one: TensorFlow 2.19 wants numpy < 2.2). This script runs there itself with
--make FOLDER to build, convert and predict; the comparison runs here, with numpy only.
Exits 77 (skipped), saying why, when that environment is missing; fails when it is there
but cannot import the converter.
"""

import json
import os
import subprocess
import sys
import tempfile

TOLERANCE = 1e-4
FLOAT16_FROM_ORIGINAL = 1e-2


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


# ---- The converter's side: runs under TFJS_PYTHON with --make FOLDER. ----



def blog_convnet(keras):
    """The Keras blog's small convnet ("Building powerful image classification models using
    very little data"), on 72x64 inputs instead of 150x150."""
    L = keras.layers
    return keras.Sequential([
        L.InputLayer(input_shape=(72, 64, 3)),
        L.Conv2D(32, (3, 3), name="conv1"), L.Activation("relu", name="relu1"),
        L.MaxPooling2D(pool_size=(2, 2), name="pool1"),
        L.Conv2D(32, (3, 3), name="conv2"), L.Activation("relu", name="relu2"),
        L.MaxPooling2D(pool_size=(2, 2), name="pool2"),
        L.Conv2D(64, (3, 3), name="conv3"), L.Activation("relu", name="relu3"),
        L.MaxPooling2D(pool_size=(2, 2), name="pool3"),
        L.Flatten(name="flatten"),
        L.Dense(64, name="fc1"), L.Activation("relu", name="relu4"),
        L.Dropout(0.5, name="drop"),
        L.Dense(1, name="fc2"), L.Activation("sigmoid", name="prob"),
    ], name="blog_convnet")


def functional_net(keras):
    """Every image layer ConvScope builds; 'same' padding uneven (stride 2 on even sides, even
    kernels), two branches added and concatenated, two outputs."""
    L = keras.layers
    inp = keras.Input((33, 32, 3), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1, name="rescale")(inp)
    x = L.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)  # 36 x 33
    x = L.Conv2D(16, 3, strides=2, padding="same", name="conv_s2")(x)
    x = L.BatchNormalization(epsilon=1e-3, name="bn")(x)
    x = L.ReLU(max_value=6.0, name="relu6")(x)
    a = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu", name="dw")(x)
    b = L.SeparableConv2D(32, 3, padding="same", activation="swish", name="sep")(x)
    x = L.Add(name="add")([a, b])
    x = L.Conv2D(24, 2, padding="same", use_bias=False, name="conv_even")(x)
    x = L.BatchNormalization(center=False, name="bn_nocenter")(x)
    x = L.LeakyReLU(alpha=0.2, name="leaky")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False, name="dw_s2")(x)
    m = L.MaxPooling2D(3, strides=2, padding="same", name="maxpool_same")(x)
    v = L.AveragePooling2D(3, strides=2, padding="same", name="avgpool_same")(x)
    w = L.AveragePooling2D(2, strides=2, padding="valid", name="avgpool_valid")(x)
    w = L.ZeroPadding2D(((0, 1), (0, 1)), name="pad_valid")(w)
    x = L.Concatenate(name="concat")([m, v, w])
    x = L.Conv2D(12, 1, activation="elu", name="conv_1x1")(x)
    x = L.BatchNormalization(scale=False, name="bn_noscale")(x)
    g = L.GlobalAveragePooling2D(name="gap")(x)
    gm = L.GlobalMaxPooling2D(name="gmp")(x)
    h = L.Concatenate(name="concat_vec")([g, gm])
    h = L.Dense(16, activation="tanh", name="fc")(h)
    h = L.Dropout(0.3, name="drop")(h)
    h = L.BatchNormalization(name="bn_vec")(h)
    out1 = L.Softmax(name="probs")(L.Dense(5, name="logits")(h))
    out2 = L.Dense(3, activation="sigmoid", name="side")(L.Flatten(name="flatten")(x))
    return keras.Model(inp, [out1, out2], name="functional_net")


def activations_net(keras):
    """Each activation tf_keras knows by name, on the same convolution, concatenated; its
    hard_sigmoid is Keras 2's (0.2 x + 0.5), as in TF.js."""
    L = keras.layers
    names = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "swish", "gelu",
             "hard_sigmoid", "softplus", "softsign", "exponential"]
    inp = keras.Input((9, 8, 2), name="image")
    x = L.Conv2D(6, 3, name="pre")(inp)
    branches = [L.Activation(n, name=f"act_{n}")(x) for n in names]
    return keras.Model(inp, L.Concatenate(name="all")(branches), name="activations_net")


def randomise(np, model, seed):
    """Weights that make every layer matter: no zero biases, no identity batch norms."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape, name = tuple(w.shape), w.name
            if "moving_variance" in name or "gamma" in name:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif "moving_mean" in name or "beta" in name:
                values.append(rng.normal(0, 0.5, shape))
            else:
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 4
                values.append(rng.normal(0, 1.3 / np.sqrt(fan_in), shape))
        if values:
            layer.set_weights([v.astype(np.float32) for v in values])


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def predict(np, keras, model, x, taps):
    """The model's outputs, then the outputs of the tapped layers."""
    probe = keras.Model(model.inputs, list(model.outputs) + [model.get_layer(t).output
                                                            for t in taps])
    return [np.asarray(o, np.float32) for o in as_list(probe(x, training=False))]


def convert(folder, name, flags, source, input_format):
    converter = os.path.join(os.path.dirname(sys.executable), "tensorflowjs_converter")
    out = os.path.join(folder, name)
    command = [converter, "--input_format", input_format, "--output_format",
               "tfjs_layers_model", *flags, source, out]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    return os.path.join(out, "model.json"), " ".join(command[1:-2])


def record(np, folder, name, model_json, command, x, reference, original, layers, taps):
    """Saves the arrays of one case and returns its entry in cases.json."""
    files = {}
    for kind, arrays in [("input", [x]), ("reference", reference), ("original", original)]:
        files[kind] = []
        for i, a in enumerate(arrays):
            files[kind].append(os.path.join(folder, f"{name}.{kind}{i}.npy"))
            np.save(files[kind][-1], a)
    with open(model_json) as f:
        manifest = json.load(f)
    folder_json = os.path.dirname(model_json)
    shards = [os.path.join(folder_json, p) for g in manifest["weightsManifest"] for p in g["paths"]]
    return {"name": name, "model_json": model_json, "command": command, "layers": layers,
            "taps": taps, "generated_by": manifest.get("generatedBy", ""),
            "converted_by": manifest.get("convertedBy", ""),
            "shard_bytes": sum(os.path.getsize(s) for s in shards), **files}


def make(folder):
    """Builds, converts and predicts; writes FOLDER/cases.json naming every file."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np
    import tensorflow as tf
    import tf_keras
    import keras as keras3
    import tensorflowjs
    from tensorflowjs.converters import load_keras_model
    from probeimages import images

    versions = {"tensorflowjs": tensorflowjs.__version__, "tensorflow": tf.__version__,
                "tf_keras": tf_keras.__version__, "keras": keras3.__version__}
    cases = []
    for seed, build, scale, taps in [
            (1, blog_convnet, 1, ["fc2", "pool3"]),
            (2, functional_net, 255, ["logits", "add", "concat", "bn_vec"]),
            (3, activations_net, 1, [])]:
        tf_keras.backend.clear_session()
        model = build(tf_keras)
        randomise(np, model, seed)
        h5 = os.path.join(folder, f"{model.name}.h5")
        model.save(h5)
        _, height, width, channels = model.input_shape
        x = images(4, height, width, channels, seed) * np.float32(scale)
        original = predict(np, tf_keras, model, x, taps)
        quantizations = [("float32", [])]
        if build is not activations_net:
            quantizations += [("float16", ["--quantize_float16", "*"]),
                              ("uint8", ["--quantize_uint8", "*"])]
        for label, flags in quantizations:
            name = f"{model.name}-{label}"
            model_json, command = convert(folder, name, flags, h5, "keras")
            reference = original
            if flags:  # the same model.json read back by the converter, dequantized
                tf_keras.backend.clear_session()
                reference = predict(np, tf_keras, load_keras_model(model_json), x, taps)
            entry = record(np, folder, name, model_json, command, x, reference, original,
                           len(model.layers), taps)
            cases.append({**entry, "quantization": label,
                          "keras": f"tf_keras {tf_keras.__version__}"})

    # Keras 3's .keras through the converter's keras_keras path: its manifest names the weights
    # by Keras 3's storage paths (layers/batch_normalization/vars/0), not by layer, and TF.js's
    # maintainers call that path unsupported (tensorflow/tfjs#8266). ConvScope must refuse such
    # a file or match it, never load it wrongly.
    model = functional_net(keras3)
    randomise(np, model, 2)
    source = os.path.join(folder, "keras3", "functional_net.keras")
    os.makedirs(os.path.dirname(source))
    model.save(source)
    x = images(4, 33, 32, 3, 2) * np.float32(255)
    reference = predict(np, keras3, model, x, [])
    model_json, command = convert(folder, "functional_net-keras3", [], source, "keras_keras")
    entry = record(np, folder, "functional_net-keras3", model_json, command, x, reference,
                   reference, len(model.layers), [])
    cases.append({**entry, "quantization": "float32", "keras": f"Keras {keras3.__version__}",
                  "refusal_allowed": True})
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump({"versions": versions, "cases": cases}, f, indent=1)


# ---- ConvScope's side: runs under the PyTorch environment's python. ----

def run_tool(np, tool, model_json, inputs, taps, work):
    """ConvScope's outputs then its tapped layers' outputs, or the error text of a refusal."""
    path = os.path.join(work, "input.bin")
    np.ascontiguousarray(inputs, np.float32).tofile(path)
    command = [tool, "--model", model_json, "--input", path,
               "--shape", ",".join(str(d) for d in inputs.shape),
               "--output", os.path.join(work, "cs_")]
    for t in taps:
        command += ["--tap", t]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return done.stderr.strip() or f"exit status {done.returncode}"
    shapes = json.loads(done.stdout)
    read = lambda name, shape: np.fromfile(os.path.join(work, f"cs_{name}.bin"),
                                           np.float32).reshape(shape)
    return ([read(f"output{i}", s) for i, s in enumerate(shapes["outputs"])] +
            [read(t, shapes["taps"][t]) for t in taps])


def difference(np, ours, theirs):
    """Largest absolute difference, and the reference's largest magnitude (at least 1)."""
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64))))
    return diff, max(1.0, float(np.max(np.abs(theirs))))


def check_case(np, tool, case, work):
    inputs = np.load(case["input"][0])
    reference = [np.load(p) for p in case["reference"]]
    original = [np.load(p) for p in case["original"]]
    taps = case["taps"]
    quantized = case["quantization"] != "float32"
    print(f"{case['name']}: {case['keras']}, {case['layers']} layers, inputs {inputs.shape}; "
          f"tensorflowjs_converter {case['command']} -> {case['shard_bytes']} bytes of weights "
          f"({case['generated_by']}; {case['converted_by']})")
    ours = run_tool(np, tool, case["model_json"], inputs, taps, work)
    if isinstance(ours, str):
        if case.get("refusal_allowed") and "lacks the weights" in ours:
            print(f"  refused, as it should be: {ours}")
            return True
        print(f"  kerasgraph_tool failed: {ours}")
        return False
    if [a.shape for a in ours] != [a.shape for a in reference]:
        print(f"  shapes differ: ConvScope {[a.shape for a in ours]}, "
              f"Keras {[a.shape for a in reference]}")
        return False
    against = ("the converter's tf_keras reading of the same model.json" if quantized
               else "the Keras model converted")
    outputs = len(reference) - len(taps)
    ok, largest = True, 0.0
    for i, (a, b) in enumerate(zip(ours, reference)):
        diff, scale = difference(np, a, b)
        # Inner layers against their own scale: a tap's values reach the hundreds.
        bound = TOLERANCE * (scale if i >= outputs else 1.0)
        label = f"output {i}" if i < outputs else f"layer {taps[i - outputs]}"
        good = diff <= bound
        print(f"  {label} {list(a.shape)}: largest difference {diff:.3g}"
              f"{'' if i < outputs else f' (values up to {scale:.3g}, so within {bound:.2g})'}"
              f" {'ok' if good else 'TOO LARGE'}")
        ok &= good
        if i < outputs:
            largest = max(largest, diff)
            spread = float(np.max(np.ptp(b, axis=0)))
            if spread < 1e-3:  # the same answer for every input would prove nothing
                print(f"  output {i}: Keras gives every input the same values "
                      f"(spread {spread:.2g})")
                ok = False
            if a.ndim == 2 and a.shape[-1] > 1 and (a.argmax(-1) != b.argmax(-1)).any():
                print(f"  output {i}: a top class differs")
                ok = False
    print(f"  largest output difference {largest:.3g} from {against}")
    if quantized:
        drift = max(difference(np, a, b)[0] for a, b in zip(ours[:outputs], original[:outputs]))
        if case["quantization"] == "float16":
            good = drift <= FLOAT16_FROM_ORIGINAL
            print(f"  largest output difference {drift:.3g} from the unquantized model "
                  f"(float16: within {FLOAT16_FROM_ORIGINAL:g}) {'ok' if good else 'TOO LARGE'}")
            ok &= good
        else:
            print(f"  largest output difference {drift:.3g} from the unquantized model "
                  f"(uint8: shown, not bounded)")
    return ok


def compare(tool, tfjs_python):
    import numpy as np

    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run([tfjs_python, os.path.abspath(__file__), "--make", work],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"FAIL: building and converting the models with {tfjs_python} failed:\n"
                  f"{done.stderr[-4000:]}")
            return 1
        with open(os.path.join(work, "cases.json")) as f:
            made = json.load(f)
        v = made["versions"]
        print(f"Peer: tensorflowjs_converter {v['tensorflowjs']} (TensorFlow {v['tensorflow']}, "
              f"tf_keras {v['tf_keras']}, Keras {v['keras']})")
        ok = True
        for case in made["cases"]:
            ok &= check_case(np, tool, case, work)
    print("PASS" if ok else "FAIL: ConvScope differs from Keras by more than the tolerance")
    return 0 if ok else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make":
        make(sys.argv[2])
        return 0
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    tool, tfjs_python = sys.argv[1], sys.argv[2]
    if not os.path.exists(tfjs_python):
        skip(f"{tfjs_python} does not exist: TensorFlow.js's converter is not installed "
             "(scripts/test installs it with convscope_install_tfjs, scripts/common.sh)")
    probe = subprocess.run(
        [tfjs_python, "-c", "import tensorflowjs, tf_keras, tensorflow"],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if probe.returncode != 0:
        # The environment is there but broken (the installer checks these imports before it
        # marks the environment complete): a failure, not a skip.
        print(f"FAIL: {tfjs_python} cannot import tensorflowjs, tf_keras and tensorflow:\n"
              f"{probe.stderr.strip()[-3000:]}")
        return 1
    return compare(tool, tfjs_python)


if __name__ == "__main__":
    sys.exit(main())
