#!/usr/bin/env python3
"""PyTorch's side of bench_train_cnn: milliseconds per training step of the MNIST CNN of
examples/mnist_cnn (conv 32 3x3 pad 1 -> batch norm -> ReLU -> max pool 2 -> conv 64 3x3 pad 1
-> batch norm -> ReLU -> max pool 2 -> dropout 0.5 -> dense 128 -> ReLU -> dense 10,
cross-entropy, Adam with PyTorch's defaults) at batch 32 and 128, on the CPU and, when
available, CUDA.

The method is train_bench.py's (the same as bench/train_bench.h): zero_grad + forward +
backward + Adam step, each timed alone, the median after warm-up; random inputs and labels.
Writes a CSV (device,batch,ms_per_step) for `bench_train_cnn --pytorch FILE` and prints a table.

Usage: python3 bench/pytorch/train_cnn.py [--out FILE] [--steps N] [--warmup N] [--cpu-only]
"""
from torch import nn

import train_bench


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        nn.Linear(128, 10))


if __name__ == "__main__":
    train_bench.main(__doc__.split("\n\n")[0], make_model, (1, 28, 28), 10, (32, 128),
                     "train_cnn_pytorch.csv")
