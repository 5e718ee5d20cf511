"""Trains variants of the default experiment's stage-1 network in PyTorch, for
tools/torch_transfer_replica.py to measure what each kind of stage-1 training does for stage 2.
Each variant trains a ResNet18 (1 input channel, 28x28) for 1 epoch over 120,000 turned images
of Fashion-MNIST's training split, with the shipped network's recipe (train/default_experiment.ts:
batch 32, Adam 1e-3, 5% warmup from 0.1x then a cosine decay per step, a padded crop without
flips), and writes its weights as safetensors that the replica reads. About 3.5 minutes a variant
on two idle CPU cores.

  four-turn           the shipped task: the five source classes, every image in four turns, the
                      class and the turn to tell (20 classes; 6,000 images a class)
  unlabelled-turns    3,000 images of each source class as above, and 3,000 of each target class
                      without their labels: only the turn to tell (24 classes)
  unlabelled-clusters as unlabelled-turns, but an unlabelled image's class is its k-means cluster
                      (--clusters, on raw pixels) and its turn
  target-labels       all ten classes with their labels, the target's too (40 classes): not a
                      source anyone could have, but a bound on what any source network can do for
                      stage 2

    /usr/bin/python3 tools/torch_source_variants.py target-labels /tmp/target-labels.safetensors
    /usr/bin/python3 tools/torch_transfer_replica.py --source /tmp/target-labels.safetensors

Needs python3-torch and python3-torchvision (Debian: PyTorch 1.13), and Debian's
dataset-fashion-mnist.
"""

import argparse
import gzip
import json
import math
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

SOURCE = [0, 1, 2, 5, 8]  # T-shirt/top, Trouser, Pullover, Sandal, Bag (default_experiment.ts)
TARGET = [3, 4, 6, 7, 9]  # Dress, Coat, Shirt, Sneaker, Ankle boot
MEAN, STD = 0.2860, 0.3530
VARIANTS = ["four-turn", "unlabelled-turns", "unlabelled-clusters", "target-labels"]

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("variant", choices=VARIANTS)
p.add_argument("out", help="the .safetensors file to write")
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder of train-*-ubyte.gz")
p.add_argument("--clusters", type=int, default=25, help="k-means clusters of unlabelled-clusters")
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(a.seed)


def idx(path):
    b = gzip.open(path).read()
    n = int.from_bytes(b[4:8], "big")
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, 28, 28) if b[3] == 3 else np.frombuffer(b, np.uint8, offset=8)


def kmeans(points, k, g, iterations=30):
    """Lloyd's k-means from k random points; returns each point's cluster."""
    centres = points[torch.randperm(len(points), generator=g)[:k]].clone()
    for _ in range(iterations):
        nearest = torch.cdist(points, centres).argmin(1)
        for j in range(k):
            if (nearest == j).any():
                centres[j] = points[nearest == j].mean(0)
    return nearest


def task(images, labels, g):
    """The variant's images (N x 28 x 28 uint8), each image's class before it is turned, and the
    number of those classes (an unlabelled image's class is "unlabelled", or its cluster)."""
    classes = SOURCE + TARGET if a.variant != "four-turn" else SOURCE
    per = 30_000 // len(classes)
    rng = np.random.default_rng(a.seed)
    ids = np.concatenate([rng.permutation(np.where(labels == c)[0])[:per] for c in classes])
    y = torch.tensor([classes.index(int(c)) for c in labels[ids]])
    if a.variant in ("four-turn", "target-labels"):
        return images[ids], y, len(classes)
    unlabelled = y >= len(SOURCE)
    if a.variant == "unlabelled-turns":
        return images[ids], torch.where(unlabelled, len(SOURCE), y), len(SOURCE) + 1
    pixels = torch.tensor(images[ids][unlabelled.numpy()], dtype=torch.float32).reshape(-1, 784) / 255
    cluster = kmeans(pixels, a.clusters, g)
    y[unlabelled] = len(SOURCE) + cluster
    # how far the clusters are from the classes (the labels are used for this line only)
    truth = torch.tensor(labels[ids])[unlabelled]
    purity = sum(torch.bincount(truth[cluster == j], minlength=10).max().item() for j in range(a.clusters) if (cluster == j).any())
    print(f"{a.clusters} clusters of the unlabelled images, purity {purity / len(truth):.3f}")
    return images[ids], y, len(SOURCE) + a.clusters


def write_safetensors(path, state, metadata):
    """state's tensors as F32 (I64 for BatchNorm's counters) under the names the replica reads."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for k, t in state.items():
        t = t.detach().contiguous()
        b = t.numpy().astype(np.int64 if t.dtype == torch.int64 else np.float32).tobytes()
        header[f"model.{k}"] = {"dtype": "I64" if t.dtype == torch.int64 else "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    g = torch.Generator().manual_seed(a.seed)
    images = idx(f"{a.data}/train-images-idx3-ubyte.gz")
    labels = idx(f"{a.data}/train-labels-idx1-ubyte.gz")
    base, y, classes = task(images, labels, g)
    x = torch.tensor(base, dtype=torch.float32)[:, None] / 255
    # image i turned k quarter turns is sample 4i + k, class 4y + k (data/rotation_labels.ts)
    x = (torch.stack([torch.rot90(x, k, (2, 3)) for k in range(4)], 1).reshape(-1, 1, 28, 28) - MEAN) / STD
    y = (y[:, None] * 4 + torch.arange(4)[None]).reshape(-1)
    m = torchvision.models.resnet18(num_classes=4 * classes)
    m.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    batch = 32
    steps = math.ceil(len(x) / batch)
    warm = round(0.05 * steps)
    lr = lambda i: 1e-3 * (0.1 + 0.9 * i / warm) if i < warm else 5e-4 * (1 + math.cos(math.pi * (i - warm) / (steps - warm)))
    start = time.time()
    m.train()
    order = torch.randperm(len(x), generator=g)
    for step, i in enumerate(range(0, len(x), batch)):
        b = order[i : i + batch]
        padded = F.pad(x[b], (2, 2, 2, 2), value=-MEAN / STD)
        ox, oy = torch.randint(0, 5, (len(b),), generator=g), torch.randint(0, 5, (len(b),), generator=g)
        crops = torch.stack([padded[j, :, oy[j] : oy[j] + 28, ox[j] : ox[j] + 28] for j in range(len(b))])
        for group in opt.param_groups:
            group["lr"] = lr(step)
        loss = F.cross_entropy(m(crops), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 500 == 0:
            print(f"step {step + 1}/{steps}: loss {loss.item():.3f}, {time.time() - start:.0f} s", flush=True)
    write_safetensors(a.out, m.state_dict(), {"variant": a.variant, "classes": str(4 * classes)})
    print(f"wrote {a.out} ({a.variant}, {4 * classes} classes, {time.time() - start:.0f} s)")


main()
