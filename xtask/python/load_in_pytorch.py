#!/usr/bin/env python3
"""Load a backprop-rs model.safetensors into PyTorch and score it on MNIST's test set.

backprop-rs stores layer i as `layers.{i}.weight`, shaped (inputs, outputs) so
that U = X W + b with samples as rows, and `layers.{i}.bias`, shaped
(1, outputs). torch.nn.Linear keeps its weight as (outputs, inputs) and
computes x @ weight.T + bias, so the weight is transposed and the bias
flattened before `load_state_dict` (which refuses the shapes otherwise). The
file's metadata gives the widths, the activations and the input preprocessing.

Usage (from the repository root, after `cargo xtask reproduce mnist`):

    pip install torch safetensors numpy
    python3 xtask/python/load_in_pytorch.py target/reproduce/mnist/model.safetensors datasets/mnist

It prints the metadata and `test accuracy 0.xxxx`, the figure the run's table
shows. `cargo test -p xtask --test pytorch_recipe` runs it when torch is importable.
"""

import gzip
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file


def activation(name):
    """The torch module for a backprop-rs activation name (`leaky_relu:0.01` carries its slope)."""
    if name.startswith("leaky_relu:"):
        return torch.nn.LeakyReLU(float(name.split(":", 1)[1]))
    return {
        "identity": torch.nn.Identity,
        "relu": torch.nn.ReLU,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "softmax": lambda: torch.nn.Softmax(dim=1),
    }[name]()


def load(path):
    """The model as a torch.nn.Sequential of Linear layers and activations, and the file's metadata."""
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    widths = [int(w) for w in meta["architecture"].split(",")]
    tensors = load_file(path)
    layers = []
    for i, (name, n_in, n_out) in enumerate(zip(meta["activations"].split(","), widths, widths[1:])):
        linear = torch.nn.Linear(n_in, n_out)
        linear.load_state_dict({
            "weight": torch.from_numpy(tensors[f"layers.{i}.weight"].T.copy()),  # (in, out) -> (out, in)
            "bias": torch.from_numpy(tensors[f"layers.{i}.bias"].reshape(n_out)),  # (1, out) -> (out,)
        })
        layers += [linear, activation(name)]
    return torch.nn.Sequential(*layers), meta


def mnist_test(folder, preprocessing):
    """MNIST's 10 000 test images, prepared as the metadata's `preprocessing` says, and their labels."""
    with gzip.open(f"{folder}/t10k-images-idx3-ubyte.gz") as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32)
    with gzip.open(f"{folder}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    if preprocessing.startswith("pixels/255 - 0.5"):
        x = pixels / 255.0 - 0.5
    elif preprocessing.startswith("pixels/255"):
        x = pixels / 255.0
    else:
        raise SystemExit(f"not an MNIST model: preprocessing is {preprocessing!r}")
    return torch.from_numpy(x.astype(np.float32)), labels


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "target/reproduce/mnist/model.safetensors"
    folder = sys.argv[2] if len(sys.argv) > 2 else "datasets/mnist"
    model, meta = load(path)
    print(meta)
    x, y = mnist_test(folder, meta["preprocessing"])
    with torch.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    print(f"test accuracy {(predicted == y).mean():.4f}")


if __name__ == "__main__":
    main()
