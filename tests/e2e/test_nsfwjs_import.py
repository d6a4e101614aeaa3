"""Real data: nsfwjs@4.4.0 (MIT) ships Keras 2.2.4's MobileNetV2 (224x224, uint8-quantized)
as a TF.js layers model. The project keeps it unwrapped in ../shared/data/nsfwjs-4.4.0/
(model.json + group1-shard1of1.bin; npm is no longer reachable). The test imports it: all 104
backbone layers (52 conv, 52 batch norm) map, the package's head (dense_1..3) is skipped, and a
real image (Fashion-MNIST, from Debian) gives finite out_relu features in ReLU6's range.
Parity with a real TF.js / Keras runtime belongs to the Keras import tests. Exit code 77 (a
CTest skip) when the shared copy or the Fashion-MNIST package is missing. Run with the
PyTorch environment's python and the paths of keras_import_tool and the shared model folder."""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from test_keras_weights import write_png_pixels  # noqa: E402

SKIP = 77
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def skip(message):
    print(f"SKIPPED: {message}", file=sys.stderr)
    sys.exit(SKIP)


def real_image(path):
    """The first Fashion-MNIST test image (a real photograph, grey), as an RGB PNG."""
    if not os.path.exists(FASHION):
        skip(f"{FASHION} is missing (Debian package dataset-fashion-mnist)")
    with gzip.open(FASHION, "rb") as f:
        data = f.read(16 + 28 * 28)
    grey = np.frombuffer(data[16:], np.uint8).reshape(28, 28)
    write_png_pixels(path, np.repeat(grey[:, :, None], 3, axis=2))


def main(tool, model_dir):
    model_json = os.path.join(model_dir, "model.json")
    if not os.path.exists(model_json):
        skip(f"{model_json} is missing (the shared copy of nsfwjs@4.4.0)")
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "fashion0.png")
        real_image(image)
        out_dir = os.path.join(tmp, "out")
        os.makedirs(out_dir)
        run = subprocess.run([tool, "features", model_json, "--image", image, "out_relu", out_dir],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        print("import:", report["description"], "-", report["report"], file=sys.stderr)
        assert report["architecture"] == "mobilenetv2" and report["flavour"] == "keras", report
        assert report["input_size"] == 224, report
        assert len(report["loaded"]) == 104, report["loaded"]  # 52 convs, 52 batch norms
        assert report["not_in_model"] == ["dense_1", "dense_2", "dense_3"], report["not_in_model"]
        assert report["not_in_file"] == ["predictions"], report["not_in_file"]
        assert report["preprocessing"]["name"] == "tf", report["preprocessing"]
        with open(os.path.join(out_dir, "shape.json")) as f:
            shape = json.load(f)
        assert shape == [1, 7, 7, 1280], shape
        features = np.fromfile(os.path.join(out_dir, "features.f32"), "<f4")
        assert np.isfinite(features).all()
        assert features.max() > 0.1 and features.min() >= 0 and features.max() <= 6, \
            (features.min(), features.max())
        print(f"out_relu on a Fashion-MNIST image: mean {features.mean():.4f}, "
              f"max {features.max():.4f}, {np.mean(features > 0):.1%} positive", file=sys.stderr)

    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
