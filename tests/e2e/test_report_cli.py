"""End-to-end: `convscope report RUN_DIR --out report.html` on real runs (finished with a GAP
head, killed mid-epoch, a fine-tuning recipe, one whose data folder is gone, a damaged one),
`confusion.json` in the run folder, and `train --workspace`."""
import base64
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from killedrun import train_and_kill
from pngfiles import write_png

BINARY = None


class Page(html.parser.HTMLParser):
    """The images and headings of a report page, and any reference that leaves the page."""

    def __init__(self, text):
        super().__init__()
        self.images, self.headings, self.outside = [], [], []
        self._in_heading = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag in ("h1", "h2"):
            self._in_heading = True
            self.headings.append("")
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.outside.append(attrs[key])
        if tag in ("script", "link", "iframe", "object"):
            self.outside.append(tag)

    def handle_endtag(self, tag):
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


def decoded_images(page):
    """Each image's bytes, checked to be what its data: URL says it is."""
    out = []
    for img in page.images:
        match = re.fullmatch(r"data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)", img["src"])
        assert match, img["src"][:80]
        data = base64.b64decode(match.group(2), validate=True)
        kind = match.group(1)
        if kind == "image/jpeg":
            assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", "not a whole JPEG"
        elif kind == "image/svg+xml":
            assert data.startswith(b"<svg") and data.rstrip().endswith(b"</svg>"), "not an SVG"
        else:
            raise AssertionError(f"unexpected image type {kind}")
        out.append((kind, data))
    return out


class ReportCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        # Three classes that differ in colour, with a noisy overlap so that some are wrong.
        for i in range(30):
            write_png(os.path.join(cls.data, "red", f"r{i}.png"), 24, 24, (150 + i * 3, 60 + i, 40))
            write_png(os.path.join(cls.data, "green", f"g{i}.png"), 24, 24, (60 + i, 150 + i * 3, 40))
            write_png(os.path.join(cls.data, "mixed", f"m{i}.png"), 24, 24, (110 + i * 2, 110 + i * 2, 40))
        with open(os.path.join(cls.data, "red", "broken.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n not really")
        cls.ws = os.path.join(cls.tmp.name, "workspace")
        cls.common = ["--size", "32", "--batch", "8", "--threads", "1"]
        done = cls.run_cli("train", cls.data, "--out", os.path.join(cls.ws, "done"), "--epochs", "3",
                           "--head", "gap", *cls.common)
        assert done.returncode == 0, done.stderr

        train_and_kill(BINARY, cls.data, os.path.join(cls.ws, "killed"), ["--epochs", "5", *cls.common])

        recipe = cls.run_cli("finetune", cls.data, "--out", os.path.join(cls.ws, "recipe"), "--weights",
                             os.path.join(cls.ws, "done", "weights.h5"), "--head-epochs", "1",
                             "--finetune-epochs", "1", "--head", "gap", *cls.common)
        assert recipe.returncode == 0, recipe.stderr

        os.makedirs(os.path.join(cls.ws, "damaged"))
        with open(os.path.join(cls.ws, "damaged", "config.json"), "w") as f:
            f.write('{"data": ')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def run_cli(*args):
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600)

    def report(self, run, *options):
        out = os.path.join(self.tmp.name, f"{os.path.basename(run)}.html")
        proc = self.run_cli("report", run, "--out", out, *options)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out, encoding="utf-8") as f:
            text = f.read()
        return text, Page(text), proc

    def test_a_finished_runs_report_holds_every_part_and_nothing_outside_it(self):
        text, page, _ = self.report(os.path.join(self.ws, "done"), "--misclassified", "5",
                                    "--cam-per-class", "2")
        self.assertEqual(page.outside, [], "the page must not fetch anything")
        for heading in ("Curves", "Confusion matrix", "Per class", "Most confidently misclassified",
                        "Class activation maps", "Data", "Settings"):
            self.assertIn(heading, page.headings)
        self.assertNotIn("Not in this report", page.headings)
        images = decoded_images(page)
        self.assertEqual(sum(kind == "image/svg+xml" for kind, _ in images), 2)  # accuracy, loss
        # The skipped file and its reason, and the class counts.
        self.assertIn("broken.png", text)
        for name in ("red", "green", "mixed"):
            self.assertIn(f"<td>{name}</td>", text)
        # CAM on the GAP head's maps, two per class.
        self.assertIn("CAM on layer", text)
        self.assertEqual(text.count("<td valign=\"top\">"), len(page.images) - 2)

    def test_the_confusion_matrix_is_what_evaluate_finds(self):
        run = os.path.join(self.ws, "done")
        evaluation = json.loads(self.run_cli("evaluate", os.path.join(run, "weights.h5"), self.data,
                                             "--split", "validation", "--json").stdout)
        text, _, _ = self.report(run)
        table = text[text.index('<table class="confusion"'):]
        table = table[:table.index("</table>")]
        counts = [int(n) for n in re.findall(r">(\d+)</td>", table)]
        flat = [n for row in evaluation["confusion"] for n in row]
        self.assertEqual(counts, flat)
        for c in evaluation["classes"]:
            self.assertIn(f"<td>{c['name']}</td><td>{100 * c['precision']:.1f}%</td>"
                          f"<td>{100 * c['recall']:.1f}%</td>", text)
        # The trainer keeps the last epoch's matrix beside the weights: the same counts.
        with open(os.path.join(run, "confusion.json")) as f:
            recorded = json.load(f)
        self.assertEqual(recorded["epoch"], 3)
        self.assertEqual(recorded["classes"], [c["name"] for c in evaluation["classes"]])
        self.assertEqual(recorded["matrix"], evaluation["confusion"])

    def test_the_misclassified_pictures_are_the_wrong_ones_most_confident_first(self):
        run = os.path.join(self.ws, "done")
        text, _, _ = self.report(run, "--misclassified", "100")
        section = text[text.index("Most confidently misclassified"):text.index("Class activation maps")]
        shown = re.findall(r"<small>([^<]+)<br>true <b>(\w+)</b>, predicted <b>(\w+)</b> \(([\d.]+)%\)",
                           section)
        self.assertGreater(len(shown), 0, "the mixed class overlaps: some must be wrong")
        confidences = [float(p) for *_, p in shown]
        self.assertEqual(confidences, sorted(confidences, reverse=True))
        folder = {"r": "red", "g": "green", "m": "mixed"}
        for name, truth, predicted, confidence in shown:
            self.assertEqual(truth, folder[name[0]])
            self.assertNotEqual(truth, predicted)
            # What `predict` makes of the same file.
            proc = self.run_cli("predict", os.path.join(run, "weights.h5"),
                                os.path.join(self.data, truth, name), "--json")
            prediction = json.loads(proc.stdout.splitlines()[0])
            self.assertEqual(prediction["top"], predicted)
            self.assertAlmostEqual(100 * prediction["probabilities"][predicted], float(confidence), delta=0.051)
        # Every wrong validation image is shown when asked for 100.
        evaluation = json.loads(self.run_cli("evaluate", os.path.join(run, "weights.h5"), self.data,
                                             "--split", "validation", "--json").stdout)
        wrong = sum(n for t, row in enumerate(evaluation["confusion"]) for p, n in enumerate(row) if t != p)
        self.assertEqual(len(shown), wrong)

    def test_a_killed_run_is_reported_from_its_last_epoch(self):
        text, page, _ = self.report(os.path.join(self.ws, "killed"))
        self.assertIn("This run is interrupted", text)
        self.assertIn("latest.h5 on the", text)
        self.assertIn("Confusion matrix", page.headings)
        decoded_images(page)

    def test_a_recipe_is_reported(self):
        text, page, _ = self.report(os.path.join(self.ws, "recipe"))
        self.assertIn("two-phase fine-tuning recipe", text)
        self.assertIn("Confusion matrix", page.headings)
        self.assertIn("Epochs</td><td>2 of 2", text)

    def test_without_its_data_the_report_shows_the_recorded_matrix_and_says_why(self):
        moved = os.path.join(self.tmp.name, "moved")
        shutil.copytree(os.path.join(self.ws, "done"), moved)
        data = json.load(open(os.path.join(moved, "confusion.json")))
        config_path = os.path.join(moved, "config.json")
        config = json.load(open(config_path))
        config["data"] = os.path.join(self.tmp.name, "gone")
        json.dump(config, open(config_path, "w"))
        text, page, proc = self.report(moved)
        self.assertIn("recorded at the end of epoch 3 (confusion.json)", text)
        self.assertIn("Not in this report", page.headings)
        self.assertIn("gone", proc.stderr)
        self.assertNotIn("Most confidently misclassified", page.headings)
        table = text[text.index('<table class="confusion"'):]
        counts = [int(n) for n in re.findall(r">(\d+)</td>", table[:table.index("</table>")])]
        self.assertEqual(counts, [n for row in data["matrix"] for n in row])

    def test_a_damaged_run_gets_a_report_that_says_so(self):
        text, page, proc = self.report(os.path.join(self.ws, "damaged"))
        self.assertIn("This run is damaged", text)
        self.assertIn("Not in this report", page.headings)
        self.assertIn("Left out:", proc.stderr)

    def test_a_folder_that_is_not_a_run_is_refused(self):
        proc = self.run_cli("report", self.data, "--out", os.path.join(self.tmp.name, "x.html"))
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("not a ConvScope run folder", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x.html")))
        proc = self.run_cli("report", os.path.join(self.ws, "done"))
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("--out", proc.stderr)

    def test_train_with_a_workspace_makes_a_new_run_folder_there(self):
        ws = os.path.join(self.tmp.name, "elsewhere")
        for _ in range(2):
            proc = self.run_cli("train", self.data, "--workspace", ws, "--epochs", "1", *self.common)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("Run folder: " + ws, proc.stderr)
        folders = sorted(os.listdir(ws))
        self.assertEqual(len(folders), 2)
        for folder in folders:
            self.assertRegex(folder, r"^\d{8}-\d{6}(-\d+)?$")
        runs = json.loads(self.run_cli("runs", "--workspace", ws, "--json").stdout)
        self.assertEqual([r["status"] for r in runs], ["finished", "finished"])
        both = self.run_cli("train", self.data, "--workspace", ws, "--out", os.path.join(ws, "x"))
        self.assertNotEqual(both.returncode, 0)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
