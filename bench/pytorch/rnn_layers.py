#!/usr/bin/env python3
"""PyTorch's side of bench_rnn: milliseconds of nn.LSTM / nn.GRU layers, forward and
forward+backward, at the sizes bench_rnn times (T = 100, input size = H, H = 512 and 1024,
batch 64 and 1, 1 and 2 layers) on CUDA when available (cuDNN underneath, FP32: TF32 off),
and at the char-level model's layer (H = 256, batch 32, T = 64, 1 layer) on the CPU, which
bench_rnn's CPU table also times.

Forward is the module in training mode (no torch.no_grad, as a training step); forward+backward
adds (y * dy).sum().backward(). Each measurement is the median of the timed runs after warm-up
runs, timed with time.perf_counter after torch.cuda.synchronize() on CUDA. Inputs are uniform
in [-1, 1); weights PyTorch's default initialisation. torch.set_num_threads(os.cpu_count()).

Usage: python3 bench/pytorch/rnn_layers.py [--runs N] [--warmup N] [--cpu-only]
"""
import argparse
import os
import statistics
import time

import torch
from torch import nn


def time_layer(device, kind, hidden, batch, steps, layers, runs, warmup):
    torch.manual_seed(1)
    cls = nn.LSTM if kind == "LSTM" else nn.GRU
    mod = cls(hidden, hidden, num_layers=layers).to(device).train()
    x = (torch.rand(steps, batch, hidden, device=device) * 2 - 1).requires_grad_()
    dy = torch.rand(steps, batch, hidden, device=device) * 2 - 1

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def fwd():
        return mod(x)[0]

    def fwd_bwd():
        (fwd() * dy).sum().backward()

    out = []
    for fn in (fwd, fwd_bwd):
        for _ in range(warmup):
            fn()
        sync()
        ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            sync()
            ms.append(1e3 * (time.perf_counter() - t0))
        out.append(statistics.median(ms))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cpu-only", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    print(f"{'device':6} {'cell':5} {'H':>5} {'N':>4} {'T':>4} {'L':>2} | {'fwd ms':>10} {'f+b ms':>10}")
    cases = [("cpu", kind, 256, 32, 64, 1) for kind in ("LSTM", "GRU")]
    if torch.cuda.is_available() and not a.cpu_only:
        cases += [("cuda", kind, h, n, 100, layers) for kind in ("LSTM", "GRU")
                  for h in (512, 1024) for n in (64, 1) for layers in (1, 2)]
    for dev, kind, h, n, t, layers in cases:
        f, fb = time_layer(torch.device(dev), kind, h, n, t, layers, a.runs, a.warmup)
        print(f"{dev:6} {kind:5} {h:5d} {n:4d} {t:4d} {layers:2d} | {f:10.3f} {fb:10.3f}", flush=True)


if __name__ == "__main__":
    main()
