#!/usr/bin/python3
"""Trains the `fashion` recipe of cli.ts in PyTorch, for comparing accuracies (not in CI).

Run with Debian's PyTorch (apt-get install python3-torch python3-torchvision), not a pyenv
python:

    /usr/bin/python3 train/compare/pytorch_fashion.py --per-class 500 --epochs 3

and the same run in this engine:

    deno run -A cli.ts train --data /usr/share/datasets/fashion-mnist --recipe fashion \\
        --strategy scratch --per-class 500 --epochs 3

Both: torchvision's ResNet18 with a 1-channel stem and a 10-class head, 28x28 input,
RandomCrop(28, padding=2) + horizontal flip, Fashion-MNIST normalisation, Adam lr 1e-3
with the head at 10x (two parameter groups), batch 32, Debian's full Fashion-MNIST
(train split for training, the 10,000-image test split for testing). The subsets and the
shuffling differ from the engine's (different random generators), so compare accuracies,
not individual losses.
"""

import argparse
import gzip
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{DATA}/{prefix}-images-idx3-ubyte.gz")
    y = read_idx(f"{DATA}/{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return x, y


def per_class(x, y, n, rng):
    if n <= 0:
        return x, y
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n] for c in range(10)])
    keep.sort()
    return x[keep], y[keep]


def augment(batch, rng, pad):
    """RandomCrop(28, padding=pad) with zero fill, then a horizontal flip half the time."""
    n, h, w = batch.shape
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad), dtype=batch.dtype)
    padded[:, pad : pad + h, pad : pad + w] = batch
    out = np.empty_like(batch)
    for i in range(n):
        top, left = rng.integers(0, 2 * pad + 1, size=2)
        img = padded[i, top : top + h, left : left + w]
        out[i] = img[:, ::-1] if rng.random() < 0.5 else img
    return out


def to_tensor(batch):
    x = torch.from_numpy(batch.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=500, help="training images per class (0: all 6000)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--head-lr-mult", type=float, default=10.0)
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    xtr, ytr = per_class(*load("train"), args.per_class, rng)
    xte, yte = load("test")

    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    torch.nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    head = [p for n, p in model.named_parameters() if n.startswith("fc.")]
    backbone = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
    opt = torch.optim.Adam(
        [{"params": backbone, "lr": args.lr}, {"params": head, "lr": args.lr * args.head_lr_mult}],
        lr=args.lr,
    )
    print(f"PyTorch {torch.__version__}: {len(xtr)} training images, {len(xte)} test images, "
          f"{torch.get_num_threads()} threads")

    for epoch in range(args.epochs):
        t0 = time.time()
        model.train()
        order = rng.permutation(len(xtr))
        loss_sum, correct = 0.0, 0
        for s in range(0, len(order), args.batch_size):
            idx = order[s : s + args.batch_size]
            if len(idx) == 1:
                continue  # BatchNorm needs more than one value per channel
            x = to_tensor(augment(xtr[idx], rng, args.pad))
            y = torch.from_numpy(ytr[idx])
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
        train_time = time.time() - t0
        model.eval()
        test_loss, test_correct = 0.0, 0
        with torch.no_grad():
            for s in range(0, len(xte), 256):
                x = to_tensor(xte[s : s + 256])
                y = torch.from_numpy(yte[s : s + 256])
                logits = model(x)
                test_loss += F.cross_entropy(logits, y, reduction="sum").item()
                test_correct += (logits.argmax(1) == y).sum().item()
        print(
            f"epoch {epoch + 1}/{args.epochs}  train loss {loss_sum / len(xtr):.4f} "
            f"acc {100 * correct / len(xtr):.1f}%  test loss {test_loss / len(xte):.4f} "
            f"acc {100 * test_correct / len(xte):.2f}%  {len(xtr) / train_time:.0f} img/s"
        )


if __name__ == "__main__":
    main()
