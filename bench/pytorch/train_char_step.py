#!/usr/bin/env python3
"""PyTorch's side of bench/bench_train_char.c: milliseconds per training step of char_rnn's
model (train_char.py's CharModel) in its "quick" and "default" configurations.

A step is zero_grad + forward + cross-entropy + backward + clip_grad_norm_(5) + Adam step,
with the states of one step (detached) the initial states of the next, as train_char.py's
loop; ids and targets are random characters of a 65-character vocabulary. Each step is timed
alone (torch.cuda.synchronize on the GPU); the median of --steps after --warmup is written.
Output: CSV lines config,device,ms_per_step (stdout, or --out FILE).

Usage: python3 bench/pytorch/train_char_step.py [--steps N] [--warmup N] [--threads N]
       [--device cpu|cuda|all] [--out FILE]
"""
import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_char import CharModel, detach  # noqa: E402

VOCAB = 65
CONFIGS = {  # examples/common/char_model.c
    "quick": dict(hidden=256, layers=1, embed=64, seq=64, batch=32, lr=3e-3, dropout=0.0),
    "default": dict(hidden=512, layers=2, embed=64, seq=100, batch=64, lr=2e-3, dropout=0.2),
}


def time_config(c, device, steps, warmup):
    torch.manual_seed(42)
    model = CharModel(VOCAB, c["embed"], c["hidden"], c["layers"], c["dropout"], "lstm")
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    g = torch.Generator().manual_seed(12345)
    ids = torch.randint(0, VOCAB, (c["seq"], c["batch"]), generator=g).to(device)
    targets = torch.randint(0, VOCAB, (c["seq"], c["batch"]), generator=g).to(device)
    state = None
    times = []

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    for i in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad()
        logits, state = model(ids, state)
        state = detach(state)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    if not torch.isfinite(loss):
        sys.exit(f"train_char_step: the loss is not finite ({loss.item()})")
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="all", choices=("cpu", "cuda", "all"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    devices = ["cpu", "cuda"] if a.device == "all" else [a.device]
    if "cuda" in devices and not torch.cuda.is_available():
        print("train_char_step: no CUDA device: GPU rows skipped", file=sys.stderr)
        devices.remove("cuda")
    lines = ["config,device,ms_per_step"]
    for device in devices:
        for name, c in CONFIGS.items():
            ms = time_config(c, device, a.steps, a.warmup)
            lines.append(f"{name},{device},{ms:.3f}")
            print(f"torch {torch.__version__} {name} {device} ({a.threads} thread(s)): "
                  f"{ms:.3f} ms/step", file=sys.stderr, flush=True)
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
