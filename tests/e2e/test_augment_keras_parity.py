"""ConvScope's augmenter against Keras's ImageDataGenerator.apply_transform, pixel for pixel.

One explicit transform per case (no random draw) is applied to the same textured 64x64 RGB
image by Keras 3 (keras.src.legacy.preprocessing.image: scipy.ndimage.affine_transform,
order 1, on float32) and by ConvScope (core/augment/augmenter: one cv::warpAffine,
INTER_LINEAR, WARP_INVERSE_MAP, then a lookup table; through tests/core/augment_transform_tool).
Each case prints the max and mean absolute difference in 0..255 units and the share of pixels
differing by more than 1, over the whole image and over the interior (pixels whose source
point lies inside the image, where fill modes play no part).

Tolerance: interior mean <= 1.0 and interior max <= 8 (OpenCV quantizes source coordinates to
1/32 pixel and weights to 15 bits and rounds to uint8; Keras keeps float32; on the texture's
sharp edges that is a few units), whole-image mean <= 1.0 where the fill modes agree.

Conventions that differ (the test maps them, and says so):
- Keras 3's apply_affine_transform builds its matrix in (x, y) and conjugates it by the axis
  swap (M' = PMP) before scipy; ConvScope composes Keras 2's matrix in (row, col). So Keras 3's
  tx shifts columns and ty rows, zx zooms columns and zy rows, and theta turns the other way:
  Keras(theta, tx, ty, zx, zy) == ConvScope(-theta, shift_rows=ty, shift_cols=tx,
  zoom_rows=zy, zoom_cols=zx). Keras's shear becomes the lower-triangular [[cos s, 0],
  [-sin s, 1]], which no ConvScope shear angle gives; the same map is a ConvScope rotation *
  shear * zoom (a QR decomposition, below). The same-angle shear is reported, not asserted.
  Both centre on (n/2 - 0.5); on non-square images Keras 3 pairs the row centre with the
  column axis, so this test uses a square image.
- fill_mode "constant": scipy's "constant" gives cval for any point outside [0, n-1] (no
  blending), OpenCV's BORDER_CONSTANT blends the edge pixel with cval: a one-pixel band at the
  border differs. fill_mode "wrap": scipy's "wrap" repeats with period n - 1 (first and last
  sample overlap; its "grid-wrap" is period n), OpenCV's BORDER_WRAP with period n: the wrapped
  region is shifted by one pixel. Both are reported whole-image, asserted on the interior only.
- brightness: Keras truncates the warped floats to uint8 and PIL's blend truncates again;
  ConvScope rounds once.

Run with the PyTorch environment's python and the path of augment_transform_tool.
Exits 77 (skipped) where Keras or scipy cannot be imported."""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

SIZE = 64


def load_keras_image_module():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import scipy.ndimage  # noqa: F401  (apply_transform's warp)
        import PIL.ImageEnhance  # noqa: F401  (apply_transform's brightness)
    except ImportError as e:
        print(f"SKIP: scipy or Pillow cannot be imported ({e})")
        sys.exit(77)
    try:
        from keras.src.legacy.preprocessing import image as kimage
    except ImportError:
        try:
            from keras.preprocessing import image as kimage
        except ImportError as e:
            print(f"SKIP: Keras's ImageDataGenerator cannot be imported ({e})")
            sys.exit(77)
    return kimage


def textured_image():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    checker = np.where(((x // 8) + (y // 8)) % 2 == 0, 35.0, -35.0)
    r = 128 + 70 * np.sin(x / 3.1) * np.cos(y / 5.3) + checker
    g = 128 + 80 * np.sin((x + 2 * y) / 6.7) - 0.5 * checker
    b = 40 + 3 * x + 0.5 * y + 20 * np.cos(x * y / 90.0)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).round().astype(np.uint8)


def write_ppm(path, image):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (image.shape[1], image.shape[0]))
        f.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P6" and parts[3] == b"255", parts[:4]
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4][: w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def convscope_matrix(d, width, height):
    """Augmenter::matrix in (row, col): output pixel -> source pixel (3x3)."""
    t, s = math.radians(d.get("theta", 0)), math.radians(d.get("shear", 0))
    rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, d.get("shift_rows", 0)], [0, 1, d.get("shift_cols", 0)], [0, 0, 1]])
    shear = np.array([[1, -math.sin(s), 0], [0, math.cos(s), 0], [0, 0, 1]])
    zoom = np.diag([d.get("zoom_rows", 1), d.get("zoom_cols", 1), 1.0])
    o_r, o_c = height / 2 - 0.5, width / 2 - 0.5
    to_c = np.array([[1, 0, o_r], [0, 1, o_c], [0, 0, 1]])
    from_c = np.array([[1, 0, -o_r], [0, 1, -o_c], [0, 0, 1]])
    fv, fh = d.get("flip_v", 0), d.get("flip_h", 0)
    flip = np.array([[-1 if fv else 1, 0, height - 1 if fv else 0],
                     [0, -1 if fh else 1, width - 1 if fh else 0], [0, 0, 1]], dtype=float)
    return to_c @ rot @ shift @ shear @ zoom @ from_c @ flip


def interior_mask(d, width, height):
    rows, cols = np.mgrid[0:height, 0:width]
    pts = np.stack([rows.ravel(), cols.ravel(), np.ones(rows.size)])
    src = convscope_matrix(d, width, height) @ pts
    eps = 1e-9
    inside = ((src[0] >= -eps) & (src[0] <= height - 1 + eps) &
              (src[1] >= -eps) & (src[1] <= width - 1 + eps))
    return inside.reshape(height, width)


def keras_to_convscope(k):
    """Keras 3 apply_transform parameters -> the same map as a ConvScope AugmentDraw."""
    d = {"theta": -k.get("theta", 0), "shift_rows": k.get("ty", 0),
         "shift_cols": k.get("tx", 0), "zoom_rows": k.get("zy", 1), "zoom_cols": k.get("zx", 1)}
    if k.get("shear", 0):
        assert not any(k.get(n, 0) for n in ("theta", "tx", "ty")) and \
            k.get("zx", 1) == k.get("zy", 1) == 1, "shear is mapped on its own"
        s = math.radians(k["shear"])
        target = np.array([[math.cos(s), 0.0], [-math.sin(s), 1.0]])  # Keras 3 in (row, col)
        q, r = np.linalg.qr(target)
        signs = np.sign(np.diag(r))
        q, r = q * signs, (r.T * signs).T  # positive diagonal
        assert np.linalg.det(q) > 0
        b = math.hypot(r[0, 1], r[1, 1])
        d = {"theta": math.degrees(math.atan2(q[1, 0], q[0, 0])),
             "shear": math.degrees(math.atan2(-r[0, 1], r[1, 1])),
             "zoom_rows": r[0, 0], "zoom_cols": b}
        assert np.allclose(convscope_matrix(d, 2, 2)[:2, :2], target, atol=1e-12)
    if k.get("flip_horizontal"):
        d["flip_h"] = 1
    if k.get("flip_vertical"):
        d["flip_v"] = 1
    if k.get("channel_shift_intensity") is not None:
        d["channel_shift"] = k["channel_shift_intensity"]
    if k.get("brightness") is not None:
        d["brightness"] = k["brightness"]
    return d


# (name, Keras transform_parameters, fill_mode, cval, asserted_whole_image)
CASES = [
    ("rotation 17", {"theta": 17.0}, "nearest", 0, True),
    ("shift tx=5.5 ty=-3.25", {"tx": 5.5, "ty": -3.25}, "nearest", 0, True),
    ("shear 12 (mapped)", {"shear": 12.0}, "nearest", 0, True),
    ("zoom zx=0.8 zy=1.25", {"zx": 0.8, "zy": 1.25}, "nearest", 0, True),
    ("horizontal flip", {"flip_horizontal": True}, "nearest", 0, True),
    ("rotate+shift+zoom+flip", {"theta": -23.0, "tx": 4.0, "ty": 2.5, "zx": 1.1, "zy": 0.9,
                                "flip_horizontal": True}, "nearest", 0, True),
    ("fill constant cval=77", {"theta": 30.0, "zx": 1.3, "zy": 1.3}, "constant", 77, False),
    ("fill nearest", {"theta": 30.0, "zx": 1.3, "zy": 1.3}, "nearest", 0, True),
    ("fill reflect", {"theta": 30.0, "zx": 1.3, "zy": 1.3}, "reflect", 0, True),
    ("fill wrap", {"theta": 30.0, "zx": 1.3, "zy": 1.3}, "wrap", 0, False),
    ("brightness 1.3", {"brightness": 1.3}, "nearest", 0, True),
    ("brightness 0.6 + rotation 9", {"theta": 9.0, "brightness": 0.6}, "nearest", 0, True),
    ("channel shift 25", {"channel_shift_intensity": 25.0}, "nearest", 0, True),
]

INTERIOR_MEAN, INTERIOR_MAX, WHOLE_MEAN = 1.0, 8.0, 1.0


def convscope_apply(tool, image, draw, fill_mode, cval, workdir):
    src, dst = os.path.join(workdir, "in.ppm"), os.path.join(workdir, "out.ppm")
    write_ppm(src, image)
    args = [tool, src, dst, f"fill={fill_mode}", f"cval={cval!r}"]
    args += [f"{k}={float(v)!r}" for k, v in draw.items()]
    subprocess.run(args, check=True)
    return read_ppm(dst)


def stats(diff):
    return float(diff.max()), float(diff.mean()), float((diff > 1).mean())


def main(convscope_apply=convscope_apply):
    if len(sys.argv) < 2:
        print("usage: test_augment_keras_parity.py AUGMENT_TRANSFORM_TOOL")
        return 2
    kimage = load_keras_image_module()
    image = textured_image()
    failures = []
    print(f"{'case':30} {'max':>6} {'mean':>6} {'>1':>7} | interior {'max':>6} {'mean':>6} "
          f"{'>1':>7}")
    with tempfile.TemporaryDirectory() as workdir:
        cases = CASES + [("shear 12 (same angle)", {"shear": 12.0}, "nearest", 0, None)]
        for name, kparams, fill_mode, cval, whole_asserted in cases:
            gen = kimage.ImageDataGenerator(fill_mode=fill_mode, cval=cval)
            expected = gen.apply_transform(image.astype(np.float32), dict(kparams))
            draw = keras_to_convscope(kparams)
            if whole_asserted is None:  # the same angle, unmapped: how far apart they are
                draw = {"shear": kparams["shear"]}
            got = convscope_apply(sys.argv[1], image, draw, fill_mode, cval, workdir)
            diff = np.abs(got.astype(np.float64) - np.asarray(expected, np.float64))
            inside = interior_mask(draw, SIZE, SIZE)
            w_max, w_mean, w_share = stats(diff)
            i_max, i_mean, i_share = stats(diff[inside])
            print(f"{name:30} {w_max:6.2f} {w_mean:6.3f} {w_share:7.2%} | interior "
                  f"{i_max:6.2f} {i_mean:6.3f} {i_share:7.2%}"
                  + ("" if whole_asserted else "  (whole image not asserted)"))
            if whole_asserted is None:
                continue
            if i_mean > INTERIOR_MEAN or i_max > INTERIOR_MAX:
                failures.append(f"{name}: interior max {i_max:.2f} mean {i_mean:.3f}")
            if whole_asserted and w_mean > WHOLE_MEAN:
                failures.append(f"{name}: whole-image mean {w_mean:.3f}")
    for f in failures:
        print("FAIL:", f)
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
