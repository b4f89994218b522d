"""The `reproduce mnist-best` recipe in PyTorch, timed the same way, to compare
the two on one machine (a report, not a test; CI does not run it).

The recipe: 784-256-128-10, ReLU, He initialisation N(0, 2/n_in) and zero
biases, softmax + cross-entropy averaged over the batch, Adam(1e-3, β 0.9,
0.999, ε 1e-8) with η halved every 3 epochs, batch 64 reshuffled every epoch
(the last partial batch kept), pixels / 255. Each epoch's training loop is
timed alone (no evaluation, no data loading), as the Rust trainer times it.

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
    /tmp/torch/bin/python xtask/python/mnist_best_pytorch.py datasets/mnist --threads 2 --epochs 10

It prints one line per epoch and the median seconds per epoch.
"""

import argparse
import gzip
import statistics
import struct
import time
from pathlib import Path

import numpy as np
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, _, _, dims = struct.unpack(">BBBB", data[:4])
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnist_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d = Path(args.mnist_dir)
    x = torch.from_numpy(idx(d / "train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(idx(d / "train-labels-idx1-ubyte.gz").astype(np.int64))
    tx = torch.from_numpy(idx(d / "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    ty = torch.from_numpy(idx(d / "t10k-labels-idx1-ubyte.gz").astype(np.int64))

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, 0.0, (2.0 / m.in_features) ** 0.5)
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(x.shape[0])
        start = time.perf_counter()
        for b in range(0, x.shape[0], 64):
            idx_b = order[b : b + 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx_b]), y[idx_b])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        sched.step()
        times.append(seconds)
        with torch.no_grad():
            acc = (model(tx).argmax(1) == ty).float().mean().item()
        print(f"epoch {epoch:2}/{args.epochs}  test accuracy {acc:.4f}  {seconds:.3f} s", flush=True)
    print(f"median {statistics.median(times):.3f} s/epoch, torch {torch.__version__}, {args.threads} threads")


if __name__ == "__main__":
    main()
