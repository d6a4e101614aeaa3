"""Real data: the npm package nsfwjs@4.4.0 (MIT) ships Keras 2.2.4's MobileNetV2 (224x224,
uint8-quantized) as a TF.js layers model wrapped in JavaScript. The test fetches it with
`npm pack`, unwraps it with node into model.json + group1-shard1of1, and imports it: all 104
backbone layers (52 conv, 52 batch norm) map, the package's head (dense_1..3) is skipped, and a real image
(Fashion-MNIST, from Debian) gives finite out_relu features. When `npm install
@tensorflow/tfjs` works too, ConvScope's out_relu features are compared with TF.js's own
(CPU backend) on the same input. Exit code 77 (a CTest skip) when npm or the registry is
unreachable. Run with /usr/bin/python3 and the path of keras_import_tool."""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from test_keras_weights import write_png_pixels  # noqa: E402

SKIP = 77
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

UNWRAP = """
const fs = require('fs');
const [dir, out] = process.argv.slice(2);
const model = require(dir + '/model.min.js');
fs.writeFileSync(out + '/model.json', JSON.stringify(model));
const shard = require(dir + '/group1-shard1of1.min.js');
fs.writeFileSync(out + '/group1-shard1of1', Buffer.from(shard, 'base64'));
"""

TFJS_FEATURES = """
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');
(async () => {
  const [modelJson, inputPath, outPath, size] = process.argv.slice(2);
  const m = JSON.parse(fs.readFileSync(modelJson));
  const data = Buffer.concat(m.weightsManifest[0].paths.map(
      p => fs.readFileSync(path.join(path.dirname(modelJson), p))));
  const model = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: m.modelTopology, weightSpecs: m.weightsManifest[0].weights,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)}));
  const features = tf.model({inputs: model.inputs, outputs: model.getLayer('out_relu').output});
  const raw = fs.readFileSync(inputPath);
  const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const n = Number(size);
  const y = features.predict(tf.tensor4d(input, [1, n, n, 3]));
  fs.writeFileSync(outPath, Buffer.from((await y.data()).buffer));
})().catch(e => { console.error(e); process.exit(1); });
"""


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


def main(tool):
    npm = shutil.which("npm")
    node = shutil.which("node")
    if not npm or not node:
        skip("npm or node is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            packed = subprocess.run([npm, "pack", "nsfwjs@4.4.0", "--pack-destination", tmp],
                                    capture_output=True, text=True, timeout=120, cwd=tmp)
        except subprocess.TimeoutExpired:
            skip("npm pack nsfwjs@4.4.0 timed out (registry unreachable?)")
        if packed.returncode != 0:
            skip("npm pack nsfwjs@4.4.0 failed (registry unreachable?): " + packed.stderr.strip()[-300:])
        tarball = os.path.join(tmp, packed.stdout.strip().splitlines()[-1])
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers()
                       if m.name.startswith("package/dist/models/mobilenet_v2/")]
            tar.extractall(tmp, members=members)
        wrapped = os.path.join(tmp, "package/dist/models/mobilenet_v2")
        model_dir = os.path.join(tmp, "mobilenet_v2")
        os.makedirs(model_dir)
        unwrap = os.path.join(tmp, "unwrap.js")
        with open(unwrap, "w") as f:
            f.write(UNWRAP)
        subprocess.run([node, unwrap, wrapped, model_dir], check=True, timeout=60)
        model_json = os.path.join(model_dir, "model.json")

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

        # Parity with TF.js itself, when its npm package can be installed.
        try:
            installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent",
                                        "@tensorflow/tfjs@4"], capture_output=True, text=True,
                                       timeout=300, cwd=tmp)
        except subprocess.TimeoutExpired:
            installed = None
        if installed is None or installed.returncode != 0:
            print("TF.js parity not checked: npm install @tensorflow/tfjs failed", file=sys.stderr)
            return 0
        script = os.path.join(tmp, "tfjs_features.js")
        with open(script, "w") as f:
            f.write(TFJS_FEATURES)
        reference = os.path.join(tmp, "tfjs.f32")
        subprocess.run([node, script, model_json, os.path.join(out_dir, "input.f32"), reference, "224"],
                       check=True, timeout=300, cwd=tmp, capture_output=True)
        theirs = np.fromfile(reference, "<f4")
        diff = float(np.abs(features - theirs).max())
        print(f"out_relu vs TF.js (CPU backend): max abs diff {diff:.3g}, "
              f"mean abs diff {np.abs(features - theirs).mean():.3g}", file=sys.stderr)
        assert diff < 1e-3, diff
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
