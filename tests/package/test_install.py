"""`cmake --install` into a temporary DESTDIR puts every file in place, and the installed binary
runs from there.

usage: test_install.py CMAKE BUILD_DIR PROJECT_VERSION TORCH_CUDA(ON|OFF)
A CPU-only build (TORCH_CUDA OFF) also brings LibTorch into lib/convscope; a CUDA build keeps
using the wheel it linked (app/CMakeLists.txt), and lib/convscope holds its CUDA module.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

CMAKE = BUILD = VERSION = TORCH_CUDA = None
APP_ID = "io.github.convscope.ConvScope"


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = os.path.join(cls.tmp.name, "root")
        env = dict(os.environ, DESTDIR=cls.root)
        subprocess.run([CMAKE, "--install", BUILD, "--prefix", "/usr"], env=env, check=True,
                       capture_output=True, timeout=600)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, relative):
        return os.path.join(self.root, "usr", relative)

    def test_files_are_in_the_usual_places(self):
        expected = ["bin/convscope", "share/man/man1/convscope.1",
                    f"share/applications/{APP_ID}.desktop",
                    f"share/metainfo/{APP_ID}.metainfo.xml",
                    f"share/icons/hicolor/scalable/apps/{APP_ID}.svg"]
        expected += [f"share/icons/hicolor/{px}x{px}/apps/{APP_ID}.png"
                     for px in (16, 32, 48, 64, 128, 256, 512)]
        for relative in expected:
            with self.subTest(file=relative):
                self.assertTrue(os.path.isfile(self.path(relative)))
                self.assertGreater(os.path.getsize(self.path(relative)), 0)

    def test_metainfo_carries_the_version(self):
        with open(self.path(f"share/metainfo/{APP_ID}.metainfo.xml"), encoding="utf-8") as f:
            self.assertIn(f'<release version="{VERSION}"', f.read())

    def test_libtorch_is_bundled_only_in_a_cpu_only_build(self):
        names = os.listdir(self.path("lib/convscope"))
        if TORCH_CUDA == "ON":
            # Only ConvScope's CUDA module; LibTorch stays in the wheel it was built with.
            self.assertEqual(names, ["libconvscope_cuda.so"])
        else:
            for lib in ("libc10.so", "libtorch_cpu.so"):
                self.assertIn(lib, names)
            self.assertFalse([n for n in names if "torch_cuda" in n or "cudnn" in n or
                              "convscope_cuda" in n], names)

    def test_cuda_libraries_load_only_through_the_installed_module(self):
        binary = self.path("bin/convscope")
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                                 check=True).stdout
        for library in ("libtorch_cuda", "libc10_cuda", "libcudart", "libtorch.so"):
            self.assertNotIn(library, dynamic)
        forced = subprocess.run([binary, "info", "--json"], capture_output=True, text=True,
                                timeout=120, env=dict(os.environ, CONVSCOPE_CUDA="on"))
        self.assertEqual(forced.returncode, 0, forced.stderr)
        info = json.loads(forced.stdout)
        if TORCH_CUDA == "ON":
            module = os.path.join(os.path.realpath(self.path("lib/convscope")),
                                  "libconvscope_cuda.so")
            self.assertEqual((info["cuda_loaded"], info["cuda_status"]),
                             (True, "loaded from " + module))
        else:
            self.assertEqual((info["cuda_loaded"], info["cuda_status"]),
                             (False, "this build is CPU only"))

    def test_installed_binary_runs_and_does_not_point_into_the_build_tree(self):
        binary = self.path("bin/convscope")
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=120)
        self.assertEqual((proc.returncode, proc.stdout), (0, f"convscope {VERSION}\n"), proc.stderr)
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                                 check=True).stdout
        self.assertNotIn(os.path.realpath(BUILD), dynamic)

    def test_installed_binary_opens_image_codecs_only_when_it_writes_an_image(self):
        # OpenCV's imgcodecs (and the GDAL libraries it pulls in) is opened on first use, not
        # at every start; augment writes JPEG previews through it from the installed binary.
        binary = self.path("bin/convscope")
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                                 check=True).stdout
        self.assertNotIn("libopencv_imgcodecs", dynamic)
        self.assertNotIn("libgdal", dynamic)
        from PIL import Image
        image = os.path.join(self.tmp.name, "stripes.png")
        pixels = bytes((i * 7) % 256 for i in range(40 * 30 * 3))
        Image.frombytes("RGB", (40, 30), pixels).save(image)
        out = os.path.join(self.tmp.name, "previews")
        proc = subprocess.run([binary, "augment", image, "--out", out, "--n", "2",
                               "--rotation-range", "20"], capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        written = sorted(os.listdir(out))
        self.assertEqual(len(written), 2, written)
        for name in written:
            with Image.open(os.path.join(out, name)) as preview:
                self.assertEqual(preview.format, "JPEG")


if __name__ == "__main__":
    CMAKE, BUILD, VERSION, TORCH_CUDA = sys.argv[1:5]
    unittest.main(argv=sys.argv[:1], verbosity=2)
