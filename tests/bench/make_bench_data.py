"""Writes the benchmarks' image folder, in the layout of the Keras blog post
("Building powerful image classification models using very little data"):

    DATA/train/{cats,dogs}/*.jpg       2,000 images (1,000 per class)
    DATA/validation/{cats,dogs}/*.jpg    800 images (400 per class)

Sizes are random in 300..500 px per side and the content is photo-like (smooth gradients,
soft-edged shapes, sensor-like noise) so that the JPEGs weigh what photos of that size do
(~20-60 KB at quality 90) and decode as slowly. Each image is drawn from its own seed, so
the folder is the same byte for byte on every run with the same PIL/libjpeg. Does nothing
when DATA already exists; the folder is written under a temporary name and renamed at the
end, so an interrupted run never leaves a half folder behind.

Run with the PyTorch environment's python (numpy, Pillow): make_bench_data.py DATA [--seed N]
"""
import argparse
import os
import shutil
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SPLITS = (("train", 1000), ("validation", 400))  # images per class
CLASSES = ("cats", "dogs")
QUALITY = 90


def gradient(rng, w, h):
    """A smooth background: bilinear blend of four random corner colours."""
    corners = rng.uniform(20, 235, size=(2, 2, 3))
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    top = corners[0, 0] * (1 - xs) + corners[0, 1] * xs
    bottom = corners[1, 0] * (1 - xs) + corners[1, 1] * xs
    return (top * (1 - ys) + bottom * ys).astype(np.float32)


def draw_shapes(rng, img, label):
    """Soft-edged shapes; cats lean to warm ellipses, dogs to cool polygons, so the two
    classes can be told apart by a small net (the training benchmark uses this folder)."""
    w, h = img.size
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 14))):
        warm = rng.random() < (0.75 if label == 0 else 0.25)
        base = np.array([200, 120, 60]) if warm else np.array([60, 120, 200])
        colour = tuple(int(c) for c in np.clip(base + rng.normal(0, 45, 3), 0, 255))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.3) * min(w, h)
        if rng.random() < (0.7 if label == 0 else 0.3):
            draw.ellipse([cx - r, cy - r * rng.uniform(0.5, 1.5), cx + r, cy + r], fill=colour)
        else:
            k = int(rng.integers(3, 7))
            angles = np.sort(rng.uniform(0, 2 * np.pi, k))
            radii = r * rng.uniform(0.5, 1.2, k)
            draw.polygon([(float(cx + q * np.cos(a)), float(cy + q * np.sin(a)))
                          for a, q in zip(angles, radii)], fill=colour)
    for _ in range(int(rng.integers(3, 8))):  # thin lines: texture like hair or edges
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.line([(float(rng.uniform(0, w)), float(rng.uniform(0, h))),
                   (float(rng.uniform(0, w)), float(rng.uniform(0, h)))],
                  fill=colour, width=int(rng.integers(1, 4)))


def make_image(seed, label):
    rng = np.random.default_rng(seed)
    w, h = int(rng.integers(300, 501)), int(rng.integers(300, 501))
    img = Image.fromarray(gradient(rng, w, h).astype(np.uint8))
    draw_shapes(rng, img, label)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.8, 2.0))))
    pixels = np.asarray(img, dtype=np.float32)
    # Low-frequency texture (noise upsampled) plus fine sensor noise.
    coarse = rng.normal(0, 10, size=(h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    coarse = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:h, :w]
    coarse = np.asarray(Image.fromarray(np.clip(coarse + 128, 0, 255).astype(np.uint8))
                        .filter(ImageFilter.GaussianBlur(4)), dtype=np.float32) - 128
    fine = rng.normal(0, float(rng.uniform(3.0, 5.0)), size=pixels.shape).astype(np.float32)
    pixels = np.clip(pixels + coarse + fine, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="folder to create (left alone if it exists)")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()
    if os.path.exists(args.data):
        print(f"{args.data} exists; left as it is", file=sys.stderr)
        return 0
    tmp = args.data.rstrip("/") + f".partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    total_bytes = 0
    count = 0
    for split_no, (split, per_class) in enumerate(SPLITS):
        for label, name in enumerate(CLASSES):
            folder = os.path.join(tmp, split, name)
            os.makedirs(folder)
            for i in range(per_class):
                seed = [args.seed, split_no, label, i]
                path = os.path.join(folder, f"{name[:-1]}.{i:04d}.jpg")
                make_image(seed, label).save(path, quality=QUALITY)
                total_bytes += os.path.getsize(path)
                count += 1
    os.rename(tmp, args.data)
    print(f"wrote {count} JPEGs ({total_bytes / count / 1024:.1f} KB on average) to {args.data}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
