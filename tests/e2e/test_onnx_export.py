#!/usr/bin/env python3
"""End-to-end: `convscope export --onnx` read by the real ONNX Runtime.

For every architecture, head and flavour ConvScope builds, trains a tiny model for one epoch on
generated PNGs, exports it, and runs ONNX Runtime on three of the images, one at a time and as
one batch of three (the batch dimension is dynamic); the logits must equal ConvScope's own
(`convscope predict --json --logits`) within 1e-4. Then Keras models exported with
--keras-model: the small models tests/keras has Keras write (every layer class ConvScope
builds) and the nsfwjs MobileNetV2 and InceptionV3 from the shared data, against ConvScope's
own outputs for them (kerasgraph_tool). Each file must pass onnx's full checker, declare opset
17 and a dynamic "batch", and carry its class names and preprocessing in its metadata; the
inputs given to ONNX Runtime are made from the pixels with that metadata.

  test_onnx_export.py CONVSCOPE KERASGRAPH_TOOL [SHARED_DATA]

Prints the largest difference per model. Exits 77 (skipped), saying why, when ONNX Runtime or
onnx cannot be imported, or, after the ConvScope architectures passed, when Keras cannot.
"""
import json
import os
import subprocess
import sys
import tempfile

TOLERANCE = 1e-4
SIZE = 64  # every architecture ends on 2x2 maps or more, so flatten and gap heads differ
CLASSES = ["cats", "dogs"]


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:  # never pass silently: say what is missing and skip
    skip(f"ONNX Runtime, onnx or NumPy cannot be imported by {sys.executable} ({e}); "
         "scripts/common.sh installs them")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngfiles import write_png_rows  # noqa: E402

BINARY = TOOL = SHARED = None
FAILURES = []
SUMMARY = []


def run(*args, timeout=900):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args[:3]))}... failed ({done.returncode}): "
                             f"{done.stderr.strip()}")
    return done.stdout


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print(f"  FAIL: {message}")


def pattern(seed):
    """A SIZE x SIZE RGB image with structure (gradients, a square, noise): logits that differ."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    img = np.empty((SIZE, SIZE, 3), np.float64)
    img[..., 0] = 255 * x / (SIZE - 1)
    img[..., 1] = 255 * (0.5 + 0.5 * np.sin(y * (0.2 + 0.05 * (seed % 5))))
    img[..., 2] = 128 + 60 * np.cos((x + y) * 0.3)
    s = 4 + seed % 9
    img[s:s + 10, s:s + 10] = rng.integers(0, 256, 3)
    img += rng.normal(0, 12, img.shape)
    if seed % 2:
        img = img[:, ::-1]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_data(root):
    """Two classes of eight PNGs of SIZE x SIZE; returns three image paths and their pixels."""
    probes = []
    for c, name in enumerate(CLASSES):
        for i in range(8):
            pixels = pattern(100 * c + i)
            path = os.path.join(root, name, f"{i}.png")
            write_png_rows(path, SIZE, SIZE, [row.tobytes() for row in pixels])
            if i < 2 or (c == 1 and i == 2):
                probes.append((path, pixels))
    return probes[:3]


def model_inputs(pixels, preprocessing):
    """NCHW network inputs from RGB pixels [N, H, W, 3] as the ONNX metadata describes."""
    x = pixels.astype(np.float32)
    if preprocessing["channel_order"] == "BGR":
        x = x[..., ::-1]
    x = x * np.float32(preprocessing["rescale"])
    x = (x - np.float32(preprocessing["mean"])) / np.float32(preprocessing["std"])
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), np.float32)


def load_checked(path, label):
    """The ONNX model, checked: onnx's full checker, opset 17, a dynamic batch everywhere."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    check(opsets.get("ai.onnx") == 17, f"{label}: opset {opsets}, not 17")
    for value in list(model.graph.input) + list(model.graph.output):
        first = value.type.tensor_type.shape.dim[0]
        check(first.dim_param == "batch" and not first.HasField("dim_value"),
              f"{label}: {value.name}'s first dimension is not the dynamic 'batch'")
    check(model.graph.input[0].name == "input", f"{label}: the input is not named 'input'")
    return model, {p.key: json.loads(p.value) for p in model.metadata_props}


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def compare(label, ours, theirs):
    """The largest difference; it must be within TOLERANCE, and within TOLERANCE of the
    values' own scale where they are small (the logits of a model trained for one epoch)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    check(ours.shape == theirs.shape, f"{label}: shapes {ours.shape} and {theirs.shape}")
    diff = float(np.max(np.abs(ours - theirs)))
    scale = float(np.max(np.abs(theirs)))
    check(diff <= TOLERANCE * min(1.0, max(scale, 1e-3)),
          f"{label}: largest difference {diff:.3g}, values up to {scale:.3g}")
    return diff


def batches(sess, x):
    """ONNX Runtime's outputs for x one sample at a time and as one batch."""
    names = [o.name for o in sess.get_outputs()]
    singles = [sess.run(names, {"input": x[i:i + 1]}) for i in range(len(x))]
    together = sess.run(names, {"input": x})
    return [np.concatenate([s[k] for s in singles]) for k in range(len(names))], together


def classifier_cases():
    cases = []
    for arch in ["small", "vgg16", "resnet18", "mobilenetv2"]:
        for head in ["flatten", "gap", "original"]:
            cases.append((arch, head, "standard"))
    for head in ["flatten", "gap", "original"]:
        cases.append(("mobilenetv2", head, "keras"))
    return cases


def check_classifier(work, data, probes, arch, head, flavour):
    label = f"{arch}/{head}/{flavour}"
    run_dir = os.path.join(work, f"run-{arch}-{head}-{flavour}")
    run(BINARY, "train", data, "--out", run_dir, "--arch", arch, "--head", head, "--flavour",
        flavour, "--size", SIZE, "--epochs", 1, "--batch", 4, "--seed", 5, "--no-augment",
        "--threads", 2)
    weights = os.path.join(run_dir, "weights.h5")
    path = os.path.join(work, f"{arch}-{head}-{flavour}.onnx")
    report = json.loads(run(BINARY, "export", weights, "--onnx", path, "--json"))
    check(report["opset"] == 17, f"{label}: export says opset {report['opset']}")

    model, meta = load_checked(path, label)
    check(meta["class_names"] == CLASSES, f"{label}: class names {meta['class_names']}")
    check(meta["softmax_applied"] is False, f"{label}: softmax_applied {meta['softmax_applied']}")
    pre = meta["preprocessing"]
    check(pre["name"] == "rescale" and pre["channel_order"] == "RGB" and
          abs(pre["rescale"] - 1 / 255) < 1e-9 and pre["mean"] == [0, 0, 0] and
          pre["std"] == [1, 1, 1], f"{label}: preprocessing {pre}")
    check(meta["model"]["architecture"] == arch and meta["model"]["head"] == head and
          meta["model"]["flavour"] == flavour and meta["model"]["input_size"] == SIZE,
          f"{label}: model {meta['model']}")
    check([d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim[1:]] == [2],
          f"{label}: the output is not [batch, 2]")

    lines = run(BINARY, "predict", weights, *[p for p, _ in probes], "--json", "--logits")
    ours = np.array([json.loads(line)["logits"] for line in lines.splitlines()], np.float64)
    x = model_inputs(np.stack([px for _, px in probes]), pre)
    sess = session(path)
    check(sess.get_outputs()[0].name == "logits", f"{label}: output {sess.get_outputs()[0].name}")
    singles, together = batches(sess, x)
    diff = max(compare(f"{label} batch 1", singles[0], ours),
               compare(f"{label} batch 3", together[0], ours))
    mb = os.path.getsize(path) / 1e6
    SUMMARY.append((label, diff))
    print(f"{label}: largest difference {diff:.3g} (logits up to {np.abs(ours).max():.3g}), "
          f"{mb:.1f} MB, {len(model.graph.node)} nodes")
    os.remove(path)
    for name in ("checkpoint.pt", "weights.h5", "latest.h5"):
        if os.path.exists(os.path.join(run_dir, name)):
            os.remove(os.path.join(run_dir, name))  # VGG16's original head is 0.5 GB a copy


def run_tool(model, weights, inputs, taps, work):
    """ConvScope's own outputs (and tapped layers) for a Keras model, from kerasgraph_tool,
    channels first."""
    inputs = np.ascontiguousarray(inputs, np.float32)
    path = os.path.join(work, "input.bin")
    inputs.tofile(path)
    command = [TOOL, "--model", model, "--input", path,
               "--shape", ",".join(str(d) for d in inputs.shape), "--output",
               os.path.join(work, "cs_")]
    if weights:
        command += ["--weights", weights]
    for t in taps:
        command += ["--tap", t]
    shapes = json.loads(run(*command))

    def read(name, shape):
        y = np.fromfile(os.path.join(work, f"cs_{name}.bin"), np.float32).reshape(shape)
        return y.transpose(0, 3, 1, 2) if y.ndim == 4 else y

    outputs = [read(f"output{i}", shape) for i, shape in enumerate(shapes["outputs"])]
    return outputs, [read(t, shapes["taps"][t]) for t in taps]


def with_outputs(path, names):
    """A copy of the ONNX model that also outputs the named inner values (Keras layer names)."""
    model = onnx.load(path)
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                     None))
    copy = path + ".taps.onnx"
    onnx.save(model, copy)
    return copy


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_keras(label, work, model_json, weights, inputs_nhwc, extra=(), classes=None, taps=(),
                logits=None):
    """Exports a Keras model and compares ONNX Runtime with ConvScope on `inputs_nhwc`: every
    output, and the layers in `taps` within 1e-4 of their scale. With `logits` (True or False),
    the model has one output that ends in a softmax: without --softmax the export leaves it out,
    and the softmax of ONNX Runtime's logits is compared with ConvScope's probabilities."""
    path = os.path.join(work, "keras.onnx")
    args = [BINARY, "export", "--keras-model", model_json]
    if weights:
        args.append(weights)
    run(*args, "--onnx", path, *extra)
    model, meta = load_checked(path, label)
    check(meta["preprocessing"]["name"] == "rescale", f"{label}: preprocessing {meta}")
    if classes is not None:
        check(meta.get("class_names") == classes, f"{label}: class names {meta.get('class_names')}")
    if logits is not None:
        check(meta["softmax_applied"] is (not logits), f"{label}: softmax_applied {meta}")
        want = "logits" if logits else "probabilities"
        check(model.graph.output[0].name == want, f"{label}: output {model.graph.output[0].name}")
    ours, our_taps = run_tool(model_json, weights, inputs_nhwc, taps, work)
    x = inputs_nhwc.transpose(0, 3, 1, 2) if inputs_nhwc.ndim == 4 else inputs_nhwc
    sess = session(with_outputs(path, taps) if taps else path)
    singles, together = batches(sess, np.ascontiguousarray(x, np.float32))
    n = len(model.graph.output)
    check(n == len(ours), f"{label}: {n} outputs, ConvScope {len(ours)}")
    if logits:
        singles[:1], together[:1] = [softmax(singles[0])], [softmax(together[0])]
    diff = 0.0
    for k, (a, b, c) in enumerate(zip(singles[:n], together[:n], ours)):
        diff = max(diff, compare(f"{label} output {k} batch 1", a, c),
                   compare(f"{label} output {k} batch {len(x)}", b, c))
    inner = []
    for t, a, b, c in zip(taps, singles[n:], together[n:], our_taps):
        scale = max(1.0, float(np.max(np.abs(c))))
        d = max(compare(f"{label} layer {t}", a / scale, c / scale),
                compare(f"{label} layer {t} batch {len(x)}", b / scale, c / scale))
        inner.append(f"{t} {d * scale:.3g} (values up to {scale:.3g})")
    SUMMARY.append((label + (" (softmax of its logits)" if logits else ""), diff))
    print(f"{label}: largest difference {diff:.3g} over {n} output(s) "
          f"{[o.name for o in model.graph.output]}, {len(model.graph.node)} nodes, "
          f"softmax_applied {meta['softmax_applied']}" +
          (f"; inner layers: {', '.join(inner)}" if inner else ""))
    return meta


def keras_models(work):
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "keras"))
        import compare_keras as ck  # writes the small models with real Keras
    except SystemExit:
        return "Keras cannot be imported (tests/keras/compare_keras.py said why above)"
    for seed, build, taps in [(1, ck.small_functional, ["add", "concat", "bn_vec"]),
                              (2, ck.small_sequential, ["avgpool_valid", "dense_on_image"]),
                              (3, ck.small_activations, []),
                              (4, ck.small_uneven_pooling, ["avg_3_s2"])]:
        model = build()
        ck.randomise(model, seed)
        config, weight_files = ck.save(model, work, model.name)
        shape = model.input_shape
        inputs = (ck.images(3, shape[1], shape[2], shape[3], seed) if len(shape) == 4
                  else np.random.default_rng(seed).normal(0, 1, (3, shape[1])).astype(np.float32))
        single_vector = len(model.outputs) == 1 and len(model.output_shape) == 2
        classes = ([f"class_{i}" for i in range(model.output_shape[-1])] if single_vector
                   else None)
        for weights in weight_files:  # Keras 3's .weights.h5 and Keras 2's HDF5 layout
            check_keras(f"keras {model.name} ({os.path.basename(weights)})", work, config,
                        weights, inputs, classes=classes, taps=taps)
    return None


def nsfwjs(work):
    names = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]
    taps = {"mobilenet_v2": ["out_relu", "dense_2"],
            "inception_v3": ["mixed5", "mixed10", "dense_2"]}
    for folder in ["mobilenet_v2", "inception_v3"]:
        model_json = os.path.join(SHARED, "nsfwjs-4.4.0", folder, "model.json")
        if not os.path.exists(model_json):
            return f"{model_json} is missing (no shared data folder beside this checkout)"
        with open(model_json) as f:
            side = json.load(f)["modelTopology"]["model_config"]["config"]["layers"][0][
                "config"]["batch_input_shape"][1]
        inputs = np.random.default_rng(7).random((3, side, side, 3)).astype(np.float32)
        # Its last Dense has a softmax: logits without it, probabilities with --softmax.
        check_keras(f"nsfwjs {folder}", work, model_json, "", inputs,
                    extra=["--classes", ",".join(names)], classes=names, taps=taps[folder],
                    logits=True)
        check_keras(f"nsfwjs {folder} --softmax", work, model_json, "", inputs,
                    extra=["--labels", write_labels(work, names), "--softmax"], classes=names,
                    logits=False)
    return None


def write_labels(work, names):
    path = os.path.join(work, "labels.txt")
    with open(path, "w") as f:
        f.write("\n".join(names) + "\n")
    return path


def main():
    global BINARY, TOOL, SHARED
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    BINARY, TOOL = sys.argv[1], sys.argv[2]
    SHARED = sys.argv[3] if len(sys.argv) > 3 else ""
    print(f"ONNX Runtime {ort.__version__}, onnx {onnx.__version__}, NumPy {np.__version__}")
    skipped = []
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        probes = make_data(data)
        for arch, head, flavour in classifier_cases():
            check_classifier(work, data, probes, arch, head, flavour)
        for part in (nsfwjs, keras_models):
            reason = part(work)
            if reason:
                skipped.append(reason)
    print("\nlargest difference per model (ONNX Runtime against ConvScope):")
    for label, diff in SUMMARY:
        print(f"  {label:40s} {diff:.3g}")
    if FAILURES:
        print(f"FAIL: {len(FAILURES)} checks failed")
        return 1
    if skipped:
        skip("; ".join(skipped))
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
