"""Reference for bench_training: one epoch of the Keras blog net at 150x150 with PyTorch and
torchvision as a user would write it (ImageFolder + RandomAffine + DataLoader, 2 workers).
Run with the PyTorch environment's python. Prints one JSON object."""
import json
import os
import sys
import time

import torch
import torch.nn as nn
from torchvision import datasets, transforms


class BlogNet(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(17 * 17 * 64, 64), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Linear(64, classes))

    def forward(self, x):
        return self.head(self.features(x))


def main():
    data = sys.argv[1]
    channels_last = len(sys.argv) > 2 and sys.argv[2] == "channels_last"
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1337)
    transform = transforms.Compose([
        transforms.Resize((150, 150)),
        transforms.RandomAffine(degrees=40, translate=(0.2, 0.2), scale=(0.8, 1.2), shear=20),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor()])
    start = time.perf_counter()
    train = datasets.ImageFolder(os.path.join(data, "train"), transform)
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True, num_workers=2)
    model = BlogNet(len(train.classes))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    epoch_start = time.perf_counter()
    seen = 0
    for x, y in loader:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        seen += len(y)
    train_seconds = time.perf_counter() - epoch_start
    print(json.dumps({"train_images_per_second": seen / train_seconds, "epoch_seconds": train_seconds,
                      "end_to_end_seconds": time.perf_counter() - start, "channels_last": channels_last,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
