#!/usr/bin/env python3
"""PyTorch's side of bench_train_mlp: milliseconds per training step of the MNIST MLP
(784 -> 256 -> ReLU -> dropout 0.2 -> 128 -> ReLU -> dropout 0.2 -> 10, cross-entropy, Adam with
PyTorch's defaults) at batch 64 and 256, on the CPU and, when available, CUDA.

The method is train_bench.py's (the same as bench/train_bench.h): zero_grad + forward +
backward + Adam step, each timed alone, the median after warm-up; random inputs and labels.
Writes a CSV (device,batch,ms_per_step) for `bench_train_mlp --pytorch FILE` and prints a table.

Usage: python3 bench/pytorch/train_mlp.py [--out FILE] [--steps N] [--warmup N] [--cpu-only]
"""
from torch import nn

import train_bench


def make_model():
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10))


if __name__ == "__main__":
    train_bench.main(__doc__.split("\n\n")[0], make_model, (784,), 10, (64, 256),
                     "train_mlp_pytorch.csv")
