"""Writes the fuzz targets' seed inputs into tests/fuzz/corpus/<target>/ (committed; each a few
KB). Run with the PyTorch environment's Python (torch, h5py, numpy, pillow):

    ~/.cache/convscope/venv-torch-2.15.0/bin/python tests/fuzz/make_corpus.py \
        [--checkpoint-seeder build-fuzz/tests/fuzz/fuzz_checkpoint] [--run-folder RUN ...]

The checkpoint seeds are LibTorch archives that only the C++ side writes: the fuzz binary
writes them when CONVSCOPE_FUZZ_WRITE_SEEDS names a folder.
"""
import argparse
import io
import json
import os
import pathlib
import struct
import subprocess
import tempfile
import zipfile

import h5py
import numpy as np
import torch
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def target(name):
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    return folder


def pattern(width, height, channels):
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 37 + y * 11 + 50 * c) % 256 for c in range(channels)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def images():
    out = target("imagedecoder")

    def save(name, image, fmt, **options):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        (out / name).write_bytes(buffer.getvalue())

    rgb = Image.fromarray(pattern(12, 9, 3))
    save("rgb.jpg", rgb, "JPEG", quality=80)
    save("grey.jpg", rgb.convert("L"), "JPEG")
    save("progressive.jpg", rgb, "JPEG", progressive=True)
    save("cmyk.jpg", rgb.convert("CMYK"), "JPEG")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees
    save("exif-orientation.jpg", rgb, "JPEG", exif=exif.tobytes())
    save("large-for-reduced-scale.jpg", Image.fromarray(pattern(200, 130, 3)), "JPEG",
         quality=30)
    save("rgb.png", rgb, "PNG")
    save("rgba.png", Image.fromarray(pattern(7, 5, 4)), "PNG")
    save("palette.png", rgb.convert("P"), "PNG")
    save("grey-alpha.png", rgb.convert("LA"), "PNG")
    grey16 = Image.fromarray((pattern(6, 4, 1)[:, :, 0].astype(np.uint16) * 257))
    save("grey16.png", grey16, "PNG")
    save("rgb.bmp", rgb, "BMP")
    save("grey.bmp", rgb.convert("L"), "BMP")
    save("rgb.tiff", rgb, "TIFF")
    save("rgba-deflate.tiff", Image.fromarray(pattern(5, 4, 4)), "TIFF",
         compression="tiff_deflate")
    save("rgb-lossless.webp", rgb, "WEBP", lossless=True)
    save("rgb-lossy.webp", rgb, "WEBP", quality=50)
    save("animated.gif", rgb.convert("P"), "GIF")


def torch_bytes(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def state_dicts():
    out = target("torchpth")
    torch.manual_seed(0)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    small = {
        "conv.weight": base,
        "conv.bias": torch.tensor([0.5, -1.0, 2.0]),
        "transposed": base.t(),
        "offset": base[1:, 1:],
        "halves": torch.ones(2, 2, dtype=torch.float16),
        "longs": torch.tensor([1, 2, 3], dtype=torch.int64),
        "bn.num_batches_tracked": torch.tensor(7),
        "flags": torch.tensor([True, False]),
    }
    seeds = {
        "small.pth": small,
        "checkpoint-dict.pth": {"epoch": 3, "state_dict": {"fc.weight": torch.eye(2)}},
        "data-parallel.pth": {"module.fc.weight": torch.eye(2), "module.fc.bias": torch.zeros(2)},
        "parameter.pth": {"p": torch.nn.Parameter(torch.ones(2))},
        "model-state-dict.pth": {"model_state_dict": torch.nn.Linear(2, 2).state_dict(),
                                 "optimizer": {"lr": 0.1}},
    }
    for name, obj in seeds.items():
        data = torch_bytes(obj)
        # Mode 0: the whole file; mode 2: the whole file, names and shapes only.
        (out / ("file-" + name)).write_bytes(b"\x00" + data)
        if name == "small.pth":
            (out / ("file-shapes-" + name)).write_bytes(b"\x02" + data)

    # Mode 1: [n][data.pkl][storage]: views of one storage, whose key is "0".
    one = torch.arange(16, dtype=torch.float32)
    views = {"whole": one, "matrix": one[:12].view(3, 4), "column": one[:12].view(3, 4)[:, 1],
             "tail": one[8:]}
    for name, obj in {"views": views, "linear": {"w": torch.ones(2, 2)}}.items():
        with zipfile.ZipFile(io.BytesIO(torch_bytes(obj))) as archive:
            names = archive.namelist()
            pickle = archive.read(next(n for n in names if n.endswith("/data.pkl")))
            storage = archive.read(next(n for n in names if n.endswith("/data/0")))
        (out / ("pickle-" + name)).write_bytes(
            b"\x01" + struct.pack("<H", len(pickle)) + pickle + storage)


def keras_weights():
    out = target("kerasweights")

    def layer(group, name, arrays, weight_names=None):
        g = group.create_group(name)
        names = weight_names or [f"{name}/{k}" for k in arrays]
        g.attrs["weight_names"] = np.array([n.encode() for n in names])
        for stored, (key, value) in zip(names, arrays.items()):
            g.create_dataset(stored, data=value)

    def write(name, fill, **options):
        path = out / name
        with h5py.File(path, "w", **options) as f:
            fill(f)
        return path

    def plain(f):
        f.attrs["layer_names"] = np.array([b"conv1", b"dense", b"flatten"])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.11.0"
        f.attrs["convscope_classes"] = b'["cats", "dogs"]'
        layer(f, "conv1", {"kernel:0": np.ones((1, 1, 1, 2), np.float32),
                           "bias:0": np.zeros(2, np.float32)})
        layer(f, "dense", {"kernel:0": np.arange(4, dtype=np.float16).reshape(2, 2),
                           "bias:0": np.array([1, 2], np.int32)})
        f.create_group("flatten").attrs["weight_names"] = np.array([], dtype="S1")

    def whole_model(f):
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"dense"])
        g.attrs["keras_version"] = "2.4.0"  # a variable-length string, as h5py writes str
        layer(g, "dense", {"kernel:0": np.ones((2, 3), np.float64)})
        f.attrs["model_config"] = "{}"

    def split_names(f):
        f.attrs["layer_names0"] = np.array([b"a"])
        f.attrs["layer_names1"] = np.array([b"b"])
        layer(f, "a", {"gamma:0": np.ones(2, np.float32)})
        layer(f, "b", {"moving_mean:0": np.zeros(2, np.float32)},
              weight_names=["block/b/moving_mean:0"])

    def variable_length(f):
        f.attrs["layer_names"] = ["dense"]
        layer(f, "dense", {"kernel:0": np.ones((1, 1), np.float32)})
        f["dense"].attrs["weight_names"] = ["dense/kernel:0"]

    write("plain.h5", plain)
    write("whole-model.h5", whole_model)
    write("split-names.h5", split_names)
    write("variable-length.h5", variable_length)
    write("latest-format.h5", plain, libver="latest")


def tfjs_models():
    out = target("tfjsmodel")

    def model(layers, weights, shard, nested=False, name=None):
        config = {"name": "m", "layers": layers}
        topology = {"class_name": "Sequential", "config": config, "keras_version": "2.11.0"}
        if nested:
            topology = {"class_name": "Model", "config": {"name": "outer", "layers": [
                {"class_name": "Sequential", "config": config, "name": "inner"}]}}
        document = {"format": "layers-model", "modelTopology": {"model_config": topology},
                    "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}]}
        return json.dumps(document).encode() + b"\0" + shard

    conv = {"class_name": "Conv2D", "config": {"name": "conv", "filters": 2,
                                               "batch_input_shape": [None, 4, 4, 1]}}
    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 2}}
    floats = np.arange(6, dtype=np.float32)
    spec = [{"name": "conv/kernel", "shape": [1, 1, 1, 2], "dtype": "float32"},
            {"name": "conv/bias", "shape": [2], "dtype": "float32"},
            {"name": "dense/bias", "shape": [2], "dtype": "float32"}]
    seeds = {
        "float32.json": model([conv, dense], spec, floats.tobytes()),
        "nested.json": model([conv, dense], spec, floats.tobytes(), nested=True),
        "uint8.json": model([dense], [{"name": "dense/kernel", "shape": [2, 2], "dtype": "float32",
                                       "quantization": {"dtype": "uint8", "min": -1.0,
                                                        "scale": 0.01}}],
                            bytes([0, 10, 200, 255])),
        "uint16-int32.json": model([dense], [{"name": "dense/step", "shape": [3],
                                             "dtype": "int32",
                                             "quantization": {"dtype": "uint16", "min": 0,
                                                              "scale": 0.5}}],
                                   np.array([1, 2, 60000], np.uint16).tobytes()),
        "float16.json": model([dense], [{"name": "dense/kernel", "shape": [2],
                                         "dtype": "float32", "quantization": {"dtype": "float16"}}],
                              np.array([1.5, -0.25], np.float16).tobytes()),
        "int32.json": model([dense], [{"name": "dense/count", "shape": [], "dtype": "int32"}],
                            np.array([7], np.int32).tobytes()),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)


def checkpoints(seeder):
    out = target("checkpoint")
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, CONVSCOPE_FUZZ_WRITE_SEEDS=folder)
        subprocess.run([seeder], env=env, check=True)
        for path in sorted(pathlib.Path(folder).iterdir()):
            (out / path.name).write_bytes(path.read_bytes())


RUN_FILES = ["config.json", "status.json", "history.csv", "confusion.json", "run.json",
             "import-report.json", "recipe.json"]


def run_folders(runs):
    """Seeds for the run folder target from real run folders (`convscope train` writes them):
    each folder whole, and each with one file left out."""
    out = target("runfolder")
    for run in runs:
        run = pathlib.Path(run)
        files = [(run / f).read_bytes() if (run / f).exists() else b"" for f in RUN_FILES]
        (out / f"{run.name}.txt").write_bytes(b"\n#####\n".join(files))
        for i, name in enumerate(RUN_FILES):
            partial = files[:i] + [b""] + files[i + 1:]
            (out / f"{run.name}-without-{name}.txt").write_bytes(b"\n#####\n".join(partial))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint-seeder", help="a fuzz_checkpoint or fuzz_checkpoint_replay "
                        "binary; without it the checkpoint seeds stay as they are")
    parser.add_argument("--run-folder", action="append", help="a run folder (as many as wanted) "
                        "for the run folder target's seeds; without any they stay as they are")
    args = parser.parse_args()
    images()
    state_dicts()
    keras_weights()
    tfjs_models()
    if args.checkpoint_seeder:
        checkpoints(args.checkpoint_seeder)
    if args.run_folder:
        run_folders(args.run_folder)
    for folder in sorted(CORPUS.iterdir()):
        sizes = [p.stat().st_size for p in folder.iterdir()]
        print(f"{folder.name}: {len(sizes)} seeds, largest {max(sizes)} bytes")


if __name__ == "__main__":
    main()
