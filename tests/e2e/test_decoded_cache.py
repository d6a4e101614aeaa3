"""The decoded-image cache end to end, with the real binary and a cache folder of its own:

1. A first `train` decodes every image and keeps them; a second on the same folder reads them
   all from the cache, decodes none, and ends with the same weights (bit for bit).
2. A changed file is decoded again, the others still come from the cache.
3. A damaged cache file is reported and rebuilt, never trusted: the run's weights stay those of
   a run without any cache (--no-disk-cache, which leaves the cache alone).
4. `cache` shows the folder, its size, the limit and each dataset (text and --json); `cache
   limit` evicts what no longer fits; `cache clear` empties it.
Run with the PyTorch environment's python: test_decoded_cache.py CONVSCOPE_BINARY"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pngfiles import write_png_rows  # noqa: E402
from test_distributed import SIZE, h5py, make_data, np, picture  # noqa: E402

BINARY = None
TRAIN = ["--size", str(SIZE), "--head", "gap", "--epochs", "2", "--batch", "4", "--seed", "5",
         "--device", "cpu", "--precision", "fp32", "--threads", "1", "--workers", "1",
         "--optimizer", "sgd", "--lr", "0.05"]
IMAGES = 3 * 7  # make_data(root, 7): three classes of seven


def convscope(env, *args, check=True):
    done = subprocess.run([BINARY, *args], capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"convscope {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def train(env, data, out, *extra):
    done = convscope(env, "train", data, "--out", out, *TRAIN, *extra)
    lines = [line for line in (done.stdout + done.stderr).splitlines()
             if line.startswith("Decoded-image cache:")]
    return lines[0] if lines else None


def weights(run):
    out = {}
    with h5py.File(os.path.join(run, "weights.h5"), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.array(obj)
        f.visititems(visit)
    return out


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return sorted(wa) == sorted(wb) and all(np.array_equal(wa[k], wb[k]) for k in wa)


def main():
    global BINARY
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as work:
        cache = os.path.join(work, "cache")
        env = dict(os.environ, CONVSCOPE_CACHE_DIR=cache)
        data = make_data(os.path.join(work, "data"), 7)

        first = train(env, data, os.path.join(work, "r1"))
        print(first)
        assert f"{IMAGES} images decoded; kept in" in first, first
        second = train(env, data, os.path.join(work, "r2"))
        print(second)
        assert f"{IMAGES} images read from" in second and "none decoded" in second, second
        assert same_weights(os.path.join(work, "r1"), os.path.join(work, "r2"))
        print("a run from the cache ends with the same weights as the run that decoded")

        plain = os.path.join(work, "plain")
        assert train(env, data, plain, "--no-disk-cache") is None
        assert same_weights(os.path.join(work, "r1"), plain)

        listing = json.loads(convscope(env, "cache", "--json").stdout)
        assert listing["directory"] == cache and len(listing["packs"]) == 1, listing
        pack = listing["packs"][0]
        assert pack["images"] == IMAGES and pack["width"] == SIZE and pack["dataset"] == data, pack
        assert listing["bytes"] == os.path.getsize(pack["path"]) > IMAGES * SIZE * SIZE * 3
        text = convscope(env, "cache").stdout
        print(text.strip())
        assert cache in text and f"{IMAGES} images at {SIZE}x{SIZE}" in text and "2.0 GiB" in text

        # A changed file: decoded again, the rest from the cache.
        rng = random.Random(9)
        write_png_rows(os.path.join(data, "c1", "3.png"), SIZE, SIZE, picture(rng, 0))
        os.utime(os.path.join(data, "c1", "3.png"), (1e9, 1e9))
        changed = train(env, data, os.path.join(work, "r3"))
        print(changed)
        assert f"{IMAGES - 1} images read from" in changed and "1 new or changed decoded" in changed
        plain2 = os.path.join(work, "plain2")
        train(env, data, plain2, "--no-disk-cache")
        assert same_weights(os.path.join(work, "r3"), plain2)

        # Damage: one byte of pixels, then the whole index. Reported, rebuilt, never trusted.
        with open(pack["path"], "r+b") as f:
            f.seek(64 + 5 * SIZE * SIZE * 3 + 17)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
        damaged = train(env, data, os.path.join(work, "r4"))
        print(damaged)
        assert f"{IMAGES - 1} images read from" in damaged, damaged
        assert "1 decoded (1 of them failed their checksum in the cache)" in damaged, damaged
        assert same_weights(os.path.join(work, "r4"), plain2)
        with open(pack["path"], "r+b") as f:
            f.seek(-8, os.SEEK_END)
            f.write(b"\xde\xad\xbe\xef\xde\xad\xbe\xef")
        broken = train(env, data, os.path.join(work, "r5"))
        print(broken)
        assert "was damaged (its index does not match its checksum)" in broken, broken
        assert f"{IMAGES} images decoded" in broken and "kept in" in broken
        assert same_weights(os.path.join(work, "r5"), plain2)
        assert f"{IMAGES} images read from" in train(env, data, os.path.join(work, "r6"))

        # The limit: a second dataset's pack pushes the older one out.
        other = make_data(os.path.join(work, "other"), 7)
        os.utime(pack["path"], (1e9, 1e9))  # the first dataset's pack is the older
        done = convscope(env, "cache", "limit", str(pack["bytes"] + 1000))
        assert "Decoded-image cache limit" in done.stdout, done.stdout
        evicting = train(env, other, os.path.join(work, "r7"))
        print(evicting)
        assert f"removed the least recently used {pack['path']}" in evicting, evicting
        listing = json.loads(convscope(env, "cache", "--json").stdout)
        assert [p["dataset"] for p in listing["packs"]] == [other], listing
        assert listing["limit_bytes"] == pack["bytes"] + 1000

        done = convscope(env, "cache", "limit", "lots", check=False)
        assert done.returncode != 0 and "not a size" in done.stderr, done.stderr
        done = convscope(env, "cache", "clear")
        print(done.stdout.strip())
        assert "Removed 1 cached dataset (" in done.stdout
        assert json.loads(convscope(env, "cache", "--json").stdout)["packs"] == []
        done = convscope(env, "cache", "wipe", check=False)
        assert done.returncode == 2 and "cache takes" in done.stderr
    return 0


if __name__ == "__main__":
    sys.exit(main())
