"""Reference for bench_pipeline: the same data pipeline with torchvision, as a user writes it
(ImageFolder + Resize + RandomAffine + RandomHorizontalFlip + ToTensor, DataLoader with one
worker per core, batch 32, shuffled), over train/ + validation/, two epochs, no training.

torchvision has no cache, so every epoch scans nothing but decodes and resizes every file
again; epoch 1 also counts building the ImageFolders (the scan). The main process gets one
thread per core as well; the workers run one thread each (the DataLoader sets that).
bench_pipeline uses every core too.

Run with the PyTorch environment's python: reference_pipeline.py DATA
Prints one JSON object.
"""
import json
import os
import sys
import time

import torch
from torch.utils.data import ConcatDataset, DataLoader
from torchvision import datasets, transforms


def run_epoch(loader):
    start = time.perf_counter()
    images = batches = 0
    checksum = 0.0
    for x, y in loader:
        checksum += float(x[0, 0, 0, 0]) + float(x[-1, -1, -1, -1]) + float(y.sum())
        images += x.shape[0]
        batches += 1
    return time.perf_counter() - start, images, batches, checksum


def main():
    if len(sys.argv) < 2:
        print("usage: reference_pipeline.py DATA", file=sys.stderr)
        return 2
    data = sys.argv[1]
    cores = os.cpu_count()
    torch.set_num_threads(cores)
    torch.manual_seed(1337)
    transform = transforms.Compose([
        transforms.Resize((150, 150)),
        transforms.RandomAffine(degrees=40, translate=(0.2, 0.2), shear=20, scale=(0.8, 1.2)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
    ])

    start = time.perf_counter()
    dataset = ConcatDataset([datasets.ImageFolder(f"{data}/{split}", transform=transform)
                             for split in ("train", "validation")])
    scan_seconds = time.perf_counter() - start
    loader = DataLoader(dataset, batch_size=32, shuffle=True, num_workers=cores)

    first, n, batches, sum1 = run_epoch(loader)
    second, n2, _, sum2 = run_epoch(loader)
    epoch1 = scan_seconds + first
    print(json.dumps({
        "images": n, "batches_per_epoch": batches, "workers": cores,
        "main_process_threads": torch.get_num_threads(),
        "note": "one DataLoader worker and one main-process thread per core; "
                "RandomAffine with torchvision defaults (nearest interpolation, fill 0)",
        "torch": torch.__version__,
        "scan_seconds": round(scan_seconds, 4),
        "epoch1_seconds": round(epoch1, 4), "epoch1_images_per_second": round(n / epoch1, 1),
        "epoch2_seconds": round(second, 4), "epoch2_images_per_second": round(n2 / second, 1),
        "checksum": round(sum1 + sum2, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
