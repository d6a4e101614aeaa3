"""The peer of `convscope train` for run_w1_epoch.sh: one epoch of W1 with PyTorch and
torchvision, end to end, doing the same work as ConvScope's command: read and decode every
JPEG, resize to 150x150, the Keras blog's augmentation on the training images, train the blog
net (RMSprop lr 1e-4, batch 32, channels_last), validate on the 800 validation images, and
write the weights. Every core: DataLoader workers and intra-op threads both equal the core
count. PRECISION bf16 runs forward passes under torch.autocast("cpu", torch.bfloat16).
Usage: reference_w1_epoch.py DATA fp32|bf16. Prints one JSON object."""
import json
import os
import sys
import tempfile
import time

start = time.perf_counter()
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402


def blog_net(classes):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(17 * 17 * 64, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, classes))


def main():
    data, precision = sys.argv[1], sys.argv[2]
    cores = os.cpu_count()
    torch.set_num_threads(cores)
    torch.manual_seed(1)
    autocast = precision == "bf16"
    train_tf = transforms.Compose([
        transforms.Resize((150, 150)),
        transforms.RandomAffine(degrees=40, translate=(0.2, 0.2), scale=(0.8, 1.2), shear=20),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor()])
    val_tf = transforms.Compose([transforms.Resize((150, 150)), transforms.ToTensor()])
    train = datasets.ImageFolder(os.path.join(data, "train"), train_tf)
    val = datasets.ImageFolder(os.path.join(data, "validation"), val_tf)
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True, num_workers=cores,
                                         persistent_workers=False)
    val_loader = torch.utils.data.DataLoader(val, batch_size=32, num_workers=cores)
    model = blog_net(len(train.classes)).to(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    train_start = time.perf_counter()
    for x, y in loader:
        x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    train_seconds = time.perf_counter() - train_start
    model.eval()
    right = total = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        for x, y in val_loader:
            right += (model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum().item()
            total += len(y)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(model.state_dict(), os.path.join(tmp, "weights.pt"))
    print(json.dumps({"precision": precision, "train_seconds": train_seconds,
                      "val_accuracy": right / total, "threads": torch.get_num_threads(),
                      "workers": cores, "torch": torch.__version__,
                      "in_process_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
