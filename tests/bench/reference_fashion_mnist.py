"""Accuracy reference: the Keras blog net trained on Fashion-MNIST class folders (written by
`convscope demo-data`) with PyTorch, the same recipe as `convscope train` in
run_fashion_mnist_accuracy.sh. Run with the PyTorch environment's python. Prints one JSON object."""
import json
import os
import sys
import time

import torch
import torch.nn as nn
from torchvision import datasets, transforms


def blog_net(classes, side):
    for _ in range(3):
        side = (side - 2) // 2
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(side * side * 64, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, classes))


def main():
    data, epochs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    size, batch, lr = 32, 64, 1e-3
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.Grayscale(3), transforms.Resize((size, size)), transforms.ToTensor()])
    train = datasets.ImageFolder(os.path.join(data, "train"), transform)
    val = datasets.ImageFolder(os.path.join(data, "validation"), transform)
    train_loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, num_workers=2)
    val_loader = torch.utils.data.DataLoader(val, batch_size=256, num_workers=2)
    model = blog_net(len(train.classes), size).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    history = []
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss_fn(model(x.contiguous(memory_format=torch.channels_last)), y).backward()
            optimizer.step()
        model.eval()
        right = total = 0
        with torch.no_grad():
            for x, y in val_loader:
                right += (model(x).argmax(1) == y).sum().item()
                total += len(y)
        history.append(right / total)
    print(json.dumps({"val_accuracy": history[-1], "history": history, "seconds": time.perf_counter() - start,
                      "epochs": epochs, "seed": seed}))


if __name__ == "__main__":
    main()
