"""A PyTorch replica of the default experiment's stage 2 (train/default_experiment.ts), to study
its design over many seeds quickly: ~10 s a seed for all strategies on two CPU cores, against
~2.5 minutes for the engine. It starts from the shipped source network (or any checkpoint the
engine or tools/torch_source_variants.py writes), learns the target classes from a few labelled
images of Fashion-MNIST's test split with each strategy, and prints each seed's final/best test
accuracy and every strategy's lead over training from scratch.

Its seeds draw other images than the engine's (numpy's generator, not the engine's), so it
gives the distribution of the leads, not the engine's numbers seed for seed. Given the same
images, order and head, the engine and PyTorch gave the same losses to 4 decimals (checked once,
by hand, when the experiment's stage 2 was designed).

    /usr/bin/python3 tools/torch_transfer_replica.py --seeds 0-9
    /usr/bin/python3 tools/torch_transfer_replica.py --seeds 0-9 --unfreeze-lr 1e-4
    /usr/bin/python3 tools/torch_transfer_replica.py --strategies fine-tune,scratch-3,scratch

Needs python3-torch and python3-torchvision (Debian: PyTorch 1.13).
"""

import argparse
import gzip
import json
import statistics
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
TARGET = ["Dress", "Coat", "Shirt", "Sneaker", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST normalisation (--normalize fashion-mnist)
STRATEGIES = ["feature-extract", "fine-tune", "early-layers", "scratch", "scratch-3"]

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--source", default="assets/fashion-source/resnet18_fashion_source.safetensors")
p.add_argument("--data", default="assets/fashion-mnist", help="folder of t10k-*-ubyte.gz")
p.add_argument("--seeds", default="0-9", help="a list (0,1,2) or a range (0-9)")
p.add_argument("--strategies", default="feature-extract,fine-tune,early-layers,scratch")
p.add_argument("--per-class", type=int, default=10)
p.add_argument("--test-per-class", type=int, default=100)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--freeze-epochs", type=int, default=3)
p.add_argument("--batch-size", type=int, default=10)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--unfreeze-lr", type=float, default=0, help="0: the schedule's lr")
p.add_argument("--early-stages", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(2)


def idx(path):
    b = gzip.open(path).read()
    n = int.from_bytes(b[4:8], "big")
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, 28, 28) if b[3] == 3 else np.frombuffer(b, np.uint8, offset=8)


def safetensors(path, prefix="model."):
    """The model tensors of a checkpoint (f16 or f32), as float32 torch tensors."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header, base, out = json.loads(b[8 : 8 + n]), 8 + n, {}
    for k, v in header.items():
        if k == "__metadata__" or not k.startswith(prefix):
            continue
        s, e = v["data_offsets"]
        dt = {"F16": np.float16, "F32": np.float32, "I64": np.int64}[v["dtype"]]
        t = np.frombuffer(b[base + s : base + e], dtype=dt).reshape(v["shape"])
        out[k[len(prefix) :]] = torch.tensor(t if dt == np.int64 else t.astype(np.float32))
    return out


def resnet18(classes, stages=4):
    m = torchvision.models.resnet18(num_classes=classes)
    m.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    for k in range(stages + 1, 5):
        setattr(m, f"layer{k}", nn.Identity())
    if stages < 4:
        m.fc = nn.Linear(64 * 2 ** (stages - 1), classes)
    return m


def crop_flip(x, g):
    """RandomCrop(28, padding=2) and RandomHorizontalFlip, per sample (--augment crop-flip)."""
    xp = F.pad(x, (2, 2, 2, 2), value=-MEAN / STD)
    ox, oy = torch.randint(0, 5, (len(x),), generator=g), torch.randint(0, 5, (len(x),), generator=g)
    flip = torch.rand(len(x), generator=g) < 0.5
    out = [xp[i, :, oy[i] : oy[i] + 28, ox[i] : ox[i] + 28] for i in range(len(x))]
    return torch.stack([t.flip(-1) if f else t for t, f in zip(out, flip)])


def accuracy(m, x, y):
    m.eval()
    with torch.no_grad():
        return sum((m(x[i : i + 500]).argmax(1) == y[i : i + 500]).sum().item() for i in range(0, len(x), 500)) / len(x)


def train(m, x, y, tx, ty, g, freeze_epochs):
    """Adam on every parameter that trains (one lr), a cosine schedule stepped per epoch; with
    freeze_epochs, only the head trains until then. Returns the test accuracy per epoch."""
    head = list(m.fc.parameters())
    ids = {id(q) for q in head}
    body = [q for q in m.parameters() if id(q) not in ids]
    opt = torch.optim.Adam([{"params": body}, {"params": head}], lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs)
    curve = []
    for epoch in range(a.epochs):
        if freeze_epochs and epoch == freeze_epochs:
            for q in body:
                q.requires_grad_(True)
            if a.unfreeze_lr:
                scale = opt.param_groups[1]["lr"] / a.lr
                opt.param_groups[0]["lr"], sched.base_lrs[0] = a.unfreeze_lr * scale, a.unfreeze_lr
        m.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), a.batch_size):
            b = perm[i : i + a.batch_size]
            loss = F.cross_entropy(m(crop_flip(x[b], g)), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        curve.append(accuracy(m, tx, ty))
    return curve


def pick(labels, classes, per, rng, exclude=()):
    ids, ys = [], []
    for k, c in enumerate(classes):
        mine = np.setdiff1d(np.where(labels == FASHION.index(c))[0], exclude)
        mine = rng.permutation(mine)[:per]
        ids.append(mine)
        ys += [k] * len(mine)
    return np.concatenate(ids), torch.tensor(ys)


def run(strategy, source, x, y, tx, ty, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    stages = a.early_stages if strategy in ("early-layers", "scratch-3") else 4
    m = resnet18(len(TARGET), stages)
    if not strategy.startswith("scratch"):
        keep = lambda k: not k.startswith("fc.") and not (k.startswith("layer") and int(k[5]) > stages)
        m.load_state_dict({k: v for k, v in source.items() if keep(k)}, strict=False)
    if strategy in ("feature-extract", "fine-tune"):
        for name, q in m.named_parameters():
            q.requires_grad_(name.startswith("fc."))
    return train(m, x, y, tx, ty, g, a.freeze_epochs if strategy == "fine-tune" else 0)


def main():
    images, labels = idx(f"{a.data}/t10k-images-idx3-ubyte.gz"), idx(f"{a.data}/t10k-labels-idx1-ubyte.gz")
    norm = lambda ids: (torch.tensor(images[ids], dtype=torch.float32)[:, None] / 255 - MEAN) / STD
    source = safetensors(a.source)
    strategies = a.strategies.split(",")
    assert "scratch" in strategies and all(s in STRATEGIES for s in strategies), STRATEGIES
    first, _, last = a.seeds.partition("-")
    seeds = range(int(first), int(last) + 1) if last else [int(s) for s in a.seeds.split(",")]
    leads = {s: [] for s in strategies if s != "scratch"}
    for seed in seeds:
        rng = np.random.default_rng(100 + seed)
        test_ids, ty = pick(labels, TARGET, a.test_per_class, rng)
        train_ids, y = pick(labels, TARGET, a.per_class, rng, exclude=test_ids)
        curves = {s: run(s, source, norm(train_ids), y, norm(test_ids), ty, seed) for s in strategies}
        for s in leads:
            leads[s].append(100 * (curves[s][-1] - curves["scratch"][-1]))
        cells = "  ".join(f"{s} {100 * c[-1]:.1f}/{100 * max(c):.1f}" for s, c in curves.items())
        print(f"seed {seed}: {cells}  (final/best %)", flush=True)
    for s, v in leads.items():
        print(f"{s} - scratch: mean {statistics.mean(v):+.1f}, min {min(v):+.1f}, sd {statistics.pstdev(v):.1f} points")


main()
