#!/usr/bin/python3
"""Times the ResNet18 training step (forward, loss, backward, SGD step) and the eval
forward in PyTorch on this machine, for bench/train_step.ts to compare against.
Prints one JSON line. Usage: /usr/bin/python3 bench/pytorch_step.py BATCH SIZE [STEPS]"""
import json, statistics, sys, time
import torch, torchvision

batch, size = int(sys.argv[1]), int(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(batch, 3, size, size)
y = torch.randint(0, 10, (batch,))


def train_step():
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def eval_step():
    with torch.no_grad():
        return model(x).sum().item()


def median_seconds(fn, mode):
    model.train(mode)
    fn()  # warm-up
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


print(json.dumps({
    "threads": torch.get_num_threads(),
    "train_ms": 1000 * median_seconds(train_step, True),
    "eval_ms": 1000 * median_seconds(eval_step, False),
}))
