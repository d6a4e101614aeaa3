"""The report opened in a real browser: headless Chromium (Debian's `chromium`) loads the page
from disk with the network off, and every picture and chart in it decodes. Also keeps a
screenshot of the page (argument 2). Skips (77) where Chromium is not installed."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pngfiles import write_png

# Counts, once the page has loaded, the images that did not decode. Added to a copy of the
# report for this check only: the report itself carries no script.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0));
  document.title = "PROBE images=" + images.length + " broken=" + broken.length +
      " names=" + broken.map(i => i.alt).join("|");
});
</script>
"""


def chromium(*args):
    base = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--proxy-server=127.0.0.1:9", "--hide-scrollbars"]
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=180)


def main():
    binary, screenshot = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        for i in range(24):
            write_png(os.path.join(data, "warm", f"w{i}.png"), 40, 40, (170 + i * 3, 90 + i * 2, 40))
            write_png(os.path.join(data, "cool", f"c{i}.png"), 40, 40, (40, 90 + i * 2, 170 + i * 3))
            write_png(os.path.join(data, "grey", f"g{i}.png"), 40, 40, (100 + i * 3, 100 + i * 3, 100 + i * 3))
        run = os.path.join(tmp, "run")
        train = subprocess.run([binary, "train", data, "--out", run, "--epochs", "4", "--size", "32",
                                "--batch", "8", "--head", "gap", "--threads", "1"],
                               capture_output=True, text=True, timeout=600)
        assert train.returncode == 0, train.stderr
        report = os.path.join(tmp, "report.html")
        made = subprocess.run([binary, "report", run, "--out", report], capture_output=True, text=True,
                              timeout=600)
        assert made.returncode == 0, made.stderr
        with open(report, encoding="utf-8") as f:
            text = f.read()
        expected = len(re.findall(r"<img ", text))
        assert expected >= 2 + 3, f"too few images in the report: {expected}"

        probed = os.path.join(tmp, "probed.html")
        with open(probed, "w", encoding="utf-8") as f:
            f.write(text.replace("</body>", PROBE + "</body>"))
        dom = chromium("--virtual-time-budget=10000", "--dump-dom", "file://" + probed)
        match = re.search(r"<title>PROBE images=(\d+) broken=(\d+) names=([^<]*)</title>", dom.stdout)
        assert match, f"Chromium did not load the page: {dom.stderr[-2000:]}"
        images, broken = int(match.group(1)), int(match.group(2))
        print(f"Chromium loaded {images} images, {broken} broken {match.group(3)}")
        assert images == expected, f"Chromium saw {images} images, the file has {expected}"
        assert broken == 0, f"{broken} images did not load: {match.group(3)}"

        shot = chromium("--window-size=1100,2200", "--screenshot=" + os.path.abspath(screenshot),
                        "file://" + report)
        assert os.path.getsize(screenshot) > 10000, shot.stderr[-2000:]
        print(f"Screenshot: {screenshot}")


if __name__ == "__main__":
    CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
    if not CHROMIUM:
        print("SKIP: Chromium is not installed (Debian's chromium package); the report's "
              "browser check cannot run")
        sys.exit(77)
    main()
