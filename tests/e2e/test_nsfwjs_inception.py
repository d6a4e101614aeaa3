"""The real pretrained InceptionV3 of nsfwjs 4.4.0 (a TF.js layers model, 318 layers, a
functional graph with Concatenate and AveragePooling2D), built from its own topology:

1. `convscope predict model.json` runs it as it ships (5 classes, numbered).
2. `convscope finetune --arch model.json --weights model.json` fine-tunes it on three classes
   at its own 299 px: a new head (its dense_3 with 3 units), then the layers after mixed9 (its
   last mixed block, mixed10, and the dense layers).
3. Grad-CAM on mixed10 of the fine-tuned network, and with surgery (`--cut-after mixed10
   --append gap`, the rest frozen) true CAM on mixed10.
4. Both networks exported with `convscope export --onnx` give ConvScope's logits in ONNX Runtime
   within 1e-4.
The pixels go in at 299 x 299, so no resizing differs between the two sides. Exits 77, saying
why, without the shared data or ONNX Runtime. Run with the PyTorch environment's python:
test_nsfwjs_inception.py CONVSCOPE_BINARY SHARED_DATA"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pngfiles import write_png_rows  # noqa: E402

try:
    import numpy as np
    import onnxruntime as ort
except Exception as e:  # noqa: BLE001 - any import failure means "not installed here"
    print(f"SKIP: numpy or onnxruntime cannot be imported ({type(e).__name__}: {e})")
    sys.exit(77)

SIZE = 299
TOLERANCE = 1e-4
CLASSES = ["dots", "grid", "rings"]
BINARY = None


def run(*args):
    cmd = [BINARY, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n"
                             f"{done.stderr}")
    return done.stdout + done.stderr


def picture(rng, kind):
    rows = []
    phase = rng.randrange(20)
    for y in range(SIZE):
        row = bytearray()
        for x in range(SIZE):
            if kind == "dots":
                on = ((x + phase) % 40 - 20) ** 2 + ((y + phase) % 40 - 20) ** 2 < 64
            elif kind == "grid":
                on = (x + phase) % 30 < 4 or (y + phase) % 30 < 4
            else:
                on = int((((x - 150) ** 2 + (y - 150) ** 2) ** 0.5 + phase) / 12) % 2 == 0
            v = 220 if on else 30
            row += bytes((v, max(0, v - 60), min(255, v + rng.randrange(20))))
        rows.append(bytes(row))
    return rows


def make_data(root):
    rng = random.Random(11)
    for split, count in (("train", 4), ("validation", 2)):
        for cls in CLASSES:
            for i in range(count):
                write_png_rows(os.path.join(root, "data", split, cls, f"{i}.png"), SIZE, SIZE,
                               picture(rng, cls))
    probes, pixels = [], []
    for i, cls in enumerate(CLASSES):
        rows = picture(rng, cls)
        path = os.path.join(root, "probe", f"{cls}.png")
        write_png_rows(path, SIZE, SIZE, rows)
        probes.append(path)
        pixels.append(np.frombuffer(b"".join(rows), np.uint8).reshape(SIZE, SIZE, 3))
    return os.path.join(root, "data"), probes, np.stack(pixels)


def logits_of(weights, probes):
    out = run("predict", weights, *probes, "--json", "--logits", "--device", "cpu",
              "--precision", "fp32")
    return np.array([json.loads(line)["logits"] for line in out.splitlines()
                     if line.startswith("{")], np.float64)


def onnx_check(work, label, weights, probes, pixels):
    path = os.path.join(work, label + ".onnx")
    run("export", weights, "--onnx", path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    pre = json.loads(meta["preprocessing"])
    x = (pixels.astype(np.float32) * np.float32(pre["rescale"]) - np.array(pre["mean"], np.float32)) \
        / np.array(pre["std"], np.float32)
    got = session.run(None, {"input": np.transpose(x, (0, 3, 1, 2)).astype(np.float32)})[0]
    ours = logits_of(weights, probes)
    diff = float(np.abs(got - ours).max())
    print(f"{label}: ONNX Runtime {ort.__version__} vs convscope logits: largest difference "
          f"{diff:.3g} (logits up to {np.abs(ours).max():.3g}); classes "
          f"{json.loads(meta['class_names'])}")
    assert diff <= TOLERANCE, f"{label}: ONNX differs by {diff}"


def main():
    global BINARY
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    model = os.path.join(sys.argv[2], "nsfwjs-4.4.0", "inception_v3", "model.json")
    if not os.path.isfile(model):
        print(f"SKIP: no shared data at {model}")
        return 77
    with tempfile.TemporaryDirectory() as work:
        data, probes, pixels = make_data(work)
        shipped = json.loads(run("predict", model, probes[0], "--json").splitlines()[0])
        assert sorted(shipped["probabilities"]) == [f"class_{i}" for i in range(5)], shipped
        print(f"as shipped: {shipped['probabilities']}")

        tuned = os.path.join(work, "tuned")
        log = run("finetune", data, "--out", tuned, "--arch", model, "--weights", model,
                  "--head-epochs", "1", "--finetune-epochs", "1", "--batch", "6", "--no-augment",
                  "--device", "cpu", "--precision", "fp32", "--seed", "3")
        assert "the layers after mixed9" in log, log
        assert "dense_3" in log, f"the head's new shape is not reported:\n{log}"
        weights = os.path.join(tuned, "weights.h5")
        with open(os.path.join(tuned, "finetune", "config.json")) as f:
            phase2 = json.load(f)
        assert phase2["freeze_up_to"] == "mixed9", phase2["freeze_up_to"]

        cam = json.loads(run("cam", weights, probes[0], "--method", "gradcam", "--layer",
                             "mixed10", "--out", os.path.join(work, "gradcam.png"), "--json"))
        assert cam["layer"] == "mixed10" and cam["class"] in CLASSES, cam
        refused = subprocess.run([BINARY, "cam", weights, probes[0], "--method", "cam", "--out",
                                  os.path.join(work, "no.png")], capture_output=True, text=True)
        assert refused.returncode != 0 and "Grad-CAM" in refused.stderr, refused.stderr
        print(f"fine-tuned, Grad-CAM on mixed10: {cam}")
        onnx_check(work, "fine-tuned InceptionV3", weights, probes, pixels)

        cut = os.path.join(work, "cut")
        run("train", data, "--out", cut, "--arch", model, "--weights", model, "--cut-after",
            "mixed10", "--append", "gap", "--freeze-up-to", "mixed10", "--epochs", "1",
            "--batch", "6", "--no-augment", "--device", "cpu", "--precision", "fp32")
        cam = json.loads(run("cam", os.path.join(cut, "weights.h5"), probes[1], "--method", "cam",
                             "--out", os.path.join(work, "cam.png"), "--json"))
        assert cam["layer"] == "mixed10" and cam["method"] == "cam", cam
        print(f"cut after mixed10 + gap, CAM on mixed10: {cam}")
        onnx_check(work, "InceptionV3 cut after mixed10 + gap", os.path.join(cut, "weights.h5"),
                   probes, pixels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
