"""Writes docs/benchmarks.md and its chart (docs/images/benchmarks-w1.png) from the JSON that
run_all.sh collects: w1.json (w1_epoch.py) and pipeline.json (run_pipeline_bench.sh).
The chart shows, per precision, where the wall time of each side goes: ConvScope's stages from
its own breakdown, PyTorch's total (its processes report no breakdown). Drawn with Pillow
(which torchvision brings).

Usage: make_benchmarks_md.py RESULTS_DIR DOCS_DIR"""
import glob
import json
import os
import sys

from PIL import Image, ImageDraw, ImageFont

# Stages in the order they happen; "training step" is forward + backward + optimizer.
SEGMENTS = [("startup", "start-up (libraries)", (150, 150, 150)),
            ("scan", "scan", (120, 90, 170)),
            ("decode", "decode / read cache", (230, 120, 40)),
            ("forward_backward", "forward + backward", (40, 110, 190)),
            ("optimizer", "optimizer", (90, 170, 230)),
            ("batch_wait", "waiting for batches", (220, 60, 60)),
            ("validation", "validation", (60, 160, 80)),
            ("writes", "writes", (200, 180, 40)),
            ("other", "other", (200, 200, 200))]
PYTORCH = (110, 110, 110)


def font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def segments(side):
    st = side["stages"]
    known = sum(st[k] for k, _, _ in SEGMENTS if k != "other")
    values = {k: st.get(k, 0.0) for k, _, _ in SEGMENTS}
    values["other"] = max(0.0, side["median"] - known)
    return values


def chart(w1, path):
    precisions = list(w1["precisions"])
    rows = []
    for p in precisions:
        e = w1["precisions"][p]
        rows += [(f"ConvScope {p}, first run", segments(e["convscope_first"])),
                 (f"PyTorch {p}, first run", e["pytorch_first"]["median"]),
                 (f"ConvScope {p}, second run", segments(e["convscope_second"])),
                 (f"PyTorch {p}, second run", e["pytorch_second"]["median"])]
    longest = max(r[1] if isinstance(r[1], float) else sum(r[1].values()) for r in rows)
    left, right, top, bar, gap = 250, 60, 50, 26, 10
    width = 1100
    legend_rows = 3
    height = top + len(rows) * (bar + gap) + 40 + legend_rows * 22 + 20
    image = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(image)
    scale = (width - left - right) / longest
    d.text((10, 12), f"W1, one epoch end to end: where the wall time goes (median of "
                     f"{w1['runs']} runs; {w1['cpu']}, {w1['cores']} cores, PyTorch "
                     f"{w1['torch']})", fill="black", font=font(15))
    y = top
    for label, value in rows:
        d.text((10, y + 5), label, fill="black", font=font(14))
        x = left
        if isinstance(value, float):
            d.rectangle([x, y, x + value * scale, y + bar], fill=PYTORCH)
            total = value
        else:
            for key, _, colour in SEGMENTS:
                w = value[key] * scale
                if w > 0:
                    d.rectangle([x, y, x + w, y + bar], fill=colour)
                x += w
            total = sum(value.values())
        d.text((left + total * scale + 6, y + 5), f"{total:.1f} s", fill="black", font=font(14))
        y += bar + gap
    # Seconds axis.
    y += 4
    d.line([left, y, width - right, y], fill="black")
    step = 5 if longest > 20 else 2
    s = 0
    while s <= longest:
        x = left + s * scale
        d.line([x, y, x + 0, y + 5], fill="black")
        d.text((x - 6, y + 7), f"{s}", fill="black", font=font(12))
        s += step
    d.text((width - right + 5, y + 7), "s", fill="black", font=font(12))
    y += 34
    items = [(name, colour) for _, name, colour in SEGMENTS] + [("PyTorch (total)", PYTORCH)]
    per_row = (len(items) + legend_rows - 1) // legend_rows
    for i, (name, colour) in enumerate(items):
        x = left + (i % per_row) * 200
        yy = y + (i // per_row) * 22
        d.rectangle([x, yy + 3, x + 14, yy + 15], fill=colour)
        d.text((x + 20, yy + 1), name, fill="black", font=font(13))
    image.save(path)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    results, docs = sys.argv[1:3]
    w1 = json.load(open(os.path.join(results, "w1.json")))
    pipeline = json.load(open(os.path.join(results, "pipeline.json")))
    os.makedirs(os.path.join(docs, "images"), exist_ok=True)
    chart(w1, os.path.join(docs, "images", "benchmarks-w1.png"))

    def r(x):
        return f"**{x['median']:.2f}x** ({x['min']:.2f}-{x['max']:.2f}x)"

    lines = [
        "# Benchmarks",
        "",
        "Written by `tests/bench/run_all.sh` (do not edit by hand). Every figure is a ratio "
        "measured in one run against PyTorch doing the same work on the same cores, with the "
        "PyTorch that ConvScope links; absolute times vary with the machine and are given only "
        "beside the ratios. Medians over the runs, with the range (slowest ConvScope against "
        "fastest PyTorch, and the reverse) in brackets. Benchmarks never fail CI on timing.",
        "",
        f"Measured {w1['date']} on {w1['cpu']}, {w1['cores']} cores, PyTorch {w1['torch']}, "
        f"{w1['runs']} runs each"
        + (f", the pipeline {pipeline['runs']}." if pipeline.get("runs", w1["runs"]) != w1["runs"]
           else "."),
        "",
        "| workload | precision | ConvScope | PyTorch | PyTorch / ConvScope |",
        "|---|---|---|---|---|",
    ]
    for p, e in w1["precisions"].items():
        for run, note in (("first", "first run: both decode every JPEG"),
                          ("second", "second run: ConvScope reads its decoded-image cache; "
                                     "PyTorch, having none, decodes again")):
            c, t = e[f"convscope_{run}"], e[f"pytorch_{run}"]
            lines.append(f"| W1 one epoch, {note} | {p} | {c['median']:.2f} s "
                         f"({c['min']:.2f}-{c['max']:.2f}) | {t['median']:.2f} s "
                         f"({t['min']:.2f}-{t['max']:.2f}) | {r(e[f'ratio_{run}'])} |")
    lines.append(
        f"| Pipeline alone, first pass (scan + decode + augment + batch, 2,800 images) | - | "
        f"{pipeline['convscope_epoch1_seconds']:.2f} s | "
        f"{pipeline['torchvision_epoch1_seconds']:.2f} s | {r(pipeline['ratio_first'])} |")
    lines += [
        "",
        "![Where W1's wall time goes](images/benchmarks-w1.png)",
        "",
        "## What each row runs",
        "",
        "- **W1** (`tests/bench/run_w1_epoch.sh`, driver `w1_epoch.py`): the Keras blog net at "
        "150x150, batch 32, RMSprop 1e-4, the blog's augmentation, on the bench folder "
        "(`make_bench_data.py`: 2,000 training and 800 validation JPEGs of 300-500 px). ConvScope "
        "is the whole `convscope train` command; PyTorch is `reference_w1_epoch.py` "
        "(ImageFolder, Resize, RandomAffine + flip, DataLoader, channels_last, RMSprop, a "
        "validation pass, `torch.save`). Each side is timed from process start to exit, so "
        "library loading, decoding, validation and writing the weights count on both. Both use "
        "every core: intra-op threads and DataLoader workers equal the core count. bf16 is "
        "`--precision bf16` against `torch.autocast(\"cpu\", torch.bfloat16)`. The first "
        "ConvScope run starts with an empty decoded-image cache (a new `CONVSCOPE_CACHE_DIR`); "
        "the second reuses it. The JPEG files are in the page cache for every run on both sides.",
        "- **Pipeline** (`tests/bench/run_pipeline_bench.sh`): `bench_pipeline` (scan, decode at "
        "150x150, one augmented epoch of batches) against `reference_pipeline.py` (ImageFolder "
        "+ Resize + RandomAffine + flip + ToTensor through a DataLoader), no training, every "
        "core on both sides.",
        "",
        "## ConvScope's breakdown (medians, seconds)",
        "",
        "| run | start-up | scan | decode | forward + backward | optimizer | waiting for "
        "batches | validation | writes | augmentation (loader threads) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p, e in w1["precisions"].items():
        for run in ("first", "second"):
            st = e[f"convscope_{run}"]["stages"]
            lines.append(f"| {p}, {run} run | " + " | ".join(
                f"{st[k]:.2f}" for k in ("startup", "scan", "decode", "forward_backward",
                                         "optimizer", "batch_wait", "validation", "writes",
                                         "augment")) + " |")
    st = pipeline["convscope_stages"]
    lines += [
        "",
        f"Pipeline alone: scan {st['scan_seconds']:.2f} s, decode {st['decode_seconds']:.2f} s, "
        f"augment + batch {st['augment_batch_seconds']:.2f} s."
        + (f" Decoding the same files to 150x150 again (the faster of two alternating passes "
           f"each), with ConvScope's Huffman decoder took "
           f"{st['decode_own_huffman_seconds']:.2f} s, with libjpeg-turbo's "
           f"{st['decode_libjpeg_huffman_seconds']:.2f} s."
           if "decode_own_huffman_seconds" in st else "")
        + (f" libjpeg-turbo's entropy (Huffman) decoding alone of the same files on the same "
           f"threads took {st['entropy_only_seconds']:.2f} s: no pipeline with its Huffman "
           f"decoder can pass {pipeline['ceiling_entropy_only']:.1f}x PyTorch's first epoch here."
           if "entropy_only_seconds" in st else ""),
        "",
    ]
    finetunes = sorted(glob.glob(os.path.join(results, "finetune-*.json")),
                       key=lambda p: json.load(open(p))["finetune_epochs"])
    if finetunes:
        first = json.load(open(finetunes[0]))
        lines += [
            "## Fine-tuned against from scratch",
            "",
            f"`tests/bench/run_finetune_vs_scratch.sh`: MobileNetV2 (Keras flavour, GAP head) at "
            f"{first['size']} px on Fashion-MNIST, {first['per_class']} training and "
            f"{first['val_per_class']} validation images per class "
            f"({10 * first['val_per_class']} validation images: one image is "
            f"{100 / (10 * first['val_per_class']):.2f} points). Fine-tuned: the ImageNet "
            "MobileNetV2 of npm nsfwjs 4.4.0 (`../shared/data/nsfwjs-4.4.0/mobilenet_v2`), "
            f"{first['head_epochs']} head epochs on cached bottleneck features, then the last "
            "block + head (SGD 1e-4), batch norm in inference mode with the pretrained "
            "statistics. Scratch: random weights, Adam 1e-3, stopped when the fine-tuned run's "
            "wall time (the budget) is used up; its last finished epoch counts. Both "
            "`--bn-momentum 0.9`, so that statistics that are updated follow their batches at "
            "the same rate. Validation accuracy:",
            "",
            "| fine-tuning epochs | seed | time budget | fine-tuned | scratch (epochs in the "
            "budget) |",
            "|---|---|---|---|---|",
        ]
        for path in finetunes:
            ft = json.load(open(path))
            f, sc = ft["finetuned"], ft["scratch"]
            for row in ft["seeds"]:
                lines.append(f"| {ft['finetune_epochs']} | {row['seed']} | "
                             f"{row['budget_seconds']} s | {row['finetuned']:.4f} | "
                             f"{row['scratch']:.4f} ({row['scratch_epochs']}) |")
            lines.append(f"| {ft['finetune_epochs']} | mean (min-max, sd) | | "
                         f"**{f['mean']:.4f}** ({f['min']:.4f}-{f['max']:.4f}, {f['stdev']:.4f}) "
                         f"| **{sc['mean']:.4f}** ({sc['min']:.4f}-{sc['max']:.4f}, "
                         f"{sc['stdev']:.4f}) |")
        lines.append("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks-notes.md")
    if os.path.exists(notes):  # what the figures mean, written by hand
        lines += [open(notes).read()]
    lines += ["", "## Reproduce", "",
              "    tests/bench/run_all.sh    # RUNS=3, both precisions, fine-tuning at 3 and 20",
              "                              # epochs; FINETUNE=0 leaves that out", ""]
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
