"""Deterministic probe inputs shared by the Keras comparisons (compare_keras.py and
compare_tfjs_converter.py, which runs under another environment): numpy only."""
import numpy as np


def images(count, height, width, channels, seed):
    """Deterministic inputs in [0, 1]: a gradient, a wave pattern, then seeded noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((count, height, width, channels), np.float32)
    for i in range(count):
        for c in range(channels):
            if i == 0:
                plane = (x / max(width - 1, 1) + y / max(height - 1, 1) * (c + 1)) / (c + 2)
            elif i == 1:
                plane = 0.5 + 0.5 * np.sin(x * (0.3 + 0.1 * c)) * np.cos(y * 0.2)
            else:
                plane = rng.random((height, width))
            out[i, :, :, c] = plane
    return out
