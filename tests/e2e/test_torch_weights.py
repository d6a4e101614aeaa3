"""torchvision .pth files end to end: `convscope predict x.pth` gives torchvision's own
probabilities (architecture from the keys, torchvision preprocessing), `convscope summary
x.pth` names the architecture, and `convscope train --weights x.pth` starts from the file
without its head. Run with the PyTorch environment's python (torch, torchvision, numpy, h5py);
skipped when torchvision is missing."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from test_keras_weights import write_png_pixels  # noqa: E402
from test_train_cli import write_png  # noqa: E402

try:
    import h5py
    import torch
    import torchvision
except ImportError:
    torch = None

BINARY = None
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


@unittest.skipIf(torch is None, "torchvision is missing")
class TorchWeightsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        torch.manual_seed(0)
        cls.model = torchvision.models.resnet18(weights=None)
        with torch.no_grad():
            for m in cls.model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
        cls.model.eval()
        cls.pth = os.path.join(cls.tmp.name, "resnet18.pth")
        torch.save(cls.model.state_dict(), cls.pth)
        rng = np.random.default_rng(5)
        cls.pixels = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
        cls.image = os.path.join(cls.tmp.name, "img.png")
        write_png_pixels(cls.image, cls.pixels)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_binary(self, *args, timeout=300):
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)

    def torchvision_probabilities(self):
        x = (self.pixels.astype(np.float32) / 255 - MEAN) / STD
        with torch.no_grad():
            logits = self.model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])
        return torch.softmax(logits, 1)[0].numpy()

    def test_predict_gives_torchvisions_probabilities(self):
        out = self.run_binary("predict", self.pth, self.image, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout.splitlines()[0])
        probs = result["probabilities"]
        self.assertEqual(len(probs), 1000)
        ours = np.array([probs[f"class_{i}"] for i in range(1000)])
        expected = self.torchvision_probabilities()
        self.assertLess(np.abs(ours - expected).max(), 1e-5)
        self.assertEqual(result["top"], f"class_{int(expected.argmax())}")

    def test_predict_takes_an_explicit_size(self):
        # --size was ignored: a .pth brings its own guess (224), and the image was resized.
        small = self.pixels[:64, :64].copy()
        image = os.path.join(self.tmp.name, "small.png")
        write_png_pixels(image, small)
        out = self.run_binary("predict", self.pth, image, "--size", "64", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        probs = json.loads(out.stdout.splitlines()[0])["probabilities"]
        ours = np.array([probs[f"class_{i}"] for i in range(1000)])
        x = (small.astype(np.float32) / 255 - MEAN) / STD
        with torch.no_grad():
            logits = self.model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])
        expected = torch.softmax(logits, 1)[0].numpy()
        self.assertLess(np.abs(ours - expected).max(), 1e-5)

    def test_predict_takes_class_names_from_a_labels_file(self):
        labels = os.path.join(self.tmp.name, "labels.txt")
        with open(labels, "w") as f:
            f.write("".join(f"thing {i}\n" for i in range(1000)))
        out = self.run_binary("predict", self.pth, self.image, "--labels", labels, "--top-k", "2")
        self.assertEqual(out.returncode, 0, out.stderr)
        top = int(self.torchvision_probabilities().argmax())
        self.assertIn(f": thing {top} ", out.stdout)

    def test_predict_refuses_a_wrong_number_of_class_names(self):
        out = self.run_binary("predict", self.pth, self.image, "--classes", "cat,dog")
        self.assertEqual(out.returncode, 1)
        self.assertIn("has 1000 classes, but 2 class names were given", out.stderr)

    def test_predict_explains_a_file_that_is_not_weights(self):
        text = os.path.join(self.tmp.name, "notes.pth")
        with open(text, "w") as f:
            f.write("hello\n")
        out = self.run_binary("predict", text, self.image)
        self.assertEqual(out.returncode, 1)
        self.assertIn("not a weight file ConvScope reads", out.stderr)

    def test_summary_names_the_architecture_from_the_keys(self):
        out = self.run_binary("summary", self.pth, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        summary = json.loads(out.stdout)
        self.assertEqual(summary["architecture"], "resnet18")
        self.assertEqual(summary["parameters"], sum(p.numel() for p in self.model.parameters()))

    def test_train_starts_from_the_pth_without_its_head(self):
        data = os.path.join(self.tmp.name, "data")
        for i in range(12):
            write_png(os.path.join(data, "red", f"{i}.png"), 24, 24, (150 + i, 20, 30))
            write_png(os.path.join(data, "green", f"{i}.png"), 24, 24, (30, 150 + i, 20))
        run = os.path.join(self.tmp.name, "run")
        # No --arch: the architecture comes from the file's keys.
        out = self.run_binary("train", data, "--out", run, "--head", "gap",
                              "--size", "32", "--epochs", "1", "--batch", "8", "--threads", "2",
                              "--weights", self.pth, "--freeze-up-to", "layer4", timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        print(out.stdout)
        report = [line for line in out.stdout.splitlines() if "Starting from" in line]
        self.assertEqual(len(report), 1, out.stdout)
        self.assertIn("PyTorch state_dict", report[0])
        self.assertIn("preprocessing torchvision", report[0])
        self.assertIn("skipped 1 whose shapes differ (a new head): "
                      "fc.weight: file (1000, 512), model (2, 512)", report[0])
        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
            self.assertEqual(config["preprocessing"]["name"], "torchvision")
            self.assertEqual(config["architecture"], "resnet18")
        with h5py.File(os.path.join(run, "weights.h5"), "r") as f:
            metadata = json.loads(f.attrs["convscope_model"].decode())
            self.assertEqual(metadata["preprocessing"]["name"], "torchvision")
            np.testing.assert_allclose(metadata["preprocessing"]["std"], [0.229, 0.224, 0.225],
                                       rtol=1e-6)
            np.testing.assert_allclose(metadata["preprocessing"]["mean"], [0.485, 0.456, 0.406],
                                       rtol=1e-6)
            kernel = f["conv1"]["conv1/kernel:0"][()]  # frozen: still the .pth's, as HWIO
            expected = self.model.conv1.weight.detach().numpy().transpose(2, 3, 1, 0)
            self.assertTrue(np.array_equal(kernel, expected))
            self.assertEqual(f["fc"]["fc/kernel:0"].shape, (512, 2))


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
